/* `kvverify bench` runs its backends in a child process
 * (bench/isolate_bench.c): a plugin that prints to stdout must not mix
 * into the bench's lines (or its JSON), and one that crashes must be named,
 * with the call it crashed in, while the other backends' lines are kept.
 * A small stand-in for the bench's body (a line per backend and width,
 * interleaved as the bench interleaves them) checks each case quickly with
 * the hostile plugins of tests/plugins; one run of the real bench checks
 * the command line. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "oracle/isolate.h"
#include "tests/harness.h"

static const char *plugin(const char *lib)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/tests/plugins/lib%s.so", cli_build_dir(), lib);
    return path[k];
}

/* The stand-in: for each width of the list (0-terminated), each backend
 * quantizes and dequantizes 4 f32 rows of that width and a line says so; die_after >= 0:
 * the body itself aborts after that many widths (outside any backend). */
typedef struct {
    int widths[8];
    int die_after;
} body_arg;

static int lines_body(FILE *out, const kvv_backend *const *bk, const char *const *names, int nb, void *arg)
{
    const body_arg *a = arg;
    static float x[4 * 512], dst[4 * 512];
    for (int i = 0; i < 4 * 512; i++)
        x[i] = (float)i / 7.0f;
    kvv_toggles tg = kvv_toggles_default();
    for (int l = 0; a->widths[l]; l++) {
        if (l == a->die_after)
            abort();
        for (int b = 0; b < nb; b++) {
            int rq = bk[b]->quantize_rows(bk[b]->ctx, KVV_F32, x, dst, 4, a->widths[l], &tg);
            int rd = bk[b]->dequantize_rows(bk[b]->ctx, KVV_F32, x, dst, 4, a->widths[l], &tg);
            fprintf(out, "line %d %s rc %d %d\n", l, names[b], rq, rd);
        }
    }
    return 0;
}

/* kvv_bench_isolated with this process's stdout and stderr sent to files
 * (what the child and its backends inherit), the bench's output to a third */
static int isolated(const char *const *names, int nb, body_arg *a, char *out, char *so, char *se, size_t n)
{
    const char *po = scratch_path("kvv-bench-iso", "out"), *ps = scratch_path("kvv-bench-iso", "stdout"),
               *pe = scratch_path("kvv-bench-iso", "stderr");
    FILE *f = fopen(po, "w");
    CU_ASSERT_FATAL(f != NULL);
    fflush(stdout);
    fflush(stderr);
    int save1 = dup(1), save2 = dup(2);
    int f1 = open(ps, O_WRONLY | O_CREAT | O_TRUNC, 0644), f2 = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CU_ASSERT_FATAL(save1 >= 0 && save2 >= 0 && f1 >= 0 && f2 >= 0);
    dup2(f1, 1);
    dup2(f2, 2);
    int rc = kvv_bench_isolated(f, names, nb, lines_body, a);
    fflush(stdout);
    fflush(stderr);
    dup2(save1, 1);
    dup2(save2, 2);
    close(save1);
    close(save2);
    close(f1);
    close(f2);
    fclose(f);
    cli_slurp(po, out, n);
    cli_slurp(ps, so, n);
    cli_slurp(pe, se, n);
    return rc;
}

static char out[1 << 16], so[1 << 16], se[1 << 16];

static int has(const char *s, const char *what)
{
    if (strstr(s, what))
        return 1;
    fprintf(stderr, "\nmissing '%s' in:\n%s\n", what, s);
    return 0;
}

/* A backend that crashes on its second line: named with the call, its
 * earlier line kept, the others measured to the end in a second run; the
 * chatty one's prints on stderr, never in the bench's lines or on stdout. */
static void test_crash_named_others_kept(void)
{
    const char *names[] = {"cpu", plugin("hostile_segv"), plugin("liar_chatty")};
    body_arg a = {{32, 96, 64, 0}, -1};
    int rc = isolated(names, 3, &a, out, so, se, sizeof out);
    CU_ASSERT_EQUAL(rc, 1);
    char want[1024];
    snprintf(want, sizeof want, "line 0 %s rc 0 0\nline 0 %s rc 0 0\nline 1 cpu rc 0 0\n", names[1], names[2]);
    CU_ASSERT(has(out, want));
    snprintf(want, sizeof want, "\nbackend %s crashed: ", names[1]);
    CU_ASSERT(has(out, want));
    /* a signal, or under a sanitizer its report and exit */
    CU_ASSERT(has(out, "killed by signal 11 (Segmentation fault) in quantize_rows(f32, 4 x 96, threads=1); its "
                       "lines end here\n") ||
              has(out, "the process exited with status 1 in quantize_rows(f32, 4 x 96, threads=1)"));
    snprintf(want, sizeof want, "the bench runs again from the start without it, on cpu, %s\n", names[2]);
    CU_ASSERT(has(out, want));
    snprintf(want, sizeof want,
             "line 0 cpu rc 0 0\nline 0 %s rc 0 0\nline 1 cpu rc 0 0\nline 1 %s rc 0 0\nline 2 cpu rc 0 0\nline 2 %s rc 0 0\n",
             names[2], names[2], names[2]);
    CU_ASSERT(has(out, want));
    CU_ASSERT(strstr(strstr(out, "runs again") ? strstr(out, "runs again") : out, names[1]) == NULL);
    /* what the plugin printed: on stderr, never in the lines or on stdout */
    CU_ASSERT(strstr(out, "liar_chatty:") == NULL);
    CU_ASSERT(strstr(so, "liar_chatty:") == NULL);
    CU_ASSERT(has(se, "liar_chatty: loaded"));
    CU_ASSERT(has(se, "liar_chatty: quantize"));
    snprintf(want, sizeof want, "kvverify bench: backend %s crashed: ", names[1]);
    CU_ASSERT(has(se, want));
}

