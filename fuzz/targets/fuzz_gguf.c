/* Fuzz target: the GGUF reader (model/gguf_read.c) and the model loader on
 * top of it.  Properties: a refused file says why; an accepted one has
 * every key, string, array and tensor inside the buffer, tensors inside the
 * data section and aligned, and the loader either builds a model or says
 * why not. */
#include <string.h>

#include "fuzz/targets/fuzz_target.h"
#include "model/model.h"

static int inside(const uint8_t *buf, size_t size, const uint8_t *p, uint64_t n)
{
    return p >= buf && (uint64_t)(p - buf) <= size && n <= size - (uint64_t)(p - buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kvv_gguf g;
    char why[256] = "";
    if (kvv_gguf_parse(data, size, &g, why, sizeof why)) {
        KVV_FUZZ_CHECK(why[0], "a refused file must say why");
        return 0;
    }
    KVV_FUZZ_CHECK(g.alignment > 0 && (g.alignment & (g.alignment - 1)) == 0, "alignment %u", g.alignment);
    /* a file without tensors may end before its (empty, aligned) data section */
    KVV_FUZZ_CHECK(g.ntensors == 0 || g.data_offset <= size, "data section starts past the end");
    for (uint64_t i = 0; i < g.nkv; i++) {
        const kvv_gguf_kv *kv = &g.kv[i];
        KVV_FUZZ_CHECK(kv->key != NULL, "key %llu missing", (unsigned long long)i);
        if (kv->type == KVV_GGUF_STRING)
            KVV_FUZZ_CHECK(inside(data, size, kv->data, kv->n), "string of key %s outside the buffer", kv->key);
        if (kv->type == KVV_GGUF_ARRAY && kv->elem == KVV_GGUF_STRING)
            for (uint64_t k = 0; k < kv->n; k++)
                KVV_FUZZ_CHECK(inside(data, size, kv->strs[k], kv->lens[k]), "array string outside the buffer");
        KVV_FUZZ_CHECK(kvv_gguf_find(&g, kv->key) != NULL, "key %s cannot be found", kv->key);
    }
    for (uint64_t i = 0; i < g.ntensors; i++) {
        const kvv_gguf_tensor *t = &g.tensors[i];
        KVV_FUZZ_CHECK(memchr(t->name, 0, sizeof t->name) != NULL, "tensor name not terminated");
        KVV_FUZZ_CHECK(t->ndim >= 1 && t->ndim <= KVV_GGUF_MAX_DIMS, "tensor %s: %d dims", t->name, t->ndim);
        KVV_FUZZ_CHECK(inside(data, size, t->data, t->nbytes), "tensor %s outside the buffer", t->name);
        KVV_FUZZ_CHECK((uint64_t)(t->data - data) >= g.data_offset, "tensor %s before the data section", t->name);
        KVV_FUZZ_CHECK(t->offset % g.alignment == 0, "tensor %s misaligned", t->name);
    }
    kvv_model m;
    char err[256] = "";
    if (kvv_model_load(&g, &m, err, sizeof err) == 0)
        kvv_model_free(&m);
    else
        KVV_FUZZ_CHECK(err[0], "a refused model must say why");
    kvv_gguf_free(&g);
    return 0;
}
