/* Input generators: deterministic random tensors from a seed.  The whole
 * interface of the generator half of fuzz/ (the shrinker and the libFuzzer
 * targets have their own). */
#ifndef KVV_GEN_H
#define KVV_GEN_H

#include <stdint.h>

#include "kvv/case.h"

/* xoshiro256** seeded through splitmix64: bit-reproducible everywhere. */
typedef struct kvv_rng {
    uint64_t s[4];
} kvv_rng;

/* Independent streams of one seed (q, k, v, mask, ... use different streams). */
void kvv_rng_seed(kvv_rng *r, uint64_t seed, uint64_t stream);
uint64_t kvv_rng_next(kvv_rng *r);
double kvv_rng_uniform(kvv_rng *r); /* [0, 1) with 53 random bits */
double kvv_rng_normal(kvv_rng *r);  /* N(0,1), Box-Muller */
/* (float)kvv_rng_normal(r), bit for bit, faster (gen/gen_normal.c) */
float kvv_rng_normal_f32(kvv_rng *r);
/* n of them into x, as n calls would give */
void kvv_rng_normal_f32_n(kvv_rng *r, float *x, int64_t n);
/* n Student-t(3) values (the HEAVY distribution), draw for draw the floats
 * of z / sqrt((g1^2 + g2^2 + g3^2)/3 + 1e-12), all four kvv_rng_normal */
void kvv_rng_student3_f32_n(kvv_rng *r, float *x, int64_t n);
/* the same from given uniforms: out[i] from u1[i], u2[i] */
void kvv_normal_f32_from(const double *u1, const double *u2, float *out, int64_t n);

enum { KVV_STREAM_Q = 1, KVV_STREAM_K, KVV_STREAM_V, KVV_STREAM_MASK, KVV_STREAM_X };

/* Fill rows x width f32 values of distribution dist.  Channel-structured
 * distributions (outlier, rope) treat the column as the channel and the row
 * (modulo period, when period > 0) as the position. */
void kvv_gen_fill(float *x, int64_t rows, int width, int period, kvv_dist dist, uint64_t seed, uint64_t stream);

/* A random valid case of one of the ops in `ops` (a bit mask of 1 << kvv_op;
 * 0 = every op the runner runs), drawn from the supported space: any type
 * of the table at any head dim it can take (odd ones for the float types,
 * 576/512), n_kv from 1 up (odd lengths included), decode and prefill, GQA,
 * masks, ALiBi, softcap, scale, every toggle, every distribution.  Sizes
 * are kept small enough that a case runs in well under a second. */
void kvv_gen_case(kvv_rng *r, unsigned ops, kvv_case *c);

/* Attention mask [n_q][n_kv] for a case: 0 where visible, -inf where masked;
 * with ALiBi (max_bias > 0) visible entries hold -|pos_q - pos_k|. */
void kvv_gen_mask(float *mask, const kvv_case *c);

#endif
