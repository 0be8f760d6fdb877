/* Unit tests of the CPU backend's non-attention kernels: scalar against AVX2
 * on every type and input distribution, thread counts and the turbo3 LUT
 * variants as pure speed switches, hand-computed blocks, the f16/bf16
 * conversions, the WHT, and the backend table's refusals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_internal.h"
#include "ref/ref.h"
#include "tests/harness.h"

/* ---- helpers ---- */

static const kvv_backend *be(void) { return kvv_cpu_backend(); }

static kvv_toggles toggles(kvv_isa isa, int threads, int lut)
{
    kvv_toggles t = kvv_toggles_default();
    t.isa = isa;
    t.threads = threads;
    t.lut = lut;
    return t;
}

static uint32_t f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* The ISAs this processor can run: scalar, and AVX2 when present. */
static int n_isas(void) { return kvv_cpu_has_avx2() ? 2 : 1; }
static kvv_isa isa_at(int i) { return i ? KVV_ISA_AVX2 : KVV_ISA_SCALAR; }

/* NaN signs and payloads are not something C arithmetic pins down: when two
 * NaNs meet in an add (a sum of squares, a butterfly), which one survives
 * depends on the operand order the compiler picked for a commutative
 * operation.  So comparisons of computed results accept any NaN for a NaN;
 * every other bit must match. */
static int f16_is_nan(uint32_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }
static int f32_is_nan(uint32_t u) { return (u & 0x7f800000) == 0x7f800000 && (u & 0x7fffff); }
static int bf16_is_nan(uint32_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x7f); }

static int scales_equal(kvv_type t, uint32_t a, uint32_t b)
{
    if (a == b)
        return 1;
    if (t == KVV_F32)
        return f32_is_nan(a) && f32_is_nan(b);
    if (t == KVV_BF16)
        return bf16_is_nan(a) && bf16_is_nan(b);
    return f16_is_nan(a) && f16_is_nan(b);
}

/* Compare two buffers of quantized rows block by block (decoded fields:
 * every index and sign bit exactly, scales exactly or both NaN); print the
 * first differing block.  Returns the number of differing blocks. */
static long diff_bytes(const char *what, kvv_type t, int ncols, const uint8_t *a, const uint8_t *b, size_t n)
{
    const kvv_type_info *ti = kvv_type_get(t);
    size_t rb = kvv_row_bytes(t, ncols), nb = n / (size_t)ti->bytes;
    long bad = 0;
    for (size_t k = 0; k < nb; k++) {
        const uint8_t *pa = a + k * (size_t)ti->bytes, *pb = b + k * (size_t)ti->bytes;
        if (!memcmp(pa, pb, (size_t)ti->bytes))
            continue;
        kvv_fields fa, fb;
        ti->unpack(pa, &fa);
        ti->unpack(pb, &fb);
        int same = !memcmp(fa.idx, fb.idx, sizeof fa.idx) && !memcmp(fa.sign, fb.sign, sizeof fa.sign);
        for (int i = 0; i < fa.nscale; i++)
            same = same && scales_equal(t, fa.scale[i], fb.scale[i]);
        /* the codec must account for every byte: repacking gives the bytes back */
        uint8_t ra[KVV_MAX_BLOCK * 4], rbk[KVV_MAX_BLOCK * 4];
        ti->pack(&fa, ra);
        ti->pack(&fb, rbk);
        same = same && !memcmp(ra, pa, (size_t)ti->bytes) && !memcmp(rbk, pb, (size_t)ti->bytes);
        if (same)
            continue;
        if (!bad) {
            size_t i = 0;
            while (pa[i] == pb[i])
                i++;
            fprintf(stderr, "\n  %s %s d%d: row %zu block %zu byte %zu: %02x vs %02x\n", what, ti->name, ncols,
                    k * (size_t)ti->bytes / rb, (k * (size_t)ti->bytes % rb) / (size_t)ti->bytes, i, pa[i], pb[i]);
        }
        bad++;
    }
    return bad;
}

static long diff_floats_nan(const char *what, kvv_type t, int ncols, const float *a, const float *b, size_t n,
                            int any_nan)
{
    long bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t ua = f32_bits(a[i]), ub = f32_bits(b[i]);
        if (ua == ub || (any_nan && f32_is_nan(ua) && f32_is_nan(ub)))
            continue;
        if (!bad)
            fprintf(stderr, "\n  %s %s d%d: value %zu: %08x (%g) vs %08x (%g)\n", what, kvv_type_name(t), ncols, i,
                    ua, a[i], ub, b[i]);
        bad++;
    }
    return bad;
}

static long diff_floats(const char *what, kvv_type t, int ncols, const float *a, const float *b, size_t n)
{
    return diff_floats_nan(what, t, ncols, a, b, n, 1);
}

/* Inputs that stress the quantizers: every generator distribution, plus
 * blocks built to sit on rounding boundaries and signed zeros. */
#define N_DIST (KVV_DIST_COUNT + 2)
static void make_input(float *x, int rows, int ncols, int dist, uint64_t seed)
{
    if (dist < KVV_DIST_COUNT) {
        kvv_gen_fill(x, rows, ncols, 0, (kvv_dist)dist, seed, KVV_STREAM_X);
        return;
    }
    kvv_rng r;
    kvv_rng_seed(&r, seed, KVV_STREAM_X);
    for (int64_t i = 0; i < (int64_t)rows * ncols; i++) {
        uint64_t u = kvv_rng_next(&r);
        if (dist == KVV_DIST_COUNT) /* half-integers times a power of two: roundf ties for q8_0 */
            x[i] = (float)((int)(u % 255) - 127) * 0.5f * (float)(1u << (u >> 60));
        else /* signed zeros among a few small integers: order-dependent min/max signs */
            x[i] = (u >> 8) % 3 == 0 ? ((u & 1) ? -0.0f : 0.0f) : (float)((int)((u >> 16) % 5) - 2);
    }
}

/* Row widths a type can take (a few, with several rotation groups). */
static int widths(kvv_type t, int *w)
{
    static const int all[] = {32, 64, 96, 128, 160, 256, 576};
    int n = 0;
    char why[160];
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (kvv_type_fits(t, all[i], why, sizeof why))
            w[n++] = all[i];
    return n;
}

/* ---- scalar vs AVX2 ---- */

