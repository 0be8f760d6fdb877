/* The probe model: a llama-architecture model whose weights are constructed
 * (not trained) from a seed and a corpus so that it predicts the corpus well
 * through sharp attention, as a real model predicts text with repeated
 * structure.
 *
 * Design, in a canonical basis of the residual stream (n_embd 256) cut into
 * slots of 32 dims; token codes are the rows of a random orthogonal 32x32
 * matrix, so code(a) . code(b) = [a == b]:
 *   A  code of the current token (the embedding)
 *   B, C, F  codes of the tokens 1, 2, 3 positions back (written by layer 0)
 *   D  the in-context prediction (written by layer 1)
 *   T  n-gram knowledge (written by layer 0's FFN)
 *   E  decayed bag of recent tokens (written by the recurrent layers, hybrid only)
 *   U  one constant dim; N  the rest: per-token "noise" features
 * Layer 0 (previous-token heads): K holds a constant vector in the highest-
 *   frequency RoPE pairs, Q the same vector advanced by Delta positions, so
 *   each head attends sharply to position i - Delta (Delta = 1, 2, 3 by
 *   head); V carries the token's code, and the output lands in B, C, F.
 * Layer 0's FFN: one SwiGLU unit per frequent two-token context (a, b) of the
 *   corpus fires when B holds a and A holds b, and writes the trigram
 *   correction log p(v | a b) - log p(v | b) into T.
 * Layer 1 (induction heads): in the lowest-frequency pairs (position-
 *   independent over the context), Q holds the codes of (t_i, t_i-1) and K
 *   the codes of (t_j-1, t_j-2), so a head attends to the positions that
 *   followed an earlier occurrence of the current two tokens; V carries t_j,
 *   the output lands in D.  KV heads alternate this with the shifted pattern
 *   (t_i-1, t_i-2) against (t_j-2, t_j-3).
 * Output: logits = beta * (code(v) . D) + log p(v | t_i) (from A) + the T
 *   correction (+ gamma * (code(v) . E) in the hybrid).
 * Realism: the residual basis is a random rotation (every matrix dense); norm
 * weights are random with the inverse folded into the next matrix; each
 * RoPE pair of Q/K gets a random phase and scale (K up, Q down), and a few K
 * pairs are outliers 10-40x larger than the rest, compensated in Q; unused K
 * dims carry token-dependent features that Q ignores; each KV head's V basis
 * is a random rotation; FFN units beyond the n-gram table are random.
 *
 * The hybrid ("kvv-hybrid") puts a diagonal linear recurrence after each
 * attention layer: state = a * state + (1 - a) * code(t), with a near 0.9
 * and 0.97, read out into E. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvv/tensor.h"
#include "model/model.h"
#include "model/probe_design.h"
#include "ref/ref.h"

enum { EMB = 256, NCODE = 32, SA = 0, SB = 32, SC = 64, SF = 96, SD = 128, ST = 160, SE = 192, SU = 224, SN = 225 };
enum { NNOISE = EMB - SN, NFF = 256, NSTATE = 32, CTX_TRAIN = 4096 };
#define ROPE_BASE 500000.0
#define RMS_EPS 1e-5

/* Tuning of the construction (logit units after the attention scale). */
#define POS_GAP 10.0     /* previous-token heads: score of i-Delta over the next best key */
#define POS_THETA_MIN 0.25 /* RoPE pairs at least this fast carry the positional pattern */
#define IND_ALPHA 6.0    /* induction heads: score per matching code */
#define OUT_BETA 3.0     /* weight of the in-context prediction */
#define OUT_GAMMA 1.5    /* hybrid: weight of the recurrent bag of tokens */
#define FFN_GAIN 20.0    /* n-gram units: gate slope per matching code */
#define FFN_THRESH 1.3   /* ... and the match count above which a unit fires */
#define T_SCALE 0.125    /* T holds the correction scaled down, to keep the residual norm steady */
#define U0 1.0           /* the constant dim */
#define NOISE 0.5        /* norm of a token's noise features */
#define KMAG 2.0         /* norm of the positional K pattern per pair */
#define KCODE 1.5        /* norm of each code in the induction K */
#define KFILL 0.5        /* rms of the K dims that Q ignores (token features) */
#define VMAG 4.0         /* norm of the code in V */
/* K outliers at head dim 128, scaled with the square root of the head dim
 * at 64 and 256 (between the same share of a head's K energy, which rotation
 * groups see, and the same size against a block's other values, which the
 * block types see): the constant channel of the previous-token layer, and
 * two content pairs of the induction layer */
