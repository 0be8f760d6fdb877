/* The reference: the same model entirely in f64 with unquantized K/V,
 * attention by kvv_ref_attention over the whole sequence with a causal mask
 * (chunking changes nothing in exact arithmetic, so the reference does not
 * chunk). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/ops.h"
#include "ref/ref.h"

typedef struct {
    double *x, *y, *q, *k, *v, *qh, *kh, *vh, *att, *ao, *ffn, *probs;
    float *mask;
} ref_bufs;

static void free_bufs(ref_bufs *b)
{
    double *p[] = {b->x, b->y, b->q, b->k, b->v, b->qh, b->kh, b->vh, b->att, b->ao, b->ffn, b->probs};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        free(p[i]);
    free(b->mask);
}

static void head_major(const double *src, double *dst, int n, int heads, int d)
{
    for (int t = 0; t < n; t++)
        for (int h = 0; h < heads; h++)
            memcpy(dst + ((size_t)h * n + t) * d, src + ((size_t)t * heads + h) * d, sizeof(double) * (size_t)d);
}

static void token_major(const double *src, double *dst, int n, int heads, int d)
{
    for (int h = 0; h < heads; h++)
        for (int t = 0; t < n; t++)
            memcpy(dst + ((size_t)t * heads + h) * d, src + ((size_t)h * n + t) * d, sizeof(double) * (size_t)d);
}

/* mean over heads and queries of the largest weight of each softmax row */
static double mean_max_weight(const double *probs, int heads, int n)
{
    double s = 0;
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < n; i++) {
            const double *p = probs + ((size_t)h * n + i) * n;
            double mx = 0;
            for (int j = 0; j <= i; j++)
                mx = p[j] > mx ? p[j] : mx;
            s += mx;
        }
    return s / ((double)heads * n);
}

static int attention(const kvv_model *m, const kvv_model_layer *y, ref_bufs *b, int n, double *max_weight)
{
    const int H = m->n_head, HK = m->n_head_kv, E = m->n_embd;
    ops_matmul_f64(b->y, y->wq, b->q, n, E, H * m->dk);
    ops_matmul_f64(b->y, y->wk, b->k, n, E, HK * m->dk);
    ops_matmul_f64(b->y, y->wv, b->v, n, E, HK * m->dv);
    ops_rope_f64(b->q, n, H, m->dk, 0, m->rope_base);
    ops_rope_f64(b->k, n, HK, m->dk, 0, m->rope_base);
    head_major(b->q, b->qh, n, H, m->dk);
    head_major(b->k, b->kh, n, HK, m->dk);
    head_major(b->v, b->vh, n, HK, m->dv);
    kvv_ref_attn_args a = {m->dk, m->dv, n, n, H, HK, b->qh, b->kh, b->vh, b->mask, 1.0 / sqrt((double)m->dk), 0, 0};
    if (kvv_ref_attention(&a, b->att, b->probs, NULL))
        return -1;
    if (b->probs && max_weight)
        *max_weight = mean_max_weight(b->probs, H, n);
    token_major(b->att, b->ao, n, H, m->dv);
    ops_matmul_f64(b->ao, y->wo, b->y, n, H * m->dv, E);
    for (size_t i = 0; i < (size_t)n * E; i++)
        b->x[i] += b->y[i];
    return 0;
}

static void recurrence(const kvv_model *m, const kvv_model_layer *y, ref_bufs *b, int n)
{
    const int S = m->n_state, E = m->n_embd;
    double *u = b->ao, *o = b->ao + (size_t)n * S;
    ops_matmul_f64(b->y, y->ssm_in, u, n, E, S);
    for (int s = 0; s < S; s++) {
        double h = 0, a = y->ssm_a[s];
        for (int t = 0; t < n; t++) {
            h = a * h + (1.0 - a) * u[(size_t)t * S + s];
            u[(size_t)t * S + s] = h;
        }
    }
    ops_matmul_f64(u, y->ssm_out, o, n, S, E);
    for (size_t i = 0; i < (size_t)n * E; i++)
        b->x[i] += o[i];
}

int kvv_model_reference(const kvv_model *m, const int32_t *tokens, int n, double *logits, kvv_ref_stats *stats,
                        char *err, size_t err_len)
{
    const int H = m->n_head, HK = m->n_head_kv, E = m->n_embd;
    ref_bufs b;
    memset(&b, 0, sizeof b);
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (n < 1) {
        snprintf(err, err_len, "no tokens");
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->n_vocab) {
            snprintf(err, err_len, "token %d at position %d is not in the vocabulary", tokens[i], i);
            return -1;
        }
    size_t N = (size_t)n;
    int aw = H * m->dv > m->n_state + E ? H * m->dv : m->n_state + E;
    b.x = malloc(sizeof(double) * N * E);
    b.y = malloc(sizeof(double) * N * E);
    b.q = malloc(sizeof(double) * N * H * m->dk);
    b.k = malloc(sizeof(double) * N * HK * m->dk);
    b.v = malloc(sizeof(double) * N * HK * m->dv);
    b.qh = malloc(sizeof(double) * N * H * m->dk);
    b.kh = malloc(sizeof(double) * N * HK * m->dk);
    b.vh = malloc(sizeof(double) * N * HK * m->dv);
    b.att = malloc(sizeof(double) * N * H * m->dv);
    b.ao = malloc(sizeof(double) * N * aw);
    b.ffn = malloc(sizeof(double) * N * (2 * (size_t)m->n_ff + E));
    b.mask = malloc(sizeof(float) * N * N);
    if (stats)
        b.probs = malloc(sizeof(double) * N * N * H);
    int rc = -1;
    if (!b.x || !b.y || !b.q || !b.k || !b.v || !b.qh || !b.kh || !b.vh || !b.att || !b.ao || !b.ffn || !b.mask ||
        (stats && !b.probs)) {
        snprintf(err, err_len, "out of memory for the reference of %d tokens", n);
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            b.mask[(size_t)i * n + j] = j <= i ? 0.0f : -INFINITY;
    for (int t = 0; t < n; t++)
        for (int i = 0; i < E; i++)
            b.x[(size_t)t * E + i] = m->tok_embd[(size_t)tokens[t] * E + i];
    int al = 0;
    for (int l = 0; l < m->n_layer; l++) {
        const kvv_model_layer *y = &m->layers[l];
        ops_rmsnorm_f64(b.x, y->attn_norm, b.y, n, E, m->rms_eps);
        if (y->kind == KVV_LAYER_ATTENTION) {
            double mw = 0;
            if (attention(m, y, &b, n, &mw)) {
                snprintf(err, err_len, "out of memory in the reference attention");
                goto done;
            }
            if (stats && al < (int)(sizeof stats->max_weight / sizeof *stats->max_weight))
                stats->max_weight[stats->n_layers++] = mw;
            al++;
        } else {
            recurrence(m, y, &b, n);
        }
        ops_rmsnorm_f64(b.x, y->ffn_norm, b.y, n, E, m->rms_eps);
        ops_ffn_f64(b.x, b.y, y->ffn_gate, y->ffn_up, y->ffn_down, n, E, m->n_ff, b.ffn);
    }
    ops_rmsnorm_f64(b.x, m->out_norm, b.y, n, E, m->rms_eps);
    ops_matmul_f64(b.y, m->out ? m->out : m->tok_embd, logits, n, E, m->n_vocab);
    rc = 0;
done:
    free_bufs(&b);
    return rc;
}
