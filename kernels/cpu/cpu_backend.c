/* The CPU backend's table (include/kvv/backend.h): argument checks, ISA
 * resolution, and the split of rows over the thread pool.  The arithmetic
 * lives in the per-family kernel files; this file only assembles them.
 *
 * Threads take whole rows (chunks of rows), and every row is computed the
 * same way whichever thread runs it, so any thread count gives the same bits. */
#include <cpuid.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_internal.h"

/* ---- ISA ---- */

static int has_avx2;
static pthread_once_t has_avx2_once = PTHREAD_ONCE_INIT;

static void detect_avx2(void)
{
    /* __builtin_cpu_supports also checks that the OS saves the AVX state;
     * F16C is read from CPUID leaf 1 (ECX bit 29) because clang's builtin
     * does not know the name "f16c". */
    unsigned a, b, c, d;
    __builtin_cpu_init();
    has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __get_cpuid(1, &a, &b, &c, &d) &&
               (c & bit_F16C);
}

int kvv_cpu_has_avx2(void)
{
    pthread_once(&has_avx2_once, detect_avx2);
    return has_avx2;
}

int cpu_isa_resolve(kvv_isa want)
{
    switch (want) {
    case KVV_ISA_SCALAR:
        return KVV_ISA_SCALAR;
    case KVV_ISA_AVX2:
        return kvv_cpu_has_avx2() ? KVV_ISA_AVX2 : -1;
    case KVV_ISA_AUTO:
        return kvv_cpu_has_avx2() ? KVV_ISA_AVX2 : KVV_ISA_SCALAR;
    }
    return -1;
}

/* ---- the type table: one row per type and ISA, assembled once from the
 * family tables; an AVX2 row borrows the scalar kernel where it has none ---- */

static cpu_type_fns type_rows[2][KVV_TYPE_COUNT];
static pthread_once_t type_rows_once = PTHREAD_ONCE_INIT;

static void type_rows_build(void)
{
    const cpu_type_fns *scalar[] = {cpu_ggml_scalar, cpu_turbo_scalar};
    const cpu_type_fns *avx2[] = {cpu_ggml_avx2, cpu_turbo_avx2};
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        for (int f = 0; f < 2; f++) {
            const cpu_type_fns *s = &scalar[f][t], *a = &avx2[f][t];
            if (!s->quantize_row && !s->dequantize_row)
                continue;
            type_rows[0][t] = *s;
            type_rows[1][t].quantize_row = a->quantize_row ? a->quantize_row : s->quantize_row;
            type_rows[1][t].dequantize_row = a->dequantize_row ? a->dequantize_row : s->dequantize_row;
        }
    }
}

const cpu_type_fns *cpu_type_fns_get(kvv_type t, int isa)
{
    if ((unsigned)t >= KVV_TYPE_COUNT || (isa != KVV_ISA_SCALAR && isa != KVV_ISA_AVX2) ||
        (isa == KVV_ISA_AVX2 && !kvv_cpu_has_avx2()))
        return NULL;
    pthread_once(&type_rows_once, type_rows_build);
    const cpu_type_fns *f = &type_rows[isa == KVV_ISA_AVX2][t];
    return f->quantize_row && f->dequantize_row ? f : NULL;
}

