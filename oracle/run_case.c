/* Running one case on one backend: make the inputs from the seed (or take
 * stored ones, to replay a dump), ask the backend and the reference, and
 * apply the rules.  An optional record keeps every tensor of the run for a
 * dump; without one nothing is copied. */
#include <math.h>
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

static const char *backend_error(const kvv_backend *b)
{
    const char *e = b->last_error ? b->last_error(b->ctx) : NULL;
    return e && *e ? e : "no message";
}

/* Map a backend status to the verdict: unsupported is a skip, a type stored
 * in no known format the format rule, any other failure the crash rule.
 * Returns 0 when the call succeeded. */
static int check_call(int rc, const kvv_backend *b, const char *what, kvv_verdict *v)
{
    if (rc == KVV_OK)
        return 0;
    if (rc == KVV_UNSUPPORTED) {
        if (v->status == KVV_PASS) {
            v->status = KVV_SKIP;
            snprintf(v->detail, sizeof v->detail, "%s: backend declined: %s", what, backend_error(b));
        }
    } else if (rc == KVV_BAD_FORMAT) {
        kvv_verdict_fail(v, KVV_RULE_FORMAT, "%s: the backend stores the type in no known format: %s", what,
                         backend_error(b));
    } else {
        kvv_verdict_fail(v, KVV_RULE_CRASH, "%s: backend failed (status %d): %s", what, rc, backend_error(b));
    }
    return -1;
}

static int out_of_memory(kvv_verdict *v)
{
    kvv_verdict_fail(v, KVV_RULE_CRASH, "out of memory preparing the case");
    return -1;
}

/* After a backend call that wrote into buf (oracle/guard.c): a guard it
 * wrote over is a crash verdict naming the buffer; -1 then (the case stops:
 * what the backend wrote cannot be trusted). */
static int check_guard(const void *buf, size_t bytes, const char *call, const char *what, kvv_verdict *v)
{
    size_t past, before;
    if (kvv_guard_check(buf, &past, &before) == 0)
        return 0;
    if (past)
        kvv_verdict_fail(v, KVV_RULE_CRASH, "%s: backend wrote %zu bytes past %s (a buffer of %zu bytes)", call, past,
                         what, bytes);
    else
        kvv_verdict_fail(v, KVV_RULE_CRASH, "%s: backend wrote before the start of %s (a buffer of %zu bytes)", call,
                         what, bytes);
    return -1;
}

/* ---------------- inputs and the record ---------------- */

enum { IN_Q, IN_K, IN_V, IN_MASK, IN_X, IN_COUNT };
static const char *const input_names[IN_COUNT] = {"q", "k", "v", "mask", "x"};
static const uint64_t input_streams[IN_COUNT] = {KVV_STREAM_Q, KVV_STREAM_K, KVV_STREAM_V, KVV_STREAM_MASK,
                                                 KVV_STREAM_X};

typedef struct {
    int ndim; /* 0: the op does not take this input */
    int64_t dims[3];
} in_shape;

static void input_shapes(const kvv_case *c, in_shape *s)
{
    memset(s, 0, sizeof *s * IN_COUNT);
    if (c->op == KVV_OP_ATTN) {
        s[IN_Q] = (in_shape){3, {c->n_head, c->n_q, c->dk}};
        s[IN_K] = (in_shape){3, {c->n_head_kv, c->n_kv, c->dk}};
        s[IN_V] = (in_shape){3, {c->n_head_kv, c->n_kv, c->dv}};
        s[IN_MASK] = (in_shape){2, {c->n_q, c->n_kv}};
    } else {
        s[IN_X] = (in_shape){2, {c->n_kv, c->dk}};
    }
}

static int64_t shape_count(const in_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->dims[i];
    return n;
}

/* The inputs the op takes, in bufs[IN_*]: copies of the stored arrays when
 * `in` is given, else generated from the seed (rows of the last dimension;
 * channel-structured distributions repeat with the sequence dimension). */
static int case_inputs(const kvv_case *c, const kvv_record *in, float **bufs, kvv_verdict *v)
{
    in_shape s[IN_COUNT];
    input_shapes(c, s);
    for (int i = 0; i < IN_COUNT; i++) {
        if (!s[i].ndim)
            continue;
        int64_t n = shape_count(&s[i]);
        bufs[i] = kvv_alloc(sizeof(float) * (size_t)n);
        if (!bufs[i])
            return out_of_memory(v);
        if (in) {
            const kvv_array *a = kvv_record_get(in, input_names[i]);
            int ok = a && a->dtype == KVV_DT_F32 && a->ndim == s[i].ndim &&
                     !memcmp(a->dims, s[i].dims, sizeof(int64_t) * (size_t)s[i].ndim);
            if (!ok) {
                kvv_verdict_fail(v, KVV_RULE_CRASH, "the stored input '%s' is missing or not f32 of the shape the case "
                                 "takes", input_names[i]);
                return -1;
            }
            memcpy(bufs[i], a->data, sizeof(float) * (size_t)n);
        } else if (i == IN_MASK) {
            kvv_gen_mask(bufs[i], c);
        } else {
            int last = s[i].ndim - 1;
            kvv_gen_fill(bufs[i], n / s[i].dims[last], (int)s[i].dims[last], (int)s[i].dims[last - 1], c->dist,
                         c->seed, input_streams[i]);
        }
    }
    return 0;
}

