/* The double-precision reference: the whole interface of ref/.
 *
 * ref/ depends on nothing but libm, GSL and BLAS (and the type enum of
 * include/kvv).  It shares no arithmetic or tables with any kernel: a
 * reference that reused a kernel's table would agree with a wrong table.
 *
 * Quantizers produce the canonical bytes of SPEC.md: the spec's formulas
 * evaluated in f32 in the spec's order (emulated with explicit roundings),
 * plus tie information computed from the exact (f64) values: an element whose
 * exact pre-rounding value lies within one f32 ulp of a rounding boundary
 * (measured where the rounding happens) may legitimately take the other
 * neighbour in a correct f32 implementation that orders its arithmetic
 * differently.  The oracle counts such ties; it never hides them. */
#ifndef KVV_REF_H
#define KVV_REF_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kvv/types.h"

/* ---- scalar conversions (exact, software) ---- */
uint16_t kvv_ref_f32_to_f16(float x);  /* round to nearest even, NaN stays NaN */
float kvv_ref_f16_to_f32(uint16_t h);
uint16_t kvv_ref_f32_to_bf16(float x); /* (u + 0x7fff + ((u>>16)&1)) >> 16; NaN -> quiet NaN */
float kvv_ref_bf16_to_f32(uint16_t h);
/* Distance from x to the next representable f32 away from zero (ulp of |x|).
 * Inline: the quantizers' tie tests ask it of every element.  x = m * 2^e
 * with m in [0.5, 1) and the ulp is 2^(e-24); e comes from the exponent
 * field E of the (normal) double, e = E - 1022, so the ulp has the field
 * E - 23.  Inf and NaN give 2^-24 (as frexp's e = 0 would). */
static inline double kvv_ref_ulp32(double x)
{
    x = fabs(x);
    if (x < 0x1p-126)
        return 0x1p-149;
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    uint64_t field = u >> 52;
    if (field == 0x7ff)
        return 0x1p-24;
    u = (field - 23) << 52;
    double r;
    memcpy(&r, &u, sizeof r);
    return r;
}

/* ---- tie information of a canonical quantization ---- */
#define KVV_NO_TIE INT16_MIN
typedef struct kvv_ref_ties {
    int16_t *alt;        /* [nrows*ncols] other index a correct f32 evaluation may give, or KVV_NO_TIE */
    uint8_t *sign_tie;   /* [nrows*ncols] turbo4@qjl: the QJL sign may flip (projection within rounding of 0) */
    uint32_t *scale_alt; /* [nblocks*2] other raw bits each scale field may take */
    uint8_t *scale_tie;  /* [nblocks] bit i: scale field i may take scale_alt[2*b+i] */
    uint8_t *block_tie;  /* [nblocks] the block's scale search was within rounding of another choice */
} kvv_ref_ties;

/* Allocate (zeroed, alt filled with KVV_NO_TIE) / free tie arrays for a tensor. */
int kvv_ref_ties_alloc(kvv_ref_ties *t, kvv_type type, int64_t nrows, int64_t ncols);
void kvv_ref_ties_free(kvv_ref_ties *t);

/* One row per type: the reference's functions.  Rows are packed
 * (kvv_row_bytes(type, ncols) each). */
typedef struct kvv_ref_type {
    kvv_type type;
    /* canonical bytes; ties may be NULL.  Returns 0, or -1 for a shape the
     * type cannot take. */
    int (*quantize)(const float *x, void *dst, int64_t nrows, int64_t ncols, kvv_ref_ties *ties);
    /* canonical f32 values (rotated basis for turbo types) */
    void (*dequantize)(const void *src, float *dst, int64_t nrows, int64_t ncols);
    /* Optional (turbo types): the canonical bytes of one row had the
     * quantizer chosen these indices (e.g. the other side of a tie): the
     * fields that depend on the indices (norm, QJL residual) are recomputed,
     * with their own ties.  idx: ncols indices. */
    int (*requantize)(const float *x, const int16_t *idx, void *dst, int64_t ncols, kvv_ref_ties *ties);
    /* Optional (iq4_nl): the weighted squared error a block of 32 achieves
     * for input x; used to judge blocks whose scale search was a tie. */
    double (*block_cost)(const float *x, const void *block);
} kvv_ref_type;

