/* A backend cannot buy a pass with a precision claim (oracle/claims.c).
 *
 * In-process backends wrap the CPU backend's cache functions around
 * attention kernels that lie or tell the truth about their precision:
 *   zeros    writes an all-zero output
 *   no_q     ignores Q: every visible key gets the same weight
 *   honest   a real f16 kernel: Q*scale, K and V rounded to f16, dot
 *            products in eight f16 lanes summed as a tree, tiles of keys
 *            accumulated in f16 (another order than the oracle's own
 *            emulation), reporting kv_round 2^-10 and acc_round 2^-11
 * The liars fail under every claim, valid or not; the honest kernel passes
 * with its true claim; a claim that names no precision fails by itself. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu_backend.h"
#include "oracle/rules.h"
#include "oracle/run.h"
#include "oracle/verdict.h"
#include "gen/gen.h"
#include "ref/ref.h"
#include "tests/harness.h"

typedef enum { K_ZEROS, K_NO_Q, K_HONEST } kernel_kind;
static kernel_kind kind;
static double claim_kv, claim_acc;

static const kvv_backend *cpu(void) { return kvv_cpu_backend(); }
static float h(float x) { return kvv_ref_f16_to_f32(kvv_ref_f32_to_f16(x)); }

/* The honest f16 kernel, and no_q (the same code without the dot product). */
static void f16_kernel(const kvv_attn_args *a, const float *k, const float *v, float *out)
{
    float *qs = malloc(sizeof(float) * (size_t)a->dk), *o = malloc(sizeof(float) * (size_t)a->dv);
    const int grp = a->n_head / a->n_head_kv, tile = 32;
    for (int hh = 0; hh < a->n_head; hh++) {
        const double slope = kvv_ref_alibi_slope(hh, a->n_head, a->max_bias);
        for (int i = 0; i < a->n_q; i++) {
            const float *q = a->q + ((size_t)hh * a->n_q + i) * a->dk;
            const float *kh = k + (size_t)(hh / grp) * a->n_kv * a->dk, *vh = v + (size_t)(hh / grp) * a->n_kv * a->dv;
            for (int c = 0; c < a->dk; c++)
                qs[c] = h(q[c] * a->scale);
            float m = -INFINITY, l = 0;
            memset(o, 0, sizeof(float) * (size_t)a->dv);
            for (int j0 = 0; j0 < a->n_kv; j0 += tile) {
                /* a tile's scores, its max, then its weighted sum */
                float s[32], tm = -INFINITY;
                for (int j = j0; j < j0 + tile && j < a->n_kv; j++) {
                    const float mk = a->mask ? a->mask[(size_t)i * a->n_kv + j] : 0.0f;
                    float lane[8] = {0};
                    if (kind == K_HONEST)
                        for (int c = 0; c < a->dk; c++)
                            lane[c % 8] = h(lane[c % 8] + h(qs[c] * kh[(size_t)j * a->dk + c]));
                    float x = h(h(h(lane[0] + lane[1]) + h(lane[2] + lane[3])) + h(h(lane[4] + lane[5]) + h(lane[6] + lane[7])));
                    s[j - j0] = mk == -INFINITY ? -INFINITY : h(x + (float)(slope * mk));
                    tm = s[j - j0] > tm ? s[j - j0] : tm;
                }
                if (tm == -INFINITY)
                    continue;
                if (tm > m) {
                    const float r = m == -INFINITY ? 0.0f : h(expf(m - tm));
                    for (int d = 0; d < a->dv; d++)
                        o[d] = h(o[d] * r);
                    l = h(l * r);
                    m = tm;
                }
                for (int j = j0; j < j0 + tile && j < a->n_kv; j++) {
                    if (s[j - j0] == -INFINITY)
                        continue;
                    const float w = h(expf(s[j - j0] - m));
                    for (int d = 0; d < a->dv; d++)
                        o[d] = h(o[d] + h(w * vh[(size_t)j * a->dv + d]));
                    l = h(l + w);
                }
            }
            float *op = out + ((size_t)hh * a->n_q + i) * a->dv;
            for (int d = 0; d < a->dv; d++)
                op[d] = l > 0 ? o[d] / l : 0.0f;
        }
    }
    free(qs);
    free(o);
}

