/* Comparing a run with a baseline: per (case, backend), status changes and
 * the growth of the error ratios.  Reads the ratio TSV and the JSON-lines
 * report (only their "case" records), told apart by the first character. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reports/report_util.h"

/* ---------------- loading ---------------- */

void kvv_ratios_free(kvv_ratio_set *s)
{
    for (int64_t i = 0; i < s->n; i++) {
        free(s->rows[i].name);
        free(s->rows[i].backend);
    }
    free(s->rows);
    memset(s, 0, sizeof *s);
}

static int push_row(kvv_ratio_set *s, const char *name, const char *backend, kvv_status st, double a, double b)
{
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 1024;
        kvv_ratio_row *p = realloc(s->rows, sizeof *p * (size_t)cap);
        if (!p)
            return -1;
        s->rows = p;
        s->cap = cap;
    }
    kvv_ratio_row *r = &s->rows[s->n];
    r->name = strdup(name);
    r->backend = strdup(backend);
    if (!r->name || !r->backend) {
        free(r->name);
        free(r->backend);
        return -1;
    }
    r->status = st;
    r->arith = a;
    r->budget = b;
    s->n++;
    return 0;
}

static int parse_status(const char *s, kvv_status *st)
{
    static const char *const w[KVV_STATUS_COUNT] = {"pass", "fail", "skip"};
    for (int i = 0; i < KVV_STATUS_COUNT; i++)
        if (!strcasecmp(s, w[i])) {
            *st = (kvv_status)i;
            return 0;
        }
    return -1;
}

/* A ratio as written by rep_num (strtod also reads inf), or none: "-",
 * "null", "nan" or nothing, kept as NaN. */
static int parse_ratio(const char *s, double *x)
{
    if (!*s || !strcmp(s, "-") || !strcmp(s, "null") || !strcasecmp(s, "nan")) {
        *x = NAN;
        return 0;
    }
    char *end;
    errno = 0;
    *x = strtod(s, &end);
    return end == s || *end ? -1 : 0;
}

static int read_tsv_line(char *line, kvv_ratio_set *s, char *why, size_t n)
{
    char *f[5];
    int k = 0;
    for (char *p = line; k < 5; k++) {
        f[k] = p;
        char *tab = strchr(p, '\t');
        if (!tab) {
            k++;
            break;
        }
        *tab = 0;
        p = tab + 1;
    }
    if (k != 5) {
        snprintf(why, n, "expected 5 tab-separated fields (name, backend, status, arith_ratio, budget_ratio)");
        return -1;
    }
    if (!strcmp(f[0], "name") && !strcmp(f[2], "status"))
        return 0; /* the header row */
    kvv_status st;
    double a, b;
    if (parse_status(f[2], &st)) {
        snprintf(why, n, "bad status '%s'", f[2]);
        return -1;
    }
    if (parse_ratio(f[3], &a) || parse_ratio(f[4], &b)) {
        snprintf(why, n, "bad ratio '%s' or '%s'", f[3], f[4]);
        return -1;
    }
    return push_row(s, f[0], f[1], st, a, b) ? (snprintf(why, n, "out of memory"), -1) : 0;
}

/* A minimal reader of the flat JSON objects the JSON reporter writes: the
 * top-level string and number members; nested values are skipped. */
typedef struct {
    const char *p;
    char name[512], backend[128], status[16], record[16];
    double arith, budget;
    int have_arith, have_budget;
} jrec;

static void skip_ws(const char **p)
{
    while (isspace((unsigned char)**p))
        (*p)++;
}

/* Reads a string literal into buf (truncating); p is past it on return. */
static int read_str(const char **p, char *buf, size_t n)
{
    if (**p != '"')
        return -1;
    (*p)++;
    size_t k = 0;
    while (**p && **p != '"') {
        char c = **p;
        if (c == '\\') {
            (*p)++;
            switch (**p) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                unsigned u = 0;
                for (int i = 1; i <= 4; i++) {
                    char h = (*p)[i];
                    if (!isxdigit((unsigned char)h))
                        return -1;
                    u = u * 16 + (unsigned)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
                }
                *p += 4;
                c = u < 0x80 ? (char)u : '?'; /* names are ASCII */
                break;
            }
            case 0: return -1;
            default: c = **p; break;
            }
        }
        if (buf && k + 1 < n)
            buf[k++] = c;
        (*p)++;
    }
    if (**p != '"')
        return -1;
    (*p)++;
    if (buf && n)
        buf[k] = 0;
    return 0;
}

