/* kvverify public API: the verdict of one case on one backend, as the
 * oracle produces it and reporters consume it.  Plain data (no pointers),
 * so a verdict can cross a pipe from an isolated worker process. */
#ifndef KVV_VERDICT_H
#define KVV_VERDICT_H

#include <stdint.h>

typedef enum kvv_rule {
    KVV_RULE_NONE,
    KVV_RULE_BYTES,   /* quantized bytes against the canonical bytes, ties counted */
    KVV_RULE_DEQUANT, /* dequantized values bit-identical */
    KVV_RULE_TOGGLE,  /* speed-only toggles bit-identical to their baseline */
    KVV_RULE_ARITH,   /* normalized error ratio against f64 over the same data */
    KVV_RULE_BUDGET,  /* attention vs unquantized, within the type's distortion */
    KVV_RULE_FINITE,  /* NaN/Inf exactly where the reference has them */
    KVV_RULE_CRASH,   /* the backend crashed, hung, failed, or the case was invalid */
    KVV_RULE_PPL,     /* end to end: probe-model PPL ratio / KL divergence beyond the pair's bound */
    KVV_RULE_FORMAT,  /* the backend stores the type in a format that matches no known format version */
    KVV_RULE_ROUNDTRIP, /* such a cache gives back what was written worse than the type's known versions */
    KVV_RULE_DECLINED,  /* the backend declined the case, and the run counts declines as failures (--strict) */
    KVV_RULE_COUNT
} kvv_rule;

typedef enum kvv_status { KVV_PASS, KVV_FAIL, KVV_SKIP, KVV_STATUS_COUNT } kvv_status;

/* One of the first differences the failing rule saw, for reports: an
 * element (row, col) of the compared tensor, or for the bytes rule a byte of
 * a row (got/want are then the byte values).  bound: the arith rule's
 * allowance for that element (0 for the other rules). */
typedef struct kvv_diff {
    int64_t row, col;
    double got, want, bound;
} kvv_diff;
#define KVV_VERDICT_DIFFS 4

typedef struct kvv_verdict {
    kvv_status status;
    kvv_rule rule;            /* the first rule that failed (KVV_RULE_NONE on pass) */
    /* The ratios are NaN where there is none (the rule did not run: a row op,
     * a crash, a decline, no finite element to compare); reports write them
     * as null or "-", never as 0. */
    double arith_ratio;       /* worst normalized error ratio seen */
    double budget_ratio;      /* attention error vs unquantized over the type's own distortion */
    int64_t ties;             /* elements/fields that took the other side of a tie */
    int64_t tie_candidates;   /* elements/fields the reference flagged as ties */
    int64_t checked;          /* values or bytes compared */
    int64_t nonfinite_inputs; /* blocks whose input held NaN/Inf (their bytes are not compared) */
    double t_backend, t_ref;  /* seconds */
    /* attention: the precision the backend claimed in kvv_attn_info (what
     * its arith bound was built from), for reports; has_claim is 0 when the
     * case ran no attention or the backend returned before claiming */
    int has_claim;
    double claimed_kv_round, claimed_acc_round;
    char detail[640];         /* why it failed or was skipped */
    int ndiffs;               /* entries of diffs[] (0 for rules without element differences) */
    kvv_diff diffs[KVV_VERDICT_DIFFS]; /* the failing rule's first differences, in order */
} kvv_verdict;

const char *kvv_rule_name(kvv_rule r);
const char *kvv_status_name(kvv_status s);

#endif
