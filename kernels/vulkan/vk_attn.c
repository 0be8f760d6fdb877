/* Attention on the device (flash-attn ext semantics, SPEC 4): uploads,
 * the optional rotations and the dequant cache, the vec or tiled kernel,
 * the split-K reduction, one submission.
 *
 * Rotation (backend.h): Q is rotated with K's group only when K is a turbo
 * type, the output inverse-rotated with V's group only when V is; with
 * rot=kernel the attention shaders do it in shared memory, with rot=graph
 * separate WHT dispatches run before and after a kernel that works in the
 * rotated basis. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/vulkan/vk_internal.h"

#define VEC_TK 32     /* fa_vec.comp: keys per tile */
#define VEC_MAXD 1024
#define VEC_GPU_GROUPS 512 /* workgroups a decode call aims at on a discrete GPU */
#define TILED_TK 4    /* fa_tiled.comp */
#define TILED_BR 4
#define TILED_MAXD 576
#define TILED_SHARED (4 * (2 * TILED_BR * TILED_MAXD + TILED_TK * TILED_MAXD + 3 * TILED_BR * TILED_TK + 6 * TILED_BR) + 512)

typedef struct {
    uint32_t dk, dv, n_q, n_kv;
    uint32_t n_head, n_head_kv, type_k, type_v;
    uint32_t k_row_bytes, v_row_bytes, has_mask, lut;
    float scale, softcap;
    uint32_t rot_q_g, rot_q_log2, rot_o_g, rot_o_log2;
    uint32_t nsplit, ntiles, gx, kv_f16;
} attn_params;

static int log2i(int g)
{
    int l = 0;
    while ((1 << l) < g)
        l++;
    return l;
}

/* ggml's ALiBi slopes (ggml_flash_attn_ext on the CPU), in f32 */
static void alibi_slopes(float *out, int n_head, float max_bias)
{
    const uint32_t n_head_log2 = 1u << (uint32_t)floor(log2((double)n_head));
    const float m0 = powf(2.0f, -(max_bias) / (float)n_head_log2);
    const float m1 = powf(2.0f, -(max_bias / 2.0f) / (float)n_head_log2);
    for (int h = 0; h < n_head; h++)
        out[h] = max_bias > 0.0f ? ((uint32_t)h < n_head_log2 ? powf(m0, (float)(h + 1))
                                                              : powf(m1, (float)(2 * (h - (int)n_head_log2) + 1)))
                                 : 1.0f;
}

/* Whether a decode call without an explicit split spreads its keys over
 * parts: on a discrete GPU; KVV_VK_AUTO_SPLIT=1 or 0 forces it either way
 * (the tests use it to run that path on lavapipe). */
static int auto_split(const vkv_ctx *c)
{
    const char *e = getenv("KVV_VK_AUTO_SPLIT");
    if (e && (!strcmp(e, "0") || !strcmp(e, "1")))
        return e[0] == '1';
    return c->info.type == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
}

static int check_args(vkv_ctx *c, const kvv_attn_args *a)
{
    char why[200];
    if (a->dk < 1 || a->dv < 1 || a->n_q < 1 || a->n_kv < 1 || a->n_head < 1 || a->n_head_kv < 1 ||
        a->n_head % a->n_head_kv)
        return vkv_fail(c, "bad attention shape: dk %d dv %d n_q %d n_kv %d heads %d/%d", a->dk, a->dv, a->n_q,
                        a->n_kv, a->n_head, a->n_head_kv);
    if (!kvv_type_fits(a->type_k, a->dk, why, sizeof why) || !kvv_type_fits(a->type_v, a->dv, why, sizeof why))
        return vkv_decline(c, "%s", why);
    if (a->dk > VEC_MAXD || a->dv > VEC_MAXD)
        return vkv_decline(c, "head dims %d/%d: the attention kernels hold a row of at most %d in shared memory",
                           a->dk, a->dv, VEC_MAXD);
    if (a->tg.split < 1)
        return vkv_decline(c, "split=%d: split-K needs at least one part", a->tg.split);
    return KVV_OK;
}

