/* End to end: the probe model's ppl cases and their bounds (oracle/run_ppl.c,
 * oracle/ppl_bounds.c). */
#ifndef KVV_ORACLE_PPL_H
#define KVV_ORACLE_PPL_H

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

/* ---- end to end: the probe model (ppl cases, oracle/run_ppl.c) ----
 * The probe model of the case (seed, head dim, heads, kind) runs over the
 * first n_kv tokens of corpora/probe.txt in prefill chunks of n_q tokens
 * (then KVV_PPL_TAIL tokens one at a time) with K/V in the backend's cache,
 * against the f64 reference of the same model (computed once per process).
 * Fails (rule ppl) when the PPL ratio or the mean or 99th-percentile KL
 * divergence exceeds the pair's row in corpora/ppl_bounds.tsv, and (rule
 * finite) on any NaN/Inf in the run's logits. */
#define KVV_PPL_TAIL 4
typedef struct kvv_ppl_bound {
    double ratio, kl_mean, kl_p99; /* largest allowed values */
} kvv_ppl_bound;
void kvv_run_ppl(const kvv_case *c, const kvv_backend *b, kvv_verdict *v);
/* The statistics of a ppl case on a backend: KVV_OK, KVV_UNSUPPORTED or
 * KVV_FAILED (backend), or -1 (model, corpus, memory), with why. */
int kvv_ppl_measure(const kvv_case *c, const kvv_backend *b, kvv_ppl_stats *s, double *t_run, double *t_ref,
                    char *why, size_t why_len);
/* The bound of a case's (model, head dim, K, V) from the table; -1 with why
 * when the table or the row is missing. */
int kvv_ppl_bound_lookup(const kvv_case *c, kvv_ppl_bound *bound, char *why, size_t why_len);
/* The judgement of a ppl measurement, the one both the ppl cases and
 * `kvverify ppl` make: KVV_PPL_NONFINITE on any NaN/Inf in the run's
 * logits; else, with a case c, its bound from the table (into *bound, and
 * into *budget the largest fraction of it used, as the summary's budget
 * column shows): KVV_PPL_OVER when the PPL ratio, the mean or the p99 KL
 * is beyond it, KVV_PPL_WITHIN, or KVV_PPL_NO_BOUND (why says; *bound and
 * *budget untouched); c NULL: KVV_PPL_UNBOUNDED. */
typedef enum kvv_ppl_judgement {
    KVV_PPL_WITHIN,
    KVV_PPL_OVER,
    KVV_PPL_NO_BOUND,
    KVV_PPL_NONFINITE,
    KVV_PPL_UNBOUNDED
} kvv_ppl_judgement;
kvv_ppl_judgement kvv_ppl_judge(const kvv_case *c, const kvv_ppl_stats *s, kvv_ppl_bound *bound, double *budget,
                                char *why, size_t why_len);
/* The bound the table records for a measurement: 1.5x the honest excess
 * (PPL ratio - 1, mean KL, p99 KL) with floors, rounded up to two digits. */
kvv_ppl_bound kvv_ppl_bound_from(const kvv_ppl_stats *s);
/* Write the bounds table for every ppl case of the gate, measured on b. */
int kvv_ppl_write_bounds(FILE *out, const kvv_backend *b, const char *backend_name);

/* ---- `kvverify ppl` (oracle/ppl_pairs.c): any model over any text, each
 * K/V pair run by the backend in its own process ---- */
/* "q8_0/turbo3,f16/f16", or "all" (every pair of cache types that has rows
 * of dk and dv), into pairs[0..max); the count, or -1 with why. */
