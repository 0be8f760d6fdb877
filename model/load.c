/* A model from a parsed GGUF: architecture, hyperparameters, tokenizer and
 * weights (dequantized to f32 by the reference: the weights are not what is
 * under test).  Whatever the file holds that the forward pass would ignore or
 * get wrong is refused with a message, never guessed around.
 *
 * Architectures (general.architecture; keys are prefixed with its name):
 *   llama       every layer attention + SwiGLU FFN
 *   kvv-hybrid  the llama keys plus
 *                 kvv-hybrid.layer_kinds         array of strings, one per
 *                                                layer: "attention" or "recurrent"
 *                 kvv-hybrid.recurrent.state_size
 *               a recurrent layer is a diagonal linear recurrence
 *                 h_t = a * h_{t-1} + (1 - a) * (ssm_in . norm(x_t))
 *                 x_t += ssm_out . h_t
 *               with tensors blk.N.attn_norm, blk.N.ssm_in, blk.N.ssm_a,
 *               blk.N.ssm_out, followed by the layer's FFN like any layer. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvv/tensor.h"
#include "model/model.h"
#include "ref/ref.h"

typedef struct {
    const kvv_gguf *g;
    char *err;
    size_t err_len;
    const char *arch;
    uint8_t *used; /* tensors claimed by the architecture */
} loader;

static int fail(loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(loader *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->err, l->err_len, fmt, ap);
    va_end(ap);
    return -1;
}

/* {arch}.suffix as an integer in [lo, hi]; def when absent and def >= 0 */
static int get_int(loader *l, const char *suffix, long lo, long hi, long def, int *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", l->arch, suffix);
    const kvv_gguf_kv *kv = kvv_gguf_find(l->g, key);
    int64_t v;
    if (!kv) {
        if (def < 0)
            return fail(l, "missing key %s", key);
        *out = (int)def;
        return 0;
    }
    if (kv->type == KVV_GGUF_ARRAY)
        return fail(l, "%s is an array (per-layer values are not supported)", key);
    if (kvv_gguf_get_int(l->g, key, &v))
        return fail(l, "%s must be an integer", key);
    if (v < lo || v > hi)
        return fail(l, "%s = %lld is outside [%ld, %ld]", key, (long long)v, lo, hi);
    *out = (int)v;
    return 0;
}

static int get_float(loader *l, const char *suffix, double def, int required, double *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", l->arch, suffix);
    if (!kvv_gguf_find(l->g, key)) {
        if (required)
            return fail(l, "missing key %s", key);
        *out = def;
        return 0;
    }
    if (kvv_gguf_get_float(l->g, key, out))
        return fail(l, "%s must be a float", key);
    if (!isfinite(*out) || *out <= 0)
        return fail(l, "%s = %g must be positive and finite", key, *out);
    return 0;
}

/* The tensor `name` with exactly the shape ne0 x ne1 (ne1 = 0: a vector),
 * dequantized into a new f32 array. */
static float *tensor(loader *l, const char *name, int64_t ne0, int64_t ne1, int optional)
{
    const kvv_gguf_tensor *t = kvv_gguf_find_tensor(l->g, name);
    if (!t) {
        if (!optional)
            fail(l, "missing tensor %s", name);
        return NULL;
    }
    l->used[t - l->g->tensors] = 1;
    int64_t want[4] = {ne0, ne1 ? ne1 : 1, 1, 1};
    int shape_ok = 1;
    for (int d = 0; d < 4; d++)
        shape_ok &= t->ne[d] == want[d];
    if (!shape_ok) {
        char want_s[64];
        if (ne1)
            snprintf(want_s, sizeof want_s, "[%lld, %lld]", (long long)ne0, (long long)ne1);
        else
            snprintf(want_s, sizeof want_s, "[%lld]", (long long)ne0);
        fail(l, "tensor %s has shape [%lld, %lld, %lld, %lld] (%d dims), expected %s", name, (long long)t->ne[0],
             (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3], t->ndim, want_s);
        return NULL;
    }
    kvv_type kt = kvv_ggml_to_kvv(t->type);
    const kvv_ref_type *rt = kt == KVV_TYPE_NONE ? NULL : kvv_ref_type_get(kt);
    if (!rt || !rt->dequantize) {
        fail(l, "tensor %s: weights of type %s are not supported", name, kvv_ggml_type_name(t->type));
        return NULL;
    }
    int64_t rows = ne1 ? ne1 : 1;
    float *out = kvv_alloc(sizeof(float) * (size_t)(ne0 * rows));
    void *raw = kvv_alloc((size_t)t->nbytes); /* aligned copy: the file's alignment may be smaller than a float's */
    if (!out || !raw) {
        kvv_free(out);
        kvv_free(raw);
        fail(l, "out of memory for tensor %s", name);
        return NULL;
    }
    memcpy(raw, t->data, (size_t)t->nbytes);
    rt->dequantize(raw, out, rows, ne0);
    kvv_free(raw);
    return out;
}