static void test_quantize_scalar_vs_avx2(void)
{
    if (!kvv_cpu_has_avx2())
        KVV_SKIP("no AVX2 on this CPU: no second ISA to compare the scalar kernels with");
    const int rows = 24;
    float *x = malloc(sizeof(float) * rows * 576);
    uint8_t *qs = malloc(rows * 576 * 4), *qa = malloc(rows * 576 * 4);
    long compared = 0;
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        int w[8], nw = widths((kvv_type)t, w);
        CU_ASSERT(nw > 0);
        for (int wi = 0; wi < nw; wi++)
            for (int dist = 0; dist < N_DIST; dist++) {
                make_input(x, rows, w[wi], dist, 1000u * (unsigned)t + (unsigned)dist);
                size_t n = kvv_row_bytes((kvv_type)t, w[wi]) * rows;
                memset(qs, 0x55, n);
                memset(qa, 0xaa, n); /* a byte the kernel forgets to write differs */
                kvv_toggles ts = toggles(KVV_ISA_SCALAR, 1, 8), ta = toggles(KVV_ISA_AVX2, 1, 8);
                CU_ASSERT_EQUAL_FATAL(be()->quantize_rows(NULL, (kvv_type)t, x, qs, rows, w[wi], &ts), KVV_OK);
                CU_ASSERT_EQUAL_FATAL(be()->quantize_rows(NULL, (kvv_type)t, x, qa, rows, w[wi], &ta), KVV_OK);
                CU_ASSERT_EQUAL(diff_bytes("quantize scalar/avx2", (kvv_type)t, w[wi], qs, qa, n), 0);
                compared += (long)n;
            }
    }
    CU_ASSERT(compared > 100000);
    free(x);
    free(qs);
    free(qa);
}

/* Dequantize canonical bytes (from the scalar quantizer) and random bytes
 * (NaN and Inf scales, every index) with both ISAs and both LUTs. */
static void test_dequantize_scalar_vs_avx2(void)
{
    if (!kvv_cpu_has_avx2())
        KVV_SKIP("no AVX2 on this CPU: no second ISA to compare the scalar kernels with");
    const int rows = 16, ncols = 256;
    float *x = malloc(sizeof(float) * rows * ncols), *ys = malloc(sizeof(float) * rows * ncols),
          *ya = malloc(sizeof(float) * rows * ncols);
    uint8_t *q = malloc(rows * ncols * 4);
    long compared = 0;
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        size_t n = kvv_row_bytes((kvv_type)t, ncols) * rows;
        for (int src = 0; src < 3; src++) {
            if (src < 2) {
                make_input(x, rows, ncols, src ? KVV_DIST_OUTLIER : KVV_DIST_GAUSS, 77u + (unsigned)t);
                kvv_toggles ts = toggles(KVV_ISA_SCALAR, 1, 8);
                CU_ASSERT_EQUAL_FATAL(be()->quantize_rows(NULL, (kvv_type)t, x, q, rows, ncols, &ts), KVV_OK);
            } else {
                kvv_rng r;
                kvv_rng_seed(&r, 99u + (unsigned)t, KVV_STREAM_X);
                for (size_t i = 0; i < n; i++)
                    q[i] = (uint8_t)kvv_rng_next(&r);
            }
            for (int lut = 4; lut <= 8; lut += 4) {
                kvv_toggles ts = toggles(KVV_ISA_SCALAR, 1, lut), ta = toggles(KVV_ISA_AVX2, 1, lut);
                memset(ys, 0x55, sizeof(float) * rows * ncols);
                memset(ya, 0xaa, sizeof(float) * rows * ncols);
                CU_ASSERT_EQUAL_FATAL(be()->dequantize_rows(NULL, (kvv_type)t, q, ys, rows, ncols, &ts), KVV_OK);
                CU_ASSERT_EQUAL_FATAL(be()->dequantize_rows(NULL, (kvv_type)t, q, ya, rows, ncols, &ta), KVV_OK);
                CU_ASSERT_EQUAL(diff_floats("dequantize scalar/avx2", (kvv_type)t, ncols, ys, ya, (size_t)rows * ncols), 0);
                compared += rows * ncols;
            }
        }
    }
    CU_ASSERT(compared > 100000);
    free(x);
    free(ys);
    free(ya);
    free(q);
}

/* One row at a time through cpu_type_fns_get() gives the bytes of the
 * multi-row path (which batches rotation groups across rows), also for row
 * counts that leave a batch partly empty. */
static void test_row_kernels_match_rows(void)
{
    const int rows = 13;
    float *x = malloc(sizeof(float) * rows * 576);
    uint8_t *q1 = malloc(rows * 576 * 4), *qn = malloc(rows * 576 * 4);
    long compared = 0;
    for (int i = 0; i < n_isas(); i++)
        for (int t = 0; t < KVV_TYPE_COUNT; t++) {
            int w[8], nw = widths((kvv_type)t, w);
            const cpu_type_fns *f = cpu_type_fns_get((kvv_type)t, isa_at(i));
            CU_ASSERT_PTR_NOT_NULL_FATAL(f);
            for (int wi = 0; wi < nw; wi++) {
                make_input(x, rows, w[wi], KVV_DIST_HEAVY, 31u * (unsigned)t + (unsigned)wi);
                size_t rb = kvv_row_bytes((kvv_type)t, w[wi]);
                memset(q1, 0x55, rb * rows);
                memset(qn, 0xaa, rb * rows);
                for (int r = 0; r < rows; r++)
                    f->quantize_row(x + r * w[wi], q1 + r * rb, w[wi]);
                cpu_quantize_rows((kvv_type)t, isa_at(i), x, qn, rows, w[wi]);
                CU_ASSERT_EQUAL(diff_bytes("row kernel/rows", (kvv_type)t, w[wi], q1, qn, rb * rows), 0);
                compared += (long)(rb * rows);
            }
        }
    CU_ASSERT(compared > 10000);
    free(x);
    free(q1);
    free(qn);
}

/* The comparison itself must see a difference: plant one. */
static void test_diff_catches_one_byte(void)
{
    uint8_t a[68] = {0}, b[68] = {0};
    b[40] = 1;
    CU_ASSERT_EQUAL(diff_bytes("planted", KVV_TURBO4, 128, a, b, sizeof a), 1);
    float fa[4] = {0, 1, 2, 3}, fb[4] = {0, 1, 2, 3};
    fb[2] = -fb[2];
    fb[0] = -0.0f; /* a sign of zero is a difference too */
    CU_ASSERT_EQUAL(diff_floats("planted", KVV_F32, 4, fa, fb, 4), 2);
    fa[3] = NAN;
    fb[3] = -NAN; /* any NaN for a NaN, but not a NaN for a number */
    CU_ASSERT_EQUAL(diff_floats("planted", KVV_F32, 4, fa, fb, 4), 2);
    fb[3] = 3.0f;
    CU_ASSERT_EQUAL(diff_floats("planted", KVV_F32, 4, fa, fb, 4), 3);
    uint8_t qa[14] = {0x00, 0x7e}, qb[14] = {0x00, 0xfe}; /* turbo3 norms +NaN / -NaN */
    CU_ASSERT_EQUAL(diff_bytes("planted", KVV_TURBO3, 32, qa, qb, sizeof qa), 0);
    qb[1] = 0x7c; /* NaN vs Inf */
    CU_ASSERT_EQUAL(diff_bytes("planted", KVV_TURBO3, 32, qa, qb, sizeof qa), 1);
}

/* ---- against the reference ---- */

