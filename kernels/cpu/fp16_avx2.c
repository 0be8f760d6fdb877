/* f16 rows through F16C.  vcvtps2ph keeps a NaN's payload where ggml stores
 * the quiet NaN sign|0x7e00, so NaN lanes are replaced by a payload-free
 * quiet NaN of the same sign before converting.  vcvtph2ps already quiets a
 * signalling NaN the way fp16.c does. */
#include <immintrin.h>

#include "kernels/cpu/cpu_internal.h"

/* 8 values, a NaN lane replaced first */
static inline __m128i to_f16_nan_fixed(__m256 v)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 qnan = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fc00000));
    __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    v = _mm256_blendv_ps(v, _mm256_or_ps(_mm256_and_ps(v, sign), qnan), nan);
    return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

void cpu_f32_to_f16_row_avx2(const float *x, uint16_t *y, int64_t n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 qnan = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fc00000));
    int64_t i = 0;
    /* 32 at a time: one NaN test for all of them (a cache row is almost
     * never NaN), then plain conversions */
    for (; i + 32 <= n; i += 32) {
        __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8), v2 = _mm256_loadu_ps(x + i + 16),
               v3 = _mm256_loadu_ps(x + i + 24);
        __m256 nan = _mm256_or_ps(_mm256_cmp_ps(v0, v1, _CMP_UNORD_Q), _mm256_cmp_ps(v2, v3, _CMP_UNORD_Q));
        if (!_mm256_testz_ps(nan, nan)) {
            _mm_storeu_si128((__m128i *)(y + i), to_f16_nan_fixed(v0));
            _mm_storeu_si128((__m128i *)(y + i + 8), to_f16_nan_fixed(v1));
            _mm_storeu_si128((__m128i *)(y + i + 16), to_f16_nan_fixed(v2));
            _mm_storeu_si128((__m128i *)(y + i + 24), to_f16_nan_fixed(v3));
            continue;
        }
        const int rn = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
        _mm256_storeu_si256((__m256i *)(y + i),
                            _mm256_set_m128i(_mm256_cvtps_ph(v1, rn), _mm256_cvtps_ph(v0, rn)));
        _mm256_storeu_si256((__m256i *)(y + i + 16),
                            _mm256_set_m128i(_mm256_cvtps_ph(v3, rn), _mm256_cvtps_ph(v2, rn)));
    }
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
        v = _mm256_blendv_ps(v, _mm256_or_ps(_mm256_and_ps(v, sign), qnan), nan);
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    for (; i < n; i++)
        y[i] = cpu_f32_to_f16(x[i]);
}

void cpu_f16_to_f32_row_avx2(const uint16_t *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++)
        y[i] = cpu_f16_to_f32(x[i]);
}
