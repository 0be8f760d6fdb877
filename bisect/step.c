/* The step of a bisect (`kvverify bisect-step`): the test `git bisect run`
 * runs at each commit of a bisect (bisect/driver.c), in its temporary work
 * tree.
 *
 * It builds (in the tree; a failed build is skip, exit 125), then runs the
 * cases: with --exe, the tree's own kvverify, in the tree; with --plugin LIB
 * (a library of the tree) or -b BACKEND, this kvverify, in the directory the
 * bisect was started from (so that corpora/ and relative -b options resolve
 * there).  The build and the run see KVV_BISECT_HOME (that directory),
 * KVV_BISECT_TREE (the work tree) and KVV_BISECT_COMMIT (the commit).
 * Every case passing is good, a failing case bad (with --fixed the other
 * way round: passing is "fixed", failing "broken"); a run whose cases were
 * all declined, or anything else, is skip.
 * Its output is kept in <state>/<commit>.log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bisect/bisect.h"
#include "proc/proc.h"

int kvv_bisect_step(const kvv_bisect_opts *opts)
{
    const kvv_bisect_opts a = *opts;
    char top[4096], sha[64], subject[256], self[4096];
    char *git_top[] = {"git", "rev-parse", "--show-toplevel", NULL};
    char *git_head[] = {"git", "rev-parse", "HEAD", NULL};
    char *git_subject[] = {"git", "log", "-1", "--format=%s", NULL};
    if (chdir(a.repo) || kvv_proc_capture(git_top, top, sizeof top) || chdir(top) ||
        kvv_proc_capture(git_head, sha, sizeof sha)) {
        printf(KVV_BISECT_STEP_PREFIX "%s is not a git checkout: skipped\n", a.repo);
        return KVV_STEP_SKIP;
    }
    if (kvv_proc_capture(git_subject, subject, sizeof subject))
        subject[0] = 0;
    const char *home = a.home ? a.home : top;
    setenv("KVV_BISECT_HOME", home, 1);
    setenv("KVV_BISECT_TREE", top, 1);
    setenv("KVV_BISECT_COMMIT", sha, 1);
    char logpath[4200];
    snprintf(logpath, sizeof logpath, "%s/%s.log", a.state, sha);
    FILE *log = fopen(logpath, "w");
    if (!log) {
        printf(KVV_BISECT_STEP_PREFIX "%.12s: cannot write %s: skipped\n", sha, logpath);
        return KVV_STEP_SKIP;
    }
    fprintf(log, "$ %s\n", a.build);
    fflush(log);
    char *build[] = {"/bin/sh", "-c", (char *)a.build, NULL};
    int rc = kvv_proc_run(build, fileno(log));
    if (rc != 0) {
        fclose(log);
        printf(KVV_BISECT_STEP_PREFIX "%.12s %s: build failed (exit %d): skipped\n", sha, subject, rc);
        return KVV_STEP_SKIP;
    }
    /* the test: this kvverify with the built library or backend, or the built kvverify */
    char *test[KVV_BISECT_MAX_ARGS];
    char lib[8200];
    int k = 0;
    if (a.plugin || a.backend) {
        kvv_self_exe(self, sizeof self);
        if (a.plugin)
            snprintf(lib, sizeof lib, "%s%s%s", a.plugin[0] == '/' ? "" : top, a.plugin[0] == '/' ? "" : "/",
                     a.plugin);
        else
            snprintf(lib, sizeof lib, "%s", a.backend);
        test[k++] = self;
        test[k++] = "run";
        test[k++] = "-b";
        test[k++] = lib;
        if (chdir(home)) {
            fclose(log);
            printf(KVV_BISECT_STEP_PREFIX "%.12s: cannot enter %s: skipped\n", sha, home);
            return KVV_STEP_SKIP;
        }
    } else {
        snprintf(lib, sizeof lib, "%s%s%s", a.exe[0] == '/' ? "" : top, a.exe[0] == '/' ? "" : "/", a.exe);
        if (access(lib, X_OK)) {
            fclose(log);
            printf(KVV_BISECT_STEP_PREFIX "%.12s %s: the build made no %s: skipped\n", sha, subject, a.exe);
            return KVV_STEP_SKIP;
        }
        test[k++] = lib;
        test[k++] = "run";
    }
    if (a.pattern) {
        test[k++] = "-p";
        test[k++] = (char *)a.pattern;
    }
    for (int i = 0; i < a.nextra; i++)
        test[k++] = a.extra[i];
    test[k] = NULL;
    fprintf(log, "$");
    for (int i = 0; i < k; i++)
        fprintf(log, " %s", test[i]);
    fprintf(log, "\n");
    fflush(log);
    rc = kvv_proc_run(test, fileno(log));
    fclose(log);
    char why[2000];
    int st = kvv_bisect_classify(&a, rc, logpath, why, sizeof why);
    printf(KVV_BISECT_STEP_PREFIX "%.12s %s: %s\n", sha, subject, why);
    return st;
}

int kvv_bisect_classify(const kvv_bisect_opts *a, int rc, const char *logpath, char *why, size_t n)
{
    char first[1500];
    int nfail = kvv_bisect_scan_failures(logpath, a->rule, first, sizeof first);
    int nany = a->rule ? kvv_bisect_scan_failures(logpath, NULL, NULL, 0) : nfail;
    if (rc == 0 && kvv_bisect_ran_none(logpath)) {
        /* the backend declined them all (another format version, a missing kernel): no verdict */
        snprintf(why, n, "every case was skipped (see %s): skipped", logpath);
        return KVV_STEP_SKIP;
    }
    if (rc == 0) {
        snprintf(why, n, "every case passes: %s", a->fixed ? "fixed" : "good");
        return a->fixed ? KVV_STEP_NEW : KVV_STEP_OLD;
    }
    if (a->rule && rc == 1 && nany > 0 && nfail == 0) {
        /* the symptom bisected for is absent; the cases fail otherwise */
        snprintf(why, n, "%d failing, none by %s: %s", nany, a->rule, a->fixed ? "fixed" : "good");
        return a->fixed ? KVV_STEP_NEW : KVV_STEP_OLD;
    }
    if (rc == 1 && nfail > 0) {
        first[strcspn(first, "\n")] = 0;
        snprintf(why, n, "%d failing (%s): %s", nfail, first, a->fixed ? "broken" : "bad");
        return a->fixed ? KVV_STEP_OLD : KVV_STEP_NEW;
    }
    snprintf(why, n, "the run ended with status %d and no failing case (see %s): skipped", rc, logpath);
    return KVV_STEP_SKIP;
}
