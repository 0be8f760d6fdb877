/* The defect backends of tests/harness/defect.h.  Each defect is made
 * around the CPU backend's entries: its inputs changed before a call, its
 * outputs after, never its code (the kernels' KVV_FAULT blocks are the
 * compiled-in versions of the same bugs, for `make mutants`). */
#include <CUnit/CUnit.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/cpu/cpu_backend.h"
#include "kvv/tensor.h"
#include "ref/ref.h"
#include "tests/harness.h"

/* a failure of the harness itself (memory, a missing table): fatal, and not
 * counted as a check when it holds */
#define NEED(x)                                                                                                        \
    do {                                                                                                               \
        if (!(x))                                                                                                      \
            CU_FAIL_FATAL(#x);                                                                                         \
    } while (0)

typedef enum {
    /* mutants of ci/mutants.txt, and variants of them */
    D_MISSING_ROTATION,
    D_DOUBLE_ROTATION,
    D_ROTATION_WRONG_OPERAND,
    D_WHT_GROUP_128,
    D_WHT_GROUP_KERNEL,
    D_ZERO_PAYLOAD,
    D_ZERO_LAYER0,
    D_PACK_OVERWRITE,
    D_PACK_NEIGHBOUR,
    D_TURBO4_V_BROKEN,
    D_TURBO4_V_NIBBLES,
    D_LUT4_MISMATCH,
    D_LUT4_ALWAYS,
    D_TOGGLE_PATH,
    D_TOGGLE_UNCACHED,
    D_TOGGLE_CACHED,
    D_TOGGLE_ULP,
    D_WRONG_TABLE,
    D_GQA_OFF_BY_ONE,
    D_Q4_0_LAST_MAX,
    D_MASKED_ROW_NAN,
    D_CACHE_F16_WIDE,
    D_LUT4_QK128_STRIDE,
    /* generic faults */
    D_SWAPPED_V_TYPE,
    D_F16_ACCUMULATION,
    D_SUBQ8_NAN,
    D_NAN_OUTPUT,
    D_NAN_ALL,
    D_BUMP_OUTPUT,
    D_SKEW_OUTPUT,
    D_FLIP_BIT,
    D_CRASH,
    D_DECLINE,
    D_HANG,
    D_ABORT,
    D_WHT_OVERRUN,
    D_COUNT
} defect_id;

static const kvv_defect_info catalogue[D_COUNT] = {
    [D_MISSING_ROTATION] = {"missing_rotation", "missing_rotation",
                            "rotated types: the cache write stores the rows unrotated (Q and the output still are)"},
    [D_DOUBLE_ROTATION] = {"double_rotation", "double_rotation",
                           "attention with a rotated K: Q rotated once more before the kernel rotates it"},
    [D_ROTATION_WRONG_OPERAND] = {"rotation_wrong_operand", "rotation_wrong_operand",
                                  "attention: Q's rotation gated on V's type, the output's inverse on K's"},
    [D_WHT_GROUP_128] = {"wht_group_128", "wht_group_128",
                         "rotation group the largest power of two up to 128 in the row (not the largest dividing "
                         "it): whole groups rotate, the tail does not (cache write, Q, output)"},
    [D_WHT_GROUP_KERNEL] = {"wht_group_128@kernel", "wht_group_128",
                            "the attention kernel's group fixed (128 at head dim 64, across two rows; the head dim "
                            "at 256) while the cache write is right (SPEC 5.4, 5.9)"},
    [D_ZERO_PAYLOAD] = {"zero_payload", "zero_payload", "quantize: the indices of the first row zeroed, scales kept"},
    [D_ZERO_LAYER0] = {"zero_payload@layer0", "zero_payload",
                       "quantize: every row's indices zeroed in the cache writes of the first attention layer "
                       "(calls 0 and 1 of every 4: K and V of two layers; SPEC 5.5)"},
    [D_PACK_OVERWRITE] = {"pack_overwrite", "pack_overwrite",
                          "turbo3 packing: each byte of sign bits written one byte early (element j gets the sign "
                          "of j + 8; the last byte stays)"},
    [D_PACK_NEIGHBOUR] = {"pack_overwrite@neighbour", "pack_overwrite",
                          "packing of every quantized type ORs each even element's index into its neighbour's "
                          "(SPEC 5.6)"},
    [D_TURBO4_V_BROKEN] = {"turbo4_v_broken", "turbo4_v_broken", "turbo4 as V: the output not rotated back"},
    [D_TURBO4_V_NIBBLES] = {"turbo4_v_broken@nibbles", "turbo4_v_broken",
                            "turbo4 as V: the nibbles of each pair read in the wrong order (SPEC 5.7)"},
    [D_LUT4_MISMATCH] = {"lut4_mismatch", "lut4_mismatch",
                         "turbo3 read through the 4-magnitude LUT (lut=4) without the reversal for negatives"},
    [D_LUT4_ALWAYS] = {"lut4_mismatch@always", "lut4_mismatch",
                       "the same, a backend whose only turbo3 path is that LUT (SPEC 5.8)"},
    [D_TOGGLE_PATH] = {"toggle_path", "toggle_path",
                       "dequant cache off (cache=0): q8_0 K and V values rounded through f16 in the loop"},
    [D_TOGGLE_UNCACHED] = {"toggle_path@uncached", "toggle_path",
                           "dequant cache off: each q8_0 block read with the next block's scale (SPEC 5.10)"},
    [D_TOGGLE_CACHED] = {"toggle_path@cached", "toggle_path",
                         "the other polarity: the cached path (cache=1) reads the next block's scale"},
    [D_TOGGLE_ULP] = {"toggle_path@ulp", "toggle_path",
                      "the cached path's output one ulp off in one value (well inside any arithmetic bound)"},
    [D_WRONG_TABLE] = {"wrong_table", "wrong_table",
                       "turbo4 read back (attention, dequantize) through the alternative 4-bit table; the cache "
                       "write keeps the right one"},
    [D_GQA_OFF_BY_ONE] = {"gqa_off_by_one", "gqa_off_by_one",
                          "GQA: query head h reads KV head (h - 1) / group (its neighbour's), ALiBi slopes aside"},
    [D_Q4_0_LAST_MAX] = {"q4_0_last_max", "q4_0_last_max",
                         "q4_0 and q5_0: the scale from the last element of largest magnitude, not the first"},
    [D_MASKED_ROW_NAN] = {"masked_row_nan", "masked_row_nan",
                          "a query row whose keys are all masked gives NaN (0/0), not zeros"},
    [D_CACHE_F16_WIDE] = {"cache_f16_wide", "cache_f16_wide",
                          "dequant cache on (cache=1) and K heads wider than 256: K values (any type but f32) "
                          "stored through f16"},
    [D_LUT4_QK128_STRIDE] = {"lut4_qk128_stride", "lut4_qk128_stride",
                             "turbo3@qk128 read through the AVX2 4-magnitude LUT (lut=4, isa not scalar) with the "
                             "14-byte block stride of turbo3: block k from byte 14 k of its row"},
    [D_SWAPPED_V_TYPE] = {"swapped_v_type", NULL, "attention: V dispatched on K's type"},
    [D_F16_ACCUMULATION] = {"f16_accumulation", NULL,
                            "attention: the weighted sum of V accumulated in f16 while f32 is claimed (no mask, "
                            "no rotation)"},
    [D_SUBQ8_NAN] = {"subq8_nan", NULL, "attention: all NaN when K or V has under 8 bits a value (SPEC 5.11)"},
    [D_NAN_OUTPUT] = {"nan_output", NULL, "attention: output value 3 is NaN"},
    [D_NAN_ALL] = {"nan_all", NULL, "attention: every output value NaN"},
    [D_BUMP_OUTPUT] = {"bump_output", NULL, "attention: output value 5 off by 0.5"},
    [D_SKEW_OUTPUT] = {"skew_output", NULL, "attention: row 1, column 3 of the output off by 1 + 50%"},
    [D_FLIP_BIT] = {"flip_bit", NULL, "quantize: bit 0 of byte 2 flipped (the first index of q8_0 and q4_0)"},
    [D_CRASH] = {"crash", NULL, "the call fails (KVV_FAILED)"},
    [D_DECLINE] = {"decline", NULL, "the call is declined (KVV_UNSUPPORTED)"},
    [D_HANG] = {"hang", NULL, "the call never returns"},
    [D_ABORT] = {"abort", NULL, "the call aborts the process"},
    [D_WHT_OVERRUN] = {"wht_overrun", NULL, "WHT: one float written past the rows"},
};

const kvv_defect_info *kvv_defect_catalogue(int *n)
{
    *n = D_COUNT;
    return catalogue;
}

#define MAX_PLANTS 8

typedef struct {
    kvv_backend b; /* the table handed out; b.ctx points back here */
    const kvv_backend *cpu;
    int n;
    defect_id id[MAX_PLANTS];
    char where[MAX_PLANTS][256];
    long quant_calls;
    char name[64];
    char err[160];
    int own_err;
} dctx;

/* ---- call names and plant lookup ---- */

static int glob_any(const char *pats, const char *s)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", pats);
    char *save = NULL;
    for (char *p = strtok_r(buf, "|", &save); p; p = strtok_r(NULL, "|", &save))
        if (fnmatch(p, s, 0) == 0)
            return 1;
    return 0;
}

