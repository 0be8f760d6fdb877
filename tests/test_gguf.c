/* GGUF: writer/reader round trips (every value type, arrays, strings,
 * tensors, alignments), byte-identical rewrite of the probe model, rejection
 * of malformed files with a message (never a crash: every prefix of a file,
 * planted corruptions, random byte flips), and the model loader's refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "tests/harness.h"

static char err[600];

/* ---- a file with one key of every type and tensors of several types ---- */

static uint8_t *sample(uint32_t alignment, size_t *size)
{
    kvv_gguf_writer *w = kvv_gguf_writer_new(alignment);
    CU_ASSERT_FATAL(w != NULL);
    uint8_t u8 = 200, b = 1;
    int8_t i8 = -100;
    uint16_t u16 = 60000;
    int16_t i16 = -30000;
    uint32_t u32 = 4000000000u;
    int32_t i32 = -2000000000;
    float f32 = 1.5f;
    uint64_t u64 = 0xfedcba9876543210ull;
    int64_t i64 = -0x123456789abcdefll;
    double f64 = -2.25e-300;
    CU_ASSERT(kvv_gguf_add_kv(w, "t.u8", KVV_GGUF_UINT8, 0, 1, &u8) == 0);
    CU_ASSERT(kvv_gguf_add_kv(w, "t.i8", KVV_GGUF_INT8, 0, 1, &i8) == 0);
    CU_ASSERT(kvv_gguf_add_kv(w, "t.u16", KVV_GGUF_UINT16, 0, 1, &u16) == 0);
    CU_ASSERT(kvv_gguf_add_kv(w, "t.i16", KVV_GGUF_INT16, 0, 1, &i16) == 0);
    CU_ASSERT(kvv_gguf_add_kv(w, "t.u32", KVV_GGUF_UINT32, 0, 1, &u32) == 0);
    CU_ASSERT(kvv_gguf_add_kv(w, "t.i32", KVV_GGUF_INT32, 0, 1, &i32) == 0);
    CU_ASSERT(kvv_gguf_add_kv(w, "t.f32", KVV_GGUF_FLOAT32, 0, 1, &f32) == 0);
    CU_ASSERT(kvv_gguf_add_kv(w, "t.bool", KVV_GGUF_BOOL, 0, 1, &b) == 0);
    CU_ASSERT(kvv_gguf_add_str(w, "t.str", "h\xc3\xa9llo") == 0);
    CU_ASSERT(kvv_gguf_add_kv(w, "t.u64", KVV_GGUF_UINT64, 0, 1, &u64) == 0);
    CU_ASSERT(kvv_gguf_add_kv(w, "t.i64", KVV_GGUF_INT64, 0, 1, &i64) == 0);
    CU_ASSERT(kvv_gguf_add_kv(w, "t.f64", KVV_GGUF_FLOAT64, 0, 1, &f64) == 0);
    int32_t ai[5] = {-1, 0, 1, 1 << 30, -7};
    float af[3] = {0.5f, -0.25f, 1e30f};
    const char *as[4] = {"", "a", "<0x0A>", "longer string"};
    CU_ASSERT(kvv_gguf_add_kv(w, "t.arr.i32", KVV_GGUF_ARRAY, KVV_GGUF_INT32, 5, ai) == 0);
    CU_ASSERT(kvv_gguf_add_kv(w, "t.arr.f32", KVV_GGUF_ARRAY, KVV_GGUF_FLOAT32, 3, af) == 0);
    CU_ASSERT(kvv_gguf_add_kv(w, "t.arr.str", KVV_GGUF_ARRAY, KVV_GGUF_STRING, 4, as) == 0);
    CU_ASSERT(kvv_gguf_add_kv(w, "t.arr.empty", KVV_GGUF_ARRAY, KVV_GGUF_UINT8, 0, NULL) == 0);
    /* nested arrays are refused by the writer as by the reader */
    CU_ASSERT(kvv_gguf_add_kv(w, "t.nested", KVV_GGUF_ARRAY, KVV_GGUF_ARRAY, 0, NULL) != 0);

    float v[64];
    for (int i = 0; i < 64; i++)
        v[i] = (float)i - 20.5f;
    uint8_t q8[2 * 34] = {0}, q4[18] = {0}, f16[6] = {1, 2, 3, 4, 5, 6};
    int64_t ne1[1] = {64}, ne2[2] = {32, 2}, ne3[3] = {32, 1, 1}, ne4[2] = {3, 1};
    CU_ASSERT(kvv_gguf_add_tensor(w, "a.f32", KVV_GGML_F32, 1, ne1, v, sizeof v) == 0);
    CU_ASSERT(kvv_gguf_add_tensor(w, "b.q8_0", KVV_GGML_Q8_0, 2, ne2, q8, sizeof q8) == 0);
    CU_ASSERT(kvv_gguf_add_tensor(w, "c.q4_0", KVV_GGML_Q4_0, 3, ne3, q4, sizeof q4) == 0);
    CU_ASSERT(kvv_gguf_add_tensor(w, "d.f16", KVV_GGML_F16, 2, ne4, f16, sizeof f16) == 0);
    /* a shape that does not match the bytes is refused */
    CU_ASSERT(kvv_gguf_add_tensor(w, "e.bad", KVV_GGML_F32, 1, ne1, v, 8) != 0);
    uint8_t *out;
    CU_ASSERT_FATAL(kvv_gguf_write(w, &out, size, err, sizeof err) == 0);
    kvv_gguf_writer_free(w);
    return out;
}

