/* Which ggml type stores each kvverify type, and how its bytes are made.
 *
 * Upstream ggml has the nine plain types; forks add their own (the
 * TurboQuant forks number turbo2/3/4 differently from one another), so the
 * map is data: the default rows below, plus rows from a file (option
 * types=FILE or KVV_GGML_TYPES):
 *
 *     # kvverify type   ggml enum   ggml type name   [set_rows|chunk]
 *     turbo3            41          turbo3_0
 *
 * Every row is checked against the loaded library before use: the enum
 * value must carry that name in ggml_type_name() and the block size and
 * bytes must be kvverify's, so a map written for another build is refused
 * at load with the row that is wrong, never used to store the wrong bytes. */
#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "kernels/ggml/ggml_adapter.h"

/* kvverify's types as a plugin knows them: name, block, bytes, rotated
 * (SPEC 2 and 3; include/kvv/types.h documents the names). */
static const gg_kvv_type kvv_types[KVV_TYPE_COUNT] = {
    {"f32", KVV_F32, 1, 4, 0},
    {"f16", KVV_F16, 1, 2, 0},
    {"bf16", KVV_BF16, 1, 2, 0},
    {"q8_0", KVV_Q8_0, 32, 34, 0},
    {"q4_0", KVV_Q4_0, 32, 18, 0},
    {"q4_1", KVV_Q4_1, 32, 20, 0},
    {"q5_0", KVV_Q5_0, 32, 22, 0},
    {"q5_1", KVV_Q5_1, 32, 24, 0},
    {"iq4_nl", KVV_IQ4_NL, 32, 18, 0},
    {"iq4_nl@search", KVV_IQ4_NL_SEARCH, 32, 18, 0},
    {"turbo2", KVV_TURBO2, 32, 10, 1},
    {"turbo2@qk128", KVV_TURBO2_QK128, 128, 34, 1},
    {"turbo3", KVV_TURBO3, 32, 14, 1},
    {"turbo3@qk128", KVV_TURBO3_QK128, 128, 50, 1},
    {"turbo4", KVV_TURBO4, 128, 68, 1},
    {"turbo4@qjl", KVV_TURBO4_QJL, 128, 68, 1},
    {"turbo4@narrow", KVV_TURBO4_NARROW, 128, 68, 1},
};

const gg_kvv_type *gg_kvv_type_get(kvv_type t)
{
    return (unsigned)t < KVV_TYPE_COUNT ? &kvv_types[t] : NULL;
}

static kvv_type kvv_type_named(const char *name)
{
    for (int i = 0; i < KVV_TYPE_COUNT; i++)
        if (!strcmp(kvv_types[i].name, name))
            return kvv_types[i].type;
    return KVV_TYPE_NONE;
}

/* Upstream ggml (enum ggml_type of ggml.h).  iq4_nl has two rows: the
 * cache write (set_rows -> quantize_row_iq4_nl_ref, no scale search) is
 * kvverify's iq4_nl; ggml_quantize_chunk searches the scale and is
 * kvverify's iq4_nl@search. */
static const struct {
    kvv_type t;
    int ggml;
    const char *name;
    gg_quant_path q;
} upstream[] = {
    {KVV_F32, 0, "f32", GG_Q_SET_ROWS},     {KVV_F16, 1, "f16", GG_Q_SET_ROWS},
    {KVV_BF16, 30, "bf16", GG_Q_SET_ROWS},  {KVV_Q8_0, 8, "q8_0", GG_Q_SET_ROWS},
    {KVV_Q4_0, 2, "q4_0", GG_Q_SET_ROWS},   {KVV_Q4_1, 3, "q4_1", GG_Q_SET_ROWS},
    {KVV_Q5_0, 6, "q5_0", GG_Q_SET_ROWS},   {KVV_Q5_1, 7, "q5_1", GG_Q_SET_ROWS},
    {KVV_IQ4_NL, 20, "iq4_nl", GG_Q_SET_ROWS}, {KVV_IQ4_NL_SEARCH, 20, "iq4_nl", GG_Q_CHUNK},
};

static void set_row(gg_typemap *m, kvv_type t, int ggml, const char *name, gg_quant_path q)
{
    m->e[t].ggml = ggml;
    snprintf(m->e[t].ggml_name, sizeof m->e[t].ggml_name, "%s", name);
    m->e[t].quant = q;
}

void gg_typemap_default(gg_typemap *m, int chunk)
{
    for (int t = 0; t < KVV_TYPE_COUNT; t++)
        set_row(m, (kvv_type)t, -1, "", GG_Q_NONE);
    for (size_t i = 0; i < sizeof upstream / sizeof *upstream; i++) {
        if (chunk && upstream[i].t == KVV_IQ4_NL)
            continue; /* ggml_quantize_chunk cannot make the cache write's bytes */
        set_row(m, upstream[i].t, upstream[i].ggml, upstream[i].name, chunk ? GG_Q_CHUNK : upstream[i].q);
    }
}

