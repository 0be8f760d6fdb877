/* The test harness: the one header the CUnit programs under tests/ include
 * (each program is one tests/test_*.c linked with the kvv_test_harness
 * library of tests/harness/, whose main runs the suites it registers).
 *
 *  - suites: kvv_add_suite(name, tests), tests a {name, fn} list ending in
 *    {NULL, NULL}, from the program's kvv_register_tests();
 *  - skips: KVV_SKIP(why...) ends the current test as skipped.  A program
 *    with a skip and no failure exits 77, which ctest (the tests'
 *    SKIP_RETURN_CODE) reports as skipped; a failure still fails it;
 *  - paths: the build and source trees, the kvverify binary, test plugins;
 *  - scratch directories, removed at exit;
 *  - running kvverify (or any command) with its output captured and a time
 *    limit, or in the background in its own process group;
 *  - cases by name (kvv_case_named), run on a backend (run_named); every
 *    type of the table, by family; every backend this machine has;
 *  - defect backends: the CPU backend with a defect planted at run time,
 *    asked for by its name in ci/mutants.txt (tests/harness/defect.h). */
#ifndef KVV_TESTS_HARNESS_H
#define KVV_TESTS_HARNESS_H

#include <CUnit/CUnit.h>
/* what the helper headers this one replaced brought in, so that the tests
 * written against them still build */
#include <dirent.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvv/backend.h"
#include "kvv/case.h"
#include "kvv/types.h"
#include "kvv/verdict.h"

/* ---- suites ---- */

typedef struct {
    const char *name;
    CU_TestFunc fn;
} kvv_test;

/* Register a suite with a {NULL, NULL}-terminated list of tests. */
void kvv_add_suite(const char *name, const kvv_test *tests);

/* Defined by each test program: adds its suites. */
void kvv_register_tests(void);

/* ---- skips ---- */

/* Mark the current test skipped, with the reason printed (printf format);
 * the test should return right after (KVV_SKIP does).  Checks made before
 * still count.  The skip code ctest knows is KVV_SKIP_STATUS. */
#define KVV_SKIP_STATUS 77
void kvv_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define KVV_SKIP(...)                                                                                                 \
    do {                                                                                                               \
        kvv_skip(__VA_ARGS__);                                                                                         \
        return;                                                                                                        \
    } while (0)
/* Skips so far in this program. */
int kvv_skip_count(void);

/* ---- paths ---- */

/* The build tree (KVV_BUILD_DIR, else the one this program was built in)
 * and the source tree (KVV_SOURCE_DIR, else the one it was built from):
 * absolute paths. */
const char *kvv_build_dir(void);
const char *kvv_source_dir(void);
/* The built kvverify. */
const char *cli_exe(void);
/* Same as kvv_build_dir (the name older tests use). */
const char *cli_build_dir(void);
/* A hostile test plugin (tests/plugins/hostile.cmake): segv, abort or hang. */
const char *cli_plugin(const char *kind);
/* "dir/rel" into buf. */
const char *kvv_path(char *buf, size_t n, const char *dir, const char *rel);
/* Whether a command is on PATH. */
int kvv_have_command(const char *name);

/* ---- scratch directories ---- */

/* A file in this program's scratch directory, made on first use under /tmp
 * with prefix (e.g. "kvv-dump") and removed with everything in it at exit
 * (or by scratch_remove).  The path stays valid for the next three calls. */
const char *scratch_path(const char *prefix, const char *name);
/* The scratch directory itself ("" before the first scratch_path). */
const char *scratch_dir(void);
/* Remove it now (a later scratch_path makes a new one). */
void scratch_remove(void);

/* ---- commands ---- */

double cli_mono(void);
/* A wait status as an exit status (128 + signal when killed). */
int cli_status(int st);
/* `kvverify ARGS` (shell syntax) with at most limit seconds; its exit
 * status (124 when it ran out of time), stdout and stderr in out. */
int cli_run_limit(double limit, const char *args, char *out, size_t n);
int cli_run(const char *args, char *out, size_t n); /* limit 60 s */
/* `kvverify ARGS` (limit 120 s) exits with status and prints needle (NULL:
 * anything); 1, or 0 with the command, its status and output on stderr. */
int cli_expect(const char *args, int status, const char *needle, char *out, size_t n);
/* Start `kvverify ARGS` (shell syntax) in a new process group, output into
 * log; its pid (also the group's id). */
pid_t cli_start(const char *args, const char *log);
/* Wait for a started run; its exit status, or 124 (and the group killed)
 * after limit seconds. */
int cli_wait(pid_t pid, double limit);
/* Whether the file holds text, within limit seconds. */
int cli_wait_for_text(const char *path, const char *text, double limit);
/* The whole of a small file into buf ("" when it cannot be read). */
const char *cli_slurp(const char *path, char *buf, size_t n);
/* A shell command (no time limit): its exit status (-1 when it could not
 * run), its stdout into out (out NULL: read and dropped). */
int kvv_sh(const char *cmd, char *out, size_t n);

/* ---- cases and backends ---- */

/* The case a name (printf format) parses to; a name that does not parse
 * fails the test there. */
kvv_case kvv_case_named(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run a case, given by its name, through the oracle on a backend; prints
 * why when it does not pass. */
kvv_verdict run_named(const kvv_backend *b, const char *name);
/* The types of the table in a family (a kvv_family; KVV_ANY_FAMILY: every
 * type), in table order; their number (out holds KVV_TYPE_COUNT). */
#define KVV_ANY_FAMILY (-1)
int kvv_types_of(int family, kvv_type *out);

/* The backends this machine can run, less those named in except (a comma
 * list, or NULL): the built-in ones that open (one that does not, e.g.
 * Vulkan without a device, is a skip with its reason) and the porting
 * template plugin.  Closed at exit. */
typedef struct {
    const char *name;
    const kvv_backend *b;
} kvv_test_backend;
int kvv_test_backends(const char *except, const kvv_test_backend **out);

/* The per-family checks on one backend: every type of each family of the
 * table, quantized, dequantized and as K and V of attention, in cases built
 * by name; each must pass or (unless all_pass) be declined with a reason. */
void kvv_check_families(const char *name, const kvv_backend *b, int all_pass);

#include "tests/harness/defect.h"

#endif