static int block_finite(const float *x, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* The kernels evaluate the spec's formulas in the spec's order, so their
 * bytes equal the reference's canonical bytes outright (no tie is needed),
 * for finite and non-finite inputs alike (NaN signs aside). */
static void test_quantize_matches_reference(void)
{
    const int rows = 16;
    float *x = malloc(sizeof(float) * rows * 576);
    uint8_t *canon = malloc(rows * 576 * 4), *got = malloc(rows * 576 * 4);
    long compared = 0, nonfinite_blocks = 0;
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        const kvv_ref_type *rt = kvv_ref_type_get((kvv_type)t);
        const kvv_type_info *ti = kvv_type_get((kvv_type)t);
        CU_ASSERT_PTR_NOT_NULL_FATAL(rt);
        int w[8], nw = widths((kvv_type)t, w);
        for (int wi = 0; wi < nw; wi++)
            for (int dist = 0; dist < N_DIST; dist++) {
                make_input(x, rows, w[wi], dist, 5000u + 100u * (unsigned)t + (unsigned)dist);
                size_t n = kvv_row_bytes((kvv_type)t, w[wi]) * rows;
                CU_ASSERT_EQUAL_FATAL(rt->quantize(x, canon, rows, w[wi], NULL), 0);
                for (int i = 0; i < n_isas(); i++) {
                    kvv_toggles tg = toggles(isa_at(i), 1, 8);
                    memset(got, 0xaa, n);
                    CU_ASSERT_EQUAL_FATAL(be()->quantize_rows(NULL, (kvv_type)t, x, got, rows, w[wi], &tg), KVV_OK);
                    CU_ASSERT_EQUAL(diff_bytes(i ? "avx2/reference" : "scalar/reference", (kvv_type)t, w[wi], got,
                                               canon, n), 0);
                    compared += (long)n;
                }
                for (int64_t b = 0; b < (int64_t)rows * w[wi] / ti->block; b++)
                    nonfinite_blocks += !block_finite(x + b * ti->block, ti->block);
            }
    }
    CU_ASSERT(compared > 100000);
    CU_ASSERT(nonfinite_blocks > 0); /* the non-finite inputs were really among them */
    free(x);
    free(canon);
    free(got);
}

/* Dequantized values equal the reference's bit for bit, from canonical
 * bytes and from arbitrary bytes (NaN/Inf scales), with either LUT. */
static void test_dequantize_matches_reference(void)
{
    const int rows = 16, ncols = 256;
    float *x = malloc(sizeof(float) * rows * ncols), *want = malloc(sizeof(float) * rows * ncols),
          *got = malloc(sizeof(float) * rows * ncols);
    uint8_t *q = malloc(rows * ncols * 4);
    long compared = 0;
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        const kvv_ref_type *rt = kvv_ref_type_get((kvv_type)t);
        size_t n = kvv_row_bytes((kvv_type)t, ncols) * rows;
        for (int src = 0; src < 2; src++) {
            if (src == 0) {
                make_input(x, rows, ncols, KVV_DIST_OUTLIER, 700u + (unsigned)t);
                CU_ASSERT_EQUAL_FATAL(rt->quantize(x, q, rows, ncols, NULL), 0);
            } else {
                kvv_rng r;
                kvv_rng_seed(&r, 800u + (unsigned)t, KVV_STREAM_X);
                for (size_t i = 0; i < n; i++)
                    q[i] = (uint8_t)kvv_rng_next(&r);
            }
            rt->dequantize(q, want, rows, ncols);
            for (int i = 0; i < n_isas(); i++)
                for (int lut = 4; lut <= 8; lut += 4) {
                    kvv_toggles tg = toggles(isa_at(i), 1, lut);
                    memset(got, 0xaa, sizeof(float) * rows * ncols);
                    CU_ASSERT_EQUAL_FATAL(be()->dequantize_rows(NULL, (kvv_type)t, q, got, rows, ncols, &tg), KVV_OK);
                    CU_ASSERT_EQUAL(diff_floats(i ? "avx2/reference" : "scalar/reference", (kvv_type)t, ncols, got, want,
                                                (size_t)rows * ncols), 0);
                    compared += rows * ncols;
                }
        }
    }
    CU_ASSERT(compared > 100000);
    free(x);
    free(want);
    free(got);
    free(q);
}

/* ---- speed-only toggles ---- */

static void test_threads_identical(void)
{
    const int rows = 200, ncols = 128;
    float *x = malloc(sizeof(float) * rows * ncols), *y1 = malloc(sizeof(float) * rows * ncols),
          *y3 = malloc(sizeof(float) * rows * ncols);
    uint8_t *q1 = malloc(rows * ncols * 4), *q3 = malloc(rows * ncols * 4);
    make_input(x, rows, ncols, KVV_DIST_OUTLIER, 5);
    for (int isa = KVV_ISA_SCALAR; isa <= KVV_ISA_AVX2; isa++) {
        if (isa == KVV_ISA_AVX2 && !kvv_cpu_has_avx2())
            continue;
        for (int t = 0; t < KVV_TYPE_COUNT; t++) {
            size_t n = kvv_row_bytes((kvv_type)t, ncols) * rows;
            kvv_toggles t1 = toggles((kvv_isa)isa, 1, 8), t3 = toggles((kvv_isa)isa, 3, 8);
            memset(q1, 0x55, n); /* a row no thread writes differs */
            memset(q3, 0xaa, n);
            CU_ASSERT_EQUAL(be()->quantize_rows(NULL, (kvv_type)t, x, q1, rows, ncols, &t1), KVV_OK);
            CU_ASSERT_EQUAL(be()->quantize_rows(NULL, (kvv_type)t, x, q3, rows, ncols, &t3), KVV_OK);
            CU_ASSERT_EQUAL(diff_bytes("quantize threads 1/3", (kvv_type)t, ncols, q1, q3, n), 0);
            memset(y1, 0x55, sizeof(float) * rows * ncols);
            memset(y3, 0xaa, sizeof(float) * rows * ncols);
            CU_ASSERT_EQUAL(be()->dequantize_rows(NULL, (kvv_type)t, q1, y1, rows, ncols, &t1), KVV_OK);
            CU_ASSERT_EQUAL(be()->dequantize_rows(NULL, (kvv_type)t, q1, y3, rows, ncols, &t3), KVV_OK);
            CU_ASSERT_EQUAL(diff_floats("dequantize threads 1/3", (kvv_type)t, ncols, y1, y3, (size_t)rows * ncols), 0);
        }
        kvv_toggles t1 = toggles((kvv_isa)isa, 1, 8), t2 = toggles((kvv_isa)isa, 2, 8);
        memcpy(y1, x, sizeof(float) * rows * ncols);
        memcpy(y3, x, sizeof(float) * rows * ncols);
        CU_ASSERT_EQUAL(be()->wht(NULL, y1, rows, ncols, 64, 0, &t1), KVV_OK);
        CU_ASSERT_EQUAL(be()->wht(NULL, y3, rows, ncols, 64, 0, &t2), KVV_OK);
        CU_ASSERT_EQUAL(diff_floats("wht threads 1/2", KVV_F32, ncols, y1, y3, (size_t)rows * ncols), 0);
    }
    free(x);
    free(y1);
    free(y3);
    free(q1);
    free(q3);
}

