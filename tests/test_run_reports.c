/* The reports of `kvverify run` as a user meets them: a report that cannot
 * be written (a full device) is an error that names the file, and the other
 * reports are still complete; under --strict a declined case is a failure
 * in every report, not only in the exit status. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"

/* (scratch_path's result lasts three calls: the tests copy what they keep.)
 * Runs `kvverify ARGS` with stdout and stderr into the scratch folder;
 * returns the exit status (-1 if it did not exit). */
static int kvv(const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s/kvverify %s >%s 2>%s", kvv_build_dir(), args, scratch_path("kvv-runrep", "out.txt"),
             scratch_path("kvv-runrep", "err.txt"));
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    char *b = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&b, &n);
    int c;
    while ((c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(m);
    fclose(f);
    return b;
}

static char *out_text(void) { return slurp(scratch_path("kvv-runrep", "out.txt")); }
static char *err_text(void) { return slurp(scratch_path("kvv-runrep", "err.txt")); }

/* one quick case */
#define ONE_CASE "-b cpu -j1 -p 'quant/q8_0/d64/rows32/dist=rope/seed=100'"

static const struct {
    const char *opt, *what;
} formats[] = {{"--json", "JSON"}, {"--junit", "JUnit"}, {"--markdown", "Markdown"}, {"--html", "HTML"},
               {"--ratios", "ratio"}};
#define NFORMATS (sizeof formats / sizeof *formats)

static void test_full_device(void)
{
    if (access("/dev/full", W_OK))
        KVV_SKIP("no /dev/full to write to");
    for (size_t i = 0; i < NFORMATS; i++) {
        CU_ASSERT_EQUAL(kvv("run " ONE_CASE " %s /dev/full", formats[i].opt), 2);
        char *err = err_text();
        if (!strstr(err, "/dev/full") || !strstr(err, "No space left on device"))
            fprintf(stderr, "\n  %s /dev/full: %s\n", formats[i].opt, err);
        CU_ASSERT(strstr(err, "/dev/full") != NULL);
        CU_ASSERT(strstr(err, formats[i].what) != NULL);
        CU_ASSERT(strstr(err, "No space left on device") != NULL);
        free(err);
    }
    /* the other reports of the run are still written in full */
    char tsv[300], dir[300];
    snprintf(tsv, sizeof tsv, "%s", scratch_path("kvv-runrep", "ok.tsv"));
    CU_ASSERT_EQUAL(kvv("run " ONE_CASE " --json /dev/full --ratios %s", tsv), 2);
    char *t = slurp(tsv);
    CU_ASSERT(strstr(t, "quant/q8_0/d64/rows32/dist=rope/seed=100\tcpu\tpass\t") != NULL);
    free(t);
    /* --report-dir: a file of the folder that goes to a full device */
    snprintf(dir, sizeof dir, "%s", scratch_path("kvv-runrep", "dir"));
    CU_ASSERT_FATAL(mkdir(dir, 0777) == 0);
    char link[400];
    snprintf(link, sizeof link, "%s/junit.xml", dir);
    CU_ASSERT_FATAL(symlink("/dev/full", link) == 0);
    CU_ASSERT_EQUAL(kvv("run " ONE_CASE " --report-dir %s", dir), 2);
    char *err = err_text();
    CU_ASSERT(strstr(err, link) != NULL);
    free(err);
    snprintf(link, sizeof link, "%s/summary.md", dir);
    t = slurp(link);
    CU_ASSERT(strstr(t, "**PASS**") != NULL);
    free(t);
    /* a report to a full standard output */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/kvverify run " ONE_CASE " --json - >/dev/full 2>%s", kvv_build_dir(),
             scratch_path("kvv-runrep", "err.txt"));
    int st = system(cmd);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    err = err_text();
    CU_ASSERT(strstr(err, "standard output") != NULL);
    free(err);
    /* and what can be written exits 0 */
    CU_ASSERT_EQUAL(kvv("run " ONE_CASE " --json %s", scratch_path("kvv-runrep", "ok.jsonl")), 0);
}

/* The template plugin runs f16 and declines q8_0: one pass, one decline. */
#define PASS_AND_DECLINE                                                                                              \
    "-j1 -b %s/libkvv_template.so -p 'attn/d64/f16-f16/nq1/nkv256/h8/gqa4/dist=outlier/seed=1001,"                   \
    "attn/d64/q8_0-q8_0/nq1/nkv256/h8/gqa1/dist=rope/seed=1003'"

static void test_strict_declines(void)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s", scratch_path("kvv-runrep", "strict"));
    /* without --strict: a skip, exit 0 */
    CU_ASSERT_EQUAL(kvv("run " PASS_AND_DECLINE " --report-dir %s", kvv_build_dir(), dir), 0);
    char *out = out_text();
    CU_ASSERT(strstr(out, "2 checks: 1 passed, 0 failed, 1 skipped") != NULL);
    free(out);

    /* with --strict: a failure everywhere */
    CU_ASSERT_EQUAL(kvv("run --strict " PASS_AND_DECLINE " --report-dir %s", kvv_build_dir(), dir), 1);
    out = out_text();
    if (!strstr(out, "2 checks: 1 passed, 1 failed, 0 skipped"))
        fprintf(stderr, "\n%s\n", out);
    CU_ASSERT(strstr(out, "2 checks: 1 passed, 1 failed, 0 skipped") != NULL);
    CU_ASSERT(strstr(out, "FAIL ") != NULL && strstr(out, "[declined]") != NULL);
    CU_ASSERT(strstr(out, "--strict") != NULL);
    free(out);
    char p[512];
    snprintf(p, sizeof p, "%s/summary.md", dir);
    char *t = slurp(p);
    CU_ASSERT(strstr(t, "**FAIL**: 2 checks, 1 passed, 1 failed, 0 skipped") != NULL);
    CU_ASSERT(strstr(t, "| declined |") != NULL);
    free(t);
    snprintf(p, sizeof p, "%s/results.jsonl", dir);
    t = slurp(p);
    CU_ASSERT(strstr(t, "\"status\":\"fail\",\"rule\":\"declined\"") != NULL);
    CU_ASSERT(strstr(t, "\"fail\":1,\"skip\":0") != NULL);
    free(t);
    snprintf(p, sizeof p, "%s/junit.xml", dir);
    t = slurp(p);
    CU_ASSERT(strstr(t, "failures=\"1\"") != NULL && strstr(t, "type=\"declined\"") != NULL);
    CU_ASSERT(strstr(t, "<skipped") == NULL);
    free(t);
    snprintf(p, sizeof p, "%s/report.html", dir);
    t = slurp(p);
    CU_ASSERT(strstr(t, "<span class=\"badge fail\">FAIL</span>") != NULL);
    free(t);
    snprintf(p, sizeof p, "%s/ratios.tsv", dir);
    t = slurp(p);
    CU_ASSERT(strstr(t, "\ttemplate\tfail\t") != NULL || strstr(t, "libkvv_template.so\tfail\t") != NULL);
    free(t);
}

/* the scratch folder holds folders too: all of it goes */
static void cleanup(void)
{
    char d[256];
    snprintf(d, sizeof d, "%s", scratch_dir());
    scratch_remove();
    if (d[0])
        CU_ASSERT(access(d, F_OK) != 0);
}

void kvv_register_tests(void)
{
    static const kvv_test t[] = {{"a report to a full device exits 2 naming the file", test_full_device},
                                 {"--strict: a decline fails in every report", test_strict_declines},
                                 {"(cleanup)", cleanup},
                                 {NULL, NULL}};
    kvv_add_suite("reports of kvverify run", t);
}
