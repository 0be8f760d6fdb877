/* SIGTERM (what CI cancellation sends, often to the main process alone) or
 * SIGINT ends `kvverify bisect` cleanly: the git, build and run going on
 * are stopped (they run in their own process group, which the driver
 * signals), the temporary clone is removed, the steps so far are printed
 * (git bisect log), and the exit status is 1, as for any interrupted
 * command.  The repository's "kvverify" is a script, so a step costs no
 * build: it fails the cases where the tree's file `state` says bad, and the
 * build sleeps on the second step of `git bisect run`, where the signal
 * comes. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/harness.h"

static char repo[64];

static int sh(const char *cmd) { return cli_status(system(cmd)); }

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", repo, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
}

static const char fake_kvverify[] =
    "#!/bin/sh\n"
    "if grep -q bad \"$KVV_BISECT_TREE/state\"; then\n"
    "  echo 'FAIL toy attn/d64/f32-f32/nq1/nkv8/h1/gqa1/dist=gauss/seed=1'\n"
    "  echo '     [arith] planted'\n"
    "  echo '1 checks: 0 passed, 1 failed, 0 skipped in 0.0 s'\n"
    "  exit 1\n"
    "fi\n"
    "echo '1 checks: 1 passed, 0 failed, 0 skipped in 0.0 s'\n";

/* 12 commits: good up to the 7th, bad from the 8th */
static void make_history(void)
{
    snprintf(repo, sizeof repo, "/tmp/kvv-bisect-sig-XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(repo) != NULL);
    setenv("GIT_AUTHOR_NAME", "kvverify test", 1);
    setenv("GIT_AUTHOR_EMAIL", "test@example.invalid", 1);
    setenv("GIT_COMMITTER_NAME", "kvverify test", 1);
    setenv("GIT_COMMITTER_EMAIL", "test@example.invalid", 1);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cd %s && git init -q -b main . && git config commit.gpgsign false && mkdir -p tool",
             repo);
    CU_ASSERT_FATAL(sh(cmd) == 0);
    write_file("tool/kvverify", fake_kvverify);
    snprintf(cmd, sizeof cmd, "chmod +x %s/tool/kvverify", repo);
    CU_ASSERT_FATAL(sh(cmd) == 0);
    for (int i = 0; i < 12; i++) {
        char n[16];
        snprintf(n, sizeof n, "%d\n", i);
        write_file("state", i < 7 ? "good\n" : "bad\n");
        write_file("number", n);
        snprintf(cmd, sizeof cmd, "cd %s && git add -A && git commit -q -m 'commit %d'", repo, i);
        CU_ASSERT_FATAL(sh(cmd) == 0);
    }
}

/* The build: counts the steps; the 4th (the two ends, then the second
 * step of git bisect run) records the tree and its sleep's pid, and sleeps. */
static void build_cmd(char *buf, size_t n, const char *dir)
{
    snprintf(buf, n,
             "c=$(cat %s/count 2>/dev/null || echo 0); c=$((c+1)); echo $c > %s/count; "
             "if [ $c = 4 ]; then echo \"$KVV_BISECT_TREE\" > %s/tree; sleep 100 & echo $! > %s/sleep.pid; "
             "touch %s/sleeping; wait; fi",
             dir, dir, dir, dir, dir);
}