int gg_typemap_load(gg_typemap *m, const char *path, char *why, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, n, "type map %s: cannot open", path);
        return -1;
    }
    char line[512];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s || *s == '#')
            continue;
        char kname[64], gname[32], how[32] = "set_rows";
        int ge, k = sscanf(s, "%63s %d %31s %31s", kname, &ge, gname, how);
        kvv_type t = k >= 3 ? kvv_type_named(kname) : KVV_TYPE_NONE;
        gg_quant_path q = !strcmp(how, "set_rows") ? GG_Q_SET_ROWS : !strcmp(how, "chunk") ? GG_Q_CHUNK : GG_Q_NONE;
        if (k < 3 || t == KVV_TYPE_NONE || ge < 0 || q == GG_Q_NONE) {
            snprintf(why, n,
                     "type map %s:%d: want '<kvverify type> <ggml enum> <ggml type name> [set_rows|chunk]'%s%s%s",
                     path, lineno, k >= 1 && t == KVV_TYPE_NONE ? " (unknown kvverify type '" : "",
                     k >= 1 && t == KVV_TYPE_NONE ? kname : "", k >= 1 && t == KVV_TYPE_NONE ? "')" : "");
            rc = -1;
            break;
        }
        set_row(m, t, ge, gname, q);
    }
    fclose(f);
    return rc;
}

/* ggml has no GGML_TYPE_COUNT at run time, and its type functions index
 * their table unchecked.  So the count is found by walking the traits
 * table: every entry's name points into libggml-base's own constants and
 * reads as text (removed types are named "DEPRECATED" or "... REMOVED ...",
 * older versions leave them NULL); the first entry that is neither is past
 * the end.  A name is read only once it is shown to lie inside the
 * library. */
static int plausible_name(const char *p, const void *lib_base)
{
    Dl_info di;
    if (!dladdr(p, &di) || di.dli_fbase != lib_base)
        return 0;
    size_t i = 0;
    for (; i < 96 && p[i]; i++)
        if (!isprint((unsigned char)p[i]))
            return 0;
    return i > 0 && i < 96;
}

static int type_count(const gg_api *api)
{
    Dl_info di;
    void *fn;
    memcpy(&fn, &api->get_type_traits, sizeof fn);
    if (!dladdr(fn, &di))
        return 0;
    int n = 0, nulls = 0;
    for (; n < 128 && nulls < 4; n++) { /* ggml's gaps of removed types are at most 3 long */
        const char *name = api->get_type_traits(n)->type_name;
        if (name && !plausible_name(name, di.dli_fbase))
            break;
        nulls = name ? 0 : nulls + 1;
    }
    /* removed types at the end of the walk are past the table, not in it */
    while (n > 0 && !api->get_type_traits(n - 1)->type_name)
        n--;
    return n;
}

int gg_typemap_check(const gg_typemap *m, const gg_api *api, char *why, size_t n)
{
    const int count = type_count(api);
    if (count < 31 || strcmp(api->get_type_traits(GG_TYPE_F16)->type_name, "f16")) {
        snprintf(why, n, "ggml's type traits do not read back as ggml 0.25 lays them out (%d types found)", count);
        return -1;
    }
    for (int t = 0; t < KVV_TYPE_COUNT; t++) {
        const gg_type_entry *e = &m->e[t];
        if (e->ggml < 0)
            continue;
        if (e->ggml >= count) {
            snprintf(why, n, "type map: %s -> ggml enum %d '%s', but this ggml has %d types", kvv_types[t].name,
                     e->ggml, e->ggml_name, count);
            return -1;
        }
        const gg_type_traits *tr = api->get_type_traits(e->ggml);
        const char *gn = tr ? tr->type_name : NULL;
        if (!gn || strcmp(gn, e->ggml_name)) {
            snprintf(why, n, "type map: %s -> ggml enum %d '%s', but this ggml calls %d '%s'", kvv_types[t].name,
                     e->ggml, e->ggml_name, e->ggml, gn ? gn : "(nothing)");
            return -1;
        }
        if (api->blck_size(e->ggml) != kvv_types[t].block || (int)api->type_size(e->ggml) != kvv_types[t].bytes) {
            snprintf(why, n, "type map: %s is %d bytes per %d values, but ggml's %s is %zu per %lld",
                     kvv_types[t].name, kvv_types[t].bytes, kvv_types[t].block, gn, api->type_size(e->ggml),
                     (long long)api->blck_size(e->ggml));
            return -1;
        }
    }
    return 0;
}
