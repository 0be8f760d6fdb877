/* The Vulkan backend against the reference: quantized bytes, dequantized
 * values, WHT accuracy, attention through the oracle's rules, bit-identity
 * of the speed-only toggles, device listing and error paths.
 *
 * Every test needs a Vulkan device; where none exists each test is skipped
 * with the reason (CI machines have lavapipe from mesa-vulkan-drivers). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/harness.h"

#include "gen/gen.h"
#include "kvv/tensor.h"
#include "oracle/rules.h"
#include "oracle/run.h"
#include "oracle/verdict.h"

/* ---- the device, or the reason to skip ---- */

/* The Vulkan backend's registry entry; every test skips, with the reason,
 * in a build without it (KVV_VULKAN=OFF, or libvulkan-dev/glslc missing) */
static const kvv_builtin *vkb(void)
{
    const kvv_builtin *e = kvv_builtin_find("vulkan");
    if (!e) {
        const char *missing = kvv_builtin_unbuilt("vulkan", NULL);
        kvv_skip("this build has no Vulkan backend (%s)", missing ? missing : "not in the registry");
    }
    return e;
}

static const kvv_backend *opened;
static void close_device(void)
{
    if (opened)
        opened->destroy(opened->ctx);
}

static const kvv_backend *vk(void)
{
    static int tried;
    static const kvv_backend *b;
    static char why[400];
    if (!tried) {
        tried = 1;
        const kvv_builtin *e = vkb();
        b = opened = e ? e->open(why, sizeof why) : NULL;
        if (!e) {
            snprintf(why, sizeof why, "this build has no Vulkan backend");
            return NULL; /* skipped with the reason already */
        }
        atexit(close_device); /* release the device before the leak check */
    }
    if (!b)
        kvv_skip("no Vulkan device: %s", why);
    return b;
}

static void *xalloc(size_t n)
{
    void *p = kvv_alloc(n ? n : 1);
    CU_ASSERT_FATAL(p != NULL);
    return p;
}

static const kvv_toggles base_tg = {.threads = 1, .split = 1, .cache = 0, .lut = 8};
static int kv_f16_mode; /* the device was opened with KVV_VK_KV_F16=1 */

/* Reopen the device with one environment variable set (a mode chosen at
 * device creation), or back without it (var NULL). */
static const kvv_backend *reopen(const kvv_backend *b, const char *var)
{
    char why[300];
    b->destroy(b->ctx);
    if (var)
        setenv(var, "1", 1);
    const kvv_backend *b2 = vkb()->open(why, sizeof why);
    if (var)
        unsetenv(var);
    CU_ASSERT_FATAL(b2 != NULL);
    return b2;
}

/* ---- quantize: the canonical bytes, every type ---- */

static const kvv_dist quant_dists[] = {KVV_DIST_GAUSS, KVV_DIST_OUTLIER, KVV_DIST_HEAVY, KVV_DIST_CONST,
                                       KVV_DIST_ZERO,  KVV_DIST_DENORM,  KVV_DIST_HUGE};

/* The Vulkan quantizers evaluate the spec's f32 operations in the spec's
 * order with exact IEEE arithmetic (softfloat.glsl), so they match the
 * reference byte for byte, ties included: identity is asserted, and the
 * oracle's tie-aware rule is asked only to explain a difference. */
static void check_quantize(const kvv_backend *b, kvv_type t, int dim, int rows, kvv_dist dist, uint64_t seed)
{
    char why[160];
    if (!kvv_type_fits(t, dim, why, sizeof why))
        return;
    size_t nb = kvv_row_bytes(t, dim) * (size_t)rows;
    float *x = xalloc(sizeof(float) * (size_t)rows * dim);
    uint8_t *got = xalloc(nb), *want = xalloc(nb);
    kvv_gen_fill(x, rows, dim, rows, dist, seed, KVV_STREAM_X);
    CU_ASSERT_EQUAL_FATAL(kvv_ref_type_get(t)->quantize(x, want, rows, dim, NULL), 0);
    int rc = b->quantize_rows(b->ctx, t, x, got, rows, dim, &base_tg);
    CU_ASSERT_EQUAL(rc, KVV_OK);
    if (rc == KVV_OK && memcmp(got, want, nb) != 0) {
        kvv_verdict v;
        kvv_verdict_init(&v);
        kvv_ref_ties ties;
        CU_ASSERT_FATAL(kvv_ref_ties_alloc(&ties, t, rows, dim) == 0);
        kvv_ref_type_get(t)->quantize(x, want, rows, dim, &ties);
        kvv_judge_bytes(t, x, rows, dim, want, &ties, got, "", &v);
        printf("\n    %s d%d %s: bytes differ from the reference (%s) ", kvv_type_name(t), dim, kvv_dist_name(dist),
               v.status == KVV_PASS ? "only within ties" : v.detail);
        kvv_ref_ties_free(&ties);
        CU_FAIL("quantized bytes differ from the canonical bytes");
    }
    kvv_free(x);
    kvv_free(got);
    kvv_free(want);
}

