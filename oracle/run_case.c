/* Running one case on one backend: make the inputs from the seed (or take
 * stored ones, to replay a dump), then the op's runner (the table at the
 * end: oracle/run_rows.c, oracle/run_attn.c, oracle/run_ppl.c) asks the
 * backend and the reference and applies the rules.  An optional record
 * keeps every tensor of the run for a dump; without one nothing is copied.
 * This file also holds what the runners share (oracle/run_common.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen/gen.h"
#include "kvv/tensor.h"
#include "oracle/guard.h"
#include "oracle/ppl.h"
#include "oracle/run.h"
#include "oracle/verdict.h"
#include "oracle/run_common.h"

double kvv_run_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char *kvv_run_backend_error(const kvv_backend *b)
{
    const char *e = b->last_error ? b->last_error(b->ctx) : NULL;
    return e && *e ? e : "no message";
}

/* Map a backend status to the verdict: unsupported is a skip, a type stored
 * in no known format the format rule, any other failure the crash rule.
 * Returns 0 when the call succeeded. */
int kvv_run_check_call(int rc, const kvv_backend *b, const char *what, kvv_verdict *v)
{
    if (rc == KVV_OK)
        return 0;
    if (rc == KVV_UNSUPPORTED) {
        if (v->status == KVV_PASS) {
            v->status = KVV_SKIP;
            snprintf(v->detail, sizeof v->detail, "%s: backend declined: %s", what, kvv_run_backend_error(b));
        }
    } else if (rc == KVV_BAD_FORMAT) {
        kvv_verdict_fail(v, KVV_RULE_FORMAT, "%s: the backend stores the type in no known format: %s", what,
                         kvv_run_backend_error(b));
    } else {
        kvv_verdict_fail(v, KVV_RULE_CRASH, "%s: backend failed (status %d): %s", what, rc, kvv_run_backend_error(b));
    }
    return -1;
}

int kvv_run_out_of_memory(kvv_verdict *v)
{
    kvv_verdict_fail(v, KVV_RULE_CRASH, "out of memory preparing the case");
    return -1;
}

/* After a backend call that wrote into buf (oracle/guard.c): a guard it
 * wrote over is a crash verdict naming the buffer; -1 then (the case stops:
 * what the backend wrote cannot be trusted). */
int kvv_run_check_guard(const void *buf, size_t bytes, const char *call, const char *what, kvv_verdict *v)
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

static const char *const input_names[IN_COUNT] = {"q", "k", "v", "mask", "x"};
static const uint64_t input_streams[IN_COUNT] = {KVV_STREAM_Q, KVV_STREAM_K, KVV_STREAM_V, KVV_STREAM_MASK,
                                                 KVV_STREAM_X};

typedef struct {
    int ndim; /* 0: the op does not take this input */
    int64_t dims[3];
} in_shape;

static void kvv_run_input_shapes(const kvv_case *c, in_shape *s)
{
    memset(s, 0, sizeof *s * IN_COUNT);
    if (kvv_op_get(c->op)->shape == KVV_SHAPE_HEADS) {
        s[IN_Q] = (in_shape){3, {c->n_head, c->n_q, c->dk}};
        s[IN_K] = (in_shape){3, {c->n_head_kv, c->n_kv, c->dk}};
        s[IN_V] = (in_shape){3, {c->n_head_kv, c->n_kv, c->dv}};
        s[IN_MASK] = (in_shape){2, {c->n_q, c->n_kv}};
    } else {
        s[IN_X] = (in_shape){2, {c->n_kv, c->dk}};
    }
}

static int64_t kvv_run_shape_count(const in_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n *= s->dims[i];
    return n;
}

/* The inputs the op takes, in bufs[IN_*]: copies of the stored arrays when
 * `in` is given, else generated from the seed (rows of the last dimension;
 * channel-structured distributions repeat with the sequence dimension). */