int kvv_case_inputs(const kvv_case *c, kvv_record *rec)
{
    float *bufs[IN_COUNT] = {0};
    in_shape s[IN_COUNT];
    kvv_verdict v;
    kvv_verdict_init(&v);
    input_shapes(c, s);
    int rc = case_inputs(c, NULL, bufs, &v);
    for (int i = 0; i < IN_COUNT; i++) {
        if (rc == 0 && bufs[i] && kvv_record_put(rec, input_names[i], KVV_DT_F32, KVV_TYPE_NONE, s[i].ndim, s[i].dims,
                                                 bufs[i]))
            rc = -1;
        kvv_free(bufs[i]);
    }
    return rc;
}

/* Keep a tensor in the record (a no-op without one).  A record is a best
 * effort: running out of memory for it does not change the verdict. */
static void keep(kvv_record *rec, const char *name, kvv_dtype dt, kvv_type t, const void *data, int ndim, int64_t d0,
                 int64_t d1, int64_t d2)
{
    if (!rec || !data)
        return;
    int64_t dims[3] = {d0, d1, d2};
    kvv_record_put(rec, name, dt, t, ndim, dims, data);
}

static void keep_inputs(kvv_record *rec, const kvv_case *c, float **bufs)
{
    in_shape s[IN_COUNT];
    input_shapes(c, s);
    for (int i = 0; rec && i < IN_COUNT; i++)
        if (s[i].ndim)
            keep(rec, input_names[i], KVV_DT_F32, KVV_TYPE_NONE, bufs[i], s[i].ndim, s[i].dims[0], s[i].dims[1],
                 s[i].dims[2]);
}

static double *to_f64(const float *x, size_t n)
{
    double *y = malloc(sizeof(double) * (n ? n : 1));
    if (y)
        for (size_t i = 0; i < n; i++)
            y[i] = x[i];
    return y;
}

/* ---------------- quantize ---------------- */

/* The backend's cache write.  With format (may be NULL), a type stored in
 * no known format is not a verdict yet: its message goes there and 1 is
 * returned, so that the caller can still run the attention over the bytes
 * the backend wrote (a crash there is the graver finding). */
static int backend_quantize_fmt(const kvv_backend *b, kvv_type t, const float *x, int64_t rows, int64_t cols,
                                kvv_toggles tg, void **out, kvv_verdict *v, char *format, size_t format_len)
{
    size_t n = kvv_row_bytes(t, cols) * (size_t)rows;
    *out = kvv_guard_alloc(n, "the quantized rows");
    if (!*out)
        return out_of_memory(v);
    double t0 = now();
    int rc = b->quantize_rows(b->ctx, t, x, *out, rows, cols, &tg);
    if (b->flush)
        b->flush(b->ctx);
    v->t_backend += now() - t0;
    if (check_guard(*out, n, "quantize", "the quantized rows", v))
        return -1;
    if (rc == KVV_BAD_FORMAT && format) {
        snprintf(format, format_len, "quantize %s: the backend stores the type in no known format: %s",
                 kvv_type_name(t), backend_error(b));
        return 1;
    }
    return check_call(rc, b, "quantize", v);
}

static int backend_quantize(const kvv_backend *b, kvv_type t, const float *x, int64_t rows, int64_t cols,
                            kvv_toggles tg, void **out, kvv_verdict *v)
{
    return backend_quantize_fmt(b, t, x, rows, cols, tg, out, v, NULL, 0);
}

static int ref_quantize(kvv_type t, const float *x, int64_t rows, int64_t cols, void **out, kvv_ref_ties *ties,
                        kvv_verdict *v)
{
    size_t n = kvv_row_bytes(t, cols) * (size_t)rows;
    *out = kvv_alloc(n);
    if (!*out || (ties && kvv_ref_ties_alloc(ties, t, rows, cols)))
        return out_of_memory(v);
    double t0 = now();
    int rc = kvv_ref_type_get(t)->quantize(x, *out, rows, cols, ties);
    v->t_ref += now() - t0;
    if (rc) {
        kvv_verdict_fail(v, KVV_RULE_CRASH, "reference cannot quantize rows of %lld values as %s", (long long)cols,
                         kvv_type_name(t));
        return -1;
    }
    return 0;
}

/* A cache in no known format: the backend's own values for its own bytes
 * are judged by the roundtrip rule; when they pass (or none came back) the
 * verdict is the format rule's, its text saying how well they came back. */