static void check_sample(const uint8_t *buf, size_t size, uint32_t alignment)
{
    kvv_gguf g;
    int rc = kvv_gguf_parse(buf, size, &g, err, sizeof err);
    if (rc)
        printf("\nparse: %s\n", err);
    CU_ASSERT_FATAL(rc == 0);
    CU_ASSERT(g.version == 3 && g.alignment == alignment && g.ntensors == 4);
    int64_t i;
    double d;
    const char *s;
    size_t len;
    CU_ASSERT(kvv_gguf_get_int(&g, "t.u8", &i) == 0 && i == 200);
    CU_ASSERT(kvv_gguf_get_int(&g, "t.i8", &i) == 0 && i == -100);
    CU_ASSERT(kvv_gguf_get_int(&g, "t.u16", &i) == 0 && i == 60000);
    CU_ASSERT(kvv_gguf_get_int(&g, "t.i16", &i) == 0 && i == -30000);
    CU_ASSERT(kvv_gguf_get_int(&g, "t.u32", &i) == 0 && i == 4000000000ll);
    CU_ASSERT(kvv_gguf_get_int(&g, "t.i32", &i) == 0 && i == -2000000000);
    CU_ASSERT(kvv_gguf_get_int(&g, "t.u64", &i) != 0); /* does not fit an int64 */
    CU_ASSERT(kvv_gguf_find(&g, "t.u64")->type == KVV_GGUF_UINT64 &&
              !memcmp(kvv_gguf_find(&g, "t.u64")->data, "\x10\x32\x54\x76\x98\xba\xdc\xfe", 8));
    CU_ASSERT(kvv_gguf_get_int(&g, "t.i64", &i) == 0 && i == -0x123456789abcdefll);
    CU_ASSERT(kvv_gguf_get_float(&g, "t.f32", &d) == 0 && d == 1.5);
    CU_ASSERT(kvv_gguf_get_float(&g, "t.f64", &d) == 0 && d == -2.25e-300);
    CU_ASSERT(kvv_gguf_get_int(&g, "t.f32", &i) != 0 && kvv_gguf_get_float(&g, "t.u8", &d) != 0);
    CU_ASSERT(kvv_gguf_find(&g, "t.bool")->type == KVV_GGUF_BOOL && kvv_gguf_find(&g, "t.bool")->data[0] == 1);
    CU_ASSERT(kvv_gguf_get_str(&g, "t.str", &s, &len) == 0 && len == 6 && !memcmp(s, "h\xc3\xa9llo", 6));
    const kvv_gguf_kv *a = kvv_gguf_find(&g, "t.arr.i32");
    CU_ASSERT_FATAL(a && a->type == KVV_GGUF_ARRAY && a->elem == KVV_GGUF_INT32 && a->n == 5);
    CU_ASSERT(kvv_gguf_arr_num(a, 3) == (double)(1 << 30) && kvv_gguf_arr_num(a, 4) == -7);
    a = kvv_gguf_find(&g, "t.arr.f32");
    CU_ASSERT_FATAL(a && a->n == 3);
    CU_ASSERT(kvv_gguf_arr_num(a, 1) == -0.25 && kvv_gguf_arr_num(a, 2) == (double)1e30f);
    a = kvv_gguf_find(&g, "t.arr.str");
    CU_ASSERT_FATAL(a && a->elem == KVV_GGUF_STRING && a->n == 4);
    CU_ASSERT(a->lens[0] == 0 && a->lens[2] == 6 && !memcmp(a->strs[3], "longer string", 13));
    a = kvv_gguf_find(&g, "t.arr.empty");
    CU_ASSERT(a && a->n == 0 && a->elem == KVV_GGUF_UINT8);
    CU_ASSERT(kvv_gguf_find(&g, "t.nested") == NULL);

    const kvv_gguf_tensor *t = kvv_gguf_find_tensor(&g, "a.f32");
    CU_ASSERT_FATAL(t != NULL);
    CU_ASSERT(t->ndim == 1 && t->ne[0] == 64 && t->ne[1] == 1 && t->nbytes == 256 && t->type == KVV_GGML_F32);
    float v0;
    memcpy(&v0, t->data + 4 * 21, 4);
    CU_ASSERT(v0 == 0.5f);
    t = kvv_gguf_find_tensor(&g, "b.q8_0");
    CU_ASSERT(t && t->ndim == 2 && t->ne[1] == 2 && t->nbytes == 68);
    t = kvv_gguf_find_tensor(&g, "c.q4_0");
    CU_ASSERT(t && t->ndim == 3 && t->nbytes == 18);
    t = kvv_gguf_find_tensor(&g, "d.f16");
    CU_ASSERT(t && t->nbytes == 6 && !memcmp(t->data, "\1\2\3\4\5\6", 6));
    for (uint64_t k = 0; k < g.ntensors; k++)
        CU_ASSERT(g.tensors[k].offset % alignment == 0 && (g.data_offset + g.tensors[k].offset) % alignment == 0);
    kvv_gguf_free(&g);
}

