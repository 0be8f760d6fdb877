/* `kvverify bisect`: find the commit that broke a case, in any git
 * repository whose build produces a backend: this repository (its own
 * build/kvverify is run), or a port built as a plugin library (run with this
 * kvverify, -b LIB).
 *
 * It checks that the cases fail at --bad and pass at --good, then drives
 * `git bisect run` with `kvverify bisect-step` as the test: the step builds
 * (a failed build is `git bisect skip`, exit 125), runs the cases (exit 0
 * good, 1 bad, anything else skip), and keeps its output in
 * <git-dir>/kvverify-bisect/<commit>.log, from which the failing case of the
 * first bad commit is printed.  The driver is a copy of this binary, so that
 * rebuilding a checkout of this repository cannot replace it mid-run. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/cli.h"

#define DEFAULT_BUILD                                                                                              \
    "if [ -f CMakeLists.txt ]; then cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && "        \
    "cmake --build build -j \"$(nproc)\"; else make -s; fi"
#define DEFAULT_EXE "build/kvverify"
#define STEP_PREFIX "bisect: "
#define MAX_ARGS 64

enum { STEP_GOOD = 0, STEP_BAD = 1, STEP_SKIP = 125 };

typedef struct {
    const char *good, *bad, *dir, *build, *plugin, *exe, *pattern, *state, *repo;
    char **extra; /* run arguments after -- */
    int nextra;
} bisect_args;

