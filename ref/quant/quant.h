/* Private interface of the reference quantizers (the files of ref/quant, ref/ties.c,
 * ref/wht.c, ref/table.c).  Nothing outside ref/ and its tests includes it.
 *
 * Conventions: every quantizer evaluates the spec's formulas in f32, one
 * explicit operation at a time (the build has -ffp-contract=off, so no
 * multiply-add is fused), and derives its tie information from the exact
 * values computed in f64. */
#ifndef KVV_REF_QUANT_H
#define KVV_REF_QUANT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ref/ref.h"

/* unit roundoff of f32 (half an ulp of 1) */
#define KVV_RQ_U32 0x1p-24

/* ---- the rows of the reference type table, one per family file ---- */
extern const kvv_ref_type kvv_rq_f32, kvv_rq_f16, kvv_rq_bf16;
extern const kvv_ref_type kvv_rq_q8_0, kvv_rq_q4_0, kvv_rq_q4_1, kvv_rq_q5_0, kvv_rq_q5_1;
extern const kvv_ref_type kvv_rq_iq4_nl, kvv_rq_iq4_nl_search;
extern const kvv_ref_type kvv_rq_turbo2, kvv_rq_turbo2_qk128, kvv_rq_turbo3, kvv_rq_turbo3_qk128, kvv_rq_turbo4;
extern const kvv_ref_type kvv_rq_turbo4_qjl, kvv_rq_turbo4_narrow;

/* ---- little-endian fields ---- */
static inline void kvv_rq_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline uint16_t kvv_rq_rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* ggml's 32-value nibble layout: element j in the low nibble of qs[j],
 * element j+16 in the high nibble; with qh, bit 4 of element j goes to bit j
 * of the little-endian 32-bit qh. */
