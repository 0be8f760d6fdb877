/* The adapter's stack=KIB option: the library's work runs on threads of a
 * given stack size, as it does in programs and on platforms whose threads
 * get small stacks (musl gives 128 KiB, macOS 512 KiB to threads it starts;
 * runtimes set their own).  A library that keeps large arrays on the stack
 * (a 128x128 float matrix is 64 KiB) works on a main thread's 8 MiB and
 * overflows there; the overflow is a crash, which the worker that runs the
 * case reports as the case's verdict.
 *
 * Two halves: the adapter's own calls into the library run on a thread of
 * that size (gg_stack_run), and the threads the library starts without
 * asking for a size (ggml's CPU thread pool) get it as the process's default
 * (gg_stack_default).
 *
 * glibc takes a thread's static TLS out of its stack: with OpenBLAS loaded
 * (60 KiB of TLS) a thread asked for 64 KiB would have almost none to run
 * on.  The size asked for is what the library gets to use: the overhead is
 * measured once, on a thread of known size, and added to every request. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setattr_default_np */
#endif
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kernels/ggml/ggml_stack.h"

typedef struct {
    int (*fn)(void *);
    void *arg;
    int rc;
} stack_call;

static void *stack_thread(void *p)
{
    stack_call *c = p;
    c->rc = c->fn(c->arg);
    return NULL;
}

#define PROBE_STACK (1024 * 1024)

/* on a thread of PROBE_STACK bytes: how many of them its start used up */
static void *overhead_thread(void *p)
{
    pthread_attr_t at;
    void *lo = NULL;
    size_t size = 0;
    char here;
    if (!pthread_getattr_np(pthread_self(), &at)) {
        pthread_attr_getstack(&at, &lo, &size);
        pthread_attr_destroy(&at);
    }
    uintptr_t usable = lo ? (uintptr_t)&here - (uintptr_t)lo : PROBE_STACK;
    *(size_t *)p = usable < PROBE_STACK ? PROBE_STACK - (size_t)usable : 0;
    return NULL;
}

/* the bytes a thread's start takes from its stack (TLS, descriptor) */
static size_t start_overhead(void)
{
    static size_t overhead = (size_t)-1;
    if (overhead != (size_t)-1)
        return overhead;
    size_t got = 0;
    pthread_attr_t at;
    pthread_t th;
    if (pthread_attr_init(&at) == 0) {
        if (pthread_attr_setstacksize(&at, PROBE_STACK) == 0 && pthread_create(&th, &at, overhead_thread, &got) == 0)
            pthread_join(th, NULL);
        pthread_attr_destroy(&at);
    }
    long page = sysconf(_SC_PAGESIZE);
    page = page > 0 ? page : 4096;
    overhead = (got + (size_t)page - 1) / (size_t)page * (size_t)page;
    return overhead;
}

static int stack_attr(pthread_attr_t *at, size_t bytes, char *why, size_t n)
{
    int e = pthread_attr_init(at);
    if (!e)
        e = pthread_attr_setstacksize(at, bytes + start_overhead());
    if (e) {
        snprintf(why, n, "stack=%zu KiB: %s (the least is %zu KiB)", bytes / 1024, strerror(e),
                 (size_t)PTHREAD_STACK_MIN / 1024);
        return -1;
    }
    return 0;
}

int gg_stack_check(size_t bytes, char *why, size_t n)
{
    pthread_attr_t at;
    if (stack_attr(&at, bytes, why, n))
        return -1;
    pthread_attr_destroy(&at);
    return 0;
}

int gg_stack_default(size_t bytes, char *why, size_t n)
{
    pthread_attr_t at;
    if (stack_attr(&at, bytes, why, n))
        return -1;
    int e = pthread_setattr_default_np(&at);
    pthread_attr_destroy(&at);
    if (e) {
        snprintf(why, n, "stack=%zu KiB: cannot make it the default of new threads: %s", bytes / 1024, strerror(e));
        return -1;
    }
    return 0;
}

int gg_stack_run(size_t bytes, int (*fn)(void *), void *arg, int *rc, char *why, size_t n)
{
    stack_call c = {fn, arg, 0};
    if (!bytes) {
        *rc = fn(arg);
        return 0;
    }
    pthread_attr_t at;
    if (stack_attr(&at, bytes, why, n))
        return -1;
    pthread_t th;
    int e = pthread_create(&th, &at, stack_thread, &c);
    pthread_attr_destroy(&at);
    if (e) {
        snprintf(why, n, "stack=%zu KiB: cannot start a thread: %s", bytes / 1024, strerror(e));
        return -1;
    }
    pthread_join(th, NULL);
    *rc = c.rc;
    return 0;
}
