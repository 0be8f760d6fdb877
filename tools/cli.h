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
int cmd_version(int argc, char **argv);
int cmd_fuzz(int argc, char **argv);

/* Split a comma list of backend names (into store); the count, or -1 with
 * a message printed. */
int cli_split_backends(const char *list, char *store, size_t n, const char **names);
/* A backend name that is neither built in nor a readable library path is a
 * usage error (message printed, -1), found before any work. */
int cli_check_backend(const char *name);
/* "host arch, N CPUs, model" */
void cli_machine_name(char *buf, size_t n);
void cli_usage(FILE *out);

/* Strict numbers for options: the whole text, finite, within [lo, hi].
 * On a bad value print "kvverify: OPT needs ..., not 'TEXT'" and return -1. */
int cli_int(const char *opt, const char *text, long lo, long hi, int *out);
int cli_u64(const char *opt, const char *text, uint64_t *out);
int cli_seconds(const char *opt, const char *text, double lo, double hi, double *out);

#endif
