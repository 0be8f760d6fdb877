/* Forking a child that answers on a pipe: what the oracle's workers, its
 * throwaway children (opening a backend, asking its formats, a ppl pair),
 * the dump check and the program runner of proc/exec.c have in common. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/proc.h"

pid_t kvv_proc_fork_pipe(int *fd, int flags)
{
    int p[2];
    if (pipe(p))
        return -1;
    fflush(NULL);
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        if (flags & KVV_PROC_DIE_WITH_PARENT) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(1);
        }
        *fd = p[1];
        return 0;
    }
    close(p[1]);
    *fd = p[0];
    return pid;
}

void kvv_proc_write_all(int fd, const void *buf, size_t n)
{
    for (const char *p = buf; n;) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(3);
        p += w;
        n -= (size_t)w;
    }
}

int kvv_proc_reap(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return st;
}
