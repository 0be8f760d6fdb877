/* The bench's lines: each printed with its fraction of the roof that bounds
 * it (bytes moved per second over the triad bandwidth of the working set's
 * level, LLC or DRAM, or FLOPs per second over the f32 FMA peak, at the
 * line's thread count), and kept so that the whole run can be written as
 * JSON for scripts that compare runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

/* the roofs measured at the line's thread count (else the nearest) */
static const kvv_roofs *roofs_at(const kvv_bench_log *log, int threads)
{
    const kvv_roofs *best = NULL;
    for (int i = 0; i < log->nroofs; i++)
        if (!best || abs(log->roofs[i].threads - threads) < abs(best->threads - threads))
            best = &log->roofs[i];
    return best;
}

typedef struct {
    const char *name; /* "LLC", "DRAM", "FMA" */
    double limit;     /* GB/s or GFLOP/s */
    double fraction;  /* < 0: none */
} roof_pick;

/* The roof that bounds the line, roofline style: bytes moved at the
 * bandwidth of the level the working set fits in (LLC or DRAM), or FLOPs at
 * the f32 FMA peak, whichever allows less; with both counted (attention
 * decode), the lower one binds, so a kernel whose arithmetic intensity is
 * past the machine's ridge point is judged against the FMA peak. */
static roof_pick pick_roof(const kvv_bench_log *log, const kvv_bench_line *l)
{
    roof_pick p = {NULL, 0, -1};
    const kvv_roofs *r = roofs_at(log, l->threads);
    if (!r || l->seconds <= 0)
        return p;
    double t_bytes = -1, t_flops = -1; /* the shortest time each roof allows */
    const char *bname = NULL;
    double blimit = 0;
    if (l->bytes > 0) {
        int fits = l->bytes <= (double)r->llc_bytes;
        bname = fits ? "LLC" : "DRAM";
        blimit = fits ? r->bw_llc : r->bw_dram;
        if (blimit > 0)
            t_bytes = l->bytes / (blimit * 1e9);
    }
    if (l->flops > 0 && r->fma_peak > 0)
        t_flops = l->flops / (r->fma_peak * 1e9);
    if (t_bytes < 0 && t_flops < 0)
        return p;
    if (t_bytes >= t_flops) {
        p.name = bname;
        p.limit = blimit;
        p.fraction = t_bytes / l->seconds;
    } else {
        p.name = "FMA";
        p.limit = r->fma_peak;
        p.fraction = t_flops / l->seconds;
    }
    return p;
}

void kvv_bench_line_add(kvv_bench_log *log, const kvv_bench_line *l)
{
    FILE *out = log->out;
    if (l->seconds < 0) {
        fprintf(out, "  %-34s %-12s %12s\n", l->what, l->backend, "unsupported");
    } else {
        fprintf(out, "  %-34s %-12s %10.3f ms %10.2f %-7s", l->what, l->backend, l->seconds * 1e3,
                l->units / l->seconds, l->unit);
        roof_pick p = pick_roof(log, l);
        if (p.fraction >= 0)
            fprintf(out, " %4.0f%% %-4s", 100 * p.fraction, p.name);
        else
            fprintf(out, " %10s", "");
        if (l->ref_seconds > 0)
            fprintf(out, "  %7.1fx the reference", l->ref_seconds / l->seconds);
        if (l->base_seconds > 0)
            fprintf(out, "  %6.2fx %s", l->base_seconds / l->seconds, l->base_name);
        fprintf(out, "\n");
    }
    if (log->n == log->cap) {
        int cap = log->cap ? 2 * log->cap : 64;
        kvv_bench_line *nl = realloc(log->lines, sizeof *nl * (size_t)cap);
        if (!nl)
            return; /* the text line is out; the JSON lacks it */
        log->lines = nl;
        log->cap = cap;
    }
    log->lines[log->n++] = *l;
}

/* ---- JSON ---- */

static void jstr(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* a number, or null where there is none (JSON has no inf or nan) */
static void jnum(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "%.6g", x);
    else
        fputs("null", f);
}

static void json_roofs(FILE *f, const kvv_roofs *r)
{
    fprintf(f, "{\"threads\": %d, \"triad_dram_gbs\": ", r->threads);
    jnum(f, r->bw_dram);
    fputs(", \"triad_llc_gbs\": ", f);
    jnum(f, r->bw_llc);
    fputs(", \"fma_gflops\": {\"scalar\": ", f);
    jnum(f, r->fma_scalar);
    fputs(", \"avx2\": ", f);
    jnum(f, r->fma_avx2 > 0 ? r->fma_avx2 : NAN);
    fputs(", \"avx512\": ", f);
    jnum(f, r->fma_avx512 > 0 ? r->fma_avx512 : NAN);
    fputs("}, \"fma_peak_gflops\": ", f);
    jnum(f, r->fma_peak);
    fputs("}", f);
}

