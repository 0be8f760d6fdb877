/* The interface every libFuzzer target implements (fuzz/targets/fuzz_*.c),
 * and the checks they share.  A target is linked either with libFuzzer
 * (-DKVV_FUZZ=ON) or with regression_driver.c, which replays a corpus. */
#ifndef KVV_FUZZ_TARGET_H
#define KVV_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken property: say which, then abort so that libFuzzer stores the
 * input (and the regression driver fails). */
#define KVV_FUZZ_CHECK(cond, ...)                                                                                       \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: property broken: %s: ", __FILE__, __LINE__, #cond);                                 \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fputc('\n', stderr);                                                                                       \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

#endif
