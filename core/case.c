/* Cases as values: defaults, stable names, parsing names back, validation. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvv/case.h"

static const char *const dist_names[KVV_DIST_COUNT] = {"gauss", "outlier", "heavy", "rope", "const",
                                                       "zero",  "denorm",  "huge",  "nonfinite", "grid"};
static const char *const mask_names[KVV_MASK_COUNT] = {"none", "causal", "random", "holes"};
static const char *const probe_names[KVV_PROBE_COUNT] = {"probe", "hybrid"};

/* Upper bound on the memory one case may ask for, checked before any work so
 * that a gigantic shape is a clear error instead of an allocation failure. */
#define KVV_CASE_MAX_BYTES (4.0 * 1024 * 1024 * 1024)

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (s && strcmp(names[i], s) == 0)
            return i;
    return -1;
}

const char *kvv_op_name(kvv_op op) { return kvv_op_get(op) ? kvv_op_get(op)->name : "?"; }
kvv_op kvv_op_from_name(const char *s)
{
    for (int i = 0; i < KVV_OP_COUNT; i++)
        if (s && !strcmp(kvv_op_get((kvv_op)i)->name, s))
            return (kvv_op)i;
    return KVV_OP_COUNT;
}
const char *kvv_dist_name(kvv_dist d) { return (unsigned)d < KVV_DIST_COUNT ? dist_names[d] : "?"; }
kvv_dist kvv_dist_from_name(const char *s)
{
    int i = lookup(dist_names, KVV_DIST_COUNT, s);
    return i < 0 ? KVV_DIST_COUNT : (kvv_dist)i;
}
const char *kvv_mask_name(kvv_mask m) { return (unsigned)m < KVV_MASK_COUNT ? mask_names[m] : "?"; }
kvv_mask kvv_mask_from_name(const char *s)
{
    int i = lookup(mask_names, KVV_MASK_COUNT, s);
    return i < 0 ? KVV_MASK_COUNT : (kvv_mask)i;
}

const char *kvv_probe_name(kvv_probe_kind k) { return (unsigned)k < KVV_PROBE_COUNT ? probe_names[k] : "?"; }
kvv_probe_kind kvv_probe_from_name(const char *s)
{
    int i = lookup(probe_names, KVV_PROBE_COUNT, s);
    return i < 0 ? KVV_PROBE_COUNT : (kvv_probe_kind)i;
}

kvv_toggles kvv_toggles_default(void)
{
    kvv_toggles t = {.threads = 1, .split = 1, .cache = 0, .lut = 8,
                     .rot = KVV_ROT_KERNEL, .variant = KVV_VAR_AUTO, .isa = KVV_ISA_AUTO};
    return t;
}

kvv_toggles kvv_toggles_baseline(kvv_toggles t)
{
    kvv_toggles d = kvv_toggles_default();
    t.threads = d.threads;
    t.split = d.split;
    t.cache = d.cache;
    t.lut = d.lut;
    return t;
}

int kvv_toggles_has_speed(kvv_toggles t)
{
    kvv_toggles b = kvv_toggles_baseline(t);
    return memcmp(&b, &t, sizeof t) != 0;
}

kvv_case kvv_case_default(kvv_op op)
{
    kvv_case c;
    memset(&c, 0, sizeof c);
    c.op = op;
    const kvv_op_info *oi = kvv_op_get(op);
    c.type_k = c.type_v = oi && oi->shape == KVV_SHAPE_HEADS ? KVV_F16 : KVV_Q8_0;
    c.dk = c.dv = 128;
    c.n_q = 1;
    c.n_kv = 64;
    c.n_head = c.n_head_kv = 1;
    c.mask = KVV_MASK_NONE;
    c.tg = kvv_toggles_default();
    c.dist = KVV_DIST_GAUSS;
    c.seed = 1;
    if (oi && oi->from_model) { /* the gate's probe: 8 heads over 2 KV heads, chunks of 64 over 256 tokens */
        c.n_q = 64;
        c.n_kv = 256;
        c.n_head = 8;
        c.n_head_kv = 2;
    }
    return c;
}

float kvv_case_scale(const kvv_case *c)
{
    return c->scale != 0.0f ? c->scale : (float)(1.0 / sqrt((double)c->dk));
}

