/* The run: the model in f32, with every attention layer's K and V written
 * into a cache by backend->quantize_rows (the K/V types under test) and read
 * back by backend->attention.  The tokens go through in prefill chunks, then
 * one at a time, so later chunks attend over cache rows written earlier
 * (the way a server fills its cache), with a causal mask over the cache. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvv/tensor.h"
#include "model/model.h"
#include "model/ops.h"

typedef struct {
    const kvv_model *m;
    const kvv_model_run_opts *o;
    int n;                 /* tokens in all */
    int cmax;              /* largest chunk */
    size_t rbk, rbv;       /* bytes of a K row, a V row */
    uint8_t **kc, **vc;    /* per attention layer: [n_head_kv][n] rows */
    float **state;         /* per recurrent layer: [n_state] */
    float *x, *y, *q, *k, *v, *qh, *kh, *vh, *att, *ao, *ffn, *mask;
    uint8_t *kq, *vq, *kp, *vp;
    int cb;                /* the chunk size kq, vq and att were made for (0: none yet) */
    char *err;
    size_t err_len;
} run_ctx;

static int fail(run_ctx *r, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(run_ctx *r, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, r->err_len, fmt, ap);
    va_end(ap);
    return rc;
}

static int backend_rc(run_ctx *r, int rc, const char *stage, int layer)
{
    if (rc == KVV_OK)
        return KVV_OK;
    const kvv_backend *b = r->o->backend;
    const char *why = b->last_error ? b->last_error(b->ctx) : NULL;
    return fail(r, rc == KVV_UNSUPPORTED || rc == KVV_BAD_FORMAT ? rc : KVV_FAILED, "%s of layer %d: %s", stage, layer,
                why && *why ? why : "no message");
}

static void *zalloc(size_t n, int *bad)
{
    void *p = kvv_alloc(n ? n : 1);
    *bad |= !p;
    return p;
}

static int setup(run_ctx *r)
{
    const kvv_model *m = r->m;
    int bad = 0, C = r->cmax, H = m->n_head, HK = m->n_head_kv, E = m->n_embd;
    r->kc = calloc((size_t)m->n_layer, sizeof *r->kc);
    r->vc = calloc((size_t)m->n_layer, sizeof *r->vc);
    r->state = calloc((size_t)m->n_layer, sizeof *r->state);
    if (!r->kc || !r->vc || !r->state)
        return -1;
    for (int l = 0; l < m->n_layer; l++) {
        if (m->layers[l].kind == KVV_LAYER_ATTENTION) {
            r->kc[l] = zalloc(r->rbk * (size_t)HK * r->n, &bad);
            r->vc[l] = zalloc(r->rbv * (size_t)HK * r->n, &bad);
        } else {
            r->state[l] = zalloc(sizeof(float) * (size_t)m->n_state, &bad);
        }
    }
    r->x = zalloc(sizeof(float) * (size_t)C * E, &bad);
    r->y = zalloc(sizeof(float) * (size_t)C * E, &bad);
    r->q = zalloc(sizeof(float) * (size_t)C * H * m->dk, &bad);
    r->k = zalloc(sizeof(float) * (size_t)C * HK * m->dk, &bad);
    r->v = zalloc(sizeof(float) * (size_t)C * HK * m->dv, &bad);
    r->qh = zalloc(sizeof(float) * (size_t)C * H * m->dk, &bad);
    r->kh = zalloc(sizeof(float) * (size_t)C * HK * m->dk, &bad);
    r->vh = zalloc(sizeof(float) * (size_t)C * HK * m->dv, &bad);
    int aw = H * m->dv > m->n_state + E ? H * m->dv : m->n_state + E; /* attention output, or recurrence in+out */
    r->ao = zalloc(sizeof(float) * (size_t)C * aw, &bad);
    r->ffn = zalloc(sizeof(float) * (size_t)C * (2 * m->n_ff + E), &bad);
    r->mask = zalloc(sizeof(float) * (size_t)C * r->n, &bad);
    r->kp = zalloc(r->rbk * (size_t)HK * r->n, &bad);
    r->vp = zalloc(r->rbv * (size_t)HK * r->n, &bad);
    return bad ? -1 : 0;
}

