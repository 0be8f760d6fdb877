/* `kvverify bisect` over a throwaway git history of a small backend plugin
 * (f32 attention through the plugin ABI): one commit plants a rotation of Q
 * that the cache never had, one earlier commit does not build.  The bisect
 * must name the planting commit and its failing case, skip the broken
 * build, and leave the repository as it found it. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"

static char repo[64];

/* The plugin: f32 K/V stored as is, attention in plain f32 loops.
 * ROTATE_Q plants the defect: a normalized WHT of Q inside the kernel, as a
 * kernel written for a rotated cache would do. */
static const char plugin_head[] =
    "#include <math.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include \"kvv/backend.h\"\n"
    "#ifndef CRASH\n#define CRASH 0\n#endif\n"
    "static int supports(void *ctx, const kvv_case *c, char *why, size_t n)\n{\n    (void)ctx;\n"
    "    if (c->op == KVV_OP_ATTN && c->type_k == KVV_F32 && c->type_v == KVV_F32 && c->max_bias == 0 && c->softcap == 0)\n"
    "        return 1;\n    snprintf(why, n, \"f32 attention only\");\n    return 0;\n}\n"
    "static int copy_rows(void *ctx, kvv_type t, const float *src, void *dst, int64_t r, int64_t c, const kvv_toggles *tg)\n"
    "{\n    (void)ctx, (void)tg;\n    if (t != KVV_F32) return KVV_UNSUPPORTED;\n"
    "    memcpy(dst, src, sizeof(float) * (size_t)(r * c));\n    return KVV_OK;\n}\n"
    "static int read_rows(void *ctx, kvv_type t, const void *src, float *dst, int64_t r, int64_t c, const kvv_toggles *tg)\n"
    "{\n    return copy_rows(ctx, t, src, dst, r, c, tg);\n}\n"
    "static int no_wht(void *ctx, float *x, int64_t r, int64_t c, int g, int inv, const kvv_toggles *tg)\n"
    "{\n    (void)ctx, (void)x, (void)r, (void)c, (void)g, (void)inv, (void)tg;\n    return KVV_UNSUPPORTED;\n}\n"
    "static void rotate(float *x, int n)\n{\n"
    "    for (int h = 1; h < n; h *= 2)\n        for (int i = 0; i < n; i += 2 * h)\n"
    "            for (int j = i; j < i + h; j++) { float a = x[j], b = x[j + h]; x[j] = a + b; x[j + h] = a - b; }\n"
    "    for (int i = 0; i < n; i++) x[i] *= 1.0f / sqrtf((float)n);\n}\n";

static const char plugin_attention[] =
    "static int attention(void *ctx, const kvv_attn_args *a, float *out, kvv_attn_info *info)\n{\n"
    "    (void)ctx;\n    if (CRASH) abort();\n    info->kv_round = 0;\n    info->acc_round = 0x1p-24;\n"
    "    int g = a->n_head / a->n_head_kv;\n"
    "    float *q = malloc(sizeof(float) * (size_t)a->dk), *p = malloc(sizeof(float) * (size_t)a->n_kv);\n"
    "    for (int h = 0; h < a->n_head; h++)\n        for (int i = 0; i < a->n_q; i++) {\n"
    "            memcpy(q, a->q + ((size_t)h * a->n_q + i) * a->dk, sizeof(float) * (size_t)a->dk);\n"
    "            if (ROTATE_Q) rotate(q, a->dk);\n"
    "            const float *k = (const float *)a->k + (size_t)(h / g) * a->n_kv * a->dk;\n"
    "            const float *v = (const float *)a->v + (size_t)(h / g) * a->n_kv * a->dv;\n"
    "            float mx = -INFINITY, sum = 0;\n"
    "            for (int j = 0; j < a->n_kv; j++) {\n                float s = 0;\n"
    "                for (int d = 0; d < a->dk; d++) s += q[d] * k[(size_t)j * a->dk + d];\n"
    "                p[j] = s * a->scale + (a->mask ? a->mask[(size_t)i * a->n_kv + j] : 0.0f);\n"
    "                if (p[j] > mx) mx = p[j];\n            }\n"
    "            for (int j = 0; j < a->n_kv; j++) { p[j] = p[j] == -INFINITY ? 0 : expf(p[j] - mx); sum += p[j]; }\n"
    "            float *o = out + ((size_t)h * a->n_q + i) * a->dv;\n"
    "            for (int d = 0; d < a->dv; d++) {\n                float acc = 0;\n"
    "                for (int j = 0; j < a->n_kv; j++) acc += p[j] * v[(size_t)j * a->dv + d];\n"
    "                o[d] = sum > 0 ? acc / sum : 0;\n            }\n        }\n"
    "    free(q);\n    free(p);\n    return KVV_OK;\n}\n"
    "static const kvv_backend table = {KVV_ABI_VERSION, sizeof(kvv_backend), \"toy\", \"f32 attention\", NULL,\n"
    "    supports, copy_rows, read_rows, no_wht, attention, NULL, NULL, NULL};\n"
    "const kvv_backend *kvv_backend_get(uint32_t v) { return v == KVV_ABI_VERSION ? &table : NULL; }\n";