#define SINK_SCALE 16.0
#define OUTLIER_A 20.0
#define OUTLIER_B 40.0

typedef struct {
    kvv_probe_params p;
    int dk, H, HK, nl;
    kvv_layer_kind kind[4];
    probe_rng rng;
    double codes[PROBE_VOCAB][NCODE];
    double noise[PROBE_VOCAB][NNOISE]; /* unit vectors */
    double *R;                          /* residual rotation [EMB][EMB] */
    double rho2;                        /* nominal squared norm of the residual so far */
    probe_ngrams ng;
    kvv_gguf_writer *w;
    char *err;
    size_t err_len;
    int bad;
} probe;

static void fail(probe *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(probe *b, const char *fmt, ...)
{
    if (b->bad++)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, b->err_len, fmt, ap);
    va_end(ap);
}

/* gain of a unit raw residual component after RMSNorm, at the nominal norm */
static double gain(const probe *b) { return sqrt((double)EMB) / sqrt(b->rho2); }

static double *zeros(probe *b, size_t n)
{
    double *p = calloc(n ? n : 1, sizeof(double));
    if (!p)
        fail(b, "out of memory building the probe");
    return p;
}

/* ---------------- emitting tensors ---------------- */

static void emit(probe *b, const char *name, const double *w, int rows, int cols, uint32_t type)
{
    if (b->bad)
        return;
    size_t n = (size_t)rows * cols;
    float *f = kvv_alloc(sizeof(float) * n);
    kvv_type kt = kvv_ggml_to_kvv(type);
    size_t nb = kvv_row_bytes(kt, cols) * (size_t)rows;
    void *q = kvv_alloc(nb);
    if (!f || !q) {
        fail(b, "out of memory building the probe");
    } else {
        for (size_t i = 0; i < n; i++)
            f[i] = (float)w[i];
        int64_t ne[2] = {cols, rows};
        if (!nb || kvv_ref_type_get(kt)->quantize(f, q, rows, cols, NULL) ||
            kvv_gguf_add_tensor(b->w, name, type, rows > 1 ? 2 : 1, ne, q, nb))
            fail(b, "cannot store %s as %s", name, kvv_ggml_type_name(type));
    }
    kvv_free(f);
    kvv_free(q);
}

/* A matrix that reads the normalized residual: w' = w R^T diag(1/g) (the
 * norm's weights g are folded out so that w' (x_hat * g) = w (R^T x_hat)). */
static void emit_reader(probe *b, const char *name, const double *w, int rows, const double *g)
{
    double *o = zeros(b, (size_t)rows * EMB);
    int *nz = malloc(sizeof(int) * EMB);
    if (!o || !nz) {
        free(o);
        free(nz);
        return;
    }
    for (int r = 0; r < rows; r++) {
        const double *wr = w + (size_t)r * EMB;
        int n = 0; /* the design matrices are sparse in the canonical basis */
        for (int k = 0; k < EMB; k++)
            if (wr[k] != 0)
                nz[n++] = k;
        for (int i = 0; i < EMB; i++) {
            double s = 0;
            for (int j = 0; j < n; j++)
                s += wr[nz[j]] * b->R[(size_t)i * EMB + nz[j]];
            o[(size_t)r * EMB + i] = s / g[i];
        }
    }
    emit(b, name, o, rows, EMB, b->p.wtype);
    free(o);
    free(nz);
}

/* A matrix that writes the residual: w' = R w (w: [EMB][cols]). */
static void emit_writer(probe *b, const char *name, const double *w, int cols)
{
    double *o = zeros(b, (size_t)EMB * cols);
    if (!o)
        return;
    for (int i = 0; i < EMB; i++)
        for (int k = 0; k < EMB; k++) {
            double r = b->R[(size_t)i * EMB + k];
            if (r != 0)
                for (int c = 0; c < cols; c++)
                    o[(size_t)i * cols + c] += r * w[(size_t)k * cols + c];
        }
    emit(b, name, o, EMB, cols, b->p.wtype);
    free(o);
}

