/* The harness of tests/harness.h: suites, skips, paths, scratch
 * directories, commands, cases and backends.  (main is tests/cunit_main.c;
 * the defect backends are tests/harness/defect.c.) */
#include <CUnit/CUnit.h>
#include <CUnit/TestRun.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oracle/run.h"
#include "oracle/verdict.h"
#include "tests/harness.h"

/* a failure of the harness itself (memory, a missing table): fatal, and not
 * counted as a check when it holds */
#define NEED(x)                                                                                                        \
    do {                                                                                                               \
        if (!(x))                                                                                                      \
            CU_FAIL_FATAL(#x);                                                                                         \
    } while (0)

/* ---- suites ---- */

void kvv_add_suite(const char *name, const kvv_test *tests)
{
    CU_pSuite s = CU_add_suite(name, NULL, NULL);
    for (const kvv_test *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}

/* ---- skips ---- */

static int nskips;

void kvv_skip(const char *fmt, ...)
{
    char why[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    CU_pTest t = CU_get_current_test();
    /* on its own line, so that a log shows every skip with grep SKIPPED */
    fprintf(stdout, "\n    SKIPPED (%s): %s\n", t && t->pName ? t->pName : "?", why);
    fflush(stdout);
    nskips++;
}

int kvv_skip_count(void) { return nskips; }

/* ---- paths ---- */

#ifndef KVV_TEST_BUILD_DIR
#define KVV_TEST_BUILD_DIR "build"
#endif
#ifndef KVV_TEST_SOURCE_DIR
#define KVV_TEST_SOURCE_DIR "."
#endif

const char *kvv_build_dir(void)
{
    const char *b = getenv("KVV_BUILD_DIR");
    return b && *b ? b : KVV_TEST_BUILD_DIR;
}

const char *kvv_source_dir(void)
{
    const char *s = getenv("KVV_SOURCE_DIR");
    return s && *s ? s : KVV_TEST_SOURCE_DIR;
}

const char *cli_build_dir(void) { return kvv_build_dir(); }

const char *kvv_path(char *buf, size_t n, const char *dir, const char *rel)
{
    snprintf(buf, n, "%s/%s", dir, rel);
    return buf;
}

const char *cli_exe(void)
{
    static char path[1024];
    return kvv_path(path, sizeof path, kvv_build_dir(), "kvverify");
}

const char *cli_plugin(const char *kind)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/tests/plugins/libhostile_%s.so", kvv_build_dir(), kind);
    return path;
}

int kvv_have_command(const char *name)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "command -v '%s' >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

/* ---- scratch directories ---- */

static char scratch[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void scratch_remove(void)
{
    if (!scratch[0])
        return;
    nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    scratch[0] = 0;
}

const char *scratch_dir(void) { return scratch; }

const char *scratch_path(const char *prefix, const char *name)
{
    static char buf[4][512];
    static int k, registered;
    if (!scratch[0]) {
        snprintf(scratch, sizeof scratch, "/tmp/%s-XXXXXX", prefix);
        NEED(mkdtemp(scratch) != NULL);
        if (!registered++)
            atexit(scratch_remove);
    }
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", scratch, name);
    return buf[k];
}

/* ---- commands ---- */

double cli_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int cli_status(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0); }

int cli_run_limit(double limit, const char *args, char *out, size_t n)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "timeout -s KILL %g %s %s 2>&1", limit, cli_exe(), args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t len = 0;
    for (size_t r; len + 1 < n && (r = fread(out + len, 1, n - 1 - len, p)) > 0;)
        len += r;
    out[len] = 0;
    char sink[4096];
    while (fread(sink, 1, sizeof sink, p) > 0) /* the rest, so that the command is not killed by SIGPIPE */
        ;
    int st = cli_status(pclose(p));
    return st == 128 + SIGKILL ? 124 : st;
}

int cli_run(const char *args, char *out, size_t n) { return cli_run_limit(60, args, out, n); }

int cli_expect(const char *args, int status, const char *needle, char *out, size_t n)
{
    int st = cli_run_limit(120, args, out, n);
    int ok = st == status && (!needle || strstr(out, needle));
    if (!ok)
        fprintf(stderr, "\nkvverify %s\n  exit %d (wanted %d), wanted '%s' in:\n%s\n", args, st, status,
                needle ? needle : "", out);
    return ok;
}

pid_t cli_start(const char *args, const char *log)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "exec %s %s >%s 2>&1", cli_exe(), args, log);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        setpgid(pid, pid); /* also here, so that a signal to the group right away finds it */
    return pid;
}

