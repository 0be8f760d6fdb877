/* SIGTERM (what CI cancellation sends, often to the main process alone)
 * ends replay, fuzz, ppl and bench as it ends a run: what finished stays
 * reported, the command says it was interrupted, and the exit status is 1,
 * never 143 (README, Exit status). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "oracle/run.h"
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

/* replay is a run: its summary says INTERRUPTED and the dump it writes is
 * renamed into place, marked interrupted, with the cases finished */
static void test_replay(void)
{
    char cases[300], src[300], again[300], args[2048], out[8192];
    snprintf(cases, sizeof cases, "%s", scratch_path("kvv-interrupt", "two.cases"));
    snprintf(src, sizeof src, "%s", scratch_path("kvv-interrupt", "src.h5"));
    snprintf(again, sizeof again, "%s", scratch_path("kvv-interrupt", "again.h5"));
    FILE *f = fopen(cases, "w");
    CU_ASSERT_FATAL(f != NULL);
    /* the hang plugin answers rows of 128 values and never returns from 96 */
    fprintf(f, "dequant/f32/d128/rows8/dist=gauss/seed=1\ndequant/f32/d96/rows8/dist=gauss/seed=2\n");
    CU_ASSERT_FATAL(fclose(f) == 0);
    snprintf(args, sizeof args, "run --cases %s -b %s -j 1 --timeout 2 --dump %s --dump-all", cases, cli_plugin("hang"),
             src);
    CU_ASSERT_EQUAL_FATAL(cli_run(args, out, sizeof out), 1);
    char why[512], partial[320];
    snprintf(partial, sizeof partial, "%s.partial", again);
    snprintf(args, sizeof args, "replay %s -j 1 --timeout 60 --dump %s --dump-all", src, again);
    const char *log = scratch_path("kvv-interrupt", "replay.log");
    pid_t pid = cli_start(args, log);
    CU_ASSERT_FATAL(pid > 0);
    /* its terminal lines may wait in a buffer; the dump is flushed after each
     * case: once the first is in, the replay is stuck in the second */
    int first_in = 0;
    for (double t0 = cli_mono(); !first_in && cli_mono() - t0 < 60;) {
        kvv_dump *p = kvv_dump_open(partial, why, sizeof why);
        first_in = p && kvv_dump_count(p) >= 1;
        if (p)
            kvv_dump_close(p);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CU_ASSERT(first_in);
    kill(pid, SIGTERM);
    double t0 = cli_mono();
    int st = cli_wait(pid, 60);
    CU_ASSERT_EQUAL(st, 1);
    CU_ASSERT(cli_mono() - t0 < 30);
    cli_slurp(log, buf, sizeof buf);
    if (!first_in || st != 1)
        fprintf(stderr, "\nkvverify %s: status %d\n%s\n", args, st, buf);
    CU_ASSERT(strstr(buf, "1 passed, 0 failed, 0 skipped") != NULL);
    CU_ASSERT(strstr(buf, "(INTERRUPTED: results so far)") != NULL);
    CU_ASSERT(strstr(buf, "killed by signal") == NULL); /* the worker stopped with the replay is no crash */
    kvv_dump *d = kvv_dump_open(again, why, sizeof why);
    if (!d)
        fprintf(stderr, "\n%s: %s\n", again, why);
    CU_ASSERT_FATAL(d != NULL);
    CU_ASSERT_EQUAL(kvv_dump_count(d), 1);
    const char *finished = kvv_dump_attr(d, "finished");
    CU_ASSERT(finished && !strcmp(finished, "interrupted"));
    kvv_dump_close(d);
    CU_ASSERT(access(partial, F_OK) != 0);
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
    static const kvv_test tests[] = {{"SIGTERM ends replay as a run: summary, dump renamed, status 1", test_replay},
                                     {"SIGTERM ends fuzz with status 1", test_fuzz},
                                     {"SIGTERM ends ppl with status 1", test_ppl},
                                     {"SIGTERM ends bench with status 1", test_bench},
                                     {NULL, NULL}};
    CU_pSuite s = CU_add_suite("interrupt_tools", NULL, cleanup);
    for (const kvv_test *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}
