/* Verdicts: starting one, and recording the first failure. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "oracle/verdict.h"

void kvv_verdict_init(kvv_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->status = KVV_PASS;
    v->rule = KVV_RULE_NONE;
    v->arith_ratio = v->budget_ratio = NAN; /* none until a rule measures one */
}

static void vfail(kvv_verdict *v, const kvv_diff *d, int n, kvv_rule r, const char *fmt, va_list ap)
{
    if (v->status == KVV_FAIL)
        return; /* keep the first failure: later ones are usually its echo */
    v->status = KVV_FAIL;
    v->rule = r;
    vsnprintf(v->detail, sizeof v->detail, fmt, ap);
    v->ndiffs = n < 0 ? 0 : n > KVV_VERDICT_DIFFS ? KVV_VERDICT_DIFFS : n;
    if (v->ndiffs)
        memcpy(v->diffs, d, sizeof *d * (size_t)v->ndiffs);
}

void kvv_verdict_fail(kvv_verdict *v, kvv_rule r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(v, NULL, 0, r, fmt, ap);
    va_end(ap);
}

void kvv_verdict_fail_at(kvv_verdict *v, const kvv_diff *d, int n, kvv_rule r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(v, d, n, r, fmt, ap);
    va_end(ap);
}