static int w_attention(void *ctx, const kvv_attn_args *a, float *out, kvv_attn_info *info)
{
    (void)ctx;
    const int64_t nk = (int64_t)a->n_head_kv * a->n_kv;
    float *k = malloc(sizeof(float) * (size_t)(nk * a->dk)), *v = malloc(sizeof(float) * (size_t)(nk * a->dv));
    kvv_toggles tg = kvv_toggles_default();
    cpu()->dequantize_rows(cpu()->ctx, a->type_k, a->k, k, nk, a->dk, &tg);
    cpu()->dequantize_rows(cpu()->ctx, a->type_v, a->v, v, nk, a->dv, &tg);
    for (int64_t i = 0; i < nk * a->dk; i++)
        k[i] = h(k[i]);
    for (int64_t i = 0; i < nk * a->dv; i++)
        v[i] = h(v[i]);
    if (kind == K_ZEROS)
        memset(out, 0, sizeof(float) * (size_t)a->n_head * a->n_q * a->dv);
    else
        f16_kernel(a, k, v, out);
    free(k);
    free(v);
    info->kv_round = claim_kv;
    info->acc_round = claim_acc;
    return KVV_OK;
}

static kvv_verdict run(const char *name, kernel_kind kk, double kv, double acc)
{
    kvv_case c;
    char err[200];
    kvv_verdict v;
    CU_ASSERT_FATAL(kvv_case_parse(name, &c, err, sizeof err) == 0);
    kvv_backend b = *cpu();
    b.name = "claims";
    b.attention = w_attention;
    kind = kk;
    claim_kv = kv;
    claim_acc = acc;
    kvv_run_case(&c, &b, &v);
    return v;
}

/* Every claim a backend could make: the valid ones from exact to the
 * ceiling, and invalid ones. */
static const double kv_claims[] = {0, 0x1p-11, 0x1p-10, 0x1p-7, 0.1, 1.0, 1e30, NAN};
static const double acc_claims[] = {0, 0x1p-24, 0x1p-11, 0x1p-8, INFINITY};
#define N_KV_CLAIMS (sizeof kv_claims / sizeof *kv_claims)
#define N_ACC_CLAIMS (sizeof acc_claims / sizeof *acc_claims)

static void fails_whatever_it_claims(const char *name, kernel_kind kk)
{
    for (size_t i = 0; i < N_KV_CLAIMS; i++)
        for (size_t j = 0; j < N_ACC_CLAIMS; j++) {
            kvv_verdict v = run(name, kk, kv_claims[i], acc_claims[j]);
            CU_ASSERT_EQUAL(v.status, KVV_FAIL);
            CU_ASSERT(v.rule == KVV_RULE_ARITH || v.rule == KVV_RULE_BUDGET);
            CU_ASSERT(v.has_claim && (v.claimed_kv_round == kv_claims[i] || isnan(kv_claims[i])));
            /* the failure line says what was claimed */
            CU_ASSERT(strstr(v.detail, "kv_round") != NULL);
            if (v.status != KVV_FAIL)
                printf("\n%s passes %s claiming kv_round %g acc_round %g (budget %.3g)\n",
                       kk == K_ZEROS ? "zeros" : "no_q", name, kv_claims[i], acc_claims[j], v.budget_ratio);
        }
}

static void test_zeros_fail_whatever_they_claim(void)
{
    fails_whatever_it_claims("attn/d192/f16-f16/nq1/nkv128/h4/gqa2/dist=gauss/seed=11", K_ZEROS);
    fails_whatever_it_claims("attn/d192/q8_0-q8_0/nq1/nkv128/h4/gqa2/dist=gauss/seed=12", K_ZEROS);
}

static void test_ignoring_q_fails_whatever_it_claims(void)
{
    fails_whatever_it_claims("attn/d128/f16-f16/nq1/nkv128/h4/gqa2/dist=gauss/seed=13", K_NO_Q);
    fails_whatever_it_claims("attn/d128/q8_0-q8_0/nq1/nkv128/h4/gqa1/dist=gauss/seed=14", K_NO_Q);
    fails_whatever_it_claims("attn/d64/f32-f32/nq4/nkv128/h4/gqa2/mask=causal/dist=gauss/seed=15", K_NO_Q);
}

