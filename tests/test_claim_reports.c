/* The precision a backend claims (kvv_attn_info) in every place a person or
 * a script reads a verdict: the failure line, each JSON case record, and
 * per backend in the summaries (terminal, JSON summary record, Markdown,
 * HTML), so that a backend that asks for leniency is seen doing so.  A
 * crafted run checks each format; a real run of a lying plugin checks the
 * command line end to end. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/rules.h"
#include "reports/reports.h"
#include "tests/harness.h"
#include "tests/json_check.h"

static kvv_run_info info = {"0.1.0", "abc123", "test machine", "2026-01-01T00:00:00Z", "kvverify run", 2,
                            {"cpu", "plug|in<&>"}, 14, 0};

#define F32 0x1p-24
#define F16 0x1p-11

/* Backend 0: three f32 claims, one f16 claim, a row op (no claim).
 * Backend 1: ten distinct claims, an invalid NaN one among them, so that
 * two are counted as "other claims". */
static char *drive(kvv_reporter *(*mk)(FILE *), kvv_summary *sum)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_FATAL(f != NULL);
    kvv_reporter *r = mk(f);
    CU_ASSERT_FATAL(r != NULL);
    memset(sum, 0, sizeof *sum);
    sum->nbackends = 2;
    r->begin(r, &info);
    kvv_case attn = kvv_case_default(KVV_OP_ATTN), quant = kvv_case_default(KVV_OP_QUANT);
    for (int i = 0; i < 15; i++) {
        kvv_verdict v;
        memset(&v, 0, sizeof v);
        v.status = KVV_PASS;
        v.arith_ratio = v.budget_ratio = 0.5;
        kvv_case c = attn;
        c.seed = (uint64_t)i + 1;
        int b = i < 5 ? 0 : 1;
        if (i < 3) {
            v.has_claim = 1, v.claimed_kv_round = 0, v.claimed_acc_round = F32;
        } else if (i == 3) {
            v.has_claim = 1, v.claimed_kv_round = 0x1p-10, v.claimed_acc_round = F16;
            v.status = KVV_FAIL;
            v.rule = KVV_RULE_BUDGET;
            snprintf(v.detail, sizeof v.detail, "rms error ... [claimed kv_round=2^-10 acc_round=2^-11 (f16 accumulation)]");
        } else if (i == 4) {
            c = quant;
            v.arith_ratio = v.budget_ratio = NAN;
        } else {
            v.has_claim = 1;
            v.claimed_kv_round = i == 5 ? NAN : ldexp(1, -(i + 2));
            v.claimed_acc_round = F16;
        }
        char name[512];
        kvv_case_name(&c, name, sizeof name);
        kvv_summary_add(sum, c.op, b, &v);
        r->result(r, &c, name, b, &v);
    }
    r->end(r, sum);
    r->destroy(r);
    fclose(f);
    return buf;
}

static void test_claim_label(void)
{
    char b[160];
    kvv_claim_label(0, F32, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "kv_round=0 acc_round=2^-24 (f32 accumulation)");
    kvv_claim_label(0x1p-7, 0x1p-8, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "kv_round=2^-7 acc_round=2^-8 (bf16 accumulation)");
    kvv_claim_label(0.3, F16, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "kv_round=0.3 acc_round=2^-11 (f16 accumulation)");
    /* what no precision is: named so, not passed off as one */
    kvv_claim_label(1e30, 1e30, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "kv_round=1e+30 acc_round=1e+30 (invalid claim)");
    kvv_claim_label(NAN, F32, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "kv_round=nan acc_round=2^-24 (invalid claim)");
    kvv_claim_label(0, 1e-3, b, sizeof b);
    CU_ASSERT(strstr(b, "(invalid claim)") != NULL);
    kvv_claim_label(-0x1p-11, F16, b, sizeof b);
    CU_ASSERT(strstr(b, "(invalid claim)") != NULL);
    /* the failure line's text is the same label */
    char t[200];
    kvv_claim_text(0x1p-10, F16, t, sizeof t);
    CU_ASSERT_STRING_EQUAL(t, "claimed kv_round=2^-10 acc_round=2^-11 (f16 accumulation)");
}

static void test_claim_set(void)
{
    kvv_summary sum;
    free(drive(kvv_reporter_ratios, &sum));
    const kvv_claim_set *a = &sum.claims[0], *c = &sum.claims[1];
    CU_ASSERT_EQUAL(a->n, 2);
    CU_ASSERT(a->c[0].kv_round == 0 && a->c[0].acc_round == F32 && a->c[0].cases == 3);
    CU_ASSERT(a->c[1].kv_round == 0x1p-10 && a->c[1].acc_round == F16 && a->c[1].cases == 1);
    CU_ASSERT_EQUAL(a->others, 0);
    CU_ASSERT_EQUAL(c->n, KVV_CLAIMS_KEPT);
    CU_ASSERT(isnan(c->c[0].kv_round) && c->c[0].cases == 1);
    CU_ASSERT_EQUAL(c->others, 10 - KVV_CLAIMS_KEPT);
    /* the same NaN claim twice is one claim */
    kvv_claim_set s;
    memset(&s, 0, sizeof s);
    kvv_verdict v = {.has_claim = 1, .claimed_kv_round = NAN, .claimed_acc_round = NAN};
    kvv_claim_set_add(&s, &v);
    kvv_claim_set_add(&s, &v);
    v.has_claim = 0;
    kvv_claim_set_add(&s, &v);
    CU_ASSERT(s.n == 1 && s.c[0].cases == 2);
}