int kvv_case_rows(const kvv_case *c)
{
    const kvv_op_info *oi = kvv_op_get(c->op);
    return c->n_kv * (oi && oi->shape == KVV_SHAPE_HEADS ? c->n_head_kv : 1);
}

/* ---- names ---- */

typedef struct {
    char *buf;
    size_t len, pos;
} sbuf;

static void put(sbuf *s, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (s->pos < s->len)
        snprintf(s->buf + s->pos, s->len - s->pos, "%s", tmp);
    s->pos += (size_t)n;
}

static void put_toggles(sbuf *s, const kvv_case *c)
{
    /* every op prints every toggle that is not at its default: a run passes
     * the toggles to the backend and compares speed-only ones against their
     * baseline, so a toggle the name left out would not replay */
    kvv_toggles d = kvv_toggles_default();
    const kvv_toggles *t = &c->tg;
    if (t->variant != d.variant)
        put(s, "/var=%s", t->variant == KVV_VAR_VEC ? "vec" : "tiled");
    if (t->rot != d.rot)
        put(s, "/rot=%s", t->rot == KVV_ROT_GRAPH ? "graph" : "kernel");
    if (t->cache != d.cache)
        put(s, "/cache=%s", t->cache ? "on" : "off");
    if (t->split != d.split)
        put(s, "/split=%d", t->split);
    if (t->lut != d.lut)
        put(s, "/lut=%d", t->lut);
    if (t->threads != d.threads)
        put(s, "/threads=%d", t->threads);
    if (t->isa != d.isa)
        put(s, "/isa=%s", t->isa == KVV_ISA_SCALAR ? "scalar" : "avx2");
}

/* ---- per shape (kvv_op_shape): the name fields after the op, and their
 * checks with the memory a run needs ---- */
static int check_rows(const kvv_case *c, char *err, size_t n, double *bytes);
static int check_groups(const kvv_case *c, char *err, size_t n, double *bytes);
static int check_heads(const kvv_case *c, char *err, size_t n, double *bytes);

static void put_rows(sbuf *s, const kvv_case *c)
{
    put(s, "/%s/d%d/rows%d", kvv_type_name(c->type_k), c->dk, c->n_kv);
}

static void put_groups(sbuf *s, const kvv_case *c) { put(s, "/d%d/g%d/rows%d", c->dk, c->group, c->n_kv); }

static void put_heads(sbuf *s, const kvv_case *c)
{
    put(s, "/d%d", c->dk);
    if (c->dv != c->dk)
        put(s, "/dv%d", c->dv);
    put(s, "/%s-%s/nq%d/nkv%d/h%d/gqa%d", kvv_type_name(c->type_k), kvv_type_name(c->type_v), c->n_q, c->n_kv,
        c->n_head, c->n_head_kv > 0 ? c->n_head / c->n_head_kv : 0);
    if (c->mask != KVV_MASK_NONE)
        put(s, "/mask=%s", kvv_mask_name(c->mask));
    /* %.9g: enough digits that every float reads back exactly */
    if (c->max_bias != 0.0f)
        put(s, "/alibi=%.9g", (double)c->max_bias);
    if (c->softcap != 0.0f)
        put(s, "/softcap=%.9g", (double)c->softcap);
    if (c->scale != 0.0f)
        put(s, "/scale=%.9g", (double)c->scale);
}

static const struct {
    void (*put_fields)(sbuf *s, const kvv_case *c);
    int (*check)(const kvv_case *c, char *err, size_t n, double *bytes);
} shape_fns[KVV_SHAPE_COUNT] = {[KVV_SHAPE_ROWS] = {put_rows, check_rows},
                                [KVV_SHAPE_GROUPS] = {put_groups, check_groups},
                                [KVV_SHAPE_HEADS] = {put_heads, check_heads}};

int kvv_case_name(const kvv_case *c, char *buf, size_t len)
{
    sbuf s = {buf, len, 0};
    if (len)
        buf[0] = 0;
    put(&s, "%s", kvv_op_name(c->op));
    const kvv_op_info *oi = kvv_op_get(c->op);
    if (oi)
        shape_fns[oi->shape].put_fields(&s, c);
    if (oi && oi->from_model)
        put(&s, "/model=%s", kvv_probe_name(c->model));
    put_toggles(&s, c);
    if (!oi || !oi->from_model) /* the probe's inputs are its corpus, not a distribution */
        put(&s, "/dist=%s", kvv_dist_name(c->dist));
    put(&s, "/seed=%llu", (unsigned long long)c->seed);
    return (int)s.pos;
}