static void json_line(FILE *f, const kvv_bench_log *log, const kvv_bench_line *l)
{
    int ok = l->seconds >= 0;
    roof_pick p = pick_roof(log, l);
    fputs("{\"section\": ", f);
    jstr(f, l->section);
    fputs(", \"what\": ", f);
    jstr(f, l->what);
    fputs(", \"backend\": ", f);
    jstr(f, l->backend);
    fprintf(f, ", \"threads\": %d, \"supported\": %s, \"seconds\": ", l->threads, ok ? "true" : "false");
    jnum(f, ok ? l->seconds : NAN);
    fputs(", \"rate\": ", f);
    jnum(f, ok ? l->units / l->seconds : NAN);
    fputs(", \"unit\": ", f);
    jstr(f, l->unit);
    fputs(", \"bytes\": ", f);
    jnum(f, l->bytes > 0 ? l->bytes : NAN);
    fputs(", \"flops\": ", f);
    jnum(f, l->flops > 0 ? l->flops : NAN);
    fputs(", \"roof\": ", f);
    if (p.name)
        jstr(f, p.name);
    else
        fputs("null", f);
    fputs(", \"roof_limit\": ", f);
    jnum(f, p.name ? p.limit : NAN);
    fputs(", \"roof_fraction\": ", f);
    jnum(f, p.fraction >= 0 ? p.fraction : NAN);
    const kvv_roofs *r = roofs_at(log, l->threads);
    int fits = r && l->bytes <= (double)r->llc_bytes;
    double bw = r ? (fits ? r->bw_llc : r->bw_dram) : 0;
    fputs(", \"bandwidth_fraction\": ", f);
    jnum(f, ok && l->bytes > 0 && bw > 0 ? l->bytes / l->seconds / 1e9 / bw : NAN);
    fputs(", \"fma_fraction\": ", f);
    jnum(f, ok && l->flops > 0 && r && r->fma_peak > 0 ? l->flops / l->seconds / 1e9 / r->fma_peak : NAN);
    fputs(", \"vs_reference\": ", f);
    jnum(f, ok && l->ref_seconds > 0 ? l->ref_seconds / l->seconds : NAN);
    fputs(", \"vs_first\": ", f);
    jnum(f, ok && l->base_seconds > 0 ? l->base_seconds / l->seconds : NAN);
    fputs(", \"first\": ", f);
    if (l->base_seconds > 0)
        jstr(f, l->base_name);
    else
        fputs("null", f);
    fputs("}", f);
}

int kvv_bench_json(const kvv_bench_log *log, const char *path, int threads, int reps)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
    if (!f)
        return -1;
    char cpu[200];
    kvv_cpu_model(cpu, sizeof cpu);
    fprintf(f, "{\"kvverify_bench\": 1, \"version\": ");
    jstr(f, KVV_VERSION);
    fputs(", \"commit\": ", f);
    jstr(f, KVV_GIT_COMMIT);
    fprintf(f, ", \"threads\": %d, \"reps\": %d,\n \"machine\": {\"cpu\": ", threads, reps);
    jstr(f, cpu);
    fprintf(f, ", \"cores\": %d, \"llc_bytes\": %zu},\n \"roofs\": [", kvv_cpu_count(),
            log->nroofs ? log->roofs[0].llc_bytes : kvv_llc_bytes());
    for (int i = 0; i < log->nroofs; i++) {
        fputs(i ? ",\n   " : "\n   ", f);
        json_roofs(f, &log->roofs[i]);
    }
    fputs("],\n \"ref_vs_dgemm\": [", f);
    for (int i = 0; i < log->ndgemm; i++) {
        fputs(i ? ",\n   " : "\n   ", f);
        fputs("{\"shape\": ", f);
        jstr(f, log->dgemm[i].shape);
        fputs(", \"ref_seconds\": ", f);
        jnum(f, log->dgemm[i].ref_seconds);
        fputs(", \"dgemm_seconds\": ", f);
        jnum(f, log->dgemm[i].dgemm_seconds);
        fputs(", \"dgemm_hot_seconds\": ", f);
        jnum(f, log->dgemm[i].dgemm_hot_seconds);
        fputs(", \"ratio\": ", f);
        jnum(f, log->dgemm[i].ref_seconds / log->dgemm[i].dgemm_seconds);
        fputs(", \"ratio_hot\": ", f);
        jnum(f, log->dgemm[i].ref_seconds / log->dgemm[i].dgemm_hot_seconds);
        fputs("}", f);
    }
    fputs("],\n \"lines\": [", f);
    for (int i = 0; i < log->n; i++) {
        fputs(i ? ",\n   " : "\n   ", f);
        json_line(f, log, &log->lines[i]);
    }
    fputs("]}\n", f);
    int bad = ferror(f);
    if (f != stdout)
        bad |= fclose(f) != 0;
    else
        bad |= fflush(f) != 0;
    return bad ? -1 : 0;
}
