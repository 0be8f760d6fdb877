/* Running the built kvverify from a test: in the foreground with its output
 * captured (a time limit turns a run that should not have started into a
 * quick failure), or in the background in its own process group, to be
 * watched through the files it writes and stopped with a signal. */
#ifndef KVV_TESTS_CLI_EXEC_H
#define KVV_TESTS_CLI_EXEC_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline const char *cli_build_dir(void)
{
    const char *b = getenv("KVV_BUILD_DIR");
    return b && *b ? b : "build";
}

static inline const char *cli_exe(void)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/kvverify", cli_build_dir());
    return path;
}

/* A hostile test plugin (tests/plugins/hostile.cmake): segv, abort or hang. */
static inline const char *cli_plugin(const char *kind)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/tests/plugins/libhostile_%s.so", cli_build_dir(), kind);
    return path;
}

static inline double cli_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline int cli_status(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* `kvverify ARGS` (shell syntax) with at most limit seconds; its exit
 * status (124 when it ran out of time), stdout and stderr in out. */
static inline int cli_run_limit(double limit, const char *args, char *out, size_t n)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "timeout -s KILL %g %s %s 2>&1", limit, cli_exe(), args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t len = fread(out, 1, n - 1, p);
    out[len] = 0;
    int st = cli_status(pclose(p));
    return st == 128 + SIGKILL ? 124 : st;
}

static inline int cli_run(const char *args, char *out, size_t n) { return cli_run_limit(60, args, out, n); }

/* Start `kvverify ARGS` (shell syntax, exec'ed by sh) in a new process
 * group, output into log; its pid (also the group's id). */
static inline pid_t cli_start(const char *args, const char *log)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "exec %s %s >%s 2>&1", cli_exe(), args, log);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        setpgid(pid, pid); /* also here, so that a signal to the group right away finds it */
    return pid;
}

/* Wait for a started run; its exit status, or 124 (and the group killed)
 * after limit seconds. */
static inline int cli_wait(pid_t pid, double limit)
{
    double t0 = cli_mono();
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return cli_status(st);
        if (r < 0)
            return -1;
        if (cli_mono() - t0 > limit) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            return 124;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Whether the file holds text, within limit seconds. */
static inline int cli_wait_for_text(const char *path, const char *text, double limit)
{
    double t0 = cli_mono();
    static char buf[1 << 16];
    while (cli_mono() - t0 < limit) {
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            buf[n] = 0;
            fclose(f);
            if (strstr(buf, text))
                return 1;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* The whole of a small file into buf ("" when it cannot be read). */
static inline const char *cli_slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    size_t k = f ? fread(buf, 1, n - 1, f) : 0;
    buf[k] = 0;
    if (f)
        fclose(f);
    return buf;
}

#endif