static int perr(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

static int check_rows(const kvv_case *c, char *err, size_t n, double *bytes)
{
    char why[160];
    if (!kvv_type_fits(c->type_k, c->dk, why, sizeof why))
        return perr(err, n, "%s", why);
    *bytes = (double)c->n_kv * c->dk * 16.0;
    return 0;
}

static int check_groups(const kvv_case *c, char *err, size_t n, double *bytes)
{
    if (c->group < 1 || c->group > 128 || (c->group & (c->group - 1)))
        return perr(err, n, "WHT group %d is not a power of two in 1..128", c->group);
    if (c->dk % c->group)
        return perr(err, n, "WHT group %d does not divide the row width %d", c->group, c->dk);
    *bytes = (double)c->n_kv * c->dk * 32.0;
    return 0;
}

static int check_heads(const kvv_case *c, char *err, size_t n, double *bytes)
{
    char why[160];
    if (!kvv_type_fits(c->type_k, c->dk, why, sizeof why))
        return perr(err, n, "K: %s", why);
    if (!kvv_type_fits(c->type_v, c->dv, why, sizeof why))
        return perr(err, n, "V: %s", why);
    if (c->mask == KVV_MASK_CAUSAL || c->mask == KVV_MASK_HOLES) {
        if (c->n_q > c->n_kv)
            return perr(err, n, "a causal mask needs n_q (%d) <= n_kv (%d)", c->n_q, c->n_kv);
    }
    /* q, out, mask, K/V (f32 inputs, f64 reference copies, dequantized
     * copies) and the reference's probabilities */
    *bytes = (double)c->n_head * c->n_q * (c->dk + c->dv) * 24.0 + (double)c->n_q * c->n_kv * 4.0 +
             (double)c->n_head_kv * c->n_kv * (c->dk + c->dv) * 40.0 + (double)c->n_head * c->n_q * c->n_kv * 16.0;
    return 0;
}

/* a case whose inputs are a probe model: what the model can be */
static int check_model(const kvv_case *c, char *err, size_t n, double *bytes)
{
    if (c->dv != c->dk || (c->dk != 64 && c->dk != 128 && c->dk != 256))
        return perr(err, n, "the probe model has head dims 64, 128 or 256 (K and V alike), not %d/%d", c->dk, c->dv);
    if (c->n_head < 3 || c->n_head > 64)
        return perr(err, n, "the probe model needs 3..64 heads, not %d", c->n_head);
    if (c->n_q > c->n_kv)
        return perr(err, n, "the prefill chunk nq%d is longer than the context nkv%d", c->n_q, c->n_kv);
    if ((unsigned)c->model >= KVV_PROBE_COUNT)
        return perr(err, n, "unknown probe model");
    /* the reference keeps every head's attention weights */
    *bytes += (double)c->n_head * c->n_kv * c->n_kv * 8.0;
    return 0;
}

/* Strict integer: the whole string, in [lo, hi]. */
static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_float(const char *s, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (!*s || *end || errno || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* Token "<prefix><int>" (e.g. "nkv4096"); 1 when the prefix matches. */
static int prefixed(const char *tok, const char *prefix, long lo, long hi, long *out, int *bad)
{
    size_t n = strlen(prefix);
    if (strncmp(tok, prefix, n) != 0 || tok[n] < '0' || tok[n] > '9')
        return 0;
    if (parse_int(tok + n, lo, hi, out))
        *bad = 1;
    return 1;
}

/* "nq-1", "d-64": a size field with a minus sign */
static int negative_size(const char *tok)
{
    static const char *const prefixes[] = {"dv", "d", "nq", "nkv", "rows", "gqa", "h", "g"};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        size_t n = strlen(prefixes[i]);
        if (!strncmp(tok, prefixes[i], n) && tok[n] == '-' && tok[n + 1] >= '0' && tok[n + 1] <= '9')
            return 1;
    }
    return 0;
}

int kvv_case_set(kvv_case *c, const char *key, const char *val, char *err, size_t n)
{
    long v;
    if (!strcmp(key, "dist")) {
        c->dist = kvv_dist_from_name(val);
        if (c->dist == KVV_DIST_COUNT)
            return perr(err, n, "unknown distribution '%s'", val);
    } else if (!strcmp(key, "seed")) {
        char *end;
        errno = 0;
        unsigned long long s = strtoull(val, &end, 10);
        if (!*val || *end || errno || *val == '-')
            return perr(err, n, "bad seed '%s'", val);
        c->seed = s;
    } else if (!strcmp(key, "mask")) {
        c->mask = kvv_mask_from_name(val);
        if (c->mask == KVV_MASK_COUNT)
            return perr(err, n, "unknown mask '%s' (none, causal, random, holes)", val);
    } else if (!strcmp(key, "alibi")) {
        if (parse_float(val, &c->max_bias) || c->max_bias < 0)
            return perr(err, n, "bad alibi max_bias '%s'", val);
    } else if (!strcmp(key, "softcap")) {
        if (parse_float(val, &c->softcap) || c->softcap < 0)
            return perr(err, n, "bad softcap '%s'", val);
    } else if (!strcmp(key, "scale")) {
        if (parse_float(val, &c->scale))
            return perr(err, n, "bad scale '%s'", val);
    } else if (!strcmp(key, "cache")) {
        if (strcmp(val, "on") && strcmp(val, "off"))
            return perr(err, n, "cache must be on or off, not '%s'", val);
        c->tg.cache = !strcmp(val, "on");
    } else if (!strcmp(key, "split")) {
        if (parse_int(val, 1, 64, &v))
            return perr(err, n, "split must be 1..64, not '%s'", val);
        c->tg.split = (int)v;
    } else if (!strcmp(key, "lut")) {
        if (parse_int(val, 4, 8, &v) || (v != 4 && v != 8))
            return perr(err, n, "lut must be 8 or 4, not '%s'", val);
        c->tg.lut = (int)v;
    } else if (!strcmp(key, "threads")) {
        if (parse_int(val, 1, 256, &v))
            return perr(err, n, "threads must be 1..256, not '%s'", val);
        c->tg.threads = (int)v;
    } else if (!strcmp(key, "rot")) {
        if (!strcmp(val, "kernel"))
            c->tg.rot = KVV_ROT_KERNEL;
        else if (!strcmp(val, "graph"))
            c->tg.rot = KVV_ROT_GRAPH;
        else
            return perr(err, n, "rot must be kernel or graph, not '%s'", val);
    } else if (!strcmp(key, "var")) {
        if (!strcmp(val, "vec"))
            c->tg.variant = KVV_VAR_VEC;
        else if (!strcmp(val, "tiled"))
            c->tg.variant = KVV_VAR_TILED;
        else if (!strcmp(val, "auto"))
            c->tg.variant = KVV_VAR_AUTO;
        else
            return perr(err, n, "var must be vec, tiled or auto, not '%s'", val);
    } else if (!strcmp(key, "isa")) {
        if (!strcmp(val, "scalar"))
            c->tg.isa = KVV_ISA_SCALAR;
        else if (!strcmp(val, "avx2"))
            c->tg.isa = KVV_ISA_AVX2;
        else if (!strcmp(val, "auto"))
            c->tg.isa = KVV_ISA_AUTO;
        else
            return perr(err, n, "isa must be scalar, avx2 or auto, not '%s'", val);
    } else if (!strcmp(key, "model")) {
        c->model = kvv_probe_from_name(val);
        if (c->model == KVV_PROBE_COUNT)
            return perr(err, n, "unknown model '%s' (probe, hybrid)", val);
    } else {
        return perr(err, n, "unknown key '%s'", key);
    }
    return 0;
}

/* Name fields that only some ops have.  A name may hold only the fields its
 * op prints: anything else would be parsed, left out of the name, and the
 * case would no longer be what its name says. */
enum {
    FLD_TYPE = 1 << 0,   /* "<type>" */
    FLD_PAIR = 1 << 1,   /* "<K>-<V>" */
    FLD_DV = 1 << 2,     /* "dv<n>" */
    FLD_NQ = 1 << 3,     /* "nq<n>" */
    FLD_HEADS = 1 << 4,  /* "h<n>", "gqa<n>" */
    FLD_GROUP = 1 << 5,  /* "g<n>" */
    FLD_ATTNKEY = 1 << 6 /* mask=, alibi=, softcap=, scale= */
};
static const unsigned op_fields[KVV_OP_COUNT] = {
    [KVV_OP_QUANT] = FLD_TYPE,
    [KVV_OP_DEQUANT] = FLD_TYPE,
    [KVV_OP_WHT] = FLD_GROUP,
    [KVV_OP_ATTN] = FLD_TYPE | FLD_PAIR | FLD_DV | FLD_NQ | FLD_HEADS | FLD_ATTNKEY,
    [KVV_OP_PPL] = FLD_TYPE | FLD_PAIR | FLD_DV | FLD_NQ | FLD_HEADS | FLD_ATTNKEY,
};

static unsigned key_field(const char *key)
{
    static const char *const attn_keys[] = {"mask", "alibi", "softcap", "scale"};
    for (size_t i = 0; i < sizeof attn_keys / sizeof *attn_keys; i++)
        if (!strcmp(key, attn_keys[i]))
            return FLD_ATTNKEY;
    return 0;
}

/* The fields a name has given so far: each may appear once ("nq1/nq7"
 * would otherwise run nq7 under a name that also says nq1). */
typedef struct {
    int n;
    struct {
        char key[16], tok[48];
    } f[40];
} seen_fields;

/* The field a token sets: the key of key=value, the letters of a size
 * ("nq" of "nq7"; rows and nkv are one field), or "type" for a type or a
 * K-V pair. */
static void field_key(const char *tok, char *key, size_t n)
{
    static const char *const sizes[] = {"dv", "d", "nq", "nkv", "rows", "gqa", "h", "g"};
    const char *eq = strchr(tok, '=');
    if (eq) {
        snprintf(key, n, "%.*s", (int)(eq - tok), tok);
        return;
    }
    const size_t len = strspn(tok, "abcdefghijklmnopqrstuvwxyz");
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        if (len == strlen(sizes[i]) && !strncmp(tok, sizes[i], len) && tok[len] >= '0' && tok[len] <= '9') {
            snprintf(key, n, "%s", strcmp(sizes[i], "rows") ? sizes[i] : "nkv");
            return;
        }
    snprintf(key, n, "type");
}

static int repeated_field(seen_fields *s, const char *tok, char *err, size_t n)
{
    char key[16];
    field_key(tok, key, sizeof key);
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->f[i].key, key))
            return perr(err, n, "field '%s' given twice ('%s' and '%s'): a name holds each field once", key,
                        s->f[i].tok, tok);
    if (s->n < (int)(sizeof s->f / sizeof *s->f)) {
        snprintf(s->f[s->n].key, sizeof s->f[s->n].key, "%s", key);
        snprintf(s->f[s->n].tok, sizeof s->f[s->n].tok, "%s", tok);
        s->n++;
    }
    return 0;
}

