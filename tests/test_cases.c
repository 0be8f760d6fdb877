/* Case names are stable and paste back; bad input is refused before any
 * work with a message naming the problem; filters select what they say. */
#include <string.h>

#include "oracle/cases.h"
#include "tests/harness.h"

static void test_gate_names_round_trip(void)
{
    kvv_case_list l = {0};
    CU_ASSERT_FATAL(kvv_gate_cases(&l) == 0);
    CU_ASSERT(l.n > 500);
    for (int i = 0; i < l.n; i++) {
        char a[512], b[512], err[200];
        kvv_case c;
        kvv_case_name(&l.items[i], a, sizeof a);
        int rc = kvv_case_parse(a, &c, err, sizeof err);
        CU_ASSERT(rc == 0);
        if (rc) {
            printf("\n%s: %s\n", a, err);
            continue;
        }
        kvv_case_name(&c, b, sizeof b);
        CU_ASSERT_STRING_EQUAL(a, b);
    }
    kvv_case_list_free(&l);
}

static void test_gate_coverage(void)
{
    kvv_case_list l = {0};
    CU_ASSERT_FATAL(kvv_gate_cases(&l) == 0);
    /* every pair of cache types at head dims 128 and 256 */
    static char seen[2][KVV_TYPE_COUNT][KVV_TYPE_COUNT];
    memset(seen, 0, sizeof seen);
    int dims[] = {64, 80, 96, 112, 128, 192, 256, 576}, dim_seen[8] = {0};
    int gqa_seen[9] = {0}, prefill = 0, decode = 0, holes = 0, alibi = 0, softcap = 0, split = 0, cache = 0,
        lut = 0, threads = 0, rot = 0, scalar = 0, outlier = 0, heavy = 0, mla = 0;
    for (int i = 0; i < l.n; i++) {
        const kvv_case *c = &l.items[i];
        if (c->op != KVV_OP_ATTN)
            continue;
        if (c->dk == 128 || c->dk == 256)
            seen[c->dk == 256][c->type_k][c->type_v] = 1;
        for (int d = 0; d < 8; d++)
            dim_seen[d] |= c->dk == dims[d];
        gqa_seen[c->n_head / c->n_head_kv] = 1;
        prefill |= c->n_q > 1;
        decode |= c->n_q == 1;
        holes |= c->mask == KVV_MASK_HOLES;
        alibi |= c->max_bias > 0;
        softcap |= c->softcap > 0;
        split |= c->tg.split > 1;
        cache |= c->tg.cache;
        lut |= c->tg.lut == 4;
        threads |= c->tg.threads > 1;
        rot |= c->tg.rot == KVV_ROT_GRAPH;
        scalar |= c->tg.isa == KVV_ISA_SCALAR;
        outlier |= c->dist == KVV_DIST_OUTLIER;
        heavy |= c->dist == KVV_DIST_HEAVY;
        mla |= c->dk == 576 && c->dv == 512;
    }
    int pairs = 0;
    for (int d = 0; d < 2; d++)
        for (int i = 0; i < KVV_CACHE_TYPE_COUNT; i++)
            for (int j = 0; j < KVV_CACHE_TYPE_COUNT; j++)
                pairs += seen[d][kvv_cache_types[i]][kvv_cache_types[j]];
    CU_ASSERT_EQUAL(pairs, 2 * KVV_CACHE_TYPE_COUNT * KVV_CACHE_TYPE_COUNT);
    for (int d = 0; d < 8; d++)
        CU_ASSERT(dim_seen[d]);
    CU_ASSERT(gqa_seen[1] && gqa_seen[4] && gqa_seen[8]);
    CU_ASSERT(prefill && decode && holes && alibi && softcap && split && cache && lut && threads && rot && scalar);
    CU_ASSERT(outlier && heavy && mla);
    kvv_case_list_free(&l);
}

static void expect_error(const char *name, const char *needle)
{
    kvv_case c;
    char err[200] = "";
    CU_ASSERT(kvv_case_parse(name, &c, err, sizeof err) != 0);
    if (!strstr(err, needle))
        printf("\n'%s' -> '%s' (wanted '%s')\n", name, err, needle);
    CU_ASSERT(strstr(err, needle) != NULL);
}

