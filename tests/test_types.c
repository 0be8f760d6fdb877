/* The format list (include/kvv/formats.def) and what derives from it: the
 * header-only facts a plugin sees agree with the core table row by row,
 * names parse back, the cache types are the default-format rows, every
 * format version belongs to a cache type, and GGUF reads the upstream ggml
 * values as the list gives them. */
#include <string.h>

#include "kvv/types.h"
#include "model/model.h"
#include "tests/harness.h"

static void test_header_facts_are_the_table(void)
{
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        const kvv_format *f = kvv_format_get((kvv_type)t);
        const kvv_type_info *ti = kvv_type_get((kvv_type)t);
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ti);
        CU_ASSERT_EQUAL(f->type, (kvv_type)t);
        CU_ASSERT_EQUAL(ti->type, (kvv_type)t);
        CU_ASSERT_STRING_EQUAL(f->name, ti->name);
        CU_ASSERT_STRING_EQUAL(f->cache, ti->cache);
        CU_ASSERT_STRING_EQUAL(f->layout, ti->layout);
        CU_ASSERT_EQUAL(f->family, ti->family);
        CU_ASSERT_EQUAL(f->block, ti->block);
        CU_ASSERT_EQUAL(f->bytes, ti->bytes);
        CU_ASSERT_EQUAL(f->index_bits, ti->index_bits);
        CU_ASSERT_EQUAL(f->rotated, ti->rotated);
        CU_ASSERT_EQUAL(f->format_version, ti->format_version);
        CU_ASSERT_EQUAL(ti->bpv, f->bytes * 8.0 / f->block);
        CU_ASSERT_PTR_NOT_NULL(ti->unpack);
        CU_ASSERT_PTR_NOT_NULL(ti->pack);
    }
    CU_ASSERT_PTR_NULL(kvv_format_get(KVV_TYPE_COUNT));
    CU_ASSERT_PTR_NULL(kvv_format_get(KVV_TYPE_NONE));
    CU_ASSERT_PTR_NULL(kvv_type_get(KVV_TYPE_COUNT));
    CU_ASSERT_PTR_NULL(kvv_type_get(KVV_TYPE_NONE));
}