static void test_round_trip(void)
{
    static const uint32_t aligns[] = {32, 1, 8, 64, 4096};
    for (size_t i = 0; i < sizeof aligns / sizeof *aligns; i++) {
        size_t size;
        uint8_t *buf = sample(aligns[i], &size);
        check_sample(buf, size, aligns[i]);
        free(buf);
    }
    CU_ASSERT(kvv_gguf_writer_new(3) == NULL); /* not a power of two */
}

/* ---- the probe model: parse, rewrite through the writer, same bytes ---- */

static char *corpus(size_t *len)
{
    char path[1024];
    CU_ASSERT_FATAL(kvv_corpus_path("probe.txt", path, sizeof path) != NULL);
    char *t = kvv_read_file(path, len, err, sizeof err);
    CU_ASSERT_FATAL(t != NULL);
    return t;
}

static uint8_t *probe_file(int hybrid, size_t *size)
{
    size_t len;
    char *text = corpus(&len);
    kvv_probe_params p = kvv_probe_default();
    p.hybrid = hybrid;
    uint8_t *buf;
    int rc = kvv_probe_build(&p, text, len, &buf, size, err, sizeof err);
    free(text);
    CU_ASSERT_FATAL(rc == 0);
    return buf;
}

/* a writer holding what g holds, keys and tensors in order; `drop` names a
 * key or tensor to leave out, `mutate` gets a chance to change the writer */
