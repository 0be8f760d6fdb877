/* kvverify public API: tensors as plain typed arrays with a shape.
 *
 * Attention operands use fixed layouts (see backend.h); this struct is what
 * dumps, reports and the runner pass around. */
#ifndef KVV_TENSOR_H
#define KVV_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "kvv/types.h"

#define KVV_MAX_DIMS 4

typedef struct kvv_tensor {
    kvv_type type;             /* element/block type of data */
    int ndim;
    int64_t ne[KVV_MAX_DIMS];  /* sizes, innermost first (ne[0] = values per row) */
    void *data;                /* packed rows, kvv_row_bytes(type, ne[0]) each */
} kvv_tensor;

/* Rows (product of ne[1..]) and total bytes of a tensor. */
int64_t kvv_tensor_rows(const kvv_tensor *t);
size_t kvv_tensor_bytes(const kvv_tensor *t);

/* 64-byte aligned, zeroed allocation; NULL when size would overflow or memory
 * is exhausted.  Free with kvv_free. */
void *kvv_alloc(size_t size);
void kvv_free(void *p);

#endif
