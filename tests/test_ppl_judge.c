/* The pieces of the end-to-end check that `kvverify ppl` and the ppl cases
 * share: the bound judgement (kvv_ppl_judge) on planted measurements, the
 * K/V pair list, the model loader by name, the text and its reference. */
#include <math.h>

#include "oracle/ppl.h"
#include "tests/harness.h"

static kvv_case probe_case(kvv_type k, kvv_type v)
{
    kvv_case c = kvv_case_default(KVV_OP_PPL);
    c.model = KVV_PROBE_LLAMA;
    c.dk = c.dv = 128;
    c.type_k = k;
    c.type_v = v;
    return c;
}

static void test_judge(void)
{
    kvv_case c = probe_case(KVV_Q8_0, KVV_Q8_0);
    kvv_ppl_bound b, got;
    char why[400];
    CU_ASSERT_FATAL(kvv_ppl_bound_lookup(&c, &b, why, sizeof why) == 0);
    /* half of every bound: within, half of it used */
    kvv_ppl_stats s = {.n = 255, .ratio = 1 + (b.ratio - 1) / 2, .kl_mean = b.kl_mean / 2, .kl_p99 = b.kl_p99 / 2,
                       .first_nonfinite = -1};
    double budget = -1;
    CU_ASSERT_EQUAL(kvv_ppl_judge(&c, &s, &got, &budget, why, sizeof why), KVV_PPL_WITHIN);
    CU_ASSERT_DOUBLE_EQUAL(budget, 0.5, 1e-9);
    CU_ASSERT_EQUAL(got.ratio, b.ratio);
    /* each statistic alone past its bound fails it */
    for (int i = 0; i < 3; i++) {
        kvv_ppl_stats t = s;
        double *x = i == 0 ? &t.ratio : i == 1 ? &t.kl_mean : &t.kl_p99;
        double lim = i == 0 ? b.ratio : i == 1 ? b.kl_mean : b.kl_p99;
        *x = nextafter(lim, INFINITY);
        CU_ASSERT_EQUAL(kvv_ppl_judge(&c, &t, &got, &budget, why, sizeof why), KVV_PPL_OVER);
        CU_ASSERT(budget > 1 - 1e-9);
        *x = lim; /* at the bound: still within */
        CU_ASSERT_EQUAL(kvv_ppl_judge(&c, &t, &got, &budget, why, sizeof why), KVV_PPL_WITHIN);
    }
    /* NaN/Inf comes first, with or without a bound */
    kvv_ppl_stats nan = s;
    nan.nonfinite = 3;
    nan.first_nonfinite = 7;
    CU_ASSERT_EQUAL(kvv_ppl_judge(&c, &nan, &got, &budget, why, sizeof why), KVV_PPL_NONFINITE);
    CU_ASSERT_EQUAL(kvv_ppl_judge(NULL, &nan, &got, &budget, why, sizeof why), KVV_PPL_NONFINITE);
    CU_ASSERT_EQUAL(kvv_ppl_judge(NULL, &s, &got, &budget, why, sizeof why), KVV_PPL_UNBOUNDED);
    /* a case the table has no row for */
    kvv_case odd = probe_case(KVV_Q8_0, KVV_Q8_0);
    odd.dk = odd.dv = 96;
    budget = -1;
    CU_ASSERT_EQUAL(kvv_ppl_judge(&odd, &s, &got, &budget, why, sizeof why), KVV_PPL_NO_BOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "no bound for model=probe d96 q8_0-q8_0"));
    CU_ASSERT_EQUAL(budget, -1);
}

static void test_pairs(void)
{
    kvv_type p[KVV_CACHE_TYPE_COUNT * KVV_CACHE_TYPE_COUNT][2];
    const int max = KVV_CACHE_TYPE_COUNT * KVV_CACHE_TYPE_COUNT;
    char why[400];
    CU_ASSERT_EQUAL(kvv_ppl_pairs_parse("q8_0/turbo3,f16/f16", 128, 128, p, max, why, sizeof why), 2);
    CU_ASSERT(p[0][0] == KVV_Q8_0 && p[0][1] == KVV_TURBO3 && p[1][0] == KVV_F16 && p[1][1] == KVV_F16);
    CU_ASSERT_EQUAL(kvv_ppl_pairs_parse("all", 128, 128, p, max, why, sizeof why), max);
    CU_ASSERT_EQUAL(kvv_ppl_pairs_parse("q8_0", 128, 128, p, max, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "K/V pairs like"));
    CU_ASSERT_EQUAL(kvv_ppl_pairs_parse("q8_0/nosuch", 128, 128, p, max, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "unknown type in 'q8_0/nosuch'"));
}

static void test_model_and_text(void)
{
    kvv_model m;
    char why[600];
    kvv_probe_params p = kvv_probe_default();
    CU_ASSERT_EQUAL(kvv_model_open("/nonexistent/model.gguf", &p, &m, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "/nonexistent/model.gguf"));
    p.head_dim = 64;
    CU_ASSERT_FATAL(kvv_model_open("hybrid", &p, &m, why, sizeof why) == 0);
    CU_ASSERT_EQUAL(m.dk, 64);
    CU_ASSERT_STRING_EQUAL(m.arch, "kvv-hybrid"); /* the name sets the kind */
    kvv_ppl_input in;
    CU_ASSERT_EQUAL(kvv_ppl_input_open(&m, "/nonexistent/text", 0, 16, &in, why, sizeof why), -1);
    kvv_ppl_input_free(&in);
    CU_ASSERT_EQUAL(kvv_ppl_input_open(&m, NULL, 1 << 28, 16, &in, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "nothing to score from offset"));
    kvv_ppl_input_free(&in);
    CU_ASSERT_FATAL(kvv_ppl_input_open(&m, NULL, 5, 16, &in, why, sizeof why) == 0);
    CU_ASSERT(in.n == 16 && in.offset == 5 && in.total > 100 && in.have_stats);
    for (int i = 0; i < in.n * m.n_vocab; i++)
        if (!isfinite(in.ref[i])) {
            CU_FAIL("a reference logit is not finite");
            break;
        }
    kvv_ppl_input_free(&in);
    kvv_model_free(&m);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"the bound judgement on planted measurements", test_judge},
                                     {"K/V pair lists", test_pairs},
                                     {"models by name, the text and its reference", test_model_and_text},
                                     {NULL, NULL}};
    kvv_add_suite("ppl judgement", tests);
}