static void judge_own_roundtrip(const kvv_case *c, const kvv_backend *b, const float *x, const void *bytes,
                                const char *format, kvv_record *rec, kvv_verdict *v)
{
    const int64_t rows = c->n_kv, cols = c->dk;
    char note[200] = "";
    float *deq = kvv_guard_alloc(sizeof(float) * (size_t)(rows * cols), "the dequantized rows");
    if (!deq) {
        out_of_memory(v);
        return;
    }
    kvv_roundtrip_mark_unwritten(deq, rows * cols);
    double t0 = now();
    int rc = b->dequantize_rows(b->ctx, c->type_k, bytes, deq, rows, cols, &c->tg);
    if (b->flush)
        b->flush(b->ctx);
    v->t_backend += now() - t0;
    if (check_guard(deq, sizeof(float) * (size_t)(rows * cols), "dequantize of its own bytes", "the dequantized rows",
                    v)) {
        kvv_guard_free(deq);
        return;
    }
    if (rc == KVV_OK || rc == KVV_BAD_FORMAT) {
        keep(rec, "deq", KVV_DT_F32, KVV_TYPE_NONE, deq, 2, rows, cols, 0);
        kvv_judge_roundtrip(c->type_k, x, rows, cols, deq, v, note, sizeof note);
    } else if (rc == KVV_FAILED) {
        check_call(rc, b, "dequantize of its own bytes", v);
    } else {
        snprintf(note, sizeof note, "it declines to dequantize them");
    }
    kvv_verdict_fail(v, KVV_RULE_FORMAT, "%s; %s", format, note);
    kvv_guard_free(deq);
}

static void run_quant(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec,
                      kvv_verdict *v)
{
    const int64_t rows = c->n_kv, cols = c->dk;
    const int64_t rb = (int64_t)kvv_row_bytes(c->type_k, cols);
    float *bufs[IN_COUNT] = {0};
    void *canon = NULL, *got = NULL, *base = NULL;
    kvv_ref_ties ties = {0};
    if (case_inputs(c, in, bufs, v))
        goto done;
    float *x = bufs[IN_X];
    keep_inputs(rec, c, bufs);
    int ok = ref_quantize(c->type_k, x, rows, cols, &canon, &ties, v) == 0;
    keep(rec, "canon", KVV_DT_U8, c->type_k, ok ? canon : NULL, 2, rows, rb, 0);
    char format[KVV_FORMAT_NOTE] = "";
    int q = ok ? backend_quantize_fmt(b, c->type_k, x, rows, cols, c->tg, &got, v, format, sizeof format) : -1;
    ok = q == 0;
    keep(rec, "bytes", KVV_DT_U8, c->type_k, q >= 0 ? got : NULL, 2, rows, rb, 0);
    if (q == 1)
        judge_own_roundtrip(c, b, x, got, format, rec, v);
    if (ok) {
        kvv_judge_bytes(c->type_k, x, rows, cols, canon, &ties, got, "", v);
        if (kvv_toggles_has_speed(c->tg) &&
            backend_quantize(b, c->type_k, x, rows, cols, kvv_toggles_baseline(c->tg), &base, v) == 0)
            kvv_judge_same_bytes(got, base, kvv_row_bytes(c->type_k, cols) * (size_t)rows,
                                 kvv_row_bytes(c->type_k, cols), KVV_RULE_TOGGLE, "quantized vs baseline toggles", v);
    }
done:
    kvv_ref_ties_free(&ties);
    for (int i = 0; i < IN_COUNT; i++)
        kvv_free(bufs[i]);
    kvv_free(canon);
    kvv_guard_free(got);
    kvv_guard_free(base);
}

/* ---------------- dequantize ---------------- */

static int backend_dequantize(const kvv_backend *b, kvv_type t, const void *src, int64_t rows, int64_t cols,
                              kvv_toggles tg, float **out, kvv_verdict *v)
{
    *out = kvv_guard_alloc(sizeof(float) * (size_t)(rows * cols), "the dequantized rows");
    if (!*out)
        return out_of_memory(v);
    double t0 = now();
    int rc = b->dequantize_rows(b->ctx, t, src, *out, rows, cols, &tg);
    if (b->flush)
        b->flush(b->ctx);
    v->t_backend += now() - t0;
    if (check_guard(*out, sizeof(float) * (size_t)(rows * cols), "dequantize", "the dequantized rows", v))
        return -1;
    return check_call(rc, b, "dequantize", v);
}

static void run_dequant(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec,
                        kvv_verdict *v)
{
    const int64_t rows = c->n_kv, cols = c->dk;
    float *bufs[IN_COUNT] = {0};
    float *want = kvv_alloc(sizeof(float) * (size_t)(rows * cols)), *got = NULL, *base = NULL;
    void *canon = NULL;
    if (!want) {
        out_of_memory(v);
        goto done;
    }
    if (case_inputs(c, in, bufs, v))
        goto done;
    float *x = bufs[IN_X];
    keep_inputs(rec, c, bufs);
    if (ref_quantize(c->type_k, x, rows, cols, &canon, NULL, v))
        goto done;
    keep(rec, "canon", KVV_DT_U8, c->type_k, canon, 2, rows, (int64_t)kvv_row_bytes(c->type_k, cols), 0);
    double t0 = now();
    kvv_ref_type_get(c->type_k)->dequantize(canon, want, rows, cols);
    v->t_ref += now() - t0;
    keep(rec, "ref_deq", KVV_DT_F32, KVV_TYPE_NONE, want, 2, rows, cols, 0);
    if (backend_dequantize(b, c->type_k, canon, rows, cols, c->tg, &got, v))
        goto done;
    keep(rec, "deq", KVV_DT_F32, KVV_TYPE_NONE, got, 2, rows, cols, 0);
    kvv_judge_same_f32(got, want, rows * cols, cols, KVV_RULE_DEQUANT, "dequantized", v);
    if (kvv_toggles_has_speed(c->tg) &&
        backend_dequantize(b, c->type_k, canon, rows, cols, kvv_toggles_baseline(c->tg), &base, v) == 0)
        kvv_judge_same_f32(got, base, rows * cols, cols, KVV_RULE_TOGGLE, "dequantized vs baseline toggles", v);
done:
    for (int i = 0; i < IN_COUNT; i++)
        kvv_free(bufs[i]);
    kvv_free(want);
    kvv_guard_free(got);
    kvv_guard_free(base);
    kvv_free(canon);
}