static void test_bad_names(void)
{
    expect_error("attn/d128/q9_0-f16/nq1/nkv16/h1/gqa1", "unknown type");
    expect_error("attn/d80/q8_0-q8_0/nq1/nkv16/h1/gqa1", "not a multiple");
    expect_error("attn/d64/turbo4-f16/nq1/nkv16/h1/gqa1", "not a multiple");
    expect_error("attn/d128/f16-f16/nq-1/nkv16/h1/gqa1", "positive");
    expect_error("attn/d128/f16-f16/nq1/nkv16/h6/gqa4", "does not divide");
    expect_error("attn/d128/f16-f16/nq1/nkv60000000/h4096/gqa1", "GiB");
    expect_error("quant/q8_0/d128/rows8/dist=lognormal", "unknown distribution");
    expect_error("quant/q8_0/d128/rows8/split=0", "split");
    expect_error("wht/d128/g48/rows8", "power of two");
    expect_error("frob/d128", "unknown op");
    expect_error("attn/d128/f16-f16/nq8/nkv4/h1/gqa1/mask=causal", "causal");
    /* a field given twice: the name would say one thing and run another */
    expect_error("attn/d128/f16-f16/nq1/nq7/nkv16/h1/gqa1", "field 'nq' given twice ('nq1' and 'nq7')");
    expect_error("attn/d128/f16/q8_0-q8_0/nq1/nkv16", "field 'type' given twice");
    expect_error("quant/q8_0/d128/rows8/nkv4", "field 'nkv' given twice");
    expect_error("attn/d128/f16-f16/nkv16/h2/h4", "field 'h' given twice");
    expect_error("attn/d128/dv64/dv128/f16-f16", "field 'dv' given twice");
    expect_error("wht/d128/g32/g64/rows8", "field 'g' given twice");
    expect_error("quant/q8_0/d128/rows8/seed=1/seed=2", "field 'seed' given twice");
    expect_error("attn/d128/f16-f16/nq1/mask=causal/mask=none", "field 'mask' given twice");
    expect_error("quant/q8_0/d128/d128/rows8", "field 'd' given twice");
}

static void test_filters(void)
{
    kvv_case c;
    char err[200];
    CU_ASSERT_FATAL(kvv_case_parse("attn/d256/q8_0-turbo3/nq1/nkv256/h8/gqa4/cache=on/dist=outlier/seed=7", &c, err,
                                   sizeof err) == 0);
    kvv_filter f = {0};
    CU_ASSERT(kvv_filter_match(&f, &c, err, sizeof err) == 1);
    f.ops = "quant,attn";
    f.kv = "*/turbo3";
    f.head_dims = "128,256";
    f.toggles = "cache=on";
    f.pattern = "outlier";
    CU_ASSERT(kvv_filter_match(&f, &c, err, sizeof err) == 1);
    f.toggles = "cache=off";
    CU_ASSERT(kvv_filter_match(&f, &c, err, sizeof err) == 0);
    f.toggles = NULL;
    f.kv = "turbo3/*";
    CU_ASSERT(kvv_filter_match(&f, &c, err, sizeof err) == 0);
    f.kv = NULL;
    f.pattern = "attn/d256/*gqa4*";
    CU_ASSERT(kvv_filter_match(&f, &c, err, sizeof err) == 1);
    f.pattern = NULL;
    f.head_dims = "576/512";
    CU_ASSERT(kvv_filter_match(&f, &c, err, sizeof err) == 0);
    kvv_filter bad = {.kv = "q8_0"};
    CU_ASSERT(kvv_filter_check(&bad, err, sizeof err) != 0);
    kvv_filter bad2 = {.ops = "attention"};
    CU_ASSERT(kvv_filter_check(&bad2, err, sizeof err) != 0);
    CU_ASSERT(kvv_case_apply_set(&c, "threads=2,dist=heavy", err, sizeof err) == 0);
    CU_ASSERT(c.tg.threads == 2 && c.dist == KVV_DIST_HEAVY);
    CU_ASSERT(kvv_case_apply_set(&c, "threads=two", err, sizeof err) != 0);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"gate names round trip", test_gate_names_round_trip},
                                     {"gate coverage", test_gate_coverage},
                                     {"bad names refused", test_bad_names},
                                     {"filters", test_filters},
                                     {NULL, NULL}};
    kvv_add_suite("cases", tests);
}
