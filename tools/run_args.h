/* The options of `kvverify run` and `kvverify list cases`
 * (tools/run_args.c); the command is tools/cmd_run.c. */
#ifndef KVV_TOOLS_RUN_ARGS_H
#define KVV_TOOLS_RUN_ARGS_H

#include "oracle/case_select.h"
#include "tools/cli.h"

/* The list options: given twice, they add up (cli_list_add). */
enum { LIST_PATTERN, LIST_OPS, LIST_BACKENDS, LIST_HEAD, LIST_KV, LIST_TOGGLE, LIST_SET, LIST_COUNT };

typedef struct {
    kvv_case_select sel; /* the cases: base list, corpus, overrides, filters (oracle/case_select.h) */
    const char *backends, *dump;
    const char *rerun; /* --rerun-failed FILE (its cases go to sel.named) */
    char lists[LIST_COUNT][1024];
    int jobs, verbose, strict, no_isolate, fail_fast, dump_all, backends_given, matrix_given;
    int keep_formats; /* --listed-formats: run the generated cases in the versions they list */
    int guard;        /* --guard: guard pages after the buffers a backend writes */
    double timeout;
    cli_reports reports;
} run_args;

/* Parse the arguments (list_only: `list cases`); 0, or -1 with a message
 * printed (a usage error).  --help prints the usage and exits 0. */
int run_args_parse(int argc, char **argv, run_args *a, int list_only);

#endif
