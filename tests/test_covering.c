/* The gate as covering arrays: the generator covers every pair (and the
 * marked triples) that the constraints allow, deterministically; the gate's
 * 2-way coverage is 100%; and the measurement notices a missing case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/covering.h"
#include "oracle/cases.h"
#include "tests/harness.h"

/* ---- a toy model: 5 dimensions, a forbidden pair and a forbidden triple ---- */

static const int toy_nv[5] = {4, 3, 3, 2, 5};

static int toy_ok(const void *ctx, const int *r, char *why, size_t n)
{
    (void)ctx;
    if (r[0] == 3 && r[1] == 2) {
        if (why && n)
            snprintf(why, n, "pair");
        return 0;
    }
    if (r[0] == 0 && r[2] == 0 && r[3] == 1) {
        if (why && n)
            snprintf(why, n, "triple");
        return 0;
    }
    return 1;
}

static kvv_cov_model toy(int strength, int nmarked, const int (*marked)[3])
{
    return (kvv_cov_model){5, toy_nv, toy_ok, NULL, NULL, strength, nmarked, marked};
}

static int full_row_ok(const int *r)
{
    for (int d = 0; d < 5; d++)
        if (r[d] < 0 || r[d] >= toy_nv[d])
            return 0;
    return toy_ok(NULL, r, NULL, 0);
}

/* covered/possible of size t over rows */
static kvv_cov_count toy_cover(const kvv_cov_model *m, const int *rows, int n, int t)
{
    kvv_cov_table *tab = kvv_cov_table_new(m, NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tab);
    for (int i = 0; i < n; i++)
        kvv_cov_table_add(tab, rows + 5 * i);
    kvv_cov_count c = kvv_cov_total(tab, t);
    kvv_cov_table_free(tab);
    return c;
}

static void test_generator_pairs(void)
{
    kvv_cov_model m = toy(2, 0, NULL);
    int *rows, n;
    CU_ASSERT_FATAL(kvv_cov_generate(&m, NULL, NULL, NULL, 0, 7, &rows, &n) == 0);
    /* at least the largest product of two sizes, at most every allowed pair */
    CU_ASSERT(n >= 4 * 5 && n <= 60);
    for (int i = 0; i < n; i++)
        CU_ASSERT(full_row_ok(rows + 5 * i));
    kvv_cov_count c = toy_cover(&m, rows, n, 2);
    CU_ASSERT(c.possible > 0);
    CU_ASSERT_EQUAL(c.covered, c.possible);
    /* the forbidden pair is not counted as possible */
    kvv_cov_table *tab = kvv_cov_table_new(&m, NULL, NULL);
    int dims[3], vals[3], possible;
    int64_t covered;
    int found = 0;
    for (int s = 0; s < kvv_cov_nsets(tab); s++)
        if (kvv_cov_set_dims(tab, s, dims) == 2 && dims[0] == 0 && dims[1] == 1)
            for (int64_t i = 0; i < kvv_cov_set_combos(tab, s); i++) {
                kvv_cov_combo(tab, s, i, vals, &possible, &covered);
                if (vals[0] == 3 && vals[1] == 2) {
                    found = 1;
                    CU_ASSERT(!possible);
                }
            }
    CU_ASSERT(found);
    kvv_cov_table_free(tab);
    free(rows);
}

static void test_generator_deterministic(void)
{
    kvv_cov_model m = toy(2, 0, NULL);
    int *a, *b, *c, na, nb, nc;
    CU_ASSERT_FATAL(kvv_cov_generate(&m, NULL, NULL, NULL, 0, 1, &a, &na) == 0);
    CU_ASSERT_FATAL(kvv_cov_generate(&m, NULL, NULL, NULL, 0, 1, &b, &nb) == 0);
    CU_ASSERT_FATAL(kvv_cov_generate(&m, NULL, NULL, NULL, 0, 99, &c, &nc) == 0);
    CU_ASSERT_EQUAL(na, nb);
    CU_ASSERT(na == nb && memcmp(a, b, sizeof(int) * 5 * (size_t)na) == 0);
    kvv_cov_count k = toy_cover(&m, c, nc, 2); /* another seed: other rows, the same coverage */
    CU_ASSERT_EQUAL(k.covered, k.possible);
    free(a);
    free(b);
    free(c);
}