#define CASE "attn/d64/f32-f32/nq2/nkv24/h2/gqa1/mask=causal/dist=gauss/seed=5"

static void write_file(const char *name, const char *a, const char *b, const char *c)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", repo, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(a, f);
    if (b)
        fputs(b, f);
    if (c)
        fputs(c, f);
    fclose(f);
}

/* Commit plugin.c with the given switch and extra text; returns the sha. */
static void commit(const char *message, const char *prelude, char *sha)
{
    write_file("plugin.c", prelude, plugin_head, plugin_attention);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cd %s && git add -A && git commit -q -m '%s' && git rev-parse HEAD", repo, message);
    CU_ASSERT_FATAL(kvv_sh(cmd, sha, 64) == 0);
    sha[strcspn(sha, "\n")] = 0;
}

static char shas[11][64];

/* good, broken build, fixed, DEFECT, comment, readme, FIX, notes, the
 * defect again, a CRASH on top of it, notes */
static void make_history(void)
{
    snprintf(repo, sizeof repo, "%s", scratch_path("kvv-bisect", "repo"));
    CU_ASSERT_FATAL(mkdir(repo, 0700) == 0);
    setenv("GIT_AUTHOR_NAME", "kvverify test", 1);
    setenv("GIT_AUTHOR_EMAIL", "test@example.invalid", 1);
    setenv("GIT_COMMITTER_NAME", "kvverify test", 1);
    setenv("GIT_COMMITTER_EMAIL", "test@example.invalid", 1);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "cd %s && git init -q -b main . && git config commit.gpgsign false", repo);
    CU_ASSERT_FATAL(kvv_sh(cmd, NULL, 0) == 0);
    write_file(".gitignore", "*.so\nbuild/\n", NULL, NULL);
    commit("plugin: f32 attention", "#define ROTATE_Q 0\n", shas[0]);
    commit("plugin: half-done refactor", "#define ROTATE_Q 0\n#error not finished\n", shas[1]);
    commit("plugin: finish the refactor", "#define ROTATE_Q 0\n/* refactored */\n", shas[2]);
    commit("kernel: rotate Q for rotated caches", "#define ROTATE_Q 1\n/* refactored */\n", shas[3]);
    commit("plugin: comments", "#define ROTATE_Q 1\n/* refactored, commented */\n", shas[4]);
    write_file("README", "toy backend\n", NULL, NULL);
    snprintf(cmd, sizeof cmd, "cd %s && git add -A && git commit -q -m readme && git rev-parse HEAD", repo);
    CU_ASSERT_FATAL(kvv_sh(cmd, shas[5], 64) == 0);
    shas[5][strcspn(shas[5], "\n")] = 0;
    commit("kernel: the cache is not rotated, Q must not be", "#define ROTATE_Q 0\n/* refactored, commented */\n",
           shas[6]);
    write_file("NOTES", "notes\n", NULL, NULL);
    snprintf(cmd, sizeof cmd, "cd %s && git add -A && git commit -q -m notes && git rev-parse HEAD", repo);
    CU_ASSERT_FATAL(kvv_sh(cmd, shas[7], 64) == 0);
    shas[7][strcspn(shas[7], "\n")] = 0;
    commit("kernel: rotate Q again", "#define ROTATE_Q 1\n/* refactored, commented */\n", shas[8]);
    commit("kernel: abort on a cache it cannot read", "#define ROTATE_Q 1\n#define CRASH 1\n", shas[9]);
    write_file("NOTES", "notes, more\n", NULL, NULL);
    snprintf(cmd, sizeof cmd, "cd %s && git add -A && git commit -q -m 'more notes' && git rev-parse HEAD", repo);
    CU_ASSERT_FATAL(kvv_sh(cmd, shas[10], 64) == 0);
    shas[10][strcspn(shas[10], "\n")] = 0;
}

