/* Shared main of the CUnit test programs: each tests/test_*.c defines
 * kvv_register_tests(), which adds its suites to the registry. */
#include <CUnit/Basic.h>
#include <stdio.h>

void kvv_register_tests(void);

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
    return failed ? 1 : 0;
}
