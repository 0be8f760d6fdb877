/* The instances of attn_avx2_rows.h, one per pair of K and V row formats
 * (f32 stands for any type dequantized into a buffer), named
 * NAME(x) = x_<K>_<V> followed by SFX; included by attn_avx2.c once for
 * AVX2 and once with ROWS_512 for AVX-512. */
#define T_f32 float
#define T_f16 uint16_t
#define T_q8 uint8_t

#define KT float
#define KROW ROW_F32
#define LDK LD_F32
#define LDK2 LDK2_f32
#define KQ8 0
#define VT float
#define VROW ROW_F32
#define LDV LD_F32
#define LDV16 LDV16_f32
#define VQ8 0
#define NAME(x) SFX(x##_f32_f32)
#include "kernels/cpu/attn_avx2_rows.h"
#undef VT
#undef VROW
#undef LDV
#undef LDV16
#undef VQ8
#undef NAME
#define VT uint16_t
#define VROW ROW_F32
#define LDV LD_F16
#define LDV16 LDV16_f16
#define VQ8 0
#define NAME(x) SFX(x##_f32_f16)
#include "kernels/cpu/attn_avx2_rows.h"
#undef VT
#undef VROW
#undef LDV
#undef LDV16
#undef VQ8
#undef NAME
#define VT uint8_t
#define VROW ROW_Q8_0
#define LDV LD_Q8_0
#define VQ8 1
#define NAME(x) SFX(x##_f32_q8)
#include "kernels/cpu/attn_avx2_rows.h"
#undef VT
#undef VROW
#undef LDV
#undef VQ8
#undef NAME
#undef KT
#undef KROW
#undef LDK
#undef LDK2
#undef KQ8

#define KT uint16_t
#define KROW ROW_F32
#define LDK LD_F16
#define LDK2 LDK2_f16
#define KQ8 0
#define VT float
#define VROW ROW_F32
#define LDV LD_F32
#define LDV16 LDV16_f32
#define VQ8 0
#define NAME(x) SFX(x##_f16_f32)
#include "kernels/cpu/attn_avx2_rows.h"
#undef VT
#undef VROW
#undef LDV
#undef LDV16
#undef VQ8
#undef NAME
#define VT uint16_t
#define VROW ROW_F32
#define LDV LD_F16
#define LDV16 LDV16_f16
#define VQ8 0
#define NAME(x) SFX(x##_f16_f16)
#include "kernels/cpu/attn_avx2_rows.h"
#undef VT
#undef VROW
#undef LDV
#undef LDV16
#undef VQ8
#undef NAME
#define VT uint8_t
#define VROW ROW_Q8_0
#define LDV LD_Q8_0
#define VQ8 1
#define NAME(x) SFX(x##_f16_q8)
#include "kernels/cpu/attn_avx2_rows.h"
#undef VT
#undef VROW
#undef LDV
#undef VQ8
#undef NAME
#undef KT
#undef KROW
#undef LDK
#undef LDK2
#undef KQ8

#define KT uint8_t
#define KROW ROW_Q8_0
#define LDK LD_Q8_0
#define KQ8 1
#define VT float
#define VROW ROW_F32
#define LDV LD_F32
#define LDV16 LDV16_f32
#define VQ8 0
#define NAME(x) SFX(x##_q8_f32)
#include "kernels/cpu/attn_avx2_rows.h"
#undef VT
#undef VROW
#undef LDV
#undef LDV16
#undef VQ8
#undef NAME
#define VT uint16_t
#define VROW ROW_F32
#define LDV LD_F16
#define LDV16 LDV16_f16
#define VQ8 0
#define NAME(x) SFX(x##_q8_f16)
#include "kernels/cpu/attn_avx2_rows.h"
#undef VT
#undef VROW
#undef LDV
#undef LDV16
#undef VQ8
#undef NAME
#define VT uint8_t
#define VROW ROW_Q8_0
#define LDV LD_Q8_0
#define VQ8 1
#define NAME(x) SFX(x##_q8_q8)
#include "kernels/cpu/attn_avx2_rows.h"
#undef VT
#undef VROW
#undef LDV
#undef VQ8
#undef NAME
#undef KT
#undef KROW
#undef LDK
#undef KQ8

#undef T_f32
#undef T_f16
#undef T_q8