/* Skips any JSON value. */
static int skip_value(const char **p)
{
    skip_ws(p);
    if (**p == '"')
        return read_str(p, NULL, 0);
    if (**p == '{' || **p == '[') {
        int depth = 0;
        do {
            if (**p == '"') {
                if (read_str(p, NULL, 0))
                    return -1;
                continue;
            }
            if (**p == '{' || **p == '[')
                depth++;
            else if (**p == '}' || **p == ']')
                depth--;
            else if (!**p)
                return -1;
            (*p)++;
        } while (depth > 0);
        return 0;
    }
    const char *s = *p;
    while (**p && !strchr(",}] \t\r\n", **p))
        (*p)++;
    return *p == s ? -1 : 0;
}

/* A number member: a JSON number, one of the strings "inf", "-inf", "nan", or
 * null (parse_ratio reads the literal as no ratio). */
static int read_num(const char **p, double *x)
{
    skip_ws(p);
    char buf[32];
    if (**p == '"') {
        if (read_str(p, buf, sizeof buf))
            return -1;
        return parse_ratio(buf, x);
    }
    const char *s = *p;
    if (skip_value(p))
        return -1;
    size_t n = (size_t)(*p - s) < sizeof buf - 1 ? (size_t)(*p - s) : sizeof buf - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
    return parse_ratio(buf, x);
}

static int read_object(jrec *r)
{
    const char **p = &r->p;
    skip_ws(p);
    if (**p != '{')
        return -1;
    (*p)++;
    for (;;) {
        skip_ws(p);
        if (**p == '}')
            return 0;
        char k[32];
        if (read_str(p, k, sizeof k))
            return -1;
        skip_ws(p);
        if (**p != ':')
            return -1;
        (*p)++;
        skip_ws(p);
        int rc;
        if (!strcmp(k, "record"))
            rc = read_str(p, r->record, sizeof r->record);
        else if (!strcmp(k, "name"))
            rc = read_str(p, r->name, sizeof r->name);
        else if (!strcmp(k, "backend"))
            rc = read_str(p, r->backend, sizeof r->backend);
        else if (!strcmp(k, "status"))
            rc = read_str(p, r->status, sizeof r->status);
        else if (!strcmp(k, "arith_ratio"))
            rc = read_num(p, &r->arith) ? -1 : (r->have_arith = 1, 0);
        else if (!strcmp(k, "budget_ratio"))
            rc = read_num(p, &r->budget) ? -1 : (r->have_budget = 1, 0);
        else
            rc = skip_value(p);
        if (rc)
            return -1;
        skip_ws(p);
        if (**p == ',')
            (*p)++;
        else if (**p != '}')
            return -1;
    }
}

static int read_json_line(const char *line, kvv_ratio_set *s, char *why, size_t n)
{
    jrec r;
    memset(&r, 0, sizeof r);
    r.p = line;
    if (read_object(&r)) {
        snprintf(why, n, "not a JSON object");
        return -1;
    }
    if (strcmp(r.record, "case"))
        return 0; /* run and summary records */
    kvv_status st;
    if (!r.name[0] || !r.backend[0] || parse_status(r.status, &st) || !r.have_arith || !r.have_budget) {
        snprintf(why, n, "a case record needs name, backend, status, arith_ratio and budget_ratio");
        return -1;
    }
    return push_row(s, r.name, r.backend, st, r.arith, r.budget) ? (snprintf(why, n, "out of memory"), -1) : 0;
}

