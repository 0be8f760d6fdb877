/* The replay engine (oracle/replay.c) without the command line: a dump's
 * cases read back with their inputs (filtered by pattern), the stored
 * inputs checked against the generator, the cases rerun from the stored
 * inputs on their own backend or on others, and each stored verdict that
 * is not reproduced counted and named. */
#include <stdio.h>
#include <string.h>

#include "oracle/replay.h"
#include "tests/harness.h"

#define ATTN_CASE "attn/d128/q8_0-q8_0/nq2/nkv32/h4/gqa2/mask=causal/dist=gauss/seed=21"
#define QUANT_CASE "quant/q8_0/d64/rows8/dist=gauss/seed=22"

static char text[1 << 16];
static char why[1200];

/* A dump of both cases run on a backend named "cpu": the CPU backend with
 * every output value 5 off by 0.5 (bump) or honest; every case stored. */
static const char *write_dump(const char *file, int bump)
{
    const char *path = scratch_path("kvv-replay-engine", file);
    kvv_case cs[2] = {kvv_case_named(ATTN_CASE), kvv_case_named(QUANT_CASE)};
    kvv_dump_meta m = {"test", "c0ffee", "test machine", "now", "test", 1};
    kvv_dump_writer *w = kvv_dump_create(path, &m, why, sizeof why);
    CU_ASSERT_FATAL(w != NULL);
    static const kvv_plant bump_output = {"bump_output", "attn/*"};
    kvv_backend *b = kvv_defect_backend("cpu", &bump_output, bump);
    const kvv_backend *bk[1] = {b};
    const char *names[1] = {"cpu"};
    kvv_run_info info = {"t", "t", "t", "t", "t", 1, {"cpu"}, 2, 0};
    kvv_run_opts o = {.backend_names = names, .nbackends = 1, .backends = bk, .cases = cs, .ncases = 2, .jobs = 0,
                      .timeout = 60, .info = &info};
    kvv_run_io_opts io = {w, 1, NULL};
    kvv_summary s;
    CU_ASSERT(kvv_run_with_io(&o, &io, &s) == (bump ? 1 : 0));
    kvv_defect_free(b);
    CU_ASSERT_FATAL(kvv_dump_finish(w, 1, why, sizeof why) == 0);
    return path;
}

static int load(const char *path, const char *pattern, kvv_replay_set *set)
{
    FILE *out = fmemopen(text, sizeof text - 1, "w");
    CU_ASSERT_FATAL(out != NULL);
    int rc = kvv_replay_load(path, pattern, set, out, why, sizeof why);
    fclose(out);
    return rc;
}

static void test_load(void)
{
    const char *path = write_dump("bumped.h5", 1);
    kvv_replay_set set;
    CU_ASSERT_FATAL(load(path, NULL, &set) == 0);
    CU_ASSERT(strstr(text, "2 stored cases (kvverify test, commit c0ffee, test machine, started now)") != NULL);
    CU_ASSERT_EQUAL_FATAL(set.n, 2);
    CU_ASSERT_STRING_EQUAL(set.e[0].name, ATTN_CASE);
    CU_ASSERT_EQUAL(set.e[0].v.status, KVV_FAIL);
    CU_ASSERT_EQUAL(set.e[1].v.status, KVV_PASS);
    CU_ASSERT(set.inp[0] && kvv_record_get(set.inp[0], "q") && kvv_record_get(set.inp[0], "k"));
    CU_ASSERT(set.inp[1] && kvv_record_get(set.inp[1], "x"));
    CU_ASSERT(kvv_record_get(set.inp[0], "out") == NULL); /* outputs are not inputs */
    kvv_replay_free(&set);

    CU_ASSERT_FATAL(load(path, "quant/", &set) == 0);
    CU_ASSERT_EQUAL(set.n, 1);
    CU_ASSERT(set.n == 1 && !strcmp(set.e[0].name, QUANT_CASE));
    kvv_replay_free(&set);

    CU_ASSERT_EQUAL(load(scratch_path("kvv-replay-engine", "missing.h5"), NULL, &set), -1);
    CU_ASSERT(why[0] != 0);
    kvv_replay_free(&set);
}

/* Stored inputs as the generator makes them pass the check; a changed
 * one is named. */
