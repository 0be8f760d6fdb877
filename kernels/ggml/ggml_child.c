/* Asking ggml in a child process.  ggml's graph constructors check their
 * arguments with GGML_ASSERT, which aborts the process: whether a library
 * takes a node (the fork's WHT in some group, a flash attention with an
 * unpadded mask) is asked in a child that only builds it, so that a refusal
 * is an answer carrying ggml's own assertion text, not the end of the
 * adapter.  The questions about the WHT op are ggml_wht.c's; the mask's
 * padding is asked here. */
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

/* In the child: a flash attention node whose mask has *arg rows for one query. */
static int fa_with_mask_rows(gg_adapter *A, const void *arg, int *answer)
{
    const int rows = *(const int *)arg;
    gg_init_params p = {A->api.tensor_overhead() * 8, NULL, true};
    ggml_context *ctx = A->api.init(p);
    ggml_tensor *q = ctx ? A->api.new_tensor_3d(ctx, GG_TYPE_F32, 64, 1, 1) : NULL;
    ggml_tensor *k = q ? A->api.new_tensor_3d(ctx, GG_TYPE_F16, 64, 1, 1) : NULL;
    ggml_tensor *v = k ? A->api.new_tensor_3d(ctx, GG_TYPE_F16, 64, 1, 1) : NULL;
    ggml_tensor *m = v ? A->api.new_tensor_3d(ctx, GG_TYPE_F16, 1, rows, 1) : NULL;
    *answer = rows;
    return m && A->api.flash_attn_ext(ctx, q, k, v, m, 1.0f, 0.0f, 0.0f) != NULL;
}

/* The mask's rows are n_q padded to a multiple of this.  ggml up to
 * December 2025 asserted a mask of at least GGML_PAD(n_q, GGML_KQ_MASK_PAD)
 * rows (GGML_KQ_MASK_PAD 32, later 64), which llama.cpp filled with -inf;
 * later ggml takes n_q rows.  Which one a library is, is asked once in a
 * child (the assertion aborts). */
int gg_mask_pad(gg_adapter *A, char *why, size_t n)
{
    if (!A->mask_pad) {
        int ans, one = 1, pad = 64;
        char msg[300];
        if (gg_ask_child(A, fa_with_mask_rows, &one, &ans, msg, sizeof msg))
            A->mask_pad = 1;
        else if (gg_ask_child(A, fa_with_mask_rows, &pad, &ans, A->mask_why, sizeof A->mask_why))
            A->mask_pad = pad;
        else
            A->mask_pad = -1;
    }
    if (A->mask_pad < 0)
        snprintf(why, n, "ggml_flash_attn_ext takes a mask of neither 1 nor 64 rows for one query: %s", A->mask_why);
    return A->mask_pad;
}
