/* Tensor dumps: named arrays captured while a case runs (records), and the
 * HDF5 files that keep them (writer, reader, dump-vs-dump diff).  The whole
 * interface of dump/.  Depends only on include/kvv and libhdf5; the oracle
 * fills records and drives the writer, the CLI reaches this through
 * oracle/run.h.
 *
 * File layout (schema version 1, documented in README):
 *   /                 attributes schema="kvverify-dump", schema_version,
 *                     tool_version, git_commit, machine, started, command,
 *                     selection ("failing" | "all"), finished ("complete" |
 *                     "interrupted"; absent in a file left by a killed run)
 *   /cases/NNNNNN     one group per (case, backend) unit: the case's name,
 *                     parameters, backend and verdict as attributes, and the
 *                     record's arrays as chunked, deflated, checksummed
 *                     datasets */
#ifndef KVV_DUMP_H
#define KVV_DUMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kvv/case.h"
#include "kvv/tensor.h"
#include "kvv/verdict.h"

#define KVV_DUMP_SCHEMA "kvverify-dump"
#define KVV_DUMP_SCHEMA_VERSION 1

/* ---- records: named arrays ---- */
typedef enum kvv_dtype { KVV_DT_U8, KVV_DT_F32, KVV_DT_F64, KVV_DT_COUNT } kvv_dtype;

#define KVV_ARRAY_NAME 24
typedef struct kvv_array {
    char name[KVV_ARRAY_NAME];
    kvv_dtype dtype;
    int ndim;                  /* 1..KVV_MAX_DIMS */
    int64_t dims[KVV_MAX_DIMS]; /* outermost first (C order, as HDF5 shows them) */
    kvv_type type;             /* u8 arrays of quantized rows: their type; else KVV_TYPE_NONE */
    void *data;
} kvv_array;

typedef struct kvv_record {
    int n, cap;
    kvv_array *a;
} kvv_record;

size_t kvv_dtype_size(kvv_dtype t);
const char *kvv_dtype_name(kvv_dtype t);
/* Elements of an array (product of dims). */
int64_t kvv_array_count(const kvv_array *a);

/* Copy data into a new array of the record (replacing one of the same name);
 * 0, or -1 when out of memory or the shape is unusable. */
int kvv_record_put(kvv_record *r, const char *name, kvv_dtype dt, kvv_type type, int ndim, const int64_t *dims,
                   const void *data);
const kvv_array *kvv_record_get(const kvv_record *r, const char *name);
void kvv_record_free(kvv_record *r);

/* Serialized form for a pipe: a flat, length-checked buffer. */
size_t kvv_record_encoded_size(const kvv_record *r);
void kvv_record_encode(const kvv_record *r, void *buf);
/* 0, or -1 with why when the buffer is not a well-formed record. */
int kvv_record_decode(const void *buf, size_t n, kvv_record *r, char *why, size_t why_len);

/* ---- comparing arrays ---- */
typedef struct kvv_array_diff {
    int differs;               /* 0 identical (NaN equals NaN), 1 values, 2 shape or dtype */
    int64_t first;             /* flat index of the first differing element */
    int64_t idx[KVV_MAX_DIMS]; /* its indices */
    double a, b;               /* values there */
    double abs, rel;           /* |a - b| and |a - b| / max(|a|, |b|) there */
    int64_t count;             /* differing elements */
    double max_abs;            /* largest |a - b| among finite pairs */
    int64_t max_at;            /* flat index of max_abs */
} kvv_array_diff;
void kvv_array_compare(const kvv_array *a, const kvv_array *b, kvv_array_diff *d);
/* "q[0,3,17]" */
void kvv_array_index_text(const kvv_array *a, const int64_t *idx, char *buf, size_t n);

/* ---- writing ---- */
typedef struct kvv_dump_meta {
    const char *version, *commit, *machine, *started, *command;
    int all; /* every unit is written, not only failing ones */
} kvv_dump_meta;

typedef struct kvv_dump_writer kvv_dump_writer;
/* Whether a dump may be written at path, before any work: an existing
 * target (or its .partial) that is not a regular file is refused (a rename
 * would replace a device node or a FIFO), and so is a folder that does not
 * exist or cannot be written (why holds the errno text).  0, or -1 with why.
 * kvv_dump_create makes the same checks. */
int kvv_dump_check_path(const char *path, char *why, size_t why_len);
/* Lock path.partial (created if missing) for this run: a descriptor to
 * pass to kvv_dump_unlock, or -1 with why, "another kvverify run is writing
 * PATH ..." when another run holds it (dump/path.c says how). */
