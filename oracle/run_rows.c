/* The row ops' runners (the op table, oracle/run_case.c): quantize (bytes
 * against the canonical quantization, with ties, and the backend's own
 * round trip), dequantize (values of canonical bytes) and the WHT (both
 * directions against the f64 rotation). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kvv/tensor.h"
#include "oracle/formats.h"
#include "oracle/guard.h"
#include "oracle/rules.h"
#include "oracle/verdict.h"
#include "oracle/run_common.h"

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
        kvv_run_out_of_memory(v);
        return;
    }
    kvv_roundtrip_mark_unwritten(deq, rows * cols);
    double t0 = kvv_run_now();
    int rc = b->dequantize_rows(b->ctx, c->type_k, bytes, deq, rows, cols, &c->tg);
    if (b->flush)
        b->flush(b->ctx);
    v->t_backend += kvv_run_now() - t0;
    if (kvv_run_check_guard(deq, sizeof(float) * (size_t)(rows * cols), "dequantize of its own bytes", "the dequantized rows",
                    v)) {
        kvv_guard_free(deq);
        return;
    }
    if (rc == KVV_OK || rc == KVV_BAD_FORMAT) {
        kvv_run_keep(rec, "deq", KVV_DT_F32, KVV_TYPE_NONE, deq, 2, rows, cols, 0);
        kvv_judge_roundtrip(c->type_k, x, rows, cols, deq, v, note, sizeof note);
    } else if (rc == KVV_FAILED) {
        kvv_run_check_call(rc, b, "dequantize of its own bytes", v);
    } else {
        snprintf(note, sizeof note, "it declines to dequantize them");
    }
    kvv_verdict_fail(v, KVV_RULE_FORMAT, "%s; %s", format, note);
    kvv_guard_free(deq);
}

void kvv_run_quant(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec,
                      kvv_verdict *v)
{
    const int64_t rows = c->n_kv, cols = c->dk;
    const int64_t rb = (int64_t)kvv_row_bytes(c->type_k, cols);
    float *bufs[IN_COUNT] = {0};
    void *canon = NULL, *got = NULL, *base = NULL;
    kvv_ref_ties ties = {0};
    if (kvv_run_case_inputs(c, in, bufs, v))
        goto done;
    float *x = bufs[IN_X];
    kvv_run_keep_inputs(rec, c, bufs);
    int ok = kvv_run_ref_quantize(c->type_k, x, rows, cols, &canon, &ties, v) == 0;
    kvv_run_keep(rec, "canon", KVV_DT_U8, c->type_k, ok ? canon : NULL, 2, rows, rb, 0);
    char format[KVV_FORMAT_NOTE] = "";
    int q = ok ? kvv_run_backend_quantize_fmt(b, c->type_k, x, rows, cols, c->tg, &got, v, format, sizeof format) : -1;
    ok = q == 0;
    kvv_run_keep(rec, "bytes", KVV_DT_U8, c->type_k, q >= 0 ? got : NULL, 2, rows, rb, 0);
    if (q == 1)
        judge_own_roundtrip(c, b, x, got, format, rec, v);
    if (ok) {
        kvv_judge_bytes(c->type_k, x, rows, cols, canon, &ties, got, "", v);
        if (kvv_toggles_has_speed(c->tg) &&
            kvv_run_backend_quantize(b, c->type_k, x, rows, cols, kvv_toggles_baseline(c->tg), &base, v) == 0)
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
        return kvv_run_out_of_memory(v);
    double t0 = kvv_run_now();
    int rc = b->dequantize_rows(b->ctx, t, src, *out, rows, cols, &tg);
    if (b->flush)
        b->flush(b->ctx);
    v->t_backend += kvv_run_now() - t0;
    if (kvv_run_check_guard(*out, sizeof(float) * (size_t)(rows * cols), "dequantize", "the dequantized rows", v))
        return -1;
    return kvv_run_check_call(rc, b, "dequantize", v);
}

void kvv_run_dequant(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec,
                        kvv_verdict *v)
{
    const int64_t rows = c->n_kv, cols = c->dk;
    float *bufs[IN_COUNT] = {0};
    float *want = kvv_alloc(sizeof(float) * (size_t)(rows * cols)), *got = NULL, *base = NULL;
    void *canon = NULL;
    if (!want) {
        kvv_run_out_of_memory(v);
        goto done;
    }
    if (kvv_run_case_inputs(c, in, bufs, v))
        goto done;
    float *x = bufs[IN_X];
    kvv_run_keep_inputs(rec, c, bufs);
    if (kvv_run_ref_quantize(c->type_k, x, rows, cols, &canon, NULL, v))
        goto done;
    kvv_run_keep(rec, "canon", KVV_DT_U8, c->type_k, canon, 2, rows, (int64_t)kvv_row_bytes(c->type_k, cols), 0);
    double t0 = kvv_run_now();
    kvv_ref_type_get(c->type_k)->dequantize(canon, want, rows, cols);
    v->t_ref += kvv_run_now() - t0;
    kvv_run_keep(rec, "ref_deq", KVV_DT_F32, KVV_TYPE_NONE, want, 2, rows, cols, 0);
    if (backend_dequantize(b, c->type_k, canon, rows, cols, c->tg, &got, v))
        goto done;
    kvv_run_keep(rec, "deq", KVV_DT_F32, KVV_TYPE_NONE, got, 2, rows, cols, 0);
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
    double t0 = kvv_run_now();
    int rc = b->wht(b->ctx, x, rows, cols, group, inverse, &tg);
    if (b->flush)
        b->flush(b->ctx);
    v->t_backend += kvv_run_now() - t0;
    if (kvv_run_check_guard(x, sizeof(float) * (size_t)(rows * cols), inverse ? "inverse WHT" : "WHT", "the rows", v))
        return -1;
    return kvv_run_check_call(rc, b, inverse ? "inverse WHT" : "WHT", v);
}

void kvv_run_wht(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec, kvv_verdict *v)
{
    const int64_t rows = c->n_kv, cols = c->dk, n = rows * cols;
    float *bufs[IN_COUNT] = {0}, *x = NULL;
    float *y = kvv_guard_alloc(sizeof(float) * (size_t)n, "the rows");
    float *z = kvv_guard_alloc(sizeof(float) * (size_t)n, "the rows");
    float *base = kvv_guard_alloc(sizeof(float) * (size_t)n, "the rows");
    double *ry = NULL, *rz = NULL, *bound = malloc(sizeof(double) * (size_t)n);
    if (!y || !z || !base || !bound) {
        kvv_run_out_of_memory(v);
        goto done;
    }
    if (kvv_run_case_inputs(c, in, bufs, v))
        goto done;
    x = bufs[IN_X];
    kvv_run_keep_inputs(rec, c, bufs);
    memcpy(y, x, sizeof(float) * (size_t)n);
    if (backend_wht(b, y, rows, cols, c->group, 0, c->tg, v))
        goto done;
    kvv_run_keep(rec, "out", KVV_DT_F32, KVV_TYPE_NONE, y, 2, rows, cols, 0);
    memcpy(z, y, sizeof(float) * (size_t)n);
    if (backend_wht(b, z, rows, cols, c->group, 1, c->tg, v))
        goto done;
    kvv_run_keep(rec, "inv", KVV_DT_F32, KVV_TYPE_NONE, z, 2, rows, cols, 0);
    double t0 = kvv_run_now();
    ry = kvv_run_to_f64(x, (size_t)n);
    rz = kvv_run_to_f64(y, (size_t)n);
    if (!ry || !rz) {
        kvv_run_out_of_memory(v);
        goto done;
    }
    kvv_ref_wht(ry, rows, cols, c->group, 0);
    kvv_ref_wht(rz, rows, cols, c->group, 1); /* the inverse of what the backend produced */
    v->t_ref += kvv_run_now() - t0;
    kvv_run_keep(rec, "ref_out", KVV_DT_F64, KVV_TYPE_NONE, ry, 2, rows, cols, 0);
    kvv_run_keep(rec, "ref_inv", KVV_DT_F64, KVV_TYPE_NONE, rz, 2, rows, cols, 0);
    kvv_judge_finite(y, ry, n, cols, "forward", v);
    kvv_wht_bound(x, rows, cols, c->group, bound);
    kvv_run_keep(rec, "bound", KVV_DT_F64, KVV_TYPE_NONE, bound, 2, rows, cols, 0);
    kvv_judge_ratio(y, ry, bound, n, cols, "forward", v);
    kvv_judge_finite(z, rz, n, cols, "inverse", v);
    kvv_wht_bound(y, rows, cols, c->group, bound);
    kvv_run_keep(rec, "bound_inv", KVV_DT_F64, KVV_TYPE_NONE, bound, 2, rows, cols, 0);
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

