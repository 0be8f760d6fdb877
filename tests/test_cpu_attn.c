/* Tests of the CPU flash attention (kernels/cpu/attn*.c).
 *
 * Accuracy: every kernel variant, ISA and rotation site against a plain f64
 * two-pass attention written here, over the same dequantized K/V (so the test
 * judges the attention arithmetic, masks, GQA mapping and rotation handling,
 * not the quantizers).  The rotation of Q (when K is rotated) and of the
 * output (when V is rotated) is the reference's exact f64 WHT (kvv_ref_wht),
 * independent of cpu_wht_rows.
 *
 * Determinism: threads, split-K and the dequant cache must leave every
 * output bit unchanged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"
#include "kernels/cpu/attn_kern.h"
#include "kernels/cpu/cpu_internal.h"
#include "kvv/backend.h"
#include "kvv/tensor.h"
#include "ref/ref.h"
#include "tests/harness.h"

/* Error allowed relative to the largest |output| of the case. */
#define TOL 1e-5

typedef struct acase {
    int dk, dv, n_q, n_kv, n_head, n_head_kv;
    kvv_type tk, tv;
    kvv_mask mask;    /* generated with kvv_gen_mask; NONE with max_bias 0 = no mask */
    float max_bias, softcap;
    uint64_t seed;
} acase;

typedef struct fixture {
    acase c;
    float scale;
    float *q, *mask;
    void *k, *v;
    double *ref; /* [n_head][n_q][dv] */
    int *dead;   /* [n_q] query row sees no key */
} fixture;

/* ---- f64 reference ---- */

/* ggml's slopes are part of the semantics, so they are evaluated in f32 as
 * ggml does; everything after is f64. */
static double slope_of(int h, int n_head, float max_bias)
{
    if (max_bias <= 0.0f)
        return 1.0;
    uint32_t n2 = 1u << (uint32_t)floor(log2((double)n_head));
    float m0 = powf(2.0f, -max_bias / (float)n2), m1 = powf(2.0f, -(max_bias / 2.0f) / (float)n2);
    return (uint32_t)h < n2 ? powf(m0, (float)(h + 1)) : powf(m1, (float)(2 * (h - (int)n2) + 1));
}

static double *dequant64(kvv_type t, const void *src, int rows, int d)
{
    const cpu_type_fns *f = cpu_type_fns_get(t, KVV_ISA_SCALAR);
    float *row = malloc(sizeof(float) * (size_t)d);
    double *out = malloc(sizeof(double) * (size_t)rows * d);
    size_t rb = kvv_row_bytes(t, d);
    for (int r = 0; r < rows; r++) {
        f->dequantize_row((const char *)src + (size_t)r * rb, row, d, 8);
        for (int i = 0; i < d; i++)
            out[(size_t)r * d + i] = row[i];
    }
    free(row);
    return out;
}

