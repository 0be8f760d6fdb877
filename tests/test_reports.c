/* File reporters (JSON lines, JUnit XML, Markdown, ratio TSV) on a crafted
 * run, read back by independent checks; and the baseline comparison of
 * `kvverify compare`, as a function and as a command. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oracle/cases.h"
#include "oracle/run.h"
#include "reports/reports.h"
#include "tests/json_check.h"
#include "tests/harness.h"

/* ---------------- a crafted run ---------------- */

#define NSYN 6
/* a backend name that needs escaping in every format */
static const char odd_backend[] = "plug\"in<&>";
static kvv_run_info info = {"0.1.0", "abc123", "test machine", "2026-01-01T00:00:00Z", "kvverify run --test \"x\"",
                            2, {"cpu", odd_backend}, 3, 0};

typedef struct {
    kvv_case c;
    int backend;
    kvv_verdict v;
} syn_t;

static void make_run(syn_t *s)
{
    memset(s, 0, sizeof *s * NSYN);
    kvv_case attn = kvv_case_default(KVV_OP_ATTN);
    attn.dk = attn.dv = 256;
    attn.type_k = KVV_Q8_0;
    attn.type_v = KVV_TURBO3;
    attn.n_head = 8;
    attn.n_head_kv = 2;
    attn.tg.cache = 1;
    attn.seed = 7;
    kvv_case quant = kvv_case_default(KVV_OP_QUANT);
    quant.type_k = quant.type_v = KVV_Q4_0;
    quant.dk = quant.dv = 128;
    kvv_case f16 = attn;
    f16.type_k = f16.type_v = KVV_F16;
    f16.dk = f16.dv = 128;
    f16.tg.cache = 0;

    for (int i = 0; i < NSYN; i++) {
        s[i].v.status = KVV_PASS;
        s[i].v.rule = KVV_RULE_NONE;
    }
    s[0] = (syn_t){attn, 0, {.status = KVV_PASS, .arith_ratio = 0.125, .budget_ratio = 0.9, .checked = 2048}};
    s[1] = (syn_t){attn, 1, {.status = KVV_FAIL, .rule = KVV_RULE_ARITH, .arith_ratio = 3.5, .budget_ratio = 1.25,
                             .checked = 2048, .t_backend = 0.5, .t_ref = 0.25}};
    snprintf(s[1].v.detail, sizeof s[1].v.detail, "out[1,2] <&> \"quoted\" | piped\nsecond line\ttab");
    s[1].v.ndiffs = 2;
    s[1].v.diffs[0] = (kvv_diff){1, 2, 1.5, 1.25, 0.0625};
    s[1].v.diffs[1] = (kvv_diff){1, 7, -3.0, -2.5, 0.125};
    /* a row op and a skip have no ratios (NaN) */
    s[2] = (syn_t){quant, 0, {.status = KVV_FAIL, .rule = KVV_RULE_BYTES, .arith_ratio = NAN, .budget_ratio = NAN,
                              .ties = 3, .tie_candidates = 9, .checked = 4096}};
    snprintf(s[2].v.detail, sizeof s[2].v.detail, "row 0 block 1 byte 4: got 1f, expected 2f");
    s[2].v.ndiffs = 1;
    s[2].v.diffs[0] = (kvv_diff){0, 22, 0x1f, 0x2f, 0};
    s[3] = (syn_t){quant, 1, {.status = KVV_SKIP, .arith_ratio = NAN, .budget_ratio = NAN}};
    snprintf(s[3].v.detail, sizeof s[3].v.detail, "backend declined: no q4_0");
    s[4] = (syn_t){f16, 0, {.status = KVV_FAIL, .rule = KVV_RULE_BUDGET, .arith_ratio = 0.5,
                            .budget_ratio = INFINITY}};
    snprintf(s[4].v.detail, sizeof s[4].v.detail, "rms error vs unquantized is inf x");
    s[5] = (syn_t){f16, 1, {.status = KVV_PASS, .arith_ratio = 0.0, .budget_ratio = 1.5}};
}

/* Drive a reporter through the crafted run into a memory buffer; with
 * finish = 0 the run stops before end() (a killed run). */
