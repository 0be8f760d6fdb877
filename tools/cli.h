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
int cmd_ppl(int argc, char **argv);
int cmd_mkmodel(int argc, char **argv);

/* Split a comma list of backend names (into store); the count, or -1 with
 * a message printed. */
int cli_split_backends(const char *list, char *store, size_t n, const char **names);
/* "host arch, N CPUs, model" */
void cli_machine_name(char *buf, size_t n);
void cli_usage(FILE *out);

#endif