static void reference(fixture *f)
{
    const acase *c = &f->c;
    int rot_q = kvv_type_get(c->tk)->rotated, rot_o = kvv_type_get(c->tv)->rotated;
    double *kd = dequant64(c->tk, f->k, c->n_head_kv * c->n_kv, c->dk);
    double *vd = dequant64(c->tv, f->v, c->n_head_kv * c->n_kv, c->dv);
    double *q = malloc(sizeof(double) * (size_t)c->dk);
    double *s = malloc(sizeof(double) * (size_t)c->n_kv);
    int *vis = malloc(sizeof(int) * (size_t)c->n_kv);
    for (int i = 0; i < c->n_q; i++) {
        f->dead[i] = 1;
        for (int j = 0; j < c->n_kv; j++)
            f->dead[i] &= f->mask && f->mask[(size_t)i * c->n_kv + j] == -INFINITY;
    }
    for (int h = 0; h < c->n_head; h++) {
        int kvh = h / (c->n_head / c->n_head_kv);
        double slope = slope_of(h, c->n_head, c->max_bias);
        for (int i = 0; i < c->n_q; i++) {
            double *o = f->ref + ((size_t)h * c->n_q + i) * c->dv;
            for (int d = 0; d < c->dk; d++)
                q[d] = f->q[((size_t)h * c->n_q + i) * c->dk + d];
            if (rot_q)
                kvv_ref_wht(q, 1, c->dk, kvv_rot_group(c->dk), 0);
            double m = -INFINITY;
            for (int j = 0; j < c->n_kv; j++) {
                const float *mk = f->mask ? f->mask + (size_t)i * c->n_kv + j : NULL;
                vis[j] = !mk || *mk != -INFINITY;
                if (!vis[j])
                    continue;
                const double *k = kd + ((size_t)kvh * c->n_kv + j) * c->dk;
                double x = 0;
                for (int d = 0; d < c->dk; d++)
                    x += q[d] * k[d];
                x *= f->scale;
                if (c->softcap != 0.0f)
                    x = c->softcap * tanh(x / c->softcap);
                if (mk)
                    x += slope * *mk;
                s[j] = x;
                m = x > m ? x : m;
            }
            memset(o, 0, sizeof(double) * (size_t)c->dv);
            if (f->dead[i])
                continue;
            double l = 0;
            for (int j = 0; j < c->n_kv; j++) {
                if (!vis[j])
                    continue;
                double p = exp(s[j] - m);
                l += p;
                const double *v = vd + ((size_t)kvh * c->n_kv + j) * c->dv;
                for (int d = 0; d < c->dv; d++)
                    o[d] += p * v[d];
            }
            for (int d = 0; d < c->dv; d++)
                o[d] /= l;
            if (rot_o)
                kvv_ref_wht(o, 1, c->dv, kvv_rot_group(c->dv), 1);
        }
    }
    free(kd);
    free(vd);
    free(q);
    free(s);
    free(vis);
}

/* ---- fixtures ---- */

static void *quantize(kvv_type t, const float *x, int rows, int d)
{
    const cpu_type_fns *f = cpu_type_fns_get(t, KVV_ISA_SCALAR);
    size_t rb = kvv_row_bytes(t, d);
    char *out = malloc(rb * (size_t)rows);
    for (int r = 0; r < rows; r++)
        f->quantize_row(x + (size_t)r * d, out + (size_t)r * rb, d);
    return out;
}

static void fixture_make(fixture *f, acase c)
{
    memset(f, 0, sizeof *f);
    f->c = c;
    f->scale = (float)(1.0 / sqrt((double)c.dk));
    size_t nq = (size_t)c.n_head * c.n_q;
    size_t nkv = (size_t)c.n_head_kv * c.n_kv;
    f->q = malloc(sizeof(float) * nq * c.dk);
    float *k = malloc(sizeof(float) * nkv * c.dk);
    float *v = malloc(sizeof(float) * nkv * c.dv);
    kvv_gen_fill(f->q, (int64_t)nq, c.dk, 0, KVV_DIST_GAUSS, c.seed, KVV_STREAM_Q);
    kvv_gen_fill(k, (int64_t)nkv, c.dk, 0, KVV_DIST_GAUSS, c.seed, KVV_STREAM_K);
    kvv_gen_fill(v, (int64_t)nkv, c.dv, 0, KVV_DIST_GAUSS, c.seed, KVV_STREAM_V);
    /* sharper softmax than N(0,1) logits give, so the max matters */
    for (size_t i = 0; i < nq * c.dk; i++)
        f->q[i] *= 3.0f;
    f->k = quantize(c.tk, k, (int)nkv, c.dk);
    f->v = quantize(c.tv, v, (int)nkv, c.dv);
    free(k);
    free(v);
    if (c.mask != KVV_MASK_NONE || c.max_bias > 0) {
        kvv_case kc = kvv_case_default(KVV_OP_ATTN);
        kc.n_q = c.n_q;
        kc.n_kv = c.n_kv;
        kc.mask = c.mask;
        kc.max_bias = c.max_bias;
        kc.seed = c.seed;
        f->mask = malloc(sizeof(float) * (size_t)c.n_q * c.n_kv);
        kvv_gen_mask(f->mask, &kc);
    }
    f->ref = malloc(sizeof(double) * nq * c.dv);
    f->dead = malloc(sizeof(int) * (size_t)c.n_q);
    reference(f);
}

