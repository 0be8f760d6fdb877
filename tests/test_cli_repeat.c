/* A list option given twice adds to its list in every command (as -p, -o,
 * -b of run do): bench -b, fuzz -o, ppl --kv, probe -b, bisect --rule and
 * --tree; an option that takes one value (fuzz, ppl and bisect take one
 * backend) given twice is refused with a message, never silently the last. */
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"

static char out[1 << 16];

static int expect(const char *args, int status, const char *needle)
{
    return cli_expect(args, status, needle, out, sizeof out);
}

static void test_lists_add(void)
{
    /* the second list is used: its bad item is found */
    CU_ASSERT(expect("bench -b cpu -b nosuch", 2, "unknown backend 'nosuch'"));
    CU_ASSERT(expect("bench -b cpu -b cpu,", 2, "empty item"));
    CU_ASSERT(expect("fuzz -o quant -o nosuch --time 1", 2, "'nosuch' is not an op fuzz draws"));
    CU_ASSERT(expect("fuzz -o quant -o wht,attn --time 0.1 -j 1 --no-write", 0,
                     "kvverify fuzz: backend cpu, ops quant,wht,attn, "));
    CU_ASSERT(expect("fuzz -o wht --time 0.1 -j 1 --no-write", 0, "kvverify fuzz: backend cpu, ops wht, "));
    CU_ASSERT(expect("ppl --model probe --kv f16/f16 --kv q8_0/bogus", 2, "unknown type in 'q8_0/bogus'"));
    CU_ASSERT(expect("ppl --model probe --kv f32/f32 --kv f16/f16", 0, "f16/f16 "));
    CU_ASSERT(strstr(out, "f32/f32 ") != NULL);
    CU_ASSERT(expect("bisect --good a --bad b --rule crash --rule wobble", 2, "--rule wobble: no such rule"));
    CU_ASSERT(expect("bisect --good a --bad b --tree ggml --tree none", 2, "--tree ggml,none: 'none' stands alone"));
    /* every backend of probe is checked before any is asked */
    CU_ASSERT(expect("probe -b cpu -b nosuch", 2, "unknown backend 'nosuch'"));
    CU_ASSERT(strstr(out, "cpu: built in") == NULL);
}

static void test_one_value_refused_twice(void)
{
    CU_ASSERT(expect("fuzz -b cpu -b vulkan --time 1", 2, "fuzz takes one backend; -b given twice ('cpu', 'vulkan')"));
    CU_ASSERT(expect("ppl --model probe --kv f16/f16 -b cpu -b cpu", 2, "takes one backend; -b given twice"));
    CU_ASSERT(expect("bisect --good a --bad b -b cpu -b cpu", 2, "bisect takes one backend; -b given twice"));
}

void kvv_register_tests(void)
{
    static const kvv_test tests[] = {
        {"list options given twice add up", test_lists_add},
        {"one-value options given twice are refused", test_one_value_refused_twice},
        {NULL, NULL}};
    kvv_add_suite("cli_repeat", tests);
}
