/* Which format version each backend stores each cache type in, and the
 * generated case lists rewritten to those versions.
 *
 * A fork may store turbo3 as turbo3@qk128 and turbo4 as turbo4@narrow; the
 * gate's cases of turbo3 and turbo4 would all be declined there, so that
 * nothing of the fork's turbo code was checked.  Instead the run asks each
 * library backend (the optional stored_as entry), in a child process since a
 * library's code and threads belong in workers, and runs the cases in the
 * versions the backend has.  The case names then say what ran. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oracle/cases.h"
#include "oracle/formats.h"

#define ASK_TIMEOUT_S 300.0 /* a probe reads a few thousand blocks; a device may take its time to start */

typedef struct {
    int32_t as;
    char note[KVV_FORMAT_NOTE];
} ask_reply;

/* everything the child sends after its status */
typedef struct {
    ask_reply r[KVV_CACHE_TYPE_COUNT];
    char description[1024];
} ask_answer;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* In the child: open the backend, ask for every cache type, write the
 * replies (or an error line) to fd. */
static void ask_in_child(const char *name, int fd)
{
    /* a backend may print: keep it off kvverify's standard output */
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
        dup2(devnull, STDOUT_FILENO);
        close(devnull);
    }
    char why[512] = "";
    const kvv_backend *b = kvv_backend_open(name, why, sizeof why);
    int32_t status = b ? 0 : -1;
    static ask_answer ans;
    ask_reply *r = ans.r;
    memset(&ans, 0, sizeof ans);
    if (b)
        snprintf(ans.description, sizeof ans.description, "%s", b->description ? b->description : "");
    for (int i = 0; i < KVV_CACHE_TYPE_COUNT; i++) {
        r[i].as = kvv_cache_types[i];
        if (b && KVV_BACKEND_HAS(b, stored_as) && b->stored_as)
            r[i].as = b->stored_as(b->ctx, kvv_cache_types[i], r[i].note, sizeof r[i].note);
        else if (b)
            status = 1; /* no opinion: every row as it is */
        r[i].note[sizeof r[i].note - 1] = 0;
    }
    if (write(fd, &status, sizeof status) != (ssize_t)sizeof status)
        _exit(1);
    if (status < 0) {
        if (write(fd, why, sizeof why) < 0)
            _exit(1);
        _exit(0);
    }
    const char *p = (const char *)&ans;
    size_t left = sizeof ans;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w <= 0)
            _exit(1);
        p += w;
        left -= (size_t)w;
    }
    _exit(0);
}

