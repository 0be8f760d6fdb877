/* The dump writer: one group per (case, backend) unit, flushed as soon as it
 * is written, in a `.partial` file that is renamed into place at the end.
 *
 * Why the file is readable after a kill: every case ends with H5Fflush, which
 * leaves the file's metadata consistent on disk, and the format bounds are
 * pinned to the 1.8 format (superblock version 2), which checksums metadata
 * but has no "open for writing" flag that would make readers refuse a file
 * whose writer died (superblock version 3 has one). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump/dump.h"
#include "dump/h5util.h"

struct kvv_dump_writer {
    hid_t file, cases;
    int lock; /* kvv_dump_lock's descriptor, held until the file is renamed */
    char *path, *partial;
    int64_t written;
    char error[1024];
};

/* Chunks of at most about 1 MiB: outer dimensions are halved until the
 * chunk fits, so a reader touching one row does not inflate the tensor. */
#define CHUNK_BYTES (1u << 20)
/* Random f32/f64 tensors hardly compress whatever the level (masks, byte
 * caches and zero blocks do, at any level); 1 keeps the single writer fast. */
#define DEFLATE_LEVEL 1

static const char *const rot_names[] = {"kernel", "graph"};
static const char *const variant_names[] = {"auto", "vec", "tiled"};
static const char *const isa_names[] = {"auto", "scalar", "avx2"};

static void set_error(kvv_dump_writer *w, const char *what)
{
    char h5[384];
    kvv_h5_error(h5, sizeof h5);
    if (!w->error[0])
        snprintf(w->error, sizeof w->error, "%s: %s%s%s", w->partial, what, *h5 ? ": " : "", h5);
}

static hid_t dataset_props(const kvv_array *a)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0 || kvv_array_count(a) == 0)
        return dcpl;
    hsize_t chunk[KVV_MAX_DIMS];
    size_t bytes = kvv_dtype_size(a->dtype);
    for (int i = 0; i < a->ndim; i++) {
        chunk[i] = (hsize_t)a->dims[i];
        bytes *= (size_t)a->dims[i];
    }
    for (int i = 0; i < a->ndim && bytes > CHUNK_BYTES; i++)
        while (chunk[i] > 1 && bytes > CHUNK_BYTES) {
            bytes = bytes / chunk[i] * ((chunk[i] + 1) / 2);
            chunk[i] = (chunk[i] + 1) / 2;
        }
    /* shuffle groups the bytes of each value (floats compress better),
     * fletcher32 lets a reader detect a damaged chunk */
    if (H5Pset_chunk(dcpl, a->ndim, chunk) < 0 || H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, DEFLATE_LEVEL) < 0 ||
        H5Pset_fletcher32(dcpl) < 0) {
        H5Pclose(dcpl);
        return -1;
    }
    return dcpl;
}

static int write_array(hid_t g, const kvv_array *a)
{
    hid_t ft = a->dtype == KVV_DT_U8 ? H5T_STD_U8LE : a->dtype == KVV_DT_F32 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE;
    hid_t mt = a->dtype == KVV_DT_U8 ? H5T_NATIVE_UINT8 : a->dtype == KVV_DT_F32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
    hsize_t dims[KVV_MAX_DIMS];
    for (int i = 0; i < a->ndim; i++)
        dims[i] = (hsize_t)a->dims[i];
    int rc = -1;
    hid_t sp = H5Screate_simple(a->ndim, dims, NULL), dcpl = dataset_props(a), ds = -1;
    if (sp >= 0 && dcpl >= 0)
        ds = H5Dcreate2(g, a->name, ft, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (ds >= 0 && (kvv_array_count(a) == 0 || H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->data) >= 0))
        rc = a->type == KVV_TYPE_NONE ? 0 : kvv_h5_put_str(ds, "kvv_type", kvv_type_name(a->type));
    if (ds >= 0)
        H5Dclose(ds);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (sp >= 0)
        H5Sclose(sp);
    return rc;
}