int kvv_ratios_read(FILE *f, const char *path, kvv_ratio_set *s, char *why, size_t why_len)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        const char *t = line + strspn(line, " \t");
        if (!*t || *t == '#')
            continue;
        char w[200];
        if ((*t == '{' ? read_json_line(t, s, w, sizeof w) : read_tsv_line(line, s, w, sizeof w))) {
            snprintf(why, why_len, "%s:%d: %s", path, lineno, w);
            rc = -1;
            break;
        }
    }
    free(line);
    return rc;
}

int kvv_ratios_load(const char *path, kvv_ratio_set *s, char *why, size_t why_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, why_len, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = kvv_ratios_read(f, path, s, why, why_len);
    fclose(f);
    return rc;
}

/* ---------------- comparing ---------------- */

enum { C_REGRESSED, C_NEWLY_FAILING, C_NEW_FAIL, C_FIXED, C_IMPROVED, C_STATUS, C_ADDED, C_REMOVED, C_COUNT };

static const struct {
    const char *tag, *heading;
    int always; /* printed in full whatever list_max says */
} cats[C_COUNT] = {
    {"REGRESSED", "error ratio grew beyond the factor", 1},
    {"NOW FAILS", "passed (or was skipped) in the baseline, fails now", 1},
    {"NEW FAIL", "a case the baseline does not have, failing", 1},
    {"fixed", "failed in the baseline, passes now", 0},
    {"improved", "error ratio shrank beyond the factor", 0},
    {"status", "status changed (no failure involved)", 0},
    {"new", "cases the baseline does not have", 0},
    {"removed", "baseline cases this run does not have", 0},
};

typedef struct {
    int cat;
    const kvv_ratio_row *b, *c;
} event;

static int row_cmp(const void *x, const void *y)
{
    const kvv_ratio_row *a = *(const kvv_ratio_row *const *)x, *b = *(const kvv_ratio_row *const *)y;
    int d = strcmp(a->backend, b->backend);
    return d ? d : strcmp(a->name, b->name);
}

static const kvv_ratio_row **sorted(const kvv_ratio_set *s)
{
    const kvv_ratio_row **p = malloc(sizeof *p * (size_t)(s->n ? s->n : 1));
    if (!p)
        return NULL;
    for (int64_t i = 0; i < s->n; i++)
        p[i] = &s->rows[i];
    qsort(p, (size_t)s->n, sizeof *p, row_cmp);
    return p;
}

/* The ratio a comparison uses: values under the floor are lifted so that
 * noise near zero cannot regress. */
static double eff(double x, double floor) { return x < floor ? floor : x; }

/* Whether cur grew (sign +1) or shrank (-1) beyond the factor against base.
 * A ratio one side does not have (NaN: a crash, a decline) is no change of
 * ratio: the status says what happened. */
static int ratio_change(double base, double cur, const kvv_compare_opts *o)
{
    if (isnan(base) || isnan(cur))
        return 0;
    double b = eff(base, o->floor), c = eff(cur, o->floor);
    if (isinf(b) && isinf(c))
        return 0;
    if (c > b * o->factor)
        return 1;
    if (b > c * o->factor)
        return -1;
    return 0;
}

static int classify(const kvv_ratio_row *b, const kvv_ratio_row *c, const kvv_compare_opts *o)
{
    if (!b)
        return c->status == KVV_FAIL ? C_NEW_FAIL : C_ADDED;
    if (!c)
        return C_REMOVED;
    if (c->status == KVV_FAIL && b->status != KVV_FAIL)
        return C_NEWLY_FAILING;
    if (b->status == KVV_FAIL && c->status == KVV_PASS)
        return C_FIXED;
    if (b->status == KVV_SKIP || c->status == KVV_SKIP)
        return b->status != c->status ? C_STATUS : -1;
    int da = ratio_change(b->arith, c->arith, o), db = ratio_change(b->budget, c->budget, o);
    if (da > 0 || db > 0)
        return C_REGRESSED;
    if (b->status != c->status)
        return C_STATUS;
    if (da < 0 || db < 0)
        return C_IMPROVED;
    return -1;
}

