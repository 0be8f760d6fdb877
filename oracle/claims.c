/* A backend's precision claim (kvv_attn_info), checked before the oracle
 * builds any bound from it.
 *
 * The arith bound grows with the unit roundoffs a backend reports, so a
 * report is a request for leniency and is treated as untrusted input:
 *
 * 1. It must name a precision that exists (kvv_claim_check).
 *      acc_round  f32 or finer: 0 <= u <= 2^-24; f16 (and tf32): 2^-11;
 *                 bf16: 2^-8.  No hardware accumulates in anything coarser.
 *      kv_round   0 <= uk <= 1.  The float conversions give 2^-24 (f32),
 *                 2^-11 and 2^-10 (one or two f16 roundings), 2^-8 and
 *                 2^-7 (bf16); a conversion of Q to a block type (ggml's
 *                 q8_0/q8_1 vec_dot types) moves a score by a data
 *                 dependent fraction of sum |q||k|, but never by more than
 *                 the whole of it: rounding to a grid that holds 0 and the
 *                 block's own maximum moves no value by more than itself.
 *    NaN, an infinity, a negative value or one outside these is an
 *    "invalid precision claim" (rule arith).
 *
 * 2. kv_round is capped at what a conversion that exists can need on this
 *    very input (kvv_claim_kv_cap): the bf16 operands' 2^-7, or, when K is
 *    made of 32-value blocks, the most a q8 conversion of this Q moves any
 *    score, bounded element by element (below).  A claim above the cap
 *    buys nothing.
 *
 * 3. The budget rule's arithmetic allowance is not the claimed worst case.
 *    A first-order worst-case bound adds every rounding error with the same
 *    sign: at f16 it allows a score error of (dk + 2) 2^-11 sum |q||k|,
 *    6% of sum |q||k| at dk 128, which lets the weights go nearly anywhere
 *    (a kernel that ignores Q passes it on Gaussian data).  What the claimed
 *    precision can explain on this input is measured instead: the oracle
 *    runs the attention itself in that precision (kvv_claim_emulate: the
 *    operands converted as the claim says, every product, sum, exp and
 *    rescale rounded to the accumulation type, one online-softmax pass in
 *    key order) over the backend's own cache, and the largest rms distance
 *    from the exact attention over the same cache, over the ways the claim
 *    can be met (which operands are converted), is the allowance.  Sequential
 *    order is the natural order with the largest partial sums, so it shows
 *    the cancellation-free growth and the stagnation of long f16 sums (a
 *    sum 2^11 times a term no longer moves) that a random-rounding model
 *    would miss; a kernel with another order (tiles, lanes, a tree) makes
 *    errors of the same kind and size, which the budget threshold's factor
 *    of 2 covers.  Nothing in it is a constant picked to fit: it is that
 *    arithmetic, done on that input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/rules.h"

#define U_F32 0x1p-24
#define U_F16 0x1p-11
#define U_BF16 0x1p-8

int kvv_claim_check(double kv_round, double acc_round, char *why, size_t n)
{
    const char *bad = NULL;
    if (isnan(kv_round) || isnan(acc_round))
        bad = "NaN";
    else if (isinf(kv_round) || isinf(acc_round))
        bad = "infinite";
    else if (kv_round < 0 || acc_round < 0)
        bad = "negative";
    else if (kv_round > KVV_CLAIM_KV_CEILING)
        bad = "kv_round above 1: no conversion moves a value by more than itself";
    else if (acc_round > U_F32 && acc_round != U_F16 && acc_round != U_BF16)
        bad = "acc_round is none of f32 or finer (<= 2^-24), f16 (2^-11), bf16 (2^-8)";
    if (!bad)
        return 0;
    snprintf(why, n, "invalid precision claim: kv_round=%.6g acc_round=%.6g (%s)", kv_round, acc_round, bad);
    return -1;
}

void kvv_claim_text(double kv_round, double acc_round, char *buf, size_t n)
{
    char label[160];
    kvv_claim_label(kv_round, acc_round, label, sizeof label);
    snprintf(buf, n, "claimed %s", label);
}

int kvv_claim_coarse(double kv_round, double acc_round) { return kv_round > U_F32 || acc_round > U_F32; }

/* The most a q8_0 or q8_1 conversion of Q (blocks of 32, scale d =
 * amax / 127 stored in f16, codes round(q / d)) moves a score, over
 * sum |q||k|, for every (query, key) pair; 0 when dk is not made of
 * blocks.  Per element: |code d - q| <= min(|q|, d / 2) (a value below d / 2
 * becomes 0), and the f16 scale adds |code| |d16 - d| <= (|q| + d / 2) 2^-11;
 * q8_1's f16 block sum adds 2^-11 sum_block (|q| + d / 2) times the block's
 * largest |k| (the adapter's own model of it). */