static void test_check_inputs(void)
{
    kvv_replay_set set;
    CU_ASSERT_FATAL(load(write_dump("inputs.h5", 0), NULL, &set) == 0);
    FILE *out = fmemopen(text, sizeof text - 1, "w");
    CU_ASSERT_EQUAL(kvv_replay_check_inputs(&set, out), 0);
    fclose(out);
    CU_ASSERT(strstr(text, "inputs: 2 of 2 cases as the generator makes them from their seeds\n") != NULL);

    kvv_array *q = (kvv_array *)kvv_record_get(&set.in[0], "q");
    CU_ASSERT_FATAL(q != NULL);
    ((float *)q->data)[3] += 1.0f;
    out = fmemopen(text, sizeof text - 1, "w");
    CU_ASSERT_EQUAL(kvv_replay_check_inputs(&set, out), 1);
    fclose(out);
    CU_ASSERT(strstr(text, "inputs  " ATTN_CASE ": the stored inputs differ") != NULL);
    CU_ASSERT(strstr(text, "inputs: 1 of 2 cases") != NULL);
    kvv_replay_free(&set);
}

static int replay(const kvv_replay_set *set, const char *const *names, int nb, int verbose, kvv_dump_writer *dump,
                  kvv_replay_result *r)
{
    FILE *out = fmemopen(text, sizeof text - 1, "w");
    CU_ASSERT_FATAL(out != NULL);
    kvv_replay_opts o = {names, nb, 0, 60, verbose, 0, dump, 1, "test machine", out};
    int failures = kvv_replay_run(set, &o, r);
    fclose(out);
    return failures;
}

/* The honest CPU backend does not reproduce the bumped dump's failure:
 * one verdict changed, named; the passing one is the same. */
static void test_run_compares(void)
{
    kvv_replay_set set;
    CU_ASSERT_FATAL(load(write_dump("compare.h5", 1), NULL, &set) == 0);
    kvv_replay_result r;
    CU_ASSERT_EQUAL(replay(&set, NULL, 0, 0, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.changed, 1);
    CU_ASSERT_EQUAL(r.interrupted, 0);
    CU_ASSERT(strstr(text, "CHANGED " ATTN_CASE "\n        stored on cpu: FAIL [") != NULL);
    CU_ASSERT(strstr(text, "now on cpu: pass") != NULL);
    CU_ASSERT(strstr(text, "same    " QUANT_CASE) == NULL);
    /* verbose: the same verdicts are said too; on two backends, each counts */
    const char *two[2] = {"cpu", "cpu"};
    CU_ASSERT_EQUAL(replay(&set, two, 2, 1, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.changed, 2);
    CU_ASSERT(strstr(text, "same    " QUANT_CASE) != NULL);
    kvv_replay_free(&set);

    /* an honest dump replays unchanged */
    CU_ASSERT_FATAL(load(write_dump("honest.h5", 0), NULL, &set) == 0);
    CU_ASSERT_EQUAL(replay(&set, NULL, 0, 0, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.changed, 0);
    CU_ASSERT(strstr(text, "CHANGED") == NULL);
    kvv_replay_free(&set);
}

/* The rerun takes the stored inputs, not the seed's: the replay's own dump
 * holds the planted value. */
static void test_run_takes_stored_inputs(void)
{
    kvv_replay_set set;
    CU_ASSERT_FATAL(load(write_dump("stored.h5", 0), ATTN_CASE, &set) == 0);
    CU_ASSERT_EQUAL_FATAL(set.n, 1);
    kvv_array *q = (kvv_array *)kvv_record_get(&set.in[0], "q");
    CU_ASSERT_FATAL(q != NULL);
    ((float *)q->data)[3] = 0.75f;
    const char *again = scratch_path("kvv-replay-engine", "again.h5");
    kvv_dump_meta m = {"test", "c0ffee", "test machine", "now", "replay", 1};
    kvv_dump_writer *w = kvv_dump_create(again, &m, why, sizeof why);
    CU_ASSERT_FATAL(w != NULL);
    kvv_replay_result r;
    CU_ASSERT_EQUAL(replay(&set, NULL, 0, 0, w, &r), 0);
    CU_ASSERT_FATAL(kvv_dump_finish(w, 1, why, sizeof why) == 0);
    kvv_replay_set back;
    CU_ASSERT_FATAL(load(again, NULL, &back) == 0);
    CU_ASSERT_EQUAL_FATAL(back.n, 1);
    const kvv_array *q2 = kvv_record_get(&back.in[0], "q");
    CU_ASSERT_FATAL(q2 != NULL);
    CU_ASSERT_EQUAL(((const float *)q2->data)[3], 0.75f);
    kvv_replay_free(&back);
    kvv_replay_free(&set);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"a dump's cases and inputs, by pattern", test_load},
                                     {"stored inputs against the generator", test_check_inputs},
                                     {"rerun and compare with the stored verdicts", test_run_compares},
                                     {"the rerun takes the stored inputs", test_run_takes_stored_inputs},
                                     {NULL, NULL}};
    kvv_add_suite("replay engine", tests);
}
