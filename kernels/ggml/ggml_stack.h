/* Running the library's work on threads of a given stack size (the
 * adapter's stack=KIB option; ggml_stack.c says why). */
#ifndef KVV_GGML_STACK_H
#define KVV_GGML_STACK_H

#include <stddef.h>

/* 0 when threads of `bytes` of stack can be made, else -1 with why */
int gg_stack_check(size_t bytes, char *why, size_t n);
/* Make `bytes` the stack of every thread started from now on without a
 * size of its own.  0, or -1 with why. */
int gg_stack_default(size_t bytes, char *why, size_t n);
/* *rc = fn(arg), run on a new thread of `bytes` of stack (on this thread
 * when bytes is 0), waited for.  0, or -1 with why when no thread could be
 * started.  A stack overflow in fn is a crash of the process. */
int gg_stack_run(size_t bytes, int (*fn)(void *), void *arg, int *rc, char *why, size_t n);

#endif
