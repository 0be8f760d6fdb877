/* The dump reader: opens a file, checks it is a kvverify dump of a schema
 * version it knows, and reads cases back.  Every failure becomes a message
 * naming the file, the case and the problem; HDF5 prints nothing itself. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dump/dump.h"
#include "dump/h5util.h"
#include "proc/proc.h"

static const char *const root_keys[] = {"schema", "tool_version", "git_commit", "machine",
                                        "started", "command", "selection", "finished"};
#define NROOT (sizeof root_keys / sizeof *root_keys)

struct kvv_dump {
    hid_t file, cases;
    char *path;
    int n, cap;
    char (*groups)[32];
    char root[NROOT][1024];
};

static herr_t collect_group(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)g;
    (void)info;
    kvv_dump *d = data;
    if (strlen(name) >= sizeof d->groups[0])
        return -1;
    if (d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 64;
        char(*ng)[32] = realloc(d->groups, sizeof *ng * (size_t)cap);
        if (!ng)
            return -1;
        d->groups = ng;
        d->cap = cap;
    }
    snprintf(d->groups[d->n++], sizeof d->groups[0], "%s", name);
    return 0;
}

kvv_dump *kvv_dump_open_direct(const char *path, char *why, size_t n)
{
    kvv_h5_quiet();
    char h5[400];
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, n, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    fclose(f);
    if (H5Fis_hdf5(path) <= 0) {
        kvv_h5_error(h5, sizeof h5);
        snprintf(why, n, "%s is not an HDF5 file (no HDF5 signature)", path);
        return NULL;
    }
    kvv_dump *d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(path))) {
        free(d);
        snprintf(why, n, "out of memory");
        return NULL;
    }
    d->cases = -1;
    d->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (d->file < 0) {
        kvv_h5_error(h5, sizeof h5);
        snprintf(why, n, "%s: the HDF5 file cannot be opened: %s", path, h5);
        goto fail;
    }
    for (size_t i = 0; i < NROOT; i++) {
        int rc = kvv_h5_get_str(d->file, root_keys[i], d->root[i], sizeof d->root[i]);
        if (rc < 0) {
            kvv_h5_error(h5, sizeof h5);
            snprintf(why, n, "%s: root attribute '%s' cannot be read as a string (corrupt or another schema)%s%s",
                     path, root_keys[i], *h5 ? ": " : "", h5);
            goto fail;
        }
    }
    if (strcmp(d->root[0], KVV_DUMP_SCHEMA)) {
        if (d->root[0][0])
            snprintf(why, n, "%s is an HDF5 file of schema '%.100s', not a kvverify dump", path, d->root[0]);
        else
            snprintf(why, n, "%s is an HDF5 file but not a kvverify dump (its root has no 'schema' attribute)", path);
        goto fail;
    }
    int64_t version = 0;
    if (kvv_h5_get_i64(d->file, "schema_version", &version)) {
        snprintf(why, n, "%s: the root attribute 'schema_version' is missing or not an integer", path);
        goto fail;
    }
    if (version < 1 || version > KVV_DUMP_SCHEMA_VERSION) {
        snprintf(why, n, "%s has dump schema version %lld; this kvverify reads versions 1 to %d", path,
                 (long long)version, KVV_DUMP_SCHEMA_VERSION);
        goto fail;
    }
    d->cases = H5Gopen2(d->file, "cases", H5P_DEFAULT);
    if (d->cases < 0) {
        kvv_h5_error(h5, sizeof h5);
        snprintf(why, n, "%s: the group /cases is missing or unreadable: %s", path, h5);
        goto fail;
    }
    hsize_t idx = 0;
    if (H5Literate(d->cases, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_group, d) < 0) {
        kvv_h5_error(h5, sizeof h5);
        snprintf(why, n, "%s: the list of cases in /cases cannot be read (corrupt): %s", path, h5);
        goto fail;
    }
    return d;
fail:
    kvv_dump_close(d);
    return NULL;
}

void kvv_dump_close(kvv_dump *d)
{
    if (!d)
        return;
    if (d->cases >= 0)
        H5Gclose(d->cases);
    if (d->file >= 0)
        H5Fclose(d->file);
    free(d->groups);
    free(d->path);
    free(d);
}

int kvv_dump_count(const kvv_dump *d) { return d->n; }

const char *kvv_dump_attr(const kvv_dump *d, const char *key)
{
    for (size_t i = 0; i < NROOT; i++)
        if (!strcmp(root_keys[i], key))
            return d->root[i];
    return "";
}

/* ---- one case ---- */

typedef struct {
    kvv_record *rec;
    char *why;
    size_t n;
    const char *group;
    const char *path;
} read_ctx;

static int dtype_of(hid_t t, kvv_dtype *dt)
{
    H5T_class_t cls = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    if (cls == H5T_INTEGER && sz == 1 && H5Tget_sign(t) == H5T_SGN_NONE)
        *dt = KVV_DT_U8;
    else if (cls == H5T_FLOAT && sz == 4)
        *dt = KVV_DT_F32;
    else if (cls == H5T_FLOAT && sz == 8)
        *dt = KVV_DT_F64;
    else
        return -1;
    return 0;
}