void cpu_quantize_rows(kvv_type t, int isa, const float *x, void *dst, int64_t nrows, int ncols)
{
    if (isa == KVV_ISA_AVX2 && (unsigned)t < KVV_TYPE_COUNT && cpu_turbo_rows_avx2[t]) {
        cpu_turbo_rows_avx2[t](x, dst, nrows, ncols);
        return;
    }
    const cpu_type_fns *f = cpu_type_fns_get(t, isa);
    size_t rb = kvv_row_bytes(t, ncols);
    const kvv_type_info *ti = kvv_type_get(t);
    /* Rows of whole blocks lie end to end, and a float or ggml block does
     * not depend on the row it is in: runs of rows go as one long row, so a
     * kernel that works on several blocks at once (q8_0 takes 8, f16 32
     * values) keeps them busy across row ends and the call overhead goes. */
    if (ti && (ti->family == KVV_FAMILY_FLOAT || ti->family == KVV_FAMILY_BLOCK) && ncols % ti->block == 0 &&
        rb == (size_t)(ncols / ti->block) * ti->bytes) {
        int64_t per = (INT_MAX / 2) / ncols;
        for (int64_t r = 0; r < nrows; r += per) {
            int64_t n = nrows - r < per ? nrows - r : per;
            f->quantize_row(x + r * ncols, (uint8_t *)dst + (size_t)r * rb, (int)(n * ncols));
        }
        return;
    }
    for (int64_t r = 0; r < nrows; r++)
        f->quantize_row(x + r * ncols, (uint8_t *)dst + (size_t)r * rb, ncols);
}

/* ---- errors: one message per calling thread ---- */

static _Thread_local char last_err[256];

#define DECLINE(...) (snprintf(last_err, sizeof last_err, __VA_ARGS__), KVV_UNSUPPORTED)
#define FAIL(...) (snprintf(last_err, sizeof last_err, __VA_ARGS__), KVV_FAILED)

static const char *cpu_last_error(void *ctx)
{
    (void)ctx;
    return last_err;
}

/* ---- toggles ---- */

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* Resolve the toggles a row kernel needs; KVV_OK or a declined/failed code. */
static int resolve_toggles(const kvv_toggles *tg, int *isa, int *threads, int *lut)
{
    kvv_toggles d = kvv_toggles_default();
    if (!tg)
        tg = &d;
    *isa = cpu_isa_resolve(tg->isa);
    if (*isa < 0)
        return tg->isa == KVV_ISA_AVX2 ? DECLINE("isa=avx2 asked for, but this CPU lacks AVX2, FMA or F16C")
                                       : DECLINE("unknown isa toggle %d", (int)tg->isa);
    *threads = tg->threads > 0 ? tg->threads : default_threads();
    if (lut) {
        *lut = tg->lut;
        if (*lut != 8 && *lut != 4)
            return DECLINE("lut=%d: the turbo3 dequantizer has an 8-entry and a 4-magnitude LUT only", *lut);
    }
    return KVV_OK;
}

static int check_shape(kvv_type t, int64_t nrows, int64_t ncols)
{
    char why[160];
    if (!kvv_type_get(t))
        return DECLINE("unknown type %d", (int)t);
    if (nrows < 0 || ncols > INT_MAX)
        return FAIL("bad shape: %lld rows of %lld values", (long long)nrows, (long long)ncols);
    if (!kvv_type_fits(t, (int)ncols, why, sizeof why))
        return DECLINE("%s", why);
    return KVV_OK;
}

/* ---- row jobs over the pool ---- */

/* Rows per item: about 16K values, so that items are few enough to be cheap
 * to hand out and many enough to balance. */
static int64_t rows_per_item(int64_t ncols)
{
    int64_t r = 16384 / (ncols > 0 ? ncols : 1);
    return r < 1 ? 1 : r;
}

typedef struct {
    kvv_type type;
    const cpu_type_fns *fns;
    const uint8_t *qsrc;
    uint8_t *qdst;
    const float *fsrc;
    float *fdst;
    int64_t nrows, per_item;
    int ncols, lut, group, inverse, isa;
    size_t row_bytes;
} row_job;

static void quantize_item(void *arg, int64_t item)
{
    const row_job *j = arg;
    int64_t r0 = item * j->per_item, r1 = r0 + j->per_item < j->nrows ? r0 + j->per_item : j->nrows;
    cpu_quantize_rows(j->type, j->isa, j->fsrc + r0 * j->ncols, j->qdst + (size_t)r0 * j->row_bytes, r1 - r0,
                      j->ncols);
}

