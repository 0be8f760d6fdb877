/* Replaying dumps (stored inputs, same rules, same verdicts) and diffing
 * two dumps (the first stage where they diverge), in process and through
 * the kvverify command. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/cpu/cpu_backend.h"
#include "oracle/run.h"
#include "tests/harness.h"

static const char *tmp_path(const char *name) { return scratch_path("kvv-replay", name); }

/* ---- backends with planted defects (tests/harness/defect.h) ---- */
typedef enum { HONEST, FLIP_K_BIT, BUMP_OUTPUT } defect;

/* the CPU backend named name, with defect d: a bit of each q8_0 cache
 * write flipped (row 0, the first index of block 0), or output value 5 off
 * by 0.5 */
static kvv_backend *defective(defect d, const char *name)
{
    static const kvv_plant plants[] = {[FLIP_K_BIT] = {"flip_bit", "quant/q8_0/*"},
                                       [BUMP_OUTPUT] = {"bump_output", NULL}};
    return kvv_defect_backend(name, &plants[d], d == HONEST ? 0 : 1);
}

#define ATTN_CASE "attn/d128/q8_0-q8_0/nq2/nkv32/h4/gqa2/mask=causal/dist=gauss/seed=21"
#define QUANT_CASE "quant/q8_0/d64/rows8/dist=gauss/seed=22"

static void two_cases(kvv_case *cs)
{
    char err[200];
    CU_ASSERT_FATAL(kvv_case_parse(ATTN_CASE, &cs[0], err, sizeof err) == 0);
    CU_ASSERT_FATAL(kvv_case_parse(QUANT_CASE, &cs[1], err, sizeof err) == 0);
}

static int run_cases(const kvv_case *cs, int n, defect d, const char *bname, const char *dump, int all,
                     const kvv_record *const *inputs, kvv_verdict *out)
{
    char why[1024];
    kvv_dump_writer *w = NULL;
    if (dump) {
        kvv_dump_meta m = {"test", d == HONEST ? "c0ffee" : "bad0", "test machine", "now", "test", all};
        w = kvv_dump_create(dump, &m, why, sizeof why);
        CU_ASSERT_FATAL(w != NULL);
    }
    kvv_backend *b = defective(d, bname);
    const kvv_backend *bk[1] = {b};
    const char *names[1] = {bname};
    kvv_run_info info = {"t", "t", "t", "t", "t", 1, {bname}, n, 0};
    kvv_run_opts o = {.backend_names = names, .nbackends = 1, .backends = bk, .cases = cs, .ncases = n,
                      .jobs = 1, .timeout = 60, .info = &info};
    kvv_run_io_opts io = {w, all, inputs};
    kvv_summary s;
    int failures = kvv_run_with_io(&o, &io, &s);
    kvv_defect_free(b);
    if (w)
        CU_ASSERT(kvv_dump_finish(w, 1, why, sizeof why) == 0);
    (void)out;
    return failures;
}

/* The stored cases of a dump with their inputs. */
typedef struct {
    int n;
    kvv_dump_entry e[4];
    kvv_record in[4];
    const kvv_record *inp[4];
    kvv_case c[4];
} loaded;

static void load(const char *path, loaded *l)
{
    char why[1024];
    memset(l, 0, sizeof *l);
    kvv_dump *d = kvv_dump_open(path, why, sizeof why);
    CU_ASSERT_FATAL(d != NULL);
    l->n = kvv_dump_count(d);
    CU_ASSERT_FATAL(l->n <= 4);
    for (int i = 0; i < l->n; i++) {
        CU_ASSERT_FATAL(kvv_dump_read(d, i, &l->e[i], &l->in[i], why, sizeof why) == 0);
        l->inp[i] = &l->in[i];
        l->c[i] = l->e[i].c;
    }
    kvv_dump_close(d);
}

static void unload(loaded *l)
{
    for (int i = 0; i < l->n; i++)
        kvv_record_free(&l->in[i]);
}