static herr_t read_dataset(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    read_ctx *r = data;
    char h5[400];
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0) {
        kvv_h5_error(h5, sizeof h5);
        snprintf(r->why, r->n, "%s: case %s: '%s' is not a readable dataset: %s", r->path, r->group, name, h5);
        return -1;
    }
    hid_t t = H5Dget_type(ds), sp = H5Dget_space(ds);
    int ndim = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t hd[KVV_MAX_DIMS];
    int64_t dims[KVV_MAX_DIMS];
    kvv_dtype dt;
    int rc = -1;
    void *buf = NULL;
    if (t < 0 || ndim < 1 || ndim > KVV_MAX_DIMS || dtype_of(t, &dt) || strlen(name) >= KVV_ARRAY_NAME) {
        snprintf(r->why, r->n, "%s: case %s: dataset '%s' is not an array of u8, f32 or f64 of 1 to %d dimensions",
                 r->path, r->group, name, KVV_MAX_DIMS);
        goto done;
    }
    H5Sget_simple_extent_dims(sp, hd, NULL);
    hssize_t npoints = H5Sget_simple_extent_npoints(sp);
    /* far beyond any case: refuse before allocating (a foreign file may ask) */
    if (npoints < 0 || (uint64_t)npoints > ((uint64_t)1 << 40) / kvv_dtype_size(dt)) {
        snprintf(r->why, r->n, "%s: case %s: dataset '%s' is too large to be a kvverify tensor", r->path, r->group,
                 name);
        goto done;
    }
    size_t count = (size_t)npoints;
    for (int i = 0; i < ndim; i++)
        dims[i] = (int64_t)hd[i];
    char tname[64] = "";
    kvv_type type = KVV_TYPE_NONE;
    if (kvv_h5_get_str(ds, "kvv_type", tname, sizeof tname) == 0 &&
        (type = kvv_type_from_name(tname)) == KVV_TYPE_NONE) {
        snprintf(r->why, r->n, "%s: case %s: dataset '%s' names an unknown type '%s'", r->path, r->group, name, tname);
        goto done;
    }
    buf = malloc(count * kvv_dtype_size(dt) + 1);
    hid_t mt = dt == KVV_DT_U8 ? H5T_NATIVE_UINT8 : dt == KVV_DT_F32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
    if (!buf) {
        snprintf(r->why, r->n, "%s: case %s: no memory for dataset '%s'", r->path, r->group, name);
        goto done;
    }
    if (count && H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        kvv_h5_error(h5, sizeof h5);
        snprintf(r->why, r->n, "%s: case %s: dataset '%s' cannot be read, the file is corrupt: %s", r->path, r->group,
                 name, h5);
        goto done;
    }
    if (kvv_record_put(r->rec, name, dt, type, ndim, dims, buf)) {
        snprintf(r->why, r->n, "%s: case %s: dataset '%s' has an unusable shape", r->path, r->group, name);
        goto done;
    }
    rc = 0;
done:
    free(buf);
    if (t >= 0)
        H5Tclose(t);
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(ds);
    return rc;
}

static int status_from_name(const char *s)
{
    for (int i = 0; i < KVV_STATUS_COUNT; i++)
        if (!strcmp(kvv_status_name((kvv_status)i), s))
            return i;
    return -1;
}

static int rule_from_name(const char *s)
{
    for (int i = 0; i < KVV_RULE_COUNT; i++)
        if (!strcmp(kvv_rule_name((kvv_rule)i), s))
            return i;
    return -1;
}

