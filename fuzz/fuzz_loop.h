/* Fuzzing: random cases until the time is up, failures shrunk
 * (fuzz/fuzz_loop.c). */
#ifndef KVV_FUZZ_FUZZ_LOOP_H
#define KVV_FUZZ_FUZZ_LOOP_H

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

/* ---- fuzzing (`kvverify fuzz`) ---- */
/* Random valid cases (gen/gen.h) run on one backend in isolated workers
 * until the time is up; each failure is shrunk (fuzz/shrink.h) to a minimal
 * case that fails the same way (kvv_failure_signature), and written to
 * out_dir as a replayable case file (a comment saying what failed, then the
 * case name).  Failures with the op, types and failure signature of one
 * already shrunk in this run are counted but not shrunk again. */
typedef struct kvv_fuzz_opts {
    const char *backend_name;   /* a built-in name or a plugin path */
    const kvv_backend *backend; /* optional: the table to use instead of opening the name */
    double seconds;             /* drawing stops after this long; a shrink in progress finishes */
    uint64_t seed;              /* the whole run is reproducible from it */
    unsigned ops;               /* bit mask of 1 << kvv_op; 0 = every op the runner runs */
    const char *out_dir;        /* case files go here (created if missing); NULL = nowhere */
    int jobs;                   /* isolated worker processes, >= 1 */
    double timeout;             /* seconds per case before it counts as hung */
    int max_finds;              /* stop after this many shrunk failures; 0 = no limit */
    int shrink_tries;           /* candidates tried per shrink; 0 = 200 */
    double shrink_seconds;      /* time per shrink (a hang costs a timeout per try); 0 = 120 */
    FILE *log;                  /* progress and findings; NULL = quiet */
    int guard;                  /* --guard: guard pages after the buffers a backend writes */
} kvv_fuzz_opts;

typedef struct kvv_fuzz_stats {
    int64_t cases, pass, fail, skip;
    int finds;     /* failures shrunk */
    int written;   /* case files written (a shrunk case already stored is not rewritten) */
    double seconds;
    char last_file[512]; /* the last case file written */
    int interrupted;     /* SIGINT or SIGTERM stopped it (the counts are those of the cases finished before) */
} kvv_fuzz_stats;

/* 0 when the run completed (whatever it found), -1 when it could not run. */
int kvv_fuzz(const kvv_fuzz_opts *o, kvv_fuzz_stats *st);
/* What makes two failures the same failure, as text: the rule, and for a
 * crash how it ended (the signal, the exit status, a hang, the buffer a
 * backend wrote past and in which call, the status it failed with), for
 * the other rules the message with its numbers left out ("arith: out[#,#]
 * = #, reference #: ...").  A shrink step is kept only when the candidate's
 * signature is the original's: a worker exit and a heap abort never shrink
 * into one segfault. */
void kvv_failure_signature(const kvv_verdict *v, char *buf, size_t n);
/* Shrink and store one given case (o->seconds and o->ops are not used):
 * 1 when it failed and was shrunk, 0 when it does not fail, -1 on error. */
int kvv_fuzz_shrink_case(const kvv_fuzz_opts *o, const kvv_case *c, kvv_fuzz_stats *st);

#endif