static char *drive(kvv_reporter *r, FILE *f, char **buf, int finish)
{
    syn_t s[NSYN];
    make_run(s);
    kvv_summary sum;
    memset(&sum, 0, sizeof sum);
    sum.nbackends = 2;
    sum.seconds = 1.5;
    r->begin(r, &info);
    for (int i = 0; i < NSYN; i++) {
        char name[512];
        kvv_case_name(&s[i].c, name, sizeof name);
        kvv_summary_add(&sum, s[i].c.op, s[i].backend, &s[i].v);
        r->result(r, &s[i].c, name, s[i].backend, &s[i].v);
    }
    if (finish)
        r->end(r, &sum);
    r->destroy(r);
    fclose(f);
    return *buf;
}

typedef kvv_reporter *(*make_fn)(FILE *);

static char *report(make_fn mk, int finish)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_FATAL(f != NULL);
    kvv_reporter *r = mk(f);
    CU_ASSERT_FATAL(r != NULL);
    return drive(r, f, &buf, finish);
}

static int count(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub))
        n++;
    return n;
}

/* ---------------- JSON lines ---------------- */

static const char *const case_fields[] = {
    "name",   "backend", "op",          "type_k",       "type_v", "dk",   "dv",    "n_q",      "n_kv",
    "n_head", "n_head_kv", "mask",      "toggles",      "dist",   "seed", "status", "rule",    "detail",
    "arith_ratio", "budget_ratio", "ties", "tie_candidates", "checked", "t_backend", "t_ref", "diffs", NULL};

static void test_json_lines(void)
{
    char *out = report(kvv_reporter_json, 1);
    syn_t s[NSYN];
    make_run(s);
    CU_ASSERT(strstr(out, "\n{\"record\":\"summary\"") != NULL);
    int line = 0, cases = 0;
    char *save = NULL;
    for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save), line++) {
        CU_ASSERT(jc_is_object(l));
        char rec[32] = "", v[700];
        CU_ASSERT(jc_member(l, "record", rec, sizeof rec) == 0);
        if (line == 0)
            CU_ASSERT_STRING_EQUAL(rec, "run");
        if (strcmp(rec, "case"))
            continue;
        CU_ASSERT_FATAL(cases < NSYN);
        for (int k = 0; case_fields[k]; k++)
            CU_ASSERT(jc_member(l, case_fields[k], v, sizeof v) == 0);
        /* the name round-trips, and parses back into the same case */
        char want[512], got[512];
        kvv_case_name(&s[cases].c, want, sizeof want);
        CU_ASSERT(jc_member(l, "name", got, sizeof got) == 0);
        CU_ASSERT_STRING_EQUAL(got, want);
        kvv_case back;
        char why[200];
        CU_ASSERT(kvv_case_parse(got, &back, why, sizeof why) == 0);
        kvv_case_name(&back, got, sizeof got);
        CU_ASSERT_STRING_EQUAL(got, want);
        CU_ASSERT(jc_member(l, "backend", got, sizeof got) == 0);
        CU_ASSERT_STRING_EQUAL(got, info.backends[s[cases].backend]);
        CU_ASSERT(jc_member(l, "detail", got, sizeof got) == 0);
        CU_ASSERT_STRING_EQUAL(got, s[cases].v.detail);
        cases++;
    }
    CU_ASSERT_EQUAL(cases, NSYN);
    free(out);

    out = report(kvv_reporter_json, 1);
    /* an infinite ratio is the string "inf"; the arith failure keeps its figure and differences */
    CU_ASSERT(strstr(out, "\"budget_ratio\":\"inf\"") != NULL);
    CU_ASSERT(strstr(out, "\"status\":\"fail\",\"rule\":\"arith\"") != NULL);
    CU_ASSERT(strstr(out, "\"arith_ratio\":3.5") != NULL);
    CU_ASSERT(strstr(out, "{\"row\":1,\"col\":7,\"got\":-3,\"want\":-2.5,\"bound\":0.125}") != NULL);
    CU_ASSERT(strstr(out, "\"toggles\":{\"threads\":1,\"split\":1,\"cache\":1,\"lut\":8") != NULL);
    free(out);
}