static void test_quantize_every_type(void)
{
    const kvv_backend *b = vk();
    if (!b)
        return;
    static const int dims[] = {64, 96, 128, 576};
    for (int t = 0; t < KVV_TYPE_COUNT; t++)
        for (int d = 0; d < 4; d++)
            check_quantize(b, (kvv_type)t, dims[d], 17, quant_dists[(t + d) % 3], 10 + (uint64_t)d);
}

static void test_quantize_hostile_inputs(void)
{
    const kvv_backend *b = vk();
    if (!b)
        return;
    /* constant and zero blocks, subnormals (which the device may flush:
     * the quantizers never rely on its arithmetic), values past f16 */
    for (int t = 0; t < KVV_TYPE_COUNT; t++)
        for (size_t i = 3; i < sizeof quant_dists / sizeof *quant_dists; i++)
            check_quantize(b, (kvv_type)t, 128, 8, quant_dists[i], 20 + i);
}

static void test_quantize_many_rows(void)
{
    const kvv_backend *b = vk();
    if (!b)
        return;
    /* rows whose bytes straddle words (q8_0: 102 bytes at d96) and enough of
     * them to need several workgroup batches */
    check_quantize(b, KVV_Q8_0, 96, 3001, KVV_DIST_OUTLIER, 31);
    check_quantize(b, KVV_Q5_1, 96, 1500, KVV_DIST_HEAVY, 32);
    check_quantize(b, KVV_TURBO3, 256, 700, KVV_DIST_ROPE, 33);
    check_quantize(b, KVV_F16, 80, 999, KVV_DIST_GAUSS, 34);
}

/* ---- dequantize: the reference's values bit for bit ---- */

static void test_dequantize_every_type(void)
{
    const kvv_backend *b = vk();
    if (!b)
        return;
    const int rows = 24, dim = 256;
    float *x = xalloc(sizeof(float) * rows * dim), *want = xalloc(sizeof(float) * rows * dim);
    float *got = xalloc(sizeof(float) * rows * dim);
    uint8_t *q = xalloc(kvv_row_bytes(KVV_F32, dim) * rows);
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        kvv_gen_fill(x, rows, dim, rows, t % 2 ? KVV_DIST_OUTLIER : KVV_DIST_HEAVY, 40 + (uint64_t)t, KVV_STREAM_X);
        CU_ASSERT_EQUAL_FATAL(kvv_ref_type_get((kvv_type)t)->quantize(x, q, rows, dim, NULL), 0);
        kvv_ref_type_get((kvv_type)t)->dequantize(q, want, rows, dim);
        for (int lut = 8; lut >= 4; lut -= 4) {
            kvv_toggles tg = base_tg;
            tg.lut = lut;
            memset(got, 0xff, sizeof(float) * rows * dim);
            CU_ASSERT_EQUAL(b->dequantize_rows(b->ctx, (kvv_type)t, q, got, rows, dim, &tg), KVV_OK);
            int bad = 0;
            for (int i = 0; i < rows * dim; i++) {
                uint32_t g, w;
                memcpy(&g, &got[i], 4);
                memcpy(&w, &want[i], 4);
                bad += g != w && !(isnan(got[i]) && isnan(want[i]));
            }
            if (bad)
                printf("\n    %s lut=%d: %d values differ ", kvv_type_name((kvv_type)t), lut, bad);
            CU_ASSERT_EQUAL(bad, 0);
        }
    }
    kvv_free(x);
    kvv_free(want);
    kvv_free(got);
    kvv_free(q);
}

/* ---- WHT: within the f32 bound of the exact rotation, every group ---- */

