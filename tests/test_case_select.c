/* The cases a run selects, from plain options (oracle/case_select.c),
 * without the command line: the base lists, the corpus, format versions,
 * --set, --seed, filters, a pattern that is a full case name, and the
 * failing cases of a report (--rerun-failed). */
#include <stdio.h>
#include <string.h>

#include "oracle/case_select.h"
#include "tests/harness.h"

#define QUANT_NAME "quant/q8_0/d64/rows8/dist=gauss/seed=12345"

static char why[1200];

static int has_name(const kvv_case_list *l, const char *name)
{
    char n[512];
    for (int i = 0; i < l->n; i++) {
        kvv_case_name(&l->items[i], n, sizeof n);
        if (!strcmp(n, name))
            return 1;
    }
    return 0;
}

/* No corpus, no filter: the gate and the full matrix as listed. */
static void test_base_lists(void)
{
    for (int full = 0; full < 2; full++) {
        kvv_case_list want = {0}, got = {0};
        CU_ASSERT_FATAL((full ? kvv_full_cases(&want) : kvv_gate_cases(&want)) == 0);
        kvv_case_select o = {.full = full};
        CU_ASSERT_FATAL(kvv_cases_select(&o, &got, why, sizeof why) == 0);
        CU_ASSERT_EQUAL(got.n, want.n);
        for (int i = 0; i < got.n && got.n == want.n; i++) {
            char a[512], b[512];
            kvv_case_name(&got.items[i], a, sizeof a);
            kvv_case_name(&want.items[i], b, sizeof b);
            CU_ASSERT_STRING_EQUAL(a, b);
        }
        kvv_case_list_free(&want);
        kvv_case_list_free(&got);
    }
}

/* The stored corpus adds its cases to the gate; a missing folder is an
 * error when named, a note when it is the default. */
static void test_corpus(void)
{
    char dir[600], file[700];
    kvv_path(dir, sizeof dir, kvv_source_dir(), "corpora");
    kvv_case_list plain = {0}, with = {0}, none = {0};
    kvv_case_select o = {0};
    CU_ASSERT_FATAL(kvv_cases_select(&o, &plain, why, sizeof why) == 0);
    o.corpus = dir;
    CU_ASSERT_FATAL(kvv_cases_select(&o, &with, why, sizeof why) == 0);
    CU_ASSERT(with.n > plain.n);

    snprintf(file, sizeof file, "%s", scratch_path("kvv-select", "no-such-folder"));
    o.corpus = file;
    o.corpus_given = 1;
    CU_ASSERT_EQUAL(kvv_cases_select(&o, &none, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "--corpus: no folder"));
    CU_ASSERT_EQUAL(none.n, 0);

    char note[2048] = "";
    FILE *log = fmemopen(note, sizeof note - 1, "w");
    CU_ASSERT_FATAL(log != NULL);
    o.corpus_given = 0;
    o.log = log;
    CU_ASSERT_EQUAL(kvv_cases_select(&o, &none, why, sizeof why), 0);
    fclose(log);
    CU_ASSERT_EQUAL(none.n, plain.n);
    CU_ASSERT_PTR_NOT_NULL(strstr(note, "the stored corpus is not replayed"));
    kvv_case_list_free(&plain);
    kvv_case_list_free(&with);
    kvv_case_list_free(&none);
}

/* Filters select what they say; --set and --seed change every case (but
 * a ppl case's seed); a bad override is an error. */
static void test_filters_set_seed(void)
{
    kvv_case_list all = {0}, q = {0}, seeded = {0}, again = {0}, bad = {0};
    kvv_case_select o = {0};
    CU_ASSERT_FATAL(kvv_cases_select(&o, &all, why, sizeof why) == 0);
    o.filter.pattern = "quant/q8_0/";
    CU_ASSERT_FATAL(kvv_cases_select(&o, &q, why, sizeof why) == 0);
    CU_ASSERT(q.n > 0 && q.n < all.n);
    for (int i = 0; i < q.n; i++) { /* a substring: dequant/q8_0/ too */
        CU_ASSERT(q.items[i].op == KVV_OP_QUANT || q.items[i].op == KVV_OP_DEQUANT);
        CU_ASSERT(q.items[i].type_k == KVV_Q8_0);
    }

    o.seed = 7;
    o.set = "dist=gauss";
    CU_ASSERT_FATAL(kvv_cases_select(&o, &seeded, why, sizeof why) == 0);
    CU_ASSERT_FATAL(kvv_cases_select(&o, &again, why, sizeof why) == 0);
    CU_ASSERT_EQUAL_FATAL(seeded.n, q.n);
    int moved = 0;
    for (int i = 0; i < q.n; i++) {
        moved += seeded.items[i].seed != q.items[i].seed;
        CU_ASSERT_EQUAL(seeded.items[i].seed, again.items[i].seed);
        CU_ASSERT_EQUAL(seeded.items[i].dist, KVV_DIST_GAUSS);
    }
    CU_ASSERT_EQUAL(moved, q.n);

    o.set = "nosuchkey=1";
    CU_ASSERT_EQUAL(kvv_cases_select(&o, &bad, why, sizeof why), -1);
    CU_ASSERT_EQUAL(bad.n, 0);
    kvv_case_list_free(&all);
    kvv_case_list_free(&q);
    kvv_case_list_free(&seeded);
    kvv_case_list_free(&again);
}

/* A pattern that matches nothing and is a full case name adds that case;
 * one that reads as a case name but does not parse is an error. */
