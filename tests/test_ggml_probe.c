/* The ggml adapter's format probe (kernels/ggml/ggml_probe.c), on
 * dequantizers written here: the reference's own for every TurboQuant
 * format version must be recognised as that version, and each planted
 * defect (another table, another packing, a norm that is not a scale, a
 * dequantizer that rotates back, one that writes past its output, a
 * geometry no version has) must match nothing and say what it read. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/ggml/ggml_adapter.h"
#include "kvv/types.h"
#include "ref/ref.h"
#include "tests/harness.h"

/* ---- dequantizers over the reference ---- */

static kvv_type cur_type;
static void ref_to_float(const void *x, float *y, int64_t k)
{
    const kvv_type_info *ti = kvv_type_get(cur_type);
    kvv_ref_type_get(cur_type)->dequantize(x, y, 1, k); /* one row of k values: whole blocks */
    (void)ti;
}

static gg_probe probe_ref(kvv_type t, const char *lib_name)
{
    cur_type = t;
    const kvv_type_info *ti = kvv_type_get(t);
    gg_probe p;
    gg_probe_type(ref_to_float, lib_name, 42, ti->block, (size_t)ti->bytes, KVV_TYPE_NONE, &p);
    return p;
}

static void test_reference_versions_match(void)
{
    static const struct {
        kvv_type t;
        const char *lib;
    } rows[] = {{KVV_TURBO2, "turbo2"},          {KVV_TURBO2_QK128, "turbo2_0"}, {KVV_TURBO3, "turbo3"},
                {KVV_TURBO3_QK128, "TURBO3_0"},  {KVV_TURBO4, "turbo4"},       {KVV_TURBO4_NARROW, "turbo4_0"}};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        gg_probe p = probe_ref(rows[i].t, rows[i].lib);
        CU_ASSERT_EQUAL(p.match, rows[i].t);
        if (p.match != rows[i].t)
            fprintf(stderr, "  %s: %s\n", kvv_type_name(rows[i].t), p.text);
    }
}

/* turbo4@qjl: recognised with rnorm = 0, where the QJL term vanishes */
static void test_qjl_matches(void)
{
    gg_probe p = probe_ref(KVV_TURBO4_QJL, "turbo4");
    CU_ASSERT_EQUAL(p.match, KVV_TURBO4_QJL);
    if (p.match != KVV_TURBO4_QJL)
        fprintf(stderr, "  %s\n", p.text);
}

/* ---- planted defects ---- */