static float *blk(loader *l, int i, const char *what, int64_t ne0, int64_t ne1)
{
    char name[KVV_GGUF_MAX_NAME];
    snprintf(name, sizeof name, "blk.%d.%s.weight", i, what);
    return tensor(l, name, ne0, ne1, 0);
}

static int layer_kinds(loader *l, kvv_model *m)
{
    for (int i = 0; i < m->n_layer; i++)
        m->layers[i].kind = KVV_LAYER_ATTENTION;
    if (strcmp(m->arch, "kvv-hybrid"))
        return 0;
    const kvv_gguf_kv *kv = kvv_gguf_find(l->g, "kvv-hybrid.layer_kinds");
    if (!kv || kv->type != KVV_GGUF_ARRAY || kv->elem != KVV_GGUF_STRING || kv->n != (uint64_t)m->n_layer)
        return fail(l, "kvv-hybrid.layer_kinds must be an array of %d strings", m->n_layer);
    for (int i = 0; i < m->n_layer; i++) {
        const char *s = (const char *)kv->strs[i];
        size_t n = (size_t)kv->lens[i];
        if (n == 9 && !memcmp(s, "attention", 9))
            m->layers[i].kind = KVV_LAYER_ATTENTION;
        else if (n == 9 && !memcmp(s, "recurrent", 9))
            m->layers[i].kind = KVV_LAYER_RECURRENT;
        else
            return fail(l, "kvv-hybrid.layer_kinds[%d] = '%.*s' (attention or recurrent)", i, (int)(n > 40 ? 40 : n),
                        s);
    }
    return get_int(l, "recurrent.state_size", 1, 1 << 16, -1, &m->n_state);
}

static int hparams(loader *l, kvv_model *m)
{
    int n;
    if (get_int(l, "block_count", 1, 1024, -1, &m->n_layer) || get_int(l, "embedding_length", 1, 1 << 16, -1, &m->n_embd) ||
        get_int(l, "feed_forward_length", 1, 1 << 20, -1, &m->n_ff) ||
        get_int(l, "attention.head_count", 1, 1024, -1, &m->n_head) ||
        get_int(l, "attention.head_count_kv", 1, 1024, m->n_head, &m->n_head_kv) ||
        get_int(l, "context_length", 1, 1 << 30, -1, &m->n_ctx_train) ||
        get_float(l, "attention.layer_norm_rms_epsilon", 0, 1, &m->rms_eps) ||
        get_float(l, "rope.freq_base", 10000.0, 0, &m->rope_base))
        return -1;
    if (m->n_head % m->n_head_kv)
        return fail(l, "head_count %d is not a multiple of head_count_kv %d", m->n_head, m->n_head_kv);
    int def = m->n_embd % m->n_head ? -1 : m->n_embd / m->n_head;
    if (get_int(l, "attention.key_length", 2, 4096, def, &m->dk) ||
        get_int(l, "attention.value_length", 1, 4096, def, &m->dv))
        return -1;
    if (m->dk % 2)
        return fail(l, "key_length %d is odd: RoPE rotates pairs", m->dk);
    if (get_int(l, "rope.dimension_count", 0, 4096, m->dk, &n))
        return -1;
    if (n != m->dk)
        return fail(l, "rope.dimension_count %d differs from key_length %d (partial rotary is not supported)", n, m->dk);
    if (get_int(l, "expert_count", 0, 1 << 16, 0, &n))
        return -1;
    if (n > 0)
        return fail(l, "mixture-of-experts models (expert_count %d) are not supported", n);
    char key[128];
    const char *s;
    size_t len;
    snprintf(key, sizeof key, "%s.rope.scaling.type", l->arch);
    if (!kvv_gguf_get_str(l->g, key, &s, &len) && !(len == 4 && !memcmp(s, "none", 4)))
        return fail(l, "RoPE scaling '%.*s' is not supported", (int)(len > 40 ? 40 : len), s);
    return 0;
}