/* turbo3's 4-magnitude LUT must give the 8-entry LUT's bits on every byte
 * pattern, including NaN, Inf and zero norms. */
static void test_turbo3_lut4_identical(void)
{
    const kvv_type types[] = {KVV_TURBO3, KVV_TURBO3_QK128};
    const int rows = 64, ncols = 128;
    float *y8 = malloc(sizeof(float) * rows * ncols), *y4 = malloc(sizeof(float) * rows * ncols);
    uint8_t *q = malloc(rows * ncols);
    kvv_rng r;
    kvv_rng_seed(&r, 3, KVV_STREAM_X);
    for (int ti = 0; ti < 2; ti++) {
        size_t n = kvv_row_bytes(types[ti], ncols) * rows;
        for (size_t i = 0; i < n; i++)
            q[i] = (uint8_t)kvv_rng_next(&r);
        const uint16_t norms[] = {0x7e00, 0xfe01, 0x7c00, 0xfc00, 0x0000, 0x8000, 0x0001};
        for (size_t k = 0; k < sizeof norms / sizeof norms[0]; k++) { /* special norms in the first blocks */
            q[k * (size_t)kvv_type_get(types[ti])->bytes] = (uint8_t)norms[k];
            q[k * (size_t)kvv_type_get(types[ti])->bytes + 1] = (uint8_t)(norms[k] >> 8);
        }
        for (int isa = KVV_ISA_SCALAR; isa <= KVV_ISA_AVX2; isa++) {
            if (isa == KVV_ISA_AVX2 && !kvv_cpu_has_avx2())
                continue;
            kvv_toggles t8 = toggles((kvv_isa)isa, 1, 8), t4 = toggles((kvv_isa)isa, 1, 4);
            CU_ASSERT_EQUAL(be()->dequantize_rows(NULL, types[ti], q, y8, rows, ncols, &t8), KVV_OK);
            CU_ASSERT_EQUAL(be()->dequantize_rows(NULL, types[ti], q, y4, rows, ncols, &t4), KVV_OK);
            /* every multiplication here has at most one NaN operand, so even
             * NaN bits are determined: compare them too */
            CU_ASSERT_EQUAL(diff_floats_nan("lut 8/4", types[ti], ncols, y8, y4, (size_t)rows * ncols, 0), 0);
        }
    }
    free(y8);
    free(y4);
    free(q);
}

/* ---- hand-computed blocks ---- */

static void quant_one(kvv_type t, const float *x, int ncols, uint8_t *out, kvv_isa isa)
{
    kvv_toggles tg = toggles(isa, 1, 8);
    CU_ASSERT_EQUAL_FATAL(be()->quantize_rows(NULL, t, x, out, 1, ncols, &tg), KVV_OK);
}


/* q8_0: amax 127 gives d = 1 exactly; halves round away from zero */
static void test_q8_0_hand(void)
{
    float x[32] = {127.0f, 2.5f, -2.5f, 0.5f, -0.5f, 1.5f, 0.49999997f, -126.5f, -127.0f};
    for (int i = 0; i < n_isas(); i++) {
        uint8_t b[34];
        quant_one(KVV_Q8_0, x, 32, b, isa_at(i));
        CU_ASSERT_EQUAL(b[0] | b[1] << 8, 0x3c00); /* f16(1.0) */
        const int8_t want[9] = {127, 3, -3, 1, -1, 2, 0, -127, -127};
        for (int j = 0; j < 9; j++)
            CU_ASSERT_EQUAL((int8_t)b[2 + j], want[j]);
        for (int j = 9; j < 32; j++)
            CU_ASSERT_EQUAL(b[2 + j], 0);
    }
}

/* q4_0: the first value of largest magnitude sets the sign of d; element j
 * goes to the low nibble of qs[j], element j+16 to the high one */
static void test_q4_0_hand(void)
{
    float x[32] = {0};
    x[3] = -4.0f; /* first of |4|: d = -4 / -8 = 0.5 */
    x[10] = 4.0f;
    x[16] = 1.0f;
    x[17] = -1.25f;
    for (int i = 0; i < n_isas(); i++) {
        uint8_t b[18];
        quant_one(KVV_Q4_0, x, 32, b, isa_at(i));
        CU_ASSERT_EQUAL(b[0] | b[1] << 8, 0x3800); /* f16(0.5) */
        /* index = min(15, (int)(x*2 + 8.5)) */
        CU_ASSERT_EQUAL(b[2 + 3], 0x80);          /* -4 -> 0; element 19 (0) -> 8 */
        CU_ASSERT_EQUAL(b[2 + 10], 0x8f);         /* 4 -> 16 -> 15 */
        CU_ASSERT_EQUAL(b[2 + 0], 0x08 | 10 << 4); /* element 0 (0 -> 8), element 16 (1 -> 10) */
        CU_ASSERT_EQUAL(b[2 + 1], 0x08 | 6 << 4);  /* element 17: -1.25*2 + 8.5 = 6 */
    }
    x[10] = -4.0f; /* the same magnitude later does not matter, a larger one does */
    x[20] = 8.0f;
    for (int i = 0; i < n_isas(); i++) {
        uint8_t b[18];
        quant_one(KVV_Q4_0, x, 32, b, isa_at(i));
        CU_ASSERT_EQUAL(b[0] | b[1] << 8, 0xbc00); /* f16(8 / -8) */
    }
}

/* q5_0 / q5_1: bit 4 of element j at bit j of qh */
static void test_q5_hand(void)
{
    float x[32];
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j - 16); /* q5_0: m = -16, d = 1, index = x + 16 = j */
    for (int i = 0; i < n_isas(); i++) {
        uint8_t b[24];
        quant_one(KVV_Q5_0, x, 32, b, isa_at(i));
        CU_ASSERT_EQUAL(b[0] | b[1] << 8, 0x3c00);
        CU_ASSERT_EQUAL(b[2] | b[3] << 8 | b[4] << 16 | (uint32_t)b[5] << 24, 0xffff0000u);
        for (int j = 0; j < 16; j++)
            CU_ASSERT_EQUAL(b[6 + j], j | j << 4);
    }
    for (int j = 0; j < 32; j++)
        x[j] = (float)j; /* q5_1: min 0, d = 31/31 = 1, index = j */
    x[0] = -0.0f;        /* the first zero is the minimum: m = -0 */
    for (int i = 0; i < n_isas(); i++) {
        uint8_t b[24];
        quant_one(KVV_Q5_1, x, 32, b, isa_at(i));
        CU_ASSERT_EQUAL(b[0] | b[1] << 8, 0x3c00);
        CU_ASSERT_EQUAL(b[2] | b[3] << 8, 0x8000);
        CU_ASSERT_EQUAL(b[4] | b[5] << 8 | b[6] << 16 | (uint32_t)b[7] << 24, 0xffff0000u);
        for (int j = 0; j < 16; j++)
            CU_ASSERT_EQUAL(b[8 + j], j | j << 4);
    }
}

