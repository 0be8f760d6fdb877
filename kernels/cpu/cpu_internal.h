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
void cpu_wht_rows(float *x, int64_t nrows, int ncols, int group, int inverse, int isa);

/* ---- f16 conversions (F16C when isa is AVX2) ---- */
void cpu_f32_to_f16_row(const float *x, uint16_t *y, int64_t n, int isa);
void cpu_f16_to_f32_row(const uint16_t *x, float *y, int64_t n, int isa);
uint16_t cpu_f32_to_f16(float x);
float cpu_f16_to_f32(uint16_t h);

/* ---- thread pool ---- */
/* Runs fn(arg, i) for i in [0, n) on up to nthreads threads (the caller
 * included) and returns when all are done.  Which thread runs which i is
 * unspecified, so fn must write only its own outputs. */
typedef void (*cpu_task_fn)(void *arg, int64_t i);
void cpu_parallel_for(int nthreads, int64_t n, cpu_task_fn fn, void *arg);

/* ---- attention ---- */
int cpu_attention(const kvv_attn_args *a, float *out, kvv_attn_info *info, char *err, size_t err_len);

#endif
