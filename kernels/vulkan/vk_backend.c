/* The Vulkan backend's table (include/kvv/backend.h): argument checks and
 * toggles; the work is in vk_rows.c and vk_attn.c.
 *
 * Toggles: threads and isa are CPU toggles, declined (vk_supports, and
 * isa=avx2 in each entry point); split, cache and lut are honoured and are
 * pure speed switches (bit-identical outputs); rot and variant select code. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/vulkan/vk_backend.h"
#include "kernels/vulkan/vk_internal.h"

static vkv_ctx *C(void *ctx) { return ctx; }

static const char *vk_last_error(void *ctx) { return C(ctx)->err; }

static int check_rows(vkv_ctx *c, kvv_type t, int64_t nrows, int64_t ncols, const kvv_toggles *tg)
{
    char why[200];
    if (!kvv_type_get(t))
        return vkv_decline(c, "unknown type %d", (int)t);
    if (nrows < 0 || ncols <= 0 || ncols > INT_MAX || nrows > UINT32_MAX / (ncols > 0 ? ncols : 1))
        return vkv_fail(c, "bad shape: %lld rows of %lld values", (long long)nrows, (long long)ncols);
    if (!kvv_type_fits(t, (int)ncols, why, sizeof why))
        return vkv_decline(c, "%s", why);
    if (tg && tg->isa == KVV_ISA_AVX2)
        return vkv_decline(c, "isa=avx2 selects CPU kernels; the Vulkan backend has no ISA variants");
    c->err[0] = 0;
    return KVV_OK;
}

static int vk_quantize_rows(void *ctx, kvv_type t, const float *src, void *dst, int64_t nrows, int64_t ncols,
                            const kvv_toggles *tg)
{
    int rc = check_rows(C(ctx), t, nrows, ncols, tg);
    return rc ? rc : vkv_quantize(C(ctx), t, src, dst, nrows, ncols);
}

static int vk_dequantize_rows(void *ctx, kvv_type t, const void *src, float *dst, int64_t nrows, int64_t ncols,
                              const kvv_toggles *tg)
{
    int lut = tg ? tg->lut : 8;
    int rc = check_rows(C(ctx), t, nrows, ncols, tg);
    if (rc)
        return rc;
    if (lut != 8 && lut != 4)
        return vkv_decline(C(ctx), "lut=%d: the turbo3 dequantizer has an 8-entry and a 4-magnitude LUT only", lut);
    if ((rc = vkv_probe_rounding(C(ctx))))
        return rc;
    return vkv_dequantize(C(ctx), t, src, dst, nrows, ncols, lut);
}

static int vk_wht(void *ctx, float *x, int64_t nrows, int64_t ncols, int group, int inverse, const kvv_toggles *tg)
{
    vkv_ctx *c = C(ctx);
    if (group < 1 || group > 128 || (group & (group - 1)))
        return vkv_decline(c, "WHT group %d: a power of two from 1 to 128 is needed", group);
    if (nrows < 0 || ncols <= 0 || ncols % group || nrows * ncols > UINT32_MAX)
        return vkv_decline(c, "WHT of rows of %lld values in groups of %d", (long long)ncols, group);
    if (tg && tg->isa == KVV_ISA_AVX2)
        return vkv_decline(c, "isa=avx2 selects CPU kernels; the Vulkan backend has no ISA variants");
    c->err[0] = 0;
    return vkv_wht(c, x, nrows, ncols, group, inverse);
}

static int vk_attention(void *ctx, const kvv_attn_args *a, float *out, kvv_attn_info *info)
{
    vkv_ctx *c = C(ctx);
    c->err[0] = 0;
    if (a->tg.isa == KVV_ISA_AVX2)
        return vkv_decline(c, "isa=avx2 selects CPU kernels; the Vulkan backend has no ISA variants");
    if (a->tg.lut != 8 && a->tg.lut != 4)
        return vkv_decline(c, "lut=%d: the turbo3 dequantizer has an 8-entry and a 4-magnitude LUT only", a->tg.lut);
    int rc = vkv_probe_rounding(c);
    return rc ? rc : vkv_attention(c, a, out, info);
}

/* Which planned cases this backend runs.  threads and isa=scalar choose
 * CPU code: on a GPU such a case is the default case computed again, so it
 * is declined (a named skip) rather than run twice.  On a software device
 * (lavapipe: every invocation runs on the host CPU, some hundred times
 * slower than the CPU kernels) the end-to-end ppl cases, a forward pass of
 * the probe model per case, are cut to a covering few so that the gate
 * keeps its time; KVV_VK_ALL_CASES=1 runs all of them there too. */
static int software_keeps_ppl(const kvv_case *k)
{
    /* turbo3 on the plain probe (rotated types, rotation on both sides)
     * and q8_0 on the hybrid one (block types), default toggles */
    kvv_toggles d = kvv_toggles_default();
    if (k->type_k != k->type_v || k->dk != 128 || k->seed != 1 || memcmp(&k->tg, &d, sizeof d))
        return 0;
    return k->type_k == (k->model == KVV_PROBE_HYBRID ? KVV_Q8_0 : KVV_TURBO3);
}

static int vk_supports(void *ctx, const kvv_case *k, char *why, size_t why_len)
{
    vkv_ctx *c = C(ctx);
    if (k->tg.threads > 1) {
        snprintf(why, why_len, "threads=%d is a CPU toggle: on Vulkan the same computation as threads=1", k->tg.threads);
        return 0;
    }
    if (k->tg.isa == KVV_ISA_SCALAR) {
        snprintf(why, why_len, "isa=scalar is a CPU toggle: on Vulkan the same computation as isa=auto");
        return 0;
    }
    const char *all = getenv("KVV_VK_ALL_CASES");
    if (k->op == KVV_OP_PPL && c->info.type == VK_PHYSICAL_DEVICE_TYPE_CPU && !(all && !strcmp(all, "1")) &&
        !software_keeps_ppl(k)) {
        snprintf(why, why_len,
                 "software Vulkan device (%s): a covering few ppl cases run here (KVV_VK_ALL_CASES=1 runs all)",
                 c->info.name);
        return 0;
    }
    return 1;
}

