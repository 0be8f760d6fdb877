/* The bisect step's judgement of a commit (kvv_bisect_classify) on planted
 * run logs: which runs make a commit good, bad, fixed, broken or skipped,
 * with and without --rule, and the run-log readers it rests on. */
#include "bisect/bisect.h"
#include "tests/harness.h"

static const char *log_of(const char *name, const char *text)
{
    const char *path = scratch_path("kvv-classify", name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
    return path;
}

static const char two_fails[] = "FAIL cpu attn-a\n    [bound] detail a\nFAIL cpu attn-b\n    [finite] detail b\n"
                                "10 checks: 8 passed, 2 failed, 0 skipped\n";
static const char all_pass[] = "PASS cpu attn-a\n10 checks: 10 passed, 0 failed, 0 skipped\n";
static const char all_skipped[] = "SKIP cpu attn-a\n3 checks: 0 passed, 0 failed, 3 skipped\n";

static void test_classify(void)
{
    kvv_bisect_opts a;
    memset(&a, 0, sizeof a);
    char why[2000];
    const char *fails = log_of("fails.log", two_fails), *pass = log_of("pass.log", all_pass),
               *none = log_of("none.log", all_skipped);
    CU_ASSERT_EQUAL(kvv_bisect_classify(&a, 0, pass, why, sizeof why), KVV_STEP_OLD);
    CU_ASSERT_STRING_EQUAL(why, "every case passes: good");
    CU_ASSERT_EQUAL(kvv_bisect_classify(&a, 1, fails, why, sizeof why), KVV_STEP_NEW);
    CU_ASSERT_STRING_EQUAL(why, "2 failing (FAIL cpu attn-a): bad");
    /* every case declined: no verdict, even though the run exited 0 */
    CU_ASSERT_EQUAL(kvv_bisect_classify(&a, 0, none, why, sizeof why), KVV_STEP_SKIP);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "every case was skipped"));
    /* a crash of the run (no failing line) or a usage error: skip */
    CU_ASSERT_EQUAL(kvv_bisect_classify(&a, 139, pass, why, sizeof why), KVV_STEP_SKIP);
    CU_ASSERT_EQUAL(kvv_bisect_classify(&a, 2, fails, why, sizeof why), KVV_STEP_SKIP);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "status 2"));
    /* --fixed: the terms swap */
    a.fixed = 1;
    CU_ASSERT_EQUAL(kvv_bisect_classify(&a, 0, pass, why, sizeof why), KVV_STEP_NEW);
    CU_ASSERT_STRING_EQUAL(why, "every case passes: fixed");
    CU_ASSERT_EQUAL(kvv_bisect_classify(&a, 1, fails, why, sizeof why), KVV_STEP_OLD);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, ": broken"));
    /* --rule: only failures by its rules make the commit bad */
    a.fixed = 0;
    a.rule = "finite";
    CU_ASSERT_EQUAL(kvv_bisect_classify(&a, 1, fails, why, sizeof why), KVV_STEP_NEW);
    CU_ASSERT_STRING_EQUAL(why, "1 failing (FAIL cpu attn-b): bad");
    a.rule = "crash,bytes";
    CU_ASSERT_EQUAL(kvv_bisect_classify(&a, 1, fails, why, sizeof why), KVV_STEP_OLD);
    CU_ASSERT_STRING_EQUAL(why, "2 failing, none by crash,bytes: good");
}

static void test_log_readers(void)
{
    char first[200];
    const char *fails = log_of("fails.log", two_fails), *none = log_of("none.log", all_skipped);
    CU_ASSERT_EQUAL(kvv_bisect_scan_failures(fails, NULL, first, sizeof first), 2);
    CU_ASSERT_STRING_EQUAL(first, "FAIL cpu attn-a\n    [bound] detail a\n");
    CU_ASSERT_EQUAL(kvv_bisect_scan_failures(fails, "bound,finite", NULL, 0), 2);
    CU_ASSERT_EQUAL(kvv_bisect_scan_failures(fails, "finite", first, 20), 1);
    CU_ASSERT_STRING_EQUAL(first, "FAIL cpu attn-b\n   "); /* cut to fit */
    CU_ASSERT_EQUAL(kvv_bisect_scan_failures("/nonexistent/run.log", NULL, first, sizeof first), 0);
    CU_ASSERT_FALSE(kvv_bisect_ran_none(fails));
    CU_ASSERT_TRUE(kvv_bisect_ran_none(none));
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"a step's run classified (good, bad, fixed, broken, skip; --rule)", test_classify},
                                     {"run logs: failures by rule, nothing ran", test_log_readers},
                                     {NULL, NULL}};
    kvv_add_suite("bisect classify", tests);
}
