/* Case sets: lists, the gate and the full matrix, covering arrays and
 * coverage, case files and the stored corpus, filters (oracle/gate.c,
 * covering.c, dims.c, corpus.c, filter.c). */
#ifndef KVV_ORACLE_CASES_H
#define KVV_ORACLE_CASES_H

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

#endif
