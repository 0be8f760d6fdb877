/* fuzz/: the input distributions, random cases, the shrinker, and the fuzz
 * loop finding, shrinking and storing a planted defect. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen/gen.h"
#include "fuzz/shrink.h"
#include "kernels/cpu/cpu_backend.h"
#include "oracle/cases.h"
#include "fuzz/fuzz_loop.h"
#include "oracle/run.h"
#include "tests/harness.h"

/* ---- distributions ---- */

/* The fast f32 normals (gen/gen_normal.c) are the bits of
 * (float)kvv_rng_normal, draw for draw: over millions of draws, at lengths
 * that end inside a vector, and at the uniforms where its polynomials are
 * weakest (cos near its zeros, log near 1 and at the smallest u1). */
/* Batched f32 draws against the one-at-a-time ones they must equal: for
 * each seed (base + 0 ..), each length in lens (the first is the largest),
 * the same floats and as many draws taken from the stream. */
static void same_draws(double (*one)(kvv_rng *), void (*batch)(kvv_rng *, float *, int64_t), uint64_t base,
                       int seeds, uint64_t stream, const int64_t *lens, size_t nlens)
{
    float *a = malloc(sizeof(float) * (size_t)lens[0]), *b = malloc(sizeof(float) * (size_t)lens[0]);
    CU_ASSERT_FATAL(a && b);
    long differ = 0;
    for (int seed = 0; seed < seeds; seed++)
        for (size_t l = 0; l < nlens; l++) {
            kvv_rng r1, r2;
            kvv_rng_seed(&r1, base + (uint64_t)seed, stream);
            kvv_rng_seed(&r2, base + (uint64_t)seed, stream);
            for (int64_t i = 0; i < lens[l]; i++)
                a[i] = (float)one(&r1);
            batch(&r2, b, lens[l]);
            for (int64_t i = 0; i < lens[l]; i++)
                differ += memcmp(a + i, b + i, sizeof *a) != 0;
            CU_ASSERT(kvv_rng_next(&r1) == kvv_rng_next(&r2)); /* as many draws taken */
        }
    CU_ASSERT_EQUAL(differ, 0);
    free(a);
    free(b);
}

static void test_fast_normals_exact(void)
{
    const int64_t lens[] = {1 << 21, 1, 15, 17, 255, 257, 1000};
    same_draws(kvv_rng_normal, kvv_rng_normal_f32_n, 1000, 4, KVV_STREAM_K, lens, sizeof lens / sizeof *lens);

    double u1[64], u2[64];
    float got[64];
    const double ones[] = {0x1p-53, 0x1p-52, 0.5, 0.70710678118654746, 0.70710678118654757, 0.75, 1 - 0x1p-53, 0.0};
    const double turns[] = {0.0, 0.25 - 0x1p-53, 0.25, 0.25 + 0x1p-53, 0.5, 0.75 - 0x1p-53, 0.75, 1 - 0x1p-53};
    int k = 0;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++, k++) {
            u1[k] = ones[i];
            u2[k] = turns[j];
        }
    kvv_normal_f32_from(u1, u2, got, 64);
    for (k = 0; k < 64; k++) {
        double v1 = u1[k] < 1e-300 ? 1e-300 : u1[k];
        float want = (float)(sqrt(-2.0 * log(v1)) * cos(6.283185307179586 * u2[k]));
        CU_ASSERT(memcmp(&want, &got[k], sizeof want) == 0);
    }
}

/* The batched Student-t(3) values (the HEAVY distribution) are the floats
 * of the one-at-a-time definition, draw for draw, over millions of values
 * and at lengths that end inside a batch. */
static double student3_one(kvv_rng *r)
{
    double z = kvv_rng_normal(r), c = 0;
    for (int i = 0; i < 3; i++) {
        double g = kvv_rng_normal(r);
        c += g * g;
    }
    return z / sqrt(c / 3.0 + 1e-12);
}

static void test_fast_student3_exact(void)
{
    const int64_t lens[] = {1 << 20, 1, 63, 65, 1000};
    same_draws(student3_one, kvv_rng_student3_f32_n, 2000, 3, KVV_STREAM_V, lens, sizeof lens / sizeof *lens);
}

