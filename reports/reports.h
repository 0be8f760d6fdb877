/* Reporters: what a person and a CI system read.  The whole interface of
 * reports/.  A reporter receives the run's description, then each
 * (case, backend) verdict in case order, then the summary. */
#ifndef KVV_REPORTS_H
#define KVV_REPORTS_H

#include <stdint.h>
#include <stdio.h>

#include "kvv/case.h"
#include "kvv/verdict.h"

#define KVV_MAX_BACKENDS 8

typedef struct kvv_run_info {
    const char *version, *commit, *machine, *started; /* started: ISO 8601 */
    const char *command;                              /* the command line */
    int nbackends;
    const char *backends[KVV_MAX_BACKENDS];
    int ncases;        /* cases (each runs on every backend) */
    uint64_t seed;     /* --seed (0 = the seeds in the case names) */
} kvv_run_info;

/* Totals per op and backend. */
typedef struct kvv_tally {
    int64_t cases, pass, fail, skip, ties, tie_candidates;
    double worst_arith, worst_budget, t_backend, t_ref;
} kvv_tally;

typedef struct kvv_summary {
    int nbackends;
    kvv_tally by[KVV_OP_COUNT][KVV_MAX_BACKENDS];
    kvv_tally total;
    double seconds; /* wall time of the run */
    int interrupted; /* the run stopped early (signal); results so far are reported */
    int stopped_early; /* --fail-fast stopped it at the first failure */
} kvv_summary;

void kvv_summary_add(kvv_summary *s, kvv_op op, int backend, const kvv_verdict *v);

typedef struct kvv_reporter kvv_reporter;
struct kvv_reporter {
    void (*begin)(kvv_reporter *r, const kvv_run_info *info);
    void (*result)(kvv_reporter *r, const kvv_case *c, const char *name, int backend, const kvv_verdict *v);
    void (*end)(kvv_reporter *r, const kvv_summary *s);
    void (*destroy)(kvv_reporter *r);
    const kvv_run_info *info;
    FILE *out;
    void *state;
};

/* The terminal reporter: a line per failure (case name, rule, figure), a
 * progress line on a TTY, and the summary table.  verbose: a line per case. */
kvv_reporter *kvv_reporter_terminal(FILE *out, int verbose);

#endif