/* q4_1 dequantizes element j of a block as q_j*d + m, q_j from the low
 * nibble of qs[j] (j < 16) or the high nibble of qs[j-16]. */
static void test_q4_1_dequant_formula(void)
{
    kvv_rng r;
    kvv_rng_seed(&r, 11, KVV_STREAM_X);
    uint8_t b[20 * 64];
    float y[32 * 64];
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (uint8_t)kvv_rng_next(&r);
        for (int k = 0; k < 64; k++) { /* finite, moderate scales */
            b[20 * k + 1] = (uint8_t)(0x30 | (b[20 * k + 1] & 0x8b));
            b[20 * k + 3] = (uint8_t)(0x30 | (b[20 * k + 3] & 0x8b));
        }
        for (int i = 0; i < n_isas(); i++) {
            kvv_toggles tg = toggles(isa_at(i), 1, 8);
            CU_ASSERT_EQUAL_FATAL(be()->dequantize_rows(NULL, KVV_Q4_1, b, y, 1, 32 * 64, &tg), KVV_OK);
            for (int k = 0; k < 64; k++) {
                float d = cpu_f16_to_f32((uint16_t)(b[20 * k] | b[20 * k + 1] << 8));
                float m = cpu_f16_to_f32((uint16_t)(b[20 * k + 2] | b[20 * k + 3] << 8));
                for (int j = 0; j < 32; j++) {
                    int q = j < 16 ? b[20 * k + 4 + j] & 15 : b[20 * k + 4 + j - 16] >> 4;
                    float p = (float)q * d;
                    float want = p + m;
                    CU_ASSERT_EQUAL(f32_bits(y[32 * k + j]), f32_bits(want));
                }
            }
        }
    }
}

/* iq4_nl: a constant block takes grid index 0 and d = -c/127 */
static void test_iq4_nl_hand(void)
{
    float x[32];
    for (int j = 0; j < 32; j++)
        x[j] = 127.0f;
    uint8_t b[18];
    quant_one(KVV_IQ4_NL, x, 32, b, KVV_ISA_SCALAR);
    CU_ASSERT_EQUAL(b[0] | b[1] << 8, 0xbc00); /* -1 */
    for (int j = 0; j < 16; j++)
        CU_ASSERT_EQUAL(b[2 + j], 0);
    /* below the epsilon: scale 0, indices 0; with the scale search the
     * re-indexing at scale 0 picks the grid value nearest 0 (index 8) */
    for (int j = 0; j < 32; j++)
        x[j] = 1e-16f;
    quant_one(KVV_IQ4_NL, x, 32, b, KVV_ISA_SCALAR);
    CU_ASSERT_EQUAL(b[0] | b[1] << 8, 0);
    CU_ASSERT_EQUAL(b[2], 0);
    quant_one(KVV_IQ4_NL_SEARCH, x, 32, b, KVV_ISA_SCALAR);
    CU_ASSERT_EQUAL(b[0] | b[1] << 8, 0);
    CU_ASSERT_EQUAL(b[2], 0x88);
    /* first-pass indices with d = -127 / -127 = 1: exact midpoints between
     * grid values go to the upper index, the ends clamp */
    const struct {
        float x;
        int idx;
    } pts[] = {{7, 9},   {-4.5f, 8}, {6.99f, 8}, {120, 15},      {-126, 0}, {113, 15},
               {0, 8},   {-115.5f, 1}, {101, 15}, {100.99f, 14}, {-0.0f, 8}, {-93.5f, 2}};
    for (int i = 0; i < n_isas(); i++) {
        memset(x, 0, sizeof x);
        x[0] = -127.0f; /* the first of largest magnitude: d = 1 */
        for (size_t k = 0; k < sizeof pts / sizeof pts[0]; k++)
            x[1 + k] = pts[k].x;
        quant_one(KVV_IQ4_NL, x, 32, b, isa_at(i));
        CU_ASSERT_EQUAL(b[2] & 15, 0);
        for (size_t k = 0; k < sizeof pts / sizeof pts[0]; k++)
            CU_ASSERT_EQUAL(b[2 + 1 + k] & 15, pts[k].idx);
    }
}

/* The rotation signs as the forks pack them (set bit = -1), written here
 * independently of the kernel's tables. */
static const uint32_t spec_s1[4] = {0xE46A0359, 0x42F85949, 0xA4C63BBB, 0x49F250A9};
static const uint32_t spec_s2[4] = {0x16ACEE90, 0x3F628FDC, 0xB7A5357A, 0xBEA56562};
static const uint32_t spec_qjl_s1[4] = {0x693A565E, 0x25622D30, 0x0243E607, 0xFEC58BDA};
static const uint32_t spec_qjl_s2[4] = {0x3D172324, 0x203007CB, 0x9540A34B, 0x856B1126};
static float spec_sign(const uint32_t *w, int e) { return (w[e >> 5] >> (e & 31)) & 1 ? -1.0f : 1.0f; }

