/* Backends in throwaway child processes: opening one up front, running a
 * function isolated (oracle/isolate.c). */
#ifndef KVV_ORACLE_ISOLATE_H
#define KVV_ORACLE_ISOLATE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "kvv/backend.h"
#include "kvv/case.h"
#include "kvv/verdict.h"
#include "backends/registry.h"
#include "dump/dump.h"
#include "model/model.h"
#include "ref/ref.h"
#include "reports/reports.h"

/* ---- backends (finding them: backends/registry.h) ---- */
/* Open the backend once in a throwaway child process (its stdout sent to
 * stderr) that must answer within `seconds`: 0 when it opens, or -1 with
 * why (what kvv_backend_open said, or that opening it crashed or hung).  A
 * run refuses a backend that fails this before any work. */
int kvv_backend_try_open(const char *name, double seconds, char *why, size_t why_len);
/* Run fn(arg, fd) in a child process whose stdout goes to stderr; fn writes
 * its answer to fd.  Up to n bytes of it land in buf.  Returns the bytes
 * read when the child exited normally, or -1 with why ("crashed: killed by
 * signal 11 (...)", "crashed: the process exited with status N", "hung: no
 * answer within S s; the process was killed"). */
ssize_t kvv_isolate(void (*fn)(void *arg, int fd), void *arg, void *buf, size_t n, double seconds, char *why,
                    size_t why_len);
/* From now on kvv_isolate stops its child and returns -1 ("interrupted:
 * ...") as soon as *flag is nonzero (a signal handler sets it; NULL: never). */
void kvv_isolate_stop_on(volatile sig_atomic_t *flag);
/* Send this process's stdout to its stderr (in a process that runs a
 * backend: what the backend prints must not reach a report on stdout). */
void kvv_stdout_to_stderr(void);
#endif