static void dequantize_item(void *arg, int64_t item)
{
    const row_job *j = arg;
    int64_t r0 = item * j->per_item, r1 = r0 + j->per_item < j->nrows ? r0 + j->per_item : j->nrows;
    for (int64_t r = r0; r < r1; r++)
        j->fns->dequantize_row(j->qsrc + (size_t)r * j->row_bytes, j->fdst + r * j->ncols, j->ncols, j->lut);
}

static void wht_item(void *arg, int64_t item)
{
    const row_job *j = arg;
    int64_t r0 = item * j->per_item, r1 = r0 + j->per_item < j->nrows ? r0 + j->per_item : j->nrows;
    cpu_wht_rows(j->fdst + r0 * j->ncols, r1 - r0, j->ncols, j->group, j->inverse, j->isa);
}

static void run_rows(row_job *j, int threads, cpu_task_fn fn)
{
    j->per_item = rows_per_item(j->ncols);
    int64_t items = (j->nrows + j->per_item - 1) / j->per_item;
    cpu_parallel_for(threads, items, fn, j);
}

/* ---- the entry points ---- */

static int entry_quantize_rows(void *ctx, kvv_type t, const float *src, void *dst, int64_t nrows, int64_t ncols,
                             const kvv_toggles *tg)
{
    (void)ctx;
    int isa, threads, rc = check_shape(t, nrows, ncols);
    if (rc != KVV_OK || (rc = resolve_toggles(tg, &isa, &threads, NULL)) != KVV_OK)
        return rc;
    if (nrows > 0 && (!src || !dst))
        return FAIL("NULL buffer");
    row_job j = {.type = t, .fns = cpu_type_fns_get(t, isa), .fsrc = src, .qdst = dst, .nrows = nrows,
                 .ncols = (int)ncols, .isa = isa, .row_bytes = kvv_row_bytes(t, ncols)};
    if (!j.fns)
        return DECLINE("no %s kernel for %s", isa == KVV_ISA_AVX2 ? "AVX2" : "scalar", kvv_type_name(t));
    run_rows(&j, threads, quantize_item);
#ifdef KVV_FAULT_zero_payload
    if (nrows > 0 && kvv_type_get(t)->family != KVV_FAMILY_FLOAT) { /* indices of row 0 zeroed, scales kept */
        const kvv_type_info *ti = kvv_type_get(t);
        for (int64_t b = 0; b < ncols / ti->block; b++) {
            kvv_fields f;
            uint8_t *blk = (uint8_t *)dst + b * ti->bytes;
            ti->unpack(blk, &f);
            memset(f.idx, 0, sizeof f.idx);
            ti->pack(&f, blk);
        }
    }
#endif
    return KVV_OK;
}

static int entry_dequantize_rows(void *ctx, kvv_type t, const void *src, float *dst, int64_t nrows, int64_t ncols,
                               const kvv_toggles *tg)
{
    (void)ctx;
    int isa, threads, lut, rc = check_shape(t, nrows, ncols);
    if (rc != KVV_OK || (rc = resolve_toggles(tg, &isa, &threads, &lut)) != KVV_OK)
        return rc;
    if (nrows > 0 && (!src || !dst))
        return FAIL("NULL buffer");
    row_job j = {.fns = cpu_type_fns_get(t, isa), .qsrc = src, .fdst = dst, .nrows = nrows, .ncols = (int)ncols,
                 .lut = lut, .row_bytes = kvv_row_bytes(t, ncols)};
    if (!j.fns)
        return DECLINE("no %s kernel for %s", isa == KVV_ISA_AVX2 ? "AVX2" : "scalar", kvv_type_name(t));
    run_rows(&j, threads, dequantize_item);
    return KVV_OK;
}