static void test_tables(void)
{
    for (int e = 0; e < 128; e++) {
        CU_ASSERT_EQUAL(cpu_wht_s1[e], spec_sign(spec_s1, e));
        CU_ASSERT_EQUAL(cpu_wht_s2[e], spec_sign(spec_s2, e));
        CU_ASSERT_EQUAL(cpu_qjl_s1[e], spec_sign(spec_qjl_s1, e));
        CU_ASSERT_EQUAL(cpu_qjl_s2[e], spec_sign(spec_qjl_s2, e));
    }
    for (int i = 0; i < 4; i++) /* the LUT-4 variant relies on exact symmetry */
        CU_ASSERT_EQUAL(f32_bits(cpu_turbo3_c[i]), f32_bits(-cpu_turbo3_c[7 - i]));
    for (int i = 0; i < 8; i++)
        CU_ASSERT_EQUAL(f32_bits(cpu_turbo4_c[i]), f32_bits(-cpu_turbo4_c[15 - i]));
    /* midpoints lie between neighbouring centroids */
    for (int i = 0; i < 3; i++)
        CU_ASSERT(cpu_turbo2_c[i] < cpu_turbo2_m[i] && cpu_turbo2_m[i] < cpu_turbo2_c[i + 1]);
    for (int i = 0; i < 7; i++)
        CU_ASSERT(cpu_turbo3_c[i] < cpu_turbo3_m[i] && cpu_turbo3_m[i] < cpu_turbo3_c[i + 1]);
    for (int i = 0; i < 15; i++)
        CU_ASSERT(cpu_turbo4_c[i] < cpu_turbo4_m[i] && cpu_turbo4_m[i] < cpu_turbo4_c[i + 1]);
    CU_ASSERT_EQUAL(cpu_turbo4_c[15], 0.241556f);
    for (int k = 0; k < 8; k++)
        CU_ASSERT_EQUAL(cpu_inv_sqrt_pow2[k], (float)(1.0 / sqrt((double)(1 << k))));
    static const int grid[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    for (int i = 0; i < 16; i++)
        CU_ASSERT_EQUAL(cpu_iq4nl_grid[i], grid[i]);
}

/* turbo on a one-hot row of 128: the rotation of e_0 is S2[i]*S1[0]/sqrt(128)
 * = +-0.0884, so every index is the one of +0.0884 or of -0.0884, and the
 * corrected norm is 3 / (|C| * sqrt(128)). */
static void test_turbo_one_hot(void)
{
    const struct {
        kvv_type t;
        int pos, neg; /* indices of +0.0884 and -0.0884 (counts of midpoints <= u) */
        float c;      /* |centroid| at those indices */
    } cases[] = {{KVV_TURBO2, 3, 0, 0.133462f},
                 {KVV_TURBO2_QK128, 3, 0, 0.133462f},
                 {KVV_TURBO3, 5, 2, 0.065717f},
                 {KVV_TURBO3_QK128, 5, 2, 0.065717f},
                 {KVV_TURBO4, 11, 4, 0.083317f}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        float x[128] = {0};
        x[0] = 3.0f;
        for (int i = 0; i < n_isas(); i++) {
            uint8_t b[4 * 68];
            quant_one(cases[c].t, x, 128, b, isa_at(i));
            const kvv_type_info *ti = kvv_type_get(cases[c].t);
            for (int blk = 0; blk < 128 / ti->block; blk++) {
                kvv_fields f;
                ti->unpack(b + blk * ti->bytes, &f);
                double want = 3.0 / (cases[c].c * sqrt(128.0));
                double got = cpu_f16_to_f32((uint16_t)f.scale[0]);
                CU_ASSERT(fabs(got - want) <= want * 0x1p-11);
                for (int j = 0; j < ti->block; j++) {
                    int e = blk * ti->block + j;
                    int pos = spec_sign(spec_s2, e) * spec_sign(spec_s1, 0) > 0;
                    CU_ASSERT_EQUAL(f.idx[j], pos ? cases[c].pos : cases[c].neg);
                }
            }
        }
    }
}

/* A zero group takes the upper-middle index everywhere and norm 0 */
static void test_turbo_zero(void)
{
    const struct {
        kvv_type t;
        int mid;
    } cases[] = {{KVV_TURBO2, 2}, {KVV_TURBO2_QK128, 2}, {KVV_TURBO3, 4}, {KVV_TURBO3_QK128, 4}, {KVV_TURBO4, 8},
                 {KVV_TURBO4_QJL, 4}};
    float x[256] = {0};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int i = 0; i < n_isas(); i++) {
            uint8_t b[8 * 68];
            quant_one(cases[c].t, x, 256, b, isa_at(i));
            const kvv_type_info *ti = kvv_type_get(cases[c].t);
            for (int blk = 0; blk < 256 / ti->block; blk++) {
                kvv_fields f;
                ti->unpack(b + blk * ti->bytes, &f);
                CU_ASSERT_EQUAL(f.scale[0], 0);
                for (int j = 0; j < ti->block; j++)
                    CU_ASSERT_EQUAL(f.idx[j], cases[c].mid);
            }
        }
}

/* Round trips: the error of dequantize(quantize(x)) (inverse-rotated for
 * turbo types) stays within what the type's bits allow; a missing rotation,
 * a wrong table or a packing slip blows these bounds. */
static void test_round_trip_error(void)
{
    static const double bound[KVV_TYPE_COUNT] = {
        [KVV_F32] = 0,       [KVV_F16] = 5e-4,    [KVV_BF16] = 4e-3,          [KVV_Q8_0] = 8e-3,
        [KVV_Q4_0] = 0.12,   [KVV_Q4_1] = 0.1,    [KVV_Q5_0] = 0.06,          [KVV_Q5_1] = 0.05,
        [KVV_IQ4_NL] = 0.1,  [KVV_IQ4_NL_SEARCH] = 0.1, [KVV_TURBO2] = 0.36, [KVV_TURBO2_QK128] = 0.36,
        [KVV_TURBO3] = 0.2,  [KVV_TURBO3_QK128] = 0.2,  [KVV_TURBO4] = 0.105, [KVV_TURBO4_QJL] = 0.2,
        [KVV_TURBO4_NARROW] = 0.15,
    };
    const int rows = 64, ncols = 128;
    float *x = malloc(sizeof(float) * rows * ncols), *y = malloc(sizeof(float) * rows * ncols);
    uint8_t *q = malloc(rows * ncols * 4);
    kvv_gen_fill(x, rows, ncols, 0, KVV_DIST_GAUSS, 21, KVV_STREAM_X);
    for (int t = 0; t < KVV_TYPE_COUNT; t++)
        for (int i = 0; i < n_isas(); i++) {
            kvv_toggles tg = toggles(isa_at(i), 1, 8);
            CU_ASSERT_EQUAL(be()->quantize_rows(NULL, (kvv_type)t, x, q, rows, ncols, &tg), KVV_OK);
            CU_ASSERT_EQUAL(be()->dequantize_rows(NULL, (kvv_type)t, q, y, rows, ncols, &tg), KVV_OK);
            if (kvv_type_get((kvv_type)t)->rotated)
                CU_ASSERT_EQUAL(be()->wht(NULL, y, rows, ncols, kvv_rot_group(ncols), 1, &tg), KVV_OK);
            double e = 0, s = 0;
            for (int k = 0; k < rows * ncols; k++) {
                e += ((double)x[k] - y[k]) * ((double)x[k] - y[k]);
                s += (double)x[k] * x[k];
            }
            double rel = sqrt(e / s);
            if (!(rel <= bound[t]))
                fprintf(stderr, "\n  %s: relative RMS error %.4g above %.4g\n", kvv_type_name((kvv_type)t), rel, bound[t]);
            CU_ASSERT(rel <= bound[t]);
        }
    free(x);
    free(y);
    free(q);
}

/* ---- conversions ---- */