/* A reporter keeping verdicts in case order. */
static kvv_verdict seen[8];
static int nseen;
static void r_begin(kvv_reporter *r, const kvv_run_info *i) { (void)r, (void)i; }
static void r_result(kvv_reporter *r, const kvv_case *c, const char *name, int b, const kvv_verdict *v)
{
    (void)r, (void)c, (void)name, (void)b;
    if (nseen < 8)
        seen[nseen++] = *v;
}
static void r_end(kvv_reporter *r, const kvv_summary *s) { (void)r, (void)s; }

static int replay(const loaded *l, defect d)
{
    kvv_backend *b = defective(d, "replayed");
    const kvv_backend *bk[1] = {b};
    const char *names[1] = {"replayed"};
    kvv_run_info info = {"t", "t", "t", "t", "t", 1, {"replayed"}, l->n, 0};
    kvv_reporter rep = {r_begin, r_result, r_end, NULL, NULL, stdout, NULL};
    kvv_reporter *reps[1] = {&rep};
    kvv_run_opts o = {.backend_names = names, .nbackends = 1, .backends = bk, .cases = l->c, .ncases = l->n,
                      .reporters = reps, .nreporters = 1, .jobs = 1, .timeout = 60, .info = &info};
    kvv_run_io_opts io = {NULL, 0, l->inp};
    kvv_summary s;
    nseen = 0;
    int failures = kvv_run_with_io(&o, &io, &s);
    kvv_defect_free(b);
    return failures;
}

static void test_replay_reproduces_verdicts(void)
{
    kvv_case cs[2];
    two_cases(cs);
    const char *path = tmp_path("flip.h5");
    CU_ASSERT(run_cases(cs, 2, FLIP_K_BIT, "flipper", path, 0, NULL, NULL) == 2);
    loaded l;
    load(path, &l);
    CU_ASSERT_FATAL(l.n == 2);
    /* the same defect: the same verdicts */
    CU_ASSERT(replay(&l, FLIP_K_BIT) == 2);
    CU_ASSERT_FATAL(nseen == 2);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT(seen[i].status == l.e[i].v.status && seen[i].rule == l.e[i].v.rule);
        CU_ASSERT(!strcmp(seen[i].detail, l.e[i].v.detail));
    }
    /* the honest backend passes the stored cases */
    CU_ASSERT(replay(&l, HONEST) == 0);
    CU_ASSERT(nseen == 2 && seen[0].status == KVV_PASS && seen[1].status == KVV_PASS);
    unload(&l);
}

static void test_replay_runs_the_stored_inputs(void)
{
    kvv_case cs[2];
    two_cases(cs);
    const char *path = tmp_path("honest.h5");
    CU_ASSERT(run_cases(cs, 2, HONEST, "cpu", path, 1, NULL, NULL) == 0);
    loaded l;
    load(path, &l);
    /* change a stored input: the rerun takes it, not the seed's */
    kvv_array *q = (kvv_array *)kvv_record_get(&l.in[0], "q");
    CU_ASSERT_FATAL(q != NULL);
    ((float *)q->data)[0] += 1.0f;
    kvv_record rec = {0};
    kvv_verdict v;
    kvv_run_case_io(&l.c[0], kvv_cpu_backend(), &l.in[0], &rec, &v);
    CU_ASSERT(v.status == KVV_PASS);
    kvv_array_diff d;
    kvv_array_compare(kvv_record_get(&rec, "q"), q, &d);
    CU_ASSERT(d.differs == 0);
    kvv_array_compare(kvv_record_get(&rec, "out"), kvv_record_get(&l.in[0], "out"), &d);
    CU_ASSERT(d.differs == 1);
    kvv_record_free(&rec);
    /* a stored input of the wrong shape is refused by name */
    q->dims[2] = 64;
    kvv_run_case_io(&l.c[0], kvv_cpu_backend(), &l.in[0], NULL, &v);
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_CRASH && strstr(v.detail, "stored input 'q'") != NULL);
    unload(&l);
}

