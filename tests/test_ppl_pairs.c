/* Every K/V pair of the cache types passes the end-to-end gate on the
 * honest CPU backend: the probe model at head dim 128, within the bounds of
 * corpora/ppl_bounds.tsv and without a NaN. */
#include <stdio.h>
#include <string.h>

#include "kernels/cpu/cpu_backend.h"
#include "oracle/cases.h"
#include "oracle/run.h"
#include "tests/harness.h"

static void test_every_pair(void)
{
    kvv_case_list l = {0};
    CU_ASSERT_FATAL(kvv_gate_cases(&l) == 0);
    int pairs = 0;
    double worst = 0;
    char name[512], worst_name[512] = "";
    for (int i = 0; i < l.n; i++) {
        const kvv_case *c = &l.items[i];
        if (c->op != KVV_OP_PPL || c->model != KVV_PROBE_LLAMA || c->dk != 128 || kvv_toggles_has_speed(c->tg) ||
            c->tg.rot != KVV_ROT_KERNEL)
            continue;
        kvv_verdict v;
        kvv_run_case(c, kvv_cpu_backend(), &v);
        kvv_case_name(c, name, sizeof name);
        if (v.status != KVV_PASS)
            printf("\n%s: %s [%s] %s\n", name, kvv_status_name(v.status), kvv_rule_name(v.rule), v.detail);
        CU_ASSERT(v.status == KVV_PASS);
        if (v.budget_ratio > worst) {
            worst = v.budget_ratio;
            snprintf(worst_name, sizeof worst_name, "%s", name);
        }
        pairs++;
    }
    printf("\n  %d pairs; largest fraction of a bound used: %.3f (%s)\n", pairs, worst, worst_name);
    CU_ASSERT(pairs == KVV_CACHE_TYPE_COUNT * KVV_CACHE_TYPE_COUNT);
    kvv_case_list_free(&l);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"every K/V pair passes on the CPU backend", test_every_pair}, {NULL, NULL}};
    kvv_add_suite("ppl gate, all pairs", tests);
}