static void test_json_killed_run(void)
{
    /* no end(): every line written so far is a complete object */
    char *out = report(kvv_reporter_json, 0);
    size_t n = strlen(out);
    CU_ASSERT(n > 0 && out[n - 1] == '\n');
    int lines = 0;
    char *save = NULL;
    for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save), lines++)
        CU_ASSERT(jc_is_object(l));
    CU_ASSERT_EQUAL(lines, 1 + NSYN);
    free(out);
}

/* ---------------- cases without a ratio ---------------- */

/* A real run (runner, oracle): a crash, all-NaN output and a row op carry no
 * ratio, which every format writes as none (null, "-"), never as 0; a
 * correct attention case keeps its two ratios. */
static void test_no_ratio_is_null(void)
{
    /* the CPU backend, except that attention fails (KVV_FAILED) at head dim
     * 64 and writes NaN everywhere at head dim 128 over 32 rows */
    static const kvv_plant faults[2] = {{"crash", "attn/d64/*"}, {"nan_all", "attn/d128/*/nkv32/*"}};
    kvv_backend *broken = kvv_defect_backend("broken", faults, 2);
    const kvv_backend *tables[1] = {broken};
    const char *names[1] = {"broken"};
    kvv_case_list l = {0};
    static const int dims[3] = {64, 128, 256};
    for (int i = 0; i < 3; i++) {
        kvv_case c = kvv_case_named("attn/d%d/q8_0-q8_0/nq2/nkv32/h2/gqa1/dist=gauss/seed=5", dims[i]);
        kvv_case_list_push(&l, &c);
    }
    kvv_case q = kvv_case_named("quant/q8_0/d64/rows4/dist=gauss/seed=1");
    kvv_case_list_push(&l, &q);
    /* f16 overflows on these inputs: the output is infinite where the
     * reference's is (the finite rule passes it), nothing finite is left to
     * measure a ratio on, and there is none (not 0, and not an infinite
     * budget ratio that would fail a correct backend) */
    kvv_case huge = kvv_case_named("attn/d128/f16-f16/nq1/nkv1/h2/gqa1/dist=huge/seed=31");
    kvv_case_list_push(&l, &huge);
    kvv_run_info ri = {"t", "0", "m", "2026-01-01T00:00:00Z", "", 1, {"broken"}, l.n, 0};
    char *bj = NULL, *bt = NULL, *bu = NULL;
    size_t nj, nt, nu;
    FILE *fj = open_memstream(&bj, &nj), *ft = open_memstream(&bt, &nt), *fu = open_memstream(&bu, &nu);
    kvv_reporter *reps[3] = {kvv_reporter_json(fj), kvv_reporter_ratios(ft), kvv_reporter_junit(fu)};
    kvv_run_opts o = {.backend_names = names, .nbackends = 1, .backends = tables, .cases = l.items, .ncases = l.n,
                      .reporters = reps, .nreporters = 3, .jobs = 0, .timeout = 60, .info = &ri};
    kvv_summary sum;
    CU_ASSERT_EQUAL(kvv_run(&o, &sum), 2);
    kvv_defect_free(broken);
    for (int i = 0; i < 3; i++)
        reps[i]->destroy(reps[i]);
    fclose(fj);
    fclose(ft);
    fclose(fu);
    /* JSON: per case, in order: crash, NaN output, a pass, the row op, overflow */
    static const char *const want[5][3] = {{"fail", "null", "null"},
                                           {"fail", "null", "null"},
                                           {"pass", "", ""},
                                           {"pass", "null", "null"},
                                           {"pass", "null", "null"}};
    int k = 0;
    char *save = NULL;
    for (char *line = strtok_r(bj, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char rec[16] = "", st[16] = "", a[64] = "", b[64] = "";
        CU_ASSERT(jc_is_object(line));
        jc_member(line, "record", rec, sizeof rec);
        if (strcmp(rec, "case"))
            continue;
        CU_ASSERT_FATAL(k < 5);
        CU_ASSERT(jc_member(line, "status", st, sizeof st) == 0);
        CU_ASSERT(jc_member(line, "arith_ratio", a, sizeof a) == 0);
        CU_ASSERT(jc_member(line, "budget_ratio", b, sizeof b) == 0);
        CU_ASSERT_STRING_EQUAL(st, want[k][0]);
        if (*want[k][1]) {
            CU_ASSERT_STRING_EQUAL(a, want[k][1]);
            CU_ASSERT_STRING_EQUAL(b, want[k][2]);
        } else { /* measured: numbers */
            CU_ASSERT(strcmp(a, "null") && strcmp(b, "null") && strtod(a, NULL) > 0 && strtod(b, NULL) > 0);
        }
        k++;
    }
    CU_ASSERT_EQUAL(k, 5);
    /* the TSV: "-" where there is none */
    CU_ASSERT_EQUAL(count(bt, "\tbroken\tfail\t-\t-\n"), 2);
    CU_ASSERT_EQUAL(count(bt, "\tbroken\tpass\t-\t-\n"), 2);
    CU_ASSERT(strstr(bt, "\t0\t") == NULL);
    /* JUnit: the failures' text names no ratio */
    CU_ASSERT_EQUAL(count(bu, "<failure "), 2);
    CU_ASSERT(strstr(bu, "arith_ratio") == NULL && strstr(bu, "budget_ratio") == NULL);
    /* the summary's worst ratios are over the cases that have one */
    CU_ASSERT_EQUAL(sum.total.n_arith, 1);
    CU_ASSERT_EQUAL(sum.total.n_budget, 1);
    CU_ASSERT(isfinite(sum.total.worst_budget));
    free(bj);
    free(bt);
    free(bu);
    kvv_case_list_free(&l);
}

/* ---------------- JUnit ---------------- */

static void test_junit(void)
{
    char *out = report(kvv_reporter_junit, 1);
    CU_ASSERT(!strncmp(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", 50));
    CU_ASSERT_EQUAL(count(out, "<testcase "), NSYN);
    CU_ASSERT_EQUAL(count(out, "<testsuite "), 2);
    CU_ASSERT_EQUAL(count(out, "<failure "), 3);
    CU_ASSERT_EQUAL(count(out, "<skipped "), 1);
    CU_ASSERT(strstr(out, "tests=\"6\" failures=\"3\" errors=\"0\" skipped=\"1\"") != NULL);
    /* failures carry the rule and the figure */
    CU_ASSERT(strstr(out, "<failure message=\"[arith] arith ratio 3.5: out[1,2] &lt;&amp;&gt; &quot;quoted&quot;") !=
              NULL);
    CU_ASSERT(strstr(out, "type=\"arith\"") != NULL);
    CU_ASSERT(strstr(out, "[budget] budget ratio inf") != NULL);
    CU_ASSERT(strstr(out, "type=\"bytes\"") != NULL);
    CU_ASSERT(strstr(out, "byte [0,22]: got 31, want 47") != NULL);
    CU_ASSERT(strstr(out, "name=\"kvverify.plug&quot;in&lt;&amp;&gt;\"") != NULL);
    CU_ASSERT(strstr(out, "classname=\"kvverify.cpu.quant\"") != NULL);
    CU_ASSERT(strstr(out, "<&>") == NULL);
    /* well-formed, as an XML parser sees it */
    if (!kvv_have_command("xmllint")) {
        free(out);
        KVV_SKIP("xmllint not installed (Debian package libxml2-utils, listed in ci/deps.txt): XML "
                 "well-formedness not checked");
    }
    const char *path = scratch_path("kvv-reports", "junit.xml");
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fputs(out, f) >= 0);
    fclose(f);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "xmllint --noout %s", path);
    CU_ASSERT(kvv_sh(cmd, NULL, 0) == 0);
    /* and the check can fail: a truncated file is not well-formed */
    CU_ASSERT(truncate(path, (off_t)strlen(out) / 2) == 0);
    snprintf(cmd, sizeof cmd, "xmllint --noout %s 2>/dev/null", path);
    CU_ASSERT(kvv_sh(cmd, NULL, 0) != 0);
    free(out);
}

/* ---------------- Markdown ---------------- */

static void test_markdown(void)
{
    char *out = report(kvv_reporter_markdown, 1);
    CU_ASSERT(strstr(out, "# kvverify report\n\n**FAIL**: 6 checks, 2 passed, 3 failed, 1 skipped") != NULL);
    CU_ASSERT(strstr(out, "| op | backend | cases | pass | fail | skip |") != NULL);
    CU_ASSERT(strstr(out, "## Failures (3)") != NULL);
    syn_t s[NSYN];
    make_run(s);
    char name[512], cell[1200];
    kvv_case_name(&s[1].c, name, sizeof name);
    snprintf(cell, sizeof cell, "| %s | `%s` | arith | arith ratio 3.5 | out[1,2] &lt;&> \"quoted\" \\| piped<br>second",
             odd_backend, name);
    CU_ASSERT(strstr(out, cell) != NULL);
    CU_ASSERT(strstr(out, "Rerun the first: `kvverify run -b '") != NULL);
    CU_ASSERT(strstr(out, "### Largest arith ratios") != NULL);
    /* the skip, with its reason */
    snprintf(cell, sizeof cell, "## Skipped, by reason (1)\n\n| cases | backend | reason |\n|---:|---|---|\n"
                                "| 1 | %s | backend declined: no q4_0 |\n", odd_backend);
    CU_ASSERT(strstr(out, cell) != NULL);
    /* every table row has the header's number of cells */
    CU_ASSERT_EQUAL(count(out, "\n| attn | cpu |"), 1);
    free(out);
}

/* ---------------- ratios and compare ---------------- */

static void load_text(const char *text, kvv_ratio_set *s)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    CU_ASSERT_FATAL(f != NULL);
    char why[256] = "";
    int rc = kvv_ratios_read(f, "text", s, why, sizeof why);
    if (rc)
        fprintf(stderr, "%s\n", why);
    CU_ASSERT(rc == 0);
    fclose(f);
}

