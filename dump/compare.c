/* Comparing two arrays element by element: bitwise, as the oracle judges
 * identity (any NaN equals any NaN, -0 differs from +0), with the first
 * difference located by its indices and sized absolutely and relatively. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dump/dump.h"

static double element(const kvv_array *a, int64_t i)
{
    switch (a->dtype) {
    case KVV_DT_U8: return ((const uint8_t *)a->data)[i];
    case KVV_DT_F32: return ((const float *)a->data)[i];
    case KVV_DT_F64: return ((const double *)a->data)[i];
    default: return NAN;
    }
}

static int same_element(const kvv_array *a, const kvv_array *b, int64_t i)
{
    size_t sz = kvv_dtype_size(a->dtype);
    const char *pa = (const char *)a->data + (size_t)i * sz, *pb = (const char *)b->data + (size_t)i * sz;
    if (!memcmp(pa, pb, sz))
        return 1;
    return a->dtype != KVV_DT_U8 && isnan(element(a, i)) && isnan(element(b, i));
}

static void unflatten(const kvv_array *a, int64_t flat, int64_t *idx)
{
    for (int d = a->ndim - 1; d >= 0; d--) {
        idx[d] = a->dims[d] ? flat % a->dims[d] : 0;
        flat = a->dims[d] ? flat / a->dims[d] : 0;
    }
}

void kvv_array_compare(const kvv_array *a, const kvv_array *b, kvv_array_diff *d)
{
    memset(d, 0, sizeof *d);
    d->first = d->max_at = -1;
    if (a->dtype != b->dtype || a->ndim != b->ndim || memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->ndim)) {
        d->differs = 2;
        return;
    }
    int64_t n = kvv_array_count(a);
    for (int64_t i = 0; i < n; i++) {
        if (same_element(a, b, i))
            continue;
        double x = element(a, i), y = element(b, i);
        double ad = isfinite(x) && isfinite(y) ? fabs(x - y) : INFINITY;
        if (d->count == 0) {
            d->first = i;
            d->a = x;
            d->b = y;
            d->abs = ad;
            double m = fmax(fabs(x), fabs(y));
            d->rel = m > 0 && isfinite(ad) ? ad / m : isfinite(ad) ? 0 : INFINITY;
        }
        if (isfinite(ad) && (d->max_at < 0 || ad > d->max_abs)) {
            d->max_abs = ad;
            d->max_at = i;
        }
        d->count++;
    }
    d->differs = d->count > 0;
    if (d->differs)
        unflatten(a, d->first, d->idx);
}

void kvv_array_index_text(const kvv_array *a, const int64_t *idx, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "%s[", a->name);
    for (int i = 0; i < a->ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)idx[i]);
    if (k < n)
        snprintf(buf + k, n - k, "]");
}
