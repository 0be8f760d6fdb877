/* Why cases were skipped (or declined, under --strict): each distinct reason
 * with its backend and count, for the summaries at the end of a run. */
#include <stdlib.h>
#include <string.h>

#include "reports/report_util.h"

int rep_reasons_note(rep_reasons *s, int backend, const kvv_verdict *v)
{
    if (v->status != KVV_SKIP && !(v->status == KVV_FAIL && v->rule == KVV_RULE_DECLINED))
        return 0;
    s->total++;
    for (int i = 0; i < s->n; i++)
        if (s->r[i].backend == backend && !strcmp(s->r[i].text, v->detail)) {
            s->r[i].n++;
            return 0;
        }
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        rep_reason *p = realloc(s->r, sizeof *p * (size_t)cap);
        if (!p)
            return -1;
        s->r = p;
        s->cap = cap;
    }
    char *t = strdup(v->detail);
    if (!t)
        return -1;
    s->r[s->n++] = (rep_reason){t, backend, 1};
    return 0;
}

static int by_count(const void *a, const void *b)
{
    const rep_reason *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? 1 : -1;
    if (x->backend != y->backend)
        return x->backend - y->backend;
    return strcmp(x->text, y->text);
}

void rep_reasons_sort(rep_reasons *s)
{
    if (s->n > 1)
        qsort(s->r, (size_t)s->n, sizeof *s->r, by_count);
}

void rep_reasons_free(rep_reasons *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->r[i].text);
    free(s->r);
    memset(s, 0, sizeof *s);
}