static void fixture_free(fixture *f)
{
    free(f->q);
    free(f->mask);
    free(f->k);
    free(f->v);
    free(f->ref);
    free(f->dead);
}

static size_t out_len(const fixture *f) { return (size_t)f->c.n_head * f->c.n_q * f->c.dv; }

static kvv_attn_args args_of(const fixture *f, kvv_toggles tg)
{
    kvv_attn_args a = {.dk = f->c.dk, .dv = f->c.dv, .n_q = f->c.n_q, .n_kv = f->c.n_kv,
                       .n_head = f->c.n_head, .n_head_kv = f->c.n_head_kv, .type_k = f->c.tk,
                       .type_v = f->c.tv, .q = f->q, .k = f->k, .v = f->v, .mask = f->mask,
                       .scale = f->scale, .max_bias = f->c.max_bias, .softcap = f->c.softcap, .tg = tg};
    return a;
}

static int run(const fixture *f, kvv_toggles tg, float *out)
{
    kvv_attn_args a = args_of(f, tg);
    kvv_attn_info info = {-1, -1};
    char err[256] = "";
    int rc = cpu_attention(&a, out, &info, err, sizeof err);
    if (rc != KVV_OK)
        fprintf(stderr, "\n  cpu_attention failed (%d): %s\n", rc, err);
    else if (info.kv_round != 0 || info.acc_round != ldexp(1.0, -24))
        rc = -1;
    return rc;
}

static int have_avx2(void) { return cpu_isa_resolve(KVV_ISA_AVX2) == KVV_ISA_AVX2; }

static const char *variant_name(kvv_variant v) { return v == KVV_VAR_VEC ? "vec" : v == KVV_VAR_TILED ? "tiled" : "auto"; }

/* Largest error relative to the output scale; fully masked rows must be
 * exactly zero.  Prints the case on failure. */
static double out_error(const fixture *f, const float *out, const char *what)
{
    const acase *c = &f->c;
    double scale = 1e-30, err = 0;
    for (size_t i = 0; i < out_len(f); i++)
        scale = fmax(scale, fabs(f->ref[i]));
    for (size_t i = 0; i < out_len(f); i++) {
        size_t qrow = (i / c->dv) % c->n_q;
        double e = f->dead[qrow] ? (out[i] == 0.0f ? 0.0 : INFINITY) : fabs(out[i] - f->ref[i]) / scale;
        if (!(e <= err)) /* NaN counts as an error too */
            err = isnan(e) ? INFINITY : e;
    }
    if (getenv("KVV_TEST_VERBOSE") || !(err <= TOL))
        fprintf(stderr, "\n  %s d%d/%d %s-%s nq%d nkv%d h%d/%d mask%d bias%g cap%g: error %.3g\n", what, c->dk, c->dv,
                kvv_type_name(c->tk), kvv_type_name(c->tv), c->n_q, c->n_kv, c->n_head, c->n_head_kv, (int)c->mask,
                (double)c->max_bias, (double)c->softcap, err);
    return err;
}

/* Every variant, ISA and rotation site is accurate on this case. */
static void check_accuracy(acase c)
{
    fixture f;
    fixture_make(&f, c);
    float *out = malloc(sizeof(float) * out_len(&f));
    kvv_isa isas[2] = {KVV_ISA_SCALAR, KVV_ISA_AVX2};
    kvv_variant vars[2] = {KVV_VAR_VEC, KVV_VAR_TILED};
    kvv_rot_site rots[2] = {KVV_ROT_KERNEL, KVV_ROT_GRAPH};
    for (int ii = 0; ii < (have_avx2() ? 2 : 1); ii++)
        for (int vi = 0; vi < 2; vi++)
            for (int ri = 0; ri < 2; ri++) {
                kvv_toggles tg = kvv_toggles_default();
                tg.isa = isas[ii];
                tg.variant = vars[vi];
                tg.rot = rots[ri];
                memset(out, 0xff, sizeof(float) * out_len(&f)); /* NaN: every element must be written */
                CU_ASSERT_EQUAL_FATAL(run(&f, tg, out), KVV_OK);
                char what[64];
                snprintf(what, sizeof what, "%s/%s/rot=%s", ii ? "avx2" : "scalar", variant_name(vars[vi]),
                         ri ? "graph" : "kernel");
                CU_ASSERT(out_error(&f, out, what) <= TOL);
            }
    free(out);
    fixture_free(&f);
}

