/* The bench's backends in a child process.
 *
 * `kvverify bench` times backends against each other, interleaving their
 * samples (bench/bench.c), so they run in one process, which cannot be
 * the tool's own: a backend is untrusted code that may print to stdout
 * (where the bench's lines, or its JSON, go) or crash.  The bench runs in a
 * child whose stdout is sent to stderr and which writes its lines to the
 * tool's output itself, line by line, so that every finished line is out
 * before a crash.  Each backend is called through a proxy table that notes,
 * in memory shared with the parent, which backend is in which entry point
 * with which arguments (a few stores, no formatting: the timings stay
 * those of the backend).  When the child dies inside a backend (a signal,
 * or an exit from the backend's code), the parent names that backend and
 * the call in a line of the output and on stderr, and runs the bench again
 * in a new child without it, until a run completes or no backend is left.
 * The lines already printed stay: they hold every figure measured before
 * the crash. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "oracle/isolate.h"

enum { E_SUPPORTS, E_QUANTIZE, E_DEQUANTIZE, E_WHT, E_ATTENTION, E_FLUSH, E_DESTROY, E_LAST_ERROR, E_STORED_AS };
static const char *const entry_name[] = {"supports", "quantize_rows", "dequantize_rows", "wht", "attention",
                                         "flush",    "destroy",       "last_error",      "stored_as"};

/* What the child is doing, where the parent can read it after the child died. */
typedef struct {
    volatile int in_call, backend, entry, done;
    volatile int type_k, type_v;
    volatile int64_t a, b, c, d, e, f;
} bench_slot;

typedef struct {
    kvv_backend table; /* what the bench calls */
    const kvv_backend *real;
    int index;
    bench_slot *slot;
} proxy;

static void enter(const proxy *p, int entry)
{
    p->slot->backend = p->index;
    p->slot->entry = entry;
    p->slot->in_call = 1;
}
static void leave(const proxy *p) { p->slot->in_call = 0; }
#define ARGS(ta, tb, x1, x2, x3, x4, x5, x6)                                                                      \
    (p->slot->type_k = (int)(ta), p->slot->type_v = (int)(tb), p->slot->a = (x1), p->slot->b = (x2),              \
     p->slot->c = (x3), p->slot->d = (x4), p->slot->e = (x5), p->slot->f = (x6))

static int px_supports(void *ctx, const kvv_case *c, char *why, size_t n)
{
    const proxy *p = ctx;
    ARGS(c->type_k, c->type_v, c->op, c->dk, 0, 0, 0, 0);
    enter(p, E_SUPPORTS);
    int rc = p->real->supports(p->real->ctx, c, why, n);
    leave(p);
    return rc;
}

static int px_quantize(void *ctx, kvv_type t, const float *src, void *dst, int64_t r, int64_t c, const kvv_toggles *tg)
{
    const proxy *p = ctx;
    ARGS(t, t, r, c, tg ? tg->threads : 0, 0, 0, 0);
    enter(p, E_QUANTIZE);
    int rc = p->real->quantize_rows(p->real->ctx, t, src, dst, r, c, tg);
    leave(p);
    return rc;
}

static int px_dequantize(void *ctx, kvv_type t, const void *src, float *dst, int64_t r, int64_t c,
                         const kvv_toggles *tg)
{
    const proxy *p = ctx;
    ARGS(t, t, r, c, tg ? tg->threads : 0, 0, 0, 0);
    enter(p, E_DEQUANTIZE);
    int rc = p->real->dequantize_rows(p->real->ctx, t, src, dst, r, c, tg);
    leave(p);
    return rc;
}

static int px_wht(void *ctx, float *x, int64_t r, int64_t c, int group, int inverse, const kvv_toggles *tg)
{
    const proxy *p = ctx;
    ARGS(0, 0, r, c, group, inverse, tg ? tg->threads : 0, 0);
    enter(p, E_WHT);
    int rc = p->real->wht(p->real->ctx, x, r, c, group, inverse, tg);
    leave(p);
    return rc;
}

static int px_attention(void *ctx, const kvv_attn_args *a, float *out, kvv_attn_info *info)
{
    const proxy *p = ctx;
    ARGS(a->type_k, a->type_v, a->dk, a->n_q, a->n_kv, a->n_head, a->n_head_kv, a->tg.threads);
    enter(p, E_ATTENTION);
    int rc = p->real->attention(p->real->ctx, a, out, info);
    leave(p);
    return rc;
}