static void test_fill_deterministic(void)
{
    float a[4 * 128], b[4 * 128];
    for (int d = 0; d < KVV_DIST_COUNT; d++) {
        kvv_gen_fill(a, 4, 128, 4, (kvv_dist)d, 77, KVV_STREAM_K);
        kvv_gen_fill(b, 4, 128, 4, (kvv_dist)d, 77, KVV_STREAM_K);
        CU_ASSERT(memcmp(a, b, sizeof a) == 0);
        kvv_gen_fill(b, 4, 128, 4, (kvv_dist)d, 78, KVV_STREAM_K);
        if (d != KVV_DIST_ZERO)
            CU_ASSERT(memcmp(a, b, sizeof a) != 0);
    }
}

/* Outliers: the Gaussian of the same seed, with width/32 distinct channels
 * scaled by 10..100 in every row. */
static void test_outlier_channels(void)
{
    enum { R = 16, W = 256 };
    static float g[R * W], o[R * W];
    for (uint64_t seed = 1; seed < 40; seed++) {
        kvv_gen_fill(g, R, W, R, KVV_DIST_GAUSS, seed, KVV_STREAM_K);
        kvv_gen_fill(o, R, W, R, KVV_DIST_OUTLIER, seed, KVV_STREAM_K);
        int scaled = 0, bad = 0;
        for (int c = 0; c < W; c++) {
            double f = (double)o[c] / g[c];
            int is_out = fabs(f - 1.0) > 1e-6;
            scaled += is_out;
            for (int r = 0; r < R; r++) {
                double fr = (double)o[r * W + c] / g[r * W + c];
                if (is_out ? !(fr >= 10.0 * (1 - 1e-6) && fr < 100.0 * (1 + 1e-6)) : o[r * W + c] != g[r * W + c])
                    bad++;
            }
        }
        CU_ASSERT_EQUAL(scaled, W / 32);
        CU_ASSERT_EQUAL(bad, 0);
    }
}

static void test_hostile_values(void)
{
    enum { R = 64, W = 128, N = R * W };
    static float x[N];
    int f32_sub = 0, f16_sub = 0, big = 0, edge = 0, nan = 0, pinf = 0, ninf = 0;
    kvv_gen_fill(x, R, W, R, KVV_DIST_DENORM, 5, KVV_STREAM_X);
    for (int i = 0; i < N; i++) {
        CU_ASSERT(fabsf(x[i]) < 1e-3f);
        f32_sub += x[i] != 0 && fabsf(x[i]) < FLT_MIN;
        f16_sub += fabsf(x[i]) > 5.96e-8f && fabsf(x[i]) < 6.1e-5f;
    }
    CU_ASSERT(f32_sub > N / 10 && f16_sub > N / 10);
    kvv_gen_fill(x, R, W, R, KVV_DIST_HUGE, 5, KVV_STREAM_X);
    for (int b = 0; b < N; b += 32) {
        int has_edge = 0;
        for (int i = b; i < b + 32; i++) {
            big += fabsf(x[i]) > 65504.0f;
            has_edge |= fabsf(x[i]) >= 65504.0f && fabsf(x[i]) <= 65536.0f && x[i] == (float)(int)x[i];
            has_edge |= fabsf(x[i]) == 65519.996f;
        }
        edge += has_edge;
    }
    CU_ASSERT(big > N / 3);
    CU_ASSERT_EQUAL(edge, N / 32);
    kvv_gen_fill(x, R, W, R, KVV_DIST_NONFINITE, 5, KVV_STREAM_X);
    for (int i = 0; i < N; i++) {
        nan += isnan(x[i]);
        pinf += isinf(x[i]) && x[i] > 0;
        ninf += isinf(x[i]) && x[i] < 0;
    }
    CU_ASSERT(nan > 0 && pinf > 0 && ninf > 0 && nan + pinf + ninf < N / 20);
    kvv_gen_fill(x, R, W, R, KVV_DIST_CONST, 5, KVV_STREAM_X);
    for (int b = 0; b < N; b += 32)
        for (int i = b; i < b + 32; i++)
            CU_ASSERT_EQUAL(x[i], x[b]);
    kvv_gen_fill(x, R, W, R, KVV_DIST_ZERO, 5, KVV_STREAM_X);
    for (int i = 0; i < N; i++)
        CU_ASSERT_EQUAL(x[i], 0.0f);
}

/* ---- random cases ---- */