static double q8_allowance(const kvv_ref_attn_args *a)
{
    const int dk = a->dk, bs = 32, nb = dk / bs;
    if (dk % bs)
        return 0;
    double *e = malloc(sizeof(double) * (size_t)dk), *aq = malloc(sizeof(double) * (size_t)dk);
    double *bsum = malloc(sizeof(double) * (size_t)nb);
    double worst = 0;
    if (!e || !aq || !bsum) {
        worst = 0; /* cannot tell: no q8 allowance */
        goto out;
    }
    const int grp = a->n_head / a->n_head_kv;
    for (int h = 0; h < a->n_head; h++)
        for (int i = 0; i < a->n_q; i++) {
            const double *q = a->q + ((size_t)h * a->n_q + i) * dk;
            for (int b = 0; b < nb; b++) {
                double amax = 0;
                for (int c = b * bs; c < (b + 1) * bs; c++)
                    amax = fmax(amax, fabs(q[c]));
                const double d = amax / 127;
                bsum[b] = 0;
                for (int c = b * bs; c < (b + 1) * bs; c++) {
                    aq[c] = fabs(q[c]);
                    e[c] = fmin(aq[c], d / 2) + (aq[c] + d / 2) * U_F16;
                    bsum[b] += (aq[c] + d / 2) * U_F16;
                }
            }
            for (int j = 0; j < a->n_kv; j++) {
                const double *k = a->k + ((size_t)(h / grp) * a->n_kv + j) * dk;
                double num = 0, den = 0;
                for (int b = 0; b < nb; b++) {
                    double kmax = 0;
                    for (int c = b * bs; c < (b + 1) * bs; c++) {
                        const double ak = fabs(k[c]);
                        num += e[c] * ak;
                        den += aq[c] * ak;
                        kmax = fmax(kmax, ak);
                    }
                    num += bsum[b] * kmax;
                }
                if (den > 0 && isfinite(num) && num / den > worst)
                    worst = num / den;
            }
        }
out:
    free(e);
    free(aq);
    free(bsum);
    return fmin(worst, KVV_CLAIM_KV_CEILING);
}

double kvv_claim_kv_cap(const kvv_ref_attn_args *a, double kv_round)
{
    if (kv_round <= 2 * U_BF16)
        return kv_round; /* within the float conversions: nothing to cap */
    return fmin(kv_round, fmax(2 * U_BF16, q8_allowance(a)));
}

/* ---- the attention in the claimed precision ---- */

typedef enum { FMT_EXACT, FMT_F32, FMT_F16, FMT_BF16 } fmt_kind;
typedef struct {
    fmt_kind kind;
} fmt;

static double rnd(fmt f, double x)
{
    switch (f.kind) {
    case FMT_F32:
        return (float)x;
    case FMT_F16:
        return kvv_ref_f16_to_f32(kvv_ref_f32_to_f16((float)x));
    case FMT_BF16:
        return kvv_ref_bf16_to_f32(kvv_ref_f32_to_bf16((float)x));
    default:
        return x;
    }
}

/* A row through the reference's q8_0 (blocks of 32, as ggml converts Q
 * for a block-type K); 0, or -1 when memory runs out. */
static int q8_row(double *q, int n)
{
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    void *blocks = malloc(kvv_row_bytes(KVV_Q8_0, n));
    int rc = -1;
    if (x && y && blocks) {
        for (int i = 0; i < n; i++)
            x[i] = (float)q[i];
        const kvv_ref_type *t = kvv_ref_type_get(KVV_Q8_0);
        if (t->quantize(x, blocks, 1, n, NULL) == 0) {
            t->dequantize(blocks, y, 1, n);
            for (int i = 0; i < n; i++)
                q[i] = y[i];
            rc = 0;
        }
    }
    free(x);
    free(y);
    free(blocks);
    return rc;
}

int kvv_claim_variants(double kv_round) { return kv_round > U_F32 && kv_round <= 2 * U_BF16 ? 3 : 1; }

