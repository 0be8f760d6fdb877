/* Private to model/: the arithmetic the two forward passes share the shape
 * of, once in f32 (the run) and once in f64 (the reference). */
#ifndef KVV_MODEL_OPS_H
#define KVV_MODEL_OPS_H

#include <stdint.h>

/* y[t][o] = sum_i w[o][i] * x[t][i] for t < n, o < nout (w: [nout][nin]) */
void ops_matmul_f32(const float *x, const float *w, float *y, int n, int nin, int nout);
void ops_matmul_f64(const double *x, const float *w, double *y, int n, int nin, int nout);

/* y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * g */
void ops_rmsnorm_f32(const float *x, const float *g, float *y, int n, int d, float eps);
void ops_rmsnorm_f64(const double *x, const float *g, double *y, int n, int d, double eps);

/* RoPE (ggml's normal mode: adjacent pairs (2i, 2i+1), angle pos * base^(-2i/d))
 * of n rows of `heads` heads of d values at positions pos0, pos0+1, ...; the
 * angles are evaluated in f64 in both passes. */
void ops_rope_f32(float *x, int n, int heads, int d, int pos0, double base);
void ops_rope_f64(double *x, int n, int heads, int d, int pos0, double base);

/* x += down . (silu(gate . y) * (up . y)) for n rows; scratch: n * (2 * n_ff + d) */
void ops_ffn_f32(float *x, const float *y, const float *gate, const float *up, const float *down, int n, int d,
                 int n_ff, float *scratch);
void ops_ffn_f64(double *x, const double *y, const float *gate, const float *up, const float *down, int n, int d,
                 int n_ff, double *scratch);

#endif