/* The honest f16 kernel passes with what it does, and with any coarser
 * claim; claiming f32 it fails, and the line says what it claimed. */
static void test_honest_f16_kernel_passes(void)
{
    static const char *const names[] = {
        "attn/d128/f16-f16/nq1/nkv256/h8/gqa4/dist=gauss/seed=21",
        "attn/d192/q8_0-q8_0/nq1/nkv256/h8/gqa1/dist=rope/seed=22",
        "attn/d64/q4_0-q5_1/nq1/nkv512/h4/gqa2/dist=outlier/seed=23",
        "attn/d256/bf16-f16/nq1/nkv256/h8/gqa8/dist=heavy/seed=24",
        "attn/d96/f32-f16/nq8/nkv96/h4/gqa1/mask=causal/alibi=8/dist=gauss/seed=25",
        "attn/d128/iq4_nl-q8_0/nq4/nkv128/h4/gqa4/mask=holes/dist=outlier/seed=26",
        "attn/d576/dv512/f16-f16/nq1/nkv256/h8/gqa8/dist=gauss/seed=27",
    };
    double worst = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        kvv_verdict v = run(names[i], K_HONEST, 0x1p-10, 0x1p-11);
        CU_ASSERT_EQUAL(v.status, KVV_PASS);
        worst = v.budget_ratio > worst ? v.budget_ratio : worst;
        if (v.status != KVV_PASS)
            printf("\nhonest f16 kernel fails %s: [%s] %s\n", names[i], kvv_rule_name(v.rule), v.detail);
        v = run(names[i], K_HONEST, 0x1p-7, 0x1p-8);
        CU_ASSERT_EQUAL(v.status, KVV_PASS);
    }
    printf("(worst budget ratio of the honest f16 kernel: %.3g of the threshold %g) ", worst, KVV_BUDGET_THRESHOLD);
    kvv_verdict v = run(names[0], K_HONEST, 0, 0x1p-24);
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_ARITH);
    CU_ASSERT_PTR_NOT_NULL(strstr(v.detail, "claimed kv_round=0 acc_round=2^-24 (f32 accumulation)"));
}

static void test_invalid_claims(void)
{
    static const struct {
        double kv, acc;
        const char *why;
    } bad[] = {{NAN, 0x1p-24, "NaN"},         {0, NAN, "NaN"},
               {INFINITY, 0x1p-24, "infinite"}, {0, -INFINITY, "infinite"},
               {-0x1p-11, 0x1p-24, "negative"}, {0, -0x1p-24, "negative"},
               {1e30, 1e30, "kv_round above 1"}, {1.5, 0x1p-24, "kv_round above 1"},
               {0, 0x1p-20, "acc_round is none of"}, {0, 0.5, "acc_round is none of"}};
    char why[200];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CU_ASSERT_EQUAL(kvv_claim_check(bad[i].kv, bad[i].acc, why, sizeof why), -1);
        CU_ASSERT(strstr(why, "invalid precision claim") && strstr(why, bad[i].why));
        /* the CPU backend's honest output, with the bad claim */
        kvv_verdict v = run("attn/d64/f16-f16/nq1/nkv64/h2/gqa1/dist=gauss/seed=31", K_HONEST, bad[i].kv, bad[i].acc);
        CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_ARITH && strstr(v.detail, "invalid precision claim"));
    }
    static const double good[][2] = {{0, 0}, {0, 0x1p-24}, {0x1p-11, 0x1p-24}, {0x1p-10, 0x1p-11},
                                     {0x1p-7, 0x1p-8}, {0.3, 0x1p-11}, {1.0, 0x1p-8}, {0, 0x1p-53}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CU_ASSERT_EQUAL(kvv_claim_check(good[i][0], good[i][1], why, sizeof why), 0);
    /* the text names the claim in powers of two */
    kvv_claim_text(0x1p-10, 0x1p-11, why, sizeof why);
    CU_ASSERT_STRING_EQUAL(why, "claimed kv_round=2^-10 acc_round=2^-11 (f16 accumulation)");
}

