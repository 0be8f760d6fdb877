/* Filters of `kvverify run` (-o, -p, --head-dim, --kv, --toggle) and
 * --set overrides. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/cases.h"

#define LIST_MAX 1024
#define LIST_TOO_LONG (-2)

/* Call fn on each comma-separated item of list; stops at the first nonzero. */
static int each_item(const char *list, int (*fn)(const char *item, void *arg), void *arg)
{
    char buf[LIST_MAX];
    if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf)
        return LIST_TOO_LONG;
    char *save = NULL;
    for (char *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        int r = fn(it, arg);
        if (r)
            return r;
    }
    return 0;
}

typedef struct {
    const kvv_case *c;
    char name[512];
    char *why;
    size_t why_len;
} mctx;

static int match_op(const char *it, void *arg)
{
    mctx *m = arg;
    return kvv_op_from_name(it) == m->c->op;
}

static int check_op(const char *it, void *arg)
{
    mctx *m = arg;
    if (kvv_op_from_name(it) == KVV_OP_COUNT) {
        snprintf(m->why, m->why_len, "-o: unknown op '%s' (quant, dequant, wht, attn, ppl)", it);
        return -1;
    }
    return 0;
}

static int match_pattern(const char *it, void *arg)
{
    mctx *m = arg;
    if (strpbrk(it, "*?["))
        return fnmatch(it, m->name, 0) == 0;
    return strstr(m->name, it) != NULL;
}

/* "dk" or "dk/dv", each a whole positive number of at most 6 digits. */
static int parse_dims(const char *it, int *dk, int *dv)
{
    char *end;
    long a = strtol(it, &end, 10), b = -1;
    if (end == it || a < 1 || a > 999999)
        return -1;
    if (*end == '/') {
        const char *p = end + 1;
        b = strtol(p, &end, 10);
        if (end == p || b < 1 || b > 999999)
            return -1;
    }
    if (*end || *it == '+' || *it == ' ')
        return -1;
    *dk = (int)a;
    *dv = (int)b;
    return 0;
}

static int match_dim(const char *it, void *arg)
{
    mctx *m = arg;
    int dk, dv;
    if (parse_dims(it, &dk, &dv))
        return 0;
    return m->c->dk == dk && (dv < 0 || m->c->dv == dv);
}

static int check_dim(const char *it, void *arg)
{
    mctx *m = arg;
    int dk, dv;
    if (parse_dims(it, &dk, &dv) == 0)
        return 0;
    snprintf(m->why, m->why_len, "--head-dim: '%s' is not a positive head dim (or dk/dv)", it);
    return -1;
}

static int side_matches(const char *pat, kvv_type t) { return !strcmp(pat, "*") || kvv_type_from_name(pat) == t; }

static int match_kv(const char *it, void *arg)
{
    mctx *m = arg;
    char k[64], v[64];
    if (sscanf(it, "%63[^/]/%63s", k, v) != 2)
        return 0;
    return side_matches(k, m->c->type_k) && side_matches(v, m->c->type_v);
}

static int check_kv(const char *it, void *arg)
{
    mctx *m = arg;
    char k[64], v[64];
    if (sscanf(it, "%63[^/]/%63s", k, v) != 2) {
        snprintf(m->why, m->why_len, "--kv: '%s' is not K/V (e.g. q8_0/turbo3, */turbo3)", it);
        return -1;
    }
    if ((strcmp(k, "*") && kvv_type_from_name(k) == KVV_TYPE_NONE) ||
        (strcmp(v, "*") && kvv_type_from_name(v) == KVV_TYPE_NONE)) {
        snprintf(m->why, m->why_len, "--kv: unknown type in '%s' (see `kvverify list types`)", it);
        return -1;
    }
    return 0;
}

static int same_case(const kvv_case *a, const kvv_case *b)
{
    return a->op == b->op && a->type_k == b->type_k && a->type_v == b->type_v && a->dk == b->dk && a->dv == b->dv &&
           a->group == b->group && a->n_q == b->n_q && a->n_kv == b->n_kv && a->n_head == b->n_head &&
           a->n_head_kv == b->n_head_kv && a->mask == b->mask && a->max_bias == b->max_bias &&
           a->softcap == b->softcap && a->scale == b->scale && a->tg.threads == b->tg.threads &&
           a->tg.split == b->tg.split && a->tg.cache == b->tg.cache && a->tg.lut == b->tg.lut &&
           a->tg.rot == b->tg.rot && a->tg.variant == b->tg.variant && a->tg.isa == b->tg.isa &&
           a->dist == b->dist && a->seed == b->seed;
}

