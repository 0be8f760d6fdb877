/* The rules that judge a backend against the reference, the attention
 * error bound and precision claims.
 *
 * Rules (each has a unit test that plants a defect and sees it caught):
 *   bytes    quantized bytes identical to the reference's canonical bytes;
 *            an element whose exact value lies within one f32 ulp of a
 *            rounding boundary may take the other neighbour (a counted tie)
 *   dequant  dequantized values bit-identical to the reference
 *   toggle   speed-only toggles (threads, split-K, dequant cache, LUT) give
 *            bit-identical outputs to their baseline setting
 *   arith    normalized error ratio: |got - ref| over the bound correct
 *            arithmetic of the backend's precision allows for this input,
 *            against the f64 computation over the same (backend's) data;
 *            the precision it claims is checked first (oracle/claims.c)
 *   budget   attention against the f64 attention over the unquantized K/V,
 *            within the distortion the type itself causes
 *   finite   NaN/Inf exactly where the reference has them, nowhere else
 *   crash    the backend call crashed, hung, failed, or wrote past the end
 *            of a buffer (oracle/guard.c) */
#ifndef KVV_ORACLE_RULES_H
#define KVV_ORACLE_RULES_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "kvv/backend.h"
#include "kvv/case.h"
#include "kvv/verdict.h"
#include "backends/registry.h"
#include "dump/dump.h"
#include "model/model.h"
#include "ref/ref.h"
#include "reports/reports.h"
#include "oracle/verdict.h"

/* ---- rules, usable on their own (and unit-tested with planted defects) ---- */

/* bytes: backend bytes `got` of nrows x ncols values of type t against the
 * reference's canonical bytes and ties for input x.  `what` names the tensor
 * in the failure text ("K", "V", ""). */
int kvv_judge_bytes(kvv_type t, const float *x, int64_t nrows, int64_t ncols, const void *canon,
                    const kvv_ref_ties *ties, const void *got, const char *what, kvv_verdict *v);
/* dequant/toggle: bitwise identity of two buffers (any NaN equals any NaN). */
int kvv_judge_same_f32(const float *got, const float *want, int64_t n, int64_t row_len, kvv_rule rule,
                       const char *what, kvv_verdict *v);
int kvv_judge_same_bytes(const void *got, const void *want, size_t n, size_t row_bytes, kvv_rule rule,
                         const char *what, kvv_verdict *v);
/* finite: got must be non-finite exactly where ref is. */
int kvv_judge_finite(const float *got, const double *ref, int64_t n, int64_t row_len, const char *what,
                     kvv_verdict *v);
/* arith: max over i of |got_i - ref_i| / bound_i must not exceed
 * KVV_ARITH_THRESHOLD (0/0 counts as 0).  Non-finite reference entries are
 * left to the finite rule. */
int kvv_judge_ratio(const float *got, const double *ref, const double *bound, int64_t n, int64_t row_len,
                    const char *what, kvv_verdict *v);

/* roundtrip: for a type the backend stores in no known format, its own
 * dequantization `got` of its own bytes for input x against the reference's
 * round trip in every known version of the cache type (oracle/
 * judge_roundtrip.c says how).  Returns 1 when it failed (rule roundtrip),
 * 0 when it passed, -1 when nothing could be judged (the backend left every
 * value unwritten, or no row is finite); note says which, for the format
 * verdict's text. */
int kvv_judge_roundtrip(kvv_type t, const float *x, int64_t rows, int64_t cols, const float *got, kvv_verdict *v,
                        char *note, size_t note_len);
/* A NaN payload no arithmetic produces: what the host puts in a buffer a
 * backend may leave unwritten. */
#define KVV_UNWRITTEN_F32 0x7fbadbadu
void kvv_roundtrip_mark_unwritten(float *buf, int64_t n);

/* ---- the attention error bound ---- */
typedef struct kvv_bound_args {
    const kvv_ref_attn_args *attn; /* q, k, v as the kernel sees them: the rotated basis for turbo K/V */
    const double *out;             /* f64 output of attn (same basis as v) */
    const double *probs;           /* [n_head][n_q][n_kv] */
    const double *scores;          /* [n_head][n_q][n_kv] */
    double kv_round, acc_round;    /* the backend's unit roundoffs (kvv_attn_info) */
    int rot_q_log2;                /* log2 of K's rotation group when Q is rotated, else -1 */
    int rot_o_group;               /* V's rotation group when the output is inverse-rotated, else 0 */
} kvv_bound_args;
/* bound: [n_head][n_q][dv], in the original (unrotated) output basis. */
int kvv_attn_bound(const kvv_bound_args *b, double *bound);

/* ---- precision claims (oracle/claims.c says why each step) ---- */
/* The largest kv_round a backend may claim (a conversion that moves a value
 * by more than the value itself does not exist). */
#define KVV_CLAIM_KV_CEILING 1.0
/* 0 when kvv_attn_info names a precision that exists (acc_round <= 2^-24,
 * 2^-11 or 2^-8; 0 <= kv_round <= 1); -1 with "invalid precision claim:
 * ..." in why (NaN, infinite, negative, or none of those). */
int kvv_claim_check(double kv_round, double acc_round, char *why, size_t n);
/* "claimed kv_round=2^-10 acc_round=2^-11 (f16 accumulation)" */
void kvv_claim_text(double kv_round, double acc_round, char *buf, size_t n);
/* Whether a claim is coarser than f32 arithmetic over exact operands. */
int kvv_claim_coarse(double kv_round, double acc_round);
/* kv_round capped at what a conversion that exists can need on this input
 * (a = the arith reference's operands, in the kernel's basis): bf16's 2^-7,
 * or the most a q8 conversion of this Q moves any score over sum |q||k|. */
double kvv_claim_kv_cap(const kvv_ref_attn_args *a, double kv_round);
/* The attention of a computed in the claimed precision (operands converted,
 * every operation rounded to the accumulation type, one online-softmax pass
 * in key order): out [n_head][n_q][dv] in a's basis.  A claim can be met in
 * kvv_claim_variants(kv_round) ways (which operands a kernel converts);
 * variant picks one.  0, or -1 when memory runs out. */
int kvv_claim_variants(double kv_round);
int kvv_claim_emulate(const kvv_ref_attn_args *a, double kv_round, double acc_round, int variant, double *out);

/* WHT: bound on |y_i - exact_i| for an f32 rotation of x (groups of g). */
void kvv_wht_bound(const float *x, int64_t nrows, int64_t ncols, int group, double *bound);

#endif