static int planted(const dctx *d, defect_id id, const char *call)
{
    for (int i = 0; i < d->n; i++)
        if (d->id[i] == id && (!d->where[i][0] || glob_any(d->where[i], call)))
            return 1;
    return 0;
}

static void rows_call(char *buf, size_t n, const char *op, kvv_type t, int64_t rows, int64_t cols)
{
    snprintf(buf, n, "%s/%s/d%lld/rows%lld", op, kvv_type_name(t), (long long)cols, (long long)rows);
}

static void attn_call(char *buf, size_t n, const kvv_attn_args *a)
{
    char dv[16] = "";
    if (a->dv != a->dk)
        snprintf(dv, sizeof dv, "/dv%d", a->dv);
    snprintf(buf, n, "attn/d%d%s/%s-%s/nq%d/nkv%d/h%d/gqa%d", a->dk, dv, kvv_type_name(a->type_k),
             kvv_type_name(a->type_v), a->n_q, a->n_kv, a->n_head, a->n_head_kv ? a->n_head / a->n_head_kv : 0);
}

/* crash, decline, hang, abort: the status to return, or -1 when none is planted */
static int generic_fault(dctx *d, const char *call)
{
    if (planted(d, D_HANG, call))
        for (;;)
            pause();
    if (planted(d, D_ABORT, call))
        abort();
    if (planted(d, D_CRASH, call) || planted(d, D_DECLINE, call)) {
        int crash = planted(d, D_CRASH, call);
        snprintf(d->err, sizeof d->err, "planted %s on %s", crash ? "crash" : "decline", call);
        d->own_err = 1;
        return crash ? KVV_FAILED : KVV_UNSUPPORTED;
    }
    d->own_err = 0;
    return -1;
}

