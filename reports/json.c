/* The JSON-lines reporter: one object per line, each written and flushed
 * as its verdict arrives, so a run that is killed leaves a file of valid
 * lines.  Records: "run" (first), "case" (one per case and backend),
 * "summary" (last).  Non-finite numbers are written as the strings "inf",
 * "-inf", "nan"; a ratio the case does not have is null. */
#include <math.h>
#include <stdlib.h>

#include "reports/report_util.h"

/* Every key but a record's first (always "record") follows a comma. */
static void key(FILE *o, const char *k)
{
    fputc(',', o);
    rep_put_json_str(o, k);
    fputc(':', o);
}

static void kv_str(FILE *o, const char *k, const char *v)
{
    key(o, k);
    rep_put_json_str(o, v);
}

static void kv_int(FILE *o, const char *k, long long v)
{
    key(o, k);
    fprintf(o, "%lld", v);
}

static void kv_num(FILE *o, const char *k, double v)
{
    key(o, k);
    rep_put_json_num(o, v);
}

static void kv_ratio(FILE *o, const char *k, double v)
{
    key(o, k);
    rep_put_json_ratio(o, v);
}

/* A claimed unit roundoff, exactly (2^-24 is 5.9604644775390625e-08):
 * a reader compares it with the formats' own. */
static void exact_num(FILE *o, double x)
{
    if (isfinite(x))
        fprintf(o, "%.17g", x);
    else
        rep_put_json_num(o, x);
}

/* A precision claim: {"kv_round":..,"acc_round":..,"label":".." (open) */
static void claim_obj(FILE *o, double kv_round, double acc_round)
{
    char label[160];
    kvv_claim_label(kv_round, acc_round, label, sizeof label);
    fputs("{\"kv_round\":", o);
    exact_num(o, kv_round);
    key(o, "acc_round");
    exact_num(o, acc_round);
    kv_str(o, "label", label);
}

static void j_begin(kvv_reporter *r, const kvv_run_info *info)
{
    FILE *o = r->out;
    r->info = info;
    fputs("{\"record\":\"run\"", o);
    kv_str(o, "version", info->version);
    kv_str(o, "commit", info->commit);
    kv_str(o, "machine", info->machine);
    kv_str(o, "started", info->started);
    kv_str(o, "command", info->command ? info->command : "");
    key(o, "backends");
    fputc('[', o);
    for (int i = 0; i < info->nbackends; i++) {
        if (i)
            fputc(',', o);
        rep_put_json_str(o, info->backends[i]);
    }
    fputc(']', o);
    kv_int(o, "cases", info->ncases);
    kv_int(o, "seed", (long long)info->seed);
    fputs("}\n", o);
    fflush(o);
}

