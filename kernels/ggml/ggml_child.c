/* Asking ggml in a child process.  ggml's graph constructors check their
 * arguments with GGML_ASSERT, which aborts the process: whether a library
 * takes a node (the fork's WHT in some group, a flash attention with an
 * unpadded mask) is asked in a child that only builds it, so that a refusal
 * is an answer carrying ggml's own assertion text, not the end of the
 * adapter. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/ggml/ggml_adapter.h"

int gg_ask_child(gg_adapter *A, gg_child_fn fn, const void *arg, int *answer, char *msg, size_t n)
{
    int fds[2], ok = 0;
    char out[2048] = "";
    *answer = -1;
    if (n)
        *msg = 0;
    if (pipe(fds)) {
        snprintf(msg, n, "pipe: %s", strerror(errno));
        return 0;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        dup2(fds[1], STDOUT_FILENO);
        setenv("GGML_NO_BACKTRACE", "1", 1); /* ggml_abort would otherwise attach a debugger */
        alarm(20);
        int r = -1, built = fn(A, arg, &r);
        dprintf(fds[1], "\nok %d\n", r);
        _exit(built ? 0 : 1);
    }
    close(fds[1]);
    size_t have = 0;
    ssize_t r;
    while (pid > 0 && ((r = read(fds[0], out + have, sizeof out - 1 - have)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            have += (size_t)r;
    out[have] = 0;
    close(fds[0]);
    int st = 0;
    while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    const char *okl = strstr(out, "\nok ");
    ok = pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && okl && sscanf(okl, "\nok %d", answer) == 1;
    if (!ok) {
        /* ggml's message: the line with the assertion, else the first line */
        const char *a = strstr(out, "GGML_ASSERT");
        const char *s = a ? a : out;
        while (*s == '\n')
            s++;
        snprintf(msg, n, "%.*s", (int)strcspn(s, "\n"), s);
        if (!*msg)
            snprintf(msg, n, "%s", pid < 0 ? "could not fork" : pid > 0 && WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "no answer");
    }
    return ok;
}