/* A backend that exits from inside a call (no signal): named as well; with
 * no backend left the bench stops. */
static void test_exit_in_backend(void)
{
    const char *names[] = {plugin("hostile_sizes")};
    body_arg a = {{8, 256, 0}, -1};
    CU_ASSERT_EQUAL(isolated(names, 1, &a, out, so, se, sizeof out), 1);
    char want[1024];
    snprintf(want, sizeof want, "line 0 %s rc 0 0\n\nbackend %s crashed: the process exited with status 3 in "
                                "dequantize_rows(f32, 4 x 256, threads=1); its lines end here\nno backend left to bench\n",
             names[0], names[0]);
    CU_ASSERT(has(out, want));
}

/* The body dying outside any backend is not pinned on a backend. */
static void test_body_dies(void)
{
    const char *names[] = {"cpu"};
    body_arg a = {{16, 32, 0}, 1};
    CU_ASSERT_EQUAL(isolated(names, 1, &a, out, so, se, sizeof out), 1);
    CU_ASSERT(has(out, "line 0 cpu rc 0 0\n\nthe bench itself died (killed by signal 6 (Aborted)), outside any "
                       "backend; no further lines\n"));
    CU_ASSERT(strstr(out, "runs again") == NULL);
}

/* Nothing crashes: one run, every line, status 0. */
static void test_clean_run(void)
{
    const char *names[] = {"cpu", plugin("liar_chatty")};
    body_arg a = {{16, 32, 0}, -1};
    CU_ASSERT_EQUAL(isolated(names, 2, &a, out, so, se, sizeof out), 0);
    char want[1024];
    snprintf(want, sizeof want, "line 0 cpu rc 0 0\nline 0 %s rc 0 0\nline 1 cpu rc 0 0\nline 1 %s rc 0 0\n", names[1],
             names[1]);
    CU_ASSERT(has(out, want));
    CU_ASSERT(strstr(out, "crashed") == NULL && strstr(out, "liar_chatty:") == NULL);
}

/* The real bench through the command line: a plugin that prints on every
 * call and crashes in attention.  Its quantize and WHT lines stay, the
 * crash is named with the call, nothing it printed is on stdout; and a list
 * given twice with -b adds up (as every list option does). */
static void test_cli(void)
{
    char args[1024];
    const char *o = scratch_path("kvv-bench-iso", "cli.out"), *e = scratch_path("kvv-bench-iso", "cli.err");
    snprintf(args, sizeof args, "timeout -s KILL 300 %s bench -b %s:crash=1 --reps 1 >%s 2>%s", cli_exe(),
             plugin("liar_chatty"), o, e);
    static char buf[1 << 16];
    CU_ASSERT(cli_status(system(args)) == 1);
    cli_slurp(o, out, sizeof out);
    cli_slurp(e, se, sizeof se);
    char want[1024];
    snprintf(want, sizeof want, "  quantize f32                       %s:crash=1", plugin("liar_chatty"));
    CU_ASSERT(has(out, want));
    snprintf(want, sizeof want, "backend %s:crash=1 crashed: ", plugin("liar_chatty"));
    CU_ASSERT(has(out, want));
    CU_ASSERT(has(out, "in attention(f16/f16, d128, nq 1, nkv 4096, heads 32/8, threads=1); its lines end here\n"
                       "no backend left to bench\n"));
    CU_ASSERT(strstr(out, "liar_chatty:") == NULL);
    CU_ASSERT(has(se, "liar_chatty: loaded"));
    /* -b twice adds: both names are checked up front (the second is refused) */
    snprintf(args, sizeof args, "bench -b cpu -b nosuch --reps 1");
    CU_ASSERT(cli_run(args, buf, sizeof buf) == 2);
    CU_ASSERT(has(buf, "unknown backend 'nosuch'"));
}

static int cleanup(void)
{
    scratch_remove();
    return 0;
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"a crashing backend is named; the others' lines are kept; prints go to stderr", test_crash_named_others_kept},
        {"a backend that exits inside a call is named too", test_exit_in_backend},
        {"the bench dying outside a backend is said so", test_body_dies},
        {"a clean run: every line, status 0", test_clean_run},
        {"kvverify bench with a chatty plugin that crashes in attention", test_cli},
        {NULL, NULL}};
    CU_pSuite s = CU_add_suite("bench_isolate", NULL, cleanup);
    for (const kvv_test *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}
