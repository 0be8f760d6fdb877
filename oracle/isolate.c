/* One piece of work in a throwaway child process, for the callers that
 * touch a backend outside the runner's workers: opening a backend to see
 * that it can be opened, and the model runs of `kvverify ppl`.  A backend
 * is untrusted code: it may crash, hang, or print to stdout, and none of
 * that may reach the tool (its stdout may be a JSON stream). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oracle/isolate.h"

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static volatile sig_atomic_t *stop_flag;

void kvv_isolate_stop_on(volatile sig_atomic_t *flag) { stop_flag = flag; }

void kvv_stdout_to_stderr(void)
{
    fflush(stdout);
    dup2(STDERR_FILENO, STDOUT_FILENO);
}

ssize_t kvv_isolate(void (*fn)(void *arg, int fd), void *arg, void *buf, size_t n, double seconds, char *why,
                    size_t why_len)
{
    int p[2];
    if (pipe(p)) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        snprintf(why, why_len, "fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        /* it does not outlive the tool (one hanging in a backend would stay) */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        close(p[0]);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        kvv_stdout_to_stderr();
        fn(arg, p[1]);
        close(p[1]);
        _exit(0);
    }
    close(p[1]);
    const double deadline = mono() + seconds;
    size_t have = 0;
    int hung = 0, stopped = 0;
    char sink[4096];
    for (;;) {
        if (stop_flag && *stop_flag) {
            stopped = 1;
            break;
        }
        double left = deadline - mono();
        if (left <= 0) {
            hung = 1;
            break;
        }
        struct pollfd pf = {p[0], POLLIN, 0};
        int pr = poll(&pf, 1, (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            break;
        if (pr == 0)
            continue;
        ssize_t r = have < n ? read(p[0], (char *)buf + have, n - have) : read(p[0], sink, sizeof sink);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (have < n)
            have += (size_t)r;
    }
    close(p[0]);
    if (hung || stopped)
        kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (stopped) {
        snprintf(why, why_len, "interrupted: the process was stopped");
        return -1;
    }
    if (hung) {
        snprintf(why, why_len, "hung: no answer within %.3g s; the process was killed", seconds);
        return -1;
    }
    if (WIFSIGNALED(st)) {
        snprintf(why, why_len, "crashed: killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
        return -1;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(why, why_len, "crashed: the process exited with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return -1;
    }
    return (ssize_t)have;
}

/* ---- opening a backend once, up front ---- */

static void open_in_child(void *arg, int fd)
{
    char why[600] = "";
    const kvv_backend *b = kvv_backend_open(arg, why, sizeof why);
    if (b && b->destroy)
        b->destroy(b->ctx);
    const char *msg = b ? "" : *why ? why : "it could not be opened (no reason given)";
    size_t len = strlen(msg) + 1;
    const char *p = msg;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w <= 0)
            _exit(3);
        p += w;
        len -= (size_t)w;
    }
}

int kvv_backend_try_open(const char *name, double seconds, char *why, size_t n)
{
    if (kvv_backend_check_name(name, why, n))
        return -1;
    if (!strcmp(name, "cpu"))
        return 0; /* built in, nothing to load */
    char msg[640];
    memset(msg, 0, sizeof msg);
    ssize_t got = kvv_isolate(open_in_child, (void *)name, msg, sizeof msg - 1, seconds, why, n);
    if (got < 0) {
        /* "crashed: ..." / "hung: ..." while it was being opened */
        char what[400];
        snprintf(what, sizeof what, "%s", why);
        snprintf(why, n, "opening it %s", what);
        return -1;
    }
    if (got == 0) {
        snprintf(why, n, "opening it gave no answer");
        return -1;
    }
    if (msg[0]) {
        snprintf(why, n, "%s", msg);
        return -1;
    }
    return 0;
}
