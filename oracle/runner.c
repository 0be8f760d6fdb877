/* The run loop: (case, backend) units spread over isolated worker
 * processes, verdicts streamed to the reporters in case order.
 *
 * Worker j runs the units j, j + jobs, j + 2 jobs, ... and writes one
 * fixed-size message per unit to its pipe.  When a worker dies or stays
 * silent past the timeout, the unit it was on gets a crash verdict that
 * names it, a new worker starts at the following unit, and the run goes on.
 * Results already computed are kept whatever happens (a SIGINT stops the
 * run early but still reports them). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oracle/oracle.h"

typedef struct {
    int64_t unit;
    kvv_verdict v;
} unit_msg;

typedef struct {
    pid_t pid;
    int fd;
    int64_t next;     /* the unit it is working on */
    double deadline;  /* when that unit times out */
    size_t have;      /* bytes of a partial message */
    unit_msg buf;
} worker_t;

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

static void run_unit(const kvv_run_opts *o, const kvv_backend **bk, char (*why)[256], int64_t u, kvv_verdict *v)
{
    const kvv_case *c = &o->cases[u / o->nbackends];
    int b = (int)(u % o->nbackends);
    if (!bk[b]) {
        kvv_verdict_init(v);
        kvv_verdict_fail(v, KVV_RULE_CRASH, "backend %s cannot start: %s", o->backend_names[b], why[b]);
        return;
    }
    kvv_run_case(c, bk[b], v);
}

static void worker_main(const kvv_run_opts *o, int fd, int64_t start, int stride, int64_t nunits)
{
    signal(SIGINT, SIG_DFL);
    const kvv_backend *bk[KVV_MAX_BACKENDS];
    char why[KVV_MAX_BACKENDS][256];
    open_backends(o, bk, why);
    for (int64_t u = start; u < nunits; u += stride) {
        unit_msg m;
        memset(&m, 0, sizeof m);
        m.unit = u;
        run_unit(o, bk, why, u, &m.v);
        const char *p = (const char *)&m;
        size_t left = sizeof m;
        while (left) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                _exit(3);
            p += w;
            left -= (size_t)w;
        }
    }
    _exit(0);
}

static int spawn(const kvv_run_opts *o, worker_t *w, int64_t start, int stride, int64_t nunits)
{
    int p[2];
    if (pipe(p))
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        worker_main(o, p[1], start, stride, nunits);
    }
    close(p[1]);
    w->pid = pid;
    w->fd = p[0];
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
} emit_t;

static void emit_one(emit_t *e, int64_t u)
{
    {
        const kvv_case *c = &e->o->cases[u / e->o->nbackends];
        int b = (int)(u % e->o->nbackends);
        char name[512];
        kvv_case_name(c, name, sizeof name);
        kvv_summary_add(e->s, c->op, b, &e->res[u]);
        e->failures += e->res[u].status == KVV_FAIL;
        if (e->o->fail_fast && e->res[u].status == KVV_FAIL)
            stop_early = 1;
        for (int r = 0; r < e->o->nreporters; r++)
            e->o->reporters[r]->result(e->o->reporters[r], c, name, b, &e->res[u]);
    }
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

static void record(emit_t *e, int64_t u, const kvv_verdict *v)
{
    if (u < 0 || u >= e->nunits || e->done[u])
        return;
    e->res[u] = *v;
    e->done[u] = 1;
}

static void crash_verdict(kvv_verdict *v, int status, double timeout, int hung)
{
    kvv_verdict_init(v);
    if (hung)
        kvv_verdict_fail(v, KVV_RULE_CRASH, "hung: no result within %.0f s; the worker was killed", timeout);
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
        if (spawn(o, &w[j], j, jobs, e->nunits) == 0)
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
                ssize_t r = read(k->fd, (char *)&k->buf + k->have, sizeof k->buf - k->have);
                if (r > 0) {
                    k->have += (size_t)r;
                    if (k->have == sizeof k->buf) {
                        record(e, k->buf.unit, &k->buf.v);
                        k->have = 0;
                        k->next = k->buf.unit + jobs;
                        k->deadline = t + o->timeout;
                    }
                } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                    ended = 1;
                }
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
            while (waitpid(k->pid, &status, 0) < 0 && errno == EINTR)
                ;
            alive--;
            if (k->next < e->nunits) {
                /* the worker died on unit k->next: that unit fails, the
                 * next one of its sequence starts in a new worker */
                kvv_verdict v;
                crash_verdict(&v, status, o->timeout, hung);
                record(e, k->next, &v);
                int64_t resume = k->next + jobs;
                if (resume < e->nunits && !interrupted && !stop_early && spawn(o, k, resume, jobs, e->nunits) == 0)
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
        }
    free(w);
    free(pf);
    return 0;
}

static void run_inline(const kvv_run_opts *o, emit_t *e)
{
    const kvv_backend *bk[KVV_MAX_BACKENDS];
    char why[KVV_MAX_BACKENDS][256];
    open_backends(o, bk, why);
    for (int64_t u = 0; u < e->nunits && !interrupted && !stop_early; u++) {
        kvv_verdict v;
        run_unit(o, bk, why, u, &v);
        record(e, u, &v);
        emit_ready(e);
    }
}

int kvv_run(const kvv_run_opts *o, kvv_summary *s)
{
    if (o->nbackends < 1 || o->nbackends > KVV_MAX_BACKENDS)
        return -1;
    memset(s, 0, sizeof *s);
    s->nbackends = o->nbackends;
    emit_t e = {o, s, NULL, NULL, 0, (int64_t)o->ncases * o->nbackends, 0};
    e.res = calloc((size_t)(e.nunits ? e.nunits : 1), sizeof *e.res);
    e.done = calloc((size_t)(e.nunits ? e.nunits : 1), 1);
    if (!e.res || !e.done) {
        free(e.res);
        free(e.done);
        return -1;
    }
    interrupted = 0;
    stop_early = 0;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
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
    free(e.res);
    free(e.done);
    return (int)(e.failures > 0x7fffffff ? 0x7fffffff : e.failures);
}