/* Read exactly n bytes before the deadline; 0, or -1 (eof, error, late). */
static int read_all(int fd, void *buf, size_t n, double deadline)
{
    char *p = buf;
    while (n) {
        double left = deadline - now_s();
        if (left <= 0)
            return -1;
        struct pollfd pf = {fd, POLLIN, 0};
        int pr = poll(&pf, 1, (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return -1;
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Ask one backend; 1 when it has an opinion, 0 when it has none (built in,
 * or no stored_as), -1 when it could not be asked (why says why). */
static int ask_one(const char *name, ask_answer *r, char *why, size_t n)
{
    int fds[2];
    if (pipe(fds)) {
        snprintf(why, n, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, n, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        ask_in_child(name, fds[1]);
    }
    close(fds[1]);
    double deadline = now_s() + ASK_TIMEOUT_S;
    int32_t status = -2;
    int rc = -1;
    if (read_all(fds[0], &status, sizeof status, deadline) == 0) {
        if (status < 0) {
            char msg[512];
            if (read_all(fds[0], msg, sizeof msg, deadline) == 0)
                snprintf(why, n, "%.*s", (int)sizeof msg - 1, msg);
            else
                snprintf(why, n, "it could not be opened");
        } else if (read_all(fds[0], r, sizeof *r, deadline) == 0) {
            rc = status == 0 ? 1 : 0;
        }
    }
    close(fds[0]);
    int ws = 0;
    if (rc < 0 && status != -1 && now_s() >= deadline)
        kill(pid, SIGKILL);
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    if (rc < 0 && status != -1) {
        if (WIFSIGNALED(ws))
            snprintf(why, n, "it crashed (signal %d, %s) while asked for its formats", WTERMSIG(ws),
                     strsignal(WTERMSIG(ws)));
        else
            snprintf(why, n, "it gave no answer within %.0f s", ASK_TIMEOUT_S);
    }
    return rc;
}

void kvv_format_map_init(kvv_format_map *m)
{
    memset(m, 0, sizeof *m);
    for (int t = 0; t < KVV_TYPE_COUNT; t++)
        m->as[t] = (kvv_type)t;
}

int kvv_formats_ask(const char *const *names, int n, kvv_format_map *m, FILE *log, char *why, size_t why_len)
{
    kvv_format_map_init(m);
    for (int b = 0; b < n; b++) {
        if (kvv_backend_is_builtin(names[b]))
            continue; /* the built-in backends have every row */
        static ask_answer ans;
        ask_reply *r = ans.r;
        char err[512] = "";
        int rc = ask_one(names[b], &ans, err, sizeof err);
        if (rc < 0) {
            if (log)
                fprintf(log, "kvverify: %s: %s; the cases run in the listed format versions\n", names[b], err);
            continue;
        }
        if (rc == 0)
            continue;
        for (int i = 0; i < KVV_CACHE_TYPE_COUNT; i++) {
            kvv_type c = kvv_cache_types[i], as = (kvv_type)r[i].as;
            const kvv_type_info *ti = kvv_type_get(as);
            if (as == KVV_TYPE_NONE || as == c || !ti || strcmp(ti->cache, kvv_type_get(c)->cache))
                continue; /* none, the same, or an answer that is not a version of c */
            if (m->as[c] != c && m->as[c] != as) {
                snprintf(why, why_len, "%s stores %s as %s, but %s stores it as %s: run them separately", names[b],
                         kvv_type_name(c), kvv_type_name(as), m->who[c], kvv_type_name(m->as[c]));
                return -1;
            }
            /* every row of the cache type runs as the stored one: the
             * gate's cases of the other versions check it too */
            for (int u = 0; u < KVV_TYPE_COUNT; u++)
                if (!strcmp(kvv_type_get((kvv_type)u)->cache, ti->cache) && kvv_type_get((kvv_type)u)->rotated) {
                    m->as[u] = as;
                    snprintf(m->who[u], sizeof m->who[u], "%s", names[b]);
                    snprintf(m->note[u], sizeof m->note[u], "%s", r[i].note);
                }
        }
    }
    return 0;
}

int kvv_formats_rewrite(const kvv_format_map *m, kvv_case_list *l, int *dropped)
{
    int out = 0, drop = 0;
    for (int i = 0; i < l->n; i++) {
        kvv_case c = l->items[i];
        c.type_k = m->as[c.type_k];
        c.type_v = m->as[c.type_v];
        char err[8];
        if (kvv_case_validate(&c, err, sizeof err)) {
            drop++; /* a shape the stored version cannot hold (turbo3@qk128 at head dim 64) */
            continue;
        }
        l->items[out++] = c;
    }
    l->n = out;
    if (dropped)
        *dropped = drop;
    return 0;
}

int kvv_format_map_changes(const kvv_format_map *m)
{
    int n = 0;
    for (int t = 0; t < KVV_TYPE_COUNT; t++)
        n += m->as[t] != (kvv_type)t;
    return n;
}

int kvv_formats_report(const char *name, FILE *out)
{
    if (kvv_backend_is_builtin(name)) {
        fprintf(out, "%s: built in; stores every row of the type table (kvverify list types)\n", name);
        return 0;
    }
    static ask_answer ans;
    char err[512] = "";
    int rc = ask_one(name, &ans, err, sizeof err);
    if (rc < 0) {
        fprintf(out, "%s: %s\n", name, err);
        return -1;
    }
    ans.description[sizeof ans.description - 1] = 0;
    fprintf(out, "%s: %s\n", name, ans.description);
    if (rc == 0) {
        fprintf(out, "  (the library does not say which format versions it stores: every row runs as listed)\n");
        return 0;
    }
    for (int i = 0; i < KVV_CACHE_TYPE_COUNT; i++) {
        kvv_type c = kvv_cache_types[i], as = (kvv_type)ans.r[i].as;
        ans.r[i].note[sizeof ans.r[i].note - 1] = 0;
        fprintf(out, "  %-8s %-16s %s\n", kvv_type_name(c), as == KVV_TYPE_NONE ? "-" : kvv_type_name(as),
                ans.r[i].note);
    }
    return 0;
}