/* Random norm weights in [0.6, 1.6], written as f32 (as GGUF files keep norms). */
static void emit_norm(probe *b, const char *name, double *g)
{
    for (int i = 0; i < EMB; i++)
        g[i] = 0.6 + probe_uniform(&b->rng);
    emit(b, name, g, 1, EMB, KVV_GGML_F32);
}

static void blk_name(char *buf, int l, const char *what)
{
    snprintf(buf, KVV_GGUF_MAX_NAME, "blk.%d.%s", l, what);
}

/* ---------------- Q/K post-processing ---------------- */

/* Per RoPE pair of each KV head: a random phase (the same 2-D rotation on Q
 * and K, which commutes with RoPE) and a random scale, K up and Q down;
 * `outlier` pairs get scales of 10-40 instead. */
static void qk_pairs(probe *b, double *wq, double *wk, const int *outlier, const double *oscale, int nout)
{
    const int dk = b->dk, G = b->H / b->HK;
    for (int kh = 0; kh < b->HK; kh++)
        for (int p = 0; p < dk / 2; p++) {
            double ph = 2 * M_PI * probe_uniform(&b->rng), sc = exp(0.7 * (probe_uniform(&b->rng) - 0.5));
            for (int o = 0; o < nout; o++)
                if (outlier[o] == p)
                    sc = oscale[o];
            double c = cos(ph), s = sin(ph);
            for (int h = -1; h < G; h++) { /* h = -1: the K head */
                double *w = h < 0 ? wk + (size_t)kh * dk * EMB : wq + (size_t)(kh * G + h) * dk * EMB;
                double f = h < 0 ? sc : 1.0 / sc;
                double *r0 = w + (size_t)(2 * p) * EMB, *r1 = r0 + EMB;
                for (int i = 0; i < EMB; i++) {
                    double a = r0[i], bb = r1[i];
                    r0[i] = f * (c * a - s * bb);
                    r1[i] = f * (s * a + c * bb);
                }
            }
        }
}

/* K dims that Q ignores: token-dependent features (from the noise slot). */
static void k_filler(probe *b, double *wk, const char *used)
{
    double s = gain(b);
    for (int kh = 0; kh < b->HK; kh++)
        for (int d = 0; d < b->dk; d++) {
            if (used[d])
                continue;
            double *row = wk + ((size_t)kh * b->dk + d) * EMB;
            for (int m = 0; m < NNOISE; m++)
                row[SN + m] = KFILL * probe_normal(&b->rng) / (NOISE * s);
        }
}

/* V of each KV head: the code of the token (slot `from`) in a random basis,
 * and token features in the remaining dims; the matching W_o columns for the
 * heads of that KV head write the code into slot `to`, each with weight w. */
static void v_and_o(probe *b, double *wv, double *wo, int from, const int *to_slot, const double *w)
{
    const int dv = b->dk, G = b->H / b->HK;
    double s = gain(b);
    double *Q = zeros(b, (size_t)dv * dv);
    if (!Q)
        return;
    for (int kh = 0; kh < b->HK; kh++) {
        probe_orthogonal(&b->rng, Q, dv);
        for (int e = 0; e < dv; e++) {
            double *row = wv + ((size_t)kh * dv + e) * EMB;
            for (int m = 0; m < NCODE; m++)
                row[from + m] = VMAG * Q[(size_t)e * dv + m] / s;
            for (int m = 0; m < NNOISE && NCODE + m < dv; m++)
                row[SN + m] = Q[(size_t)e * dv + NCODE + m] / (NOISE * s);
        }
        for (int g = 0; g < G; g++) {
            int h = kh * G + g;
            for (int m = 0; m < NCODE; m++)
                for (int e = 0; e < dv; e++)
                    wo[(size_t)(to_slot[h] + m) * (b->H * dv) + (size_t)h * dv + e] = w[h] * Q[(size_t)e * dv + m] / VMAG;
        }
    }
    free(Q);
}