/* ---------------- WHT ---------------- */

static int backend_wht(const kvv_backend *b, float *x, int64_t rows, int64_t cols, int group, int inverse,
                       kvv_toggles tg, kvv_verdict *v)
{
    double t0 = now();
    int rc = b->wht(b->ctx, x, rows, cols, group, inverse, &tg);
    if (b->flush)
        b->flush(b->ctx);
    v->t_backend += now() - t0;
    if (check_guard(x, sizeof(float) * (size_t)(rows * cols), inverse ? "inverse WHT" : "WHT", "the rows", v))
        return -1;
    return check_call(rc, b, inverse ? "inverse WHT" : "WHT", v);
}

static void run_wht(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec, kvv_verdict *v)
{
    const int64_t rows = c->n_kv, cols = c->dk, n = rows * cols;
    float *bufs[IN_COUNT] = {0}, *x = NULL;
    float *y = kvv_guard_alloc(sizeof(float) * (size_t)n, "the rows");
    float *z = kvv_guard_alloc(sizeof(float) * (size_t)n, "the rows");
    float *base = kvv_guard_alloc(sizeof(float) * (size_t)n, "the rows");
    double *ry = NULL, *rz = NULL, *bound = malloc(sizeof(double) * (size_t)n);
    if (!y || !z || !base || !bound) {
        out_of_memory(v);
        goto done;
    }
    if (case_inputs(c, in, bufs, v))
        goto done;
    x = bufs[IN_X];
    keep_inputs(rec, c, bufs);
    memcpy(y, x, sizeof(float) * (size_t)n);
    if (backend_wht(b, y, rows, cols, c->group, 0, c->tg, v))
        goto done;
    keep(rec, "out", KVV_DT_F32, KVV_TYPE_NONE, y, 2, rows, cols, 0);
    memcpy(z, y, sizeof(float) * (size_t)n);
    if (backend_wht(b, z, rows, cols, c->group, 1, c->tg, v))
        goto done;
    keep(rec, "inv", KVV_DT_F32, KVV_TYPE_NONE, z, 2, rows, cols, 0);
    double t0 = now();
    ry = to_f64(x, (size_t)n);
    rz = to_f64(y, (size_t)n);
    if (!ry || !rz) {
        out_of_memory(v);
        goto done;
    }
    kvv_ref_wht(ry, rows, cols, c->group, 0);
    kvv_ref_wht(rz, rows, cols, c->group, 1); /* the inverse of what the backend produced */
    v->t_ref += now() - t0;
    keep(rec, "ref_out", KVV_DT_F64, KVV_TYPE_NONE, ry, 2, rows, cols, 0);
    keep(rec, "ref_inv", KVV_DT_F64, KVV_TYPE_NONE, rz, 2, rows, cols, 0);
    kvv_judge_finite(y, ry, n, cols, "forward", v);
    kvv_wht_bound(x, rows, cols, c->group, bound);
    keep(rec, "bound", KVV_DT_F64, KVV_TYPE_NONE, bound, 2, rows, cols, 0);
    kvv_judge_ratio(y, ry, bound, n, cols, "forward", v);
    kvv_judge_finite(z, rz, n, cols, "inverse", v);
    kvv_wht_bound(y, rows, cols, c->group, bound);
    keep(rec, "bound_inv", KVV_DT_F64, KVV_TYPE_NONE, bound, 2, rows, cols, 0);
    kvv_judge_ratio(z, rz, bound, n, cols, "inverse", v);
    if (kvv_toggles_has_speed(c->tg)) {
        memcpy(base, x, sizeof(float) * (size_t)n);
        if (backend_wht(b, base, rows, cols, c->group, 0, kvv_toggles_baseline(c->tg), v) == 0)
            kvv_judge_same_f32(y, base, n, cols, KVV_RULE_TOGGLE, "forward vs baseline toggles", v);
    }
done:
    for (int i = 0; i < IN_COUNT; i++)
        kvv_free(bufs[i]);
    kvv_guard_free(y);
    kvv_guard_free(z);
    kvv_guard_free(base);
    free(ry);
    free(rz);
    free(bound);
}

/* ---------------- attention ---------------- */

typedef struct {
    float *q, *k, *v, *mask;     /* inputs */
    void *kb, *vb;               /* backend's cache bytes */
    void *kc, *vc;               /* reference canonical bytes */
    kvv_ref_ties kt, vt;
    float *out;                  /* backend output [n_head][n_q][dv] */
    float *deq;                  /* scratch for dequantized rows */
    double *qd, *kd, *vd;        /* f64 operands in the kernel's basis */
    double *o1, *o1rot, *probs, *scores, *bound, *oq, *ox;
} attn_bufs;

