/* The TurboQuant reference quantizers (ref/quant/turbo.c, turbo4_qjl.c):
 * hand-computed groups, zero groups, the corrected norm, groups spanning
 * several blocks, agreement with the core codec, requantize, ties against an
 * independent f32 implementation that orders its arithmetic differently,
 * and the QJL residual. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"
#include "ref/quant/quant.h"
#include "tests/harness.h"

static const kvv_type turbo_types[] = {KVV_TURBO2, KVV_TURBO2_QK128, KVV_TURBO3,
                                       KVV_TURBO3_QK128, KVV_TURBO4, KVV_TURBO4_QJL};
#define N_TURBO 6

/* centroid and midpoint tables per type, as the spec lists them */
static void tables_of(kvv_type t, const float **c, const float **m, int *levels)
{
    switch (t) {
    case KVV_TURBO2:
    case KVV_TURBO2_QK128: *c = kvv_rq_c2, *m = kvv_rq_m2, *levels = 4; break;
    case KVV_TURBO4: *c = kvv_rq_c4, *m = kvv_rq_m4, *levels = 16; break;
    default: *c = kvv_rq_c3, *m = kvv_rq_m3, *levels = 8; break;
    }
}

static const kvv_ref_type *rt(kvv_type t) { return kvv_ref_type_get(t); }

/* Unpack a row with the core codec into indices, signs and per-block norms. */
static void unpack_row(kvv_type t, const uint8_t *q, int ncols, int16_t *idx, int16_t *sign, uint32_t *norm,
                       uint32_t *rnorm)
{
    const kvv_type_info *ti = kvv_type_get(t);
    for (int b = 0; b < ncols / ti->block; b++) {
        kvv_fields f;
        ti->unpack(q + b * ti->bytes, &f);
        for (int j = 0; j < ti->block; j++) {
            idx[b * ti->block + j] = f.idx[j];
            if (sign)
                sign[b * ti->block + j] = f.sign[j];
        }
        norm[b] = f.scale[0];
        if (rnorm)
            rnorm[b] = f.scale[1];
    }
}

/* x = 3 e_0: x*inv = 1 exactly in f32, the butterfly spreads S1[0] = -1 to
 * every coordinate, so u_j = -S2[j]/sqrt(128) = +-0.0883883: turbo3 index 5
 * (u > 0) or 2, turbo2 3 or 0, turbo4 11 or 4; the corrected norm is
 * 3 / (|C| sqrt(128)).  Bytes assembled here from the layout text. */
static void test_known_group(void)
{
    float x[128] = {0};
    x[0] = 3.0f;
    for (int ti = 0; ti < 5; ti++) {
        kvv_type t = turbo_types[ti];
        const kvv_type_info *info = kvv_type_get(t);
        const float *c, *m;
        int levels;
        tables_of(t, &c, &m, &levels);
        int hi = levels == 4 ? 3 : levels == 8 ? 5 : 11, lo = levels - 1 - hi;
        int idx[128];
        for (int j = 0; j < 128; j++)
            idx[j] = kvv_ref_s2[j] < 0 ? hi : lo;
        uint16_t norm = kvv_rq_f64_to_f16(3.0 / ((double)c[hi] * sqrt(128.0)));
        uint8_t want[4 * 68] = {0}, got[4 * 68];
        int B = info->block;
        for (int b = 0; b < 128 / B; b++) {
            uint8_t *p = want + b * info->bytes;
            p[0] = (uint8_t)norm;
            p[1] = (uint8_t)(norm >> 8);
            for (int j = 0; j < B; j++) {
                int v = idx[b * B + j];
                if (t == KVV_TURBO4) {
                    p[4 + j / 2] |= (uint8_t)(v << (4 * (j % 2)));
                } else {
                    p[2 + j / 4] |= (uint8_t)((v & 3) << (2 * (j % 4)));
                    if (levels == 8)
                        p[2 + B / 4 + j / 8] |= (uint8_t)((v >> 2) << (j % 8));
                }
            }
        }
        CU_ASSERT_EQUAL_FATAL(rt(t)->quantize(x, got, 1, 128, NULL), 0);
        CU_ASSERT_EQUAL(memcmp(got, want, kvv_row_bytes(t, 128)), 0);
        /* and back: C[idx] * f32(norm), in the rotated basis */
        float y[128];
        rt(t)->dequantize(got, y, 1, 128);
        for (int j = 0; j < 128; j++)
            CU_ASSERT_EQUAL(y[j], c[idx[j]] * kvv_ref_f16_to_f32(norm));
    }
}

/* A zero group: u = 0, so every index is the upper-middle one, and the norm
 * is n/r = 0 (not the all-zero bytes SPEC 3 step 1 describes: the forks
 * run the zero vector through the pipeline); it dequantizes to 0. */