static int px_flush(void *ctx)
{
    const proxy *p = ctx;
    enter(p, E_FLUSH);
    int rc = p->real->flush(p->real->ctx);
    leave(p);
    return rc;
}

static void px_destroy(void *ctx)
{
    const proxy *p = ctx;
    enter(p, E_DESTROY);
    p->real->destroy(p->real->ctx);
    leave(p);
}

static const char *px_last_error(void *ctx)
{
    const proxy *p = ctx;
    enter(p, E_LAST_ERROR);
    const char *s = p->real->last_error(p->real->ctx);
    leave(p);
    return s;
}

static kvv_type px_stored_as(void *ctx, kvv_type cache, char *note, size_t n)
{
    const proxy *p = ctx;
    ARGS(cache, cache, 0, 0, 0, 0, 0, 0);
    enter(p, E_STORED_AS);
    kvv_type t = p->real->stored_as(p->real->ctx, cache, note, n);
    leave(p);
    return t;
}

static void make_proxy(proxy *p, const kvv_backend *real, int index, bench_slot *slot)
{
    memset(p, 0, sizeof *p);
    p->real = real;
    p->index = index;
    p->slot = slot;
    kvv_backend *t = &p->table;
    t->abi_version = real->abi_version;
    t->struct_size = sizeof *t;
    t->name = real->name;
    t->description = real->description;
    t->ctx = p;
    t->supports = real->supports ? px_supports : NULL;
    t->quantize_rows = real->quantize_rows ? px_quantize : NULL;
    t->dequantize_rows = real->dequantize_rows ? px_dequantize : NULL;
    t->wht = real->wht ? px_wht : NULL;
    t->attention = real->attention ? px_attention : NULL;
    t->flush = real->flush ? px_flush : NULL;
    t->destroy = real->destroy ? px_destroy : NULL;
    t->last_error = real->last_error ? px_last_error : NULL;
    t->stored_as = KVV_BACKEND_HAS(real, stored_as) && real->stored_as ? px_stored_as : NULL;
}

/* The child: open the backends, run the body over their proxies, release
 * them.  Exits 0 when the body succeeded, 1 when it failed, 2 when a
 * backend could not be opened. */
static void child_main(FILE *out, const char *const *names, int nb, kvv_bench_body_fn body, void *arg, bench_slot *slot,
                       pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* the bench does not outlive the tool */
    if (getppid() != parent)
        _exit(1);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    int fd = dup(fileno(out));
    kvv_stdout_to_stderr(); /* what a backend prints */
    FILE *o = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!o)
        _exit(1);
    setvbuf(o, NULL, _IOLBF, 0); /* every finished line is out before a crash */
    static proxy px[KVV_MAX_BACKENDS];
    const kvv_backend *bk[KVV_MAX_BACKENDS];
    int opened = 0, rc = 0;
    for (; opened < nb; opened++) {
        char why[600];
        slot->backend = opened;
        slot->entry = -1;
        slot->in_call = 1; /* a crash while it opens is that backend's */
        const kvv_backend *b = kvv_backend_open(names[opened], why, sizeof why);
        slot->in_call = 0;
        if (!b) {
            fprintf(stderr, "kvverify bench: backend %s: %s\n", names[opened], why);
            rc = 2;
            break;
        }
        make_proxy(&px[opened], b, opened, slot);
        bk[opened] = &px[opened].table;
    }
    if (!rc)
        rc = body(o, bk, names, nb, arg) ? 1 : 0;
    for (int i = 0; i < opened; i++)
        if (bk[i]->destroy)
            bk[i]->destroy(bk[i]->ctx);
    fflush(o);
    slot->done = 1;
    _exit(rc);
}

static const char *type_text(int t)
{
    return t >= 0 && t < KVV_TYPE_COUNT ? kvv_type_name((kvv_type)t) : "?";
}