int vkv_attention(vkv_ctx *c, const kvv_attn_args *a, float *out, kvv_attn_info *info)
{
    int rc = check_args(c, a);
    if (rc)
        return rc;
    const kvv_type_info *tk = kvv_type_get(a->type_k), *tv = kvv_type_get(a->type_v);
    const int tiled_fits = a->dk <= TILED_MAXD && a->dv <= TILED_MAXD && c->info.max_shared >= TILED_SHARED;
    int tiled = a->tg.variant == KVV_VAR_TILED || (a->tg.variant == KVV_VAR_AUTO && a->n_q > 1 && tiled_fits);
    if (tiled && !tiled_fits)
        return vkv_decline(c, "var=tiled: head dims %d/%d need more than the %d-wide tiles (or %u bytes of shared "
                              "memory, maxComputeSharedMemorySize)",
                           a->dk, a->dv, TILED_MAXD, (unsigned)TILED_SHARED);
    const int cache = a->tg.cache != 0, graph = a->tg.rot == KVV_ROT_GRAPH, f16 = c->kv_f16;
    const int gk = tk->rotated ? kvv_rot_group(a->dk) : 0, gv = tv->rotated ? kvv_rot_group(a->dv) : 0;
    const int64_t nqr = (int64_t)a->n_head * a->n_q, nkr = (int64_t)a->n_head_kv * a->n_kv;
    const int tkeys = tiled ? TILED_TK : VEC_TK;
    const uint32_t ntiles = (uint32_t)((a->n_kv + tkeys - 1) / tkeys);
    uint32_t nsplit = (uint32_t)a->tg.split < ntiles ? (uint32_t)a->tg.split : ntiles;
    /* Decode on a discrete GPU: one workgroup per (row, head) leaves most of
     * the GPU idle (32 workgroups for 32 heads), so without an explicit
     * split the keys are spread over parts until about VEC_GPU_GROUPS
     * workgroups run, as ggml's split_k does.  The tiles, not the parts,
     * fix the arithmetic (partials merge in tile order), so the output is
     * the same bits as split=1: the toggle rule checks exactly that. */
    if (!tiled && a->tg.split == 1 && auto_split(c)) {
        const uint64_t rows = (uint64_t)nqr;
        if (rows < VEC_GPU_GROUPS) {
            uint64_t want = (VEC_GPU_GROUPS + rows - 1) / rows;
            nsplit = want < ntiles ? (uint32_t)want : ntiles;
        }
    }

    const size_t qb = sizeof(float) * (size_t)(nqr * a->dk), ob = sizeof(float) * (size_t)(nqr * a->dv);
    const size_t kb = kvv_row_bytes(a->type_k, a->dk) * (size_t)nkr, vb = kvv_row_bytes(a->type_v, a->dv) * (size_t)nkr;
    const size_t mb = a->mask ? sizeof(float) * (size_t)a->n_q * (size_t)a->n_kv : 0;
    const size_t sb = sizeof(float) * (size_t)a->n_head;
    const size_t pb = nsplit > 1 ? sizeof(float) * (size_t)nqr * ntiles * (size_t)(3 + a->dv) : 0;
    const size_t esz = f16 ? 2 : 4; /* bytes of a cached K/V value */
    const size_t kcb = cache ? esz * (size_t)(nkr * a->dk) : 0, vcb = cache ? esz * (size_t)(nkr * a->dv) : 0;

    vkv_buf *bq, *bk, *bv, *bm = NULL, *bs, *bo, *bp = NULL, *bkc = NULL, *bvc = NULL;
    if ((rc = vkv_scratch(c, VKV_B_Q, qb, &bq)) || (rc = vkv_scratch(c, VKV_B_K, kb + 4, &bk)) ||
        (rc = vkv_scratch(c, VKV_B_V, vb + 4, &bv)) || (mb && (rc = vkv_scratch(c, VKV_B_MASK, mb, &bm))) ||
        (rc = vkv_scratch(c, VKV_B_SLOPE, sb, &bs)) || (rc = vkv_scratch(c, VKV_B_OUT, ob, &bo)) ||
        (pb && (rc = vkv_scratch(c, VKV_B_PART, pb, &bp))) || (kcb && (rc = vkv_scratch(c, VKV_B_KC, kcb + 4, &bkc))) ||
        (vcb && (rc = vkv_scratch(c, VKV_B_VC, vcb + 4, &bvc))) ||
        (rc = vkv_reserve_staging(c, qb + kb + vb + mb + sb + ob)))
        return rc;
    float slopes[4096];
    if (a->n_head > 4096)
        return vkv_decline(c, "%d heads: at most 4096", a->n_head);
    alibi_slopes(slopes, a->n_head, a->max_bias);

    attn_params p = {
        .dk = (uint32_t)a->dk, .dv = (uint32_t)a->dv, .n_q = (uint32_t)a->n_q, .n_kv = (uint32_t)a->n_kv,
        .n_head = (uint32_t)a->n_head, .n_head_kv = (uint32_t)a->n_head_kv,
        .type_k = cache ? (f16 ? KVV_F16 : KVV_F32) : (uint32_t)a->type_k,
        .type_v = cache ? (f16 ? KVV_F16 : KVV_F32) : (uint32_t)a->type_v,
        .k_row_bytes = cache ? (uint32_t)(esz * a->dk) : (uint32_t)kvv_row_bytes(a->type_k, a->dk),
        .v_row_bytes = cache ? (uint32_t)(esz * a->dv) : (uint32_t)kvv_row_bytes(a->type_v, a->dv),
        .has_mask = a->mask != NULL, .lut = (uint32_t)a->tg.lut,
        .scale = a->softcap != 0.0f ? a->scale / a->softcap : a->scale, .softcap = a->softcap,
        .rot_q_g = graph ? 0u : (uint32_t)gk, .rot_q_log2 = (uint32_t)log2i(gk ? gk : 1),
        .rot_o_g = graph ? 0u : (uint32_t)gv, .rot_o_log2 = (uint32_t)log2i(gv ? gv : 1),
        .nsplit = nsplit, .ntiles = ntiles, .gx = 0, .kv_f16 = (uint32_t)f16};

    if ((rc = vkv_begin(c)) || (rc = vkv_upload(c, bq, a->q, qb)) || (rc = vkv_upload(c, bk, a->k, kb)) ||
        (rc = vkv_upload(c, bv, a->v, vb)) || (mb && (rc = vkv_upload(c, bm, a->mask, mb))) ||
        (rc = vkv_upload(c, bs, slopes, sb)))
        return rc;
    if (graph && gk && (rc = vkv_wht_dispatch(c, bq, (uint64_t)(nqr * a->dk), gk, 0)))
        return rc;
    if (cache && ((rc = vkv_dequantize_dispatch(c, a->type_k, bk, bkc, nkr, a->dk, a->tg.lut, f16)) ||
                  (rc = vkv_dequantize_dispatch(c, a->type_v, bv, bvc, nkr, a->dv, a->tg.lut, f16))))
        return rc;

    const int sg = c->use_subgroups;
    const char *shader = tiled ? (sg ? "fa_tiled_sg" : "fa_tiled_nosg") : (sg ? "fa_vec_sg" : "fa_vec_nosg");
    uint64_t groups = (uint64_t)(tiled ? (a->n_q + TILED_BR - 1) / TILED_BR : a->n_q) * a->n_head * nsplit;
    uint32_t gx, gy;
    vkv_grid(c, groups, &gx, &gy);
    p.gx = gx;
    vkv_buf *bufs[7] = {bq, cache ? bkc : bk, cache ? bvc : bv, bm, bs, bo, bp};
    if ((rc = vkv_dispatch(c, shader, NULL, 0, bufs, 7, &p, sizeof p, gx, gy, 1)))
        return rc;
    if (nsplit > 1) {
        vkv_grid(c, (uint64_t)nqr, &gx, &gy);
        p.gx = gx;
        if ((rc = vkv_dispatch(c, "fa_reduce", NULL, 0, bufs, 7, &p, sizeof p, gx, gy, 1)))
            return rc;
    }
    if (graph && gv && (rc = vkv_wht_dispatch(c, bo, (uint64_t)(nqr * a->dv), gv, 1)))
        return rc;
    if ((rc = vkv_download(c, bo, out, ob)) || (rc = vkv_submit(c)))
        return rc;
    /* K/V values exact in f32, or rounded to f16 (both cache settings) in
     * the f16 mode; sums in f32 */
    info->kv_round = f16 ? 0x1p-11 : 0.0;
    info->acc_round = 0x1p-24;
    return KVV_OK;
}
