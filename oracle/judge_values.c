/* Rules on value arrays: bitwise identity (dequant, toggle), NaN/Inf
 * placement (finite) and normalized error ratios (arith).  Each failure
 * keeps its first few differing elements for the reports. */
#include <math.h>
#include <string.h>

#include "oracle/rules.h"
#include "oracle/verdict.h"

static uint32_t bits32(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static void note_diff(kvv_diff *d, int *nd, int64_t i, int64_t row_len, double got, double want, double bound)
{
    if (*nd >= KVV_VERDICT_DIFFS)
        return;
    d[*nd] = (kvv_diff){i / row_len, i % row_len, got, want, bound};
    (*nd)++;
}

int kvv_judge_same_f32(const float *got, const float *want, int64_t n, int64_t row_len, kvv_rule rule,
                       const char *what, kvv_verdict *v)
{
    int64_t first = -1, ndiff = 0;
    kvv_diff d[KVV_VERDICT_DIFFS];
    int nd = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(got[i]) && isnan(want[i]))
            continue;
        if (bits32(got[i]) != bits32(want[i])) {
            if (first < 0)
                first = i;
            ndiff++;
            note_diff(d, &nd, i, row_len, got[i], want[i], 0);
        }
    }
    v->checked += n;
    if (first < 0)
        return 0;
    kvv_verdict_fail_at(v, d, nd, rule,
                        "%s[%lld,%lld] = %.9g (0x%08x), expected %.9g (0x%08x); %lld of %lld values differ", what,
                        (long long)(first / row_len), (long long)(first % row_len), (double)got[first],
                        bits32(got[first]), (double)want[first], bits32(want[first]), (long long)ndiff, (long long)n);
    return -1;
}

int kvv_judge_same_bytes(const void *got, const void *want, size_t n, size_t row_bytes, kvv_rule rule,
                         const char *what, kvv_verdict *v)
{
    const uint8_t *g = got, *w = want;
    v->checked += (int64_t)n;
    if (memcmp(g, w, n) == 0)
        return 0;
    size_t first = 0, ndiff = 0;
    kvv_diff d[KVV_VERDICT_DIFFS];
    int nd = 0;
    for (size_t i = 0; i < n; i++)
        if (g[i] != w[i]) {
            if (!ndiff)
                first = i;
            ndiff++;
            note_diff(d, &nd, (int64_t)i, (int64_t)row_bytes, g[i], w[i], 0);
        }
    kvv_verdict_fail_at(v, d, nd, rule, "%s row %zu byte %zu: 0x%02x, expected 0x%02x; %zu of %zu bytes differ",
                        what, first / row_bytes, first % row_bytes, g[first], w[first], ndiff, n);
    return -1;
}

int kvv_judge_finite(const float *got, const double *ref, int64_t n, int64_t row_len, const char *what,
                     kvv_verdict *v)
{
    int64_t first = -1;
    kvv_diff d[KVV_VERDICT_DIFFS];
    int nd = 0;
    for (int64_t i = 0; i < n && nd < KVV_VERDICT_DIFFS; i++)
        if ((isfinite(got[i]) != 0) != (isfinite(ref[i]) != 0)) {
            if (first < 0)
                first = i;
            note_diff(d, &nd, i, row_len, got[i], ref[i], 0);
        }
    if (first < 0)
        return 0;
    kvv_verdict_fail_at(v, d, nd, KVV_RULE_FINITE, "%s[%lld,%lld] = %g where the reference has %g", what,
                        (long long)(first / row_len), (long long)(first % row_len), (double)got[first], ref[first]);
    return -1;
}

int kvv_judge_ratio(const float *got, const double *ref, const double *bound, int64_t n, int64_t row_len,
                    const char *what, kvv_verdict *v)
{
    double worst = 0.0;
    int64_t at = -1;
    kvv_diff d[KVV_VERDICT_DIFFS]; /* the first elements over the threshold (the text names the worst) */
    int nd = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(ref[i]) || !isfinite(got[i]))
            continue; /* the finite rule's business */
        double err = fabs((double)got[i] - ref[i]);
        double r = err == 0.0 ? 0.0 : bound[i] > 0.0 ? err / bound[i] : INFINITY;
        if (r > KVV_ARITH_THRESHOLD)
            note_diff(d, &nd, i, row_len, got[i], ref[i], bound[i]);
        if (r > worst || at < 0) {
            worst = r;
            at = i;
        }
    }
    if (at >= 0 && (isnan(v->arith_ratio) || worst > v->arith_ratio)) /* none when no element was finite */
        v->arith_ratio = worst;
    v->checked += n;
    if (worst <= KVV_ARITH_THRESHOLD)
        return 0;
    kvv_verdict_fail_at(v, d, nd, KVV_RULE_ARITH,
                        "%s[%lld,%lld] = %.9g, reference %.9g: |error| %.3g is %.3g x the bound %.3g (threshold %g)",
                        what, (long long)(at / row_len), (long long)(at % row_len), (double)got[at], ref[at],
                        fabs((double)got[at] - ref[at]), worst, bound[at], KVV_ARITH_THRESHOLD);
    return -1;
}