int kvv_claim_emulate(const kvv_ref_attn_args *a, double kv_round, double acc_round, int variant, double *out)
{
    const fmt acc = {acc_round <= U_F32 ? FMT_F32 : acc_round == U_F16 ? FMT_F16 : FMT_BF16};
    /* the operands, in the format the claim names (f16 up to two of its
     * roundings, bf16 up to two of its): V, and K (variant 0), Q*scale
     * (variant 1) or both (variant 2).  A conversion is the same whoever
     * makes it, so the variant that converts what the kernel converts
     * reproduces its operand errors exactly; on data where a few large
     * products carry the scores (outlier channels) another variant's
     * errors can be a few times smaller, hence all of them.  Beyond bf16
     * only a conversion of Q to a block type moves scores that much
     * (kvv_claim_kv_cap): Q through q8_0, with K and V in bf16. */
    fmt op = {FMT_EXACT};
    int round_q = 0, round_k = 0, q8 = 0;
    if (kv_round > U_F32) {
        round_k = variant != 1;
        round_q = variant != 0;
        if (kv_round <= 2 * U_F16)
            op.kind = FMT_F16;
        else if (kv_round <= 2 * U_BF16)
            op.kind = FMT_BF16;
        else
            op.kind = FMT_BF16, q8 = 1, round_q = 0, round_k = 1;
    }
    const int dk = a->dk, dv = a->dv, grp = a->n_head / a->n_head_kv;
    const size_t nk = (size_t)a->n_head_kv * a->n_kv;
    double *k = malloc(sizeof(double) * nk * (size_t)dk), *v = malloc(sizeof(double) * nk * (size_t)dv);
    double *q = malloc(sizeof(double) * (size_t)dk), *o = malloc(sizeof(double) * (size_t)dv);
    int rc = -1;
    if (!k || !v || !q || !o)
        goto out;
    for (size_t i = 0; i < nk * (size_t)dk; i++)
        k[i] = round_k ? rnd(op, a->k[i]) : a->k[i];
    for (size_t i = 0; i < nk * (size_t)dv; i++)
        v[i] = rnd(op, a->v[i]);
    for (int h = 0; h < a->n_head; h++) {
        const double slope = kvv_ref_alibi_slope(h, a->n_head, a->max_bias);
        const double *kh = k + (size_t)(h / grp) * a->n_kv * dk, *vh = v + (size_t)(h / grp) * a->n_kv * dv;
        for (int i = 0; i < a->n_q; i++) {
            const double *qi = a->q + ((size_t)h * a->n_q + i) * dk;
            for (int c = 0; c < dk; c++)
                q[c] = round_q ? rnd(op, qi[c] * a->scale) : qi[c];
            if (q8 && q8_row(q, dk))
                goto out;
            double m = -INFINITY, l = 0;
            memset(o, 0, sizeof(double) * (size_t)dv);
            for (int j = 0; j < a->n_kv; j++) {
                const double mk = a->mask ? (double)a->mask[(size_t)i * a->n_kv + j] : 0.0;
                if (mk == -INFINITY)
                    continue;
                const double *kj = kh + (size_t)j * dk;
                double s = 0;
                for (int c = 0; c < dk; c++)
                    s = rnd(acc, s + rnd(acc, q[c] * kj[c]));
                if (!round_q)
                    s = rnd(acc, s * a->scale);
                if (a->softcap != 0.0)
                    s = rnd(acc, a->softcap * tanh(s / a->softcap));
                s = rnd(acc, s + slope * mk);
                if (s > m) {
                    const double r = m == -INFINITY ? 0.0 : rnd(acc, exp(m - s));
                    for (int d = 0; d < dv; d++)
                        o[d] = rnd(acc, o[d] * r);
                    l = rnd(acc, l * r);
                    m = s;
                }
                const double w = rnd(acc, exp(s - m));
                const double *vj = vh + (size_t)j * dv;
                for (int d = 0; d < dv; d++)
                    o[d] = rnd(acc, o[d] + rnd(acc, w * vj[d]));
                l = rnd(acc, l + w);
            }
            double *oi = out + ((size_t)h * a->n_q + i) * dv;
            for (int d = 0; d < dv; d++)
                oi[d] = l > 0 ? o[d] / l : 0.0;
        }
    }
    rc = 0;
out:
    free(k);
    free(v);
    free(q);
    free(o);
    return rc;
}
