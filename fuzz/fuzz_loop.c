/* `kvverify fuzz`: random cases through the isolated runner, failures
 * shrunk and stored as replayable case files (fuzz/fuzz_loop.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gen/gen.h"
#include "fuzz/shrink.h"
#include "fuzz/fuzz_loop.h"
#include "oracle/run.h"
#include "oracle/verdict.h"

#define BATCH_PER_JOB 8
#define MAX_SIGNATURES 256

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- running a list of cases and keeping the verdicts ---- */

typedef struct {
    const kvv_case *cases;
    kvv_verdict *out;
} collect_t;

static void c_begin(kvv_reporter *r, const kvv_run_info *i)
{
    (void)r;
    (void)i;
}
static void c_result(kvv_reporter *r, const kvv_case *c, const char *name, int b, const kvv_verdict *v)
{
    (void)name;
    (void)b;
    collect_t *s = r->state;
    s->out[c - s->cases] = *v;
}
static void c_end(kvv_reporter *r, const kvv_summary *s)
{
    (void)r;
    (void)s;
}

/* SIGINT or SIGTERM ends a fuzz run as it ends a run: while a batch runs,
 * the runner's own handler stops it; between batches (and shrink steps)
 * this one notes it, and the loop stops at the next check. */
static volatile sig_atomic_t fuzz_stop;
static void on_stop(int sig)
{
    (void)sig;
    fuzz_stop = 1;
}

typedef struct {
    struct sigaction intr, term;
} saved_handlers;

static void catch_stop(saved_handlers *old)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    fuzz_stop = 0;
    sigaction(SIGINT, &sa, &old->intr);
    sigaction(SIGTERM, &sa, &old->term);
}

static void release_stop(const saved_handlers *old)
{
    sigaction(SIGINT, &old->intr, NULL);
    sigaction(SIGTERM, &old->term, NULL);
}

/* Verdicts of n cases on the backend, each in an isolated worker; -1 when
 * the run could not start, -2 when it was (or had been) interrupted. */
static int run_cases(const kvv_fuzz_opts *o, const kvv_case *cases, int n, int jobs, kvv_verdict *out)
{
    if (fuzz_stop)
        return -2;
    for (int i = 0; i < n; i++) {
        kvv_verdict_init(&out[i]);
        out[i].status = KVV_SKIP;
        snprintf(out[i].detail, sizeof out[i].detail, "not run");
    }
    collect_t col = {cases, out};
    kvv_reporter rep = {c_begin, c_result, c_end, NULL, NULL, NULL, &col};
    kvv_reporter *reps[1] = {&rep};
    const char *names[1] = {o->backend_name};
    const kvv_backend *tables[1] = {o->backend};
    kvv_run_info info = {KVV_VERSION, KVV_GIT_COMMIT, "", "", "kvverify fuzz", 1, {o->backend_name}, n, o->seed};
    kvv_run_opts ro = {.backend_names = names, .nbackends = 1, .backends = o->backend ? tables : NULL, .cases = cases,
                       .ncases = n, .reporters = reps, .nreporters = 1, .jobs = jobs, .timeout = o->timeout,
                       .info = &info, .guard = o->guard};
    kvv_summary s;
    if (kvv_run(&ro, &s) < 0)
        return -1;
    if (s.interrupted || fuzz_stop) {
        fuzz_stop = 1;
        return -2;
    }
    return 0;
}

/* ---- what "the same failure" means while shrinking ---- */

/* The head of a message (up to its first ':' or '(', where the values and
 * hex dumps start) with every number (digits, a sign, a point, an exponent)
 * as '#' and "-nan" as "nan". */
