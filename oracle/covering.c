/* Covering arrays: the tuple sets a model asks for, which combinations the
 * constraints allow, how many rows cover each, and the generator.
 *
 * The generator is IPOG (in-parameter-order): the dimensions are taken
 * largest first; the first two give one row per combination; each further
 * dimension is added to every row with the value that covers the most
 * combinations still missing (horizontal growth; a row gains nothing keeps
 * the position open), and the combinations still missing then go into rows
 * whose positions they fit, or new rows (vertical growth).  Open positions
 * are filled last with the cheapest value.  Every value given to a row must
 * leave it completable under the constraints, which a depth-first search
 * over the open positions decides; the models put their constrained
 * dimensions first, so the search fails early where it fails at all. */
#include <stdlib.h>
#include <string.h>

#include "oracle/covering.h"

typedef struct cov_set {
    int t;          /* 2 or 3 dimensions */
    int dims[3];    /* ascending */
    int64_t stride[3];
    int64_t base, n; /* combinations base .. base+n-1 of the flat arrays */
} cov_set;

struct kvv_cov_table {
    const kvv_cov_model *m;
    kvv_cov_check_fn keep;
    const void *keep_ctx;
    int nsets;
    cov_set *set;
    int64_t ncombos;
    uint8_t *possible;
    uint32_t *covered;
};

static int check(const kvv_cov_table *t, const int *row)
{
    if (t->m->ok && !t->m->ok(t->m->ctx, row, NULL, 0))
        return 0;
    return !t->keep || t->keep(t->keep_ctx, row, NULL, 0);
}

/* Whether the open positions of row (from dimension d on) can be filled
 * so that the constraints hold; row comes back as it went in. */
static int completable(const kvv_cov_table *t, int *row, int d)
{
    const kvv_cov_model *m = t->m;
    while (d < m->ndims && row[d] != KVV_COV_ANY)
        d++;
    if (d == m->ndims)
        return 1;
    for (int v = 0; v < m->nvals[d]; v++) {
        row[d] = v;
        if (check(t, row) && completable(t, row, d + 1)) {
            row[d] = KVV_COV_ANY;
            return 1;
        }
    }
    row[d] = KVV_COV_ANY;
    return 0;
}

/* The row with its assigned values is valid and can be completed. */
static int feasible(const kvv_cov_table *t, int *row) { return check(t, row) && completable(t, row, 0); }

static int add_set(cov_set **sets, int *n, int *cap, int tsize, const int *dims)
{
    for (int i = 0; i < *n; i++)
        if ((*sets)[i].t == tsize && !memcmp((*sets)[i].dims, dims, sizeof(int) * (size_t)tsize))
            return 0;
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 64;
        cov_set *p = realloc(*sets, sizeof *p * (size_t)c);
        if (!p)
            return -1;
        *sets = p;
        *cap = c;
    }
    cov_set *s = &(*sets)[(*n)++];
    memset(s, 0, sizeof *s);
    s->t = tsize;
    memcpy(s->dims, dims, sizeof(int) * (size_t)tsize);
    return 0;
}

static void sort3(int *d, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && d[j - 1] > d[j]; j--) {
            int x = d[j];
            d[j] = d[j - 1];
            d[j - 1] = x;
        }
}

static int64_t combo_index(const cov_set *s, const int *row)
{
    int64_t i = 0;
    for (int k = 0; k < s->t; k++)
        i += (int64_t)row[s->dims[k]] * s->stride[k];
    return i;
}

static void combo_values(const cov_set *s, int64_t i, int *vals)
{
    for (int k = 0; k < s->t; k++) {
        vals[k] = (int)(i / s->stride[k]);
        i %= s->stride[k];
    }
}

