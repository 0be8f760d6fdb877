/* A complete, minimal kvverify backend: the starting point of a port.
 *
 * Copy this folder, rename the library, and replace the functions one type
 * at a time; kvverify checks each against its reference as soon as the
 * backend stops declining it:
 *
 *     kvverify run -b path/to/libkvv_myport.so -v
 *
 * What it does: f32 and f16 caches (quantize = store, dequantize = load),
 * and attention over f32/f16 K/V computed plainly in double precision.
 * Every other type, the WHT and the toggles that ask for a code path it does
 * not have are declined with KVV_UNSUPPORTED and a message, which kvverify
 * reports as a skip (never a pass).
 *
 * It depends only on include/kvv (the ABI) and libc/libm, as a port should:
 * the host links no code into a plugin.  The rules it follows are those of
 * README "Backend plugin ABI". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvv/backend.h"

/* ---- errors: one message per calling thread, returned by last_error ---- */

static _Thread_local char last_err[256];

#define DECLINE(...) (snprintf(last_err, sizeof last_err, __VA_ARGS__), KVV_UNSUPPORTED)
#define FAIL(...) (snprintf(last_err, sizeof last_err, __VA_ARGS__), KVV_FAILED)

static const char *tpl_last_error(void *ctx)
{
    (void)ctx;
    return last_err;
}

/* ---- f16 in software (IEEE binary16, round to nearest even) ---- */

static uint16_t f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) /* NaN: quiet, sign kept */
        return (uint16_t)(sign | 0x7e00u);
    if (ax >= 0x477ff000u) /* rounds to >= 65520: infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) {
        /* below the smallest normal f16: a subnormal in units of 2^-24,
         * rounded to nearest even by adding half and the odd bit */
        if (ax < 0x33000000u) /* below half of 2^-24: zero */
            return (uint16_t)sign;
        const uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - e; /* value = m * 2^(e-150); result units 2^-24 */
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1)))
            r++;
        return (uint16_t)(sign | r);
    }
    /* normal: drop 13 mantissa bits with round to nearest even; a carry
     * into the exponent is the correct result */
    const uint32_t r = ax - 0x38000000u; /* rebias 127 -> 15 */
    const uint32_t rounded = (r + 0x0fffu + ((r >> 13) & 1)) >> 13;
    return (uint16_t)(sign | rounded);
}

static float f16_to_f32(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu;
    uint32_t x;
    if (e == 0x1f) {
        x = sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0); /* Inf, or a quiet NaN */
    } else if (e) {
        x = sign | ((e + 112) << 23) | (m << 13);
    } else {
        float v = (float)m * 0x1p-24f; /* zero or subnormal: exact in f32 */
        return sign ? -v : v;
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* ---- the types this backend stores: a row of the table per type ---- */

typedef struct {
    size_t bytes; /* per value (a block of one: kvv/formats.def) */
    void (*store)(const float *src, void *dst, int64_t n);
    void (*load)(const void *src, float *dst, int64_t n);
} tpl_type;

static void store_f32(const float *src, void *dst, int64_t n) { memcpy(dst, src, sizeof(float) * (size_t)n); }
static void load_f32(const void *src, float *dst, int64_t n) { memcpy(dst, src, sizeof(float) * (size_t)n); }

static void store_f16(const float *src, void *dst, int64_t n)
{
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++)
        d[i] = f32_to_f16(src[i]);
}

static void load_f16(const void *src, float *dst, int64_t n)
{
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = f16_to_f32(s[i]);
}

static const tpl_type *type_row(kvv_type t)
{
    static const tpl_type f32 = {KVV_BYTES_F32, store_f32, load_f32}, f16 = {KVV_BYTES_F16, store_f16, load_f16};
    return t == KVV_F32 ? &f32 : t == KVV_F16 ? &f16 : NULL;
}

/* A porter extends this list as the port grows. */
static const char *supported_list = "f32, f16";