/* equal, or both absent */
static int same(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

static void print_event(FILE *out, const event *e)
{
    const kvv_ratio_row *r = e->c ? e->c : e->b;
    fprintf(out, "  %-9s %-8s %s", cats[e->cat].tag, r->backend, r->name);
    char x[32], y[32];
    if (e->b && e->c) {
        if (e->b->status != e->c->status)
            fprintf(out, "  %s -> %s", rep_status_word(e->b->status), rep_status_word(e->c->status));
        if (!same(e->b->arith, e->c->arith))
            fprintf(out, "  arith %s -> %s", rep_ratio(x, sizeof x, e->b->arith), rep_ratio(y, sizeof y, e->c->arith));
        if (!same(e->b->budget, e->c->budget))
            fprintf(out, "  budget %s -> %s", rep_ratio(x, sizeof x, e->b->budget),
                    rep_ratio(y, sizeof y, e->c->budget));
    } else {
        fprintf(out, "  (%s, arith %s, budget %s)", rep_status_word(r->status), rep_ratio(x, sizeof x, r->arith),
                rep_ratio(y, sizeof y, r->budget));
    }
    fputc('\n', out);
}

int64_t kvv_compare(const kvv_ratio_set *base, const kvv_ratio_set *cur, const kvv_compare_opts *o, FILE *out,
                    kvv_compare_result *res)
{
    memset(res, 0, sizeof *res);
    const kvv_ratio_row **B = sorted(base), **C = sorted(cur);
    event *ev = malloc(sizeof *ev * (size_t)(base->n + cur->n + 1));
    if (!B || !C || !ev) {
        free(B);
        free(C);
        free(ev);
        return -1;
    }
    int64_t nev = 0, i = 0, j = 0, count[C_COUNT] = {0};
    while (i < base->n || j < cur->n) {
        int d = i >= base->n ? 1 : j >= cur->n ? -1 : row_cmp(&B[i], &C[j]);
        const kvv_ratio_row *b = d <= 0 ? B[i] : NULL, *c = d >= 0 ? C[j] : NULL;
        /* a key listed twice counts once */
        if (d <= 0)
            while (++i < base->n && row_cmp(&B[i - 1], &B[i]) == 0)
                ;
        if (d >= 0)
            while (++j < cur->n && row_cmp(&C[j - 1], &C[j]) == 0)
                ;
        int cat = classify(b, c, o);
        if (cat < 0) {
            res->unchanged++;
            continue;
        }
        count[cat]++;
        ev[nev++] = (event){cat, b, c};
    }
    res->regressed = count[C_REGRESSED];
    res->newly_failing = count[C_NEWLY_FAILING] + count[C_NEW_FAIL];
    res->fixed = count[C_FIXED];
    res->improved = count[C_IMPROVED];
    res->status_changed = count[C_STATUS];
    res->added = count[C_ADDED] + count[C_NEW_FAIL];
    res->removed = count[C_REMOVED];
    for (int cat = 0; cat < C_COUNT; cat++) {
        if (!count[cat])
            continue;
        fprintf(out, "%s: %lld\n", cats[cat].heading, (long long)count[cat]);
        int64_t shown = 0;
        for (int64_t k = 0; k < nev; k++) {
            if (ev[k].cat != cat)
                continue;
            if (!cats[cat].always && o->list_max > 0 && shown >= o->list_max) {
                fprintf(out, "  ... and %lld more\n", (long long)(count[cat] - shown));
                break;
            }
            print_event(out, &ev[k]);
            shown++;
        }
    }
    int64_t bad = res->regressed + res->newly_failing;
    fprintf(out,
            "%lld regressed, %lld newly failing, %lld fixed, %lld improved, %lld status changes, %lld new, %lld "
            "removed, %lld unchanged (factor %g, floor %g): %s\n",
            (long long)res->regressed, (long long)res->newly_failing, (long long)res->fixed,
            (long long)res->improved, (long long)res->status_changed, (long long)res->added,
            (long long)res->removed, (long long)res->unchanged, o->factor, o->floor, bad ? "REGRESSION" : "ok");
    free(B);
    free(C);
    free(ev);
    return bad;
}
