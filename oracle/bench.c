/* `kvverify bench`: a program, not a test.  Times quantize, WHT and
 * attention (decode and prefill) for each selected backend and for the
 * reference, in one run, and prints throughput and ratios: to the reference,
 * and to the first backend of the list.  Each figure is the best of several
 * repetitions after a warm-up. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz/gen.h"
#include "kvv/tensor.h"
#include "oracle/oracle.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* best time of fn over reps, after one warm-up call; negative on failure */
typedef int (*timed_fn)(void *arg);
static double best_of(timed_fn fn, void *arg, int reps)
{
    if (fn(arg))
        return -1;
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (fn(arg))
            return -1;
        double t = now() - t0;
        if (t < best)
            best = t;
    }
    return best;
}

/* ---- quantize ---- */
typedef struct {
    const kvv_backend *b;
    kvv_type t;
    const float *x;
    void *dst;
    int64_t rows, cols;
    kvv_toggles tg;
} qarg;

static int q_backend(void *p)
{
    qarg *a = p;
    int rc = a->b->quantize_rows(a->b->ctx, a->t, a->x, a->dst, a->rows, a->cols, &a->tg);
    if (a->b->flush)
        a->b->flush(a->b->ctx);
    return rc;
}

static int q_ref(void *p)
{
    qarg *a = p;
    return kvv_ref_type_get(a->t)->quantize(a->x, a->dst, a->rows, a->cols, NULL);
}

/* ---- WHT ---- */
typedef struct {
    const kvv_backend *b;
    float *x;
    double *xd;
    int64_t rows, cols;
    int group;
    kvv_toggles tg;
} warg;

static int w_backend(void *p)
{
    warg *a = p;
    int rc = a->b->wht(a->b->ctx, a->x, a->rows, a->cols, a->group, 0, &a->tg);
    if (a->b->flush)
        a->b->flush(a->b->ctx);
    return rc;
}

static int w_ref(void *p)
{
    warg *a = p;
    kvv_ref_wht(a->xd, a->rows, a->cols, a->group, 0);
    return 0;
}

/* ---- attention ---- */
typedef struct {
    const kvv_backend *b;
    kvv_attn_args args;
    float *out;
    kvv_ref_attn_args ra;
    double *rout, *ga, *gb, *gc;
    int m, n, k;
} aarg;

static int a_backend(void *p)
{
    aarg *a = p;
    kvv_attn_info info;
    int rc = a->b->attention(a->b->ctx, &a->args, a->out, &info);
    if (a->b->flush)
        a->b->flush(a->b->ctx);
    return rc;
}

static int a_ref(void *p)
{
    aarg *a = p;
    return kvv_ref_attention(&a->ra, a->rout, NULL, NULL);
}

/* the plain dgemm work of the same attention: per head, q k^T and p v */
static int a_dgemm(void *p)
{
    aarg *a = p;
    const kvv_ref_attn_args *r = &a->ra;
    for (int h = 0; h < r->n_head; h++) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r->n_q, r->n_kv, r->dk, 1.0, a->ga, r->dk, a->gb, r->dk,
                    0.0, a->gc, r->n_kv);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r->n_q, r->dv, r->n_kv, 1.0, a->gc, r->n_kv, a->gb,
                    r->dv, 0.0, a->rout, r->dv);
    }
    return 0;
}

/* One line: time and throughput, then speed relative to the reference and,
 * from the second backend on, to the first backend of the list (so that
 * `-b cpu,ggml-cpu` reads as ggml's speed in units of ours); base is NULL
 * for the first backend itself. */
typedef struct {
    double t;          /* the first backend's time for this line's work; <= 0 when it has none */
    const char *name;
} bench_base;

static void print_rate(FILE *out, const char *what, const char *bname, double t, double units, const char *unit,
                       double ref_t, const bench_base *base)
{
    if (t < 0) {
        fprintf(out, "  %-34s %-12s %12s\n", what, bname, "unsupported");
        return;
    }
    fprintf(out, "  %-34s %-12s %10.3f ms %10.2f %-7s", what, bname, t * 1e3, units / t, unit);
    if (ref_t > 0)
        fprintf(out, "  %7.1fx the reference", ref_t / t);
    if (base && base->t > 0)
        fprintf(out, "  %6.2fx %s", base->t / t, base->name);
    fprintf(out, "\n");
}