/* kv_round above bf16's is capped at what a q8 conversion of this Q needs:
 * small on Gaussian Q, large where a block holds an outlier, and bf16's
 * 2^-7 where K cannot be made of 32-value blocks. */
static void test_kv_cap(void)
{
    enum { DK = 64, NKV = 16 };
    static double q[DK], k[NKV * DK], v[NKV * DK];
    kvv_rng r;
    kvv_rng_seed(&r, 5, 1);
    for (int i = 0; i < DK; i++)
        q[i] = kvv_rng_normal(&r);
    for (int i = 0; i < (int)NKV * DK; i++)
        k[i] = kvv_rng_normal(&r), v[i] = kvv_rng_normal(&r);
    kvv_ref_attn_args a = {DK, DK, 1, NKV, 1, 1, q, k, v, NULL, 0.125, 0, 0};
    CU_ASSERT_EQUAL(kvv_claim_kv_cap(&a, 0x1p-10), 0x1p-10); /* float classes are not capped */
    double gauss = kvv_claim_kv_cap(&a, 1.0);
    CU_ASSERT(gauss >= 0x1p-7 && gauss < 0.05);
    q[0] = 1000; /* an outlier: the rest of its block rounds to 0 */
    k[0] = 0;    /* and a key that does not see it: half its score is gone */
    double outlier = kvv_claim_kv_cap(&a, 1.0);
    CU_ASSERT(outlier > 0.2 && outlier <= 1.0);
    CU_ASSERT_EQUAL(kvv_claim_kv_cap(&a, 0.01), 0.01 < outlier ? 0.01 : outlier);
    a.dk = 48; /* not blocks of 32: only the float conversions exist */
    CU_ASSERT_EQUAL(kvv_claim_kv_cap(&a, 1.0), 0x1p-7);
}

/* The emulation is that arithmetic: with f32 operands and f32 sums it is
 * within f32 rounding of the exact attention, with f16 it is not. */
static void test_emulation(void)
{
    enum { DK = 64, NKV = 300 };
    static double q[DK], k[NKV * DK], v[NKV * DK], exact[DK], emu[DK];
    kvv_rng r;
    kvv_rng_seed(&r, 6, 1);
    for (int i = 0; i < DK; i++)
        q[i] = kvv_rng_normal(&r);
    for (int i = 0; i < (int)NKV * DK; i++)
        k[i] = kvv_rng_normal(&r), v[i] = kvv_rng_normal(&r);
    kvv_ref_attn_args a = {DK, DK, 1, NKV, 1, 1, q, k, v, NULL, 0.125, 0, 0};
    CU_ASSERT_FATAL(kvv_ref_attention(&a, exact, NULL, NULL) == 0);
    double e32 = 0, e16 = 0, mag = 0;
    CU_ASSERT_FATAL(kvv_claim_emulate(&a, 0, 0x1p-24, 0, emu) == 0);
    for (int d = 0; d < DK; d++)
        e32 = fmax(e32, fabs(emu[d] - exact[d])), mag = fmax(mag, fabs(exact[d]));
    CU_ASSERT_FATAL(kvv_claim_emulate(&a, 0x1p-10, 0x1p-11, 2, emu) == 0);
    for (int d = 0; d < DK; d++)
        e16 = fmax(e16, fabs(emu[d] - exact[d]));
    CU_ASSERT(e32 > 0 && e32 < 1e-5 * mag);
    CU_ASSERT(e16 > 100 * e32 && e16 < 0.05 * mag);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"invalid claims fail", test_invalid_claims},
                                     {"zeros at d192 fail whatever they claim", test_zeros_fail_whatever_they_claim},
                                     {"ignoring Q fails whatever it claims", test_ignoring_q_fails_whatever_it_claims},
                                     {"an honest f16 kernel passes", test_honest_f16_kernel_passes},
                                     {"kv_round capped at the input's q8 need", test_kv_cap},
                                     {"emulation in the claimed precision", test_emulation},
                                     {NULL, NULL}};
    kvv_add_suite("precision claims", tests);
}