/* ---------------- layers ---------------- */

static double theta(const probe *b, int p) { return pow(ROPE_BASE, -2.0 * p / b->dk); }

/* Layer of previous-token heads: head h attends to i - Delta_h. */
static void positional_layer(probe *b, int l, double *g)
{
    const int dk = b->dk, H = b->H, HK = b->HK, G = H / HK;
    double *wq = zeros(b, (size_t)H * dk * EMB), *wk = zeros(b, (size_t)HK * dk * EMB);
    double *wv = zeros(b, (size_t)HK * dk * EMB), *wo = zeros(b, (size_t)EMB * H * dk);
    char *used = calloc((size_t)dk, 1);
    if (!wq || !wk || !wv || !wo || !used) {
        fail(b, "out of memory building the probe");
        goto done;
    }
    /* pairs fast enough to tell neighbours apart, weighted by how much they do */
    int np = 0;
    double wgt[128];
    while (np < dk / 2 && theta(b, np) >= POS_THETA_MIN) {
        wgt[np] = 1.0 - cos(theta(b, np));
        np++;
    }
    /* scale so that the target key beats every other by POS_GAP */
    double top = 0, next = -INFINITY;
    for (int p = 0; p < np; p++)
        top += wgt[p];
    for (int x = -3; x <= CTX_TRAIN; x++) {
        if (!x)
            continue;
        double sx = 0;
        for (int p = 0; p < np; p++)
            sx += wgt[p] * cos(theta(b, p) * x);
        next = sx > next ? sx : next;
    }
    double amp = POS_GAP / (top - next), s = gain(b);
    int to_slot[1024], count[4] = {0};
    double w[1024];
    for (int h = 0; h < H; h++)
        count[1 + h % 3]++;
    for (int h = 0; h < H; h++) {
        int delta = 1 + h % 3;
        to_slot[h] = delta == 1 ? SB : delta == 2 ? SC : SF;
        w[h] = 1.0 / count[delta];
    }
    for (int kh = 0; kh < HK; kh++)
        for (int p = 0; p < np; p++) {
            /* K: (KMAG, 0) before RoPE; Q: advanced by Delta so the dot peaks at j = i - Delta */
            double rq = amp * wgt[p] * sqrt((double)dk) / KMAG;
            wk[((size_t)kh * dk + 2 * p) * EMB + SU] = KMAG / (U0 * s);
            used[2 * p] = used[2 * p + 1] = 1;
            for (int gq = 0; gq < G; gq++) {
                int h = kh * G + gq, delta = 1 + h % 3;
                double *q0 = wq + ((size_t)h * dk + 2 * p) * EMB;
                q0[SU] = rq * cos(delta * theta(b, p)) / (U0 * s);
                q0[EMB + SU] = -rq * sin(delta * theta(b, p)) / (U0 * s);
            }
        }
    /* the slowest pair: a constant "sink" channel, as real K caches have; its
     * score is the same for every key (the pair barely turns over the
     * context), so Q's small weight there changes no softmax */
    int sink = dk / 2 - 1;
    used[2 * sink] = used[2 * sink + 1] = 1;
    for (int kh = 0; kh < HK; kh++) {
        wk[((size_t)kh * dk + 2 * sink) * EMB + SU] = 1.0 / (U0 * s);
        for (int gq = 0; gq < G; gq++)
            wq[((size_t)(kh * G + gq) * dk + 2 * sink) * EMB + SU] = sqrt((double)dk) / (U0 * s);
    }
    k_filler(b, wk, used);
    int outlier[1] = {sink};
    double oscale[1] = {SINK_SCALE * sqrt(dk / 128.0)};
    qk_pairs(b, wq, wk, outlier, oscale, 1);
    v_and_o(b, wv, wo, SA, to_slot, w);
    char name[KVV_GGUF_MAX_NAME];
    blk_name(name, l, "attn_q.weight");
    emit_reader(b, name, wq, H * dk, g);
    blk_name(name, l, "attn_k.weight");
    emit_reader(b, name, wk, HK * dk, g);
    blk_name(name, l, "attn_v.weight");
    emit_reader(b, name, wv, HK * dk, g);
    blk_name(name, l, "attn_output.weight");
    emit_writer(b, name, wo, H * dk);
    b->rho2 += 3.0; /* B, C, F: one code each */
done:
    free(wq);
    free(wk);
    free(wv);
    free(wo);
    free(used);
}

