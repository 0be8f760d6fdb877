/* `cmake --install` into a scratch prefix gives a kvverify that works on its
 * own: the program finds its corpora (share/kvverify) and the ggml adapter
 * (lib/kvverify), and a backend plugin builds against the installed package
 * alone (find_package(kvverify) -> kvverify::abi: the porting template's
 * folder, configured outside this build) and runs under the installed
 * program.  Skipped without cmake on PATH. */
#include <stdio.h>
#include <string.h>

#include "tests/harness.h"

static char prefix[1024];

/* install once; the tests share the prefix */
static int installed(void)
{
    static int done, ok;
    if (done)
        return ok;
    done = 1;
    snprintf(prefix, sizeof prefix, "%s", scratch_path("kvv-install", "prefix"));
    char cmd[4096], out[8192];
    snprintf(cmd, sizeof cmd, "cmake --install '%s' --prefix '%s' 2>&1 >/dev/null", kvv_build_dir(), prefix);
    ok = kvv_sh(cmd, out, sizeof out) == 0;
    if (!ok)
        printf("\n    cmake --install failed: %s\n", out);
    return ok;
}

static void test_installed_program(void)
{
    if (!kvv_have_command("cmake"))
        KVV_SKIP("cmake not on PATH");
    CU_ASSERT_FATAL(installed());
    char cmd[4096], out[16384];
    /* a ppl case reads corpora/ (the probe model's text and its bounds),
     * which an installed program takes from share/kvverify */
    snprintf(cmd, sizeof cmd,
             "cd / && env -u KVV_CORPORA_DIR '%s/bin/kvverify' run -b cpu -j 1 -p "
             "'ppl/d128/f32-f16/nq64/nkv256/h8/gqa4/model=probe/seed=1' 2>&1",
             prefix);
    int rc = kvv_sh(cmd, out, sizeof out);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT(strstr(out, "1 checks: 1 passed") != NULL);
    if (rc)
        printf("\n    %s\n", out);
    snprintf(cmd, sizeof cmd, "test -f '%s/lib/kvverify/libkvv_ggml.so' && test -f '%s/share/kvverify/corpora/probe.txt'",
             prefix, prefix);
    CU_ASSERT_EQUAL(kvv_sh(cmd, NULL, 0), 0);
    /* the ggml alias resolves to the installed adapter: the message names
     * ggml's libraries (none at this dir), not a missing adapter */
    snprintf(cmd, sizeof cmd, "cd / && '%s/bin/kvverify' run -b ggml-cpu:dir=/nonexistent -j 1 -p "
             "'quant/q8_0/d128/rows4/dist=gauss/seed=1' 2>&1", prefix);
    kvv_sh(cmd, out, sizeof out);
    CU_ASSERT(strstr(out, "libkvv_ggml.so") != NULL && strstr(out, "/nonexistent") != NULL);
}

static void test_plugin_against_package(void)
{
    if (!kvv_have_command("cmake"))
        KVV_SKIP("cmake not on PATH");
    CU_ASSERT_FATAL(installed());
    char cmd[8192], out[16384];
    const char *b = scratch_path("kvv-install", "template-build");
    snprintf(cmd, sizeof cmd,
             "cmake -S '%s/kernels/template' -B '%s' -DCMAKE_PREFIX_PATH='%s' >/dev/null 2>&1 && "
             "cmake --build '%s' 2>&1 | tail -5 && "
             "'%s/bin/kvverify' run -b '%s/libkvv_template.so' -j 1 -p 'quant/f16/d128/rows32/dist=gauss/seed=104' 2>&1",
             kvv_source_dir(), b, prefix, b, prefix, b);
    int rc = kvv_sh(cmd, out, sizeof out);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT(strstr(out, "1 checks: 1 passed") != NULL);
    if (rc || !strstr(out, "1 checks: 1 passed"))
        printf("\n    %s\n", out);
}

void kvv_register_tests(void)
{
    static const kvv_test t[] = {{"the installed program", test_installed_program},
                                 {"a plugin built against the installed package", test_plugin_against_package},
                                 {NULL, NULL}};
    kvv_add_suite("install", t);
}
