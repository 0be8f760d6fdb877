/* `kvverify ppl`'s work: any model over any text against its f64 reference,
 * each K/V pair run by the backend in a child process (kvv_isolate), so
 * that a backend's crash or hang fails that pair and not the tool; and the
 * bounds table measured in a child that opens the backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvv/tensor.h"
#include "oracle/cases.h"
#include "oracle/guard.h"
#include "oracle/isolate.h"
#include "oracle/ppl.h"
#include "proc/proc.h"

int kvv_ppl_pairs_parse(const char *list, int dk, int dv, kvv_type (*pairs)[2], int max, char *why, size_t why_len)
{
    int n = 0;
    if (!strcmp(list, "all")) {
        for (int i = 0; i < KVV_CACHE_TYPE_COUNT; i++)
            for (int j = 0; j < KVV_CACHE_TYPE_COUNT; j++)
                if (kvv_row_bytes(kvv_cache_types[i], dk) && kvv_row_bytes(kvv_cache_types[j], dv) && n < max) {
                    pairs[n][0] = kvv_cache_types[i];
                    pairs[n++][1] = kvv_cache_types[j];
                }
        return n;
    }
    char buf[1024], *save = NULL;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *t = strtok_r(buf, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save)) {
        char *slash = strchr(t, '/');
        if (!slash) {
            snprintf(why, why_len, "--kv wants K/V pairs like q8_0/turbo3, not '%s'", t);
            return -1;
        }
        *slash = 0;
        pairs[n][0] = kvv_type_from_name(t);
        pairs[n][1] = kvv_type_from_name(slash + 1);
        if (pairs[n][0] == KVV_TYPE_NONE || pairs[n][1] == KVV_TYPE_NONE) {
            snprintf(why, why_len, "unknown type in '%s/%s' (see kvverify list types)", t, slash + 1);
            return -1;
        }
        n++;
    }
    return n;
}

int kvv_ppl_input_open(const kvv_model *m, const char *text_path, int offset, int ctx, kvv_ppl_input *in, char *why,
                       size_t why_len)
{
    char err[400];
    size_t len = 0;
    memset(in, 0, sizeof *in);
    if (!text_path && !kvv_corpus_path("probe.txt", in->path, sizeof in->path)) {
        snprintf(why, why_len, "no --text and corpora/probe.txt not found");
        return -1;
    }
    if (text_path)
        snprintf(in->path, sizeof in->path, "%s", text_path);
    char *text = kvv_read_file(in->path, &len, err, sizeof err);
    if (!text) {
        snprintf(why, why_len, "%s", err);
        return -1;
    }
    in->tok = malloc(sizeof(int32_t) * (len + 1));
    if (!in->tok) {
        free(text);
        snprintf(why, why_len, "out of memory for the tokens");
        return 1;
    }
    in->total = kvv_model_tokenize(m, text, len, in->tok, (int)len + 1);
    free(text);
    if (in->total - offset < 2) {
        snprintf(why, why_len, "%s holds %d tokens, nothing to score from offset %d", in->path, in->total, offset);
        return -1;
    }
    in->offset = offset;
    in->n = ctx < in->total - offset ? ctx : in->total - offset;
    /* the attention weights of every head are kept only where that is cheap */
    in->have_stats = (double)m->n_head * in->n * in->n * 8.0 < 256e6;
    in->ref = malloc(sizeof(double) * (size_t)in->n * m->n_vocab);
    if (!in->ref) {
        snprintf(why, why_len, "reference: out of memory");
        return 1;
    }
    if (kvv_model_reference(m, in->tok + offset, in->n, in->ref, in->have_stats ? &in->stats : NULL, err,
                            sizeof err)) {
        snprintf(why, why_len, "reference: %s", err);
        return 1;
    }
    return 0;
}

void kvv_ppl_input_free(kvv_ppl_input *in)
{
    free(in->tok);
    free(in->ref);
    memset(in, 0, sizeof *in);
}

/* The child's answer: the status, the message, the logits. */
#define PAIR_ERR 400

static void pair_in_child(void *arg, int fd)
{
    const kvv_ppl_pair_job *j = arg;
    char err[PAIR_ERR] = "";
    const size_t nl = (size_t)j->n * j->m->n_vocab;
    float *logits = kvv_alloc(sizeof(float) * nl);
    const kvv_backend *b = kvv_backend_open(j->backend, err, sizeof err);
    int32_t rc = KVV_FAILED;
    if (!logits)
        snprintf(err, sizeof err, "out of memory for the logits");
    else if (b) {
        kvv_model_run_opts o = {b, j->k, j->v, kvv_toggles_default(), j->chunk, KVV_PPL_TAIL, &kvv_guarded_buffers};
        rc = kvv_model_run(j->m, &o, j->tok, j->n, logits, err, sizeof err);
    }
    kvv_proc_write_all(fd, &rc, sizeof rc);
    kvv_proc_write_all(fd, err, sizeof err);
    if (rc == KVV_OK)
        kvv_proc_write_all(fd, logits, sizeof(float) * nl);
    kvv_free(logits);
}