static void test_f16_conversions(void)
{
    static uint16_t h[65536], h2[65536];
    static float f[65536], fa[65536];
    for (int i = 0; i < 65536; i++)
        h[i] = (uint16_t)i;
    cpu_f16_to_f32_row(h, f, 65536, KVV_ISA_SCALAR);
    if (kvv_cpu_has_avx2()) {
        cpu_f16_to_f32_row(h, fa, 65536, KVV_ISA_AVX2);
        CU_ASSERT_EQUAL(diff_floats("f16->f32 scalar/avx2", KVV_F16, 1, f, fa, 65536), 0);
    }
    /* every half survives a round trip; a NaN comes back as the quiet NaN */
    for (int isa = 0; isa < n_isas(); isa++) {
        cpu_f32_to_f16_row(f, h2, 65536, isa_at(isa));
        long bad = 0;
        for (int i = 0; i < 65536; i++) {
            int nan = (i & 0x7c00) == 0x7c00 && (i & 0x3ff);
            uint16_t want = nan ? (uint16_t)((i & 0x8000) | 0x7e00) : (uint16_t)i;
            bad += h2[i] != want;
        }
        CU_ASSERT_EQUAL(bad, 0);
    }
    /* a signalling NaN half reads back quiet */
    CU_ASSERT_EQUAL(f32_bits(cpu_f16_to_f32(0x7c01)), 0x7fc02000u);
    /* rounding boundaries */
    const struct {
        uint32_t f;
        uint16_t h;
    } cases[] = {
        {0x477ff000, 0x7c00}, /* 65520 ties up into Inf */
        {0x477fefff, 0x7bff},
        {0x33000000, 0x0000}, /* 2^-25 ties to even zero */
        {0x33000001, 0x0001},
        {0x33c00000, 0x0002}, /* 1.5 * 2^-24 ties to even 2 */
        {0x387fc000, 0x03ff}, /* largest subnormal */
        {0x387fe000, 0x0400}, /* rounds into the smallest normal */
        {0x3f801000, 0x3c00}, /* 1 + 2^-11: tie to even */
        {0x3f803000, 0x3c02},
        {0x7f800001, 0x7e00}, /* NaN payloads dropped */
        {0xffffffff, 0xfe00},
        {0x00000001, 0x0000}, /* f32 subnormal */
        {0x80000000, 0x8000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float x = bits_f32(cases[i].f);
        CU_ASSERT_EQUAL(cpu_f32_to_f16(x), cases[i].h);
        if (kvv_cpu_has_avx2()) {
            float v[8];
            uint16_t o[8];
            for (int k = 0; k < 8; k++)
                v[k] = x;
            cpu_f32_to_f16_row(v, o, 8, KVV_ISA_AVX2);
            CU_ASSERT_EQUAL(o[3], cases[i].h);
        }
    }
    /* scalar and F16C agree across the f32 range */
    if (kvv_cpu_has_avx2()) {
        static float v[1 << 16];
        static uint16_t hs[1 << 16], ha[1 << 16];
        long bad = 0;
        for (uint32_t base = 0; base < 64; base++) {
            for (uint32_t k = 0; k < (1u << 16); k++)
                v[k] = bits_f32((base << 26) | (k << 10) | (k & 0x3ff));
            cpu_f32_to_f16_row(v, hs, 1 << 16, KVV_ISA_SCALAR);
            cpu_f32_to_f16_row(v, ha, 1 << 16, KVV_ISA_AVX2);
            for (int k = 0; k < (1 << 16); k++)
                bad += hs[k] != ha[k];
        }
        CU_ASSERT_EQUAL(bad, 0);
    }
}

static void test_bf16(void)
{
    const struct {
        uint32_t f;
        uint16_t h;
    } cases[] = {
        {0x3f800000, 0x3f80}, {0x3f808000, 0x3f80}, /* tie to even */
        {0x3f818000, 0x3f82}, {0x3f808001, 0x3f81}, {0x7f7fffff, 0x7f80}, /* overflow to Inf */
        {0x7f800001, 0x7fc0}, {0xff800001, 0xffc0}, /* NaN: quiet, sign kept */
        {0x80000000, 0x8000},
    };
    float x[16];
    uint16_t y[16];
    for (int i = 0; i < n_isas(); i++) {
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            for (int k = 0; k < 16; k++)
                x[k] = bits_f32(cases[c].f);
            kvv_toggles tg = toggles(isa_at(i), 1, 8);
            CU_ASSERT_EQUAL(be()->quantize_rows(NULL, KVV_BF16, x, y, 1, 16, &tg), KVV_OK);
            CU_ASSERT_EQUAL(y[0], cases[c].h);
            CU_ASSERT_EQUAL(y[15], cases[c].h);
        }
    }
}

/* ---- WHT ---- */

static void test_wht(void)
{
    float x[256], a[256], s[256];
    /* e_k rotates to S2[i] * H[i][k] * S1[k] / sqrt(g) */
    for (int g = 1; g <= 128; g *= 2)
        for (int i = 0; i < n_isas(); i++) {
            memset(x, 0, sizeof x);
            x[g - 1] = 1.0f;
            cpu_wht_rows(x, 1, g, g, 0, isa_at(i));
            for (int e = 0; e < g; e++) {
                float h = __builtin_popcount((unsigned)(e & (g - 1))) & 1 ? -1.0f : 1.0f;
                float want = spec_sign(spec_s2, e) * h * spec_sign(spec_s1, g - 1) * cpu_inv_sqrt_pow2[__builtin_ctz(g)];
                CU_ASSERT_EQUAL(x[e], want);
            }
        }
    /* forward then inverse is the identity up to rounding; scalar and AVX2
     * agree bit for bit, NaN signs included */
    kvv_gen_fill(x, 1, 256, 0, KVV_DIST_GAUSS, 4, KVV_STREAM_X);
    x[17] = NAN;
    x[200] = -NAN;
    for (int g = 1; g <= 128; g *= 2) {
        for (int inv = 0; inv < 2; inv++) {
            memcpy(s, x, sizeof x);
            cpu_wht_rows(s, 2, 128, g, inv, KVV_ISA_SCALAR);
            if (kvv_cpu_has_avx2()) {
                memcpy(a, x, sizeof x);
                cpu_wht_rows(a, 2, 128, g, inv, KVV_ISA_AVX2);
                CU_ASSERT_EQUAL(diff_floats("wht scalar/avx2", KVV_F32, g, s, a, 256), 0);
            }
        }
        memcpy(s, x, sizeof x);
        s[17] = 1.0f;
        s[200] = -2.0f;
        memcpy(a, s, sizeof s);
        cpu_wht_rows(a, 2, 128, g, 0, KVV_ISA_SCALAR);
        cpu_wht_rows(a, 2, 128, g, 1, KVV_ISA_SCALAR);
        for (int k = 0; k < 256; k++)
            CU_ASSERT(fabsf(a[k] - s[k]) <= 1e-5f * (1.0f + fabsf(s[k])));
    }
}

/* ---- the backend table ---- */