/* ---- helpers ---- */

static float *copy_f32(const float *x, size_t n)
{
    float *y = malloc(sizeof(float) * (n ? n : 1));
    NEED(y != NULL);
    memcpy(y, x, sizeof(float) * n);
    return y;
}

/* Rotate rows in groups of `group` with the CPU backend; a group that does
 * not divide the row rotates its whole groups and leaves the tail. */
static void rotate_g(const dctx *d, float *x, int64_t rows, int cols, int group, int inverse)
{
    kvv_toggles tg = kvv_toggles_default();
    int whole = cols / group * group;
    if (whole == cols) {
        d->cpu->wht(d->cpu->ctx, x, rows, cols, group, inverse, &tg);
        return;
    }
    for (int64_t r = 0; r < rows; r++)
        d->cpu->wht(d->cpu->ctx, x + r * cols, 1, whole, group, inverse, &tg);
}

static void rotate(const dctx *d, float *x, int64_t rows, int cols, int inverse)
{
    rotate_g(d, x, rows, cols, kvv_rot_group(cols), inverse);
}

/* The group of the wht_group_128 mutant: the largest power of two up to
 * 128 that fits in the row. */
static int group_128(int n)
{
    int g = 1;
    while (g < 128 && 2 * g <= n)
        g *= 2;
    return g;
}

/* x, rotated by the kernel's group g afterwards, ends as if rotated by w:
 * R_g^-1 R_w x.  Output the other way: R_w^-1 R_g y. */
static void regroup_in(const dctx *d, float *x, int64_t rows, int cols, int w)
{
    rotate_g(d, x, rows, cols, w, 0);
    rotate(d, x, rows, cols, 1);
}
static void regroup_out(const dctx *d, float *y, int64_t rows, int cols, int w)
{
    rotate(d, y, rows, cols, 0);
    rotate_g(d, y, rows, cols, w, 1);
}

/* The rotation a kernel with its group fixed would apply: 128 at head dim
 * 64 (two heads' rows as one), the head dim (256) at 256. */
static void rotate_kernel_group(const dctx *d, float *x, int64_t rows, int cols, int inverse)
{
    kvv_toggles tg = kvv_toggles_default();
    if (cols < 128) {
        d->cpu->wht(d->cpu->ctx, x, rows * cols / 128, 128, 128, inverse, &tg);
        return;
    }
    const float inv = 1.0f / 16.0f; /* 1/sqrt(256); the sign vectors repeat */
    for (int64_t r = 0; r < rows; r++) {
        float *u = x + r * cols;
        for (int i = 0; i < 256; i++)
            u[i] *= inverse ? kvv_ref_s2[i % 128] : kvv_ref_s1[i % 128];
        for (int h = 1; h < 256; h *= 2)
            for (int i = 0; i < 256; i += 2 * h)
                for (int j = i; j < i + h; j++) {
                    float a = u[j], b = u[j + h];
                    u[j] = a + b;
                    u[j + h] = a - b;
                }
        for (int i = 0; i < 256; i++)
            u[i] *= inv * (inverse ? kvv_ref_s1[i % 128] : kvv_ref_s2[i % 128]);
    }
}

/* Apply fn to the fields of the blocks of rows [r0, r1) of rows x cols
 * values of type t. */
static void each_block(kvv_type t, void *data, int64_t r0, int64_t r1, int cols, void (*fn)(kvv_fields *f))
{
    const kvv_type_info *ti = kvv_type_get(t);
    int nb = cols / ti->block;
    for (int64_t r = r0; r < r1; r++)
        for (int b = 0; b < nb; b++) {
            uint8_t *blk = (uint8_t *)data + (r * nb + b) * ti->bytes;
            kvv_fields f;
            ti->unpack(blk, &f);
            fn(&f);
            ti->pack(&f, blk);
        }
}

static void zero_indices(kvv_fields *f) { memset(f->idx, 0, sizeof f->idx); }

static void or_into_neighbour(kvv_fields *f)
{
    for (int j = 0; j + 1 < f->n; j += 2)
        f->idx[j + 1] |= f->idx[j];
}

static void swap_nibbles(kvv_fields *f)
{
    for (int j = 0; j + 1 < f->n; j += 2) {
        int16_t t = f->idx[j];
        f->idx[j] = f->idx[j + 1];
        f->idx[j + 1] = t;
    }
}