int kvv_bench(FILE *out, const kvv_backend *const *bk, const char *const *names, int nb, int threads, int reps)
{
    kvv_toggles tg = kvv_toggles_default();
    tg.threads = threads;
    fprintf(out, "kvverify bench: best of %d after a warm-up; backends at threads=%d\n\n", reps, threads);

    /* quantize: 4096 rows of 128 values (a 2 MiB f32 K slab) */
    const int64_t qrows = 4096, qcols = 128;
    float *x = kvv_alloc(sizeof(float) * (size_t)(qrows * qcols));
    void *dst = kvv_alloc(sizeof(float) * (size_t)(qrows * qcols));
    if (!x || !dst)
        return -1;
    kvv_gen_fill(x, qrows, (int)qcols, (int)qrows, KVV_DIST_OUTLIER, 1, KVV_STREAM_X);
    double gb = (double)(qrows * qcols) * sizeof(float) / 1e9;
    fprintf(out, "quantize %lld x %lld f32 (GB/s of f32 input):\n", (long long)qrows, (long long)qcols);
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        qarg a = {NULL, (kvv_type)t, x, dst, qrows, qcols, tg};
        double tr = best_of(q_ref, &a, reps);
        char what[64];
        snprintf(what, sizeof what, "quantize %s", kvv_type_name((kvv_type)t));
        print_rate(out, what, "ref", tr, gb, "GB/s", 0, NULL);
        bench_base base = {0, names[0]};
        for (int b = 0; b < nb; b++) {
            a.b = bk[b];
            double t = best_of(q_backend, &a, reps);
            if (b == 0)
                base.t = t;
            print_rate(out, what, names[b], t, gb, "GB/s", tr, b ? &base : NULL);
        }
    }

    /* WHT: the same slab in groups of 128 */
    fprintf(out, "\nWHT %lld x %lld, group 128 (GB/s of f32 data):\n", (long long)qrows, (long long)qcols);
    {
        warg a = {NULL, x, malloc(sizeof(double) * (size_t)(qrows * qcols)), qrows, qcols, 128, tg};
        for (int64_t i = 0; i < qrows * qcols && a.xd; i++)
            a.xd[i] = x[i];
        double tr = a.xd ? best_of(w_ref, &a, reps) : -1;
        print_rate(out, "wht g128", "ref", tr, gb, "GB/s", 0, NULL);
        bench_base base = {0, names[0]};
        for (int b = 0; b < nb; b++) {
            a.b = bk[b];
            double t = best_of(w_backend, &a, reps);
            if (b == 0)
                base.t = t;
            print_rate(out, "wht g128", names[b], t, gb, "GB/s", tr, b ? &base : NULL);
        }
        free(a.xd);
    }

    /* attention: decode (1 query, long cache) and prefill (causal block) */
    static const struct {
        const char *name;
        int nq, nkv, h, hkv, d;
    } shapes[] = {{"decode", 1, 4096, 32, 8, 128}, {"prefill", 256, 256, 8, 8, 128}};
    static const kvv_type atypes[] = {KVV_F16, KVV_Q8_0, KVV_Q4_0, KVV_TURBO3, KVV_TURBO4};
    for (int s = 0; s < 2; s++) {
        int nq = shapes[s].nq, nkv = shapes[s].nkv, h = shapes[s].h, hkv = shapes[s].hkv, d = shapes[s].d;
        fprintf(out, "\nattention %s: nq %d, nkv %d, heads %d/%d, head_dim %d (GFLOP/s of the two products)\n",
                shapes[s].name, nq, nkv, h, hkv, d);
        size_t nqe = (size_t)h * nq * d, nke = (size_t)hkv * nkv * d;
        float *q = kvv_alloc(sizeof(float) * nqe), *k = kvv_alloc(sizeof(float) * nke),
              *v = kvv_alloc(sizeof(float) * nke), *o = kvv_alloc(sizeof(float) * nqe),
              *mask = kvv_alloc(sizeof(float) * (size_t)nq * nkv);
        double *qd = malloc(sizeof(double) * nqe), *kd = malloc(sizeof(double) * nke),
               *vd = malloc(sizeof(double) * nke), *rout = malloc(sizeof(double) * nqe),
               *gc = malloc(sizeof(double) * (size_t)nq * nkv);
        void *kb = kvv_alloc(sizeof(float) * nke), *vb = kvv_alloc(sizeof(float) * nke);
        if (!q || !k || !v || !o || !mask || !qd || !kd || !vd || !rout || !gc || !kb || !vb)
            return -1;
        kvv_gen_fill(q, (int64_t)h * nq, d, nq, KVV_DIST_GAUSS, 2, KVV_STREAM_Q);
        kvv_gen_fill(k, (int64_t)hkv * nkv, d, nkv, KVV_DIST_OUTLIER, 2, KVV_STREAM_K);
        kvv_gen_fill(v, (int64_t)hkv * nkv, d, nkv, KVV_DIST_GAUSS, 2, KVV_STREAM_V);
        kvv_case mc = kvv_case_default(KVV_OP_ATTN);
        mc.n_q = nq;
        mc.n_kv = nkv;
        mc.mask = nq > 1 ? KVV_MASK_CAUSAL : KVV_MASK_NONE;
        kvv_gen_mask(mask, &mc);
        for (size_t i = 0; i < nqe; i++)
            qd[i] = q[i];
        for (size_t i = 0; i < nke; i++) {
            kd[i] = k[i];
            vd[i] = v[i];
        }
        double flops = 2.0 * h * nq * nkv * (2.0 * d) / 1e9;
        aarg a;
        memset(&a, 0, sizeof a);
        a.ra = (kvv_ref_attn_args){d, d, nq, nkv, h, hkv, qd, kd, vd, nq > 1 ? mask : NULL, 1.0 / sqrt(d), 0, 0};
        a.rout = rout;
        a.ga = qd;
        a.gb = kd;
        a.gc = gc;
        double tr = best_of(a_ref, &a, reps), tg_ = best_of(a_dgemm, &a, reps);
        print_rate(out, "reference (f64, OpenBLAS)", "ref", tr, flops, "GFLOP/s", 0, NULL);
        print_rate(out, "plain dgemm of the same size", "blas", tg_, flops, "GFLOP/s", 0, NULL);
        if (tr > 0 && tg_ > 0)
            fprintf(out, "  reference attention / plain dgemm: %.2fx the time\n", tr / tg_);
        for (size_t ti = 0; ti < sizeof atypes / sizeof *atypes; ti++) {
            bench_base base = {0, names[0]};
            for (int b = 0; b < nb; b++) {
                char what[64];
                snprintf(what, sizeof what, "%s %s-%s", shapes[s].name, kvv_type_name(atypes[ti]),
                         kvv_type_name(atypes[ti]));
                int ok = bk[b]->quantize_rows(bk[b]->ctx, atypes[ti], k, kb, (int64_t)hkv * nkv, d, &tg) == KVV_OK &&
                         bk[b]->quantize_rows(bk[b]->ctx, atypes[ti], v, vb, (int64_t)hkv * nkv, d, &tg) == KVV_OK;
                a.b = bk[b];
                a.args = (kvv_attn_args){d, d, nq, nkv, h, hkv, atypes[ti], atypes[ti], q, kb, vb,
                                         nq > 1 ? mask : NULL, (float)(1.0 / sqrt(d)), 0, 0, tg};
                a.out = o;
                double t = ok ? best_of(a_backend, &a, reps) : -1;
                if (b == 0)
                    base.t = t;
                print_rate(out, what, names[b], t, flops, "GFLOP/s", tr, b ? &base : NULL);
            }
        }
        kvv_free(q);
        kvv_free(k);
        kvv_free(v);
        kvv_free(o);
        kvv_free(mask);
        kvv_free(kb);
        kvv_free(vb);
        free(qd);
        free(kd);
        free(vd);
        free(rout);
        free(gc);
    }
    kvv_free(x);
    kvv_free(dst);
    return 0;
}
