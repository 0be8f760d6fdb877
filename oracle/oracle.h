/* The oracle: judges backends against the reference, and runs cases.
 * The whole interface of oracle/.
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
#ifndef KVV_ORACLE_H
#define KVV_ORACLE_H

#include <signal.h>
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

/* One threshold for every shape (the bounds carry the shape dependence). */
#define KVV_ARITH_THRESHOLD 1.0
#define KVV_BUDGET_THRESHOLD 2.0

void kvv_verdict_init(kvv_verdict *v);
/* Record a failure of rule r (only the first failure is kept). */
void kvv_verdict_fail(kvv_verdict *v, kvv_rule r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same, attaching the rule's first differences (up to KVV_VERDICT_DIFFS
 * of d[0..n)) when this is the failure that is kept. */
void kvv_verdict_fail_at(kvv_verdict *v, const kvv_diff *d, int n, kvv_rule r, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

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

/* ---- guard zones (oracle/guard.c): the buffers a backend writes ----
 * The output of attention, the quantized and dequantized rows and the WHT
 * rows are allocated with a guard after their end: KVV_GUARD_ZONE bytes of
 * a pattern that kvv_guard_check compares after each call (a backend that
 * wrote past the end fails the case, rule crash, "backend wrote N bytes
 * past out"), or in page mode (`--guard`) a PROT_NONE page right at the
 * end, which stops the first access past it; its fault handler writes what
 * the page guards into the note area and to stderr before the signal kills
 * the process. */
#define KVV_GUARD_ZONE 4096
/* n zeroed bytes (64-byte aligned; in page mode only as aligned as n
 * allows, since the end is fixed) named `what` (a string that outlives the
 * buffer); NULL when memory runs out. */
void *kvv_guard_alloc(size_t n, const char *what);
/* 0 when the guards are intact; -1 with *past = how many bytes past the end
 * were written (the farthest changed byte), or *before > 0 when the header
 * in front of the data was written over. */
int kvv_guard_check(const void *p, size_t *past, size_t *before);
void kvv_guard_free(void *p);
/* Page mode for the allocations that follow (and the fault handler). */
void kvv_guard_pages(int on);
/* Where the fault handler leaves its message (shared with a parent). */
void kvv_guard_note_area(char *area, size_t n);
/* Guarded buffers for a model run (ppl): the K and V rows a backend
 * quantizes and the attention output, checked after each call. */
extern const kvv_model_buffers kvv_guarded_buffers;

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

/* ---- backends (finding them: backends/registry.h) ---- */
/* Open the backend once in a throwaway child process (its stdout sent to
 * stderr) that must answer within `seconds`: 0 when it opens, or -1 with
 * why (what kvv_backend_open said, or that opening it crashed or hung).  A
 * run refuses a backend that fails this before any work. */
int kvv_backend_try_open(const char *name, double seconds, char *why, size_t why_len);
/* Run fn(arg, fd) in a child process whose stdout goes to stderr; fn writes
 * its answer to fd.  Up to n bytes of it land in buf.  Returns the bytes
 * read when the child exited normally, or -1 with why ("crashed: killed by
 * signal 11 (...)", "crashed: the process exited with status N", "hung: no
 * answer within S s; the process was killed"). */
ssize_t kvv_isolate(void (*fn)(void *arg, int fd), void *arg, void *buf, size_t n, double seconds, char *why,
                    size_t why_len);
/* From now on kvv_isolate stops its child and returns -1 ("interrupted:
 * ...") as soon as *flag is nonzero (a signal handler sets it; NULL: never). */
void kvv_isolate_stop_on(volatile sig_atomic_t *flag);
/* Send this process's stdout to its stderr (in a process that runs a
 * backend: what the backend prints must not reach a report on stdout). */
void kvv_stdout_to_stderr(void);
/* The bench's backends in a child process (oracle/isolate_bench.c): opens
 * the backends named and runs body(out, backends, names, n, arg) over them
 * in a child whose stdout goes to stderr (what a backend prints never
 * reaches out) and which writes out line by line.  A backend that crashes
 * or exits inside one of its entry points is named, with the call, in a
 * line of out (and on stderr), and the body runs again in a new child
 * without it, until a run completes or no backend is left.  Returns 0 when
 * the body completed on every backend, 1 when a backend crashed or the body
 * failed (nonzero), -1 when no child could be started.  body: 0 or -1. */
typedef int (*kvv_bench_body_fn)(FILE *out, const kvv_backend *const *backends, const char *const *names, int n,
                                 void *arg);
int kvv_bench_isolated(FILE *out, const char *const *names, int n, kvv_bench_body_fn body, void *arg);

/* ---- format versions (oracle/formats.c) ---- */
/* Which row each cache type's cases run in: as[KVV_TURBO3] = KVV_TURBO3_QK128
 * when a backend of the run stores turbo3 that way (as[t] = t otherwise). */
#define KVV_FORMAT_NOTE 480
typedef struct kvv_format_map {
    kvv_type as[KVV_TYPE_COUNT];
    char who[KVV_TYPE_COUNT][128];             /* the backend that stores it so */
    char note[KVV_TYPE_COUNT][KVV_FORMAT_NOTE]; /* how it knows (its format probe) */
} kvv_format_map;
void kvv_format_map_init(kvv_format_map *m);
/* Ask each library backend of names (in a child process each) which
 * version it stores every cache type in.  A backend that cannot be asked is
 * reported to log and left out.  -1 with why when two backends store one
 * cache type in different versions (they cannot share a case list). */
int kvv_formats_ask(const char *const *names, int n, kvv_format_map *m, FILE *log, char *why, size_t why_len);
/* Rewrite a case list to those versions; cases a version cannot hold (its
 * block does not divide the head dim) are dropped and counted. */
struct kvv_case_list;
int kvv_formats_rewrite(const kvv_format_map *m, struct kvv_case_list *l, int *dropped);
/* `kvverify probe`: what backend `name` says of each cache type (the row
 * it stores it as, and how it knows), asked in a child process; -1 when it
 * cannot be opened or asked (the reason is printed). */
int kvv_formats_report(const char *name, FILE *out);
/* How many cache types the map moves to another version. */
int kvv_format_map_changes(const kvv_format_map *m);

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

/* Case lists */
typedef struct kvv_case_list {
    kvv_case *items;
    int n, cap;
} kvv_case_list;
void kvv_case_list_free(kvv_case_list *l);
int kvv_case_list_push(kvv_case_list *l, const kvv_case *c);
/* The default gate of `make verify`, and the full nightly matrix. */
int kvv_gate_cases(kvv_case_list *l);
int kvv_full_cases(kvv_case_list *l);

/* The case parameters as dimensions with value classes (oracle/dims.c):
 * the covering arrays of the gate (strength 2: every pair of values of
 * any two dimensions, plus the marked triples) and of the nightly matrix
 * (strength 3: every triple), and how much of that a case list covers.
 * `device`: only the cases a backend without the CPU toggles runs
 * (threads=1, isa=auto), over the dimensions and classes it has. */
typedef struct kvv_coverage {
    int strength;
    int64_t pairs, pairs_covered;     /* value pairs the constraints allow, and those a case holds */
    int64_t triples, triples_covered; /* value triples: the marked ones (strength 2) or all (3) */
} kvv_coverage;
int kvv_covering_cases(kvv_case_list *l, int strength);
int kvv_coverage_measure(const kvv_case *cases, int n, int strength, int device, kvv_coverage *cov);
/* "2-way coverage 100% (N pairs), 3-way on marked triples 100% (M triples)" */
void kvv_coverage_line(const kvv_coverage *cov, char *buf, size_t len);
/* `kvverify list coverage`: per op and pair (triple) of dimensions the
 * possible and covered combinations, those not covered, the impossible
 * ones with the reason (triples' only when verbose). */
int kvv_coverage_print(FILE *out, const kvv_case *cases, int n, int strength, int device, int verbose);
/* `kvverify list dims`: the dimensions, their classes, which op has which,
 * and the rules that make combinations impossible. */
void kvv_dims_print(FILE *out);

/* Case files: one case name per line; blank lines and lines starting
 * with '#' are skipped ('-' = stdin).  Returns 0, or -1 with "FILE:LINE:
 * reason" in why (nothing is added then). */
int kvv_case_file_load(const char *path, kvv_case_list *l, char *why, size_t why_len);
/* The stored corpus: every *.cases file under dir, recursively and in name
 * order, except under folders named known-failures (cases that fail today,
 * kept out of the gate until they are fixed).  Returns the number of files
 * read (0 when dir does not exist), or -1 with why. */
int kvv_corpus_load(const char *dir, kvv_case_list *l, char *why, size_t why_len);

/* Filters of `kvverify run` */
typedef struct kvv_filter {
    const char *ops;      /* comma list of op names, or NULL */
    const char *pattern;  /* comma list of substrings or globs matched against the name */
    const char *head_dims;/* comma list of dk values (or dk/dv) */
    const char *kv;       /* comma list of K/V pairs, "*" allowed on either side */
    const char *toggles;  /* comma list of key=value that the case name must contain */
} kvv_filter;
/* 1 when c passes the filter; -1 (with why) when the filter itself is malformed. */
int kvv_filter_match(const kvv_filter *f, const kvv_case *c, char *why, size_t why_len);
int kvv_filter_check(const kvv_filter *f, char *why, size_t why_len);
/* Apply --set key=value overrides to a case; -1 with why on a bad override. */
int kvv_case_apply_set(kvv_case *c, const char *sets, char *why, size_t why_len);

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

/* ---- benchmark (a program, not a test) ---- */
/* Quantize, WHT, attention decode and prefill on each backend and the
 * reference, best of reps; prints throughput, ratios and each line's
 * fraction of the machine limit that bounds it to out, and, when json_path
 * is not NULL, the same lines and limits as one JSON object to that file
 * ("-": stdout). */
int kvv_bench(FILE *out, const kvv_backend *const *backends, const char *const *names, int nbackends, int threads,
              int reps, const char *json_path);

/* The machine's limits (oracle/bench_roof.c), measured at `threads`
 * threads, best of reps: STREAM-style triad bandwidth (24 bytes counted per
 * element) over a working set of 8x the last-level cache and over one of a
 * quarter of it, and the f32 multiply-add peak per ISA (0 where the CPU
 * lacks it).  Returns 0, or -1 when a figure could not be measured. */
typedef struct kvv_roofs {
    int threads;                              /* how many threads ran */
    size_t llc_bytes;                         /* the last-level cache */
    double bw_dram, bw_llc;                   /* GB/s */
    double fma_scalar, fma_avx2, fma_avx512;  /* GFLOP/s */
    double fma_peak;                          /* the largest of the three */
} kvv_roofs;
int kvv_roofs_measure(int threads, int reps, kvv_roofs *r);
/* The last-level cache in bytes (sysfs, else sysconf, else 32 MiB). */
size_t kvv_llc_bytes(void);
/* The CPU's model name from /proc/cpuinfo ("unknown CPU" without it). */
void kvv_cpu_model(char *buf, size_t n);
/* Online processors (at least 1). */
int kvv_cpu_count(void);

/* One line of the bench and where it stands against the roofs
 * (oracle/bench_lines.c).  seconds < 0: the backend does not support it. */
typedef struct kvv_bench_line {
    const char *section; /* "quantize", "wht", "decode", "prefill", "decode-dram" */
    char what[64];
    const char *backend;
    int threads;
    double seconds;
    double units;        /* per call, in the units of `unit` (GB or GFLOP) */
    const char *unit;    /* "GB/s" or "GFLOP/s" */
    double bytes;        /* bytes moved per call (0: bounded by FLOPs) */
    double flops;        /* FLOPs per call (0: bounded by bytes) */
    double ref_seconds;  /* the reference's time for the same work (0: none) */
    double base_seconds; /* the first backend's time (0: none, or this is it) */
    const char *base_name;
} kvv_bench_line;
typedef struct kvv_bench_log {
    FILE *out;
    kvv_roofs roofs[4];
    int nroofs;
    kvv_bench_line *lines;
    int n, cap;
    struct {
        char shape[16];
        double ref_seconds, dgemm_seconds, dgemm_hot_seconds;
    } dgemm[4];
    int ndgemm;
} kvv_bench_log;
/* Print the line with its roof fraction to log->out and keep it for the JSON. */
void kvv_bench_line_add(kvv_bench_log *log, const kvv_bench_line *l);
/* Write the whole log as JSON; 0, or -1 when the file cannot be written. */
int kvv_bench_json(const kvv_bench_log *log, const char *path, int threads, int reps);

#endif
