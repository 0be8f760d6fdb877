/* The run loop: (case, backend) units spread over isolated worker
 * processes, verdicts streamed to the reporters in case order.
 *
 * Worker j runs the units j, j + jobs, j + 2 jobs, ... and writes one
 * fixed-size message per unit to its pipe.  When a worker dies or stays
 * silent past the timeout, the unit it was on gets a crash verdict that
 * names it, a new worker starts at the following unit, and the run goes on.
 * Results already computed are kept whatever happens (a SIGINT or SIGTERM
 * stops the run early but still reports them).
 *
 * With a dump, a worker records each unit's tensors and, for the units the
 * dump keeps (failing ones, or all), sends them after the verdict as a
 * length-prefixed serialized record.  The parent is the only writer of the
 * dump: it writes units as they are reported, in case order. */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oracle/guard.h"
#include "oracle/isolate.h"
#include "oracle/run.h"
#include "oracle/verdict.h"
#include "proc/proc.h"

typedef struct {
    int64_t unit;
    uint64_t rec_bytes; /* bytes of the serialized record that follow (0: none) */
    kvv_verdict v;
} unit_msg;

/* A serialized record larger than this is a broken message, not data. */
#define MAX_RECORD_BYTES ((uint64_t)1 << 40)

typedef struct {
    pid_t pid;
    int fd;
    int64_t next;     /* the unit it is working on */
    double deadline;  /* when that unit times out */
    size_t have;      /* bytes of a partial message */
    unit_msg buf;
    char *payload;    /* the record following buf, while it arrives */
    size_t payload_have;
    char *note;       /* shared with the worker: what its guard-page handler saw */
} worker_t;

#define NOTE_BYTES 512

static volatile sig_atomic_t interrupted;
static int stop_early; /* --fail-fast saw a failure */
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void open_backends(const kvv_run_opts *o, const kvv_backend **bk, char (*why)[256])
{
    for (int b = 0; b < o->nbackends; b++) {
        why[b][0] = 0;
        bk[b] = o->backends ? o->backends[b] : kvv_backend_open(o->backend_names[b], why[b], sizeof why[b]);
    }
}

static int wants_record(const kvv_run_io_opts *io, const kvv_verdict *v)
{
    return io->dump && (io->dump_all || v->status == KVV_FAIL);
}

static void run_unit(const kvv_run_opts *o, const kvv_run_io_opts *io, const kvv_backend **bk, char (*why)[256],
                     int64_t u, kvv_verdict *v, kvv_record *rec)
{
    const kvv_case *c = &o->cases[u / o->nbackends];
    int b = (int)(u % o->nbackends);
    if (!bk[b]) {
        kvv_verdict_init(v);
        kvv_verdict_fail(v, KVV_RULE_CRASH, "backend %s cannot start: %s", o->backend_names[b], why[b]);
        return;
    }
    kvv_run_case_io(c, bk[b], io->inputs ? io->inputs[u / o->nbackends] : NULL, io->dump ? rec : NULL, v);
}

/* A process that runs case after case.  Its buffers are the same few sizes
 * again and again, up to hundreds of MB for the long MLA cases: glibc would
 * map every one above 32 MiB afresh and unmap it on free, so that each case
 * paid a page fault and a page clear per 4 KiB (a fifth of a full run's CPU
 * time went to the kernel).  Heap memory only, never trimmed, is reused
 * instead.  The reference's BLAS gets this process's share of the cores:
 * with one worker per core, BLAS threads would only spin (sched_yield)
 * against the other workers; the thread count changes no output bit. */
static void settle_case_process(int processes)
{
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
    int per = kvv_cpu_count() / (processes > 0 ? processes : 1);
    kvv_ref_blas_threads(per > 0 ? per : 1);
}

static void worker_main(const kvv_run_opts *o, const kvv_run_io_opts *io, int fd, int64_t start, int stride,
                        int64_t nunits, char *note)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    kvv_stdout_to_stderr(); /* what a backend prints never reaches a report on stdout */
    settle_case_process(stride);
    kvv_guard_note_area(note, note ? NOTE_BYTES : 0);
    kvv_guard_pages(o->guard);
    const kvv_backend *bk[KVV_MAX_BACKENDS];
    char why[KVV_MAX_BACKENDS][256];
    open_backends(o, bk, why);
    for (int64_t u = start; u < nunits; u += stride) {
        unit_msg m;
        kvv_record rec = {0};
        memset(&m, 0, sizeof m);
        m.unit = u;
        run_unit(o, io, bk, why, u, &m.v, &rec);
        char *payload = NULL;
        if (wants_record(io, &m.v)) {
            m.rec_bytes = kvv_record_encoded_size(&rec);
            payload = malloc(m.rec_bytes);
            if (payload)
                kvv_record_encode(&rec, payload);
            else
                m.rec_bytes = 0; /* the parent regenerates the inputs */
        }
        kvv_record_free(&rec);
        kvv_proc_write_all(fd, &m, sizeof m);
        if (payload)
            kvv_proc_write_all(fd, payload, m.rec_bytes);
        free(payload);
    }
    _exit(0);
}