static void test_zero_group(void)
{
    float x[256] = {0}, y[256];
    uint8_t q[4 * 68 * 2];
    int16_t idx[256];
    uint32_t norm[8], rnorm[8];
    for (int ti = 0; ti < N_TURBO; ti++) {
        kvv_type t = turbo_types[ti];
        const float *c, *m;
        int levels;
        tables_of(t, &c, &m, &levels);
        CU_ASSERT_EQUAL_FATAL(rt(t)->quantize(x, q, 2, 128, NULL), 0);
        unpack_row(t, q, 256, idx, NULL, norm, rnorm);
        for (int j = 0; j < 256; j++)
            CU_ASSERT_EQUAL(idx[j], levels / 2);
        for (int b = 0; b < 256 / kvv_type_get(t)->block; b++)
            CU_ASSERT_EQUAL(norm[b], 0);
        rt(t)->dequantize(q, y, 2, 128);
        for (int j = 0; j < 256; j++)
            CU_ASSERT_EQUAL(y[j], 0.0f);
    }
    /* turbo3 bytes by hand: low bits of 4 are 0, the third bit is 1 */
    CU_ASSERT_EQUAL(rt(KVV_TURBO3)->quantize(x, q, 1, 64, NULL), 0);
    const uint8_t blk[14] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    CU_ASSERT_EQUAL(memcmp(q, blk, 14), 0);
    CU_ASSERT_EQUAL(memcmp(q + 14, blk, 14), 0);
}

/* The stored norm is corrected so that the dequantized group has the
 * original norm, up to the f16 rounding of the stored norm. */
static void test_norm_correction(void)
{
    enum { R = 32 };
    float x[R * 256], y[R * 256];
    uint8_t *q = malloc(R * 4 * 68);
    const kvv_dist dists[] = {KVV_DIST_GAUSS, KVV_DIST_OUTLIER};
    for (int di = 0; di < 2; di++) {
        kvv_gen_fill(x, R, 256, 0, dists[di], 41, KVV_STREAM_K);
        for (int ti = 0; ti < 5; ti++) { /* turbo4@qjl stores the raw norm */
            kvv_type t = turbo_types[ti];
            CU_ASSERT_EQUAL_FATAL(rt(t)->quantize(x, q, R, 256, NULL), 0);
            rt(t)->dequantize(q, y, R, 256);
            double worst = 0;
            for (int gi = 0; gi < R * 2; gi++) {
                double n = 0, ny = 0;
                for (int j = 0; j < 128; j++) {
                    n += (double)x[128 * gi + j] * x[128 * gi + j];
                    ny += (double)y[128 * gi + j] * y[128 * gi + j];
                }
                worst = fmax(worst, fabs(sqrt(ny) / sqrt(n) - 1));
            }
            CU_ASSERT(worst <= 0x1p-11 + 1e-5);
            CU_ASSERT(worst > 0);
        }
    }
    free(q);
}

/* head_dim 64: turbo3's group is 64 values, two blocks, the norm written in
 * both; head_dim 256: two groups of 128 per row; head_dim 96: groups of 32,
 * one per block; head_dim 80 (group 16) cannot hold turbo3. */
static void test_group_shapes(void)
{
    float x[3 * 256];
    uint8_t q[3 * 8 * 50];
    int16_t idx[256];
    uint32_t norm[8];
    kvv_gen_fill(x, 3, 256, 0, KVV_DIST_GAUSS, 43, KVV_STREAM_V);
    /* 64: two blocks share a norm; the indices are those of a 64-group rotation */
    CU_ASSERT_EQUAL_FATAL(rt(KVV_TURBO3)->quantize(x, q, 3, 64, NULL), 0);
    for (int r = 0; r < 3; r++) {
        unpack_row(KVV_TURBO3, q + r * 28, 64, idx, NULL, norm, NULL);
        CU_ASSERT_EQUAL(norm[0], norm[1]);
        double v[64], n = 0;
        for (int j = 0; j < 64; j++)
            n += (double)x[64 * r + j] * x[64 * r + j];
        for (int j = 0; j < 64; j++)
            v[j] = x[64 * r + j] / sqrt(n);
        kvv_ref_wht(v, 1, 64, 64, 0);
        int agree = 0;
        for (int j = 0; j < 64; j++)
            agree += idx[j] == kvv_rq_centroid_index((float)v[j], kvv_rq_m3, 7);
        CU_ASSERT(agree >= 63); /* all but a possible tie */
        /* and not those of a 32-group rotation */
        kvv_ref_wht(v, 1, 64, 64, 1);
        kvv_ref_wht(v, 1, 64, 32, 0);
        int agree32 = 0;
        for (int j = 0; j < 64; j++)
            agree32 += idx[j] == kvv_rq_centroid_index((float)v[j], kvv_rq_m3, 7);
        CU_ASSERT(agree32 < 48);
    }
    /* 256: blocks 0-3 share one norm, 4-7 another */
    CU_ASSERT_EQUAL_FATAL(rt(KVV_TURBO3)->quantize(x, q, 1, 256, NULL), 0);
    unpack_row(KVV_TURBO3, q, 256, idx, NULL, norm, NULL);
    for (int b = 1; b < 4; b++) {
        CU_ASSERT_EQUAL(norm[b], norm[0]);
        CU_ASSERT_EQUAL(norm[4 + b], norm[4]);
    }
    CU_ASSERT_NOT_EQUAL(norm[0], norm[4]);
    /* the second group is quantized on its own */
    uint8_t q2[4 * 14];
    CU_ASSERT_EQUAL_FATAL(rt(KVV_TURBO3)->quantize(x + 128, q2, 1, 128, NULL), 0);
    CU_ASSERT_EQUAL(memcmp(q + 4 * 14, q2, 4 * 14), 0);
    /* 96: three groups of 32, each block its own norm */
    CU_ASSERT_EQUAL_FATAL(rt(KVV_TURBO3)->quantize(x, q, 1, 96, NULL), 0);
    unpack_row(KVV_TURBO3, q, 96, idx, NULL, norm, NULL);
    CU_ASSERT(norm[0] != norm[1] && norm[1] != norm[2]);
    /* refused shapes */
    CU_ASSERT_EQUAL(rt(KVV_TURBO3)->quantize(x, q, 1, 80, NULL), -1);
    CU_ASSERT_EQUAL(rt(KVV_TURBO3_QK128)->quantize(x, q, 1, 64, NULL), -1);
    CU_ASSERT_EQUAL(rt(KVV_TURBO4)->quantize(x, q, 1, 192, NULL), -1); /* group 64 < block 128 */
    CU_ASSERT_EQUAL(rt(KVV_TURBO4_QJL)->quantize(x, q, 1, 64, NULL), -1);
    CU_ASSERT_EQUAL(rt(KVV_TURBO2_QK128)->quantize(x, q, 1, 384, NULL), 0);
}

