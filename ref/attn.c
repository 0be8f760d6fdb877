/* Reference attention (SPEC 4, ggml_flash_attn_ext semantics) in f64.
 * Scores and the weighted sum are two GEMMs through BLAS; the softmax is the
 * plain two-pass one (max, then exp and sum), with none of the online
 * rescaling a kernel does, so that it is an independent witness. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"

/* 1 when no element of x is Inf or NaN.  Tested on the exponent bits: the
 * exponent field plus one carries into the sign bit only when it is all
 * ones, so a block is an OR of integer adds, which the compiler vectorizes
 * (isfinite() per element with an early exit cost more than the GEMMs). */
static int all_finite(const double *x, size_t n)
{
    const uint64_t exp_mask = 0x7ff0000000000000u, exp_one = 0x0010000000000000u;
    size_t i = 0;
    while (i < n) {
        size_t end = n - i > 1024 ? i + 1024 : n;
        uint64_t acc = 0;
        for (; i < end; i++) {
            uint64_t u;
            memcpy(&u, x + i, sizeof u);
            acc |= (u & exp_mask) + exp_one;
        }
        if (acc >> 63)
            return 0;
    }
    return 1;
}

void kvv_ref_blas_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

double kvv_ref_alibi_slope(int h, int n_head, double max_bias)
{
    if (max_bias <= 0.0)
        return 1.0;
    /* ggml: n_head_log2 = 1 << floor(log2(n_head)); the first n_head_log2
     * heads take powers of m0, the rest odd powers of m1 */
    unsigned n_head_log2 = 1u << (unsigned)floor(log2((double)n_head));
    double m0 = pow(2.0, -max_bias / n_head_log2);
    double m1 = pow(2.0, -(max_bias / 2.0) / n_head_log2);
    return (unsigned)h < n_head_log2 ? pow(m0, h + 1) : pow(m1, 2 * (h - (int)n_head_log2) + 1);
}

/* Softmax of one score row in place (scale, softcap, mask, ALiBi, then the
 * plain two-pass max/exp/sum); 1 when the row has no visible key. */
static int softmax_row(const kvv_ref_attn_args *a, const float *mrow, double slope, double *row, double *scores,
                       double *probs)
{
    const int nkv = a->n_kv;
    double mx = -INFINITY;
    for (int j = 0; j < nkv; j++) {
        double m = mrow ? (double)mrow[j] : 0.0;
        double x = row[j] * a->scale;
        if (a->softcap != 0.0)
            x = a->softcap * tanh(x / a->softcap);
        if (m == -INFINITY) {
            row[j] = -INFINITY;
            continue;
        }
        x += slope * m;
        row[j] = x;
        /* a NaN score must reach the output, so it wins the max */
        if (x > mx || isnan(x))
            mx = isnan(mx) ? mx : x;
    }
    if (scores)
        memcpy(scores, row, sizeof(double) * (size_t)nkv);
    /* a row with no visible key (mx == -inf) gives zero weights and
     * a zero output, as ggml does */
    double sum = 0.0;
    for (int j = 0; j < nkv; j++) {
        row[j] = mx == -INFINITY || row[j] == -INFINITY ? 0.0 : exp(row[j] - mx);
        sum += row[j];
    }
    double inv = sum > 0.0 ? 1.0 / sum : 0.0;
    if (isnan(sum))
        inv = NAN;
    for (int j = 0; j < nkv; j++)
        row[j] *= inv;
    if (probs)
        memcpy(probs, row, sizeof(double) * (size_t)nkv);
    return mx == -INFINITY;
}

int kvv_ref_attention(const kvv_ref_attn_args *a, double *out, double *probs, double *scores)
{
    const int nq = a->n_q, nkv = a->n_kv, dk = a->dk, dv = a->dv;
    const int group = a->n_head / a->n_head_kv, rows = group * nq;
    double *s = malloc(sizeof(double) * (size_t)rows * (size_t)nkv);
    char *empty = malloc((size_t)rows);
    if (!s || !empty) {
        free(s);
        free(empty);
        return -1;
    }
    for (int hk = 0; hk < a->n_head_kv; hk++) {
        const int h0 = hk * group;
        const double *k = a->k + (size_t)hk * nkv * dk;
        const double *v = a->v + (size_t)hk * nkv * dv;
        /* s = q k^T, one GEMM per query head of the group.  One GEMM over
         * the whole group would read K once instead of `group` times, but
         * OpenBLAS then takes other kernels (and sums in another order) for
         * the larger shape: tests/test_ref_attn_bits.c sees the bits move,
         * so the oracle keeps the calls it always made. */
        for (int g = 0; g < group; g++)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nkv, dk, 1.0, a->q + (size_t)(h0 + g) * nq * dk,
                        dk, k, dk, 0.0, s + (size_t)g * nq * nkv, nkv);
        for (int g = 0; g < group; g++) {
            const int h = h0 + g;
            const double slope = kvv_ref_alibi_slope(h, a->n_head, a->max_bias);
            for (int i = 0; i < nq; i++) {
                size_t r = (size_t)h * nq + i;
                empty[g * nq + i] = (char)softmax_row(a, a->mask ? a->mask + (size_t)i * nkv : NULL, slope,
                                                      s + ((size_t)g * nq + i) * nkv, scores ? scores + r * nkv : NULL,
                                                      probs ? probs + r * nkv : NULL);
            }
        }
        /* o = p v.  A masked key is skipped, not weighted by zero: with a
         * NaN or Inf in its V row, 0 * v would poison the output where ggml
         * never reads that row.  BLAS cannot skip, so such heads take the
         * plain loop. */
        double *o = out + (size_t)h0 * nq * dv;
        if (all_finite(v, (size_t)nkv * dv)) {
            for (int g = 0; g < group; g++) /* per head, as for q k^T */
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, dv, nkv, 1.0, s + (size_t)g * nq * nkv, nkv,
                            v, dv, 0.0, o + (size_t)g * nq * dv, dv);
            continue;
        }
        for (int r = 0; r < rows; r++) {
            const int i = r % nq;
            double *oi = o + (size_t)r * dv;
            memset(oi, 0, sizeof(double) * (size_t)dv);
            for (int j = 0; j < nkv; j++) {
                /* only a masked key is skipped: a visible key whose
                 * weight underflowed to 0 still meets its V row, and
                 * 0 * Inf is NaN as in any kernel that reads it */
                if (a->mask && a->mask[(size_t)i * nkv + j] == -INFINITY)
                    continue;
                if (empty[r])
                    break; /* no key with a score above -inf: a zero row, as fully masked */
                double p = s[(size_t)r * nkv + j];
                for (int d = 0; d < dv; d++)
                    oi[d] += p * v[(size_t)j * dv + d];
            }
        }
    }
    free(s);
    free(empty);
    return 0;
}
