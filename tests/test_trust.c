/* A backend is untrusted code.  Real plugin libraries (tests/plugins/) that
 * lie about their precision, write past their buffers, print to stdout,
 * crash, hang while loading or crash in different ways by size, run
 * through the command line; each must be failed, refused or isolated, with
 * a message that says what happened.  The guard zones and the failure
 * signature are tested on their own too. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernels/cpu/cpu_backend.h"
#include "fuzz/fuzz_loop.h"
#include "oracle/guard.h"
#include "oracle/run.h"
#include "oracle/verdict.h"
#include "tests/harness.h"

/* Run a shell command; its exit status, with stdout (and stderr unless
 * stdout_only) in out. */
static int run_cmd(const char *cmd, int stdout_only, char *out, size_t n)
{
    char full[2048];
    snprintf(full, sizeof full, "%s %s", cmd, stdout_only ? "2>/dev/null" : "2>&1");
    return kvv_sh(full, out, n);
}

static int expect(const char *cmd, int status, const char *needle)
{
    static char out[65536];
    int st = run_cmd(cmd, 0, out, sizeof out);
    int ok = st == status && (!needle || strstr(out, needle));
    if (!ok)
        fprintf(stderr, "\n%s\n  exit %d (wanted %d), wanted '%s' in:\n%s\n", cmd, st, status, needle ? needle : "",
                out);
    return ok;
}

#define PLUGIN "%s/tests/plugins/lib"
#define ATTN_D192 "attn/d192/f16-f16/nq1/nkv128/h4/gqa2/dist=gauss/seed=3"

/* ---- broken backends: refused before any work, exit 2 ---- */

static void test_refused_up_front(void)
{
    const char *b = kvv_build_dir();
    char specs[12][512];
    const char *why[12];
    int n = 0;
    snprintf(specs[n], 512, "/etc/passwd"), why[n++] = "invalid ELF header";
    snprintf(specs[n], 512, "/tmp"), why[n++] = "Is a directory";
    snprintf(specs[n], 512, "nosuch"), why[n++] = "unknown backend 'nosuch'";
    snprintf(specs[n], 512, "%s/plugins/libbroken_bad_abi.so", b), why[n++] = "backend ABI version 2";
    snprintf(specs[n], 512, "%s/plugins/libbroken_missing_entry.so", b), why[n++] = "lacks the required entry";
    snprintf(specs[n], 512, "%s/plugins/libbroken_short_struct.so", b), why[n++] = "backend table is";
    snprintf(specs[n], 512, "%s/plugins/libbroken_null_table.so", b), why[n++] = "returned no table";
    snprintf(specs[n], 512, "%s/plugins/libno_symbol.so", b), why[n++] = "does not export kvv_backend_get";
    snprintf(specs[n], 512, "%s/plugins/libbroken_bad_config.so:x=1", b), why[n++] = "unknown option 'x=1'";
    snprintf(specs[n], 512, PLUGIN "hostile_segv.so:x=1", b), why[n++] = "takes no options";
    snprintf(specs[n], 512, "ggml-cpu:dir=/nonexistent"), why[n++] = "cannot load libggml-base.so";
    snprintf(specs[n], 512, PLUGIN "liar_hang_get.so", b), why[n++] = "opening it hung: no answer within 2 s";
    for (int i = 0; i < n; i++) {
        char cmd[1024];
        double t0 = cli_mono();
        snprintf(cmd, sizeof cmd, "%s/kvverify run -b '%s' --timeout 2 -p " ATTN_D192, b, specs[i]);
        CU_ASSERT(expect(cmd, 2, why[i]));
        CU_ASSERT(cli_mono() - t0 < 20); /* a hang costs the short limit once, not a timeout per case */
    }
    /* the hanging library in a list of backends, and every subcommand that takes -b */
    static const char *const sub[] = {
        "run -b cpu,%s --timeout 2 --gate",
        "replay /nonexistent.h5 -b %s --timeout 2",
        "fuzz -b %s --time 5 --timeout 2 --no-write",
        "bench -b %s",
        "ppl --model probe --kv f16/f16 -b %s --timeout 2",
        "probe -b %s",
    };
    for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
        char fmt[512], cmd[1024];
        snprintf(fmt, sizeof fmt, "%%s/kvverify %s", sub[i]);
        snprintf(cmd, sizeof cmd, fmt, b, "nosuch");
        CU_ASSERT(expect(cmd, 2, "unknown backend 'nosuch'"));
        if (i == 0 || i == 1 || i == 2 || i == 4) {
            char lib[512];
            snprintf(lib, sizeof lib, PLUGIN "liar_hang_get.so", b);
            snprintf(cmd, sizeof cmd, fmt, b, lib);
            CU_ASSERT(expect(cmd, 2, "opening it hung"));
        }
    }
}

