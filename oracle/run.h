/* Running cases: one case on one backend, and lists of cases on several
 * backends in isolated workers (oracle/run_case.c, oracle/runner.c). */
#ifndef KVV_ORACLE_RUN_H
#define KVV_ORACLE_RUN_H

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

/* ---- running cases ---- */
/* Run one case on one backend and judge it (in this process). */
void kvv_run_case(const kvv_case *c, const kvv_backend *b, kvv_verdict *v);
/* The same with two optional extras: `in` supplies the inputs (arrays q, k,
 * v, mask for attention, x for the row ops) instead of generating them from
 * the seed (replaying a dump), and `rec` receives the run's tensors (README,
 * "HDF5 dumps", lists them).  With both NULL this is kvv_run_case. */
void kvv_run_case_io(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec, kvv_verdict *v);
/* A case's inputs as generated from its seed, as the named arrays above;
 * 0, or -1 when out of memory. */
int kvv_case_inputs(const kvv_case *c, kvv_record *rec);

/* Regenerate a case's inputs (as kvv_run_case makes them: the same seed,
 * streams and shapes) and measure them: Q, K, V for attention, X for the row
 * ops.  0, or -1 when the case is invalid or memory runs out.  Has the type
 * kvv_input_stats_fn, for the HTML report. */
int kvv_case_input_stats(const kvv_case *c, kvv_input_stats *s);

/* Run a list of cases on several backends.  With jobs > 0 each (case,
 * backend) runs in one of `jobs` worker processes: a backend call that
 * crashes or exceeds `timeout` seconds becomes a failing verdict naming the
 * case, the worker is replaced, and the run goes on.  Verdicts reach the
 * reporters in case order.  Returns the number of failures (or -1 when the
 * run could not start). */
typedef struct kvv_run_opts {
    const char *const *backend_names;
    int nbackends;
    const kvv_backend *const *backends; /* optional: tables to use instead of opening the names */
    const kvv_case *cases;
    int ncases;
    kvv_reporter **reporters;
    int nreporters;
    int jobs;       /* 0 = run in this process, no isolation */
    double timeout; /* seconds per (case, backend) in a worker */
    const kvv_run_info *info;
    int fail_fast;  /* stop at the first failure (the verdicts so far are still reported) */
    int strict;     /* a declined case (skip) is a failure, rule "declined", in every report */
    int guard;      /* --guard: a PROT_NONE page after every buffer a backend writes (oracle/guard.c) */
} kvv_run_opts;
int kvv_run(const kvv_run_opts *o, kvv_summary *s);
/* kvv_run with tensors going in or out (io may be NULL: kvv_run). */
typedef struct kvv_run_io_opts {
    kvv_dump_writer *dump;           /* write failing units, with their tensors, to this dump */
    int dump_all;                    /* ... every unit, not only failing ones */
    const kvv_record *const *inputs; /* per case: stored inputs to run instead of the seed's (replay) */
} kvv_run_io_opts;
int kvv_run_with_io(const kvv_run_opts *o, const kvv_run_io_opts *io, kvv_summary *s);

#endif