static void test_random_cases(void)
{
    kvv_rng r;
    kvv_rng_seed(&r, 2024, 0);
    int ops[KVV_OP_COUNT] = {0}, types_k[KVV_TYPE_COUNT] = {0}, types_v[KVV_TYPE_COUNT] = {0};
    int dists[KVV_DIST_COUNT] = {0}, masks[KVV_MASK_COUNT] = {0};
    int nkv1 = 0, odd = 0, mla = 0, gqa = 0, alibi = 0, softcap = 0, scale = 0, odd_dim = 0;
    int threads = 0, split = 0, cache = 0, lut = 0, rot = 0, var = 0, isa = 0, prefill = 0, bad = 0;
    for (int i = 0; i < 6000; i++) {
        kvv_case c, back;
        char name[512], name2[512], err[256];
        kvv_gen_case(&r, 0, &c);
        if (kvv_case_validate(&c, err, sizeof err)) {
            bad++;
            continue;
        }
        kvv_case_name(&c, name, sizeof name);
        if (kvv_case_parse(name, &back, err, sizeof err)) {
            bad++;
            continue;
        }
        kvv_case_name(&back, name2, sizeof name2);
        bad += strcmp(name, name2) != 0;
        ops[c.op]++;
        dists[c.dist]++;
        if (c.op == KVV_OP_ATTN) {
            types_k[c.type_k]++;
            types_v[c.type_v]++;
            masks[c.mask]++;
            mla += c.dk == 576 && c.dv == 512;
            gqa += c.n_head > c.n_head_kv;
            alibi += c.max_bias > 0;
            softcap += c.softcap > 0;
            scale += c.scale != 0;
            prefill += c.n_q > 1;
            split += c.tg.split > 1;
            cache += c.tg.cache;
            rot += c.tg.rot == KVV_ROT_GRAPH;
            var += c.tg.variant != KVV_VAR_AUTO;
        }
        nkv1 += c.n_kv == 1;
        odd += c.n_kv % 2 == 1 && c.n_kv > 1;
        odd_dim += c.dk % 2 == 1;
        threads += c.tg.threads > 1;
        lut += c.tg.lut == 4;
        isa += c.tg.isa != KVV_ISA_AUTO;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(ops[KVV_OP_QUANT] && ops[KVV_OP_DEQUANT] && ops[KVV_OP_WHT] && ops[KVV_OP_ATTN] && !ops[KVV_OP_PPL]);
    for (int t = 0; t < KVV_TYPE_COUNT; t++)
        CU_ASSERT(types_k[t] > 0 && types_v[t] > 0);
    for (int d = 0; d < KVV_DIST_COUNT; d++)
        CU_ASSERT(dists[d] > 0);
    for (int m = 0; m < KVV_MASK_COUNT; m++)
        CU_ASSERT(masks[m] > 0);
    CU_ASSERT(nkv1 > 0 && odd > 0 && mla > 0 && gqa > 0 && alibi > 0 && softcap > 0 && scale > 0 && odd_dim > 0);
    CU_ASSERT(threads > 0 && split > 0 && cache > 0 && lut > 0 && rot > 0 && var > 0 && isa > 0 && prefill > 0);

    /* an op mask draws only those ops */
    for (int i = 0; i < 200; i++) {
        kvv_case c;
        kvv_gen_case(&r, 1u << KVV_OP_WHT | 1u << KVV_OP_DEQUANT, &c);
        CU_ASSERT(c.op == KVV_OP_WHT || c.op == KVV_OP_DEQUANT);
    }
}

/* ---- the shrinker ---- */

typedef struct {
    int calls;
} pred_state;

/* a planted failure: at least 5 keys, 2 query heads, values that are not all zero */
static int planted(const kvv_case *c, void *arg)
{
    ((pred_state *)arg)->calls++;
    return c->op == KVV_OP_ATTN && c->n_kv >= 5 && c->n_head >= 2 && c->dist != KVV_DIST_ZERO;
}

static void test_shrink_minimal(void)
{
    kvv_case c = kvv_case_default(KVV_OP_ATTN);
    c.type_k = KVV_Q8_0;
    c.type_v = KVV_TURBO3;
    c.dk = 576;
    c.dv = 512;
    c.n_q = 17;
    c.n_kv = 1999;
    c.n_head = 32;
    c.n_head_kv = 4;
    c.mask = KVV_MASK_HOLES;
    c.max_bias = 8;
    c.softcap = 30;
    c.scale = 0.3f;
    c.tg.threads = 3;
    c.tg.split = 5;
    c.tg.cache = 1;
    c.tg.lut = 4;
    c.tg.rot = KVV_ROT_GRAPH;
    c.tg.variant = KVV_VAR_TILED;
    c.tg.isa = KVV_ISA_SCALAR;
    c.dist = KVV_DIST_NONFINITE;
    c.seed = 99;
    pred_state ps = {0};
    kvv_shrink_stats st;
    kvv_shrink(&c, planted, &ps, 1000, &st);
    char name[512];
    kvv_case_name(&c, name, sizeof name);
    /* fewest keys and heads, one query, narrowest head f16 takes, f16 on
     * both sides, the simplest values that still fail, no options */
    CU_ASSERT_STRING_EQUAL(name, "attn/d1/f16-f16/nq1/nkv5/h2/gqa2/dist=const/seed=99");
    CU_ASSERT_EQUAL(st.tried, ps.calls);
    CU_ASSERT(st.accepted > 0 && st.accepted < st.tried);
}

static void test_shrink_budget(void)
{
    kvv_case c = kvv_case_default(KVV_OP_ATTN);
    c.n_kv = 4096;
    c.n_head = 8;
    pred_state ps = {0};
    kvv_shrink_stats st;
    kvv_shrink(&c, planted, &ps, 3, &st);
    CU_ASSERT_EQUAL(ps.calls, 3);
    CU_ASSERT_EQUAL(st.tried, 3);
}

static int never(const kvv_case *c, void *arg)
{
    (void)c;
    ((pred_state *)arg)->calls++;
    return 0;
}

static void test_shrink_keeps_a_case_that_cannot_shrink(void)
{
    kvv_case c = kvv_case_default(KVV_OP_QUANT), orig;
    c.n_kv = 300;
    orig = c;
    pred_state ps = {0};
    kvv_shrink(&c, never, &ps, 500, NULL);
    CU_ASSERT(memcmp(&c, &orig, sizeof c) == 0);
    CU_ASSERT(ps.calls > 0 && ps.calls < 500); /* every candidate once, then it stops */
}

/* ---- the fuzz loop with a planted defect ---- */

/* The CPU backend, except that quantizing q4_0 with 3 or more rows flips
 * one bit of the first block's indices (tests/harness/defect.h). */
static kvv_backend *planted_backend(void)
{
    static const kvv_plant flip = {"flip_bit", "quant/q4_0/*/rows[3-9]|quant/q4_0/*/rows[1-9][0-9]*"};
    return kvv_defect_backend("planted", &flip, 1);
}

static void test_fuzz_finds_planted_defect(void)
{
    kvv_backend *planted_b = planted_backend();
    const char *dir = scratch_path("kvv-fuzz", "finds");
    kvv_fuzz_opts o = {.backend_name = "planted", .backend = planted_b, .seconds = 60, .seed = 3,
                       .ops = 1u << KVV_OP_QUANT, .out_dir = dir, .jobs = 2, .timeout = 30, .max_finds = 1,
                       .log = NULL};
    kvv_fuzz_stats st;
    CU_ASSERT_EQUAL_FATAL(kvv_fuzz(&o, &st), 0);
    CU_ASSERT_EQUAL(st.finds, 1);
    CU_ASSERT_EQUAL(st.written, 1);
    CU_ASSERT(st.fail >= 1 && st.cases > st.fail);
    FILE *f = fopen(st.last_file, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char l1[1024] = "", l2[1024] = "", l3[1024] = "";
    CU_ASSERT(fgets(l1, sizeof l1, f) && fgets(l2, sizeof l2, f) && fgets(l3, sizeof l3, f));
    fclose(f);
    CU_ASSERT(strstr(l1, "# kvverify fuzz: rule bytes failed on backend planted") == l1);
    CU_ASSERT(strstr(l2, "# found as quant/q4_0/") == l2);
    /* minimal: three rows, the narrowest head q4_0 takes, zero input */
    l3[strcspn(l3, "\n")] = 0;
    CU_ASSERT(strncmp(l3, "quant/q4_0/d32/rows3/dist=zero/seed=", 36) == 0);
    if (strncmp(l3, "quant/q4_0/d32/rows3/dist=zero/seed=", 36))
        fprintf(stderr, "\nshrunk to %s\n", l3);
    /* the file is a case file the run reads back */
    kvv_case_list l = {0};
    char why[300];
    CU_ASSERT_EQUAL(kvv_case_file_load(st.last_file, &l, why, sizeof why), 0);
    CU_ASSERT_EQUAL(l.n, 1);
    if (l.n == 1) {
        kvv_verdict v;
        kvv_run_case(&l.items[0], planted_b, &v);
        CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_BYTES);
        kvv_run_case(&l.items[0], kvv_cpu_backend(), &v);
        CU_ASSERT_EQUAL(v.status, KVV_PASS);
    }
    kvv_case_list_free(&l);
    remove(st.last_file);
    rmdir(dir);
    kvv_defect_free(planted_b);
}

static void test_shrink_given_case(void)
{
    kvv_backend *planted_b = planted_backend();
    const char *dir = scratch_path("kvv-fuzz", "shrunk");
    kvv_fuzz_opts o = {.backend_name = "planted", .backend = planted_b, .out_dir = dir, .jobs = 1, .timeout = 30};
    kvv_case c = kvv_case_named("quant/q4_0/d256/rows77/dist=heavy/seed=1");
    kvv_fuzz_stats st;
    CU_ASSERT_EQUAL(kvv_fuzz_shrink_case(&o, &c, &st), 1);
    CU_ASSERT_EQUAL(st.written, 1);
    FILE *f = fopen(st.last_file, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[1024] = "";
    while (fgets(line, sizeof line, f) && line[0] == '#')
        ;
    fclose(f);
    CU_ASSERT(strncmp(line, "quant/q4_0/d32/rows3/dist=zero/seed=1", 37) == 0);
    remove(st.last_file);
    rmdir(dir);
    c.type_k = KVV_Q8_0; /* the planted defect is in q4_0 only: nothing to shrink */
    CU_ASSERT_EQUAL(kvv_fuzz_shrink_case(&o, &c, &st), 0);
    CU_ASSERT_EQUAL(st.written, 0);
    kvv_defect_free(planted_b);
}

static void test_fuzz_clean_backend(void)
{
    kvv_fuzz_opts o = {.backend_name = "cpu", .seconds = 1.0, .seed = 8, .ops = 1u << KVV_OP_DEQUANT, .jobs = 2,
                       .timeout = 30};
    kvv_fuzz_stats st;
    CU_ASSERT_EQUAL(kvv_fuzz(&o, &st), 0);
    CU_ASSERT(st.cases > 0);
    CU_ASSERT_EQUAL(st.fail, 0);
    CU_ASSERT_EQUAL(st.pass + st.skip, st.cases);
    CU_ASSERT_EQUAL(st.written, 0);
}

void kvv_register_tests(void)
{
    static const kvv_test gen[] = {{"same seed, same bits", test_fill_deterministic},
                                   {"fast f32 normals: the bits of glibc's, draw for draw", test_fast_normals_exact},
                                   {"Student-t(3) in batches: the bits of one at a time", test_fast_student3_exact},
                                   {"outliers: width/32 distinct channels, 10-100x", test_outlier_channels},
                                   {"denormal, huge, NaN/Inf, constant, zero values", test_hostile_values},
                                   {"random cases: valid, named, covering the space", test_random_cases},
                                   {NULL, NULL}};
    static const kvv_test shrink[] = {{"shrinks a planted failure to its minimum", test_shrink_minimal},
                                      {"stops at its budget", test_shrink_budget},
                                      {"leaves a case that cannot shrink", test_shrink_keeps_a_case_that_cannot_shrink},
                                      {NULL, NULL}};
    static const kvv_test loop[] = {{"finds, shrinks and stores a planted defect", test_fuzz_finds_planted_defect},
                                    {"shrinks a given failing case", test_shrink_given_case},
                                    {"a clean backend gives no failure", test_fuzz_clean_backend},
                                    {NULL, NULL}};
    kvv_add_suite("fuzz: distributions and random cases", gen);
    kvv_add_suite("fuzz: shrinking", shrink);
    kvv_add_suite("fuzz: the loop", loop);
}