/* Layer of induction heads: match the last two tokens against earlier pairs. */
static void induction_layer(probe *b, int l, double *g)
{
    const int dk = b->dk, H = b->H, HK = b->HK, G = H / HK;
    double *wq = zeros(b, (size_t)H * dk * EMB), *wk = zeros(b, (size_t)HK * dk * EMB);
    double *wv = zeros(b, (size_t)HK * dk * EMB), *wo = zeros(b, (size_t)EMB * H * dk);
    char *used = calloc((size_t)dk, 1);
    if (!wq || !wk || !wv || !wo || !used) {
        fail(b, "out of memory building the probe");
        goto done;
    }
    double s = gain(b), qgain = IND_ALPHA * sqrt((double)dk) / KCODE;
    int ncodes = dk >= 4 * NCODE ? 2 : 1; /* the slow half of the pairs holds one or two codes */
    for (int kh = 0; kh < HK; kh++) {
        int shifted = HK > 1 && kh % 2;
        int qs[2] = {shifted ? SB : SA, shifted ? SC : SB}, ks[2] = {shifted ? SC : SB, shifted ? SF : SC};
        for (int c = 0; c < ncodes; c++)
            for (int m = 0; m < NCODE; m++) {
                int d = dk / 2 + c * NCODE + m;
                used[d] = 1;
                wk[((size_t)kh * dk + d) * EMB + ks[c] + m] = KCODE / s;
                for (int gq = 0; gq < G; gq++)
                    wq[((size_t)(kh * G + gq) * dk + d) * EMB + qs[c] + m] = qgain / s;
            }
    }
    k_filler(b, wk, used);
    int outlier[2] = {dk / 4 + 3, dk / 4 + 11};
    double oscale[2] = {OUTLIER_A * sqrt(dk / 128.0), OUTLIER_B * sqrt(dk / 128.0)};
    qk_pairs(b, wq, wk, outlier, oscale, 2);
    int to_slot[1024];
    double w[1024];
    for (int h = 0; h < H; h++) {
        to_slot[h] = SD;
        w[h] = 1.0 / H;
    }
    v_and_o(b, wv, wo, SA, to_slot, w);
    char name[KVV_GGUF_MAX_NAME];
    blk_name(name, l, "attn_q.weight");
    emit_reader(b, name, wq, H * dk, g);
    blk_name(name, l, "attn_k.weight");
    emit_reader(b, name, wk, HK * dk, g);
    blk_name(name, l, "attn_v.weight");
    emit_reader(b, name, wv, HK * dk, g);
    blk_name(name, l, "attn_output.weight");
    emit_writer(b, name, wo, H * dk);
    b->rho2 += 0.7; /* D: a mixture of codes */
done:
    free(wq);
    free(wk);
    free(wv);
    free(wo);
    free(used);
}

/* Diagonal linear recurrence: a bag of recent token codes into slot E. */
static void recurrent_layer(probe *b, int l, double *g, double decay)
{
    double *win = zeros(b, (size_t)NSTATE * EMB), *wout = zeros(b, (size_t)EMB * NSTATE), a[NSTATE];
    if (!win || !wout)
        goto done;
    double s = gain(b);
    for (int k = 0; k < NSTATE; k++) {
        win[(size_t)k * EMB + SA + k] = 1.0 / s;
        wout[(size_t)(SE + k) * NSTATE + k] = 0.5;
        a[k] = decay + 0.02 * (probe_uniform(&b->rng) - 0.5);
    }
    char name[KVV_GGUF_MAX_NAME];
    blk_name(name, l, "ssm_in.weight");
    emit_reader(b, name, win, NSTATE, g);
    blk_name(name, l, "ssm_a");
    emit(b, name, a, 1, NSTATE, KVV_GGML_F32);
    blk_name(name, l, "ssm_out.weight");
    emit_writer(b, name, wout, NSTATE);
    b->rho2 += 0.1;
done:
    free(win);
    free(wout);
}

