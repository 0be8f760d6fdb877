/* How the device rounds native f32 arithmetic, found by running it.
 *
 * Vulkan requires add, subtract and multiply to be correctly rounded but
 * leaves the rounding mode to the implementation (and lets subnormals
 * flush).  The quantizers never depend on it (softfloat.glsl); the
 * dequantizers promise the reference's bits and do (one or two native
 * operations per value, never subnormal), and attention's error bound
 * assumes round to nearest.  So the device is asked once, on first use. */
#include <stdio.h>
#include <string.h>

#include "kernels/vulkan/vk_internal.h"

static float f(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

int vkv_probe_rounding(vkv_ctx *c)
{
    if (c->rounding_checked)
        return c->rounds_to_nearest ? KVV_OK : vkv_decline(c, "%s", c->rounding_note);
    /* operands: sums and products that are 1.5 ulp above a representable
     * value (nearest-even rounds up, toward-zero down), one of each sign,
     * and a product in the subnormal range */
    const float in[8] = {1.0f, f(0x34400000u) /* 1.5 ulp(1) */, -1.0f, -f(0x34400000u),
                         3.0f, f(0x3f800001u) /* 1 + ulp(1) */, f(0x00800000u) /* 2^-126 */, 0.5f};
    /* 1 + 1.5 ulp, its negative, 3 (1 + ulp) = 3 + 1.5 ulp(3): ties that
     * nearest-even rounds up to the even neighbour; 2^-127 is subnormal */
    const uint32_t want[8] = {0x3f800002u, 0x34400000u, 0xbf800002u, 0x34400000u,
                              0x40800000u, 0x40400002u, 0x3f000000u, 0x00400000u};
    float out[8];
    vkv_buf *bi, *bo;
    int rc;
    if ((rc = vkv_scratch(c, VKV_B_IN, sizeof in, &bi)) || (rc = vkv_scratch(c, VKV_B_OUT, sizeof out, &bo)) ||
        (rc = vkv_reserve_staging(c, sizeof in + sizeof out)) || (rc = vkv_begin(c)) ||
        (rc = vkv_upload(c, bi, in, sizeof in)))
        return rc;
    vkv_buf *bufs[2] = {bi, bo};
    if ((rc = vkv_dispatch(c, "fp_probe", NULL, 0, bufs, 2, NULL, 0, 1, 1, 1)) ||
        (rc = vkv_download(c, bo, out, sizeof out)) || (rc = vkv_submit(c)))
        return rc;
    c->rounding_checked = 1;
    c->rounds_to_nearest = 1;
    for (int i = 0; i < 6; i++) {
        uint32_t got;
        memcpy(&got, &out[i], 4);
        if (got != want[i])
            c->rounds_to_nearest = 0;
    }
    uint32_t sub;
    memcpy(&sub, &out[7], 4);
    c->flushes_subnormals = sub != want[7];
    if (!c->rounds_to_nearest) {
        snprintf(c->rounding_note, sizeof c->rounding_note,
                 "%.200s does not round native f32 arithmetic to nearest even (a probe of sums and products "
                 "disagreed; this kvverify does not request the RoundingModeRTE execution mode)",
                 c->info.name);
        return vkv_decline(c, "%s", c->rounding_note);
    }
    return KVV_OK;
}
