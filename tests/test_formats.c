/* Format versions a backend stores (oracle/formats.c, the stored_as entry)
 * and the format rule: a library that stores turbo3 as turbo3@qk128 gets
 * the gate's turbo3 cases in that version; two libraries that disagree are
 * refused together; one that cannot be asked changes nothing; a type stored
 * in no known format fails its cases with rule `format`, in the row ops,
 * attention and the end-to-end ppl cases alike.  Uses
 * tests/plugins/stored_plugin.c, configured by its options. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/cases.h"
#include "oracle/formats.h"
#include "oracle/ppl.h"
#include "oracle/run.h"
#include "oracle/verdict.h"
#include "tests/harness.h"

static const char *plugin(const char *opts)
{
    static char buf[4][1024];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/plugins/libstored.so%s%s", kvv_build_dir(), *opts ? ":" : "", opts);
    return p;
}

static void test_ask(void)
{
    const char *names[] = {"cpu", plugin("turbo3=turbo3@qk128:turbo4=turbo4@narrow")};
    kvv_format_map m;
    char why[512] = "";
    CU_ASSERT_EQUAL_FATAL(kvv_formats_ask(names, 2, &m, stderr, why, sizeof why), 0);
    CU_ASSERT_EQUAL(m.as[KVV_TURBO3], KVV_TURBO3_QK128);
    CU_ASSERT_EQUAL(m.as[KVV_TURBO3_QK128], KVV_TURBO3_QK128);
    CU_ASSERT_EQUAL(m.as[KVV_TURBO4], KVV_TURBO4_NARROW);
    CU_ASSERT_EQUAL(m.as[KVV_TURBO4_QJL], KVV_TURBO4_NARROW); /* every row of the cache type */
    CU_ASSERT_EQUAL(m.as[KVV_TURBO2], KVV_TURBO2);
    CU_ASSERT_EQUAL(m.as[KVV_Q8_0], KVV_Q8_0);
    CU_ASSERT_EQUAL(kvv_format_map_changes(&m), 3); /* turbo3, turbo4, turbo4@qjl */
    CU_ASSERT_PTR_NOT_NULL(strstr(m.note[KVV_TURBO3], "configured: turbo3@qk128"));
    CU_ASSERT_PTR_NOT_NULL(strstr(m.who[KVV_TURBO4], "libstored.so"));
}

static void test_disagreeing_backends(void)
{
    const char *names[] = {plugin("turbo4=turbo4@narrow"), plugin("turbo4=turbo4@qjl")};
    kvv_format_map m;
    char why[512] = "";
    CU_ASSERT_EQUAL(kvv_formats_ask(names, 2, &m, stderr, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "run them separately"));
}

static void test_unaskable_changes_nothing(void)
{
    const char *names[] = {"/nonexistent/libnothing.so", "cpu"};
    kvv_format_map m;
    char why[512] = "";
    FILE *log = tmpfile();
    CU_ASSERT_EQUAL(kvv_formats_ask(names, 2, &m, log, why, sizeof why), 0);
    CU_ASSERT_EQUAL(kvv_format_map_changes(&m), 0);
    char line[512] = "";
    rewind(log);
    CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof line, log));
    CU_ASSERT_PTR_NOT_NULL(strstr(line, "libnothing.so")); /* said, not silent */
    fclose(log);
}