/* SwiGLU FFN: with ngram set, the first units hold the trigram table, the
 * rest are random units writing small values into the noise slot. */
static void ffn(probe *b, int l, double *g, int ngram)
{
    double *gate = zeros(b, (size_t)NFF * EMB), *up = zeros(b, (size_t)NFF * EMB);
    double *down = zeros(b, (size_t)EMB * NFF);
    if (!gate || !up || !down)
        goto done;
    double s = gain(b);
    int k0 = ngram ? b->ng.nctx : 0;
    for (int k = 0; k < k0; k++) {
        int a = b->ng.ctx[k][0], c = b->ng.ctx[k][1];
        double *gr = gate + (size_t)k * EMB;
        for (int m = 0; m < NCODE; m++) {
            gr[SB + m] = FFN_GAIN * b->codes[a][m] / s;
            gr[SA + m] = FFN_GAIN * b->codes[c][m] / s;
        }
        gr[SU] = -FFN_GAIN * FFN_THRESH / (U0 * s);
        up[(size_t)k * EMB + SU] = 1.0 / (U0 * s);
        double out = T_SCALE / (FFN_GAIN * (2.0 - FFN_THRESH));
        for (int m = 0; m < NCODE; m++) {
            double t = 0;
            for (int v = 0; v < PROBE_VOCAB; v++)
                t += b->ng.d3[k][v] * b->codes[v][m];
            down[(size_t)(ST + m) * NFF + k] = out * t;
        }
    }
    for (int k = k0; k < NFF; k++) {
        for (int i = 0; i < EMB; i++) {
            gate[(size_t)k * EMB + i] = probe_normal(&b->rng) / (s * 4.0);
            up[(size_t)k * EMB + i] = probe_normal(&b->rng) / (s * 4.0);
        }
        for (int m = 0; m < NNOISE; m++)
            down[(size_t)(SN + m) * NFF + k] = probe_normal(&b->rng) * 0.02;
    }
    char name[KVV_GGUF_MAX_NAME];
    blk_name(name, l, "ffn_gate.weight");
    emit_reader(b, name, gate, NFF, g);
    blk_name(name, l, "ffn_up.weight");
    emit_reader(b, name, up, NFF, g);
    blk_name(name, l, "ffn_down.weight");
    emit_writer(b, name, down, NFF);
    b->rho2 += ngram ? 0.05 : 0.02;
done:
    free(gate);
    free(up);
    free(down);
}

static void embeddings(probe *b)
{
    double *e = zeros(b, (size_t)PROBE_VOCAB * EMB), *o = zeros(b, (size_t)PROBE_VOCAB * EMB);
    if (!e || !o)
        goto done;
    for (int t = 0; t < PROBE_VOCAB; t++) {
        double *r = e + (size_t)t * EMB;
        for (int m = 0; m < NCODE; m++)
            r[SA + m] = b->codes[t][m];
        r[SU] = U0;
        for (int m = 0; m < NNOISE; m++)
            r[SN + m] = NOISE * b->noise[t][m];
    }
    for (int t = 0; t < PROBE_VOCAB; t++)
        for (int i = 0; i < EMB; i++) {
            double s = 0;
            for (int k = 0; k < EMB; k++)
                s += b->R[(size_t)i * EMB + k] * e[(size_t)t * EMB + k];
            o[(size_t)t * EMB + i] = s;
        }
    emit(b, "token_embd.weight", o, PROBE_VOCAB, EMB, b->p.wtype);
    b->rho2 = 1.0 + U0 * U0 + NOISE * NOISE;
done:
    free(e);
    free(o);
}