static void test_generator_triples(void)
{
    static const int marked[1][3] = {{0, 2, 3}};
    kvv_cov_model m = toy(2, 1, marked);
    int *rows, n;
    CU_ASSERT_FATAL(kvv_cov_generate(&m, NULL, NULL, NULL, 0, 3, &rows, &n) == 0);
    kvv_cov_count t = toy_cover(&m, rows, n, 3);
    CU_ASSERT(t.possible == 4 * 3 * 2 - 1); /* 0 x 0 x 1 is forbidden */
    CU_ASSERT_EQUAL(t.covered, t.possible);
    free(rows);
    kvv_cov_model m3 = toy(3, 0, NULL);
    CU_ASSERT_FATAL(kvv_cov_generate(&m3, NULL, NULL, NULL, 0, 3, &rows, &n) == 0);
    t = toy_cover(&m3, rows, n, 3);
    CU_ASSERT(t.possible > 100);
    CU_ASSERT_EQUAL(t.covered, t.possible);
    for (int i = 0; i < n; i++)
        CU_ASSERT(full_row_ok(rows + 5 * i));
    free(rows);
}

/* A planted defect: drop one row that alone covers a pair; the count sees it. */
static void test_missing_row_detected(void)
{
    kvv_cov_model m = toy(2, 0, NULL);
    int *rows, n, dropped = 0;
    CU_ASSERT_FATAL(kvv_cov_generate(&m, NULL, NULL, NULL, 0, 5, &rows, &n) == 0);
    for (int r = 0; r < n && !dropped; r++) {
        int *rest = malloc(sizeof(int) * 5 * (size_t)n);
        int k = 0;
        for (int i = 0; i < n; i++)
            if (i != r)
                memcpy(rest + 5 * k++, rows + 5 * i, sizeof(int) * 5);
        kvv_cov_count c = toy_cover(&m, rest, k, 2);
        if (c.covered < c.possible)
            dropped = 1;
        free(rest);
    }
    CU_ASSERT(dropped);
    free(rows);
}

/* Two arrays under complementary row constraints, the second seeded with
 * the first, cover everything together (the device and CPU arrays). */
static int keep_small(const void *ctx, const int *r, char *why, size_t n)
{
    (void)ctx;
    (void)why;
    (void)n;
    return r[4] < 0 || r[4] < 4;
}
static int keep_big(const void *ctx, const int *r, char *why, size_t n)
{
    (void)ctx;
    (void)why;
    (void)n;
    return r[4] < 0 || r[4] == 4;
}

static void test_seeded_arrays(void)
{
    kvv_cov_model m = toy(2, 0, NULL);
    int *a, *b, na, nb;
    CU_ASSERT_FATAL(kvv_cov_generate(&m, keep_small, NULL, NULL, 0, 1, &a, &na) == 0);
    CU_ASSERT_FATAL(kvv_cov_generate(&m, keep_big, NULL, a, na, 1, &b, &nb) == 0);
    for (int i = 0; i < na; i++)
        CU_ASSERT(a[5 * i + 4] < 4);
    for (int i = 0; i < nb; i++)
        CU_ASSERT(b[5 * i + 4] == 4);
    int *all = malloc(sizeof(int) * 5 * (size_t)(na + nb));
    memcpy(all, a, sizeof(int) * 5 * (size_t)na);
    memcpy(all + 5 * na, b, sizeof(int) * 5 * (size_t)nb);
    kvv_cov_count c = toy_cover(&m, all, na + nb, 2);
    CU_ASSERT_EQUAL(c.covered, c.possible);
    CU_ASSERT(nb < na); /* only the pairs of the value the first array could not take */
    free(all);
    free(a);
    free(b);
}