static void build_cmd(char *buf, size_t n, int own_exe)
{
    const char *cwd = kvv_source_dir();
    /* the plugin; for --exe, the repository's "own" kvverify is a copy of this one */
    if (own_exe)
        snprintf(buf, n, "mkdir -p build && cp %s build/kvverify && cc -shared -fPIC -O1 -I%s/include -o plugin.so plugin.c -lm",
                 cli_exe(), cwd);
    else
        snprintf(buf, n, "cc -shared -fPIC -O1 -I%s/include -o plugin.so plugin.c -lm", cwd);
}

static void check_repo_restored(void)
{
    char out[256], cmd[300];
    snprintf(cmd, sizeof cmd, "cd %s && git symbolic-ref --short HEAD && git status --porcelain --untracked-files=no", repo);
    kvv_sh(cmd, out, sizeof out);
    CU_ASSERT(!strcmp(out, "main\n"));
    snprintf(cmd, sizeof cmd, "test -e %s/.git/BISECT_LOG", repo);
    CU_ASSERT(kvv_sh(cmd, NULL, 0) != 0);
}

static void test_bisect_plugin(void)
{
    if (!kvv_have_command("git") || !kvv_have_command("cc"))
        KVV_SKIP("git and cc are needed to make and build the plugin's history");
    make_history();
    static char out[1 << 16];
    char build[1200], cmd[3000];
    build_cmd(build, sizeof build, 0);
    snprintf(cmd, sizeof cmd, "%s bisect -C %s --good %s --bad %s --plugin plugin.so --build \"%s\" -p '%s' -- -j 1 2>&1",
             cli_exe(), repo, shas[0], shas[5], build, CASE);
    int rc = kvv_sh(cmd, out, sizeof out);
    CU_ASSERT(rc == 0);
    char want[200];
    snprintf(want, sizeof want, "first bad commit: %s kernel: rotate Q for rotated caches", shas[3]);
    CU_ASSERT(strstr(out, want) != NULL);
    CU_ASSERT(strstr(out, "FAIL ") != NULL && strstr(out, CASE) != NULL && strstr(out, "[arith]") != NULL);
    if (!strstr(out, want) || getenv("KVV_TEST_SHOW"))
        printf("\n%s\n", out);
    check_repo_restored();
}

/* The repository's own build/kvverify as the test (as for a checkout of
 * kvverify itself); and the ends checked before bisecting. */
