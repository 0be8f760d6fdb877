/* GGUF writer: key/values are serialized as they are added; tensors are
 * kept until kvv_gguf_write lays out the file (each tensor's data at the
 * next multiple of the alignment, in the order added). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

typedef struct {
    uint8_t *p;
    size_t n, cap;
    int oom;
} bytes;

static void put(bytes *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_le(bytes *b, uint64_t v, int n)
{
    uint8_t t[8];
    for (int i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    put(b, t, (size_t)n);
}

static void put_str(bytes *b, const void *s, uint64_t len)
{
    put_le(b, len, 8);
    put(b, s, (size_t)len);
}

typedef struct {
    char name[KVV_GGUF_MAX_NAME];
    int ndim;
    int64_t ne[KVV_GGUF_MAX_DIMS];
    uint32_t type;
    uint8_t *data;
    size_t nbytes;
} wtensor;

struct kvv_gguf_writer {
    uint32_t alignment;
    uint64_t nkv;
    bytes kv;
    wtensor *t;
    size_t nt, cap;
    int bad;
};

static int scalar_bytes(kvv_gguf_type t)
{
    static const int sizes[KVV_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return (unsigned)t < KVV_GGUF_TYPE_COUNT ? sizes[t] : 0;
}

kvv_gguf_writer *kvv_gguf_writer_new(uint32_t alignment)
{
    if (alignment == 0 || (alignment & (alignment - 1)))
        return NULL;
    kvv_gguf_writer *w = calloc(1, sizeof *w);
    if (w && alignment != KVV_GGUF_DEFAULT_ALIGNMENT)
        kvv_gguf_add_u32(w, "general.alignment", alignment);
    if (w)
        w->alignment = alignment;
    return w;
}

void kvv_gguf_writer_free(kvv_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nt; i++)
        free(w->t[i].data);
    free(w->t);
    free(w->kv.p);
    free(w);
}

int kvv_gguf_add_kv(kvv_gguf_writer *w, const char *key, kvv_gguf_type type, kvv_gguf_type elem, uint64_t n,
                    const void *val)
{
    if (!w || !key || !*key || (unsigned)type >= KVV_GGUF_TYPE_COUNT)
        return -1;
    if (type == KVV_GGUF_ARRAY && ((unsigned)elem >= KVV_GGUF_TYPE_COUNT || elem == KVV_GGUF_ARRAY))
        return -1;
    put_str(&w->kv, key, strlen(key));
    put_le(&w->kv, (uint64_t)type, 4);
    if (type == KVV_GGUF_STRING) {
        put_str(&w->kv, val, n);
    } else if (type == KVV_GGUF_ARRAY) {
        put_le(&w->kv, (uint64_t)elem, 4);
        put_le(&w->kv, n, 8);
        if (elem == KVV_GGUF_STRING) {
            const char *const *s = val;
            for (uint64_t i = 0; i < n; i++)
                put_str(&w->kv, s[i], strlen(s[i]));
        } else {
            put(&w->kv, val, (size_t)(n * (uint64_t)scalar_bytes(elem)));
        }
    } else {
        put(&w->kv, val, (size_t)scalar_bytes(type));
    }
    w->nkv++;
    return w->kv.oom ? -1 : 0;
}

static int add_le32(kvv_gguf_writer *w, const char *key, kvv_gguf_type type, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return kvv_gguf_add_kv(w, key, type, 0, 1, b);
}

int kvv_gguf_add_u32(kvv_gguf_writer *w, const char *key, uint32_t v) { return add_le32(w, key, KVV_GGUF_UINT32, v); }

int kvv_gguf_add_f32(kvv_gguf_writer *w, const char *key, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return add_le32(w, key, KVV_GGUF_FLOAT32, u);
}

int kvv_gguf_add_str(kvv_gguf_writer *w, const char *key, const char *s)
{
    return kvv_gguf_add_kv(w, key, KVV_GGUF_STRING, 0, strlen(s), s);
}

int kvv_gguf_add_tensor(kvv_gguf_writer *w, const char *name, uint32_t type, int ndim, const int64_t *ne,
                        const void *data, size_t nbytes)
{
    int block, bsize;
    if (!w || !name || strlen(name) >= KVV_GGUF_MAX_NAME || ndim < 1 || ndim > KVV_GGUF_MAX_DIMS ||
        !kvv_ggml_type_size(type, &block, &bsize))
        return -1;
    uint64_t nel = 1;
    for (int d = 0; d < ndim; d++) {
        if (ne[d] < 0)
            return -1;
        nel *= (uint64_t)ne[d];
    }
    if (ne[0] % block || nel / (uint64_t)block * (uint64_t)bsize != nbytes)
        return -1;
    if (w->nt == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        wtensor *t = realloc(w->t, sizeof *t * cap);
        if (!t)
            return -1;
        w->t = t;
        w->cap = cap;
    }
    wtensor *t = &w->t[w->nt];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    for (int d = 0; d < KVV_GGUF_MAX_DIMS; d++)
        t->ne[d] = d < ndim ? ne[d] : 1;
    t->type = type;
    t->nbytes = nbytes;
    t->data = malloc(nbytes ? nbytes : 1);
    if (!t->data)
        return -1;
    memcpy(t->data, data, nbytes);
    w->nt++;
    return 0;
}

static void pad(bytes *b, uint32_t a)
{
    static const uint8_t zero[64];
    while (b->n % a)
        put(b, zero, a - b->n % a > sizeof zero ? sizeof zero : a - b->n % a);
}

int kvv_gguf_write(const kvv_gguf_writer *w, uint8_t **out, size_t *size, char *err, size_t err_len)
{
    bytes b = {0};
    *out = NULL;
    *size = 0;
    if (!w || w->kv.oom) {
        snprintf(err, err_len, "GGUF writer: out of memory while adding keys");
        return -1;
    }
    put_le(&b, KVV_GGUF_MAGIC, 4);
    put_le(&b, KVV_GGUF_VERSION, 4);
    put_le(&b, (uint64_t)w->nt, 8);
    put_le(&b, w->nkv, 8);
    put(&b, w->kv.p, w->kv.n);
    uint64_t off = 0;
    for (size_t i = 0; i < w->nt; i++) {
        const wtensor *t = &w->t[i];
        put_str(&b, t->name, strlen(t->name));
        put_le(&b, (uint64_t)t->ndim, 4);
        for (int d = 0; d < t->ndim; d++)
            put_le(&b, (uint64_t)t->ne[d], 8);
        put_le(&b, t->type, 4);
        put_le(&b, off, 8);
        off = (off + t->nbytes + w->alignment - 1) / w->alignment * w->alignment;
    }
    if (w->nt) {
        pad(&b, w->alignment);
        for (size_t i = 0; i < w->nt; i++) {
            put(&b, w->t[i].data, w->t[i].nbytes);
            if (i + 1 < w->nt)
                pad(&b, w->alignment);
        }
    }
    if (b.oom) {
        free(b.p);
        snprintf(err, err_len, "GGUF writer: out of memory");
        return -1;
    }
    *out = b.p;
    *size = b.n;
    return 0;
}