static char *diff_text(const char *a, const char *b, int *rc)
{
    static char text[1 << 14];
    FILE *f = fmemopen(text, sizeof text, "w");
    char why[1024];
    *rc = kvv_dump_diff(a, b, f, why, sizeof why);
    fclose(f);
    if (*rc < 0)
        snprintf(text, sizeof text, "%s", why);
    return text;
}

static void test_diff_names_the_stage(void)
{
    kvv_case cs[2];
    two_cases(cs);
    const char *honest = tmp_path("d-honest.h5"), *flip = tmp_path("d-flip.h5"), *bump = tmp_path("d-bump.h5");
    const char *again = tmp_path("d-again.h5");
    run_cases(cs, 2, HONEST, "cpu", honest, 1, NULL, NULL);
    run_cases(cs, 2, HONEST, "cpu", again, 1, NULL, NULL);
    run_cases(cs, 2, FLIP_K_BIT, "flipper", flip, 1, NULL, NULL);
    run_cases(cs, 2, BUMP_OUTPUT, "bumper", bump, 1, NULL, NULL);
    int rc;
    char *t = diff_text(honest, again, &rc);
    CU_ASSERT(rc == 0);
    CU_ASSERT(strstr(t, "2 cases paired: 2 identical, 0 differ") != NULL);

    t = diff_text(honest, flip, &rc);
    CU_ASSERT(rc == 1);
    CU_ASSERT(strstr(t, "first divergence at quantize: k_bytes[0,0,2] (q8_0 bytes)") != NULL);
    CU_ASSERT(strstr(t, "first divergence at quantize: bytes[0,2] (q8_0 bytes)") != NULL);
    CU_ASSERT(strstr(t, "abs 1,") != NULL); /* one bit of an index: 1 apart */
    CU_ASSERT(strstr(t, "[cpu: pass | flipper: FAIL bytes]") != NULL);

    t = diff_text(honest, bump, &rc);
    CU_ASSERT(rc == 1);
    CU_ASSERT(strstr(t, "first divergence at output: out[0,0,5]") != NULL);
    CU_ASSERT(strstr(t, "abs 0.5") != NULL);
    CU_ASSERT(strstr(t, "1 identical, 1 differ") != NULL); /* the quant case agrees */
    if (!strstr(t, "first divergence at output: out[0,0,5]"))
        printf("\n%s\n", t);

    t = diff_text(honest, tmp_path("nothing.h5"), &rc);
    CU_ASSERT(rc == -1 && strstr(t, "No such file") != NULL);
}

/* Scores and softmax: two dumps whose caches agree but whose reference
 * scores differ show up at the scores stage. */
static void test_record_diff_stage_order(void)
{
    kvv_record a = {0}, b = {0};
    float kb[4] = {1, 2, 3, 4};
    double s1[4] = {0.1, 0.2, 0.3, 0.4}, s2[4] = {0.1, 0.2, 0.3, 0.5};
    int64_t d[1] = {4};
    kvv_record_put(&a, "k_deq", KVV_DT_F32, KVV_TYPE_NONE, 1, d, kb);
    kvv_record_put(&b, "k_deq", KVV_DT_F32, KVV_TYPE_NONE, 1, d, kb);
    kvv_record_put(&a, "probs", KVV_DT_F64, KVV_TYPE_NONE, 1, d, s1);
    kvv_record_put(&b, "probs", KVV_DT_F64, KVV_TYPE_NONE, 1, d, s2);
    kvv_record_put(&a, "scores", KVV_DT_F64, KVV_TYPE_NONE, 1, d, s2);
    kvv_record_put(&b, "scores", KVV_DT_F64, KVV_TYPE_NONE, 1, d, s1);
    kvv_case_diff cd;
    kvv_record_diff(&a, &b, &cd);
    CU_ASSERT(cd.stage == KVV_STAGE_SCORES && !strcmp(cd.array, "scores") && cd.d.idx[0] == 3);
    CU_ASSERT(cd.d.abs > 0.099 && cd.d.abs < 0.101 && cd.d.rel > 0.19 && cd.d.rel < 0.21);
    kvv_record_put(&b, "scores", KVV_DT_F64, KVV_TYPE_NONE, 1, d, s2);
    kvv_record_diff(&a, &b, &cd);
    CU_ASSERT(cd.stage == KVV_STAGE_SOFTMAX);
    kvv_record_put(&b, "probs", KVV_DT_F64, KVV_TYPE_NONE, 1, d, s1);
    kvv_record_diff(&a, &b, &cd);
    CU_ASSERT(cd.stage == KVV_STAGE_NONE);
    kvv_record_free(&a);
    kvv_record_free(&b);
}

