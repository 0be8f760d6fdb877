/* Per-family checks over every backend this machine has and every type of
 * the table (include/kvv/formats.def), as checkasm runs each function on
 * every implementation (kvv_check_families of tests/harness.h): quantize,
 * dequantize and attention cases, built by name, must pass through the
 * oracle or be declined with a reason, never fail.  The CPU backend declines
 * nothing.  A type added to the table is checked without a line changing.
 * (Vulkan's are run by tests/test_vulkan.c, in the process whose pipelines
 * its own checks have built; the gate of `make verify` runs every pair.) */
#include <string.h>

#include "oracle/run.h"
#include "tests/harness.h"

static void test_every_backend(void)
{
    const kvv_test_backend *bs;
    int nb = kvv_test_backends("vulkan", &bs);
    CU_ASSERT_FATAL(nb >= 1 && !strcmp(bs[0].name, "cpu"));
    for (int i = 0; i < nb; i++)
        kvv_check_families(bs[i].name, bs[i].b, !strcmp(bs[i].name, "cpu"));
}

/* the loops see the whole table: every type in exactly one family */
static void test_families_cover_the_table(void)
{
    int total = 0;
    for (int f = KVV_FAMILY_FLOAT; f <= KVV_FAMILY_TURBO; f++) {
        kvv_type ts[KVV_TYPE_COUNT];
        int nt = kvv_types_of(f, ts);
        CU_ASSERT(nt > 0);
        for (int t = 0; t < nt; t++)
            CU_ASSERT_EQUAL(kvv_type_get(ts[t])->family, (kvv_family)f);
        total += nt;
    }
    CU_ASSERT_EQUAL(total, KVV_TYPE_COUNT);
    kvv_type all[KVV_TYPE_COUNT];
    CU_ASSERT_EQUAL(kvv_types_of(KVV_ANY_FAMILY, all), KVV_TYPE_COUNT);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"the families cover the type table", test_families_cover_the_table},
                                     {"every type of each family on every backend", test_every_backend},
                                     {NULL, NULL}};
    kvv_add_suite("type families on every backend", tests);
}