static void test_bisect_own_exe_and_ends(void)
{
    if (!repo[0])
        KVV_SKIP("no history to bisect (git or cc missing)");
    static char out[1 << 16];
    char build[1200], cmd[3000];
    build_cmd(build, sizeof build, 1);
    snprintf(cmd, sizeof cmd, "%s bisect -C %s --good %s --bad %s --build \"%s\" -p '%s' -- -b ./plugin.so -j 1 2>&1",
             cli_exe(), repo, shas[2], shas[4], build, CASE);
    CU_ASSERT(kvv_sh(cmd, out, sizeof out) == 0);
    char want[200];
    snprintf(want, sizeof want, "first bad commit: %s", shas[3]);
    CU_ASSERT(strstr(out, want) != NULL);
    if (!strstr(out, want))
        printf("\n%s\n", out);
    check_repo_restored();

    /* --bad that passes: nothing to bisect */
    snprintf(cmd, sizeof cmd, "%s bisect -C %s --good %s --bad %s --build \"%s\" -p '%s' -- -b ./plugin.so -j 1 2>&1",
             cli_exe(), repo, shas[0], shas[2], build, CASE);
    CU_ASSERT(kvv_sh(cmd, out, sizeof out) == 1);
    CU_ASSERT(strstr(out, "the cases pass at --bad") != NULL);
    check_repo_restored();
    /* the step alone at the commit that does not build: git bisect skip (125) */
    build_cmd(build, sizeof build, 0);
    snprintf(cmd, sizeof cmd,
             "cd %s && git checkout -q %s && %s bisect-step --state %s/.git --repo %s --build \"%s\" --plugin plugin.so "
             "-p '%s' 2>&1; echo \"rc=$?\"; git checkout -q main",
             repo, shas[1], cli_exe(), repo, repo, build, CASE);
    kvv_sh(cmd, out, sizeof out);
    CU_ASSERT(strstr(out, "plugin: half-done refactor: build failed (exit 1): skipped") != NULL);
    CU_ASSERT(strstr(out, "rc=125") != NULL);
    check_repo_restored();
    /* not a commit */
    snprintf(cmd, sizeof cmd, "%s bisect -C %s --good nosuchrev --bad %s 2>&1", cli_exe(), repo, shas[2]);
    CU_ASSERT(kvv_sh(cmd, out, sizeof out) == 2);
    CU_ASSERT(strstr(out, "'nosuchrev' is not a commit") != NULL);
}

/* The commit that fixed the case (--fixed: git bisect's old/new terms),
 * found in a bare copy of the repository (no work tree: --tree none, the
 * build takes its source from the git objects, the library is named by -b
 * and the run happens where the bisect was started). */
