/* Bad user input gets a clear error before any work, never a crash: case
 * names, filters, overrides, case files and numeric options through the
 * command line (exit status 2 and a message naming the problem, no run
 * started), and the same checks through the API. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oracle/cases.h"
#include "oracle/run.h"
#include "tests/harness.h"

typedef struct {
    const char *args;    /* shell-quoted where needed */
    const char *message; /* a piece of the error it must print */
} bad_input;

static void expect_usage_error(const bad_input *b)
{
    char out[8192];
    double t0 = cli_mono();
    /* an input that slips through would start a whole run: the time limit
     * turns that into a quick failure (status 124) */
    int st = cli_run_limit(10, b->args, out, sizeof out);
    double dt = cli_mono() - t0;
    CU_ASSERT_EQUAL(st, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, b->message));
    CU_ASSERT_PTR_NULL(strstr(out, " cases x ")); /* no run started */
    CU_ASSERT(dt < 5.0);
    if (st != 2 || !strstr(out, b->message) || strstr(out, " cases x "))
        fprintf(stderr, "\nkvverify %s\n  exit %d, wanted 2 and '%s'; output:\n%s\n", b->args, st, b->message, out);
}

static void test_case_names(void)
{
    static const bad_input bad[] = {
        {"run -p 'attn/d128/q9_0-f16/nq1/nkv64'", "unknown type in 'q9_0-f16'"},
        {"run -p 'quant/q9_0/d128/rows4'", "unknown field 'q9_0'"},
        {"run -p 'quant/q8_0/d100/rows4'", "q8_0 stores blocks of 32 values; head_dim 100"},
        {"run -p 'attn/d64/turbo4-f16/nq1/nkv8'", "turbo4 stores blocks of 128 values"},
        {"run -p 'attn/d80/turbo3-turbo3/nq1/nkv8'", "turbo3 stores blocks of 32 values; head_dim 80"},
        {"run -p 'attn/d-64/f16/nq1/nkv8'", "sizes must be positive"},
        {"run -p 'attn/d128/f16/nq1/nkv-1'", "sizes must be positive"},
        {"run -p 'attn/d128/f16/nq0/nkv8'", "bad number in 'nq0'"},
        {"run -p 'attn/d128/f16/nq1/nkv99999999999999999999'", "bad number in 'nkv99999999999999999999'"},
        {"run -p 'attn/d128/f16/nq1/nkv67108864/h4096/gqa1'", "GiB"},
        {"run -p 'attn/d576/dv512/f16/nq16777216/nkv67108864/h4096/gqa1'", "GiB"},
        {"run -p 'quant/f32/d65536/rows67108864'", "GiB"},
        {"run -p 'attn/d128/f16/nq9/nkv8/mask=causal'", "causal mask needs n_q (9) <= n_kv (8)"},
        {"run -p 'attn/d128/f16/nq1/nkv8/h6/gqa4'", "gqa4 does not divide h6"},
        {"run -p 'wht/d128/g3/rows4'", "not a power of two"},
        {"run -p 'wht/d96/g64/rows4'", "does not divide the row width 96"},
        {"run -p 'quant/q8_0/d128/rows4/nq5'", "'nq5' does not apply to quant cases"},
        {"run -p 'quant/q8_0/d128/rows4/mask=causal'", "'mask' does not apply to quant cases"},
        {"run -p 'attn/d128/f16/nq1/nkv8/dist=uniform'", "unknown distribution 'uniform'"},
        {"run -p 'attn/d128/f16/nq1/nkv8/seed=-3'", "bad seed '-3'"},
        {"run -p 'attn/d128/f16/nq1/nkv8/alibi=nan'", "bad alibi"},
        {"run -p 'attn/d128/f16/nq1/nkv8/softcap=-1'", "bad softcap"},
        {"run -p 'attn/d128/f16/nq1/nkv8/split=0'", "split must be 1..64"},
        {"run -p 'attn/d128/f16/nq1/nkv8/threads=100000'", "threads must be 1..256"},
        {"run -p 'bogus/d128/seed=1'", "unknown op 'bogus'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_usage_error(&bad[i]);
}

static void test_filters_and_options(void)
{
    static const bad_input bad[] = {
        {"run -o attn,bogus", "-o: unknown op 'bogus'"},
        {"run -o ,", "-o: empty list"},
        {"run --head-dim -5", "--head-dim: '-5' is not a positive head dim"},
        {"run --head-dim 99999999999", "--head-dim: '99999999999'"},
        {"run --kv q8_0", "--kv: 'q8_0' is not K/V"},
        {"run --kv q8_0/q9_0", "--kv: unknown type"},
        {"run --toggle split", "'split' is not key=value"},
        {"run --toggle cache=maybe", "cache must be on or off"},
        {"run --set dist=uniform", "--set: unknown distribution 'uniform'"},
        {"run --set seed=18446744073709551616", "bad seed"},
        {"run --set nkv=5", "--set: unknown key 'nkv'"},
        {"run --seed -1", "--seed needs a non-negative integer"},
        {"run --seed 99999999999999999999", "--seed needs a non-negative integer"},
        {"run -j 0", "-j needs an integer in 1..256"},
        {"run -j 4294967297", "-j needs an integer in 1..256"},
        {"run --timeout 0", "--timeout needs a number of seconds"},
        {"run --timeout 1e999", "--timeout needs a number of seconds"},
        {"run --timeout nan", "--timeout needs a number of seconds"},
        {"run -b nosuch", "unknown backend 'nosuch'"},
        {"run -b /nonexistent/libx.so", "no readable backend library"},
        {"run --cases /nonexistent/file.cases", "cannot open case file /nonexistent/file.cases"},
        {"run --corpus /nonexistent/corpus", "--corpus: no folder /nonexistent/corpus"},
        {"run --corpus /dev/null", "corpus /dev/null is not a folder"},
        {"run stray", "unexpected argument 'stray'"},
        {"fuzz --time -1", "--time needs a number of seconds"},
        {"fuzz --time 1e999", "--time needs a number of seconds"},
        {"fuzz -o ppl", "'ppl' is not an op fuzz draws"},
        {"fuzz -b cpu,cpu", "fuzz takes one backend"},
        {"fuzz -b nosuch", "unknown backend 'nosuch'"},
        {"fuzz --max-finds -2", "--max-finds needs an integer"},
        {"bench --threads 2x", "--threads needs an integer in 1..256"},
        {"bench --reps 99999999999999999999", "--reps needs an integer"},
        {"frobnicate", "unknown command 'frobnicate'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_usage_error(&bad[i]);
}

static void test_case_files(void)
{
    char path[300], args[512], out[8192];
    snprintf(path, sizeof path, "%s", scratch_path("kvv-input", "bad.cases"));
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "# a comment\n\nattn/d128/f16/nq1/nkv8/dist=gauss/seed=1\nattn/d128/f16/nq1/nkv-8\n");
    fclose(f);
    snprintf(args, sizeof args, "run --cases %s", path);
    bad_input b = {args, ":4: sizes must be positive"};
    expect_usage_error(&b);
    /* a line too long to be a case name */
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (int i = 0; i < 3000; i++)
        fputc('a', f);
    fputc('\n', f);
    fclose(f);
    b.message = ":1: line longer than";
    expect_usage_error(&b);
    /* binary junk */
    f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (int i = 0; i < 256; i++)
        fputc((i * 37 + 11) & 0xff, f);
    fclose(f);
    CU_ASSERT_EQUAL(cli_run_limit(10, args, out, sizeof out), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, path));
    remove(path);
}

/* The same checks without the command line. */
static void test_api(void)
{
    char err[256];
    kvv_case c = kvv_case_default(KVV_OP_ATTN);
    /* sizes whose products overflow int and size_t arithmetic */
    c.n_kv = INT_MAX;
    c.n_head = c.n_head_kv = 4096;
    c.dk = c.dv = 65536;
    CU_ASSERT_EQUAL(kvv_case_validate(&c, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "GiB"));
    c = kvv_case_default(KVV_OP_QUANT);
    c.dk = -32;
    CU_ASSERT_EQUAL(kvv_case_validate(&c, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "sizes must be positive"));
    c = kvv_case_default(KVV_OP_QUANT);
    c.type_k = (kvv_type)77;
    CU_ASSERT_EQUAL(kvv_case_validate(&c, err, sizeof err), -1);
    c = kvv_case_default(KVV_OP_ATTN);
    c.dist = (kvv_dist)-1;
    CU_ASSERT_EQUAL(kvv_case_validate(&c, err, sizeof err), -1);
    c = kvv_case_default(KVV_OP_ATTN);
    c.n_head = 6;
    c.n_head_kv = 4;
    CU_ASSERT_EQUAL(kvv_case_validate(&c, err, sizeof err), -1);
    CU_ASSERT_EQUAL(kvv_case_parse(NULL, &c, err, sizeof err), -1);

    /* a gigantic case handed to the runner is refused, not allocated */
    c = kvv_case_default(KVV_OP_ATTN);
    c.n_kv = 1 << 26;
    c.n_q = 1 << 20;
    c.n_head = c.n_head_kv = 64;
    kvv_verdict v;
    double t0 = cli_mono();
    kvv_run_case(&c, kvv_backend_open("cpu", err, sizeof err), &v);
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_CRASH && strstr(v.detail, "invalid case") != NULL);
    CU_ASSERT(cli_mono() - t0 < 1.0);

    /* filters: malformed ones are errors with a reason, from match too */
    kvv_filter f = {.head_dims = "128,x"};
    err[0] = 0;
    CU_ASSERT_EQUAL(kvv_filter_check(&f, err, sizeof err), -1);
    CU_ASSERT(err[0] != 0);
    c = kvv_case_default(KVV_OP_ATTN);
    err[0] = 0;
    CU_ASSERT_EQUAL(kvv_filter_match(&f, &c, err, sizeof err), -1);
    CU_ASSERT(err[0] != 0);
    char longlist[2000];
    memset(longlist, 'a', sizeof longlist - 1);
    longlist[sizeof longlist - 1] = 0;
    kvv_filter g = {.pattern = longlist};
    err[0] = 0;
    CU_ASSERT_EQUAL(kvv_filter_check(&g, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "longer than"));
    err[0] = 0;
    CU_ASSERT_EQUAL(kvv_case_apply_set(&c, longlist, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "longer than"));
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"case names", test_case_names},
                                     {"filters, overrides and numeric options", test_filters_and_options},
                                     {"case files", test_case_files},
                                     {"the API refuses the same inputs", test_api},
                                     {NULL, NULL}};
    kvv_add_suite("bad user input: clear errors before any work", tests);
}