int cli_wait(pid_t pid, double limit)
{
    double t0 = cli_mono();
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return cli_status(st);
        if (r < 0)
            return -1;
        if (cli_mono() - t0 > limit) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            return 124;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int cli_wait_for_text(const char *path, const char *text, double limit)
{
    double t0 = cli_mono();
    static char buf[1 << 16];
    while (cli_mono() - t0 < limit) {
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            buf[n] = 0;
            fclose(f);
            if (strstr(buf, text))
                return 1;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

const char *cli_slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    size_t k = f ? fread(buf, 1, n - 1, f) : 0;
    buf[k] = 0;
    if (f)
        fclose(f);
    return buf;
}

int kvv_sh(const char *cmd, char *out, size_t n)
{
    fflush(NULL);
    FILE *p = popen(cmd, "r");
    size_t k = 0;
    if (out && n)
        out[0] = 0;
    if (!p)
        return -1;
    char sink[4096];
    for (;;) {
        size_t r = out && k + 1 < n ? fread(out + k, 1, n - 1 - k, p) : fread(sink, 1, sizeof sink, p);
        if (r == 0)
            break;
        if (out && k + 1 < n)
            k += r;
    }
    if (out && n)
        out[k] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- cases and backends ---- */

kvv_case kvv_case_named(const char *fmt, ...)
{
    char name[1024], err[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    kvv_case c;
    if (kvv_case_parse(name, &c, err, sizeof err)) {
        fprintf(stderr, "\n  %s: %s\n", name, err);
        CU_FAIL_FATAL("a case name that does not parse");
    }
    return c;
}

kvv_verdict run_named(const kvv_backend *b, const char *name)
{
    kvv_case c;
    char err[256];
    kvv_verdict v;
    kvv_verdict_init(&v);
    if (kvv_case_parse(name, &c, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", name, err);
        v.status = KVV_FAIL;
        return v;
    }
    kvv_run_case(&c, b, &v);
    if (v.status != KVV_PASS)
        fprintf(stderr, "  %s: %s %s\n", name, kvv_status_name(v.status), v.detail);
    return v;
}

int kvv_types_of(int family, kvv_type *out)
{
    int n = 0;
    for (int t = 0; t < KVV_TYPE_COUNT; t++)
        if (family < 0 || (int)kvv_type_get((kvv_type)t)->family == family)
            out[n++] = (kvv_type)t;
    return n;
}

static kvv_test_backend opened[8];
static int nopened = -1;
static char opened_names[8][64];

static void close_backends(void)
{
    for (int i = 0; i < nopened; i++)
        if (opened[i].b->destroy && strcmp(opened[i].name, "cpu")) /* the CPU backend is the process's */
            opened[i].b->destroy(opened[i].b->ctx);
    nopened = 0;
}

static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == 0))
            return 1;
    }
    return 0;
}

int kvv_test_backends(const char *except, const kvv_test_backend **out)
{
    static char missing[8][600];
    static int nmissing;
    static kvv_test_backend list[8];
    if (nopened < 0) {
        nopened = 0;
        char names[256], lib[1024], why[500];
        snprintf(names, sizeof names, "%s", kvv_backend_builtin_names());
        const char *all[9];
        int n = 0;
        char *save = NULL;
        for (char *s = strtok_r(names, ",", &save); s && n < 7; s = strtok_r(NULL, ",", &save))
            all[n++] = s;
        all[n++] = kvv_path(lib, sizeof lib, kvv_build_dir(), "libkvv_template.so");
        for (int i = 0; i < n; i++) {
            if (in_list(except, all[i]))
                continue;
            const kvv_backend *b = kvv_backend_open(all[i], why, sizeof why);
            if (!b) {
                snprintf(missing[nmissing++], sizeof missing[0], "backend %s: %s", all[i], why);
                continue;
            }
            snprintf(opened_names[nopened], sizeof opened_names[0], "%s", b->name);
            opened[nopened].name = opened_names[nopened];
            opened[nopened++].b = b;
        }
        atexit(close_backends); /* release devices before the leak check */
    }
    for (int i = 0; i < nmissing; i++)
        kvv_skip("%s", missing[i]);
    int k = 0;
    for (int i = 0; i < nopened; i++)
        if (!in_list(except, opened[i].name))
            list[k++] = opened[i];
    *out = list;
    return k;
}

/* ---- per-family checks ---- */

static const char *const family_names[] = {"float", "block", "turbo"};
#define NFAMILIES 3

/* one case: a pass, or a decline that says why; counted */
static void family_case(const char *bname, const kvv_backend *b, const char *name, int *pass, int *skip)
{
    kvv_case c = kvv_case_named("%s", name);
    kvv_verdict v;
    kvv_run_case(&c, b, &v);
    if (v.status == KVV_PASS) {
        (*pass)++;
        return;
    }
    if (v.status == KVV_SKIP && v.detail[0]) {
        (*skip)++;
        return;
    }
    printf("\n    %s on %s: %s [%s] %s", name, bname, kvv_status_name(v.status), kvv_rule_name(v.rule), v.detail);
    CU_FAIL("neither a pass nor a declined case");
}

void kvv_check_families(const char *bname, const kvv_backend *b, int all_pass)
{
    kvv_type first[NFAMILIES];
    for (int f = 0; f < NFAMILIES; f++) {
        kvv_type ts[KVV_TYPE_COUNT];
        NEED(kvv_types_of(f, ts) > 0);
        first[f] = ts[0];
    }
    for (int f = 0; f < NFAMILIES; f++) {
        kvv_type ts[KVV_TYPE_COUNT];
        int nt = kvv_types_of(f, ts), pass = 0, skip = 0;
        /* K of the next family's first type, for each type as V under another K */
        const char *k = kvv_type_name(first[(f + 1) % NFAMILIES]);
        for (int t = 0; t < nt; t++) {
            const char *a = kvv_type_name(ts[t]);
            char name[300];
            snprintf(name, sizeof name, "quant/%s/d128/rows2/dist=outlier/seed=%d", a, 10 + t);
            family_case(bname, b, name, &pass, &skip);
            snprintf(name, sizeof name, "dequant/%s/d128/rows2/dist=heavy/seed=%d", a, 20 + t);
            family_case(bname, b, name, &pass, &skip);
            snprintf(name, sizeof name, "attn/d128/%s-%s/nq2/nkv16/h2/gqa2/mask=causal/dist=gauss/seed=%d", a, a,
                     30 + t);
            family_case(bname, b, name, &pass, &skip);
            snprintf(name, sizeof name, "attn/d128/%s-%s/nq1/nkv16/h2/gqa1/dist=outlier/seed=%d", k, a, 40 + t);
            family_case(bname, b, name, &pass, &skip);
        }
        if (getenv("KVV_TEST_VERBOSE"))
            printf("\n    %s, %s family: %d passed, %d declined", bname, family_names[f], pass, skip);
        if (all_pass)
            CU_ASSERT_EQUAL(pass, 4 * nt);
    }
}