/* ---- the gate ---- */

static void test_gate_two_way_complete(void)
{
    kvv_case_list l = {0};
    CU_ASSERT_FATAL(kvv_gate_cases(&l) == 0);
    kvv_coverage c, d;
    CU_ASSERT_FATAL(kvv_coverage_measure(l.items, l.n, 2, 0, &c) == 0);
    CU_ASSERT(c.pairs > 5000);
    CU_ASSERT(c.triples > 1000);
    CU_ASSERT_EQUAL(c.pairs_covered, c.pairs);     /* 2-way coverage below 100% fails here */
    CU_ASSERT_EQUAL(c.triples_covered, c.triples); /* and the marked triples */
    CU_ASSERT_FATAL(kvv_coverage_measure(l.items, l.n, 2, 1, &d) == 0);
    CU_ASSERT(d.pairs > 4000 && d.pairs < c.pairs);
    CU_ASSERT_EQUAL(d.pairs_covered, d.pairs);
    CU_ASSERT_EQUAL(d.triples_covered, d.triples);
    char line[256];
    kvv_coverage_line(&c, line, sizeof line);
    CU_ASSERT(strstr(line, "2-way coverage 100% (") == line);
    CU_ASSERT(strstr(line, "3-way on marked triples 100%") != NULL);
    kvv_case_list_free(&l);
}

/* Planted defects: the gate without the cases holding one combination. */
static void test_gate_gap_detected(void)
{
    kvv_case_list l = {0};
    CU_ASSERT_FATAL(kvv_gate_cases(&l) == 0);
    int k = 0;
    for (int i = 0; i < l.n; i++) {
        const kvv_case *c = &l.items[i];
        if (c->op == KVV_OP_ATTN && c->dk != c->dv && c->tg.cache) /* the dequant cache at 576/512 */
            continue;
        l.items[k++] = *c;
    }
    CU_ASSERT(k < l.n);
    kvv_coverage c;
    CU_ASSERT_FATAL(kvv_coverage_measure(l.items, k, 2, 0, &c) == 0);
    CU_ASSERT(c.pairs_covered < c.pairs);
    char line[256];
    kvv_coverage_line(&c, line, sizeof line);
    CU_ASSERT(strstr(line, "2-way coverage 100%") == NULL);
    /* a triple only: scalar dequantization of q5_1 at width 576 */
    int n2 = 0;
    for (int i = 0; i < k; i++) {
        const kvv_case *c2 = &l.items[i];
        if (c2->op == KVV_OP_DEQUANT && c2->type_k == KVV_Q5_1 && c2->dk == 576 && c2->tg.isa == KVV_ISA_SCALAR)
            continue;
        l.items[n2++] = *c2;
    }
    CU_ASSERT(n2 < k);
    kvv_coverage c2;
    CU_ASSERT_FATAL(kvv_coverage_measure(l.items, n2, 2, 0, &c2) == 0);
    CU_ASSERT(c2.triples_covered < c2.triples);
    kvv_case_list_free(&l);
}

/* The arrays alone cover everything: each generated case is valid, reads
 * back from its name, and falls into the classes it was generated from. */