static void test_rewrite(void)
{
    kvv_case_list l = {0};
    CU_ASSERT_EQUAL_FATAL(kvv_gate_cases(&l), 0);
    int before = 0, turned = 0;
    for (int i = 0; i < l.n; i++) {
        kvv_case c = l.items[i];
        int had = c.type_k == KVV_TURBO3_QK128 || c.type_v == KVV_TURBO3_QK128;
        if (!had && c.type_k != KVV_TURBO3 && c.type_v != KVV_TURBO3)
            continue;
        /* a turbo3 operand turns into turbo3@qk128 where 128-blocks fit it;
         * a case that already had one keeps it unless its other operand is
         * turbo3 at a head dim 128-blocks do not divide (576/512) */
        char err[128];
        c.type_k = c.type_k == KVV_TURBO3 ? KVV_TURBO3_QK128 : c.type_k;
        c.type_v = c.type_v == KVV_TURBO3 ? KVV_TURBO3_QK128 : c.type_v;
        int fits = kvv_case_validate(&c, err, sizeof err) == 0;
        before += had && fits;
        turned += !had && fits;
    }
    kvv_format_map m;
    kvv_format_map_init(&m);
    m.as[KVV_TURBO3] = KVV_TURBO3_QK128;
    int dropped = -1, n0 = l.n;
    kvv_formats_rewrite(&m, &l, &dropped);
    int after = 0, turbo3 = 0, bad = 0;
    for (int i = 0; i < l.n; i++) {
        const kvv_case *c = &l.items[i];
        char err[128];
        after += c->type_k == KVV_TURBO3_QK128 || c->type_v == KVV_TURBO3_QK128;
        turbo3 += c->type_k == KVV_TURBO3 || c->type_v == KVV_TURBO3;
        bad += kvv_case_validate(c, err, sizeof err) != 0;
    }
    CU_ASSERT_EQUAL(turbo3, 0);
    CU_ASSERT_EQUAL(after, before + turned);
    /* the pair matrices alone: every pair with turbo3 at head dims 128 and 256 */
    CU_ASSERT(turned >= 2 * (2 * KVV_CACHE_TYPE_COUNT - 1));
    CU_ASSERT(dropped > 0);          /* turbo3 at head dims 64, 192, 576: no 128-blocks */
    CU_ASSERT_EQUAL(l.n + dropped, n0);
    CU_ASSERT_EQUAL(bad, 0);
    kvv_case_list_free(&l);
}

static kvv_verdict run_on(const kvv_backend *b, const char *name)
{
    kvv_case c;
    char err[256];
    kvv_verdict v;
    kvv_verdict_init(&v);
    CU_ASSERT_EQUAL_FATAL(kvv_case_parse(name, &c, err, sizeof err), 0);
    if (c.op == KVV_OP_PPL)
        kvv_run_ppl(&c, b, &v);
    else
        kvv_run_case(&c, b, &v);
    return v;
}

/* the format rule: planted on the stored plugin, caught in every op */
static void test_format_rule(void)
{
    char why[512] = "";
    const kvv_backend *b = kvv_backend_open(plugin("bad=turbo2"), why, sizeof why);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    static const char *cases[] = {"quant/turbo2/d128/rows32/dist=gauss/seed=1",
                                  "dequant/turbo2/d128/rows32/dist=gauss/seed=1",
                                  "attn/d128/turbo2-q8_0/nq1/nkv64/h4/gqa2/dist=gauss/seed=1",
                                  "ppl/d128/turbo2-turbo2/nq64/nkv256/h8/gqa4/model=probe/seed=1"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        kvv_verdict v = run_on(b, cases[i]);
        CU_ASSERT_EQUAL(v.status, KVV_FAIL);
        CU_ASSERT_EQUAL(v.rule, KVV_RULE_FORMAT);
        CU_ASSERT_PTR_NOT_NULL(strstr(v.detail, "matches no known version"));
        if (v.rule != KVV_RULE_FORMAT)
            fprintf(stderr, "  %s: %s %s: %s\n", cases[i], kvv_status_name(v.status), kvv_rule_name(v.rule), v.detail);
    }
    /* a type it declines stays a skip */
    kvv_verdict v = run_on(b, "quant/q8_0/d128/rows32/dist=gauss/seed=1");
    CU_ASSERT_EQUAL(v.status, KVV_SKIP);
    CU_ASSERT_STRING_EQUAL(kvv_rule_name(KVV_RULE_FORMAT), "format");
    b->destroy(b->ctx);
    /* the attention over such a cache still runs: its failure is the verdict */
    b = kvv_backend_open(plugin("bad=turbo2:fail_attn=1"), why, sizeof why);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    v = run_on(b, "attn/d128/turbo2-turbo2/nq1/nkv64/h4/gqa2/dist=gauss/seed=1");
    CU_ASSERT_EQUAL(v.status, KVV_FAIL);
    CU_ASSERT_EQUAL(v.rule, KVV_RULE_CRASH);
    CU_ASSERT_PTR_NOT_NULL(strstr(v.detail, "attention over a cache in no known format"));
    b->destroy(b->ctx);
}

