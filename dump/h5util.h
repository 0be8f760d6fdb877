/* HDF5 helpers shared by the dump writer and reader (internal to dump/):
 * silencing HDF5's own error printing, turning its error stack into one
 * line, and scalar attributes. */
#ifndef KVV_DUMP_H5UTIL_H
#define KVV_DUMP_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

/* Stop HDF5 from printing its error stack to stderr (we translate errors). */
void kvv_h5_quiet(void);
/* The innermost message of HDF5's current error stack, e.g. "truncated file:
 * eof = 4096, ... (file accessibility: file has been truncated)"; "" when the
 * stack is empty.  Clears the stack. */
void kvv_h5_error(char *buf, size_t n);

/* Scalar attributes on an object.  Writers return 0 or -1. */
int kvv_h5_put_str(hid_t obj, const char *key, const char *val);
int kvv_h5_put_i64(hid_t obj, const char *key, int64_t val);
int kvv_h5_put_u64(hid_t obj, const char *key, uint64_t val);
int kvv_h5_put_f64(hid_t obj, const char *key, double val);
/* Readers: 0, 1 when the attribute is absent, -1 when it has the wrong
 * type or shape or cannot be read.  Strings may be fixed or variable
 * length; they are cut to n - 1 bytes. */
int kvv_h5_get_str(hid_t obj, const char *key, char *buf, size_t n);
int kvv_h5_get_i64(hid_t obj, const char *key, int64_t *val);
int kvv_h5_get_u64(hid_t obj, const char *key, uint64_t *val);
int kvv_h5_get_f64(hid_t obj, const char *key, double *val);

#endif
