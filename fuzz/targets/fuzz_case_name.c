/* Fuzz target: case names.  Any text either fails to parse with a message,
 * or parses into a valid case whose name parses back into the same case
 * (parse -> name -> parse is stable) and gives no field twice, and printing
 * that name into a short buffer truncates it cleanly. */
#include <string.h>

#include "fuzz/targets/fuzz_target.h"
#include "kvv/case.h"

/* The fields that the run of a case of this op depends on. */
static int same_run(const kvv_case *a, const kvv_case *b)
{
    if (a->op != b->op || a->dk != b->dk || a->n_kv != b->n_kv || a->dist != b->dist || a->seed != b->seed ||
        memcmp(&a->tg, &b->tg, sizeof a->tg) != 0)
        return 0;
    switch (kvv_op_get(a->op)->shape) { /* the op table: which fields its cases have */
    case KVV_SHAPE_ROWS:
        return a->type_k == b->type_k;
    case KVV_SHAPE_GROUPS:
        return a->group == b->group;
    default:
        return a->type_k == b->type_k && a->type_v == b->type_v && a->dv == b->dv && a->n_q == b->n_q &&
               a->n_head == b->n_head && a->n_head_kv == b->n_head_kv && a->mask == b->mask &&
               a->max_bias == b->max_bias && a->softcap == b->softcap && a->scale == b->scale;
    }
}

/* Whether two '/'-separated fields of text set the same thing: the same
 * key before '=', the same size prefix (rows and nkv being one), or two
 * types (a type or a K-V pair); such a name must be refused. */
static int repeats_a_field(const char *text)
{
    static const char *const sizes[] = {"dv", "d", "nq", "nkv", "rows", "gqa", "h", "g"};
    char keys[64][16];
    int n = 0;
    const char *p = strchr(text, '/');
    while (p && n < 64) {
        const char *tok = p + 1, *end = strchr(tok, '/');
        size_t len = end ? (size_t)(end - tok) : strlen(tok);
        p = end;
        if (len == 0)
            continue; /* "a//b": the parser skips empty fields */
        const char *eq = memchr(tok, '=', len);
        char key[16] = "type";
        if (eq) {
            snprintf(key, sizeof key, "%.*s", (int)(eq - tok), tok);
        } else {
            size_t l = strspn(tok, "abcdefghijklmnopqrstuvwxyz");
            for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
                if (l < len && l == strlen(sizes[i]) && !strncmp(tok, sizes[i], l) && tok[l] >= '0' && tok[l] <= '9')
                    snprintf(key, sizeof key, "%s", strcmp(sizes[i], "rows") ? sizes[i] : "nkv");
        }
        for (int i = 0; i < n; i++)
            if (!strcmp(keys[i], key))
                return 1;
        snprintf(keys[n++], sizeof keys[0], "%s", key);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[700];
    if (size >= sizeof text)
        size = sizeof text - 1;
    memcpy(text, data, size);
    text[size] = 0;

    kvv_case c1, c2;
    char err[256] = "", n1[512], n2[512];
    if (kvv_case_parse(text, &c1, err, sizeof err)) {
        KVV_FUZZ_CHECK(err[0] != 0, "a refused name must say why: '%s'", text);
        return 0;
    }
    KVV_FUZZ_CHECK(kvv_case_validate(&c1, err, sizeof err) == 0, "parsed '%s' but it does not validate: %s", text,
                   err);
    KVV_FUZZ_CHECK(!repeats_a_field(text), "'%s' gives a field twice, and it was accepted", text);
    int len = kvv_case_name(&c1, n1, sizeof n1);
    KVV_FUZZ_CHECK(len > 0 && (size_t)len < sizeof n1 && strlen(n1) == (size_t)len, "name of '%s' has length %d",
                   text, len);
    err[0] = 0;
    KVV_FUZZ_CHECK(kvv_case_parse(n1, &c2, err, sizeof err) == 0, "'%s' parsed, its name '%s' does not: %s", text,
                   n1, err);
    KVV_FUZZ_CHECK(same_run(&c1, &c2), "'%s' and its name '%s' are different cases", text, n1);
    kvv_case_name(&c2, n2, sizeof n2);
    KVV_FUZZ_CHECK(strcmp(n1, n2) == 0, "name not stable: '%s' -> '%s'", n1, n2);

    /* short buffers: a NUL-terminated prefix, and the same full length */
    for (size_t cut = 0; cut <= 16; cut++) {
        char small[17];
        memset(small, 'x', sizeof small);
        int l2 = kvv_case_name(&c1, small, cut);
        KVV_FUZZ_CHECK(l2 == len, "length %d with a %zu-byte buffer, %d with a large one", l2, cut, len);
        if (cut)
            KVV_FUZZ_CHECK(strlen(small) == (cut - 1 < (size_t)len ? cut - 1 : (size_t)len) &&
                               strncmp(small, n1, strlen(small)) == 0,
                           "truncated name '%.*s' is not a prefix of '%s'", (int)cut, small, n1);
        else
            KVV_FUZZ_CHECK(small[0] == 'x', "a zero-length buffer was written");
    }
    return 0;
}
