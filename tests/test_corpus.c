/* The stored corpus: case files found recursively in name order, folders
 * named known-failures left out, bad lines reported with file and line, and
 * the gate replaying corpora/ of the source tree. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oracle/cases.h"
#include "tests/harness.h"

static char root[128];

static void put_file(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void make_tree(void)
{
    snprintf(root, sizeof root, "%s", scratch_path("kvv-corpus", "tree"));
    char d[256];
    const char *dirs[] = {"", "/b", "/a", "/a/deep", "/known-failures"};
    for (int i = 0; i < 5; i++) {
        snprintf(d, sizeof d, "%s%s", root, dirs[i]);
        mkdir(d, 0777);
    }
    put_file("b/one.cases", "# seed 2\nattn/d64/f16-f16/nq1/nkv2/h1/gqa1/dist=gauss/seed=2\n");
    put_file("a/two.cases", "quant/q8_0/d32/rows1/dist=zero/seed=1\n   \n\tdequant/q4_0/d32/rows3/dist=const/seed=1  \n");
    put_file("a/deep/three.cases", "wht/d16/g16/rows1/dist=gauss/seed=4\n");
    put_file("a/notes.txt", "not a case file\n");
    put_file("known-failures/open.cases", "attn/d32/f16-f16/nq1/nkv3/h3/gqa1/dist=nonfinite/seed=1\n");
}

static void remove_tree(void)
{
    scratch_remove();
    CU_ASSERT(access(root, F_OK) != 0);
}

static void test_load_tree(void)
{
    make_tree();
    kvv_case_list l = {0};
    char why[300] = "";
    CU_ASSERT_EQUAL(kvv_corpus_load(root, &l, why, sizeof why), 3);
    CU_ASSERT_EQUAL(l.n, 4);
    if (l.n == 4) {
        /* name order: a/deep/three, a/two (two cases), b/one */
        CU_ASSERT_EQUAL(l.items[0].op, KVV_OP_WHT);
        CU_ASSERT_EQUAL(l.items[1].op, KVV_OP_QUANT);
        CU_ASSERT_EQUAL(l.items[2].op, KVV_OP_DEQUANT);
        CU_ASSERT_EQUAL(l.items[2].n_kv, 3);
        CU_ASSERT_EQUAL(l.items[3].op, KVV_OP_ATTN);
    }
    for (int i = 0; i < l.n; i++)
        CU_ASSERT(l.items[i].dist != KVV_DIST_NONFINITE); /* the known failure stays out */
    kvv_case_list_free(&l);

    /* a bad line: an error naming the file and line, and nothing added */
    put_file("b/one.cases", "attn/d64/f16-f16/nq1/nkv2/h1/gqa1/dist=gauss/seed=2\nattn/d64/q9_9/nq1\n");
    CU_ASSERT_EQUAL(kvv_corpus_load(root, &l, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "b/one.cases:2:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "q9_9"));
    kvv_case_list_free(&l);
    remove_tree();

    /* no folder: nothing, no error */
    CU_ASSERT_EQUAL(kvv_corpus_load("/nonexistent/corpus", &l, why, sizeof why), 0);
    CU_ASSERT_EQUAL(l.n, 0);
}

static int count_lines(const char *cmd, const char *needle)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, p))
        n += strstr(line, needle) != NULL;
    pclose(p);
    return n;
}

/* `kvverify run --gate` in the source tree replays corpora/ (these tests
 * run there), but not corpora/known-failures. */
static void test_gate_replays_the_corpus(void)
{
    char cmd[1200];
    const char *probe = "dequant/turbo4@qjl/d128/rows32/dist=nonfinite/seed=7"; /* corpora/regressions */
    snprintf(cmd, sizeof cmd, "%s list cases --gate 2>&1", cli_exe());
    CU_ASSERT_EQUAL(count_lines(cmd, probe), 1);
    snprintf(cmd, sizeof cmd, "%s list cases --gate --no-corpus 2>&1", cli_exe());
    CU_ASSERT_EQUAL(count_lines(cmd, probe), 0);
    /* nothing of known-failures is in the gate */
    char why[300];
    struct stat st;
    if (stat("corpora/known-failures", &st) == 0) {
        kvv_case_list files = {0};
        FILE *p = popen("ls corpora/known-failures/*.cases 2>/dev/null", "r");
        char path[512];
        while (p && fgets(path, sizeof path, p)) {
            path[strcspn(path, "\n")] = 0;
            CU_ASSERT_EQUAL(kvv_case_file_load(path, &files, why, sizeof why), 0);
        }
        if (p)
            pclose(p);
        snprintf(cmd, sizeof cmd, "%s list cases --gate 2>&1", cli_exe());
        for (int i = 0; i < files.n; i++) {
            char name[512];
            kvv_case_name(&files.items[i], name, sizeof name);
            CU_ASSERT_EQUAL(count_lines(cmd, name), 0);
        }
        kvv_case_list_free(&files);
    }
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"case files under a folder", test_load_tree},
                                     {"the gate replays corpora/", test_gate_replays_the_corpus},
                                     {NULL, NULL}};
    kvv_add_suite("stored corpus", tests);
}
