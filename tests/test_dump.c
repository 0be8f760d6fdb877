/* HDF5 dumps: records over the worker pipe, the file a run writes (read back
 * with our reader and with h5dump), damaged and foreign files turned into
 * clear errors, and a run killed or interrupted midway leaving a readable
 * file of the cases it finished. */
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernels/cpu/cpu_backend.h"
#include "oracle/run.h"
#include "tests/harness.h"

static const char *tmp_path(const char *name) { return scratch_path("kvv-dump", name); }

/* ---- the CPU backend with planted defects (tests/harness/defect.h):
 * dequantizing rows of 96 values hangs; with flip, each cache write gets
 * one bit flipped (row 0, byte 2: a q8_0 index) ---- */
static kvv_backend *wrapped(const char *name, int flip)
{
    static const kvv_plant plants[2] = {{"hang", "dequant/*/d96/*"}, {"flip_bit", NULL}};
    return kvv_defect_backend(name, plants, flip ? 2 : 1);
}

static kvv_case parse(const char *name)
{
    kvv_case c;
    char err[200];
    CU_ASSERT_FATAL(kvv_case_parse(name, &c, err, sizeof err) == 0);
    return c;
}

/* A reporter that tells a pipe about each result (for the kill tests). */
static void n_begin(kvv_reporter *r, const kvv_run_info *i) { (void)r, (void)i; }
static void n_result(kvv_reporter *r, const kvv_case *c, const char *name, int b, const kvv_verdict *v)
{
    (void)c, (void)name, (void)b, (void)v;
    int fd = *(int *)r->state;
    if (write(fd, "r", 1) != 1)
        _exit(4);
}
static void n_end(kvv_reporter *r, const kvv_summary *s) { (void)r, (void)s; }

/* Run cases on one backend table into a dump; returns kvv_run's result. */
static int run_to_dump(const char *path, const kvv_case *cs, int n, const kvv_backend *b, int all, int jobs,
                       kvv_reporter *rep, int *interrupted)
{
    char why[1024];
    kvv_dump_meta m = {"test", "abc123", "test machine", "2026-01-01T00:00:00Z", "test", all};
    kvv_dump_writer *w = kvv_dump_create(path, &m, why, sizeof why);
    CU_ASSERT_FATAL(w != NULL);
    const kvv_backend *bk[1] = {b};
    const char *names[1] = {b->name};
    kvv_run_info info = {"t", "t", "t", "t", "t", 1, {b->name}, n, 0};
    kvv_reporter *reps[1] = {rep};
    kvv_run_opts o = {.backend_names = names, .nbackends = 1, .backends = bk, .cases = cs, .ncases = n,
                      .reporters = reps, .nreporters = rep ? 1 : 0, .jobs = jobs, .timeout = 60, .info = &info};
    kvv_run_io_opts io = {w, all, NULL};
    kvv_summary s;
    int failures = kvv_run_with_io(&o, &io, &s);
    if (interrupted)
        *interrupted = s.interrupted;
    CU_ASSERT(kvv_dump_finish(w, !s.interrupted, why, sizeof why) == 0);
    return failures;
}

#define ATTN_CASE "attn/d128/q8_0-f16/nq2/nkv32/h4/gqa2/mask=causal/dist=gauss/seed=11"
#define QUANT_CASE "quant/q8_0/d64/rows8/dist=gauss/seed=12"
#define WHT_CASE "wht/d64/g64/rows4/dist=gauss/seed=13"

static void test_record_roundtrip(void)
{
    kvv_record r = {0}, back = {0};
    float f[6] = {1, 2, 3, 4, 5, NAN};
    uint8_t u[5] = {1, 2, 3, 4, 250};
    int64_t d2[2] = {2, 3}, d1[1] = {5};
    CU_ASSERT(kvv_record_put(&r, "f", KVV_DT_F32, KVV_TYPE_NONE, 2, d2, f) == 0);
    CU_ASSERT(kvv_record_put(&r, "u", KVV_DT_U8, KVV_Q8_0, 1, d1, u) == 0);
    size_t n = kvv_record_encoded_size(&r);
    char *buf = malloc(n);
    kvv_record_encode(&r, buf);
    char why[200];
    CU_ASSERT(kvv_record_decode(buf, n, &back, why, sizeof why) == 0);
    CU_ASSERT(back.n == 2);
    const kvv_array *a = kvv_record_get(&back, "u");
    CU_ASSERT(a && a->type == KVV_Q8_0 && a->dims[0] == 5 && ((uint8_t *)a->data)[4] == 250);
    kvv_array_diff d;
    kvv_array_compare(kvv_record_get(&r, "f"), kvv_record_get(&back, "f"), &d);
    CU_ASSERT(d.differs == 0); /* NaN equals NaN */
    /* cut short, or with a header that lies about its size: refused */
    kvv_record bad = {0};
    CU_ASSERT(kvv_record_decode(buf, n - 3, &bad, why, sizeof why) == -1);
    ((int64_t *)(buf + 16 + 24 + 16))[0] = 1000; /* dims[0] of the first array */
    CU_ASSERT(kvv_record_decode(buf, n, &bad, why, sizeof why) == -1);
    CU_ASSERT(strstr(why, "inconsistent") != NULL);
    free(buf);
    kvv_record_free(&r);
    kvv_record_free(&back);
}

