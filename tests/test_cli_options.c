/* Options of the command line: every subcommand has its own --help (exit
 * 0, its own usage, not the global one), --version; repeated list options
 * add up; a comma list with an empty item is refused; --rerun-failed FILE
 * reruns exactly the failing cases of a JSON-lines or ratio report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"

static const char *tmp(const char *name)
{
    static char ring[16][300];
    static int k;
    k = (k + 1) % 16;
    snprintf(ring[k], sizeof ring[k], "%s", scratch_path("kvv-cliopt", name));
    return ring[k];
}

static char out[1 << 17];

static void test_help_per_command(void)
{
    static const struct {
        const char *args, *usage;
    } cmds[] = {
        {"run --help", "usage: kvverify run "},         {"run -h", "usage: kvverify run "},
        {"run -p attn --help", "usage: kvverify run "}, {"list --help", "usage: kvverify list "},
        {"list cases --help", "usage: kvverify list cases "}, {"list devices --help", "usage: kvverify list devices"},
        {"probe --help", "usage: kvverify probe "},     {"tables --help", "usage: kvverify tables"},
        {"version --help", "usage: kvverify version"},  {"bench --help", "usage: kvverify bench "},
        {"bench -h", "usage: kvverify bench "},         {"compare --help", "usage: kvverify compare "},
        {"fuzz --help", "usage: kvverify fuzz "},       {"ppl --help", "usage: kvverify ppl "},
        {"mkmodel --help", "usage: kvverify mkmodel "}, {"replay --help", "usage: kvverify replay "},
        {"diff --help", "usage: kvverify diff "},       {"diff -h", "usage: kvverify diff "},
        {"bisect --help", "usage: kvverify bisect "},   {"help run", "usage: kvverify run "},
        {"help diff", "usage: kvverify diff "},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        int st = cli_run_limit(20, cmds[i].args, out, sizeof out);
        /* its own usage first; the global list of commands is not it */
        int own = !strncmp(out, cmds[i].usage, strlen(cmds[i].usage)) && !strstr(out, "\ncommands:\n");
        CU_ASSERT_EQUAL(st, 0);
        CU_ASSERT(own);
        if (st != 0 || !own)
            printf("\n  kvverify %s: exit %d, wanted 0 and '%s...':\n%.600s\n", cmds[i].args, st, cmds[i].usage, out);
    }
    /* the global usage still lists the commands */
    CU_ASSERT_EQUAL(cli_run("--help", out, sizeof out), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\ncommands:\n"));
    CU_ASSERT_EQUAL(cli_run("help nosuch", out, sizeof out), 2);
}

static void test_version(void)
{
    char want[64];
    int st = cli_run("--version", out, sizeof out);
    CU_ASSERT_EQUAL(st, 0);
    CU_ASSERT(!strncmp(out, "kvverify ", 9) && strstr(out, "(commit "));
    snprintf(want, sizeof want, "%.60s", out);
    CU_ASSERT_EQUAL(cli_run("version", out, sizeof out), 0);
    CU_ASSERT(!strncmp(out, want, strlen(want)));
}

/* The number of case names `kvverify ARGS` prints (exit status 0 wanted). */
static int count_lines(const char *args)
{
    int st = cli_run(args, out, sizeof out);
    CU_ASSERT_EQUAL(st, 0);
    if (st)
        printf("\n  kvverify %s: exit %d:\n%.600s\n", args, st, out);
    int n = 0;
    for (const char *p = out; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
        n += strncmp(p, "Vulkan:", 7) != 0 && *p != '\n'; /* the line on the default backends is no case */
    return n;
}

static void test_repeated_lists_add(void)
{
    int quant = count_lines("list cases --gate --no-corpus -p quant/");
    int wht = count_lines("list cases --gate --no-corpus -p wht/");
    int both = count_lines("list cases --gate --no-corpus -p quant/ -p wht/");
    CU_ASSERT(quant > 0 && wht > 0);
    CU_ASSERT_EQUAL(both, quant + wht);
    CU_ASSERT_EQUAL(count_lines("list cases --gate --no-corpus -p quant/,wht/"), both);
    /* -o and --kv the same way */
    int ops = count_lines("list cases --gate --no-corpus -o quant -o wht");
    CU_ASSERT_EQUAL(ops, count_lines("list cases --gate --no-corpus -o quant,wht"));
    int kv = count_lines("list cases --gate --no-corpus -o attn --kv q8_0/q8_0 --kv f16/f16");
    CU_ASSERT(kv > 0);
    CU_ASSERT_EQUAL(kv, count_lines("list cases --gate --no-corpus -o attn --kv q8_0/q8_0,f16/f16"));
    /* full case names given with two -p: both run, as one would alone */
    CU_ASSERT_EQUAL(count_lines("list cases -p quant/q8_0/d64/rows8/dist=gauss/seed=12 -p "
                                "wht/d64/g64/rows4/dist=gauss/seed=13"),
                    2);
    /* two backends named in two -b */
    CU_ASSERT_EQUAL(cli_run("run -p quant/q8_0/d64/rows8/dist=gauss/seed=12 -b cpu -b cpu", out, sizeof out), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "1 cases x 2 backends"));
}