static acase base_case(kvv_type tk, kvv_type tv, int d)
{
    acase c = {.dk = d, .dv = d, .n_q = 5, .n_kv = 77, .n_head = 8, .n_head_kv = 2, .tk = tk, .tv = tv,
               .mask = KVV_MASK_CAUSAL, .seed = 11};
    return c;
}

/* ---- tests ---- */

static void test_type_pairs(void)
{
    static const kvv_type pairs[][2] = {
        {KVV_F32, KVV_F32},       {KVV_F16, KVV_F16},       {KVV_Q8_0, KVV_Q8_0},   {KVV_Q4_0, KVV_Q4_0},
        {KVV_TURBO3, KVV_TURBO3}, {KVV_TURBO4, KVV_TURBO4}, {KVV_Q8_0, KVV_TURBO3}, {KVV_TURBO3, KVV_Q8_0},
        {KVV_F16, KVV_TURBO4},    {KVV_TURBO4, KVV_Q4_0},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        acase c = base_case(pairs[i][0], pairs[i][1], 128);
        c.seed = 100 + i;
        check_accuracy(c);
        c.n_q = 1; /* decode shape */
        check_accuracy(c);
    }
    /* every type and format version of the table, symmetric */
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        acase c = base_case((kvv_type)t, (kvv_type)t, 128);
        c.n_head = 4;
        c.n_kv = 40;
        c.seed = 150 + t;
        check_accuracy(c);
    }
}

static void test_head_dims(void)
{
    static const struct {
        int dk, dv;
        kvv_type tk, tv;
    } dims[] = {
        {64, 64, KVV_TURBO3, KVV_TURBO3},   {64, 64, KVV_Q4_0, KVV_F16},
        {256, 256, KVV_Q8_0, KVV_TURBO3},   /* two 128-groups per head, asymmetric */
        {256, 256, KVV_TURBO3, KVV_Q8_0},   {256, 256, KVV_TURBO4, KVV_TURBO4},
        {576, 512, KVV_F16, KVV_F16},       /* MLA */
        {576, 512, KVV_Q8_0, KVV_Q8_0},     {576, 512, KVV_TURBO3, KVV_TURBO3}, /* 576 rotates in groups of 64 */
        {96, 32, KVV_F32, KVV_F32},         {20, 12, KVV_F32, KVV_F16}, /* widths not multiples of 8 */
    };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        acase c = base_case(dims[i].tk, dims[i].tv, dims[i].dk);
        c.dv = dims[i].dv;
        c.n_head = 4;
        c.n_head_kv = 2;
        c.n_kv = 45;
        c.seed = 200 + i;
        check_accuracy(c);
    }
}

static void test_gqa(void)
{
    static const int gqa[] = {1, 4, 8};
    for (int i = 0; i < 3; i++) {
        acase c = base_case(KVV_Q8_0, KVV_TURBO3, 128);
        c.n_head = 8;
        c.n_head_kv = 8 / gqa[i];
        c.n_q = 2 + i;
        c.seed = 300 + i;
        check_accuracy(c);
    }
}

static void test_masks(void)
{
    static const kvv_mask masks[] = {KVV_MASK_NONE, KVV_MASK_CAUSAL, KVV_MASK_RANDOM, KVV_MASK_HOLES};
    for (int i = 0; i < 4; i++) {
        acase c = base_case(KVV_TURBO3, KVV_TURBO3, 64);
        c.mask = masks[i];
        c.n_q = 7; /* holes: rows 1 and 4 see nothing */
        c.n_kv = 150;
        c.seed = 400 + i;
        check_accuracy(c);
        c.n_q = 2;
        check_accuracy(c);
    }
}

