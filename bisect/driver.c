/* The driver of `kvverify bisect`: find the commit that broke a case (or, with --fixed,
 * the one that fixed it) in any git repository whose build produces a
 * backend: this repository (its own build/kvverify is run), a port built as
 * a plugin library (--plugin LIB, run with this kvverify), or a fork's
 * libraries built by the step and named by a backend (-b ggml-cpu:dir=...).
 *
 * The repository given with -C (a work tree or a bare git directory, such
 * as a mirror without a work tree) is never checked out: the bisect runs in
 * a temporary clone sharing its objects (git clone --shared), whose work
 * tree holds everything (--tree full, the default for a work tree), nothing
 * (--tree none, the default for a bare directory: the build takes what it
 * needs from $KVV_BISECT_TREE's git objects, as ci/fork-build.sh does), or
 * some folders (--tree ggml,docs).  It checks that the cases fail at --bad
 * and pass at --good, then drives `git bisect run` with `kvverify
 * bisect-step` as the test (bisect/step.c), keeping each step's
 * build and run output in <git-dir>/kvverify-bisect/<commit>.log.  The
 * driver is a copy of this binary, so that rebuilding a checkout of this
 * repository cannot replace it mid-run. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bisect/tree.h"
#include "proc/proc.h"

static int resolve(const kvv_bisect_opts *a, const char *rev, char *sha, size_t n)
{
    char spec[512];
    snprintf(spec, sizeof spec, "%s^{commit}", rev);
    char *args[] = {"rev-parse", "--verify", "-q", spec, NULL};
    if (bisect_git_capture(a->dir, args, sha, n) || !sha[0]) {
        fprintf(stderr, "kvverify: '%s' is not a commit of the repository in %s\n", rev, a->dir);
        return -1;
    }
    return 0;
}

static int is_ancestor(const char *dir, const char *older, const char *newer)
{
    char *args[] = {"merge-base", "--is-ancestor", (char *)older, (char *)newer, NULL};
    char out[8];
    return bisect_git_capture(dir, args, out, sizeof out) == 0;
}

/* Run the step at the checked-out commit (outside git bisect). */
static int step_here(bisect_t *b)
{
    char *argv[KVV_BISECT_MAX_ARGS + 24];
    memcpy(argv, b->step, sizeof(char *) * (size_t)(b->nstep + 1));
    return kvv_proc_filter(argv, b->log, KVV_BISECT_STEP_PREFIX, stdout);
}

static int prepare(bisect_t *b)
{
    const kvv_bisect_opts *a = b->a;
    char *gd[] = {"rev-parse", "--absolute-git-dir", NULL}, *bare_q[] = {"rev-parse", "--is-bare-repository", NULL};
    char bare[16] = "";
    if (bisect_git_capture(a->dir, gd, b->gitdir, sizeof b->gitdir) || !b->gitdir[0]) {
        fprintf(stderr, "kvverify: %s is not a git repository (a work tree or a git directory)\n", a->dir);
        return -1;
    }
    bisect_git_capture(a->dir, bare_q, bare, sizeof bare);
    if (resolve(a, a->good, b->good, sizeof b->good) || resolve(a, a->bad, b->bad, sizeof b->bad))
        return -1;
    /* which way round: a break (--good older) or a fix (--bad older) */
    if (!a->fixed && !is_ancestor(a->dir, b->good, b->bad)) {
        if (is_ancestor(a->dir, b->bad, b->good))
            fprintf(stderr, "kvverify: --bad %s is older than --good %s: to find the commit that fixed the cases, add "
                            "--fixed\n", a->bad, a->good);
        else
            fprintf(stderr, "kvverify: --good %s is not an ancestor of --bad %s\n", a->good, a->bad);
        return -1;
    }
    if (a->fixed && !is_ancestor(a->dir, b->bad, b->good)) {
        fprintf(stderr, "kvverify: with --fixed, --bad %s (where the cases fail) must be an ancestor of --good %s "
                        "(where they pass)\n", a->bad, a->good);
        return -1;
    }
    b->term_new = a->fixed ? "fixed" : "bad";
    b->term_old = a->fixed ? "broken" : "good";
    if (!getcwd(b->home, sizeof b->home))
        snprintf(b->home, sizeof b->home, ".");
    snprintf(b->state, sizeof b->state, "%s/kvverify-bisect", b->gitdir);
    snprintf(b->driver, sizeof b->driver, "%s/kvverify", b->state);
    if (bisect_state_setup(b)) {
        fprintf(stderr, "kvverify: cannot set up %s: %s\n", b->state, strerror(errno));
        return -1;
    }
    if (bisect_make_tree(b, !strcmp(bare, "true")))
        return -1;
    int k = 0;
    b->step[k++] = b->driver;
    b->step[k++] = "bisect-step";
    b->step[k++] = "--state";
    b->step[k++] = b->state;
    b->step[k++] = "--repo";
    b->step[k++] = b->tree;
    b->step[k++] = "--home";
    b->step[k++] = b->home;
    b->step[k++] = "--build";
    b->step[k++] = (char *)a->build;
    b->step[k++] = a->plugin ? "--plugin" : a->backend ? "--backend" : "--exe";
    b->step[k++] = (char *)(a->plugin ? a->plugin : a->backend ? a->backend : a->exe);
    if (a->fixed)
        b->step[k++] = "--fixed";
    if (a->rule) {
        b->step[k++] = "--rule";
        b->step[k++] = (char *)a->rule;
    }
    if (a->pattern) {
        b->step[k++] = "-p";
        b->step[k++] = (char *)a->pattern;
    }
    b->step[k++] = "--";
    for (int i = 0; i < a->nextra; i++)
        b->step[k++] = a->extra[i];
    b->step[k] = NULL;
    b->nstep = k;
    return 0;
}

