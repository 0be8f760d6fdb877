/* The options of `kvverify ppl` (tools/ppl_args.c), for tools/cmd_ppl.c. */
#ifndef KVV_TOOLS_PPL_ARGS_H
#define KVV_TOOLS_PPL_ARGS_H

#include <stdint.h>

typedef struct {
    const char *model, *text, *kv, *backend;
    int ctx, chunk, offset, head_dim, bounds, strict;
    uint64_t seed;
    double timeout; /* seconds per K/V pair, in its own process */
    char kvs[1024];  /* --kv, given twice, adds */
    int backend_given;
    int npairs; /* the K/V pairs --kv names (set once the model is known) */
} ppl_args;

/* 0, or -1 with a message printed (a usage error); --help prints the usage
 * and exits. */
int ppl_parse_args(int argc, char **argv, ppl_args *a);

#endif