static void number_free(const char *in, char *out, size_t n)
{
    size_t o = 0;
    const char *end = in + strcspn(in, ":(");
    for (const char *p = in; p < end && o + 1 < n;) {
        if (!strncmp(p, "-nan", 4)) {
            p++;
            continue;
        }
        int num = (*p >= '0' && *p <= '9') || ((*p == '-' || *p == '+' || *p == '.') && p[1] >= '0' && p[1] <= '9');
        if (!num) {
            out[o++] = *p++;
            continue;
        }
        out[o++] = '#';
        p++;
        while (p < end && ((*p >= '0' && *p <= '9') || *p == '.' ||
                           ((*p == 'e' || *p == 'E') && (p[1] == '-' || p[1] == '+' || (p[1] >= '0' && p[1] <= '9'))) ||
                           ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E'))))
            p++;
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = 0;
}

/* A crash verdict's kind: how the process ended (the signal, the exit
 * status, a hang) or what the backend did (wrote past which buffer in which
 * call, failed with which status in which call); the numbers that change
 * with the shape (bytes past, buffer sizes, seconds) are left out. */
static void crash_signature(const char *d, char *out, size_t n)
{
    int num;
    const char *p;
    if (!strncmp(d, "hung", 4)) {
        snprintf(out, n, "hung");
    } else if (sscanf(d, "crashed: killed by signal %d", &num) == 1) {
        /* a guard page names the buffer it guards */
        const char *g = strstr(d, "): backend ");
        char what[128] = "";
        if (g) {
            g += 3;
            size_t len = strcspn(g, "(");
            snprintf(what, sizeof what, " %.*s", (int)len, g);
        }
        snprintf(out, n, "signal %d%s", num, what);
    } else if (sscanf(d, "crashed: the worker exited with status %d", &num) == 1) {
        snprintf(out, n, "exit %d", num);
    } else if ((p = strstr(d, ": backend wrote "))) {
        const char *past = strstr(p, " past "), *before = strstr(p, " before the start of ");
        const char *what = past ? past + 6 : before ? before + 21 : "";
        snprintf(out, n, "%.*s: wrote %s %.*s", (int)(p - d), d, past ? "past" : "before", (int)strcspn(what, "("),
                 what);
    } else if ((p = strstr(d, ": backend failed (status ")) && sscanf(p, ": backend failed (status %d", &num) == 1) {
        snprintf(out, n, "%.*s: failed %d", (int)(p - d), d, num);
    } else {
        number_free(d, out, n);
    }
}

void kvv_failure_signature(const kvv_verdict *v, char *buf, size_t n)
{
    char cls[480];
    if (v->status != KVV_FAIL) {
        snprintf(buf, n, "%s", kvv_status_name(v->status));
        return;
    }
    if (v->rule == KVV_RULE_CRASH)
        crash_signature(v->detail, cls, sizeof cls);
    else
        number_free(v->detail, cls, sizeof cls);
    snprintf(buf, n, "%s: %s", kvv_rule_name(v->rule), cls);
}

static int same_failure(const kvv_verdict *a, const kvv_verdict *b)
{
    if (a->status != KVV_FAIL || b->status != KVV_FAIL || a->rule != b->rule)
        return 0;
    char sa[512], sb[512];
    kvv_failure_signature(a, sa, sizeof sa);
    kvv_failure_signature(b, sb, sizeof sb);
    return !strcmp(sa, sb);
}

typedef struct {
    const kvv_fuzz_opts *o;
    kvv_verdict want;
    int interrupted;
    double deadline; /* past it every candidate counts as not failing */
} pred_t;

static int still_fails(const kvv_case *c, void *arg)
{
    pred_t *p = arg;
    kvv_verdict v;
    if (mono() > p->deadline)
        return 0;
    if (p->interrupted || run_cases(p->o, c, 1, 1, &v)) {
        p->interrupted = 1;
        return 0;
    }
    return same_failure(&v, &p->want);
}

/* ---- case files ---- */

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* "libhostile_segv.so" -> "hostile_segv", "cpu" -> "cpu" */
static void backend_tag(const char *name, char *out, size_t n)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (!strncmp(base, "lib", 3) && base[3])
        base += 3;
    size_t len = strcspn(base, ".");
    if (len >= n)
        len = n - 1;
    for (size_t i = 0; i < len; i++) {
        char ch = base[i];
        out[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ? ch
                                                                                                               : '_';
    }
    out[len] = 0;
}

static int make_dirs(const char *path)
{
    char buf[512];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0777) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0777) && errno != EEXIST ? -1 : 0;
}

/* One line of text: newlines in a verdict detail would break the file. */
static void one_line(const char *in, char *out, size_t n)
{
    size_t i = 0;
    for (; in[i] && i + 1 < n; i++)
        out[i] = in[i] == '\n' || in[i] == '\r' ? ' ' : in[i];
    out[i] = 0;
}

/* Write the shrunk case; 1 when a file was written, 0 when it was already
 * there, -1 on error. */
static int write_case_file(const kvv_fuzz_opts *o, const char *orig, const char *shrunk, const kvv_case *c,
                           const kvv_verdict *v, const kvv_shrink_stats *ss, kvv_fuzz_stats *st)
{
    char tag[64], path[512], detail[sizeof v->detail];
    backend_tag(o->backend_name, tag, sizeof tag);
    if (make_dirs(o->out_dir))
        return -1;
    if (snprintf(path, sizeof path, "%s/%s-%s-%s-%08x.cases", o->out_dir, tag, kvv_op_name(c->op),
                 kvv_rule_name(v->rule), fnv1a(shrunk)) >= (int)sizeof path)
        return -1;
    snprintf(st->last_file, sizeof st->last_file, "%s", path);
    struct stat sb;
    if (stat(path, &sb) == 0)
        return 0;
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    one_line(v->detail, detail, sizeof detail);
    fprintf(f, "# kvverify fuzz: rule %s failed on backend %s: %s\n", kvv_rule_name(v->rule), o->backend_name, detail);
    fprintf(f, "# found as %s (fuzz seed %llu); shrunk in %d steps (%d candidates tried)\n", orig,
            (unsigned long long)o->seed, ss->accepted, ss->tried);
    fprintf(f, "%s\n", shrunk);
    return fclose(f) ? -1 : 1;
}

/* ---- the loop ---- */

typedef struct {
    kvv_op op;
    kvv_type k, v;
    char failure[256]; /* kvv_failure_signature */
} signature;

static int seen_signature(signature *sig, int *nsig, const kvv_case *c, const kvv_verdict *v)
{
    signature s = {c->op, c->type_k, c->op == KVV_OP_ATTN ? c->type_v : c->type_k, ""};
    kvv_failure_signature(v, s.failure, sizeof s.failure);
    for (int i = 0; i < *nsig; i++)
        if (sig[i].op == s.op && sig[i].k == s.k && sig[i].v == s.v && !strcmp(sig[i].failure, s.failure))
            return 1;
    if (*nsig < MAX_SIGNATURES)
        sig[(*nsig)++] = s;
    return 0;
}

/* Shrink one failure and store it; -1 when interrupted. */
static int shrink_and_store(const kvv_fuzz_opts *o, const kvv_case *failing, const kvv_verdict *v,
                            kvv_fuzz_stats *st)
{
    char orig[512], shrunk[512];
    kvv_case_name(failing, orig, sizeof orig);
    if (o->log)
        fprintf(o->log, "FAIL %s [%s] %s\n", orig, kvv_rule_name(v->rule), v->detail);
    pred_t p = {o, *v, 0, mono() + (o->shrink_seconds > 0 ? o->shrink_seconds : 120)};
    kvv_case c = *failing;
    kvv_shrink_stats ss;
    kvv_shrink(&c, still_fails, &p, o->shrink_tries > 0 ? o->shrink_tries : 200, &ss);
    if (p.interrupted)
        return -1;
    /* the verdict of the shrunk case itself, for the file's comment */
    kvv_verdict sv;
    if (run_cases(o, &c, 1, 1, &sv))
        return -1;
    if (!same_failure(&sv, v))
        sv = *v; /* flaky: keep the original failure's words */
    kvv_case_name(&c, shrunk, sizeof shrunk);
    st->finds++;
    int w = o->out_dir ? write_case_file(o, orig, shrunk, &c, &sv, &ss, st) : 0;
    if (w > 0)
        st->written++;
    if (o->log) {
        fprintf(o->log, "  shrunk in %d steps (%d candidates tried): %s\n", ss.accepted, ss.tried, shrunk);
        if (w > 0)
            fprintf(o->log, "  written to %s\n", st->last_file);
        else if (w == 0 && o->out_dir)
            fprintf(o->log, "  already stored in %s\n", st->last_file);
        else if (w < 0)
            fprintf(o->log, "  could not write a case file under %s\n", o->out_dir);
    }
    return 0;
}

int kvv_fuzz(const kvv_fuzz_opts *o, kvv_fuzz_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!o->backend_name || o->jobs < 1 || !(o->timeout > 0) || !(o->seconds >= 0))
        return -1;
    const int batch = BATCH_PER_JOB * o->jobs;
    kvv_case *cases = calloc((size_t)batch, sizeof *cases);
    kvv_verdict *verdicts = calloc((size_t)batch, sizeof *verdicts);
    signature *sig = calloc(MAX_SIGNATURES, sizeof *sig);
    if (!cases || !verdicts || !sig) {
        free(cases);
        free(verdicts);
        free(sig);
        return -1;
    }
    int nsig = 0, stop = 0, rc = 0;
    kvv_rng rng;
    kvv_rng_seed(&rng, o->seed, 0xf022);
    saved_handlers old;
    catch_stop(&old);
    double t0 = mono();
    while (!stop && !fuzz_stop && mono() - t0 < o->seconds) {
        for (int i = 0; i < batch; i++)
            kvv_gen_case(&rng, o->ops, &cases[i]);
        int r = run_cases(o, cases, batch, o->jobs, verdicts);
        if (r) {
            rc = r == -1 ? -1 : 0;
            break;
        }
        for (int i = 0; i < batch && !stop; i++) {
            st->cases++;
            st->pass += verdicts[i].status == KVV_PASS;
            st->skip += verdicts[i].status == KVV_SKIP;
            if (verdicts[i].status != KVV_FAIL)
                continue;
            st->fail++;
            if (seen_signature(sig, &nsig, &cases[i], &verdicts[i]))
                continue;
            if (shrink_and_store(o, &cases[i], &verdicts[i], st))
                stop = 1;
            else if (o->max_finds > 0 && st->finds >= o->max_finds)
                stop = 1;
        }
    }
    st->seconds = mono() - t0;
    st->interrupted = fuzz_stop;
    release_stop(&old);
    free(cases);
    free(verdicts);
    free(sig);
    return rc;
}

int kvv_fuzz_shrink_case(const kvv_fuzz_opts *o, const kvv_case *c, kvv_fuzz_stats *st)
{
    memset(st, 0, sizeof *st);
    if (!o->backend_name || !(o->timeout > 0))
        return -1;
    double t0 = mono();
    kvv_verdict v;
    saved_handlers old;
    catch_stop(&old);
    int rc = -1;
    if (run_cases(o, c, 1, 1, &v) == 0) {
        st->cases = 1;
        st->pass = v.status == KVV_PASS;
        st->skip = v.status == KVV_SKIP;
        st->fail = v.status == KVV_FAIL;
        rc = v.status != KVV_FAIL ? 0 : shrink_and_store(o, c, &v, st) ? -1 : 1;
    }
    st->seconds = mono() - t0;
    st->interrupted = fuzz_stop;
    release_stop(&old);
    return rc;
}