/* Both ends must behave as claimed before bisecting between them: the
 * cases fail at --bad and pass at --good (whichever is older). */
static int check_ends(bisect_t *b)
{
    const int fixed = b->a->fixed;
    const struct {
        const char *sha, *rev, *flag;
        int want;
    } ends[] = {{b->bad, b->a->bad, "--bad", fixed ? KVV_STEP_OLD : KVV_STEP_NEW},
                {b->good, b->a->good, "--good", fixed ? KVV_STEP_NEW : KVV_STEP_OLD}};
    for (int i = 0; i < 2; i++) {
        char *co[] = {"checkout", "-q", "--detach", (char *)ends[i].sha, NULL};
        if (bisect_git_in(b, b->tree, co)) {
            fprintf(stderr, "kvverify: cannot check out %s\n", ends[i].rev);
            return -1;
        }
        int rc = step_here(b);
        if (kvv_proc_caught())
            return -1; /* interrupted: said by the caller */
        if (rc == ends[i].want)
            continue;
        if (rc == KVV_STEP_SKIP)
            fprintf(stderr, "kvverify: %s %s cannot be tested (build failed or the run did not complete; see %s/%s.log)\n",
                    ends[i].flag, ends[i].rev, b->state, ends[i].sha);
        else if (!strcmp(ends[i].flag, "--bad"))
            fprintf(stderr, "kvverify: the cases pass at --bad %s%s%s: nothing to bisect\n", ends[i].rev,
                    b->a->rule ? ", or fail by no rule of " : "", b->a->rule ? b->a->rule : "");
        else
            fprintf(stderr, "kvverify: the cases already fail%s%s at --good %s\n", b->a->rule ? " by " : "",
                    b->a->rule ? b->a->rule : "", ends[i].rev);
        return -1;
    }
    return 0;
}

static int log_says(const char *path, const char *what)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return found;
}

static void print_undetermined(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int on = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (strstr(line, "only 'skip'ped commits"))
            on = 1;
        if (on)
            fputs(line, stdout);
    }
    if (f)
        fclose(f);
}

/* The result: the first commit of the new term, and the failing case at it
 * (a break) or at its parent (a fix). */
static int report(bisect_t *b, const char *logpath)
{
    char said[64], first[64], subject[512], line[1500], ref[64];
    snprintf(said, sizeof said, "is the first %s commit", b->term_new);
    snprintf(ref, sizeof ref, "refs/bisect/%s", b->term_new);
    char *new_ref[] = {"rev-parse", ref, NULL};
    if (!log_says(logpath, said) || bisect_git_capture(b->tree, new_ref, first, sizeof first)) {
        printf("the first %s commit could not be determined:\n", b->term_new);
        print_undetermined(logpath);
        return 1;
    }
    char *subj[] = {"log", "-1", "--format=%s", first, NULL};
    bisect_git_capture(b->tree, subj, subject, sizeof subject);
    printf("first %s commit: %s %s\n", b->term_new, first, subject);
    char at[128], steplog[4500];
    snprintf(at, sizeof at, "%s", first);
    if (b->a->fixed) { /* the cases pass there: show them failing at its parent */
        char spec[80], *par[] = {"rev-parse", spec, NULL};
        snprintf(spec, sizeof spec, "%s^", first);
        if (bisect_git_capture(b->tree, par, at, sizeof at))
            at[0] = 0;
    }
    snprintf(steplog, sizeof steplog, "%s/%s.log", b->state, at);
    int n = at[0] ? kvv_bisect_scan_failures(steplog, b->a->rule, line, sizeof line) : 0;
    if (n > 0)
        printf("%d failing case%s %s, the first:\n%s", n, n == 1 ? "" : "s",
               b->a->fixed ? "at its parent" : "there", line);
    return 0;
}

