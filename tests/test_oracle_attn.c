/* Whole cases through the oracle with backends that carry a planted
 * defect of the kinds that have shipped (SPEC 5; the defect backends of
 * tests/harness/defect.h, by their names in ci/mutants.txt): the honest CPU
 * backend passes each case, and each defect is caught by the rule named. */
#include <string.h>

#include "oracle/run.h"
#include "oracle/verdict.h"
#include "tests/harness.h"

/* The case on the CPU backend with one defect of tests/harness/defect.h
 * planted (NULL: none, the honest backend). */
static kvv_verdict run(const char *name, const char *defect)
{
    kvv_case c = kvv_case_named("%s", name);
    kvv_backend *b = defect ? kvv_defect(defect) : kvv_defect_backend("honest", NULL, 0);
    kvv_verdict v;
    kvv_run_case(&c, b, &v);
    kvv_defect_free(b);
    if (!defect && v.status != KVV_PASS)
        printf("\nhonest run of %s failed: [%s] %s\n", name, kvv_rule_name(v.rule), v.detail);
    return v;
}

#define TURBO_CASE "attn/d256/turbo3-turbo3/nq2/nkv64/h4/gqa2/mask=causal/dist=outlier/seed=3"
#define ASYM_CASE "attn/d256/q8_0-turbo3/nq1/nkv64/h4/gqa4/dist=gauss/seed=5"

static void test_double_rotation(void)
{
    CU_ASSERT(run(TURBO_CASE, NULL).status == KVV_PASS);
    kvv_verdict v = run(TURBO_CASE, "double_rotation");
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_ARITH);
    /* where the key type is fine enough to measure against the truth, the
     * budget rule sees it too (with a 3-bit key the type's own distortion
     * can be as large as the damage, and only arith can tell) */
    const char *fine = "attn/d128/turbo4-q8_0/nq1/nkv256/h4/gqa1/dist=gauss/seed=3";
    CU_ASSERT(run(fine, NULL).budget_ratio < 1.5);
    v = run(fine, "double_rotation");
    CU_ASSERT(v.status == KVV_FAIL && v.budget_ratio > KVV_BUDGET_THRESHOLD);
}

static void test_missing_rotation(void)
{
    /* the cache bytes betray it, and the answer is far outside the
     * type's distortion even though the kernel is self-consistent */
    kvv_verdict v = run(ASYM_CASE, "missing_rotation");
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_BYTES);
    CU_ASSERT(strstr(v.detail, "V row") != NULL);
    CU_ASSERT(v.budget_ratio > KVV_BUDGET_THRESHOLD);
}

static void test_swapped_type(void)
{
    const char *name = "attn/d128/q4_0-iq4_nl/nq1/nkv64/h4/gqa1/dist=heavy/seed=9";
    CU_ASSERT(run(name, NULL).status == KVV_PASS);
    kvv_verdict v = run(name, "swapped_v_type");
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_ARITH);
}

static void test_f16_accumulation(void)
{
    const char *name = "attn/d128/q8_0-q8_0/nq1/nkv256/h8/gqa4/dist=gauss/seed=2";
    CU_ASSERT(run(name, NULL).status == KVV_PASS);
    kvv_verdict v = run(name, "f16_accumulation");
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_ARITH && v.arith_ratio > 1.0);
}

static void test_speed_toggle_path(void)
{
    const char *name = "attn/d128/q8_0-q8_0/nq1/nkv256/h8/gqa4/cache=on/dist=gauss/seed=2";
    CU_ASSERT(run(name, NULL).status == KVV_PASS);
    kvv_verdict v = run(name, "toggle_path@ulp");
    /* one ulp is well inside the arithmetic bound: only the toggle rule sees it */
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_TOGGLE);
}

static void test_zeroed_payload(void)
{
    const char *name = "attn/d128/turbo3-turbo3/nq1/nkv64/h4/gqa1/dist=gauss/seed=4";
    kvv_verdict v = run(name, "zero_payload");
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_BYTES && strstr(v.detail, "K row 0") != NULL);
}

static void test_nan_output(void)
{
    kvv_verdict v = run("attn/d64/f16-f16/nq1/nkv32/h2/gqa1/dist=gauss/seed=1", "nan_output");
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_FINITE);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"double rotation caught", test_double_rotation},
                                     {"missing rotation caught", test_missing_rotation},
                                     {"V dispatched on K's type caught", test_swapped_type},
                                     {"f16 accumulation caught", test_f16_accumulation},
                                     {"speed toggle with a different path caught", test_speed_toggle_path},
                                     {"zeroed payload caught", test_zeroed_payload},
                                     {"NaN output caught", test_nan_output},
                                     {NULL, NULL}};
    kvv_add_suite("oracle on defective backends", tests);
}
