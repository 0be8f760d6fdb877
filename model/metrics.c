/* Perplexity of the reference and of the run, KL(ref || run) per position,
 * top-1 agreement, and non-finite logits, all evaluated in f64. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

/* log-softmax of one row into lp (f64), from f64 or f32 logits */
static void log_softmax(const double *zd, const float *zf, int nv, double *lp)
{
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < nv; i++) {
        lp[i] = zd ? zd[i] : (double)zf[i];
        mx = lp[i] > mx ? lp[i] : mx;
    }
    for (int i = 0; i < nv; i++)
        s += exp(lp[i] - mx);
    double lz = mx + log(s);
    for (int i = 0; i < nv; i++)
        lp[i] -= lz;
}

static int argmax(const double *x, int n)
{
    int k = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[k])
            k = i;
    return k;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int kvv_ppl_compare(const double *ref, const float *run, const int32_t *tokens, int n, int nv, kvv_ppl_stats *s)
{
    memset(s, 0, sizeof *s);
    s->first_nonfinite = -1;
    if (n < 2 || nv < 1)
        return -1;
    double *lr = malloc(sizeof(double) * (size_t)nv), *lq = malloc(sizeof(double) * (size_t)nv);
    double *kl = malloc(sizeof(double) * (size_t)n);
    if (!lr || !lq || !kl) {
        free(lr);
        free(lq);
        free(kl);
        return -1;
    }
    double nll_ref = 0, nll_run = 0;
    int agree = 0, nk = 0;
    for (int i = 0; i + 1 < n; i++) {
        const float *z = run + (size_t)i * nv;
        int finite = 1;
        for (int v = 0; v < nv; v++)
            finite &= isfinite(z[v]) != 0;
        log_softmax(ref + (size_t)i * nv, NULL, nv, lr);
        nll_ref -= lr[tokens[i + 1]];
        if (!finite) {
            if (s->nonfinite++ == 0)
                s->first_nonfinite = i;
            continue;
        }
        log_softmax(NULL, z, nv, lq);
        nll_run -= lq[tokens[i + 1]];
        double d = 0;
        for (int v = 0; v < nv; v++)
            d += exp(lr[v]) * (lr[v] - lq[v]);
        kl[nk++] = d > 0 ? d : 0; /* rounding can make a zero divergence slightly negative */
        agree += argmax(lr, nv) == argmax(lq, nv);
    }
    s->n = n - 1;
    s->ppl_ref = exp(nll_ref / s->n);
    if (nk) {
        double sum = 0;
        for (int i = 0; i < nk; i++)
            sum += kl[i];
        qsort(kl, (size_t)nk, sizeof *kl, cmp_double);
        s->kl_mean = sum / nk;
        /* nearest rank: the smallest value with at least 99% of positions at or below it */
        int r = (int)ceil(0.99 * nk) - 1;
        s->kl_p99 = kl[r < 0 ? 0 : r];
        s->kl_max = kl[nk - 1];
        s->top1 = (double)agree / nk;
    }
    s->ppl_run = s->nonfinite ? NAN : exp(nll_run / s->n);
    s->ratio = s->ppl_run / s->ppl_ref;
    free(lr);
    free(lq);
    free(kl);
    return 0;
}