/* ---- entry points ---- */

/* Decline before any work what this backend has no code for.  Speed-only
 * toggles (threads, split, cache, lut) are accepted: one code path trivially
 * gives the same bits for every value.  Toggles that name a code path (isa,
 * var) are declined unless they name the only one there is. */
static int tpl_supports(void *ctx, const kvv_case *c, char *why, size_t why_len)
{
    (void)ctx;
    if (c->op == KVV_OP_WHT) {
        snprintf(why, why_len, "template: no WHT");
        return 0;
    }
    if (!type_row(c->type_k) || ((c->op == KVV_OP_ATTN || c->op == KVV_OP_PPL) && !type_row(c->type_v))) {
        snprintf(why, why_len, "template: types %s only", supported_list);
        return 0;
    }
    if (c->tg.isa == KVV_ISA_AVX2 || c->tg.variant == KVV_VAR_TILED) {
        snprintf(why, why_len, "template: one scalar code path only (isa=scalar, var=vec)");
        return 0;
    }
    return 1;
}

static int tpl_quantize_rows(void *ctx, kvv_type t, const float *src, void *dst, int64_t nrows, int64_t ncols,
                             const kvv_toggles *tg)
{
    (void)ctx;
    (void)tg;
    const tpl_type *r = type_row(t);
    if (!r)
        return DECLINE("template: cannot quantize type %d (supported: %s)", (int)t, supported_list);
    if (nrows < 0 || ncols < 0)
        return FAIL("template: negative shape %lld x %lld", (long long)nrows, (long long)ncols);
    r->store(src, dst, nrows * ncols);
    return KVV_OK;
}

static int tpl_dequantize_rows(void *ctx, kvv_type t, const void *src, float *dst, int64_t nrows, int64_t ncols,
                               const kvv_toggles *tg)
{
    (void)ctx;
    (void)tg;
    const tpl_type *r = type_row(t);
    if (!r)
        return DECLINE("template: cannot dequantize type %d (supported: %s)", (int)t, supported_list);
    if (nrows < 0 || ncols < 0)
        return FAIL("template: negative shape %lld x %lld", (long long)nrows, (long long)ncols);
    r->load(src, dst, nrows * ncols);
    return KVV_OK;
}

static int tpl_wht(void *ctx, float *x, int64_t nrows, int64_t ncols, int group, int inverse, const kvv_toggles *tg)
{
    (void)ctx;
    (void)x;
    (void)nrows;
    (void)ncols;
    (void)group;
    (void)inverse;
    (void)tg;
    return DECLINE("template: no WHT (the turbo types need one, SPEC 3.4)");
}

/* ALiBi slope of head h (ggml's formula): 1 when max_bias is 0. */
static double alibi_slope(int h, int n_head, float max_bias)
{
    if (max_bias <= 0.0f)
        return 1.0;
    int n_log2 = 1;
    while (n_log2 * 2 <= n_head)
        n_log2 *= 2;
    const double m0 = pow(2.0, -(double)max_bias / n_log2), m1 = pow(2.0, -((double)max_bias / 2) / n_log2);
    return h < n_log2 ? pow(m0, h + 1) : pow(m1, 2 * (h - n_log2) + 1);
}

/* Attention as the ABI defines it (backend.h), the plain way: load K and V
 * to f32, then for each query row the scores, a max-subtracted softmax and
 * the weighted sum, all in double, rounded to f32 once at the end. */
