/* Running one ggml op on the adapter's device: a no_alloc context, tensors
 * bound to host memory, one buffer for the rest, upload, compute, download.
 *
 * On the CPU device an aligned host array is used in place
 * (ggml_backend_cpu_buffer_from_ptr), so that timing ggml measures its
 * kernels and not copies of the cache; everything else is copied in and
 * out with ggml_backend_tensor_set/get. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernels/ggml/ggml_adapter.h"

int gg_job_begin(gg_job *j, gg_adapter *A, char *why, size_t n)
{
    memset(j, 0, sizeof *j);
    j->A = A;
    gg_init_params p = {A->api.tensor_overhead() * (GG_JOB_MAX + 4) + A->api.graph_overhead(), NULL, true};
    j->ctx = A->api.init(p);
    if (!j->ctx) {
        snprintf(why, n, "ggml_init failed");
        return KVV_FAILED;
    }
    return KVV_OK;
}

void gg_job_bind(gg_job *j, ggml_tensor *t, void *host, int flags)
{
    if (!t || j->nio == GG_JOB_MAX)
        return;
    j->io[j->nio].t = t;
    j->io[j->nio].host = host;
    j->io[j->nio].flags = flags;
    j->io[j->nio].wrapped = 0;
    j->nio++;
}

ggml_tensor *gg_job_tensor(gg_job *j, int type, int64_t ne0, int64_t ne1, int64_t ne2, void *host, int flags)
{
    ggml_tensor *t = j->A->api.new_tensor_3d(j->ctx, type, ne0, ne1, ne2);
    if (host)
        gg_job_bind(j, t, host, flags);
    return t;
}

int gg_job_supported(gg_job *j, const ggml_tensor *op, const char *what, char *why, size_t n)
{
    if (j->A->api.dev_supports_op(j->A->dev, op))
        return 1;
    snprintf(why, n, "ggml's %s device (%s) does not support %s", j->A->device, j->A->variant, what);
    return 0;
}

int gg_job_run(gg_job *j, ggml_tensor *op, int threads, char *why, size_t n)
{
    const gg_api *api = &j->A->api;
    /* bind aligned host arrays in place on the CPU device (ggml wants
     * 32-byte alignment; kvverify's buffers are 64) */
    for (int i = 0; i < j->nio && j->A->is_cpu; i++) {
        if (!(j->io[i].flags & GG_WRAP) || ((uintptr_t)j->io[i].host & 63))
            continue;
        size_t bytes = api->nbytes(j->io[i].t);
        gg_buffer b = api->cpu_buffer_from_ptr(j->io[i].host, bytes);
        if (!b || api->tensor_alloc(b, j->io[i].t, j->io[i].host) != GG_STATUS_SUCCESS) {
            if (b)
                api->buffer_free(b);
            snprintf(why, n, "ggml could not use host memory in place");
            return KVV_FAILED;
        }
        j->bufs[j->nbufs++] = b;
        j->io[i].wrapped = 1;
    }
    ggml_cgraph *g = api->new_graph(j->ctx);
    api->build_forward_expand(g, op);
    gg_buffer rest = api->alloc_ctx_tensors(j->ctx, j->A->be);
    if (!rest) {
        /* every graph here has a small tensor of ggml's own (indices, mask,
         * a result), so NULL means the allocation failed */
        snprintf(why, n, "ggml could not allocate the graph's tensors on its %s device%s%s", j->A->device,
                 *gg_log_last() ? ": " : "", gg_log_last());
        return KVV_FAILED;
    }
    j->bufs[j->nbufs++] = rest;
    for (int i = 0; i < j->nio; i++)
        if ((j->io[i].flags & GG_IN) && !j->io[i].wrapped)
            api->tensor_set(j->io[i].t, j->io[i].host, 0, api->nbytes(j->io[i].t));
    if (api->set_n_threads && threads > 0 && threads != j->A->threads) {
        j->A->api.set_n_threads(j->A->be, threads);
        j->A->threads = threads;
    }
    int st = api->graph_compute(j->A->be, g);
    if (st != GG_STATUS_SUCCESS) {
        snprintf(why, n, "ggml_backend_graph_compute on %s returned status %d%s%s", j->A->device, st,
                 *gg_log_last() ? "; ggml said: " : "", gg_log_last());
        return KVV_FAILED;
    }
    for (int i = 0; i < j->nio; i++)
        if ((j->io[i].flags & GG_OUT) && !j->io[i].wrapped)
            api->tensor_get(j->io[i].t, j->io[i].host, 0, api->nbytes(j->io[i].t));
    return KVV_OK;
}

void gg_job_end(gg_job *j)
{
    for (int i = 0; i < j->nbufs; i++)
        j->A->api.buffer_free(j->bufs[i]);
    if (j->ctx)
        j->A->api.free(j->ctx);
    memset(j, 0, sizeof *j);
}