static void test_alibi_softcap(void)
{
    acase c = base_case(KVV_Q8_0, KVV_Q8_0, 128);
    c.n_head = 6; /* not a power of two: both slope formulas */
    c.n_head_kv = 3;
    c.n_kv = 90;
    c.max_bias = 8.0f;
    c.seed = 500;
    check_accuracy(c);
    c.max_bias = 0;
    c.softcap = 3.0f; /* small enough for tanh to bend most logits */
    c.mask = KVV_MASK_RANDOM;
    check_accuracy(c);
    c.max_bias = 4.0f;
    c.softcap = 30.0f;
    c.mask = KVV_MASK_HOLES;
    check_accuracy(c);
}

static void test_kv_lengths(void)
{
    static const int nkv[] = {1, 2, 31, 33, 63, 65, 97, 129};
    for (int i = 0; i < 8; i++) {
        acase c = base_case(KVV_TURBO4, KVV_F16, 128);
        c.n_kv = nkv[i];
        c.mask = KVV_MASK_NONE;
        c.n_q = 1 + i % 6;
        c.seed = 600 + i;
        check_accuracy(c);
    }
}

/* threads 1/2/3, split 1/2/4/7, cache off/on (and the turbo3 LUT) against
 * threads 1, split 1, cache off: identical bits for each variant, ISA and
 * rotation site. */
static void check_speed_toggles(acase c)
{
    fixture f;
    fixture_make(&f, c);
    size_t n = out_len(&f);
    float *base = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * n);
    static const int threads[] = {1, 2, 3}, splits[] = {1, 2, 4, 7};
    int luts = kvv_type_get(c.tk)->rotated || kvv_type_get(c.tv)->rotated ? 2 : 1;
    for (int isa = KVV_ISA_SCALAR; isa <= (have_avx2() ? KVV_ISA_AVX2 : KVV_ISA_SCALAR); isa++)
        for (int var = KVV_VAR_VEC; var <= KVV_VAR_TILED; var++)
            for (int rot = KVV_ROT_KERNEL; rot <= KVV_ROT_GRAPH; rot++) {
                kvv_toggles tg = kvv_toggles_default();
                tg.isa = (kvv_isa)isa;
                tg.variant = (kvv_variant)var;
                tg.rot = (kvv_rot_site)rot;
                CU_ASSERT_EQUAL_FATAL(run(&f, tg, base), KVV_OK);
                CU_ASSERT(out_error(&f, base, "baseline") <= TOL);
                int bad = 0;
                for (int ti = 0; ti < 3; ti++)
                    for (int si = 0; si < 4; si++)
                        for (int cache = 0; cache < 2; cache++)
                            for (int li = 0; li < luts; li++) {
                                kvv_toggles t2 = tg;
                                t2.threads = threads[ti];
                                t2.split = splits[si];
                                t2.cache = cache;
                                t2.lut = li ? 4 : 8;
                                memset(out, 0xff, sizeof(float) * n);
                                CU_ASSERT_EQUAL_FATAL(run(&f, t2, out), KVV_OK);
                                if (memcmp(out, base, sizeof(float) * n) && bad++ == 0)
                                    fprintf(stderr, "\n  isa %d %s rot %d: threads %d split %d cache %d lut %d differs\n",
                                            isa, variant_name((kvv_variant)var), rot, t2.threads, t2.split, cache,
                                            t2.lut);
                            }
                CU_ASSERT_EQUAL(bad, 0);
            }
    free(base);
    free(out);
    fixture_free(&f);
}

static void test_speed_toggles_bit_identical(void)
{
    acase c = base_case(KVV_Q8_0, KVV_TURBO3, 128);
    c.n_q = 5;
    c.n_kv = 500; /* 16 vec tiles, 8 tiled tiles: more than 7 chunks */
    c.n_head = 4;
    c.n_head_kv = 2;
    c.mask = KVV_MASK_HOLES;
    c.seed = 700;
    check_speed_toggles(c);
    c = base_case(KVV_TURBO3, KVV_F16, 64);
    c.n_q = 1;
    c.n_kv = 300;
    c.n_head = 8;
    c.n_head_kv = 1;
    c.mask = KVV_MASK_NONE;
    c.max_bias = 2.0f;
    c.softcap = 10.0f;
    c.seed = 701;
    check_speed_toggles(c);
}