kvv_cov_table *kvv_cov_table_new(const kvv_cov_model *m, kvv_cov_check_fn keep, const void *keep_ctx)
{
    if (m->ndims < 1 || m->ndims > KVV_COV_MAX_DIMS)
        return NULL;
    kvv_cov_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->m = m;
    t->keep = keep;
    t->keep_ctx = keep_ctx;
    int cap = 0, d[3];
    for (int i = 0; i < m->ndims; i++)
        for (int j = i + 1; j < m->ndims; j++) {
            d[0] = i;
            d[1] = j;
            if (add_set(&t->set, &t->nsets, &cap, 2, d))
                goto oom;
            for (int k = j + 1; m->strength >= 3 && k < m->ndims; k++) {
                d[2] = k;
                if (add_set(&t->set, &t->nsets, &cap, 3, d))
                    goto oom;
            }
        }
    for (int i = 0; i < m->nmarked; i++) {
        memcpy(d, m->marked[i], sizeof d);
        sort3(d, 3);
        if (d[0] < 0 || d[2] >= m->ndims || d[0] == d[1] || d[1] == d[2])
            continue; /* not a triple of this model */
        if (add_set(&t->set, &t->nsets, &cap, 3, d))
            goto oom;
    }
    for (int s = 0; s < t->nsets; s++) {
        cov_set *cs = &t->set[s];
        int64_t n = 1;
        for (int k = cs->t - 1; k >= 0; k--) {
            cs->stride[k] = n;
            n *= m->nvals[cs->dims[k]];
        }
        cs->base = t->ncombos;
        cs->n = n;
        t->ncombos += n;
    }
    t->possible = calloc((size_t)t->ncombos, 1);
    t->covered = calloc((size_t)t->ncombos, sizeof *t->covered);
    if (!t->possible || !t->covered)
        goto oom;
    int row[KVV_COV_MAX_DIMS], vals[3];
    for (int s = 0; s < t->nsets; s++) {
        const cov_set *cs = &t->set[s];
        for (int64_t i = 0; i < cs->n; i++) {
            for (int k = 0; k < m->ndims; k++)
                row[k] = KVV_COV_ANY;
            combo_values(cs, i, vals);
            for (int k = 0; k < cs->t; k++)
                row[cs->dims[k]] = vals[k];
            t->possible[cs->base + i] = (uint8_t)feasible(t, row);
        }
    }
    return t;
oom:
    kvv_cov_table_free(t);
    return NULL;
}

void kvv_cov_table_free(kvv_cov_table *t)
{
    if (!t)
        return;
    free(t->set);
    free(t->possible);
    free(t->covered);
    free(t);
}

/* Count the combinations of every set whose dimensions the row has all
 * assigned; once = 1: only mark them (the generator's bookkeeping). */
static void mark(kvv_cov_table *t, const int *row, int once)
{
    for (int s = 0; s < t->nsets; s++) {
        const cov_set *cs = &t->set[s];
        int full = 1;
        for (int k = 0; k < cs->t; k++)
            full &= row[cs->dims[k]] != KVV_COV_ANY;
        if (!full)
            continue;
        uint32_t *c = &t->covered[cs->base + combo_index(cs, row)];
        if (!once || !*c)
            (*c)++;
    }
}

void kvv_cov_table_add(kvv_cov_table *t, const int *row) { mark(t, row, 0); }

int kvv_cov_nsets(const kvv_cov_table *t) { return t->nsets; }

int kvv_cov_set_dims(const kvv_cov_table *t, int s, int dims[3])
{
    memcpy(dims, t->set[s].dims, sizeof(int) * 3);
    return t->set[s].t;
}

int64_t kvv_cov_set_combos(const kvv_cov_table *t, int s) { return t->set[s].n; }

void kvv_cov_combo(const kvv_cov_table *t, int s, int64_t i, int vals[3], int *possible, int64_t *covered)
{
    const cov_set *cs = &t->set[s];
    combo_values(cs, i, vals);
    *possible = t->possible[cs->base + i];
    *covered = t->covered[cs->base + i];
}

