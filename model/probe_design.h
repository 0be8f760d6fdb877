/* Private to model/: helpers of the probe builder (probe.c). */
#ifndef KVV_PROBE_DESIGN_H
#define KVV_PROBE_DESIGN_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64 stream; uniform in [0,1) and standard normal deviates */
typedef struct {
    uint64_t s;
} probe_rng;
double probe_uniform(probe_rng *r);
double probe_normal(probe_rng *r);

/* n x n random orthogonal matrix (rows orthonormal), row-major */
void probe_orthogonal(probe_rng *r, double *q, int n);

/* The probe's character vocabulary: token 0 is "<unk>", then "\n", " ",
 * "'", ",", ".", "a".."z". */
#define PROBE_VOCAB 32
extern const char *const probe_tokens[PROBE_VOCAB];
/* token of one byte of text (0 for a byte outside the vocabulary) */
int probe_token_of(unsigned char c);

/* n-gram knowledge from a corpus: centered log-probabilities
 *   lp2[b][v]    of v after b (add-1/2 smoothing)
 *   ctx[k]       = (a, b) the k-th most frequent two-token context, k < nctx
 *   d3[k][v]     = log p(v | a, b) - log p(v | b) for that context
 * (interpolated with the bigram, so that a context seen once is not taken as
 * certain). */
typedef struct {
    double lp2[PROBE_VOCAB][PROBE_VOCAB];
    int nctx;
    int (*ctx)[2];
    double (*d3)[PROBE_VOCAB];
} probe_ngrams;
int probe_ngrams_count(const char *text, size_t len, int max_ctx, probe_ngrams *g);
void probe_ngrams_free(probe_ngrams *g);

#endif