static int parse_args(int argc, char **argv, bisect_args *a, int step)
{
    enum { O_GOOD = 256, O_BAD, O_BUILD, O_PLUGIN, O_EXE, O_STATE, O_REPO };
    static const struct option opts[] = {
        {"good", required_argument, 0, O_GOOD},     {"bad", required_argument, 0, O_BAD},
        {"build", required_argument, 0, O_BUILD},   {"plugin", required_argument, 0, O_PLUGIN},
        {"exe", required_argument, 0, O_EXE},       {"state", required_argument, 0, O_STATE},
        {"repo", required_argument, 0, O_REPO},
        {"pattern", required_argument, 0, 'p'},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->dir = ".";
    a->build = DEFAULT_BUILD;
    optind = 1;
    int ch;
    /* "+": stop at the first non-option, so that what follows -- is kept */
    while ((ch = getopt_long(argc, argv, "+C:p:h", opts, NULL)) != -1) {
        switch (ch) {
        case O_GOOD: a->good = optarg; break;
        case O_BAD: a->bad = optarg; break;
        case O_BUILD: a->build = optarg; break;
        case O_PLUGIN: a->plugin = optarg; break;
        case O_EXE: a->exe = optarg; break;
        case O_STATE: a->state = optarg; break;
        case O_REPO: a->repo = optarg; break;
        case 'C': a->dir = optarg; break;
        case 'p': a->pattern = optarg; break;
        case 'h': cli_usage(stdout); exit(0);
        default: return -1;
        }
    }
    a->extra = argv + optind;
    a->nextra = argc - optind;
    if (a->nextra + 8 > MAX_ARGS) {
        fprintf(stderr, "kvverify: too many run arguments\n");
        return -1;
    }
    if (a->plugin && a->exe) {
        fprintf(stderr, "kvverify: bisect takes --plugin LIB or --exe PATH, not both\n");
        return -1;
    }
    if (!a->exe && !a->plugin)
        a->exe = DEFAULT_EXE;
    if (step ? !a->state || !a->repo : !a->good || !a->bad) {
        fprintf(stderr, step ? "kvverify: bisect-step is run by kvverify bisect\n"
                             : "kvverify: bisect needs --good REV and --bad REV\n");
        return -1;
    }
    return 0;
}

/* Append src to the string in dst (of n bytes), cut to fit. */
static void append(char *dst, size_t n, const char *src)
{
    size_t k = strlen(dst), m = strlen(src);
    if (k + 1 >= n)
        return;
    if (m > n - 1 - k)
        m = n - 1 - k;
    memcpy(dst + k, src, m);
    dst[k + m] = 0;
}

/* The failing lines a run printed: the count, and the first failure (its
 * two lines, "FAIL backend case" and "[rule] detail") in first. */
static int scan_failures(const char *log, char *first, size_t n)
{
    FILE *f = fopen(log, "r");
    int count = 0;
    if (first && n)
        first[0] = 0;
    if (!f)
        return 0;
    char line[2048];
    int take_next = 0;
    while (fgets(line, sizeof line, f)) {
        if (take_next && first) {
            append(first, n, line);
            take_next = 0;
        }
        if (!strncmp(line, "FAIL ", 5)) {
            if (count == 0 && first) {
                append(first, n, line);
                take_next = 1;
            }
            count++;
        }
    }
    fclose(f);
    return count;
}

/* ---- the step: runs inside `git bisect run` ---- */

int cmd_bisect_step(int argc, char **argv)
{
    bisect_args a;
    if (parse_args(argc, argv, &a, 1))
        return STEP_SKIP;
    char top[4096], sha[64], subject[256], self[4096];
    char *git_top[] = {"git", "rev-parse", "--show-toplevel", NULL};
    char *git_head[] = {"git", "rev-parse", "HEAD", NULL};
    char *git_subject[] = {"git", "log", "-1", "--format=%s", NULL};
    if (chdir(a.repo) || cli_proc_capture(git_top, top, sizeof top) || chdir(top) ||
        cli_proc_capture(git_head, sha, sizeof sha)) {
        printf(STEP_PREFIX "%s is not a git checkout: skipped\n", a.repo);
        return STEP_SKIP;
    }
    if (cli_proc_capture(git_subject, subject, sizeof subject))
        subject[0] = 0;
    char logpath[4200];
    snprintf(logpath, sizeof logpath, "%s/%s.log", a.state, sha);
    FILE *log = fopen(logpath, "w");
    if (!log) {
        printf(STEP_PREFIX "%.12s: cannot write %s: skipped\n", sha, logpath);
        return STEP_SKIP;
    }
    fprintf(log, "$ %s\n", a.build);
    fflush(log);
    char *build[] = {"/bin/sh", "-c", (char *)a.build, NULL};
    int rc = cli_proc_run(build, fileno(log));
    if (rc != 0) {
        fclose(log);
        printf(STEP_PREFIX "%.12s %s: build failed (exit %d): skipped\n", sha, subject, rc);
        return STEP_SKIP;
    }
    /* the test: this kvverify with the built plugin, or the built kvverify */
    char *test[MAX_ARGS];
    char lib[8200];
    int k = 0;
    if (a.plugin) {
        ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
        self[len > 0 ? len : 0] = 0;
        snprintf(lib, sizeof lib, "%s%s%s", a.plugin[0] == '/' ? "" : top, a.plugin[0] == '/' ? "" : "/", a.plugin);
        test[k++] = self;
        test[k++] = "run";
        test[k++] = "-b";
        test[k++] = lib;
    } else {
        snprintf(lib, sizeof lib, "%s%s%s", a.exe[0] == '/' ? "" : top, a.exe[0] == '/' ? "" : "/", a.exe);
        if (access(lib, X_OK)) {
            fclose(log);
            printf(STEP_PREFIX "%.12s %s: the build made no %s: skipped\n", sha, subject, a.exe);
            return STEP_SKIP;
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
    rc = cli_proc_run(test, fileno(log));
    fclose(log);
    char first[1500];
    int nfail = scan_failures(logpath, first, sizeof first);
    if (rc == 0) {
        printf(STEP_PREFIX "%.12s %s: every case passes: good\n", sha, subject);
        return STEP_GOOD;
    }
    if (rc == 1 && nfail > 0) {
        first[strcspn(first, "\n")] = 0;
        printf(STEP_PREFIX "%.12s %s: %d failing (%s): bad\n", sha, subject, nfail, first);
        return STEP_BAD;
    }
    printf(STEP_PREFIX "%.12s %s: the run ended with status %d and no failing case (see %s): skipped\n", sha, subject,
           rc, logpath);
    return STEP_SKIP;
}

/* ---- the driver ---- */

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

typedef struct {
    const bisect_args *a;
    char gitdir[4096], top[4096], state[4200], driver[4300], orig[256];
    char good[64], bad[64];
    FILE *log;
    char *step[MAX_ARGS + 16];
    int nstep;
} bisect_t;

static int git(bisect_t *b, char **args)
{
    char *argv[16] = {"git", "-C", (char *)b->a->dir};
    int k = 3;
    for (int i = 0; args[i] && k < 15; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    fflush(b->log);
    return cli_proc_run(argv, fileno(b->log));
}

static int git_capture(const bisect_args *a, char **args, char *buf, size_t n)
{
    char *argv[16] = {"git", "-C", (char *)a->dir};
    int k = 3;
    for (int i = 0; args[i] && k < 15; i++)
        argv[k++] = args[i];
    argv[k] = NULL;
    return cli_proc_capture(argv, buf, n);
}

static int resolve(const bisect_args *a, const char *rev, char *sha, size_t n)
{
    char spec[512];
    snprintf(spec, sizeof spec, "%s^{commit}", rev);
    char *args[] = {"rev-parse", "--verify", "-q", spec, NULL};
    if (git_capture(a, args, sha, n) || !sha[0]) {
        fprintf(stderr, "kvverify: '%s' is not a commit of the repository in %s\n", rev, a->dir);
        return -1;
    }
    return 0;
}

/* Run the step at the checked-out commit (outside git bisect). */
static int step_here(bisect_t *b)
{
    char *argv[MAX_ARGS + 16];
    memcpy(argv, b->step, sizeof(char *) * (size_t)(b->nstep + 1));
    return cli_proc_filter(argv, b->log, STEP_PREFIX, stdout);
}

static int prepare(bisect_t *b)
{
    const bisect_args *a = b->a;
    char *gd[] = {"rev-parse", "--absolute-git-dir", NULL}, *tl[] = {"rev-parse", "--show-toplevel", NULL};
    if (git_capture(a, gd, b->gitdir, sizeof b->gitdir) || !b->gitdir[0] ||
        git_capture(a, tl, b->top, sizeof b->top) || !b->top[0]) {
        fprintf(stderr, "kvverify: %s is not in the working tree of a git repository\n", a->dir);
        return -1;
    }
    if (resolve(a, a->good, b->good, sizeof b->good) || resolve(a, a->bad, b->bad, sizeof b->bad))
        return -1;
    char path[4300], dirty[4096];
    snprintf(path, sizeof path, "%s/BISECT_LOG", b->gitdir);
    if (!access(path, F_OK)) {
        fprintf(stderr, "kvverify: a bisect is already in progress in %s (git bisect reset ends it)\n", a->dir);
        return -1;
    }
    char *st[] = {"status", "--porcelain", "--untracked-files=no", NULL};
    if (git_capture(a, st, dirty, sizeof dirty) || dirty[0]) {
        fprintf(stderr, "kvverify: the working tree of %s has changes; commit or stash them first\n", a->dir);
        return -1;
    }
    char *sym[] = {"symbolic-ref", "-q", "--short", "HEAD", NULL}, *head[] = {"rev-parse", "HEAD", NULL};
    if (git_capture(a, sym, b->orig, sizeof b->orig) || !b->orig[0])
        git_capture(a, head, b->orig, sizeof b->orig);
    snprintf(b->state, sizeof b->state, "%s/kvverify-bisect", b->gitdir);
    snprintf(b->driver, sizeof b->driver, "%s/kvverify", b->state);
    snprintf(path, sizeof path, "%s/bisect.log", b->state);
    if ((mkdir(b->state, 0755) && errno != EEXIST) || copy_file("/proc/self/exe", b->driver) ||
        !(b->log = fopen(path, "w"))) {
        fprintf(stderr, "kvverify: cannot set up %s: %s\n", b->state, strerror(errno));
        return -1;
    }
    int k = 0;
    b->step[k++] = b->driver;
    b->step[k++] = "bisect-step";
    b->step[k++] = "--state";
    b->step[k++] = b->state;
    b->step[k++] = "--repo";
    b->step[k++] = b->top;
    b->step[k++] = "--build";
    b->step[k++] = (char *)a->build;
    b->step[k++] = a->plugin ? "--plugin" : "--exe";
    b->step[k++] = (char *)(a->plugin ? a->plugin : a->exe);
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

/* Both ends must behave as claimed before bisecting between them. */
static int check_ends(bisect_t *b)
{
    const struct {
        const char *sha, *rev, *flag;
        int want;
    } ends[] = {{b->bad, b->a->bad, "--bad", STEP_BAD}, {b->good, b->a->good, "--good", STEP_GOOD}};
    for (int i = 0; i < 2; i++) {
        char *co[] = {"checkout", "-q", "--detach", (char *)ends[i].sha, NULL};
        if (git(b, co)) {
            fprintf(stderr, "kvverify: cannot check out %s\n", ends[i].rev);
            return -1;
        }
        int rc = step_here(b);
        if (rc == ends[i].want)
            continue;
        if (rc == STEP_SKIP)
            fprintf(stderr, "kvverify: %s %s cannot be tested (build failed or the run did not complete; see %s/%s.log)\n",
                    ends[i].flag, ends[i].rev, b->state, ends[i].sha);
        else if (ends[i].want == STEP_BAD)
            fprintf(stderr, "kvverify: the cases pass at --bad %s: nothing to bisect\n", ends[i].rev);
        else
            fprintf(stderr, "kvverify: the cases already fail at --good %s\n", ends[i].rev);
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

int cmd_bisect(int argc, char **argv)
{
    bisect_args a;
    if (parse_args(argc, argv, &a, 0))
        return EXIT_USAGE;
    bisect_t b;
    memset(&b, 0, sizeof b);
    b.a = &a;
    if (prepare(&b)) {
        if (b.log)
            fclose(b.log);
        return EXIT_USAGE;
    }
    /* Ctrl-C reaches the build and the run; we stay to restore the checkout */
    void (*old_int)(int) = signal(SIGINT, SIG_IGN);
    int rc = 1;
    char logpath[4400];
    snprintf(logpath, sizeof logpath, "%s/bisect.log", b.state);
    printf("bisecting %s: good %.12s, bad %.12s; logs in %s\n", a.dir, b.good, b.bad, b.state);
    if (check_ends(&b) == 0) {
        char *start[] = {"bisect", "start", b.bad, b.good, "--", NULL};
        if (git(&b, start) == 0) {
            char *run[MAX_ARGS + 20] = {"git", "-C", (char *)a.dir, "bisect", "run"};
            memcpy(run + 5, b.step, sizeof(char *) * (size_t)(b.nstep + 1));
            if (!log_says(logpath, "is the first bad commit"))
                cli_proc_filter(run, b.log, STEP_PREFIX, stdout);
            char first[64], subject[512], line[1500];
            char *bad_ref[] = {"rev-parse", "refs/bisect/bad", NULL};
            if (log_says(logpath, "is the first bad commit") && git_capture(&a, bad_ref, first, sizeof first) == 0) {
                char *subj[] = {"log", "-1", "--format=%s", first, NULL};
                git_capture(&a, subj, subject, sizeof subject);
                printf("first bad commit: %s %s\n", first, subject);
                char steplog[4500];
                snprintf(steplog, sizeof steplog, "%s/%s.log", b.state, first);
                int n = scan_failures(steplog, line, sizeof line);
                if (n > 0)
                    printf("%d failing case%s there, the first:\n%s", n, n == 1 ? "" : "s", line);
                rc = 0;
            } else {
                printf("the first bad commit could not be determined:\n");
                print_undetermined(logpath);
            }
        } else {
            fprintf(stderr, "kvverify: git bisect start failed (see %s)\n", logpath);
        }
        char *reset[] = {"bisect", "reset", b.orig, NULL};
        git(&b, reset);
    } else {
        char *back[] = {"checkout", "-q", b.orig, NULL};
        git(&b, back);
    }
    signal(SIGINT, old_int);
    fclose(b.log);
    return rc;
}