static float h2f(const uint8_t *p) { return gg_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

static const float C4[16] = {-0.241556f, -0.182907f, -0.143047f, -0.111065f, -0.083317f, -0.058069f,
                             -0.034311f, -0.011353f, 0.011353f,  0.034311f,  0.058069f,  0.083317f,
                             0.111065f,  0.143047f,  0.182907f,  0.241556f};
static const float C3[8] = {-0.190685f, -0.117832f, -0.065717f, -0.021460f, 0.021460f, 0.065717f, 0.117832f, 0.190685f};

/* turbo4 layout, but one level a little off (another table) */
static void wrong_level(const void *x, float *y, int64_t k)
{
    const uint8_t *b = x;
    for (int64_t blk = 0; blk < k / 128; blk++, b += 68)
        for (int j = 0; j < 128; j++) {
            int q = (b[4 + j / 2] >> (4 * (j & 1))) & 15;
            y[blk * 128 + j] = (q == 15 ? 0.25f : C4[q]) * h2f(b);
        }
}

/* turbo4 table, nibbles high first */
static void swapped_nibbles(const void *x, float *y, int64_t k)
{
    const uint8_t *b = x;
    for (int64_t blk = 0; blk < k / 128; blk++, b += 68)
        for (int j = 0; j < 128; j++)
            y[blk * 128 + j] = C4[(b[4 + j / 2] >> (4 * !(j & 1))) & 15] * h2f(b);
}

/* turbo3 qk32, but the norm read as bf16 */
static void bf16_norm(const void *x, float *y, int64_t k)
{
    const uint8_t *b = x;
    for (int64_t blk = 0; blk < k / 32; blk++, b += 14) {
        uint32_t u = (uint32_t)(b[0] | b[1] << 8) << 16;
        float norm;
        memcpy(&norm, &u, 4);
        for (int j = 0; j < 32; j++) {
            int q = ((b[2 + j / 4] >> (2 * (j % 4))) & 3) | (((b[10 + j / 8] >> (j % 8)) & 1) << 2);
            y[blk * 32 + j] = C3[q] * norm;
        }
    }
}

/* turbo3 qk32 values, rotated back inside to_float (a dense transform) */
static void rotates_back(const void *x, float *y, int64_t k)
{
    const uint8_t *b = x;
    for (int64_t blk = 0; blk < k / 32; blk++, b += 14) {
        float v[32];
        for (int j = 0; j < 32; j++) {
            int q = ((b[2 + j / 4] >> (2 * (j % 4))) & 3) | (((b[10 + j / 8] >> (j % 8)) & 1) << 2);
            v[j] = C3[q] * h2f(b);
        }
        for (int h = 1; h < 32; h *= 2) /* a Hadamard butterfly */
            for (int i = 0; i < 32; i += 2 * h)
                for (int j = i; j < i + h; j++) {
                    float a = v[j], c = v[j + h];
                    v[j] = a + c;
                    v[j + h] = a - c;
                }
        memcpy(y + blk * 32, v, sizeof v);
    }
}

/* correct turbo3 qk32, but it writes one block more than asked */
static void overruns(const void *x, float *y, int64_t k)
{
    cur_type = KVV_TURBO3;
    ref_to_float(x, y, k);
    for (int j = 0; j < 32; j++)
        y[k + j] = 0.0f;
}

static gg_probe probe_fn(gg_to_float_fn fn, const char *name, int block, int bytes)
{
    gg_probe p;
    gg_probe_type(fn, name, 44, block, (size_t)bytes, KVV_TYPE_NONE, &p);
    return p;
}

static void expect_no_match(gg_probe p, const char *want)
{
    CU_ASSERT_EQUAL(p.match, KVV_TYPE_NONE);
    CU_ASSERT_PTR_NOT_NULL(strstr(p.text, want));
    if (p.match != KVV_TYPE_NONE || !strstr(p.text, want))
        fprintf(stderr, "  got '%s', want '%s'\n", p.text, want);
}

static void test_planted_defects(void)
{
    /* the table read back and the nearest version with its outermost level */
    expect_no_match(probe_fn(wrong_level, "turbo4", 128, 68), "nearest turbo4, outermost level 0.25 vs 0.2416");
    expect_no_match(probe_fn(wrong_level, "turbo4", 128, 68), "matches no known version");
    expect_no_match(probe_fn(swapped_nibbles, "turbo4", 128, 68), "packing unknown");
    expect_no_match(probe_fn(bf16_norm, "turbo3", 32, 14), "norm bytes 0-1 not a plain f16 scale");
    expect_no_match(probe_fn(rotates_back, "turbo3", 32, 14), "to_float transforms the block");
    expect_no_match(probe_fn(overruns, "turbo3", 32, 14), "writes past the values it was asked for");
    /* a geometry no version of the family has, a family kvverify lacks, no to_float */
    expect_no_match(probe_fn(wrong_level, "turbo4", 128, 60), "no format version of turbo4 has this geometry");
    expect_no_match(probe_fn(wrong_level, "turbo5", 128, 68), "not a kvverify cache type");
    expect_no_match(probe_fn(NULL, "turbo4", 128, 68), "has no to_float");
}

/* the table the probe reads is printed whole */
static void test_report_lists_levels(void)
{
    gg_probe p = probe_ref(KVV_TURBO4_NARROW, "turbo4");
    CU_ASSERT_PTR_NOT_NULL(strstr(p.text, "16 levels {-0.173926, -0.117195"));
    CU_ASSERT_PTR_NOT_NULL(strstr(p.text, "4-bit nibbles, low nibble first"));
    CU_ASSERT_PTR_NOT_NULL(strstr(p.text, "16 payload bits unused")); /* rnorm */
}

/* a map file's claim: probed against that version only */
static void test_claim_checked(void)
{
    cur_type = KVV_TURBO4_NARROW;
    gg_probe p;
    gg_probe_type(ref_to_float, "polar4", 44, 128, 68, KVV_TURBO4, &p);
    CU_ASSERT_EQUAL(p.match, KVV_TYPE_NONE);
    gg_probe_type(ref_to_float, "polar4", 44, 128, 68, KVV_TURBO4_NARROW, &p);
    CU_ASSERT_EQUAL(p.match, KVV_TURBO4_NARROW);
}

static void test_family_names(void)
{
    char f[16];
    gg_probe_family("turbo3_0", f, sizeof f);
    CU_ASSERT_STRING_EQUAL(f, "turbo3");
    gg_probe_family("TURBO4", f, sizeof f);
    CU_ASSERT_STRING_EQUAL(f, "turbo4");
    gg_probe_family("tq3_1s", f, sizeof f); /* a weight type, not a cache type */
    CU_ASSERT_STRING_EQUAL(f, "");
    gg_probe_family("turbo", f, sizeof f);
    CU_ASSERT_STRING_EQUAL(f, "");
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {{"every reference format version is recognised", test_reference_versions_match},
                                     {"turbo4@qjl is recognised with rnorm 0", test_qjl_matches},
                                     {"planted defects match nothing and say what was read", test_planted_defects},
                                     {"the report lists the levels read", test_report_lists_levels},
                                     {"a map file's claim is probed", test_claim_checked},
                                     {"family names", test_family_names},
                                     {NULL, NULL}};
    kvv_add_suite("ggml format probe", tests);
}
