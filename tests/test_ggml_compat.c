/* The ggml adapter on ggml of 2025 (kernels/ggml/ggml_child.c and the type
 * table walk of ggml_typemap.c), against a stand-in for libggml whose
 * functions assert as that ggml's did: a question asked in a child comes
 * back with ggml's assertion text, the attention mask is padded exactly
 * where ggml_flash_attn_ext asserts GGML_KQ_MASK_PAD, and the type table
 * is walked to its end without ggml_get_type_traits(n) past it (which
 * aborted before 2026). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ggml/ggml_adapter.h"
#include "tests/harness.h"

/* ---- a stand-in ggml: tensors are rows counts, asserts print and abort ---- */

typedef struct {
    int64_t ne1;
} fake_tensor;

static fake_tensor tensors[16];
static int ntensors;
static int min_mask_rows; /* what the stand-in's flash attention asserts */

static void fake_assert(const char *what)
{
    fprintf(stderr, "ggml.c:5025: GGML_ASSERT(%s) failed\n", what);
    abort();
}

static size_t fake_overhead(void)
{
    return 368;
}

static ggml_context *fake_init(gg_init_params p)
{
    (void)p;
    ntensors = 0;
    return (ggml_context *)tensors;
}

static ggml_tensor *fake_new_3d(ggml_context *ctx, int type, int64_t ne0, int64_t ne1, int64_t ne2)
{
    (void)ctx, (void)type, (void)ne0, (void)ne2;
    if (ntensors == 16)
        return NULL;
    tensors[ntensors].ne1 = ne1;
    return (ggml_tensor *)&tensors[ntensors++];
}

static ggml_tensor *fake_fa(ggml_context *ctx, ggml_tensor *q, ggml_tensor *k, ggml_tensor *v, ggml_tensor *mask,
                            float scale, float max_bias, float softcap)
{
    (void)ctx, (void)k, (void)v, (void)scale, (void)max_bias, (void)softcap;
    if (mask && ((fake_tensor *)mask)->ne1 < min_mask_rows)
        fake_assert("mask->ne[1] >= GGML_PAD(q->ne[1], GGML_KQ_MASK_PAD)");
    return q;
}

static void fake_api(gg_adapter *A, int mask_rows)
{
    memset(A, 0, sizeof *A);
    A->api.tensor_overhead = fake_overhead;
    A->api.init = fake_init;
    A->api.new_tensor_3d = fake_new_3d;
    A->api.flash_attn_ext = fake_fa;
    min_mask_rows = mask_rows;
}

/* ---- gg_ask_child ---- */

static int asserts(gg_adapter *A, const void *arg, int *answer)
{
    (void)A, (void)arg, (void)answer;
    fake_assert("group_size == 128");
    return 1;
}

static int answers(gg_adapter *A, const void *arg, int *answer)
{
    (void)A;
    *answer = *(const int *)arg;
    return 1;
}

static int declines(gg_adapter *A, const void *arg, int *answer)
{
    (void)A, (void)arg;
    *answer = 3;
    return 0;
}

static void test_ask_child(void)
{
    gg_adapter *A = calloc(1, sizeof *A);
    int ans = 0, arg = 42;
    char msg[300];
    CU_ASSERT_EQUAL(gg_ask_child(A, answers, &arg, &ans, msg, sizeof msg), 1);
    CU_ASSERT_EQUAL(ans, 42);
    CU_ASSERT_EQUAL(gg_ask_child(A, asserts, &arg, &ans, msg, sizeof msg), 0);
    CU_ASSERT_STRING_EQUAL(msg, "GGML_ASSERT(group_size == 128) failed");
    CU_ASSERT_EQUAL(gg_ask_child(A, declines, &arg, &ans, msg, sizeof msg), 0);
    free(A);
}

/* ---- the mask's padding ---- */

static void test_mask_padded_where_asserted(void)
{
    gg_adapter *A = malloc(sizeof *A);
    char why[400] = "";
    fake_api(A, 1); /* ggml of 2026: n_q rows */
    CU_ASSERT_EQUAL(gg_mask_pad(A, why, sizeof why), 1);
    fake_api(A, 64); /* before December 2025: GGML_PAD(n_q, 64) */
    CU_ASSERT_EQUAL(gg_mask_pad(A, why, sizeof why), 64);
    CU_ASSERT_EQUAL(gg_mask_pad(A, why, sizeof why), 64); /* asked once */
    fake_api(A, 1000); /* takes neither: a decline with ggml's words */
    CU_ASSERT_EQUAL(gg_mask_pad(A, why, sizeof why), -1);
    CU_ASSERT(strstr(why, "GGML_ASSERT(mask->ne[1] >= GGML_PAD") != NULL);
    free(A);
}

/* ---- the type table: ggml_get_type_traits asserts past its end ---- */

#define NTYPES 40
static struct {
    gg_type_traits t[NTYPES];
    gg_type_traits past[4]; /* what follows the table in memory: no name of the library */
} table;

static const gg_type_traits *traits_asserting(int type)
{
    if (type < 0 || type >= NTYPES)
        fake_assert("type < GGML_TYPE_COUNT");
    return &table.t[type];
}

static void zeros(const void *x, float *y, int64_t k)
{
    (void)x;
    memset(y, 0, sizeof *y * (size_t)k);
}

static int64_t blck(int type)
{
    return table.t[type].blck_size;
}

static size_t tsize(int type)
{
    return table.t[type].type_size;
}

static void test_type_table_walked_to_its_end(void)
{
    static const char *const names[NTYPES] = {
        "f32",  "f16",  "q4_0", "q4_1", NULL,   NULL,   "q5_0", "q5_1", "q8_0", "q8_1", "t10",  "t11",  "t12",  "t13",
        "t14",  "t15",  "t16",  "t17",  "t18",  "t19",  "iq4_nl", "t21", "t22", "t23",  "t24",  "t25",  "t26",  "t27",
        "t28",  "t29",  "bf16", "t31",  "t32",  "t33",  "t34",  "t35",  "t36",  "t37",  "t38",  "turbo3_0"};
    for (int i = 0; i < NTYPES; i++)
        table.t[i] = (gg_type_traits){names[i], 32, 0, 34, 1, zeros, NULL};
    table.t[NTYPES - 1].blck_size = 128;
    table.t[NTYPES - 1].type_size = 50;
    char *heap_name = strdup("on the heap, not in the library");
    for (int i = 0; i < 4; i++)
        table.past[i].type_name = heap_name;
    gg_api api = {0};
    api.get_type_traits = traits_asserting;
    api.blck_size = blck;
    api.type_size = tsize;
    gg_typemap m;
    gg_typemap_default(&m, 0);
    /* the last entry is found (and probed: no turbo3 version stores zeros),
     * and nothing past it is asked for */
    CU_ASSERT_EQUAL(gg_typemap_discover(&m, &api, 0), 1);
    CU_ASSERT_EQUAL(m.found[0].ggml, NTYPES - 1);
    CU_ASSERT_STRING_EQUAL(m.found[0].name, "turbo3_0");
    free(heap_name);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"a question in a child comes back with ggml's assertion", test_ask_child},
                                     {"the mask is padded where ggml asserts it", test_mask_padded_where_asserted},
                                     {"the type table is walked without asking past its end",
                                      test_type_table_walked_to_its_end},
                                     {NULL, NULL}};
    kvv_add_suite("ggml adapter on older ggml", tests);
}