static void test_wht_accuracy(void)
{
    const kvv_backend *b = vk();
    if (!b)
        return;
    const int rows = 6, dim = 256;
    float *x = xalloc(sizeof(float) * rows * dim), *y = xalloc(sizeof(float) * rows * dim);
    double *e = malloc(sizeof(double) * rows * dim), *bound = malloc(sizeof(double) * rows * dim);
    CU_ASSERT_FATAL(e && bound);
    for (int g = 1; g <= 128; g *= 2)
        for (int inv = 0; inv < 2; inv++) {
            kvv_gen_fill(x, rows, dim, rows, KVV_DIST_OUTLIER, 50 + (uint64_t)g, KVV_STREAM_X);
            memcpy(y, x, sizeof(float) * rows * dim);
            CU_ASSERT_EQUAL_FATAL(b->wht(b->ctx, y, rows, dim, g, inv, &base_tg), KVV_OK);
            for (int i = 0; i < rows * dim; i++)
                e[i] = x[i];
            kvv_ref_wht(e, rows, dim, g, inv);
            kvv_wht_bound(x, rows, dim, g, bound);
            double worst = 0;
            for (int i = 0; i < rows * dim; i++) {
                double r = fabs(y[i] - e[i]) / (bound[i] > 0 ? bound[i] : 1e-300);
                worst = r > worst ? r : worst;
            }
            if (worst > 1.0)
                printf("\n    group %d %s: error %.3g x the bound ", g, inv ? "inverse" : "forward", worst);
            CU_ASSERT(worst <= 1.0);
        }
    /* a group size that is not a power of two is declined, not guessed */
    CU_ASSERT_EQUAL(b->wht(b->ctx, y, rows, dim, 96, 0, &base_tg), KVV_UNSUPPORTED);
    kvv_free(x);
    kvv_free(y);
    free(e);
    free(bound);
}

/* ---- attention through the oracle (bytes, arith, budget, finite) ---- */

static kvv_case attn(int dk, int dv, kvv_type k, kvv_type v, int nq, int nkv, int h, int hkv, kvv_dist d, uint64_t s)
{
    kvv_case c = kvv_case_default(KVV_OP_ATTN);
    c.dk = dk;
    c.dv = dv;
    c.type_k = k;
    c.type_v = v;
    c.n_q = nq;
    c.n_kv = nkv;
    c.n_head = h;
    c.n_head_kv = hkv;
    c.dist = d;
    c.seed = s;
    if (nq > 1)
        c.mask = KVV_MASK_CAUSAL;
    return c;
}

static void expect_pass(const kvv_backend *b, const kvv_case *c)
{
    kvv_verdict v;
    char name[512];
    kvv_case_name(c, name, sizeof name);
    kvv_run_case(c, b, &v);
    if (v.status != KVV_PASS)
        printf("\n    %s: %s %s ", name, kvv_status_name(v.status), v.detail);
    CU_ASSERT_EQUAL(v.status, KVV_PASS);
}

static void test_attention_pairs(void)
{
    const kvv_backend *b = vk();
    if (!b)
        return;
    kvv_case cs[] = {
        attn(128, 128, KVV_Q8_0, KVV_TURBO3, 1, 200, 8, 2, KVV_DIST_OUTLIER, 1), /* asymmetric: rotate out only */
        attn(256, 256, KVV_TURBO3, KVV_Q8_0, 1, 300, 8, 1, KVV_DIST_ROPE, 2),    /* two 128-groups, Q only */
        attn(128, 128, KVV_TURBO4, KVV_TURBO2, 1, 97, 4, 4, KVV_DIST_HEAVY, 3),
        attn(128, 64, KVV_TURBO4_QJL, KVV_IQ4_NL, 1, 260, 2, 1, KVV_DIST_GAUSS, 4), /* dk != dv */
        attn(576, 512, KVV_F16, KVV_F16, 1, 64, 4, 1, KVV_DIST_GAUSS, 5),          /* MLA widths */
        attn(96, 96, KVV_Q5_1, KVV_TURBO3, 1, 50, 6, 3, KVV_DIST_OUTLIER, 6),       /* group 32 */
        attn(128, 128, KVV_TURBO3, KVV_TURBO3, 16, 90, 4, 2, KVV_DIST_ROPE, 7),     /* prefill: tiled */
        attn(80, 80, KVV_BF16, KVV_F32, 5, 33, 2, 2, KVV_DIST_HEAVY, 8),
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++)
        expect_pass(b, &cs[i]);
}

