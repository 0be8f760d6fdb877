/* The ggml adapter's stack=KIB (kernels/ggml/ggml_stack.c): work run there
 * gets the stack asked for, whatever this process's TLS takes (OpenBLAS's
 * is 60 KiB); work that needs more than that crashes, and the same work on
 * a larger stack does not; threads started without a size get it too. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_getattr_np */
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/ggml/ggml_stack.h"
#include "tests/harness.h"

#define KIB 1024

/* static TLS as a BLAS library has it: glibc takes it from each thread's
 * stack, and the stack asked for must be left after it */
static _Thread_local volatile char tls_block[48 * KIB];

/* the stack left below the caller's frame on this thread */
static size_t stack_left(void)
{
    pthread_attr_t at;
    void *lo = NULL;
    size_t size = 0;
    char here;
    if (pthread_getattr_np(pthread_self(), &at))
        return 0;
    pthread_attr_getstack(&at, &lo, &size);
    pthread_attr_destroy(&at);
    return (size_t)((uintptr_t)&here - (uintptr_t)lo);
}

static int report_left(void *p)
{
    tls_block[0] = 1;
    *(size_t *)p = stack_left();
    return 7;
}

static void test_gets_the_stack_asked_for(void)
{
    size_t left = 0;
    int rc = 0;
    char why[256] = "";
    CU_ASSERT_EQUAL(gg_stack_run(64 * KIB, report_left, &left, &rc, why, sizeof why), 0);
    CU_ASSERT_EQUAL(rc, 7);
    /* all of it but a few frames (the test's own, the thread's start), and
     * not the caller's 8 MiB */
    CU_ASSERT(left >= 56 * KIB && left <= 72 * KIB);
    if (left < 56 * KIB || left > 72 * KIB)
        fprintf(stderr, "  asked for 64 KiB, %zu bytes left\n", left);
}

/* n bytes of stack, all touched */
static int use_stack(void *p)
{
    size_t n = *(size_t *)p;
    volatile char buf[n];
    for (size_t i = 0; i < n; i += 512)
        buf[i] = (char)i;
    return buf[n / 2] == (char)(n / 2) ? 0 : 1;
}

/* run use_stack(need) on a stack of `kib` KiB in a child: its exit status,
 * or -signal */
static int in_child(size_t kib, size_t need)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = 1;
        char why[256];
        if (gg_stack_run(kib * KIB, use_stack, &need, &rc, why, sizeof why))
            _exit(3);
        _exit(rc);
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    return WIFSIGNALED(ws) ? -WTERMSIG(ws) : WEXITSTATUS(ws);
}

static void test_too_little_stack_crashes(void)
{
    /* a 64 KiB matrix on the stack and some frames around it, as the
     * fork's turbo4 init has (the stack given is 64 KiB to a page more) */
    CU_ASSERT_EQUAL(in_child(256, 80 * KIB), 0);
    int rc = in_child(64, 80 * KIB);
    CU_ASSERT(rc != 0); /* a signal, or the sanitizer's exit */
    if (!rc)
        fprintf(stderr, "  80 KiB of work on a 64 KiB stack did not crash\n");
}

static void *default_thread(void *p)
{
    *(size_t *)p = stack_left();
    return NULL;
}

static void test_default_for_new_threads(void)
{
    /* in a child: the default is the process's from then on */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char why[256];
        size_t left = 0;
        pthread_t th;
        if (gg_stack_default(96 * KIB, why, sizeof why) || pthread_create(&th, NULL, default_thread, &left))
            _exit(3);
        pthread_join(th, NULL);
        _exit(left >= 88 * KIB && left <= 104 * KIB ? 0 : 4);
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    CU_ASSERT(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
}

static void test_zero_runs_here(void)
{
    size_t left = 0;
    int rc = 0;
    char why[256];
    CU_ASSERT_EQUAL(gg_stack_run(0, report_left, &left, &rc, why, sizeof why), 0);
    CU_ASSERT_EQUAL(rc, 7);
    CU_ASSERT(left > 1024 * KIB); /* the main thread's */
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"work gets the stack asked for", test_gets_the_stack_asked_for},
                                     {"work needing more stack crashes, on more it does not", test_too_little_stack_crashes},
                                     {"threads started without a size get it", test_default_for_new_threads},
                                     {"no size: the caller's thread", test_zero_runs_here},
                                     {NULL, NULL}};
    kvv_add_suite("ggml adapter stack", tests);
}