int kvv_dump_read(kvv_dump *d, int i, kvv_dump_entry *e, kvv_record *rec, char *why, size_t n)
{
    memset(e, 0, sizeof *e);
    if (i < 0 || i >= d->n) {
        snprintf(why, n, "%s: no case %d", d->path, i);
        return -1;
    }
    snprintf(e->group, sizeof e->group, "/cases/%s", d->groups[i]);
    char h5[400];
    hid_t g = H5Gopen2(d->cases, d->groups[i], H5P_DEFAULT);
    if (g < 0) {
        kvv_h5_error(h5, sizeof h5);
        snprintf(why, n, "%s: %s is not a readable group: %s", d->path, e->group, h5);
        return -1;
    }
    char status[32] = "", rule[32] = "", err[256];
    const struct {
        const char *key;
        char *buf;
        size_t n;
    } strs[] = {{"name", e->name, sizeof e->name},
                {"backend", e->backend, sizeof e->backend},
                {"status", status, sizeof status},
                {"rule", rule, sizeof rule}};
    int rc = -1;
    for (size_t k = 0; k < sizeof strs / sizeof *strs; k++) {
        int got = kvv_h5_get_str(g, strs[k].key, strs[k].buf, strs[k].n);
        if (got > 0) {
            snprintf(why, n, "%s: case %s lacks the string attribute '%s'", d->path, e->group, strs[k].key);
            goto done;
        }
        if (got < 0) {
            kvv_h5_error(h5, sizeof h5);
            snprintf(why, n, "%s: case %s: the attribute '%s' cannot be read as a string (corrupt?)%s%s", d->path,
                     e->group, strs[k].key, *h5 ? ": " : "", h5);
            goto done;
        }
    }
    int st = status_from_name(status), ru = rule_from_name(rule);
    if (st < 0 || ru < 0) {
        snprintf(why, n, "%s: case %s has an unknown status '%s' or rule '%s'", d->path, e->group, status, rule);
        goto done;
    }
    e->v.status = (kvv_status)st;
    e->v.rule = (kvv_rule)ru;
    /* figures are optional: absent means 0, but a present one must be a number */
    if (kvv_h5_get_str(g, "detail", e->v.detail, sizeof e->v.detail) < 0 ||
        kvv_h5_get_f64(g, "arith_ratio", &e->v.arith_ratio) < 0 ||
        kvv_h5_get_f64(g, "budget_ratio", &e->v.budget_ratio) < 0 || kvv_h5_get_i64(g, "ties", &e->v.ties) < 0 ||
        kvv_h5_get_i64(g, "tie_candidates", &e->v.tie_candidates) < 0 ||
        kvv_h5_get_i64(g, "checked", &e->v.checked) < 0 ||
        kvv_h5_get_i64(g, "nonfinite_inputs", &e->v.nonfinite_inputs) < 0) {
        snprintf(why, n, "%s: case %s has a verdict attribute of the wrong type", d->path, e->group);
        goto done;
    }
    if (kvv_case_parse(e->name, &e->c, err, sizeof err)) {
        snprintf(why, n, "%s: case %s: the stored name '%s' is not a case name this kvverify parses: %s", d->path,
                 e->group, e->name, err);
        goto done;
    }
    if (rec) {
        read_ctx r = {rec, why, n, e->group, d->path};
        hsize_t idx = 0;
        why[0] = 0;
        if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, read_dataset, &r) < 0) {
            if (!why[0]) {
                kvv_h5_error(h5, sizeof h5);
                snprintf(why, n, "%s: case %s: its datasets cannot be listed (corrupt): %s", d->path, e->group, h5);
            }
            kvv_record_free(rec);
            goto done;
        }
    }
    rc = 0;
done:
    H5Gclose(g);
    return rc;
}

/* Child of kvv_dump_open: read every case of the file; the reason for a
 * failure goes back through fd. */
static void check_child(const char *path, int fd)
{
    char why[400] = "";
    kvv_dump *d = kvv_dump_open_direct(path, why, sizeof why);
    int rc = d ? 0 : 3;
    for (int i = 0; d && rc == 0 && i < kvv_dump_count(d); i++) {
        kvv_dump_entry e;
        kvv_record rec;
        memset(&rec, 0, sizeof rec);
        if (kvv_dump_read(d, i, &e, &rec, why, sizeof why))
            rc = 3;
        kvv_record_free(&rec);
    }
    if (rc && write(fd, why, strlen(why)) < 0)
        rc = 4;
    _exit(rc);
}

kvv_dump *kvv_dump_open(const char *path, char *why, size_t n)
{
    /* 20 s (KVV_DUMP_CHECK_SECONDS), plus a second for every 20 MB to read */
    struct stat st;
    const char *env = getenv("KVV_DUMP_CHECK_SECONDS");
    double base = env && atof(env) > 0 ? atof(env) : 20.0;
    double limit = base + (stat(path, &st) == 0 ? (double)st.st_size / 20e6 : 0.0);
    int fd;
    pid_t pid = kvv_proc_fork_pipe(&fd, 0);
    if (pid < 0) {
        snprintf(why, n, "cannot check %s: %s", path, strerror(errno));
        return NULL;
    }
    if (pid == 0)
        check_child(path, fd);
    char msg[400];
    size_t have = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int hung = 0;
    for (;;) {
        struct pollfd pf = {fd, POLLIN, 0};
        int r = poll(&pf, 1, 200);
        if (r > 0) {
            ssize_t k = read(fd, msg + have, sizeof msg - 1 - have);
            if (k <= 0)
                break; /* the child closed its end: it is done */
            have += (size_t)k;
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if ((double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9 > limit) {
            kill(pid, SIGKILL);
            hung = 1;
            break;
        }
    }
    close(fd);
    msg[have] = 0;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (hung) {
        snprintf(why, n, "%s is corrupt: the HDF5 library did not finish reading it within %.0f s", path, limit);
        return NULL;
    }
    if (WIFSIGNALED(status)) {
        snprintf(why, n, "%s is corrupt: the HDF5 library crashed reading it (signal %d, %s)", path,
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
        return NULL;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (have)
            snprintf(why, n, "%s", msg);
        else
            snprintf(why, n, "%s is corrupt: the HDF5 library failed reading it (exit status %d)", path,
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return NULL;
    }
    return kvv_dump_open_direct(path, why, n);
}
