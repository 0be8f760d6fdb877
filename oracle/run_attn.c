/* The attention runner (the op table, oracle/run_case.c): the backend
 * writes its K/V cache and attends over it; then the rules, each a step
 * below: bytes (the cache against the canonical quantization), finite and
 * arith (f64 attention over the backend's own cache, the claim checked and
 * the bound built from it), budget (against the unquantized truth, over the
 * type's own distortion) and toggle (speed-only toggles at baseline give
 * the same bits). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kvv/tensor.h"
#include "oracle/guard.h"
#include "oracle/rules.h"
#include "oracle/verdict.h"
#include "oracle/run_common.h"

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
    *out = kvv_run_to_f64(scratch, (size_t)(rows * cols));
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

/* The mask the kernels see: none without a mask and ALiBi (whose slopes
 * ride on the mask). */
static const float *kernel_mask(const kvv_case *c, const attn_bufs *w)
{
    return c->mask == KVV_MASK_NONE && c->max_bias == 0.0f ? NULL : w->mask;
}

/* The backend's attention call over the cache bytes in w. */
static kvv_attn_args attn_args(const kvv_case *c, const attn_bufs *w, kvv_toggles tg)
{
    kvv_attn_args a = {
        .dk = c->dk, .dv = c->dv, .n_q = c->n_q, .n_kv = c->n_kv, .n_head = c->n_head, .n_head_kv = c->n_head_kv,
        .type_k = c->type_k, .type_v = c->type_v, .q = w->q, .k = w->kb, .v = w->vb, .mask = kernel_mask(c, w),
        .scale = kvv_case_scale(c), .max_bias = c->max_bias, .softcap = c->softcap, .tg = tg,
    };
    return a;
}

static int backend_attention(const kvv_backend *b, const kvv_case *c, attn_bufs *w, kvv_toggles tg, float *out,
                             kvv_attn_info *info, kvv_verdict *v)
{
    kvv_attn_args a = attn_args(c, w, tg);
    info->kv_round = 0;
    info->acc_round = 0x1p-24;
    double t0 = kvv_run_now();
    int rc = b->attention(b->ctx, &a, out, info);
    if (b->flush)
        b->flush(b->ctx);
    v->t_backend += kvv_run_now() - t0;
    if (kvv_run_check_guard(out, sizeof(float) * (size_t)a.n_head * a.n_q * a.dv, "attention", "out", v))
        return -1;
    return kvv_run_check_call(rc, b, "attention", v);
}

/* One attention case as it runs: the case's facts, resolved once, the
 * buffers, and what the steps so far found. */
typedef struct {
    const kvv_case *c;
    const kvv_backend *b;
    const kvv_record *in;
    kvv_record *rec;
    kvv_verdict *v;
    /* facts of the case */
    const kvv_type_info *tk, *tv;
    int64_t nqr, nkr, kvh;  /* query rows, K/V rows (heads x positions), KV heads */
    int64_t kbytes, vbytes; /* bytes of one K row, one V row */
    size_t nout;            /* output values */
    int gk, gv;             /* WHT groups of the rotated operands (0: not rotated) */
    const float *mask;      /* the mask the kernels see (NULL: none) */
    attn_bufs w;
    kvv_attn_info info;   /* the backend's precision claim */
    kvv_ref_attn_args ra; /* the reference's operands */
    double kv_used;       /* the claimed K/V rounding the bound uses */
    double claimed_err;   /* what the claimed precision does on this input (-1: not measured) */
    int finite_inputs;
} attn_run;

static void attn_facts(attn_run *r)
{
    const kvv_case *c = r->c;
    r->tk = kvv_type_get(c->type_k);
    r->tv = kvv_type_get(c->type_v);
    r->nqr = (int64_t)c->n_head * c->n_q;
    r->nkr = (int64_t)c->n_head_kv * c->n_kv;
    r->kvh = c->n_head_kv;
    r->kbytes = (int64_t)kvv_row_bytes(c->type_k, c->dk);
    r->vbytes = (int64_t)kvv_row_bytes(c->type_v, c->dv);
    r->nout = (size_t)(r->nqr * c->dv);
    r->gk = r->tk->rotated ? kvv_rot_group(c->dk) : 0;
    r->gv = r->tv->rotated ? kvv_rot_group(c->dv) : 0;
    r->claimed_err = -1;
}