static void attn_free(attn_bufs *w)
{
    void *fl[] = {w->q, w->k, w->v, w->mask, w->kc, w->vc, w->deq};
    for (size_t i = 0; i < sizeof fl / sizeof *fl; i++)
        kvv_free(fl[i]);
    kvv_guard_free(w->kb);
    kvv_guard_free(w->vb);
    kvv_guard_free(w->out);
    double *dl[] = {w->qd, w->kd, w->vd, w->o1, w->o1rot, w->probs, w->scores, w->bound, w->oq, w->ox};
    for (size_t i = 0; i < sizeof dl / sizeof *dl; i++)
        free(dl[i]);
    kvv_ref_ties_free(&w->kt);
    kvv_ref_ties_free(&w->vt);
}

/* f64 copy of a cache in the basis the kernel works in: the reference's
 * dequantization of the given bytes (rotated basis for turbo types). */
static int ref_operand(kvv_type t, const void *bytes, int64_t rows, int64_t cols, float *scratch, double **out)
{
    kvv_ref_type_get(t)->dequantize(bytes, scratch, rows, cols);
    *out = to_f64(scratch, (size_t)(rows * cols));
    return *out ? 0 : -1;
}

static double rms_diff_f32(const float *a, const double *b, size_t n)
{
    double s = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(a[i]) && isfinite(b[i])) {
            double d = a[i] - b[i];
            s += d * d;
            m++;
        }
    return m ? sqrt(s / m) : NAN; /* no finite pair: no error to measure (the finite rule's business) */
}

static double rms_diff(const double *a, const double *b, size_t n)
{
    double s = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(a[i]) && (!b || isfinite(b[i]))) {
            double d = a[i] - (b ? b[i] : 0.0);
            s += d * d;
            m++;
        }
    return m ? sqrt(s / m) : 0.0;
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* rms of emu - ref over the entries where ref is finite; infinite when the
 * emulation overflowed where the reference did not (it then explains
 * nothing, and the bound's allowance stands) */
static double claim_rms_error(const double *emu, const double *ref, size_t n)
{
    double s = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(ref[i]))
            continue;
        if (!isfinite(emu[i]))
            return INFINITY;
        double d = emu[i] - ref[i];
        s += d * d;
        m++;
    }
    return m ? sqrt(s / m) : 0.0;
}

/* The claim goes into the verdict, and into the text of an arith or budget
 * failure (what its bound was built from). */
static void note_claim(kvv_verdict *v, const kvv_attn_info *info, double kv_used)
{
    if (v->status != KVV_FAIL || (v->rule != KVV_RULE_ARITH && v->rule != KVV_RULE_BUDGET) ||
        strstr(v->detail, "claimed kv_round"))
        return;
    char claim[160];
    kvv_claim_text(info->kv_round, info->acc_round, claim, sizeof claim);
    size_t len = strlen(v->detail);
    snprintf(v->detail + len, sizeof v->detail - len, " [%s%s]", claim,
             kv_used < info->kv_round ? "; kv_round capped at what a q8 conversion of this Q needs" : "");
}

static int backend_attention(const kvv_backend *b, const kvv_case *c, attn_bufs *w, kvv_toggles tg, float *out,
                             kvv_attn_info *info, kvv_verdict *v)
{
    kvv_attn_args a = {
        .dk = c->dk, .dv = c->dv, .n_q = c->n_q, .n_kv = c->n_kv, .n_head = c->n_head, .n_head_kv = c->n_head_kv,
        .type_k = c->type_k, .type_v = c->type_v, .q = w->q, .k = w->kb, .v = w->vb,
        .mask = c->mask == KVV_MASK_NONE && c->max_bias == 0.0f ? NULL : w->mask,
        .scale = kvv_case_scale(c), .max_bias = c->max_bias, .softcap = c->softcap, .tg = tg,
    };
    info->kv_round = 0;
    info->acc_round = 0x1p-24;
    double t0 = now();
    int rc = b->attention(b->ctx, &a, out, info);
    if (b->flush)
        b->flush(b->ctx);
    v->t_backend += now() - t0;
    if (check_guard(out, sizeof(float) * (size_t)a.n_head * a.n_q * a.dv, "attention", "out", v))
        return -1;
    return check_call(rc, b, "attention", v);
}

