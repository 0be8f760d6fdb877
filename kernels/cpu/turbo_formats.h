/* TurboQuant block layouts as data (private to kernels/cpu): which table a
 * type indexes, its block, and where its index bits go.  Shared by the scalar
 * and AVX2 turbo kernels so both read one description of the bytes. */
#ifndef KVV_CPU_TURBO_FORMATS_H
#define KVV_CPU_TURBO_FORMATS_H

#include "kernels/cpu/cpu_internal.h"

typedef enum turbo_pack {
    TURBO_PACK_2BIT,      /* qs: 2-bit index of element j at bits 2*(j%4) of byte j/4 */
    TURBO_PACK_2BIT_SIGN, /* as 2BIT for the low two bits; bit 2 at bit j%8 of signs[j/8] */
    TURBO_PACK_NIBBLE     /* qs: element j in the low nibble of byte j/2 when even, high when odd */
} turbo_pack;

typedef struct turbo_fmt {
    int levels;         /* 4, 8 or 16 centroids */
    const float *c;     /* centroids, ascending */
    const float *m;     /* levels - 1 midpoints: index = number of midpoints <= u */
    int block;          /* values per block (32 or 128) */
    int bytes;          /* bytes per block */
    int qs;             /* offset of qs in the block (after norm, and rnorm for turbo4) */
    turbo_pack pack;
} turbo_fmt;

static inline const turbo_fmt *turbo_fmt_get(kvv_type t)
{
    static const turbo_fmt fmts[KVV_TYPE_COUNT] = {
        [KVV_TURBO2] = {4, cpu_turbo2_c, cpu_turbo2_m, 32, 10, 2, TURBO_PACK_2BIT},
        [KVV_TURBO2_QK128] = {4, cpu_turbo2_c, cpu_turbo2_m, 128, 34, 2, TURBO_PACK_2BIT},
        [KVV_TURBO3] = {8, cpu_turbo3_c, cpu_turbo3_m, 32, 14, 2, TURBO_PACK_2BIT_SIGN},
        [KVV_TURBO3_QK128] = {8, cpu_turbo3_c, cpu_turbo3_m, 128, 50, 2, TURBO_PACK_2BIT_SIGN},
        [KVV_TURBO4] = {16, cpu_turbo4_c, cpu_turbo4_m, 128, 68, 4, TURBO_PACK_NIBBLE},
        [KVV_TURBO4_NARROW] = {16, cpu_turbo4n_c, cpu_turbo4n_m, 128, 68, 4, TURBO_PACK_NIBBLE},
    };
    return &fmts[t];
}

/* Norms below this are treated as zero (the forks' threshold). */
#define TURBO_NORM_EPS 1e-10f
/* QJL residual scale sqrt(pi/2)/128 of the legacy turbo4 dequantizer */
#define TURBO_QJL_SCALE (1.2533141373155003f / 128)

#endif