/* The buffers the backend writes in a call (the K and V rows it quantizes,
 * the attention output) hold exactly that call's rows, so that a guard
 * zone (o->buffers) right after their end catches any write past it; they
 * are made again when the chunk size changes (the last prefill chunk, then
 * one token at a time). */
static void free_call_buffers(run_ctx *r)
{
    const kvv_model_buffers *gb = r->o->buffers;
    void *p[] = {r->kq, r->vq, r->att};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        if (gb)
            gb->free(p[i]);
        else
            kvv_free(p[i]);
    r->kq = r->vq = NULL;
    r->att = NULL;
    r->cb = 0;
}

static int call_buffers(run_ctx *r, int c)
{
    if (r->cb == c)
        return 0;
    free_call_buffers(r);
    const kvv_model_buffers *gb = r->o->buffers;
    const kvv_model *m = r->m;
    const size_t nk = r->rbk * (size_t)m->n_head_kv * c, nv = r->rbv * (size_t)m->n_head_kv * c,
                 na = sizeof(float) * (size_t)c * m->n_head * m->dv;
    int bad = 0;
    if (gb) {
        r->kq = gb->alloc(nk, "the quantized K rows");
        r->vq = gb->alloc(nv, "the quantized V rows");
        r->att = gb->alloc(na, "out");
        bad = !r->kq || !r->vq || !r->att;
    } else {
        r->kq = zalloc(nk, &bad);
        r->vq = zalloc(nv, &bad);
        r->att = zalloc(na, &bad);
    }
    if (bad) {
        free_call_buffers(r);
        return fail(r, -1, "out of memory");
    }
    r->cb = c;
    return 0;
}

/* After a backend call: its buffer's guard intact, else a failed run
 * naming the call. */
static int guard_ok(run_ctx *r, const void *p, size_t n, const char *what, const char *stage, int layer)
{
    const kvv_model_buffers *gb = r->o->buffers;
    char why[300];
    if (!gb || !gb->check || gb->check(p, n, what, why, sizeof why) == 0)
        return KVV_OK;
    return fail(r, KVV_FAILED, "%s of layer %d: %s", stage, layer, why);
}

static void teardown(run_ctx *r)
{
    free_call_buffers(r);
    if (r->kc)
        for (int l = 0; l < r->m->n_layer; l++) {
            kvv_free(r->kc[l]);
            kvv_free(r->vc[l]);
            kvv_free(r->state[l]);
        }
    free(r->kc);
    free(r->vc);
    free(r->state);
    void *p[] = {r->x, r->y, r->q, r->k, r->v, r->qh, r->kh, r->vh, r->ao, r->ffn, r->mask, r->kp, r->vp};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        kvv_free(p[i]);
}

/* [c][heads][d] (token-major, as the projections give it) <-> [heads][c][d] */
static void to_head_major(const float *src, float *dst, int c, int heads, int d)
{
    for (int t = 0; t < c; t++)
        for (int h = 0; h < heads; h++)
            memcpy(dst + ((size_t)h * c + t) * d, src + ((size_t)t * heads + h) * d, sizeof(float) * (size_t)d);
}

static void to_token_major(const float *src, float *dst, int c, int heads, int d)
{
    for (int h = 0; h < heads; h++)
        for (int t = 0; t < c; t++)
            memcpy(dst + ((size_t)t * heads + h) * d, src + ((size_t)h * c + t) * d, sizeof(float) * (size_t)d);
}

/* Write c new rows per KV head at position p of a cache [HK][n] rows. */
static void scatter(uint8_t *cache, const uint8_t *rows, int hk, int n, int p, int c, size_t rb)
{
    for (int h = 0; h < hk; h++)
        memcpy(cache + ((size_t)h * n + p) * rb, rows + (size_t)h * c * rb, rb * (size_t)c);
}