/* The failing case only (default), written through the worker pipe, read
 * back: parameters, verdict and the arrays with their shapes. */
static void test_write_read_failing(void)
{
    kvv_case cs[3] = {parse(QUANT_CASE), parse(ATTN_CASE), parse(WHT_CASE)};
    kvv_backend *b = wrapped("flipper", 1);
    const char *path = tmp_path("fail.h5");
    int failures = run_to_dump(path, cs, 3, b, 0, 1, NULL, NULL);
    kvv_defect_free(b);
    CU_ASSERT(failures == 2); /* quant and attn: the K bytes; the WHT passes */
    char why[1024];
    kvv_dump *d = kvv_dump_open(path, why, sizeof why);
    CU_ASSERT_FATAL(d != NULL);
    CU_ASSERT(kvv_dump_count(d) == 2);
    CU_ASSERT(!strcmp(kvv_dump_attr(d, "git_commit"), "abc123"));
    CU_ASSERT(!strcmp(kvv_dump_attr(d, "finished"), "complete"));
    CU_ASSERT(!strcmp(kvv_dump_attr(d, "selection"), "failing"));
    kvv_dump_entry e;
    kvv_record rec = {0};
    CU_ASSERT_FATAL(kvv_dump_read(d, 1, &e, &rec, why, sizeof why) == 0);
    CU_ASSERT(!strcmp(e.name, ATTN_CASE));
    CU_ASSERT(!strcmp(e.group, "/cases/000001"));
    CU_ASSERT(!strcmp(e.backend, "flipper"));
    CU_ASSERT(e.v.status == KVV_FAIL && e.v.rule == KVV_RULE_BYTES);
    CU_ASSERT(strstr(e.v.detail, "K") != NULL);
    CU_ASSERT(e.c.n_head == 4 && e.c.n_kv == 32 && e.c.type_k == KVV_Q8_0);
    static const char *const want[] = {"q", "k", "v", "mask", "k_bytes", "v_bytes", "k_canon", "v_canon",
                                       "k_deq", "v_deq", "scores", "probs", "out", "ref_out", "ref_exact", "bound"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        CU_ASSERT(kvv_record_get(&rec, want[i]) != NULL);
    const kvv_array *q = kvv_record_get(&rec, "q"), *kb = kvv_record_get(&rec, "k_bytes");
    CU_ASSERT(q && q->ndim == 3 && q->dims[0] == 4 && q->dims[1] == 2 && q->dims[2] == 128);
    CU_ASSERT(kb && kb->dtype == KVV_DT_U8 && kb->type == KVV_Q8_0 && kb->dims[2] == 4 * 34);
    /* the stored inputs are what the generator makes from the seed */
    kvv_record gen = {0};
    CU_ASSERT(kvv_case_inputs(&e.c, &gen) == 0);
    kvv_array_diff diff;
    kvv_array_compare(q, kvv_record_get(&gen, "q"), &diff);
    CU_ASSERT(diff.differs == 0);
    /* and the flipped bit is where it was planted */
    kvv_array_compare(kb, kvv_record_get(&rec, "k_canon"), &diff);
    CU_ASSERT(diff.differs == 1 && diff.count == 1 && diff.first == 2);
    kvv_record_free(&gen);
    kvv_record_free(&rec);
    /* the quant case: x, canon, bytes */
    CU_ASSERT_FATAL(kvv_dump_read(d, 0, &e, &rec, why, sizeof why) == 0);
    CU_ASSERT(!strcmp(e.name, QUANT_CASE) && kvv_record_get(&rec, "x") && kvv_record_get(&rec, "bytes") &&
              kvv_record_get(&rec, "canon"));
    kvv_record_free(&rec);
    kvv_dump_close(d);
}

static void test_dump_all_in_process(void)
{
    kvv_case cs[2] = {parse(QUANT_CASE), parse(WHT_CASE)};
    kvv_backend *b = wrapped("cpu", 0);
    const char *path = tmp_path("all.h5");
    CU_ASSERT(run_to_dump(path, cs, 2, b, 1, 0, NULL, NULL) == 0);
    kvv_defect_free(b);
    char why[1024];
    kvv_dump *d = kvv_dump_open(path, why, sizeof why);
    CU_ASSERT_FATAL(d != NULL);
    CU_ASSERT(kvv_dump_count(d) == 2);
    kvv_dump_entry e;
    kvv_record rec = {0};
    CU_ASSERT(kvv_dump_read(d, 1, &e, &rec, why, sizeof why) == 0);
    CU_ASSERT(e.v.status == KVV_PASS);
    static const char *const want[] = {"x", "out", "inv", "ref_out", "ref_inv", "bound", "bound_inv"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        CU_ASSERT(kvv_record_get(&rec, want[i]) != NULL);
    kvv_record_free(&rec);
    kvv_dump_close(d);
}

static void test_h5dump_reads_it(void)
{
    if (!kvv_have_command("h5dump"))
        KVV_SKIP("h5dump not installed (Debian package hdf5-tools, listed in ci/deps.txt)");
    kvv_case cs[1] = {parse(ATTN_CASE)};
    kvv_backend *b = wrapped("cpu", 0);
    const char *path = tmp_path("h5dump.h5");
    CU_ASSERT(run_to_dump(path, cs, 1, b, 1, 1, NULL, NULL) == 0);
    kvv_defect_free(b);
    static char out[1 << 16];
    char cmd[512];
    snprintf(cmd, sizeof cmd, "h5dump -H %s 2>&1", path);
    kvv_sh(cmd, out, sizeof out);
    CU_ASSERT(strstr(out, "GROUP \"cases\"") != NULL);
    CU_ASSERT(strstr(out, "GROUP \"000000\"") != NULL);
    CU_ASSERT(strstr(out, "DATASET \"k_bytes\"") != NULL);
    CU_ASSERT(strstr(out, "DATASPACE  SIMPLE { ( 4, 2, 128 ) / ( 4, 2, 128 ) }") != NULL); /* q */
    CU_ASSERT(strstr(out, "ATTRIBUTE \"schema_version\"") != NULL);
    /* one dataset's values, and the properties: chunked, deflated, checksummed */
    snprintf(cmd, sizeof cmd, "h5dump -p -d /cases/000000/mask %s 2>&1", path);
    kvv_sh(cmd, out, sizeof out);
    CU_ASSERT(strstr(out, "CHUNKED") != NULL);
    CU_ASSERT(strstr(out, "DEFLATE") != NULL);
    CU_ASSERT(strstr(out, "CHECKSUM FLETCHER32") != NULL);
    CU_ASSERT(strstr(out, "-inf") != NULL || strstr(out, "-INF") != NULL || strstr(out, "-Inf") != NULL);
    snprintf(cmd, sizeof cmd, "h5dump -a /cases/000000/name %s 2>&1", path);
    kvv_sh(cmd, out, sizeof out);
    CU_ASSERT(strstr(out, ATTN_CASE) != NULL);
}

/* ---- damaged and foreign files ---- */

static int read_everything(const char *path, char *why, size_t n)
{
    kvv_dump *d = kvv_dump_open(path, why, n);
    if (!d)
        return -1;
    int rc = 0;
    for (int i = 0; i < kvv_dump_count(d) && rc == 0; i++) {
        kvv_dump_entry e;
        kvv_record rec = {0};
        rc = kvv_dump_read(d, i, &e, &rec, why, n);
        kvv_record_free(&rec);
    }
    kvv_dump_close(d);
    return rc;
}

static long copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    CU_ASSERT_FATAL(in && out);
    char buf[8192];
    size_t n;
    long total = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        fwrite(buf, 1, n, out);
        total += (long)n;
    }
    fclose(in);
    fclose(out);
    return total;
}

