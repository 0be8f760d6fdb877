/* The bytes rule: a backend's quantized bytes against the reference's
 * canonical bytes, field by field, with ties.
 *
 * Identical rows pass at once.  Otherwise both rows are decoded with the
 * type table's codec and compared field by field: an index may differ only
 * where the reference flagged a tie and only to the neighbour it named; a
 * scale field only to its flagged alternative.  For turbo types the norm
 * (and the QJL residual) depend on the indices, so when a backend took a
 * tie the other way the reference re-derives those fields from the
 * backend's indices before comparing them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/rules.h"
#include "oracle/verdict.h"

typedef struct {
    kvv_type t;
    const kvv_type_info *ti;
    const kvv_ref_type *rt;
    int64_t ncols, nblocks; /* per row */
    size_t row_bytes;
    const char *what;
    kvv_verdict *v;
} ctx_t;

static int block_finite(const float *x, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* Failure text: the first differing byte of the block, with the decoded
 * element (or field) that explains it. */
static void fail_block(ctx_t *c, int64_t row, int64_t blk, const uint8_t *got, const uint8_t *want,
                       const float *x, const char *field, int elem, int gi, int wi)
{
    int byte = 0;
    while (byte < c->ti->bytes && got[byte] == want[byte])
        byte++;
    kvv_diff d[KVV_VERDICT_DIFFS]; /* the block's first differing bytes, as offsets in the row */
    int nd = 0;
    for (int i = byte; i < c->ti->bytes && nd < KVV_VERDICT_DIFFS; i++)
        if (got[i] != want[i])
            d[nd++] = (kvv_diff){row, blk * c->ti->bytes + i, got[i], want[i], 0};
    char hexg[40] = "", hexw[40] = "";
    int lo = byte > 2 ? byte - 2 : 0, hi = lo + 6 < c->ti->bytes ? lo + 6 : c->ti->bytes;
    for (int i = lo; i < hi; i++) {
        snprintf(hexg + strlen(hexg), sizeof hexg - strlen(hexg), "%02x", got[i]);
        snprintf(hexw + strlen(hexw), sizeof hexw - strlen(hexw), "%02x", want[i]);
    }
    if (elem >= 0)
        kvv_verdict_fail_at(c->v, d, nd, KVV_RULE_BYTES,
                            "%s row %lld block %lld byte %d: got %s, expected %s (bytes %d..%d); element %lld %s "
                            "%d, expected %d, x=%.9g, not a tie",
                            c->what, (long long)row, (long long)blk, byte, hexg, hexw, lo, hi - 1,
                            (long long)(blk * c->ti->block + elem), field, gi, wi, (double)x[elem]);
    else
        kvv_verdict_fail_at(c->v, d, nd, KVV_RULE_BYTES,
                            "%s row %lld block %lld byte %d: got %s, expected %s (bytes %d..%d); %s 0x%04x, "
                            "expected 0x%04x, not a tie",
                            c->what, (long long)row, (long long)blk, byte, hexg, hexw, lo, hi - 1, field, gi, wi);
}

/* Compare one block's fields; tie arrays are already offset to the block.
 * Indices first: where the backend took the other side of a tie and the
 * scale depends on the indices (iq4_nl's least-squares scale), the expected
 * scale is re-derived from the backend's indices.  Returns ties taken, or
 * -1 on a real difference. */
static int compare_fields(ctx_t *c, int64_t row, int64_t blk, const uint8_t *got, const uint8_t *want,
                          const float *x, const int16_t *alt, const uint8_t *sign_tie, uint8_t scale_tie,
                          const uint32_t *scale_alt)
{
    kvv_fields fg, fw;
    c->ti->unpack(got, &fg);
    c->ti->unpack(want, &fw);
    int ties = 0, idx_ties = 0;
    for (int j = 0; j < fw.n; j++) {
        if (fg.idx[j] != fw.idx[j]) {
            if (alt && alt[j] != KVV_NO_TIE && fg.idx[j] == alt[j]) {
                idx_ties++;
            } else {
                fail_block(c, row, blk, got, want, x, "index", j, fg.idx[j], fw.idx[j]);
                return -1;
            }
        }
        if (fg.sign[j] != fw.sign[j]) {
            if (sign_tie && sign_tie[j]) {
                ties++;
            } else {
                fail_block(c, row, blk, got, want, x, "QJL sign", j, fg.sign[j], fw.sign[j]);
                return -1;
            }
        }
    }
    ties += idx_ties;
    kvv_ref_ties rt = {0};
    uint8_t re[KVV_MAX_BLOCK * 4];
    if (idx_ties && c->ti->family == KVV_FAMILY_BLOCK && c->rt->requantize &&
        kvv_ref_ties_alloc(&rt, c->t, 1, fw.n) == 0) {
        c->rt->requantize(x, fg.idx, re, fw.n, &rt);
        c->ti->unpack(re, &fw);
        scale_tie = rt.scale_tie ? rt.scale_tie[0] : 0;
        scale_alt = rt.scale_alt;
    }
    int rc = ties;
    for (int i = 0; i < fw.nscale; i++) {
        if (fg.scale[i] == fw.scale[i])
            continue;
        if ((scale_tie >> i & 1) && scale_alt && fg.scale[i] == scale_alt[i]) {
            rc++;
            continue;
        }
        fail_block(c, row, blk, got, want, x, i ? "scale field 1" : "scale field 0", -1, (int)fg.scale[i],
                   (int)fw.scale[i]);
        rc = -1;
        break;
    }
    kvv_ref_ties_free(&rt);
    return rc;
}

static int64_t count_candidates(const kvv_ref_ties *t, int64_t e0, int64_t ne, int64_t b0, int64_t nb)
{
    int64_t n = 0;
    for (int64_t i = e0; i < e0 + ne; i++)
        n += (t->alt && t->alt[i] != KVV_NO_TIE) + (t->sign_tie && t->sign_tie[i]);
    for (int64_t b = b0; b < b0 + nb; b++)
        n += (t->scale_tie ? __builtin_popcount(t->scale_tie[b]) : 0) + (t->block_tie ? t->block_tie[b] != 0 : 0);
    return n;
}

/* ggml and float types: blocks are independent. */
static int judge_row_blocks(ctx_t *c, int64_t row, const float *x, const uint8_t *canon, const uint8_t *got,
                            const kvv_ref_ties *ties, int64_t tie_row)
{
    const int bs = c->ti->block, bb = c->ti->bytes;
    for (int64_t b = 0; b < c->nblocks; b++) {
        const uint8_t *w = canon + b * bb, *g = got + b * bb;
        const float *xb = x + b * bs;
        if (memcmp(w, g, (size_t)bb) == 0)
            continue;
        if (!block_finite(xb, bs)) {
            c->v->nonfinite_inputs++;
            continue;
        }
        int64_t gb = tie_row * c->nblocks + b, ge = tie_row * c->ncols + b * bs;
        if (ties && ties->block_tie && ties->block_tie[gb] && c->rt->block_cost) {
            /* the reference's scale search was a near tie: any block doing
             * as well as the canonical one is a correct answer */
            double cg = c->rt->block_cost(xb, g), cw = c->rt->block_cost(xb, w);
            if (cg <= cw * (1.0 + 1e-5) + 1e-30) {
                c->v->ties++;
                continue;
            }
        }
        int t = compare_fields(c, row, b, g, w, xb, ties && ties->alt ? ties->alt + ge : NULL,
                               ties && ties->sign_tie ? ties->sign_tie + ge : NULL,
                               ties && ties->scale_tie ? ties->scale_tie[gb] : 0,
                               ties && ties->scale_alt ? ties->scale_alt + 2 * gb : NULL);
        if (t < 0)
            return -1;
        c->v->ties += t;
    }
    return 0;
}

/* turbo types: the indices first, then the fields derived from them. */
static int judge_row_turbo(ctx_t *c, int64_t row, const float *x, const uint8_t *canon, const uint8_t *got,
                           const kvv_ref_ties *ties)
{
    const int bs = c->ti->block, bb = c->ti->bytes;
    if (!block_finite(x, (int)c->ncols)) {
        c->v->nonfinite_inputs++;
        return 0;
    }
    int16_t *idx = malloc(sizeof(int16_t) * (size_t)c->ncols);
    if (!idx) {
        kvv_verdict_fail(c->v, KVV_RULE_BYTES, "out of memory comparing a turbo row");
        return -1;
    }
    int idx_ties = 0, rc = 0;
    for (int64_t b = 0; b < c->nblocks && rc == 0; b++) {
        kvv_fields fg, fw;
        c->ti->unpack(got + b * bb, &fg);
        c->ti->unpack(canon + b * bb, &fw);
        for (int j = 0; j < bs; j++) {
            int64_t e = b * bs + j;
            idx[e] = fg.idx[j];
            if (fg.idx[j] == fw.idx[j])
                continue;
            const int16_t *alt = ties && ties->alt ? ties->alt + row * c->ncols : NULL;
            if (alt && alt[e] != KVV_NO_TIE && fg.idx[j] == alt[e]) {
                idx_ties++;
            } else {
                fail_block(c, row, b, got + b * bb, canon + b * bb, x + b * bs, "index", j, fg.idx[j], fw.idx[j]);
                rc = -1;
                break;
            }
        }
    }
    if (rc == 0 && idx_ties && c->rt->requantize) {
        /* indices took ties: compare the rest against the canonical row
         * re-derived from the backend's indices */
        uint8_t *re = malloc(c->row_bytes);
        kvv_ref_ties rt;
        if (!re || kvv_ref_ties_alloc(&rt, c->t, 1, c->ncols)) {
            free(re);
            free(idx);
            kvv_verdict_fail(c->v, KVV_RULE_BYTES, "out of memory re-deriving a tied turbo row");
            return -1;
        }
        c->rt->requantize(x, idx, re, c->ncols, &rt);
        c->v->ties += idx_ties;
        rc = judge_row_blocks(c, row, x, re, got, &rt, 0) < 0 ? -1 : 0;
        kvv_ref_ties_free(&rt);
        free(re);
    } else if (rc == 0) {
        rc = judge_row_blocks(c, row, x, canon, got, ties, row) < 0 ? -1 : 0;
    }
    free(idx);
    return rc;
}

int kvv_judge_bytes(kvv_type t, const float *x, int64_t nrows, int64_t ncols, const void *canon,
                    const kvv_ref_ties *ties, const void *got, const char *what, kvv_verdict *v)
{
    ctx_t c = {t, kvv_type_get(t), kvv_ref_type_get(t), ncols, 0, kvv_row_bytes(t, ncols), what, v};
    if (!c.ti || !c.rt || !c.row_bytes) {
        kvv_verdict_fail(v, KVV_RULE_BYTES, "%s: type %s cannot hold rows of %lld values", what, kvv_type_name(t),
                         (long long)ncols);
        return -1;
    }
    c.nblocks = ncols / c.ti->block;
    const uint8_t *cw = canon, *cg = got;
    v->checked += (int64_t)(c.row_bytes * (size_t)nrows);
    if (ties)
        v->tie_candidates += count_candidates(ties, 0, nrows * ncols, 0, nrows * c.nblocks);
    for (int64_t r = 0; r < nrows; r++) {
        const uint8_t *w = cw + r * c.row_bytes, *g = cg + r * c.row_bytes;
        if (memcmp(w, g, c.row_bytes) == 0)
            continue;
        const float *xr = x + r * ncols;
        int rc = c.ti->family == KVV_FAMILY_TURBO ? judge_row_turbo(&c, r, xr, w, g, ties)
                                                  : judge_row_blocks(&c, r, xr, w, g, ties, r);
        if (rc < 0)
            return -1;
    }
    return 0;
}