/* The first nkv rows of each head, packed [HK][nkv] as the backend wants them. */
static const uint8_t *packed(const uint8_t *cache, uint8_t *buf, int hk, int n, int nkv, size_t rb)
{
    if (hk == 1 || nkv == n)
        return cache;
    for (int h = 0; h < hk; h++)
        memcpy(buf + (size_t)h * nkv * rb, cache + (size_t)h * n * rb, rb * (size_t)nkv);
    return buf;
}

static int attention_layer(run_ctx *r, int l, int p, int c)
{
    const kvv_model *m = r->m;
    const kvv_model_layer *y = &m->layers[l];
    const kvv_backend *b = r->o->backend;
    const int H = m->n_head, HK = m->n_head_kv, E = m->n_embd, nkv = p + c;
    ops_matmul_f32(r->y, y->wq, r->q, c, E, H * m->dk);
    ops_matmul_f32(r->y, y->wk, r->k, c, E, HK * m->dk);
    ops_matmul_f32(r->y, y->wv, r->v, c, E, HK * m->dv);
    ops_rope_f32(r->q, c, H, m->dk, p, m->rope_base);
    ops_rope_f32(r->k, c, HK, m->dk, p, m->rope_base);
    to_head_major(r->q, r->qh, c, H, m->dk);
    to_head_major(r->k, r->kh, c, HK, m->dk);
    to_head_major(r->v, r->vh, c, HK, m->dv);

    int rc = call_buffers(r, c);
    if (rc)
        return rc;
    rc = b->quantize_rows(b->ctx, r->o->type_k, r->kh, r->kq, (int64_t)HK * c, m->dk, &r->o->tg);
    if (b->flush && rc == KVV_OK)
        rc = b->flush(b->ctx);
    if (guard_ok(r, r->kq, r->rbk * (size_t)HK * c, "the quantized K rows", "quantize K", l))
        return KVV_FAILED;
    if ((rc = backend_rc(r, rc, "quantize K", l)))
        return rc;
    rc = b->quantize_rows(b->ctx, r->o->type_v, r->vh, r->vq, (int64_t)HK * c, m->dv, &r->o->tg);
    if (b->flush && rc == KVV_OK)
        rc = b->flush(b->ctx);
    if (guard_ok(r, r->vq, r->rbv * (size_t)HK * c, "the quantized V rows", "quantize V", l))
        return KVV_FAILED;
    if ((rc = backend_rc(r, rc, "quantize V", l)))
        return rc;
    scatter(r->kc[l], r->kq, HK, r->n, p, c, r->rbk);
    scatter(r->vc[l], r->vq, HK, r->n, p, c, r->rbv);

    for (int i = 0; i < c; i++)
        for (int j = 0; j < nkv; j++)
            r->mask[(size_t)i * nkv + j] = j <= p + i ? 0.0f : -INFINITY;
    kvv_attn_args a = {
        .dk = m->dk, .dv = m->dv, .n_q = c, .n_kv = nkv, .n_head = H, .n_head_kv = HK,
        .type_k = r->o->type_k, .type_v = r->o->type_v, .q = r->qh,
        .k = packed(r->kc[l], r->kp, HK, r->n, nkv, r->rbk), .v = packed(r->vc[l], r->vp, HK, r->n, nkv, r->rbv),
        .mask = c == 1 ? NULL : r->mask, /* one new token sees the whole cache */
        .scale = (float)(1.0 / sqrt((double)m->dk)), .max_bias = 0.0f, .softcap = 0.0f, .tg = r->o->tg,
    };
    kvv_attn_info info = {0, 0x1p-24};
    rc = b->attention(b->ctx, &a, r->att, &info);
    if (b->flush && rc == KVV_OK)
        rc = b->flush(b->ctx);
    if (guard_ok(r, r->att, sizeof(float) * (size_t)c * H * m->dv, "out", "attention", l))
        return KVV_FAILED;
    if ((rc = backend_rc(r, rc, "attention", l)))
        return rc;
    to_token_major(r->att, r->ao, c, H, m->dv);
    ops_matmul_f32(r->ao, y->wo, r->y, c, H * m->dv, E);
    for (size_t i = 0; i < (size_t)c * E; i++)
        r->x[i] += r->y[i];
    return KVV_OK;
}

