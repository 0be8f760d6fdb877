/* Centroid tables from first principles (ref/centroids.c): Lloyd-Max
 * known answers, the paper's distortions, and which density each shipped
 * table matches. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/quant/quant.h"
#include "tests/harness.h"

/* Densities with closed-form quantizers: at d = 3 the coordinate of a unit
 * vector is uniform on [-1, 1]; at d = 2 it is the arcsine law, whose
 * 1-bit quantizer sits at E|t| = 2/pi; the 1-bit Gaussian at sqrt(2/(pi d)). */
static void test_known_answers(void)
{
    double c[8], mse;
    CU_ASSERT_EQUAL_FATAL(kvv_ref_lloyd_max(KVV_DENSITY_BETA, 3, 4, c, &mse), 0);
    CU_ASSERT_DOUBLE_EQUAL(c[0], -0.75, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(c[1], -0.25, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(c[2], 0.25, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(c[3], 0.75, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(mse, 0.25 / 12.0, 1e-10); /* (step 1/2)^2 / 12 */

    CU_ASSERT_EQUAL_FATAL(kvv_ref_lloyd_max(KVV_DENSITY_BETA, 2, 2, c, &mse), 0);
    CU_ASSERT_DOUBLE_EQUAL(c[1], 2 / M_PI, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(mse, 0.5 - 4 / (M_PI * M_PI), 1e-9);

    CU_ASSERT_EQUAL_FATAL(kvv_ref_lloyd_max(KVV_DENSITY_GAUSS, 64, 2, c, &mse), 0);
    CU_ASSERT_DOUBLE_EQUAL(c[1], sqrt(2 / (M_PI * 64)), 1e-10);
    CU_ASSERT_DOUBLE_EQUAL(mse * 64, 1 - 2 / M_PI, 1e-9);

    /* symmetric, ascending, and the Gaussian scales as 1/sqrt(d) */
    double a[16], b[16];
    CU_ASSERT_EQUAL_FATAL(kvv_ref_lloyd_max(KVV_DENSITY_GAUSS, 32, 16, a, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(kvv_ref_lloyd_max(KVV_DENSITY_GAUSS, 128, 16, b, NULL), 0);
    for (int k = 0; k < 16; k++) {
        CU_ASSERT_DOUBLE_EQUAL(a[k], 2 * b[k], 1e-10);
        CU_ASSERT_DOUBLE_EQUAL(a[k], -a[15 - k], 1e-12);
        if (k)
            CU_ASSERT(a[k] > a[k - 1]);
    }
    /* the Beta density has lighter tails than N(0, 1/d): its outer level is
     * smaller, and it approaches the Gaussian as d grows */
    double bs[16], bl[16];
    CU_ASSERT_EQUAL_FATAL(kvv_ref_lloyd_max(KVV_DENSITY_BETA, 128, 16, bs, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(kvv_ref_lloyd_max(KVV_DENSITY_BETA, 4096, 16, bl, NULL), 0);
    CU_ASSERT(bs[15] < b[15]);
    CU_ASSERT(fabs(bl[15] * sqrt(4096.0) - b[15] * sqrt(128.0)) < fabs(bs[15] - b[15]) * sqrt(128.0));

    /* refused shapes */
    CU_ASSERT_EQUAL(kvv_ref_lloyd_max(KVV_DENSITY_GAUSS, 128, 3, c, &mse), -1);
    CU_ASSERT_EQUAL(kvv_ref_lloyd_max(KVV_DENSITY_BETA, 1, 4, c, &mse), -1);
}

/* Per coordinate times d, b = 1..4 bits.  The paper quotes about 0.36,
 * 0.117, 0.03, 0.009 (printed to one or two significant digits; Max's 1960
 * Gaussian table gives 0.3634, 0.1175, 0.03454, 0.009497); the lower bound
 * is 4^-b. */
static void test_paper_distortions(void)
{
    const double paper[4] = {0.36, 0.117, 0.03, 0.009}, printed_ulp[4] = {0.01, 0.001, 0.01, 0.001};
    const double max1960[4] = {0.3634, 0.1175, 0.03454, 0.009497};
    for (int b = 1; b <= 4; b++) {
        double c[16], mg, mb;
        CU_ASSERT_EQUAL_FATAL(kvv_ref_lloyd_max(KVV_DENSITY_GAUSS, 128, 1 << b, c, &mg), 0);
        CU_ASSERT_EQUAL_FATAL(kvv_ref_lloyd_max(KVV_DENSITY_BETA, 128, 1 << b, c, &mb), 0);
        mg *= 128;
        mb *= 128;
        CU_ASSERT(fabs(mg - max1960[b - 1]) <= 0.002 * max1960[b - 1]);
        CU_ASSERT(fabs(mg - paper[b - 1]) <= 0.5 * printed_ulp[b - 1] + 0.03 * paper[b - 1]);
        CU_ASSERT(fabs(mb - paper[b - 1]) <= 0.5 * printed_ulp[b - 1] + 0.03 * paper[b - 1]);
        CU_ASSERT(mb < mg); /* lighter tails quantize better */
        CU_ASSERT(mb > pow(4.0, -b));
    }
}

/* The table whose name is `key` or starts with `key` and a space. */
static const kvv_ref_table *table_named(const char *key)
{
    int n;
    size_t len = strlen(key);
    const kvv_ref_table *t = kvv_ref_tables(&n);
    for (int i = 0; i < n; i++)
        if (strncmp(t[i].name, key, len) == 0 && (t[i].name[len] == 0 || t[i].name[len] == ' '))
            return &t[i];
    return NULL;
}

/* The tables the quantizers use are the f32 roundings of the tables the
 * reference reports on, and their midpoints are the averages. */
static void test_tables_agree_with_quantizers(void)
{
    const struct {
        const char *name;
        const float *c, *m;
        int levels;
    } q[] = {{"turbo2 C2", kvv_rq_c2, kvv_rq_m2, 4}, {"turbo3 C3", kvv_rq_c3, kvv_rq_m3, 8},
             {"turbo4 C4", kvv_rq_c4, kvv_rq_m4, 16}};
    int n;
    kvv_ref_tables(&n);
    CU_ASSERT_EQUAL(n, 6);
    for (int i = 0; i < 3; i++) {
        const kvv_ref_table *t = table_named(q[i].name);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT_EQUAL_FATAL(t->levels, q[i].levels);
        for (int k = 0; k < t->levels; k++) {
            CU_ASSERT_EQUAL(q[i].c[k], (float)t->values[k]);
            CU_ASSERT_EQUAL(t->values[k], -t->values[t->levels - 1 - k]);
            if (k)
                CU_ASSERT(fabs(q[i].m[k - 1] - 0.5 * (t->values[k - 1] + t->values[k])) <= 0.6e-6);
        }
    }
    /* C4alt: its midpoints as the forks list them are its averages */
    const double alt_mid[7] = {0.013963, 0.028293, 0.043430, 0.060009, 0.079142, 0.103361, 0.145560};
    const kvv_ref_table *alt = table_named("turbo4@narrow C4n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(alt);
    for (int k = 0; k < 7; k++)
        CU_ASSERT(fabs(alt_mid[k] - 0.5 * (alt->values[8 + k] + alt->values[9 + k])) <= 0.6e-6);
}

static void test_shipped_tables_match(void)
{
    kvv_ref_table_match m;
    const char *names[] = {"turbo2 C2", "turbo3 C3", "turbo4 C4", "turbo3 C3g", "turbo4 C4g"};
    for (int i = 0; i < 5; i++) {
        const kvv_ref_table *t = table_named(names[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT_EQUAL_FATAL(kvv_ref_table_match_find(t, 16, 1024, &m), 0);
        CU_ASSERT(m.matches);
        CU_ASSERT(m.max_rel_dev <= KVV_REF_TABLE_TOL);
        CU_ASSERT_EQUAL(m.density, KVV_DENSITY_GAUSS);
        CU_ASSERT(abs(m.d - 128) <= 2);
        /* the optimum is optimal; a matching table costs almost nothing */
        CU_ASSERT(m.mse_optimal <= m.mse_shipped + 1e-12);
        CU_ASSERT(m.mse_shipped <= 1.01 * m.mse_optimal);
    }
    /* the revision tables are the Gaussian optimum at d = 128 to the digits printed */
    CU_ASSERT_EQUAL_FATAL(kvv_ref_table_match_find(table_named("turbo4 C4g"), 16, 1024, &m), 0);
    CU_ASSERT_EQUAL(m.d, 128);
    CU_ASSERT(m.max_abs_dev < 1e-6);
}

/* A table that does not fit its density must be reported, not matched:
 * the forks' alternative 4-bit table, and a planted copy of C4 with one
 * level moved by a tenth of its spacing. */
static void test_wrong_tables_do_not_match(void)
{
    kvv_ref_table_match m;
    const kvv_ref_table *alt = table_named("turbo4@narrow C4n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(alt);
    CU_ASSERT_EQUAL_FATAL(kvv_ref_table_match_find(alt, 2, 4096, &m), 0);
    CU_ASSERT_FALSE(m.matches);
    CU_ASSERT(m.max_rel_dev > 0.1);
    CU_ASSERT(m.mse_shipped > 1.05 * m.mse_optimal);

    const kvv_ref_table *c4 = table_named("turbo4 C4");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c4);
    double v[16];
    memcpy(v, c4->values, sizeof v);
    v[12] += 0.1 * (v[13] - v[12]);
    kvv_ref_table planted = {"planted", 16, v};
    CU_ASSERT_EQUAL_FATAL(kvv_ref_table_match_find(&planted, 16, 1024, &m), 0);
    CU_ASSERT_FALSE(m.matches);
    CU_ASSERT(m.max_rel_dev > 0.05);

    /* a uniform grid (what a careless table might be) matches nothing */
    for (int k = 0; k < 16; k++)
        v[k] = (k - 7.5) * 0.03;
    kvv_ref_table uniform = {"uniform", 16, v};
    CU_ASSERT_EQUAL_FATAL(kvv_ref_table_match_find(&uniform, 2, 4096, &m), 0);
    CU_ASSERT_FALSE(m.matches);

    /* refused input: not ascending */
    v[3] = v[2];
    CU_ASSERT_EQUAL(kvv_ref_table_match_find(&uniform, 2, 4096, &m), -1);
}

/* A table derived at some d by Beta is found again at that d. */
static void test_beta_table_found(void)
{
    double c[8];
    CU_ASSERT_EQUAL_FATAL(kvv_ref_lloyd_max(KVV_DENSITY_BETA, 24, 8, c, NULL), 0);
    kvv_ref_table t = {"beta24", 8, c};
    kvv_ref_table_match m;
    CU_ASSERT_EQUAL_FATAL(kvv_ref_table_match_find(&t, 4, 512, &m), 0);
    CU_ASSERT_EQUAL(m.density, KVV_DENSITY_BETA);
    CU_ASSERT_EQUAL(m.d, 24);
    CU_ASSERT(m.max_rel_dev < 1e-6);
    CU_ASSERT(m.matches);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"Lloyd-Max known answers (uniform, arcsine, 1-bit Gaussian)", test_known_answers},
        {"paper distortions b=1..4", test_paper_distortions},
        {"shipped tables = quantizer tables", test_tables_agree_with_quantizers},
        {"C2/C3/C4 and the Gaussian-exact revision match N(0,1/d) at d~128", test_shipped_tables_match},
        {"C4alt and planted wrong tables do not match", test_wrong_tables_do_not_match},
        {"a Beta table is found at its d", test_beta_table_found},
        {NULL, NULL},
    };
    kvv_add_suite("ref_centroids", tests);
}