static void test_ratios_roundtrip(void)
{
    syn_t s[NSYN];
    make_run(s);
    char *tsv = report(kvv_reporter_ratios, 1), *json = report(kvv_reporter_json, 1);
    kvv_ratio_set a = {0}, b = {0};
    load_text(tsv, &a);
    load_text(json, &b);
    CU_ASSERT_EQUAL_FATAL(a.n, NSYN);
    CU_ASSERT_EQUAL_FATAL(b.n, NSYN);
    for (int i = 0; i < NSYN; i++) {
        char name[512];
        kvv_case_name(&s[i].c, name, sizeof name);
        for (int k = 0; k < 2; k++) {
            const kvv_ratio_row *r = k ? &b.rows[i] : &a.rows[i];
            CU_ASSERT_STRING_EQUAL(r->name, name);
            CU_ASSERT_STRING_EQUAL(r->backend, info.backends[s[i].backend]);
            CU_ASSERT_EQUAL(r->status, s[i].v.status);
            CU_ASSERT(r->arith == s[i].v.arith_ratio || (isnan(r->arith) && isnan(s[i].v.arith_ratio)));
            CU_ASSERT(r->budget == s[i].v.budget_ratio || (isnan(r->budget) && isnan(s[i].v.budget_ratio)));
        }
    }
    kvv_ratios_free(&a);
    kvv_ratios_free(&b);
    /* malformed input is refused with the line number */
    const char *bad = "name\tbackend\tstatus\tarith_ratio\tbudget_ratio\nx\tcpu\tmaybe\t1\t2\n";
    FILE *f = fmemopen((void *)bad, strlen(bad), "r");
    char why[256] = "";
    CU_ASSERT(kvv_ratios_read(f, "bad.tsv", &a, why, sizeof why) == -1);
    CU_ASSERT(strstr(why, "bad.tsv:2") != NULL);
    fclose(f);
    kvv_ratios_free(&a);
    free(tsv);
    free(json);
}