static void test_json(void)
{
    kvv_summary sum;
    char *out = drive(kvv_reporter_json, &sum);
    int cases = 0, with = 0, null = 0;
    char *save = NULL, v[4096];
    for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        CU_ASSERT(jc_is_object(l));
        char rec[32] = "";
        jc_member(l, "record", rec, sizeof rec);
        if (!strcmp(rec, "case")) {
            cases++;
            CU_ASSERT_FATAL(jc_member(l, "claim", v, sizeof v) == 0);
            if (!strcmp(v, "null")) {
                null++;
                CU_ASSERT(strstr(l, "\"op\":\"quant\"") != NULL);
                continue;
            }
            with++;
            CU_ASSERT(jc_is_object(v));
            char kv[64], acc[64], label[160];
            CU_ASSERT(jc_member(v, "kv_round", kv, sizeof kv) == 0);
            CU_ASSERT(jc_member(v, "acc_round", acc, sizeof acc) == 0);
            CU_ASSERT(jc_member(v, "label", label, sizeof label) == 0);
            double k = strcmp(kv, "\"nan\"") ? strtod(kv, NULL) : NAN;
            char want[160];
            kvv_claim_label(k, strtod(acc, NULL), want, sizeof want);
            CU_ASSERT_STRING_EQUAL(label, want);
        } else if (!strcmp(rec, "summary")) {
            CU_ASSERT_FATAL(jc_member(l, "claims", v, sizeof v) == 0);
            /* exact values, per backend, with counts */
            CU_ASSERT(strstr(v, "{\"kv_round\":0,\"acc_round\":5.9604644775390625e-08,\"label\":\"kv_round=0 "
                                "acc_round=2^-24 (f32 accumulation)\",\"backend\":\"cpu\",\"cases\":3}") != NULL);
            CU_ASSERT(strstr(v, "{\"kv_round\":0.0009765625,\"acc_round\":0.00048828125,\"label\":\"kv_round=2^-10 "
                                "acc_round=2^-11 (f16 accumulation)\",\"backend\":\"cpu\",\"cases\":1}") != NULL);
            CU_ASSERT(strstr(v, "{\"kv_round\":\"nan\",\"acc_round\":0.00048828125,\"label\":\"kv_round=nan "
                                "acc_round=2^-11 (invalid claim)\",\"backend\":\"plug|in<&>\",\"cases\":1}") != NULL);
            CU_ASSERT(strstr(v, "\"label\":\"other claims\",\"backend\":\"plug|in<&>\",\"cases\":2}") != NULL);
        }
    }
    CU_ASSERT_EQUAL(cases, 15);
    CU_ASSERT_EQUAL(with, 14);
    CU_ASSERT_EQUAL(null, 1);
    free(out);
}

static kvv_reporter *terminal_plain(FILE *f) { return kvv_reporter_terminal(f, 0); }

static void test_summaries(void)
{
    kvv_summary sum;
    char *t = drive(kvv_reporter_markdown, &sum);
    CU_ASSERT(strstr(t, "## Precision claimed (attention)\n\n| backend | claim | cases |") != NULL);
    CU_ASSERT(strstr(t, "| cpu | kv_round=0 acc_round=2^-24 (f32 accumulation) | 3 |") != NULL);
    CU_ASSERT(strstr(t, "| cpu | kv_round=2^-10 acc_round=2^-11 (f16 accumulation) | 1 |") != NULL);
    CU_ASSERT(strstr(t, "| plug\\|in&lt;&> | kv_round=2^-8 acc_round=2^-11 (f16 accumulation) | 1 |") != NULL);
    CU_ASSERT(strstr(t, "| plug\\|in&lt;&> | other claims (see the JSON report) | 2 |") != NULL);
    free(t);
    t = drive(terminal_plain, &sum);
    CU_ASSERT(strstr(t, "Precision claimed (attention), per backend:\n"
                        "  cpu      kv_round=0 acc_round=2^-24 (f32 accumulation): 3 cases\n"
                        "  cpu      kv_round=2^-10 acc_round=2^-11 (f16 accumulation): 1 case\n") != NULL);
    CU_ASSERT(strstr(t, "  plug|in<&> kv_round=nan acc_round=2^-11 (invalid claim): 1 case\n") != NULL);
    CU_ASSERT(strstr(t, "  plug|in<&> other claims: 2 cases") != NULL);
    free(t);
}

static kvv_reporter *html_plain(FILE *f)
{
    kvv_html_opts ho = {0};
    return kvv_reporter_html(f, &ho);
}

