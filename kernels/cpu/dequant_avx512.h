/* AVX-512 dequantization of the table types (private to kernels/cpu): the
 * scalar kernels' values bit for bit, for the attention's K/V tiles. */
#ifndef KVV_CPU_DEQUANT_AVX512_H
#define KVV_CPU_DEQUANT_AVX512_H

#include "kvv/types.h"

typedef void (*cpu_dequant_fn)(const void *src, float *dst, int ncols, int lut);

/* The AVX-512 row dequantizer of type t for LUT variant lut (8 or 4), or
 * NULL where there is none (the caller keeps its AVX2 or scalar kernel).
 * Call what it returns only where the CPU has AVX-512 F, BW, DQ and VL. */
cpu_dequant_fn cpu_dequant_avx512(kvv_type t, int lut);

#endif
