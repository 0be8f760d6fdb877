/* The bounds of the end-to-end gate: corpora/ppl_bounds.tsv, one row per
 * (probe model, head dim, K type, V type):
 *
 *   model  d  K  V  ratio_max  kl_mean_max  kl_p99_max  [measured values]
 *
 * Each row is derived from a measurement on the honest CPU backend by
 * kvv_ppl_bound_from (1.5x the measured excess, with floors that leave room
 * for a backend whose arithmetic rounds differently; the PPL ratio may also
 * move twice as far as the mean-KL bound), over the gate's probe and the
 * probes of a few other seeds, and the whole table is
 * regenerated with `kvverify ppl --bounds > corpora/ppl_bounds.tsv`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/cases.h"
#include "oracle/ppl.h"

/* Margin over the honest measurement, and floors: the smallest excess PPL
 * ratio and KL a bound allows (f32 arithmetic in another order, an f16
 * accumulator, a flipped rounding tie move the numbers by far less). */
#define MARGIN 1.5
#define FLOOR_RATIO 0.002
#define FLOOR_KL_MEAN 1e-4
#define FLOOR_KL_P99 1e-3
/* probes measured for each row: the gate's (seed 1) and a few others */
#define BOUND_SEEDS 4

typedef struct {
    kvv_probe_kind model;
    int d;
    kvv_type k, v;
    kvv_ppl_bound b;
} bound_row;

static bound_row *rows;
static int nrows, loaded;
static char load_err[1400];

/* x rounded up to two significant digits */
static double up2(double x)
{
    if (!(x > 0))
        return x;
    double p = pow(10.0, floor(log10(x)) - 1);
    return ceil(x / p - 1e-9) * p;
}

kvv_ppl_bound kvv_ppl_bound_from(const kvv_ppl_stats *s)
{
    kvv_ppl_bound b;
    double excess = s->ratio > 1 ? s->ratio - 1 : 0;
    b.kl_mean = up2(fmax(MARGIN * s->kl_mean, FLOOR_KL_MEAN));
    b.kl_p99 = up2(fmax(MARGIN * s->kl_p99, FLOOR_KL_P99));
    /* the PPL ratio is a noisier statistic than the mean KL it tracks (on
     * 255 positions its excess came out up to about twice the mean KL): it
     * may move twice as far as the allowed mean KL, even where it came out
     * near 1 */
    b.ratio = 1 + up2(fmax(fmax(MARGIN * excess, 2 * b.kl_mean), FLOOR_RATIO));
    return b;
}

static int parse_line(char *line, bound_row *r)
{
    char *f[7], *save = NULL;
    int n = 0;
    for (char *t = strtok_r(line, "\t", &save); t && n < 7; t = strtok_r(NULL, "\t", &save))
        f[n++] = t;
    if (n < 7)
        return -1;
    char *end;
    r->model = kvv_probe_from_name(f[0]);
    r->d = (int)strtol(f[1], &end, 10);
    r->k = kvv_type_from_name(f[2]);
    r->v = kvv_type_from_name(f[3]);
    double x[3];
    for (int i = 0; i < 3; i++) {
        x[i] = strtod(f[4 + i], &end);
        if (end == f[4 + i] || !(x[i] > 0))
            return -1;
    }
    r->b = (kvv_ppl_bound){x[0], x[1], x[2]};
    return r->model == KVV_PROBE_COUNT || r->d <= 0 || r->k == KVV_TYPE_NONE || r->v == KVV_TYPE_NONE ? -1 : 0;
}

static void load(void)
{
    char path[1024], err[300];
    size_t len;
    loaded = 1;
    if (!kvv_corpus_path("ppl_bounds.tsv", path, sizeof path)) {
        snprintf(load_err, sizeof load_err, "corpora/ppl_bounds.tsv not found (set KVV_CORPORA_DIR)");
        return;
    }
    char *text = kvv_read_file(path, &len, err, sizeof err);
    if (!text) {
        snprintf(load_err, sizeof load_err, "%s", err);
        return;
    }
    int cap = 0, lineno = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (*line == '#' || !*line)
            continue;
        if (nrows == cap) {
            cap = cap ? 2 * cap : 256;
            bound_row *p = realloc(rows, sizeof *p * (size_t)cap);
            if (!p)
                break;
            rows = p;
        }
        if (parse_line(line, &rows[nrows])) {
            snprintf(load_err, sizeof load_err, "%s: malformed row %d", path, lineno);
            nrows = 0;
            break;
        }
        nrows++;
    }
    free(text);
}

int kvv_ppl_bound_lookup(const kvv_case *c, kvv_ppl_bound *b, char *why, size_t n)
{
    if (!loaded)
        load();
    if (load_err[0]) {
        snprintf(why, n, "%s", load_err);
        return -1;
    }
    for (int i = 0; i < nrows; i++)
        if (rows[i].model == c->model && rows[i].d == c->dk && rows[i].k == c->type_k && rows[i].v == c->type_v) {
            *b = rows[i].b;
            return 0;
        }
    snprintf(why, n, "no bound for model=%s d%d %s-%s in corpora/ppl_bounds.tsv (regenerate: kvverify ppl --bounds)",
             kvv_probe_name(c->model), c->dk, kvv_type_name(c->type_k), kvv_type_name(c->type_v));
    return -1;
}

/* The TurboQuant rows that are versions of the same cache type as t
 * (t itself first); a plain type is its own only version. */