/* 3-bit turbo3 indices: sign bit (bit 2) of element j taken from j + 8 */
static void signs_one_byte_early(kvv_fields *f)
{
    for (int j = 0; j + 8 < f->n; j++)
        f->idx[j] = (int16_t)((f->idx[j] & 3) | (f->idx[j + 8] & 4));
}

/* turbo3: what the 4-magnitude LUT without its reversal reads back, as the
 * honest 8-entry read of other indices (magnitude q of a negative index
 * where 3 - q was meant) */
static void lut4_without_xor(kvv_fields *f)
{
    for (int j = 0; j < f->n; j++)
        if (f->idx[j] < 4)
            f->idx[j] = (int16_t)(3 - f->idx[j]);
}

/* turbo3@qk128 rows whose block k >= 1 is read from byte 14 k of the row */
static void *stride_14(const void *src, int64_t rows, int cols)
{
    const size_t rb = kvv_row_bytes(KVV_TURBO3_QK128, cols);
    const int bytes = kvv_type_get(KVV_TURBO3_QK128)->bytes;
    uint8_t *p = malloc(rb * (size_t)rows);
    NEED(p != NULL);
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *row = (const uint8_t *)src + r * rb;
        for (int k = 0; k < cols / 128; k++)
            memcpy(p + r * rb + (size_t)k * bytes, row + (size_t)k * 14, (size_t)bytes);
    }
    return p;
}

static int lut4_avx2(const kvv_toggles *tg) { return tg->lut == 4 && tg->isa != KVV_ISA_SCALAR && kvv_cpu_has_avx2(); }

static int is_turbo3(kvv_type t) { return kvv_type_get(t) && !strcmp(kvv_type_get(t)->cache, "turbo3"); }

/* a copy of a cache operand with fn applied to its blocks */
static void *mangled(kvv_type t, const void *src, int64_t rows, int cols, void (*fn)(kvv_fields *))
{
    size_t n = kvv_row_bytes(t, cols) * (size_t)rows;
    void *p = malloc(n ? n : 1);
    NEED(p != NULL);
    memcpy(p, src, n);
    each_block(t, p, 0, rows, cols, fn);
    return p;
}

/* q8_0 rows whose blocks each carry the next block's scale */
static void *shifted_scales(const void *src, int64_t rows, int cols)
{
    size_t rb = kvv_row_bytes(KVV_Q8_0, cols);
    int nb = cols / 32;
    uint8_t *p = malloc(rb * (size_t)rows);
    NEED(p != NULL);
    memcpy(p, src, rb * (size_t)rows);
    for (int64_t r = 0; r < rows; r++)
        for (int b = 0; b < nb; b++)
            memcpy(p + r * rb + b * 34, (const uint8_t *)src + r * rb + (b + 1) % nb * 34, 2);
    return p;
}

/* q8_0 rows as f32 values rounded through f16 */
static float *q8_0_through_f16(const dctx *d, const void *src, int64_t rows, int cols)
{
    float *y = malloc(sizeof(float) * (size_t)(rows * cols));
    NEED(y != NULL);
    kvv_toggles tg = kvv_toggles_default();
    d->cpu->dequantize_rows(d->cpu->ctx, KVV_Q8_0, src, y, rows, cols, &tg);
    for (int64_t i = 0; i < rows * cols; i++)
        y[i] = kvv_ref_f16_to_f32(kvv_ref_f32_to_f16(y[i]));
    return y;
}

/* turbo4 rows decoded through the alternative table, as f32 rows in the rotated basis */
static void alt_table_rows(const void *src, float *out, int64_t rows, int cols)
{
    int n;
    const kvv_ref_table *t = kvv_ref_tables(&n), *alt = NULL;
    for (int i = 0; i < n; i++)
        if (strstr(t[i].name, "C4n"))
            alt = &t[i];
    NEED(alt != NULL);
    const kvv_type_info *ti = kvv_type_get(KVV_TURBO4);
    for (int64_t r = 0; r < rows; r++)
        for (int b = 0; b < cols / 128; b++) {
            kvv_fields f;
            ti->unpack((const uint8_t *)src + (r * (cols / 128) + b) * ti->bytes, &f);
            float norm = kvv_ref_f16_to_f32((uint16_t)f.scale[0]);
            for (int j = 0; j < 128; j++)
                out[r * cols + b * 128 + j] = (float)alt->values[f.idx[j]] * norm;
        }
}

static float *alt_table(const void *src, int64_t rows, int cols)
{
    float *out = malloc(sizeof(float) * (size_t)(rows * cols));
    NEED(out != NULL);
    alt_table_rows(src, out, rows, cols);
    return out;
}

/* q4_0/q5_0 blocks whose last value of largest magnitude differs from the
 * first, quantized again with the last (the kernels' arithmetic: d = m /
 * -2^(bits-1), index = min(top, (int8)(x/d + bias)) truncated) */
