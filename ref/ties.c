/* Tie arrays of a quantized tensor, and the rules that fill them.
 *
 * A tie is an element (or scale field) whose exact value lies so close to a
 * rounding boundary that a correct f32 implementation evaluating the same
 * formula in another order may land on the other side.  The canonical bytes
 * take one side; the tie records the other, so the oracle can accept it and
 * count it instead of calling it a mismatch. */
#include <math.h>
#include <stdlib.h>

#include "ref/quant/quant.h"

int kvv_ref_ties_alloc(kvv_ref_ties *t, kvv_type type, int64_t nrows, int64_t ncols)
{
    const kvv_type_info *ti = kvv_type_get(type);
    memset(t, 0, sizeof *t);
    if (!ti || nrows < 0 || ncols <= 0 || ncols % ti->block)
        return -1;
    size_t n = (size_t)nrows * (size_t)ncols, nb = (size_t)nrows * (size_t)(ncols / ti->block);
    /* calloc of 0 elements may return NULL; ask for at least one */
    t->alt = malloc((n ? n : 1) * sizeof *t->alt);
    t->sign_tie = calloc(n ? n : 1, 1);
    t->scale_alt = calloc(nb ? 2 * nb : 1, sizeof *t->scale_alt);
    t->scale_tie = calloc(nb ? nb : 1, 1);
    t->block_tie = calloc(nb ? nb : 1, 1);
    if (!t->alt || !t->sign_tie || !t->scale_alt || !t->scale_tie || !t->block_tie) {
        kvv_ref_ties_free(t);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        t->alt[i] = KVV_NO_TIE;
    return 0;
}

void kvv_ref_ties_free(kvv_ref_ties *t)
{
    if (!t)
        return;
    free(t->alt);
    free(t->sign_tie);
    free(t->scale_alt);
    free(t->scale_tie);
    free(t->block_tie);
    memset(t, 0, sizeof *t);
}

void kvv_rq_tie_index(kvv_ref_ties *t, int64_t e, double vlo, double vhi, double b, double win, int canon,
                      int below, int above)
{
    if (!t || below == above || !(b >= vlo - win && b <= vhi + win))
        return;
    if (canon == below)
        t->alt[e] = (int16_t)above;
    else if (canon == above)
        t->alt[e] = (int16_t)below;
}

uint16_t kvv_rq_f64_to_f16(double v)
{
    uint16_t sign = signbit(v) ? 0x8000 : 0;
    double a = fabs(v);
    if (isnan(v))
        return (uint16_t)(sign | 0x7e00);
    if (a >= 65520.0) /* half-way between 65504 and 2^16 rounds up to Inf */
        return (uint16_t)(sign | 0x7c00);
    if (a == 0.0)
        return sign;
    int e;
    frexp(a, &e);                       /* a = m * 2^e, m in [0.5, 1): top bit 2^(e-1) */
    int ulp_e = e - 11 > -24 ? e - 11 : -24; /* 11 significant bits, or the subnormal ulp */
    double q = rint(ldexp(a, -ulp_e)); /* exact scaling; rint rounds half to even */
    if (ulp_e == -24)
        return (uint16_t)(sign | (uint16_t)q); /* q == 1024 is the smallest normal, same bits */
    if (q >= 2048.0) {
        q /= 2;
        ulp_e++;
    }
    return (uint16_t)(sign | ((ulp_e + 25) << 10) | ((uint16_t)q - 1024));
}

void kvv_rq_tie_scale_f16(kvv_ref_ties *t, int64_t blk, int field, double v, double abs_err, uint16_t canon)
{
    if (!t || !isfinite(v))
        return;
    double w = fabs(abs_err) + kvv_ref_ulp32(v);
    uint16_t a = kvv_rq_f64_to_f16(v - w), b = kvv_rq_f64_to_f16(v + w);
    if (a == b || ((a & 0x7fff) == 0 && (b & 0x7fff) == 0))
        return;
    t->scale_alt[2 * blk + field] = canon == a ? b : a;
    t->scale_tie[blk] |= (uint8_t)(1u << field);
}