static const char *good_dump(void)
{
    static char path[256];
    if (!path[0]) {
        snprintf(path, sizeof path, "%s", tmp_path("good.h5"));
        kvv_case cs[2] = {parse(ATTN_CASE), parse(QUANT_CASE)};
        kvv_backend *b = wrapped("cpu", 0);
        run_to_dump(path, cs, 2, b, 1, 0, NULL, NULL);
        kvv_defect_free(b);
    }
    return path;
}

static void test_truncated(void)
{
    const char *src = good_dump(), *p = tmp_path("trunc.h5");
    long size = copy_file(src, p);
    char why[1024];
    CU_ASSERT(read_everything(p, why, sizeof why) == 0);
    CU_ASSERT(truncate(p, size / 2) == 0);
    CU_ASSERT(read_everything(p, why, sizeof why) == -1);
    CU_ASSERT(strstr(why, "truncated") != NULL);
    CU_ASSERT(strstr(why, p) != NULL);
    CU_ASSERT(truncate(p, 0) == 0);
    CU_ASSERT(read_everything(p, why, sizeof why) == -1);
    CU_ASSERT(strstr(why, "not an HDF5 file") != NULL);
}

static void overwrite(const char *path, long at, size_t n, int byte)
{
    FILE *f = fopen(path, "r+b");
    CU_ASSERT_FATAL(f != NULL);
    fseek(f, at, SEEK_SET);
    for (size_t i = 0; i < n; i++)
        fputc(byte, f);
    fclose(f);
}

