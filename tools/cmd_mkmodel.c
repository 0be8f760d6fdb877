/* `kvverify mkmodel`: write the probe model as a GGUF file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/run.h"
#include "tools/cli.h"

/* "f16" -> ggml type id of a weight type the probe can store */
static int weight_type(const char *name, uint32_t *id)
{
    static const uint32_t ids[] = {KVV_GGML_F32,  KVV_GGML_F16,  KVV_GGML_BF16, KVV_GGML_Q8_0, KVV_GGML_Q4_0,
                                   KVV_GGML_Q4_1, KVV_GGML_Q5_0, KVV_GGML_Q5_1, KVV_GGML_IQ4_NL};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        if (!strcmp(name, kvv_ggml_type_name(ids[i]))) {
            *id = ids[i];
            return 0;
        }
    return -1;
}

static int int_arg(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) {
        fprintf(stderr, "kvverify mkmodel: %s needs an integer in %ld..%ld, not '%s'\n", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cmd_mkmodel(int argc, char **argv)
{
    enum { O_HYBRID = 256, O_SEED, O_HEAD, O_HEADS, O_KVH, O_WTYPE, O_TEXT };
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"hybrid", no_argument, 0, O_HYBRID},
        {"seed", required_argument, 0, O_SEED}, {"head-dim", required_argument, 0, O_HEAD},
        {"heads", required_argument, 0, O_HEADS}, {"kv-heads", required_argument, 0, O_KVH},
        {"wtype", required_argument, 0, O_WTYPE}, {"text", required_argument, 0, O_TEXT},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    kvv_probe_params p = kvv_probe_default();
    const char *out = NULL, *text_path = NULL;
    char buf[1024], err[400];
    long v;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'o': out = optarg; break;
        case O_HYBRID: p.hybrid = 1; break;
        case O_SEED:
            if (int_arg("--seed", optarg, 0, 0x7fffffffL, &v))
                return EXIT_USAGE;
            p.seed = (uint64_t)v;
            break;
        case O_HEAD:
            if (int_arg("--head-dim", optarg, 64, 256, &v))
                return EXIT_USAGE;
            p.head_dim = (int)v;
            break;
        case O_HEADS:
            if (int_arg("--heads", optarg, 3, 64, &v))
                return EXIT_USAGE;
            p.n_head = (int)v;
            break;
        case O_KVH:
            if (int_arg("--kv-heads", optarg, 1, 64, &v))
                return EXIT_USAGE;
            p.n_head_kv = (int)v;
            break;
        case O_WTYPE:
            if (weight_type(optarg, &p.wtype)) {
                fprintf(stderr, "kvverify mkmodel: --wtype: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1 or iq4_nl\n");
                return EXIT_USAGE;
            }
            break;
        case O_TEXT: text_path = optarg; break;
        case 'h':
            printf("usage: kvverify mkmodel -o FILE [--hybrid] [--seed N] [--head-dim 64|128|256] [--heads N]\n"
                   "                        [--kv-heads N] [--wtype f16|f32|bf16|q8_0|q4_0|...] [--text CORPUS]\n");
            return 0;
        default: return EXIT_USAGE;
        }
    }
    if (!out || optind < argc) {
        fprintf(stderr, "kvverify mkmodel: needs -o FILE (and no other arguments)\n");
        return EXIT_USAGE;
    }
    /* everything the user named is checked before the model is built */
    if (kvv_probe_check(&p, err, sizeof err)) {
        fprintf(stderr, "kvverify mkmodel: %s\n", err);
        return EXIT_USAGE;
    }
    if (cli_check_out_file("mkmodel -o", out))
        return EXIT_USAGE;
    if (!text_path && !(text_path = kvv_corpus_path("probe.txt", buf, sizeof buf))) {
        fprintf(stderr, "kvverify mkmodel: corpora/probe.txt not found; give --text\n");
        return EXIT_USAGE;
    }
    size_t len, size;
    uint8_t *gguf;
    char *text = kvv_read_file(text_path, &len, err, sizeof err);
    if (!text) {
        fprintf(stderr, "kvverify mkmodel: --text: %s\n", err);
        return EXIT_USAGE;
    }
    if (kvv_probe_build(&p, text, len, &gguf, &size, err, sizeof err)) {
        fprintf(stderr, "kvverify mkmodel: %s\n", err);
        free(text);
        return 1;
    }
    free(text);
    FILE *f = fopen(out, "wb");
    int ok = f && fwrite(gguf, 1, size, f) == size, e = errno;
    if (f && fclose(f) && ok) {
        ok = 0;
        e = errno;
    }
    free(gguf);
    if (!ok) {
        fprintf(stderr, "kvverify mkmodel: cannot write %s: %s\n", out, strerror(e));
        return EXIT_USAGE;
    }
    printf("%s: %s probe, seed %llu, head dim %d, %d heads / %d KV heads, weights %s, %zu bytes\n", out,
           p.hybrid ? "hybrid" : "llama", (unsigned long long)p.seed, p.head_dim, p.n_head, p.n_head_kv,
           kvv_ggml_type_name(p.wtype), size);
    return 0;
}