/* "attention(q8_0/q8_0, d128, nq 1, nkv 4096, heads 32/8, threads=1)" */
static void call_text(const bench_slot *s, char *buf, size_t n)
{
    switch (s->entry) {
    case -1: snprintf(buf, n, "while it was being opened"); break;
    case E_QUANTIZE:
    case E_DEQUANTIZE:
        snprintf(buf, n, "in %s(%s, %lld x %lld, threads=%lld)", entry_name[s->entry], type_text(s->type_k),
                 (long long)s->a, (long long)s->b, (long long)s->c);
        break;
    case E_WHT:
        snprintf(buf, n, "in wht(%lld x %lld, group %lld%s, threads=%lld)", (long long)s->a, (long long)s->b,
                 (long long)s->c, s->d ? ", inverse" : "", (long long)s->e);
        break;
    case E_ATTENTION:
        snprintf(buf, n, "in attention(%s/%s, d%lld, nq %lld, nkv %lld, heads %lld/%lld, threads=%lld)",
                 type_text(s->type_k), type_text(s->type_v), (long long)s->a, (long long)s->b, (long long)s->c,
                 (long long)s->d, (long long)s->e, (long long)s->f);
        break;
    default:
        snprintf(buf, n, "in %s", s->entry >= 0 && s->entry <= E_STORED_AS ? entry_name[s->entry] : "?");
    }
}

static void status_text(int st, char *buf, size_t n)
{
    if (WIFSIGNALED(st))
        snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(buf, n, "the process exited with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* A message in the bench's output (after a blank line when blank), and
 * on stderr when the output is elsewhere. */
static void say(FILE *out, int blank, const char *msg)
{
    fprintf(out, "%s%s\n", blank ? "\n" : "", msg);
    fflush(out);
    if (fileno(out) != STDERR_FILENO)
        fprintf(stderr, "kvverify bench: %s\n", msg);
}

/* SIGINT or SIGTERM while the bench runs: the child is stopped, the lines
 * finished stay, and the bench says so and returns 1 (README, Exit status). */
static volatile sig_atomic_t bench_stop, bench_child;
static void on_stop(int sig)
{
    if (!bench_stop)
        bench_stop = sig;
    if (bench_child > 0)
        kill(bench_child, SIGKILL);
}

int kvv_bench_isolated(FILE *out, const char *const *names_in, int nb, kvv_bench_body_fn body, void *arg)
{
    const char *names[KVV_MAX_BACKENDS];
    if (nb < 1 || nb > KVV_MAX_BACKENDS)
        return -1;
    memcpy(names, names_in, sizeof *names * (size_t)nb);
    bench_slot *slot = mmap(NULL, sizeof *slot, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (slot == MAP_FAILED) {
        fprintf(stderr, "kvverify bench: mmap: %s\n", strerror(errno));
        return -1;
    }
    int crashed = 0, rc = 0;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    bench_stop = 0;
    bench_child = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    for (;;) {
        memset(slot, 0, sizeof *slot);
        fflush(NULL);
        pid_t parent = getpid(), pid = fork();
        if (pid < 0) {
            fprintf(stderr, "kvverify bench: fork: %s\n", strerror(errno));
            rc = -1;
            break;
        }
        if (pid == 0)
            child_main(out, names, nb, body, arg, slot, parent);
        bench_child = pid;
        if (bench_stop) /* came before the child was known */
            kill(pid, SIGKILL);
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        bench_child = 0;
        if (bench_stop) {
            char msg[200];
            snprintf(msg, sizeof msg, "interrupted (%s): the lines above are those finished",
                     strsignal(bench_stop));
            say(out, 1, msg);
            rc = 1;
            break;
        }
        if (slot->done && WIFEXITED(st)) {
            rc = WEXITSTATUS(st) == 0 ? 0 : 1;
            break;
        }
        char how[160], call[300], msg[1600];
        status_text(st, how, sizeof how);
        if (!slot->in_call || slot->backend < 0 || slot->backend >= nb) {
            snprintf(msg, sizeof msg, "the bench itself died (%s), outside any backend; no further lines", how);
            say(out, 1, msg);
            rc = 1;
            break;
        }
        call_text(slot, call, sizeof call);
        const int b = slot->backend;
        snprintf(msg, sizeof msg, "backend %s crashed: %s %s; its lines end here", names[b], how, call);
        say(out, 1, msg);
        crashed++;
        for (int i = b; i + 1 < nb; i++)
            names[i] = names[i + 1];
        if (--nb == 0) {
            say(out, 0, "no backend left to bench");
            break;
        }
        int len = snprintf(msg, sizeof msg, "the bench runs again from the start without it, on ");
        for (int i = 0; i < nb && len < (int)sizeof msg; i++)
            len += snprintf(msg + len, sizeof msg - (size_t)len, "%s%s", i ? ", " : "", names[i]);
        say(out, 0, msg);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    munmap(slot, sizeof *slot);
    return rc < 0 ? rc : crashed || rc ? 1 : 0;
}
