/* ci/nightly.sh end to end on a small slice of the gate (the WHT cases):
 * making a baseline, passing against it, failing when a ratio regressed or
 * a pass became a fail, and writing every report into the folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"

static char dir[128];

static int nightly(const char *extra, const char *log)
{
    char cmd[3000];
    snprintf(cmd, sizeof cmd,
             "'%s/ci/nightly.sh' --no-build --build '%s' --matrix gate --out %s/out --baseline %s/base.tsv %s "
             "-- -o wht -j 2 > %s/%s 2>&1",
             kvv_source_dir(), kvv_build_dir(), dir, dir, extra, dir, log);
    return kvv_sh(cmd, NULL, 0);
}

static int file_has(const char *name, const char *text)
{
    char path[256], line[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

/* Rewrite the baseline with awk: program applied to the data lines. */
static void edit_baseline(const char *awk_prog)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "awk -F'\\t' 'BEGIN{OFS=\"\\t\"} /^#/ || $1==\"name\" {print; next} {%s; print}' %s/base.tsv > %s/b2 "
             "&& mv %s/b2 %s/base.tsv",
             awk_prog, dir, dir, dir, dir);
    CU_ASSERT_FATAL(system(cmd) == 0);
}

static void test_nightly_gate(void)
{
    CU_ASSERT_FATAL(strlen(scratch_path("kvv-nightly", "run")) < sizeof dir);
    snprintf(dir, sizeof dir, "%s", scratch_path("kvv-nightly", "run"));
    CU_ASSERT_FATAL(mkdir(dir, 0700) == 0);

    /* no baseline yet: the gate fails and says how to make one */
    CU_ASSERT_EQUAL(nightly("", "log0"), 1);
    CU_ASSERT(file_has("log0", "no baseline"));

    /* make one, then the same run passes against it */
    CU_ASSERT_EQUAL(nightly("--update-baseline", "log1"), 0);
    CU_ASSERT(file_has("base.tsv", "wht/d128/g1/"));
    CU_ASSERT_EQUAL(nightly("", "log2"), 0);
    CU_ASSERT(file_has("log2", "PASS: no regression"));
    static const char *const reports[] = {"results.jsonl", "junit.xml", "summary.md", "report.html", "ratios.tsv",
                                          "compare.txt", "run.log"};
    for (size_t i = 0; i < sizeof reports / sizeof *reports; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/out/%s", dir, reports[i]);
        CU_ASSERT(access(path, R_OK) == 0);
    }

    /* the baseline's ratios were 10x smaller: every case with a ratio
     * above the floor regressed */
    edit_baseline("if ($4 > 0.1) $4 = $4 / 10");
    CU_ASSERT_EQUAL(nightly("", "log3"), 1);
    CU_ASSERT(file_has("log3", "REGRESSED"));
    CU_ASSERT(file_has("log3", "FAIL: regressions"));
    /* ... unless the factor allows it */
    CU_ASSERT_EQUAL(nightly("--factor 20", "log4"), 0);

    /* a case the baseline has failing passes now: no regression; the
     * reverse (baseline pass, now fail) is tested through compare */
    CU_ASSERT_EQUAL(nightly("--update-baseline", "log5"), 0);
    edit_baseline("if (NR == 3) $3 = \"fail\"");
    CU_ASSERT_EQUAL(nightly("", "log6"), 0);
    CU_ASSERT(file_has("log6", "fixed"));

    scratch_remove();
    CU_ASSERT(access(dir, F_OK) != 0);
}

void kvv_register_tests(void)
{
    static const kvv_test t[] = {{"baseline, pass, regression, factor, fixed case", test_nightly_gate},
                                 {NULL, NULL}};
    kvv_add_suite("nightly gate script", t);
}
