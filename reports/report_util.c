/* Escaping, number formatting, case labels and the verdict store shared by
 * the file reporters. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report_util.h"

void rep_put_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

void rep_put_xml(FILE *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        case '\n': fputs("&#10;", out); break; /* kept through attribute normalization */
        case '\t': fputs("&#9;", out); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fputs("\xef\xbf\xbd", out);
            else
                fputc(*p, out);
        }
    }
}

void rep_put_md_cell(FILE *out, const char *s)
{
    for (const char *p = s; p && *p; p++) {
        if (*p == '|')
            fputs("\\|", out);
        else if (*p == '\n' || *p == '\r')
            fputs("<br>", out);
        else if (*p == '<')
            fputs("&lt;", out);
        else
            fputc(*p, out);
    }
}

const char *rep_num(char *buf, size_t n, double x)
{
    if (isnan(x))
        snprintf(buf, n, "nan");
    else if (isinf(x))
        snprintf(buf, n, x > 0 ? "inf" : "-inf");
    else
        snprintf(buf, n, "%.6g", x);
    return buf;
}

void rep_put_json_num(FILE *out, double x)
{
    char b[32];
    rep_num(b, sizeof b, x);
    if (isfinite(x))
        fputs(b, out);
    else
        fprintf(out, "\"%s\"", b);
}

void rep_put_json_ratio(FILE *out, double x)
{
    if (rep_has_ratio(x))
        rep_put_json_num(out, x);
    else
        fputs("null", out);
}

const char *rep_ratio(char *buf, size_t n, double x)
{
    if (rep_has_ratio(x))
        return rep_num(buf, n, x);
    snprintf(buf, n, "-");
    return buf;
}

const char *rep_status_word(kvv_status s)
{
    static const char *const w[KVV_STATUS_COUNT] = {"pass", "fail", "skip"};
    return (unsigned)s < KVV_STATUS_COUNT ? w[s] : "?";
}

const char *rep_rot_name(kvv_rot_site r) { return r == KVV_ROT_GRAPH ? "graph" : "kernel"; }

const char *rep_variant_name(kvv_variant v)
{
    static const char *const w[] = {"auto", "vec", "tiled"};
    return (unsigned)v < 3 ? w[v] : "?";
}

const char *rep_isa_name(kvv_isa i)
{
    static const char *const w[] = {"auto", "scalar", "avx2"};
    return (unsigned)i < 3 ? w[i] : "?";
}

const char *rep_figure(const kvv_verdict *v, char *buf, size_t n)
{
    char x[32];
    if (v->rule == KVV_RULE_ARITH)
        snprintf(buf, n, "arith ratio %s", rep_num(x, sizeof x, v->arith_ratio));
    else if (v->rule == KVV_RULE_BUDGET)
        snprintf(buf, n, "budget ratio %s", rep_num(x, sizeof x, v->budget_ratio));
    else
        snprintf(buf, n, "%s", kvv_rule_name(v->rule));
    return buf;
}

void rep_rerun(const char *name, const char *backend, char *buf, size_t n)
{
    /* case names hold no quote characters; quoting keeps '*' and '=' literal */
    snprintf(buf, n, "kvverify run -b '%s' -p '%s'", backend, name);
}

void rep_head_label(const kvv_case *c, char *buf, size_t n)
{
    if (c->dv != c->dk && kvv_op_get(c->op) && kvv_op_get(c->op)->shape == KVV_SHAPE_HEADS)
        snprintf(buf, n, "d%d/%d", c->dk, c->dv);
    else
        snprintf(buf, n, "d%d", c->dk);
}

void rep_pair_label(const kvv_case *c, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", kvv_type_name(c->type_k), kvv_type_name(c->type_v));
}

int rep_store_add(rep_store *s, const kvv_case *c, const char *name, int backend, const kvv_verdict *v)
{
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 512;
        rep_entry *p = realloc(s->e, sizeof *p * (size_t)cap);
        if (!p)
            return -1;
        s->e = p;
        s->cap = cap;
    }
    char *nm = strdup(name);
    if (!nm)
        return -1;
    s->e[s->n++] = (rep_entry){*c, nm, backend, *v};
    return 0;
}

void rep_store_free(rep_store *s)
{
    for (int64_t i = 0; i < s->n; i++)
        free(s->e[i].name);
    free(s->e);
    memset(s, 0, sizeof *s);
}

kvv_reporter *rep_new(FILE *out, void *state, void (*begin)(kvv_reporter *, const kvv_run_info *),
                      void (*result)(kvv_reporter *, const kvv_case *, const char *, int, const kvv_verdict *),
                      void (*end)(kvv_reporter *, const kvv_summary *), void (*destroy)(kvv_reporter *))
{
    kvv_reporter *r = calloc(1, sizeof *r);
    if (!r || !state) {
        free(r);
        free(state);
        return NULL;
    }
    r->out = out;
    r->state = state;
    r->begin = begin;
    r->result = result;
    r->end = end;
    r->destroy = destroy;
    return r;
}
