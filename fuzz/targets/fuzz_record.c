/* Fuzz target: the serialized record of dump/record.c, the format in which
 * a worker process sends a case's arrays over its pipe.  Properties: a
 * refused buffer says why; an accepted one re-encodes into a buffer that
 * decodes into the same arrays. */
#include <stdlib.h>
#include <string.h>

#include "dump/dump.h"
#include "fuzz/targets/fuzz_target.h"

static int same_record(const kvv_record *a, const kvv_record *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++) {
        const kvv_array *x = &a->a[i], *y = &b->a[i];
        size_t bytes = (size_t)kvv_array_count(x) * kvv_dtype_size(x->dtype);
        if (strcmp(x->name, y->name) || x->dtype != y->dtype || x->ndim != y->ndim || x->type != y->type ||
            memcmp(x->dims, y->dims, sizeof(int64_t) * (size_t)x->ndim) || memcmp(x->data, y->data, bytes))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kvv_record r, back;
    char why[256] = "";
    if (kvv_record_decode(data, size, &r, why, sizeof why)) {
        KVV_FUZZ_CHECK(why[0], "a refused record must say why");
        return 0;
    }
    size_t n = kvv_record_encoded_size(&r);
    KVV_FUZZ_CHECK(n <= size, "re-encoded size %zu > input size %zu", n, size);
    void *buf = malloc(n);
    if (buf) {
        kvv_record_encode(&r, buf);
        KVV_FUZZ_CHECK(kvv_record_decode(buf, n, &back, why, sizeof why) == 0, "re-encoded record refused: %s", why);
        KVV_FUZZ_CHECK(same_record(&r, &back), "re-encoded record differs");
        kvv_record_free(&back);
        free(buf);
    }
    kvv_record_free(&r);
    return 0;
}
