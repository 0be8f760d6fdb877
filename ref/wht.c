/* The WHT rotation of SPEC 3.4: the fixed sign vectors, the exact f64
 * transform of the reference, and the forks' f32 transform that the
 * canonical turbo quantizers evaluate. */
#include <math.h>

#include "ref/quant/quant.h"

/* SPEC 3.4, index 0 first (the forks pack them as set bit = -1, element e =
 * bit e%32 of word e/32: S1 = E46A0359 42F85949 A4C63BBB 49F250A9, S2 =
 * 16ACEE90 3F628FDC B7A5357A BEA56562; tests/test_ref_wht.c checks both). */
const int8_t kvv_ref_s1[128] = {
    -1,  1,  1, -1, -1,  1, -1,  1, -1, -1,  1,  1,  1,  1,  1,  1,
     1, -1,  1, -1,  1, -1, -1,  1,  1,  1, -1,  1,  1, -1, -1, -1,
    -1,  1,  1, -1,  1,  1, -1,  1, -1,  1,  1, -1, -1,  1, -1,  1,
     1,  1,  1, -1, -1, -1, -1, -1,  1, -1,  1,  1,  1,  1, -1,  1,
    -1, -1,  1, -1, -1, -1,  1, -1, -1, -1,  1, -1, -1, -1,  1,  1,
     1, -1, -1,  1,  1,  1, -1, -1,  1,  1, -1,  1,  1, -1,  1, -1,
    -1,  1,  1, -1,  1, -1,  1, -1,  1,  1,  1,  1, -1,  1, -1,  1,
     1, -1,  1,  1, -1, -1, -1, -1, -1,  1,  1, -1,  1,  1, -1,  1,
};
const int8_t kvv_ref_s2[128] = {
     1,  1,  1,  1, -1,  1,  1, -1,  1, -1, -1, -1,  1, -1, -1, -1,
     1,  1, -1, -1,  1, -1,  1, -1,  1, -1, -1,  1, -1,  1,  1,  1,
     1,  1, -1, -1, -1,  1, -1, -1, -1, -1, -1, -1,  1,  1,  1, -1,
     1, -1,  1,  1,  1, -1, -1,  1, -1, -1, -1, -1, -1, -1,  1,  1,
     1, -1,  1, -1, -1, -1, -1,  1, -1,  1, -1,  1, -1, -1,  1,  1,
    -1,  1, -1,  1,  1, -1,  1, -1, -1, -1, -1,  1, -1, -1,  1, -1,
     1, -1,  1,  1,  1, -1, -1,  1, -1,  1, -1,  1,  1, -1, -1,  1,
    -1,  1, -1,  1,  1, -1,  1, -1,  1, -1, -1, -1, -1, -1,  1, -1,
};

static int is_group(int g) { return g >= 1 && g <= 128 && (g & (g - 1)) == 0; }

float kvv_rq_inv_sqrt_f32(int g) { return (float)(1.0 / sqrt((double)g)); }

void kvv_rq_wht_f32(float *v, int g, const int8_t *a, const int8_t *b)
{
    for (int i = 0; i < g; i++)
        v[i] = v[i] * (float)a[i];
    for (int h = 1; h < g; h *= 2)
        for (int i = 0; i < g; i += 2 * h)
            for (int j = i; j < i + h; j++) {
                float x = v[j], y = v[j + h];
                v[j] = x + y;
                v[j + h] = x - y;
            }
    float s = kvv_rq_inv_sqrt_f32(g);
    for (int i = 0; i < g; i++)
        v[i] = v[i] * (s * (float)b[i]);
}

void kvv_rq_wht_f64(double *v, int g, const int8_t *a, const int8_t *b)
{
    for (int i = 0; i < g; i++)
        v[i] *= a[i];
    for (int h = 1; h < g; h *= 2)
        for (int i = 0; i < g; i += 2 * h)
            for (int j = i; j < i + h; j++) {
                double x = v[j], y = v[j + h];
                v[j] = x + y;
                v[j + h] = x - y;
            }
    double s = 1.0 / sqrt((double)g);
    for (int i = 0; i < g; i++)
        v[i] *= s * b[i];
}

/* Error of a rotated coordinate u of x/||x|| computed in f32, u32 = 2^-24:
 *  - the norm: g rounded squares summed in any order have relative error
 *    <= g*u32, the square root halves it and adds u32, the reciprocal (or
 *    the division) adds u32: every coordinate carries (g/2 + 2)*u32*|u|;
 *  - the butterfly: stage s adds an error vector of l2 norm <= u32 times the
 *    l2 norm of its input, which the remaining (orthogonal up to scale)
 *    stages carry to the output unchanged in l2 after the 1/sqrt(g): at most
 *    u32 per stage per coordinate, log2(g) in all, whatever the order of the
 *    pairs; the products x*inv, inv_sqrt*S2 (the constant itself rounded)
 *    and the final product add three more.
 * The canonical evaluation and any other correct one lie within this bound
 * of the exact value, so an exact value this close to a midpoint is a tie. */
static int log2i(int g)
{
    int lg = 0;
    while ((1 << lg) < g)
        lg++;
    return lg;
}

double kvv_rq_rot_err(double u, int g) { return KVV_RQ_U32 * ((log2i(g) + 3) + (g / 2 + 2) * fabs(u)); }

/* The same argument for the whole error vector: each stage, and each of the
 * three products, adds at most u32 in l2, and the norm's relative error
 * scales the unit vector u, whose l2 norm is 1. */
double kvv_rq_rot_err_l2(int g) { return KVV_RQ_U32 * ((log2i(g) + 3) + (g / 2 + 2)); }

void kvv_ref_wht(double *x, int64_t nrows, int64_t ncols, int group, int inverse)
{
    if (!is_group(group) || ncols <= 0 || ncols % group)
        return; /* not a rotation of this shape: leave the data alone */
    const int8_t *a = inverse ? kvv_ref_s2 : kvv_ref_s1, *b = inverse ? kvv_ref_s1 : kvv_ref_s2;
    for (int64_t r = 0; r < nrows; r++)
        for (int64_t c = 0; c < ncols; c += group)
            kvv_rq_wht_f64(x + r * ncols + c, group, a, b);
}
