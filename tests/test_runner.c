/* The runner: a backend that crashes or hangs becomes a failing verdict
 * naming the case, and the run goes on to the next case. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oracle/run.h"
#include "tests/harness.h"

/* Test backends (tests/harness/defect.h): the CPU backend, except that
 * dequantizing rows of 96 values crashes (abort) or hangs. */
static kvv_backend *make_flaky(const char *fault)
{
    kvv_plant p = {fault, "dequant/*/d96/*"};
    return kvv_defect_backend("flaky", &p, 1);
}

typedef struct {
    int n, pass, fail, crash;
    char details[4][700];
    char names[4][512];
} collect_t;

static void c_begin(kvv_reporter *r, const kvv_run_info *i)
{
    (void)r;
    (void)i;
}
static void c_result(kvv_reporter *r, const kvv_case *c, const char *name, int b, const kvv_verdict *v)
{
    (void)c;
    (void)b;
    collect_t *s = r->state;
    if (s->n < 4) {
        snprintf(s->details[s->n], sizeof s->details[0], "%s", v->detail);
        snprintf(s->names[s->n], sizeof s->names[0], "%s", name);
    }
    s->n++;
    s->pass += v->status == KVV_PASS;
    s->fail += v->status == KVV_FAIL;
    s->crash += v->rule == KVV_RULE_CRASH;
}
static void c_end(kvv_reporter *r, const kvv_summary *s)
{
    (void)r;
    (void)s;
}

static void run_three(const char *fault, collect_t *col, double timeout)
{
    /* three dequantize cases; the middle one has the faulting width */
    kvv_case cs[3] = {kvv_case_named("dequant/q8_0/d128/rows8/dist=gauss/seed=1"),
                      kvv_case_named("dequant/q8_0/d96/rows8/dist=gauss/seed=1"),
                      kvv_case_named("dequant/q8_0/d256/rows8/dist=gauss/seed=1")};
    kvv_backend *flaky = make_flaky(fault);
    const kvv_backend *bk[1] = {flaky};
    const char *names[1] = {"flaky"};
    memset(col, 0, sizeof *col);
    kvv_reporter rep = {c_begin, c_result, c_end, NULL, NULL, stdout, col};
    kvv_reporter *reps[1] = {&rep};
    kvv_run_info info = {"t", "t", "t", "t", "t", 1, {"flaky"}, 3, 0};
    kvv_run_opts o = {.backend_names = names, .nbackends = 1, .backends = bk, .cases = cs, .ncases = 3,
                      .reporters = reps, .nreporters = 1, .jobs = 1, .timeout = timeout, .info = &info};
    kvv_summary s;
    int failures = kvv_run(&o, &s);
    kvv_defect_free(flaky);
    CU_ASSERT(failures == 1);
    CU_ASSERT(s.total.cases == 3 && s.total.fail == 1 && s.total.pass == 2);
}

static void test_crash_is_a_verdict(void)
{
    collect_t col;
    run_three("abort", &col, 60);
    CU_ASSERT(col.n == 3 && col.pass == 2 && col.crash == 1);
    CU_ASSERT(strstr(col.details[1], "crashed") != NULL);
    CU_ASSERT(strstr(col.names[1], "d96") != NULL);
}

static void test_hang_is_a_verdict(void)
{
    collect_t col;
    run_three("hang", &col, 2.0);
    CU_ASSERT(col.n == 3 && col.pass == 2 && col.crash == 1);
    CU_ASSERT(strstr(col.details[1], "hung") != NULL);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"crash becomes a verdict, run goes on", test_crash_is_a_verdict},
                                     {"hang becomes a verdict, run goes on", test_hang_is_a_verdict},
                                     {NULL, NULL}};
    kvv_add_suite("runner isolation", tests);
}
