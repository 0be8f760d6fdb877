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

/* The bytes a layout fills: the norm (and rnorm) before qs, then the index
 * bits of a block. */
#define TURBO_LAYOUT_BYTES(qs, pack, block)                                                                       \
    ((qs) + (block) * ((pack) == TURBO_PACK_NIBBLE ? 4 : (pack) == TURBO_PACK_2BIT_SIGN ? 3 : 2) / 8)
/* One row: the kernel's table and layout; block, bytes and levels are the
 * facts of kvv/formats.def, and the layout must fill exactly those bytes. */
#define TURBO_FMT(T, c, m, qs, pack) [KVV_##T] = {1 << KVV_INDEX_BITS_##T, c, m, KVV_BLOCK_##T, KVV_BYTES_##T, qs, pack}
#define TURBO_FMT_CHECK(T, c, qs, pack)                                                                           \
    _Static_assert(TURBO_LAYOUT_BYTES(qs, pack, KVV_BLOCK_##T) == KVV_BYTES_##T, #T ": layout and bytes disagree"); \
    _Static_assert(sizeof c / sizeof *c == 1 << KVV_INDEX_BITS_##T, #T ": a centroid per index")
TURBO_FMT_CHECK(TURBO2, cpu_turbo2_c, 2, TURBO_PACK_2BIT);
TURBO_FMT_CHECK(TURBO2_QK128, cpu_turbo2_c, 2, TURBO_PACK_2BIT);
TURBO_FMT_CHECK(TURBO3, cpu_turbo3_c, 2, TURBO_PACK_2BIT_SIGN);
TURBO_FMT_CHECK(TURBO3_QK128, cpu_turbo3_c, 2, TURBO_PACK_2BIT_SIGN);
TURBO_FMT_CHECK(TURBO4, cpu_turbo4_c, 4, TURBO_PACK_NIBBLE);
TURBO_FMT_CHECK(TURBO4_NARROW, cpu_turbo4n_c, 4, TURBO_PACK_NIBBLE);

static inline const turbo_fmt *turbo_fmt_get(kvv_type t)
{
    static const turbo_fmt fmts[KVV_TYPE_COUNT] = {
        TURBO_FMT(TURBO2, cpu_turbo2_c, cpu_turbo2_m, 2, TURBO_PACK_2BIT),
        TURBO_FMT(TURBO2_QK128, cpu_turbo2_c, cpu_turbo2_m, 2, TURBO_PACK_2BIT),
        TURBO_FMT(TURBO3, cpu_turbo3_c, cpu_turbo3_m, 2, TURBO_PACK_2BIT_SIGN),
        TURBO_FMT(TURBO3_QK128, cpu_turbo3_c, cpu_turbo3_m, 2, TURBO_PACK_2BIT_SIGN),
        TURBO_FMT(TURBO4, cpu_turbo4_c, cpu_turbo4_m, 4, TURBO_PACK_NIBBLE),
        TURBO_FMT(TURBO4_NARROW, cpu_turbo4n_c, cpu_turbo4n_m, 4, TURBO_PACK_NIBBLE),
    };
    return &fmts[t];
}

/* Norms below this are treated as zero (the forks' threshold). */
#define TURBO_NORM_EPS 1e-10f
/* QJL residual scale sqrt(pi/2)/128 of the legacy turbo4 dequantizer */
#define TURBO_QJL_SCALE (1.2533141373155003f / 128)

#endif