/* The core codec's fields give back the reference's values (C[idx]*norm, and
 * for turbo4@qjl the QJL reconstruction evaluated here), its pack gives
 * back the bytes, and requantize with the unpacked indices gives back the
 * bytes. */
static const uint32_t qjl_w1[4] = {0x693A565E, 0x25622D30, 0x0243E607, 0xFEC58BDA};
static const uint32_t qjl_w2[4] = {0x3D172324, 0x203007CB, 0x9540A34B, 0x856B1126};

static void qjl_signs(int8_t *s1, int8_t *s2)
{
    for (int e = 0; e < 128; e++) {
        s1[e] = (qjl_w1[e / 32] >> (e % 32)) & 1 ? -1 : 1;
        s2[e] = (qjl_w2[e / 32] >> (e % 32)) & 1 ? -1 : 1;
    }
}

static void test_core_codec_and_requantize(void)
{
    enum { R = 6, C = 256 };
    float x[R * C], y[R * C];
    uint8_t q[R * C], back[68], rq[C];
    int16_t idx[C], sign[C];
    uint32_t norm[8], rnorm[8];
    int8_t s1[128], s2[128];
    qjl_signs(s1, s2);
    kvv_gen_fill(x, R, C, 0, KVV_DIST_HEAVY, 47, KVV_STREAM_K);
    for (int ti = 0; ti < N_TURBO; ti++) {
        kvv_type t = turbo_types[ti];
        const kvv_type_info *info = kvv_type_get(t);
        const float *c, *m;
        int levels, bad = 0;
        tables_of(t, &c, &m, &levels);
        CU_ASSERT_EQUAL_FATAL(rt(t)->quantize(x, q, R, C, NULL), 0);
        rt(t)->dequantize(q, y, R, C);
        size_t rb = kvv_row_bytes(t, C);
        for (int r = 0; r < R; r++) {
            unpack_row(t, q + r * rb, C, idx, sign, norm, rnorm);
            for (int b = 0; b < C / info->block; b++) {
                kvv_fields f;
                info->unpack(q + r * rb + b * info->bytes, &f);
                info->pack(&f, back);
                bad += memcmp(back, q + r * rb + b * info->bytes, (size_t)info->bytes) != 0;
            }
            for (int g = 0; g < C / 128; g++) {
                float v[128];
                int b = g * 128 / info->block;
                float nf = kvv_ref_f16_to_f32((uint16_t)norm[b]);
                if (t == KVV_TURBO4_QJL) {
                    float qq[128], sc = (1.2533141373155003f / 128) * kvv_ref_f16_to_f32((uint16_t)rnorm[b]);
                    for (int j = 0; j < 128; j++)
                        qq[j] = sign[128 * g + j] ? 1.0f : -1.0f;
                    kvv_rq_wht_f32(qq, 128, s2, s1);
                    for (int j = 0; j < 128; j++) {
                        float e = qq[j] * sc;
                        float s = c[idx[128 * g + j]] + e;
                        v[j] = s * nf;
                    }
                } else {
                    for (int j = 0; j < 128; j++)
                        v[j] = c[idx[128 * g + j]] * nf;
                }
                bad += memcmp(v, y + r * C + 128 * g, sizeof v) != 0;
            }
            CU_ASSERT_EQUAL_FATAL(rt(t)->requantize(x + r * C, idx, rq, C, NULL), 0);
            bad += memcmp(rq, q + r * rb, rb) != 0;
        }
        CU_ASSERT_EQUAL(bad, 0);
        /* an index out of range is refused */
        idx[7] = (int16_t)levels;
        CU_ASSERT_EQUAL(rt(t)->requantize(x, idx, rq, C, NULL), -1);
    }
}

