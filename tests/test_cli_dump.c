/* --dump through the command line: a path it must not replace (a directory,
 * a FIFO, a link to a device) or cannot write (a missing folder) is refused
 * before any work with exit status 2; two runs on one path do not write one
 * file (the second is refused while the first holds it); SIGTERM ends a run
 * as SIGINT does (summary, dump renamed and marked interrupted). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oracle/run.h"
#include "tests/harness.h"

#define QUICK "quant/q8_0/d64/rows8/dist=gauss/seed=12"

/* A path in the scratch folder; valid for the next 15 calls. */
static const char *tmp(const char *name)
{
    static char ring[16][300];
    static int k;
    k = (k + 1) % 16;
    snprintf(ring[k], sizeof ring[k], "%s", scratch_path("kvv-clidump", name));
    return ring[k];
}

/* A case file: a quick case, then the one the hostile plugins misbehave on
 * (rows of 96 values: the hang plugin never returns from it). */
static const char *two_cases(void)
{
    const char *path = tmp("two.cases");
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fprintf(f, "dequant/f32/d128/rows8/dist=gauss/seed=1\ndequant/f32/d96/rows8/dist=gauss/seed=2\n");
    CU_ASSERT_FATAL(fclose(f) == 0);
    return path;
}

static void expect_refused(const char *dump, const char *message)
{
    char args[1024], out[8192];
    snprintf(args, sizeof args, "run -p %s --dump '%s'", QUICK, dump);
    double t0 = cli_mono();
    int st = cli_run(args, out, sizeof out);
    CU_ASSERT_EQUAL(st, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, message));
    CU_ASSERT_PTR_NULL(strstr(out, " cases x ")); /* refused before the run */
    CU_ASSERT(cli_mono() - t0 < 10);
    if (st != 2 || !strstr(out, message) || strstr(out, " cases x "))
        printf("\n  --dump %s: exit %d, wanted 2 and '%s':\n%s\n", dump, st, message, out);
    char partial[600];
    snprintf(partial, sizeof partial, "%s.partial", dump);
    struct stat sb;
    if (strstr(dump, "partial-dir") == NULL)
        CU_ASSERT(lstat(partial, &sb) != 0); /* nothing left behind */
}

static void test_directory_refused(void)
{
    const char *d = tmp("adir");
    CU_ASSERT_FATAL(mkdir(d, 0755) == 0);
    expect_refused(d, "is a directory");
    struct stat sb;
    CU_ASSERT(stat(d, &sb) == 0 && S_ISDIR(sb.st_mode));
    rmdir(d);
}

static void test_fifo_and_device_refused(void)
{
    const char *fifo = tmp("fifo");
    CU_ASSERT_FATAL(mkfifo(fifo, 0644) == 0);
    expect_refused(fifo, "not a regular file");
    struct stat sb;
    CU_ASSERT(lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode));
    /* a link to /dev/null: were it replaced, the link would go, not the device */
    const char *null = tmp("null");
    CU_ASSERT_FATAL(symlink("/dev/null", null) == 0);
    expect_refused(null, "not a regular file");
    CU_ASSERT(lstat(null, &sb) == 0 && S_ISLNK(sb.st_mode));
    CU_ASSERT(stat("/dev/null", &sb) == 0 && S_ISCHR(sb.st_mode));
}

static void test_partial_not_a_file_refused(void)
{
    const char *d = tmp("partial-dir.h5.partial");
    CU_ASSERT_FATAL(mkdir(d, 0755) == 0);
    expect_refused(tmp("partial-dir.h5"), "is a directory");
    rmdir(d);
}

static void test_missing_folder_refused(void)
{
    expect_refused(tmp("nosuch/out.h5"), "No such file or directory");
    const char *file = tmp("plain");
    FILE *f = fopen(file, "w");
    CU_ASSERT_FATAL(f && fclose(f) == 0);
    expect_refused(tmp("plain/out.h5"), "Not a directory");
    if (geteuid() != 0) { /* root writes anywhere */
        const char *ro = tmp("readonly");
        CU_ASSERT_FATAL(mkdir(ro, 0555) == 0);
        expect_refused(tmp("readonly/out.h5"), "Permission denied");
        rmdir(ro);
    }
}

static void test_replay_dump_checked_too(void)
{
    char args[1024], out[8192];
    const char *src = tmp("src.h5");
    snprintf(args, sizeof args, "run -p %s --dump %s --dump-all", QUICK, src);
    CU_ASSERT_EQUAL_FATAL(cli_run(args, out, sizeof out), 0);
    snprintf(args, sizeof args, "replay %s --dump %s", src, tmp("nosuch/again.h5"));
    int st = cli_run(args, out, sizeof out);
    CU_ASSERT_EQUAL(st, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "No such file or directory"));
    CU_ASSERT_PTR_NULL(strstr(out, "replaying"));
    if (st != 2)
        printf("\n  replay --dump into a missing folder: exit %d:\n%s\n", st, out);
}

/* Start a run that passes one case and hangs on the next (for up to 60 s),
 * dumping into dump; returns once the first verdict is in its JSON report. */
static pid_t start_hanging_run(const char *dump, const char *json, const char *log)
{
    char args[2048];
    snprintf(args, sizeof args, "run --cases %s -b %s -j 1 --timeout 60 --dump %s --dump-all --json %s", two_cases(),
             cli_plugin("hang"), dump, json);
    pid_t pid = cli_start(args, log);
    CU_ASSERT_FATAL(pid > 0);
    int started = cli_wait_for_text(json, "\"record\":\"case\"", 30);
    CU_ASSERT(started);
    if (!started) {
        char buf[4096];
        printf("\n  the run did not get going:\n%s\n", cli_slurp(log, buf, sizeof buf));
    }
    return pid;
}