static int versions_of(kvv_type t, kvv_type *out)
{
    int n = 0;
    out[n++] = t;
    const kvv_type_info *ti = kvv_type_get(t);
    for (int u = 0; ti->rotated && u < KVV_TYPE_COUNT; u++)
        if (u != (int)t && kvv_type_get((kvv_type)u)->rotated && !strcmp(kvv_type_get((kvv_type)u)->cache, ti->cache))
            out[n++] = (kvv_type)u;
    return n;
}

int kvv_ppl_write_bounds(FILE *out, const kvv_backend *b, const char *backend_name)
{
    kvv_case_list l = {0}, g = {0};
    if (kvv_gate_cases(&g))
        return -1;
    /* the gate's ppl cases at baseline toggles (the toggled ones share their
     * pair's row), each also in every format version of its K and V types:
     * a backend that stores turbo3 as turbo3@qk128 runs the gate so */
    kvv_toggles d = kvv_toggles_default();
    for (int i = 0; i < g.n; i++) {
        if (g.items[i].op != KVV_OP_PPL || memcmp(&g.items[i].tg, &d, sizeof d))
            continue;
        kvv_type vk[KVV_TYPE_COUNT], vv[KVV_TYPE_COUNT];
        int nk = versions_of(g.items[i].type_k, vk), nv = versions_of(g.items[i].type_v, vv);
        for (int a = 0; a < nk; a++)
            for (int c = 0; c < nv; c++) {
                kvv_case x = g.items[i];
                x.type_k = vk[a];
                x.type_v = vv[c];
                int dup = 0;
                for (int j = 0; j < l.n && !dup; j++)
                    dup = l.items[j].model == x.model && l.items[j].dk == x.dk && l.items[j].type_k == x.type_k &&
                          l.items[j].type_v == x.type_v;
                if (!dup && kvv_case_list_push(&l, &x)) {
                    kvv_case_list_free(&g);
                    kvv_case_list_free(&l);
                    return -1;
                }
            }
    }
    kvv_case_list_free(&g);
    const int n = l.n;
    kvv_ppl_stats(*st)[BOUND_SEEDS] = calloc((size_t)(n ? n : 1), sizeof *st);
    if (!st) {
        kvv_case_list_free(&l);
        return -1;
    }
    fprintf(out,
            "# Bounds of the end-to-end gate (ppl cases): one row per probe model, head dim and K/V pair.\n"
            "# Made by `kvverify ppl --bounds > corpora/ppl_bounds.tsv` on the %s backend, from the gate's\n"
            "# ppl cases at their baseline toggles, each also in every format version of its K and V types\n"
            "# (first %d tokens of corpora/probe.txt, prefill chunks,\n"
            "# then %d tokens one at a time), measured on the gate's probe (seed 1) and on the probes of\n"
            "# seeds 2..%d, so that `run --seed` is not failed by model-to-model variation alone.  Each bound\n"
            "# is %.1fx the largest measured excess (PPL ratio - 1, mean KL, 99th-percentile KL), at least\n"
            "# %g, %g and %g, rounded up to two digits; the PPL ratio's excess is also allowed up to twice\n"
            "# the mean-KL bound.  Then: the gate's measurement, and the largest over the seeds.\n"
            "# model\td\tK\tV\tratio_max\tkl_mean_max\tkl_p99_max\tratio\tkl_mean\tkl_p99\ttop1"
            "\tratio_seeds\tkl_mean_seeds\tkl_p99_seeds\n",
            backend_name, kvv_case_default(KVV_OP_PPL).n_kv, KVV_PPL_TAIL, BOUND_SEEDS, MARGIN, FLOOR_RATIO,
            FLOOR_KL_MEAN, FLOOR_KL_P99);
    int rc = 0;
    /* seeds outside: the process keeps a few models, one per kind and head dim */
    for (int sd = 0; sd < BOUND_SEEDS; sd++)
        for (int i = 0; i < n; i++) {
            kvv_case c = l.items[i];
            double tr, tf;
            char why[400];
            c.seed = (uint64_t)sd + 1;
            if (kvv_ppl_measure(&c, b, &st[i][sd], &tr, &tf, why, sizeof why) || st[i][sd].nonfinite) {
                fprintf(stderr, "kvverify: %s-%s seed %d: %s\n", kvv_type_name(c.type_k), kvv_type_name(c.type_v),
                        sd + 1, st[i][sd].nonfinite ? "NaN/Inf in the logits" : why);
                rc = -1;
            }
        }
    for (int i = 0; i < n && !rc; i++) {
        const kvv_case *c = &l.items[i];
        kvv_ppl_stats worst = st[i][0];
        for (int sd = 1; sd < BOUND_SEEDS; sd++) {
            worst.ratio = fmax(worst.ratio, st[i][sd].ratio);
            worst.kl_mean = fmax(worst.kl_mean, st[i][sd].kl_mean);
            worst.kl_p99 = fmax(worst.kl_p99, st[i][sd].kl_p99);
        }
        kvv_ppl_bound bd = kvv_ppl_bound_from(&worst);
        const kvv_ppl_stats *s = &st[i][0];
        fprintf(out, "%s\t%d\t%s\t%s\t%.6g\t%.3g\t%.3g\t%.6f\t%.3g\t%.3g\t%.4f\t%.6f\t%.3g\t%.3g\n",
                kvv_probe_name(c->model), c->dk, kvv_type_name(c->type_k), kvv_type_name(c->type_v), bd.ratio,
                bd.kl_mean, bd.kl_p99, s->ratio, s->kl_mean, s->kl_p99, s->top1, worst.ratio, worst.kl_mean,
                worst.kl_p99);
    }
    free(st);
    kvv_case_list_free(&l);
    return rc;
}