/* ---- precision claims through the command line ---- */

static void test_liars_fail(void)
{
    const char *b = kvv_build_dir();
    char cmd[1024];
    /* the zeros plugin's own claim, 1e30, is no precision that exists */
    snprintf(cmd, sizeof cmd, "%s/kvverify run -b " PLUGIN "liar_zeros.so -v -p " ATTN_D192, b, b);
    CU_ASSERT(expect(cmd, 1, "[arith] invalid precision claim: kv_round=1e+30 acc_round=1e+30"));
    /* with a valid f16 claim the budget rule measures what f16 can explain */
    snprintf(cmd, sizeof cmd,
             "%s/kvverify run -b " PLUGIN "liar_zeros.so:kv_round=0.0009765625:acc_round=0.00048828125 -v -p " ATTN_D192,
             b, b);
    CU_ASSERT(expect(cmd, 1, "[claimed kv_round=2^-10 acc_round=2^-11 (f16 accumulation)]"));
    CU_ASSERT(expect(cmd, 1, "[budget]"));
    snprintf(cmd, sizeof cmd,
             "%s/kvverify run -b " PLUGIN "liar_no_q.so -v -p attn/d128/f16-f16/nq1/nkv256/h8/gqa4/dist=gauss/seed=13",
             b, b);
    CU_ASSERT(expect(cmd, 1, "[claimed kv_round=0 acc_round=2^-11 (f16 accumulation)]"));
    /* the same library at another head dim is the honest template: it passes */
    snprintf(cmd, sizeof cmd,
             "%s/kvverify run -b " PLUGIN "liar_zeros.so:kv_round=0:acc_round=5.9604644775390625e-08 -p "
             "attn/d128/f16-f16/nq1/nkv128/h4/gqa2/dist=gauss/seed=3",
             b, b);
    CU_ASSERT(expect(cmd, 0, "1 passed"));
}

/* ---- buffer overruns ---- */

static void test_overruns(void)
{
    const char *b = kvv_build_dir();
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/kvverify run -b " PLUGIN "liar_overrun.so -v -p " ATTN_D192, b, b);
    CU_ASSERT(expect(cmd, 1, "[crash] attention: backend wrote 8 bytes past out (a buffer of 3072 bytes)"));
    snprintf(cmd, sizeof cmd, "%s/kvverify run -b " PLUGIN "liar_overrun.so:past=1 -v -p " ATTN_D192, b, b);
    CU_ASSERT(expect(cmd, 1, "[crash] attention: backend wrote 4 bytes past out"));
    snprintf(cmd, sizeof cmd, "%s/kvverify run -b " PLUGIN "liar_overrun.so:where=quant -v -p " ATTN_D192, b, b);
    CU_ASSERT(expect(cmd, 1, "[crash] quantize: backend wrote 8 bytes past the quantized rows"));
    snprintf(cmd, sizeof cmd,
             "%s/kvverify run -b " PLUGIN "liar_overrun.so:where=deq -v -p dequant/f16/d64/rows8/dist=gauss/seed=1", b,
             b);
    CU_ASSERT(expect(cmd, 1, "[crash] dequantize: backend wrote 8 bytes past the dequantized rows"));
    /* --guard: the first float past the end faults, and the verdict names the buffer */
    snprintf(cmd, sizeof cmd, "%s/kvverify run --guard -b " PLUGIN "liar_overrun.so -v -p " ATTN_D192, b, b);
    CU_ASSERT(expect(cmd, 1,
                     "[crash] crashed: killed by signal 11 (Segmentation fault): backend wrote past out (byte 1 past "
                     "the end of its 3072 bytes; --guard page)"));
    char cases[256];
    snprintf(cases, sizeof cases, "/tmp/kvv_trust_%ld.cases", (long)getpid());
    FILE *f = fopen(cases, "w");
    CU_ASSERT_FATAL(f != NULL);
    fprintf(f, "%s\ndequant/f16/d64/rows8/dist=gauss/seed=1\nquant/f32/d96/rows3/dist=gauss/seed=2\n", ATTN_D192);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s/kvverify run --guard -b " PLUGIN "liar_overrun.so:past=0 --cases %s", b, b, cases);
    CU_ASSERT(expect(cmd, 0, "3 passed")); /* an honest backend runs under the guard pages */
    unlink(cases);
}

