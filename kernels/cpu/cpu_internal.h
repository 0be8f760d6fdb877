/* Private to kernels/cpu: the pieces the backend table is assembled from. */
#ifndef KVV_CPU_INTERNAL_H
#define KVV_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kvv/backend.h"

/* ISA actually used for a request: KVV_ISA_SCALAR or KVV_ISA_AVX2; -1 when
 * AVX2 was asked for and this processor lacks it. */
int cpu_isa_resolve(kvv_isa want);

/* ---- per-type row kernels ---- */
typedef struct cpu_type_fns {
    /* one row of ncols values; turbo types rotate inside (cache write) */
    void (*quantize_row)(const float *x, void *dst, int ncols);
    /* one row into f32; turbo types give the rotated basis.  lut: 8 or 4 */
    void (*dequantize_row)(const void *src, float *dst, int ncols, int lut);
} cpu_type_fns;
/* NULL when the type has no kernel for that ISA. */
const cpu_type_fns *cpu_type_fns_get(kvv_type t, int isa);

/* ---- rotation: rows of ncols values in groups of `group` ---- */
/* The rotation group the kernels use for a row of n values (SPEC 3.4). */
static inline int cpu_rot_group(int n)
{
#ifndef KVV_FAULT_wht_group_128
    return kvv_rot_group(n);
#else
    /* hard-coded to 128 (the largest power of two for narrower rows): a
     * row that 128 does not divide keeps an unrotated tail */
    int g = 1;
    while (g < 128 && 2 * g <= n)
        g *= 2;
    return g;
#endif
}
void cpu_wht_rows(float *x, int64_t nrows, int ncols, int group, int inverse, int isa);

/* ---- f16 conversions (F16C when isa is AVX2) ---- */
void cpu_f32_to_f16_row(const float *x, uint16_t *y, int64_t n, int isa);
void cpu_f16_to_f32_row(const uint16_t *x, float *y, int64_t n, int isa);
uint16_t cpu_f32_to_f16(float x);
float cpu_f16_to_f32(uint16_t h);

/* ---- kernel-owned constants (tables.c).  ref/ keeps its own copies: a
 * kernel that read the reference's tables would agree with a wrong table ---- */
extern const float cpu_turbo2_c[4], cpu_turbo2_m[3];   /* centroids, midpoints */
extern const float cpu_turbo3_c[8], cpu_turbo3_m[7];
extern const float cpu_turbo4_c[16], cpu_turbo4_m[15];
extern const float cpu_turbo4n_c[16], cpu_turbo4n_m[15];
/* WHT and QJL sign vectors as +1/-1, index 0 first */
extern const float cpu_wht_s1[128], cpu_wht_s2[128];
extern const float cpu_qjl_s1[128], cpu_qjl_s2[128];
extern const int8_t cpu_iq4nl_grid[16];
/* (float)(1/sqrt(g)) for g = 1, 2, 4, .., 128, indexed by log2(g) */
extern const float cpu_inv_sqrt_pow2[8];

/* ---- per-family rows of the type table, indexed by kvv_type ----
 * An all-NULL row: the family does not own that type.  In an AVX2 row a NULL
 * entry means the scalar kernel serves that ISA too. */
extern const cpu_type_fns cpu_ggml_scalar[KVV_TYPE_COUNT];
extern const cpu_type_fns cpu_ggml_avx2[KVV_TYPE_COUNT];
extern const cpu_type_fns cpu_turbo_scalar[KVV_TYPE_COUNT];
extern const cpu_type_fns cpu_turbo_avx2[KVV_TYPE_COUNT];

/* ---- several rows at once: the bytes of quantize_row on each row, but a
 * kernel may work across rows (the AVX2 turbo quantizer runs the norm sums
 * of 8 rotation groups side by side).  NULL entries: no such kernel. ---- */
typedef void (*cpu_quantize_rows_fn)(const float *x, void *dst, int64_t nrows, int ncols);
extern const cpu_quantize_rows_fn cpu_turbo_rows_avx2[KVV_TYPE_COUNT];
/* nrows rows through the best kernel for (t, isa), isa as cpu_isa_resolve gave it */
void cpu_quantize_rows(kvv_type t, int isa, const float *x, void *dst, int64_t nrows, int ncols);

/* ---- one rotation group in place: u *= pre; butterfly over g; u *= post/sqrt(g).
 * Forward rotation: pre = S1, post = S2; inverse: pre = S2, post = S1.  The
 * AVX2 version gives the same bits (same pairs, same order of roundings). ---- */
void cpu_wht_group(float *u, int g, const float *pre, const float *post);
void cpu_wht_group_avx2(float *u, int g, const float *pre, const float *post);

/* ---- F16C row conversions (fp16_avx2.c): call only after cpu_isa_resolve ---- */
void cpu_f32_to_f16_row_avx2(const float *x, uint16_t *y, int64_t n);
void cpu_f16_to_f32_row_avx2(const uint16_t *x, float *y, int64_t n);

/* ---- thread pool ---- */
/* Runs fn(arg, i) for i in [0, n) on up to nthreads threads (the caller
 * included) and returns when all are done.  Which thread runs which i is
 * unspecified, so fn must write only its own outputs. */
typedef void (*cpu_task_fn)(void *arg, int64_t i);
void cpu_parallel_for(int nthreads, int64_t n, cpu_task_fn fn, void *arg);

/* ---- attention ---- */
int cpu_attention(const kvv_attn_args *a, float *out, kvv_attn_info *info, char *err, size_t err_len);

#endif
