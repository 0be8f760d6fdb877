/* The type table: one row per K/V cache type and format version, with the
 * codec that decodes a block's bytes into fields (SPEC 1-3).  No arithmetic
 * lives here, only bit layouts. */
#include <stdio.h>
#include <string.h>

#include "kvv/types.h"

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static void wr16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

static void fields_clear(kvv_fields *f, int n, int nscale)
{
    memset(f, 0, sizeof *f);
    f->n = n;
    f->nscale = nscale;
}

/* ---- float types: the "block" is one value, kept as raw bits ---- */
static void unpack_f32(const void *b, kvv_fields *f)
{
    const uint8_t *p = b;
    fields_clear(f, 1, 1);
    f->scale[0] = rd16(p) | (rd16(p + 2) << 16);
}
static void pack_f32(const kvv_fields *f, void *b)
{
    uint8_t *p = b;
    wr16(p, f->scale[0] & 0xffff);
    wr16(p + 2, f->scale[0] >> 16);
}
static void unpack_f16(const void *b, kvv_fields *f)
{
    fields_clear(f, 1, 1);
    f->scale[0] = rd16(b);
}
static void pack_f16(const kvv_fields *f, void *b) { wr16(b, f->scale[0]); }

/* ---- ggml blocks of 32: nibble j low / j+16 high, optional 5th bit in qh ---- */
static void unpack_nibbles(const uint8_t *qs, const uint8_t *qh, kvv_fields *f)
{
    uint32_t h = qh ? (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24 : 0;
    for (int j = 0; j < 16; j++) {
        f->idx[j] = (int16_t)((qs[j] & 0x0f) | (((h >> j) & 1u) << 4));
        f->idx[j + 16] = (int16_t)((qs[j] >> 4) | (((h >> (j + 16)) & 1u) << 4));
    }
}
static void pack_nibbles(const kvv_fields *f, uint8_t *qs, uint8_t *qh)
{
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((f->idx[j] & 0x0f) | ((f->idx[j + 16] & 0x0f) << 4));
        h |= (uint32_t)((f->idx[j] >> 4) & 1) << j;
        h |= (uint32_t)((f->idx[j + 16] >> 4) & 1) << (j + 16);
    }
    if (qh)
        for (int i = 0; i < 4; i++)
            qh[i] = (uint8_t)(h >> (8 * i));
}

static void unpack_q8_0(const void *b, kvv_fields *f)
{
    const uint8_t *p = b;
    fields_clear(f, 32, 1);
    f->scale[0] = rd16(p);
    for (int j = 0; j < 32; j++)
        f->idx[j] = (int8_t)p[2 + j];
}
static void pack_q8_0(const kvv_fields *f, void *b)
{
    uint8_t *p = b;
    wr16(p, f->scale[0]);
    for (int j = 0; j < 32; j++)
        p[2 + j] = (uint8_t)(int8_t)f->idx[j];
}

/* q4_0 and iq4_nl share a layout: d, qs[16] */
static void unpack_q4_0(const void *b, kvv_fields *f)
{
    const uint8_t *p = b;
    fields_clear(f, 32, 1);
    f->scale[0] = rd16(p);
    unpack_nibbles(p + 2, NULL, f);
}
static void pack_q4_0(const kvv_fields *f, void *b)
{
    uint8_t *p = b;
    wr16(p, f->scale[0]);
    pack_nibbles(f, p + 2, NULL);
}
static void unpack_q4_1(const void *b, kvv_fields *f)
{
    const uint8_t *p = b;
    fields_clear(f, 32, 2);
    f->scale[0] = rd16(p);
    f->scale[1] = rd16(p + 2);
    unpack_nibbles(p + 4, NULL, f);
}
static void pack_q4_1(const kvv_fields *f, void *b)
{
    uint8_t *p = b;
    wr16(p, f->scale[0]);
    wr16(p + 2, f->scale[1]);
    pack_nibbles(f, p + 4, NULL);
}
static void unpack_q5_0(const void *b, kvv_fields *f)
{
    const uint8_t *p = b;
    fields_clear(f, 32, 1);
    f->scale[0] = rd16(p);
    unpack_nibbles(p + 6, p + 2, f);
}
static void pack_q5_0(const kvv_fields *f, void *b)
{
    uint8_t *p = b;
    wr16(p, f->scale[0]);
    pack_nibbles(f, p + 6, p + 2);
}
static void unpack_q5_1(const void *b, kvv_fields *f)
{
    const uint8_t *p = b;
    fields_clear(f, 32, 2);
    f->scale[0] = rd16(p);
    f->scale[1] = rd16(p + 2);
    unpack_nibbles(p + 8, p + 4, f);
}
static void pack_q5_1(const kvv_fields *f, void *b)
{
    uint8_t *p = b;
    wr16(p, f->scale[0]);
    wr16(p + 2, f->scale[1]);
    pack_nibbles(f, p + 8, p + 4);
}

