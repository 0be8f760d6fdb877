/* kvverify public API: the K/V cache type table.
 *
 * A type is one row of a table (block size, bytes, bits per value, layout
 * codec), never a switch repeated in every file.  The table here holds only
 * the format facts; each module (ref/, kernels/cpu, ...) keeps its own row of
 * functions per type, indexed by kvv_type, so that a reference and a kernel
 * never share arithmetic. */
#ifndef KVV_TYPES_H
#define KVV_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef enum kvv_type {
    KVV_F32,
    KVV_F16,
    KVV_BF16,
    KVV_Q8_0,
    KVV_Q4_0,
    KVV_Q4_1,
    KVV_Q5_0,
    KVV_Q5_1,
    KVV_IQ4_NL,        /* the set_rows / quantize_row_iq4_nl_ref bytes (no scale search) */
    KVV_IQ4_NL_SEARCH, /* "iq4_nl@search": ggml_quantize_chunk's scale search (ntry = 7) */
    KVV_TURBO2,        /* turbo2_0, QK=32 (default format version) */
    KVV_TURBO2_QK128,  /* turbo2_0, one block per 128-group ("turbo2@qk128") */
    KVV_TURBO3,       /* turbo3_0, QK=32 (default format version) */
    KVV_TURBO3_QK128, /* turbo3_0, one block per 128-group ("turbo3@qk128") */
    KVV_TURBO4,       /* turbo4_0, 4-bit indices (TURBO4_USE_4BIT=1) */
    KVV_TURBO4_QJL,   /* turbo4_0 legacy: 3-bit + QJL residual signs ("turbo4@qjl") */
    KVV_TURBO4_NARROW, /* turbo4_0, 4-bit with the narrow table {+-0.006938 .. +-0.173926} ("turbo4@narrow") */
    KVV_TYPE_COUNT,
    KVV_TYPE_NONE = -1
} kvv_type;

typedef enum kvv_family {
    KVV_FAMILY_FLOAT, /* f32, f16, bf16: one value per "block" */
    KVV_FAMILY_BLOCK, /* ggml block types: scale(s) + integer indices */
    KVV_FAMILY_TURBO  /* WHT rotation + centroid indices + corrected norm */
} kvv_family;

/* The fields of one block, decoded from its bytes.  Scales are kept as raw
 * f16/bf16/f32 bits so that comparisons are exact. */
#define KVV_MAX_BLOCK 128
typedef struct kvv_fields {
    int n;                       /* values in the block */
    int nscale;                  /* meaningful entries of scale[] */
    uint32_t scale[2];           /* q*: d (and m); turbo: norm (and rnorm) */
    int16_t idx[KVV_MAX_BLOCK];  /* quantization index per value (q8_0: the int8) */
    int16_t sign[KVV_MAX_BLOCK]; /* turbo4@qjl: QJL sign bit per value, else 0 */
} kvv_fields;

typedef struct kvv_type_info {
    kvv_type type;
    const char *name;     /* as printed and parsed: "q8_0", "turbo3@qk128" */
    const char *cache;    /* the cache type it belongs to: "turbo3" for both turbo3 rows */
    kvv_family family;
    int block;            /* values per block */
    int bytes;            /* bytes per block */
    double bpv;           /* bits per value, bytes*8/block */
    int index_bits;       /* bits of each quantization index (0 for float types) */
    int rotated;          /* values are stored in the WHT-rotated basis */
    int format_version;   /* 0 = default format; >0 = a named variant of the cache type */
    const char *layout;   /* one-line description of the block layout */
    /* decode one block's bytes into fields, and the inverse (bit layouts only) */
    void (*unpack)(const void *block, kvv_fields *f);
    void (*pack)(const kvv_fields *f, void *block);
} kvv_type_info;

/* Table access; NULL for an out-of-range type. */
const kvv_type_info *kvv_type_get(kvv_type t);
/* Parse a type name (exact, case-sensitive); KVV_TYPE_NONE when unknown. */
kvv_type kvv_type_from_name(const char *name);
const char *kvv_type_name(kvv_type t);

/* The 12 K/V cache types of the pair matrix (the format-version rows
 * turbo3@qk128 and turbo4@qjl are variants of turbo3 and turbo4). */
#define KVV_CACHE_TYPE_COUNT 12
extern const kvv_type kvv_cache_types[KVV_CACHE_TYPE_COUNT];

/* Bytes of a row of ncols values; 0 when ncols is not a multiple of the block. */
size_t kvv_row_bytes(kvv_type t, int64_t ncols);

/* Whether a row of head_dim values can be stored in type t, and if not why. */
int kvv_type_fits(kvv_type t, int head_dim, char *why, size_t why_len);

/* WHT rotation group for a head: the largest power of two dividing head_dim,
 * capped at 128 (SPEC 3.4). */
int kvv_rot_group(int head_dim);

#endif
