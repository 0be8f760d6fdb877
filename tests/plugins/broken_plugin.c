/* Backend libraries that are broken in exactly one way, for
 * tests/test_plugin.c: kvverify must refuse each with a message that names
 * the defect.  CMake builds this file once per defect (BROKEN_<defect>):
 *   BAD_ABI        the table claims the next ABI version
 *   SHORT_STRUCT   struct_size smaller than this ABI's table
 *   MISSING_ENTRY  the required attention entry is NULL
 *   NULL_TABLE     kvv_backend_get declines this ABI version (serves only the next)
 *   BAD_CONFIG     takes options, and rejects the ones it is given */
#include <stddef.h>
#include <stdio.h>

#include "kvv/backend.h"

static int quantize_rows(void *ctx, kvv_type t, const float *src, void *dst, int64_t nrows, int64_t ncols,
                         const kvv_toggles *tg)
{
    (void)ctx, (void)t, (void)src, (void)dst, (void)nrows, (void)ncols, (void)tg;
    return KVV_FAILED;
}

static int dequantize_rows(void *ctx, kvv_type t, const void *src, float *dst, int64_t nrows, int64_t ncols,
                           const kvv_toggles *tg)
{
    (void)ctx, (void)t, (void)src, (void)dst, (void)nrows, (void)ncols, (void)tg;
    return KVV_FAILED;
}

static int wht(void *ctx, float *x, int64_t nrows, int64_t ncols, int group, int inverse, const kvv_toggles *tg)
{
    (void)ctx, (void)x, (void)nrows, (void)ncols, (void)group, (void)inverse, (void)tg;
    return KVV_FAILED;
}

__attribute__((unused)) static int attention(void *ctx, const kvv_attn_args *a, float *out, kvv_attn_info *info)
{
    (void)ctx, (void)a, (void)out, (void)info;
    return KVV_FAILED;
}

static const kvv_backend table = {
#ifdef BROKEN_BAD_ABI
    .abi_version = KVV_ABI_VERSION + 1,
#else
    .abi_version = KVV_ABI_VERSION,
#endif
#ifdef BROKEN_SHORT_STRUCT
    .struct_size = offsetof(kvv_backend, attention),
#else
    .struct_size = sizeof(kvv_backend),
#endif
    .name = "broken",
    .quantize_rows = quantize_rows,
    .dequantize_rows = dequantize_rows,
    .wht = wht,
#ifndef BROKEN_MISSING_ENTRY
    .attention = attention,
#endif
};

#ifdef BROKEN_BAD_CONFIG
__attribute__((visibility("default"))) const kvv_backend *kvv_backend_get_config(uint32_t abi_version,
                                                                                const char *config, char *why,
                                                                                size_t why_len)
{
    (void)abi_version;
    snprintf(why, why_len, "unknown option '%s'", config);
    return NULL;
}
#endif

__attribute__((visibility("default"))) const kvv_backend *kvv_backend_get(uint32_t abi_version)
{
#ifdef BROKEN_NULL_TABLE
    return abi_version == KVV_ABI_VERSION + 1 ? &table : NULL; /* serves only a later version */
#else
    (void)abi_version; /* serves any version: the host's own check must catch a mismatch */
    return &table;
#endif
}
