/* Verdicts: the thresholds the ratio rules share, and recording a failure
 * (oracle/verdict.c). */
#ifndef KVV_ORACLE_VERDICT_H
#define KVV_ORACLE_VERDICT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "kvv/backend.h"
#include "kvv/case.h"
#include "kvv/verdict.h"
#include "backends/registry.h"
#include "dump/dump.h"
#include "model/model.h"
#include "ref/ref.h"
#include "reports/reports.h"

/* One threshold for every shape (the bounds carry the shape dependence). */
#define KVV_ARITH_THRESHOLD 1.0
#define KVV_BUDGET_THRESHOLD 2.0

void kvv_verdict_init(kvv_verdict *v);
/* Record a failure of rule r (only the first failure is kept). */
void kvv_verdict_fail(kvv_verdict *v, kvv_rule r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same, attaching the rule's first differences (up to KVV_VERDICT_DIFFS
 * of d[0..n)) when this is the failure that is kept. */
void kvv_verdict_fail_at(kvv_verdict *v, const kvv_diff *d, int n, kvv_rule r, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