const kvv_ref_type *kvv_ref_type_get(kvv_type t);

/* ---- WHT rotation (SPEC 3.4) ---- */
/* The fixed sign vectors (index 0 first), +1/-1. */
extern const int8_t kvv_ref_s1[128];
extern const int8_t kvv_ref_s2[128];
/* Exact f64 rotation of rows in groups of `group` (power of two, 1..128):
 * forward x -> S2 * H * S1 * x / sqrt(g); inverse S1 * H * S2 * x / sqrt(g). */
void kvv_ref_wht(double *x, int64_t nrows, int64_t ncols, int group, int inverse);

/* ---- attention (SPEC 4), f64 with the GEMMs through BLAS ---- */
typedef struct kvv_ref_attn_args {
    int dk, dv, n_q, n_kv, n_head, n_head_kv;
    const double *q;    /* [n_head][n_q][dk] */
    const double *k;    /* [n_head_kv][n_kv][dk] */
    const double *v;    /* [n_head_kv][n_kv][dv] */
    const float *mask;  /* [n_q][n_kv] or NULL */
    double scale, max_bias, softcap;
} kvv_ref_attn_args;

/* out: [n_head][n_q][dv].  probs (optional): [n_head][n_q][n_kv] normalized
 * softmax weights; scores (optional): [n_head][n_q][n_kv] the logits after
 * scale, softcap and mask.  A fully masked row gives zeros (and zero probs).
 * Returns 0, or -1 when memory runs out. */
int kvv_ref_attention(const kvv_ref_attn_args *a, double *out, double *probs, double *scores);
/* How many threads OpenBLAS may use for the reference's GEMMs (n >= 1).  A
 * GEMM splits its rows and columns among threads, never a sum, so the count
 * changes no output bit (tests/test_ref_attn_bits.c checks at 1 and more);
 * a caller that already runs one process per core sets 1, so that BLAS
 * threads do not spin against its other processes. */
void kvv_ref_blas_threads(int n);
/* ALiBi slope of head h (ggml: m0 = 2^(-max_bias/n_head_log2), ...); 1 when max_bias is 0. */
double kvv_ref_alibi_slope(int h, int n_head, double max_bias);

/* ---- centroid tables from first principles (SPEC 3.5) ---- */
typedef enum kvv_ref_density {
    KVV_DENSITY_BETA,  /* coordinate of a random unit vector in d dims: (1-t^2)^((d-3)/2) */
    KVV_DENSITY_GAUSS  /* N(0, 1/d) */
} kvv_ref_density;

/* Lloyd-Max quantizer with `levels` levels (ascending) for the density at
 * dimension d, by GSL quadrature; mse = expected squared error per
 * coordinate.  Returns 0, or -1 if it does not converge. */
int kvv_ref_lloyd_max(kvv_ref_density dens, int d, int levels, double *centroids, double *mse);

/* A centroid table that a format ships, as the reference knows it. */
typedef struct kvv_ref_table {
    const char *name;       /* "turbo3 C3" */
    int levels;
    const double *values;   /* ascending */
} kvv_ref_table;
/* All shipped tables, including the alternative 4-bit table some forks use. */
const kvv_ref_table *kvv_ref_tables(int *count);

typedef struct kvv_ref_table_match {
    kvv_ref_density density; /* best-matching density */
    int d;                   /* best-matching dimension */
    double max_abs_dev;      /* largest |shipped - derived| over the levels */
    double max_rel_dev;      /* largest deviation relative to the derived spacing */
    double mse_shipped;      /* distortion per coordinate (times d) of the shipped table */
    double mse_optimal;      /* ... of the Lloyd-Max table at that d */
    int matches;             /* max_rel_dev within KVV_REF_TABLE_TOL */
} kvv_ref_table_match;
#define KVV_REF_TABLE_TOL 0.02
/* Search densities and dimensions d in [dmin, dmax] for the one the table
 * fits best. */
int kvv_ref_table_match_find(const kvv_ref_table *t, int dmin, int dmax, kvv_ref_table_match *m);

#endif