static int spawn(const kvv_run_opts *o, const kvv_run_io_opts *io, worker_t *w, int64_t start, int stride,
                 int64_t nunits)
{
    if (!w->note) {
        w->note = mmap(NULL, NOTE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (w->note == MAP_FAILED)
            w->note = NULL;
    }
    if (w->note)
        w->note[0] = 0;
    /* a worker does not outlive its run (one hanging in a backend would
     * stay forever after a kill -9 of the run) */
    int fd;
    pid_t pid = kvv_proc_fork_pipe(&fd, KVV_PROC_DIE_WITH_PARENT);
    if (pid < 0)
        return -1;
    if (pid == 0)
        worker_main(o, io, fd, start, stride, nunits, w->note);
    w->pid = pid;
    w->fd = fd;
    w->next = start;
    w->deadline = mono() + o->timeout;
    w->have = 0;
    return 0;
}

typedef struct {
    const kvv_run_opts *o;
    kvv_summary *s;
    kvv_verdict *res;
    char *done;
    int64_t emitted, nunits, failures;
    const kvv_run_io_opts *io;
    kvv_record *recs; /* with a dump: each unit's record until it is written */
    int dump_error_shown;
} emit_t;

/* Write a unit to the dump.  A unit without a record (a worker that crashed
 * or hung) gets its inputs, regenerated here, so that it can be replayed. */
static void dump_one(emit_t *e, int64_t u, const kvv_case *c, int b)
{
    const kvv_run_opts *o = e->o;
    const kvv_run_io_opts *io = e->io;
    if (!wants_record(io, &e->res[u]))
        return;
    kvv_record *rec = &e->recs[u];
    const kvv_record *in = io->inputs ? io->inputs[u / o->nbackends] : NULL;
    if (rec->n == 0 && in) {
        for (int i = 0; i < in->n; i++)
            kvv_record_put(rec, in->a[i].name, in->a[i].dtype, in->a[i].type, in->a[i].ndim, in->a[i].dims,
                           in->a[i].data);
    } else if (rec->n == 0) {
        kvv_case_inputs(c, rec);
    }
    if (kvv_dump_add(io->dump, u, c, o->backend_names[b], &e->res[u], rec) && !e->dump_error_shown) {
        fprintf(stderr, "kvverify: dump: %s; no further cases are written\n", kvv_dump_writer_error(io->dump));
        e->dump_error_shown = 1;
    }
}

static void emit_one(emit_t *e, int64_t u)
{
    {
        const kvv_case *c = &e->o->cases[u / e->o->nbackends];
        int b = (int)(u % e->o->nbackends);
        char name[512];
        kvv_case_name(c, name, sizeof name);
        if (e->o->strict && e->res[u].status == KVV_SKIP) { /* the decline's reason stays the detail */
            e->res[u].status = KVV_FAIL;
            e->res[u].rule = KVV_RULE_DECLINED;
        }
        kvv_summary_add(e->s, c->op, b, &e->res[u]);
        e->failures += e->res[u].status == KVV_FAIL;
        if (e->o->fail_fast && e->res[u].status == KVV_FAIL)
            stop_early = 1;
        for (int r = 0; r < e->o->nreporters; r++)
            e->o->reporters[r]->result(e->o->reporters[r], c, name, b, &e->res[u]);
        if (e->io->dump)
            dump_one(e, u, c, b);
    }
    if (e->recs)
        kvv_record_free(&e->recs[u]);
}

/* Hand the finished prefix of units to the reporters, in order. */
static void emit_ready(emit_t *e)
{
    while (e->emitted < e->nunits && e->done[e->emitted])
        emit_one(e, e->emitted++);
}

/* After an interrupted run: whatever finished beyond the gap is reported
 * too, so no computed result is lost. */
static void emit_rest(emit_t *e)
{
    for (int64_t u = e->emitted; u < e->nunits; u++)
        if (e->done[u])
            emit_one(e, u);
}

/* Keep a unit's verdict, and its record (taken over) when one came. */
static void record(emit_t *e, int64_t u, const kvv_verdict *v, kvv_record *rec)
{
    if (u < 0 || u >= e->nunits || e->done[u]) {
        if (rec)
            kvv_record_free(rec);
        return;
    }
    e->res[u] = *v;
    e->done[u] = 1;
    if (rec && e->recs)
        e->recs[u] = *rec;
    else if (rec)
        kvv_record_free(rec);
}

/* A worker's message is complete: its verdict, and its record if any. */
static void take_message(emit_t *e, worker_t *k, int jobs, double t, double timeout)
{
    kvv_record rec = {0};
    char why[200];
    if (k->payload && kvv_record_decode(k->payload, k->buf.rec_bytes, &rec, why, sizeof why))
        fprintf(stderr, "kvverify: dump: the tensors of one case were lost: %s\n", why);
    record(e, k->buf.unit, &k->buf.v, &rec);
    free(k->payload);
    k->payload = NULL;
    k->payload_have = 0;
    k->have = 0;
    k->next = k->buf.unit + jobs;
    k->deadline = t + timeout;
}

/* Read what a worker has written; 1 when its pipe ended or broke. */
static int read_worker(emit_t *e, worker_t *k, int jobs, double t, double timeout)
{
    ssize_t r;
    if (k->have < sizeof k->buf) {
        r = read(k->fd, (char *)&k->buf + k->have, sizeof k->buf - k->have);
        if (r > 0) {
            k->have += (size_t)r;
            if (k->have < sizeof k->buf)
                return 0;
            if (k->buf.rec_bytes == 0) {
                take_message(e, k, jobs, t, timeout);
            } else if (k->buf.rec_bytes > MAX_RECORD_BYTES || !(k->payload = malloc(k->buf.rec_bytes))) {
                kill(k->pid, SIGKILL); /* a message we cannot take: the unit fails as a crash */
                return 1;
            }
            return 0;
        }
    } else {
        r = read(k->fd, k->payload + k->payload_have, k->buf.rec_bytes - k->payload_have);
        if (r > 0) {
            k->payload_have += (size_t)r;
            if (k->payload_have == k->buf.rec_bytes)
                take_message(e, k, jobs, t, timeout);
            return 0;
        }
    }
    return r == 0 || (errno != EINTR && errno != EAGAIN);
}

static void crash_verdict(kvv_verdict *v, int status, double timeout, int hung, const char *note)
{
    kvv_verdict_init(v);
    if (hung)
        kvv_verdict_fail(v, KVV_RULE_CRASH, "hung: no result within %.0f s; the worker was killed", timeout);
    else if (WIFSIGNALED(status) && note && *note)
        kvv_verdict_fail(v, KVV_RULE_CRASH, "crashed: killed by signal %d (%s): %.*s", WTERMSIG(status),
                         strsignal(WTERMSIG(status)), NOTE_BYTES, note);
    else if (WIFSIGNALED(status))
        kvv_verdict_fail(v, KVV_RULE_CRASH, "crashed: killed by signal %d (%s)", WTERMSIG(status),
                         strsignal(WTERMSIG(status)));
    else
        kvv_verdict_fail(v, KVV_RULE_CRASH, "crashed: the worker exited with status %d",
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static int run_isolated(const kvv_run_opts *o, emit_t *e)
{
    int jobs = o->jobs;
    if (jobs > e->nunits)
        jobs = (int)e->nunits;
    worker_t *w = calloc((size_t)jobs, sizeof *w);
    struct pollfd *pf = calloc((size_t)jobs, sizeof *pf);
    if (!w || !pf) {
        free(w);
        free(pf);
        return -1;
    }
    int alive = 0;
    for (int j = 0; j < jobs; j++) {
        w[j].fd = -1;
        if (spawn(o, e->io, &w[j], j, jobs, e->nunits) == 0)
            alive++;
        else
            w[j].next = e->nunits;
    }
    while (alive > 0 && !interrupted && !stop_early) {
        double t = mono(), soonest = t + 3600;
        for (int j = 0; j < jobs; j++) {
            pf[j].fd = w[j].fd;
            pf[j].events = POLLIN;
            pf[j].revents = 0;
            if (w[j].fd >= 0 && w[j].deadline < soonest)
                soonest = w[j].deadline;
        }
        int ms = (int)((soonest - t) * 1000) + 1;
        int n = poll(pf, (nfds_t)jobs, ms < 0 ? 0 : ms);
        if (n < 0 && errno != EINTR)
            break;
        t = mono();
        for (int j = 0; j < jobs; j++) {
            worker_t *k = &w[j];
            if (k->fd < 0)
                continue;
            int ended = 0, hung = 0;
            if (pf[j].revents & (POLLIN | POLLHUP | POLLERR)) {
                ended = read_worker(e, k, jobs, t, o->timeout);
            } else if (t >= k->deadline) {
                hung = 1;
                kill(k->pid, SIGKILL);
                ended = 1;
            }
            if (!ended)
                continue;
            int status = 0;
            close(k->fd);
            k->fd = -1;
            free(k->payload);
            k->payload = NULL;
            k->payload_have = k->have = 0;
            while (waitpid(k->pid, &status, 0) < 0 && errno == EINTR)
                ;
            alive--;
            if (k->next < e->nunits && !interrupted) { /* not a worker stopped with the run */
                /* the worker died on unit k->next: that unit fails, the
                 * next one of its sequence starts in a new worker */
                kvv_verdict v;
                crash_verdict(&v, status, o->timeout, hung, k->note);
                record(e, k->next, &v, NULL);
                int64_t resume = k->next + jobs;
                if (resume < e->nunits && !interrupted && !stop_early && spawn(o, e->io, k, resume, jobs, e->nunits) == 0)
                    alive++;
            }
        }
        emit_ready(e);
    }
    for (int j = 0; j < jobs; j++)
        if (w[j].fd >= 0) {
            kill(w[j].pid, SIGKILL);
            close(w[j].fd);
            waitpid(w[j].pid, NULL, 0);
            free(w[j].payload);
        }
    for (int j = 0; j < jobs; j++)
        if (w[j].note)
            munmap(w[j].note, NOTE_BYTES);
    free(w);
    free(pf);
    return 0;
}

/* In this process, a backend's prints go to stderr while it runs (the
 * reporters write to the real stdout between units). */
static int stdout_aside(void)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    if (saved >= 0)
        dup2(STDERR_FILENO, STDOUT_FILENO);
    return saved;
}

static void stdout_back(int saved)
{
    fflush(stdout);
    if (saved >= 0) {
        dup2(saved, STDOUT_FILENO);
        close(saved);
    }
}

static void run_inline(const kvv_run_opts *o, emit_t *e)
{
    const kvv_backend *bk[KVV_MAX_BACKENDS];
    char why[KVV_MAX_BACKENDS][256];
    settle_case_process(1);
    kvv_guard_pages(o->guard);
    int saved = stdout_aside();
    open_backends(o, bk, why);
    stdout_back(saved);
    for (int64_t u = 0; u < e->nunits && !interrupted && !stop_early; u++) {
        kvv_verdict v;
        kvv_record rec = {0};
        int saved = stdout_aside();
        run_unit(o, e->io, bk, why, u, &v, &rec);
        stdout_back(saved);
        if (!wants_record(e->io, &v))
            kvv_record_free(&rec);
        record(e, u, &v, &rec);
        emit_ready(e);
    }
    kvv_guard_pages(0);
}

int kvv_run(const kvv_run_opts *o, kvv_summary *s) { return kvv_run_with_io(o, NULL, s); }

int kvv_run_with_io(const kvv_run_opts *o, const kvv_run_io_opts *io, kvv_summary *s)
{
    static const kvv_run_io_opts no_io;
    if (!io)
        io = &no_io;
    if (o->nbackends < 1 || o->nbackends > KVV_MAX_BACKENDS)
        return -1;
    memset(s, 0, sizeof *s);
    s->nbackends = o->nbackends;
    emit_t e = {o, s, NULL, NULL, 0, (int64_t)o->ncases * o->nbackends, 0, io, NULL, 0};
    e.res = calloc((size_t)(e.nunits ? e.nunits : 1), sizeof *e.res);
    e.done = calloc((size_t)(e.nunits ? e.nunits : 1), 1);
    if (io->dump)
        e.recs = calloc((size_t)(e.nunits ? e.nunits : 1), sizeof *e.recs);
    if (!e.res || !e.done || (io->dump && !e.recs)) {
        free(e.res);
        free(e.done);
        free(e.recs);
        return -1;
    }
    interrupted = 0;
    stop_early = 0;
    struct sigaction sa, old, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    sigaction(SIGTERM, &sa, &old_term); /* what CI cancellation sends: ends the run as Ctrl-C does */
    double t0 = mono();
    for (int r = 0; r < o->nreporters; r++)
        o->reporters[r]->begin(o->reporters[r], o->info);
    if (o->jobs > 0)
        run_isolated(o, &e);
    else
        run_inline(o, &e);
    emit_ready(&e);
    s->interrupted = e.emitted < e.nunits && !stop_early;
    s->stopped_early = stop_early;
    emit_rest(&e);
    s->seconds = mono() - t0;
    for (int r = 0; r < o->nreporters; r++)
        o->reporters[r]->end(o->reporters[r], s);
    sigaction(SIGINT, &old, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    for (int64_t u = 0; e.recs && u < e.nunits; u++)
        kvv_record_free(&e.recs[u]);
    free(e.recs);
    free(e.res);
    free(e.done);
    return (int)(e.failures > 0x7fffffff ? 0x7fffffff : e.failures);
}
