/* Private to the CPU attention: the contract between the driver (attn.c)
 * and the tile kernels (attn_tile.c scalar, attn_avx2.c AVX2/FMA).
 *
 * A tile kernel computes, for each query row of a row block and one tile of
 * KV rows, the partial softmax state of that tile alone:
 *     m = max over visible keys of s,  l = sum exp(s - m),  o = sum exp(s - m) * v
 * The driver merges partials strictly in tile order, so the result never
 * depends on how tiles were spread over threads or split-K chunks. */
#ifndef KVV_CPU_ATTN_KERN_H
#define KVV_CPU_ATTN_KERN_H

#include <math.h>
#include <stddef.h>
#include <string.h>

/* A partial or a running state: a small header then o[dv8]. */
enum {
    ATTN_HDR_M = 0,   /* tile max (running max M for a state) */
    ATTN_HDR_L = 1,   /* sum of exponentials */
    ATTN_HDR_VIS = 2, /* 1 when at least one key was visible, else 0 */
    ATTN_HDR = 4      /* floats before o[] */
};

/* Largest KV tile a kernel accepts (scores live on the stack). */
#define ATTN_TILE_MAX 64
/* Query rows the register-blocked (tiled) kernels process together. */
#define ATTN_MR 4

typedef struct attn_tile_args {
    int nr;                   /* query rows */
    int nt;                   /* keys in this tile, 1..ATTN_TILE_MAX */
    int dk8, dv8;             /* head dims rounded up to 8 (buffers are zero-padded) */
    const float *q;           /* [nr][dk8] query rows, already in K's basis */
    const void *k;            /* [nt] key rows of dk8 values, in format k_fmt */
    const void *v;            /* [nt] value rows of dv8 values, in format v_fmt */
    int k_fmt, v_fmt;         /* attn_rows_fmt; other than f32 for the AVX2 kernels only (dk8 == dk) */
    const float *const *mask; /* [nr] the row's mask at this tile's first key, or NULL */
    const float *slope;       /* [nr] ALiBi slope of the row's head */
    float scale;              /* multiplies q.k (already divided by softcap when on) */
    float softcap;            /* 0 = off */
    float *part;              /* row r's partial starts at part + r * part_stride */
    size_t part_stride;
    /* Stored K / V bytes the AVX2 kernels prefetch a line at a time while
     * they compute the q.k products (pf_dot) and the p.v sums (pf_pv), so
     * that the rows a later step reads come in while this one computes
     * (NULL: none; see attn.c). */
    const char *pf_dot, *pf_pv;
    size_t pf_dot_bytes, pf_pv_bytes;
} attn_tile_args;

/* How K/V rows reach a tile kernel: f32 (as stored, or dequantized into a
 * buffer), or the stored cache rows read in place (AVX2 kernels only). */
typedef enum { ATTN_ROWS_F32 = 0, ATTN_ROWS_F16 = 1, ATTN_ROWS_Q8_0 = 2 } attn_rows_fmt;

typedef void (*attn_tile_fn)(const attn_tile_args *t);

typedef struct attn_kernels {
    /* All rows against one tile: consecutive groups of ATTN_MR rows share
     * each loaded K/V row, the rest go one at a time.  Under a mask a row's
     * sums can depend on the keys its group sees, so the driver fixes the
     * row blocks independently of threads and split. */
    attn_tile_fn tile;
    /* Fold a tile's partial into a running state (online-softmax rescale). */
    void (*merge)(float *state, const float *part, int dv8);
    /* Two tiles (of two KV heads) at once, each with exactly the bits tile
     * gives it; NULL: none (the driver then runs tile on each). */
    void (*tile2)(const attn_tile_args *a, const attn_tile_args *b);
} attn_kernels;

/* The memory the driver may hold at once for the dequant cache and split-K
 * partials (0 = the default, 256 MiB); returns the previous value.  Larger
 * work runs in passes, with the same bits. */
size_t attn_set_mem_budget(size_t bytes);

/* Whether the AVX2 path may run its products on AVX-512 (where the CPU has
 * it; they give the same bits): 0 keeps it on AVX2.  Returns whether it
 * did before.  For tests that compare the two. */
int attn_set_avx512(int on);

/* The scalar half of a merge, the same for every ISA: folds partial pt's
 * header into state st and returns 0 (pt saw no key: nothing to do), 1 (st
 * saw none: pt copied over it) or 2, when the kernel blends o[] as
 * O = O*a + o*b with the factors returned. */
static inline int attn_merge_header(float *st, const float *pt, int dv8, float *a, float *b)
{
    if (pt[ATTN_HDR_VIS] == 0)
        return 0;
    if (st[ATTN_HDR_VIS] == 0) {
        memcpy(st, pt, sizeof(float) * (size_t)(ATTN_HDR + dv8));
        return 1;
    }
    float M = st[ATTN_HDR_M], m = pt[ATTN_HDR_M];
    float Mn = m > M ? m : M;
    /* M == Mn gives exp(0) = 1 anyway; the test only keeps -inf - -inf out */
#ifndef KVV_FAULT_no_rescale
    *a = M == Mn ? 1.0f : expf(M - Mn);
    *b = m == Mn ? 1.0f : expf(m - Mn);
#else
    *a = 1.0f;
    *b = 1.0f;
#endif
    st[ATTN_HDR_M] = Mn;
    st[ATTN_HDR_L] = st[ATTN_HDR_L] * *a + pt[ATTN_HDR_L] * *b;
    return 2;
}

const attn_kernels *attn_kernels_scalar(void);
const attn_kernels *attn_kernels_avx2(void);
/* The AVX2 kernels' products on AVX-512: the same bits (attn_avx2_rows.h);
 * call only where the CPU has AVX-512 F, DQ, BW and VL. */
const attn_kernels *attn_kernels_avx512(void);

#endif