static void last_max_blocks(kvv_type t, const float *x, void *dst, int64_t rows, int64_t cols)
{
    const kvv_type_info *ti = kvv_type_get(t);
    const float div = t == KVV_Q4_0 ? -8.0f : -16.0f, bias = t == KVV_Q4_0 ? 8.5f : 16.5f;
    const int top = t == KVV_Q4_0 ? 15 : 31;
    for (int64_t b = 0; b < rows * cols / 32; b++) {
        const float *xb = x + b * 32;
        float amax = 0, first = 0, last = 0;
        for (int j = 0; j < 32; j++) {
            if (amax < fabsf(xb[j]))
                amax = fabsf(xb[j]), first = xb[j];
            if (amax <= fabsf(xb[j]))
                last = xb[j];
        }
        if (first == last)
            continue;
        float d = last / div, id = d != 0.0f ? 1.0f / d : 0.0f;
        kvv_fields f;
        uint8_t *blk = (uint8_t *)dst + b * ti->bytes;
        ti->unpack(blk, &f);
        f.scale[0] = kvv_ref_f32_to_f16(d);
        for (int j = 0; j < 32; j++) {
            int xi = (int8_t)((int)(xb[j] * id + bias) & 0xff);
            f.idx[j] = (int16_t)(xi < top ? xi : top);
        }
        ti->pack(&f, blk);
    }
}

static float f16r(float x) { return kvv_ref_f16_to_f32(kvv_ref_f32_to_f16(x)); }

/* Attention whose V accumulator is f16, as ggml's CPU path does for an f16
 * V cache (no mask, no rotation: enough for the defect). */
static int attn_f16_accumulate(const dctx *d, const kvv_attn_args *a, float *out)
{
    int64_t nk = (int64_t)a->n_head_kv * a->n_kv;
    float *k = malloc(sizeof(float) * (size_t)(nk * a->dk)), *v = malloc(sizeof(float) * (size_t)(nk * a->dv));
    float *p = malloc(sizeof(float) * (size_t)a->n_kv);
    NEED(k && v && p);
    kvv_toggles tg = kvv_toggles_default();
    d->cpu->dequantize_rows(d->cpu->ctx, a->type_k, a->k, k, nk, a->dk, &tg);
    d->cpu->dequantize_rows(d->cpu->ctx, a->type_v, a->v, v, nk, a->dv, &tg);
    for (int h = 0; h < a->n_head; h++)
        for (int i = 0; i < a->n_q; i++) {
            const float *q = a->q + ((size_t)h * a->n_q + i) * a->dk;
            int hk = h / (a->n_head / a->n_head_kv);
            float mx = -INFINITY, sum = 0;
            for (int j = 0; j < a->n_kv; j++) {
                float s = 0;
                for (int c = 0; c < a->dk; c++)
                    s += q[c] * k[((size_t)hk * a->n_kv + j) * a->dk + c];
                p[j] = s * a->scale;
                mx = p[j] > mx ? p[j] : mx;
            }
            float *o = out + ((size_t)h * a->n_q + i) * a->dv;
            memset(o, 0, sizeof(float) * (size_t)a->dv);
            for (int j = 0; j < a->n_kv; j++) {
                p[j] = expf(p[j] - mx);
                sum += p[j];
                for (int c = 0; c < a->dv; c++)
                    o[c] = f16r(o[c] + f16r(p[j] * v[((size_t)hk * a->n_kv + j) * a->dv + c]));
            }
            for (int c = 0; c < a->dv; c++)
                o[c] /= sum;
        }
    free(k);
    free(v);
    free(p);
    return KVV_OK;
}

/* ---- the entries ---- */

static int d_supports(void *ctx, const kvv_case *c, char *why, size_t n)
{
    const dctx *d = ctx;
    return d->cpu->supports ? d->cpu->supports(d->cpu->ctx, c, why, n) : 1;
}

static int d_quantize(void *ctx, kvv_type t, const float *src, void *dst, int64_t nrows, int64_t ncols,
                      const kvv_toggles *tg)
{
    dctx *d = ctx;
    char call[160];
    rows_call(call, sizeof call, "quant", t, nrows, ncols);
    long callno = d->quant_calls++;
    int rc = generic_fault(d, call);
    if (rc >= 0)
        return rc;
    const kvv_type_info *ti = kvv_type_get(t);
    float *x = NULL;
    const size_t n = (size_t)(nrows * ncols);
    if (ti && ti->rotated && planted(d, D_MISSING_ROTATION, call)) {
        x = copy_f32(src, n);
        rotate(d, x, nrows, (int)ncols, 1); /* undo the rotation the quantizer applies */
    }
    if (ti && ti->rotated && planted(d, D_WHT_GROUP_128, call) && group_128((int)ncols) != kvv_rot_group((int)ncols)) {
        if (!x)
            x = copy_f32(src, n);
        regroup_in(d, x, nrows, (int)ncols, group_128((int)ncols));
    }
    rc = d->cpu->quantize_rows(d->cpu->ctx, t, x ? x : src, dst, nrows, ncols, tg);
    free(x);
    if (rc != KVV_OK || !ti)
        return rc;
    if ((t == KVV_Q4_0 || t == KVV_Q5_0) && planted(d, D_Q4_0_LAST_MAX, call))
        last_max_blocks(t, src, dst, nrows, ncols);
    if (ti->family != KVV_FAMILY_FLOAT) {
        if (planted(d, D_ZERO_PAYLOAD, call) && nrows > 0)
            each_block(t, dst, 0, 1, (int)ncols, zero_indices);
        if (planted(d, D_ZERO_LAYER0, call) && callno / 2 % 2 == 0)
            each_block(t, dst, 0, nrows, (int)ncols, zero_indices);
        if (planted(d, D_PACK_NEIGHBOUR, call))
            each_block(t, dst, 0, nrows, (int)ncols, or_into_neighbour);
    }
    if (is_turbo3(t) && planted(d, D_PACK_OVERWRITE, call))
        each_block(t, dst, 0, nrows, (int)ncols, signs_one_byte_early);
    if (planted(d, D_FLIP_BIT, call) && kvv_row_bytes(t, (int)ncols) * (size_t)nrows > 2)
        ((uint8_t *)dst)[2] ^= 0x01;
    return rc;
}

