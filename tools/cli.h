/* Shared pieces of the kvverify command-line tool (tools/ only). */
#ifndef KVV_CLI_H
#define KVV_CLI_H

#include <stddef.h>
#include <stdio.h>

#define EXIT_USAGE 2

/* Subcommands: argv[0] is the subcommand's name; return the exit status. */
int cmd_run(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tables(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_compare(int argc, char **argv);

/* File reports of a run (tools/cli_reports.c). */
enum { CLI_REP_JSON, CLI_REP_JUNIT, CLI_REP_MARKDOWN, CLI_REP_HTML, CLI_REP_RATIOS, CLI_REP_COUNT };
typedef struct kvv_reporter kvv_reporter;
typedef struct cli_reports {
    const char *path[CLI_REP_COUNT]; /* per format, NULL = not written; "-" = stdout */
    const char *dir;                 /* --report-dir: every format not given a path */
    FILE *file[CLI_REP_COUNT];
    char *owned[CLI_REP_COUNT];
    kvv_reporter *rep[CLI_REP_COUNT];
    int n;
    int to_stdout; /* a report goes to stdout: the terminal reporter should use stderr */
} cli_reports;
/* Open the files and make the reporters (rep[0..n)); 0, or -1 with a message. */
int cli_reports_open(cli_reports *r);
/* Destroy the reporters and close the files; -1 when a write failed. */
int cli_reports_close(cli_reports *r);

/* Split a comma list of backend names (into store); the count, or -1 with
 * a message printed. */
int cli_split_backends(const char *list, char *store, size_t n, const char **names);
/* "host arch, N CPUs, model" */
void cli_machine_name(char *buf, size_t n);
void cli_usage(FILE *out);

#endif