static inline void kvv_rq_pack_nibbles(const uint8_t L[32], uint8_t *qs, uint8_t *qh)
{
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((L[j] & 0x0f) | ((L[j + 16] & 0x0f) << 4));
        h |= (uint32_t)((L[j] >> 4) & 1) << j;
        h |= (uint32_t)((L[j + 16] >> 4) & 1) << (j + 16);
    }
    if (qh)
        for (int i = 0; i < 4; i++)
            qh[i] = (uint8_t)(h >> (8 * i));
}
static inline void kvv_rq_unpack_nibbles(const uint8_t *qs, const uint8_t *qh, uint8_t L[32])
{
    uint32_t h = qh ? (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24 : 0;
    for (int j = 0; j < 16; j++) {
        L[j] = (uint8_t)((qs[j] & 0x0f) | (((h >> j) & 1) << 4));
        L[j + 16] = (uint8_t)((qs[j] >> 4) | (((h >> (j + 16)) & 1) << 4));
    }
}

/* The low byte of a float converted to an integer as ggml's `(int8_t)v` and
 * `(uint8_t)v` compile on x86 (truncate to a 32-bit integer, keep the low
 * byte; NaN and out-of-range give the "integer indefinite" 0x80000000, whose
 * low byte is 0).  Defined for every input, unlike the C cast. */
static inline int kvv_rq_trunc_byte(float v)
{
    if (!(v > -2147483648.0f && v < 2147483648.0f))
        return 0;
    return (int)((uint32_t)(int32_t)v & 0xffu);
}
static inline int kvv_rq_trunc_i8(float v) { return (int)(int8_t)(uint8_t)kvv_rq_trunc_byte(v); }

/* ---- shape checks and block loops (ref/quant/rows.c) ---- */
/* The group/block shape check every quantizer starts with (kvv_type_fits). */
int kvv_rq_shape_ok(kvv_type t, int64_t nrows, int64_t ncols);
/* One block of a ggml type: x[32] -> bytes.  e0 / blk: the element and
 * block indices of the block in the tie arrays. */
typedef void (*kvv_rq_block_q)(const float *x, uint8_t *dst, kvv_ref_ties *t, int64_t e0, int64_t blk);
typedef void (*kvv_rq_block_dq)(const uint8_t *src, float *y);
int kvv_rq_quantize_blocks(kvv_type type, kvv_rq_block_q fn, const float *x, void *dst, int64_t nrows,
                           int64_t ncols, kvv_ref_ties *t);
void kvv_rq_dequantize_blocks(kvv_type type, kvv_rq_block_dq fn, const void *src, float *dst, int64_t nrows,
                              int64_t ncols);

/* ---- tie recording (ref/ties.c); every function accepts t == NULL ---- */
/* Element `e` whose exact pre-rounding value lies in [vlo, vhi] (one value,
 * or the values of equivalent ways to write the formula, e.g. x*id as ggml
 * writes it and x/d as the formula reads): when the boundary b between index
 * `below` and index `above` lies within `win` of that interval, record the
 * side the canonical index did not take.  Nothing when below == above (a
 * clamp makes both sides the same) or canon is on neither side. */
void kvv_rq_tie_index(kvv_ref_ties *t, int64_t e, double vlo, double vhi, double b, double win, int canon,
                      int below, int above);
/* Scale field `field` of block `blk` stored as f16 bits `canon`, whose exact
 * value is v and whose f32 evaluation may be off by up to abs_err: when an
 * f16 rounding boundary lies within that window (widened by one f32 ulp),
 * record the other f16 neighbour. */
void kvv_rq_tie_scale_f16(kvv_ref_ties *t, int64_t blk, int field, double v, double abs_err, uint16_t canon);
/* f16 bits of the value nearest v (round to nearest even), from a double */
uint16_t kvv_rq_f64_to_f16(double v);

/* Ties of ggml's integer conversions.  va, vb: the exact quantity as x*id
 * (ggml's reference) and as x/d (a correct implementation may divide).  The
 * window is one f32 ulp in each domain where the f32 evaluation rounds: at
 * the boundary, and (`inner`) at the intermediate product before an offset
 * is added, since a rounding there moves the result by up to half an ulp of
 * the product, which for q4_0's x*id + 8.5 near 1 is two ulps of the sum. */
/* roundf (half away from zero): boundaries at k + 1/2 between k and k+1 */
static inline void kvv_rq_tie_round(kvv_ref_ties *t, int64_t e, double va, double vb, int canon)
{
    if (!t || !(fabs(va) < 1e6) || !(fabs(vb) < 1e6))
        return;
    double lo = fmin(va, vb), hi = fmax(va, vb), k = floor(0.5 * (lo + hi)), b = k + 0.5;
    /* |b| >= 1/2, so its window (one f32 ulp) is at most |b| * 2^-23: an
     * element that far from the boundary is no tie (the comparisons of
     * kvv_rq_tie_index round monotonically, so the wider window rejects
     * only what the exact one would) and skips the call */
    double w = fabs(b) * 0x1p-23;
    if (b < lo - w || b > hi + w)
        return;
    kvv_rq_tie_index(t, e, lo, hi, b, kvv_ref_ulp32(b), canon, (int)k, (int)k + 1);
}
/* Whether the exact value va (as x*id; the formula's x/d lies within
 * |va| 2^-22 of it) is so far from every boundary, the integers (half 0)
 * or the integers + 1/2 (half 0.5), that kvv_rq_tie_trunc and
 * kvv_rq_tie_round would record nothing: farther than twice the largest
 * |va - vb| plus window they can use for a |va| below 2^50 (the windows
 * of the types' formulas are a few f32 ulps of values below 40).  Lets the
 * block quantizers skip the division x/d and the tie test for almost every
 * element.  Not certain (NaN, Inf, huge): 0. */
static inline int kvv_rq_far_from_grid(double va, double half)
{
    if (!(fabs(va) < 0x1p50))
        return 0;
    double w = va - half, n = (w + 0x1.8p52) - 0x1.8p52; /* the nearest integer to w */
    return fabs(w - n) > 2 * ((fabs(va) + 17) * 0x1p-20 + 0x1p-140);
}

/* truncation toward zero then MIN(maxq, .): boundaries at the integers */
static inline void kvv_rq_tie_trunc(kvv_ref_ties *t, int64_t e, double va, double vb, double inner, int maxq,
                                    int canon)
{
    if (!t || !(fabs(va) < 1e6) || !(fabs(vb) < 1e6))
        return;
    double lo = fmin(va, vb), hi = fmax(va, vb), b = floor(0.5 * (lo + hi) + 0.5);
    int below = (int)(b > 0 ? b - 1 : b), above = (int)(b >= 0 ? b : b + 1);
    below = below < maxq ? below : maxq;
    above = above < maxq ? above : maxq;
    /* as in kvv_rq_tie_round: a window at least as wide as the exact one
     * (one f32 ulp is at most max(|b| 2^-23, 2^-149)) rejects clear cases */
    double w = fmax(fabs(b) * 0x1p-23, 0x1p-149) + inner;
    if (b < lo - w || b > hi + w)
        return;
    kvv_rq_tie_index(t, e, lo, hi, b, kvv_ref_ulp32(b) + inner, canon, below, above);
}

/* ---- Walsh-Hadamard transforms (ref/wht.c) ---- */
/* (float)(1/sqrt(g)) as the forks store it */
float kvv_rq_inv_sqrt_f32(int g);
/* The forks' f32 transform of g values: v *= a; butterfly over h = 1, 2, ..,
 * g/2 (pairs (j, j+h) in blocks of 2h -> (a+b, a-b)); v *= 1/sqrt(g) (f32);
 * v *= b.  Forward rotation: a = S1, b = S2; its inverse: a = S2, b = S1. */
void kvv_rq_wht_f32(float *v, int g, const int8_t *a, const int8_t *b);
/* The same transform in f64 with the exact 1/sqrt(g). */
void kvv_rq_wht_f64(double *v, int g, const int8_t *a, const int8_t *b);
/* Bound on |u32 - u| for a rotated coordinate u of a unit vector computed by
 * any correct f32 implementation (see wht.c for the derivation). */
double kvv_rq_rot_err(double u, int g);
/* Bound on the l2 norm of the error vector (u32 - u) of a whole group. */
double kvv_rq_rot_err_l2(int g);

/* ---- TurboQuant centroid tables as the forks store them (f32), ref/quant/turbo.c ---- */
extern const float kvv_rq_c2[4], kvv_rq_m2[3];
extern const float kvv_rq_c3[8], kvv_rq_m3[7];
extern const float kvv_rq_c4[16], kvv_rq_m4[15];
extern const float kvv_rq_c4n[16], kvv_rq_m4n[15];

/* One rotation group, canonical (f32) and exact (f64). */
typedef struct kvv_rq_group {
    int g;
    float n;        /* sqrtf of the sequential f32 sum of squares */
    float u[128];   /* canonical rotated coordinates of x * (1/n) */
    int zero;       /* n <= 1e-10: u is all zero */
    double ne;      /* exact norm */
    double ue[128]; /* exact rotated coordinates of x / ne (valid when !zero and exact was asked) */
} kvv_rq_group;
/* Normalize and rotate g values with S1/S2; exact: also fill ne and ue. */
void kvv_rq_group_rotate(const float *x, int g, int exact, kvv_rq_group *gr);
/* Index of u among the centroids: the number of midpoints m[k] <= u. */
int kvv_rq_centroid_index(float u, const float *mid, int nmid);
/* Record index ties of a group: exact ue against the midpoints, window
 * max(ulp at the midpoint, kvv_rq_rot_err). e0: tie index of element 0. */
void kvv_rq_group_index_ties(const kvv_rq_group *gr, const int16_t *idx, const float *mid, int nmid,
                             kvv_ref_ties *t, int64_t e0);

#endif