/* step: the inputs, from the seed or the stored record */
static int attn_inputs(attn_run *r)
{
    const kvv_case *c = r->c;
    const int dmax = c->dk > c->dv ? c->dk : c->dv;
    r->w.out = kvv_guard_alloc(sizeof(float) * r->nout, "out");
    r->w.deq = kvv_alloc(sizeof(float) * (size_t)(r->nkr * dmax));
    if (!r->w.out || !r->w.deq)
        return kvv_run_out_of_memory(r->v);
    float *bufs[IN_COUNT] = {0};
    int in_rc = kvv_run_case_inputs(c, r->in, bufs, r->v);
    r->w.q = bufs[IN_Q];
    r->w.k = bufs[IN_K];
    r->w.v = bufs[IN_V];
    r->w.mask = bufs[IN_MASK];
    if (in_rc)
        return -1;
    kvv_run_keep_inputs(r->rec, c, bufs);
    r->mask = kernel_mask(c, &r->w);
    return 0;
}

/* step: the backend writes its cache.  A cache in no known format cannot
 * be judged, but its attention still runs, so that a crash or failure
 * there is what the verdict says. */
static int attn_cache(attn_run *r)
{
    const kvv_case *c = r->c;
    kvv_verdict *v = r->v;
    char fmt_k[640] = "", fmt_v[640] = "";
    int qk = kvv_run_backend_quantize_fmt(r->b, c->type_k, r->w.k, r->nkr, c->dk, c->tg, &r->w.kb, v, fmt_k,
                                          sizeof fmt_k);
    if (qk < 0)
        return -1;
    kvv_run_keep(r->rec, "k_bytes", KVV_DT_U8, c->type_k, r->w.kb, 3, r->kvh, c->n_kv, r->kbytes);
    int qv = kvv_run_backend_quantize_fmt(r->b, c->type_v, r->w.v, r->nkr, c->dv, c->tg, &r->w.vb, v, fmt_v,
                                          sizeof fmt_v);
    if (qv < 0) {
        if (qk) /* V declined or failed: K's format is still a finding (a failure outranks a skip) */
            kvv_verdict_fail(v, KVV_RULE_FORMAT, "%s", fmt_k);
        return -1;
    }
    kvv_run_keep(r->rec, "v_bytes", KVV_DT_U8, c->type_v, r->w.vb, 3, r->kvh, c->n_kv, r->vbytes);
    if (!qk && !qv)
        return 0;
    float *scratch = kvv_guard_alloc(sizeof(float) * r->nout, "out");
    int rc = KVV_UNSUPPORTED;
    if (scratch) {
        kvv_attn_args a = attn_args(c, &r->w, c->tg);
        double t0 = kvv_run_now();
        rc = r->b->attention(r->b->ctx, &a, scratch, &r->info);
        v->t_backend += kvv_run_now() - t0;
        if (kvv_run_check_guard(scratch, sizeof(float) * r->nout, "attention", "out", v))
            rc = -1;
        kvv_guard_free(scratch);
    }
    if (rc == -1)
        return -1;
    if (rc == KVV_FAILED)
        kvv_run_check_call(rc, r->b, "attention over a cache in no known format", v);
    else
        kvv_verdict_fail(v, KVV_RULE_FORMAT, "%s", qk ? fmt_k : fmt_v);
    return -1;
}

/* step: the backend attends over its cache; its precision claim is kept */
static int attn_output(attn_run *r)
{
    const kvv_case *c = r->c;
    if (backend_attention(r->b, c, &r->w, c->tg, r->w.out, &r->info, r->v))
        return -1;
    r->v->has_claim = 1;
    r->v->claimed_kv_round = r->info.kv_round;
    r->v->claimed_acc_round = r->info.acc_round;
    kvv_run_keep(r->rec, "out", KVV_DT_F32, KVV_TYPE_NONE, r->w.out, 3, c->n_head, c->n_q, c->dv);
    return 0;
}

