/* The buffers a backend writes in a ppl run (the K and V rows it quantizes
 * for the cache, the attention output) have the same guard zones as the
 * other ops: a plugin that writes 2 floats past them fails the case with
 * `crash`, naming the call, the layer and the buffer, in `run` (zones, and
 * pages with --guard) and in `kvverify ppl`; an honest run of the same
 * plugin passes (no false alarm from the exact-size buffers); and the model
 * run itself reports a zone written over, and says nothing without zones. */
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu_backend.h"
#include "oracle/guard.h"
#include "oracle/run.h"
#include "tests/harness.h"

#define PPL_CASE "ppl/d128/f16-f16/nq64/nkv256/h8/gqa4/model=probe/seed=1"

static char out[1 << 16];

static int expect(const char *args, int status, const char *needle)
{
    return cli_expect(args, status, needle, out, sizeof out);
}

static const char *overrun(const char *opts)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/tests/plugins/libliar_overrun.so%s", cli_build_dir(), opts);
    return path;
}

static void test_run_zones(void)
{
    char args[1024];
    snprintf(args, sizeof args, "run -b %s -p " PPL_CASE, overrun(""));
    CU_ASSERT(expect(args, 1, "[crash] attention of layer 0: backend wrote 8 bytes past out (a buffer of 262144 "
                              "bytes)"));
    snprintf(args, sizeof args, "run -b %s -p " PPL_CASE, overrun(":where=quant"));
    CU_ASSERT(expect(args, 1, "[crash] quantize K of layer 0: backend wrote 8 bytes past the quantized K rows (a "
                              "buffer of 32768 bytes)"));
    /* the honest template (nothing written past) passes */
    snprintf(args, sizeof args, "run -b %s -p " PPL_CASE, overrun(":past=0"));
    CU_ASSERT(expect(args, 0, "1 passed"));
}

static void test_run_pages(void)
{
    char args[1024];
    snprintf(args, sizeof args, "run --guard -b %s -p " PPL_CASE, overrun(""));
    CU_ASSERT(expect(args, 1, "backend wrote past out (byte 1 past the end of its 262144 bytes; --guard page)"));
    snprintf(args, sizeof args, "run --guard -b %s -p " PPL_CASE, overrun(":where=quant:past=1"));
    CU_ASSERT(expect(args, 1, "backend wrote past the quantized K rows (byte 1 past the end of its 32768 bytes; "
                              "--guard page)"));
    snprintf(args, sizeof args, "run --guard -b %s -p " PPL_CASE, overrun(":past=0"));
    CU_ASSERT(expect(args, 0, "1 passed"));
}

static void test_ppl_command(void)
{
    char args[1024];
    snprintf(args, sizeof args, "ppl --model probe --kv f16/f16 -b %s", overrun(""));
    CU_ASSERT(expect(args, 1, "f16/f16                FAILED: attention of layer 0: backend wrote 8 bytes past out"));
    snprintf(args, sizeof args, "ppl --model probe --kv f16/f16 -b %s", overrun(":past=0"));
    CU_ASSERT(expect(args, 0, "result      pass"));
}

/* ---- the model run on its own: a backend that writes one float past the attention output ---- */

static const kvv_backend *cpu;
static int sloppy_attention(void *ctx, const kvv_attn_args *a, float *o, kvv_attn_info *info)
{
    int rc = cpu->attention(ctx, a, o, info);
    o[(size_t)a->n_head * a->n_q * a->dv] = 1.0f; /* one float past the end */
    return rc;
}

static void test_model_run(void)
{
    cpu = kvv_cpu_backend();
    kvv_backend sloppy = *cpu;
    sloppy.attention = sloppy_attention;
    kvv_probe_params p = kvv_probe_default();
    char path[1024], err[400];
    size_t len = 0, size = 0;
    CU_ASSERT_FATAL(kvv_corpus_path("probe.txt", path, sizeof path) != NULL);
    char *text = kvv_read_file(path, &len, err, sizeof err);
    CU_ASSERT_FATAL(text != NULL);
    uint8_t *gguf = NULL;
    kvv_gguf g;
    kvv_model m;
    CU_ASSERT_FATAL(kvv_probe_build(&p, text, len, &gguf, &size, err, sizeof err) == 0);
    CU_ASSERT_FATAL(kvv_gguf_parse(gguf, size, &g, err, sizeof err) == 0);
    CU_ASSERT_FATAL(kvv_model_load(&g, &m, err, sizeof err) == 0);
    kvv_gguf_free(&g);
    enum { N = 40 };
    int32_t tok[N];
    CU_ASSERT_FATAL(kvv_model_tokenize(&m, text, len, tok, N) == N);
    float *logits = malloc(sizeof(float) * N * (size_t)m.n_vocab);
    CU_ASSERT_FATAL(logits != NULL);
    /* the one float lands in the guard zone: caught at the first call */
    kvv_model_run_opts o = {&sloppy, KVV_F16, KVV_F16, kvv_toggles_default(), 16, 4, &kvv_guarded_buffers};
    CU_ASSERT_EQUAL(kvv_model_run(&m, &o, tok, N, logits, err, sizeof err), KVV_FAILED);
    CU_ASSERT(strstr(err, "attention of layer 0: backend wrote 4 bytes past out") != NULL);
    /* the honest backend, guarded: no alarm, at every chunk size (16, the last 4 of the prefill, then 1) */
    o.backend = cpu;
    CU_ASSERT_EQUAL(kvv_model_run(&m, &o, tok, N, logits, err, sizeof err), KVV_OK);
    kvv_model_free(&m);
    free(logits);
    free(gguf);
    free(text);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"ppl cases: writes past the K/V rows and the output fail (zones)", test_run_zones},
        {"ppl cases: the same with --guard pages", test_run_pages},
        {"kvverify ppl: a write past the output fails the pair", test_ppl_command},
        {"the model run checks its guarded buffers after each call", test_model_run},
        {NULL, NULL}};
    kvv_add_suite("ppl_guard", tests);
}
