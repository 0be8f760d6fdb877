/* Reading a ggml tensor's op parameters, where nothing but the struct
 * gives them: the group a fork's ggml_turbo_wht recorded (older versions
 * take no group argument and record none).  The adapter otherwise treats
 * tensors as opaque, so the layout is not assumed but checked on the loaded
 * library: tensors of known shapes must show their ne[] and nb[] at the
 * offsets of ggml.h's struct ggml_tensor, and a flash-attention node its
 * scale, max_bias (0: ALiBi needs a mask) and softcap as op_params[0..2]:
 *
 *     enum ggml_type type;          0
 *     struct ggml_backend_buffer *  8
 *     int64_t ne[4];               16
 *     size_t  nb[4];               48
 *     enum ggml_op op;             80
 *     int32_t op_params[16];       84
 *
 * A library laid out otherwise gets no op-parameter reads: the features
 * that need them are declined with that reason. */
#include <stdio.h>
#include <string.h>

#include "kernels/ggml/ggml_adapter.h"

#define OFF_NE 16
#define OFF_NB 48
#define OFF_OP_PARAMS 84

static int64_t rd64(const void *t, size_t off)
{
    int64_t v;
    memcpy(&v, (const char *)t + off, sizeof v);
    return v;
}

int gg_layout_check(gg_adapter *A, char *why, size_t n)
{
    const gg_api *api = &A->api;
    gg_init_params p = {api->tensor_overhead() * 8, NULL, true};
    ggml_context *ctx = api->init(p);
    if (!ctx) {
        snprintf(why, n, "ggml_init failed");
        return -1;
    }
    int ok = 1;
    ggml_tensor *t = api->new_tensor_3d(ctx, GG_TYPE_F32, 3, 5, 7);
    const int64_t ne[4] = {3, 5, 7, 1}, nb[4] = {4, 12, 60, 420};
    for (int i = 0; i < 4 && t; i++)
        ok &= rd64(t, OFF_NE + 8 * (size_t)i) == ne[i] && rd64(t, OFF_NB + 8 * (size_t)i) == nb[i];
    /* a node whose op parameters are known: flash attention's three floats */
    ggml_tensor *q = api->new_tensor_3d(ctx, GG_TYPE_F32, 64, 1, 2);
    ggml_tensor *k = api->new_tensor_3d(ctx, GG_TYPE_F16, 64, 32, 2);
    ggml_tensor *v = api->new_tensor_3d(ctx, GG_TYPE_F16, 64, 32, 2);
    ggml_tensor *fa = t && q && k && v ? api->flash_attn_ext(ctx, q, k, v, NULL, 0.125f, 0.0f, 30.0f) : NULL;
    float f[3] = {0};
    if (fa)
        memcpy(f, (const char *)fa + OFF_OP_PARAMS, sizeof f);
    ok &= fa && f[0] == 0.125f && f[1] == 0.0f && f[2] == 30.0f;
    api->free(ctx);
    A->layout_ok = ok;
    if (!ok)
        snprintf(why, n, "this ggml's struct ggml_tensor is not laid out as ggml.h of 2024-2026 has it (ne, nb and "
                         "op_params not at offsets 16, 48 and 84)");
    return ok ? 0 : -1;
}

int32_t gg_op_param(const gg_adapter *A, const ggml_tensor *t, int i)
{
    int32_t v = 0;
    if (A->layout_ok && t && i >= 0 && i < 16)
        memcpy(&v, (const char *)t + OFF_OP_PARAMS + 4 * (size_t)i, sizeof v);
    return v;
}