static void j_result(kvv_reporter *r, const kvv_case *c, const char *name, int backend, const kvv_verdict *v)
{
    FILE *o = r->out;
    fputs("{\"record\":\"case\"", o);
    kv_str(o, "name", name);
    kv_str(o, "backend", r->info->backends[backend]);
    kv_str(o, "op", kvv_op_name(c->op));
    kv_str(o, "type_k", kvv_type_name(c->type_k));
    kv_str(o, "type_v", kvv_type_name(c->type_v));
    kv_int(o, "dk", c->dk);
    kv_int(o, "dv", c->dv);
    kv_int(o, "group", c->group);
    kv_int(o, "n_q", c->n_q);
    kv_int(o, "n_kv", c->n_kv);
    kv_int(o, "n_head", c->n_head);
    kv_int(o, "n_head_kv", c->n_head_kv);
    kv_str(o, "mask", kvv_mask_name(c->mask));
    kv_num(o, "max_bias", c->max_bias);
    kv_num(o, "softcap", c->softcap);
    kv_num(o, "scale", c->scale);
    key(o, "toggles");
    fprintf(o, "{\"threads\":%d,\"split\":%d,\"cache\":%d,\"lut\":%d", c->tg.threads, c->tg.split, c->tg.cache,
            c->tg.lut);
    kv_str(o, "rot", rep_rot_name(c->tg.rot));
    kv_str(o, "variant", rep_variant_name(c->tg.variant));
    kv_str(o, "isa", rep_isa_name(c->tg.isa));
    fputc('}', o);
    kv_str(o, "dist", kvv_dist_name(c->dist));
    kv_int(o, "seed", (long long)c->seed);
    kv_str(o, "status", rep_status_word(v->status));
    kv_str(o, "rule", v->rule == KVV_RULE_NONE ? "none" : kvv_rule_name(v->rule));
    kv_str(o, "detail", v->detail);
    kv_ratio(o, "arith_ratio", v->arith_ratio);
    kv_ratio(o, "budget_ratio", v->budget_ratio);
    kv_int(o, "ties", (long long)v->ties);
    kv_int(o, "tie_candidates", (long long)v->tie_candidates);
    kv_int(o, "checked", (long long)v->checked);
    kv_int(o, "nonfinite_inputs", (long long)v->nonfinite_inputs);
    kv_num(o, "t_backend", v->t_backend);
    kv_num(o, "t_ref", v->t_ref);
    key(o, "claim"); /* the precision the backend claimed (attention), or null */
    if (v->has_claim) {
        claim_obj(o, v->claimed_kv_round, v->claimed_acc_round);
        fputc('}', o);
    } else {
        fputs("null", o);
    }
    key(o, "diffs");
    fputc('[', o);
    for (int i = 0; i < v->ndiffs && i < KVV_VERDICT_DIFFS; i++) {
        const kvv_diff *d = &v->diffs[i];
        fprintf(o, "%s{\"row\":%lld,\"col\":%lld", i ? "," : "", (long long)d->row, (long long)d->col);
        kv_num(o, "got", d->got);
        kv_num(o, "want", d->want);
        kv_num(o, "bound", d->bound);
        fputc('}', o);
    }
    fputs("]}\n", o);
    fflush(o);
}

static void j_end(kvv_reporter *r, const kvv_summary *s)
{
    FILE *o = r->out;
    fputs("{\"record\":\"summary\"", o);
    kv_int(o, "checks", (long long)s->total.cases);
    kv_int(o, "pass", (long long)s->total.pass);
    kv_int(o, "fail", (long long)s->total.fail);
    kv_int(o, "skip", (long long)s->total.skip);
    kv_int(o, "declined", (long long)s->total.declined);
    kv_ratio(o, "worst_arith", s->total.n_arith ? s->total.worst_arith : NAN);
    kv_ratio(o, "worst_budget", s->total.n_budget ? s->total.worst_budget : NAN);
    kv_num(o, "seconds", s->seconds);
    key(o, "interrupted");
    fputs(s->interrupted ? "true" : "false", o);
    /* per backend, each claim it made and in how many cases */
    key(o, "claims");
    fputc('[', o);
    int first = 1;
    for (int b = 0; b < s->nbackends && b < KVV_MAX_BACKENDS; b++) {
        const kvv_claim_set *cs = &s->claims[b];
        for (int i = 0; i < cs->n; i++) {
            fputs(first ? "" : ",", o);
            first = 0;
            claim_obj(o, cs->c[i].kv_round, cs->c[i].acc_round);
            kv_str(o, "backend", r->info->backends[b]);
            kv_int(o, "cases", (long long)cs->c[i].cases);
            fputc('}', o);
        }
        if (cs->others) {
            fputs(first ? "" : ",", o);
            first = 0;
            fputs("{\"kv_round\":null,\"acc_round\":null,\"label\":\"other claims\"", o);
            kv_str(o, "backend", r->info->backends[b]);
            kv_int(o, "cases", (long long)cs->others);
            fputc('}', o);
        }
    }
    fputc(']', o);
    fputs("}\n", o);
    fflush(o);
}

static void j_destroy(kvv_reporter *r)
{
    free(r->state);
    free(r);
}

kvv_reporter *kvv_reporter_json(FILE *out)
{
    return rep_new(out, calloc(1, 1), j_begin, j_result, j_end, j_destroy);
}