/* ---- through the command ---- */

static void test_cli_run_replay_diff(void)
{
    static char out[1 << 15];
    char args[1500];
    const char *a = tmp_path("cli-a.h5"), *flip = tmp_path("flip-cli.h5");
    kvv_case cs[2];
    two_cases(cs);
    run_cases(cs, 2, FLIP_K_BIT, "flipper", flip, 0, NULL, NULL);

    snprintf(args, sizeof args, "run -j 1 -p '%s' --dump-all --dump %s", ATTN_CASE, a);
    CU_ASSERT(cli_run(args, out, sizeof out) == 0);
    CU_ASSERT(strstr(out, "dump: 1 case written to") != NULL);

    snprintf(args, sizeof args, "replay %s", a);
    CU_ASSERT(cli_run(args, out, sizeof out) == 0);
    CU_ASSERT(strstr(out, "inputs: 1 of 1 cases as the generator makes them") != NULL);
    CU_ASSERT(strstr(out, "replay: 0 verdicts differ from the stored ones") != NULL);

    /* cases stored from a defective backend, replayed on the CPU backend */
    snprintf(args, sizeof args, "replay -b cpu %s", flip);
    CU_ASSERT(cli_run(args, out, sizeof out) == 0);
    CU_ASSERT(strstr(out, "CHANGED " ATTN_CASE) != NULL);
    CU_ASSERT(strstr(out, "stored on flipper: FAIL [bytes]; now on cpu: pass") != NULL);
    CU_ASSERT(strstr(out, "replay: 2 verdicts differ") != NULL);
    /* ... and on the backend it names, which this kvverify cannot open:
     * refused up front, as -b's would be */
    snprintf(args, sizeof args, "replay %s", flip);
    CU_ASSERT(cli_run(args, out, sizeof out) == 2);
    CU_ASSERT(strstr(out, "unknown backend 'flipper'") != NULL);

    snprintf(args, sizeof args, "diff %s %s", a, a);
    CU_ASSERT(cli_run(args, out, sizeof out) == 0);
    snprintf(args, sizeof args, "diff %s %s", a, flip);
    CU_ASSERT(cli_run(args, out, sizeof out) == 1);
    CU_ASSERT(strstr(out, "first divergence at quantize: k_bytes[0,0,2]") != NULL);
    CU_ASSERT(strstr(out, "only in b: " QUANT_CASE) != NULL);
    snprintf(args, sizeof args, "diff %s /nonexistent.h5", a);
    CU_ASSERT(cli_run(args, out, sizeof out) == 2);
}

static int cleanup(void)
{
    scratch_remove();
    return 0;
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"replay reproduces the stored verdicts", test_replay_reproduces_verdicts},
        {"replay runs the stored inputs, refuses misshapen ones", test_replay_runs_the_stored_inputs},
        {"diff names the stage, element and size of the first divergence", test_diff_names_the_stage},
        {"diff stages in pipeline order", test_record_diff_stage_order},
        {"kvverify run --dump, replay, diff", test_cli_run_replay_diff},
        {NULL, NULL}};
    /* like kvv_add_suite, with a clean-up of the scratch files */
    CU_pSuite s = CU_add_suite("replay and diff", NULL, cleanup);
    for (const kvv_test *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}
