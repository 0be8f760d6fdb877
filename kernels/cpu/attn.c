/* The CPU flash-style attention: argument checks, rotation, the work
 * decomposition and the merge of per-tile partials.
 *
 * Determinism is by construction.  The KV range is cut into fixed tiles
 * (their size depends only on the kernel variant) and the query rows into
 * fixed blocks.  Each (query row, tile) partial (tile max m, sum l of
 * exp(s - m), o = sum exp(s - m) v) is a pure function of that row (in its
 * fixed block) and that tile, and partials are merged strictly in tile order
 * with the online-softmax rescale.  Threads, split-K chunks and
 * the dequant cache only change who computes a partial and where K/V come
 * from, never the arithmetic, so they leave every output bit unchanged.
 *
 * Work items are (KV head, block of query rows, split chunk).  The rows of a
 * KV head are all its GQA query heads times n_q, so one dequantized K/V tile
 * serves every query head that shares it.  With split = 1 a work item merges
 * as it goes; with split > 1 chunks write per-tile partials and a second
 * pass merges them per row. */
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/cpu/attn_kern.h"
#include "kernels/cpu/dequant_avx512.h"
#include "kernels/cpu/cpu_internal.h"
#include "kvv/tensor.h"

/* The two variants differ in shape only.  vec (decode): short tiles, and a
 * work item holds the few rows of one KV head (its GQA group), so split-K
 * is what spreads a long cache over threads.  tiled (prefill): longer tiles
 * and large row blocks, so one dequantized tile serves many query rows. */
#define VEC_TILE 32
#define VEC_ROWS 32
#define TILED_TILE 64
#define TILED_ROWS 128
/* Auto picks the vec (decode) shape below this many query rows. */
#define VEC_MAX_NQ 4
/* Cap on the dequant cache plus split-K partials held at once; above it the
 * work runs in passes over KV heads (and row blocks). */
#define MEM_BUDGET_DEFAULT ((size_t)256 << 20)
static _Atomic size_t mem_budget = MEM_BUDGET_DEFAULT;

size_t attn_set_mem_budget(size_t bytes)
{
    return atomic_exchange(&mem_budget, bytes ? bytes : MEM_BUDGET_DEFAULT);
}

/* The AVX2 kernels run their products on AVX-512 where the CPU has it
 * (same bits, about half the instructions): 1 when on, 0 off, -1 not yet
 * decided.  KVV_CPU_AVX512=0 in the environment keeps them on AVX2. */
static _Atomic int use_avx512 = -1;

static int avx512_wanted(void)
{
    int u = atomic_load(&use_avx512);
    if (u < 0) {
        const char *e = getenv("KVV_CPU_AVX512");
        __builtin_cpu_init();
        u = (!e || strcmp(e, "0")) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
        int expect = -1;
        atomic_compare_exchange_strong(&use_avx512, &expect, u);
        u = atomic_load(&use_avx512);
    }
    return u;
}

int attn_set_avx512(int on)
{
    int was = avx512_wanted();
    if (!on)
        atomic_store(&use_avx512, 0);
    else {
        atomic_store(&use_avx512, -1);
        avx512_wanted();
    }
    return was;
}

typedef struct attn_plan {
    const kvv_attn_args *a;
    const attn_kernels *kern;
    const cpu_type_fns *fk, *fv;
    cpu_dequant_fn dqk, dqv; /* the row dequantizers of K and V */
    float *out;
    int isa, lut;
    int dk8, dv8;
    size_t kbytes, vbytes;  /* bytes of one K / V row */
    int gqa;                /* query heads per KV head */
    int rows;               /* query rows per KV head: gqa * n_q */
    int tile, n_tiles;
    int rb_rows, n_rb;      /* rows per work item, work items per KV head */
    int split;              /* chunks of each row's tiles */
    int rot_q, rot_o;       /* Q / output need rotation (K / V stored rotated) */
    int gk, gv;             /* rotation groups of dk and dv */
    int in_kernel;          /* rotation done inside the work items */
    const float *q;         /* Q in K's basis when rotated outside, else a->q */
    float scale, softcap;
    float *slope;           /* [n_head] */
    size_t ps;              /* floats of one partial: header + dv8 */
    /* the current pass: KV heads [h0, h1), row blocks [b0, b1) */
    int h0, h1, b0, b1;
    int use_cache;
    int k_direct, v_direct; /* f32 rows of width dk8 / dv8: read in place */
    int k_fmt, v_fmt;       /* attn_rows_fmt the AVX2 kernels read the stored rows in (f32: dequantized) */
    float *kc, *vc;         /* cache: [h1 - h0][n_kv][dk8], [..][dv8] */
    float *parts;           /* split > 1: [h][block][row][tile][ps] */
    atomic_int oom;
} attn_plan;

