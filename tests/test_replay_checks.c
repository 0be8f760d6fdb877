/* `kvverify replay` treats the backends a dump names as `run` treats -b:
 * without -b, each stored backend is opened once up front, and one that is
 * gone or broken is refused with the reason (exit 2) instead of failing
 * every stored case; and `--guard` (PROT_NONE pages after the buffers a
 * backend writes) works in a replay as in a run. */
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"

#define ATTN "attn/d128/f16-f16/nq2/nkv64/h4/gqa2/dist=gauss/seed=3"

static char out[1 << 16];

static int expect(const char *args, int status, const char *needle)
{
    return cli_expect(args, status, needle, out, sizeof out);
}

static int sh(const char *cmd) { return cli_status(system(cmd)); }

static void test_stored_backends_checked(void)
{
    /* a dump of the overrunning plugin, from a copy that can be taken away */
    const char *lib = scratch_path("kvv-replay-checks", "libplugin.so");
    const char *dump = scratch_path("kvv-replay-checks", "d.h5");
    char cmd[2048], args[2048];
    snprintf(cmd, sizeof cmd, "cp %s/tests/plugins/libliar_overrun.so %s", cli_build_dir(), lib);
    CU_ASSERT_FATAL(sh(cmd) == 0);
    snprintf(args, sizeof args, "run -b %s -p " ATTN " --dump %s", lib, dump);
    CU_ASSERT(expect(args, 1, "backend wrote 8 bytes past out"));
    /* replayed as stored: the same failure */
    snprintf(args, sizeof args, "replay %s", dump);
    CU_ASSERT(expect(args, 1, "backend wrote 8 bytes past out"));
    /* --guard: the page stops the first byte past the end */
    snprintf(args, sizeof args, "replay %s --guard", dump);
    CU_ASSERT(expect(args, 1, "backend wrote past out (byte 1 past the end of its"));
    CU_ASSERT(strstr(out, "--guard page") != NULL);
    /* the stored backend broken: refused before any case runs */
    snprintf(cmd, sizeof cmd, "cp %s/plugins/libbroken_bad_abi.so %s", cli_build_dir(), lib);
    CU_ASSERT_FATAL(sh(cmd) == 0);
    snprintf(args, sizeof args, "replay %s", dump);
    CU_ASSERT(expect(args, 2, "backend ABI version 2"));
    CU_ASSERT(strstr(out, "stores cases of that backend; -b BACKENDS replays them on others") != NULL);
    CU_ASSERT(strstr(out, "FAIL") == NULL);
    /* gone: the same, with the errno text */
    unlink(lib);
    CU_ASSERT(expect(args, 2, "No such file or directory"));
    CU_ASSERT(strstr(out, "FAIL") == NULL);
    /* -b names another backend: the stored one is not needed */
    snprintf(args, sizeof args, "replay %s -b cpu", dump);
    CU_ASSERT(expect(args, 0, "1 passed"));
}

static int cleanup(void)
{
    scratch_remove();
    return 0;
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"replay opens the stored backends up front; --guard", test_stored_backends_checked}, {NULL, NULL}};
    CU_pSuite s = CU_add_suite("replay_checks", NULL, cleanup);
    for (const kvv_test *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}