/* A case has a toggle value when setting it changes nothing. */
static int toggle_differs(const char *it, void *arg)
{
    mctx *m = arg;
    char key[64];
    const char *eq = strchr(it, '=');
    if (!eq || eq == it || (size_t)(eq - it) >= sizeof key) {
        snprintf(m->why, m->why_len, "'%s' is not key=value", it);
        return -1;
    }
    memcpy(key, it, (size_t)(eq - it));
    key[eq - it] = 0;
    kvv_case t = *m->c;
    char err[200];
    if (kvv_case_set(&t, key, eq + 1, err, sizeof err)) {
        snprintf(m->why, m->why_len, "%s", err);
        return -1;
    }
    return !same_case(&t, m->c);
}

/* Every item must be a valid key=value (whether the dummy case has that
 * value does not matter: each_item stops at the first nonzero result). */
static int check_toggle(const char *it, void *arg) { return toggle_differs(it, arg) < 0 ? -1 : 0; }

static int count_item(const char *it, void *arg)
{
    (void)it;
    ++*(int *)arg;
    return 0;
}

/* One option's list: not too long, not empty, each item valid. */
static int check_list(const char *opt, const char *list, int (*fn)(const char *, void *), mctx *m)
{
    int items = 0;
    if (each_item(list, count_item, &items) == LIST_TOO_LONG) {
        snprintf(m->why, m->why_len, "%s: list longer than %d characters", opt, LIST_MAX - 1);
        return -1;
    }
    if (items == 0) {
        snprintf(m->why, m->why_len, "%s: empty list '%s'", opt, list);
        return -1;
    }
    return fn && each_item(list, fn, m) ? -1 : 0;
}

int kvv_filter_check(const kvv_filter *f, char *why, size_t n)
{
    kvv_case dummy = kvv_case_default(KVV_OP_ATTN);
    mctx m = {.c = &dummy, .why = why, .why_len = n};
    if (f->ops && check_list("-o", f->ops, check_op, &m))
        return -1;
    if (f->pattern && check_list("-p", f->pattern, NULL, &m))
        return -1;
    if (f->head_dims && check_list("--head-dim", f->head_dims, check_dim, &m))
        return -1;
    if (f->kv && check_list("--kv", f->kv, check_kv, &m))
        return -1;
    if (f->toggles && check_list("--toggle", f->toggles, check_toggle, &m))
        return -1;
    return 0;
}

int kvv_filter_match(const kvv_filter *f, const kvv_case *c, char *why, size_t n)
{
    mctx m = {.c = c, .why = why, .why_len = n};
    if (kvv_filter_check(f, why, n)) /* malformed: an error, not an empty match */
        return -1;
    kvv_case_name(c, m.name, sizeof m.name);
    if (f->ops && each_item(f->ops, match_op, &m) != 1)
        return 0;
    if (f->pattern && each_item(f->pattern, match_pattern, &m) != 1)
        return 0;
    if (f->head_dims && each_item(f->head_dims, match_dim, &m) != 1)
        return 0;
    if (f->kv && each_item(f->kv, match_kv, &m) != 1)
        return 0;
    if (f->toggles) {
        int r = each_item(f->toggles, toggle_differs, &m);
        if (r < 0)
            return -1;
        if (r > 0)
            return 0;
    }
    return 1;
}

typedef struct {
    kvv_case *c;
    char *why;
    size_t why_len;
} sctx;

static int set_one(const char *it, void *arg)
{
    sctx *s = arg;
    char key[64];
    const char *eq = strchr(it, '=');
    if (!eq || eq == it || (size_t)(eq - it) >= sizeof key) {
        snprintf(s->why, s->why_len, "--set: '%s' is not key=value", it);
        return -1;
    }
    memcpy(key, it, (size_t)(eq - it));
    key[eq - it] = 0;
    char err[200];
    if (kvv_case_set(s->c, key, eq + 1, err, sizeof err)) {
        snprintf(s->why, s->why_len, "--set: %s", err);
        return -1;
    }
    return 0;
}

int kvv_case_apply_set(kvv_case *c, const char *sets, char *why, size_t n)
{
    sctx s = {c, why, n};
    int items = 0;
    if (each_item(sets, count_item, &items) == LIST_TOO_LONG) {
        snprintf(why, n, "--set: list longer than %d characters", LIST_MAX - 1);
        return -1;
    }
    if (items == 0) {
        snprintf(why, n, "--set: empty list '%s'", sets);
        return -1;
    }
    return each_item(sets, set_one, &s) ? -1 : 0;
}