static void test_arrays_alone(void)
{
    kvv_case_list l = {0};
    CU_ASSERT_FATAL(kvv_covering_cases(&l, 2) == 0);
    CU_ASSERT(l.n > 800);
    kvv_coverage c;
    CU_ASSERT_FATAL(kvv_coverage_measure(l.items, l.n, 2, 0, &c) == 0);
    CU_ASSERT_EQUAL(c.pairs_covered, c.pairs);
    CU_ASSERT_EQUAL(c.triples_covered, c.triples);
    for (int i = 0; i < l.n; i++) {
        const kvv_case *x = &l.items[i];
        char a[512], b[512], err[200];
        kvv_case y;
        kvv_case_name(x, a, sizeof a);
        CU_ASSERT(kvv_case_validate(x, err, sizeof err) == 0);
        CU_ASSERT(kvv_case_parse(a, &y, err, sizeof err) == 0);
        kvv_case_name(&y, b, sizeof b);
        CU_ASSERT_STRING_EQUAL(a, b);
        /* a row with both CPU toggles at their defaults is a device row:
         * it holds no class only the CPU array has */
        int device = x->tg.threads == 1 && x->tg.isa == KVV_ISA_AUTO;
        if (device && x->op == KVV_OP_ATTN)
            CU_ASSERT(x->n_q < 33);
        if (device && x->op != KVV_OP_ATTN)
            CU_ASSERT(x->n_kv < 256);
    }
    /* the same list from a second call */
    kvv_case_list l2 = {0};
    CU_ASSERT_FATAL(kvv_covering_cases(&l2, 2) == 0);
    CU_ASSERT_FATAL(l2.n == l.n);
    for (int i = 0; i < l.n; i++) {
        char a[512], b[512];
        kvv_case_name(&l.items[i], a, sizeof a);
        kvv_case_name(&l2.items[i], b, sizeof b);
        CU_ASSERT_STRING_EQUAL(a, b);
    }
    kvv_case_list_free(&l);
    kvv_case_list_free(&l2);
}

static void test_full_three_way(void)
{
    kvv_case_list l = {0};
    CU_ASSERT_FATAL(kvv_covering_cases(&l, 3) == 0);
    kvv_coverage c;
    CU_ASSERT_FATAL(kvv_coverage_measure(l.items, l.n, 3, 0, &c) == 0);
    CU_ASSERT(c.triples > 50000);
    CU_ASSERT_EQUAL(c.pairs_covered, c.pairs);
    CU_ASSERT_EQUAL(c.triples_covered, c.triples);
    kvv_case_list_free(&l);
}

static void test_listing(void)
{
    kvv_case_list l = {0};
    CU_ASSERT_FATAL(kvv_gate_cases(&l) == 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(kvv_coverage_print(f, l.items, l.n, 2, 0, 0) == 0);
    kvv_dims_print(f);
    fclose(f);
    CU_ASSERT(strstr(buf, "2-way coverage 100%") != NULL);
    CU_ASSERT(strstr(buf, "ktype x hd") != NULL);
    CU_ASSERT(strstr(buf, "turbo4 x h36") != NULL); /* an impossible pair, named */
    CU_ASSERT(strstr(buf, "the K type does not fit the head dim") != NULL);
    CU_ASSERT(strstr(buf, "NOT ALL COVERED") == NULL);
    CU_ASSERT(strstr(buf, "attn     ktype(") != NULL);
    free(buf);
    /* a gap is named */
    int k = 0;
    for (int i = 0; i < l.n; i++)
        if (!(l.items[i].op == KVV_OP_WHT && l.items[i].group == 2 && l.items[i].dk % 32 == 4))
            l.items[k++] = l.items[i];
    buf = NULL;
    f = open_memstream(&buf, &len);
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(kvv_coverage_print(f, l.items, k, 2, 0, 0) == 0);
    fclose(f);
    CU_ASSERT(strstr(buf, "NOT ALL COVERED") != NULL);
    CU_ASSERT(strstr(buf, "not covered: w36 x g2") != NULL);
    free(buf);
    kvv_case_list_free(&l);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"generator covers every allowed pair", test_generator_pairs},
                                     {"generator is deterministic from its seed", test_generator_deterministic},
                                     {"marked triples and strength 3", test_generator_triples},
                                     {"a missing row is noticed", test_missing_row_detected},
                                     {"arrays seeded with rows already there", test_seeded_arrays},
                                     {"gate: 2-way coverage 100%", test_gate_two_way_complete},
                                     {"gate: a gap is noticed", test_gate_gap_detected},
                                     {"the arrays alone", test_arrays_alone},
                                     {"full matrix: 3-way", test_full_three_way},
                                     {"list coverage and dims", test_listing},
                                     {NULL, NULL}};
    kvv_add_suite("covering", tests);
}
