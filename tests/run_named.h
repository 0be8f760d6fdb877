/* Shared by the tests of backend libraries (test_plugin.c, test_ggml.c): run
 * one case, given by its name, through the oracle on a backend, and print
 * why when it does not pass. */
#ifndef KVV_TESTS_RUN_NAMED_H
#define KVV_TESTS_RUN_NAMED_H

#include <stdio.h>

#include "kvv/case.h"
#include "oracle/oracle.h"

static inline kvv_verdict run_named(const kvv_backend *b, const char *name)
{
    kvv_case c;
    char err[256];
    kvv_verdict v;
    kvv_verdict_init(&v);
    if (kvv_case_parse(name, &c, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", name, err);
        v.status = KVV_FAIL;
        return v;
    }
    kvv_run_case(&c, b, &v);
    if (v.status != KVV_PASS)
        fprintf(stderr, "  %s: %s %s\n", name, kvv_status_name(v.status), v.detail);
    return v;
}

#endif
