/* `kvverify bisect`: find the commit that broke a case (or, with --fixed,
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
 * bisect-step` as the test (tools/cmd_bisect_step.c), keeping each step's
 * build and run output in <git-dir>/kvverify-bisect/<commit>.log.  The
 * driver is a copy of this binary, so that rebuilding a checkout of this
 * repository cannot replace it mid-run. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/bisect.h"

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    int rc = in && out ? 0 : -1;
    char buf[1 << 16];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    if (in)
        fclose(in);
    if (out && fclose(out))
        rc = -1;
    return rc ? -1 : chmod(to, 0755);
}

/* The ggml adapter is found next to the running binary (oracle/backends.c),
 * so the driver's copy takes it along: a -b ggml-cpu:... step then loads the
 * adapter of this build, not one rebuilt mid-run.  A build without it
 * copies nothing (its steps name other backends). */
static int copy_adapter(const char *state)
{
    char exe[4096], to[4400];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 32);
    if (len <= 0)
        return 0;
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    snprintf(slash ? slash + 1 : exe, 32, "libkvv_ggml.so");
    if (access(exe, R_OK))
        return 0;
    snprintf(to, sizeof to, "%s/libkvv_ggml.so", state);
    return copy_file(exe, to);
}

typedef struct {
    const bisect_args *a;
    char gitdir[4096], home[4096], state[4200], driver[4300];
    char tmp[64], tree[128];
    char good[64], bad[64];
    const char *term_new, *term_old; /* git bisect's terms: bad/good, or fixed/broken */
    FILE *log;
    char *step[BISECT_MAX_ARGS + 24];
    int nstep;
} bisect_t;

