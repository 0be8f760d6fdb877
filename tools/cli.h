/* Shared pieces of the kvverify command-line tool (tools/ only). */
#ifndef KVV_CLI_H
#define KVV_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EXIT_USAGE 2

/* Subcommands: argv[0] is the subcommand's name; return the exit status. */
int cmd_run(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_tables(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_fuzz(int argc, char **argv);
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
int cmd_ppl(int argc, char **argv);
int cmd_mkmodel(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_bisect(int argc, char **argv);
int cmd_bisect_step(int argc, char **argv);

/* Split a comma list of backend names (into store); the count, or -1 with
 * a message printed. */
int cli_split_backends(const char *list, char *store, size_t n, const char **names);
/* A backend that cannot be opened (unknown name, not a backend library,
 * options it refuses, a crash or no answer within `seconds`, at most
 * CLI_OPEN_SECONDS, while a throwaway child opens it) is a usage error
 * (message printed, -1), found before any work. */
#define CLI_OPEN_SECONDS 60.0
int cli_check_backend(const char *name, double seconds);
/* An output file a command is about to write (-o FILE): a usage error
 * (message with the errno text printed, -1) when it is a directory or its
 * folder is missing or not writable; checked before any work. */
int cli_check_out_file(const char *opt, const char *path);
/* "host arch, N CPUs, model" */
void cli_machine_name(char *buf, size_t n);
void cli_usage(FILE *out);
/* The options of run (and list cases), part of cli_usage (tools/kvverify.c). */
void cli_run_options(FILE *out);
/* A command's own usage (tools/cli_help.c: "run", "list", "list cases",
 * "bench", ...) to out; -1 for a name it has none for. */
int cli_help(const char *name, FILE *out);
/* Whether the arguments of a command are just --help or -h. */
int cli_wants_help(int argc, char **argv);

/* Comma lists of options.  cli_list_check: a list with an empty item
 * ("a,,b", "a,", ",") is a usage error (message printed, -1).  cli_list_add:
 * the same check, then the list appended to acc (n bytes; "" at first), so
 * that an option given twice adds to its list. */
int cli_list_check(const char *opt, const char *list);
int cli_list_add(const char *opt, const char *list, char *acc, size_t n);

/* Devices (tools/cli_devices.c, through the registry of built-in backends): --vk-device N (0, or -1 with a message);
 * the backends of a run without -b (cpu, plus vulkan when a device opens;
 * one line printed either way); a line on the device when a list names
 * vulkan; `list devices [--vk-device N]`. */
int cli_vk_device(const char *arg);
const char *cli_default_backends(void);
void cli_vk_describe(const char *list);
int cli_list_devices(int argc, char **argv);

/* Strict numbers for options: the whole text, finite, within [lo, hi].
 * On a bad value print "kvverify: OPT needs ..., not 'TEXT'" and return -1. */
int cli_int(const char *opt, const char *text, long lo, long hi, int *out);
int cli_u64(const char *opt, const char *text, uint64_t *out);
int cli_seconds(const char *opt, const char *text, double lo, double hi, double *out);
/* Child processes (tools/cli_proc.c).  Each returns the exit status, 128 +
 * the signal when one killed it, or -1 when it could not start.
 * run: output (stdout and stderr) to out_fd, or inherited when out_fd < 0.
 * capture: stdout into buf, trailing newlines removed; stderr dropped.
 * filter: every output line to log (may be NULL), and those that start with
 * prefix to out as they come. */
int cli_proc_run(char *const argv[], int out_fd);
/* on: SIGINT and SIGTERM are caught and passed on to the running child,
 * each child in its own process group (everything it starts gets them);
 * off: their default action again.  cli_proc_caught: the first signal
 * caught, or 0. */
void cli_proc_catch_signals(int on);
int cli_proc_caught(void);
int cli_proc_capture(char *const argv[], char *buf, size_t n);
int cli_proc_filter(char *const argv[], FILE *log, const char *prefix, FILE *out);

/* HDF5 dumps of `run` and `replay` (tools/cli_dump.c): check a --dump path
 * before any work (-1 with a message: a usage error); open a writer for a
 * run (NULL with a message printed: a usage error too, nothing has run),
 * and close it, renaming the file into place and saying how many cases it
 * holds; -1 (printed) on a write error. */
struct kvv_dump_writer;
struct kvv_run_info;
struct kvv_summary;
int cli_dump_check(const char *path);
struct kvv_dump_writer *cli_dump_create(const char *path, int all, const struct kvv_run_info *info);
int cli_dump_finish(struct kvv_dump_writer *w, const char *path, const struct kvv_summary *s);

#endif
