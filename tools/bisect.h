/* `kvverify bisect`, shared by its driver (cmd_bisect.c) and its step
 * (cmd_bisect_step.c): the options of both, and a run log's failures. */
#ifndef KVV_TOOLS_BISECT_H
#define KVV_TOOLS_BISECT_H

#include <stddef.h>

#include "tools/cli.h"

#define BISECT_DEFAULT_BUILD                                                                                       \
    "if [ -f CMakeLists.txt ]; then cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && "        \
    "cmake --build build -j \"$(nproc)\"; else make -s; fi"
#define BISECT_DEFAULT_EXE "build/kvverify"
#define BISECT_STEP_PREFIX "bisect: "
#define BISECT_MAX_ARGS 64

/* the exit statuses git bisect run understands: 0 the old term ("good",
 * or "broken" with --fixed), 1 the new ("bad", or "fixed"), 125 skip */
enum { STEP_OLD = 0, STEP_NEW = 1, STEP_SKIP = 125 };

typedef struct {
    const char *good, *bad, *dir, *build, *plugin, *exe, *backend, *pattern;
    const char *rule; /* --rule R[,R]: only failures by these rules make a commit bad (or broken) */
    const char *state, *repo, *home, *tree;
    int fixed; /* find the commit that fixed the cases (they fail at --bad, an ancestor of --good) */
    char **extra; /* run arguments after -- */
    int nextra;
    char patterns[1024]; /* -p, given twice, adds */
    char rules[256];     /* --rule, given twice, adds */
    char trees[1024];    /* --tree FOLDERS, given twice, adds */
} bisect_args;

/* The options of `bisect` (step = 0) and of `bisect-step` (step = 1);
 * 0, or -1 with a message printed. */
int bisect_parse_args(int argc, char **argv, bisect_args *a, int step);
/* The failing lines a run printed: the count, and the first failure (its
 * two lines, "FAIL backend case" and "[rule] detail") in first.  With
 * rules (a comma-separated list; NULL: any), only failures by one of them
 * count. */
int bisect_scan_failures(const char *log, const char *rules, char *first, size_t n);
/* Whether every rule of the list is one kvverify has; else prints why */
int bisect_rules_known(const char *rules);
/* Whether the run's summary says no case ran (every one skipped). */
int bisect_ran_none(const char *log);

#endif