static void test_attention_semantics(void)
{
    const kvv_backend *b = vk();
    if (!b)
        return;
    kvv_case c = attn(128, 128, KVV_Q4_1, KVV_TURBO3, 12, 64, 4, 2, KVV_DIST_GAUSS, 11);
    c.mask = KVV_MASK_HOLES; /* fully masked rows give zeros, not NaN */
    expect_pass(b, &c);
    c.tg.variant = KVV_VAR_VEC;
    expect_pass(b, &c);
    c = attn(128, 128, KVV_Q8_0, KVV_Q8_0, 4, 100, 12, 12, KVV_DIST_OUTLIER, 12);
    c.max_bias = 8.0f; /* ALiBi over 12 heads: both slope series */
    expect_pass(b, &c);
    c = attn(128, 128, KVV_TURBO2, KVV_F16, 1, 150, 8, 4, KVV_DIST_HEAVY, 13);
    c.softcap = 30.0f;
    c.scale = 0.5f;
    expect_pass(b, &c);
    c.tg.rot = KVV_ROT_GRAPH;
    expect_pass(b, &c);
}

/* ---- speed-only toggles: identical bits ---- */

static float *run_attention(const kvv_backend *b, const kvv_case *c, kvv_toggles tg, void *kb, void *vb,
                            const float *q, const float *mask)
{
    size_t n = (size_t)c->n_head * c->n_q * c->dv;
    float *out = xalloc(sizeof(float) * n);
    kvv_attn_args a = {.dk = c->dk, .dv = c->dv, .n_q = c->n_q, .n_kv = c->n_kv, .n_head = c->n_head,
                       .n_head_kv = c->n_head_kv, .type_k = c->type_k, .type_v = c->type_v, .q = q, .k = kb,
                       .v = vb, .mask = mask, .scale = kvv_case_scale(c), .max_bias = c->max_bias,
                       .softcap = c->softcap, .tg = tg};
    kvv_attn_info info;
    CU_ASSERT_EQUAL(b->attention(b->ctx, &a, out, &info), KVV_OK);
    CU_ASSERT_EQUAL(info.acc_round, 0x1p-24);
    CU_ASSERT_EQUAL(info.kv_round, kv_f16_mode ? 0x1p-11 : 0.0);
    return out;
}

/* One attention case's inputs: Q, K, V and the mask from the case's seed,
 * and K/V quantized by the backend into its cache types. */
typedef struct attn_inputs {
    float *q, *k, *v, *mask;
    void *kb, *vb;
} attn_inputs;

static void attn_inputs_make(const kvv_backend *b, const kvv_case *c, attn_inputs *in)
{
    const int64_t nqr = (int64_t)c->n_head * c->n_q, nkr = (int64_t)c->n_head_kv * c->n_kv;
    in->q = xalloc(sizeof(float) * nqr * c->dk);
    in->k = xalloc(sizeof(float) * nkr * c->dk);
    in->v = xalloc(sizeof(float) * nkr * c->dv);
    in->mask = xalloc(sizeof(float) * c->n_q * c->n_kv);
    in->kb = xalloc(kvv_row_bytes(c->type_k, c->dk) * nkr);
    in->vb = xalloc(kvv_row_bytes(c->type_v, c->dv) * nkr);
    kvv_gen_fill(in->q, nqr, c->dk, c->n_q, c->dist, c->seed, KVV_STREAM_Q);
    kvv_gen_fill(in->k, nkr, c->dk, c->n_kv, c->dist, c->seed, KVV_STREAM_K);
    kvv_gen_fill(in->v, nkr, c->dv, c->n_kv, c->dist, c->seed, KVV_STREAM_V);
    kvv_gen_mask(in->mask, c);
    CU_ASSERT_EQUAL_FATAL(b->quantize_rows(b->ctx, c->type_k, in->k, in->kb, nkr, c->dk, &base_tg), KVV_OK);
    CU_ASSERT_EQUAL_FATAL(b->quantize_rows(b->ctx, c->type_v, in->v, in->vb, nkr, c->dv, &base_tg), KVV_OK);
}

