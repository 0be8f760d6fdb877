/* Exit statuses of the command line for bad input: exit 2 with the reason
 * (the errno text where a system call failed), before any work, for the
 * model and text of `ppl` and the shapes and output of `mkmodel`; after the
 * lines, for a `bench` JSON report that cannot be written in full.  (`--dump`
 * paths: tests/test_cli_dump.c; case names and filters:
 * tests/test_hostile_input.c.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/harness.h"

static const char *tmp(const char *name)
{
    static char ring[16][300];
    static int k;
    k = (k + 1) % 16;
    snprintf(ring[k], sizeof ring[k], "%s", scratch_path("kvv-cliexit", name));
    return ring[k];
}

static void expect_status(int want, const char *args, const char *message)
{
    char out[16384];
    int st = cli_run(args, out, sizeof out);
    CU_ASSERT_EQUAL(st, want);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, message));
    if (st != want || !strstr(out, message))
        printf("\n  kvverify %s\n  exit %d, wanted %d and '%s'; output:\n%s\n", args, st, want, message, out);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fwrite(data, 1, n, f) == n);
    CU_ASSERT_FATAL(fclose(f) == 0);
}

static void ppl_model(const char *model, const char *message)
{
    char args[1024];
    snprintf(args, sizeof args, "ppl --model '%s' --kv f16/f16", model);
    expect_status(2, args, message);
}

static void test_ppl_bad_models(void)
{
    static const char garbage[] = "this is no model, only a few words of text\n";
    write_file(tmp("garbage.gguf"), garbage, sizeof garbage);
    write_file(tmp("empty.gguf"), "", 0);
    ppl_model(tmp("garbage.gguf"), "not a GGUF file");
    ppl_model(tmp("empty.gguf"), "empty");
    ppl_model(tmp("missing.gguf"), "No such file or directory");
    const char *dir = tmp("dir.gguf");
    CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
    ppl_model(dir, "Is a directory");
    rmdir(dir);
    /* a real model cut short */
    char args[512], out[4096];
    const char *good = tmp("good.gguf");
    snprintf(args, sizeof args, "mkmodel -o %s", good);
    CU_ASSERT_EQUAL_FATAL(cli_run(args, out, sizeof out), 0);
    struct stat sb;
    CU_ASSERT_FATAL(stat(good, &sb) == 0);
    CU_ASSERT_FATAL(truncate(good, sb.st_size / 2) == 0);
    ppl_model(good, "truncated");
    CU_ASSERT_FATAL(truncate(good, 100) == 0);
    ppl_model(good, "truncated");
}

static void test_ppl_missing_text(void)
{
    char args[512];
    snprintf(args, sizeof args, "ppl --model probe --kv f16/f16 --text %s", tmp("nosuch.txt"));
    expect_status(2, args, "No such file or directory");
}

static void test_mkmodel_impossible_shapes(void)
{
    char args[512];
    snprintf(args, sizeof args, "mkmodel -o %s --heads 5 --kv-heads 3", tmp("m.gguf"));
    expect_status(2, args, "must be a multiple of n_head_kv 3");
    snprintf(args, sizeof args, "mkmodel -o %s --heads 4 --kv-heads 8", tmp("m.gguf"));
    expect_status(2, args, "must be a multiple of n_head_kv 8");
    snprintf(args, sizeof args, "mkmodel -o %s --head-dim 100", tmp("m.gguf"));
    expect_status(2, args, "head_dim must be 64, 128 or 256");
    snprintf(args, sizeof args, "mkmodel -o %s --text %s", tmp("m.gguf"), tmp("nosuch.txt"));
    expect_status(2, args, "No such file or directory");
    CU_ASSERT(access(tmp("m.gguf"), F_OK) != 0);
}

static void test_mkmodel_unwritable_output(void)
{
    char args[512];
    snprintf(args, sizeof args, "mkmodel -o %s", tmp("nosuch/m.gguf"));
    expect_status(2, args, "No such file or directory");
    const char *dir = tmp("outdir");
    CU_ASSERT_FATAL(mkdir(dir, 0755) == 0);
    snprintf(args, sizeof args, "mkmodel -o %s", dir);
    expect_status(2, args, "Is a directory");
    rmdir(dir);
    if (access("/dev/full", W_OK) == 0)
        expect_status(2, "mkmodel -o /dev/full", "No space left on device");
}

static int cleanup(void)
{
    scratch_remove();
    return 0;
}

/* A JSON report that cannot be written in full (a full device) is an
 * error naming the file, after the lines the terminal already got; the
 * bench measures only the machine's limits here (a few seconds). */
static void test_bench_json_full_device(void)
{
    if (access("/dev/full", W_OK))
        KVV_SKIP("no writable /dev/full here");
    setenv("KVV_BENCH_ONLY", "limits,nonsense", 1);
    char out[16384];
    CU_ASSERT(cli_expect("bench -b cpu --reps 1 --threads 1 --json /dev/full", 2,
                         "the JSON report /dev/full is incomplete", out, sizeof out));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "triad: DRAM"));                 /* the lines came first */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "no section named 'nonsense'")); /* a misspelt section is said */
    unsetenv("KVV_BENCH_ONLY");
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"ppl --model garbage, empty, missing, a directory, truncated: exit 2", test_ppl_bad_models},
        {"ppl --text missing: exit 2 with the errno text", test_ppl_missing_text},
        {"mkmodel impossible shapes, missing --text: exit 2", test_mkmodel_impossible_shapes},
        {"mkmodel -o unwritable: exit 2 with the errno text", test_mkmodel_unwritable_output},
        {"bench --json on a full device: exit 2 naming the file", test_bench_json_full_device},
        {NULL, NULL}};
    CU_pSuite s = CU_add_suite("exit statuses of bad input", NULL, cleanup);
    for (const kvv_test *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}
