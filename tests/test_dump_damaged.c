/* Damaged dumps that crash or hang the HDF5 library itself
 * (corpora/regressions/h5_damaged/): opening one gives a clear error naming
 * the file, never a crash or a hang of kvverify. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump/dump.h"
#include "tests/harness.h"

static void test_damaged_files_refused(void)
{
    const char *dir = "corpora/regressions/h5_damaged";
    DIR *dp = opendir(dir);
    CU_ASSERT_FATAL(dp != NULL);
    setenv("KVV_DUMP_CHECK_SECONDS", "5", 1); /* the hanging file waits this long */
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        size_t len = strlen(de->d_name);
        if (len < 4 || strcmp(de->d_name + len - 3, ".h5"))
            continue;
        char path[512], why[600] = "";
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        kvv_dump *d = kvv_dump_open(path, why, sizeof why);
        int ok = 1;
        /* a file whose damage the checksums catch may open and then fail on
         * a case; one that opens must fail reading some case */
        if (d) {
            ok = 0;
            for (int i = 0; i < kvv_dump_count(d) && !ok; i++) {
                kvv_dump_entry e;
                kvv_record rec;
                memset(&rec, 0, sizeof rec);
                ok = kvv_dump_read(d, i, &e, &rec, why, sizeof why) != 0;
                kvv_record_free(&rec);
            }
            kvv_dump_close(d);
        }
        CU_ASSERT(ok);
        CU_ASSERT(strstr(why, de->d_name) != NULL || strstr(why, "corrupt") != NULL);
        printf("\n  %s: %s", de->d_name, why);
        n++;
    }
    closedir(dp);
    unsetenv("KVV_DUMP_CHECK_SECONDS");
    CU_ASSERT(n >= 5);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"damaged dumps refused, no crash or hang", test_damaged_files_refused},
                                     {NULL, NULL}};
    kvv_add_suite("damaged dumps", tests);
}
