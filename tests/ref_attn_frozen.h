/* A frozen copy of the reference attention (ref/attn.c at commit 30d2862,
 * before its speed-up), kept only as the witness that the reference's output
 * stays the same bit for bit on any machine: tests/test_ref_attn_bits.c runs
 * both on the same inputs with the same BLAS and compares every bit.  Do not
 * edit: a deliberate change of the reference's results replaces this copy
 * and tests/ref_attn_bits.txt together, in one commit that says why. */
#ifndef KVV_TEST_REF_ATTN_FROZEN_H
#define KVV_TEST_REF_ATTN_FROZEN_H

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"

static double frozen_alibi_slope(int h, int n_head, double max_bias)
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

static int frozen_ref_attention(const kvv_ref_attn_args *a, double *out, double *probs, double *scores)
{
    const int nq = a->n_q, nkv = a->n_kv, dk = a->dk, dv = a->dv;
    const int group = a->n_head / a->n_head_kv;
    double *s = malloc(sizeof(double) * (size_t)nq * (size_t)nkv);
    char *empty = malloc((size_t)nq);
    if (!s || !empty) {
        free(s);
        free(empty);
        return -1;
    }
    for (int h = 0; h < a->n_head; h++) {
        const int hk = h / group;
        const double *q = a->q + (size_t)h * nq * dk;
        const double *k = a->k + (size_t)hk * nkv * dk;
        const double *v = a->v + (size_t)hk * nkv * dv;
        double *o = out + (size_t)h * nq * dv;
        const double slope = frozen_alibi_slope(h, a->n_head, a->max_bias);

        /* s = q k^T */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nkv, dk, 1.0, q, dk, k, dk, 0.0, s, nkv);

        for (int i = 0; i < nq; i++) {
            double *row = s + (size_t)i * nkv;
            double mx = -INFINITY;
            for (int j = 0; j < nkv; j++) {
                double m = a->mask ? (double)a->mask[(size_t)i * nkv + j] : 0.0;
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
                memcpy(scores + ((size_t)h * nq + i) * nkv, row, sizeof(double) * (size_t)nkv);
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
                memcpy(probs + ((size_t)h * nq + i) * nkv, row, sizeof(double) * (size_t)nkv);
            empty[i] = mx == -INFINITY;
        }
        /* o = p v.  A masked key is skipped, not weighted by zero: with a
         * NaN or Inf in its V row, 0 * v would poison the output where ggml
         * never reads that row.  BLAS cannot skip, so such heads take the
         * plain loop. */
        int v_finite = 1;
        for (size_t t = 0; t < (size_t)nkv * dv && v_finite; t++)
            v_finite = isfinite(v[t]);
        if (v_finite) {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, dv, nkv, 1.0, s, nkv, v, dv, 0.0, o, dv);
        } else {
            for (int i = 0; i < nq; i++) {
                double *oi = o + (size_t)i * dv;
                memset(oi, 0, sizeof(double) * (size_t)dv);
                for (int j = 0; j < nkv; j++) {
                    /* only a masked key is skipped: a visible key whose
                     * weight underflowed to 0 still meets its V row, and
                     * 0 * Inf is NaN as in any kernel that reads it */
                    if (a->mask && a->mask[(size_t)i * nkv + j] == -INFINITY)
                        continue;
                    if (empty[i])
                        break; /* no key with a score above -inf: a zero row, as fully masked */
                    double p = s[(size_t)i * nkv + j];
                    for (int d = 0; d < dv; d++)
                        oi[d] += p * v[(size_t)j * dv + d];
                }
            }
        }
    }
    free(s);
    free(empty);
    return 0;
}

#endif