static int fail(char *err, size_t len, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t len, int code, const char *fmt, ...)
{
    if (err && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, len, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ggml's ALiBi slopes, in f32 as ggml evaluates them; 1 without ALiBi. */
static void alibi_slopes(float *slope, int n_head, float max_bias)
{
    uint32_t n_head_log2 = 1u << (uint32_t)floor(log2((double)n_head));
    float m0 = powf(2.0f, -max_bias / (float)n_head_log2);
    float m1 = powf(2.0f, -(max_bias / 2.0f) / (float)n_head_log2);
    for (int h = 0; h < n_head; h++)
        slope[h] = max_bias > 0.0f ? ((uint32_t)h < n_head_log2 ? powf(m0, (float)(h + 1))
                                                                 : powf(m1, (float)(2 * (h - (int)n_head_log2) + 1)))
                                   : 1.0f;
}

static void *zalloc(size_t nfloats)
{
    return kvv_alloc(nfloats * sizeof(float));
}

/* Dequantize n rows of one operand into f32 rows of width w8, zero-padded
 * past d so that the kernels never need a remainder loop. */
static void dequant(const attn_plan *p, cpu_dequant_fn f, const char *src, size_t rbytes, int n, int d, int w8,
                    float *dst)
{
    for (int j = 0; j < n; j++) {
        float *row = dst + (size_t)j * w8;
        f(src + (size_t)j * rbytes, row, d, p->lut);
        for (int c = d; c < w8; c++)
            row[c] = 0;
    }
}

static const char *k_rows(const attn_plan *p, int h, int j)
{
    return (const char *)p->a->k + ((size_t)h * p->a->n_kv + j) * p->kbytes;
}
static const char *v_rows(const attn_plan *p, int h, int j)
{
    return (const char *)p->a->v + ((size_t)h * p->a->n_kv + j) * p->vbytes;
}

/* Cache fill: one item per (KV head of the pass, tile). */
static void cache_item(void *arg, int64_t i)
{
    attn_plan *p = arg;
    const kvv_attn_args *a = p->a;
    int hl = (int)(i / p->n_tiles), t = (int)(i % p->n_tiles);
    int j0 = t * p->tile, nt = a->n_kv - j0 < p->tile ? a->n_kv - j0 : p->tile;
    if (!p->k_direct)
        dequant(p, p->dqk, k_rows(p, p->h0 + hl, j0), p->kbytes, nt, a->dk, p->dk8,
                p->kc + ((size_t)hl * a->n_kv + j0) * p->dk8);
#ifdef KVV_FAULT_cache_f16_wide
    /* mutant: a half-size cache for K heads wider than 256 (MLA): values
     * stored through f16, unlike the in-loop dequantization */
    if (!p->k_direct && a->dk > 256)
        for (size_t e = 0; e < (size_t)nt * p->dk8; e++) {
            float *kv = p->kc + ((size_t)hl * a->n_kv + j0) * p->dk8 + e;
            *kv = cpu_f16_to_f32(cpu_f32_to_f16(*kv));
        }
#endif
    if (!p->v_direct)
        dequant(p, p->dqv, v_rows(p, p->h0 + hl, j0), p->vbytes, nt, a->dv, p->dv8,
                p->vc + ((size_t)hl * a->n_kv + j0) * p->dv8);
}

/* Row r of KV head h: query head and query index. */
#ifndef KVV_FAULT_gqa_off_by_one
static inline int row_head(const attn_plan *p, int h, int r) { return h * p->gqa + r / p->a->n_q; }
#else
static inline int row_head(const attn_plan *p, int h, int r)
{
    return (h * p->gqa + r / p->a->n_q + 1) % p->a->n_head;
}
#endif
static inline int row_query(const attn_plan *p, int r) { return r % p->a->n_q; }

static float *out_row(const attn_plan *p, int h, int r)
{
    return p->out + ((size_t)row_head(p, h, r) * p->a->n_q + row_query(p, r)) * p->a->dv;
}

/* The finished state of a row: O / L (zeros when nothing was visible), back
 * in the original basis when the kernel owns the rotation. */
static void finish_row(const attn_plan *p, const float *st, float *dst)
{
    int dv = p->a->dv;
    float L = st[ATTN_HDR_L];
#ifndef KVV_FAULT_masked_row_nan
    if (st[ATTN_HDR_VIS] == 0 || L == 0) {
#else
    if (0) {
#endif
        memset(dst, 0, sizeof(float) * (size_t)dv);
    } else {
        /* whole groups of 8 (the state holds dv8 values) so that the
         * compiler can use SIMD division; the padding is not copied out */
        int d = 0;
        for (; d + 8 <= dv; d += 8)
            for (int l = 0; l < 8; l++)
                dst[d + l] = st[ATTN_HDR + d + l] / L;
        for (; d < dv; d++)
            dst[d] = st[ATTN_HDR + d] / L;
    }
    if (p->in_kernel && p->rot_o)
        cpu_wht_rows(dst, 1, dv, p->gv, 1, p->isa);
}

static float *partial(const attn_plan *p, int h, int b, int r, int t)
{
    size_t blocks = (size_t)(p->b1 - p->b0);
    size_t row = (((size_t)(h - p->h0) * blocks + (size_t)(b - p->b0)) * (size_t)p->rb_rows + (size_t)r);
    return p->parts + (row * (size_t)p->n_tiles + (size_t)t) * p->ps;
}

/* Ask for the next tile's stored K/V rows while this one is computed: the
 * dequantization that follows finds them in cache instead of waiting for
 * DRAM, which it otherwise does with nothing else to overlap.  Always
 * inlined: GCC takes a function that only prefetches for one without side
 * effects and drops its calls. */
static inline __attribute__((always_inline)) void prefetch_tile(const attn_plan *p, int h, int j0)
{
    const kvv_attn_args *a = p->a;
    int nt = a->n_kv - j0 < p->tile ? a->n_kv - j0 : p->tile;
    if (nt <= 0)
        return;
    const char *k = k_rows(p, h, j0), *v = v_rows(p, h, j0);
    for (size_t o = 0; o < (size_t)nt * p->kbytes; o += 64)
        __builtin_prefetch(k + o, 0, 3);
    for (size_t o = 0; o < (size_t)nt * p->vbytes; o += 64)
        __builtin_prefetch(v + o, 0, 3);
}

/* The state of one work item: KV head h, row block b, tiles [t0, t1). */
typedef struct item_state {
    int h, b, r0, nr, t0, t1;
    float *buf, *kt, *vt, *st, *scr;
    const float **mrow, **tmask;
    attn_tile_args ta;
} item_state;

/* Q rows in K's basis, mask rows and slopes of the item; 0, or -1 out of memory */
static int item_begin(attn_plan *p, item_state *it, int h, int b, int c)
{
    const kvv_attn_args *a = p->a;
    memset(it, 0, sizeof *it);
    it->h = h;
    it->b = b;
    it->r0 = b * p->rb_rows;
    it->nr = p->rows - it->r0 < p->rb_rows ? p->rows - it->r0 : p->rb_rows;
    it->t0 = (int)((int64_t)c * p->n_tiles / p->split);
    it->t1 = (int)((int64_t)(c + 1) * p->n_tiles / p->split);
    int nr = it->nr, r0 = it->r0, merge_here = p->split == 1;
    size_t nq = (size_t)nr * p->dk8;
    size_t nkv = p->use_cache ? 0 : (size_t)p->tile * (p->dk8 + p->dv8);
    size_t nst = merge_here ? 2 * (size_t)nr * p->ps : 0;
    float *buf = zalloc(nq + nkv + nst + 2 * (size_t)nr);
    const float **mrow = malloc(2 * sizeof(float *) * (size_t)nr);
    if (!buf || !mrow) {
        kvv_free(buf);
        free(mrow);
        atomic_store(&p->oom, 1);
        return -1;
    }
    it->buf = buf;
    it->mrow = mrow;
    it->tmask = mrow + nr;
    float *qb = buf;
    it->kt = qb + nq;
    it->vt = it->kt + (size_t)p->tile * p->dk8;
    it->st = buf + nq + nkv;
    it->scr = it->st + (size_t)nr * p->ps;
    float *slope = buf + nq + nkv + nst;

    for (int r = 0; r < nr; r++) {
        int hq = row_head(p, h, r0 + r), iq = row_query(p, r0 + r);
        memcpy(qb + (size_t)r * p->dk8, p->q + ((size_t)hq * a->n_q + iq) * a->dk, sizeof(float) * (size_t)a->dk);
        mrow[r] = a->mask ? a->mask + (size_t)iq * a->n_kv : NULL;
#ifndef KVV_FAULT_alibi_decode_gqa
        slope[r] = p->slope[hq];
#else
        /* mutant: at decode the rows of a work item are the query heads of
         * one KV head, and all take the first one's ALiBi slope */
        slope[r] = p->slope[a->n_q == 1 ? h * p->gqa : hq];
#endif
    }
    /* rotated K types have dk a multiple of their block, so dk8 == dk here */
    if (p->in_kernel && p->rot_q)
        cpu_wht_rows(qb, nr, a->dk, p->gk, 0, p->isa);
#ifdef KVV_FAULT_double_rotation
    if (p->rot_q)
        cpu_wht_rows(qb, nr, a->dk, p->gk, 0, p->isa);
#endif
    it->ta = (attn_tile_args){.nr = nr, .dk8 = p->dk8, .dv8 = p->dv8, .q = qb, .mask = it->tmask, .slope = slope,
                              .scale = p->scale, .softcap = p->softcap};
    return 0;
}

/* The tile arguments of tile t: K/V rows (dequantized first where the
 * kernels do not read them in place), mask rows, prefetches, partials. */
static void item_tile(attn_plan *p, item_state *it, int t)
{
    const kvv_attn_args *a = p->a;
    attn_tile_args *ta = &it->ta;
    int h = it->h, j0 = t * p->tile, hl = h - p->h0;
    ta->nt = a->n_kv - j0 < p->tile ? a->n_kv - j0 : p->tile;
    /* the same f32 values whichever way they are reached */
    ta->k_fmt = p->use_cache ? ATTN_ROWS_F32 : p->k_fmt;
    ta->v_fmt = p->use_cache ? ATTN_ROWS_F32 : p->v_fmt;
    if (p->k_direct || ta->k_fmt != ATTN_ROWS_F32)
        ta->k = k_rows(p, h, j0);
    else if (p->use_cache)
        ta->k = p->kc + ((size_t)hl * a->n_kv + j0) * p->dk8;
    else {
        float *kt = it->kt;
        dequant(p, p->dqk, k_rows(p, h, j0), p->kbytes, ta->nt, a->dk, p->dk8, kt);
#ifdef KVV_FAULT_toggle_path
        if (a->type_k == KVV_Q8_0)
            for (size_t e = 0; e < (size_t)ta->nt * p->dk8; e++)
                kt[e] = cpu_f16_to_f32(cpu_f32_to_f16(kt[e]));
#endif
        ta->k = kt;
    }
    if (p->v_direct || ta->v_fmt != ATTN_ROWS_F32)
        ta->v = v_rows(p, h, j0);
    else if (p->use_cache)
        ta->v = p->vc + ((size_t)hl * a->n_kv + j0) * p->dv8;
    else {
        dequant(p, p->dqv, v_rows(p, h, j0), p->vbytes, ta->nt, a->dv, p->dv8, it->vt);
        ta->v = it->vt;
    }
    for (int r = 0; r < it->nr; r++)
        it->tmask[r] = it->mrow[r] ? it->mrow[r] + j0 : NULL;
    ta->pf_dot = ta->pf_pv = NULL;
    if (p->isa == KVV_ISA_AVX2 && !p->use_cache) {
        /* The AVX2 kernels prefetch as they compute: during the q.k
         * products, this tile's V rows when they are read in place (else
         * the next tile's, for its dequantization); during the p.v sums,
         * the next tile's K rows.  The scalar kernels are not fast enough
         * to need more than the tile ahead. */
        int jn = j0 + p->tile, nn = t + 1 < it->t1 ? (a->n_kv - jn < p->tile ? a->n_kv - jn : p->tile) : 0;
        if (p->v_direct || ta->v_fmt != ATTN_ROWS_F32) {
            ta->pf_dot = v_rows(p, h, j0);
            ta->pf_dot_bytes = (size_t)ta->nt * p->vbytes;
        } else if (nn) {
            ta->pf_dot = v_rows(p, h, jn);
            ta->pf_dot_bytes = (size_t)nn * p->vbytes;
        }
        if (nn) {
            ta->pf_pv = k_rows(p, h, jn);
            ta->pf_pv_bytes = (size_t)nn * p->kbytes;
        }
    } else if (t + 1 < it->t1 && !p->use_cache)
        prefetch_tile(p, h, j0 + p->tile);
    if (p->split == 1) {
        ta->part = it->scr;
        ta->part_stride = p->ps;
    } else {
        ta->part = partial(p, h, it->b, 0, t);
        ta->part_stride = (size_t)p->n_tiles * p->ps;
    }
}

/* After the kernel: fold the tile's partials into the running states */
static void item_merge(attn_plan *p, item_state *it)
{
    if (p->split == 1)
        for (int r = 0; r < it->nr; r++)
            p->kern->merge(it->st + (size_t)r * p->ps, it->scr + (size_t)r * p->ps, p->dv8);
}

static void item_end(attn_plan *p, item_state *it)
{
    if (p->split == 1)
        for (int r = 0; r < it->nr; r++)
            finish_row(p, it->st + (size_t)r * p->ps, out_row(p, it->h, it->r0 + r));
    kvv_free(it->buf);
    free((void *)it->mrow);
}

/* One work item: KV head h, row block b, split chunk c. */
static void work_item(void *arg, int64_t i)
{
    attn_plan *p = arg;
    int c = (int)(i % p->split);
    int64_t rest = i / p->split;
    int nb = p->b1 - p->b0;
    item_state it;
    if (item_begin(p, &it, p->h0 + (int)(rest / nb), p->b0 + (int)(rest % nb), c))
        return;
    for (int t = it.t0; t < it.t1; t++) {
        item_tile(p, &it, t);
        p->kern->tile(&it.ta);
        item_merge(p, &it);
    }
    item_end(p, &it);
}

/* Two KV heads (h0 + 2i and the next) in one work item, tile by tile: where
 * the kernels have tile2, their products interleave the two heads' rows,
 * so that twice the memory streams are in flight (one core's DRAM
 * bandwidth is bound by the misses it keeps outstanding).  Each head's
 * arithmetic is the single item's. */
static void work_pair(void *arg, int64_t i)
{
    attn_plan *p = arg;
    item_state it[2];
    if (item_begin(p, &it[0], p->h0 + 2 * (int)i, p->b0, 0))
        return;
    if (item_begin(p, &it[1], p->h0 + 2 * (int)i + 1, p->b0, 0)) {
        kvv_free(it[0].buf);
        free((void *)it[0].mrow);
        return;
    }
    for (int t = it[0].t0; t < it[0].t1; t++) {
        item_tile(p, &it[0], t);
        item_tile(p, &it[1], t);
        p->kern->tile2(&it[0].ta, &it[1].ta);
        item_merge(p, &it[0]);
        item_merge(p, &it[1]);
    }
    item_end(p, &it[0]);
    item_end(p, &it[1]);
}

/* Split-K reduction: one item per (KV head, row block); tiles in order. */
static void merge_item(void *arg, int64_t i)
{
    attn_plan *p = arg;
    int nb = p->b1 - p->b0;
    int b = p->b0 + (int)(i % nb);
    int h = p->h0 + (int)(i / nb);
    int r0 = b * p->rb_rows;
    int nr = p->rows - r0 < p->rb_rows ? p->rows - r0 : p->rb_rows;
    float *st = zalloc(p->ps);
    if (!st) {
        atomic_store(&p->oom, 1);
        return;
    }
    for (int r = 0; r < nr; r++) {
        st[ATTN_HDR_VIS] = 0;
        for (int t = 0; t < p->n_tiles; t++) {
#ifdef KVV_FAULT_splitk_drop_chunk
            if (t >= (int)((int64_t)(p->split - 1) * p->n_tiles / p->split))
                break;
#endif
#ifdef KVV_FAULT_splitk_ragged_tail
            /* mutant: the reduction counts n_kv / tile tiles (rounded down),
             * so a ragged last tile is dropped (split > 1 only) */
            if (t == p->a->n_kv / p->tile)
                break;
#endif
            p->kern->merge(st, partial(p, h, b, r, t), p->dv8);
        }
        finish_row(p, st, out_row(p, h, r0 + r));
    }
    kvv_free(st);
}

/* Whether the AVX2 kernels read a stored K/V row in place: the same f32
 * values as its dequantization (f16 to f32 and q8_0's q * d are exact)
 * without the pass through a buffer.  f16 costs one conversion per load
 * whatever the shape; q8_0 costs a scale and three more operations per
 * load, so only where each row is loaded about once per tile (decode: the
 * rows of a work item are one GQA group). */
static int rows_fmt(kvv_type t, int d, int rows, int isa)
{
    if (isa != KVV_ISA_AVX2 || d % 8)
        return ATTN_ROWS_F32;
    if (t == KVV_F16)
        return ATTN_ROWS_F16;
    if (t == KVV_Q8_0 && rows <= 2 * ATTN_MR)
        return ATTN_ROWS_Q8_0;
    return ATTN_ROWS_F32;
}

static int check_args(const kvv_attn_args *a, const float *out, char *err, size_t len)
{
    char why[160];
    if (!a || !out)
        return fail(err, len, KVV_FAILED, "attention: NULL arguments or output");
    if (a->dk <= 0 || a->dv <= 0 || a->n_q <= 0 || a->n_kv <= 0 || a->n_head <= 0 || a->n_head_kv <= 0)
        return fail(err, len, KVV_FAILED, "attention: sizes must be positive (dk %d, dv %d, nq %d, nkv %d, h %d, hkv %d)",
                    a->dk, a->dv, a->n_q, a->n_kv, a->n_head, a->n_head_kv);
    if (a->n_head % a->n_head_kv)
        return fail(err, len, KVV_FAILED, "attention: n_head %d is not a multiple of n_head_kv %d", a->n_head,
                    a->n_head_kv);
    if (!a->q || !a->k || !a->v)
        return fail(err, len, KVV_FAILED, "attention: NULL q, k or v");
    if (!kvv_type_fits(a->type_k, a->dk, why, sizeof why))
        return fail(err, len, KVV_FAILED, "attention: K: %s", why);
    if (!kvv_type_fits(a->type_v, a->dv, why, sizeof why))
        return fail(err, len, KVV_FAILED, "attention: V: %s", why);
    if (kvv_row_bytes(a->type_k, a->dk) == 0 || kvv_row_bytes(a->type_v, a->dv) == 0)
        return fail(err, len, KVV_FAILED, "attention: head dims do not fill whole blocks");
    if (a->tg.lut != 0 && a->tg.lut != 4 && a->tg.lut != 8)
        return fail(err, len, KVV_FAILED, "attention: LUT variant %d (want 4 or 8)", a->tg.lut);
    if (a->tg.rot != KVV_ROT_KERNEL && a->tg.rot != KVV_ROT_GRAPH)
        return fail(err, len, KVV_FAILED, "attention: unknown rotation site %d", (int)a->tg.rot);
    if (a->tg.variant != KVV_VAR_AUTO && a->tg.variant != KVV_VAR_VEC && a->tg.variant != KVV_VAR_TILED)
        return fail(err, len, KVV_FAILED, "attention: unknown kernel variant %d", (int)a->tg.variant);
    if (a->tg.isa != KVV_ISA_AUTO && a->tg.isa != KVV_ISA_SCALAR && a->tg.isa != KVV_ISA_AVX2)
        return fail(err, len, KVV_FAILED, "attention: unknown isa %d", (int)a->tg.isa);
    if ((size_t)a->n_head * a->n_q > (size_t)INT32_MAX || (size_t)a->n_head_kv * a->n_kv > (size_t)INT32_MAX)
        return fail(err, len, KVV_FAILED, "attention: too many rows");
    return KVV_OK;
}

static const cpu_type_fns *type_fns(kvv_type t, int isa)
{
    const cpu_type_fns *f = cpu_type_fns_get(t, isa);
    if (!f || !f->dequantize_row)
        f = cpu_type_fns_get(t, KVV_ISA_SCALAR);
    return f && f->dequantize_row ? f : NULL;
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

static float *falloc(size_t nfloats)
{
    void *p = NULL;
    if (nfloats > SIZE_MAX / sizeof(float) - 64 || posix_memalign(&p, 64, nfloats * sizeof(float) + 64))
        return NULL;
    return p;
}

/* Run the passes over KV heads / row blocks.  A pass holds the dequant
 * cache of its heads and the split-K partials of its row blocks; it covers
 * enough heads to keep every thread busy and no more than the budget allows
 * (a cache much larger than that only costs page faults and DRAM traffic). */
static int run_passes(attn_plan *p, int threads)
{
    const kvv_attn_args *a = p->a;
    const size_t budget = atomic_load(&mem_budget);
    int cached = p->use_cache && !(p->k_direct && p->v_direct);
    size_t cache_head = cached ? (size_t)a->n_kv * (p->dk8 + p->dv8) * sizeof(float) : 0;
    size_t part_block = p->split > 1 ? (size_t)p->rb_rows * p->n_tiles * p->ps * sizeof(float) : 0;
    size_t per_head = cache_head + part_block * (size_t)p->n_rb;
    int heads = per_head ? (int)(budget / per_head) : a->n_head_kv;
    if (cached && heads > threads)
        heads = threads;
    heads = heads < 1 ? 1 : heads > a->n_head_kv ? a->n_head_kv : heads;
    int blocks = p->n_rb;
    if (part_block && per_head > budget) {
        size_t room = budget > cache_head ? budget - cache_head : 0;
        blocks = (int)(room / part_block);
        blocks = blocks < 1 ? 1 : blocks > p->n_rb ? p->n_rb : blocks;
    }
    int rc = KVV_OK;
    if (cached) {
        p->kc = p->k_direct ? NULL : falloc((size_t)heads * a->n_kv * p->dk8);
        p->vc = p->v_direct ? NULL : falloc((size_t)heads * a->n_kv * p->dv8);
        if ((!p->k_direct && !p->kc) || (!p->v_direct && !p->vc))
            rc = KVV_FAILED;
    }
    if (p->split > 1 && !(p->parts = falloc((size_t)heads * blocks * p->rb_rows * p->n_tiles * p->ps)))
        rc = KVV_FAILED;
    for (int h0 = 0; rc == KVV_OK && h0 < a->n_head_kv; h0 += heads) {
        p->h0 = h0;
        p->h1 = h0 + heads < a->n_head_kv ? h0 + heads : a->n_head_kv;
        int nh = p->h1 - p->h0;
        if (cached)
            cpu_parallel_for(threads, (int64_t)nh * p->n_tiles, cache_item, p);
        for (int b0 = 0; b0 < p->n_rb; b0 += blocks) {
            p->b0 = b0;
            p->b1 = b0 + blocks < p->n_rb ? b0 + blocks : p->n_rb;
            int nb = p->b1 - p->b0;
            /* heads in pairs where there are enough of them for every
             * thread (decode: one row block, no split) and both read
             * their rows in place: two heads' dequantized K and V tiles
             * (64 KiB at head dim 128) would not fit the L1 together, and
             * q4_0 decode ran 10-20% faster from DRAM one head at a time */
            int in_place = (p->k_direct || p->k_fmt != ATTN_ROWS_F32) && (p->v_direct || p->v_fmt != ATTN_ROWS_F32);
            if (p->kern->tile2 && p->split == 1 && nb == 1 && nh % 2 == 0 && nh >= 2 * threads && !p->use_cache &&
                in_place)
                cpu_parallel_for(threads, (int64_t)nh / 2, work_pair, p);
            else
                cpu_parallel_for(threads, (int64_t)nh * nb * p->split, work_item, p);
            if (p->split > 1)
                cpu_parallel_for(threads, (int64_t)nh * nb, merge_item, p);
        }
        if (atomic_load(&p->oom))
            rc = KVV_FAILED;
    }
    free(p->kc);
    free(p->vc);
    free(p->parts);
    return rc;
}

/* A rotation as a graph op of its own: rows are independent, so chunks of
 * rows go to the pool. */
typedef struct wht_job {
    float *x;
    int64_t nrows;
    int ncols, group, inverse, isa;
} wht_job;
#define WHT_CHUNK 64

static void wht_item(void *arg, int64_t i)
{
    const wht_job *j = arg;
    int64_t r0 = i * WHT_CHUNK, n = j->nrows - r0 < WHT_CHUNK ? j->nrows - r0 : WHT_CHUNK;
    cpu_wht_rows(j->x + r0 * j->ncols, n, j->ncols, j->group, j->inverse, j->isa);
}

static void wht_op(float *x, int64_t nrows, int ncols, int group, int inverse, int isa, int threads)
{
    wht_job j = {x, nrows, ncols, group, inverse, isa};
    cpu_parallel_for(threads, (nrows + WHT_CHUNK - 1) / WHT_CHUNK, wht_item, &j);
}

int cpu_attention(const kvv_attn_args *a, float *out, kvv_attn_info *info, char *err, size_t err_len)
{
    int rc = check_args(a, out, err, err_len);
    if (rc != KVV_OK)
        return rc;
    int isa = cpu_isa_resolve(a->tg.isa);
    if (isa < 0)
        return fail(err, err_len, KVV_UNSUPPORTED, "attention: isa=avx2 asked for, but this processor lacks AVX2, FMA or F16C");

    attn_plan p;
    memset(&p, 0, sizeof p);
    atomic_init(&p.oom, 0);
    p.a = a;
    p.out = out;
    p.isa = isa;
    p.kern = isa != KVV_ISA_AVX2 ? attn_kernels_scalar() : avx512_wanted() ? attn_kernels_avx512() : attn_kernels_avx2();
    p.fk = type_fns(a->type_k, isa);
    p.fv = type_fns(a->type_v, isa);
    if (!p.fk || !p.fv)
        return fail(err, err_len, KVV_UNSUPPORTED, "attention: no dequantize kernel for %s",
                    kvv_type_name(!p.fk ? a->type_k : a->type_v));
    p.lut = a->tg.lut ? a->tg.lut : 8;
    /* the table types' AVX-512 dequantizers give the same values (one
     * permute of a per-block table per 16 values, a third of the AVX2
     * code's work); at decode the dequantization is most of the time */
    p.dqk = p.kern == attn_kernels_avx512() ? cpu_dequant_avx512(a->type_k, p.lut) : NULL;
    p.dqv = p.kern == attn_kernels_avx512() ? cpu_dequant_avx512(a->type_v, p.lut) : NULL;
    if (!p.dqk)
        p.dqk = p.fk->dequantize_row;
    if (!p.dqv)
        p.dqv = p.fv->dequantize_row;
    p.dk8 = (a->dk + 7) & ~7;
    p.dv8 = (a->dv + 7) & ~7;
    p.kbytes = kvv_row_bytes(a->type_k, a->dk);
    p.vbytes = kvv_row_bytes(a->type_v, a->dv);
    p.gqa = a->n_head / a->n_head_kv;
    p.rows = p.gqa * a->n_q;
    int vec = a->tg.variant == KVV_VAR_VEC || (a->tg.variant == KVV_VAR_AUTO && a->n_q < VEC_MAX_NQ);
    p.tile = vec ? VEC_TILE : TILED_TILE;
    p.rb_rows = vec ? VEC_ROWS : TILED_ROWS;
    p.n_tiles = (a->n_kv + p.tile - 1) / p.tile;
    p.n_rb = (p.rows + p.rb_rows - 1) / p.rb_rows;
    p.split = a->tg.split < 1 ? 1 : a->tg.split > p.n_tiles ? p.n_tiles : a->tg.split;
    p.use_cache = a->tg.cache != 0;
    p.k_direct = a->type_k == KVV_F32 && p.dk8 == a->dk;
    p.v_direct = a->type_v == KVV_F32 && p.dv8 == a->dv;
    p.k_fmt = rows_fmt(a->type_k, a->dk, p.rows, isa);
    p.v_fmt = rows_fmt(a->type_v, a->dv, p.rows, isa);
#ifndef KVV_FAULT_rotation_wrong_operand
    p.rot_q = kvv_type_get(a->type_k)->rotated;
    p.rot_o = kvv_type_get(a->type_v)->rotated;
#else
    p.rot_q = kvv_type_get(a->type_v)->rotated;
    p.rot_o = kvv_type_get(a->type_k)->rotated;
#endif
#ifdef KVV_FAULT_turbo4_v_broken
    if (a->type_v == KVV_TURBO4)
        p.rot_o = 0;
#endif
    p.gk = cpu_rot_group(a->dk);
    p.gv = cpu_rot_group(a->dv);
    if ((p.rot_q && p.dk8 != a->dk) || (p.rot_o && p.dv8 != a->dv))
        return fail(err, err_len, KVV_FAILED, "attention: rotated head dims must be multiples of 8");
    p.in_kernel = a->tg.rot == KVV_ROT_KERNEL;
    p.scale = a->softcap != 0.0f ? a->scale / a->softcap : a->scale;
    p.softcap = a->softcap;
    p.ps = ATTN_HDR + (size_t)p.dv8;
    p.q = a->q;

    int threads = a->tg.threads > 0 ? (a->tg.threads > 256 ? 256 : a->tg.threads) : default_threads();
    size_t nqv = (size_t)a->n_head * a->n_q;
    float *qrot = NULL;
    p.slope = malloc(sizeof(float) * (size_t)a->n_head);
    if (!p.slope)
        return fail(err, err_len, KVV_FAILED, "attention: out of memory");
    alibi_slopes(p.slope, a->n_head, a->max_bias);

    /* Rotation as separate ops around a kernel working in the rotated basis. */
    if (!p.in_kernel && p.rot_q) {
        qrot = zalloc(nqv * a->dk);
        if (!qrot) {
            free(p.slope);
            return fail(err, err_len, KVV_FAILED, "attention: out of memory");
        }
        memcpy(qrot, a->q, sizeof(float) * nqv * a->dk);
        wht_op(qrot, (int64_t)nqv, a->dk, p.gk, 0, isa, threads);
        p.q = qrot;
    }
    rc = run_passes(&p, threads);
    if (rc == KVV_OK && !p.in_kernel && p.rot_o)
        wht_op(out, (int64_t)nqv, a->dv, p.gv, 1, isa, threads);
    kvv_free(qrot);
    free(p.slope);
    if (rc != KVV_OK)
        return fail(err, err_len, rc, "attention: out of memory");
    if (info) {
        info->kv_round = 0;
        info->acc_round = ldexp(1.0, -24);
    }
    return KVV_OK;
}
