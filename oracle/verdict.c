/* Verdicts: starting one, and recording the first failure. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "oracle/oracle.h"

void kvv_verdict_init(kvv_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->status = KVV_PASS;
    v->rule = KVV_RULE_NONE;
}

void kvv_verdict_fail(kvv_verdict *v, kvv_rule r, const char *fmt, ...)
{
    if (v->status == KVV_FAIL)
        return; /* keep the first failure: later ones are usually its echo */
    v->status = KVV_FAIL;
    v->rule = r;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->detail, sizeof v->detail, fmt, ap);
    va_end(ap);
}
