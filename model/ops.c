/* Matrix products, RMSNorm, RoPE and the SwiGLU FFN in f32 and f64.
 *
 * The f32 dot product keeps 8 partial sums (lanes j % 8) added in a fixed
 * order at the end: the result does not depend on whether the compiler
 * vectorizes it, and the compiler can (no reassociation is needed). */
#include <math.h>
#include <string.h>

#include "model/ops.h"

static float dot_f32(const float *a, const float *b, int n)
{
    float s[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] += a[i + k] * b[i + k];
    for (; i < n; i++)
        s[i % 8] += a[i] * b[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

/* Four tokens against one weight row: the same lanes and the same final
 * order as dot_f32, so each result has the bits dot_f32 gives, while the
 * weight row is loaded once for the four.  Written with vector types so that
 * the lanes stay in registers (also under the sanitizers, which would check
 * every element of a stack array), and built for AVX2 too (picked at load
 * time); lane-wise multiply and add without contraction give identical bits
 * in both clones. */
typedef float v8f __attribute__((vector_size(32)));

/* (a macro: a function returning a 32-byte vector would change the ABI
 * between the clones) */
#define LOAD8(v, p) memcpy(&(v), (p), sizeof(v))

__attribute__((target_clones("avx2", "default"))) static void dot4_f32(const float *x, size_t ldx,
                                                                      const float *w, int n, float *out)
{
    v8f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v8f wv, a, b, c, d;
        LOAD8(wv, w + i);
        LOAD8(a, x + i);
        LOAD8(b, x + ldx + i);
        LOAD8(c, x + 2 * ldx + i);
        LOAD8(d, x + 3 * ldx + i);
        s0 += a * wv;
        s1 += b * wv;
        s2 += c * wv;
        s3 += d * wv;
    }
    v8f s[4] = {s0, s1, s2, s3};
    for (; i < n; i++)
        for (int t = 0; t < 4; t++)
            s[t][i % 8] += x[t * ldx + i] * w[i];
    for (int t = 0; t < 4; t++)
        out[t] = ((s[t][0] + s[t][4]) + (s[t][1] + s[t][5])) + ((s[t][2] + s[t][6]) + (s[t][3] + s[t][7]));
}

void ops_matmul_f32(const float *x, const float *w, float *y, int n, int nin, int nout)
{
    /* rows of w outer: each weight row is read once per block of tokens */
    enum { TB = 16 };
    for (int t0 = 0; t0 < n; t0 += TB) {
        int t1 = t0 + TB < n ? t0 + TB : n;
        for (int o = 0; o < nout; o++) {
            const float *wr = w + (size_t)o * nin;
            int t = t0;
            for (; t + 4 <= t1; t += 4) {
                float r[4];
                dot4_f32(x + (size_t)t * nin, (size_t)nin, wr, nin, r);
                for (int k = 0; k < 4; k++)
                    y[(size_t)(t + k) * nout + o] = r[k];
            }
            for (; t < t1; t++)
                y[(size_t)t * nout + o] = dot_f32(x + (size_t)t * nin, wr, nin);
        }
    }
}

void ops_matmul_f64(const double *x, const float *w, double *y, int n, int nin, int nout)
{
    enum { TB = 16 };
    for (int t0 = 0; t0 < n; t0 += TB) {
        int t1 = t0 + TB < n ? t0 + TB : n;
        for (int o = 0; o < nout; o++) {
            const float *wr = w + (size_t)o * nin;
            for (int t = t0; t < t1; t++) {
                const double *xr = x + (size_t)t * nin;
                double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                int i = 0;
                for (; i + 4 <= nin; i += 4) {
                    s0 += xr[i] * wr[i];
                    s1 += xr[i + 1] * wr[i + 1];
                    s2 += xr[i + 2] * wr[i + 2];
                    s3 += xr[i + 3] * wr[i + 3];
                }
                for (; i < nin; i++)
                    s0 += xr[i] * wr[i];
                y[(size_t)t * nout + o] = (s0 + s1) + (s2 + s3);
            }
        }
    }
}

void ops_rmsnorm_f32(const float *x, const float *g, float *y, int n, int d, float eps)
{
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * d;
        float *yr = y + (size_t)t * d;
        float r = 1.0f / sqrtf(dot_f32(xr, xr, d) / (float)d + eps);
        for (int i = 0; i < d; i++)
            yr[i] = xr[i] * r * g[i];
    }
}

void ops_rmsnorm_f64(const double *x, const float *g, double *y, int n, int d, double eps)
{
    for (int t = 0; t < n; t++) {
        const double *xr = x + (size_t)t * d;
        double *yr = y + (size_t)t * d, s = 0;
        for (int i = 0; i < d; i++)
            s += xr[i] * xr[i];
        double r = 1.0 / sqrt(s / d + eps);
        for (int i = 0; i < d; i++)
            yr[i] = xr[i] * r * g[i];
    }
}

static void angle(int pos, int i, int d, double base, double *c, double *s)
{
    double th = pos * pow(base, -2.0 * i / d);
    *c = cos(th);
    *s = sin(th);
}

void ops_rope_f32(float *x, int n, int heads, int d, int pos0, double base)
{
    for (int t = 0; t < n; t++)
        for (int i = 0; i < d / 2; i++) {
            double cd, sd;
            angle(pos0 + t, i, d, base, &cd, &sd);
            float c = (float)cd, s = (float)sd;
            for (int h = 0; h < heads; h++) {
                float *p = x + ((size_t)t * heads + h) * d + 2 * i;
                float a = p[0], b = p[1];
                p[0] = a * c - b * s;
                p[1] = a * s + b * c;
            }
        }
}

void ops_rope_f64(double *x, int n, int heads, int d, int pos0, double base)
{
    for (int t = 0; t < n; t++)
        for (int i = 0; i < d / 2; i++) {
            double c, s;
            angle(pos0 + t, i, d, base, &c, &s);
            for (int h = 0; h < heads; h++) {
                double *p = x + ((size_t)t * heads + h) * d + 2 * i;
                double a = p[0], b = p[1];
                p[0] = a * c - b * s;
                p[1] = a * s + b * c;
            }
        }
}

void ops_ffn_f32(float *x, const float *y, const float *gate, const float *up, const float *down, int n, int d,
                 int n_ff, float *scratch)
{
    float *g = scratch, *u = scratch + (size_t)n * n_ff, *o = u + (size_t)n * n_ff;
    ops_matmul_f32(y, gate, g, n, d, n_ff);
    ops_matmul_f32(y, up, u, n, d, n_ff);
    for (size_t i = 0; i < (size_t)n * n_ff; i++)
        g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    ops_matmul_f32(g, down, o, n, n_ff, d);
    for (size_t i = 0; i < (size_t)n * d; i++)
        x[i] += o[i];
}

void ops_ffn_f64(double *x, const double *y, const float *gate, const float *up, const float *down, int n, int d,
                 int n_ff, double *scratch)
{
    double *g = scratch, *u = scratch + (size_t)n * n_ff, *o = u + (size_t)n * n_ff;
    ops_matmul_f64(y, gate, g, n, d, n_ff);
    ops_matmul_f64(y, up, u, n, d, n_ff);
    for (size_t i = 0; i < (size_t)n * n_ff; i++)
        g[i] = g[i] / (1.0 + exp(-g[i])) * u[i];
    ops_matmul_f64(g, down, o, n, n_ff, d);
    for (size_t i = 0; i < (size_t)n * d; i++)
        x[i] += o[i];
}