static void test_named_pattern(void)
{
    kvv_case_list l = {0};
    kvv_case_select o = {.filter.pattern = "wht/," QUANT_NAME};
    CU_ASSERT_FATAL(kvv_cases_select(&o, &l, why, sizeof why) == 0);
    CU_ASSERT(has_name(&l, QUANT_NAME));
    CU_ASSERT(l.n > 1);
    kvv_case_list_free(&l);

    o.filter.pattern = "quant/q8_0/d64/rows8/dist=nosuch/seed=1";
    CU_ASSERT_EQUAL(kvv_cases_select(&o, &l, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "not a valid case name"));
    CU_ASSERT_EQUAL(l.n, 0);
}

/* A case file runs as written: format versions do not rewrite it, while
 * they rewrite the generated lists. */
static void test_formats_and_files(void)
{
    const char *path = scratch_path("kvv-select", "two.cases");
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fprintf(f, "# two cases\nquant/turbo3/d128/rows8/dist=gauss/seed=3\n\n" QUANT_NAME "\n");
    fclose(f);
    kvv_format_map m;
    kvv_format_map_init(&m);
    m.as[KVV_TURBO3] = KVV_TURBO3_QK128;
    snprintf(m.who[KVV_TURBO3], sizeof m.who[KVV_TURBO3], "test");

    kvv_case_list file = {0}, gen = {0}, plain = {0};
    kvv_case_select o = {.cases_file = path, .formats = &m};
    CU_ASSERT_FATAL(kvv_cases_select(&o, &file, why, sizeof why) == 0);
    CU_ASSERT_EQUAL(file.n, 2);
    CU_ASSERT(has_name(&file, "quant/turbo3/d128/rows8/dist=gauss/seed=3"));

    kvv_case_select g = {.formats = &m};
    CU_ASSERT_FATAL(kvv_cases_select(&g, &gen, why, sizeof why) == 0);
    g.formats = NULL;
    CU_ASSERT_FATAL(kvv_cases_select(&g, &plain, why, sizeof why) == 0);
    int turbo3 = 0, qk128 = 0, was = 0;
    for (int i = 0; i < gen.n; i++) {
        turbo3 += gen.items[i].type_k == KVV_TURBO3 || gen.items[i].type_v == KVV_TURBO3;
        qk128 += gen.items[i].type_k == KVV_TURBO3_QK128 || gen.items[i].type_v == KVV_TURBO3_QK128;
    }
    for (int i = 0; i < plain.n; i++)
        was += plain.items[i].type_k == KVV_TURBO3 || plain.items[i].type_v == KVV_TURBO3;
    CU_ASSERT(was > 0);
    CU_ASSERT_EQUAL(turbo3, 0);
    CU_ASSERT(qk128 > 0);

    char note[1024] = "";
    FILE *log = fmemopen(note, sizeof note - 1, "w");
    CU_ASSERT_FATAL(log != NULL);
    kvv_format_map_note(&m, log);
    fclose(log);
    CU_ASSERT_PTR_NOT_NULL(strstr(note, "turbo3 as turbo3@qk128 (test;"));
    kvv_case_list_free(&file);
    kvv_case_list_free(&gen);
    kvv_case_list_free(&plain);
}

/* --rerun-failed: each failing case once, in report order; the backends
 * they failed on, each once; passing cases left out. */
static void test_failed_from_report(void)
{
    const char *path = scratch_path("kvv-select", "report.jsonl");
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    kvv_reporter *r = kvv_reporter_json(f);
    kvv_run_info info = {"t", "t", "t", "t", "t", 2, {"cpu", "other"}, 3, 0};
    kvv_case c[3];
    c[0] = kvv_case_named(QUANT_NAME);
    c[1] = kvv_case_named("wht/d128/g1/rows16/dist=outlier/seed=5");
    c[2] = kvv_case_named("dequant/q8_0/d64/rows8/dist=gauss/seed=6");
    kvv_verdict fail = {.status = KVV_FAIL}, pass = {.status = KVV_PASS};
    kvv_summary s;
    memset(&s, 0, sizeof s);
    r->begin(r, &info);
    char name[512];
    for (int i = 0; i < 3; i++) {
        kvv_case_name(&c[i], name, sizeof name);
        r->result(r, &c[i], name, 0, i == 1 ? &pass : &fail);
        r->result(r, &c[i], name, 1, i == 0 ? &fail : &pass);
    }
    r->end(r, &s);
    r->destroy(r);
    fclose(f);

    kvv_case_list l = {0};
    char backends[64] = "";
    CU_ASSERT_FATAL(kvv_cases_failed(path, &l, backends, sizeof backends, why, sizeof why) == 0);
    CU_ASSERT_EQUAL(l.n, 2);
    char n0[512], n2[512];
    kvv_case_name(&c[0], n0, sizeof n0);
    kvv_case_name(&c[2], n2, sizeof n2);
    for (int i = 0; i < l.n && l.n == 2; i++) {
        kvv_case_name(&l.items[i], name, sizeof name);
        CU_ASSERT_STRING_EQUAL(name, i ? n2 : n0);
    }
    CU_ASSERT_STRING_EQUAL(backends, "cpu,other");
    kvv_case_list_free(&l);

    /* no room to name the backends: an error naming the file */
    char small[5] = "";
    CU_ASSERT_EQUAL(kvv_cases_failed(path, &l, small, sizeof small, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "too many backends"));
    kvv_case_list_free(&l);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"the gate and the full matrix as listed", test_base_lists},
                                     {"the stored corpus: added, missing named or not", test_corpus},
                                     {"filters, --set and --seed", test_filters_set_seed},
                                     {"a pattern that is a full case name", test_named_pattern},
                                     {"format versions rewrite generated lists, not case files", test_formats_and_files},
                                     {"the failing cases of a report", test_failed_from_report},
                                     {NULL, NULL}};
    kvv_add_suite("case selection", tests);
}
