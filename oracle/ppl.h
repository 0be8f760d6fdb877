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
/* The bound the table records for a measurement: 1.5x the honest excess
 * (PPL ratio - 1, mean KL, p99 KL) with floors, rounded up to two digits. */
kvv_ppl_bound kvv_ppl_bound_from(const kvv_ppl_stats *s);
/* Write the bounds table for every ppl case of the gate, measured on b. */
int kvv_ppl_write_bounds(FILE *out, const kvv_backend *b, const char *backend_name);

#endif