int kvv_run_case_inputs(const kvv_case *c, const kvv_record *in, float **bufs, kvv_verdict *v)
{
    in_shape s[IN_COUNT];
    kvv_run_input_shapes(c, s);
    for (int i = 0; i < IN_COUNT; i++) {
        if (!s[i].ndim)
            continue;
        int64_t n = kvv_run_shape_count(&s[i]);
        bufs[i] = kvv_alloc(sizeof(float) * (size_t)n);
        if (!bufs[i])
            return kvv_run_out_of_memory(v);
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
    kvv_run_input_shapes(c, s);
    int rc = kvv_run_case_inputs(c, NULL, bufs, &v);
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
void kvv_run_keep(kvv_record *rec, const char *name, kvv_dtype dt, kvv_type t, const void *data, int ndim, int64_t d0,
                 int64_t d1, int64_t d2)
{
    if (!rec || !data)
        return;
    int64_t dims[3] = {d0, d1, d2};
    kvv_record_put(rec, name, dt, t, ndim, dims, data);
}

void kvv_run_keep_inputs(kvv_record *rec, const kvv_case *c, float **bufs)
{
    in_shape s[IN_COUNT];
    kvv_run_input_shapes(c, s);
    for (int i = 0; rec && i < IN_COUNT; i++)
        if (s[i].ndim)
            kvv_run_keep(rec, input_names[i], KVV_DT_F32, KVV_TYPE_NONE, bufs[i], s[i].ndim, s[i].dims[0], s[i].dims[1],
                 s[i].dims[2]);
}

double *kvv_run_to_f64(const float *x, size_t n)
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
int kvv_run_backend_quantize_fmt(const kvv_backend *b, kvv_type t, const float *x, int64_t rows, int64_t cols,
                                kvv_toggles tg, void **out, kvv_verdict *v, char *format, size_t format_len)
{
    size_t n = kvv_row_bytes(t, cols) * (size_t)rows;
    *out = kvv_guard_alloc(n, "the quantized rows");
    if (!*out)
        return kvv_run_out_of_memory(v);
    double t0 = kvv_run_now();
    int rc = b->quantize_rows(b->ctx, t, x, *out, rows, cols, &tg);
    if (b->flush)
        b->flush(b->ctx);
    v->t_backend += kvv_run_now() - t0;
    if (kvv_run_check_guard(*out, n, "quantize", "the quantized rows", v))
        return -1;
    if (rc == KVV_BAD_FORMAT && format) {
        snprintf(format, format_len, "quantize %s: the backend stores the type in no known format: %s",
                 kvv_type_name(t), kvv_run_backend_error(b));
        return 1;
    }
    return kvv_run_check_call(rc, b, "quantize", v);
}

int kvv_run_backend_quantize(const kvv_backend *b, kvv_type t, const float *x, int64_t rows, int64_t cols,
                            kvv_toggles tg, void **out, kvv_verdict *v)
{
    return kvv_run_backend_quantize_fmt(b, t, x, rows, cols, tg, out, v, NULL, 0);
}

int kvv_run_ref_quantize(kvv_type t, const float *x, int64_t rows, int64_t cols, void **out, kvv_ref_ties *ties,
                        kvv_verdict *v)
{
    size_t n = kvv_row_bytes(t, cols) * (size_t)rows;
    *out = kvv_alloc(n);
    if (!*out || (ties && kvv_ref_ties_alloc(ties, t, rows, cols)))
        return kvv_run_out_of_memory(v);
    double t0 = kvv_run_now();
    int rc = kvv_ref_type_get(t)->quantize(x, *out, rows, cols, ties);
    v->t_ref += kvv_run_now() - t0;
    if (rc) {
        kvv_verdict_fail(v, KVV_RULE_CRASH, "reference cannot quantize rows of %lld values as %s", (long long)cols,
                         kvv_type_name(t));
        return -1;
    }
    return 0;
}

static void run_ppl(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec, kvv_verdict *v)
{
    (void)in;
    (void)rec; /* a model run is recorded by its own dump of logits, not here */
    kvv_run_ppl(c, b, v);
}

/* The oracle's half of the op table (kvv_op_get has the facts): how each
 * op's cases are run and judged. */
typedef struct {
    void (*run)(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec, kvv_verdict *v);
} kvv_op_runner;
static const kvv_op_runner runners[KVV_OP_COUNT] = {[KVV_OP_QUANT] = {kvv_run_quant},
                                                    [KVV_OP_DEQUANT] = {kvv_run_dequant},
                                                    [KVV_OP_WHT] = {kvv_run_wht},
                                                    [KVV_OP_ATTN] = {kvv_run_attn},
                                                    [KVV_OP_PPL] = {run_ppl}};

static const kvv_op_runner *kvv_op_runner_get(kvv_op op)
{
    return (unsigned)op < KVV_OP_COUNT && runners[op].run ? &runners[op] : NULL;
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
    const kvv_op_runner *r = kvv_op_runner_get(c->op);
    if (!r) {
        v->status = KVV_SKIP;
        snprintf(v->detail, sizeof v->detail, "op %s is not run by this runner", kvv_op_name(c->op));
        return;
    }
    r->run(c, b, in, rec, v);
}
