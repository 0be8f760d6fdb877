/* The defect backends of tests/harness/defect.h, checked as checkasm checks
 * its functions: every defect of the catalogue, on a case of its own, must
 * be caught (by the rule named) where the honest CPU backend passes the same
 * case; every mutant the catalogue names is one of ci/mutants.txt. */
#include <string.h>

#include "kernels/cpu/cpu_backend.h"
#include "oracle/run.h"
#include "tests/harness.h"

/* A case each defect must fail, and how.  status KVV_SKIP: the planted
 * backend declines it. */
typedef struct {
    const char *defect, *name;
    kvv_status status;
    kvv_rule rule;
} witness;

static const witness witnesses[] = {
    {"missing_rotation", "quant/turbo3/d128/rows8/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_BYTES},
    {"missing_rotation", "attn/d256/q8_0-turbo3/nq1/nkv64/h4/gqa4/dist=gauss/seed=5", KVV_FAIL, KVV_RULE_BYTES},
    {"double_rotation", "attn/d256/turbo3-turbo3/nq2/nkv64/h4/gqa2/mask=causal/dist=outlier/seed=3", KVV_FAIL,
     KVV_RULE_ARITH},
    {"rotation_wrong_operand", "attn/d128/q8_0-turbo3/nq1/nkv64/h4/gqa1/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_ARITH},
    {"wht_group_128", "quant/turbo3/d96/rows8/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_BYTES},
    {"wht_group_128@kernel", "attn/d64/turbo3-turbo3/nq1/nkv64/h4/gqa1/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_ARITH},
    {"zero_payload", "quant/q4_0/d128/rows4/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_BYTES},
    {"zero_payload@layer0", "quant/q8_0/d128/rows4/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_BYTES},
    {"pack_overwrite", "quant/turbo3/d128/rows4/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_BYTES},
    {"pack_overwrite@neighbour", "quant/q4_0/d128/rows4/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_BYTES},
    {"turbo4_v_broken", "attn/d128/q8_0-turbo4/nq1/nkv64/h4/gqa1/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_ARITH},
    {"turbo4_v_broken@nibbles", "attn/d128/q8_0-turbo4/nq1/nkv64/h4/gqa1/dist=gauss/seed=1", KVV_FAIL,
     KVV_RULE_ARITH},
    {"lut4_mismatch", "dequant/turbo3/d128/rows8/lut=4/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_DEQUANT},
    {"lut4_mismatch@always", "dequant/turbo3/d128/rows8/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_DEQUANT},
    {"toggle_path", "attn/d128/q8_0-q8_0/nq1/nkv256/h8/gqa4/cache=on/dist=gauss/seed=2", KVV_FAIL, KVV_RULE_TOGGLE},
    {"toggle_path@uncached", "attn/d128/q8_0-q8_0/nq1/nkv64/h4/gqa1/dist=gauss/seed=2", KVV_FAIL, KVV_RULE_ARITH},
    {"toggle_path@cached", "attn/d128/q8_0-q8_0/nq1/nkv64/h4/gqa1/cache=on/dist=gauss/seed=2", KVV_FAIL,
     KVV_RULE_ARITH},
    {"toggle_path@ulp", "attn/d128/q8_0-q8_0/nq1/nkv256/h8/gqa4/cache=on/dist=gauss/seed=2", KVV_FAIL,
     KVV_RULE_TOGGLE},
    {"wrong_table", "dequant/turbo4/d128/rows8/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_DEQUANT},
    {"gqa_off_by_one", "attn/d128/q8_0-q8_0/nq1/nkv64/h4/gqa2/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_ARITH},
    {"q4_0_last_max", "quant/q4_0/d128/rows32/dist=grid/seed=1", KVV_FAIL, KVV_RULE_BYTES},
    {"masked_row_nan", "attn/d128/q8_0-q8_0/nq12/nkv64/h4/gqa2/mask=holes/dist=gauss/seed=11", KVV_FAIL,
     KVV_RULE_FINITE},
    {"cache_f16_wide", "attn/d576/dv512/q4_0-q4_0/nq1/nkv64/h2/gqa1/cache=on/dist=gauss/seed=1", KVV_FAIL,
     KVV_RULE_TOGGLE},
    {"lut4_qk128_stride", "dequant/turbo3@qk128/d256/rows4/lut=4/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_DEQUANT},
    {"swapped_v_type", "attn/d128/q4_0-iq4_nl/nq1/nkv64/h4/gqa1/dist=heavy/seed=9", KVV_FAIL, KVV_RULE_ARITH},
    {"f16_accumulation", "attn/d128/q8_0-q8_0/nq1/nkv256/h8/gqa4/dist=gauss/seed=2", KVV_FAIL, KVV_RULE_ARITH},
    {"subq8_nan", "attn/d128/q4_0-q4_0/nq1/nkv64/h4/gqa1/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_FINITE},
    {"nan_output", "attn/d64/f16-f16/nq1/nkv32/h2/gqa1/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_FINITE},
    {"nan_all", "attn/d64/f16-f16/nq1/nkv32/h2/gqa1/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_FINITE},
    {"bump_output", "attn/d64/f16-f16/nq1/nkv32/h2/gqa1/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_ARITH},
    {"skew_output", "attn/d64/f16-f16/nq2/nkv32/h2/gqa1/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_ARITH},
    {"flip_bit", "quant/q8_0/d64/rows4/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_BYTES},
    {"crash", "dequant/q8_0/d64/rows4/dist=gauss/seed=1", KVV_FAIL, KVV_RULE_CRASH},
    {"decline", "dequant/q8_0/d64/rows4/dist=gauss/seed=1", KVV_SKIP, KVV_RULE_NONE},
};

/* Faults that end or stall the process, or write out of bounds: seen
 * caught through the runner's isolation and guard zones (tests/test_runner.c,
 * tests/test_dump.c, tests/test_trust.c), not here. */
static const char *const process_faults[] = {"hang", "abort", "wht_overrun"};

/* Mutants only `make mutants` plants: inside a kernel's loop or its tiling
 * (no input or output of the backend's entries re-creates them: split-K
 * chunks and tiles, the online softmax's merge, per-head ALiBi slopes, the
 * scalar quantizer's sign vectors within a row, a 4-row P*V tail), or in
 * another backend (vk_*). */
static const char *const kernel_only[] = {"splitk_drop_chunk",  "no_rescale",     "splitk_ragged_tail",
                                          "alibi_decode_gqa",   "scalar_turbo_group_signs", "pv4_tail_row",
                                          "vk_wrong_table",     "vk_no_rescale",  "vk_tiled_mla_stride",
                                          "vk_tiled_softcap"};

static int listed(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], name))
            return 1;
    return 0;
}

static void test_each_defect_caught(void)
{
    int n;
    const kvv_defect_info *cat = kvv_defect_catalogue(&n);
    for (int i = 0; i < n; i++) {
        int seen = listed(cat[i].name, process_faults, sizeof process_faults / sizeof *process_faults);
        for (size_t w = 0; w < sizeof witnesses / sizeof *witnesses; w++) {
            if (strcmp(witnesses[w].defect, cat[i].name))
                continue;
            seen = 1;
            kvv_case c = kvv_case_named("%s", witnesses[w].name);
            kvv_verdict honest, planted;
            kvv_run_case(&c, kvv_cpu_backend(), &honest);
            kvv_backend *b = kvv_defect(cat[i].name);
            kvv_run_case(&c, b, &planted);
            kvv_defect_free(b);
            int ok = honest.status == KVV_PASS && planted.status == witnesses[w].status &&
                     (planted.status != KVV_FAIL || planted.rule == witnesses[w].rule);
            if (!ok || getenv("KVV_TEST_VERBOSE"))
                printf("\n    %s on %s: honest %s, planted %s [%s] %s", cat[i].name, witnesses[w].name,
                       kvv_status_name(honest.status), kvv_status_name(planted.status), kvv_rule_name(planted.rule),
                       planted.detail);
            CU_ASSERT(ok);
        }
        if (!seen)
            printf("\n    defect %s has no case that shows it caught", cat[i].name);
        CU_ASSERT(seen);
    }
}

static void test_keyed_by_mutants(void)
{
    const char **mutants;
    int nm = kvv_mutant_names(&mutants);
    CU_ASSERT_FATAL(nm > 0);
    int n;
    const kvv_defect_info *cat = kvv_defect_catalogue(&n);
    /* every mutant a defect claims to re-create is in ci/mutants.txt */
    for (int i = 0; i < n; i++) {
        if (!cat[i].mutant)
            continue;
        CU_ASSERT(listed(cat[i].mutant, mutants, (size_t)nm));
        if (!listed(cat[i].mutant, mutants, (size_t)nm))
            printf("\n    defect %s names the mutant %s, which ci/mutants.txt does not have", cat[i].name,
                   cat[i].mutant);
        /* a variant is "mutant@variant", the mutant itself its plain name */
        const char *at = strchr(cat[i].name, '@');
        size_t len = at ? (size_t)(at - cat[i].name) : strlen(cat[i].name);
        CU_ASSERT(strlen(cat[i].mutant) == len && !strncmp(cat[i].name, cat[i].mutant, len));
    }
    /* each mutant: planted here by its own name, or only by `make mutants` */
    for (int m = 0; m < nm; m++) {
        int here = 0;
        for (int i = 0; i < n; i++)
            here |= !strcmp(cat[i].name, mutants[m]);
        if (!here && !listed(mutants[m], kernel_only, sizeof kernel_only / sizeof *kernel_only))
            printf("\n    mutant %s of ci/mutants.txt: no run-time defect yet (only `make mutants` plants it)",
                   mutants[m]);
        CU_ASSERT(!(here && listed(mutants[m], kernel_only, sizeof kernel_only / sizeof *kernel_only)));
    }
}

/* The glob of a plant: only the calls it matches get the defect. */
static void test_plant_scope(void)
{
    static const kvv_plant only_q4_0 = {"flip_bit", "quant/q4_0/*"};
    kvv_backend *b = kvv_defect_backend("scoped", &only_q4_0, 1);
    CU_ASSERT_STRING_EQUAL(b->name, "scoped");
    kvv_verdict v;
    kvv_case c = kvv_case_named("quant/q4_0/d64/rows4/dist=gauss/seed=1");
    kvv_run_case(&c, b, &v);
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_BYTES);
    c = kvv_case_named("quant/q8_0/d64/rows4/dist=gauss/seed=1");
    kvv_run_case(&c, b, &v);
    CU_ASSERT(v.status == KVV_PASS);
    kvv_defect_free(b);
    /* alternatives */
    static const kvv_plant two = {"crash", "dequant/q8_0/d96/*|dequant/q8_0/d64/*"};
    b = kvv_defect_backend("two", &two, 1);
    for (int d = 32; d <= 128; d += 32) {
        c = kvv_case_named("dequant/q8_0/d%d/rows4/dist=gauss/seed=1", d);
        kvv_run_case(&c, b, &v);
        CU_ASSERT(v.status == (d == 64 || d == 96 ? KVV_FAIL : KVV_PASS));
    }
    kvv_defect_free(b);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"every defect caught on its case, honest CPU passes it", test_each_defect_caught},
                                     {"keyed by the names of ci/mutants.txt", test_keyed_by_mutants},
                                     {"a plant's glob limits it to the calls it names", test_plant_scope},
                                     {NULL, NULL}};
    kvv_add_suite("defect backends", tests);
}