kvv_cov_count kvv_cov_total(const kvv_cov_table *t, int size)
{
    kvv_cov_count c = {0, 0};
    for (int s = 0; s < t->nsets; s++) {
        const cov_set *cs = &t->set[s];
        if (cs->t != size)
            continue;
        for (int64_t i = 0; i < cs->n; i++)
            if (t->possible[cs->base + i]) {
                c.possible++;
                c.covered += t->covered[cs->base + i] != 0;
            }
    }
    return c;
}

/* ---- the generator ---- */

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct rowbuf {
    int *v;
    int n, cap, ndims;
} rowbuf;

static int *new_row(rowbuf *b)
{
    if (b->n == b->cap) {
        int c = b->cap ? 2 * b->cap : 128;
        int *p = realloc(b->v, sizeof(int) * (size_t)c * (size_t)b->ndims);
        if (!p)
            return NULL;
        b->v = p;
        b->cap = c;
    }
    int *r = b->v + (size_t)b->n++ * (size_t)b->ndims;
    for (int k = 0; k < b->ndims; k++)
        r[k] = KVV_COV_ANY;
    return r;
}

typedef struct cand {
    int v, gain;
    double cost;
    uint64_t tie;
} cand;

static int cand_cmp(const void *pa, const void *pb)
{
    const cand *a = pa, *b = pb;
    if (a->gain != b->gain)
        return a->gain > b->gain ? -1 : 1;
    if (a->cost != b->cost)
        return a->cost < b->cost ? -1 : 1;
    return a->tie < b->tie ? -1 : a->tie > b->tie;
}

static double cost_of(const kvv_cov_model *m, int d, int v) { return m->cost && m->cost[d] ? m->cost[d][v] : 0.0; }

/* Give every open position of row the cheapest value that keeps it valid. */
static void fill_open(const kvv_cov_table *t, int *row, uint64_t seed, int r)
{
    const kvv_cov_model *m = t->m;
    cand c[256];
    for (int d = 0; d < m->ndims; d++) {
        if (row[d] != KVV_COV_ANY)
            continue;
        int n = m->nvals[d] < 256 ? m->nvals[d] : 256;
        for (int v = 0; v < n; v++)
            c[v] = (cand){v, 0, cost_of(m, d, v), mix64(seed ^ ((uint64_t)r << 32) ^ ((uint64_t)d << 16) ^ (uint64_t)v)};
        qsort(c, (size_t)n, sizeof *c, cand_cmp);
        for (int i = 0; i < n; i++) {
            row[d] = c[i].v;
            if (feasible(t, row))
                break;
            row[d] = KVV_COV_ANY;
        }
    }
}