static void run_attn(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec,
                     kvv_verdict *v)
{
    attn_bufs w;
    memset(&w, 0, sizeof w);
    const int64_t nqr = (int64_t)c->n_head * c->n_q, nkr = (int64_t)c->n_head_kv * c->n_kv;
    const size_t nout = (size_t)(nqr * c->dv);
    const int dmax = c->dk > c->dv ? c->dk : c->dv;
    const kvv_type_info *tk = kvv_type_get(c->type_k), *tv = kvv_type_get(c->type_v);
    const int64_t kvh = c->n_head_kv, kbytes = (int64_t)kvv_row_bytes(c->type_k, c->dk),
                  vbytes = (int64_t)kvv_row_bytes(c->type_v, c->dv);
    w.out = kvv_guard_alloc(sizeof(float) * nout, "out");
    w.deq = kvv_alloc(sizeof(float) * (size_t)(nkr * dmax));
    if (!w.out || !w.deq) {
        out_of_memory(v);
        goto done;
    }
    float *bufs[IN_COUNT] = {0};
    int in_rc = case_inputs(c, in, bufs, v);
    w.q = bufs[IN_Q];
    w.k = bufs[IN_K];
    w.v = bufs[IN_V];
    w.mask = bufs[IN_MASK];
    if (in_rc)
        goto done;
    keep_inputs(rec, c, bufs);

    /* the backend writes its cache, then attends over it; a cache in no
     * known format cannot be judged, but its attention still runs, so that
     * a crash or failure there is what the verdict says */
    char fmt_k[640] = "", fmt_v[640] = "";
    int qk = backend_quantize_fmt(b, c->type_k, w.k, nkr, c->dk, c->tg, &w.kb, v, fmt_k, sizeof fmt_k);
    if (qk < 0)
        goto done;
    keep(rec, "k_bytes", KVV_DT_U8, c->type_k, w.kb, 3, kvh, c->n_kv, kbytes);
    int qv = backend_quantize_fmt(b, c->type_v, w.v, nkr, c->dv, c->tg, &w.vb, v, fmt_v, sizeof fmt_v);
    if (qv < 0) {
        if (qk) /* V declined or failed: K's format is still a finding (a failure outranks a skip) */
            kvv_verdict_fail(v, KVV_RULE_FORMAT, "%s", fmt_k);
        goto done;
    }
    keep(rec, "v_bytes", KVV_DT_U8, c->type_v, w.vb, 3, kvh, c->n_kv, vbytes);
    kvv_attn_info info;
    if (qk || qv) {
        float *scratch = kvv_guard_alloc(sizeof(float) * nout, "out");
        int rc = KVV_UNSUPPORTED;
        if (scratch) {
            kvv_attn_args a = {.dk = c->dk, .dv = c->dv, .n_q = c->n_q, .n_kv = c->n_kv, .n_head = c->n_head,
                               .n_head_kv = c->n_head_kv, .type_k = c->type_k, .type_v = c->type_v, .q = w.q,
                               .k = w.kb, .v = w.vb,
                               .mask = c->mask == KVV_MASK_NONE && c->max_bias == 0.0f ? NULL : w.mask,
                               .scale = kvv_case_scale(c), .max_bias = c->max_bias, .softcap = c->softcap, .tg = c->tg};
            double t0 = now();
            rc = b->attention(b->ctx, &a, scratch, &info);
            v->t_backend += now() - t0;
            if (check_guard(scratch, sizeof(float) * nout, "attention", "out", v))
                rc = -1;
            kvv_guard_free(scratch);
        }
        if (rc == -1)
            goto done;
        if (rc == KVV_FAILED)
            check_call(rc, b, "attention over a cache in no known format", v);
        else
            kvv_verdict_fail(v, KVV_RULE_FORMAT, "%s", qk ? fmt_k : fmt_v);
        goto done;
    }
    if (backend_attention(b, c, &w, c->tg, w.out, &info, v))
        goto done;
    v->has_claim = 1;
    v->claimed_kv_round = info.kv_round;
    v->claimed_acc_round = info.acc_round;
    keep(rec, "out", KVV_DT_F32, KVV_TYPE_NONE, w.out, 3, c->n_head, c->n_q, c->dv);

    /* bytes: the cache against the canonical quantization */
    if (ref_quantize(c->type_k, w.k, nkr, c->dk, &w.kc, &w.kt, v) ||
        ref_quantize(c->type_v, w.v, nkr, c->dv, &w.vc, &w.vt, v))
        goto done;
    keep(rec, "k_canon", KVV_DT_U8, c->type_k, w.kc, 3, kvh, c->n_kv, kbytes);
    keep(rec, "v_canon", KVV_DT_U8, c->type_v, w.vc, 3, kvh, c->n_kv, vbytes);
    kvv_judge_bytes(c->type_k, w.k, nkr, c->dk, w.kc, &w.kt, w.kb, "K", v);
    kvv_judge_bytes(c->type_v, w.v, nkr, c->dv, w.vc, &w.vt, w.vb, "V", v);

    /* arith: f64 attention over the backend's own cache, in the basis the
     * kernel works in (Q rotated when K is rotated; the output inverse
     * rotated when V is) */
    double t0 = now();
    const int gk = tk->rotated ? kvv_rot_group(c->dk) : 0, gv = tv->rotated ? kvv_rot_group(c->dv) : 0;
    w.qd = to_f64(w.q, (size_t)(nqr * c->dk));
    w.o1 = malloc(sizeof(double) * nout);
    w.o1rot = malloc(sizeof(double) * nout);
    w.bound = malloc(sizeof(double) * nout);
    w.probs = malloc(sizeof(double) * (size_t)(nqr * c->n_kv));
    w.scores = malloc(sizeof(double) * (size_t)(nqr * c->n_kv));
    if (!w.qd || !w.o1 || !w.o1rot || !w.bound || !w.probs || !w.scores ||
        ref_operand(c->type_k, w.kb, nkr, c->dk, w.deq, &w.kd)) {
        out_of_memory(v);
        goto done;
    }
    keep(rec, "k_deq", KVV_DT_F32, KVV_TYPE_NONE, w.deq, 3, kvh, c->n_kv, c->dk);
    if (ref_operand(c->type_v, w.vb, nkr, c->dv, w.deq, &w.vd)) {
        out_of_memory(v);
        goto done;
    }
    keep(rec, "v_deq", KVV_DT_F32, KVV_TYPE_NONE, w.deq, 3, kvh, c->n_kv, c->dv);
    if (gk)
        kvv_ref_wht(w.qd, nqr, c->dk, gk, 0);
    kvv_ref_attn_args ra = {c->dk, c->dv, c->n_q, c->n_kv, c->n_head, c->n_head_kv, w.qd, w.kd, w.vd,
                            c->mask == KVV_MASK_NONE && c->max_bias == 0.0f ? NULL : w.mask,
                            kvv_case_scale(c), c->max_bias, c->softcap};
    if (kvv_ref_attention(&ra, w.o1rot, w.probs, w.scores)) {
        out_of_memory(v);
        goto done;
    }
    memcpy(w.o1, w.o1rot, sizeof(double) * nout);
    if (gv)
        kvv_ref_wht(w.o1, nqr, c->dv, gv, 1);
    keep(rec, "scores", KVV_DT_F64, KVV_TYPE_NONE, w.scores, 3, c->n_head, c->n_q, c->n_kv);
    keep(rec, "probs", KVV_DT_F64, KVV_TYPE_NONE, w.probs, 3, c->n_head, c->n_q, c->n_kv);
    keep(rec, "ref_out", KVV_DT_F64, KVV_TYPE_NONE, w.o1, 3, c->n_head, c->n_q, c->dv);
    kvv_judge_finite(w.out, w.o1, (int64_t)nout, c->dv, "out", v);
    /* the precision claim is untrusted input (oracle/claims.c): one that
     * names no precision that exists fails, and no bound is built from it */
    char claim_why[200];
    if (kvv_claim_check(info.kv_round, info.acc_round, claim_why, sizeof claim_why)) {
        v->t_ref += now() - t0;
        kvv_verdict_fail(v, KVV_RULE_ARITH, "%s", claim_why);
        goto done;
    }
    const double kv_used = kvv_claim_kv_cap(&ra, info.kv_round);
    kvv_bound_args ba = {&ra, w.o1rot, w.probs, w.scores, kv_used, info.acc_round,
                         gk ? (int)lround(log2(gk)) : -1, gv};
    if (kvv_attn_bound(&ba, w.bound)) {
        out_of_memory(v);
        goto done;
    }
    /* what arithmetic of the claimed precision does on this input: the
     * budget rule's allowance for a claim coarser than f32 */
    double claimed_err = -1;
    const int finite_inputs = all_finite(w.k, (size_t)(nkr * c->dk)) && all_finite(w.v, (size_t)(nkr * c->dv)) &&
                              all_finite(w.q, (size_t)(nqr * c->dk));
    if (finite_inputs && kvv_claim_coarse(kv_used, info.acc_round)) {
        double *emu = malloc(sizeof(double) * nout);
        for (int k = 0; k < kvv_claim_variants(kv_used); k++) {
            if (!emu || kvv_claim_emulate(&ra, kv_used, info.acc_round, k, emu)) {
                free(emu);
                out_of_memory(v);
                goto done;
            }
            claimed_err = fmax(claimed_err, claim_rms_error(emu, w.o1rot, nout));
        }
        free(emu);
    }
    v->t_ref += now() - t0;
    keep(rec, "bound", KVV_DT_F64, KVV_TYPE_NONE, w.bound, 3, c->n_head, c->n_q, c->dv);
    kvv_judge_ratio(w.out, w.o1, w.bound, (int64_t)nout, c->dv, "out", v);
    note_claim(v, &info, kv_used);

    /* budget: against the unquantized truth, over the distortion of the
     * reference's own quantization (skipped when the inputs hold NaN/Inf:
     * there is no finite truth to measure against) */
    if (finite_inputs) {
        t0 = now();
        free(w.kd);
        free(w.vd);
        w.oq = malloc(sizeof(double) * nout);
        w.ox = malloc(sizeof(double) * nout);
        w.kd = to_f64(w.k, (size_t)(nkr * c->dk));
        w.vd = to_f64(w.v, (size_t)(nkr * c->dv));
        free(w.qd);
        w.qd = to_f64(w.q, (size_t)(nqr * c->dk));
        if (!w.oq || !w.ox || !w.kd || !w.vd || !w.qd) {
            out_of_memory(v);
            goto done;
        }
        ra.q = w.qd;
        ra.k = w.kd;
        ra.v = w.vd;
        kvv_ref_attention(&ra, w.ox, NULL, NULL);
        keep(rec, "ref_exact", KVV_DT_F64, KVV_TYPE_NONE, w.ox, 3, c->n_head, c->n_q, c->dv);
        /* the reference's quantized path: canonical bytes, dequantized and
         * rotated back, in the original basis */
        free(w.kd);
        free(w.vd);
        w.kd = w.vd = NULL;
        if (ref_operand(c->type_k, w.kc, nkr, c->dk, w.deq, &w.kd) ||
            ref_operand(c->type_v, w.vc, nkr, c->dv, w.deq, &w.vd)) {
            out_of_memory(v);
            goto done;
        }
        if (gk)
            kvv_ref_wht(w.kd, nkr, c->dk, gk, 1);
        if (gv)
            kvv_ref_wht(w.vd, nkr, c->dv, gv, 1);
        ra.k = w.kd;
        ra.v = w.vd;
        kvv_ref_attention(&ra, w.oq, NULL, NULL);
        v->t_ref += now() - t0;
        double eb = rms_diff_f32(w.out, w.ox, nout), er = rms_diff(w.oq, w.ox, nout);
        /* the arithmetic allowance: the rms of the arith bound, or for a
         * claim coarser than f32 what that arithmetic does on this input
         * when that is less (oracle/claims.c: the worst case of f16 sums
         * would let the weights go nearly anywhere) */
        double ea = rms_diff(w.bound, NULL, nout);
        const int measured = claimed_err >= 0 && claimed_err < ea;
        if (measured)
            ea = claimed_err;
        double denom = er + ea;
        double ratio = isnan(eb) ? NAN /* no finite output to measure: no ratio */
                       : eb == 0.0 ? 0.0 : denom > 0.0 ? eb / denom : INFINITY;
        v->budget_ratio = ratio;
        if (ratio > KVV_BUDGET_THRESHOLD)
            kvv_verdict_fail(v, KVV_RULE_BUDGET,
                             "rms error vs unquantized %.4g is %.3g x the type's own distortion %.4g (+ arithmetic "
                             "allowance %.3g%s; threshold %g)",
                             eb, ratio, er, ea, measured ? ", what the claimed precision does on this input" : "",
                             KVV_BUDGET_THRESHOLD);
        note_claim(v, &info, kv_used);
    }

    /* toggle: speed-only toggles at their baseline must give the same bits */
    if (kvv_toggles_has_speed(c->tg)) {
        kvv_toggles bt = kvv_toggles_baseline(c->tg);
        void *kb0 = NULL, *vb0 = NULL;
        float *out0 = kvv_guard_alloc(sizeof(float) * nout, "out");
        kvv_attn_info info0;
        if (!out0) {
            out_of_memory(v);
        } else if (backend_quantize(b, c->type_k, w.k, nkr, c->dk, bt, &kb0, v) == 0 &&
                   backend_quantize(b, c->type_v, w.v, nkr, c->dv, bt, &vb0, v) == 0) {
            kvv_judge_same_bytes(w.kb, kb0, kvv_row_bytes(c->type_k, c->dk) * (size_t)nkr,
                                 kvv_row_bytes(c->type_k, c->dk), KVV_RULE_TOGGLE, "K cache vs baseline toggles", v);
            kvv_judge_same_bytes(w.vb, vb0, kvv_row_bytes(c->type_v, c->dv) * (size_t)nkr,
                                 kvv_row_bytes(c->type_v, c->dv), KVV_RULE_TOGGLE, "V cache vs baseline toggles", v);
            void *kb1 = w.kb, *vb1 = w.vb;
            w.kb = kb0;
            w.vb = vb0;
            if (backend_attention(b, c, &w, bt, out0, &info0, v) == 0)
                kvv_judge_same_f32(w.out, out0, (int64_t)nout, c->dv, KVV_RULE_TOGGLE, "out vs baseline toggles", v);
            w.kb = kb1;
            w.vb = vb1;
        }
        kvv_guard_free(kb0);
        kvv_guard_free(vb0);
        kvv_guard_free(out0);
    }
done:
    attn_free(&w);
}