/* git in directory dir with args (NULL-terminated), output to the log */
static int git_in(bisect_t *b, const char *dir, char **args)
{
    char *argv[24] = {"git", "-C", (char *)dir};
    int k = 3;
    for (int i = 0; args[i] && k < 23; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    fflush(b->log);
    return cli_proc_run(argv, fileno(b->log));
}

static int git_capture(const char *dir, char **args, char *buf, size_t n)
{
    char *argv[24] = {"git", "-C", (char *)dir};
    int k = 3;
    for (int i = 0; args[i] && k < 23; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    return cli_proc_capture(argv, buf, n);
}

static int resolve(const bisect_args *a, const char *rev, char *sha, size_t n)
{
    char spec[512];
    snprintf(spec, sizeof spec, "%s^{commit}", rev);
    char *args[] = {"rev-parse", "--verify", "-q", spec, NULL};
    if (git_capture(a->dir, args, sha, n) || !sha[0]) {
        fprintf(stderr, "kvverify: '%s' is not a commit of the repository in %s\n", rev, a->dir);
        return -1;
    }
    return 0;
}

static int is_ancestor(const char *dir, const char *older, const char *newer)
{
    char *args[] = {"merge-base", "--is-ancestor", (char *)older, (char *)newer, NULL};
    char out[8];
    return git_capture(dir, args, out, sizeof out) == 0;
}

/* Run the step at the checked-out commit (outside git bisect). */
static int step_here(bisect_t *b)
{
    char *argv[BISECT_MAX_ARGS + 24];
    memcpy(argv, b->step, sizeof(char *) * (size_t)(b->nstep + 1));
    return cli_proc_filter(argv, b->log, BISECT_STEP_PREFIX, stdout);
}

/* The temporary clone: shares the objects of the repository, holds the
 * files --tree asks for. */
static int make_tree(bisect_t *b, int bare)
{
    const bisect_args *a = b->a;
    snprintf(b->tmp, sizeof b->tmp, "/tmp/kvverify-bisect-XXXXXX");
    if (!mkdtemp(b->tmp)) {
        fprintf(stderr, "kvverify: cannot make a temporary folder: %s\n", strerror(errno));
        return -1;
    }
    snprintf(b->tree, sizeof b->tree, "%s/tree", b->tmp);
    char *clone[] = {"clone", "--quiet", "--shared", "--no-checkout", b->gitdir, b->tree, NULL};
    if (git_in(b, "/", clone)) {
        fprintf(stderr, "kvverify: cannot clone %s into %s (see %s/bisect.log)\n", b->gitdir, b->tree, b->state);
        return -1;
    }
    const char *mode = a->tree ? a->tree : bare ? "none" : "full";
    if (strcmp(mode, "full")) {
        /* sparse: only the folders asked for (none: a pattern nothing matches) */
        char *args[BISECT_MAX_ARGS] = {"sparse-checkout", "set", "--no-cone"};
        static char pats[16][300];
        int k = 3, np = 0;
        if (!strcmp(mode, "none")) {
            args[k++] = "/.kvverify-bisect-holds-no-files";
        } else {
            char list[2048];
            snprintf(list, sizeof list, "%s", mode);
            char *save = NULL;
            for (char *p = strtok_r(list, ",", &save); p && np < 16; p = strtok_r(NULL, ",", &save), np++) {
                snprintf(pats[np], sizeof pats[np], "/%s/", p);
                args[k++] = pats[np];
            }
        }
        args[k] = NULL;
        if (git_in(b, b->tree, args)) {
            fprintf(stderr, "kvverify: git sparse-checkout failed in %s (see %s/bisect.log)\n", b->tree, b->state);
            return -1;
        }
    }
    char *co[] = {"checkout", "-q", "--detach", b->bad, NULL};
    if (git_in(b, b->tree, co)) {
        fprintf(stderr, "kvverify: cannot check out %s in the temporary tree (files missing from the repository? "
                        "--tree none or --tree FOLDERS checks out less; see %s/bisect.log)\n", a->bad, b->state);
        return -1;
    }
    return 0;
}

static void remove_tree(bisect_t *b)
{
    if (!b->tmp[0] || strncmp(b->tmp, "/tmp/kvverify-bisect-", 21))
        return;
    char *rm[] = {"rm", "-rf", b->tmp, NULL};
    cli_proc_run(rm, b->log ? fileno(b->log) : -1);
}

static int prepare(bisect_t *b)
{
    const bisect_args *a = b->a;
    char *gd[] = {"rev-parse", "--absolute-git-dir", NULL}, *bare_q[] = {"rev-parse", "--is-bare-repository", NULL};
    char bare[16] = "";
    if (git_capture(a->dir, gd, b->gitdir, sizeof b->gitdir) || !b->gitdir[0]) {
        fprintf(stderr, "kvverify: %s is not a git repository (a work tree or a git directory)\n", a->dir);
        return -1;
    }
    git_capture(a->dir, bare_q, bare, sizeof bare);
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
    char path[4400];
    snprintf(path, sizeof path, "%s/bisect.log", b->state);
    if ((mkdir(b->state, 0755) && errno != EEXIST) || copy_file("/proc/self/exe", b->driver) ||
        copy_adapter(b->state) || !(b->log = fopen(path, "w"))) {
        fprintf(stderr, "kvverify: cannot set up %s: %s\n", b->state, strerror(errno));
        return -1;
    }
    if (make_tree(b, !strcmp(bare, "true")))
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
    } ends[] = {{b->bad, b->a->bad, "--bad", fixed ? STEP_OLD : STEP_NEW},
                {b->good, b->a->good, "--good", fixed ? STEP_NEW : STEP_OLD}};
    for (int i = 0; i < 2; i++) {
        char *co[] = {"checkout", "-q", "--detach", (char *)ends[i].sha, NULL};
        if (git_in(b, b->tree, co)) {
            fprintf(stderr, "kvverify: cannot check out %s\n", ends[i].rev);
            return -1;
        }
        int rc = step_here(b);
        if (cli_proc_caught())
            return -1; /* interrupted: said by the caller */
        if (rc == ends[i].want)
            continue;
        if (rc == STEP_SKIP)
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
    if (!log_says(logpath, said) || git_capture(b->tree, new_ref, first, sizeof first)) {
        printf("the first %s commit could not be determined:\n", b->term_new);
        print_undetermined(logpath);
        return 1;
    }
    char *subj[] = {"log", "-1", "--format=%s", first, NULL};
    git_capture(b->tree, subj, subject, sizeof subject);
    printf("first %s commit: %s %s\n", b->term_new, first, subject);
    char at[128], steplog[4500];
    snprintf(at, sizeof at, "%s", first);
    if (b->a->fixed) { /* the cases pass there: show them failing at its parent */
        char spec[80], *par[] = {"rev-parse", spec, NULL};
        snprintf(spec, sizeof spec, "%s^", first);
        if (git_capture(b->tree, par, at, sizeof at))
            at[0] = 0;
    }
    snprintf(steplog, sizeof steplog, "%s/%s.log", b->state, at);
    int n = at[0] ? bisect_scan_failures(steplog, b->a->rule, line, sizeof line) : 0;
    if (n > 0)
        printf("%d failing case%s %s, the first:\n%s", n, n == 1 ? "" : "s",
               b->a->fixed ? "at its parent" : "there", line);
    return 0;
}

/* After SIGINT or SIGTERM: the steps so far (git bisect log, which `git
 * bisect replay` takes back), then the caller removes the tree. */
static int interrupted(bisect_t *b, int started)
{
    int sig = cli_proc_caught();
    cli_proc_catch_signals(0);
    signal(SIGINT, SIG_IGN); /* a second Ctrl-C does not stop the clean-up */
    signal(SIGTERM, SIG_IGN);
    printf("\nbisect interrupted (%s) %s; the temporary tree %s is removed\n", strsignal(sig),
           started ? "during git bisect run" : "before git bisect run (checking the ends)", b->tmp);
    static char log[1 << 16];
    char *args[] = {"bisect", "log", NULL};
    if (started && b->tree[0] && git_capture(b->tree, args, log, sizeof log) == 0 && log[0]) {
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

int cmd_bisect(int argc, char **argv)
{
    bisect_args a;
    if (bisect_parse_args(argc, argv, &a, 0))
        return EXIT_USAGE;
    bisect_t b;
    memset(&b, 0, sizeof b);
    b.a = &a;
    /* SIGINT and SIGTERM are passed on to the git, build or run going on
     * (each in its own process group), which ends; we stay to say where the
     * bisect was and to remove the tree */
    cli_proc_catch_signals(1);
    if (prepare(&b)) {
        int rc = cli_proc_caught() ? interrupted(&b, 0) : EXIT_USAGE;
        remove_tree(&b);
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
    if (!cli_proc_caught() && check_ends(&b) == 0 && !cli_proc_caught()) {
        char tn[64], to[64];
        snprintf(tn, sizeof tn, "--term-new=%s", b.term_new);
        snprintf(to, sizeof to, "--term-old=%s", b.term_old);
        /* new term first: the bad commit, or with --fixed the fixed (good) one */
        char *start[] = {"bisect", "start", tn, to, a.fixed ? b.good : b.bad, a.fixed ? b.bad : b.good, "--", NULL};
        if (git_in(&b, b.tree, start) == 0) {
            started = 1;
            char *run[BISECT_MAX_ARGS + 30] = {"git", "-C", b.tree, "bisect", "run"};
            memcpy(run + 5, b.step, sizeof(char *) * (size_t)(b.nstep + 1));
            char said[64];
            snprintf(said, sizeof said, "is the first %s commit", b.term_new);
            fflush(b.log);
            if (!log_says(logpath, said) && !cli_proc_caught())
                cli_proc_filter(run, b.log, BISECT_STEP_PREFIX, stdout);
            fflush(b.log);
            if (!cli_proc_caught())
                rc = report(&b, logpath);
        } else if (!cli_proc_caught()) {
            fprintf(stderr, "kvverify: git bisect start failed (see %s)\n", logpath);
        }
    }
    if (cli_proc_caught())
        rc = interrupted(&b, started);
    remove_tree(&b);
    cli_proc_catch_signals(0);
    fclose(b.log);
    return rc;
}
