/* Child processes: the one place that forks (proc/fork.c) and runs other
 * programs (proc/exec.c), for the oracle's isolated workers and throwaway
 * children and for the drivers that run git, builds and kvverify itself
 * (bisect).  Plain POSIX; no other module of the project below it. */
#ifndef KVV_PROC_H
#define KVV_PROC_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- a child that answers on a pipe (proc/fork.c) ---- */
/* Make a pipe, flush stdio (nothing buffered is written twice) and fork.
 * In the child: returns 0 with *fd the pipe's write end (the read end
 * closed).  In the parent: returns the child's pid with *fd the read end
 * (the write end closed).  -1 (errno set, nothing left open) when the pipe
 * or the fork failed.  KVV_PROC_DIE_WITH_PARENT: the child is killed when
 * the parent dies (a child hanging in a backend would outlive a kill -9 of
 * the tool), and exits at once if the parent is already gone. */
enum { KVV_PROC_DIE_WITH_PARENT = 1 };
pid_t kvv_proc_fork_pipe(int *fd, int flags);
/* In a child: write all n bytes to fd (interrupted writes resumed), or
 * _exit(3) when the reader is gone. */
void kvv_proc_write_all(int fd, const void *buf, size_t n);
/* waitpid, resumed after EINTR: the raw wait status, or -1. */
int kvv_proc_reap(pid_t pid);

/* ---- other programs (proc/exec.c) ----
 * Each returns the exit status, 128 + the signal when one killed it, or -1
 * when it could not start.
 * run: output (stdout and stderr) to out_fd, or inherited when out_fd < 0.
 * capture: stdout into buf, trailing newlines removed; stderr dropped.
 * filter: every output line to log (may be NULL), and those that start with
 * prefix to out as they come. */
int kvv_proc_run(char *const argv[], int out_fd);
int kvv_proc_capture(char *const argv[], char *buf, size_t n);
int kvv_proc_filter(char *const argv[], FILE *log, const char *prefix, FILE *out);
/* on: SIGINT and SIGTERM are caught and passed on to the running child,
 * each child in its own process group (everything it starts gets them);
 * off: their default action again.  kvv_proc_caught: the first signal
 * caught, or 0. */
void kvv_proc_catch_signals(int on);
int kvv_proc_caught(void);

/* ---- the machine (proc/machine.c) ---- */
/* Online processors (at least 1, at most 256). */
int kvv_cpu_count(void);
/* The CPU's model name from /proc/cpuinfo ("unknown CPU" without it). */
void kvv_cpu_model(char *buf, size_t n);

/* ---- this program (proc/machine.c): the adapter, the installed corpora
 * and a bisect's driver are found beside it ---- */
/* Its path (/proc/self/exe) into buf: 0, or -1 with buf "" when it cannot
 * be read or does not fit. */
int kvv_self_exe(char *buf, size_t n);
/* <the folder of this program>/name into buf: 0, or -1 with buf "". */
int kvv_beside_self(const char *name, char *buf, size_t n);

#endif
