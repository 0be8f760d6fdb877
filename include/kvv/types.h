/* kvverify public API: the K/V cache type table.
 *
 * A type is one row of a table (block size, bytes, bits per value, layout
 * codec), never a switch repeated in every file.  The rows are the list
 * kvv/formats.def; this header derives the enum and, header-only (for a
 * plugin, which links no kvverify module), the facts of each row:
 * kvv_format_get() and the constants KVV_BLOCK_<ID>, KVV_BYTES_<ID>,
 * KVV_INDEX_BITS_<ID> for static assertions.  The table of core/types.c adds
 * the codec of each layout.  Each module (ref/, kernels/cpu, ...) keeps its
 * own row of functions per type, indexed by kvv_type, so that a reference
 * and a kernel never share arithmetic. */
#ifndef KVV_TYPES_H
#define KVV_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* One value per row of kvv/formats.def: KVV_F32 .. KVV_TURBO4_NARROW, and
 * KVV_TYPE_COUNT, the number of rows. */
typedef enum kvv_type {
#define KVV_FORMAT(id, value, ...) KVV_##id = value,
#include "kvv/formats.def"
    KVV_TYPE_COUNT = 0
#define KVV_FORMAT(...) +1
#include "kvv/formats.def"
    ,
    KVV_TYPE_NONE = -1
} kvv_type;

typedef enum kvv_family {
    KVV_FAMILY_FLOAT, /* f32, f16, bf16: one value per "block" */
    KVV_FAMILY_BLOCK, /* ggml block types: scale(s) + integer indices */
    KVV_FAMILY_TURBO  /* WHT rotation + centroid indices + corrected norm */
} kvv_family;

/* Compile-time facts of each row (KVV_BLOCK_Q8_0 = 32, KVV_BYTES_Q8_0 = 34,
 * KVV_INDEX_BITS_Q8_0 = 8), for the static assertions of modules that keep
 * their own description of a layout. */
enum {
#define KVV_FORMAT(id, value, name, cache, family, block, bytes, index_bits, ...)                                 \
    KVV_BLOCK_##id = block, KVV_BYTES_##id = bytes, KVV_INDEX_BITS_##id = index_bits,
#include "kvv/formats.def"
    /* the cache types: rows of a cache type's default format */
    KVV_CACHE_TYPE_COUNT = 0
#define KVV_FORMAT(...) +1
#define KVV_FORMAT_VERSION(...)
#include "kvv/formats.def"
};

/* The facts of one row of kvv/formats.def. */
typedef struct kvv_format {
    kvv_type type;
    const char *name;   /* as printed and parsed: "q8_0", "turbo3@qk128" */
    const char *cache;  /* the cache type it belongs to: "turbo3" for both turbo3 rows */
    kvv_family family;
    int block;          /* values per block */
    int bytes;          /* bytes per block */
    int index_bits;     /* bits of each quantization index (0 for float types) */
    int rotated;        /* values are stored in the WHT-rotated basis */
    int format_version; /* 0 = default format; >0 = a named variant of the cache type */
    int ggml;           /* upstream ggml_type value of these bytes; -1: none */
    const char *layout; /* one-line description of the block layout */
} kvv_format;

/* Header-only: a row's facts, NULL for an out-of-range type. */
static inline const kvv_format *kvv_format_get(kvv_type t)
{
    static const kvv_format rows[KVV_TYPE_COUNT] = {
#define KVV_FORMAT(id, value, name, cache, family, block, bytes, index_bits, rotated, version, ggml, codec, layout) \
    [KVV_##id] = {KVV_##id, name, cache, KVV_FAMILY_##family, block, bytes, index_bits, rotated, version, ggml, layout},
#include "kvv/formats.def"
    };
    return (unsigned)t < (unsigned)KVV_TYPE_COUNT ? &rows[t] : NULL;
}

/* Header-only: the row named name (exact, case-sensitive); KVV_TYPE_NONE
 * when none is. */
static inline kvv_type kvv_format_named(const char *name)
{
    for (int t = 0; name && t < KVV_TYPE_COUNT; t++) {
        const char *a = kvv_format_get((kvv_type)t)->name, *b = name;
        while (*a && *a == *b)
            a++, b++;
        if (*a == *b)
            return (kvv_type)t;
    }
    return KVV_TYPE_NONE;
}

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

/* The K/V cache types of the pair matrix, in kvv_type order: the rows of a
 * default format (KVV_FORMAT in kvv/formats.def; the other rows, such as
 * turbo3@qk128 and turbo4@qjl, are format versions of these). */
extern const kvv_type kvv_cache_types[KVV_CACHE_TYPE_COUNT];

/* Bytes of a row of ncols values; 0 when ncols is not a multiple of the block. */
size_t kvv_row_bytes(kvv_type t, int64_t ncols);

/* Whether a row of head_dim values can be stored in type t, and if not why. */
int kvv_type_fits(kvv_type t, int head_dim, char *why, size_t why_len);

/* WHT rotation group for a head: the largest power of two dividing head_dim,
 * capped at 128 (SPEC 3.4). */
int kvv_rot_group(int head_dim);

#endif
