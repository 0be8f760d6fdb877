/* The machine's own limits, measured in the bench's run so that every kernel
 * line can say how far it is from the roof that bounds it:
 * - memory bandwidth: a STREAM-style triad a[i] = b[i] + s * c[i] over f64
 *   arrays, once over a working set well beyond the last-level cache (DRAM)
 *   and once over one that fits it, counted as STREAM counts it (24 bytes
 *   per element: the write-allocate read of a is not counted);
 * - f32 arithmetic peak: a loop of independent multiply-adds per ISA
 *   (scalar mulss+addss, AVX2 FMA, AVX-512 FMA where the CPU has them), with
 *   twelve accumulators so that the FMA latency never stalls the pipes.
 * Each figure is the best of reps after a warm-up, at 1 thread or at n
 * threads (each thread on its own slice, timed from a common start to the
 * last one's end). */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvv/tensor.h"
#include "bench/bench.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

size_t kvv_llc_bytes(void)
{
    /* the largest unified cache of cpu0 in sysfs; glibc's sysconf derives
     * it from CPUID and is wrong under some hypervisors (320 MiB for a
     * 32 MiB L3 here) */
    size_t best = 0;
    for (int i = 0; i < 8; i++) {
        char path[96], type[32] = "", size[32] = "";
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        FILE *f = fopen(path, "r");
        if (!f)
            break;
        int ok = fscanf(f, "%31s", type) == 1;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!ok || strcmp(type, "Unified") || !(f = fopen(path, "r")))
            continue;
        char unit = 0;
        unsigned long v = 0;
        if (fscanf(f, "%31s", size) == 1 && sscanf(size, "%lu%c", &v, &unit) >= 1) {
            size_t b = v * (unit == 'K' ? 1024ul : unit == 'M' ? 1024ul * 1024 : 1ul);
            if (b > best)
                best = b;
        }
        fclose(f);
    }
    if (!best) {
        long s = sysconf(_SC_LEVEL3_CACHE_SIZE);
        best = s > 0 ? (size_t)s : (size_t)32 << 20;
    }
    return best;
}

/* ---- the loops ---- */

static void triad_plain(double *a, const double *b, const double *c, size_t n, double s)
{
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] + s * c[i];
}

__attribute__((target("avx2"))) static void triad_avx2(double *a, const double *b, const double *c, size_t n,
                                                      double s)
{
    __m256d vs = _mm256_set1_pd(s);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256d x0 = _mm256_add_pd(_mm256_loadu_pd(b + i), _mm256_mul_pd(vs, _mm256_loadu_pd(c + i)));
        __m256d x1 = _mm256_add_pd(_mm256_loadu_pd(b + i + 4), _mm256_mul_pd(vs, _mm256_loadu_pd(c + i + 4)));
        _mm256_storeu_pd(a + i, x0);
        _mm256_storeu_pd(a + i + 4, x1);
    }
    triad_plain(a + i, b + i, c + i, n - i, s);
}

/* Twelve named accumulators (an array would live on the stack at -O2, and
 * store-to-load forwarding, not the FMA pipes, would set the pace). */
#define FMA_ACC 12
#define ACC_DECL(T, init)                                                                                          \
    T c0 = init(1.000f), c1 = init(1.001f), c2 = init(1.002f), c3 = init(1.003f), c4 = init(1.004f),             \
      c5 = init(1.005f), c6 = init(1.006f), c7 = init(1.007f), c8 = init(1.008f), c9 = init(1.009f),             \
      c10 = init(1.010f), c11 = init(1.011f)
#define ACC_STEP(OP)                                                                                               \
    do {                                                                                                           \
        c0 = OP(c0);                                                                                               \
        c1 = OP(c1);                                                                                               \
        c2 = OP(c2);                                                                                               \
        c3 = OP(c3);                                                                                               \
        c4 = OP(c4);                                                                                               \
        c5 = OP(c5);                                                                                               \
        c6 = OP(c6);                                                                                               \
        c7 = OP(c7);                                                                                               \
        c8 = OP(c8);                                                                                               \
        c9 = OP(c9);                                                                                               \
        c10 = OP(c10);                                                                                             \
        c11 = OP(c11);                                                                                             \
    } while (0)