static void test_html(void)
{
    kvv_summary sum;
    char *t = drive(html_plain, &sum);
    CU_ASSERT(strstr(t, "<h2 id=\"claims\">Precision claimed (attention)</h2>") != NULL);
    CU_ASSERT(strstr(t, "<tr><td class=\"l\">cpu</td><td class=\"l\">kv_round=0 acc_round=2^-24 (f32 "
                        "accumulation)</td><td>3</td></tr>") != NULL);
    CU_ASSERT(strstr(t, "<tr><td class=\"l\">plug|in&lt;&amp;&gt;</td><td class=\"l\">other claims (see the JSON "
                        "report)</td><td>2</td></tr>") != NULL);
    free(t);
}

/* A run without an attention case has no claims section anywhere. */
static void test_no_claims_no_section(void)
{
    kvv_reporter *(*const mk[])(FILE *) = {kvv_reporter_markdown, terminal_plain, html_plain, kvv_reporter_json};
    for (int i = 0; i < 4; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        CU_ASSERT_FATAL(f != NULL);
        kvv_reporter *r = mk[i](f);
        kvv_summary sum;
        memset(&sum, 0, sizeof sum);
        sum.nbackends = 2;
        r->begin(r, &info);
        kvv_case c = kvv_case_default(KVV_OP_QUANT);
        kvv_verdict v = {.status = KVV_PASS, .arith_ratio = NAN, .budget_ratio = NAN};
        char name[512];
        kvv_case_name(&c, name, sizeof name);
        kvv_summary_add(&sum, c.op, 0, &v);
        r->result(r, &c, name, 0, &v);
        r->end(r, &sum);
        r->destroy(r);
        fclose(f);
        CU_ASSERT(strstr(buf, "Precision claimed") == NULL);
        if (i == 3)
            CU_ASSERT(strstr(buf, "\"claim\":null") != NULL && strstr(buf, "\"claims\":[]") != NULL);
        free(buf);
    }
}

/* End to end: a plugin that claims f16 accumulation and ignores Q, next to
 * the built-in backend, through the command line. */
static void test_cli(void)
{
    const char *json = scratch_path("kvv-claims", "r.jsonl"), *md = scratch_path("kvv-claims", "s.md");
    char args[2048];
    static char out[1 << 16], text[1 << 16];
    snprintf(args, sizeof args,
             "run -b cpu,%s/tests/plugins/libliar_no_q.so -p attn/d128/f16-f16/nq1/nkv256/h8/gqa4/dist=gauss/seed=13 "
             "--json %s --markdown %s",
             cli_build_dir(), json, md);
    CU_ASSERT(cli_run(args, out, sizeof out) == 1);
    /* the failure line */
    CU_ASSERT(strstr(out, "[claimed kv_round=0 acc_round=2^-11 (f16 accumulation)]") != NULL);
    /* the summary per backend */
    CU_ASSERT(strstr(out, "Precision claimed (attention), per backend:\n"
                          "  cpu      kv_round=0 acc_round=2^-24 (f32 accumulation): 1 case\n") != NULL);
    CU_ASSERT(strstr(out, "libliar_no_q.so kv_round=0 acc_round=2^-11 (f16 accumulation): 1 case\n") != NULL);
    /* each JSON case record */
    cli_slurp(json, text, sizeof text);
    CU_ASSERT(strstr(text, "\"backend\":\"cpu\"") != NULL);
    int n = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char rec[32] = "", b[600] = "", c[600] = "";
        jc_member(l, "record", rec, sizeof rec);
        if (strcmp(rec, "case"))
            continue;
        n++;
        jc_member(l, "backend", b, sizeof b);
        CU_ASSERT(jc_member(l, "claim", c, sizeof c) == 0);
        const char *want = !strcmp(b, "cpu") ? "\"acc_round\":5.9604644775390625e-08"
                                             : "\"acc_round\":0.00048828125,\"label\":\"kv_round=0 acc_round=2^-11 "
                                               "(f16 accumulation)\"";
        CU_ASSERT(strstr(c, want) != NULL);
    }
    CU_ASSERT_EQUAL(n, 2);
    cli_slurp(md, text, sizeof text);
    CU_ASSERT(strstr(text, "libliar_no_q.so | kv_round=0 acc_round=2^-11 (f16 accumulation) | 1 |") != NULL);
    if (!strstr(out, "Precision claimed"))
        fprintf(stderr, "\n%s\n", out);
}

static int cleanup(void)
{
    scratch_remove();
    return 0;
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"a claim's label names its precision, or says it is invalid", test_claim_label},
        {"the summary keeps each backend's claims with their counts", test_claim_set},
        {"JSON: the claim in every case record, the claims per backend in the summary", test_json},
        {"terminal and Markdown summaries list the claims per backend", test_summaries},
        {"HTML: the claims per backend", test_html},
        {"no attention case, no claims section", test_no_claims_no_section},
        {"the claims of a lying plugin through the command line", test_cli},
        {NULL, NULL}};
    CU_pSuite s = CU_add_suite("claim_reports", NULL, cleanup);
    for (const kvv_test *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}