/* rule bytes: the cache against the canonical quantization */
static int rule_bytes(attn_run *r)
{
    const kvv_case *c = r->c;
    attn_bufs *w = &r->w;
    if (kvv_run_ref_quantize(c->type_k, w->k, r->nkr, c->dk, &w->kc, &w->kt, r->v) ||
        kvv_run_ref_quantize(c->type_v, w->v, r->nkr, c->dv, &w->vc, &w->vt, r->v))
        return -1;
    kvv_run_keep(r->rec, "k_canon", KVV_DT_U8, c->type_k, w->kc, 3, r->kvh, c->n_kv, r->kbytes);
    kvv_run_keep(r->rec, "v_canon", KVV_DT_U8, c->type_v, w->vc, 3, r->kvh, c->n_kv, r->vbytes);
    kvv_judge_bytes(c->type_k, w->k, r->nkr, c->dk, w->kc, &w->kt, w->kb, "K", r->v);
    kvv_judge_bytes(c->type_v, w->v, r->nkr, c->dv, w->vc, &w->vt, w->vb, "V", r->v);
    return 0;
}

/* rules finite and arith: f64 attention over the backend's own cache, in
 * the basis the kernel works in (Q rotated when K is rotated; the output
 * inverse rotated when V is), with the bound built from the checked claim */
static int rule_arith(attn_run *r)
{
    const kvv_case *c = r->c;
    attn_bufs *w = &r->w;
    kvv_verdict *v = r->v;
    double t0 = kvv_run_now();
    w->qd = kvv_run_to_f64(w->q, (size_t)(r->nqr * c->dk));
    w->o1 = malloc(sizeof(double) * r->nout);
    w->o1rot = malloc(sizeof(double) * r->nout);
    w->bound = malloc(sizeof(double) * r->nout);
    w->probs = malloc(sizeof(double) * (size_t)(r->nqr * c->n_kv));
    w->scores = malloc(sizeof(double) * (size_t)(r->nqr * c->n_kv));
    if (!w->qd || !w->o1 || !w->o1rot || !w->bound || !w->probs || !w->scores ||
        ref_operand(c->type_k, w->kb, r->nkr, c->dk, w->deq, &w->kd))
        return kvv_run_out_of_memory(v);
    kvv_run_keep(r->rec, "k_deq", KVV_DT_F32, KVV_TYPE_NONE, w->deq, 3, r->kvh, c->n_kv, c->dk);
    if (ref_operand(c->type_v, w->vb, r->nkr, c->dv, w->deq, &w->vd))
        return kvv_run_out_of_memory(v);
    kvv_run_keep(r->rec, "v_deq", KVV_DT_F32, KVV_TYPE_NONE, w->deq, 3, r->kvh, c->n_kv, c->dv);
    if (r->gk)
        kvv_ref_wht(w->qd, r->nqr, c->dk, r->gk, 0);
    kvv_ref_attn_args ra = {c->dk, c->dv, c->n_q, c->n_kv, c->n_head, c->n_head_kv, w->qd, w->kd, w->vd,
                            r->mask, kvv_case_scale(c), c->max_bias, c->softcap};
    r->ra = ra;
    if (kvv_ref_attention(&r->ra, w->o1rot, w->probs, w->scores))
        return kvv_run_out_of_memory(v);
    memcpy(w->o1, w->o1rot, sizeof(double) * r->nout);
    if (r->gv)
        kvv_ref_wht(w->o1, r->nqr, c->dv, r->gv, 1);
    kvv_run_keep(r->rec, "scores", KVV_DT_F64, KVV_TYPE_NONE, w->scores, 3, c->n_head, c->n_q, c->n_kv);
    kvv_run_keep(r->rec, "probs", KVV_DT_F64, KVV_TYPE_NONE, w->probs, 3, c->n_head, c->n_q, c->n_kv);
    kvv_run_keep(r->rec, "ref_out", KVV_DT_F64, KVV_TYPE_NONE, w->o1, 3, c->n_head, c->n_q, c->dv);
    kvv_judge_finite(w->out, w->o1, (int64_t)r->nout, c->dv, "out", v);
    /* the precision claim is untrusted input (oracle/claims.c): one that
     * names no precision that exists fails, and no bound is built from it */
    char claim_why[200];
    if (kvv_claim_check(r->info.kv_round, r->info.acc_round, claim_why, sizeof claim_why)) {
        v->t_ref += kvv_run_now() - t0;
        kvv_verdict_fail(v, KVV_RULE_ARITH, "%s", claim_why);
        return -1;
    }
    r->kv_used = kvv_claim_kv_cap(&r->ra, r->info.kv_round);
    kvv_bound_args ba = {&r->ra, w->o1rot, w->probs, w->scores, r->kv_used, r->info.acc_round,
                         r->gk ? (int)lround(log2(r->gk)) : -1, r->gv};
    if (kvv_attn_bound(&ba, w->bound))
        return kvv_run_out_of_memory(v);
    /* what arithmetic of the claimed precision does on this input: the
     * budget rule's allowance for a claim coarser than f32 */
    r->finite_inputs = all_finite(w->k, (size_t)(r->nkr * c->dk)) && all_finite(w->v, (size_t)(r->nkr * c->dv)) &&
                       all_finite(w->q, (size_t)(r->nqr * c->dk));
    if (r->finite_inputs && kvv_claim_coarse(r->kv_used, r->info.acc_round)) {
        double *emu = malloc(sizeof(double) * r->nout);
        for (int k = 0; k < kvv_claim_variants(r->kv_used); k++) {
            if (!emu || kvv_claim_emulate(&r->ra, r->kv_used, r->info.acc_round, k, emu)) {
                free(emu);
                return kvv_run_out_of_memory(v);
            }
            r->claimed_err = fmax(r->claimed_err, claim_rms_error(emu, w->o1rot, r->nout));
        }
        free(emu);
    }
    v->t_ref += kvv_run_now() - t0;
    kvv_run_keep(r->rec, "bound", KVV_DT_F64, KVV_TYPE_NONE, w->bound, 3, c->n_head, c->n_q, c->dv);
    kvv_judge_ratio(w->out, w->o1, w->bound, (int64_t)r->nout, c->dv, "out", v);
    note_claim(v, &r->info, r->kv_used);
    return 0;
}

