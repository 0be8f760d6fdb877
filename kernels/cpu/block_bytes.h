/* Byte-level helpers shared by the CPU quantizers (private to kernels/cpu):
 * little-endian fields of a block, ggml's float-to-integer cast as x86-64
 * executes it, nibble packing, bf16 rounding, and the block sizes (the
 * facts of kvv/formats.def, asserted against the layouts written here). */
#ifndef KVV_CPU_BLOCK_BYTES_H
#define KVV_CPU_BLOCK_BYTES_H

#include <stdint.h>
#include <string.h>

#include "kvv/types.h"

/* Bytes per block from kvv/formats.def; the fields the kernels write (f16
 * scales, 16 bytes of nibbles or 32 of int8, 4 bytes of fifth bits) must
 * fill exactly that many. */
enum {
    Q8_0_BYTES = KVV_BYTES_Q8_0,
    Q4_0_BYTES = KVV_BYTES_Q4_0,
    Q4_1_BYTES = KVV_BYTES_Q4_1,
    Q5_0_BYTES = KVV_BYTES_Q5_0,
    Q5_1_BYTES = KVV_BYTES_Q5_1,
    IQ4_NL_BYTES = KVV_BYTES_IQ4_NL,
};
_Static_assert(Q8_0_BYTES == 2 + 32 && KVV_BLOCK_Q8_0 == 32, "q8_0: d, qs[32]");
_Static_assert(Q4_0_BYTES == 2 + 16 && KVV_BLOCK_Q4_0 == 32, "q4_0: d, qs[16]");
_Static_assert(Q4_1_BYTES == 2 + 2 + 16 && KVV_BLOCK_Q4_1 == 32, "q4_1: d, m, qs[16]");
_Static_assert(Q5_0_BYTES == 2 + 4 + 16 && KVV_BLOCK_Q5_0 == 32, "q5_0: d, qh[4], qs[16]");
_Static_assert(Q5_1_BYTES == 2 + 2 + 4 + 16 && KVV_BLOCK_Q5_1 == 32, "q5_1: d, m, qh[4], qs[16]");
_Static_assert(IQ4_NL_BYTES == 2 + 16 && KVV_BLOCK_IQ4_NL == 32, "iq4_nl: d, qs[16]");
_Static_assert(KVV_BYTES_IQ4_NL_SEARCH == KVV_BYTES_IQ4_NL && KVV_BLOCK_IQ4_NL_SEARCH == 32,
               "iq4_nl@search: iq4_nl's layout");

static inline uint16_t ggml_get_f16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline void ggml_put_f16(uint8_t *p, uint16_t h)
{
    p[0] = (uint8_t)h;
    p[1] = (uint8_t)(h >> 8);
}
static inline uint32_t ggml_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void ggml_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* (int)v as cvttss2si computes it: truncation, and INT32_MIN for NaN and for
 * values outside the int32 range (where a C cast would be undefined). */
static inline int32_t ggml_cvtt(float v)
{
    return (v > -2147483904.0f && v < 2147483648.0f) ? (int32_t)v : INT32_MIN;
}

/* bf16 with round to nearest even; a NaN keeps its sign and becomes quiet. */
static inline uint16_t ggml_bf16_from_f32(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 64u);
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

/* 32 indices into ggml's nibble layout: element j in the low nibble of qs[j],
 * element j+16 in the high nibble; bit 4 of element j at bit j of the 32-bit
 * little-endian qh (when qh is not NULL). */
static inline void ggml_pack_nibbles(const uint8_t *L, uint8_t *qs, uint8_t *qh)
{
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((L[j] & 0x0f) | ((L[j + 16] & 0x0f) << 4));
        h |= (uint32_t)((L[j] >> 4) & 1) << j;
        h |= (uint32_t)((L[j + 16] >> 4) & 1) << (j + 16);
    }
    if (qh)
        ggml_put_u32(qh, h);
}

#endif