/* turbo3's 4-magnitude LUT (sign bit + 4 magnitudes) is bit-identical to
 * the 8-entry table because C3 is exactly symmetric in f32. */
static void test_turbo3_lut_equivalence(void)
{
    const float mag[4] = {kvv_rq_c3[4], kvv_rq_c3[5], kvv_rq_c3[6], kvv_rq_c3[7]};
    const float norms[4] = {1.0f, 0.3337f, 17.25f, 6.1e-5f};
    for (int n = 0; n < 4; n++)
        for (int i = 0; i < 8; i++) {
            int low = i & 3, s = i >> 2, mi = low ^ (s ? 0 : 3);
            float v = mag[mi] * norms[n], lut = s ? v : -v;
            CU_ASSERT_EQUAL(lut, kvv_rq_c3[i] * norms[n]);
        }
}

/* ---- an independent f32 implementation in another order ----
 * norm: pairwise sum; u = x / n (a division); the 1/sqrt(g) scale applied
 * before the butterfly; the butterfly stages in the reverse order (h from
 * g/2 down to 1, the same transform in exact arithmetic). */
static float pairwise_sumsq(const float *v, int g)
{
    float s[128];
    for (int j = 0; j < g; j++)
        s[j] = v[j] * v[j];
    for (int len = g; len > 1; len /= 2)
        for (int i = 0; i < len / 2; i++)
            s[i] = s[2 * i] + s[2 * i + 1];
    return s[0];
}

static void other_transform(float *u, int g, const int8_t *a, const int8_t *b)
{
    float sc = (float)(1 / sqrt((double)g));
    for (int j = 0; j < g; j++)
        u[j] = u[j] * (sc * (float)a[j]);
    for (int h = g / 2; h >= 1; h /= 2)
        for (int i = 0; i < g; i += 2 * h)
            for (int j = i; j < i + h; j++) {
                float p = u[j], r = u[j + h];
                u[j] = p + r;
                u[j + h] = p - r;
            }
    for (int j = 0; j < g; j++)
        u[j] = u[j] * (float)b[j];
}

/* indices and stored norm (corrected, or raw for turbo4@qjl) of one group */
static float other_group(const float *x, int g, const float *mid, int nmid, int16_t *idx, float *u)
{
    float n = sqrtf(pairwise_sumsq(x, g));
    for (int j = 0; j < g; j++)
        u[j] = n > 1e-10f ? x[j] / n : 0.0f;
    other_transform(u, g, kvv_ref_s1, kvv_ref_s2);
    for (int j = 0; j < g; j++) {
        int k = 0;
        while (k < nmid && u[j] >= mid[k])
            k++;
        idx[j] = (int16_t)k;
    }
    return n;
}

/* Groups whose exact rotated coordinates sit on midpoints: a random unit
 * vector v with `planted` coordinates moved onto their nearest midpoint and
 * the others rescaled to keep |v| = 1, rotated back, scaled, rounded to f32. */
static void planted_groups(float *x, int ngroups, int g, const float *mid, int nmid, int planted, uint64_t seed)
{
    kvv_rng r;
    kvv_rng_seed(&r, seed, KVV_STREAM_X);
    for (int gi = 0; gi < ngroups; gi++) {
        double v[128], n = 0;
        for (int j = 0; j < g; j++) {
            v[j] = kvv_rng_normal(&r);
            n += v[j] * v[j];
        }
        for (int j = 0; j < g; j++)
            v[j] /= sqrt(n);
        double fixed = 0, rest = 0;
        int is_planted[128] = {0};
        for (int p = 0; p < planted; p++) {
            int j = (int)(kvv_rng_uniform(&r) * g);
            if (is_planted[j])
                continue;
            int k = 0;
            for (int i = 1; i < nmid; i++)
                if (fabs(v[j] - mid[i]) < fabs(v[j] - mid[k]))
                    k = i;
            v[j] = mid[k];
            is_planted[j] = 1;
        }
        for (int j = 0; j < g; j++) {
            if (is_planted[j])
                fixed += v[j] * v[j];
            else
                rest += v[j] * v[j];
        }
        double f = sqrt((1 - fixed) / rest);
        for (int j = 0; j < g; j++)
            if (!is_planted[j])
                v[j] *= f;
        kvv_ref_wht(v, 1, g, g, 1);
        double s = 0.1 + 10 * kvv_rng_uniform(&r);
        for (int j = 0; j < g; j++)
            x[gi * g + j] = (float)(v[j] * s);
    }
}

