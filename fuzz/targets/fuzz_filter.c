/* Fuzz target: the filters and overrides of `kvverify run`.  The input is
 * up to six lines: -o ops, -p patterns, --head-dim, --kv, --toggle, --set
 * (an empty line leaves that option out).  Properties: a refused filter
 * says why; a filter that kvv_filter_check accepts never errors on a case;
 * an accepted --set gives a case whose name describes it. */
#include <string.h>

#include "fuzz/targets/fuzz_target.h"
#include "oracle/cases.h"

enum { F_OPS, F_PATTERN, F_HEAD, F_KV, F_TOGGLE, F_SET, F_COUNT };

static kvv_case sample(int i)
{
    kvv_case c = kvv_case_default(i == 0 ? KVV_OP_ATTN : i == 1 ? KVV_OP_QUANT : i == 2 ? KVV_OP_WHT : KVV_OP_DEQUANT);
    if (i == 0) {
        c.type_k = KVV_Q8_0;
        c.type_v = KVV_TURBO3;
        c.dk = 576;
        c.dv = 512;
        c.n_q = 4;
        c.n_head = 8;
        c.n_head_kv = 2;
        c.mask = KVV_MASK_CAUSAL;
        c.tg.cache = 1;
    }
    if (i == 2)
        c.group = 64;
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[2048];
    if (size >= sizeof text)
        size = sizeof text - 1;
    memcpy(text, data, size);
    text[size] = 0;
    char *field[F_COUNT] = {0};
    char *p = text;
    for (int i = 0; i < F_COUNT && p; i++) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        field[i] = *p ? p : NULL;
        p = nl ? nl + 1 : NULL;
    }
    kvv_filter f = {field[F_OPS], field[F_PATTERN], field[F_HEAD], field[F_KV], field[F_TOGGLE]};
    char why[300] = "";
    int checked = kvv_filter_check(&f, why, sizeof why) == 0;
    KVV_FUZZ_CHECK(checked || why[0], "a refused filter must say why");
    for (int i = 0; i < 4; i++) {
        kvv_case c = sample(i);
        why[0] = 0;
        int m = kvv_filter_match(&f, &c, why, sizeof why);
        KVV_FUZZ_CHECK(m == 0 || m == 1 || (m == -1 && why[0]), "match returned %d (why '%s')", m, why);
        KVV_FUZZ_CHECK(!checked || m >= 0, "a checked filter failed on a case: %s", why);
        if (!field[F_SET])
            continue;
        why[0] = 0;
        if (kvv_case_apply_set(&c, field[F_SET], why, sizeof why)) {
            KVV_FUZZ_CHECK(why[0], "a refused --set must say why");
            continue;
        }
        char err[256], name[512];
        if (kvv_case_validate(&c, err, sizeof err))
            continue; /* e.g. a causal mask on more queries than keys: refused later, by name */
        kvv_case_name(&c, name, sizeof name);
        kvv_case back;
        KVV_FUZZ_CHECK(kvv_case_parse(name, &back, err, sizeof err) == 0, "'%s' does not parse: %s", name, err);
        char name2[512];
        kvv_case_name(&back, name2, sizeof name2);
        KVV_FUZZ_CHECK(!strcmp(name, name2), "'%s' became '%s'", name, name2);
        KVV_FUZZ_CHECK(!memcmp(&back.tg, &c.tg, sizeof c.tg) && back.dist == c.dist && back.seed == c.seed,
                       "--set '%s' gave '%s', whose toggles, distribution or seed differ", field[F_SET], name);
        if (c.op == KVV_OP_ATTN)
            KVV_FUZZ_CHECK(back.mask == c.mask && back.max_bias == c.max_bias && back.softcap == c.softcap &&
                               back.scale == c.scale,
                           "--set '%s' gave '%s', whose attention options differ", field[F_SET], name);
    }
    return 0;
}
