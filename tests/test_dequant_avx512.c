/* The AVX-512 dequantizers of the table types (kernels/cpu/dequant_avx512.c)
 * against the scalar kernels, value for value: random bytes, so every
 * index, every f16 scale (denormal, infinite and NaN ones included) and
 * every fifth bit comes up.  The attention's cache toggle compares its two
 * paths bit for bit, so any difference here would surface there as a
 * toggle failure on AVX-512 machines only. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/cpu/cpu_internal.h"
#include "kernels/cpu/dequant_avx512.h"
#include "tests/harness.h"

static int have_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint8_t rnd_byte(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint8_t)(rng >> 24);
}

/* equal bits, or NaN on both sides (which NaN a multiply of two NaNs
 * returns depends on the operand order the compiler chose) */
static int same_value(float a, float b)
{
    uint32_t ua, ub;
    memcpy(&ua, &a, 4);
    memcpy(&ub, &b, 4);
    return ua == ub || (isnan(a) && isnan(b));
}

static void test_same_values(void)
{
    if (!have_avx512())
        KVV_SKIP("this CPU has no AVX-512: the AVX-512 dequantizers never run here");
    enum { NCOLS = 256, ROWS = 64 };
    int types = 0;
    for (int t = 0; t < KVV_TYPE_COUNT; t++)
        for (int lut = 4; lut <= 8; lut += 4) {
            cpu_dequant_fn f = cpu_dequant_avx512((kvv_type)t, lut);
            if (!f)
                continue;
            const cpu_type_fns *s = cpu_type_fns_get((kvv_type)t, KVV_ISA_SCALAR);
            CU_ASSERT_PTR_NOT_NULL_FATAL(s);
            size_t rb = kvv_row_bytes((kvv_type)t, NCOLS);
            CU_ASSERT_FATAL(rb > 0);
            uint8_t row[4096];
            CU_ASSERT_FATAL(rb <= sizeof row);
            float want[NCOLS], got[NCOLS];
            int bad = 0, finite_distinct = 0;
            for (int r = 0; r < ROWS; r++) {
                for (size_t i = 0; i < rb; i++)
                    row[i] = rnd_byte();
                if (r == 0) /* one row of moderate scales: f16 1.0 in every block's first field */
                    for (size_t i = 0; i + 1 < rb; i += rb / (size_t)(NCOLS / kvv_type_get((kvv_type)t)->block)) {
                        row[i] = 0x00;
                        row[i + 1] = 0x3c;
                    }
                s->dequantize_row(row, want, NCOLS, lut);
                memset(got, 0xa5, sizeof got);
                f(row, got, NCOLS, lut);
                for (int c = 0; c < NCOLS; c++) {
                    if (!same_value(got[c], want[c]) && bad++ < 4)
                        fprintf(stderr, "%s lut %d row %d col %d: avx512 %a, scalar %a\n", kvv_type_name((kvv_type)t),
                                lut, r, c, (double)got[c], (double)want[c]);
                    finite_distinct += isfinite(want[c]) && c > 0 && want[c] != want[c - 1];
                }
            }
            CU_ASSERT_EQUAL(bad, 0);
            /* the comparison saw real values, not a row of zeros */
            CU_ASSERT(finite_distinct > NCOLS);
            types++;
        }
    /* q4_0 q4_1 q5_0 q5_1 iq4_nl (x2) and the turbo types at lut 8, turbo2/4 at 4 too */
    CU_ASSERT(types >= 12);
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"AVX-512 table dequantizers give the scalar values", test_same_values},
        {NULL, NULL},
    };
    kvv_add_suite("dequant avx512", tests);
}
