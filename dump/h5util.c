/* HDF5 helpers: quiet errors translated to one line, scalar attributes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dump/h5util.h"

void kvv_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

typedef struct {
    char *buf;
    size_t n;
} err_walk;

/* Walking upward, entry 0 is where the error was first detected: the most
 * specific description ("truncated file: eof = ...", "incorrect metadata
 * checksum ...").  Its minor message says the class of problem. */
static herr_t take_innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    err_walk *w = data;
    if (n != 0)
        return 0;
    char minor[128] = "";
    if (H5Eget_msg(e->min_num, NULL, minor, sizeof minor) < 0)
        minor[0] = 0;
    const char *desc = e->desc && *e->desc ? e->desc : "";
    if (*desc && *minor)
        snprintf(w->buf, w->n, "%s (%s)", desc, minor);
    else
        snprintf(w->buf, w->n, "%s", *desc ? desc : minor);
    return 0;
}

void kvv_h5_error(char *buf, size_t n)
{
    buf[0] = 0;
    err_walk w = {buf, n};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &w);
    H5Eclear2(H5E_DEFAULT);
}

static int put_scalar(hid_t obj, const char *key, hid_t file_type, hid_t mem_type, const void *val)
{
    int rc = -1;
    hid_t sp = H5Screate(H5S_SCALAR);
    if (sp < 0)
        return -1;
    if (H5Aexists(obj, key) > 0)
        H5Adelete(obj, key);
    hid_t a = H5Acreate2(obj, key, file_type, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        rc = H5Awrite(a, mem_type, val) < 0 ? -1 : 0;
        H5Aclose(a);
    }
    H5Sclose(sp);
    return rc;
}

/* Strings are variable-length UTF-8: h5py reads them as str, h5dump prints
 * them plainly. */
int kvv_h5_put_str(hid_t obj, const char *key, const char *val)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return -1;
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    const char *v = val ? val : "";
    int rc = put_scalar(obj, key, t, t, &v);
    H5Tclose(t);
    return rc;
}

int kvv_h5_put_i64(hid_t obj, const char *key, int64_t val)
{
    return put_scalar(obj, key, H5T_STD_I64LE, H5T_NATIVE_INT64, &val);
}
int kvv_h5_put_u64(hid_t obj, const char *key, uint64_t val)
{
    return put_scalar(obj, key, H5T_STD_U64LE, H5T_NATIVE_UINT64, &val);
}
int kvv_h5_put_f64(hid_t obj, const char *key, double val)
{
    return put_scalar(obj, key, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &val);
}

/* Open a scalar attribute of the given type class; 1 absent, -1 wrong. */
static int open_scalar(hid_t obj, const char *key, H5T_class_t cls, hid_t *a, hid_t *t)
{
    htri_t ex = H5Aexists(obj, key);
    if (ex == 0)
        return 1;
    if (ex < 0)
        return -1;
    *a = H5Aopen(obj, key, H5P_DEFAULT);
    if (*a < 0)
        return -1;
    *t = H5Aget_type(*a);
    hid_t sp = H5Aget_space(*a);
    int ok = *t >= 0 && sp >= 0 && H5Tget_class(*t) == cls && H5Sget_simple_extent_npoints(sp) == 1;
    if (sp >= 0)
        H5Sclose(sp);
    if (!ok) {
        if (*t >= 0)
            H5Tclose(*t);
        H5Aclose(*a);
        return -1;
    }
    return 0;
}

int kvv_h5_get_str(hid_t obj, const char *key, char *buf, size_t n)
{
    hid_t a, t;
    int rc = open_scalar(obj, key, H5T_STRING, &a, &t);
    if (rc)
        return rc;
    rc = -1;
    /* the memory type is the file's own: HDF5 does not convert between
     * character sets, and a foreign file may use either */
    if (H5Tis_variable_str(t) > 0) {
        hid_t mt = H5Tcopy(t);
        char *s = NULL;
        if (mt >= 0 && H5Aread(a, mt, &s) >= 0) {
            snprintf(buf, n, "%s", s ? s : "");
            rc = 0;
        }
        if (s)
            H5free_memory(s);
        if (mt >= 0)
            H5Tclose(mt);
    } else {
        size_t sz = H5Tget_size(t);
        char *s = sz > 0 && sz < (1u << 20) ? calloc(1, sz + 1) : NULL;
        hid_t mt = H5Tcopy(t);
        if (s && mt >= 0 && H5Aread(a, mt, s) >= 0) {
            snprintf(buf, n, "%s", s);
            rc = 0;
        }
        free(s);
        if (mt >= 0)
            H5Tclose(mt);
    }
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

static int get_number(hid_t obj, const char *key, H5T_class_t cls, hid_t mem_type, void *val)
{
    hid_t a, t;
    int rc = open_scalar(obj, key, cls, &a, &t);
    if (rc)
        return rc;
    rc = H5Aread(a, mem_type, val) < 0 ? -1 : 0;
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

int kvv_h5_get_i64(hid_t obj, const char *key, int64_t *val)
{
    return get_number(obj, key, H5T_INTEGER, H5T_NATIVE_INT64, val);
}
int kvv_h5_get_u64(hid_t obj, const char *key, uint64_t *val)
{
    return get_number(obj, key, H5T_INTEGER, H5T_NATIVE_UINT64, val);
}
int kvv_h5_get_f64(hid_t obj, const char *key, double *val)
{
    return get_number(obj, key, H5T_FLOAT, H5T_NATIVE_DOUBLE, val);
}