/* The AVX2 kernels' products on AVX-512 (two keys, or 16 output elements,
 * to a zmm) give the AVX2 bits: every K/V row format the kernels read
 * (f32, f16 and q8_0 in place, q4_0 through the f32 buffer), head dims
 * that leave 8- and 16-wide tails, GQA 1 to 8, decode and prefill shapes,
 * masks, softcap, both variants and the dequant cache; and the decode
 * shape with several KV heads, which the AVX-512 kernels take two heads
 * at a time (attn_kern.h tile2). */
static void test_avx512_same_bits(void)
{
    if (!have_avx2())
        return;
    int had = attn_set_avx512(1);
    if (!attn_set_avx512(1)) {
        fprintf(stderr, "\n  (no AVX-512 on this CPU: nothing to compare)\n");
        attn_set_avx512(had);
        return;
    }
    static const kvv_type types[] = {KVV_F32, KVV_F16, KVV_Q8_0, KVV_Q4_0};
    static const int dims[][2] = {{40, 40}, {64, 64}, {72, 72}, {96, 96}, {128, 128}, {256, 256}, {576, 512}};
    static const int gqa[] = {1, 2, 4, 8}, nqs[] = {1, 5, 70};
    int n_cases = 0, bad = 0;
    for (int ki = 0; ki < 4; ki++)
        for (int vi = 0; vi < 4; vi++)
            for (int di = 0; di < 7; di++) {
                kvv_type tk = types[ki], tv = types[vi];
                int dk = dims[di][0], dv = dims[di][1];
                if ((tk != KVV_F32 && tk != KVV_F16 && dk % 32) || (tv != KVV_F32 && tv != KVV_F16 && dv % 32))
                    continue;
                acase c = base_case(tk, tv, dk);
                c.dv = dv;
                /* every third case the decode shape the kernels pair KV heads
                 * in (GQA 4, one query, no mask, several KV heads) */
                int dec = (ki + vi + di) % 3 == 0;
                c.n_head_kv = dec ? 2 + (ki + di) % 3 : 1 + (ki + di) % 2;
                c.n_head = c.n_head_kv * (dec ? 4 : gqa[(ki + vi + di) % 4]);
                c.n_q = dec ? 1 : nqs[(ki + 2 * vi + di) % 3];
                c.n_kv = 45 + 17 * di;
                c.mask = (kvv_mask)(dec ? KVV_MASK_NONE : (ki + vi + di) % 3 == 1 ? KVV_MASK_CAUSAL : KVV_MASK_HOLES);
                c.softcap = di == 3 ? 20.0f : 0.0f;
                c.seed = 900 + (uint64_t)(ki * 64 + vi * 8 + di);
                fixture f;
                fixture_make(&f, c);
                size_t n = out_len(&f);
                float *base = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * n);
                for (int var = KVV_VAR_VEC; var <= KVV_VAR_TILED; var++)
                    for (int cache = 0; cache < 2; cache++) {
                        kvv_toggles tg = kvv_toggles_default();
                        tg.isa = KVV_ISA_AVX2;
                        tg.variant = (kvv_variant)var;
                        tg.cache = cache;
                        attn_set_avx512(0);
                        CU_ASSERT_EQUAL_FATAL(run(&f, tg, base), KVV_OK);
                        attn_set_avx512(1);
                        memset(out, 0xff, sizeof(float) * n);
                        CU_ASSERT_EQUAL_FATAL(run(&f, tg, out), KVV_OK);
                        n_cases++;
                        if (memcmp(base, out, sizeof(float) * n) && bad++ < 5)
                            fprintf(stderr, "\n  AVX-512 differs: d%d/%d %s-%s nq%d nkv%d h%d/%d mask%d %s cache %d\n",
                                    dk, dv, kvv_type_name(tk), kvv_type_name(tv), c.n_q, c.n_kv, c.n_head, c.n_head_kv,
                                    (int)c.mask, variant_name((kvv_variant)var), cache);
                    }
                free(base);
                free(out);
                fixture_free(&f);
            }
    attn_set_avx512(had);
    CU_ASSERT(n_cases > 300);
    CU_ASSERT_EQUAL(bad, 0);
}

/* A tiny memory budget forces one KV head (and one row block) per pass;
 * the passes must not change a bit. */