/* the compile-time constants are each row's facts */
static void test_constants(void)
{
#define KVV_FORMAT(id, val, nm, cache_, fam, blk, byt, bits, ...)                                                 \
    CU_ASSERT_EQUAL(KVV_##id, val);                                                                                \
    CU_ASSERT_EQUAL(kvv_format_get(KVV_##id)->block, blk);                                                         \
    CU_ASSERT_EQUAL(KVV_BLOCK_##id, blk);                                                                          \
    CU_ASSERT_EQUAL(KVV_BYTES_##id, byt);                                                                          \
    CU_ASSERT_EQUAL(kvv_format_get(KVV_##id)->bytes, byt);                                                         \
    CU_ASSERT_EQUAL(KVV_INDEX_BITS_##id, bits);                                                                    \
    CU_ASSERT_EQUAL(kvv_format_get(KVV_##id)->index_bits, bits);                                                   \
    CU_ASSERT_STRING_EQUAL(kvv_format_get(KVV_##id)->name, nm);                                                    \
    CU_ASSERT_STRING_EQUAL(kvv_format_get(KVV_##id)->cache, cache_);
#include "kvv/formats.def"
}

static void test_names_parse_back(void)
{
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        const char *name = kvv_format_get((kvv_type)t)->name;
        CU_ASSERT_EQUAL(kvv_type_from_name(name), (kvv_type)t);
        CU_ASSERT_EQUAL(kvv_format_named(name), (kvv_type)t);
        CU_ASSERT_STRING_EQUAL(kvv_type_name((kvv_type)t), name);
    }
    const char *bad[] = {"", "q8", "q8_0 ", "Q8_0", "turbo3@", "turbo3@qk12", "turbo3@qk1280", "@qk128"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CU_ASSERT_EQUAL(kvv_type_from_name(bad[i]), KVV_TYPE_NONE);
        CU_ASSERT_EQUAL(kvv_format_named(bad[i]), KVV_TYPE_NONE);
    }
    CU_ASSERT_EQUAL(kvv_type_from_name(NULL), KVV_TYPE_NONE);
    CU_ASSERT_EQUAL(kvv_format_named(NULL), KVV_TYPE_NONE);
    CU_ASSERT_STRING_EQUAL(kvv_type_name(KVV_TYPE_NONE), "?");
}

/* A cache type is a default-format row named as its cache; a version is
 * named cache@version, of the same family, and its cache type exists. */
static void test_cache_types_and_versions(void)
{
    int k = 0;
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        const kvv_format *f = kvv_format_get((kvv_type)t);
        if (f->format_version == 0) {
            CU_ASSERT_STRING_EQUAL(f->name, f->cache);
            CU_ASSERT_FATAL(k < KVV_CACHE_TYPE_COUNT);
            CU_ASSERT_EQUAL(kvv_cache_types[k], (kvv_type)t);
            k++;
            continue;
        }
        size_t n = strlen(f->cache);
        CU_ASSERT(strncmp(f->name, f->cache, n) == 0 && f->name[n] == '@' && f->name[n + 1]);
        kvv_type c = kvv_format_named(f->cache);
        CU_ASSERT_FATAL(c != KVV_TYPE_NONE);
        CU_ASSERT_EQUAL(kvv_format_get(c)->format_version, 0);
        CU_ASSERT_EQUAL(kvv_format_get(c)->family, f->family);
        CU_ASSERT_EQUAL(kvv_format_get(c)->rotated, f->rotated);
        /* versions of one cache type are numbered apart */
        for (int o = 0; o < t; o++)
            CU_ASSERT(strcmp(kvv_format_get((kvv_type)o)->cache, f->cache) ||
                      kvv_format_get((kvv_type)o)->format_version != f->format_version);
    }
    CU_ASSERT_EQUAL(k, KVV_CACHE_TYPE_COUNT);
}

/* GGUF reads an upstream ggml type as the cache type the list gives it */
static void test_ggml_values(void)
{
    int upstream = 0;
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        const kvv_format *f = kvv_format_get((kvv_type)t);
        if (f->ggml < 0)
            continue;
        upstream++;
        kvv_type c = kvv_format_named(f->cache);
        int block = 0, bytes = 0;
        CU_ASSERT_EQUAL(kvv_ggml_to_kvv((uint32_t)f->ggml), c);
        CU_ASSERT(kvv_ggml_type_size((uint32_t)f->ggml, &block, &bytes));
        CU_ASSERT_EQUAL(block, f->block);
        CU_ASSERT_EQUAL(bytes, f->bytes);
        CU_ASSERT_STRING_EQUAL(kvv_ggml_type_name((uint32_t)f->ggml), f->cache);
        for (int o = 0; o < t; o++) /* one upstream type per cache type */
            CU_ASSERT(kvv_format_get((kvv_type)o)->ggml != f->ggml ||
                      !strcmp(kvv_format_get((kvv_type)o)->cache, f->cache));
    }
    CU_ASSERT(upstream > 0);
    CU_ASSERT_EQUAL(kvv_ggml_to_kvv(9), KVV_TYPE_NONE); /* q8_1: no kvverify row */
    CU_ASSERT_EQUAL(kvv_ggml_to_kvv(0xffffffffu), KVV_TYPE_NONE);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"header-only facts are the core table's rows", test_header_facts_are_the_table},
        {"compile-time constants are the rows' facts", test_constants},
        {"names parse back; others are refused", test_names_parse_back},
        {"cache types are the default rows; versions belong to one", test_cache_types_and_versions},
        {"GGUF reads upstream ggml values as the list gives them", test_ggml_values},
        {NULL, NULL},
    };
    kvv_add_suite("types", tests);
}
