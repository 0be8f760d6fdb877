/* Pieces shared by the file reporters (internal to reports/): escaping for
 * each output format, number formatting, labels of a case, and the store of
 * verdicts that formats written at the end (JUnit, Markdown, HTML) fill as
 * verdicts arrive. */
#ifndef KVV_REPORT_UTIL_H
#define KVV_REPORT_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "reports/reports.h"

/* A JSON string literal (quotes included). */
void rep_put_json_str(FILE *out, const char *s);
/* Text for XML or HTML, in element content or a quoted attribute.  Control
 * characters XML 1.0 cannot carry are written as U+FFFD. */
void rep_put_xml(FILE *out, const char *s);
/* Text inside a Markdown table cell (pipes and line breaks escaped). */
void rep_put_md_cell(FILE *out, const char *s);

/* A number as JSON/TSV/HTML print it: %.6g for finite values, "inf",
 * "-inf" or "nan" otherwise.  Returns buf. */
const char *rep_num(char *buf, size_t n, double x);
/* A JSON number, or the strings "inf", "-inf", "nan" (JSON has no literal for them). */
void rep_put_json_num(FILE *out, double x);
/* A verdict's ratio: NaN is no ratio at all (kvv_verdict), written as JSON
 * null, or "-" by rep_ratio; else as rep_num and rep_put_json_num. */
#define rep_has_ratio(x) (!isnan(x))
void rep_put_json_ratio(FILE *out, double x);
const char *rep_ratio(char *buf, size_t n, double x);

const char *rep_status_word(kvv_status s); /* "pass", "fail", "skip" */
const char *rep_rot_name(kvv_rot_site r);
const char *rep_variant_name(kvv_variant v);
const char *rep_isa_name(kvv_isa i);

/* The headline figure of a failure: "arith ratio 3.21" or "budget ratio
 * 2.5" for the ratio rules, else the rule's name.  Returns buf. */
const char *rep_figure(const kvv_verdict *v, char *buf, size_t n);
/* The command line that reruns one case on one backend (quoted for a shell). */
void rep_rerun(const char *name, const char *backend, char *buf, size_t n);

/* "d128" or "d576/512": the head-dim axis of the heatmap. */
void rep_head_label(const kvv_case *c, char *buf, size_t n);
/* "q8_0/turbo3": the K/V-pair axis of the heatmap. */
void rep_pair_label(const kvv_case *c, char *buf, size_t n);

/* Verdicts kept for the reporters that write at the end. */
typedef struct rep_entry {
    kvv_case c;
    char *name;
    int backend;
    kvv_verdict v;
} rep_entry;
typedef struct rep_store {
    rep_entry *e;
    int64_t n, cap;
} rep_store;
int rep_store_add(rep_store *s, const kvv_case *c, const char *name, int backend, const kvv_verdict *v);
void rep_store_free(rep_store *s);

/* Skip reasons: each distinct (backend, detail) of the skipped cases, and of
 * the declines that --strict made failures, with its count. */
typedef struct rep_reason {
    char *text;
    int backend;
    int64_t n;
} rep_reason;
typedef struct rep_reasons {
    rep_reason *r;
    int n, cap;
    int64_t total; /* cases noted */
} rep_reasons;
/* Notes v if it is a skip or a decline; 0, or -1 when out of memory. */
int rep_reasons_note(rep_reasons *s, int backend, const kvv_verdict *v);
void rep_reasons_sort(rep_reasons *s); /* most frequent first */
void rep_reasons_free(rep_reasons *s);

/* HTML: the heatmaps section (K x V grids per head dim and op, per backend).
 * page_of[i] is the failure page number of entry i (> 0), or 0 when it has
 * none; thr: the arith and budget thresholds. */
void rep_html_heatmaps(FILE *o, const rep_store *st, const kvv_run_info *info, const int64_t *page_of,
                       const double thr[2]);

/* HTML: the plots (inline SVG): ratio histograms per backend, time per op. */
void rep_html_plots(FILE *o, const rep_store *st, const kvv_run_info *info, const kvv_summary *sm,
                    const double thr[2]);

/* A reporter struct with its callbacks and state; NULL when out of memory. */
kvv_reporter *rep_new(FILE *out, void *state, void (*begin)(kvv_reporter *, const kvv_run_info *),
                      void (*result)(kvv_reporter *, const kvv_case *, const char *, int, const kvv_verdict *),
                      void (*end)(kvv_reporter *, const kvv_summary *), void (*destroy)(kvv_reporter *));

#endif