int kvv_ppl_pairs_parse(const char *list, int dk, int dv, kvv_type (*pairs)[2], int max, char *why, size_t why_len);
/* A text read, tokenized for a model and scored by its f64 reference. */
typedef struct kvv_ppl_input {
    char path[1024];           /* the text's file */
    int32_t *tok;              /* its tokens [0, total) */
    int total, offset, n;      /* scored: tok[offset, offset + n) */
    double *ref;               /* [n][n_vocab]: the reference's logits */
    kvv_ref_stats stats;       /* the reference's attention weights ... */
    int have_stats;            /* ... kept only where that is cheap */
} kvv_ppl_input;
/* The text at text_path (NULL: corpora/probe.txt), from token offset, at
 * most ctx tokens: 0; -1 with why when the input is bad (missing,
 * unreadable, fewer than 2 tokens from offset); 1 with why when the
 * reference failed or memory ran out.  Free it with kvv_ppl_input_free in
 * every case. */
int kvv_ppl_input_open(const kvv_model *m, const char *text_path, int offset, int ctx, kvv_ppl_input *in, char *why,
                       size_t why_len);
void kvv_ppl_input_free(kvv_ppl_input *in);
/* One K/V pair's run of m over tok[0..n), in prefill chunks of `chunk` (then
 * KVV_PPL_TAIL one at a time), on the backend named, opened and run in a
 * child process that must answer within `seconds` (kvv_isolate: stopped
 * by kvv_isolate_stop_on's flag too). */
typedef struct kvv_ppl_pair_job {
    const kvv_model *m;
    const char *backend;
    kvv_type k, v;
    int chunk;
    const int32_t *tok;
    int n;
    double seconds;
} kvv_ppl_pair_job;
/* KVV_OK with the logits ([n][n_vocab]), KVV_UNSUPPORTED / KVV_FAILED with
 * why, or -1 when the process crashed, hung or was stopped (why says). */
int kvv_ppl_run_pair(const kvv_ppl_pair_job *j, float *logits, char *why, size_t why_len);
/* The pairs of a `kvverify ppl` run, one after the other, each run by
 * kvv_ppl_run_pair and (when it ran) scored against the reference and
 * judged (kvv_ppl_judge: against the bounds of the built-in model
 * probe_kind at the model's head dim, or, with probe_kind < 0, for NaN/Inf
 * only).  report(arg, i, r) after each pair; when *stop is set (a signal
 * handler: kvv_isolate_stop_on) the pair running is stopped and reported
 * with r->stopped, and no further pair runs.  Returns the failures: pairs
 * that failed, were declined under strict, or were judged NONFINITE or
 * OVER, and a stop (or no memory for the logits). */
typedef struct kvv_ppl_pair_result {
    kvv_type k, v;
    int rc;        /* KVV_OK, KVV_UNSUPPORTED / KVV_FAILED (why), -1 crashed or hung (why) */
    int stopped;   /* *stop was set before this pair finished */
    char why[400]; /* rc != KVV_OK: why; KVV_PPL_NO_BOUND: why not */
    kvv_ppl_stats stats;           /* rc == KVV_OK: ... */
    kvv_ppl_judgement judgement;   /* ... judged ... */
    kvv_ppl_bound bound;           /* ... against this bound (WITHIN, OVER) */
    int failed;    /* counts as a failure */
} kvv_ppl_pair_result;
typedef struct kvv_ppl_pairs_opts {
    const kvv_model *m;
    const kvv_ppl_input *in;
    const char *backend;
    int chunk;
    double seconds; /* per pair */
    int probe_kind; /* a kvv_probe_kind whose bounds judge the pairs, or -1 */
    int strict;     /* a declined pair is a failure */
    volatile sig_atomic_t *stop;
} kvv_ppl_pairs_opts;
int kvv_ppl_run_pairs(const kvv_ppl_pairs_opts *o, kvv_type (*pairs)[2], int np,
                      void (*report)(void *arg, int i, const kvv_ppl_pair_result *r), void *arg);
/* kvv_ppl_write_bounds on the backend named, in a child process that
 * opens it (what it prints goes to stderr), the table then written to out;
 * `seconds` for each ppl case of the gate.  0, or -1 with why. */
int kvv_ppl_write_bounds_isolated(FILE *out, const char *backend, double seconds, char *why, size_t why_len);

#endif
