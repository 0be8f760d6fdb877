/* GGUF parser: a pure function over (buffer, size).
 *
 * Layout (little endian): magic "GGUF", u32 version, u64 tensor count, u64
 * key/value count; the key/values (string key, u32 value type, value); the
 * tensor infos (string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64
 * offset); padding to general.alignment (default 32); the data section, where
 * each tensor starts at its offset (a multiple of the alignment).  A string
 * is a u64 byte count and the bytes (no terminator); an array is a u32
 * element type, a u64 count and the elements.
 *
 * Every count, length and offset is checked against the bytes that remain
 * before it is used, so a truncated or hostile file gives an error message,
 * never a read outside the buffer or an allocation larger than the file. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

typedef struct {
    const uint8_t *buf;
    size_t size, pos;
    char *err;
    size_t err_len;
} reader;

static int fail(reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, r->err_len, fmt, ap);
    va_end(ap);
    return -1;
}

static int need(reader *r, uint64_t n, const char *what)
{
    if (n > r->size - r->pos)
        return fail(r, "truncated: %s needs %llu bytes at offset %zu, the file has %zu", what, (unsigned long long)n,
                    r->pos, r->size);
    return 0;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int get(reader *r, int n, uint64_t *v, const char *what)
{
    if (need(r, (uint64_t)n, what))
        return -1;
    *v = le(r->buf + r->pos, n);
    r->pos += (size_t)n;
    return 0;
}

static int get_str(reader *r, const uint8_t **s, uint64_t *len, const char *what)
{
    if (get(r, 8, len, what) || need(r, *len, what))
        return -1;
    *s = r->buf + r->pos;
    r->pos += (size_t)*len;
    return 0;
}

/* bytes of one scalar of a value type; 0 for strings, arrays and unknown types */
static int scalar_size(uint64_t t)
{
    static const int sizes[KVV_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < KVV_GGUF_TYPE_COUNT ? sizes[t] : 0;
}

static const char *const type_names[KVV_GGUF_TYPE_COUNT] = {"uint8", "int8",   "uint16", "int16",  "uint32",
                                                            "int32", "float32", "bool",  "string", "array",
                                                            "uint64", "int64", "float64"};

static int parse_value(reader *r, kvv_gguf_kv *kv)
{
    uint64_t t;
    char what[96];
    snprintf(what, sizeof what, "the value type of key '%s'", kv->key);
    if (get(r, 4, &t, what))
        return -1;
    if (t >= KVV_GGUF_TYPE_COUNT)
        return fail(r, "key '%s' has unknown value type %llu", kv->key, (unsigned long long)t);
    kv->type = (kvv_gguf_type)t;
    snprintf(what, sizeof what, "the value of key '%s'", kv->key);
    if (t == KVV_GGUF_STRING)
        return get_str(r, &kv->data, &kv->n, what);
    if (t != KVV_GGUF_ARRAY) {
        int sz = scalar_size(t);
        if (need(r, (uint64_t)sz, what))
            return -1;
        kv->data = r->buf + r->pos;
        kv->n = 1;
        if (t == KVV_GGUF_BOOL && kv->data[0] > 1)
            return fail(r, "key '%s': bool value %u is neither 0 nor 1", kv->key, kv->data[0]);
        r->pos += (size_t)sz;
        return 0;
    }
    uint64_t et, n;
    if (get(r, 4, &et, what) || get(r, 8, &n, what))
        return -1;
    if (et >= KVV_GGUF_TYPE_COUNT)
        return fail(r, "key '%s': array of unknown element type %llu", kv->key, (unsigned long long)et);
    if (et == KVV_GGUF_ARRAY)
        return fail(r, "key '%s': arrays of arrays are not supported", kv->key);
    kv->elem = (kvv_gguf_type)et;
    kv->n = n;
    kv->data = r->buf + r->pos;
    if (et != KVV_GGUF_STRING) {
        uint64_t sz = (uint64_t)scalar_size(et);
        if (n > (r->size - r->pos) / sz)
            return fail(r, "key '%s': array of %llu %s elements does not fit in the %zu bytes left", kv->key,
                        (unsigned long long)n, type_names[et], r->size - r->pos);
        if (et == KVV_GGUF_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (kv->data[i] > 1)
                    return fail(r, "key '%s': bool element %llu is %u", kv->key, (unsigned long long)i, kv->data[i]);
        r->pos += (size_t)(n * sz);
        return 0;
    }
    /* strings: each takes at least its 8-byte length */
    if (n > (r->size - r->pos) / 8)
        return fail(r, "key '%s': array of %llu strings does not fit in the %zu bytes left", kv->key,
                    (unsigned long long)n, r->size - r->pos);
    kv->strs = malloc(sizeof *kv->strs * (size_t)(n ? n : 1));
    kv->lens = malloc(sizeof *kv->lens * (size_t)(n ? n : 1));
    if (!kv->strs || !kv->lens)
        return fail(r, "out of memory for the %llu strings of key '%s'", (unsigned long long)n, kv->key);
    for (uint64_t i = 0; i < n; i++) {
        snprintf(what, sizeof what, "string %llu of key '%s'", (unsigned long long)i, kv->key);
        if (get_str(r, &kv->strs[i], &kv->lens[i], what))
            return -1;
    }
    return 0;
}

static int parse_kvs(reader *r, kvv_gguf *g)
{
    for (uint64_t i = 0; i < g->nkv; i++) {
        kvv_gguf_kv *kv = &g->kv[i];
        const uint8_t *k;
        uint64_t len;
        char what[48];
        snprintf(what, sizeof what, "key %llu", (unsigned long long)i);
        if (get_str(r, &k, &len, what))
            return -1;
        if (len == 0)
            return fail(r, "key %llu is empty", (unsigned long long)i);
        if (memchr(k, 0, (size_t)len))
            return fail(r, "key %llu contains a NUL byte", (unsigned long long)i);
        kv->key = malloc((size_t)len + 1);
        if (!kv->key)
            return fail(r, "out of memory");
        memcpy(kv->key, k, (size_t)len);
        kv->key[len] = 0;
        for (uint64_t j = 0; j < i; j++)
            if (!strcmp(g->kv[j].key, kv->key))
                return fail(r, "duplicate key '%s'", kv->key);
        if (parse_value(r, kv))
            return -1;
    }
    return 0;
}

static int parse_alignment(reader *r, kvv_gguf *g)
{
    g->alignment = KVV_GGUF_DEFAULT_ALIGNMENT;
    const kvv_gguf_kv *a = kvv_gguf_find(g, "general.alignment");
    if (!a)
        return 0;
    if (a->type != KVV_GGUF_UINT32)
        return fail(r, "general.alignment must be a uint32, not %s", type_names[a->type]);
    uint32_t v = (uint32_t)le(a->data, 4);
    if (v == 0 || (v & (v - 1)))
        return fail(r, "general.alignment %u is not a power of two", v);
    g->alignment = v;
    return 0;
}

static int parse_tensor_info(reader *r, kvv_gguf *g, uint64_t i)
{
    kvv_gguf_tensor *t = &g->tensors[i];
    const uint8_t *name;
    uint64_t len, v;
    char what[96];
    snprintf(what, sizeof what, "the name of tensor %llu", (unsigned long long)i);
    if (get_str(r, &name, &len, what))
        return -1;
    if (len == 0 || len >= KVV_GGUF_MAX_NAME || memchr(name, 0, (size_t)len))
        return fail(r, "tensor %llu: name of %llu bytes (must be 1..%d bytes without NUL)", (unsigned long long)i,
                    (unsigned long long)len, KVV_GGUF_MAX_NAME - 1);
    memcpy(t->name, name, (size_t)len);
    t->name[len] = 0;
    for (uint64_t j = 0; j < i; j++)
        if (!strcmp(g->tensors[j].name, t->name))
            return fail(r, "duplicate tensor '%s'", t->name);
    snprintf(what, sizeof what, "the shape of tensor '%s'", t->name);
    if (get(r, 4, &v, what))
        return -1;
    if (v < 1 || v > KVV_GGUF_MAX_DIMS)
        return fail(r, "tensor '%s' has %llu dimensions (1..%d)", t->name, (unsigned long long)v, KVV_GGUF_MAX_DIMS);
    t->ndim = (int)v;
    uint64_t nel = 1;
    for (int d = 0; d < KVV_GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d >= t->ndim)
            continue;
        if (get(r, 8, &v, what))
            return -1;
        if (v > (uint64_t)INT64_MAX)
            return fail(r, "tensor '%s': dimension %d is negative", t->name, d);
        t->ne[d] = (int64_t)v;
        if (v && nel > (uint64_t)INT64_MAX / v)
            return fail(r, "tensor '%s': element count overflows", t->name);
        nel *= v;
    }
    snprintf(what, sizeof what, "the type and offset of tensor '%s'", t->name);
    if (get(r, 4, &v, what))
        return -1;
    t->type = (uint32_t)v;
    int block, bytes;
    if (!kvv_ggml_type_size(t->type, &block, &bytes))
        return fail(r, "tensor '%s' has ggml type %u, unknown to this reader", t->name, t->type);
    if (t->ne[0] % block)
        return fail(r, "tensor '%s': row of %lld values is not a multiple of the %s block (%d)", t->name,
                    (long long)t->ne[0], kvv_ggml_type_name(t->type), block);
    uint64_t nblocks = nel / (uint64_t)block;
    if (nblocks > UINT64_MAX / (uint64_t)bytes)
        return fail(r, "tensor '%s': byte size overflows", t->name);
    t->nbytes = nblocks * (uint64_t)bytes;
    if (get(r, 8, &t->offset, what))
        return -1;
    return 0;
}

static int cmp_offset(const void *a, const void *b)
{
    const kvv_gguf_tensor *x = *(const kvv_gguf_tensor *const *)a, *y = *(const kvv_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* offsets aligned, inside the data section, not overlapping */
static int place_tensors(reader *r, kvv_gguf *g)
{
    uint64_t data_size = r->size - g->data_offset;
    for (uint64_t i = 0; i < g->ntensors; i++) {
        kvv_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment)
            return fail(r, "tensor '%s': offset %llu is not a multiple of the alignment %u", t->name,
                        (unsigned long long)t->offset, g->alignment);
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return fail(r,
                        "truncated or damaged: tensor '%s': bytes [%llu, %llu) lie outside the data section of "
                        "%llu bytes",
                        t->name, (unsigned long long)t->offset, (unsigned long long)(t->offset + t->nbytes),
                        (unsigned long long)data_size);
        t->data = r->buf + g->data_offset + t->offset;
    }
    const kvv_gguf_tensor **by = malloc(sizeof *by * (size_t)g->ntensors);
    if (!by)
        return fail(r, "out of memory");
    for (uint64_t i = 0; i < g->ntensors; i++)
        by[i] = &g->tensors[i];
    qsort(by, (size_t)g->ntensors, sizeof *by, cmp_offset);
    int rc = 0;
    for (uint64_t i = 1; i < g->ntensors && !rc; i++)
        if (by[i - 1]->offset + by[i - 1]->nbytes > by[i]->offset)
            rc = fail(r, "tensors '%s' and '%s' overlap", by[i - 1]->name, by[i]->name);
    free(by);
    return rc;
}

int kvv_gguf_parse(const uint8_t *buf, size_t size, kvv_gguf *g, char *err, size_t err_len)
{
    reader r = {buf, buf ? size : 0, 0, err, err_len};
    uint64_t magic, version;
    memset(g, 0, sizeof *g);
    if (err_len)
        err[0] = 0;
    if (get(&r, 4, &magic, "the magic"))
        goto bad;
    if (magic != KVV_GGUF_MAGIC) {
        fail(&r, "not a GGUF file (magic %02x %02x %02x %02x, want \"GGUF\")", buf[0], buf[1], buf[2], buf[3]);
        goto bad;
    }
    if (get(&r, 4, &version, "the version"))
        goto bad;
    if (version == 1) {
        fail(&r, "GGUF version 1 (32-bit counts) is not supported");
        goto bad;
    }
    if (version != 2 && version != 3) {
        fail(&r, (version & 0xffff) == 0 ? "GGUF version %llu: a big-endian file? only little endian is supported"
                                         : "GGUF version %llu is not supported (2 or 3)",
             (unsigned long long)version);
        goto bad;
    }
    g->version = (uint32_t)version;
    if (get(&r, 8, &g->ntensors, "the tensor count") || get(&r, 8, &g->nkv, "the key/value count"))
        goto bad;
    /* the smallest key/value is 13 bytes, the smallest tensor info 32 */
    if (g->nkv > (r.size - r.pos) / 13) {
        fail(&r, "truncated or damaged: %llu key/values cannot fit in a file of %zu bytes", (unsigned long long)g->nkv,
             r.size);
        goto bad;
    }
    if (g->ntensors > (r.size - r.pos) / 32) {
        fail(&r, "truncated or damaged: %llu tensors cannot fit in a file of %zu bytes",
             (unsigned long long)g->ntensors, r.size);
        goto bad;
    }
    g->kv = calloc((size_t)(g->nkv ? g->nkv : 1), sizeof *g->kv);
    g->tensors = calloc((size_t)(g->ntensors ? g->ntensors : 1), sizeof *g->tensors);
    if (!g->kv || !g->tensors) {
        fail(&r, "out of memory");
        goto bad;
    }
    if (parse_kvs(&r, g) || parse_alignment(&r, g))
        goto bad;
    for (uint64_t i = 0; i < g->ntensors; i++)
        if (parse_tensor_info(&r, g, i))
            goto bad;
    g->data_offset = (r.pos + g->alignment - 1) / g->alignment * g->alignment;
    if (g->ntensors) {
        if (g->data_offset > r.size) {
            fail(&r, "truncated: the data section would start at %llu, the file has %zu bytes",
                 (unsigned long long)g->data_offset, r.size);
            goto bad;
        }
        if (place_tensors(&r, g))
            goto bad;
    }
    return 0;
bad:
    kvv_gguf_free(g);
    return -1;
}

void kvv_gguf_free(kvv_gguf *g)
{
    if (g->kv)
        for (uint64_t i = 0; i < g->nkv; i++) {
            free(g->kv[i].key);
            free(g->kv[i].strs);
            free(g->kv[i].lens);
        }
    free(g->kv);
    free(g->tensors);
    memset(g, 0, sizeof *g);
}

const kvv_gguf_kv *kvv_gguf_find(const kvv_gguf *g, const char *key)
{
    for (uint64_t i = 0; i < g->nkv; i++)
        if (g->kv[i].key && !strcmp(g->kv[i].key, key))
            return &g->kv[i];
    return NULL;
}

const kvv_gguf_tensor *kvv_gguf_find_tensor(const kvv_gguf *g, const char *name)
{
    for (uint64_t i = 0; i < g->ntensors; i++)
        if (!strcmp(g->tensors[i].name, name))
            return &g->tensors[i];
    return NULL;
}

/* a scalar of a numeric type as double (integers exactly up to 2^53) */
static double num_at(kvv_gguf_type t, const uint8_t *p)
{
    uint64_t u = le(p, scalar_size(t));
    switch (t) {
    case KVV_GGUF_INT8: return (int8_t)u;
    case KVV_GGUF_INT16: return (int16_t)u;
    case KVV_GGUF_INT32: return (int32_t)u;
    case KVV_GGUF_INT64: return (double)(int64_t)u;
    case KVV_GGUF_FLOAT32: {
        uint32_t b = (uint32_t)u;
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    case KVV_GGUF_FLOAT64: {
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    default: return (double)u;
    }
}

int kvv_gguf_get_int(const kvv_gguf *g, const char *key, int64_t *out)
{
    const kvv_gguf_kv *kv = kvv_gguf_find(g, key);
    if (!kv)
        return -1;
    uint64_t u = kv->type < KVV_GGUF_TYPE_COUNT && scalar_size(kv->type) ? le(kv->data, scalar_size(kv->type)) : 0;
    switch (kv->type) {
    case KVV_GGUF_UINT8:
    case KVV_GGUF_UINT16:
    case KVV_GGUF_UINT32: *out = (int64_t)u; return 0;
    case KVV_GGUF_UINT64:
        if (u > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)u;
        return 0;
    case KVV_GGUF_INT8: *out = (int8_t)u; return 0;
    case KVV_GGUF_INT16: *out = (int16_t)u; return 0;
    case KVV_GGUF_INT32: *out = (int32_t)u; return 0;
    case KVV_GGUF_INT64: *out = (int64_t)u; return 0;
    default: return -1;
    }
}

int kvv_gguf_get_float(const kvv_gguf *g, const char *key, double *out)
{
    const kvv_gguf_kv *kv = kvv_gguf_find(g, key);
    if (!kv || (kv->type != KVV_GGUF_FLOAT32 && kv->type != KVV_GGUF_FLOAT64))
        return -1;
    *out = num_at(kv->type, kv->data);
    return 0;
}

int kvv_gguf_get_str(const kvv_gguf *g, const char *key, const char **s, size_t *len)
{
    const kvv_gguf_kv *kv = kvv_gguf_find(g, key);
    if (!kv || kv->type != KVV_GGUF_STRING)
        return -1;
    *s = (const char *)kv->data;
    *len = (size_t)kv->n;
    return 0;
}

double kvv_gguf_arr_num(const kvv_gguf_kv *kv, uint64_t i)
{
    if (kv->type != KVV_GGUF_ARRAY || i >= kv->n || !scalar_size(kv->elem))
        return 0.0;
    return num_at(kv->elem, kv->data + i * (uint64_t)scalar_size(kv->elem));
}