static uint8_t *rewrite(const kvv_gguf *g, const char *drop, size_t *size)
{
    kvv_gguf_writer *w = kvv_gguf_writer_new(g->alignment);
    for (uint64_t i = 0; i < g->nkv; i++) {
        const kvv_gguf_kv *kv = &g->kv[i];
        if ((drop && !strcmp(kv->key, drop)) || !strcmp(kv->key, "general.alignment"))
            continue;
        if (kv->type == KVV_GGUF_ARRAY && kv->elem == KVV_GGUF_STRING) {
            char **s = calloc((size_t)kv->n + 1, sizeof *s);
            for (uint64_t k = 0; k < kv->n; k++) {
                s[k] = calloc((size_t)kv->lens[k] + 1, 1);
                memcpy(s[k], kv->strs[k], (size_t)kv->lens[k]);
            }
            CU_ASSERT(kvv_gguf_add_kv(w, kv->key, kv->type, kv->elem, kv->n, s) == 0);
            for (uint64_t k = 0; k < kv->n; k++)
                free(s[k]);
            free(s);
        } else {
            CU_ASSERT(kvv_gguf_add_kv(w, kv->key, kv->type, kv->elem, kv->n, kv->data) == 0);
        }
    }
    for (uint64_t i = 0; i < g->ntensors; i++) {
        const kvv_gguf_tensor *t = &g->tensors[i];
        if (drop && !strcmp(t->name, drop))
            continue;
        CU_ASSERT(kvv_gguf_add_tensor(w, t->name, t->type, t->ndim, t->ne, t->data, (size_t)t->nbytes) == 0);
    }
    uint8_t *out;
    CU_ASSERT_FATAL(kvv_gguf_write(w, &out, size, err, sizeof err) == 0);
    kvv_gguf_writer_free(w);
    return out;
}

static void test_probe_rewrite(void)
{
    for (int hybrid = 0; hybrid < 2; hybrid++) {
        size_t size, size2;
        uint8_t *buf = probe_file(hybrid, &size);
        kvv_gguf g;
        CU_ASSERT_FATAL(kvv_gguf_parse(buf, size, &g, err, sizeof err) == 0);
        const char *arch;
        size_t len;
        CU_ASSERT(kvv_gguf_get_str(&g, "general.architecture", &arch, &len) == 0);
        CU_ASSERT(len == (hybrid ? 10u : 5u) && !memcmp(arch, hybrid ? "kvv-hybrid" : "llama", len));
        CU_ASSERT(kvv_gguf_find_tensor(&g, "blk.1.attn_q.weight") != NULL || hybrid);
        CU_ASSERT(kvv_gguf_find_tensor(&g, "blk.1.ssm_a") != NULL || !hybrid);
        uint8_t *again = rewrite(&g, NULL, &size2);
        CU_ASSERT(size2 == size && !memcmp(again, buf, size));
        kvv_gguf_free(&g);
        free(again);
        free(buf);
    }
}

/* ---- malformed files ---- */

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* parse must fail with a message containing `want` */
static void expect_reject(const uint8_t *buf, size_t size, const char *want)
{
    kvv_gguf g;
    err[0] = 0;
    int rc = kvv_gguf_parse(buf, size, &g, err, sizeof err);
    CU_ASSERT(rc != 0);
    if (rc == 0) {
        kvv_gguf_free(&g);
        printf("\naccepted a file that should fail with '%s'\n", want);
    } else if (!strstr(err, want)) {
        printf("\nexpected '%s', got '%s'\n", want, err);
        CU_FAIL("wrong message");
    }
}

/* A minimal file: header, `nkv` key/values and one f32 tensor of 8 values,
 * laid out by hand so that single fields can be corrupted. */
typedef struct {
    uint8_t b[512];
    size_t n;
    size_t off_ntensors, off_nkv, off_keylen, off_type, off_ndims, off_ne0, off_ttype, off_toff, data;
} handmade;