static void attn_inputs_free(attn_inputs *in)
{
    kvv_free(in->q);
    kvv_free(in->k);
    kvv_free(in->v);
    kvv_free(in->mask);
    kvv_free(in->kb);
    kvv_free(in->vb);
}

static void check_toggles(const kvv_backend *b, kvv_case c)
{
    const int64_t nqr = (int64_t)c.n_head * c.n_q;
    attn_inputs in;
    attn_inputs_make(b, &c, &in);
    const size_t n = (size_t)nqr * c.dv;
    for (int var = KVV_VAR_VEC; var <= KVV_VAR_TILED; var++) {
        kvv_toggles t0 = base_tg;
        t0.variant = (kvv_variant)var;
        float *ref = run_attention(b, &c, t0, in.kb, in.vb, in.q, in.mask);
        static const struct {
            int split, cache, lut, threads;
        } alt[] = {{3, 0, 8, 1}, {7, 1, 8, 4}, {1, 1, 4, 1}, {1000, 0, 4, 2}, {2, 1, 8, 1}};
        for (size_t i = 0; i < sizeof alt / sizeof *alt; i++) {
            kvv_toggles t = t0;
            t.split = alt[i].split;
            t.cache = alt[i].cache;
            t.lut = alt[i].lut;
            t.threads = alt[i].threads;
            float *got = run_attention(b, &c, t, in.kb, in.vb, in.q, in.mask);
            int same = memcmp(got, ref, sizeof(float) * n) == 0;
            if (!same)
                printf("\n    %s-%s var %d split=%d cache=%d lut=%d: output bits differ from the baseline ",
                       kvv_type_name(c.type_k), kvv_type_name(c.type_v), var, t.split, t.cache, t.lut);
            CU_ASSERT(same);
            kvv_free(got);
        }
        kvv_free(ref);
    }
    attn_inputs_free(&in);
}

static void test_toggles_bit_identical(void)
{
    const kvv_backend *b = vk();
    if (!b)
        return;
    kvv_case c = attn(128, 128, KVV_Q8_0, KVV_TURBO3, 3, 150, 4, 2, KVV_DIST_OUTLIER, 21);
    c.mask = KVV_MASK_RANDOM;
    check_toggles(b, c);
    check_toggles(b, attn(256, 256, KVV_TURBO3_QK128, KVV_TURBO4_QJL, 1, 70, 2, 1, KVV_DIST_HEAVY, 22));
    c = attn(64, 64, KVV_IQ4_NL_SEARCH, KVV_BF16, 9, 40, 2, 2, KVV_DIST_ROPE, 23);
    c.softcap = 20.0f;
    c.max_bias = 4.0f;
    check_toggles(b, c);

    /* quantize and dequantize ignore threads and honour nothing else speed-only */
    float x[4 * 128];
    uint8_t q1[4 * 68], q2[4 * 68];
    kvv_gen_fill(x, 4, 128, 4, KVV_DIST_GAUSS, 24, KVV_STREAM_X);
    kvv_toggles t = base_tg;
    t.threads = 8;
    t.split = 5;
    t.cache = 1;
    t.lut = 4;
    CU_ASSERT_EQUAL(b->quantize_rows(b->ctx, KVV_TURBO4, x, q1, 4, 128, &base_tg), KVV_OK);
    CU_ASSERT_EQUAL(b->quantize_rows(b->ctx, KVV_TURBO4, x, q2, 4, 128, &t), KVV_OK);
    CU_ASSERT(memcmp(q1, q2, sizeof q1) == 0);
}

/* decode on a discrete GPU spreads the keys of a split=1 call over parts
 * (vk_attn.c); KVV_VK_AUTO_SPLIT=1 takes that path here: the same bits as
 * the single-part merge, and as an explicit split.  Gaussian inputs: with
 * outlier channels the weights are near one-hot and a lost tile of keys
 * can vanish in f32, which would let a broken reduction pass. */