kvv_dump_writer *kvv_dump_create(const char *path, const kvv_dump_meta *m, char *why, size_t n)
{
    kvv_h5_quiet();
    kvv_dump_writer *w = calloc(1, sizeof *w);
    size_t len = strlen(path);
    if (w)
        w->lock = -1;
    if (!w || !(w->path = strdup(path)) || !(w->partial = malloc(len + 9))) {
        snprintf(why, n, "out of memory");
        goto fail;
    }
    snprintf(w->partial, len + 9, "%s.partial", path);
    w->file = w->cases = -1;
    if (kvv_dump_check_path(path, why, n) || (w->lock = kvv_dump_lock(path, w->partial, why, n)) < 0) {
        free(w->path);
        free(w->partial);
        free(w);
        return NULL;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
#if H5_VERSION_GE(1, 10, 7)
    /* No HDF5 file lock: worker processes forked during the run share the
     * descriptor and would hold the lock past the writer's death, and a
     * person may want to look at a long run's .partial file meanwhile.
     * Other writers are kept out by kvv_dump_lock (dump/path.c). */
    if (fapl >= 0)
        H5Pset_file_locking(fapl, 0, 1);
#endif
    if (fapl >= 0 && H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) >= 0)
        w->file = H5Fcreate(w->partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (w->file < 0) {
        char h5[384];
        kvv_h5_error(h5, sizeof h5);
        snprintf(why, n, "cannot create %s: %s", w->partial, *h5 ? h5 : strerror(errno));
        goto fail;
    }
    int rc = kvv_h5_put_str(w->file, "schema", KVV_DUMP_SCHEMA) | kvv_h5_put_i64(w->file, "schema_version", KVV_DUMP_SCHEMA_VERSION) |
             kvv_h5_put_str(w->file, "tool_version", m->version) | kvv_h5_put_str(w->file, "git_commit", m->commit) |
             kvv_h5_put_str(w->file, "machine", m->machine) | kvv_h5_put_str(w->file, "started", m->started) |
             kvv_h5_put_str(w->file, "command", m->command) |
             kvv_h5_put_str(w->file, "selection", m->all ? "all" : "failing");
    if (rc == 0)
        w->cases = H5Gcreate2(w->file, "cases", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (rc || w->cases < 0 || H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0) {
        set_error(w, "cannot write the file header");
        snprintf(why, n, "%s", w->error);
        goto fail;
    }
    return w;
fail:
    if (w) {
        if (w->cases >= 0)
            H5Gclose(w->cases);
        if (w->file >= 0)
            H5Fclose(w->file);
        if (w->lock >= 0) {
            remove(w->partial); /* created, or left by a killed run, and locked by us */
            kvv_dump_unlock(w->lock);
        }
        free(w->path);
        free(w->partial);
        free(w);
    }
    return NULL;
}

static int put_case(hid_t g, const kvv_case *c, const char *backend, const kvv_verdict *v)
{
    char name[512], toggles[160];
    kvv_case_name(c, name, sizeof name);
    snprintf(toggles, sizeof toggles, "threads=%d,split=%d,cache=%s,lut=%d,rot=%s,var=%s,isa=%s", c->tg.threads,
             c->tg.split, c->tg.cache ? "on" : "off", c->tg.lut, rot_names[c->tg.rot & 1],
             variant_names[(unsigned)c->tg.variant % 3], isa_names[(unsigned)c->tg.isa % 3]);
    const struct {
        const char *key;
        int64_t val;
    } ints[] = {{"dk", c->dk},         {"dv", c->dv},         {"group", c->group},
                {"n_q", c->n_q},       {"n_kv", c->n_kv},     {"n_head", c->n_head},
                {"n_head_kv", c->n_head_kv}, {"ties", v->ties}, {"tie_candidates", v->tie_candidates},
                {"checked", v->checked}, {"nonfinite_inputs", v->nonfinite_inputs}};
    const struct {
        const char *key;
        double val;
    } reals[] = {{"max_bias", c->max_bias},        {"softcap", c->softcap},         {"scale", kvv_case_scale(c)},
                 {"arith_ratio", v->arith_ratio}, {"budget_ratio", v->budget_ratio}, {"t_backend", v->t_backend},
                 {"t_ref", v->t_ref}};
    const struct {
        const char *key, *val;
    } strs[] = {{"name", name},
                {"op", kvv_op_name(c->op)},
                {"type_k", kvv_type_name(c->type_k)},
                {"type_v", kvv_type_name(c->type_v)},
                {"mask", kvv_mask_name(c->mask)},
                {"toggles", toggles},
                {"dist", kvv_dist_name(c->dist)},
                {"backend", backend},
                {"status", kvv_status_name(v->status)},
                {"rule", kvv_rule_name(v->rule)},
                {"detail", v->detail}};
    int rc = kvv_h5_put_u64(g, "seed", c->seed);
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        rc |= kvv_h5_put_str(g, strs[i].key, strs[i].val);
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        rc |= kvv_h5_put_i64(g, ints[i].key, ints[i].val);
    for (size_t i = 0; i < sizeof reals / sizeof *reals; i++)
        rc |= kvv_h5_put_f64(g, reals[i].key, reals[i].val);
    return rc;
}

int kvv_dump_add(kvv_dump_writer *w, int64_t unit, const kvv_case *c, const char *backend, const kvv_verdict *v,
                 const kvv_record *rec)
{
    if (w->error[0])
        return -1;
    char gname[32];
    snprintf(gname, sizeof gname, "%06lld", (long long)unit);
    hid_t g = H5Gcreate2(w->cases, gname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) {
        set_error(w, "cannot create a case group");
        return -1;
    }
    int rc = put_case(g, c, backend, v);
    for (int i = 0; rec && rc == 0 && i < rec->n; i++)
        if (write_array(g, &rec->a[i])) {
            H5Gclose(g);
            char what[128];
            snprintf(what, sizeof what, "cannot write dataset %s of case %s", rec->a[i].name, gname);
            set_error(w, what);
            return -1;
        }
    H5Gclose(g);
    if (rc || H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0) {
        set_error(w, "cannot write a case");
        return -1;
    }
    w->written++;
    return 0;
}

const char *kvv_dump_partial_path(const kvv_dump_writer *w) { return w->partial; }
const char *kvv_dump_writer_error(const kvv_dump_writer *w) { return w->error; }
int64_t kvv_dump_written(const kvv_dump_writer *w) { return w->written; }

int kvv_dump_finish(kvv_dump_writer *w, int complete, char *why, size_t n)
{
    int rc = 0;
    if (kvv_h5_put_str(w->file, "finished", complete ? "complete" : "interrupted") ||
        kvv_h5_put_i64(w->file, "cases_written", w->written))
        set_error(w, "cannot write the closing attributes");
    H5Gclose(w->cases);
    if (H5Fclose(w->file) < 0)
        set_error(w, "cannot close the file");
    if (w->error[0]) {
        snprintf(why, n, "%s", w->error);
        rc = -1;
    } else if (rename(w->partial, w->path)) {
        snprintf(why, n, "cannot rename %s to %s: %s", w->partial, w->path, strerror(errno));
        rc = -1;
    }
    kvv_dump_unlock(w->lock); /* only now: until the rename, another run would write into this file */
    free(w->path);
    free(w->partial);
    free(w);
    return rc;
}