/* ---- a plugin's stdout never reaches the tool's ---- */

static void test_plugin_stdout(void)
{
    const char *b = kvv_build_dir();
    static char out[65536];
    const char *modes[] = {"", "--no-isolate"};
    for (int m = 0; m < 2; m++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "%s/kvverify run -b " PLUGIN "liar_chatty.so %s --json - -p " ATTN_D192, b, b,
                 modes[m]);
        CU_ASSERT_EQUAL(run_cmd(cmd, 1, out, sizeof out), 0);
        int lines = 0, json = 0;
        for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"), lines++)
            json += l[0] == '{';
        CU_ASSERT(lines >= 3 && json == lines);
        if (json != lines)
            fprintf(stderr, "\n%s: %d of %d stdout lines are JSON\n", cmd, json, lines);
    }
}

/* ---- ppl runs the backend in its own process ---- */

static void test_ppl_isolated(void)
{
    const char *b = kvv_build_dir();
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/kvverify ppl --model probe --kv f16/f16,f32/f32 -b " PLUGIN "liar_chatty.so:crash=1",
             b, b);
    /* killed by signal 11, or under the sanitizers an exit they chose */
    CU_ASSERT(expect(cmd, 1, "f16/f16                FAILED: crashed: "));
    CU_ASSERT(expect(cmd, 1, "f32/f32                FAILED: crashed"));
    snprintf(cmd, sizeof cmd, "%s/kvverify ppl --model probe --kv f16/f16,q8_0/q8_0 -b " PLUGIN "liar_chatty.so", b,
             b);
    CU_ASSERT(expect(cmd, 0, "q8_0/q8_0              declined: "));
    strcat(cmd, " --strict");
    CU_ASSERT(expect(cmd, 1, "q8_0/q8_0              declined (FAIL: --strict): "));
}

/* ---- the shrinker keeps the failure it was given ---- */