static void test_auto_split_identical(void)
{
    const kvv_backend *b = vk();
    if (!b)
        return;
    kvv_case c = attn(128, 128, KVV_Q4_0, KVV_TURBO3, 1, 700, 4, 2, KVV_DIST_GAUSS, 31);
    const int64_t nqr = (int64_t)c.n_head * c.n_q;
    attn_inputs in;
    attn_inputs_make(b, &c, &in);
    kvv_toggles t = base_tg;
    t.variant = KVV_VAR_VEC;
    setenv("KVV_VK_AUTO_SPLIT", "0", 1);
    float *one = run_attention(b, &c, t, in.kb, in.vb, in.q, NULL);
    setenv("KVV_VK_AUTO_SPLIT", "1", 1);
    float *spread = run_attention(b, &c, t, in.kb, in.vb, in.q, NULL);
    t.split = 3;
    float *three = run_attention(b, &c, t, in.kb, in.vb, in.q, NULL);
    unsetenv("KVV_VK_AUTO_SPLIT");
    const size_t n = sizeof(float) * (size_t)nqr * c.dv;
    CU_ASSERT(memcmp(one, spread, n) == 0);
    CU_ASSERT(memcmp(one, three, n) == 0);
    kvv_free(one);
    kvv_free(spread);
    kvv_free(three);
    attn_inputs_free(&in);
}

/* the shared-memory reductions (devices without subgroup shuffles) compute
 * the same tree as the subgroup ones: the same bits */
static void test_subgroup_fallback_identical(void)
{
    const kvv_backend *b = vk();
    if (!b)
        return;
    kvv_case c = attn(128, 128, KVV_TURBO3, KVV_Q4_0, 6, 77, 4, 2, KVV_DIST_OUTLIER, 31);
    const int64_t nqr = (int64_t)c.n_head * c.n_q;
    attn_inputs in;
    attn_inputs_make(b, &c, &in);
    float *with[2], *without[2];
    for (int var = 0; var < 2; var++) {
        kvv_toggles t = base_tg;
        t.variant = var ? KVV_VAR_TILED : KVV_VAR_VEC;
        with[var] = run_attention(b, &c, t, in.kb, in.vb, in.q, in.mask);
    }
    /* reopen the device with the fallback forced */
    const kvv_backend *b2 = reopen(b, "KVV_VK_NO_SUBGROUP");
    for (int var = 0; var < 2; var++) {
        kvv_toggles t = base_tg;
        t.variant = var ? KVV_VAR_TILED : KVV_VAR_VEC;
        without[var] = run_attention(b2, &c, t, in.kb, in.vb, in.q, in.mask);
        CU_ASSERT(memcmp(with[var], without[var], sizeof(float) * nqr * c.dv) == 0);
        kvv_free(with[var]);
        kvv_free(without[var]);
    }
    CU_ASSERT_FATAL(reopen(b2, NULL) == b); /* back to the usual context for later tests */
    attn_inputs_free(&in);
}

/* ggml's Vulkan flash attention keeps K/V as f16: in that mode both cache
 * settings round the same way (identical bits), kv_round says 2^-11, and
 * the oracle's arith rule holds with that allowance */
static void test_f16_kv_mode(void)
{
    const kvv_backend *b = vk();
    if (!b)
        return;
    b = reopen(b, "KVV_VK_KV_F16");
    kv_f16_mode = 1;
    check_toggles(b, attn(128, 128, KVV_Q8_0, KVV_TURBO3, 2, 100, 4, 2, KVV_DIST_OUTLIER, 41));
    kvv_case c = attn(256, 256, KVV_TURBO4, KVV_Q4_0, 5, 120, 4, 1, KVV_DIST_ROPE, 42);
    expect_pass(b, &c);
    kv_f16_mode = 0;
    CU_ASSERT_FATAL(reopen(b, NULL) == b);
}

/* ---- devices and errors ---- */

static void test_list_devices(void)
{
    const kvv_backend *b = vk();
    if (!b)
        return;
    char *text = NULL, why[300];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CU_ASSERT_FATAL(f != NULL);
    int n = vkb()->list_devices(f, why, sizeof why);
    fclose(f);
    CU_ASSERT(n >= 1);
    CU_ASSERT(text && strstr(text, "0: ") == text);
    CU_ASSERT(text && strstr(text, "subgroup"));
    /* the open device is one of those listed: "N: NAME  [kind, ...]" */
    for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char *colon = strstr(line, ": "), *end = strstr(line, "  [");
        if (line[0] >= '0' && line[0] <= '9' && colon && end && end > colon && strstr(end, "<-")) {
            *end = 0;
            CU_ASSERT(strstr(b->description, colon + 2) != NULL);
            *end = ' ';
        }
    }
    free(text);
}

