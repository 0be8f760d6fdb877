/* Walsh-Hadamard rotation with AVX2: the same pairs, the same operations and
 * the same operand order as wht.c, so every output bit (NaN signs included)
 * matches the scalar kernel.  Stages h = 1, 2, 4 pair lanes inside a vector
 * (a lane shuffle, then a+b into the lower and a-b into the upper lanes of
 * each pair); stages h >= 8 pair whole vectors. */
#include <immintrin.h>

#include "kernels/cpu/cpu_internal.h"

/* in-vector stage: sw holds each lane's partner; the lower lane of a pair
 * keeps a+b (v+sw), the upper one a-b (sw-v), as blend mask `upper` says */
#define STAGE_IN_VECTOR(v, sw, upper) _mm256_blend_ps(_mm256_add_ps(v, sw), _mm256_sub_ps(sw, v), upper)

void cpu_wht_group_avx2(float *u, int g, const float *pre, const float *post)
{
    if (g < 8) {
        cpu_wht_group(u, g, pre, post);
        return;
    }
    const int nv = g / 8;
    __m256 v[16];
    for (int k = 0; k < nv; k++) {
        __m256 x = _mm256_mul_ps(_mm256_loadu_ps(u + 8 * k), _mm256_loadu_ps(pre + 8 * k));
        x = STAGE_IN_VECTOR(x, _mm256_permute_ps(x, 0xB1), 0xAA);              /* h = 1 */
        x = STAGE_IN_VECTOR(x, _mm256_permute_ps(x, 0x4E), 0xCC);              /* h = 2 */
        x = STAGE_IN_VECTOR(x, _mm256_permute2f128_ps(x, x, 0x01), 0xF0);      /* h = 4 */
        v[k] = x;
    }
    for (int hv = 1; hv < nv; hv *= 2) /* h = 8 * hv */
        for (int i = 0; i < nv; i += 2 * hv)
            for (int k = i; k < i + hv; k++) {
                __m256 a = v[k], b = v[k + hv];
                v[k] = _mm256_add_ps(a, b);
                v[k + hv] = _mm256_sub_ps(a, b);
            }
    const __m256 s = _mm256_set1_ps(cpu_inv_sqrt_pow2[__builtin_ctz((unsigned)g)]);
    for (int k = 0; k < nv; k++)
        _mm256_storeu_ps(u + 8 * k, _mm256_mul_ps(v[k], _mm256_mul_ps(s, _mm256_loadu_ps(post + 8 * k))));
}
