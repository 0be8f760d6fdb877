/* Walsh-Hadamard rotation of the CPU backend (SPEC 3.4), scalar.
 * A group of g values (a power of two, 1..128): u *= pre; the butterfly over
 * pairs (j, j+h) for h = 1, 2, .., g/2 giving (a+b, a-b); u *= post/sqrt(g).
 * The turbo quantizers run exactly this on x/||x||, so a rotation through
 * cpu_wht_rows and the one inside a cache write give the same bits. */
#include "kernels/cpu/cpu_internal.h"

void cpu_wht_group(float *u, int g, const float *pre, const float *post)
{
    for (int i = 0; i < g; i++)
        u[i] *= pre[i];
    for (int h = 1; h < g; h *= 2)
        for (int i = 0; i < g; i += 2 * h)
            for (int j = i; j < i + h; j++) {
                float a = u[j], b = u[j + h];
                u[j] = a + b;
                u[j + h] = a - b;
            }
    const float s = cpu_inv_sqrt_pow2[__builtin_ctz((unsigned)g)];
    for (int i = 0; i < g; i++)
        u[i] *= s * post[i]; /* s * (+-1) is exact, so this is one rounding */
}

void cpu_wht_rows(float *x, int64_t nrows, int ncols, int group, int inverse, int isa)
{
    const float *pre = inverse ? cpu_wht_s2 : cpu_wht_s1;
    const float *post = inverse ? cpu_wht_s1 : cpu_wht_s2;
    void (*fn)(float *, int, const float *, const float *) =
        isa == KVV_ISA_AVX2 ? cpu_wht_group_avx2 : cpu_wht_group;
    for (int64_t r = 0; r < nrows; r++)
        for (int c = 0; c + group <= ncols; c += group)
            fn(x + r * (int64_t)ncols + c, group, pre, post);
}