static int tokenizer(loader *l, kvv_model *m)
{
    const kvv_gguf_kv *kv = kvv_gguf_find(l->g, "tokenizer.ggml.tokens");
    if (!kv || kv->type != KVV_GGUF_ARRAY || kv->elem != KVV_GGUF_STRING || kv->n < 1 || kv->n > (1u << 24))
        return fail(l, "tokenizer.ggml.tokens must be a non-empty array of strings");
    m->n_vocab = (int)kv->n;
    m->tokens = calloc((size_t)m->n_vocab, sizeof *m->tokens);
    if (!m->tokens)
        return fail(l, "out of memory");
    for (int i = 0; i < m->n_vocab; i++) {
        m->tokens[i] = malloc((size_t)kv->lens[i] + 1);
        if (!m->tokens[i])
            return fail(l, "out of memory");
        memcpy(m->tokens[i], kv->strs[i], (size_t)kv->lens[i]);
        m->tokens[i][kv->lens[i]] = 0;
    }
    int64_t unk = -1;
    if (kvv_gguf_find(l->g, "tokenizer.ggml.unknown_token_id") &&
        (kvv_gguf_get_int(l->g, "tokenizer.ggml.unknown_token_id", &unk) || unk < 0 || unk >= m->n_vocab))
        return fail(l, "tokenizer.ggml.unknown_token_id is not a token id");
    m->unk_id = (int)unk;
    int vs;
    if (get_int(l, "vocab_size", 1, 1 << 24, m->n_vocab, &vs))
        return -1;
    if (vs != m->n_vocab)
        return fail(l, "vocab_size %d differs from the %d tokens of the tokenizer", vs, m->n_vocab);
    return 0;
}

static int weights(loader *l, kvv_model *m)
{
    const int E = m->n_embd, H = m->n_head, HK = m->n_head_kv;
    if (!(m->tok_embd = tensor(l, "token_embd.weight", E, m->n_vocab, 0)) ||
        !(m->out_norm = tensor(l, "output_norm.weight", E, 0, 0)))
        return -1;
    m->out = tensor(l, "output.weight", E, m->n_vocab, 1);
    if (!m->out && l->err[0])
        return -1;
    for (int i = 0; i < m->n_layer; i++) {
        kvv_model_layer *y = &m->layers[i];
        if (!(y->attn_norm = blk(l, i, "attn_norm", E, 0)) || !(y->ffn_norm = blk(l, i, "ffn_norm", E, 0)) ||
            !(y->ffn_gate = blk(l, i, "ffn_gate", E, m->n_ff)) || !(y->ffn_up = blk(l, i, "ffn_up", E, m->n_ff)) ||
            !(y->ffn_down = blk(l, i, "ffn_down", m->n_ff, E)))
            return -1;
        if (y->kind == KVV_LAYER_ATTENTION) {
            if (!(y->wq = blk(l, i, "attn_q", E, (int64_t)H * m->dk)) ||
                !(y->wk = blk(l, i, "attn_k", E, (int64_t)HK * m->dk)) ||
                !(y->wv = blk(l, i, "attn_v", E, (int64_t)HK * m->dv)) ||
                !(y->wo = blk(l, i, "attn_output", (int64_t)H * m->dv, E)))
                return -1;
            m->n_attn_layers++;
        } else {
            char name[KVV_GGUF_MAX_NAME];
            snprintf(name, sizeof name, "blk.%d.ssm_a", i);
            if (!(y->ssm_in = blk(l, i, "ssm_in", E, m->n_state)) || !(y->ssm_out = blk(l, i, "ssm_out", m->n_state, E)) ||
                !(y->ssm_a = tensor(l, name, m->n_state, 0, 0)))
                return -1;
            for (int c = 0; c < m->n_state; c++)
                if (!(y->ssm_a[c] >= 0.0f && y->ssm_a[c] <= 1.0f))
                    return fail(l, "%s[%d] = %g: a decay must lie in [0, 1]", name, c, (double)y->ssm_a[c]);
        }
    }
    for (uint64_t i = 0; i < l->g->ntensors; i++)
        if (!l->used[i])
            return fail(l, "unexpected tensor %s for architecture %s", l->g->tensors[i].name, m->arch);
    return 0;
}