int kvv_ppl_run_pair(const kvv_ppl_pair_job *j, float *logits, char *err, size_t err_len)
{
    const size_t nl = sizeof(float) * (size_t)j->n * j->m->n_vocab, total = sizeof(int32_t) + PAIR_ERR + nl;
    char *buf = malloc(total);
    if (!buf) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    ssize_t got = kvv_isolate(pair_in_child, (void *)j, buf, total, j->seconds, err, err_len);
    int32_t rc = -1;
    if (got >= (ssize_t)(sizeof rc + PAIR_ERR)) {
        memcpy(&rc, buf, sizeof rc);
        snprintf(err, err_len, "%.*s", PAIR_ERR - 1, buf + sizeof rc);
        if (rc == KVV_OK && (size_t)got == total)
            memcpy(logits, buf + sizeof rc + PAIR_ERR, nl);
        else if (rc == KVV_OK) {
            snprintf(err, err_len, "the run's logits did not all arrive");
            rc = KVV_FAILED;
        }
    } else if (got >= 0) {
        snprintf(err, err_len, "no answer from the process that ran it");
    }
    free(buf);
    return rc;
}

int kvv_ppl_run_pairs(const kvv_ppl_pairs_opts *o, kvv_type (*pairs)[2], int np,
                      void (*report)(void *arg, int i, const kvv_ppl_pair_result *r), void *arg)
{
    const kvv_ppl_input *in = o->in;
    float *logits = kvv_alloc(sizeof(float) * (size_t)in->n * o->m->n_vocab);
    if (!logits)
        return 1;
    int failures = 0;
    kvv_isolate_stop_on(o->stop);
    for (int i = 0; i < np; i++) {
        kvv_ppl_pair_result r;
        memset(&r, 0, sizeof r);
        r.k = pairs[i][0];
        r.v = pairs[i][1];
        kvv_ppl_pair_job job = {o->m, o->backend, r.k, r.v, o->chunk, in->tok + in->offset, in->n, o->seconds};
        r.rc = *o->stop ? -1 : kvv_ppl_run_pair(&job, logits, r.why, sizeof r.why);
        r.stopped = *o->stop != 0;
        if (r.stopped || r.rc) {
            /* a decline is a skip, which strict counts as a failure */
            r.failed = r.stopped || r.rc != KVV_UNSUPPORTED || o->strict;
        } else {
            kvv_ppl_compare(in->ref, logits, in->tok + in->offset, in->n, o->m->n_vocab, &r.stats);
            kvv_case c = kvv_case_default(KVV_OP_PPL);
            c.model = (kvv_probe_kind)o->probe_kind;
            c.dk = c.dv = o->m->dk;
            c.type_k = r.k;
            c.type_v = r.v;
            double budget;
            r.judgement = kvv_ppl_judge(o->probe_kind >= 0 ? &c : NULL, &r.stats, &r.bound, &budget, r.why,
                                        sizeof r.why);
            r.failed = r.judgement == KVV_PPL_NONFINITE || r.judgement == KVV_PPL_OVER;
        }
        failures += r.failed;
        report(arg, i, &r);
        if (r.stopped)
            break;
    }
    kvv_free(logits);
    return failures;
}

/* The bounds table, measured in a child process that opens the backend
 * (its stdout goes to stderr; the table comes back on the pipe). */
static void bounds_in_child(void *arg, int fd)
{
    const char *backend = arg;
    char why[400];
    const kvv_backend *b = kvv_backend_open(backend, why, sizeof why);
    FILE *out = fdopen(fd, "w");
    if (!b || !out) {
        fprintf(stderr, "kvverify ppl: backend %s: %s\n", backend, b ? "cannot write the table" : why);
        _exit(1);
    }
    int rc = kvv_ppl_write_bounds(out, b, backend);
    fclose(out);
    _exit(rc ? 1 : 0);
}

int kvv_ppl_write_bounds_isolated(FILE *out, const char *backend, double seconds, char *why, size_t why_len)
{
    enum { MAX_TABLE = 1 << 20 };
    char *buf = malloc(MAX_TABLE);
    if (!buf) {
        snprintf(why, why_len, "out of memory");
        return -1;
    }
    /* seconds for each ppl case of the gate, the cases the table covers */
    kvv_case_list gate = {0};
    int ncases = 0;
    kvv_gate_cases(&gate);
    for (int i = 0; i < gate.n; i++)
        ncases += gate.items[i].op == KVV_OP_PPL;
    kvv_case_list_free(&gate);
    ssize_t got = kvv_isolate(bounds_in_child, (void *)backend, buf, MAX_TABLE, seconds * (ncases > 0 ? ncases : 1),
                              why, why_len);
    if (got > 0)
        fwrite(buf, 1, (size_t)got, out);
    free(buf);
    return got < 0 ? -1 : 0;
}