void kvv_run_case(const kvv_case *c, const kvv_backend *b, kvv_verdict *v) { kvv_run_case_io(c, b, NULL, NULL, v); }

void kvv_run_case_io(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec,
                     kvv_verdict *v)
{
    kvv_verdict_init(v);
    char why[256];
    if (kvv_case_validate(c, why, sizeof why)) {
        kvv_verdict_fail(v, KVV_RULE_CRASH, "invalid case: %s", why);
        return;
    }
    if (b->supports && !b->supports(b->ctx, c, why, sizeof why)) {
        v->status = KVV_SKIP;
        snprintf(v->detail, sizeof v->detail, "backend declined: %s", why);
        return;
    }
    switch (c->op) {
    case KVV_OP_QUANT:
        run_quant(c, b, in, rec, v);
        break;
    case KVV_OP_DEQUANT:
        run_dequant(c, b, in, rec, v);
        break;
    case KVV_OP_WHT:
        run_wht(c, b, in, rec, v);
        break;
    case KVV_OP_ATTN:
        run_attn(c, b, in, rec, v);
        break;
    case KVV_OP_PPL:
        kvv_run_ppl(c, b, v);
        break;
    default:
        v->status = KVV_SKIP;
        snprintf(v->detail, sizeof v->detail, "op %s is not run by this runner", kvv_op_name(c->op));
        break;
    }
}