static int group_ok(int group, int64_t ncols)
{
    return group >= 1 && group <= 128 && !(group & (group - 1)) && ncols > 0 && ncols <= INT_MAX &&
           ncols % group == 0;
}

static int cpu_wht(void *ctx, float *x, int64_t nrows, int64_t ncols, int group, int inverse, const kvv_toggles *tg)
{
    (void)ctx;
    int isa, threads, rc;
    if (!group_ok(group, ncols))
        return DECLINE("WHT group %d: needs a power of two in 1..128 dividing the row width %lld", group,
                       (long long)ncols);
    if (nrows < 0)
        return FAIL("bad shape: %lld rows", (long long)nrows);
    if ((rc = resolve_toggles(tg, &isa, &threads, NULL)) != KVV_OK)
        return rc;
    if (nrows > 0 && !x)
        return FAIL("NULL buffer");
    row_job j = {.fdst = x, .nrows = nrows, .ncols = (int)ncols, .group = group, .inverse = inverse != 0, .isa = isa};
    run_rows(&j, threads, wht_item);
    return KVV_OK;
}

static int cpu_attention_entry(void *ctx, const kvv_attn_args *a, float *out, kvv_attn_info *info)
{
    (void)ctx;
    return cpu_attention(a, out, info, last_err, sizeof last_err);
}

static int cpu_supports(void *ctx, const kvv_case *c, char *why, size_t why_len)
{
    (void)ctx;
    char buf[sizeof last_err];
    int isa, threads, lut, ok = 1;
    if (resolve_toggles(&c->tg, &isa, &threads, &lut) != KVV_OK) {
        snprintf(buf, sizeof buf, "%s", last_err);
        ok = 0;
    } else {
        switch (c->op) {
        case KVV_OP_QUANT:
        case KVV_OP_DEQUANT:
            ok = kvv_type_fits(c->type_k, c->dk, buf, sizeof buf);
            break;
        case KVV_OP_WHT: {
            int g = c->group ? c->group : kvv_rot_group(c->dk);
            if (!(ok = group_ok(g, c->dk)))
                snprintf(buf, sizeof buf, "WHT group %d: needs a power of two in 1..128 dividing %d", g, c->dk);
            break;
        }
        case KVV_OP_ATTN:
        case KVV_OP_PPL: {
            char w[200];
            if (!kvv_type_fits(c->type_k, c->dk, w, sizeof w)) {
                snprintf(buf, sizeof buf, "K: %s", w);
                ok = 0;
            } else if (!kvv_type_fits(c->type_v, c->dv, w, sizeof w)) {
                snprintf(buf, sizeof buf, "V: %s", w);
                ok = 0;
            }
            break;
        }
        default:
            snprintf(buf, sizeof buf, "unknown op %d", (int)c->op);
            ok = 0;
        }
    }
    if (!ok) {
        snprintf(last_err, sizeof last_err, "%s", buf);
        if (why && why_len)
            snprintf(why, why_len, "%s", buf);
    }
    return ok;
}

static int cpu_flush(void *ctx)
{
    (void)ctx;
    return KVV_OK; /* every call is synchronous */
}

static void cpu_destroy(void *ctx)
{
    (void)ctx; /* process-wide: the thread pool lives until exit */
}

static const kvv_backend cpu_backend = {
    .abi_version = KVV_ABI_VERSION,
    .struct_size = sizeof(kvv_backend),
    .name = "cpu",
    .description = "optimized CPU kernels: AVX2/FMA/F16C with runtime dispatch, scalar fallback, thread pool",
    .ctx = NULL,
    .supports = cpu_supports,
    .quantize_rows = entry_quantize_rows,
    .dequantize_rows = entry_dequantize_rows,
    .wht = cpu_wht,
    .attention = cpu_attention_entry,
    .flush = cpu_flush,
    .destroy = cpu_destroy,
    .last_error = cpu_last_error,
};

const kvv_backend *kvv_cpu_backend(void) { return &cpu_backend; }