static void test_backend_refusals(void)
{
    const kvv_backend *b = be();
    CU_ASSERT_STRING_EQUAL(b->name, "cpu");
    CU_ASSERT_EQUAL(b->abi_version, KVV_ABI_VERSION);
    float x[128] = {0}, y[128];
    uint8_t q[1024];
    kvv_toggles tg = toggles(KVV_ISA_AUTO, 1, 8);
    /* unknown type, a width the block does not divide, a rotation group too small for the block */
    CU_ASSERT_EQUAL(b->quantize_rows(NULL, KVV_TYPE_COUNT, x, q, 1, 32, &tg), KVV_UNSUPPORTED);
    CU_ASSERT(strstr(b->last_error(NULL), "unknown type") != NULL);
    CU_ASSERT_EQUAL(b->quantize_rows(NULL, KVV_Q8_0, x, q, 1, 48, &tg), KVV_UNSUPPORTED);
    CU_ASSERT(strstr(b->last_error(NULL), "q8_0") != NULL);
    CU_ASSERT_EQUAL(b->dequantize_rows(NULL, KVV_TURBO3, q, y, 1, 80, &tg), KVV_UNSUPPORTED);
    CU_ASSERT(strstr(b->last_error(NULL), "blocks of 32") != NULL);
    CU_ASSERT_EQUAL(b->quantize_rows(NULL, KVV_TURBO4, x, q, 1, 64, &tg), KVV_UNSUPPORTED);
    /* toggles out of range */
    kvv_toggles bad = toggles(KVV_ISA_AUTO, 1, 5);
    CU_ASSERT_EQUAL(b->dequantize_rows(NULL, KVV_TURBO3, q, y, 1, 128, &bad), KVV_UNSUPPORTED);
    CU_ASSERT(strstr(b->last_error(NULL), "lut") != NULL);
    CU_ASSERT_EQUAL(b->wht(NULL, x, 1, 128, 3, 0, &tg), KVV_UNSUPPORTED);
    CU_ASSERT_EQUAL(b->wht(NULL, x, 1, 96, 64, 0, &tg), KVV_UNSUPPORTED);
    CU_ASSERT_EQUAL(b->wht(NULL, x, 1, 128, 256, 0, &tg), KVV_UNSUPPORTED);
    CU_ASSERT_EQUAL(b->quantize_rows(NULL, KVV_Q8_0, x, q, 1, 128, NULL), KVV_OK); /* NULL toggles: defaults */
    /* isa */
    CU_ASSERT_EQUAL(cpu_isa_resolve(KVV_ISA_SCALAR), KVV_ISA_SCALAR);
    CU_ASSERT_EQUAL(cpu_isa_resolve(KVV_ISA_AUTO), kvv_cpu_has_avx2() ? KVV_ISA_AVX2 : KVV_ISA_SCALAR);
    CU_ASSERT_EQUAL(cpu_isa_resolve(KVV_ISA_AVX2), kvv_cpu_has_avx2() ? KVV_ISA_AVX2 : -1);
    CU_ASSERT_PTR_NULL(cpu_type_fns_get(KVV_TYPE_COUNT, KVV_ISA_SCALAR));
    CU_ASSERT_PTR_NULL(cpu_type_fns_get(KVV_Q8_0, 7));
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        CU_ASSERT_PTR_NOT_NULL(cpu_type_fns_get((kvv_type)t, KVV_ISA_SCALAR));
        CU_ASSERT_PTR_NOT_NULL(cpu_type_fns_get((kvv_type)t, KVV_ISA_AVX2));
    }
    /* supports(): yes for a case it runs, no with a reason otherwise */
    char why[200] = "";
    kvv_case c = kvv_case_default(KVV_OP_QUANT);
    c.type_k = KVV_TURBO3;
    c.dk = 128;
    CU_ASSERT_EQUAL(b->supports(NULL, &c, why, sizeof why), 1);
    c.dk = 80;
    CU_ASSERT_EQUAL(b->supports(NULL, &c, why, sizeof why), 0);
    CU_ASSERT(strstr(why, "turbo3") != NULL);
    c = kvv_case_default(KVV_OP_WHT);
    c.dk = 96;
    c.group = 64;
    CU_ASSERT_EQUAL(b->supports(NULL, &c, why, sizeof why), 0);
    c.group = 32;
    CU_ASSERT_EQUAL(b->supports(NULL, &c, why, sizeof why), 1);
    c = kvv_case_default(KVV_OP_ATTN);
    c.type_k = KVV_Q8_0;
    c.type_v = KVV_TURBO4;
    c.dk = c.dv = 64;
    CU_ASSERT_EQUAL(b->supports(NULL, &c, why, sizeof why), 0);
    CU_ASSERT(strstr(why, "V:") != NULL);
    c.type_v = KVV_TYPE_COUNT;
    CU_ASSERT_EQUAL(b->supports(NULL, &c, why, sizeof why), 0);
    c = kvv_case_default(KVV_OP_DEQUANT);
    c.tg.lut = 3;
    CU_ASSERT_EQUAL(b->supports(NULL, &c, why, sizeof why), 0);
    CU_ASSERT_EQUAL(b->flush(NULL), KVV_OK);
}

void kvv_register_tests(void)
{
    static const kvv_test cross[] = {
        {"quantize: scalar and AVX2 give the same bytes", test_quantize_scalar_vs_avx2},
        {"dequantize: scalar and AVX2 give the same bits", test_dequantize_scalar_vs_avx2},
        {"row kernels give the bytes of the multi-row path", test_row_kernels_match_rows},
        {"the comparison sees a planted difference", test_diff_catches_one_byte},
        {"thread counts give identical bits", test_threads_identical},
        {"turbo3 LUT 4 and LUT 8 give identical bits", test_turbo3_lut4_identical},
        {NULL, NULL},
    };
    static const kvv_test hand[] = {
        {"q8_0 rounds half away from zero", test_q8_0_hand},
        {"q4_0 takes the first largest magnitude", test_q4_0_hand},
        {"q5_0/q5_1 high bits and zero signs", test_q5_hand},
        {"q4_1 dequantizes as q*d + m", test_q4_1_dequant_formula},
        {"iq4_nl constant and tiny blocks", test_iq4_nl_hand},
        {"tables match the forks' packed signs", test_tables},
        {"turbo one-hot rows", test_turbo_one_hot},
        {"turbo zero groups", test_turbo_zero},
        {"round trips stay within the type's error", test_round_trip_error},
        {NULL, NULL},
    };
    static const kvv_test misc[] = {
        {"f16 conversions", test_f16_conversions},
        {"bf16 rounding and NaN", test_bf16},
        {"WHT", test_wht},
        {"backend table refusals", test_backend_refusals},
        {NULL, NULL},
    };
    static const kvv_test ref[] = {
        {"quantized bytes equal the reference's canonical bytes", test_quantize_matches_reference},
        {"dequantized values equal the reference's", test_dequantize_matches_reference},
        {NULL, NULL},
    };
    kvv_add_suite("cpu kernels: scalar vs AVX2 and speed toggles", cross);
    kvv_add_suite("cpu kernels: against the reference", ref);
    kvv_add_suite("cpu kernels: hand-computed blocks", hand);
    kvv_add_suite("cpu kernels: conversions, WHT, backend", misc);
}