static void test_corrupt_bytes(void)
{
    const char *src = good_dump(), *p = tmp_path("corrupt.h5");
    long size = copy_file(src, p);
    char why[1024];
    /* a run of bytes in the middle (tensor data): the checksum catches it */
    overwrite(p, size / 2, 64, 0xa5);
    CU_ASSERT(read_everything(p, why, sizeof why) == -1);
    CU_ASSERT(strstr(why, "corrupt") != NULL);
    /* damage anywhere (metadata included): an error or, in unused space, a
     * clean read -- never a crash */
    int errors = 0;
    for (int i = 1; i < 48; i++) {
        copy_file(src, p);
        overwrite(p, size * i / 48, 16, (i * 37) & 0xff);
        errors += read_everything(p, why, sizeof why) != 0;
    }
    CU_ASSERT(errors > 24);
}

static void test_foreign_files(void)
{
    char why[1024];
    const char *p = tmp_path("text.h5");
    FILE *f = fopen(p, "w");
    fputs("this is not HDF5 at all\n", f);
    fclose(f);
    CU_ASSERT(kvv_dump_open(p, why, sizeof why) == NULL);
    CU_ASSERT(strstr(why, "not an HDF5 file") != NULL);
    CU_ASSERT(kvv_dump_open(tmp_path("missing.h5"), why, sizeof why) == NULL);
    CU_ASSERT(strstr(why, "No such file") != NULL);

    /* an HDF5 file of another schema: a group and a dataset, no schema attribute */
    p = tmp_path("foreign.h5");
    hid_t file = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(file, "data", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[1] = {4};
    double x[4] = {1, 2, 3, 4};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t ds = H5Dcreate2(g, "x", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Gclose(g);
    H5Fclose(file);
    CU_ASSERT(kvv_dump_open(p, why, sizeof why) == NULL);
    CU_ASSERT(strstr(why, "not a kvverify dump") != NULL);

    /* our schema name but an integer where a string belongs, and a newer version */
    const struct {
        int schema_is_int;
        int64_t version;
        const char *expect;
    } variants[] = {{1, 1, "cannot be read as a string"}, {0, 99, "schema version 99"}};
    for (int i = 0; i < 2; i++) {
        p = tmp_path("schema.h5");
        file = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        sp = H5Screate(H5S_SCALAR);
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, strlen(KVV_DUMP_SCHEMA));
        hid_t a = variants[i].schema_is_int ? H5Acreate2(file, "schema", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT)
                                            : H5Acreate2(file, "schema", t, sp, H5P_DEFAULT, H5P_DEFAULT);
        if (variants[i].schema_is_int)
            H5Awrite(a, H5T_NATIVE_INT64, &variants[i].version);
        else
            H5Awrite(a, t, KVV_DUMP_SCHEMA);
        H5Aclose(a);
        a = H5Acreate2(file, "schema_version", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_INT64, &variants[i].version);
        H5Aclose(a);
        H5Tclose(t);
        H5Sclose(sp);
        H5Fclose(file);
        CU_ASSERT(kvv_dump_open(p, why, sizeof why) == NULL);
        CU_ASSERT(strstr(why, variants[i].expect) != NULL);
        if (!strstr(why, variants[i].expect))
            printf("\n  got: %s\n", why);
    }
}

/* ---- a run that dies midway ---- */

/* Three dequantize cases; the third hangs.  The child runs them into a
 * dump and tells us about each result; we stop it with sig once two are in
 * and return the path the dump is at. */
static void run_and_stop(int sig, const char *path)
{
    int p[2];
    CU_ASSERT_FATAL(pipe(p) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        close(p[0]);
        kvv_case cs[3];
        const int widths[3] = {128, 64, 96};
        for (int i = 0; i < 3; i++) {
            cs[i] = kvv_case_default(KVV_OP_DEQUANT);
            cs[i].dk = cs[i].dv = widths[i];
            cs[i].n_kv = 8;
        }
        kvv_backend *b = wrapped("sleepy", 0);
        kvv_reporter rep = {n_begin, n_result, n_end, NULL, NULL, stdout, &p[1]};
        run_to_dump(path, cs, 3, b, 1, 1, &rep, NULL);
        _exit(0);
    }
    close(p[1]);
    char c;
    int got = 0;
    while (got < 2 && read(p[0], &c, 1) == 1)
        got++;
    CU_ASSERT(got == 2);
    /* a unit is written to the dump right after it is reported: wait until
     * the second one is readable (the writer locks no reader out) */
    char partial[300], why[1024];
    snprintf(partial, sizeof partial, "%s.partial", path);
    for (int tries = 0; sig == SIGKILL && tries < 400; tries++) {
        kvv_dump *d = kvv_dump_open(partial, why, sizeof why);
        int n = d ? kvv_dump_count(d) : 0;
        kvv_dump_close(d);
        if (n == 2)
            break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (sig == SIGKILL)
        kill(-pid, SIGKILL); /* the run and its worker */
    else
        kill(pid, sig);
    int st;
    waitpid(pid, &st, 0);
    close(p[0]);
}

static void check_two_cases(const char *path, const char *finished)
{
    char why[1024];
    kvv_dump *d = kvv_dump_open(path, why, sizeof why);
    if (!d)
        printf("\n  %s\n", why);
    CU_ASSERT_FATAL(d != NULL);
    CU_ASSERT(kvv_dump_count(d) == 2);
    CU_ASSERT(!strcmp(kvv_dump_attr(d, "finished"), finished));
    kvv_dump_entry e;
    kvv_record rec = {0};
    CU_ASSERT(kvv_dump_read(d, 1, &e, &rec, why, sizeof why) == 0);
    CU_ASSERT(strstr(e.name, "/d64/") != NULL && kvv_record_get(&rec, "deq") != NULL);
    kvv_record_free(&rec);
    kvv_dump_close(d);
}

static void test_killed_run_leaves_partial_file(void)
{
    const char *path = tmp_path("killed.h5");
    char partial[300];
    snprintf(partial, sizeof partial, "%s.partial", path);
    run_and_stop(SIGKILL, path);
    CU_ASSERT(access(path, F_OK) != 0); /* never renamed */
    check_two_cases(partial, "");     /* no "finished" attribute */
    if (!kvv_have_command("h5dump"))
        KVV_SKIP("h5dump not installed: the partial file read by our reader only");
    static char out[1 << 14];
    char cmd[512];
    snprintf(cmd, sizeof cmd, "h5dump -H %s 2>&1", partial);
    kvv_sh(cmd, out, sizeof out);
    CU_ASSERT(strstr(out, "GROUP \"000001\"") != NULL && strstr(out, "error") == NULL);
}

static void test_interrupted_run_is_renamed(void)
{
    const char *path = tmp_path("interrupted.h5");
    run_and_stop(SIGINT, path);
    check_two_cases(path, "interrupted");
}

static int cleanup(void)
{
    scratch_remove();
    return 0;
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"record serialization round trip, malformed input refused", test_record_roundtrip},
        {"failing cases through the worker pipe, read back", test_write_read_failing},
        {"--dump-all in process: WHT arrays", test_dump_all_in_process},
        {"h5dump reads the schema and a dataset", test_h5dump_reads_it},
        {"truncated file: clear error", test_truncated},
        {"overwritten bytes: clear error, no crash", test_corrupt_bytes},
        {"non-HDF5, missing, foreign-schema, newer-schema files", test_foreign_files},
        {"kill -9 midway: the .partial file holds the finished cases", test_killed_run_leaves_partial_file},
        {"SIGINT midway: renamed, marked interrupted", test_interrupted_run_is_renamed},
        {NULL, NULL}};
    /* like kvv_add_suite, with a clean-up of the scratch files */
    CU_pSuite s = CU_add_suite("HDF5 dumps", NULL, cleanup);
    for (const kvv_test *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
}