/* ---- turbo: 2-bit fields 4 per byte, an optional third bit 8 per byte ---- */
static void unpack_2bit(const uint8_t *qs, const uint8_t *signs, int n, kvv_fields *f)
{
    for (int j = 0; j < n; j++) {
        int lo = (qs[j / 4] >> (2 * (j % 4))) & 3;
        int hi = signs ? (signs[j / 8] >> (j % 8)) & 1 : 0;
        f->idx[j] = (int16_t)(lo | (hi << 2));
    }
}
static void pack_2bit(const kvv_fields *f, uint8_t *qs, uint8_t *signs, int n)
{
    memset(qs, 0, (size_t)n / 4);
    if (signs)
        memset(signs, 0, (size_t)n / 8);
    for (int j = 0; j < n; j++) {
        qs[j / 4] |= (uint8_t)((f->idx[j] & 3) << (2 * (j % 4)));
        if (signs)
            signs[j / 8] |= (uint8_t)(((f->idx[j] >> 2) & 1) << (j % 8));
    }
}
static void unpack_turbo2(const void *b, kvv_fields *f)
{
    const uint8_t *p = b;
    fields_clear(f, 32, 1);
    f->scale[0] = rd16(p);
    unpack_2bit(p + 2, NULL, 32, f);
}
static void pack_turbo2(const kvv_fields *f, void *b)
{
    uint8_t *p = b;
    wr16(p, f->scale[0]);
    pack_2bit(f, p + 2, NULL, 32);
}
static void unpack_turbo2_qk128(const void *b, kvv_fields *f)
{
    const uint8_t *p = b;
    fields_clear(f, 128, 1);
    f->scale[0] = rd16(p);
    unpack_2bit(p + 2, NULL, 128, f);
}
static void pack_turbo2_qk128(const kvv_fields *f, void *b)
{
    uint8_t *p = b;
    wr16(p, f->scale[0]);
    pack_2bit(f, p + 2, NULL, 128);
}
static void unpack_turbo3(const void *b, kvv_fields *f)
{
    const uint8_t *p = b;
    fields_clear(f, 32, 1);
    f->scale[0] = rd16(p);
    unpack_2bit(p + 2, p + 10, 32, f);
}
static void pack_turbo3(const kvv_fields *f, void *b)
{
    uint8_t *p = b;
    wr16(p, f->scale[0]);
    pack_2bit(f, p + 2, p + 10, 32);
}
static void unpack_turbo3_qk128(const void *b, kvv_fields *f)
{
    const uint8_t *p = b;
    fields_clear(f, 128, 1);
    f->scale[0] = rd16(p);
    unpack_2bit(p + 2, p + 34, 128, f);
}
static void pack_turbo3_qk128(const kvv_fields *f, void *b)
{
    uint8_t *p = b;
    wr16(p, f->scale[0]);
    pack_2bit(f, p + 2, p + 34, 128);
}
/* turbo4 4-bit: norm, rnorm, qs[64]; element j in the low nibble of qs[j/2]
 * when j is even, the high nibble when odd. */
static void unpack_turbo4(const void *b, kvv_fields *f)
{
    const uint8_t *p = b;
    fields_clear(f, 128, 2);
    f->scale[0] = rd16(p);
    f->scale[1] = rd16(p + 2);
    for (int j = 0; j < 128; j++)
        f->idx[j] = (int16_t)((p[4 + j / 2] >> (4 * (j & 1))) & 0x0f);
}
static void pack_turbo4(const kvv_fields *f, void *b)
{
    uint8_t *p = b;
    wr16(p, f->scale[0]);
    wr16(p + 2, f->scale[1]);
    memset(p + 4, 0, 64);
    for (int j = 0; j < 128; j++)
        p[4 + j / 2] |= (uint8_t)((f->idx[j] & 0x0f) << (4 * (j & 1)));
}
/* turbo4 legacy: norm, rnorm, qs[48] (3-bit indices as a little-endian bit
 * stream, element j at bits 3j..3j+2), signs[16] (QJL sign of element j at
 * bit j%8 of byte j/8). */
static void unpack_turbo4_qjl(const void *b, kvv_fields *f)
{
    const uint8_t *p = b;
    fields_clear(f, 128, 2);
    f->scale[0] = rd16(p);
    f->scale[1] = rd16(p + 2);
    for (int j = 0; j < 128; j++) {
        int bit = 3 * j;
        uint32_t w = (uint32_t)p[4 + bit / 8] | ((bit / 8 + 1 < 48) ? (uint32_t)p[4 + bit / 8 + 1] << 8 : 0);
        f->idx[j] = (int16_t)((w >> (bit % 8)) & 7);
        f->sign[j] = (int16_t)((p[52 + j / 8] >> (j % 8)) & 1);
    }
}
static void pack_turbo4_qjl(const kvv_fields *f, void *b)
{
    uint8_t *p = b;
    wr16(p, f->scale[0]);
    wr16(p + 2, f->scale[1]);
    memset(p + 4, 0, 64);
    for (int j = 0; j < 128; j++) {
        int bit = 3 * j;
        uint32_t v = (uint32_t)(f->idx[j] & 7) << (bit % 8);
        p[4 + bit / 8] |= (uint8_t)v;
        if (v >> 8)
            p[4 + bit / 8 + 1] |= (uint8_t)(v >> 8);
        p[52 + j / 8] |= (uint8_t)((f->sign[j] & 1) << (j % 8));
    }
}

