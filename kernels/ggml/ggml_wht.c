/* The fork's own rotation op, ggml_turbo_wht (GGML_OP_TURBO_WHT), as the
 * WHT entry point and in the attention graph of rot=graph.
 *
 * Its constructor asserts on group sizes it does not take (at the fork's
 * head: 32, 64 and 128 only), and an assertion aborts the process.  So
 * whether it takes a (row width, group) is first asked in a child process
 * that only builds the node; a refusal becomes a decline carrying ggml's
 * own assertion text, and the answer is cached.  The child also reports the
 * group the node recorded: the op's first version had no group argument
 * (a group of 128 always), which the record shows as 0.
 *
 * Its signature grew from (ctx, a, direction) to (ctx, a, direction,
 * group_size) to (ctx, a, direction, group_size, scale); it is always
 * called with all five (group 0 = its own choice from the row width, scale
 * NULL = no InnerQ scaling): the earlier versions ignore what they do not
 * take, as the x86-64 and AArch64 calling conventions allow. */
#include <stdio.h>
#include <string.h>

#include "kernels/ggml/ggml_adapter.h"

/* In the child: build the node; *recorded: the group it holds. */
typedef struct {
    int ncols, group, inverse;
} wht_ask;

static int build_in_child(gg_adapter *A, const void *arg, int *recorded)
{
    const wht_ask *w = arg;
    gg_init_params p = {A->api.tensor_overhead() * 4, NULL, true};
    ggml_context *ctx = A->api.init(p);
    ggml_tensor *a = ctx ? A->api.new_tensor_2d(ctx, GG_TYPE_F32, w->ncols, 1) : NULL;
    ggml_tensor *r = a ? A->api.turbo_wht(ctx, a, w->inverse, w->group, NULL) : NULL;
    /* the fork writes the group at op_params + sizeof(int) of an int32_t
     * pointer, so element 4; a corrected build would have it at 1 */
    int rec = r ? (int)gg_op_param(A, r, 4) : -1;
    if (r && rec == 0)
        rec = (int)gg_op_param(A, r, 1);
    *recorded = rec;
    return r != NULL;
}

/* 1 when ggml_turbo_wht takes rows of ncols in groups of `group`
 * (recorded: the group its node holds), 0 with why when it refuses. */
static int takes(gg_adapter *A, int ncols, int group, int inverse, int *recorded, char *why, size_t n)
{
    gg_wht_memo *m = A->wht_memo;
    for (int i = 0; i < A->nwht_memo; i++)
        if (m[i].ncols == ncols && m[i].group == group && m[i].inverse == inverse) {
            *recorded = m[i].recorded;
            snprintf(why, n, "%s", m[i].why);
            return m[i].ok;
        }
    int rec = -1;
    char msg[400] = "";
    const wht_ask ask = {ncols, group, inverse};
    int ok = gg_ask_child(A, build_in_child, &ask, &rec, msg, sizeof msg);
    /* the first version records no group and rotates groups of 128: right
     * exactly when 128 was asked for */
    if (ok && rec == 0 && group == 128)
        rec = 128;
    if (ok && rec != group && !(group == 0 && rec > 0)) {
        snprintf(msg, sizeof msg, "this ggml_turbo_wht records group %d for a requested %d (its first version takes "
                 "no group: it always rotates groups of 128)", rec, group);
        ok = 0;
    }
    if (A->nwht_memo < GG_WHT_MEMO) {
        m[A->nwht_memo] = (gg_wht_memo){ncols, group, inverse, ok, rec, ""};
        snprintf(m[A->nwht_memo].why, sizeof m[A->nwht_memo].why, "%s", msg);
        A->nwht_memo++;
    }
    *recorded = rec;
    snprintf(why, n, "%s", msg);
    return ok;
}

int gg_wht_available(const gg_adapter *A, char *why, size_t n)
{
    if (!A->api.turbo_wht) {
        snprintf(why, n, "this ggml has no ggml_turbo_wht op (upstream ggml has no op for SPEC 3.4's signed WHT)");
        return 0;
    }
    if (!A->layout_ok) {
        snprintf(why, n, "ggml_turbo_wht: %s", A->layout_why);
        return 0;
    }
    return 1;
}

ggml_tensor *gg_wht_node(gg_adapter *A, ggml_context *ctx, ggml_tensor *x, int64_t ncols, int inverse, int group,
                         char *why, size_t n)
{
    int rec;
    char r[400];
    if (!takes(A, (int)ncols, group, inverse, &rec, r, sizeof r)) {
        snprintf(why, n, "ggml_turbo_wht refuses rows of %lld in groups of %d: %s", (long long)ncols, group, r);
        return NULL;
    }
    return A->api.turbo_wht(ctx, x, inverse, group, NULL);
}

int gg_wht(gg_adapter *A, float *x, int64_t nrows, int64_t ncols, int group, int inverse, const kvv_toggles *tg,
           char *why, size_t n)
{
    if (!gg_wht_available(A, why, n))
        return KVV_UNSUPPORTED;
    if (nrows <= 0 || ncols <= 0 || group <= 0 || ncols % group) {
        snprintf(why, n, "rows of %lld values cannot be rotated in groups of %d", (long long)ncols, group);
        return KVV_FAILED;
    }
    gg_job j;
    int rc = gg_job_begin(&j, A, why, n);
    if (rc == KVV_OK) {
        ggml_tensor *a = gg_job_tensor(&j, GG_TYPE_F32, ncols, nrows, 1, x, GG_IN | GG_WRAP);
        ggml_tensor *op = gg_wht_node(A, j.ctx, a, ncols, inverse, group, why, n);
        if (!op) {
            rc = KVV_UNSUPPORTED;
        } else {
            gg_job_bind(&j, op, x, GG_OUT);
            rc = !gg_job_supported(&j, op, "TURBO_WHT", why, n) ? KVV_UNSUPPORTED
                                                               : gg_job_run(&j, op, gg_threads_of(tg), why, n);
        }
    }
    gg_job_end(&j);
    return rc;
}