#define ACC_SUM(ADD)                                                                                               \
    ADD(ADD(ADD(ADD(c0, c1), ADD(c2, c3)), ADD(ADD(c4, c5), ADD(c6, c7))), ADD(ADD(c8, c9), ADD(c10, c11)))

#define F_INIT(x) (x)
#define F_ADD(a, b) ((a) + (b))
static float fma_scalar(long iters)
{
    /* volatile operands keep the compiler from folding the loop; no FMA
     * instruction in the base ISA: a multiply and an add (2 FLOPs) */
    volatile float vm = 0.9999999f, va = 1e-7f;
    float m = vm, a = va;
    ACC_DECL(float, F_INIT);
#define F_OP(c) ((c) * m + a)
    for (long i = 0; i < iters; i++)
        ACC_STEP(F_OP);
    return ACC_SUM(F_ADD);
}

#define Y_INIT(x) _mm256_set1_ps(x)
__attribute__((target("avx2,fma"))) static float fma_avx2(long iters)
{
    volatile float vm = 0.9999999f, va = 1e-7f;
    __m256 m = _mm256_set1_ps(vm), a = _mm256_set1_ps(va);
    ACC_DECL(__m256, Y_INIT);
#define Y_OP(c) _mm256_fmadd_ps(c, m, a)
    for (long i = 0; i < iters; i++)
        ACC_STEP(Y_OP);
    __m256 s = ACC_SUM(_mm256_add_ps);
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0] + out[7];
}

#define Z_INIT(x) _mm512_set1_ps(x)
__attribute__((target("avx512f"))) static float fma_avx512(long iters)
{
    volatile float vm = 0.9999999f, va = 1e-7f;
    __m512 m = _mm512_set1_ps(vm), a = _mm512_set1_ps(va);
    ACC_DECL(__m512, Z_INIT);
#define Z_OP(c) _mm512_fmadd_ps(c, m, a)
    for (long i = 0; i < iters; i++)
        ACC_STEP(Z_OP);
    return _mm512_reduce_add_ps(ACC_SUM(_mm512_add_ps));
}

/* ---- running a loop on n threads ---- */

enum { JOB_TRIAD, JOB_FMA_SCALAR, JOB_FMA_AVX2, JOB_FMA_AVX512 };

typedef struct {
    int job, nthreads, reps, use_avx2;
    double *a, *b, *c;
    size_t n; /* elements per array, split over the threads */
    long iters;
    /* the threads start on `go` once the main thread knows how many it got,
     * then every pass runs between two barriers */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go;
    pthread_barrier_t start, end;
    volatile float sink;
} roof_job;

typedef struct {
    roof_job *j;
    int id;
} roof_arg;

static void do_job(roof_job *j, int id)
{
    if (j->job == JOB_TRIAD) {
        size_t per = (j->n / (size_t)j->nthreads) & ~(size_t)7, lo = per * (size_t)id,
               hi = id == j->nthreads - 1 ? j->n : lo + per;
        if (j->use_avx2)
            triad_avx2(j->a + lo, j->b + lo, j->c + lo, hi - lo, 3.0);
        else
            triad_plain(j->a + lo, j->b + lo, j->c + lo, hi - lo, 3.0);
    } else {
        float s = j->job == JOB_FMA_SCALAR ? fma_scalar(j->iters)
                  : j->job == JOB_FMA_AVX2 ? fma_avx2(j->iters)
                                           : fma_avx512(j->iters);
        j->sink = s;
    }
}

static void *roof_thread(void *p)
{
    roof_arg *ra = p;
    roof_job *j = ra->j;
    pthread_mutex_lock(&j->mu);
    while (!j->go)
        pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
    if (ra->id >= j->nthreads) /* more were started than the run could use */
        return NULL;
    for (int r = 0; r <= j->reps; r++) {
        pthread_barrier_wait(&j->start);
        do_job(j, ra->id);
        pthread_barrier_wait(&j->end);
    }
    return NULL;
}

/* best seconds of one pass of the job on up to j->nthreads threads (fewer
 * when the system gives fewer: j->nthreads says how many ran); -1 on error */
