/* Whole cases through the oracle with backends that carry a planted
 * defect of the kinds that have shipped (SPEC 5): the honest CPU backend
 * passes each case, and each defect is caught by the rule named. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu_backend.h"
#include "oracle/oracle.h"
#include "ref/ref.h"
#include "tests/testutil.h"

typedef enum {
    DEFECT_NONE,
    DEFECT_DOUBLE_ROTATION,  /* Q rotated in the graph and again in the kernel */
    DEFECT_MISSING_ROTATION, /* K/V stored unrotated while Q and the output are rotated */
    DEFECT_SWAPPED_V_TYPE,   /* V dispatched on K's type */
    DEFECT_F16_ACCUMULATION, /* the weighted sum of V accumulated in f16 where f32 is promised */
    DEFECT_TOGGLE_PATH,      /* the cache=on path differs in one bit */
    DEFECT_ZERO_PAYLOAD,     /* quantize stub zeroing the first row */
    DEFECT_NAN_OUTPUT        /* NaN where the reference has a number */
} defect;

static defect planted;

static const kvv_backend *cpu(void) { return kvv_cpu_backend(); }

static int d_quantize(void *ctx, kvv_type t, const float *src, void *dst, int64_t nrows, int64_t ncols,
                      const kvv_toggles *tg)
{
    (void)ctx;
    if (planted == DEFECT_MISSING_ROTATION && kvv_type_get(t)->rotated) {
        /* undo the rotation the quantizer is about to apply */
        float *x = malloc(sizeof(float) * (size_t)(nrows * ncols));
        memcpy(x, src, sizeof(float) * (size_t)(nrows * ncols));
        cpu()->wht(cpu()->ctx, x, nrows, ncols, kvv_rot_group((int)ncols), 1, tg);
        int rc = cpu()->quantize_rows(cpu()->ctx, t, x, dst, nrows, ncols, tg);
        free(x);
        return rc;
    }
    int rc = cpu()->quantize_rows(cpu()->ctx, t, src, dst, nrows, ncols, tg);
    if (planted == DEFECT_ZERO_PAYLOAD && t != KVV_F32) {
        /* keep the scale, zero the indices of the first row */
        const kvv_type_info *ti = kvv_type_get(t);
        for (int64_t b = 0; b < ncols / ti->block; b++) {
            kvv_fields f;
            uint8_t *blk = (uint8_t *)dst + b * ti->bytes;
            ti->unpack(blk, &f);
            memset(f.idx, 0, sizeof f.idx);
            ti->pack(&f, blk);
        }
    }
    return rc;
}

static float f16r(float x) { return kvv_ref_f16_to_f32(kvv_ref_f32_to_f16(x)); }

/* Attention whose V accumulator is f16, as ggml's CPU path does for an f16
 * V cache (no mask, no rotation: enough for the defect). */
static int attn_f16_accumulate(const kvv_attn_args *a, float *out)
{
    int64_t nk = (int64_t)a->n_head_kv * a->n_kv;
    float *k = malloc(sizeof(float) * (size_t)(nk * a->dk)), *v = malloc(sizeof(float) * (size_t)(nk * a->dv));
    float *p = malloc(sizeof(float) * (size_t)a->n_kv);
    kvv_toggles tg = kvv_toggles_default();
    cpu()->dequantize_rows(cpu()->ctx, a->type_k, a->k, k, nk, a->dk, &tg);
    cpu()->dequantize_rows(cpu()->ctx, a->type_v, a->v, v, nk, a->dv, &tg);
    for (int h = 0; h < a->n_head; h++)
        for (int i = 0; i < a->n_q; i++) {
            const float *q = a->q + ((size_t)h * a->n_q + i) * a->dk;
            int hk = h / (a->n_head / a->n_head_kv);
            float mx = -INFINITY, sum = 0;
            for (int j = 0; j < a->n_kv; j++) {
                float s = 0;
                for (int c = 0; c < a->dk; c++)
                    s += q[c] * k[((size_t)hk * a->n_kv + j) * a->dk + c];
                p[j] = s * a->scale;
                mx = p[j] > mx ? p[j] : mx;
            }
            float *o = out + ((size_t)h * a->n_q + i) * a->dv;
            memset(o, 0, sizeof(float) * (size_t)a->dv);
            for (int j = 0; j < a->n_kv; j++) {
                p[j] = expf(p[j] - mx);
                sum += p[j];
                for (int d = 0; d < a->dv; d++)
                    o[d] = f16r(o[d] + f16r(p[j] * v[((size_t)hk * a->n_kv + j) * a->dv + d]));
            }
            for (int d = 0; d < a->dv; d++)
                o[d] /= sum;
        }
    free(k);
    free(v);
    free(p);
    return KVV_OK;
}