static void check_interrupted_dump(const char *dump)
{
    char why[1024], partial[600];
    kvv_dump *d = kvv_dump_open(dump, why, sizeof why);
    if (!d)
        printf("\n  %s\n", why);
    CU_ASSERT_FATAL(d != NULL);
    CU_ASSERT_EQUAL(kvv_dump_count(d), 1);
    CU_ASSERT_STRING_EQUAL(kvv_dump_attr(d, "finished"), "interrupted");
    kvv_dump_close(d);
    snprintf(partial, sizeof partial, "%s.partial", dump);
    CU_ASSERT(access(partial, F_OK) != 0);
}

static void test_second_run_on_one_path_refused(void)
{
    const char *dump = tmp("shared.h5");
    pid_t a = start_hanging_run(dump, tmp("a.jsonl"), tmp("a.log"));
    char args[1024], out[8192];
    snprintf(args, sizeof args, "run -p %s --dump %s --dump-all", QUICK, dump);
    double t0 = cli_mono();
    int st = cli_run(args, out, sizeof out);
    CU_ASSERT_EQUAL(st, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "another kvverify run is writing"));
    CU_ASSERT_PTR_NULL(strstr(out, " cases x "));
    CU_ASSERT(cli_mono() - t0 < 10);
    if (st != 2 || !strstr(out, "another kvverify run is writing"))
        printf("\n  second run on %s: exit %d:\n%s\n", dump, st, out);
    /* the first run goes on undisturbed and ends with its own file */
    kill(a, SIGINT);
    CU_ASSERT_EQUAL(cli_wait(a, 30), 1);
    check_interrupted_dump(dump);
    /* once it is done, the path is free again */
    st = cli_run(args, out, sizeof out);
    CU_ASSERT_EQUAL(st, 0);
    if (st)
        printf("\n  a run after the first one ended: exit %d:\n%s\n", st, out);
}

static void test_killed_run_holds_nothing(void)
{
    const char *dump = tmp("killed.h5");
    pid_t a = start_hanging_run(dump, tmp("k.jsonl"), tmp("k.log"));
    kill(a, SIGKILL); /* the run only: its worker (hanging) must not hold the lock, nor stay */
    CU_ASSERT_EQUAL(cli_wait(a, 30), 128 + SIGKILL);
    char partial[600], args[1024], out[8192];
    snprintf(partial, sizeof partial, "%s.partial", dump);
    CU_ASSERT(access(partial, F_OK) == 0); /* what a killed run leaves */
    snprintf(args, sizeof args, "run -p %s --dump %s --dump-all", QUICK, dump);
    int st = cli_run(args, out, sizeof out);
    CU_ASSERT_EQUAL(st, 0);
    if (st)
        printf("\n  a run after a killed one: exit %d:\n%s\n", st, out);
    CU_ASSERT(access(partial, F_OK) != 0);
    CU_ASSERT(access(dump, F_OK) == 0);
    /* and the worker went with it */
    int gone = 0;
    for (int i = 0; i < 250 && !gone; i++) {
        gone = kill(-a, 0) != 0 && errno == ESRCH;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CU_ASSERT(gone);
    kill(-a, SIGKILL);
}

/* SIGTERM to the run (only) or to its process group (CI cancellation
 * signals either): it ends as after Ctrl-C. */
static void sigterm_ends_run(int group)
{
    const char *dump = tmp(group ? "term-group.h5" : "term.h5");
    const char *json = tmp(group ? "term-group.jsonl" : "term.jsonl");
    pid_t a = start_hanging_run(dump, json, tmp("term.log"));
    kill(group ? -a : a, SIGTERM);
    int st = cli_wait(a, 30);
    CU_ASSERT_EQUAL(st, 1);
    char buf[1 << 14];
    cli_slurp(json, buf, sizeof buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"record\":\"summary\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"interrupted\":true"));
    CU_ASSERT_PTR_NULL(strstr(buf, "killed by signal")); /* the worker stopped with the run is no crash */
    if (st != 1 || !strstr(buf, "\"interrupted\":true"))
        printf("\n  SIGTERM%s: exit %d; report:\n%s\n", group ? " to the group" : "", st, buf);
    check_interrupted_dump(dump);
}

static void test_sigterm_like_sigint(void) { sigterm_ends_run(0); }
static void test_sigterm_to_group(void) { sigterm_ends_run(1); }

static int cleanup(void)
{
    scratch_remove();
    return 0;
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"--dump a directory: refused up front, untouched", test_directory_refused},
        {"--dump a FIFO or a link to /dev/null: refused up front, untouched", test_fifo_and_device_refused},
        {"--dump whose .partial is a directory: refused", test_partial_not_a_file_refused},
        {"--dump into a missing folder or a file: exit 2 with the errno text", test_missing_folder_refused},
        {"replay --dump: the same checks", test_replay_dump_checked_too},
        {"two runs on one dump path: the second refused, the first's file whole", test_second_run_on_one_path_refused},
        {"a killed run's .partial does not block the next run", test_killed_run_holds_nothing},
        {"SIGTERM: summary, dump renamed and marked interrupted, exit 1", test_sigterm_like_sigint},
        {"SIGTERM to the process group: the same", test_sigterm_to_group},
        {NULL, NULL}};
    CU_pSuite s = CU_add_suite("--dump paths, locking, SIGTERM", NULL, cleanup);
    for (const kvv_test *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}