static int d_dequantize(void *ctx, kvv_type t, const void *src, float *dst, int64_t nrows, int64_t ncols,
                        const kvv_toggles *tg)
{
    dctx *d = ctx;
    char call[160];
    rows_call(call, sizeof call, "dequant", t, nrows, ncols);
    int rc = generic_fault(d, call);
    if (rc >= 0)
        return rc;
    void *m = NULL;
    if (is_turbo3(t) && (planted(d, D_LUT4_ALWAYS, call) || (tg->lut == 4 && planted(d, D_LUT4_MISMATCH, call))))
        m = mangled(t, src, nrows, (int)ncols, lut4_without_xor);
    if (t == KVV_TURBO3_QK128 && lut4_avx2(tg) && planted(d, D_LUT4_QK128_STRIDE, call)) {
        void *m2 = stride_14(m ? m : src, nrows, (int)ncols);
        free(m);
        m = m2;
    }
    rc = d->cpu->dequantize_rows(d->cpu->ctx, t, m ? m : src, dst, nrows, ncols, tg);
    free(m);
    if (rc == KVV_OK && t == KVV_TURBO4 && planted(d, D_WRONG_TABLE, call))
        alt_table_rows(src, dst, nrows, (int)ncols);
    return rc;
}

static int d_wht(void *ctx, float *x, int64_t nrows, int64_t ncols, int group, int inverse, const kvv_toggles *tg)
{
    dctx *d = ctx;
    char call[160];
    snprintf(call, sizeof call, "wht/d%lld/g%d/rows%lld", (long long)ncols, group, (long long)nrows);
    int rc = generic_fault(d, call);
    if (rc >= 0)
        return rc;
    rc = d->cpu->wht(d->cpu->ctx, x, nrows, ncols, group, inverse, tg);
    if (planted(d, D_WHT_OVERRUN, call))
        x[nrows * ncols] = 0.5f;
    return rc;
}

static int all_masked(const kvv_attn_args *a, int i)
{
    if (!a->mask)
        return 0;
    for (int j = 0; j < a->n_kv; j++)
        if (a->mask[(size_t)i * a->n_kv + j] != -INFINITY)
            return 0;
    return 1;
}

