/* Statistics of a case's inputs for the reports.  The inputs are not kept
 * after a case runs (a run would hold gigabytes); they are regenerated from
 * the case, which is cheap and bit-reproducible, the same calls as
 * run_case.c makes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/gen.h"
#include "oracle/oracle.h"

/* k-th smallest of a[0..n) (Hoare selection; a is reordered). */
static float select_kth(float *a, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = a[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return a[k];
}

/* x is used as scratch (overwritten with |x| of the finite values). */
static void measure(float *x, int64_t n, const char *name, kvv_tensor_stats *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n = n;
    double sum = 0, sq = 0, mx = 0;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) {
            t->nonfinite++;
            continue;
        }
        double v = x[i];
        sum += v;
        sq += v * v;
        if (fabs(v) > mx)
            mx = fabs(v);
        x[m++] = fabsf(x[i]);
    }
    if (!m)
        return;
    t->mean = sum / (double)m;
    t->rms = sqrt(sq / (double)m);
    t->max_abs = mx;
    /* a robust scale, so that the outliers do not hide themselves by
     * inflating the rms: median |x| is 0.6745 sigma for a Gaussian */
    double sigma = select_kth(x, m, m / 2) / 0.6745;
    int64_t out = 0;
    for (int64_t i = 0; i < m; i++)
        out += x[i] > 6.0 * sigma;
    t->outlier_frac = (double)out / (double)m;
}

static int fill_measure(int64_t rows, int width, int period, const kvv_case *c, uint64_t stream, const char *name,
                        kvv_tensor_stats *t)
{
    float *x = malloc(sizeof(float) * (size_t)(rows * width));
    if (!x)
        return -1;
    kvv_gen_fill(x, rows, width, period, c->dist, c->seed, stream);
    measure(x, rows * width, name, t);
    free(x);
    return 0;
}

int kvv_case_input_stats(const kvv_case *c, kvv_input_stats *s)
{
    char why[256];
    memset(s, 0, sizeof *s);
    if (kvv_case_validate(c, why, sizeof why))
        return -1;
    if (c->op == KVV_OP_ATTN) {
        const int64_t nqr = (int64_t)c->n_head * c->n_q, nkr = (int64_t)c->n_head_kv * c->n_kv;
        if (fill_measure(nqr, c->dk, c->n_q, c, KVV_STREAM_Q, "Q", &s->t[0]) ||
            fill_measure(nkr, c->dk, c->n_kv, c, KVV_STREAM_K, "K", &s->t[1]) ||
            fill_measure(nkr, c->dv, c->n_kv, c, KVV_STREAM_V, "V", &s->t[2]))
            return -1;
        s->n = 3;
        return 0;
    }
    if (c->op == KVV_OP_QUANT || c->op == KVV_OP_DEQUANT || c->op == KVV_OP_WHT) {
        if (fill_measure(c->n_kv, c->dk, c->n_kv, c, KVV_STREAM_X, "X", &s->t[0]))
            return -1;
        s->n = 1;
        return 0;
    }
    return -1;
}