typedef struct order_stats {
    int idx_differ, idx_uncovered, norm_differ, norm_uncovered, sign_differ, sign_uncovered, ntie, nsign_tie,
        nscale_tie;
} order_stats;

/* Quantize NG groups of 128 with ties and compare every field with the
 * other implementation: indices, then (for its own indices, through
 * requantize) the norm, rnorm and QJL signs. */
static void compare_orders(kvv_type t, const float *x, int NG, order_stats *st)
{
    const kvv_type_info *info = kvv_type_get(t);
    const float *c, *m;
    int levels;
    tables_of(t, &c, &m, &levels);
    uint8_t *q = malloc((size_t)NG * 68), rq[68];
    kvv_ref_ties ties;
    memset(st, 0, sizeof *st);
    CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&ties, t, NG, 128), 0);
    CU_ASSERT_EQUAL_FATAL(rt(t)->quantize(x, q, NG, 128, &ties), 0);
    size_t rb = kvv_row_bytes(t, 128);
    int nb = 128 / info->block;
    int8_t s1[128], s2[128];
    qjl_signs(s1, s2);
    for (int gi = 0; gi < NG; gi++) {
        int16_t idx[128], oidx[128], sign[128];
        uint32_t norm[4], rnorm[4];
        float u[128];
        unpack_row(t, q + gi * rb, 128, idx, sign, norm, rnorm);
        float n = other_group(x + gi * 128, 128, m, levels - 1, oidx, u);
        int same = 1;
        for (int j = 0; j < 128; j++) {
            st->ntie += ties.alt[gi * 128 + j] != KVV_NO_TIE;
            st->nsign_tie += ties.sign_tie[gi * 128 + j];
            if (oidx[j] != idx[j]) {
                st->idx_differ++;
                same = 0;
                st->idx_uncovered += ties.alt[gi * 128 + j] != oidx[j];
            }
        }
        for (int b = 0; b < nb; b++)
            st->nscale_tie += ties.scale_tie[gi * nb + b] != 0;
        kvv_ref_ties rt1;
        CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&rt1, t, 1, 128), 0);
        CU_ASSERT_EQUAL_FATAL(rt(t)->requantize(x + gi * 128, oidx, rq, 128, &rt1), 0);
        if (same)
            CU_ASSERT_EQUAL(memcmp(rq, q + gi * rb, rb), 0);
        int16_t ridx[128], rsign[128];
        uint32_t rn[4], rr[4];
        unpack_row(t, rq, 128, ridx, rsign, rn, rr);
        uint16_t onorm;
        if (t == KVV_TURBO4_QJL) {
            onorm = kvv_ref_f32_to_f16(n);
            float res[128];
            for (int j = 0; j < 128; j++)
                res[j] = u[j] - c[oidx[j]];
            uint16_t orn = kvv_ref_f32_to_f16(sqrtf(pairwise_sumsq(res, 128)));
            if (orn != rr[0]) {
                st->norm_differ++;
                st->norm_uncovered += !((rt1.scale_tie[0] & 2) && rt1.scale_alt[1] == orn);
            }
            other_transform(res, 128, s1, s2);
            for (int j = 0; j < 128; j++)
                if ((res[j] >= 0) != rsign[j]) {
                    st->sign_differ++;
                    st->sign_uncovered += !rt1.sign_tie[j];
                }
        } else {
            float cc[128];
            for (int j = 0; j < 128; j++)
                cc[j] = c[oidx[j]];
            onorm = kvv_ref_f32_to_f16(n / sqrtf(pairwise_sumsq(cc, 128)));
        }
        for (int b = 0; b < nb; b++)
            if (onorm != rn[b]) {
                st->norm_differ++;
                st->norm_uncovered += !((rt1.scale_tie[b] & 1) && rt1.scale_alt[2 * b] == onorm);
            }
        kvv_ref_ties_free(&rt1);
    }
    if (st->idx_uncovered || st->norm_uncovered || st->sign_uncovered)
        printf("\n  %s: uncovered idx %d/%d norm %d/%d sign %d/%d\n", kvv_type_name(t), st->idx_uncovered,
               st->idx_differ, st->norm_uncovered, st->norm_differ, st->sign_uncovered, st->sign_differ);
    kvv_ref_ties_free(&ties);
    free(q);
}

static void test_other_order_only_differs_at_ties(void)
{
    enum { NG = 300 };
    float *x = malloc(sizeof(float) * NG * 128);
    for (int ti = 0; ti < N_TURBO; ti++) {
        kvv_type t = turbo_types[ti];
        const float *c, *m;
        int levels;
        tables_of(t, &c, &m, &levels);
        planted_groups(x, NG, 128, m, levels - 1, 12, 100 + (uint64_t)ti);
        order_stats st;
        compare_orders(t, x, NG, &st);
        CU_ASSERT_EQUAL(st.idx_uncovered, 0);
        CU_ASSERT_EQUAL(st.norm_uncovered, 0);
        CU_ASSERT_EQUAL(st.sign_uncovered, 0);
        CU_ASSERT(st.idx_differ > 10);        /* the planted groups reached the midpoints */
        CU_ASSERT(st.ntie >= st.idx_differ);  /* and the reference saw them */
        CU_ASSERT(st.ntie <= NG * 14);        /* but not everything is a tie */
    }
    free(x);
}

