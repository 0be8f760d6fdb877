/* The plugin ABI: the porting template loads and its cases pass or skip as
 * they should; each way a library can be broken gives a message that names
 * the defect (tests/plugins/ builds one library per defect). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oracle/run.h"
#include "tests/harness.h"

static char *lib_path(const char *name)
{
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", kvv_build_dir(), name);
    return p;
}

static const kvv_backend *open_template(void)
{
    char why[512] = "";
    const kvv_backend *b = kvv_backend_open(lib_path("libkvv_template.so"), why, sizeof why);
    if (!b)
        fprintf(stderr, "template: %s\n", why);
    return b;
}

static void test_template_loads(void)
{
    const kvv_backend *b = open_template();
    CU_ASSERT_FATAL(b != NULL);
    CU_ASSERT_STRING_EQUAL(b->name, "template");
    char why[256];
    CU_ASSERT(kvv_backend_check_abi(b, why, sizeof why) == 0);
}

/* The template's own types pass every rule; the arith ratio is small because
 * it computes in double. */
static void test_template_cases_pass(void)
{
    const kvv_backend *b = open_template();
    CU_ASSERT_FATAL(b != NULL);
    static const char *pass[] = {
        "quant/f16/d128/rows64/dist=gauss/seed=1",
        "quant/f16/d128/rows64/dist=denorm/seed=2",
        "quant/f16/d128/rows64/dist=huge/seed=3",
        "dequant/f32/d64/rows16/dist=gauss/seed=4",
        "attn/d128/f16-f16/nq1/nkv256/h8/gqa4/dist=gauss/seed=5",
        "attn/d64/f32-f16/nq16/nkv64/h4/mask=causal/dist=outlier/seed=6",
        "attn/d128/f16-f32/nq4/nkv64/h4/alibi=8/mask=causal/softcap=30/seed=7",
        "attn/d64/f16-f16/nq8/nkv64/h2/mask=holes/seed=8",
    };
    for (size_t i = 0; i < sizeof pass / sizeof *pass; i++) {
        kvv_verdict v = run_named(b, pass[i]);
        CU_ASSERT(v.status == KVV_PASS);
        /* row ops are judged by their bits: no ratio */
        CU_ASSERT(strncmp(pass[i], "attn/", 5) ? isnan(v.arith_ratio) : v.arith_ratio < 0.01);
    }
}

/* What the template has no code for is a skip that says why, never a pass. */
static void test_template_declines(void)
{
    const kvv_backend *b = open_template();
    CU_ASSERT_FATAL(b != NULL);
    static const struct {
        const char *name, *why;
    } skip[] = {
        {"quant/q8_0/d128/rows64/dist=gauss/seed=1", "types f32, f16 only"},
        {"attn/d128/f16-q4_0/nq1/nkv64/h4/seed=2", "types f32, f16 only"},
        {"wht/d128/g128/rows8/seed=3", "no WHT"},
        {"quant/f16/d128/rows8/isa=avx2/seed=4", "one scalar code path"},
    };
    for (size_t i = 0; i < sizeof skip / sizeof *skip; i++) {
        kvv_verdict v = run_named(b, skip[i].name);
        CU_ASSERT(v.status == KVV_SKIP);
        CU_ASSERT(strstr(v.detail, skip[i].why) != NULL);
    }
    /* the entry points decline on their own too (the bench calls them
     * without asking supports first) */
    float x[32] = {0};
    unsigned char y[64];
    kvv_toggles tg = kvv_toggles_default();
    CU_ASSERT(b->quantize_rows(b->ctx, KVV_Q8_0, x, y, 1, 32, &tg) == KVV_UNSUPPORTED);
    CU_ASSERT(strstr(b->last_error(b->ctx), "cannot quantize") != NULL);
}

/* kvverify's own command line loads it with -b PATH and runs cases in its
 * isolated workers; a declined case is a skip, and --strict turns it into a
 * failure. */
static int run_cli(const char *args, char *out, size_t outlen)
{
    char all[2048];
    snprintf(all, sizeof all, "run -j 1 -b %s/libkvv_template.so %s", kvv_build_dir(), args);
    return cli_run(all, out, outlen);
}