static void shrink_keeps(const char *start, const char *want_case, const char *want_failure)
{
    char dir[256], cmd[1024];
    static char out[65536];
    snprintf(dir, sizeof dir, "/tmp/kvv_trust_shrink_%ld", (long)getpid());
    snprintf(cmd, sizeof cmd,
             "rm -rf %s; %s/kvverify fuzz --shrink %s -b %s/tests/plugins/libhostile_sizes.so --out %s --timeout 5 -j 1",
             dir, kvv_build_dir(), start, kvv_build_dir(), dir);
    CU_ASSERT_EQUAL(run_cmd(cmd, 0, out, sizeof out), 1);
    const char *w = strstr(out, "shrunk in ");
    CU_ASSERT_PTR_NOT_NULL(w);
    CU_ASSERT(w && strstr(w, want_case));
    const char *f = strstr(out, "written to ");
    if (f) {
        char path[512], file[2048];
        sscanf(f + strlen("written to "), "%511s", path);
        FILE *fp = fopen(path, "r");
        size_t len = fp ? fread(file, 1, sizeof file - 1, fp) : 0;
        file[len] = 0;
        if (fp)
            fclose(fp);
        CU_ASSERT_PTR_NOT_NULL(strstr(file, want_failure));
        CU_ASSERT_PTR_NOT_NULL(strstr(file, want_case));
    } else {
        CU_FAIL("no case file written");
    }
    if (!w || !strstr(w, want_case))
        fprintf(stderr, "\nshrinking %s:\n%s\n", start, out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_shrink_keeps_the_failure(void)
{
    /* the library exits from 256 values, aborts from 96 and segfaults below:
     * every narrower width is another failure, so the width stays */
    shrink_keeps("dequant/f32/d512/rows8/dist=gauss/seed=1", "dequant/f32/d512/rows1/", "exited with status 3");
    shrink_keeps("dequant/f32/d192/rows8/dist=gauss/seed=1", "dequant/f32/d128/rows1/", "killed by signal 6");
}

static kvv_verdict crash(const char *detail)
{
    kvv_verdict v;
    kvv_verdict_init(&v);
    kvv_verdict_fail(&v, KVV_RULE_CRASH, "%s", detail);
    return v;
}

static int same(kvv_verdict a, kvv_verdict b)
{
    char sa[512], sb[512];
    kvv_failure_signature(&a, sa, sizeof sa);
    kvv_failure_signature(&b, sb, sizeof sb);
    return !strcmp(sa, sb);
}

static void test_failure_signature(void)
{
    kvv_verdict exit3 = crash("crashed: the worker exited with status 3"), abrt = crash("crashed: killed by signal 6 (Aborted)");
    kvv_verdict segv = crash("crashed: killed by signal 11 (Segmentation fault)");
    CU_ASSERT(!same(exit3, abrt) && !same(abrt, segv) && !same(exit3, segv));
    CU_ASSERT(!same(exit3, crash("crashed: the worker exited with status 1")));
    CU_ASSERT(same(segv, crash("crashed: killed by signal 11 (Segmentation fault)")));
    CU_ASSERT(!same(segv, crash("crashed: killed by signal 11 (Segmentation fault): backend wrote past out (byte 1 "
                                "past the end of its 3072 bytes; --guard page)")));
    CU_ASSERT(same(crash("crashed: killed by signal 11 (Segmentation fault): backend wrote past out (byte 1 past the "
                         "end of its 3072 bytes; --guard page)"),
                   crash("crashed: killed by signal 11 (Segmentation fault): backend wrote past out (byte 9 past the "
                         "end of its 64 bytes; --guard page)")));
    CU_ASSERT(!same(crash("hung: no result within 2 s; the worker was killed"), segv));
    CU_ASSERT(same(crash("attention: backend wrote 8 bytes past out (a buffer of 3072 bytes)"),
                   crash("attention: backend wrote 4 bytes past out (a buffer of 512 bytes)")));
    CU_ASSERT(!same(crash("attention: backend wrote 8 bytes past out (a buffer of 3072 bytes)"),
                    crash("quantize: backend wrote 8 bytes past the quantized rows (a buffer of 3072 bytes)")));
    CU_ASSERT(same(crash("attention: backend failed (status 2): out of memory at 123"),
                   crash("attention: backend failed (status 2): device lost")));
    CU_ASSERT(!same(crash("attention: backend failed (status 2): x"), crash("quantize: backend failed (status 2): x")));
    kvv_verdict a1, a2, b1;
    kvv_verdict_init(&a1);
    kvv_verdict_init(&a2);
    kvv_verdict_init(&b1);
    kvv_verdict_fail(&a1, KVV_RULE_ARITH, "out[3,37] = -6.44e-09, reference -1.2e-09: |error| 5.2e-09 is 65.4 x");
    kvv_verdict_fail(&a2, KVV_RULE_ARITH, "out[0,1] = 2.5, reference 1: |error| 1.5 is 3 x [claimed ...]");
    kvv_verdict_fail(&b1, KVV_RULE_BUDGET, "rms error vs unquantized 0.1 is 3 x the type's own distortion 0.01");
    CU_ASSERT(same(a1, a2) && !same(a1, b1));
    kvv_verdict_fail(&a1, KVV_RULE_FINITE, "ignored: the first failure is kept");
    kvv_verdict f1, f2;
    kvv_verdict_init(&f1);
    kvv_verdict_init(&f2);
    kvv_verdict_fail(&f1, KVV_RULE_FINITE, "out[0,0] = -nan where the reference has -4564");
    kvv_verdict_fail(&f2, KVV_RULE_FINITE, "out[1,3] = nan where the reference has 12");
    CU_ASSERT(same(f1, f2));
    CU_ASSERT(!same(f1, a1));
}

/* ---- the guard zones on their own ---- */

static void test_guard_zones(void)
{
    size_t past, before;
    uint8_t *p = kvv_guard_alloc(100, "x");
    CU_ASSERT_FATAL(p != NULL);
    CU_ASSERT(((uintptr_t)p & 63) == 0);
    CU_ASSERT(kvv_guard_check(p, &past, &before) == 0 && past == 0 && before == 0);
    memset(p, 0x5a, 100); /* all of it, and no more */
    CU_ASSERT(kvv_guard_check(p, &past, &before) == 0);
    p[100] ^= 1;
    CU_ASSERT(kvv_guard_check(p, &past, &before) == -1 && past == 1);
    p[100] ^= 1;
    p[107] = 0; /* two floats' worth, whatever value it wrote */
    p[107] ^= 0xff;
    CU_ASSERT(kvv_guard_check(p, &past, &before) == -1 && past == 8);
    kvv_guard_free(p);
    p = kvv_guard_alloc(64, "y");
    p[-1] ^= 0xff;
    p[-1] ^= 0xff; /* restored: intact */
    CU_ASSERT(kvv_guard_check(p, &past, &before) == 0);
    const uint8_t lead = p[-3];
    p[-3] ^= 0x10; /* before the start */
    CU_ASSERT(kvv_guard_check(p, &past, &before) == -1 && before == 3);
    p[-3] = lead;
    uint8_t saved[64];
    memcpy(saved, p - 64, 64);
    memset(p - 64, 0, 64); /* the header is gone */
    CU_ASSERT(kvv_guard_check(p, &past, &before) == -1 && before == 64);
    kvv_guard_free(p); /* left alone: nothing says what to free */
    memcpy(p - 64, saved, 64);
    CU_ASSERT(kvv_guard_check(p, &past, &before) == 0);
    kvv_guard_free(p);
}

/* Page mode: the first byte past the end faults, and the handler's note
 * says which buffer (in a child, which dies of it). */
static void test_guard_page(void)
{
    char *note = mmap(NULL, 512, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(note != MAP_FAILED);
    note[0] = 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        kvv_guard_note_area(note, 512);
        kvv_guard_pages(1);
        float *out = kvv_guard_alloc(sizeof(float) * 10, "out");
        size_t past, before;
        if (!out || kvv_guard_check(out, &past, &before))
            _exit(7);
        for (int i = 0; i < 10; i++)
            out[i] = 1; /* the whole buffer is writable */
        volatile float *o = out;
        o[10] = 2; /* one float past: faults here */
        _exit(8);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    CU_ASSERT_STRING_EQUAL(note, "backend wrote past out (byte 1 past the end of its 40 bytes; --guard page)");
    munmap(note, 512);
}

/* An in-process backend whose WHT writes one float past the rows (a
 * defect backend of tests/harness/defect.h). */
static void test_wht_overrun(void)
{
    kvv_backend *b = kvv_defect("wht_overrun");
    kvv_case c = kvv_case_named("wht/d128/g32/rows4/dist=gauss/seed=1");
    kvv_verdict v;
    kvv_run_case(&c, b, &v);
    kvv_defect_free(b);
    CU_ASSERT(v.status == KVV_FAIL && v.rule == KVV_RULE_CRASH);
    CU_ASSERT_STRING_EQUAL(v.detail, "WHT: backend wrote 4 bytes past the rows (a buffer of 2048 bytes)");
    kvv_run_case(&c, kvv_cpu_backend(), &v);
    CU_ASSERT_EQUAL(v.status, KVV_PASS);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"broken backends refused up front (exit 2)", test_refused_up_front},
                                     {"precision liars fail through the CLI", test_liars_fail},
                                     {"overruns are crash verdicts naming the buffer", test_overruns},
                                     {"a plugin's stdout stays off the tool's", test_plugin_stdout},
                                     {"ppl isolates the backend", test_ppl_isolated},
                                     {"the shrinker keeps the failure it was given", test_shrink_keeps_the_failure},
                                     {"failure signatures", test_failure_signature},
                                     {"guard zones", test_guard_zones},
                                     {"guard page", test_guard_page},
                                     {"WHT overrun in process", test_wht_overrun},
                                     {NULL, NULL}};
    kvv_add_suite("untrusted backends", tests);
}
