/* The ggml adapter (kernels/ggml): its options and errors always; with a
 * ggml build installed (ci/install-ggml.sh, or KVV_GGML_LIB_DIR) also that
 * it loads, that the oracle passes what ggml does the reference's way and
 * catches a planted defect (a type map that sends iq4_nl through the
 * quantizer with the scale search), and that a map written for another
 * build is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oracle/run.h"
#include "tests/harness.h"

static void expect_refused(const char *name, const char *want)
{
    char why[600] = "";
    const kvv_backend *b = kvv_backend_open(name, why, sizeof why);
    CU_ASSERT(b == NULL);
    CU_ASSERT(strstr(why, want) != NULL);
    if (!strstr(why, want))
        fprintf(stderr, "  %s: got '%s', want '%s'\n", name, why, want);
}

static void test_option_errors(void)
{
    expect_refused("ggml-cpu:colour=blue", "unknown option 'colour'");
    expect_refused("ggml-cpu:device=tpu", "device=tpu (cpu or vulkan)");
    expect_refused("ggml-cpu:quant=fast", "quant=fast (set_rows or chunk)");
    expect_refused("ggml-cpu:stack=64k", "stack=64k (a size in KiB, 1 to 1048576)");
    expect_refused("ggml-cpu:stack=0", "stack=0 (a size in KiB");
    expect_refused("ggml-cpu:dir=/nonexistent/ggml", "cannot load libggml-base.so from /nonexistent/ggml (run "
                                                     "ci/install-ggml.sh");
    expect_refused("ggml-cpu:types=/nonexistent/map.txt", "type map /nonexistent/map.txt: cannot open");
}

/* ---- with a ggml build ---- */

static int have_ggml(void)
{
    const char *dir = getenv("KVV_GGML_LIB_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/libggml-base.so", dir && *dir ? dir : ".deps/ggml/cpu");
    if (access(path, R_OK) == 0)
        return 1;
    kvv_skip("no ggml build in %s (run ci/install-ggml.sh, or set KVV_GGML_LIB_DIR, to test the adapter on one)",
             dir && *dir ? dir : ".deps/ggml/cpu");
    return 0;
}

static const kvv_backend *open_or_report(const char *name)
{
    char why[600] = "";
    const kvv_backend *b = kvv_backend_open(name, why, sizeof why);
    if (!b)
        fprintf(stderr, "  %s: %s\n", name, why);
    return b;
}

static void test_loads_and_passes(void)
{
    if (!have_ggml())
        return;
    const kvv_backend *b = open_or_report("ggml-cpu:quant=chunk");
    CU_ASSERT_FATAL(b != NULL);
    CU_ASSERT(strstr(b->description, "ggml 0.") != NULL);
    CU_ASSERT_STRING_EQUAL(b->name, "ggml-cpu");
    /* ggml_quantize_chunk is quantize_row_*_ref: the reference's bytes */
    static const char *pass[] = {
        "quant/q8_0/d128/rows64/dist=gauss/seed=1",     "quant/q4_1/d128/rows64/dist=outlier/seed=2",
        "quant/iq4_nl@search/d128/rows64/dist=heavy/seed=3", "dequant/q5_0/d64/rows32/dist=gauss/seed=4",
        "attn/d128/f16-f16/nq1/nkv256/h8/gqa4/dist=gauss/seed=5",
        "attn/d128/f32-f32/nq4/nkv64/h4/alibi=8/mask=causal/softcap=30/seed=6",
    };
    for (size_t i = 0; i < sizeof pass / sizeof *pass; i++)
        CU_ASSERT(run_named(b, pass[i]).status == KVV_PASS);
    /* what upstream ggml has no code for is a skip with the reason */
    kvv_verdict v = run_named(b, "quant/turbo3/d128/rows32/dist=gauss/seed=7");
    CU_ASSERT(v.status == KVV_SKIP && strstr(v.detail, "this ggml has no turbo3 type"));
    /* the type table was walked: no TurboQuant type, and it says so */
    CU_ASSERT(strstr(b->description, "TurboQuant types: none") != NULL);
    char note[256];
    CU_ASSERT_FATAL(KVV_BACKEND_HAS(b, stored_as) && b->stored_as);
    CU_ASSERT_EQUAL(b->stored_as(b->ctx, KVV_TURBO3, note, sizeof note), KVV_TYPE_NONE);
    CU_ASSERT(strstr(note, "no turbo3 type") != NULL);
    CU_ASSERT_EQUAL(b->stored_as(b->ctx, KVV_Q8_0, note, sizeof note), KVV_Q8_0);
    v = run_named(b, "quant/iq4_nl/d128/rows32/dist=gauss/seed=8");
    CU_ASSERT(v.status == KVV_SKIP && strstr(v.detail, "quant=chunk makes iq4_nl@search bytes"));
    v = run_named(b, "wht/d128/g128/rows8/seed=9");
    CU_ASSERT(v.status == KVV_SKIP && strstr(v.detail, "no ggml_turbo_wht op"));
    b->destroy(b->ctx); /* each open made its own adapter */
}

static const char *write_map(const char *text)
{
    const char *path = scratch_path("kvv-ggml", "typemap.txt");
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    return path;
}

/* A map that sends kvverify's iq4_nl (the cache write, no scale search)
 * through ggml_quantize_chunk (which searches) stores other bytes: the
 * bytes rule must see it. */
static void test_wrong_map_is_caught(void)
{
    if (!have_ggml())
        return;
    const char *path = write_map("# iq4_nl made the wrong way\niq4_nl 20 iq4_nl chunk\n");
    CU_ASSERT_FATAL(path != NULL);
    if (!path) /* not reached (as below) */
        return;
    char name[200];
    snprintf(name, sizeof name, "ggml-cpu:types=%s", path);
    const kvv_backend *b = open_or_report(name);
    unlink(path);
    CU_ASSERT_FATAL(b != NULL);
    kvv_verdict v = run_named(b, "quant/iq4_nl/d128/rows64/dist=gauss/seed=11");
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_BYTES);
    b->destroy(b->ctx);
}

static void test_foreign_map_refused(void)
{
    if (!have_ggml())
        return;
    static const struct {
        const char *map, *want;
    } cases[] = {
        {"q8_0 2 q8_0\n", "q8_0 -> ggml enum 2 'q8_0', but this ggml calls 2 'q4_0'"},
        {"turbo3 500 turbo3_0\n", "turbo3 -> ggml enum 500 'turbo3_0', but this ggml has"},
        {"turbo3 41 turbo3_0 set_rows\n", "turbo3 -> ggml enum 41 'turbo3_0', but this ggml calls 41"},
        {"nosuchtype 8 q8_0\n", "unknown kvverify type 'nosuchtype'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *path = write_map(cases[i].map);
        CU_ASSERT_FATAL(path != NULL);
        if (!path) /* not reached; GCC at -O3 does not know that CU_ASSERT_FATAL ends the test */
            return;
        char name[200];
        snprintf(name, sizeof name, "ggml-cpu:types=%s", path);
        expect_refused(name, cases[i].want);
        unlink(path);
    }
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"option errors", test_option_errors},
                                     {"loads; reference-path cases pass", test_loads_and_passes},
                                     {"a wrong type map is caught by the bytes rule", test_wrong_map_is_caught},
                                     {"a map for another build is refused", test_foreign_map_refused},
                                     {NULL, NULL}};
    kvv_add_suite("ggml adapter", tests);
}
