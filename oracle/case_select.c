/* The cases a run selects: the base list, the stored corpus, the format
 * versions, the overrides, the seeds and the filters, in that order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oracle/case_select.h"

/* Seeds derived from --seed stay printable in the case name, so a failure
 * line still reruns exactly. */
static uint64_t mix_seed(uint64_t s, uint64_t base)
{
    uint64_t z = s * 0x9e3779b97f4a7c15ull ^ base;
    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ull;
    return (z ^ (z >> 29)) % 1000000007ull;
}

/* Whether a case name of the list holds text. */
static int matches_any(const kvv_case_list *l, const char *text)
{
    char name[512];
    for (int i = 0; i < l->n; i++) {
        kvv_case_name(&l->items[i], name, sizeof name);
        if (strstr(name, text))
            return 1;
    }
    return 0;
}

/* The list before overrides and filters: the named cases, the case file,
 * or the gate or full matrix with the stored corpus. */
static int base_cases(const kvv_case_select *o, kvv_case_list *base, char *why, size_t why_len)
{
    if (o->named) {
        for (int i = 0; i < o->named->n; i++)
            if (kvv_case_list_push(base, &o->named->items[i]))
                goto oom;
        return 0;
    }
    if (o->cases_file)
        return kvv_case_file_load(o->cases_file, base, why, why_len);
    if (o->full ? kvv_full_cases(base) : kvv_gate_cases(base))
        goto oom;
    if (!o->corpus)
        return 0;
    /* the gate and the full matrix replay the stored corpus too */
    int there = access(o->corpus, F_OK) == 0;
    if (o->corpus_given && !there) {
        snprintf(why, why_len, "--corpus: no folder %s", o->corpus);
        return -1;
    }
    if (kvv_corpus_load(o->corpus, base, why, why_len) < 0)
        return -1;
    if (!there && o->log)
        fprintf(o->log, "kvverify: note: no %s/ folder here, so the stored corpus is not replayed (run from the "
                        "source tree or give --corpus DIR)\n", o->corpus);
    return 0;
oom:
    snprintf(why, why_len, "out of memory building the case list");
    return -1;
}

/* Each pattern that matched nothing and is a full case name adds that
 * case; one that reads as a case name but does not parse is an error. */
static int add_named_patterns(const char *pattern, kvv_case_list *out, char *why, size_t why_len)
{
    char items[1024], *save = NULL, err[300];
    snprintf(items, sizeof items, "%s", pattern ? pattern : "");
    for (char *it = strtok_r(items, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        if (strpbrk(it, "*?[") || matches_any(out, it))
            continue;
        kvv_case c;
        char op[16];
        size_t oplen = strcspn(it, "/");
        snprintf(op, sizeof op, "%.*s", (int)(oplen < sizeof op ? oplen : sizeof op - 1), it);
        if (kvv_case_parse(it, &c, err, sizeof err) == 0) {
            kvv_case_list_push(out, &c);
        } else if (strchr(it, '/') && (strchr(it, '=') || kvv_op_from_name(op) != KVV_OP_COUNT)) {
            snprintf(why, why_len, "no case matches '%s', and it is not a valid case name: %s", it, err);
            return -1;
        }
    }
    return 0;
}

int kvv_cases_select(const kvv_case_select *o, kvv_case_list *out, char *why, size_t why_len)
{
    kvv_case_list base = {0};
    int named = o->cases_file || o->named; /* cases named in a file run as written */
    if (base_cases(o, &base, why, why_len))
        goto fail;
    if (o->formats && !named && kvv_format_map_changes(o->formats)) {
        int dropped = 0;
        kvv_formats_rewrite(o->formats, &base, &dropped);
        if (dropped && o->log)
            fprintf(o->log, "kvverify: %d generated cases dropped: head dims those versions cannot hold\n", dropped);
    }
    for (int i = 0; i < base.n; i++) {
        kvv_case c = base.items[i];
        if (o->set && kvv_case_apply_set(&c, o->set, why, why_len))
            goto fail;
        if (o->seed && c.op != KVV_OP_PPL) /* a ppl case's seed picks the probe model its bounds belong to */
            c.seed = mix_seed(o->seed, c.seed);
        int m = kvv_filter_match(&o->filter, &c, why, why_len);
        if (m < 0)
            goto fail;
        if (m)
            kvv_case_list_push(out, &c);
    }
    kvv_case_list_free(&base);
    if (add_named_patterns(o->filter.pattern, out, why, why_len))
        goto fail;
    return 0;
fail:
    kvv_case_list_free(&base);
    kvv_case_list_free(out);
    return -1;
}

int kvv_cases_coverage_line(const kvv_case_select *o, const kvv_case_list *l, int device_too, char *buf, size_t len)
{
    kvv_coverage all, dev;
    if (kvv_coverage_measure(l->items, l->n, o->full ? 3 : 2, 0, &all))
        return -1;
    const kvv_filter *f = &o->filter;
    int filtered = f->ops || f->pattern || f->head_dims || f->kv || f->toggles;
    snprintf(buf, len, "%s", filtered ? "the filtered cases: " : "");
    kvv_coverage_line(&all, buf + strlen(buf), len - strlen(buf));
    if (device_too && kvv_coverage_measure(l->items, l->n, o->full ? 3 : 2, 1, &dev) == 0) {
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, "; without the CPU toggles (threads, isa): ");
        n = strlen(buf);
        kvv_coverage_line(&dev, buf + n, len - n);
    }
    return 0;
}