static int64_t compare_text(const char *base, const char *cur, double factor, kvv_compare_result *r, char **printed)
{
    kvv_ratio_set b = {0}, c = {0};
    load_text(base, &b);
    load_text(cur, &c);
    kvv_compare_opts o = {factor, 0.01, 0};
    size_t len;
    FILE *f = open_memstream(printed, &len);
    int64_t bad = kvv_compare(&b, &c, &o, f, r);
    fclose(f);
    kvv_ratios_free(&b);
    kvv_ratios_free(&c);
    return bad;
}

static const char base_tsv[] = "# baseline\n"
                               "name\tbackend\tstatus\tarith_ratio\tbudget_ratio\n"
                               "attn/a\tcpu\tpass\t0.1\t0.5\n"
                               "attn/b\tcpu\tpass\t0.001\t0.002\n"
                               "attn/c\tcpu\tfail\t3\t0.5\n"
                               "attn/d\tcpu\tpass\t0.2\tinf\n"
                               "attn/e\tvulkan\tpass\t0.1\t0.5\n"
                               "quant/f\tcpu\tskip\t0\t0\n";

static void test_compare_rules(void)
{
    kvv_compare_result r;
    char *out;
    /* identical: nothing changed */
    CU_ASSERT_EQUAL(compare_text(base_tsv, base_tsv, 2, &r, &out), 0);
    CU_ASSERT_EQUAL(r.unchanged, 6);
    CU_ASSERT(strstr(out, ": ok\n") != NULL);
    free(out);

    /* a grows 3x: a regression at factor 2, not at factor 4; b grows 5x
     * but stays under the floor; order of lines does not matter */
    const char *cur = "attn/b\tcpu\tpass\t0.005\t0.002\n"
                      "attn/a\tcpu\tpass\t0.3\t0.5\n"
                      "attn/c\tcpu\tfail\t3\t0.5\n"
                      "attn/d\tcpu\tpass\t0.2\tinf\n"
                      "attn/e\tvulkan\tpass\t0.1\t0.5\n"
                      "quant/f\tcpu\tskip\t0\t0\n";
    CU_ASSERT_EQUAL(compare_text(base_tsv, cur, 2, &r, &out), 1);
    CU_ASSERT_EQUAL(r.regressed, 1);
    CU_ASSERT(strstr(out, "REGRESSED cpu      attn/a  arith 0.1 -> 0.3") != NULL);
    CU_ASSERT(strstr(out, "REGRESSION") != NULL);
    free(out);
    CU_ASSERT_EQUAL(compare_text(base_tsv, cur, 4, &r, &out), 0);
    free(out);

    /* a pass becoming a fail regresses even without ratio growth; a new
     * failing case regresses; removed and new passing cases do not; a fixed
     * case and a shrunken ratio are reported as improvements; a finite
     * budget ratio becoming infinite regresses */
    cur = "attn/a\tcpu\tfail\t0.1\t0.5\n"
          "attn/b\tcpu\tpass\t0.001\t0.002\n"
          "attn/c\tcpu\tpass\t0.2\t0.5\n"
          "attn/d\tcpu\tpass\t0.05\tinf\n"
          "quant/f\tcpu\tpass\t0\t0\n"
          "attn/g\tcpu\tfail\t9\t9\n"
          "attn/h\tcpu\tpass\t0.1\t0.1\n";
    CU_ASSERT_EQUAL(compare_text(base_tsv, cur, 2, &r, &out), 2);
    CU_ASSERT_EQUAL(r.newly_failing, 2);
    CU_ASSERT_EQUAL(r.regressed, 0);
    CU_ASSERT_EQUAL(r.fixed, 1);
    CU_ASSERT_EQUAL(r.improved, 1);
    CU_ASSERT_EQUAL(r.status_changed, 1);
    CU_ASSERT_EQUAL(r.added, 2);
    CU_ASSERT_EQUAL(r.removed, 1);
    CU_ASSERT(strstr(out, "NOW FAILS cpu      attn/a  pass -> fail") != NULL);
    CU_ASSERT(strstr(out, "NEW FAIL  cpu      attn/g") != NULL);
    CU_ASSERT(strstr(out, "removed   vulkan   attn/e") != NULL);
    CU_ASSERT(strstr(out, "fixed     cpu      attn/c  fail -> pass") != NULL);
    free(out);

    cur = "attn/d\tcpu\tpass\tinf\tinf\n";
    CU_ASSERT_EQUAL(compare_text("attn/d\tcpu\tpass\t0.2\tinf\n", cur, 2, &r, &out), 1);
    CU_ASSERT_EQUAL(r.regressed, 1);
    free(out);

    /* no ratio ("-", null; the 0 of older files stays a number): a crash
     * that stays a crash is unchanged, a pass that crashes now fails (and
     * its ratios are shown as gone), a crash that passes now is fixed */
    const char *b2 = "attn/x\tcpu\tpass\t0.1\t0.5\n"
                     "attn/y\tcpu\tfail\t-\t-\n"
                     "attn/z\tcpu\tfail\t0\t0\n"
                     "attn/w\tcpu\tfail\t-\t-\n"
                     "quant/v\tcpu\tpass\t-\t-\n";
    cur = "{\"record\":\"case\",\"name\":\"attn/x\",\"backend\":\"cpu\",\"status\":\"fail\",\"arith_ratio\":null,"
          "\"budget_ratio\":null}\n"
          "attn/y\tcpu\tfail\t-\t-\n"
          "attn/z\tcpu\tfail\t-\t-\n"
          "attn/w\tcpu\tpass\t0.1\t0.5\n"
          "quant/v\tcpu\tpass\t-\t-\n";
    CU_ASSERT_EQUAL(compare_text(b2, cur, 2, &r, &out), 1);
    CU_ASSERT_EQUAL(r.newly_failing, 1);
    CU_ASSERT_EQUAL(r.fixed, 1);
    CU_ASSERT_EQUAL(r.unchanged, 3);
    CU_ASSERT(strstr(out, "NOW FAILS cpu      attn/x  pass -> fail  arith 0.1 -> -  budget 0.5 -> -") != NULL);
    CU_ASSERT(strstr(out, "fixed     cpu      attn/w  fail -> pass  arith - -> 0.1  budget - -> 0.5") != NULL);
    CU_ASSERT(strstr(out, "nan") == NULL);
    free(out);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void test_compare_command(void)
{
    char args[2048], a[600], b[600], c[600], out[4096];
    snprintf(a, sizeof a, "%s", scratch_path("kvv-reports", "base.tsv"));
    snprintf(b, sizeof b, "%s", scratch_path("kvv-reports", "same.jsonl"));
    snprintf(c, sizeof c, "%s", scratch_path("kvv-reports", "worse.tsv"));
    write_file(a, "name\tbackend\tstatus\tarith_ratio\tbudget_ratio\nattn/a\tcpu\tpass\t0.1\t0.5\n");
    write_file(b, "{\"record\":\"run\",\"version\":\"x\"}\n"
                  "{\"record\":\"case\",\"name\":\"attn/a\",\"backend\":\"cpu\",\"status\":\"pass\","
                  "\"arith_ratio\":0.1,\"budget_ratio\":0.5,\"diffs\":[{\"row\":1}]}\n");
    write_file(c, "attn/a\tcpu\tpass\t0.1\t1.5\n");
    snprintf(args, sizeof args, "compare %s %s", a, b);
    CU_ASSERT_EQUAL(cli_run(args, out, sizeof out), 0);
    snprintf(args, sizeof args, "compare %s %s", a, c);
    CU_ASSERT_EQUAL(cli_run(args, out, sizeof out), 1);
    snprintf(args, sizeof args, "compare --factor 4 %s %s", a, c);
    CU_ASSERT_EQUAL(cli_run(args, out, sizeof out), 0);
    snprintf(args, sizeof args, "compare %s %s/missing.tsv", a, scratch_dir());
    CU_ASSERT_EQUAL(cli_run(args, out, sizeof out), 2);
    snprintf(args, sizeof args, "compare --factor 0.5 %s %s", a, c);
    CU_ASSERT_EQUAL(cli_run(args, out, sizeof out), 2);
    scratch_remove();
}

void kvv_register_tests(void)
{
    static const kvv_test fmt[] = {{"JSON lines: every line an object, fields, names round-trip", test_json_lines},
                                   {"JSON lines: a killed run leaves valid lines", test_json_killed_run},
                                   {"no ratio (crash, NaN, row op) is null or -, never 0", test_no_ratio_is_null},
                                   {"JUnit XML: well-formed, failures carry rule and figure", test_junit},
                                   {"Markdown summary", test_markdown},
                                   {NULL, NULL}};
    static const kvv_test cmp[] = {{"ratio TSV and JSON read back", test_ratios_roundtrip},
                                   {"regressions, status changes, new and removed cases", test_compare_rules},
                                   {"kvverify compare exit status", test_compare_command},
                                   {NULL, NULL}};
    kvv_add_suite("report formats", fmt);
    kvv_add_suite("baseline comparison", cmp);
}
