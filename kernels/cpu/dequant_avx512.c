/* AVX-512 dequantization of the table types for the attention's K/V tiles:
 * every value of these types is an entry of a small per-block table (the
 * block's scale times a fixed level, plus its minimum for q4_1/q5_1, or a
 * centroid times the block norm), so a block builds its table once (16 or
 * 32 lanes, each entry by the very operations of the scalar kernel: the
 * same f32 multiply, then the same add) and each 16 values are one
 * permute of that table.  The values are the scalar kernel's bit for bit,
 * NaN and infinite scales included, since each lane runs the same IEEE
 * operations on the same operands; tests/test_dequant_avx512.c holds them
 * to that.  Built with target attributes and called only where the CPU has
 * AVX-512 F, BW, DQ and VL (attn.c decides). */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/cpu/block_bytes.h"
#include "kernels/cpu/dequant_avx512.h"
#include "kernels/cpu/turbo_formats.h"

#define T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,f16c")))

/* 0, 1, .., 15: each lane's own number */
static inline T512 __m512i lanes(void) { return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15); }

static inline T512 __m512 f16_bcast(const uint8_t *p)
{
    return _mm512_set1_ps(_cvtsh_ss((unsigned short)(p[0] | p[1] << 8)));
}

/* [16 bytes] -> the low nibbles (elements 0..15) and the bytes shifted
 * right by 4 (elements 16..31) as dword indices; a permute reads only the
 * low 4 (16-entry table) or 5 bits (32 entries), so the high bits of the
 * low-nibble lanes need no mask for a 16-entry table. */
static inline T512 void nibble_indices(const uint8_t *qs, __m512i *lo, __m512i *hi)
{
    __m512i z = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)qs));
    *lo = z;
    *hi = _mm512_srli_epi32(z, 4);
}

/* qh bit j as bit 4 of lane j (elements 0..15: shift 0; 16..31: shift 16);
 * bits 0..3 are zero, bits above 4 are ignored by the 32-entry permute */
static inline T512 __m512i qh_bit4(uint32_t h, int shift)
{
    __m512i b = _mm512_srlv_epi32(_mm512_set1_epi32((int)h), _mm512_add_epi32(lanes(), _mm512_set1_epi32(shift)));
    return _mm512_slli_epi32(b, 4);
}

/* (lo nibble, qh bit) into a 5-bit index: bits 0..3 from z, 4 up from h */
static inline T512 __m512i merge_bit4(__m512i z, __m512i h4)
{
    /* per bit: C ? A : B with A = z, B = h4, C = 0x0f */
    return _mm512_ternarylogic_epi32(z, h4, _mm512_set1_epi32(0x0f), 0xE4);
}

/* levels as f32: q4 offsets, q5 offsets, the plain 0..31 */
static inline T512 __m512 iota_ps(float base) { return _mm512_add_ps(_mm512_cvtepi32_ps(lanes()), _mm512_set1_ps(base)); }

/* q4_0, q5_0, iq4_nl: (level) * d, levels per index in lv (lv_hi for the
 * 5-bit types' indices 16..31, unused without qh); q4_1, q5_1: level * d + m
 * (mul, then add) */
static T512 void dq_blocks(const uint8_t *b, float *y, int n, int bytes, int qs, int qh, int has_min, __m512 lv,
                           __m512 lv_hi)
{
    for (int i = 0; i < n / 32; i++, y += 32, b += bytes) {
        const __m512 d = f16_bcast(b), m = has_min ? f16_bcast(b + 2) : _mm512_setzero_ps();
        __m512 t = _mm512_mul_ps(lv, d);
        if (has_min)
            t = _mm512_add_ps(t, m);
        __m512i lo, hi;
        nibble_indices(b + qs, &lo, &hi);
        if (qh < 0) {
            _mm512_storeu_ps(y, _mm512_permutexvar_ps(lo, t));
            _mm512_storeu_ps(y + 16, _mm512_permutexvar_ps(hi, t));
        } else {
            /* the upper 16 levels only where there is a fifth bit */
            __m512 th = _mm512_mul_ps(lv_hi, d);
            if (has_min)
                th = _mm512_add_ps(th, m);
            uint32_t h;
            memcpy(&h, b + qh, 4); /* little-endian, as the format stores it */
            _mm512_storeu_ps(y, _mm512_permutex2var_ps(t, merge_bit4(lo, qh_bit4(h, 0)), th));
            _mm512_storeu_ps(y + 16, _mm512_permutex2var_ps(t, _mm512_or_si512(hi, qh_bit4(h, 16)), th));
        }
    }
}