static void make(handmade *h)
{
    memset(h, 0, sizeof *h);
    uint8_t *p = h->b;
    size_t n = 0;
    put_le(p + n, KVV_GGUF_MAGIC, 4), n += 4;
    put_le(p + n, 3, 4), n += 4;
    h->off_ntensors = n;
    put_le(p + n, 1, 8), n += 8;
    h->off_nkv = n;
    put_le(p + n, 1, 8), n += 8;
    h->off_keylen = n;
    put_le(p + n, 5, 8), n += 8;
    memcpy(p + n, "a.key", 5), n += 5;
    h->off_type = n;
    put_le(p + n, KVV_GGUF_UINT32, 4), n += 4;
    put_le(p + n, 7, 4), n += 4;
    put_le(p + n, 4, 8), n += 8; /* tensor name */
    memcpy(p + n, "w.t0", 4), n += 4;
    h->off_ndims = n;
    put_le(p + n, 1, 4), n += 4;
    h->off_ne0 = n;
    put_le(p + n, 8, 8), n += 8;
    h->off_ttype = n;
    put_le(p + n, KVV_GGML_F32, 4), n += 4;
    h->off_toff = n;
    put_le(p + n, 0, 8), n += 8;
    h->data = (n + 31) / 32 * 32;
    n = h->data + 32;
    h->n = n;
}

static void test_handmade_accepted(void)
{
    handmade h;
    make(&h);
    kvv_gguf g;
    CU_ASSERT_FATAL(kvv_gguf_parse(h.b, h.n, &g, err, sizeof err) == 0);
    CU_ASSERT(g.ntensors == 1 && g.data_offset == h.data && g.tensors[0].nbytes == 32);
    kvv_gguf_free(&g);
}

static void test_malformed(void)
{
    handmade h;
    make(&h);
    /* every proper prefix is truncated somewhere */
    for (size_t n = 0; n < h.n; n++)
        expect_reject(h.b, n, n < 4 ? "truncated" : "");
    expect_reject(NULL, 0, "truncated");

    make(&h);
    memcpy(h.b, "GGUG", 4);
    expect_reject(h.b, h.n, "not a GGUF file");
    make(&h);
    put_le(h.b + 4, 1, 4);
    expect_reject(h.b, h.n, "version 1");
    make(&h);
    put_le(h.b + 4, 0x03000000, 4);
    expect_reject(h.b, h.n, "big-endian");
    make(&h);
    put_le(h.b + 4, 7, 4);
    expect_reject(h.b, h.n, "version 7");
    make(&h);
    put_le(h.b + h.off_nkv, 1ull << 60, 8);
    expect_reject(h.b, h.n, "key/values cannot fit");
    make(&h);
    put_le(h.b + h.off_ntensors, 0xffffffffffffffffull, 8);
    expect_reject(h.b, h.n, "tensors cannot fit");
    make(&h);
    put_le(h.b + h.off_keylen, 1ull << 40, 8);
    expect_reject(h.b, h.n, "truncated");
    make(&h);
    put_le(h.b + h.off_keylen, 0, 8);
    expect_reject(h.b, h.n, "empty");
    make(&h);
    put_le(h.b + h.off_type, 13, 4);
    expect_reject(h.b, h.n, "unknown value type");
    make(&h);
    put_le(h.b + h.off_type, KVV_GGUF_BOOL, 4);
    put_le(h.b + h.off_type + 4, 2, 1);
    expect_reject(h.b, h.n, "bool");
    make(&h);
    put_le(h.b + h.off_ndims, 0, 4);
    expect_reject(h.b, h.n, "dimensions");
    make(&h);
    put_le(h.b + h.off_ndims, 5, 4);
    expect_reject(h.b, h.n, "dimensions");
    make(&h);
    put_le(h.b + h.off_ne0, 1ull << 63, 8);
    expect_reject(h.b, h.n, "negative");
    make(&h);
    put_le(h.b + h.off_ttype, 4, 4); /* a type id ggml removed */
    expect_reject(h.b, h.n, "unknown to this reader");
    make(&h);
    put_le(h.b + h.off_ttype, KVV_GGML_Q8_0, 4); /* 8 values: not a block of 32 */
    expect_reject(h.b, h.n, "not a multiple");
    make(&h);
    put_le(h.b + h.off_toff, 16, 8);
    expect_reject(h.b, h.n, "not a multiple of the alignment");
    make(&h);
    put_le(h.b + h.off_toff, 32, 8);
    expect_reject(h.b, h.n, "outside the data section");
    make(&h);
    put_le(h.b + h.off_toff, 0xffffffffffffffe0ull, 8);
    expect_reject(h.b, h.n, "outside the data section");
    make(&h);
    put_le(h.b + h.off_ne0, 9, 8); /* 36 bytes: one past the end */
    expect_reject(h.b, h.n, "outside the data section");
    make(&h);
    put_le(h.b + h.off_ne0, (1ull << 61) + 1, 8);
    expect_reject(h.b, h.n, "outside the data section");
    make(&h);
    put_le(h.b + h.off_ne0, (1ull << 62) + 1, 8); /* 2^64 + 4 bytes */
    expect_reject(h.b, h.n, "byte size overflows");
}