static void vk_destroy(void *ctx)
{
    (void)ctx;
    vkv_release();
}

static kvv_backend table = {
    .abi_version = KVV_ABI_VERSION,
    .struct_size = sizeof(kvv_backend),
    .name = "vulkan",
    .description = "Vulkan compute (GLSL shaders, SPIR-V built by glslc)",
    .supports = vk_supports,
    .quantize_rows = vk_quantize_rows,
    .dequantize_rows = vk_dequantize_rows,
    .wht = vk_wht,
    .attention = vk_attention,
    .flush = NULL,
    .destroy = vk_destroy,
    .last_error = vk_last_error,
};

static char description[400], device_desc[360];

const kvv_backend *kvv_vulkan_backend(char *why, size_t why_len)
{
    vkv_ctx *c = vkv_get(why, why_len);
    if (!c)
        return NULL;
    snprintf(device_desc, sizeof device_desc, "device %d: %s (%s, subgroup size %u)", c->index, c->info.name,
             c->info.kind, c->info.subgroup_size);
    snprintf(description, sizeof description, "Vulkan compute, %s", device_desc);
    table.description = description;
    table.ctx = c;
    return &table;
}

int kvv_vulkan_select_device(int index, char *why, size_t why_len)
{
    if (vkv_select(index)) {
        snprintf(why, why_len, "a different Vulkan device is already open in this process");
        return -1;
    }
    return 0;
}

int kvv_vulkan_list_devices(FILE *out, char *why, size_t why_len)
{
    vkv_device_info d[16];
    int n = vkv_enumerate(d, 16, why, why_len);
    if (n <= 0)
        return n == 0 ? 0 : -1;
    int want = vkv_selected_index(), def = vkv_default_index(d, n < 16 ? n : 16);
    int pick = want >= 0 ? want : def;
    for (int i = 0; i < n && i < 16; i++) {
        const vkv_device_info *x = &d[i];
        fprintf(out, "%d: %s  [%s, Vulkan %u.%u.%u]%s\n", i, x->name, x->kind, VK_API_VERSION_MAJOR(x->api_version),
                VK_API_VERSION_MINOR(x->api_version), VK_API_VERSION_PATCH(x->api_version),
                i == pick ? (want >= 0 ? "  <- selected" : "  <- default") : "");
        if (x->driver[0])
            fprintf(out, "   driver: %s\n", x->driver);
        fprintf(out,
                "   subgroup %u (compute %s, shuffle %s)  shared %u KiB  invocations %u  storage buffer %llu MiB\n",
                x->subgroup_size, x->subgroup_compute ? "yes" : "no", x->subgroup_shuffle ? "yes" : "no",
                x->max_shared / 1024, x->max_invocations, (unsigned long long)(x->max_storage_range >> 20));
        fprintf(out,
                "   shaderFloat16 %s  shaderInt8 %s  storage8 %s  storage16 %s  float64 %s  f32 denormals %s  "
                "f32 inf/nan/signed-zero %s\n",
                x->shader_float16 ? "yes" : "no", x->shader_int8 ? "yes" : "no", x->storage8 ? "yes" : "no",
                x->storage16 ? "yes" : "no", x->shader_float64 ? "yes" : "no",
                x->denorm_preserve32 ? "preservable" : "may flush", x->nan_preserve32 ? "preservable" : "may not");
        fprintf(out, "   %s\n", x->unusable[0] ? x->unusable : "usable by kvverify");
    }
    if (want >= n)
        fprintf(out, "(the selected device %d does not exist: the backend will refuse to open)\n", want);
    else if (want == -3)
        fprintf(out, "(KVV_VK_DEVICE='%s' is not a device index: the backend will refuse to open)\n",
                getenv("KVV_VK_DEVICE"));
    return n;
}

int kvv_vulkan_probe(char *desc, size_t desc_len)
{
    int fd[2];
    if (pipe(fd)) {
        snprintf(desc, desc_len, "cannot probe for a Vulkan device: pipe: %s", strerror(errno));
        return 0;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        snprintf(desc, desc_len, "cannot probe for a Vulkan device: fork: %s", strerror(errno));
        return 0;
    }
    if (pid == 0) {
        char msg[512], why[400] = "";
        close(fd[0]);
        const kvv_backend *b = kvv_vulkan_backend(why, sizeof why);
        int n = snprintf(msg, sizeof msg, "%c%s", b ? '1' : '0', b ? device_desc : why);
        if (write(fd[1], msg, (size_t)(n < (int)sizeof msg ? n : (int)sizeof msg - 1)) < 0)
            _exit(2);
        _exit(0);
    }
    close(fd[1]);
    char buf[512];
    size_t have = 0;
    struct pollfd pf = {fd[0], POLLIN, 0};
    /* a driver that hangs while starting must not hang the caller */
    while (have < sizeof buf - 1 && poll(&pf, 1, 60000) > 0) {
        ssize_t r = read(fd[0], buf + have, sizeof buf - 1 - have);
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    buf[have] = 0;
    close(fd[0]);
    int status = 0;
    if (have == 0)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (have == 0) {
        snprintf(desc, desc_len, "the Vulkan probe process %s",
                 WIFSIGNALED(status) ? "crashed (the driver failed while starting)" : "gave no answer");
        return 0;
    }
    snprintf(desc, desc_len, "%s", buf + 1);
    return buf[0] == '1';
}