static int d_attention(void *ctx, const kvv_attn_args *a, float *out, kvv_attn_info *info)
{
    (void)ctx;
    kvv_attn_args b = *a;
    float *q2 = NULL;
    if (planted == DEFECT_DOUBLE_ROTATION && kvv_type_get(a->type_k)->rotated) {
        size_t n = (size_t)a->n_head * a->n_q * a->dk;
        q2 = malloc(sizeof(float) * n);
        memcpy(q2, a->q, sizeof(float) * n);
        cpu()->wht(cpu()->ctx, q2, (int64_t)a->n_head * a->n_q, a->dk, kvv_rot_group(a->dk), 0, &a->tg);
        b.q = q2;
    }
    if (planted == DEFECT_SWAPPED_V_TYPE)
        b.type_v = a->type_k;
    int rc = cpu()->attention(cpu()->ctx, &b, out, info);
    free(q2);
    size_t nout = (size_t)a->n_head * a->n_q * a->dv;
    if (planted == DEFECT_F16_ACCUMULATION)
        rc = attn_f16_accumulate(a, out); /* while info still claims f32 accumulation */
    if (planted == DEFECT_TOGGLE_PATH && a->tg.cache)
        out[nout / 2] = nextafterf(out[nout / 2], INFINITY);
    if (planted == DEFECT_NAN_OUTPUT)
        out[3] = NAN;
    return rc;
}

static kvv_backend defective(void)
{
    kvv_backend b = *cpu();
    b.name = "defective";
    b.quantize_rows = d_quantize;
    b.attention = d_attention;
    return b;
}

static kvv_verdict run(const char *name, defect d)
{
    kvv_case c;
    char err[200];
    CU_ASSERT_FATAL(kvv_case_parse(name, &c, err, sizeof err) == 0);
    kvv_backend b = defective();
    kvv_verdict v;
    planted = d;
    kvv_run_case(&c, &b, &v);
    planted = DEFECT_NONE;
    if (d == DEFECT_NONE && v.status != KVV_PASS)
        printf("\nhonest run of %s failed: [%s] %s\n", name, kvv_rule_name(v.rule), v.detail);
    return v;
}

#define TURBO_CASE "attn/d256/turbo3-turbo3/nq2/nkv64/h4/gqa2/mask=causal/dist=outlier/seed=3"
#define ASYM_CASE "attn/d256/q8_0-turbo3/nq1/nkv64/h4/gqa4/dist=gauss/seed=5"

static void test_double_rotation(void)
{
    CU_ASSERT(run(TURBO_CASE, DEFECT_NONE).status == KVV_PASS);
    kvv_verdict v = run(TURBO_CASE, DEFECT_DOUBLE_ROTATION);
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_ARITH);
    /* where the key type is fine enough to measure against the truth, the
     * budget rule sees it too (with a 3-bit key the type's own distortion
     * can be as large as the damage, and only arith can tell) */
    const char *fine = "attn/d128/turbo4-q8_0/nq1/nkv256/h4/gqa1/dist=gauss/seed=3";
    CU_ASSERT(run(fine, DEFECT_NONE).budget_ratio < 1.5);
    v = run(fine, DEFECT_DOUBLE_ROTATION);
    CU_ASSERT(v.status == KVV_FAIL && v.budget_ratio > KVV_BUDGET_THRESHOLD);
}

static void test_missing_rotation(void)
{
    /* the cache bytes betray it, and the answer is far outside the
     * type's distortion even though the kernel is self-consistent */
    kvv_verdict v = run(ASYM_CASE, DEFECT_MISSING_ROTATION);
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_BYTES);
    CU_ASSERT(strstr(v.detail, "V row") != NULL);
    CU_ASSERT(v.budget_ratio > KVV_BUDGET_THRESHOLD);
}

static void test_swapped_type(void)
{
    const char *name = "attn/d128/q4_0-iq4_nl/nq1/nkv64/h4/gqa1/dist=heavy/seed=9";
    CU_ASSERT(run(name, DEFECT_NONE).status == KVV_PASS);
    kvv_verdict v = run(name, DEFECT_SWAPPED_V_TYPE);
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_ARITH);
}

static void test_f16_accumulation(void)
{
    const char *name = "attn/d128/q8_0-q8_0/nq1/nkv256/h8/gqa4/dist=gauss/seed=2";
    CU_ASSERT(run(name, DEFECT_NONE).status == KVV_PASS);
    kvv_verdict v = run(name, DEFECT_F16_ACCUMULATION);
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_ARITH && v.arith_ratio > 1.0);
}

static void test_speed_toggle_path(void)
{
    const char *name = "attn/d128/q8_0-q8_0/nq1/nkv256/h8/gqa4/cache=on/dist=gauss/seed=2";
    CU_ASSERT(run(name, DEFECT_NONE).status == KVV_PASS);
    kvv_verdict v = run(name, DEFECT_TOGGLE_PATH);
    /* one ulp is well inside the arithmetic bound: only the toggle rule sees it */
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_TOGGLE);
}

static void test_zeroed_payload(void)
{
    const char *name = "attn/d128/turbo3-turbo3/nq1/nkv64/h4/gqa1/dist=gauss/seed=4";
    kvv_verdict v = run(name, DEFECT_ZERO_PAYLOAD);
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_BYTES && strstr(v.detail, "K row 0") != NULL);
}

static void test_nan_output(void)
{
    kvv_verdict v = run("attn/d64/f16-f16/nq1/nkv32/h2/gqa1/dist=gauss/seed=1", DEFECT_NAN_OUTPUT);
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
