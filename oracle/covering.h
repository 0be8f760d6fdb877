/* Covering arrays (the practice of NIST ACTS and PICT): rows of values of
 * n dimensions such that every combination of values of any t of them that
 * the constraints allow appears in at least one row.  The generator is a
 * greedy in-parameter-order construction (IPOG: Lei et al., 2007) with
 * constraints, mixed strength (every pair, plus chosen triples) and rows
 * already in the suite; it is deterministic from a seed.  The kvverify
 * dimensions that use it are in oracle/dims.c. */
#ifndef KVV_COVERING_H
#define KVV_COVERING_H

#include <stddef.h>
#include <stdint.h>

#define KVV_COV_MAX_DIMS 24
#define KVV_COV_ANY (-1) /* a row position with no value yet */

/* A constraint check on a row of value indices (KVV_COV_ANY where none is
 * assigned): 0 when a constraint whose dimensions are all assigned is
 * broken (the reason into why, which may be NULL), 1 otherwise. */
typedef int (*kvv_cov_check_fn)(const void *ctx, const int *row, char *why, size_t why_len);

typedef struct kvv_cov_model {
    int ndims;
    const int *nvals;        /* values of each dimension, >= 1 */
    kvv_cov_check_fn ok;     /* the constraints (NULL: none) */
    const void *ctx;
    const double *const *cost; /* optional cost[d][v]: what a value adds to a case's run time */
    int strength;            /* 2: every pair of dimensions; 3: every triple */
    int nmarked;             /* further triples of dimensions covered 3-way at strength 2 */
    const int (*marked)[3];
} kvv_cov_model;

/* Which combinations a set of rows covers, against what the constraints
 * allow.  A tuple set is the 2 or 3 dimensions of one interaction: every
 * pair (strength 2 and 3), every triple (strength 3) or a marked triple. */
typedef struct kvv_cov_table kvv_cov_table;

/* The tuple sets of model m and, for each combination, whether some row
 * obeying m's constraints (and keep, when not NULL: a further constraint
 * on the rows that will hold it) can hold it.  NULL when out of memory. */
kvv_cov_table *kvv_cov_table_new(const kvv_cov_model *m, kvv_cov_check_fn keep, const void *keep_ctx);
void kvv_cov_table_free(kvv_cov_table *t);
/* Count a fully assigned row as covering its combinations. */
void kvv_cov_table_add(kvv_cov_table *t, const int *row);

int kvv_cov_nsets(const kvv_cov_table *t);
/* Set s: its size (2 or 3), dimensions, and how many combinations it has */
int kvv_cov_set_dims(const kvv_cov_table *t, int s, int dims[3]);
int64_t kvv_cov_set_combos(const kvv_cov_table *t, int s);
/* Combination i of set s: its values (in the order of the set's dims),
 * whether it is possible, and how many rows cover it */
void kvv_cov_combo(const kvv_cov_table *t, int s, int64_t i, int vals[3], int *possible, int64_t *covered);

typedef struct kvv_cov_count {
    int64_t possible, covered; /* combinations the constraints allow, and those a row holds */
} kvv_cov_count;
/* Totals over the sets of size t (2: pairs, 3: triples). */
kvv_cov_count kvv_cov_total(const kvv_cov_table *t, int size);

/* Generate rows that, with the npre rows of pre (fully assigned, row major),
 * cover every combination of m's tuple sets that some row obeying m's
 * constraints and keep can hold.  New rows obey both and are fully
 * assigned.  *rows (row major, ndims per row; free() it) and *nrows; 0, or
 * -1 when out of memory. */
int kvv_cov_generate(const kvv_cov_model *m, kvv_cov_check_fn keep, const void *keep_ctx, const int *pre, int npre,
                     uint64_t seed, int **rows, int *nrows);

#endif
