/* Error bounds for the arith rule, LAPACK style: what correct arithmetic of
 * the backend's precision may be off by for this very input.  The ratio
 * |got - exact| / bound then has one threshold for every shape.
 *
 * Attention, per output element o_d of query row i (u = accumulation unit
 * roundoff, uk = rounding of K/V values before use; p are the normalized
 * softmax weights, s the scores, m the row max):
 *   score error    ds_j = A_j (uk + (dk + 2) u) + rotQ_j + 3u (|s_j| + |bias_j|)
 *                  (with softcap, the first two terms times the cap's slope 1 - (t/c)^2)
 *                  A_j = scale * sum_c |q_c| |k_jc|  (in the basis the kernel works in)
 *   weight error   e_j  = ds_j + ds_max + 3u |s_j - m| + 6u
 *                  (exp of a rounded difference, tile maxima and their rescale)
 *   output error   sum_j p_j |v_jd - o_d| e_j
 *                  + (uk + (2 n_kv + 8) u) sum_j p_j |v_jd| + (2 n_kv + 8) u |o_d|
 *                  (f32 sums over the keys, the per-tile rescales, the division)
 *                  + FLT_MIN sum_j |v_jd| + (n_kv + 8) FLT_MIN
 *                  (underflow: a vectorised exp may flush weights below FLT_MIN
 *                  to zero, and the unnormalized weights are at most 1 with a
 *                  sum of at least 1; subnormal operands and results may be
 *                  flushed to zero, which Vulkan allows on a device without
 *                  denormal preservation and NVIDIA's driver does: FLT_MIN
 *                  per term of the sum over keys, and V values below it)
 * When V is rotated the kernel computes o' in the rotated basis and inverse
 * rotates it: bound_i = sum_{c in group} (bound'_c + (log2 g + 2) u |o'_c|) / sqrt(g).
 * These are first-order worst-case bounds (n u, not sqrt(n) u), so a correct
 * kernel stays well below 1 and a wrong one (a dropped rescale, a lost
 * chunk, f16 where f32 was promised) lands far above. */
#include <cblas.h>
#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/rules.h"

/* bo[d] += p_j (|v_d - o_d| e_j + (uk + nsum) |v_d|) + under |v_d|, the
 * output bound's term of key j: the run's hottest loop, four doubles at a
 * time where the CPU has AVX2, each lane the scalar expression's operations
 * in its order (separate multiplies and adds, as the build's
 * -ffp-contract=off compiles it), so the same bits. */
static void key_terms(double *restrict bo, const double *restrict vj, const double *restrict o, int dv, double pj,
                      double ej, double ukn, double under)
{
    for (int d = 0; d < dv; d++)
        bo[d] += pj * (fabs(vj[d] - o[d]) * ej + ukn * fabs(vj[d])) + under * fabs(vj[d]);
}

__attribute__((target("avx2"))) static void key_terms_avx2(double *restrict bo, const double *restrict vj,
                                                           const double *restrict o, int dv, double pj, double ej,
                                                           double ukn, double under)
{
    const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffll));
    const __m256d P = _mm256_set1_pd(pj), E = _mm256_set1_pd(ej), U = _mm256_set1_pd(ukn), F = _mm256_set1_pd(under);
    int d = 0;
    for (; d + 4 <= dv; d += 4) {
        __m256d v = _mm256_loadu_pd(vj + d), av = _mm256_and_pd(v, absmask);
        __m256d t = _mm256_add_pd(_mm256_mul_pd(_mm256_and_pd(_mm256_sub_pd(v, _mm256_loadu_pd(o + d)), absmask), E),
                                  _mm256_mul_pd(U, av));
        t = _mm256_add_pd(_mm256_mul_pd(P, t), _mm256_mul_pd(F, av));
        _mm256_storeu_pd(bo + d, _mm256_add_pd(_mm256_loadu_pd(bo + d), t));
    }
    key_terms(bo + d, vj + d, o + d, dv - d, pj, ej, ukn, under);
}

static double *abs_copy(const double *x, size_t n)
{
    double *y = malloc(sizeof(double) * (n ? n : 1));
    if (y)
        for (size_t i = 0; i < n; i++)
            y[i] = fabs(x[i]);
    return y;
}