static int d_attention(void *ctx, const kvv_attn_args *a, float *out, kvv_attn_info *info)
{
    dctx *d = ctx;
    char call[200];
    attn_call(call, sizeof call, a);
    int rc = generic_fault(d, call);
    if (rc >= 0)
        return rc;
    kvv_attn_args b = *a;
    const int64_t nq = (int64_t)a->n_head * a->n_q, nk = (int64_t)a->n_head_kv * a->n_kv;
    const size_t nout = (size_t)nq * a->dv;
    const kvv_type_info *tk = kvv_type_get(a->type_k), *tv = kvv_type_get(a->type_v);
    if (!tk || !tv)
        return d->cpu->attention(d->cpu->ctx, a, out, info);
    int kr = tk->rotated, vr = tv->rotated;
    float *q = copy_f32(a->q, (size_t)nq * a->dk);
    void *kx = NULL, *vx = NULL;
    int pre_out = 0, post_out = 0; /* output fix-ups: forward rotation, inverse rotation */
    b.q = q;
    if (planted(d, D_DOUBLE_ROTATION, call) && kr)
        rotate(d, q, nq, a->dk, 0);
    if (planted(d, D_ROTATION_WRONG_OPERAND, call) && kr != vr) {
        /* the CPU kernel rotates Q iff K is rotated and inverse-rotates the
         * output iff V is: turn that into the opposite gating */
        if (kr)
            rotate(d, q, nq, a->dk, 1);
        if (vr)
            rotate(d, q, nq, a->dk, 0);
        pre_out = vr;
        post_out = kr;
    }
    const int g128k = planted(d, D_WHT_GROUP_128, call) && kr && group_128(a->dk) != kvv_rot_group(a->dk);
    const int g128v = planted(d, D_WHT_GROUP_128, call) && vr && group_128(a->dv) != kvv_rot_group(a->dv);
    if (g128k)
        regroup_in(d, q, nq, a->dk, group_128(a->dk));
    const int kernel_group = planted(d, D_WHT_GROUP_KERNEL, call) && a->dk != 128;
    if (kernel_group && kr) { /* Q through the wrong group instead of the kernel's */
        rotate(d, q, nq, a->dk, 1);
        rotate_kernel_group(d, q, nq, a->dk, 0);
    }
    if (planted(d, D_SWAPPED_V_TYPE, call))
        b.type_v = a->type_k;
    if (a->type_v == KVV_TURBO4 && planted(d, D_TURBO4_V_NIBBLES, call))
        b.v = vx = mangled(a->type_v, a->v, nk, a->dv, swap_nibbles);
    if (planted(d, D_LUT4_ALWAYS, call) || (a->tg.lut == 4 && planted(d, D_LUT4_MISMATCH, call))) {
        if (is_turbo3(a->type_k))
            b.k = kx = mangled(a->type_k, a->k, nk, a->dk, lut4_without_xor);
        if (is_turbo3(a->type_v))
            b.v = vx = mangled(a->type_v, a->v, nk, a->dv, lut4_without_xor);
    }
    if (lut4_avx2(&a->tg) && planted(d, D_LUT4_QK128_STRIDE, call)) {
        if (a->type_k == KVV_TURBO3_QK128)
            b.k = kx = stride_14(a->k, nk, a->dk);
        if (a->type_v == KVV_TURBO3_QK128)
            b.v = vx = stride_14(a->v, nk, a->dv);
    }
    if (a->tg.cache && a->dk > 256 && a->type_k != KVV_F32 && planted(d, D_CACHE_F16_WIDE, call)) {
        /* f32 K rows in the type's basis: a rotated type's Q rotated here */
        float *kf = malloc(sizeof(float) * (size_t)(nk * a->dk));
        NEED(kf != NULL);
        kvv_toggles tg = kvv_toggles_default();
        d->cpu->dequantize_rows(d->cpu->ctx, a->type_k, b.k, kf, nk, a->dk, &tg);
        for (int64_t i = 0; i < nk * a->dk; i++)
            kf[i] = kvv_ref_f16_to_f32(kvv_ref_f32_to_f16(kf[i]));
        free(kx);
        b.k = kx = kf;
        b.type_k = KVV_F32;
        if (kr)
            rotate(d, q, nq, a->dk, 0);
    }
    if (!a->tg.cache && planted(d, D_TOGGLE_PATH, call)) {
        if (a->type_k == KVV_Q8_0) {
            b.k = kx = q8_0_through_f16(d, a->k, nk, a->dk);
            b.type_k = KVV_F32;
        }
        if (a->type_v == KVV_Q8_0) {
            b.v = vx = q8_0_through_f16(d, a->v, nk, a->dv);
            b.type_v = KVV_F32;
        }
    }
    if ((!a->tg.cache && planted(d, D_TOGGLE_UNCACHED, call)) || (a->tg.cache && planted(d, D_TOGGLE_CACHED, call))) {
        if (a->type_k == KVV_Q8_0)
            b.k = kx = shifted_scales(a->k, nk, a->dk);
        if (a->type_v == KVV_Q8_0)
            b.v = vx = shifted_scales(a->v, nk, a->dv);
    }
    if (planted(d, D_WRONG_TABLE, call)) {
        if (a->type_k == KVV_TURBO4) { /* f32 K in the rotated basis: Q rotated here */
            b.k = kx = alt_table(a->k, nk, a->dk);
            b.type_k = KVV_F32;
            rotate(d, q, nq, a->dk, 0);
        }
        if (a->type_v == KVV_TURBO4) {
            b.v = vx = alt_table(a->v, nk, a->dv);
            b.type_v = KVV_F32;
            post_out = 1;
        }
    }
    const int gqa = planted(d, D_GQA_OFF_BY_ONE, call) && a->n_head > 1;
    if (gqa) { /* head p of the call is query head p + 1 */
        float *q0 = copy_f32(q, (size_t)nq * a->dk);
        for (int h = 0; h < a->n_head; h++)
            memcpy(q + (size_t)h * a->n_q * a->dk, q0 + (size_t)((h + 1) % a->n_head) * a->n_q * a->dk,
                   sizeof(float) * (size_t)a->n_q * a->dk);
        free(q0);
    }
    rc = d->cpu->attention(d->cpu->ctx, &b, out, info);
    if (rc == KVV_OK && planted(d, D_F16_ACCUMULATION, call))
        rc = attn_f16_accumulate(d, a, out); /* while info still claims f32 accumulation */
    if (rc == KVV_OK) {
        if (gqa) {
            float *o = copy_f32(out, nout);
            for (int h = 0; h < a->n_head; h++)
                memcpy(out + (size_t)((h + 1) % a->n_head) * a->n_q * a->dv, o + (size_t)h * a->n_q * a->dv,
                       sizeof(float) * (size_t)a->n_q * a->dv);
            free(o);
        }
        if (pre_out)
            rotate(d, out, nq, a->dv, 0);
        if (post_out)
            rotate(d, out, nq, a->dv, 1);
        if (g128v)
            regroup_out(d, out, nq, a->dv, group_128(a->dv));
        if (kernel_group && vr) { /* the output's inverse through the wrong group */
            rotate(d, out, nq, a->dv, 0);
            rotate_kernel_group(d, out, nq, a->dv, 1);
        }
        if (a->type_v == KVV_TURBO4 && planted(d, D_TURBO4_V_BROKEN, call))
            rotate(d, out, nq, a->dv, 0); /* the kernel's inverse rotation undone */
        if (planted(d, D_MASKED_ROW_NAN, call))
            for (int h = 0; h < a->n_head; h++)
                for (int i = 0; i < a->n_q; i++)
                    if (all_masked(a, i))
                        for (int c = 0; c < a->dv; c++)
                            out[((size_t)h * a->n_q + i) * a->dv + c] = NAN;
        if (a->tg.cache && planted(d, D_TOGGLE_ULP, call))
            out[nout / 2] = nextafterf(out[nout / 2], INFINITY);
        if (planted(d, D_SUBQ8_NAN, call) && (tk->bpv < 8 || tv->bpv < 8))
            for (size_t i = 0; i < nout; i++)
                out[i] = NAN;
        if (planted(d, D_NAN_OUTPUT, call) && nout > 3)
            out[3] = NAN;
        if (planted(d, D_NAN_ALL, call))
            for (size_t i = 0; i < nout; i++)
                out[i] = NAN;
        if (planted(d, D_BUMP_OUTPUT, call) && nout > 5)
            out[5] += 0.5f;
        if (planted(d, D_SKEW_OUTPUT, call) && nout > (size_t)a->dv + 3)
            out[a->dv + 3] += 1.0f + 0.5f * fabsf(out[a->dv + 3]);
    }
    free(q);
    free(kx);
    free(vx);
    return rc;
}