static void recurrent_layer(run_ctx *r, int l, int c)
{
    const kvv_model *m = r->m;
    const kvv_model_layer *y = &m->layers[l];
    const int S = m->n_state, E = m->n_embd;
    float *u = r->ao, *o = r->ao + (size_t)c * S, *h = r->state[l];
    ops_matmul_f32(r->y, y->ssm_in, u, c, E, S);
    for (int t = 0; t < c; t++)
        for (int s = 0; s < S; s++) {
            h[s] = y->ssm_a[s] * h[s] + (1.0f - y->ssm_a[s]) * u[(size_t)t * S + s];
            u[(size_t)t * S + s] = h[s];
        }
    ops_matmul_f32(u, y->ssm_out, o, c, S, E);
    for (size_t i = 0; i < (size_t)c * E; i++)
        r->x[i] += o[i];
}

static int chunk(run_ctx *r, const int32_t *tokens, int p, int c, float *logits)
{
    const kvv_model *m = r->m;
    const int E = m->n_embd;
    const float eps = (float)m->rms_eps;
    for (int t = 0; t < c; t++)
        memcpy(r->x + (size_t)t * E, m->tok_embd + (size_t)tokens[p + t] * E, sizeof(float) * (size_t)E);
    for (int l = 0; l < m->n_layer; l++) {
        const kvv_model_layer *y = &m->layers[l];
        ops_rmsnorm_f32(r->x, y->attn_norm, r->y, c, E, eps);
        if (y->kind == KVV_LAYER_ATTENTION) {
            int rc = attention_layer(r, l, p, c);
            if (rc)
                return rc;
        } else {
            recurrent_layer(r, l, c);
        }
        ops_rmsnorm_f32(r->x, y->ffn_norm, r->y, c, E, eps);
        ops_ffn_f32(r->x, r->y, y->ffn_gate, y->ffn_up, y->ffn_down, c, E, m->n_ff, r->ffn);
    }
    ops_rmsnorm_f32(r->x, m->out_norm, r->y, c, E, eps);
    ops_matmul_f32(r->y, m->out ? m->out : m->tok_embd, logits + (size_t)p * m->n_vocab, c, E, m->n_vocab);
    return KVV_OK;
}

int kvv_model_run(const kvv_model *m, const kvv_model_run_opts *o, const int32_t *tokens, int n, float *logits,
                  char *err, size_t err_len)
{
    run_ctx r;
    memset(&r, 0, sizeof r);
    r.m = m;
    r.o = o;
    r.n = n;
    r.err = err;
    r.err_len = err_len;
    if (err_len)
        err[0] = 0;
    if (n < 1 || o->chunk < 1 || o->tail < 0 || !o->backend)
        return fail(&r, -1, "bad run options (n %d, chunk %d, tail %d)", n, o->chunk, o->tail);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->n_vocab)
            return fail(&r, -1, "token %d at position %d is not in the vocabulary", tokens[i], i);
    r.rbk = kvv_row_bytes(o->type_k, m->dk);
    r.rbv = kvv_row_bytes(o->type_v, m->dv);
    if (!r.rbk || !r.rbv)
        return fail(&r, KVV_UNSUPPORTED, "K type %s / V type %s cannot hold heads of %d / %d values",
                    kvv_type_name(o->type_k), kvv_type_name(o->type_v), m->dk, m->dv);
    int prefill = n - o->tail > 0 ? n - o->tail : 0;
    r.cmax = prefill < o->chunk ? (prefill > 0 ? prefill : 1) : o->chunk;
    int rc = -1;
    if (setup(&r)) {
        fail(&r, -1, "out of memory for the run");
        goto done;
    }
    int p = 0;
    while (p < n) {
        int c = p < prefill ? (prefill - p < r.cmax ? prefill - p : r.cmax) : 1;
        rc = chunk(&r, tokens, p, c, logits);
        if (rc)
            goto done;
        p += c;
    }
    rc = KVV_OK;
done:
    teardown(&r);
    return rc;
}