static int tpl_attention(void *ctx, const kvv_attn_args *a, float *out, kvv_attn_info *info)
{
    (void)ctx;
    const tpl_type *tk = type_row(a->type_k), *tv = type_row(a->type_v);
    if (!tk || !tv)
        return DECLINE("template: attention over %s K/V only", supported_list);
    if (a->n_head_kv <= 0 || a->n_head % a->n_head_kv)
        return FAIL("template: n_head %d is not a multiple of n_head_kv %d", a->n_head, a->n_head_kv);
    const int64_t nk = (int64_t)a->n_head_kv * a->n_kv;
    float *k = malloc(sizeof(float) * (size_t)(nk * a->dk + 1)), *v = malloc(sizeof(float) * (size_t)(nk * a->dv + 1));
    double *s = malloc(sizeof(double) * (size_t)(a->n_kv + 1)), *acc = malloc(sizeof(double) * (size_t)(a->dv + 1));
    if (!k || !v || !s || !acc) {
        free(k);
        free(v);
        free(s);
        free(acc);
        return FAIL("template: out of memory");
    }
    tk->load(a->k, k, nk * a->dk);
    tv->load(a->v, v, nk * a->dv);
    const int group = a->n_head / a->n_head_kv;
    for (int h = 0; h < a->n_head; h++) {
        const int hk = h / group;
        const double slope = alibi_slope(h, a->n_head, a->max_bias);
        for (int i = 0; i < a->n_q; i++) {
            const float *q = a->q + ((size_t)h * a->n_q + i) * a->dk;
            double mx = -INFINITY;
            int visible = 0;
            for (int j = 0; j < a->n_kv; j++) {
                const double m = a->mask ? slope * a->mask[(size_t)i * a->n_kv + j] : 0.0;
                if (m == -INFINITY) {
                    s[j] = -INFINITY; /* masked: no weight */
                    continue;
                }
                const float *kj = k + ((size_t)hk * a->n_kv + j) * a->dk;
                double dot = 0;
                for (int c = 0; c < a->dk; c++)
                    dot += (double)q[c] * kj[c];
                double sc = dot * a->scale;
                if (a->softcap != 0.0f)
                    sc = a->softcap * tanh(sc / a->softcap);
                s[j] = sc + m;
                visible++;
                if (s[j] > mx)
                    mx = s[j];
            }
            /* NaN scores propagate through exp() into the sum: a NaN input
             * gives NaN outputs, as it does in the reference */
            double sum = 0;
            memset(acc, 0, sizeof(double) * (size_t)a->dv);
            for (int j = 0; j < a->n_kv && visible; j++) {
                if (s[j] == -INFINITY)
                    continue;
                const double w = exp(s[j] - mx);
                const float *vj = v + ((size_t)hk * a->n_kv + j) * a->dv;
                for (int d = 0; d < a->dv; d++)
                    acc[d] += w * vj[d];
                sum += w;
            }
            float *o = out + ((size_t)h * a->n_q + i) * a->dv;
            for (int d = 0; d < a->dv; d++)
                o[d] = sum == 0.0 ? 0.0f : (float)(acc[d] / sum); /* a fully masked row gives zeros */
        }
    }
    free(k);
    free(v);
    free(s);
    free(acc);
    /* f32 values used as they are (f16 loads are exact), and double
     * arithmetic, well inside what f32 accumulation is allowed */
    info->kv_round = 0;
    info->acc_round = 0x1p-24;
    return KVV_OK;
}

static const kvv_backend template_backend = {
    .abi_version = KVV_ABI_VERSION,
    .struct_size = sizeof(kvv_backend),
    .name = "template",
    .description = "the porting template: f32/f16 caches and a plain double-precision attention",
    .ctx = NULL,
    .supports = tpl_supports,
    .quantize_rows = tpl_quantize_rows,
    .dequantize_rows = tpl_dequantize_rows,
    .wht = tpl_wht,
    .attention = tpl_attention,
    .flush = NULL,
    .destroy = NULL,
    .last_error = tpl_last_error,
};

/* The one symbol a backend library must export.  Serve only the ABI version
 * this file was compiled against: the host checks it again, but returning
 * NULL here gives the clearer message. */
__attribute__((visibility("default"))) const kvv_backend *kvv_backend_get(uint32_t abi_version)
{
    return abi_version == KVV_ABI_VERSION ? &template_backend : NULL;
}
