/* The main of the CUnit test programs (in the kvv_test_harness library):
 * each tests/test_*.c defines kvv_register_tests(), which adds its suites.
 * Exit status: 1 when a test failed (or none ran), else 77 when a test was
 * skipped (ctest's SKIP_RETURN_CODE: reported as skipped), else 0. */
#include <CUnit/Basic.h>
#include <stdio.h>

#include "tests/harness.h"

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    kvv_register_tests();
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (ran == 0) {
        fprintf(stderr, "no tests ran\n");
        return 1;
    }
    if (failed)
        return 1;
    if (kvv_skip_count()) {
        printf("%d part(s) SKIPPED: exit %d (ctest: skipped)\n", kvv_skip_count(), KVV_SKIP_STATUS);
        return KVV_SKIP_STATUS;
    }
    return 0;
}