static void output(probe *b, double *g)
{
    double *w = zeros(b, (size_t)PROBE_VOCAB * EMB);
    if (!w)
        return;
    double s = gain(b);
    for (int v = 0; v < PROBE_VOCAB; v++) {
        double *r = w + (size_t)v * EMB;
        for (int m = 0; m < NCODE; m++) {
            double bigram = 0;
            for (int u = 0; u < PROBE_VOCAB; u++)
                bigram += b->ng.lp2[u][v] * b->codes[u][m];
            r[SA + m] = bigram / s;
            r[SD + m] = OUT_BETA * b->codes[v][m] / s;
            r[ST + m] = b->codes[v][m] / (T_SCALE * s);
            if (b->p.hybrid)
                r[SE + m] = OUT_GAMMA * b->codes[v][m] / s;
        }
        for (int m = 0; m < NNOISE; m++)
            r[SN + m] = 0.3 * probe_normal(&b->rng) / (NOISE * s * sqrt((double)NNOISE));
    }
    emit_reader(b, "output.weight", w, PROBE_VOCAB, g);
    free(w);
}

static void metadata(probe *b)
{
    const char *arch = b->p.hybrid ? "kvv-hybrid" : "llama";
    char key[96];
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)
    kvv_gguf_writer *w = b->w;
    int rc = kvv_gguf_add_str(w, "general.architecture", arch);
    rc |= kvv_gguf_add_str(w, "general.name", b->p.hybrid ? "kvverify hybrid probe" : "kvverify probe");
    rc |= kvv_gguf_add_kv(w, "kvverify.probe.seed", KVV_GGUF_UINT64, 0, 1, &b->p.seed);
    rc |= kvv_gguf_add_u32(w, KEY("context_length"), CTX_TRAIN);
    rc |= kvv_gguf_add_u32(w, KEY("embedding_length"), EMB);
    rc |= kvv_gguf_add_u32(w, KEY("block_count"), (uint32_t)b->nl);
    rc |= kvv_gguf_add_u32(w, KEY("feed_forward_length"), NFF);
    rc |= kvv_gguf_add_u32(w, KEY("attention.head_count"), (uint32_t)b->H);
    rc |= kvv_gguf_add_u32(w, KEY("attention.head_count_kv"), (uint32_t)b->HK);
    rc |= kvv_gguf_add_u32(w, KEY("attention.key_length"), (uint32_t)b->dk);
    rc |= kvv_gguf_add_u32(w, KEY("attention.value_length"), (uint32_t)b->dk);
    rc |= kvv_gguf_add_u32(w, KEY("rope.dimension_count"), (uint32_t)b->dk);
    rc |= kvv_gguf_add_f32(w, KEY("rope.freq_base"), (float)ROPE_BASE);
    rc |= kvv_gguf_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), (float)RMS_EPS);
    rc |= kvv_gguf_add_u32(w, KEY("vocab_size"), PROBE_VOCAB);
    if (b->p.hybrid) {
        const char *kinds[4];
        for (int l = 0; l < b->nl; l++)
            kinds[l] = b->kind[l] == KVV_LAYER_ATTENTION ? "attention" : "recurrent";
        rc |= kvv_gguf_add_kv(w, KEY("layer_kinds"), KVV_GGUF_ARRAY, KVV_GGUF_STRING, (uint64_t)b->nl, kinds);
        rc |= kvv_gguf_add_u32(w, KEY("recurrent.state_size"), NSTATE);
    }
    rc |= kvv_gguf_add_str(w, "tokenizer.ggml.model", "kvv-char");
    rc |= kvv_gguf_add_kv(w, "tokenizer.ggml.tokens", KVV_GGUF_ARRAY, KVV_GGUF_STRING, PROBE_VOCAB, probe_tokens);
    rc |= kvv_gguf_add_u32(w, "tokenizer.ggml.unknown_token_id", 0);
#undef KEY
    if (rc)
        fail(b, "out of memory writing the probe's metadata");
}

kvv_probe_params kvv_probe_default(void)
{
    kvv_probe_params p = {.seed = 1, .head_dim = 128, .n_head = 8, .n_head_kv = 2, .hybrid = 0,
                          .wtype = KVV_GGML_F16};
    return p;
}

