/* ggml tensor types as GGUF files name them: id, name, block geometry, and
 * the K/V-table type with the same bytes (used to dequantize weights through
 * the reference).  A table, indexed by nothing: looked up by id. */
#include <stddef.h>

#include "model/model.h"

typedef struct {
    uint32_t id;
    const char *name;
    int block, bytes;
    kvv_type kvv;
} ggml_type_row;

/* The ggml types kvverify has no row for (block sizes from ggml-common.h;
 * ids 4 and 5 were removed from ggml and never come back).  The others are
 * the cache types of include/kvv/formats.def with an upstream ggml value. */
static const ggml_type_row other_types[] = {
    {9, "q8_1", 32, 36, KVV_TYPE_NONE},
    {10, "q2_K", 256, 84, KVV_TYPE_NONE},
    {11, "q3_K", 256, 110, KVV_TYPE_NONE},
    {12, "q4_K", 256, 144, KVV_TYPE_NONE},
    {13, "q5_K", 256, 176, KVV_TYPE_NONE},
    {14, "q6_K", 256, 210, KVV_TYPE_NONE},
    {15, "q8_K", 256, 292, KVV_TYPE_NONE},
    {16, "iq2_xxs", 256, 66, KVV_TYPE_NONE},
    {17, "iq2_xs", 256, 74, KVV_TYPE_NONE},
    {18, "iq3_xxs", 256, 98, KVV_TYPE_NONE},
    {19, "iq1_s", 256, 50, KVV_TYPE_NONE},
    {21, "iq3_s", 256, 110, KVV_TYPE_NONE},
    {22, "iq2_s", 256, 82, KVV_TYPE_NONE},
    {23, "iq4_xs", 256, 136, KVV_TYPE_NONE},
    {24, "i8", 1, 1, KVV_TYPE_NONE},
    {25, "i16", 1, 2, KVV_TYPE_NONE},
    {26, "i32", 1, 4, KVV_TYPE_NONE},
    {27, "i64", 1, 8, KVV_TYPE_NONE},
    {28, "f64", 1, 8, KVV_TYPE_NONE},
    {29, "iq1_m", 256, 56, KVV_TYPE_NONE},
};

/* a GGUF tensor of an upstream type holds a cache type's default format
 * (iq4_nl, not iq4_nl@search: both are ggml's iq4_nl bytes) */
#define KVV_FORMAT(id, value, name, cache, family, block, bytes, bits, rotated, version, ggml, ...)               \
    {(uint32_t)(ggml), name, block, bytes, (ggml) >= 0 ? KVV_##id : KVV_TYPE_NONE},
#define KVV_FORMAT_VERSION(...)
static const ggml_type_row kvv_rows[] = {
#include "kvv/formats.def"
};

static const ggml_type_row *find(uint32_t id)
{
    for (size_t i = 0; i < sizeof kvv_rows / sizeof *kvv_rows; i++)
        if (kvv_rows[i].kvv != KVV_TYPE_NONE && kvv_rows[i].id == id)
            return &kvv_rows[i];
    for (size_t i = 0; i < sizeof other_types / sizeof *other_types; i++)
        if (other_types[i].id == id)
            return &other_types[i];
    return NULL;
}

int kvv_ggml_type_size(uint32_t id, int *block, int *bytes)
{
    const ggml_type_row *r = find(id);
    if (!r)
        return 0;
    *block = r->block;
    *bytes = r->bytes;
    return 1;
}

const char *kvv_ggml_type_name(uint32_t id)
{
    const ggml_type_row *r = find(id);
    return r ? r->name : "?";
}

kvv_type kvv_ggml_to_kvv(uint32_t id)
{
    const ggml_type_row *r = find(id);
    return r ? r->kvv : KVV_TYPE_NONE;
}