int kvv_cases_failed(const char *path, kvv_case_list *out, char *backends, size_t n, char *why, size_t why_len)
{
    kvv_ratio_set set = {0};
    char err[700];
    if (kvv_ratios_load(path, &set, err, sizeof err)) {
        snprintf(why, why_len, "%s", err);
        return -1;
    }
    int rc = 0;
    for (int64_t i = 0; i < set.n && rc == 0; i++) {
        const kvv_ratio_row *r = &set.rows[i];
        if (r->status != KVV_FAIL)
            continue;
        int seen = 0;
        for (int64_t j = 0; j < i && !seen; j++)
            seen = set.rows[j].status == KVV_FAIL && !strcmp(set.rows[j].name, r->name);
        kvv_case c;
        if (!seen && kvv_case_parse(r->name, &c, err, sizeof err)) {
            snprintf(why, why_len, "%s: case '%s': %s", path, r->name, err);
            rc = -1;
        } else if (!seen) {
            kvv_case_list_push(out, &c);
        }
        int known = 0;
        for (int64_t j = 0; j < i && !known; j++)
            known = set.rows[j].status == KVV_FAIL && !strcmp(set.rows[j].backend, r->backend);
        size_t have = strlen(backends);
        if (rc == 0 && !known &&
            snprintf(backends + have, n - have, "%s%s", have ? "," : "", r->backend) >= (int)(n - have)) {
            snprintf(why, why_len, "%s: too many backends to name (give -b)", path);
            rc = -1;
        }
    }
    kvv_ratios_free(&set);
    return rc;
}

void kvv_format_map_note(const kvv_format_map *m, FILE *log)
{
    if (!kvv_format_map_changes(m))
        return;
    const char *who = "";
    fprintf(log, "kvverify: the generated cases run in the format versions the backends store:");
    for (int t = 0, first = 1; t < KVV_TYPE_COUNT; t++)
        if (m->as[t] != (kvv_type)t) {
            fprintf(log, "%s %s as %s", first ? "" : ",", kvv_type_name((kvv_type)t), kvv_type_name(m->as[t]));
            first = 0;
            who = m->who[t];
        }
    fprintf(log, " (%s; `kvverify probe -b BACKEND` says how it knows; --listed-formats runs them as listed)\n", who);
}
