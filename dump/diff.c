/* Dump-vs-dump diff: pair the cases of two dumps and, for each pair, name
 * the first stage of the pipeline at which their arrays differ, with the
 * element and the size of the difference.
 *
 * Stages follow the data: the inputs, the quantized bytes, the dequantized
 * values, the scores and softmax of the f64 reference over that cache, and
 * the outputs.  A difference upstream explains the ones downstream, so the
 * first one is the one to look at. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dump/dump.h"

static const struct {
    const char *name;
    const char *arrays[7];
} stages[KVV_STAGE_COUNT] = {
    [KVV_STAGE_INPUTS] = {"inputs", {"q", "k", "v", "mask", "x"}},
    [KVV_STAGE_QUANTIZE] = {"quantize", {"k_bytes", "v_bytes", "bytes", "k_canon", "v_canon", "canon"}},
    [KVV_STAGE_DEQUANTIZE] = {"dequantize", {"k_deq", "v_deq", "deq", "ref_deq"}},
    [KVV_STAGE_SCORES] = {"scores", {"scores"}},
    [KVV_STAGE_SOFTMAX] = {"softmax", {"probs"}},
    [KVV_STAGE_OUTPUT] = {"output", {"out", "inv", "ref_out", "ref_inv", "ref_exact", "bound"}},
};

const char *kvv_stage_name(kvv_stage s) { return (unsigned)s < KVV_STAGE_COUNT ? stages[s].name : "none"; }

void kvv_record_diff(const kvv_record *a, const kvv_record *b, kvv_case_diff *out)
{
    memset(out, 0, sizeof *out);
    out->stage = KVV_STAGE_NONE;
    for (int s = 0; s < KVV_STAGE_COUNT; s++)
        for (int i = 0; i < 7 && stages[s].arrays[i]; i++) {
            const char *name = stages[s].arrays[i];
            const kvv_array *x = kvv_record_get(a, name), *y = kvv_record_get(b, name);
            if (!x && !y)
                continue;
            out->stage = (kvv_stage)s;
            snprintf(out->array, sizeof out->array, "%s", name);
            if (!x || !y) {
                snprintf(out->only, sizeof out->only, "%s", name);
                out->d.differs = 2;
                return;
            }
            kvv_array_compare(x, y, &out->d);
            if (out->d.differs)
                return;
            out->stage = KVV_STAGE_NONE;
            out->array[0] = 0;
        }
}

static void value_text(const kvv_array *a, double x, char *buf, size_t n)
{
    if (a->dtype == KVV_DT_U8)
        snprintf(buf, n, "0x%02x", (unsigned)x);
    else
        snprintf(buf, n, a->dtype == KVV_DT_F32 ? "%.9g" : "%.17g", x);
}

/* One line describing a pair's first divergence. */
static void print_divergence(FILE *out, const kvv_record *ra, const kvv_record *rb, const kvv_case_diff *cd)
{
    const kvv_array *x = kvv_record_get(ra, cd->array), *y = kvv_record_get(rb, cd->array);
    if (cd->only[0]) {
        fprintf(out, "  first divergence at %s: '%s' is only in %s\n", kvv_stage_name(cd->stage), cd->only,
                x ? "the first dump" : "the second dump");
        return;
    }
    if (cd->d.differs == 2) {
        fprintf(out, "  first divergence at %s: '%s' has another dtype or shape (%s", kvv_stage_name(cd->stage),
                cd->array, kvv_dtype_name(x->dtype));
        for (int i = 0; i < x->ndim; i++)
            fprintf(out, "%s%lld", i ? "x" : " ", (long long)x->dims[i]);
        fprintf(out, " vs %s", kvv_dtype_name(y->dtype));
        for (int i = 0; i < y->ndim; i++)
            fprintf(out, "%s%lld", i ? "x" : " ", (long long)y->dims[i]);
        fprintf(out, ")\n");
        return;
    }
    char at[128], va[48], vb[48], worst[128];
    kvv_array_index_text(x, cd->d.idx, at, sizeof at);
    value_text(x, cd->d.a, va, sizeof va);
    value_text(y, cd->d.b, vb, sizeof vb);
    fprintf(out, "  first divergence at %s: %s%s%s%s = %s vs %s (abs %.3g, rel %.3g); %lld of %lld elements differ",
            kvv_stage_name(cd->stage), at, x->type != KVV_TYPE_NONE ? " (" : "",
            x->type != KVV_TYPE_NONE ? kvv_type_name(x->type) : "", x->type != KVV_TYPE_NONE ? " bytes)" : "", va, vb,
            cd->d.abs, cd->d.rel, (long long)cd->d.count, (long long)kvv_array_count(x));
    if (cd->d.max_at >= 0 && cd->d.count > 1) {
        int64_t idx[KVV_MAX_DIMS], f = cd->d.max_at;
        for (int d = x->ndim - 1; d >= 0; d--) {
            idx[d] = x->dims[d] ? f % x->dims[d] : 0;
            f = x->dims[d] ? f / x->dims[d] : 0;
        }
        kvv_array_index_text(x, idx, worst, sizeof worst);
        fprintf(out, ", largest abs %.3g at %s", cd->d.max_abs, worst);
    }
    fprintf(out, "\n");
}

