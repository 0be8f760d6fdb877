/* Byte-level helpers shared by the CPU quantizers (private to kernels/cpu):
 * little-endian fields of a block, ggml's float-to-integer cast as x86-64
 * executes it, nibble packing, bf16 rounding, and the block sizes. */
#ifndef KVV_CPU_BLOCK_BYTES_H
#define KVV_CPU_BLOCK_BYTES_H

#include <stdint.h>
#include <string.h>

enum {
    Q8_0_BYTES = 34,
    Q4_0_BYTES = 18,
    Q4_1_BYTES = 20,
    Q5_0_BYTES = 22,
    Q5_1_BYTES = 24,
    IQ4_NL_BYTES = 18,
};

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