int kvv_attn_bound(const kvv_bound_args *b, double *bound)
{
    const kvv_ref_attn_args *a = b->attn;
    const int nq = a->n_q, nkv = a->n_kv, dk = a->dk, dv = a->dv, grp = a->n_head / a->n_head_kv;
    const double u = b->acc_round, uk = b->kv_round;
    const size_t nqk = (size_t)a->n_head * nq * dk, nkk = (size_t)a->n_head_kv * nkv * dk;
    double *aq = abs_copy(a->q, nqk), *ak = abs_copy(a->k, nkk);
    double *A = malloc(sizeof(double) * (size_t)nq * nkv), *e = malloc(sizeof(double) * (size_t)nkv);
    double *ksum = malloc(sizeof(double) * (size_t)a->n_head_kv * nkv), *rowb = malloc(sizeof(double) * (size_t)dv);
    int rc = -1;
    if (!aq || !ak || !A || !e || !ksum || !rowb)
        goto out;
    for (size_t r = 0; r < (size_t)a->n_head_kv * nkv; r++) {
        double t = 0;
        for (int c = 0; c < dk; c++)
            t += ak[r * dk + c];
        ksum[r] = t;
    }
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2");
    const int gq = b->rot_q_log2 >= 0 ? 1 << b->rot_q_log2 : 0;
    const int go = b->rot_o_group;
    for (int h = 0; h < a->n_head; h++) {
        const int hk = h / grp;
        const double slope = kvv_ref_alibi_slope(h, a->n_head, a->max_bias);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nkv, dk, fabs(a->scale), aq + (size_t)h * nq * dk,
                    dk, ak + (size_t)hk * nkv * dk, dk, 0.0, A, nkv);
        for (int i = 0; i < nq; i++) {
            const double *p = b->probs + ((size_t)h * nq + i) * nkv;
            const double *s = b->scores + ((size_t)h * nq + i) * nkv;
            const double *q = a->q + ((size_t)h * nq + i) * dk;
            const double *o = b->out + ((size_t)h * nq + i) * dv;
            double *bo = bound + ((size_t)h * nq + i) * dv;
            /* rotation of q in f32: each rotated component is off by up to
             * (log2 g + 2) u times its group's l1 norm over sqrt(g) */
            double qrot = 0;
            if (gq > 0)
                for (int c0 = 0; c0 < dk; c0 += gq) {
                    double t = 0;
                    for (int c = c0; c < c0 + gq; c++)
                        t += fabs(q[c]);
                    t *= (b->rot_q_log2 + 2) * u / sqrt((double)gq);
                    if (t > qrot)
                        qrot = t;
                }
            double mx = -INFINITY, dsmax = 0;
            for (int j = 0; j < nkv; j++) {
                double m = a->mask ? (double)a->mask[(size_t)i * nkv + j] : 0.0;
                if (s[j] == -INFINITY || !isfinite(s[j])) {
                    e[j] = 0;
                    continue;
                }
                double ds = A[(size_t)i * nkv + j] * (uk + (dk + 2) * u) + fabs(a->scale) * qrot * ksum[hk * (size_t)nkv + j];
                if (a->softcap != 0.0) {
                    /* c tanh(x/c) damps an error in x by its slope
                     * 1 - tanh^2 = 1 - (t/c)^2; a saturated score (an
                     * infinite x) is exactly +-c whatever x's error */
                    double t = (s[j] - slope * m) / a->softcap, der = 1.0 - t * t;
                    ds = der <= 0.0 ? 0.0 : der * ds;
                }
                ds += 3 * u * (fabs(s[j]) + fabs(slope * m));
                e[j] = ds;
                if (s[j] > mx) {
                    mx = s[j];
                    dsmax = ds;
                }
            }
            const double nsum = (2.0 * nkv + 8) * u;
            for (int d = 0; d < dv; d++)
                bo[d] = nsum * fabs(o[d]);
            const double under = u > 0x1p-20 ? 0x1p-14 : FLT_MIN; /* smallest normal of the accumulation type */
            for (int j = 0; j < nkv; j++) {
                if (!isfinite(s[j]))
                    continue; /* masked */
                double ej = e[j] + dsmax + 3 * u * fabs(s[j] - mx) + 6 * u;
                const double *vj = a->v + ((size_t)hk * nkv + j) * dv;
                (avx2 ? key_terms_avx2 : key_terms)(bo, vj, o, dv, p[j], ej, uk + nsum, under);
            }
            for (int d = 0; d < dv; d++)
                bo[d] += (nkv + 8) * under;
            if (go > 0) {
                /* inverse rotation of the finished row */
                const double lg = log2((double)go) + 2;
                for (int c0 = 0; c0 < dv; c0 += go) {
                    double t = 0;
                    for (int c = c0; c < c0 + go; c++)
                        t += bo[c] + lg * u * fabs(o[c]);
                    t /= sqrt((double)go);
                    for (int c = c0; c < c0 + go; c++)
                        rowb[c] = t;
                }
                memcpy(bo, rowb, sizeof(double) * (size_t)dv);
            }
        }
    }
    rc = 0;
out:
    free(aq);
    free(ak);
    free(A);
    free(e);
    free(ksum);
    free(rowb);
    return rc;
}

void kvv_wht_bound(const float *x, int64_t nrows, int64_t ncols, int group, double *bound)
{
    /* each of the log2(g) butterfly stages and the final scaling rounds
     * once; an output is a signed sum of the group's inputs over sqrt(g) */
    const double u = 0x1p-24, lg = log2((double)group) + 2;
    for (int64_t r = 0; r < nrows; r++)
        for (int64_t c0 = 0; c0 < ncols; c0 += group) {
            const float *xg = x + r * ncols + c0;
            double l1 = 0;
            for (int c = 0; c < group; c++)
                l1 += fabs((double)xg[c]);
            /* absolute terms no relative one covers: on subnormals the
             * scaling rounds to the subnormal grid (2^-149), and a device
             * that flushes subnormal operands and results to zero (Vulkan
             * allows it; NVIDIA's driver does) loses up to FLT_MIN per input
             * and per butterfly result: e_stage <= 2 e_prev + FLT_MIN gives
             * (2g - 1) FLT_MIN before the 1/sqrt(g), one more after it */
            double bnd = lg * u * l1 / sqrt((double)group) + (2.0 * group / sqrt((double)group) + 1) * FLT_MIN;
            for (int c = 0; c < group; c++)
                bound[r * ncols + c0 + c] = bnd;
        }
}
