/* `kvverify bisect`: the engine (bisect/), driven by tools/cmd_bisect.c,
 * which parses the options and calls it.
 *
 * The driver (bisect/driver.c) finds the commit that broke a case, or with
 * --fixed the one that fixed it, in a temporary clone of a git repository
 * (bisect/tree.c), with `git bisect run` running the step (bisect/step.c)
 * at each commit: build, run the cases, classify the commit.  A run's log
 * is read back by bisect/log.c. */
#ifndef KVV_BISECT_H
#define KVV_BISECT_H

#include <stddef.h>

#define KVV_BISECT_DEFAULT_BUILD                                                                                   \
    "if [ -f CMakeLists.txt ]; then cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && "        \
    "cmake --build build -j \"$(nproc)\"; else make -s; fi"
#define KVV_BISECT_DEFAULT_EXE "build/kvverify"
#define KVV_BISECT_STEP_PREFIX "bisect: "
#define KVV_BISECT_MAX_ARGS 64

/* the exit statuses git bisect run understands: 0 the old term ("good",
 * or "broken" with --fixed), 1 the new ("bad", or "fixed"), 125 skip */
enum { KVV_STEP_OLD = 0, KVV_STEP_NEW = 1, KVV_STEP_SKIP = 125 };

typedef struct kvv_bisect_opts {
    const char *good, *bad, *dir, *build, *plugin, *exe, *backend, *pattern;
    const char *rule; /* --rule R[,R]: only failures by these rules make a commit bad (or broken) */
    const char *state, *repo, *home, *tree;
    int fixed; /* find the commit that fixed the cases (they fail at --bad, an ancestor of --good) */
    char **extra; /* run arguments after -- */
    int nextra;
    char patterns[1024]; /* -p, given twice, adds */
    char rules[256];     /* --rule, given twice, adds */
    char trees[1024];    /* --tree FOLDERS, given twice, adds */
} kvv_bisect_opts;

/* The bisect (progress and result on stdout, problems on stderr): 0 when
 * the first commit of the new term was found, 1 when it could not be
 * determined, the ends do not behave as claimed, or SIGINT/SIGTERM stopped
 * it (the steps so far said, the clone removed), -1 when it could not
 * start (not a repository, unknown revisions, ends the wrong way round). */
int kvv_bisect_run(const kvv_bisect_opts *a);
/* One step, at the commit checked out in a->repo: build, run, classify;
 * one line on stdout (KVV_BISECT_STEP_PREFIX ...); the status for git
 * bisect run. */
int kvv_bisect_step(const kvv_bisect_opts *a);

/* What a step's run says of its commit: a KVV_STEP_ status and why (the
 * end of its line, e.g. "3 failing (FAIL cpu q8_0...): bad").  run_status:
 * the run's exit status; log: its output, where failures are counted (with
 * a->rule, only those by one of its rules). */
int kvv_bisect_classify(const kvv_bisect_opts *a, int run_status, const char *log, char *why, size_t why_len);

/* ---- a run's log (bisect/log.c) ---- */
/* The failing lines a run printed: the count, and the first failure (its
 * two lines, "FAIL backend case" and "[rule] detail") in first.  With
 * rules (a comma-separated list; NULL: any), only failures by one of them
 * count. */
int kvv_bisect_scan_failures(const char *log, const char *rules, char *first, size_t n);
/* Whether the run's summary says no case ran (every one skipped). */
int kvv_bisect_ran_none(const char *log);

#endif