/* Groups scaled so that the stored norm's exact value sits within a
 * millionth of an f16 midpoint: the other order's norm may round the other
 * way, and then only where a scale tie says so. */
static void test_other_order_norm_ties(void)
{
    enum { NG = 1500 };
    float *x = malloc(sizeof(float) * NG * 128);
    uint8_t q[68];
    kvv_rng r;
    kvv_rng_seed(&r, 71, KVV_STREAM_X);
    for (int ti = 0; ti < N_TURBO; ti++) {
        kvv_type t = turbo_types[ti];
        const float *c, *m;
        int levels;
        tables_of(t, &c, &m, &levels);
        kvv_gen_fill(x, NG, 128, 0, KVV_DIST_GAUSS, 73 + (uint64_t)ti, KVV_STREAM_K);
        for (int gi = 0; gi < NG; gi++) {
            float *xg = x + gi * 128;
            int16_t idx[128];
            uint32_t norm[4];
            CU_ASSERT_EQUAL_FATAL(rt(t)->quantize(xg, q, 1, 128, NULL), 0);
            unpack_row(t, q, 128, idx, NULL, norm, NULL);
            double n = 0, r2 = 0;
            for (int j = 0; j < 128; j++) {
                n += (double)xg[j] * xg[j];
                r2 += (double)c[idx[j]] * c[idx[j]];
            }
            double v = t == KVV_TURBO4_QJL ? sqrt(n) : sqrt(n / r2);
            uint16_t h = kvv_rq_f64_to_f16(v);
            double mid = 0.5 * (kvv_ref_f16_to_f32(h) + kvv_ref_f16_to_f32((uint16_t)(h + 1)));
            double f = mid / v * (1 + 2e-6 * (kvv_rng_uniform(&r) - 0.5));
            for (int j = 0; j < 128; j++)
                xg[j] = (float)(xg[j] * f);
        }
        order_stats st;
        compare_orders(t, x, NG, &st);
        CU_ASSERT_EQUAL(st.idx_uncovered, 0);
        CU_ASSERT_EQUAL(st.norm_uncovered, 0);
        CU_ASSERT(st.norm_differ > 3);
        CU_ASSERT(st.nscale_tie > st.norm_differ);
    }
    free(x);
}

/* turbo4@qjl groups whose exact residual has a few projections at 0: a unit
 * vector u is moved along QJL rows until (QJL(u - C3[idx]))_k = 0 for four
 * k, rotated back and rounded to f32.  The other order's signs may differ
 * there, and only where a sign tie is recorded. */
static void test_other_order_sign_ties(void)
{
    enum { NG = 400 };
    float *x = malloc(sizeof(float) * NG * 128);
    int8_t s1[128], s2[128];
    qjl_signs(s1, s2);
    kvv_rng r;
    kvv_rng_seed(&r, 79, KVV_STREAM_X);
    for (int gi = 0; gi < NG; gi++) {
        double u[128], n = 0;
        int ks[4];
        for (int j = 0; j < 128; j++) {
            u[j] = kvv_rng_normal(&r);
            n += u[j] * u[j];
        }
        for (int j = 0; j < 128; j++)
            u[j] /= sqrt(n);
        for (int k = 0; k < 4; k++)
            ks[k] = (int)(kvv_rng_uniform(&r) * 128);
        for (int it = 0; it < 8; it++) {
            double res[128];
            for (int j = 0; j < 128; j++) {
                int i = 0;
                while (i < 7 && u[j] >= kvv_rq_m3[i])
                    i++;
                res[j] = u[j] - kvv_rq_c3[i];
            }
            kvv_rq_wht_f64(res, 128, s1, s2); /* p = Q res */
            for (int k = 0; k < 4; k++) {
                double row[128] = {0};
                row[ks[k]] = res[ks[k]];
                kvv_rq_wht_f64(row, 128, s2, s1); /* p_k Q^T e_k */
                for (int j = 0; j < 128; j++)
                    u[j] -= row[j];
                res[ks[k]] = 0;
            }
            n = 0;
            for (int j = 0; j < 128; j++)
                n += u[j] * u[j];
            for (int j = 0; j < 128; j++)
                u[j] /= sqrt(n);
        }
        kvv_ref_wht(u, 1, 128, 128, 1);
        double sc = 0.5 + kvv_rng_uniform(&r);
        for (int j = 0; j < 128; j++)
            x[gi * 128 + j] = (float)(u[j] * sc);
    }
    order_stats st;
    compare_orders(KVV_TURBO4_QJL, x, NG, &st);
    printf("  sign ties %d, other order differs at %d ", st.nsign_tie, st.sign_differ);
    CU_ASSERT_EQUAL(st.idx_uncovered, 0);
    CU_ASSERT_EQUAL(st.norm_uncovered, 0);
    CU_ASSERT_EQUAL(st.sign_uncovered, 0);
    CU_ASSERT(st.sign_differ > 3);
    CU_ASSERT(st.nsign_tie >= NG * 2);   /* most planted projections are ties */
    CU_ASSERT(st.nsign_tie <= NG * 12);  /* and few others */
    free(x);
}