int kvv_model_load(const kvv_gguf *g, kvv_model *m, char *err, size_t err_len)
{
    memset(m, 0, sizeof *m);
    if (err_len)
        err[0] = 0;
    loader l = {g, err, err_len, NULL, calloc((size_t)(g->ntensors ? g->ntensors : 1), 1)};
    const char *arch;
    size_t len;
    int rc = -1;
    if (!l.used) {
        fail(&l, "out of memory");
        goto done;
    }
    if (kvv_gguf_get_str(g, "general.architecture", &arch, &len)) {
        fail(&l, "general.architecture is missing or not a string");
        goto done;
    }
    if (!(len == 5 && !memcmp(arch, "llama", 5)) && !(len == 10 && !memcmp(arch, "kvv-hybrid", 10))) {
        fail(&l, "architecture '%.*s' is not supported (llama, kvv-hybrid)", (int)(len > 40 ? 40 : len), arch);
        goto done;
    }
    memcpy(m->arch, arch, len);
    l.arch = m->arch;
    if (hparams(&l, m))
        goto done;
    m->layers = calloc((size_t)m->n_layer, sizeof *m->layers);
    if (!m->layers) {
        fail(&l, "out of memory");
        goto done;
    }
    if (layer_kinds(&l, m) || tokenizer(&l, m) || weights(&l, m))
        goto done;
    rc = 0;
done:
    free(l.used);
    if (rc)
        kvv_model_free(m);
    return rc;
}

void kvv_model_free(kvv_model *m)
{
    if (m->layers)
        for (int i = 0; i < m->n_layer; i++) {
            kvv_model_layer *y = &m->layers[i];
            float *p[] = {y->attn_norm, y->wq,     y->wk,     y->wv,    y->wo,     y->ssm_in,
                          y->ssm_a,     y->ssm_out, y->ffn_norm, y->ffn_gate, y->ffn_up, y->ffn_down};
            for (size_t k = 0; k < sizeof p / sizeof *p; k++)
                kvv_free(p[k]);
        }
    free(m->layers);
    kvv_free(m->tok_embd);
    kvv_free(m->out_norm);
    kvv_free(m->out);
    if (m->tokens)
        for (int i = 0; i < m->n_vocab; i++)
            free(m->tokens[i]);
    free(m->tokens);
    memset(m, 0, sizeof *m);
}

char *kvv_read_file(const char *path, size_t *len, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap)
            break;
        char *b = realloc(buf, 2 * cap + 1);
        if (!b) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = b;
        cap *= 2;
    }
    int bad = ferror(f), e = errno; /* a directory opens, and fails to read with EISDIR */
    fclose(f);
    if (!buf || bad) {
        free(buf);
        if (bad)
            snprintf(err, err_len, "cannot read %s: %s", path, strerror(e));
        else
            snprintf(err, err_len, "out of memory reading %s", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

int kvv_model_load_file(const char *path, kvv_model *m, char *err, size_t err_len)
{
    size_t n;
    memset(m, 0, sizeof *m);
    char *buf = kvv_read_file(path, &n, err, err_len);
    if (!buf)
        return -1;
    if (n == 0) {
        snprintf(err, err_len, "%s: empty file (0 bytes), not a GGUF model", path);
        free(buf);
        return -1;
    }
    kvv_gguf g;
    char sub[400];
    int rc = -1;
    if (kvv_gguf_parse((const uint8_t *)buf, n, &g, sub, sizeof sub) == 0) {
        rc = kvv_model_load(&g, m, sub, sizeof sub);
        kvv_gguf_free(&g);
    }
    if (rc)
        snprintf(err, err_len, "%s: %s", path, sub);
    free(buf);
    return rc;
}
