/* The cases a run selects (oracle/case_select.c): the gate, the full
 * matrix, a case file or cases named one by one; the stored corpus; the
 * format versions the backends store; --set, --seed and the filters; a
 * pattern that is a full case name.  What `kvverify run` and `list cases`
 * run, from plain options. */
#ifndef KVV_ORACLE_CASE_SELECT_H
#define KVV_ORACLE_CASE_SELECT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "oracle/cases.h"
#include "oracle/formats.h"

typedef struct kvv_case_select {
    const kvv_case_list *named;    /* cases named one by one (--rerun-failed): run as written */
    const char *cases_file;        /* a case file (--cases): run as written */
    int full;                      /* the full matrix instead of the gate */
    const char *corpus;            /* stored corpus the gate and the full matrix replay too; NULL: none */
    int corpus_given;              /* the folder was named: its absence is an error, not a note */
    const kvv_format_map *formats; /* versions to run the generated cases in; NULL: as listed */
    const char *set;               /* --set key=value,...: overrides on every case; NULL: none */
    uint64_t seed;                 /* --seed: mixed into every seed but a ppl case's; 0: none */
    kvv_filter filter;             /* what a case must match; a pattern that is a full case name adds it */
    FILE *log;                     /* notes ("kvverify: ..." lines: no corpus folder, cases dropped); NULL: none */
} kvv_case_select;

/* The selected cases, appended to out.  0, or -1 with why (a bad case
 * file, corpus, override, filter or case name; out is emptied then). */
int kvv_cases_select(const kvv_case_select *o, kvv_case_list *out, char *why, size_t why_len);

/* The summary's coverage line for a selected list (oracle/dims.c): over all
 * cases, and (device_too: a backend other than cpu is in the run) over those
 * a backend without the CPU toggles runs.  -1 when it cannot be measured. */
int kvv_cases_coverage_line(const kvv_case_select *o, const kvv_case_list *l, int device_too, char *buf, size_t len);

/* --rerun-failed FILE: the cases that failed in a report as `run` writes it
 * (JSON lines or ratio TSV), each once, in the report's order, appended to
 * out; the backends they failed on, comma-separated, appended to backends
 * (n bytes).  0, or -1 with why. */
int kvv_cases_failed(const char *path, kvv_case_list *out, char *backends, size_t n, char *why, size_t why_len);

/* The line saying which cache types the generated cases run in another
 * version (and which backend stores them so), to log; nothing when the map
 * changes none. */
void kvv_format_map_note(const kvv_format_map *m, FILE *log);

#endif
