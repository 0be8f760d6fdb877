/* The roundtrip rule: a cache the backend stores in no known format
 * (KVV_BAD_FORMAT) has no canonical bytes to compare, but it must still give
 * back what was written.  The backend's dequantization of its own bytes is
 * compared with the input row by row (relative L2 error) in the basis that
 * fits it best: the input as it is, or its WHT rotation in a group size the
 * family uses (a fork's dequantizer may stay in the rotated basis, as the
 * fork's turbo types do, or rotate back, as its dense-rotation turbo4 did).
 * The yardstick is the reference's own round trip of the same rows in every
 * known format version of the cache type, each in its own basis; the worst
 * version sets the bound, so a new format as good as any known one passes
 * and one that loses the data (a stub that writes only the norm, indices
 * read from the wrong bytes) does not. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/rules.h"
#include "oracle/verdict.h"

/* RMS over the rows against the worst version's RMS, and each row against
 * the worst version's error on that row: room for a new format somewhat
 * worse than the known ones, none for one that loses the values. */
#define RT_FACTOR 2.0
#define RT_ROW_FACTOR 3.0
#define RT_FLOOR 1e-3     /* for rows the reference keeps almost exactly */
#define RT_ROW_FLOOR 1e-2

static uint32_t bits32(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

void kvv_roundtrip_mark_unwritten(float *buf, int64_t n)
{
    const uint32_t s = KVV_UNWRITTEN_F32;
    for (int64_t i = 0; i < n; i++)
        memcpy(&buf[i], &s, sizeof s);
}

/* Relative L2 error of row `got` against row `want` (f64); inf when got has
 * a non-finite or unwritten value. */
static double row_error(const float *got, const double *want, int64_t cols, double norm)
{
    double s = 0;
    for (int64_t c = 0; c < cols; c++) {
        if (!isfinite(got[c]) || bits32(got[c]) == KVV_UNWRITTEN_F32)
            return INFINITY;
        double d = (double)got[c] - want[c];
        s += d * d;
    }
    return sqrt(s) / norm;
}

/* The input in basis b: b = 0 as it is, else the forward WHT in groups of b. */
static void in_basis(const double *x, double *y, int64_t rows, int64_t cols, int b)
{
    memcpy(y, x, sizeof(double) * (size_t)(rows * cols));
    if (b)
        kvv_ref_wht(y, rows, cols, b, 0);
}

static void basis_name(int b, char *s, size_t n)
{
    if (b)
        snprintf(s, n, "WHT groups of %d", b);
    else
        snprintf(s, n, "the input's own basis");
}

int kvv_judge_roundtrip(kvv_type t, const float *x, int64_t rows, int64_t cols, const float *got, kvv_verdict *v,
                        char *note, size_t note_len)
{
    const kvv_type_info *ti = kvv_type_get(t);
    const int64_t n = rows * cols;
    int rc = -1;
    snprintf(note, note_len, "no round trip judged");
    if (!ti || rows <= 0 || cols <= 0)
        return -1;
    int64_t unwritten = 0;
    for (int64_t i = 0; i < n; i++)
        unwritten += bits32(got[i]) == KVV_UNWRITTEN_F32;
    if (unwritten == n) {
        snprintf(note, note_len, "the backend gave no values back, so its round trip is not judged");
        return -1;
    }
    double *xd = malloc(sizeof(double) * (size_t)n), *ref_err = malloc(sizeof(double) * (size_t)rows);
    double *norm = malloc(sizeof(double) * (size_t)rows), *yb = malloc(sizeof(double) * (size_t)n);
    float *deq = kvv_alloc(sizeof(float) * (size_t)n);
    void *bytes = NULL;
    char *judged = calloc((size_t)rows, 1);
    if (!xd || !ref_err || !norm || !yb || !deq || !judged) {
        kvv_verdict_fail(v, KVV_RULE_CRASH, "out of memory judging the round trip");
        rc = 1;
        goto done;
    }
    /* rows that can be judged: finite, not all zero */
    for (int64_t r = 0; r < rows; r++) {
        double s = 0;
        int finite = 1;
        for (int64_t c = 0; c < cols; c++) {
            double a = x[r * cols + c];
            finite &= isfinite(a) != 0;
            xd[r * cols + c] = a;
            s += a * a;
        }
        norm[r] = sqrt(s);
        judged[r] = finite && norm[r] > 0 && isfinite(norm[r]);
        ref_err[r] = -1;
    }
    /* the reference's round trip in every known version of the cache type */
    int nver = 0;
    for (int tv = 0; tv < KVV_TYPE_COUNT; tv++) {
        const kvv_type_info *vi = kvv_type_get((kvv_type)tv);
        const kvv_ref_type *rt = kvv_ref_type_get((kvv_type)tv);
        if (!vi || !rt || strcmp(vi->cache, ti->cache) || !kvv_type_fits((kvv_type)tv, (int)cols, NULL, 0))
            continue;
        kvv_free(bytes);
        bytes = kvv_alloc(kvv_row_bytes((kvv_type)tv, cols) * (size_t)rows);
        if (!bytes || rt->quantize(x, bytes, rows, cols, NULL))
            continue;
        rt->dequantize(bytes, deq, rows, cols);
        in_basis(xd, yb, rows, cols, vi->rotated ? kvv_rot_group((int)cols) : 0);
        for (int64_t r = 0; r < rows; r++) {
            double e = judged[r] ? row_error(deq + r * cols, yb + r * cols, cols, norm[r]) : INFINITY;
            if (isfinite(e) && e > ref_err[r])
                ref_err[r] = e;
        }
        nver++;
    }
    int64_t nrows = 0;
    double ref_ss = 0;
    for (int64_t r = 0; r < rows; r++) {
        judged[r] = judged[r] && ref_err[r] >= 0; /* the reference round-trips it finitely */
        if (judged[r]) {
            nrows++;
            ref_ss += ref_err[r] * ref_err[r];
        }
    }
    if (!nver || !nrows) {
        snprintf(note, note_len, "no row the reference round-trips finitely, so the round trip is not judged");
        goto done;
    }
    const double ref_rms = sqrt(ref_ss / (double)nrows);
    /* the backend's basis: the one where its values are nearest the input */
    int best_b = 0;
    double best_rms = INFINITY;
    int worst_row = -1;
    double worst_row_ratio = 0;
    for (int b = 0; b <= 128; b = b ? 2 * b : 16) {
        if (b && (cols % b || ti->family != KVV_FAMILY_TURBO))
            continue;
        in_basis(xd, yb, rows, cols, b);
        double ss = 0;
        for (int64_t r = 0; r < rows; r++)
            if (judged[r]) {
                double e = row_error(got + r * cols, yb + r * cols, cols, norm[r]);
                ss += e * e;
            }
        double rms = sqrt(ss / (double)nrows);
        if (rms < best_rms || (best_rms == INFINITY && b == 0)) {
            best_rms = rms;
            best_b = b;
        }
    }
    in_basis(xd, yb, rows, cols, best_b);
    for (int64_t r = 0; r < rows; r++) {
        if (!judged[r])
            continue;
        double e = row_error(got + r * cols, yb + r * cols, cols, norm[r]);
        double ratio = e / (RT_ROW_FACTOR * ref_err[r] + RT_ROW_FLOOR);
        if (worst_row < 0 || ratio > worst_row_ratio || isnan(ratio)) {
            worst_row = (int)r;
            worst_row_ratio = ratio;
        }
    }
    char bn[40];
    basis_name(best_b, bn, sizeof bn);
    v->checked += nrows * cols;
    const int rms_bad = !(best_rms <= RT_FACTOR * ref_rms + RT_FLOOR), row_bad = !(worst_row_ratio <= 1.0);
    if (rms_bad || row_bad) {
        /* the worst row's largest difference, for the reports */
        kvv_diff d = {worst_row, 0, 0, 0, 0};
        double dmax = -1;
        for (int64_t c = 0; c < cols; c++) {
            double g = got[worst_row * cols + c], w = yb[worst_row * cols + c];
            double a = isfinite(g) ? fabs(g - w) : INFINITY;
            if (a > dmax) {
                dmax = a;
                d = (kvv_diff){worst_row, c, g, w, 0};
            }
        }
        double we = row_error(got + worst_row * cols, yb + worst_row * cols, cols, norm[worst_row]);
        kvv_verdict_fail_at(v, &d, 1, KVV_RULE_ROUNDTRIP,
                            "the backend's own round trip of %s loses the values: relative error %.3g RMS over %lld "
                            "rows (%s), the reference's known versions at most %.3g (bound %.3g); row %d: %.3g "
                            "against %.3g",
                            ti->cache, best_rms, (long long)nrows, bn, ref_rms, RT_FACTOR * ref_rms + RT_FLOOR,
                            worst_row, we, ref_err[worst_row]);
        snprintf(note, note_len, "its own round trip loses the values (%.3g against the known versions' %.3g)",
                 best_rms, ref_rms);
        rc = 1;
    } else {
        snprintf(note, note_len, "its own round trip gives back the input to %.3g RMS relative error (%s), the "
                 "known versions %.3g", best_rms, bn, ref_rms);
        rc = 0;
    }
done:
    free(xd);
    free(ref_err);
    free(norm);
    free(yb);
    free(judged);
    kvv_free(deq);
    kvv_free(bytes);
    return rc;
}