typedef struct {
    kvv_dump *d;
    kvv_dump_entry *e;
    char *paired;
    int n;
} side;

static int load_side(const char *path, side *s, char *why, size_t n)
{
    memset(s, 0, sizeof *s);
    s->d = kvv_dump_open(path, why, n);
    if (!s->d)
        return -1;
    s->n = kvv_dump_count(s->d);
    s->e = calloc((size_t)(s->n ? s->n : 1), sizeof *s->e);
    s->paired = calloc((size_t)(s->n ? s->n : 1), 1);
    if (!s->e || !s->paired) {
        snprintf(why, n, "out of memory");
        return -1;
    }
    for (int i = 0; i < s->n; i++)
        if (kvv_dump_read(s->d, i, &s->e[i], NULL, why, n))
            return -1;
    return 0;
}

static void free_side(side *s)
{
    kvv_dump_close(s->d);
    free(s->e);
    free(s->paired);
}

/* The partner of a's case i in b: same name and backend, else same name. */
static int find_partner(const side *a, int i, const side *b)
{
    int by_name = -1;
    for (int j = 0; j < b->n; j++) {
        if (b->paired[j] || strcmp(a->e[i].name, b->e[j].name))
            continue;
        if (!strcmp(a->e[i].backend, b->e[j].backend))
            return j;
        if (by_name < 0)
            by_name = j;
    }
    return by_name;
}

int kvv_dump_diff(const char *path_a, const char *path_b, FILE *out, char *why, size_t n)
{
    side a, b;
    int rc = -1;
    if (load_side(path_a, &a, why, n)) {
        free_side(&a);
        return -1;
    }
    if (load_side(path_b, &b, why, n))
        goto done;
    fprintf(out, "a: %s (kvverify %s, commit %s, %s)\nb: %s (kvverify %s, commit %s, %s)\n", path_a,
            kvv_dump_attr(a.d, "tool_version"), kvv_dump_attr(a.d, "git_commit"), kvv_dump_attr(a.d, "machine"),
            path_b, kvv_dump_attr(b.d, "tool_version"), kvv_dump_attr(b.d, "git_commit"),
            kvv_dump_attr(b.d, "machine"));
    int same = 0, differ = 0, only = 0;
    for (int i = 0; i < a.n; i++) {
        int j = find_partner(&a, i, &b);
        if (j < 0) {
            fprintf(out, "only in a: %s [%s]\n", a.e[i].name, a.e[i].backend);
            only++;
            continue;
        }
        a.paired[i] = b.paired[j] = 1;
        kvv_record ra = {0}, rb = {0};
        kvv_dump_entry ea, eb;
        if (kvv_dump_read(a.d, i, &ea, &ra, why, n) || kvv_dump_read(b.d, j, &eb, &rb, why, n)) {
            kvv_record_free(&ra);
            kvv_record_free(&rb);
            goto done;
        }
        kvv_case_diff cd;
        kvv_record_diff(&ra, &rb, &cd);
        int verdicts_differ = a.e[i].v.status != b.e[j].v.status || a.e[i].v.rule != b.e[j].v.rule;
        int same_case = cd.stage == KVV_STAGE_NONE && !verdicts_differ;
        fprintf(out, "%s %s [%s: %s", same_case ? "same" : "DIFF", a.e[i].name, a.e[i].backend,
                kvv_status_name(a.e[i].v.status));
        if (a.e[i].v.status == KVV_FAIL)
            fprintf(out, " %s", kvv_rule_name(a.e[i].v.rule));
        fprintf(out, " | %s: %s", b.e[j].backend, kvv_status_name(b.e[j].v.status));
        if (b.e[j].v.status == KVV_FAIL)
            fprintf(out, " %s", kvv_rule_name(b.e[j].v.rule));
        fprintf(out, "]\n");
        if (cd.stage == KVV_STAGE_NONE) {
            same += same_case;
            differ += !same_case;
            if (ra.n == 0 && rb.n == 0)
                fprintf(out, "  (no arrays stored for this case in either dump: only the verdicts are compared)\n");
            else if (verdicts_differ)
                fprintf(out, "  every stored array agrees, but the verdicts differ: the oracle's rules or bounds "
                             "changed between the two\n");
        } else {
            differ++;
            print_divergence(out, &ra, &rb, &cd);
        }
        kvv_record_free(&ra);
        kvv_record_free(&rb);
    }
    for (int j = 0; j < b.n; j++)
        if (!b.paired[j]) {
            fprintf(out, "only in b: %s [%s]\n", b.e[j].name, b.e[j].backend);
            only++;
        }
    fprintf(out, "%d case%s paired: %d identical, %d differ; %d in one dump only\n", same + differ,
            same + differ == 1 ? "" : "s", same, differ, only);
    rc = differ || only ? 1 : 0;
done:
    free_side(&a);
    free_side(&b);
    return rc;
}