static double time_job(roof_job *j)
{
    pthread_t th[256];
    roof_arg args[256];
    if (j->nthreads < 1 || j->nthreads > 256)
        return -1;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->go = 0;
    int started = 1;
    for (int t = 1; t < j->nthreads; t++) {
        args[t] = (roof_arg){j, t};
        if (pthread_create(&th[t], NULL, roof_thread, &args[t]))
            break;
        started++;
    }
    j->nthreads = started;
    double best = -1;
    int ok = !pthread_barrier_init(&j->start, NULL, (unsigned)started) &&
             !pthread_barrier_init(&j->end, NULL, (unsigned)started);
    pthread_mutex_lock(&j->mu);
    j->go = 1;
    if (!ok)
        j->nthreads = 0; /* the workers leave without running */
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    for (int r = 0; ok && r <= j->reps; r++) { /* pass 0 is the warm-up */
        pthread_barrier_wait(&j->start);
        double t0 = now();
        do_job(j, 0);
        pthread_barrier_wait(&j->end);
        double t = now() - t0;
        if (r > 0 && (best < 0 || t < best))
            best = t;
    }
    for (int t = 1; t < started; t++)
        pthread_join(th[t], NULL);
    if (ok) {
        pthread_barrier_destroy(&j->start);
        pthread_barrier_destroy(&j->end);
    }
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    return best;
}

/* triad GB/s over three arrays of `bytes` in all */
static double triad_gbs(int threads, int reps, size_t bytes, int use_avx2)
{
    size_t n = bytes / (3 * sizeof(double));
    roof_job j;
    memset(&j, 0, sizeof j);
    j.job = JOB_TRIAD;
    j.nthreads = threads;
    j.reps = reps;
    j.use_avx2 = use_avx2;
    j.n = n;
    j.a = kvv_alloc(sizeof(double) * n);
    j.b = kvv_alloc(sizeof(double) * n);
    j.c = kvv_alloc(sizeof(double) * n);
    double gbs = -1;
    if (j.a && j.b && j.c) {
        for (size_t i = 0; i < n; i++) {
            j.b[i] = 1.0;
            j.c[i] = 2.0;
            j.a[i] = 0.0;
        }
        double t = time_job(&j);
        gbs = t > 0 ? 3.0 * sizeof(double) * (double)n / t / 1e9 : -1;
    }
    kvv_free(j.a);
    kvv_free(j.b);
    kvv_free(j.c);
    return gbs;
}

static double fma_gflops(int threads, int reps, int job)
{
    roof_job j;
    memset(&j, 0, sizeof j);
    j.job = job;
    j.nthreads = threads;
    j.reps = reps;
    int lanes = job == JOB_FMA_SCALAR ? 1 : job == JOB_FMA_AVX2 ? 8 : 16;
    /* about 0.2 GFLOP per thread and pass: some tens of milliseconds */
    j.iters = 200000000L / (2L * FMA_ACC * lanes);
    double t = time_job(&j);
    return t > 0 ? 2.0 * FMA_ACC * lanes * (double)j.iters * j.nthreads / t / 1e9 : -1;
}

int kvv_roofs_measure(int threads, int reps, kvv_roofs *r)
{
    memset(r, 0, sizeof *r);
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = __builtin_cpu_supports("avx512f");
    r->threads = threads;
    r->llc_bytes = kvv_llc_bytes();
    /* 8x the LLC is well beyond it whatever else runs; a quarter of it fits
     * with room for the rest of the process, but no more than 8 MiB: a VM
     * may report its host's whole L3 (480 MiB here) where its own share
     * ends near 32 MiB, and a triad over 120 MiB then measures DRAM */
    r->bw_dram = triad_gbs(threads, reps, 8 * r->llc_bytes, avx2);
    size_t in_llc = r->llc_bytes / 4 < ((size_t)8 << 20) ? r->llc_bytes / 4 : (size_t)8 << 20;
    r->bw_llc = triad_gbs(threads, reps, in_llc, avx2);
    r->fma_scalar = fma_gflops(threads, reps, JOB_FMA_SCALAR);
    r->fma_avx2 = avx2 ? fma_gflops(threads, reps, JOB_FMA_AVX2) : 0;
    r->fma_avx512 = avx512 ? fma_gflops(threads, reps, JOB_FMA_AVX512) : 0;
    r->fma_peak = r->fma_scalar;
    if (r->fma_avx2 > r->fma_peak)
        r->fma_peak = r->fma_avx2;
    if (r->fma_avx512 > r->fma_peak)
        r->fma_peak = r->fma_avx512;
    return r->bw_dram > 0 && r->bw_llc > 0 && r->fma_peak > 0 ? 0 : -1;
}