static void test_malformed_written(void)
{
    kvv_gguf_writer *w = kvv_gguf_writer_new(32);
    uint32_t three = 3;
    int16_t al = 32;
    uint8_t *buf;
    size_t size;
    kvv_gguf_add_kv(w, "general.alignment", KVV_GGUF_UINT32, 0, 1, &three);
    CU_ASSERT_FATAL(kvv_gguf_write(w, &buf, &size, err, sizeof err) == 0);
    expect_reject(buf, size, "not a power of two");
    free(buf);
    kvv_gguf_writer_free(w);

    w = kvv_gguf_writer_new(32);
    kvv_gguf_add_kv(w, "general.alignment", KVV_GGUF_INT16, 0, 1, &al);
    CU_ASSERT_FATAL(kvv_gguf_write(w, &buf, &size, err, sizeof err) == 0);
    expect_reject(buf, size, "must be a uint32");
    free(buf);
    kvv_gguf_writer_free(w);

    w = kvv_gguf_writer_new(32);
    kvv_gguf_add_u32(w, "same", 1);
    kvv_gguf_add_u32(w, "same", 2);
    CU_ASSERT_FATAL(kvv_gguf_write(w, &buf, &size, err, sizeof err) == 0);
    expect_reject(buf, size, "duplicate key 'same'");
    free(buf);
    kvv_gguf_writer_free(w);

    float x[32] = {0};
    int64_t ne[1] = {32};
    w = kvv_gguf_writer_new(32);
    kvv_gguf_add_tensor(w, "t", KVV_GGML_F32, 1, ne, x, sizeof x);
    kvv_gguf_add_tensor(w, "t", KVV_GGML_F32, 1, ne, x, sizeof x);
    CU_ASSERT_FATAL(kvv_gguf_write(w, &buf, &size, err, sizeof err) == 0);
    expect_reject(buf, size, "duplicate tensor 't'");
    free(buf);
    kvv_gguf_writer_free(w);

    /* two tensors; then the second one's offset moved onto the first.  Layout:
     * a 24-byte header, each info = name (8 + 2) + n_dims 4 + ne 8 + type 4 +
     * offset 8, so the second offset field is at 24 + 34 + 26. */
    w = kvv_gguf_writer_new(32);
    kvv_gguf_add_tensor(w, "t0", KVV_GGML_F32, 1, ne, x, sizeof x);
    kvv_gguf_add_tensor(w, "t1", KVV_GGML_F32, 1, ne, x, sizeof x);
    CU_ASSERT_FATAL(kvv_gguf_write(w, &buf, &size, err, sizeof err) == 0);
    kvv_gguf g;
    CU_ASSERT_FATAL(kvv_gguf_parse(buf, size, &g, err, sizeof err) == 0);
    CU_ASSERT(g.tensors[1].offset == 128);
    kvv_gguf_free(&g);
    CU_ASSERT_FATAL(buf[24 + 34 + 26] == 128);
    put_le(buf + 24 + 34 + 26, 0, 8);
    expect_reject(buf, size, "overlap");
    free(buf);
    kvv_gguf_writer_free(w);

    /* an array of arrays, built by hand after a valid array */
    w = kvv_gguf_writer_new(32);
    uint8_t one = 1;
    kvv_gguf_add_kv(w, "arr", KVV_GGUF_ARRAY, KVV_GGUF_UINT8, 1, &one);
    CU_ASSERT_FATAL(kvv_gguf_write(w, &buf, &size, err, sizeof err) == 0);
    put_le(buf + 24 + 8 + 3 + 4, KVV_GGUF_ARRAY, 4);
    expect_reject(buf, size, "arrays of arrays");
    free(buf);
    kvv_gguf_writer_free(w);
}