static void test_bad_device_index(void)
{
    const kvv_backend *b = vk();
    if (!b)
        return;
    char why[400] = "", desc[400] = "";
    /* a different device cannot be chosen while one is open ... */
    CU_ASSERT_EQUAL(vkb()->select_device(77, why, sizeof why), -1);
    CU_ASSERT(strstr(why, "already open") != NULL);
    /* ... once closed, an index past the last device is refused by name */
    b->destroy(b->ctx);
    CU_ASSERT_EQUAL_FATAL(vkb()->select_device(77, why, sizeof why), 0);
    CU_ASSERT_EQUAL(vkb()->probe(desc, sizeof desc), 0);
    CU_ASSERT(strstr(desc, "device 77 does not exist") != NULL);
    CU_ASSERT(vkb()->open(why, sizeof why) == NULL);
    CU_ASSERT(strstr(why, "device 77 does not exist") != NULL);
    CU_ASSERT_EQUAL(vkb()->select_device(-1, why, sizeof why), 0);
    CU_ASSERT(vkb()->open(why, sizeof why) == b);
    /* and the backend declines what it cannot do, with a reason */
    float x[128] = {0};
    uint8_t q[512];
    CU_ASSERT_EQUAL(b->quantize_rows(b->ctx, KVV_Q8_0, x, q, 1, 100, &base_tg), KVV_UNSUPPORTED);
    CU_ASSERT(strstr(b->last_error(b->ctx), "q8_0") != NULL);
    kvv_toggles t = base_tg;
    t.isa = KVV_ISA_AVX2;
    CU_ASSERT_EQUAL(b->quantize_rows(b->ctx, KVV_Q8_0, x, q, 1, 128, &t), KVV_UNSUPPORTED);
    CU_ASSERT(strstr(b->last_error(b->ctx), "avx2") != NULL);
}

/* the per-family checks of every backend (tests/test_families.c), here
 * where the pipelines of the checks above are built already */
static void test_families(void)
{
    const kvv_backend *b = vk();
    if (!b)
        return;
    kvv_check_families("vulkan", b, 1);
}

/* a machine without the loader: the CLI says so and carries on with cpu */
static void test_missing_loader(void)
{
    if (!vkb())
        return;
    char out[8192], cmd[1200];
    snprintf(cmd, sizeof cmd,
             "KVV_VULKAN_LOADER=/nonexistent/libvulkan.so.1 '%s' list devices 2>&1; "
             "KVV_VULKAN_LOADER=/nonexistent/libvulkan.so.1 '%s' run --gate -p "
             "quant/q8_0/d128/rows4/dist=gauss/seed=1 -j 1 2>&1",
             cli_exe(), cli_exe());
    CU_ASSERT(kvv_sh(cmd, out, sizeof out) >= 0); /* the shell ran to its end */
    CU_ASSERT(strstr(out, "no Vulkan loader: cannot open /nonexistent/libvulkan.so.1") != NULL);
    CU_ASSERT(strstr(out, "running cpu only") != NULL);
}

void kvv_register_tests(void)
{
    static const kvv_test devices[] = {{"list devices", test_list_devices},
                                       {"bad device index and declined work", test_bad_device_index},
                                       {"missing loader", test_missing_loader},
                                       {NULL, NULL}};
    static const kvv_test rows[] = {{"quantize: every type, canonical bytes", test_quantize_every_type},
                                    {"quantize: hostile inputs", test_quantize_hostile_inputs},
                                    {"quantize: many rows, straddled words", test_quantize_many_rows},
                                    {"dequantize: every type, both LUTs", test_dequantize_every_type},
                                    {"WHT: every group, both directions", test_wht_accuracy},
                                    {NULL, NULL}};
    static const kvv_test attention[] = {{"pairs and shapes", test_attention_pairs},
                                         {"masks, ALiBi, softcap, rotation site", test_attention_semantics},
                                         {"every type of each family (tests/test_families.c)", test_families},
                                         {"speed-only toggles bit-identical", test_toggles_bit_identical},
                                         {"subgroup fallback bit-identical", test_subgroup_fallback_identical},
                                         {"automatic decode split bit-identical", test_auto_split_identical},
                                         {"f16 K/V mode", test_f16_kv_mode},
                                         {NULL, NULL}};
    kvv_add_suite("vulkan devices", devices);
    kvv_add_suite("vulkan rows", rows);
    kvv_add_suite("vulkan attention", attention);
}