static void test_bisect_fixed_bare(void)
{
    static char out[1 << 16];
    if (!repo[0])
        KVV_SKIP("no history to bisect (git or cc missing)");
    char cmd[4000], home[80];
    const char *cwd = kvv_source_dir();
    snprintf(home, sizeof home, "%s-home", repo);
    snprintf(cmd, sizeof cmd, "rm -rf %s.git %s && git clone -q --bare %s %s.git && mkdir -p %s", repo, home, repo, repo,
             home);
    CU_ASSERT_FATAL(kvv_sh(cmd, NULL, 0) == 0);
    /* $KVV_BISECT_HOME is the folder the bisect runs in; the tree holds no files */
    char build[1500];
    snprintf(build, sizeof build,
             "test ! -e plugin.c && mkdir -p $KVV_BISECT_HOME/step && git archive $KVV_BISECT_COMMIT plugin.c | tar -x -C "
             "$KVV_BISECT_HOME/step && cc -shared -fPIC -O1 -I%s/include -o $KVV_BISECT_HOME/step/plugin.so "
             "$KVV_BISECT_HOME/step/plugin.c -lm",
             cwd);
    snprintf(cmd, sizeof cmd, "cd %s && %s bisect -C %s.git --fixed --bad %s --good %s --build '%s' -b step/plugin.so "
                              "-p '%s' -- -j 1 2>&1",
             home, cli_exe(), repo, shas[4], shas[7], build, CASE);
    int rc = kvv_sh(cmd, out, sizeof out);
    CU_ASSERT(rc == 0);
    char want[200];
    snprintf(want, sizeof want, "first fixed commit: %s kernel: the cache is not rotated", shas[6]);
    CU_ASSERT(strstr(out, want) != NULL);
    CU_ASSERT(strstr(out, "failing case at its parent, the first:") != NULL && strstr(out, "[arith]") != NULL);
    if (!strstr(out, want) || getenv("KVV_TEST_SHOW"))
        printf("\n%s\n", out);
    /* each step's log is kept in the git directory */
    snprintf(cmd, sizeof cmd, "test -s %s.git/kvverify-bisect/%s.log", repo, shas[6]);
    CU_ASSERT(kvv_sh(cmd, NULL, 0) == 0);
    /* the other way round without --fixed: refused, with the hint */
    snprintf(cmd, sizeof cmd, "%s bisect -C %s.git --bad %s --good %s 2>&1", cli_exe(), repo, shas[4], shas[7]);
    CU_ASSERT(kvv_sh(cmd, out, sizeof out) == 2);
    CU_ASSERT(strstr(out, "add --fixed") != NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s.git %s", repo, home);
    kvv_sh(cmd, NULL, 0);
}

/* --rule: the commit where a case that already failed (arith) started to
 * fail by another rule (crash); without it the ends are refused, and a rule
 * kvverify does not have is an error */
static void test_bisect_rule(void)
{
    if (!repo[0])
        KVV_SKIP("no history to bisect (git or cc missing)");
    static char out[1 << 16];
    char build[1200], cmd[3000];
    build_cmd(build, sizeof build, 0);
    snprintf(cmd, sizeof cmd,
             "%s bisect -C %s --good %s --bad %s --rule crash --plugin plugin.so --build \"%s\" -p '%s' -- -j 1 2>&1",
             cli_exe(), repo, shas[8], shas[10], build, CASE);
    CU_ASSERT(kvv_sh(cmd, out, sizeof out) == 0);
    char want[200];
    snprintf(want, sizeof want, "first bad commit: %s kernel: abort on a cache it cannot read", shas[9]);
    CU_ASSERT(strstr(out, want) != NULL);
    CU_ASSERT(strstr(out, "1 failing, none by crash: good") != NULL);
    CU_ASSERT(strstr(out, "[crash]") != NULL);
    if (!strstr(out, want) || getenv("KVV_TEST_SHOW"))
        printf("\n%s\n", out);
    check_repo_restored();
    snprintf(cmd, sizeof cmd, "%s bisect -C %s --good %s --bad %s --plugin plugin.so --build \"%s\" -p '%s' -- -j 1 2>&1",
             cli_exe(), repo, shas[8], shas[10], build, CASE);
    CU_ASSERT(kvv_sh(cmd, out, sizeof out) == 1);
    CU_ASSERT(strstr(out, "the cases already fail at --good") != NULL);
    check_repo_restored();
    snprintf(cmd, sizeof cmd, "%s bisect -C %s --good %s --bad %s --rule crash,wobble 2>&1", cli_exe(), repo, shas[8],
             shas[10]);
    CU_ASSERT(kvv_sh(cmd, out, sizeof out) == 2);
    CU_ASSERT(strstr(out, "--rule wobble: no such rule") != NULL);
}

static int cleanup(void)
{
    scratch_remove();
    return 0;
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"bisect names the commit that planted the defect (plugin)", test_bisect_plugin},
        {"bisect with the repository's own kvverify; ends checked", test_bisect_own_exe_and_ends},
        {"bisect --fixed in a bare repository, the library named by -b", test_bisect_fixed_bare},
        {"bisect --rule: a case that went from one failure to another", test_bisect_rule},
        {NULL, NULL}};
    /* like kvv_add_suite, with a clean-up of the scratch files */
    CU_pSuite s = CU_add_suite("bisect", NULL, cleanup);
    for (const kvv_test *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}