int kvv_case_parse(const char *name, kvv_case *c, char *err, size_t n)
{
    char buf[512];
    if (!name || strlen(name) >= sizeof buf)
        return perr(err, n, "case name missing or longer than %zu characters", sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", name);
    char *save = NULL;
    char *tok = strtok_r(buf, "/", &save);
    kvv_op op = kvv_op_from_name(tok);
    if (op == KVV_OP_COUNT)
        return perr(err, n, "unknown op '%s' (quant, dequant, wht, attn, ppl)", tok ? tok : "");
    *c = kvv_case_default(op);
    int have_dv = 0, have_group = 0;
    long gqa = 0;
    seen_fields seen = {0};
    while ((tok = strtok_r(NULL, "/", &save))) {
        long v;
        int bad = 0;
        unsigned field = 0;
        char *eq = strchr(tok, '=');
        if (eq) {
            *eq = 0;
            field = key_field(tok);
            if (field & ~op_fields[op])
                return perr(err, n, "'%s' does not apply to %s cases", tok, kvv_op_name(op));
            if (kvv_case_set(c, tok, eq + 1, err, n))
                return -1;
            *eq = '=';
            if (repeated_field(&seen, tok, err, n))
                return -1;
            continue;
        }
        if (prefixed(tok, "dv", 1, 1 << 16, &v, &bad)) {
            c->dv = (int)v;
            have_dv = 1;
            field = FLD_DV;
        } else if (prefixed(tok, "d", 1, 1 << 16, &v, &bad)) {
            c->dk = (int)v;
        } else if (prefixed(tok, "nq", 1, 1 << 24, &v, &bad)) {
            c->n_q = (int)v;
            field = FLD_NQ;
        } else if (prefixed(tok, "nkv", 1, 1 << 26, &v, &bad)) {
            c->n_kv = (int)v;
        } else if (prefixed(tok, "rows", 1, 1 << 26, &v, &bad)) {
            c->n_kv = (int)v;
        } else if (prefixed(tok, "gqa", 1, 1 << 12, &v, &bad)) {
            gqa = v;
            field = FLD_HEADS;
        } else if (prefixed(tok, "h", 1, 1 << 12, &v, &bad)) {
            c->n_head = (int)v;
            field = FLD_HEADS;
        } else if (prefixed(tok, "g", 1, 1 << 16, &v, &bad)) {
            c->group = (int)v;
            have_group = 1;
            field = FLD_GROUP;
        } else if (negative_size(tok)) {
            return perr(err, n, "sizes must be positive, not '%s'", tok);
        } else if (strchr(tok, '-')) {
            char *dash = strchr(tok, '-');
            *dash = 0;
            c->type_k = kvv_type_from_name(tok);
            c->type_v = kvv_type_from_name(dash + 1);
            if (c->type_k == KVV_TYPE_NONE || c->type_v == KVV_TYPE_NONE)
                return perr(err, n, "unknown type in '%s-%s' (see `kvverify list types`)", tok, dash + 1);
            *dash = '-';
            field = FLD_PAIR;
        } else if (kvv_type_from_name(tok) != KVV_TYPE_NONE) {
            c->type_k = c->type_v = kvv_type_from_name(tok);
            field = FLD_TYPE;
        } else {
            return perr(err, n, "unknown field '%s' in case name (not a size, key=value or type; see `kvverify list types`)", tok);
        }
        if (bad)
            return perr(err, n, "bad number in '%s' (sizes must be positive and not gigantic)", tok);
        if (field & ~op_fields[op])
            return perr(err, n, "'%s' does not apply to %s cases", tok, kvv_op_name(op));
        if (repeated_field(&seen, tok, err, n))
            return -1;
    }
    if (!have_dv)
        c->dv = c->dk;
    if (op == KVV_OP_WHT && !have_group)
        c->group = kvv_rot_group(c->dk);
    if (gqa) {
        if (c->n_head % gqa)
            return perr(err, n, "gqa%ld does not divide h%d", gqa, c->n_head);
        c->n_head_kv = c->n_head / (int)gqa;
    } else {
        c->n_head_kv = c->n_head;
    }
    return kvv_case_validate(c, err, n);
}

int kvv_case_validate(const kvv_case *c, char *err, size_t n)
{
    if ((unsigned)c->op >= KVV_OP_COUNT)
        return perr(err, n, "unknown op");
    if (c->dk <= 0 || c->dv <= 0 || c->n_q <= 0 || c->n_kv <= 0 || c->n_head <= 0 || c->n_head_kv <= 0)
        return perr(err, n, "sizes must be positive (dk %d, dv %d, nq %d, nkv %d, h %d, hkv %d)", c->dk, c->dv, c->n_q,
                    c->n_kv, c->n_head, c->n_head_kv);
    if (c->n_head % c->n_head_kv)
        return perr(err, n, "n_head %d is not a multiple of n_head_kv %d", c->n_head, c->n_head_kv);
    if ((unsigned)c->dist >= KVV_DIST_COUNT)
        return perr(err, n, "unknown distribution");
    if ((unsigned)c->mask >= KVV_MASK_COUNT)
        return perr(err, n, "unknown mask");
    if (c->tg.threads < 1 || c->tg.threads > 256 || c->tg.split < 1 || c->tg.split > 64 ||
        (c->tg.lut != 4 && c->tg.lut != 8))
        return perr(err, n, "toggle out of range (threads 1..256, split 1..64, lut 4|8)");
    if (!kvv_type_get(c->type_k) || !kvv_type_get(c->type_v))
        return perr(err, n, "unknown type");
    double bytes = 0;
    const kvv_op_info *oi = kvv_op_get(c->op);
    if (shape_fns[oi->shape].check(c, err, n, &bytes))
        return -1;
    if (oi->from_model && check_model(c, err, n, &bytes))
        return -1;
    if (bytes > KVV_CASE_MAX_BYTES)
        return perr(err, n, "case would need about %.1f GiB (limit %.0f GiB): reduce the sizes",
                    bytes / (1024.0 * 1024 * 1024), KVV_CASE_MAX_BYTES / (1024.0 * 1024 * 1024));
    return 0;
}