/* rule budget: against the unquantized truth, over the distortion of the
 * reference's own quantization (skipped when the inputs hold NaN/Inf:
 * there is no finite truth to measure against) */
static int rule_budget(attn_run *r)
{
    if (!r->finite_inputs)
        return 0;
    const kvv_case *c = r->c;
    attn_bufs *w = &r->w;
    kvv_verdict *v = r->v;
    double t0 = kvv_run_now();
    free(w->kd);
    free(w->vd);
    w->oq = malloc(sizeof(double) * r->nout);
    w->ox = malloc(sizeof(double) * r->nout);
    w->kd = kvv_run_to_f64(w->k, (size_t)(r->nkr * c->dk));
    w->vd = kvv_run_to_f64(w->v, (size_t)(r->nkr * c->dv));
    free(w->qd);
    w->qd = kvv_run_to_f64(w->q, (size_t)(r->nqr * c->dk));
    if (!w->oq || !w->ox || !w->kd || !w->vd || !w->qd)
        return kvv_run_out_of_memory(v);
    r->ra.q = w->qd;
    r->ra.k = w->kd;
    r->ra.v = w->vd;
    kvv_ref_attention(&r->ra, w->ox, NULL, NULL);
    kvv_run_keep(r->rec, "ref_exact", KVV_DT_F64, KVV_TYPE_NONE, w->ox, 3, c->n_head, c->n_q, c->dv);
    /* the reference's quantized path: canonical bytes, dequantized and
     * rotated back, in the original basis */
    free(w->kd);
    free(w->vd);
    w->kd = w->vd = NULL;
    if (ref_operand(c->type_k, w->kc, r->nkr, c->dk, w->deq, &w->kd) ||
        ref_operand(c->type_v, w->vc, r->nkr, c->dv, w->deq, &w->vd))
        return kvv_run_out_of_memory(v);
    if (r->gk)
        kvv_ref_wht(w->kd, r->nkr, c->dk, r->gk, 1);
    if (r->gv)
        kvv_ref_wht(w->vd, r->nkr, c->dv, r->gv, 1);
    r->ra.k = w->kd;
    r->ra.v = w->vd;
    kvv_ref_attention(&r->ra, w->oq, NULL, NULL);
    v->t_ref += kvv_run_now() - t0;
    double eb = rms_diff_f32(w->out, w->ox, r->nout), er = rms_diff(w->oq, w->ox, r->nout);
    /* the arithmetic allowance: the rms of the arith bound, or for a claim
     * coarser than f32 what that arithmetic does on this input when that is
     * less (oracle/claims.c: the worst case of f16 sums would let the
     * weights go nearly anywhere) */
    double ea = rms_diff(w->bound, NULL, r->nout);
    const int measured = r->claimed_err >= 0 && r->claimed_err < ea;
    if (measured)
        ea = r->claimed_err;
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
    note_claim(v, &r->info, r->kv_used);
    return 0;
}