static T512 void dq_q4_0(const void *src, float *y, int n, int lut)
{
    (void)lut;
    dq_blocks(src, y, n, Q4_0_BYTES, 2, -1, 0, iota_ps(-8), iota_ps(8));
}
static T512 void dq_q5_0(const void *src, float *y, int n, int lut)
{
    (void)lut;
    dq_blocks(src, y, n, Q5_0_BYTES, 6, 2, 0, iota_ps(-16), iota_ps(0));
}
static T512 void dq_q4_1(const void *src, float *y, int n, int lut)
{
    (void)lut;
    dq_blocks(src, y, n, Q4_1_BYTES, 4, -1, 1, iota_ps(0), iota_ps(16));
}
static T512 void dq_q5_1(const void *src, float *y, int n, int lut)
{
    (void)lut;
    dq_blocks(src, y, n, Q5_1_BYTES, 8, 4, 1, iota_ps(0), iota_ps(16));
}
static T512 void dq_iq4_nl(const void *src, float *y, int n, int lut)
{
    (void)lut;
    /* d * grid[q]: the multiply commutes bit for bit */
    __m512 g = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)cpu_iq4nl_grid)));
    dq_blocks(src, y, n, IQ4_NL_BYTES, 2, -1, 0, g, g);
}

/* ---- turbo: centroid[index] * norm ---- */

/* the 16 indices of elements j..j+15 of a turbo block (j a multiple of 16) */
static inline T512 __m512i turbo_indices16(const turbo_fmt *f, const uint8_t *blk, int j)
{
    const uint8_t *qs = blk + f->qs;
    const __m512i lane = lanes();
    if (f->pack == TURBO_PACK_NIBBLE) {
        /* element e in the low nibble of byte e/2 when even, high when odd:
         * each byte twice, then the odd lanes shifted down by 4 (the
         * permute reads the low 4 bits only) */
        __m128i x = _mm_loadl_epi64((const __m128i *)(qs + j / 2));
        __m512i z = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(x, x));
        return _mm512_srlv_epi32(z, _mm512_slli_epi32(_mm512_and_si512(lane, _mm512_set1_epi32(1)), 2));
    }
    uint32_t w;
    memcpy(&w, qs + j / 4, 4); /* 16 two-bit fields, little-endian */
    __m512i k = _mm512_srlv_epi32(_mm512_set1_epi32((int)w), _mm512_slli_epi32(lane, 1));
    if (f->pack == TURBO_PACK_2BIT_SIGN) {
        uint16_t s16;
        memcpy(&s16, qs + f->block / 4 + j / 8, 2); /* the 16 sign bits */
        uint32_t s = (uint32_t)s16 << 2;
        __m512i sg = _mm512_srlv_epi32(_mm512_set1_epi32((int)s), lane);
        /* bits 0..1 from k, bit 2 up from sg; the 8-entry table repeats, so bit 3 is free */
        k = _mm512_ternarylogic_epi32(k, sg, _mm512_set1_epi32(3), 0xE4);
    }
    return k;
}

static T512 void dq_turbo(const turbo_fmt *f, const uint8_t *src, float *y, int ncols)
{
    /* the centroids repeated to 16 entries (the index bits above the
     * type's own are not cleared), built in registers: this runs per row */
    const __m512 raw = _mm512_maskz_loadu_ps((__mmask16)((1u << f->levels) - 1), f->c);
    const __m512 tab = _mm512_permutexvar_ps(_mm512_and_si512(lanes(), _mm512_set1_epi32(f->levels - 1)), raw);
    for (int b = 0; b < ncols; b += f->block, src += f->bytes, y += f->block) {
        const __m512 norm = f16_bcast(src);
        for (int j = 0; j < f->block; j += 16)
            _mm512_storeu_ps(y + j, _mm512_mul_ps(_mm512_permutexvar_ps(turbo_indices16(f, src, j), tab), norm));
    }
}

#define DQ_TURBO(name, T)                                                                                          \
    static T512 void dq_##name(const void *src, float *y, int n, int lut)                                          \
    {                                                                                                              \
        (void)lut;                                                                                                 \
        dq_turbo(turbo_fmt_get(KVV_##T), src, y, n);                                                               \
    }
DQ_TURBO(turbo2, TURBO2)
DQ_TURBO(turbo2_qk128, TURBO2_QK128)
DQ_TURBO(turbo3, TURBO3)
DQ_TURBO(turbo3_qk128, TURBO3_QK128)
DQ_TURBO(turbo4, TURBO4)
DQ_TURBO(turbo4_narrow, TURBO4_NARROW)

cpu_dequant_fn cpu_dequant_avx512(kvv_type t, int lut)
{
    switch (t) {
    case KVV_Q4_0:
        return dq_q4_0;
    case KVV_Q4_1:
        return dq_q4_1;
    case KVV_Q5_0:
        return dq_q5_0;
    case KVV_Q5_1:
        return dq_q5_1;
    case KVV_IQ4_NL:
    case KVV_IQ4_NL_SEARCH:
        return dq_iq4_nl;
    case KVV_TURBO2:
        return dq_turbo2;
    case KVV_TURBO2_QK128:
        return dq_turbo2_qk128;
    /* turbo3 through the 4-magnitude LUT is a kernel of its own (the LUT
     * toggle exists to compare it): that one stays with the AVX2 code */
    case KVV_TURBO3:
        return lut == 4 ? NULL : dq_turbo3;
    case KVV_TURBO3_QK128:
        return lut == 4 ? NULL : dq_turbo3_qk128;
    case KVV_TURBO4:
        return dq_turbo4;
    case KVV_TURBO4_NARROW:
        return dq_turbo4_narrow;
    default:
        return NULL;
    }
}