/* On ordinary data: the canonical indices are the exact ones except at
 * recorded ties (whose alternative is then the exact one), and ties are rare. */
static void test_exact_indices_and_tie_rate(void)
{
    enum { NG = 200 };
    float *x = malloc(sizeof(float) * NG * 128);
    uint8_t *q = malloc((size_t)NG * 68);
    kvv_gen_fill(x, NG, 128, 0, KVV_DIST_GAUSS, 53, KVV_STREAM_V);
    for (int ti = 0; ti < N_TURBO; ti++) {
        kvv_type t = turbo_types[ti];
        const float *c, *m;
        int levels;
        tables_of(t, &c, &m, &levels);
        kvv_ref_ties ties;
        CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&ties, t, NG, 128), 0);
        CU_ASSERT_EQUAL_FATAL(rt(t)->quantize(x, q, NG, 128, &ties), 0);
        int uncovered = 0, nt = 0, sign_ties = 0, scale_ties = 0;
        size_t rb = kvv_row_bytes(t, 128);
        for (int gi = 0; gi < NG; gi++) {
            int16_t idx[128];
            uint32_t norm[4];
            unpack_row(t, q + gi * rb, 128, idx, NULL, norm, NULL);
            double v[128], n = 0;
            for (int j = 0; j < 128; j++)
                n += (double)x[gi * 128 + j] * x[gi * 128 + j];
            for (int j = 0; j < 128; j++)
                v[j] = x[gi * 128 + j] / sqrt(n);
            kvv_ref_wht(v, 1, 128, 128, 0);
            for (int j = 0; j < 128; j++) {
                int k = 0;
                while (k < levels - 1 && v[j] >= m[k])
                    k++;
                nt += ties.alt[gi * 128 + j] != KVV_NO_TIE;
                sign_ties += ties.sign_tie[gi * 128 + j];
                if (k != idx[j])
                    uncovered += ties.alt[gi * 128 + j] != k;
            }
        }
        for (int b = 0; b < NG * 128 / kvv_type_get(t)->block; b++)
            scale_ties += ties.scale_tie[b] != 0;
        CU_ASSERT_EQUAL(uncovered, 0);
        CU_ASSERT(nt < NG * 128 / 2000);
        printf(" [%s: %d index ties, %d scale-tied blocks, %d sign ties]", kvv_type_name(t), nt, scale_ties, sign_ties);
        CU_ASSERT(scale_ties < NG * 128 / kvv_type_get(t)->block / 10);
        if (t == KVV_TURBO4_QJL) {
            CU_ASSERT(sign_ties < NG * 128 / 200);
        } else {
            CU_ASSERT_EQUAL(sign_ties, 0);
        }
        kvv_ref_ties_free(&ties);
    }
    free(x);
    free(q);
}

/* turbo4@qjl: the raw norm is stored; the QJL term improves on the plain
 * 3-bit reconstruction on average; and its signs are those of the exact
 * projections except where a sign tie is recorded. */
