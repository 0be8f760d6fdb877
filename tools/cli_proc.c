/* Child processes for the tool's drivers (bisect): run a program with its
 * output sent to a file descriptor, captured, or filtered line by line.
 *
 * A driver that must clean up after SIGINT or SIGTERM (bisect removes its
 * temporary clone) calls cli_proc_catch_signals(1): each child then runs
 * in its own process group, and a signal that reaches the driver (Ctrl-C
 * in a terminal, CI's SIGTERM to the job's main process) is passed on to
 * the running child's whole group (a git that runs a build that runs a
 * test), which ends; the driver sees cli_proc_caught() and stops. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/cli.h"

static volatile sig_atomic_t catching, caught, child_group;

static void on_signal(int sig)
{
    if (!caught)
        caught = sig;
    pid_t g = child_group;
    if (g > 0)
        kill(-g, sig);
}

void cli_proc_catch_signals(int on)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on ? on_signal : SIG_DFL;
    sa.sa_flags = SA_RESTART; /* reads of a child's output go on to its end */
    catching = on;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_proc_caught(void) { return caught; }

/* In the parent, right after fork: the child's own group, where a signal
 * caught from now on (or already) goes. */
static void track(pid_t pid)
{
    if (!catching)
        return;
    setpgid(pid, pid); /* also in the child: whichever runs first */
    child_group = pid;
    if (caught)
        kill(-pid, caught);
}

/* In the child, right after fork. */
static void own_group(void)
{
    if (catching) {
        setpgid(0, 0);
        signal(SIGTERM, SIG_DFL);
    }
}

static int wait_status(pid_t pid)
{
    int st = 0;
    if (catching) {
        /* once the child is done (not yet reaped: its group id stays its
         * own), an interrupted group's leftovers (a shell's background job
         * ignores SIGINT) are killed */
        siginfo_t si;
        while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
            ;
        if (caught)
            kill(-pid, SIGKILL);
    }
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            child_group = 0;
            return -1;
        }
    child_group = 0;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* In the child: output to out_fd (both streams), no stdin, default SIGINT
 * (the parent may ignore it while it waits). */
static void child_exec(char *const argv[], int out_fd)
{
    signal(SIGINT, SIG_DFL);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, 0);
        close(devnull);
    }
    if (out_fd >= 0) {
        dup2(out_fd, 1);
        dup2(out_fd, 2);
        if (out_fd > 2)
            close(out_fd);
    }
    execvp(argv[0], argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

int cli_proc_run(char *const argv[], int out_fd)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        own_group();
        child_exec(argv, out_fd);
    }
    track(pid);
    return wait_status(pid);
}

/* Start argv with its stdout (and with both_streams its stderr too, and no
 * stdin: child_exec) on a pipe; *rfd is the read end.  Without
 * both_streams, stderr goes to /dev/null.  Returns the pid, or -1. */
static pid_t start_piped(char *const argv[], int both_streams, int *rfd)
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
        own_group();
        close(p[0]);
        if (both_streams)
            child_exec(argv, p[1]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 2);
            close(devnull);
        }
        dup2(p[1], 1);
        close(p[1]);
        signal(SIGINT, SIG_DFL);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    track(pid);
    *rfd = p[0];
    return pid;
}

int cli_proc_capture(char *const argv[], char *buf, size_t n)
{
    int rfd;
    pid_t pid = n ? start_piped(argv, 0, &rfd) : -1;
    if (pid < 0)
        return -1;
    size_t have = 0;
    char sink[256];
    for (;;) {
        ssize_t r = have + 1 < n ? read(rfd, buf + have, n - 1 - have) : read(rfd, sink, sizeof sink);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (have + 1 < n)
            have += (size_t)r;
    }
    close(rfd);
    buf[have] = 0;
    while (have && (buf[have - 1] == '\n' || buf[have - 1] == '\r' || buf[have - 1] == ' '))
        buf[--have] = 0;
    return wait_status(pid);
}

int cli_proc_filter(char *const argv[], FILE *log, const char *prefix, FILE *out)
{
    int rfd;
    pid_t pid = start_piped(argv, 1, &rfd);
    if (pid < 0)
        return -1;
    FILE *in = fdopen(rfd, "r");
    if (!in) {
        close(rfd);
        return wait_status(pid);
    }
    char line[4096];
    size_t plen = strlen(prefix);
    while (fgets(line, sizeof line, in)) {
        if (log)
            fputs(line, log);
        if (out && !strncmp(line, prefix, plen)) {
            fputs(line, out);
            fflush(out);
        }
    }
    fclose(in);
    if (log)
        fflush(log);
    return wait_status(pid);
}
