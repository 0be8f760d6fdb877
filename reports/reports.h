/* Reporters: what a person and a CI system read.  The whole interface of
 * reports/.  A reporter receives the run's description, then each
 * (case, backend) verdict in case order, then the summary. */
#ifndef KVV_REPORTS_H
#define KVV_REPORTS_H

#include <stdint.h>
#include <stdio.h>

#include "kvv/case.h"
#include "kvv/verdict.h"
#include "kvv/version.h"

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
    int64_t declined;            /* failures that are declines (--strict), counted in fail too */
    int64_t n_arith, n_budget;   /* cases with an arith / budget ratio: the worst is shown only when > 0 */
} kvv_tally;

/* The precision claims (kvv_attn_info) a backend made in the attention
 * cases, as the summaries show them per backend: each distinct (kv_round,
 * acc_round) with its count, the first KVV_CLAIMS_KEPT of them; the cases
 * of any further claim are counted in `others`. */
#define KVV_CLAIMS_KEPT 8
typedef struct kvv_claim_count {
    double kv_round, acc_round;
    int64_t cases;
} kvv_claim_count;
typedef struct kvv_claim_set {
    int n;
    kvv_claim_count c[KVV_CLAIMS_KEPT];
    int64_t others;
} kvv_claim_set;
/* "kv_round=2^-10 acc_round=2^-11 (f16 accumulation)": a claim as failure
 * lines and reports print it (an acc_round that names no format, or a
 * non-finite value, is "invalid claim"). */
void kvv_claim_label(double kv_round, double acc_round, char *buf, size_t n);
/* Notes the claim of v (if it has one) in the set. */
void kvv_claim_set_add(kvv_claim_set *s, const kvv_verdict *v);

typedef struct kvv_summary {
    int nbackends;
    kvv_tally by[KVV_OP_COUNT][KVV_MAX_BACKENDS];
    kvv_tally total;
    double seconds; /* wall time of the run */
    int interrupted; /* the run stopped early (signal); results so far are reported */
    int stopped_early; /* --fail-fast stopped it at the first failure */
    kvv_claim_set claims[KVV_MAX_BACKENDS]; /* the precision each backend claimed */
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
/* A line the terminal reporter prints under its summary (the case list's
 * coverage of the dimension model). */
void kvv_reporter_terminal_coverage(kvv_reporter *r, const char *line);

/* File reporters.  Each writes to `out`, which the caller opens and closes
 * (after destroy).  Formats are described in README ("Reports"). */
/* JSON lines: a "run" record, one "case" record per (case, backend) written
 * and flushed as its verdict arrives (a killed run leaves valid lines), and
 * a "summary" record at the end. */
kvv_reporter *kvv_reporter_json(FILE *out);
/* JUnit XML: a testsuite per backend, a testcase per case; failures carry
 * the rule and its figure. */
kvv_reporter *kvv_reporter_junit(FILE *out);
/* Markdown summary: totals per op and backend, then the failures. */
kvv_reporter *kvv_reporter_markdown(FILE *out);
/* Per-case error ratios as TSV: the baseline format of `kvverify compare`. */
kvv_reporter *kvv_reporter_ratios(FILE *out);

/* Statistics of a case's input tensors, for the HTML failure pages. */
typedef struct kvv_tensor_stats {
    char name[4];       /* "Q", "K", "V", or "X" for row ops */
    int64_t n, nonfinite;
    double mean, rms, max_abs; /* over the finite values */
    double outlier_frac; /* share of |x| above 6 robust sigmas (median |x| / 0.6745) */
} kvv_tensor_stats;
typedef struct kvv_input_stats {
    int n;
    kvv_tensor_stats t[3];
} kvv_input_stats;
/* Regenerates a case's inputs and measures them; 0, or -1 when it cannot. */
typedef int (*kvv_input_stats_fn)(const kvv_case *c, kvv_input_stats *s);

/* A self-contained HTML page: per backend heatmaps of the worst error
 * ratios per K/V pair x head dim, and a section per failure with the
 * inputs' statistics and the first differing elements. */
typedef struct kvv_html_opts {
    kvv_input_stats_fn stats;  /* NULL: failure sections without input statistics */
    int max_pages;             /* failure sections written (0 = 200) */
    double arith_threshold;    /* the oracle's thresholds, where the color scales */
    double budget_threshold;   /* turn from orange to red (0 = 1 and 2) */
} kvv_html_opts;
kvv_reporter *kvv_reporter_html(FILE *out, const kvv_html_opts *o);

/* ---- comparing runs against a baseline (`kvverify compare`) ---- */
typedef struct kvv_ratio_row {
    char *name;         /* case name */
    char *backend;
    kvv_status status;
    double arith, budget;
} kvv_ratio_row;
typedef struct kvv_ratio_set {
    kvv_ratio_row *rows;
    int64_t n, cap;
} kvv_ratio_set;
/* Load a ratio TSV (kvv_reporter_ratios) or a JSON-lines report
 * (kvv_reporter_json), told apart by content.  0, or -1 with why. */
int kvv_ratios_load(const char *path, kvv_ratio_set *s, char *why, size_t why_len);
int kvv_ratios_read(FILE *f, const char *path, kvv_ratio_set *s, char *why, size_t why_len);
void kvv_ratios_free(kvv_ratio_set *s);

typedef struct kvv_compare_opts {
    double factor; /* a ratio growing by more than this is a regression (> 1) */
    double floor;  /* ratios below this count as this (noise near zero is no regression) */
    int list_max;  /* entries printed per category (0 = all) */
} kvv_compare_opts;
typedef struct kvv_compare_result {
    int64_t regressed, newly_failing, improved, fixed, added, removed, status_changed, unchanged;
} kvv_compare_result;
/* Compare current against baseline, print what changed to out; returns
 * the number of regressions (ratio growth beyond the factor, a pass or skip
 * becoming a fail, a new case that fails). */
int64_t kvv_compare(const kvv_ratio_set *base, const kvv_ratio_set *cur, const kvv_compare_opts *o, FILE *out,
                    kvv_compare_result *r);

#endif