int kvv_dump_lock(const char *path, const char *partial, char *why, size_t why_len);
void kvv_dump_unlock(int fd);
/* Start a dump that becomes `path` at kvv_dump_finish.  Until then it is
 * written to `path.partial` and flushed after every case, so a run that is
 * killed leaves a readable file of the cases it finished.  The .partial
 * file stays locked until it is renamed: a second writer of the same path
 * is refused.  NULL with why. */
kvv_dump_writer *kvv_dump_create(const char *path, const kvv_dump_meta *m, char *why, size_t why_len);
/* Write one unit; rec may be NULL (attributes only).  After a write error
 * the writer refuses further cases and kvv_dump_finish reports the error. */
int kvv_dump_add(kvv_dump_writer *w, int64_t unit, const kvv_case *c, const char *backend, const kvv_verdict *v,
                 const kvv_record *rec);
/* Close the file and rename it into place (also after an interrupted run:
 * complete = 0 marks it so).  Frees w.  0, or -1 with why. */
int kvv_dump_finish(kvv_dump_writer *w, int complete, char *why, size_t why_len);
/* The path being written (the .partial file). */
const char *kvv_dump_partial_path(const kvv_dump_writer *w);
/* The last error of the writer ("" when none), and the cases written so far. */
const char *kvv_dump_writer_error(const kvv_dump_writer *w);
int64_t kvv_dump_written(const kvv_dump_writer *w);

/* ---- reading ---- */
typedef struct kvv_dump kvv_dump;
typedef struct kvv_dump_entry {
    char group[32];      /* "/cases/000017" */
    char name[512];      /* the case name */
    kvv_case c;          /* parsed from the name */
    char backend[256];
    kvv_verdict v;       /* status, rule, detail and figures as stored (times are 0) */
} kvv_dump_entry;

/* Open and check a dump: an HDF5 file of this schema whose root attributes
 * and case list are readable.  NULL with why naming the problem (not HDF5,
 * truncated, corrupt, another schema, a newer schema version). */
kvv_dump *kvv_dump_open(const char *path, char *why, size_t why_len);
/* The library that reads HDF5 can crash or hang on a damaged file (damaged
 * dumps in corpora/known-failures/h5_reader/ do).  kvv_dump_open therefore
 * first reads the whole file in a child process with a time limit, and
 * reports a crash or hang there as a corrupt file; kvv_dump_open_direct
 * skips that (for the fuzz target, which wants to see such crashes). */
kvv_dump *kvv_dump_open_direct(const char *path, char *why, size_t why_len);
void kvv_dump_close(kvv_dump *d);
int kvv_dump_count(const kvv_dump *d);
/* A root attribute ("tool_version", "git_commit", "machine", ...); "" when absent. */
const char *kvv_dump_attr(const kvv_dump *d, const char *key);
/* Read case i (in group order); rec (may be NULL) receives its arrays.
 * 0, or -1 with why (a missing attribute, a corrupt dataset, ...). */
int kvv_dump_read(kvv_dump *d, int i, kvv_dump_entry *e, kvv_record *rec, char *why, size_t why_len);

/* ---- dump-vs-dump diff ---- */
/* The stages a case's data passes through, in order; the diff names the
 * first one at which two dumps differ. */
typedef enum kvv_stage {
    KVV_STAGE_INPUTS,
    KVV_STAGE_QUANTIZE,
    KVV_STAGE_DEQUANTIZE,
    KVV_STAGE_SCORES,
    KVV_STAGE_SOFTMAX,
    KVV_STAGE_OUTPUT,
    KVV_STAGE_COUNT,
    KVV_STAGE_NONE = -1
} kvv_stage;
const char *kvv_stage_name(kvv_stage s);

typedef struct kvv_case_diff {
    kvv_stage stage;     /* first differing stage; KVV_STAGE_NONE when the arrays agree */
    char array[KVV_ARRAY_NAME];
    kvv_array_diff d;
    char only[KVV_ARRAY_NAME]; /* an array of a stage that only one side has ("" when none) */
} kvv_case_diff;
/* Compare two records stage by stage. */
void kvv_record_diff(const kvv_record *a, const kvv_record *b, kvv_case_diff *out);
/* Compare two dump files: a summary line per case to out.  Cases are paired
 * by name and backend, or by name alone when the backends differ.  Returns
 * 0 when every case agrees, 1 when any differs or is in only one file, -1
 * (with why) when a file cannot be read. */
int kvv_dump_diff(const char *path_a, const char *path_b, FILE *out, char *why, size_t why_len);

#endif