/* After SIGINT or SIGTERM: the steps so far (git bisect log, which `git
 * bisect replay` takes back), then the caller removes the tree. */
static int interrupted(bisect_t *b, int started)
{
    int sig = kvv_proc_caught();
    kvv_proc_catch_signals(0);
    signal(SIGINT, SIG_IGN); /* a second Ctrl-C does not stop the clean-up */
    signal(SIGTERM, SIG_IGN);
    printf("\nbisect interrupted (%s) %s; the temporary tree %s is removed\n", strsignal(sig),
           started ? "during git bisect run" : "before git bisect run (checking the ends)", b->tmp);
    static char log[1 << 16];
    char *args[] = {"bisect", "log", NULL};
    if (started && b->tree[0] && bisect_git_capture(b->tree, args, log, sizeof log) == 0 && log[0]) {
        char path[4400];
        snprintf(path, sizeof path, "%s/interrupted-steps.log", b->state);
        FILE *f = fopen(path, "w");
        int kept = f && fprintf(f, "%s\n", log) > 0;
        if (f && fclose(f))
            kept = 0;
        printf("the steps so far (git bisect log%s%s):\n%s\n", kept ? "; `git bisect replay` takes it back from " : "",
               kept ? path : "", log);
    } else
        printf("no bisect step was marked yet\n");
    if (b->state[0])
        printf("each step's output is in %s\n", b->state);
    fflush(stdout);
    return 1;
}

int kvv_bisect_run(const kvv_bisect_opts *opts)
{
    const kvv_bisect_opts a = *opts;
    bisect_t b;
    memset(&b, 0, sizeof b);
    b.a = &a;
    /* SIGINT and SIGTERM are passed on to the git, build or run going on
     * (each in its own process group), which ends; we stay to say where the
     * bisect was and to remove the tree */
    kvv_proc_catch_signals(1);
    if (prepare(&b)) {
        int rc = kvv_proc_caught() ? interrupted(&b, 0) : -1;
        bisect_remove_tree(&b);
        if (b.log)
            fclose(b.log);
        return rc;
    }
    int rc = 1, started = 0;
    char logpath[4400];
    snprintf(logpath, sizeof logpath, "%s/bisect.log", b.state);
    printf("bisecting %s for the first %s commit: %s %.12s, %s %.12s; logs in %s\n", a.dir, b.term_new,
           a.fixed ? "broken" : "good", a.fixed ? b.bad : b.good, a.fixed ? "fixed" : "bad", a.fixed ? b.good : b.bad,
           b.state);
    if (!kvv_proc_caught() && check_ends(&b) == 0 && !kvv_proc_caught()) {
        char tn[64], to[64];
        snprintf(tn, sizeof tn, "--term-new=%s", b.term_new);
        snprintf(to, sizeof to, "--term-old=%s", b.term_old);
        /* new term first: the bad commit, or with --fixed the fixed (good) one */
        char *start[] = {"bisect", "start", tn, to, a.fixed ? b.good : b.bad, a.fixed ? b.bad : b.good, "--", NULL};
        if (bisect_git_in(&b, b.tree, start) == 0) {
            started = 1;
            char *run[KVV_BISECT_MAX_ARGS + 30] = {"git", "-C", b.tree, "bisect", "run"};
            memcpy(run + 5, b.step, sizeof(char *) * (size_t)(b.nstep + 1));
            char said[64];
            snprintf(said, sizeof said, "is the first %s commit", b.term_new);
            fflush(b.log);
            if (!log_says(logpath, said) && !kvv_proc_caught())
                kvv_proc_filter(run, b.log, KVV_BISECT_STEP_PREFIX, stdout);
            fflush(b.log);
            if (!kvv_proc_caught())
                rc = report(&b, logpath);
        } else if (!kvv_proc_caught()) {
            fprintf(stderr, "kvverify: git bisect start failed (see %s)\n", logpath);
        }
    }
    if (kvv_proc_caught())
        rc = interrupted(&b, started);
    bisect_remove_tree(&b);
    kvv_proc_catch_signals(0);
    fclose(b.log);
    return rc;
}