static int check_params(const kvv_probe_params *p, char *err, size_t n)
{
    kvv_type kt = kvv_ggml_to_kvv(p->wtype);
    if (p->head_dim != 64 && p->head_dim != 128 && p->head_dim != 256) {
        snprintf(err, n, "probe head_dim must be 64, 128 or 256, not %d", p->head_dim);
        return -1;
    }
    if (p->n_head_kv < 1 || p->n_head < 3 || p->n_head > 64 || p->n_head % p->n_head_kv) {
        snprintf(err, n, "probe heads: n_head %d (3..64) must be a multiple of n_head_kv %d", p->n_head,
                 p->n_head_kv);
        return -1;
    }
    if (kt == KVV_TYPE_NONE || !kvv_ref_type_get(kt) || !kvv_ref_type_get(kt)->quantize ||
        kvv_type_get(kt)->family == KVV_FAMILY_TURBO || !kvv_row_bytes(kt, EMB) || !kvv_row_bytes(kt, NFF) ||
        !kvv_row_bytes(kt, p->head_dim * p->n_head)) {
        snprintf(err, n, "probe weights cannot be stored as ggml type %u (%s)", p->wtype,
                 kvv_ggml_type_name(p->wtype));
        return -1;
    }
    return 0;
}

int kvv_probe_check(const kvv_probe_params *p, char *err, size_t err_len) { return check_params(p, err, err_len); }

int kvv_probe_build(const kvv_probe_params *pp, const char *corpus, size_t corpus_len, uint8_t **gguf, size_t *size,
                    char *err, size_t err_len)
{
    *gguf = NULL;
    *size = 0;
    if (check_params(pp, err, err_len))
        return -1;
    probe b;
    memset(&b, 0, sizeof b);
    b.p = *pp;
    b.dk = pp->head_dim;
    b.H = pp->n_head;
    b.HK = pp->n_head_kv;
    b.err = err;
    b.err_len = err_len;
    b.rng.s = pp->seed * 0x2545f4914f6cdd1dull + 0x1234567;
    b.nl = pp->hybrid ? 4 : 2;
    for (int l = 0; l < b.nl; l++)
        b.kind[l] = pp->hybrid && l % 2 ? KVV_LAYER_RECURRENT : KVV_LAYER_ATTENTION;
    b.w = kvv_gguf_writer_new(KVV_GGUF_DEFAULT_ALIGNMENT);
    b.R = malloc(sizeof(double) * EMB * EMB);
    double *cq = malloc(sizeof(double) * NCODE * NCODE), g[EMB];
    if (!b.w || !b.R || !cq || probe_ngrams_count(corpus, corpus_len, NFF - 16, &b.ng)) {
        fail(&b, "out of memory building the probe");
        goto done;
    }
    probe_orthogonal(&b.rng, cq, NCODE);
    for (int t = 0; t < PROBE_VOCAB; t++)
        memcpy(b.codes[t], cq + (size_t)t * NCODE, sizeof b.codes[t]);
    for (int t = 0; t < PROBE_VOCAB; t++) {
        double s = 0;
        for (int m = 0; m < NNOISE; m++) {
            b.noise[t][m] = probe_normal(&b.rng);
            s += b.noise[t][m] * b.noise[t][m];
        }
        for (int m = 0; m < NNOISE; m++)
            b.noise[t][m] /= sqrt(s);
    }
    probe_orthogonal(&b.rng, b.R, EMB);
    metadata(&b);
    embeddings(&b);
    int attn_seen = 0;
    double decay[2] = {0.9, 0.97};
    for (int l = 0; l < b.nl; l++) {
        char name[KVV_GGUF_MAX_NAME];
        blk_name(name, l, "attn_norm.weight");
        emit_norm(&b, name, g);
        if (b.kind[l] == KVV_LAYER_ATTENTION) {
            if (attn_seen++ == 0)
                positional_layer(&b, l, g);
            else
                induction_layer(&b, l, g);
        } else {
            recurrent_layer(&b, l, g, decay[l / 2 % 2]);
        }
        blk_name(name, l, "ffn_norm.weight");
        emit_norm(&b, name, g);
        ffn(&b, l, g, l == 0);
    }
    emit_norm(&b, "output_norm.weight", g);
    output(&b, g);
    if (!b.bad && kvv_gguf_write(b.w, gguf, size, err, err_len))
        b.bad = 1;
done:
    probe_ngrams_free(&b.ng);
    kvv_gguf_writer_free(b.w);
    free(b.R);
    free(cq);
    return b.bad ? -1 : 0;
}
