/* `kvverify help --help` (and `help -h`) prints the usage with status 0,
 * as `kvverify --help` does, instead of "unknown command '--help'". */
#include <string.h>

#include "tests/harness.h"

static void test_help_help(void)
{
    static char out[1 << 16];
    const char *args[] = {"help --help", "help -h", "help", "--help"};
    for (int i = 0; i < 4; i++) {
        CU_ASSERT(cli_run(args[i], out, sizeof out) == 0);
        CU_ASSERT(strstr(out, "usage: kvverify <command> [options]") != NULL);
    }
    CU_ASSERT(cli_run("help nosuch", out, sizeof out) == 2);
    CU_ASSERT(strstr(out, "unknown command 'nosuch'") != NULL);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"help --help prints the usage", test_help_help}, {NULL, NULL}};
    kvv_add_suite("help_help", tests);
}