static int d_flush(void *ctx)
{
    const dctx *d = ctx;
    return d->cpu->flush ? d->cpu->flush(d->cpu->ctx) : KVV_OK;
}

static const char *d_last_error(void *ctx)
{
    const dctx *d = ctx;
    if (d->own_err)
        return d->err;
    return d->cpu->last_error ? d->cpu->last_error(d->cpu->ctx) : "";
}

static kvv_type d_stored_as(void *ctx, kvv_type cache, char *note, size_t n)
{
    const dctx *d = ctx;
    if (KVV_BACKEND_HAS(d->cpu, stored_as) && d->cpu->stored_as)
        return d->cpu->stored_as(d->cpu->ctx, cache, note, n);
    return cache;
}

static void d_destroy(void *ctx) { free(ctx); }

static int defect_id_of(const char *name)
{
    for (int i = 0; i < D_COUNT; i++)
        if (!strcmp(catalogue[i].name, name))
            return i;
    return -1;
}

kvv_backend *kvv_defect_backend(const char *bname, const kvv_plant *plants, int n)
{
    NEED(n >= 0 && n <= MAX_PLANTS);
    dctx *d = calloc(1, sizeof *d);
    NEED(d != NULL);
    d->cpu = kvv_cpu_backend();
    for (int i = 0; i < n; i++) {
        int id = defect_id_of(plants[i].defect);
        if (id < 0) {
            fprintf(stderr, "\n  no defect '%s' in the catalogue of tests/harness/defect.c\n", plants[i].defect);
            free(d);
            CU_FAIL_FATAL("unknown defect");
            return NULL;
        }
        d->id[i] = (defect_id)id;
        snprintf(d->where[i], sizeof d->where[i], "%s", plants[i].where ? plants[i].where : "");
    }
    d->n = n;
    snprintf(d->name, sizeof d->name, "%s", bname);
    d->b = *d->cpu;
    d->b.name = d->name;
    d->b.description = "the CPU backend with planted defects (tests/harness/defect.c)";
    d->b.ctx = d;
    d->b.supports = d_supports;
    d->b.quantize_rows = d_quantize;
    d->b.dequantize_rows = d_dequantize;
    d->b.wht = d_wht;
    d->b.attention = d_attention;
    d->b.flush = d_flush;
    d->b.destroy = d_destroy;
    d->b.last_error = d_last_error;
    d->b.stored_as = d_stored_as;
    d->b.struct_size = sizeof(kvv_backend);
    return &d->b;
}

kvv_backend *kvv_defect(const char *defect)
{
    kvv_plant p = {defect, NULL};
    return kvv_defect_backend("defective", &p, 1);
}

void kvv_defect_free(kvv_backend *b)
{
    if (b)
        b->destroy(b->ctx);
}

int kvv_mutant_names(const char ***names)
{
    static char buf[8192];
    static const char *list[128];
    static int n = -2;
    if (n == -2) {
        char path[1024];
        snprintf(path, sizeof path, "%s/ci/mutants.txt", kvv_source_dir());
        FILE *f = fopen(path, "r");
        n = f ? 0 : -1;
        size_t used = 0;
        char line[1024];
        while (f && fgets(line, sizeof line, f)) {
            if (line[0] == '#' || !strchr(line, '\t'))
                continue;
            size_t len = strcspn(line, "\t");
            if (n == 128 || used + len + 1 > sizeof buf)
                break;
            memcpy(buf + used, line, len);
            buf[used + len] = 0;
            list[n++] = buf + used;
            used += len + 1;
        }
        if (f)
            fclose(f);
    }
    *names = list;
    return n;
}
