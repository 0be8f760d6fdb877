/* SIGTERM (what CI cancellation sends, often to the main process alone)
 * ends fuzz, ppl and bench as it ends a run: what finished stays reported,
 * the command says it was interrupted, and the exit status is 1, never
 * 143 (README, Exit status). */
#include <signal.h>
#include <string.h>

#include "tests/harness.h"

static char buf[1 << 16];

/* Start ARGS, wait for `ready` in its output, SIGTERM it alone; its status. */
static int term_after(const char *args, const char *ready, const char *log)
{
    pid_t pid = cli_start(args, log);
    CU_ASSERT_FATAL(pid > 0);
    int seen = cli_wait_for_text(log, ready, 120);
    CU_ASSERT(seen);
    kill(pid, SIGTERM);
    double t0 = cli_mono();
    int st = cli_wait(pid, 60);
    CU_ASSERT(cli_mono() - t0 < 30);
    cli_slurp(log, buf, sizeof buf);
    if (!seen || st != 1)
        fprintf(stderr, "\nkvverify %s: status %d\n%s\n", args, st, buf);
    return st;
}

static void test_fuzz(void)
{
    const char *log = scratch_path("kvv-interrupt", "fuzz.log");
    CU_ASSERT(term_after("fuzz --time 300 -j 1 --no-write", "kvverify fuzz: backend cpu", log) == 1);
    CU_ASSERT(strstr(buf, "(INTERRUPTED: the batches finished before the signal)") != NULL);
}

static void test_ppl(void)
{
    const char *log = scratch_path("kvv-interrupt", "ppl.log");
    CU_ASSERT(term_after("ppl --model probe --kv all", "f32/f32 ", log) == 1);
    CU_ASSERT(strstr(buf, "kvverify ppl: interrupted (Terminated) at ") != NULL);
    CU_ASSERT(strstr(buf, "the pairs above are those finished") != NULL);
    /* before any pair: nothing to report, still status 1 */
    const char *early = scratch_path("kvv-interrupt", "ppl-early.log");
    pid_t pid = cli_start("ppl --model probe --kv all", early);
    CU_ASSERT_FATAL(pid > 0);
    struct timespec ts = {0, 400 * 1000 * 1000}; /* past the start-up (handlers set), before the pairs */
    nanosleep(&ts, NULL);
    kill(pid, SIGTERM);
    CU_ASSERT(cli_wait(pid, 30) == 1);
}

static void test_bench(void)
{
    const char *log = scratch_path("kvv-interrupt", "bench.log");
    CU_ASSERT(term_after("bench --reps 1", "kvverify bench: best of 1", log) == 1);
    CU_ASSERT(strstr(buf, "interrupted (Terminated): the lines above are those finished") != NULL);
}

static int cleanup(void)
{
    scratch_remove();
    return 0;
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"SIGTERM ends fuzz with status 1", test_fuzz},
                                     {"SIGTERM ends ppl with status 1", test_ppl},
                                     {"SIGTERM ends bench with status 1", test_bench},
                                     {NULL, NULL}};
    CU_pSuite s = CU_add_suite("interrupt_tools", NULL, cleanup);
    for (const kvv_test *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}
