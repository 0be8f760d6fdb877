/* Replaying a dump (oracle/replay.c): its cases rerun from their stored
 * inputs (not regenerated from the seed), judged by the same rules, each
 * new verdict compared with the stored one; the stored inputs checked
 * against what the generator makes from the seed today, so that a changed
 * generator is noticed.  What `kvverify replay` does. */
#ifndef KVV_ORACLE_REPLAY_H
#define KVV_ORACLE_REPLAY_H

#include <stddef.h>
#include <stdio.h>

#include "oracle/run.h"

/* The stored cases a replay runs, with their inputs. */
typedef struct kvv_replay_set {
    int n;
    kvv_dump_entry *e;      /* each case as stored: name, case, backend, verdict */
    kvv_record *in;         /* the stored input arrays of each case */
    const kvv_record **inp; /* &in[i], or NULL when the case has no stored inputs */
    kvv_case *cases;
} kvv_replay_set;

/* The cases of the dump at path whose names match pattern (a comma list as
 * run's -p takes; NULL: all), with their inputs; says on out what the dump
 * is ("replaying FILE: N stored cases (kvverify V, commit C, ...)").  0, or
 * -1 with why; set is to be freed either way. */
int kvv_replay_load(const char *path, const char *pattern, kvv_replay_set *set, FILE *out, char *why,
                    size_t why_len);
void kvv_replay_free(kvv_replay_set *set);

/* The stored inputs against the generator's from each seed: a line on out
 * per case whose inputs are missing or differ, then a summary line.
 * Returns how many differ. */
int kvv_replay_check_inputs(const kvv_replay_set *set, FILE *out);

typedef struct kvv_replay_opts {
    const char *const *backend_names; /* every case on these; NULL: each on the backend it was stored from */
    int nbackends;
    int jobs;       /* isolated workers (0: in this process) */
    double timeout; /* seconds per (case, backend) in a worker */
    int verbose;    /* the terminal report's detail, and a line for verdicts that stay the same */
    int guard;      /* guard pages after the buffers a backend writes */
    kvv_dump_writer *dump; /* the replay's own dump (NULL: none) */
    int dump_all;
    const char *machine; /* for the run info of the reports */
    FILE *out;           /* the terminal report and the comparison lines */
} kvv_replay_opts;

typedef struct kvv_replay_result {
    int changed;     /* verdicts (status or rule) other than the stored ones */
    int interrupted; /* a signal ended the run (what finished is reported) */
} kvv_replay_result;

/* Rerun the cases and say on out, per case and backend, whether the stored
 * verdict is reproduced ("CHANGED" lines; "same" ones too when verbose).
 * Returns the number of failing verdicts, or -1 when the run could not
 * start. */
int kvv_replay_run(const kvv_replay_set *set, const kvv_replay_opts *o, kvv_replay_result *r);

#endif
