/* Records: named arrays captured while a case runs, and their flat
 * serialized form (how a worker process hands them to the writer). */
#include <stdlib.h>
#include <string.h>

#include "dump/dump.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[KVV_DT_COUNT] = {{"u8", 1}, {"f32", 4}, {"f64", 8}};

size_t kvv_dtype_size(kvv_dtype t) { return (unsigned)t < KVV_DT_COUNT ? dtypes[t].size : 0; }
const char *kvv_dtype_name(kvv_dtype t) { return (unsigned)t < KVV_DT_COUNT ? dtypes[t].name : "?"; }

int64_t kvv_array_count(const kvv_array *a)
{
    int64_t n = 1;
    for (int i = 0; i < a->ndim; i++)
        n *= a->dims[i];
    return n;
}

/* Element count of a shape, or -1 when it is unusable (a negative size, or
 * more than 2^40 bytes: far beyond any case, so a corrupt header cannot make
 * us allocate it). */
static int64_t shape_count(kvv_dtype dt, int ndim, const int64_t *dims)
{
    if ((unsigned)dt >= KVV_DT_COUNT || ndim < 1 || ndim > KVV_MAX_DIMS)
        return -1;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || (dims[i] && n > ((int64_t)1 << 40) / dims[i]))
            return -1;
        n *= dims[i];
    }
    return n * (int64_t)kvv_dtype_size(dt) > ((int64_t)1 << 40) ? -1 : n;
}

const kvv_array *kvv_record_get(const kvv_record *r, const char *name)
{
    for (int i = 0; r && i < r->n; i++)
        if (!strcmp(r->a[i].name, name))
            return &r->a[i];
    return NULL;
}

int kvv_record_put(kvv_record *r, const char *name, kvv_dtype dt, kvv_type type, int ndim, const int64_t *dims,
                   const void *data)
{
    int64_t n = shape_count(dt, ndim, dims);
    if (n < 0 || strlen(name) >= KVV_ARRAY_NAME)
        return -1;
    size_t bytes = (size_t)n * kvv_dtype_size(dt);
    void *copy = malloc(bytes ? bytes : 1);
    if (!copy)
        return -1;
    if (bytes)
        memcpy(copy, data, bytes);
    kvv_array *a = (kvv_array *)kvv_record_get(r, name);
    if (a) {
        free(a->data);
    } else {
        if (r->n == r->cap) {
            int cap = r->cap ? 2 * r->cap : 16;
            kvv_array *na = realloc(r->a, sizeof *na * (size_t)cap);
            if (!na) {
                free(copy);
                return -1;
            }
            r->a = na;
            r->cap = cap;
        }
        a = &r->a[r->n++];
    }
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->dtype = dt;
    a->type = type;
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        a->dims[i] = dims[i];
    a->data = copy;
    return 0;
}

void kvv_record_free(kvv_record *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->a[i].data);
    free(r->a);
    memset(r, 0, sizeof *r);
}

/* ---- serialized form ----
 * "KVVREC1\0", u64 count, then per array a fixed header and the data padded
 * to 8 bytes.  Native byte order: both ends are the same program. */
static const char magic[8] = "KVVREC1";

typedef struct {
    char name[KVV_ARRAY_NAME];
    int32_t dtype, ndim, type, pad;
    int64_t dims[KVV_MAX_DIMS];
    uint64_t bytes;
} array_header;

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

size_t kvv_record_encoded_size(const kvv_record *r)
{
    size_t n = sizeof magic + sizeof(uint64_t);
    for (int i = 0; i < r->n; i++)
        n += sizeof(array_header) + pad8((size_t)kvv_array_count(&r->a[i]) * kvv_dtype_size(r->a[i].dtype));
    return n;
}

void kvv_record_encode(const kvv_record *r, void *buf)
{
    char *p = buf;
    memcpy(p, magic, sizeof magic);
    p += sizeof magic;
    uint64_t count = (uint64_t)r->n;
    memcpy(p, &count, sizeof count);
    p += sizeof count;
    for (int i = 0; i < r->n; i++) {
        const kvv_array *a = &r->a[i];
        array_header h;
        memset(&h, 0, sizeof h);
        memcpy(h.name, a->name, sizeof h.name);
        h.dtype = a->dtype;
        h.ndim = a->ndim;
        h.type = a->type;
        memcpy(h.dims, a->dims, sizeof h.dims);
        h.bytes = (uint64_t)kvv_array_count(a) * kvv_dtype_size(a->dtype);
        memcpy(p, &h, sizeof h);
        p += sizeof h;
        if (h.bytes)
            memcpy(p, a->data, h.bytes);
        memset(p + h.bytes, 0, pad8(h.bytes) - h.bytes);
        p += pad8(h.bytes);
    }
}

int kvv_record_decode(const void *buf, size_t n, kvv_record *r, char *why, size_t why_len)
{
    const char *p = buf, *end = p + n;
    memset(r, 0, sizeof *r);
    uint64_t count;
    if (n < sizeof magic + sizeof count || memcmp(p, magic, sizeof magic)) {
        snprintf(why, why_len, "not a serialized record");
        return -1;
    }
    p += sizeof magic;
    memcpy(&count, p, sizeof count);
    p += sizeof count;
    for (uint64_t i = 0; i < count; i++) {
        array_header h;
        if ((size_t)(end - p) < sizeof h) {
            snprintf(why, why_len, "record cut short in the header of array %llu", (unsigned long long)i);
            goto bad;
        }
        memcpy(&h, p, sizeof h);
        p += sizeof h;
        h.name[KVV_ARRAY_NAME - 1] = 0;
        int64_t cnt = shape_count((kvv_dtype)h.dtype, h.ndim, h.dims);
        if (cnt < 0 || h.bytes != (uint64_t)cnt * kvv_dtype_size((kvv_dtype)h.dtype) ||
            (size_t)(end - p) < pad8(h.bytes) || h.type < KVV_TYPE_NONE || h.type >= KVV_TYPE_COUNT) {
            snprintf(why, why_len, "array '%s' of the record has an inconsistent header", h.name);
            goto bad;
        }
        if (kvv_record_put(r, h.name, (kvv_dtype)h.dtype, (kvv_type)h.type, h.ndim, h.dims, p)) {
            snprintf(why, why_len, "out of memory decoding array '%s'", h.name);
            goto bad;
        }
        p += pad8(h.bytes);
    }
    if (p != end) {
        snprintf(why, why_len, "%zu stray bytes after the record", (size_t)(end - p));
        goto bad;
    }
    return 0;
bad:
    kvv_record_free(r);
    return -1;
}