static void test_empty_items_refused(void)
{
    static const char *const bad[] = {
        "run -b cpu,,cpu -p quant/",  "run -b cpu, -p quant/",       "run -b , -p quant/",
        "run -p quant/,",             "run -p ,quant/",              "run -p quant/,,wht/",
        "run -o quant,",              "run --kv q8_0/q8_0,,f16/f16", "run --head-dim 128,",
        "run --toggle cache=on,",     "run --set threads=2,",        "list cases --kv ,q8_0/q8_0",
        "replay x.h5 -b cpu,",        "bench -b cpu,",               "probe -b cpu,",
        "fuzz -o attn,",              "ppl --model probe --kv f16/f16,",
        "bisect --good a --bad b --rule arith,", "bisect --good a --bad b --tree ggml,,src",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double t0 = cli_mono();
        int st = cli_run_limit(20, bad[i], out, sizeof out);
        int said = strstr(out, "empty item") || strstr(out, "empty list"); /* "-b ,": nothing but empty items */
        CU_ASSERT_EQUAL(st, 2);
        CU_ASSERT(said);
        CU_ASSERT(cli_mono() - t0 < 10);
        if (st != 2 || !said)
            printf("\n  kvverify %s: exit %d, wanted 2 and 'empty item' or 'list':\n%.600s\n", bad[i], st, out);
    }
}

/* A report of two cases on the segfaulting plugin: the second fails. */
static void make_reports(const char *jsonl, const char *tsv)
{
    const char *cases = tmp("two.cases");
    FILE *f = fopen(cases, "w");
    CU_ASSERT_FATAL(f != NULL);
    fprintf(f, "dequant/f32/d128/rows8/dist=gauss/seed=1\ndequant/f32/d96/rows8/dist=gauss/seed=2\n");
    CU_ASSERT_FATAL(fclose(f) == 0);
    char args[2048];
    snprintf(args, sizeof args, "run --cases %s -b %s -j 1 --json %s --ratios %s", cases, cli_plugin("segv"), jsonl,
             tsv);
    CU_ASSERT_EQUAL_FATAL(cli_run(args, out, sizeof out), 1);
}

static void rerun(const char *report)
{
    char args[2048];
    /* on the backend it failed on (named in the report): fails again */
    snprintf(args, sizeof args, "run --rerun-failed %s -j 1 -v", report);
    int st = cli_run(args, out, sizeof out);
    CU_ASSERT_EQUAL(st, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "1 cases x 1 backend"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "dequant/f32/d96/rows8/dist=gauss/seed=2"));
    CU_ASSERT_PTR_NULL(strstr(out, "dequant/f32/d128/rows8/dist=gauss/seed=1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "[crash]"));
    if (st != 1 || !strstr(out, "1 cases x 1 backend"))
        printf("\n  kvverify %s: exit %d:\n%s\n", args, st, out);
    /* on the backends -b names: that case alone, passing on cpu */
    snprintf(args, sizeof args, "run --rerun-failed %s -b cpu -v", report);
    st = cli_run(args, out, sizeof out);
    CU_ASSERT_EQUAL(st, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "1 cases x 1 backend (cpu)"));
    if (st != 0)
        printf("\n  kvverify %s: exit %d:\n%s\n", args, st, out);
}

static void test_rerun_failed(void)
{
    const char *jsonl = tmp("results.jsonl"), *tsv = tmp("ratios.tsv");
    make_reports(jsonl, tsv);
    rerun(jsonl);
    rerun(tsv);
    /* a report without failures: nothing to rerun, said so */
    char args[1024];
    const char *clean = tmp("clean.jsonl");
    snprintf(args, sizeof args, "run -p quant/q8_0/d64/rows8/dist=gauss/seed=12 --json %s", clean);
    CU_ASSERT_EQUAL_FATAL(cli_run(args, out, sizeof out), 0);
    snprintf(args, sizeof args, "run --rerun-failed %s", clean);
    CU_ASSERT_EQUAL(cli_run(args, out, sizeof out), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "no failing case"));
    /* bad uses */
    snprintf(args, sizeof args, "run --rerun-failed %s", tmp("nosuch.jsonl"));
    CU_ASSERT_EQUAL(cli_run(args, out, sizeof out), 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "No such file or directory"));
    snprintf(args, sizeof args, "run --rerun-failed %s --gate", jsonl);
    CU_ASSERT_EQUAL(cli_run(args, out, sizeof out), 2);
    snprintf(args, sizeof args, "run --rerun-failed %s", tmp("two.cases"));
    CU_ASSERT_EQUAL(cli_run(args, out, sizeof out), 2);
}

static int cleanup(void)
{
    scratch_remove();
    return 0;
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"each subcommand's --help: exit 0, its own usage", test_help_per_command},
        {"--version", test_version},
        {"repeated -p, -o, --kv, -b add up", test_repeated_lists_add},
        {"comma lists with an empty item: refused", test_empty_items_refused},
        {"--rerun-failed from results.jsonl and ratios.tsv", test_rerun_failed},
        {NULL, NULL}};
    CU_pSuite s = CU_add_suite("command-line options", NULL, cleanup);
    for (const kvv_test *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}
