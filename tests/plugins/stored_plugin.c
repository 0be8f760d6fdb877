/* A backend library that stores cache types in other format versions, for
 * tests/test_formats.c: options name them, e.g.
 *     libstored.so:turbo3=turbo3@qk128:turbo4=turbo4@narrow:bad=turbo2
 * stored_as answers with them; a type named by bad= matches no format, so
 * every entry point returns KVV_BAD_FORMAT for it, except the attention
 * with fail_attn=1, which fails (as a crash in a fork's kernel over such a
 * cache would); all else is declined.  With rt=, the bad type's cache write
 * and dequantization work in a format of the plugin's own (per 128 values a
 * float scale and 4-bit uniform indices: 68 bytes, turbo4's geometry) and
 * still report KVV_BAD_FORMAT, for the roundtrip rule: rt=good keeps the
 * values, rt=zero writes only the scale (a stub), rt=row loses row 5. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvv/backend.h"

typedef struct {
    kvv_backend table;
    char as[KVV_TYPE_COUNT][32]; /* by default row, the version's name */
    char bad[32];
    int fail_attn;
    char rt[8]; /* "", "good", "zero", "row" */
} stored_ctx;

static _Thread_local char err[256];
static const char *last_error(void *ctx)
{
    (void)ctx;
    return err;
}

/* the type names: kvverify's header-only format facts */
static kvv_type named(const char *s)
{
    return kvv_format_named(s);
}

static int decline(const stored_ctx *c, kvv_type t)
{
    const char *n = kvv_format_get(t) ? kvv_format_get(t)->name : "?";
    if (*c->bad && !strncmp(n, c->bad, strlen(c->bad))) {
        snprintf(err, sizeof err, "%s: 8 levels {...}: matches no known version", n);
        return KVV_BAD_FORMAT;
    }
    snprintf(err, sizeof err, "%s: the stored plugin computes nothing", n);
    return KVV_UNSUPPORTED;
}

/* The plugin's own format for rt=: blocks of 128 values, a float scale
 * (the largest |x|) and 4-bit indices of 16 uniform levels. */
enum { RT_BLOCK = 128, RT_BYTES = 4 + RT_BLOCK / 2 };

static int rt_works(const stored_ctx *c, kvv_type t, int64_t ncols)
{
    return *c->rt && decline(c, t) == KVV_BAD_FORMAT && ncols % RT_BLOCK == 0;
}

static void rt_quantize(const stored_ctx *c, const float *src, unsigned char *dst, int64_t nrows, int64_t ncols)
{
    for (int64_t r = 0; r < nrows; r++)
        for (int64_t b = 0; b < ncols / RT_BLOCK; b++) {
            const float *x = src + r * ncols + b * RT_BLOCK;
            unsigned char *o = dst + (r * (ncols / RT_BLOCK) + b) * RT_BYTES;
            float m = 0;
            for (int i = 0; i < RT_BLOCK; i++)
                m = x[i] > m ? x[i] : -x[i] > m ? -x[i] : m;
            memcpy(o, &m, sizeof m);
            memset(o + 4, 0, RT_BLOCK / 2);
            if (!strcmp(c->rt, "zero"))
                continue;
            for (int i = 0; i < RT_BLOCK; i++) {
                float l = m > 0 ? (x[i] / m + 1) * 7.5f : 7.5f;
                int q = (int)(l + 0.5f);
                q = q < 0 ? 0 : q > 15 ? 15 : q;
                o[4 + i / 2] |= (unsigned char)(q << (i % 2 * 4));
            }
        }
}

static void rt_dequantize(const stored_ctx *c, const unsigned char *src, float *dst, int64_t nrows, int64_t ncols)
{
    for (int64_t r = 0; r < nrows; r++)
        for (int64_t b = 0; b < ncols / RT_BLOCK; b++) {
            const unsigned char *o = src + (r * (ncols / RT_BLOCK) + b) * RT_BYTES;
            float m, *y = dst + r * ncols + b * RT_BLOCK;
            memcpy(&m, o, sizeof m);
            for (int i = 0; i < RT_BLOCK; i++)
                y[i] = ((float)((o[4 + i / 2] >> (i % 2 * 4)) & 15) / 7.5f - 1) * m;
            if (r == 5 && !strcmp(c->rt, "row"))
                for (int i = 0; i < RT_BLOCK; i++)
                    y[i] = m;
        }
}