static void test_memory_passes(void)
{
    acase c = base_case(KVV_Q4_0, KVV_TURBO4, 128);
    c.n_q = 70; /* two tiled row blocks per KV head with GQA 2 */
    c.n_kv = 130;
    c.n_head = 4;
    c.n_head_kv = 2;
    c.seed = 800;
    fixture f;
    fixture_make(&f, c);
    size_t n = out_len(&f);
    float *base = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * n);
    for (int var = KVV_VAR_VEC; var <= KVV_VAR_TILED; var++) {
        kvv_toggles tg = kvv_toggles_default();
        tg.variant = (kvv_variant)var;
        tg.split = 3;
        tg.cache = 1;
        tg.threads = 2;
        CU_ASSERT_EQUAL_FATAL(run(&f, tg, base), KVV_OK);
        CU_ASSERT(out_error(&f, base, "budget") <= TOL);
        size_t old = attn_set_mem_budget(4096);
        int rc = run(&f, tg, out);
        attn_set_mem_budget(old);
        CU_ASSERT_EQUAL(rc, KVV_OK);
        CU_ASSERT(memcmp(base, out, sizeof(float) * n) == 0);
    }
    free(base);
    free(out);
    fixture_free(&f);
}

/* The auto variant picks vec for decode and tiled for prefill; both paths
 * are deterministic on their own, so auto equals the forced variant. */
static void test_auto_variant(void)
{
    acase c = base_case(KVV_Q8_0, KVV_Q8_0, 64);
    for (int nq = 1; nq <= 8; nq += 7) {
        c.n_q = nq;
        fixture f;
        fixture_make(&f, c);
        size_t n = out_len(&f);
        float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
        kvv_toggles tg = kvv_toggles_default();
        CU_ASSERT_EQUAL(run(&f, tg, a), KVV_OK);
        tg.variant = nq < 4 ? KVV_VAR_VEC : KVV_VAR_TILED;
        CU_ASSERT_EQUAL(run(&f, tg, b), KVV_OK);
        CU_ASSERT(memcmp(a, b, sizeof(float) * n) == 0);
        free(a);
        free(b);
        fixture_free(&f);
    }
}

/* NaN in one query row spoils that row only; NaN or Inf in K/V at keys a
 * row cannot see does not reach it; nothing crashes. */
static void test_nonfinite(void)
{
    acase c = base_case(KVV_F32, KVV_F32, 64);
    c.n_q = 6;
    c.n_kv = 70;
    c.n_head = 2;
    c.n_head_kv = 1;
    c.mask = KVV_MASK_CAUSAL;
    fixture f;
    fixture_make(&f, c);
    size_t n = out_len(&f);
    float *out = malloc(sizeof(float) * n);
    /* poison the last key (visible only to the last query row) in K and V */
    float *k = f.k, *v = f.v;
    k[(size_t)(c.n_kv - 1) * c.dk + 3] = NAN;
    v[(size_t)(c.n_kv - 1) * c.dv + 5] = INFINITY;
    v[(size_t)(c.n_kv - 1) * c.dv + 6] = NAN;
    f.q[2 * c.dk + 1] = NAN; /* head 0, query row 2 */
    for (int var = KVV_VAR_VEC; var <= KVV_VAR_TILED; var++)
        for (int isa = KVV_ISA_SCALAR; isa <= (have_avx2() ? KVV_ISA_AVX2 : KVV_ISA_SCALAR); isa++)
            for (int cache = 0; cache < 2; cache++) {
                kvv_toggles tg = kvv_toggles_default();
                tg.variant = (kvv_variant)var;
                tg.isa = (kvv_isa)isa;
                tg.cache = cache;
                tg.split = 1 + cache;
                CU_ASSERT_EQUAL_FATAL(run(&f, tg, out), KVV_OK);
                for (int h = 0; h < c.n_head; h++)
                    for (int i = 0; i < c.n_q; i++) {
                        const float *o = out + ((size_t)h * c.n_q + i) * c.dv;
                        int nans = 0;
                        for (int d = 0; d < c.dv; d++)
                            nans += isnan(o[d]);
                        int poisoned = i == c.n_q - 1 || (h == 0 && i == 2);
                        if (poisoned)
                            CU_ASSERT(nans > 0);
                        if (!poisoned)
                            CU_ASSERT_EQUAL(nans, 0);
                        if (!poisoned && nans)
                            fprintf(stderr, "\n  var %d isa %d: row h%d i%d has NaN\n", var, isa, h, i);
                    }
                /* the clean rows are still accurate */
                double scale = 0, err = 0;
                for (size_t i = 0; i < n; i++)
                    scale = fmax(scale, fabs(f.ref[i]));
                for (int i = 0; i < c.n_q - 1; i++)
                    for (int d = 0; d < c.dv; d++) {
                        size_t at = (size_t)1 * c.n_q * c.dv + (size_t)i * c.dv + d; /* head 1 */
                        err = fmax(err, fabs(out[at] - f.ref[at]) / scale);
                    }
                CU_ASSERT(err <= TOL);
            }
    free(out);
    fixture_free(&f);
}