/* rule toggle: speed-only toggles at their baseline give the same bits */
static int rule_toggle(attn_run *r)
{
    const kvv_case *c = r->c;
    if (!kvv_toggles_has_speed(c->tg))
        return 0;
    attn_bufs *w = &r->w;
    kvv_verdict *v = r->v;
    kvv_toggles bt = kvv_toggles_baseline(c->tg);
    void *kb0 = NULL, *vb0 = NULL;
    float *out0 = kvv_guard_alloc(sizeof(float) * r->nout, "out");
    kvv_attn_info info0;
    if (!out0) {
        kvv_run_out_of_memory(v);
    } else if (kvv_run_backend_quantize(r->b, c->type_k, w->k, r->nkr, c->dk, bt, &kb0, v) == 0 &&
               kvv_run_backend_quantize(r->b, c->type_v, w->v, r->nkr, c->dv, bt, &vb0, v) == 0) {
        kvv_judge_same_bytes(w->kb, kb0, (size_t)r->kbytes * (size_t)r->nkr, (size_t)r->kbytes, KVV_RULE_TOGGLE,
                             "K cache vs baseline toggles", v);
        kvv_judge_same_bytes(w->vb, vb0, (size_t)r->vbytes * (size_t)r->nkr, (size_t)r->vbytes, KVV_RULE_TOGGLE,
                             "V cache vs baseline toggles", v);
        void *kb1 = w->kb, *vb1 = w->vb;
        w->kb = kb0;
        w->vb = vb0;
        if (backend_attention(r->b, c, w, bt, out0, &info0, v) == 0)
            kvv_judge_same_f32(w->out, out0, (int64_t)r->nout, c->dv, KVV_RULE_TOGGLE, "out vs baseline toggles", v);
        w->kb = kb1;
        w->vb = vb1;
    }
    kvv_guard_free(kb0);
    kvv_guard_free(vb0);
    kvv_guard_free(out0);
    return 0;
}

/* The case, step by step; a step that returns nonzero ends it (its verdict
 * is set), the rules after it are not applied. */
static const struct {
    const char *name;
    int (*run)(attn_run *r);
} attn_steps[] = {{"inputs", attn_inputs}, {"cache", attn_cache},   {"output", attn_output}, {"bytes", rule_bytes},
                  {"arith", rule_arith},   {"budget", rule_budget}, {"toggle", rule_toggle}};

void kvv_run_attn(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec, kvv_verdict *v)
{
    attn_run r;
    memset(&r, 0, sizeof r);
    r.c = c;
    r.b = b;
    r.in = in;
    r.rec = rec;
    r.v = v;
    attn_facts(&r);
    for (size_t i = 0; i < sizeof attn_steps / sizeof *attn_steps; i++)
        if (attn_steps[i].run(&r))
            break;
    attn_free(&r.w);
}