int kvv_cov_generate(const kvv_cov_model *m, kvv_cov_check_fn keep, const void *keep_ctx, const int *pre, int npre,
                     uint64_t seed, int **rows_out, int *nrows_out)
{
    *rows_out = NULL;
    *nrows_out = 0;
    kvv_cov_table *t = kvv_cov_table_new(m, keep, keep_ctx);
    if (!t)
        return -1;
    const int nd = m->ndims;
    for (int i = 0; i < npre; i++)
        mark(t, pre + (size_t)i * (size_t)nd, 1);
    /* the order: most values first (the first two give the initial rows) */
    int order[KVV_COV_MAX_DIMS], pos[KVV_COV_MAX_DIMS];
    for (int d = 0; d < nd; d++)
        order[d] = d;
    for (int i = 1; i < nd; i++)
        for (int j = i; j > 0 && m->nvals[order[j - 1]] < m->nvals[order[j]]; j--) {
            int x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    for (int k = 0; k < nd; k++)
        pos[order[k]] = k;
    rowbuf rb = {NULL, 0, 0, nd};
    int rc = -1;
    cand *cands = malloc(sizeof *cands * 256);
    int *tmp = malloc(sizeof(int) * (size_t)nd);
    int *lastof = malloc(sizeof(int) * (size_t)t->nsets); /* the sets whose last dimension is the current one */
    if (!cands || !tmp || !lastof)
        goto done;
    /* each set is added when the last of its dimensions (in the order) is */
    for (int k = 1; k < nd; k++) {
        const int d = order[k];
        int first = rb.n == 0 && k == 1, nlast = 0;
        for (int s = 0; s < t->nsets; s++) {
            const cov_set *cs = &t->set[s];
            int last = cs->dims[0];
            for (int q = 1; q < cs->t; q++)
                last = pos[cs->dims[q]] > pos[last] ? cs->dims[q] : last;
            if (last == d)
                lastof[nlast++] = s;
        }
        if (k >= 2) {
            /* horizontal growth */
            for (int r = 0; r < rb.n; r++) {
                int *row = rb.v + (size_t)r * (size_t)nd;
                int nv = m->nvals[d] < 256 ? m->nvals[d] : 256, best = 0;
                for (int v = 0; v < nv; v++) {
                    cands[v] = (cand){v, 0, cost_of(m, d, v),
                                      mix64(seed ^ ((uint64_t)r << 32) ^ ((uint64_t)d << 16) ^ (uint64_t)v)};
                    row[d] = v;
                    for (int si = 0; si < nlast; si++) {
                        const cov_set *cs = &t->set[lastof[si]];
                        int full = 1;
                        for (int q = 0; q < cs->t; q++)
                            full &= row[cs->dims[q]] != KVV_COV_ANY;
                        if (!full)
                            continue;
                        int64_t i = cs->base + combo_index(cs, row);
                        cands[v].gain += t->possible[i] && !t->covered[i];
                    }
                    best = cands[v].gain > best ? cands[v].gain : best;
                }
                row[d] = KVV_COV_ANY;
                if (best == 0)
                    continue; /* nothing to gain: the position stays open for vertical growth */
                qsort(cands, (size_t)nv, sizeof *cands, cand_cmp);
                for (int c = 0; c < nv && cands[c].gain > 0; c++) {
                    row[d] = cands[c].v;
                    if (feasible(t, row))
                        break;
                    row[d] = KVV_COV_ANY;
                }
                if (row[d] != KVV_COV_ANY)
                    mark(t, row, 1);
            }
        }
        /* vertical growth: what is still missing, in rows it fits or new ones */
        for (int si = 0; si < nlast; si++) {
            const cov_set *cs = &t->set[lastof[si]];
            int vals[3];
            for (int64_t i = 0; i < cs->n; i++) {
                if (!t->possible[cs->base + i] || t->covered[cs->base + i])
                    continue;
                combo_values(cs, i, vals);
                int done_row = 0;
                for (int r = 0; r < rb.n && !first && !done_row; r++) {
                    int *row = rb.v + (size_t)r * (size_t)nd, fits = 1;
                    for (int q = 0; q < cs->t && fits; q++)
                        fits = row[cs->dims[q]] == KVV_COV_ANY || row[cs->dims[q]] == vals[q];
                    if (!fits)
                        continue;
                    memcpy(tmp, row, sizeof(int) * (size_t)nd);
                    for (int q = 0; q < cs->t; q++)
                        tmp[cs->dims[q]] = vals[q];
                    if (feasible(t, tmp)) {
                        memcpy(row, tmp, sizeof(int) * (size_t)nd);
                        mark(t, row, 1);
                        done_row = 1;
                    }
                }
                if (done_row)
                    continue;
                int *row = new_row(&rb);
                if (!row)
                    goto done;
                for (int q = 0; q < cs->t; q++)
                    row[cs->dims[q]] = vals[q];
                mark(t, row, 1);
            }
        }
    }
    for (int r = 0; r < rb.n; r++)
        fill_open(t, rb.v + (size_t)r * (size_t)nd, seed, r);
    /* a model of one dimension has no combinations: one row shows it */
    if (nd == 1 && npre == 0) {
        int *row = new_row(&rb);
        if (!row)
            goto done;
        fill_open(t, row, seed, 0);
    }
    *rows_out = rb.v;
    *nrows_out = rb.n;
    rb.v = NULL;
    rc = 0;
done:
    free(rb.v);
    free(cands);
    free(tmp);
    free(lastof);
    kvv_cov_table_free(t);
    return rc;
}