/* the roundtrip rule through run_case: a cache in a new format that keeps
 * the values is a format finding; one that loses them, or one row of them,
 * fails rule roundtrip */
static void test_roundtrip_rule(void)
{
    static const struct {
        const char *opts;
        kvv_rule rule;
        const char *text;
    } want[] = {{"bad=turbo4:rt=good", KVV_RULE_FORMAT, "gives back the input"},
                {"bad=turbo4:rt=zero", KVV_RULE_ROUNDTRIP, "loses the values"},
                {"bad=turbo4:rt=row", KVV_RULE_ROUNDTRIP, "row 5"},
                {"bad=turbo4", KVV_RULE_FORMAT, "gave no values back"}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char why[512] = "";
        const kvv_backend *b = kvv_backend_open(plugin(want[i].opts), why, sizeof why);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        kvv_verdict v = run_on(b, "quant/turbo4/d256/rows32/dist=gauss/seed=3");
        CU_ASSERT_EQUAL(v.status, KVV_FAIL);
        CU_ASSERT_EQUAL(v.rule, want[i].rule);
        CU_ASSERT_PTR_NOT_NULL(strstr(v.detail, want[i].text));
        if (v.rule != want[i].rule || !strstr(v.detail, want[i].text))
            fprintf(stderr, "  %s: %s: %s\n", want[i].opts, kvv_rule_name(v.rule), v.detail);
        b->destroy(b->ctx);
    }
}

/* the CLI: list cases and probe through a library backend */
static int count_lines(const char *cmd, const char *needle, const char *absent, int *with_absent)
{
    FILE *p = popen(cmd, "r");
    int n = 0;
    *with_absent = 0;
    char line[1024];
    while (p && fgets(line, sizeof line, p)) {
        n += strstr(line, needle) != NULL;
        *with_absent += absent && strstr(line, absent) != NULL;
    }
    if (p)
        pclose(p);
    return n;
}

static void test_cli(void)
{
    char cmd[2048];
    int stale;
    snprintf(cmd, sizeof cmd, "%s/kvverify list cases --gate -b %s 2>/dev/null", kvv_build_dir(),
             plugin("turbo3=turbo3@qk128"));
    CU_ASSERT(count_lines(cmd, "turbo3@qk128", "turbo3-", &stale) > 200);
    CU_ASSERT_EQUAL(stale, 0);
    snprintf(cmd, sizeof cmd, "%s/kvverify list cases --gate --listed-formats -b %s 2>/dev/null", kvv_build_dir(),
             plugin("turbo3=turbo3@qk128"));
    CU_ASSERT(count_lines(cmd, "turbo3-", NULL, &stale) > 90);
    snprintf(cmd, sizeof cmd, "%s/kvverify probe -b %s 2>&1", kvv_build_dir(), plugin("turbo4=turbo4@narrow"));
    CU_ASSERT_EQUAL(count_lines(cmd, "configured: turbo4@narrow", NULL, &stale), 1);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"a library's stored versions are asked in a child", test_ask},
                                     {"two libraries that disagree are refused", test_disagreeing_backends},
                                     {"a backend that cannot be asked changes nothing", test_unaskable_changes_nothing},
                                     {"the gate rewritten to a stored version", test_rewrite},
                                     {"a type in no known format fails rule format", test_format_rule},
                                     {"its own round trip judged by rule roundtrip", test_roundtrip_rule},
                                     {"list cases and probe through a library", test_cli},
                                     {NULL, NULL}};
    kvv_add_suite("format versions", tests);
}
