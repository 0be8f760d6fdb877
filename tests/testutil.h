/* Helpers shared by the CUnit test programs. */
#ifndef KVV_TESTUTIL_H
#define KVV_TESTUTIL_H

#include <CUnit/CUnit.h>

/* Register a suite with a NULL-terminated list of {name, fn} tests. */
typedef struct {
    const char *name;
    CU_TestFunc fn;
} kvv_test;

static inline void kvv_add_suite(const char *name, const kvv_test *tests)
{
    CU_pSuite s = CU_add_suite(name, NULL, NULL);
    for (const kvv_test *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}

#endif
