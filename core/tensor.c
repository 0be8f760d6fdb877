/* Tensor sizes and aligned allocation. */
#include <stdlib.h>
#include <string.h>

#include "kvv/tensor.h"

int64_t kvv_tensor_rows(const kvv_tensor *t)
{
    int64_t r = 1;
    for (int i = 1; i < t->ndim; i++)
        r *= t->ne[i];
    return r;
}

size_t kvv_tensor_bytes(const kvv_tensor *t)
{
    return kvv_row_bytes(t->type, t->ne[0]) * (size_t)kvv_tensor_rows(t);
}

void *kvv_alloc(size_t size)
{
    /* round up to the alignment, refusing sizes that would wrap */
    if (size > SIZE_MAX - 64)
        return NULL;
    size_t n = (size + 63) & ~(size_t)63;
    if (n == 0)
        n = 64;
    void *p = aligned_alloc(64, n);
    if (p)
        memset(p, 0, n);
    return p;
}

void kvv_free(void *p) { free(p); }
