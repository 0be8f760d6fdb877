/* The probe builder's random numbers, orthogonal matrices, vocabulary and
 * n-gram counts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/probe_design.h"

static uint64_t next(probe_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double probe_uniform(probe_rng *r) { return (double)(next(r) >> 11) * 0x1p-53; }

double probe_normal(probe_rng *r)
{
    double u = probe_uniform(r), v = probe_uniform(r);
    return sqrt(-2.0 * log(u > 0 ? u : 0x1p-53)) * cos(2.0 * M_PI * v);
}

void probe_orthogonal(probe_rng *r, double *q, int n)
{
    /* Gram-Schmidt twice over Gaussian rows: uniform (Haar) up to the sign
     * convention, orthonormal to f64 rounding */
    for (int i = 0; i < n; i++) {
        double *row = q + (size_t)i * n;
        for (int k = 0; k < n; k++)
            row[k] = probe_normal(r);
        for (int pass = 0; pass < 2; pass++)
            for (int j = 0; j < i; j++) {
                const double *prev = q + (size_t)j * n;
                double d = 0;
                for (int k = 0; k < n; k++)
                    d += row[k] * prev[k];
                for (int k = 0; k < n; k++)
                    row[k] -= d * prev[k];
            }
        double s = 0;
        for (int k = 0; k < n; k++)
            s += row[k] * row[k];
        s = 1.0 / sqrt(s);
        for (int k = 0; k < n; k++)
            row[k] *= s;
    }
}

const char *const probe_tokens[PROBE_VOCAB] = {
    "<unk>", "\n", " ", "'", ",", ".", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j",
    "k",     "l",  "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z"};

int probe_token_of(unsigned char c)
{
    for (int t = 1; t < PROBE_VOCAB; t++)
        if (probe_tokens[t][0] == (char)c && probe_tokens[t][1] == 0)
            return t;
    return 0;
}

typedef struct {
    int a, b, count;
} ctx_count;

static int by_count(const void *x, const void *y)
{
    const ctx_count *p = x, *q = y;
    if (p->count != q->count)
        return q->count - p->count;
    return (p->a * PROBE_VOCAB + p->b) - (q->a * PROBE_VOCAB + q->b);
}

int probe_ngrams_count(const char *text, size_t len, int max_ctx, probe_ngrams *g)
{
    enum { V = PROBE_VOCAB };
    memset(g, 0, sizeof *g);
    int c2[V][V];
    int (*c3)[V][V] = calloc(V, sizeof *c3); /* 128 KiB: not on the stack */
    if (!c3)
        return -1;
    memset(c2, 0, sizeof c2);
    int prev2 = -1, prev = -1;
    for (size_t i = 0; i < len; i++) {
        int t = probe_token_of((unsigned char)text[i]);
        if (prev >= 0)
            c2[prev][t]++;
        if (prev2 >= 0)
            c3[prev2][prev][t]++;
        prev2 = prev;
        prev = t;
    }
    double p2[V][V];
    for (int b = 0; b < V; b++) {
        int tot = 0;
        for (int v = 0; v < V; v++)
            tot += c2[b][v];
        double mean = 0;
        for (int v = 0; v < V; v++) {
            p2[b][v] = (c2[b][v] + 0.5) / (tot + 0.5 * V);
            g->lp2[b][v] = log(p2[b][v]);
            mean += g->lp2[b][v] / V;
        }
        for (int v = 0; v < V; v++)
            g->lp2[b][v] -= mean;
    }
    ctx_count *cc = malloc(sizeof *cc * V * V);
    if (!cc) {
        free(c3);
        return -1;
    }
    int n = 0;
    for (int a = 0; a < V; a++)
        for (int b = 0; b < V; b++) {
            int tot = 0;
            for (int v = 0; v < V; v++)
                tot += c3[a][b][v];
            if (tot)
                cc[n++] = (ctx_count){a, b, tot};
        }
    qsort(cc, (size_t)n, sizeof *cc, by_count);
    g->nctx = n < max_ctx ? n : max_ctx;
    g->ctx = malloc(sizeof *g->ctx * (size_t)(g->nctx ? g->nctx : 1));
    g->d3 = malloc(sizeof *g->d3 * (size_t)(g->nctx ? g->nctx : 1));
    if (!g->ctx || !g->d3) {
        free(cc);
        free(c3);
        probe_ngrams_free(g);
        return -1;
    }
    for (int k = 0; k < g->nctx; k++) {
        int a = cc[k].a, b = cc[k].b;
        g->ctx[k][0] = a;
        g->ctx[k][1] = b;
        double mean = 0;
        for (int v = 0; v < V; v++) {
            /* the trigram estimate, pulled towards the bigram by two pseudo-counts */
            double p3 = (c3[a][b][v] + 2.0 * p2[b][v]) / (cc[k].count + 2.0);
            g->d3[k][v] = log(p3) - log(p2[b][v]);
            mean += g->d3[k][v] / V;
        }
        for (int v = 0; v < V; v++)
            g->d3[k][v] -= mean;
    }
    free(cc);
    free(c3);
    return 0;
}

void probe_ngrams_free(probe_ngrams *g)
{
    free(g->ctx);
    free(g->d3);
    memset(g, 0, sizeof *g);
}