static void test_argument_checks(void)
{
    acase c = base_case(KVV_Q8_0, KVV_TURBO3, 64);
    c.n_q = 2;
    c.n_kv = 8;
    fixture f;
    fixture_make(&f, c);
    float *out = malloc(sizeof(float) * out_len(&f));
    char err[200];
    kvv_attn_info info;
    kvv_attn_args a;
#define EXPECT_FAIL(field_change)                                                   \
    do {                                                                            \
        a = args_of(&f, kvv_toggles_default());                                    \
        field_change;                                                               \
        err[0] = 0;                                                                 \
        CU_ASSERT_EQUAL(cpu_attention(&a, out, &info, err, sizeof err), KVV_FAILED); \
        CU_ASSERT(err[0] != 0);                                                     \
    } while (0)
    EXPECT_FAIL(a.dk = 0);
    EXPECT_FAIL(a.n_kv = -1);
    EXPECT_FAIL(a.n_head = 3);            /* not a multiple of n_head_kv 2 */
    EXPECT_FAIL(a.dk = 48);               /* q8_0 blocks of 32 */
    EXPECT_FAIL(a.dv = 48);               /* turbo3 */
    EXPECT_FAIL(a.type_k = KVV_TURBO4);   /* needs a 128-group, d = 64 gives 64 */
    EXPECT_FAIL(a.q = NULL);
    EXPECT_FAIL(a.tg.lut = 5);
    EXPECT_FAIL(a.tg.variant = (kvv_variant)9);
    EXPECT_FAIL(a.type_v = KVV_TYPE_COUNT);
    EXPECT_FAIL(a.tg.isa = (kvv_isa)7);
    EXPECT_FAIL(a.tg.rot = (kvv_rot_site)2);
#undef EXPECT_FAIL
    a = args_of(&f, kvv_toggles_default());
    CU_ASSERT_EQUAL(cpu_attention(&a, NULL, &info, err, sizeof err), KVV_FAILED);
    a.tg.isa = KVV_ISA_AVX2;
    CU_ASSERT_EQUAL(cpu_attention(&a, out, &info, err, sizeof err), have_avx2() ? KVV_OK : KVV_UNSUPPORTED);
    free(out);
    fixture_free(&f);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"K/V type pairs, symmetric and asymmetric, vs f64", test_type_pairs},
        {"head dims 64/256, MLA 576/512, unaligned widths", test_head_dims},
        {"GQA 1/4/8", test_gqa},
        {"masks: none, causal, random, fully masked rows", test_masks},
        {"ALiBi slopes and softcap", test_alibi_softcap},
        {"n_kv 1, odd and tile-boundary lengths", test_kv_lengths},
        {"threads/split/cache/lut bit-identical", test_speed_toggles_bit_identical},
        {"auto variant equals the forced one", test_auto_variant},
        {"memory budget passes are bit-identical", test_memory_passes},
        {"AVX-512 products give the AVX2 bits", test_avx512_same_bits},
        {"NaN/Inf inputs stay in their rows", test_nonfinite},
        {"argument checks", test_argument_checks},
        {NULL, NULL},
    };
    kvv_add_suite("cpu attention", tests);
}
