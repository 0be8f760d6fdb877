/* Shrinking a failing case to a minimal one: the interface of the shrinker
 * half of fuzz/.  The shrinker knows nothing of backends or rules; the
 * caller's predicate says whether a candidate still fails the same way. */
#ifndef KVV_SHRINK_H
#define KVV_SHRINK_H

#include "kvv/case.h"

/* 1 when c still shows the failure being shrunk, else 0. */
typedef int (*kvv_shrink_pred)(const kvv_case *c, void *arg);

typedef struct kvv_shrink_stats {
    int tried;    /* candidates the predicate was asked about */
    int accepted; /* candidates that still failed and replaced the case */
} kvv_shrink_stats;

/* Greedy shrinking: repeatedly try simpler valid neighbours of *c (fewer
 * keys, queries and rows, fewer heads, narrower heads, f16 in place of
 * either type, simpler values: zero < const < gauss < the others, no mask,
 * ALiBi, softcap or scale, every toggle at its default) and keep the first
 * that still fails, until none does or max_tries predicate calls are spent.
 * *c is replaced by the smallest failing case found. */
void kvv_shrink(kvv_case *c, kvv_shrink_pred still_fails, void *arg, int max_tries, kvv_shrink_stats *st);

/* Rank of a distribution by simplicity (0 = all zero); the shrinker only
 * ever moves to a lower rank. */
int kvv_dist_rank(kvv_dist d);

#endif