/* The rows of kvv/formats.def, checked: each value below the row count
 * (and distinct: a second initializer of a table entry below is an error
 * under -Wextra), and every row's facts agree with one another (family,
 * rotation, version, indices within the bytes, a block that kvv_fields
 * holds). */
#define CHECK_ROW(id, value, family, block, bytes, index_bits, rotated, ggml)                                      \
    _Static_assert((value) >= 0 && (value) < KVV_TYPE_COUNT, #id ": value past the row count");                  \
    _Static_assert((block) >= 1 && (block) <= KVV_MAX_BLOCK, #id ": a block kvv_fields cannot hold");              \
    _Static_assert((bytes) * 8 >= (block) * (index_bits), #id ": the indices do not fit in the bytes");            \
    _Static_assert((KVV_FAMILY_##family == KVV_FAMILY_FLOAT) == ((block) == 1 && (index_bits) == 0),               \
                   #id ": float rows are one value per block, without indices");                                   \
    _Static_assert((rotated) == (KVV_FAMILY_##family == KVV_FAMILY_TURBO), #id ": only TurboQuant rows rotate");  \
    _Static_assert((ggml) >= -1, #id ": ggml is a ggml_type value or -1");
#define KVV_FORMAT(id, value, name, cache, family, block, bytes, index_bits, rotated, version, ggml, codec, layout)  \
    CHECK_ROW(id, value, family, block, bytes, index_bits, rotated, ggml)                                         \
    _Static_assert((version) == 0, #id ": a cache type's default format is version 0");
#define KVV_FORMAT_VERSION(id, value, name, cache, family, block, bytes, index_bits, rotated, version, ggml, codec, \
                           layout)                                                                                 \
    CHECK_ROW(id, value, family, block, bytes, index_bits, rotated, ggml)                                         \
    _Static_assert((version) > 0, #id ": a named format version is numbered from 1");
#include "kvv/formats.def"
#undef CHECK_ROW

static const kvv_type_info type_table[KVV_TYPE_COUNT] = {
#define KVV_FORMAT(id, value, name, cache, family, block, bytes, index_bits, rotated, version, ggml, codec, layout)  \
    [KVV_##id] = {KVV_##id, name, cache, KVV_FAMILY_##family, block, bytes, (bytes) * 8.0 / (block), index_bits,     \
                  rotated, version, layout, unpack_##codec, pack_##codec},
#include "kvv/formats.def"
};

/* kvv_type order, filtered to the rows of a default format */
const kvv_type kvv_cache_types[KVV_CACHE_TYPE_COUNT] = {
#define KVV_FORMAT(id, ...) KVV_##id,
#define KVV_FORMAT_VERSION(...)
#include "kvv/formats.def"
};

const kvv_type_info *kvv_type_get(kvv_type t)
{
    if ((int)t < 0 || t >= KVV_TYPE_COUNT)
        return NULL;
    return &type_table[t];
}

kvv_type kvv_type_from_name(const char *name)
{
    if (!name)
        return KVV_TYPE_NONE;
    for (int t = 0; t < KVV_TYPE_COUNT; t++)
        if (strcmp(type_table[t].name, name) == 0)
            return (kvv_type)t;
    return KVV_TYPE_NONE;
}

const char *kvv_type_name(kvv_type t)
{
    const kvv_type_info *ti = kvv_type_get(t);
    return ti ? ti->name : "?";
}

size_t kvv_row_bytes(kvv_type t, int64_t ncols)
{
    const kvv_type_info *ti = kvv_type_get(t);
    if (!ti || ncols <= 0 || ncols % ti->block)
        return 0;
    return (size_t)(ncols / ti->block) * (size_t)ti->bytes;
}

int kvv_rot_group(int head_dim)
{
    if (head_dim <= 0)
        return 0;
    int g = 1;
    while (g < 128 && head_dim % (2 * g) == 0)
        g *= 2;
    return g;
}

int kvv_type_fits(kvv_type t, int head_dim, char *why, size_t why_len)
{
    const kvv_type_info *ti = kvv_type_get(t);
    if (!ti) {
        snprintf(why, why_len, "unknown type");
        return 0;
    }
    if (head_dim <= 0) {
        snprintf(why, why_len, "head_dim %d is not positive", head_dim);
        return 0;
    }
    if (head_dim % ti->block) {
        snprintf(why, why_len, "%s stores blocks of %d values; head_dim %d is not a multiple", ti->name, ti->block,
                 head_dim);
        return 0;
    }
    /* A turbo block shares one norm per rotation group, so a group can never
     * be smaller than a block (SPEC 3: the norm is written into every block
     * of its group). */
    if (ti->rotated && kvv_rot_group(head_dim) < ti->block) {
        snprintf(why, why_len, "%s needs a rotation group of at least %d values; head_dim %d gives %d", ti->name,
                 ti->block, head_dim, kvv_rot_group(head_dim));
        return 0;
    }
    return 1;
}
