/* Crash and hang isolation through the command line: real plugin backends
 * (tests/plugins/hostile_backend.c) that segfault, abort or hang on one case
 * of a run.  That case must fail with a crash verdict that names it, and the
 * cases after it must still run and pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"

static const char *const cases[] = {
    "dequant/f32/d128/rows8/dist=gauss/seed=1",
    "dequant/f32/d96/rows8/dist=gauss/seed=2", /* the width the plugins misbehave on */
    "quant/f32/d256/rows8/dist=outlier/seed=3",
    "quant/f32/d64/rows3/dist=nonfinite/seed=4",
};
#define NCASES 4
#define BAD 1

static char case_file[256];

static int write_cases(void)
{
    snprintf(case_file, sizeof case_file, "%s", scratch_path("kvv-hostile", "four.cases"));
    FILE *f = fopen(case_file, "w");
    if (!f)
        return -1;
    fprintf(f, "# four cases; the second one makes the hostile backends misbehave\n");
    for (int i = 0; i < NCASES; i++)
        fprintf(f, "%s\n", cases[i]);
    return fclose(f);
}

/* The line of the terminal report about one case ("pass ..." or "FAIL ..."),
 * or NULL. */
static const char *line_of(const char *out, const char *name, char *line, size_t n)
{
    for (const char *p = out; (p = strstr(p, name)); p++) {
        const char *start = p;
        while (start > out && start[-1] != '\n')
            start--;
        if (!strncmp(start, "pass", 4) || !strncmp(start, "FAIL", 4)) {
            const char *end = strchr(p, '\n');
            size_t len = end ? (size_t)(end - start) : strlen(start);
            /* a failure's detail is on the next line: keep it */
            if (end && !strncmp(start, "FAIL", 4)) {
                const char *e2 = strchr(end + 1, '\n');
                len = e2 ? (size_t)(e2 - start) : strlen(start);
            }
            snprintf(line, n, "%.*s", (int)len, start);
            return line;
        }
    }
    return NULL;
}

static void check_plugin(const char *kind, int jobs, const char *expect)
{
    char args[1024], out[16384], line[1024];
    snprintf(args, sizeof args, "run -b %s --cases %s -v -j %d --timeout 2", cli_plugin(kind), case_file, jobs);
    int st = cli_run_limit(120, args, out, sizeof out);
    CU_ASSERT_EQUAL(st, 1); /* a failure, not a crash of kvverify and not a usage error */
    for (int i = 0; i < NCASES; i++) {
        const char *l = line_of(out, cases[i], line, sizeof line);
        CU_ASSERT_PTR_NOT_NULL(l);
        if (!l) {
            fprintf(stderr, "\n%s: no line for %s in:\n%s\n", kind, cases[i], out);
            continue;
        }
        if (i == BAD) {
            CU_ASSERT(!strncmp(l, "FAIL", 4) && strstr(l, "[crash]") && strstr(l, expect));
        } else {
            CU_ASSERT(!strncmp(l, "pass", 4)); /* the cases after it still run, and pass */
        }
        if (i == BAD && !(strstr(l, "[crash]") && strstr(l, expect)))
            fprintf(stderr, "\n%s: expected a crash verdict with '%s', got: %s\n", kind, expect, l);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "4 checks: 3 passed, 1 failed"));
}

static void test_segv(void)
{
    check_plugin("segv", 1, "crashed");
    check_plugin("segv", 2, "crashed");
}
static void test_abort(void)
{
    check_plugin("abort", 1, "crashed");
    check_plugin("abort", 2, "crashed");
}
static void test_hang(void)
{
    check_plugin("hang", 1, "hung");
    check_plugin("hang", 2, "hung");
}

/* Without -j the run is isolated too: a crash does not end it. */
static void test_default_is_isolated(void)
{
    char args[1024], out[16384], line[1024];
    snprintf(args, sizeof args, "run -b %s --cases %s -v", cli_plugin("abort"), case_file);
    CU_ASSERT_EQUAL(cli_run_limit(120, args, out, sizeof out), 1);
    const char *l = line_of(out, cases[NCASES - 1], line, sizeof line);
    CU_ASSERT(l && !strncmp(l, "pass", 4));
}

static void test_fuzz_finds_the_crash(void)
{
    /* fuzzing WHT on the segfaulting backend: WHT rows of 96 values (a group
     * of 32 three times, ...) crash; the crash is shrunk and stored */
    char dir[256], args[1024], out[16384];
    snprintf(dir, sizeof dir, "%s", scratch_path("kvv-hostile", "fuzz"));
    snprintf(args, sizeof args, "fuzz -b %s -o wht --time 20 --seed 11 -j 2 --timeout 2 --max-finds 1 --out %s",
             cli_plugin("segv"), dir);
    int st = cli_run_limit(120, args, out, sizeof out);
    CU_ASSERT_EQUAL(st, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "[crash] crashed"));
    const char *w = strstr(out, "written to ");
    CU_ASSERT_PTR_NOT_NULL(w);
    if (w) {
        char path[512];
        sscanf(w + strlen("written to "), "%511s", path);
        FILE *f = fopen(path, "r");
        CU_ASSERT_PTR_NOT_NULL(f);
        char l1[1024] = "", l2[1024] = "", l3[1024] = "";
        if (f) {
            if (!fgets(l1, sizeof l1, f) || !fgets(l2, sizeof l2, f) || !fgets(l3, sizeof l3, f))
                l3[0] = 0;
            fclose(f);
        }
        CU_ASSERT(l1[0] == '#' && strstr(l1, "crash") != NULL);
        /* shrunk: the width that crashes, one row */
        CU_ASSERT(!strncmp(l3, "wht/d96/", 8) && strstr(l3, "/rows1/") != NULL);
        if (strncmp(l3, "wht/d96/", 8))
            fprintf(stderr, "\nshrunk case: %s\n", l3);
        /* the stored case replays the crash */
        snprintf(args, sizeof args, "run -b %s --cases %s", cli_plugin("segv"), path);
        CU_ASSERT_EQUAL(cli_run_limit(120, args, out, sizeof out), 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, "[crash] crashed"));
        remove(path);
    }
    rmdir(dir);
}

static void setup(void) { CU_ASSERT_FATAL(write_cases() == 0); }
static void teardown(void) { scratch_remove(); }

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"write the case file", setup},
                                     {"segfaulting backend", test_segv},
                                     {"aborting backend", test_abort},
                                     {"hanging backend", test_hang},
                                     {"isolation is the default", test_default_is_isolated},
                                     {"fuzz finds, shrinks and stores the crash", test_fuzz_finds_the_crash},
                                     {"remove the scratch files", teardown},
                                     {NULL, NULL}};
    kvv_add_suite("hostile plugin backends through the CLI", tests);
}
