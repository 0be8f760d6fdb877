/* The benchmark (a program, not a test): bench/bench*.c, and the backends
 * it measures in a child process (bench/isolate_bench.c). */
#ifndef KVV_BENCH_BENCH_H
#define KVV_BENCH_BENCH_H

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
#include "proc/proc.h"

/* ---- benchmark (a program, not a test) ---- */
/* Quantize, WHT, attention decode and prefill on each backend and the
 * reference, best of reps; prints throughput, ratios and each line's
 * fraction of the machine limit that bounds it to out, and, when json_path
 * is not NULL, the same lines and limits as one JSON object to that file
 * ("-": stdout). */
int kvv_bench(FILE *out, const kvv_backend *const *backends, const char *const *names, int nbackends, int threads,
              int reps, const char *json_path);

/* The machine's limits (bench/bench_roof.c), measured at `threads`
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

/* One line of the bench and where it stands against the roofs
 * (bench/bench_lines.c).  seconds < 0: the backend does not support it. */
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

/* The bench's backends in a child process (bench/isolate_bench.c): opens
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

#endif