/* Every prefix of a real model file, and random byte flips: an error or a
 * valid parse, never a read outside the buffer (ASan builds check that). */
static void test_fuzz_like(void)
{
    size_t size;
    uint8_t *buf = probe_file(1, &size);
    kvv_gguf g;
    CU_ASSERT_FATAL(kvv_gguf_parse(buf, size, &g, err, sizeof err) == 0);
    size_t data = (size_t)g.data_offset;
    kvv_gguf_free(&g);
    /* each prefix of the header and the metadata, then a few through the data */
    for (size_t n = 0; n < data; n += n < 2048 ? 1 : 7) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
        memcpy(copy, buf, n);
        CU_ASSERT(kvv_gguf_parse(copy, n, &g, err, sizeof err) != 0);
        free(copy);
    }
    for (size_t n = data; n < size; n += size / 17) {
        CU_ASSERT(kvv_gguf_parse(buf, n, &g, err, sizeof err) != 0 && strstr(err, "outside the data section"));
    }
    uint64_t s = 12345;
    int accepted = 0, loaded = 0;
    for (int trial = 0; trial < 3000; trial++) {
        size_t at[4];
        uint8_t was[4];
        int flips = 1 + trial % 4;
        for (int f = 0; f < flips; f++) { /* in place, undone below: the file is large */
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            at[f] = (s >> 33) % data;
            was[f] = buf[at[f]];
            buf[at[f]] ^= (uint8_t)(1u << ((s >> 20) % 8));
        }
        if (kvv_gguf_parse(buf, size, &g, err, sizeof err) == 0) {
            accepted++;
            kvv_model m;
            if (loaded < 10 && kvv_model_load(&g, &m, err, sizeof err) == 0) { /* a few: loading dequantizes */
                loaded++;
                kvv_model_free(&m);
            }
            kvv_gguf_free(&g);
        }
        for (int f = flips - 1; f >= 0; f--)
            buf[at[f]] = was[f];
    }
    CU_ASSERT(accepted < 3000); /* header flips must be caught */
    free(buf);
}

/* ---- the model loader refuses what it does not know ---- */

static void expect_load_fail(const kvv_gguf *g, const char *drop, const char *want)
{
    size_t size;
    uint8_t *buf = rewrite(g, drop, &size);
    kvv_gguf g2;
    CU_ASSERT_FATAL(kvv_gguf_parse(buf, size, &g2, err, sizeof err) == 0);
    kvv_model m;
    int rc = kvv_model_load(&g2, &m, err, sizeof err);
    CU_ASSERT(rc != 0);
    if (rc == 0)
        kvv_model_free(&m);
    else if (!strstr(err, want))
        printf("\nexpected '%s', got '%s'\n", want, err);
    CU_ASSERT(rc != 0 && strstr(err, want) != NULL);
    kvv_gguf_free(&g2);
    free(buf);
}

