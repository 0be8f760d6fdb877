/* AVX2 kernels of the float and ggml block types.  Same bytes as
 * quant_ggml.c: the formulas are evaluated lane-wise in the same f32
 * operations; reductions used here are exact (max, min), and the
 * float-to-integer casts use cvttps2dq, which behaves as cvttss2si. */
#include <immintrin.h>

#include "kernels/cpu/block_bytes.h"
#include "kernels/cpu/cpu_internal.h"

static void quantize_f16(const float *x, void *dst, int n) { cpu_f32_to_f16_row_avx2(x, dst, n); }
static void dequantize_f16(const void *src, float *y, int n, int lut)
{
    (void)lut;
    cpu_f16_to_f32_row_avx2(src, y, n);
}

const cpu_type_fns cpu_ggml_avx2[KVV_TYPE_COUNT] = {
    [KVV_F16] = {quantize_f16, dequantize_f16},
};
