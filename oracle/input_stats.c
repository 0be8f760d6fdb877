/* Statistics of a case's inputs for the reports.  The inputs are not kept
 * after a case runs (a run would hold gigabytes); they are regenerated from
 * the case (kvv_case_inputs: the very arrays the run used, bit for bit). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/run.h"

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

/* The inputs of a case, named as kvv_case_inputs names them, and the
 * names the report shows (the mask is no input statistic). */
static const struct {
    const char *array, *shown;
} tensors[] = {{"q", "Q"}, {"k", "K"}, {"v", "V"}, {"x", "X"}};

int kvv_case_input_stats(const kvv_case *c, kvv_input_stats *s)
{
    char why[256];
    memset(s, 0, sizeof *s);
    if (kvv_case_validate(c, why, sizeof why))
        return -1;
    kvv_record rec = {0};
    int rc = kvv_case_inputs(c, &rec);
    for (size_t i = 0; rc == 0 && i < sizeof tensors / sizeof *tensors && s->n < 3; i++) {
        const kvv_array *a = kvv_record_get(&rec, tensors[i].array);
        if (!a || a->dtype != KVV_DT_F32)
            continue;
        /* measure() works in place: the record is ours to scribble on */
        measure(a->data, kvv_array_count(a), tensors[i].shown, &s->t[s->n++]);
    }
    kvv_record_free(&rec);
    return rc == 0 && s->n > 0 ? 0 : -1;
}