static void interrupt_with(int sig)
{
    char dir[128], build[1500], args[3000], cmd[600], log[200], buf[4096];
    snprintf(dir, sizeof dir, "%s-state-%d", repo, sig);
    mkdir(dir, 0755);
    build_cmd(build, sizeof build, dir);
    snprintf(log, sizeof log, "%s/out.log", dir);
    snprintf(args, sizeof args, "bisect -C %s --good HEAD~11 --bad HEAD --exe tool/kvverify --build '%s'", repo, build);
    pid_t pid = cli_start(args, log);
    CU_ASSERT_FATAL(pid > 0);
    char sleeping[200];
    snprintf(sleeping, sizeof sleeping, "%s/sleeping", dir);
    double t0 = cli_mono();
    while (access(sleeping, F_OK) && cli_mono() - t0 < 60) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CU_ASSERT_FATAL(access(sleeping, F_OK) == 0);
    /* to the driver alone (cli_start made it a group of its own) */
    kill(pid, sig);
    t0 = cli_mono();
    int st = cli_wait(pid, 30);
    CU_ASSERT(st == 1);
    CU_ASSERT(cli_mono() - t0 < 20);
    const char *out = cli_slurp(log, buf, sizeof buf);
    char want[200];
    snprintf(want, sizeof want, "bisect interrupted (%s) during git bisect run", strsignal(sig));
    CU_ASSERT(strstr(out, want) != NULL);
    /* the steps so far: the ends and the first step, as git bisect log has them */
    CU_ASSERT(strstr(out, "the steps so far (git bisect log; `git bisect replay` takes it back from ") != NULL);
    CU_ASSERT(strstr(out, "git bisect start") != NULL);
    CU_ASSERT(strstr(out, "# first bad commit") == NULL);
    const char *after = strstr(out, "git bisect start");
    CU_ASSERT(after && (strstr(after, "git bisect good ") || strstr(after, "git bisect bad ")));
    if (!strstr(out, want) || getenv("KVV_TEST_SHOW"))
        fprintf(stderr, "\n%s\n", out);
    snprintf(cmd, sizeof cmd, "grep -q 'git bisect start' %s/.git/kvverify-bisect/interrupted-steps.log", repo);
    CU_ASSERT(sh(cmd) == 0);
    /* the clone is gone, and so is the build's sleep */
    char tree[200], path[200], pidtext[32];
    snprintf(path, sizeof path, "%s/tree", dir);
    cli_slurp(path, tree, sizeof tree);
    tree[strcspn(tree, "\n")] = 0;
    CU_ASSERT(!strncmp(tree, "/tmp/kvverify-bisect-", 21));
    struct stat sb;
    CU_ASSERT(stat(tree, &sb) != 0);
    snprintf(path, sizeof path, "%s/sleep.pid", dir);
    cli_slurp(path, pidtext, sizeof pidtext);
    pid_t sp = (pid_t)atoi(pidtext);
    CU_ASSERT(sp > 0);
    t0 = cli_mono();
    while (sp > 0 && kill(sp, 0) == 0 && cli_mono() - t0 < 5) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CU_ASSERT(sp > 0 && kill(sp, 0) != 0);
    /* the repository is as it was */
    snprintf(cmd, sizeof cmd, "cd %s && test \"$(git symbolic-ref --short HEAD)\" = main && test ! -e .git/BISECT_LOG",
             repo);
    CU_ASSERT(sh(cmd) == 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    sh(cmd);
}

static void test_sigterm(void)
{
    if (!kvv_have_command("git"))
        KVV_SKIP("git is needed to make the history");
    make_history();
    interrupt_with(SIGTERM);
}

static void test_sigint(void)
{
    if (!repo[0])
        KVV_SKIP("no history (git missing)");
    interrupt_with(SIGINT);
}

/* Uninterrupted, the same history finds its commit (the fake tool works). */
static void test_uninterrupted(void)
{
    char args[1000], out[1 << 14];
    if (!repo[0])
        KVV_SKIP("no history (git missing)");
    snprintf(args, sizeof args, "bisect -C %s --good HEAD~11 --bad HEAD --exe tool/kvverify --build true", repo);
    CU_ASSERT(cli_run_limit(120, args, out, sizeof out) == 0);
    CU_ASSERT(strstr(out, "first bad commit: ") != NULL && strstr(out, "commit 7") != NULL);
}

static int cleanup(void)
{
    if (repo[0] && !strncmp(repo, "/tmp/kvv-bisect-sig-", 20)) {
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", repo);
        sh(cmd);
    }
    return 0;
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"SIGTERM to bisect: stopped, clone removed, steps printed, status 1", test_sigterm},
        {"SIGINT likewise", test_sigint},
        {"the same history, uninterrupted, finds the commit", test_uninterrupted},
        {NULL, NULL}};
    CU_pSuite s = CU_add_suite("bisect_signal", NULL, cleanup);
    for (const kvv_test *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}