static int quantize_rows(void *ctx, kvv_type t, const float *src, void *dst, int64_t nrows, int64_t ncols,
                         const kvv_toggles *tg)
{
    (void)tg;
    if (rt_works(ctx, t, ncols))
        rt_quantize(ctx, src, dst, nrows, ncols);
    return decline(ctx, t);
}
static int dequantize_rows(void *ctx, kvv_type t, const void *src, float *dst, int64_t nrows, int64_t ncols,
                           const kvv_toggles *tg)
{
    (void)tg;
    if (rt_works(ctx, t, ncols))
        rt_dequantize(ctx, src, dst, nrows, ncols);
    return decline(ctx, t);
}
static int wht(void *ctx, float *x, int64_t nrows, int64_t ncols, int group, int inverse, const kvv_toggles *tg)
{
    (void)ctx, (void)x, (void)nrows, (void)ncols, (void)group, (void)inverse, (void)tg;
    snprintf(err, sizeof err, "no WHT");
    return KVV_UNSUPPORTED;
}
static int attention(void *ctx, const kvv_attn_args *a, float *out, kvv_attn_info *info)
{
    (void)out, (void)info;
    const stored_ctx *c = ctx;
    int rc = decline(ctx, a->type_k);
    rc = rc == KVV_BAD_FORMAT ? rc : decline(ctx, a->type_v);
    if (rc == KVV_BAD_FORMAT && c->fail_attn) {
        snprintf(err, sizeof err, "its kernel over that cache failed");
        return KVV_FAILED;
    }
    return rc;
}

static void destroy(void *ctx) { free(ctx); }

static kvv_type stored_as(void *ctx, kvv_type cache, char *note, size_t n)
{
    const stored_ctx *c = ctx;
    if ((unsigned)cache >= KVV_TYPE_COUNT)
        return KVV_TYPE_NONE;
    if (*c->as[cache]) {
        snprintf(note, n, "configured: %s", c->as[cache]);
        return named(c->as[cache]);
    }
    snprintf(note, n, "as listed");
    return cache;
}

__attribute__((visibility("default"))) const kvv_backend *kvv_backend_get_config(uint32_t abi, const char *config,
                                                                                char *why, size_t why_len)
{
    if (abi != KVV_ABI_VERSION)
        return NULL;
    stored_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", config ? config : "");
    char *save = NULL;
    for (char *kv = strtok_r(buf, ":", &save); kv; kv = strtok_r(NULL, ":", &save)) {
        char *eq = strchr(kv, '=');
        kvv_type k = KVV_TYPE_NONE;
        if (eq)
            *eq = 0;
        if (eq && !strcmp(kv, "bad")) {
            snprintf(c->bad, sizeof c->bad, "%s", eq + 1);
            continue;
        }
        if (eq && !strcmp(kv, "rt")) {
            snprintf(c->rt, sizeof c->rt, "%s", eq + 1);
            continue;
        }
        if (eq && !strcmp(kv, "fail_attn")) {
            c->fail_attn = atoi(eq + 1);
            continue;
        }
        if (!eq || (k = named(kv)) == KVV_TYPE_NONE || named(eq + 1) == KVV_TYPE_NONE) {
            snprintf(why, why_len, "stored plugin: bad option '%s'", kv);
            free(c);
            return NULL;
        }
        snprintf(c->as[k], sizeof c->as[k], "%s", eq + 1);
    }
    c->table = (kvv_backend){.abi_version = KVV_ABI_VERSION,
                             .struct_size = sizeof(kvv_backend),
                             .name = "stored",
                             .description = "answers stored_as from its options",
                             .ctx = c,
                             .quantize_rows = quantize_rows,
                             .dequantize_rows = dequantize_rows,
                             .wht = wht,
                             .attention = attention,
                             .destroy = destroy,
                             .last_error = last_error,
                             .stored_as = stored_as};
    return &c->table;
}

__attribute__((visibility("default"))) const kvv_backend *kvv_backend_get(uint32_t abi)
{
    char why[128];
    return kvv_backend_get_config(abi, "", why, sizeof why);
}