static void test_template_through_cli(void)
{
    static char out[65536];
    const char *cases = scratch_path("kvv-plugin", "two.cases");
    FILE *f = fopen(cases, "w");
    CU_ASSERT_FATAL(f != NULL);
    fprintf(f, "attn/d128/f16-f16/nq1/nkv256/h8/gqa4/dist=gauss/seed=5\nquant/q8_0/d128/rows64/dist=gauss/seed=1\n");
    fclose(f);
    char args[512];
    snprintf(args, sizeof args, "--cases %s", cases);
    int rc = run_cli(args, out, sizeof out);
    scratch_remove();
    CU_ASSERT(rc == 0);
    CU_ASSERT(strstr(out, "1 passed, 0 failed, 1 skipped") != NULL);
    if (rc != 0)
        fprintf(stderr, "%s\n", out);
    rc = run_cli("--strict -p quant/q8_0/d128/rows64/dist=gauss/seed=1", out, sizeof out);
    CU_ASSERT(rc == 1);
}

/* ---- broken libraries: each refused, with the defect named ---- */

static void expect_refused(const char *name, const char *want)
{
    char why[512] = "";
    const kvv_backend *b = kvv_backend_open(name, why, sizeof why);
    CU_ASSERT(b == NULL);
    CU_ASSERT(strstr(why, want) != NULL);
    if (!strstr(why, want))
        fprintf(stderr, "  %s: got '%s', want '%s'\n", name, why, want);
}

static void test_abi_mismatch(void)
{
    char want[128];
    snprintf(want, sizeof want, "backend ABI version %u, this kvverify speaks version %u", KVV_ABI_VERSION + 1,
             KVV_ABI_VERSION);
    expect_refused(lib_path("plugins/libbroken_bad_abi.so"), want);
}

static void test_short_struct(void)
{
    char want[128];
    snprintf(want, sizeof want, "version %u needs %zu", KVV_ABI_VERSION, (size_t)KVV_BACKEND_MIN_SIZE);
    expect_refused(lib_path("plugins/libbroken_short_struct.so"), want);
}

static void test_missing_entry(void)
{
    expect_refused(lib_path("plugins/libbroken_missing_entry.so"), "lacks the required entry 'attention'");
}

static void test_null_table(void)
{
    expect_refused(lib_path("plugins/libbroken_null_table.so"), "returned no table");
}

static void test_no_symbol(void)
{
    expect_refused(lib_path("plugins/libno_symbol.so"), "does not export kvv_backend_get()");
}

static void test_missing_file(void)
{
    expect_refused(lib_path("plugins/libnot_there.so"), "libnot_there.so: No such file or directory");
    expect_refused("/nonexistent/dir/lib.so:opt=1", "/nonexistent/dir/lib.so: No such file");
}

static void test_options(void)
{
    char name[1100];
    /* a library without kvv_backend_get_config takes no options */
    snprintf(name, sizeof name, "%s:device=cpu", lib_path("libkvv_template.so"));
    expect_refused(name, "takes no options");
    /* one with it sees them, and its own refusal reaches the user */
    snprintf(name, sizeof name, "%s:colour=blue", lib_path("plugins/libbroken_bad_config.so"));
    expect_refused(name, "unknown option 'colour=blue'");
    /* the ggml aliases look for the adapter where they are told to */
    setenv("KVV_GGML_ADAPTER", "/nonexistent/libkvv_ggml.so", 1);
    expect_refused("ggml-cpu", "/nonexistent/libkvv_ggml.so: No such file");
    unsetenv("KVV_GGML_ADAPTER");
    expect_refused("ggml-nothing", "unknown backend 'ggml-nothing'");
}

void kvv_register_tests(void)
{
    static const kvv_test tmpl[] = {{"template loads by path", test_template_loads},
                                    {"template's f32/f16 cases pass", test_template_cases_pass},
                                    {"template declines the rest", test_template_declines},
                                    {"template through kvverify run -b", test_template_through_cli},
                                    {NULL, NULL}};
    static const kvv_test broken[] = {{"ABI version mismatch", test_abi_mismatch},
                                      {"short struct_size", test_short_struct},
                                      {"missing required entry", test_missing_entry},
                                      {"kvv_backend_get returns NULL", test_null_table},
                                      {"no kvv_backend_get symbol", test_no_symbol},
                                      {"no such library", test_missing_file},
                                      {"library options", test_options},
                                      {NULL, NULL}};
    kvv_add_suite("plugin template", tmpl);
    kvv_add_suite("broken plugins", broken);
}