static void test_qjl(void)
{
    enum { NG = 200 };
    float *x = malloc(sizeof(float) * NG * 128), *y = malloc(sizeof(float) * NG * 128);
    uint8_t *q = malloc((size_t)NG * 68);
    kvv_gen_fill(x, NG, 128, 0, KVV_DIST_GAUSS, 59, KVV_STREAM_K);
    kvv_ref_ties ties;
    CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&ties, KVV_TURBO4_QJL, NG, 128), 0);
    CU_ASSERT_EQUAL_FATAL(rt(KVV_TURBO4_QJL)->quantize(x, q, NG, 128, &ties), 0);
    rt(KVV_TURBO4_QJL)->dequantize(q, y, NG, 128);
    int8_t s1[128], s2[128];
    qjl_signs(s1, s2);
    double e_qjl = 0, e_plain = 0;
    int better = 0, sign_bad = 0, sign_ties = 0;
    for (int gi = 0; gi < NG; gi++) {
        const float *xg = x + gi * 128;
        int16_t idx[128], sign[128];
        uint32_t norm[1], rnorm[1];
        unpack_row(KVV_TURBO4_QJL, q + gi * 68, 128, idx, sign, norm, rnorm);
        float s = 0;
        for (int j = 0; j < 128; j++)
            s += xg[j] * xg[j];
        CU_ASSERT_EQUAL(norm[0], kvv_ref_f32_to_f16(sqrtf(s)));
        /* the exact rotated x, the exact residual and its projections */
        double v[128], n = 0, res[128], rn = 0;
        for (int j = 0; j < 128; j++)
            n += (double)xg[j] * xg[j];
        for (int j = 0; j < 128; j++)
            v[j] = xg[j];
        kvv_ref_wht(v, 1, 128, 128, 0);
        double eq = 0, ep = 0, nf = kvv_ref_f16_to_f32((uint16_t)norm[0]);
        for (int j = 0; j < 128; j++) {
            eq += (y[gi * 128 + j] - v[j]) * (y[gi * 128 + j] - v[j]);
            ep += (kvv_rq_c3[idx[j]] * nf - v[j]) * (kvv_rq_c3[idx[j]] * nf - v[j]);
            res[j] = v[j] / sqrt(n) - kvv_rq_c3[idx[j]];
            rn += res[j] * res[j];
        }
        CU_ASSERT(fabs(kvv_ref_f16_to_f32((uint16_t)rnorm[0]) / sqrt(rn) - 1) < 0x1p-10);
        e_qjl += eq;
        e_plain += ep;
        better += eq < ep;
        kvv_rq_wht_f64(res, 128, s1, s2);
        for (int j = 0; j < 128; j++) {
            sign_ties += ties.sign_tie[gi * 128 + j];
            if ((res[j] >= 0) != sign[j])
                sign_bad += !ties.sign_tie[gi * 128 + j];
        }
    }
    printf("  QJL error / 3-bit error: %.3f, better in %d of %d groups, %d sign ties ", e_qjl / e_plain, better,
           NG, sign_ties);
    CU_ASSERT(e_qjl < 0.95 * e_plain);
    CU_ASSERT(better > NG * 3 / 4);
    CU_ASSERT_EQUAL(sign_bad, 0);
    kvv_ref_ties_free(&ties);
    free(x);
    free(y);
    free(q);
}

/* requantize with an index taken the other way: the norm follows the new
 * r, the index is stored, nothing else moves. */
static void test_requantize_alt_index(void)
{
    float x[128];
    uint8_t q[4 * 14], r[4 * 14];
    int16_t idx[128];
    uint32_t norm[4], rnorm[4];
    kvv_gen_fill(x, 1, 128, 0, KVV_DIST_GAUSS, 61, KVV_STREAM_K);
    CU_ASSERT_EQUAL_FATAL(rt(KVV_TURBO3)->quantize(x, q, 1, 128, NULL), 0);
    unpack_row(KVV_TURBO3, q, 128, idx, NULL, norm, rnorm);
    int j = 0;
    while (idx[j] == 7)
        j++;
    idx[j]++;
    kvv_ref_ties t;
    CU_ASSERT_EQUAL_FATAL(kvv_ref_ties_alloc(&t, KVV_TURBO3, 1, 128), 0);
    CU_ASSERT_EQUAL_FATAL(rt(KVV_TURBO3)->requantize(x, idx, r, 128, &t), 0);
    int16_t idx2[128];
    uint32_t norm2[4];
    unpack_row(KVV_TURBO3, r, 128, idx2, NULL, norm2, rnorm);
    CU_ASSERT_EQUAL(memcmp(idx, idx2, sizeof idx), 0);
    double r2 = 0, n = 0;
    for (int k = 0; k < 128; k++) {
        r2 += (double)kvv_rq_c3[idx[k]] * kvv_rq_c3[idx[k]];
        n += (double)x[k] * x[k];
    }
    for (int b = 0; b < 4; b++) {
        CU_ASSERT_EQUAL(norm2[b], norm2[0]);
        CU_ASSERT(fabs(kvv_ref_f16_to_f32((uint16_t)norm2[b]) / (sqrt(n) / sqrt(r2)) - 1) <= 0x1p-11 + 1e-6);
    }
    kvv_ref_ties_free(&t);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"x = 3 e_0: bytes by hand for every 4-byte-header turbo type", test_known_group},
        {"zero group: upper-middle indices, norm 0", test_zero_group},
        {"corrected norm: dequantized group norm = |x| within f16 rounding", test_norm_correction},
        {"group shapes: 64 spans two turbo3 blocks, 256 two groups, 96 and 80", test_group_shapes},
        {"core codec agrees; requantize(canonical indices) = bytes", test_core_codec_and_requantize},
        {"turbo3 4-magnitude LUT = 8-entry table", test_turbo3_lut_equivalence},
        {"another f32 order differs only at recorded ties (idx, norm, rnorm, signs)",
         test_other_order_only_differs_at_ties},
        {"another f32 order: norms near f16 midpoints", test_other_order_norm_ties},
        {"another f32 order: QJL projections at 0", test_other_order_sign_ties},
        {"exact indices except at ties; tie rates", test_exact_indices_and_tie_rate},
        {"turbo4@qjl: raw norm, QJL improves on 3-bit, signs", test_qjl},
        {"requantize with an index taken the other way", test_requantize_alt_index},
        {NULL, NULL},
    };
    kvv_add_suite("ref_turbo", tests);
}
