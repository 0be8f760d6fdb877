/* What the runners of the op table share (oracle/run_case.c): backend
 * calls mapped to verdicts, guard checks, the case's inputs and the record
 * a dump keeps.  Private to oracle/run_*.c. */
#ifndef KVV_ORACLE_RUN_COMMON_H
#define KVV_ORACLE_RUN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "kvv/backend.h"
#include "kvv/case.h"
#include "kvv/verdict.h"
#include "dump/dump.h"
#include "ref/ref.h"

/* the inputs an op may take, in bufs[IN_*] */
enum { IN_Q, IN_K, IN_V, IN_MASK, IN_X, IN_COUNT };

double kvv_run_now(void);
const char *kvv_run_backend_error(const kvv_backend *b);
/* A backend status as the verdict: unsupported is a skip, a type stored in
 * no known format the format rule, any other failure the crash rule; 0
 * when the call succeeded, else -1. */
int kvv_run_check_call(int rc, const kvv_backend *b, const char *what, kvv_verdict *v);
/* The crash verdict for memory the oracle could not get; -1. */
int kvv_run_out_of_memory(kvv_verdict *v);
/* A guard zone of buf that a backend call wrote over: the crash verdict
 * naming the call and the buffer, and -1 (oracle/guard.c). */
int kvv_run_check_guard(const void *buf, size_t bytes, const char *call, const char *what, kvv_verdict *v);
/* The inputs the op takes, in bufs[IN_*] (kvv_alloc'ed): the stored arrays
 * of `in`, or generated from the case's seed.  0, or -1 with the verdict. */
int kvv_run_case_inputs(const kvv_case *c, const kvv_record *in, float **bufs, kvv_verdict *v);
/* Keep a tensor (or the inputs) in the record, a no-op without one; a
 * record is a best effort and never changes the verdict. */
void kvv_run_keep(kvv_record *rec, const char *name, kvv_dtype dt, kvv_type t, const void *data, int ndim, int64_t d0,
                  int64_t d1, int64_t d2);
void kvv_run_keep_inputs(kvv_record *rec, const kvv_case *c, float **bufs);
/* A malloc'ed f64 copy (NULL when out of memory). */
double *kvv_run_to_f64(const float *x, size_t n);
/* The backend's cache write into a guarded buffer (*out).  With format, a
 * type stored in no known format returns 1 and its message there (the
 * caller still runs the attention over those bytes); else 0 or -1 with
 * the verdict. */
int kvv_run_backend_quantize_fmt(const kvv_backend *b, kvv_type t, const float *x, int64_t rows, int64_t cols,
                                 kvv_toggles tg, void **out, kvv_verdict *v, char *format, size_t format_len);
int kvv_run_backend_quantize(const kvv_backend *b, kvv_type t, const float *x, int64_t rows, int64_t cols,
                             kvv_toggles tg, void **out, kvv_verdict *v);
/* The canonical bytes and the tie arrays of the reference; 0 or -1. */
int kvv_run_ref_quantize(kvv_type t, const float *x, int64_t rows, int64_t cols, void **out, kvv_ref_ties *ties,
                         kvv_verdict *v);

/* the runners of the op table */
void kvv_run_quant(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec, kvv_verdict *v);
void kvv_run_dequant(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec, kvv_verdict *v);
void kvv_run_wht(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec, kvv_verdict *v);
void kvv_run_attn(const kvv_case *c, const kvv_backend *b, const kvv_record *in, kvv_record *rec, kvv_verdict *v);

#endif