static void test_loader(void)
{
    size_t size;
    uint8_t *buf = probe_file(0, &size);
    kvv_gguf g;
    CU_ASSERT_FATAL(kvv_gguf_parse(buf, size, &g, err, sizeof err) == 0);
    kvv_model m;
    CU_ASSERT_FATAL(kvv_model_load(&g, &m, err, sizeof err) == 0);
    CU_ASSERT(!strcmp(m.arch, "llama") && m.n_layer == 2 && m.n_head == 8 && m.n_head_kv == 2 && m.dk == 128 &&
              m.n_vocab == 32 && m.n_embd == 256 && m.rope_base == 500000.0 && m.unk_id == 0);
    int32_t t[8];
    CU_ASSERT(kvv_model_tokenize(&m, "the #key", 8, t, 8) == 8 && t[0] == 25 && t[3] == 2 && t[4] == 0);
    kvv_model_free(&m);

    expect_load_fail(&g, "blk.1.ffn_up.weight", "missing tensor blk.1.ffn_up.weight");
    expect_load_fail(&g, "llama.attention.layer_norm_rms_epsilon", "missing key");
    expect_load_fail(&g, "tokenizer.ggml.tokens", "tokenizer.ggml.tokens");
    expect_load_fail(&g, "general.architecture", "general.architecture");

    /* an extra tensor, an unknown architecture, another weight type, MoE */
    kvv_gguf_writer *w;
    uint8_t *b2;
    size_t s2;
    kvv_gguf g2;
    for (int variant = 0; variant < 5; variant++) {
        w = kvv_gguf_writer_new(32);
        for (uint64_t i = 0; i < g.nkv; i++) {
            const kvv_gguf_kv *kv = &g.kv[i];
            if (kv->type == KVV_GGUF_ARRAY && kv->elem == KVV_GGUF_STRING) {
                const char *toks[32];
                char store[32][8];
                for (int k = 0; k < 32; k++) {
                    memcpy(store[k], kv->strs[k], (size_t)kv->lens[k]);
                    store[k][kv->lens[k]] = 0;
                    toks[k] = store[k];
                }
                kvv_gguf_add_kv(w, kv->key, kv->type, kv->elem, kv->n, toks);
            } else if (variant == 1 && !strcmp(kv->key, "general.architecture")) {
                kvv_gguf_add_str(w, kv->key, "mamba");
            } else if (variant == 4 && !strcmp(kv->key, "llama.attention.head_count_kv")) {
                kvv_gguf_add_u32(w, kv->key, 3);
            } else {
                kvv_gguf_add_kv(w, kv->key, kv->type, kv->elem, kv->n, kv->data);
            }
        }
        if (variant == 3)
            kvv_gguf_add_u32(w, "llama.expert_count", 8);
        for (uint64_t i = 0; i < g.ntensors; i++) {
            const kvv_gguf_tensor *t2 = &g.tensors[i];
            if (variant == 2 && !strcmp(t2->name, "output_norm.weight")) {
                uint8_t q81[36 * 8] = {0}; /* q8_1: a type the loader does not dequantize */
                kvv_gguf_add_tensor(w, t2->name, 9, t2->ndim, t2->ne, q81, sizeof q81);
            } else {
                kvv_gguf_add_tensor(w, t2->name, t2->type, t2->ndim, t2->ne, t2->data, (size_t)t2->nbytes);
            }
        }
        if (variant == 0)
            kvv_gguf_add_tensor(w, "rope_freqs.weight", KVV_GGML_F32, 1, (int64_t[]){64}, g.tensors[0].data, 256);
        CU_ASSERT_FATAL(kvv_gguf_write(w, &b2, &s2, err, sizeof err) == 0);
        CU_ASSERT_FATAL(kvv_gguf_parse(b2, s2, &g2, err, sizeof err) == 0);
        static const char *const want[] = {"unexpected tensor rope_freqs.weight", "architecture 'mamba'",
                                           "type q8_1 are not supported", "mixture-of-experts",
                                           "not a multiple of head_count_kv"};
        int rc = kvv_model_load(&g2, &m, err, sizeof err);
        CU_ASSERT(rc != 0 && strstr(err, want[variant]) != NULL);
        if (rc == 0)
            kvv_model_free(&m);
        else if (!strstr(err, want[variant]))
            printf("\nvariant %d: expected '%s', got '%s'\n", variant, want[variant], err);
        kvv_gguf_free(&g2);
        free(b2);
        kvv_gguf_writer_free(w);
    }
    kvv_gguf_free(&g);
    free(buf);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"round trip of every value type, tensors and alignments", test_round_trip},
                                     {"probe model rewritten byte for byte", test_probe_rewrite},
                                     {"hand-made file accepted", test_handmade_accepted},
                                     {"malformed files rejected with a message", test_malformed},
                                     {"malformed written files rejected", test_malformed_written},
                                     {"prefixes and byte flips never crash", test_fuzz_like},
                                     {"loader refuses what it does not know", test_loader},
                                     {NULL, NULL}};
    kvv_add_suite("gguf", tests);
}
