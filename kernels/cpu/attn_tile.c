/* Portable tile kernels of the CPU attention: the fallback when AVX2/FMA is
 * absent or not wanted.  Plain C, built with -ffp-contract=off, so every
 * multiply and add rounds on its own.  Loops run over fixed groups of 8
 * independent lanes, which the compiler may map to baseline SIMD without
 * changing a single rounding.  Structure mirrors attn_avx2.c: groups of
 * ATTN_MR rows run over the union of their visible keys so that each K/V row
 * is read once for the group; leftover rows go one at a time. */
#include <math.h>
#include <string.h>

#include "kernels/cpu/attn_kern.h"

/* Eight running sums (lane l takes elements l, l+8, ...) break the add
 * dependency chain; n is a multiple of 8 (rows are zero-padded). */
static float dot(const float *a, const float *b, int n)
{
    float acc[8] = {0};
    for (int i = 0; i < n; i += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += a[i + l] * b[i + l];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* o[0..n) += p * v[0..n), n a multiple of 8 */
static void axpy(float *restrict o, float p, const float *restrict v, int n)
{
    for (int d = 0; d < n; d += 8)
        for (int l = 0; l < 8; l++)
            o[d + l] += p * v[d + l];
}

/* Raw dot products to logits: scale, softcap, then the slope-weighted mask.
 * A key the row cannot see becomes -inf whatever its dot product was (it may
 * be NaN), so it never takes part. */
static float logit(float d, const attn_tile_args *t, const float *mask, int j, float slope)
{
    float s = d * t->scale;
    if (t->softcap != 0.0f)
        s = t->softcap * tanhf(s);
    if (mask) {
        if (mask[j] == -INFINITY)
            return -INFINITY;
        s += slope * mask[j];
    }
    return s;
}

/* Turn logits s[0..n) into exp(s - m) and fill the partial's header.  The
 * max skips NaN (the comparison is false), but exp(NaN - m) is NaN, so a NaN
 * logit still reaches l and o.  A -inf logit weighs exactly 0, even when m
 * is -inf too. */
static void softmax_part(float *s, int n, float *part)
{
    float m = -INFINITY;
    for (int u = 0; u < n; u++)
        m = s[u] > m ? s[u] : m;
    float l = 0;
    for (int u = 0; u < n; u++) {
        s[u] = s[u] == -INFINITY ? 0.0f : expf(s[u] - m);
        l += s[u];
    }
    part[ATTN_HDR_M] = m;
    part[ATTN_HDR_L] = l;
    part[ATTN_HDR_VIS] = 1;
}

static void mark_empty(float *part)
{
    part[ATTN_HDR_M] = -INFINITY;
    part[ATTN_HDR_L] = 0;
    part[ATTN_HDR_VIS] = 0;
}

/* o = sum over the listed keys of p[u] * v[idx[u]], in list order per element. */
static void pv_row(const float *p, const int *idx, int n, const float *v, int dv8, float *o)
{
    memset(o, 0, sizeof(float) * (size_t)dv8);
    for (int u = 0; u < n; u++)
        axpy(o, p[u], v + (size_t)idx[u] * dv8, dv8);
}

static void vec_row(const attn_tile_args *t, int r)
{
    float *part = t->part + (size_t)r * t->part_stride;
    const float *mask = t->mask[r];
    const float *q = t->q + (size_t)r * t->dk8;
    int idx[ATTN_TILE_MAX];
    float s[ATTN_TILE_MAX];
    int n = 0;
    for (int j = 0; j < t->nt; j++) {
        idx[n] = j;
        n += !mask || mask[j] != -INFINITY;
    }
    if (n == 0) {
        mark_empty(part);
        return;
    }
    for (int u = 0; u < n; u++)
        s[u] = logit(dot(q, (const float *)t->k + (size_t)idx[u] * t->dk8, t->dk8), t, mask, idx[u], t->slope[r]);
    softmax_part(s, n, part);
    pv_row(s, idx, n, (const float *)t->v, t->dv8, part + ATTN_HDR);
}

/* Whether the listed V rows are all finite: x - x is 0 for a finite x and
 * NaN otherwise, and the NaN survives the sum. */
static int keys_finite(const float *v, const int *idx, int n, int dv8)
{
    float acc = 0;
    for (int u = 0; u < n; u++)
        for (int d = 0; d < dv8; d++)
            acc += v[(size_t)idx[u] * dv8 + d] - v[(size_t)idx[u] * dv8 + d];
    return acc == 0;
}

/* ATTN_MR rows against the union of the keys any of them sees. */
static void tiled_group(const attn_tile_args *t, int r0)
{
    enum { MR = ATTN_MR };
    int idx[ATTN_TILE_MAX], cnt[MR] = {0};
    float s[MR][ATTN_TILE_MAX];
    int n = 0;
    for (int j = 0; j < t->nt; j++) {
        int any = 0;
        for (int i = 0; i < MR; i++) {
            const float *m = t->mask[r0 + i];
            int vis = !m || m[j] != -INFINITY;
            cnt[i] += vis;
            any |= vis;
        }
        idx[n] = j;
        n += any;
    }
    const float *q[MR];
    for (int i = 0; i < MR; i++)
        q[i] = t->q + (size_t)(r0 + i) * t->dk8;
    for (int u = 0; u < n; u++) {
        const float *k = (const float *)t->k + (size_t)idx[u] * t->dk8;
        for (int i = 0; i < MR; i++)
            s[i][u] = logit(dot(q[i], k, t->dk8), t, t->mask[r0 + i], idx[u], t->slope[r0 + i]);
    }
    int uniform = 1;
    for (int i = 0; i < MR; i++) {
        float *part = t->part + (size_t)(r0 + i) * t->part_stride;
        if (cnt[i] == 0) {
            mark_empty(part);
            memset(s[i], 0, sizeof(float) * (size_t)n);
            continue;
        }
        uniform &= cnt[i] == n;
        softmax_part(s[i], n, part);
    }
    /* A key one row cannot see has p = 0 there; 0 * v is only harmless when
     * v is finite, so otherwise each row sums over its own keys. */
    if (uniform || keys_finite((const float *)t->v, idx, n, t->dv8)) {
        float *o[MR];
        for (int i = 0; i < MR; i++) {
            o[i] = t->part + (size_t)(r0 + i) * t->part_stride + ATTN_HDR;
            memset(o[i], 0, sizeof(float) * (size_t)t->dv8);
        }
        for (int u = 0; u < n; u++) {
            const float *vr = (const float *)t->v + (size_t)idx[u] * t->dv8;
            for (int i = 0; i < MR; i++)
                axpy(o[i], s[i][u], vr, t->dv8);
        }
        return;
    }
    for (int i = 0; i < MR; i++) {
        if (cnt[i] == 0)
            continue;
        const float *m = t->mask[r0 + i];
        int own[ATTN_TILE_MAX];
        float p[ATTN_TILE_MAX];
        int k = 0;
        for (int u = 0; u < n; u++) {
            own[k] = idx[u];
            p[k] = s[i][u];
            k += m[idx[u]] != -INFINITY;
        }
        pv_row(p, own, k, (const float *)t->v, t->dv8, t->part + (size_t)(r0 + i) * t->part_stride + ATTN_HDR);
    }
}

static void rows_tile(const attn_tile_args *t)
{
    int r = 0;
    for (; r + ATTN_MR <= t->nr; r += ATTN_MR)
        tiled_group(t, r);
    for (; r < t->nr; r++)
        vec_row(t, r);
}

static void merge(float *st, const float *pt, int dv8)
{
    float a, b;
    if (attn_merge_header(st, pt, dv8, &a, &b) != 2)
        return;
    float *O = st + ATTN_HDR;
    const float *o = pt + ATTN_HDR;
    for (int d = 0; d < dv8; d++)
        O[d] = O[d] * a + o[d] * b;
}

static const attn_kernels kernels = {rows_tile, merge, NULL};

const attn_kernels *attn_kernels_scalar(void) { return &kernels; }
