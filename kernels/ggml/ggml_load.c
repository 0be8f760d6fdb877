/* Loading a ggml build: libggml-base.so plus one device library from a
 * folder, the API resolved by name, and a backend on the device's first
 * device.
 *
 * Two kinds of build are understood: the "backend DL" builds that llama.cpp
 * releases ship (libggml-cpu-<variant>.so files exporting ggml_backend_init
 * and ggml_backend_score; the variant with the best score for this processor
 * is chosen, as ggml's own loader does), and plain builds (libggml-cpu.so
 * exporting ggml_backend_cpu_reg, libggml-vulkan.so exporting
 * ggml_backend_vk_reg).  libggml.so (the registry) is not needed.
 *
 * Only one libggml-base can live in a process: device libraries find it by
 * its soname.  So when one is already loaded (a second adapter instance),
 * it is reused, and the description says where it came from. */
#include <dirent.h>
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ggml/ggml_adapter.h"

/* ---- ggml's log: kept for error messages, printed only when asked ---- */

static char log_last[512];
static int log_echo = -1;

static void on_log(int level, const char *text, void *user)
{
    (void)user;
    if (log_echo < 0) {
        const char *e = getenv("KVV_GGML_LOG");
        log_echo = e && *e && strcmp(e, "0");
    }
    if (log_echo)
        fputs(text, stderr);
    if (level == GG_LOG_WARN || level == GG_LOG_ERROR) {
        snprintf(log_last, sizeof log_last, "%s", text);
        log_last[strcspn(log_last, "\n")] = 0;
    }
}

/* ---- the symbol table: one row per gg_api field ---- */

enum { FROM_BASE, FROM_DEV };
#define F(field) offsetof(gg_api, field)
static const struct {
    const char *sym;
    size_t off;
    int lib;
    int required;
} symbols[] = {
    /* (descriptive only: ggml has had them since July 2025) */
    {"ggml_version", F(version), FROM_BASE, 0},
    {"ggml_commit", F(commit), FROM_BASE, 0},
    {"ggml_init", F(init), FROM_BASE, 1},
    {"ggml_free", F(free), FROM_BASE, 1},
    {"ggml_tensor_overhead", F(tensor_overhead), FROM_BASE, 1},
    {"ggml_graph_overhead", F(graph_overhead), FROM_BASE, 1},
    {"ggml_new_tensor_1d", F(new_tensor_1d), FROM_BASE, 1},
    {"ggml_new_tensor_2d", F(new_tensor_2d), FROM_BASE, 1},
    {"ggml_new_tensor_3d", F(new_tensor_3d), FROM_BASE, 1},
    {"ggml_set_rows", F(set_rows), FROM_BASE, 1},
    {"ggml_get_rows", F(get_rows), FROM_BASE, 1},
    {"ggml_flash_attn_ext", F(flash_attn_ext), FROM_BASE, 1},
    {"ggml_prec_set_acc", F(prec_set_acc), FROM_BASE, 0},
    {"ggml_turbo_wht", F(turbo_wht), FROM_BASE, 0},
    {"ggml_cont", F(cont), FROM_BASE, 1},
    {"ggml_new_graph", F(new_graph), FROM_BASE, 1},
    {"ggml_build_forward_expand", F(build_forward_expand), FROM_BASE, 1},
    {"ggml_nbytes", F(nbytes), FROM_BASE, 1},
    {"ggml_type_name", F(type_name), FROM_BASE, 1},
    {"ggml_type_size", F(type_size), FROM_BASE, 1},
    {"ggml_blck_size", F(blck_size), FROM_BASE, 1},
    {"ggml_get_type_traits", F(get_type_traits), FROM_BASE, 1},
    {"ggml_quantize_chunk", F(quantize_chunk), FROM_BASE, 1},
    {"ggml_fp32_to_fp16", F(fp32_to_fp16), FROM_BASE, 1},
    {"ggml_log_set", F(log_set), FROM_BASE, 1},
    {"ggml_backend_reg_dev_count", F(reg_dev_count), FROM_BASE, 1},
    {"ggml_backend_reg_dev_get", F(reg_dev_get), FROM_BASE, 1},
    {"ggml_backend_reg_get_proc_address", F(reg_get_proc_address), FROM_BASE, 1},
    {"ggml_backend_dev_name", F(dev_name), FROM_BASE, 1},
    {"ggml_backend_dev_description", F(dev_description), FROM_BASE, 1},
    {"ggml_backend_dev_init", F(dev_init), FROM_BASE, 1},
    {"ggml_backend_dev_supports_op", F(dev_supports_op), FROM_BASE, 1},
    {"ggml_backend_free", F(backend_free), FROM_BASE, 1},
    {"ggml_backend_alloc_ctx_tensors", F(alloc_ctx_tensors), FROM_BASE, 1},
    {"ggml_backend_cpu_buffer_from_ptr", F(cpu_buffer_from_ptr), FROM_BASE, 1},
    {"ggml_backend_tensor_alloc", F(tensor_alloc), FROM_BASE, 1},
    {"ggml_backend_buffer_free", F(buffer_free), FROM_BASE, 1},
    {"ggml_backend_tensor_set", F(tensor_set), FROM_BASE, 1},
    {"ggml_backend_tensor_get", F(tensor_get), FROM_BASE, 1},
    {"ggml_backend_graph_compute", F(graph_compute), FROM_BASE, 1},
    {"ggml_backend_score", F(score), FROM_DEV, 0},
    {"ggml_get_type_traits_cpu", F(get_type_traits_cpu), FROM_DEV, 0},
    {"ggml_cpu_init", F(cpu_init), FROM_DEV, 0},
};
#undef F

static int resolve(gg_api *api, void *base, void *dev, char *why, size_t n)
{
    for (size_t i = 0; i < sizeof symbols / sizeof *symbols; i++) {
        void *p = dlsym(symbols[i].lib == FROM_BASE ? base : dev, symbols[i].sym);
        if (!p && symbols[i].required) {
            snprintf(why, n, "libggml-base has no %s() (a ggml older than 0.9?)", symbols[i].sym);
            return -1;
        }
        memcpy((char *)api + symbols[i].off, &p, sizeof p);
    }
    return 0;
}

/* the registration entry of a device library: DL builds export
 * ggml_backend_init, plain ones ggml_backend_<name>_reg */
static int resolve_reg(gg_api *api, void *dev, const char *device)
{
    const char *plain = !strcmp(device, "cpu") ? "ggml_backend_cpu_reg" : "ggml_backend_vk_reg";
    void *p = dlsym(dev, "ggml_backend_init");
    if (!p)
        p = dlsym(dev, plain);
    memcpy(&api->reg, &p, sizeof p);
    return p ? 0 : -1;
}

static void *open_path(const char *dir, const char *file, char *why, size_t n)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        snprintf(why, n, "%s", dlerror());
    return h;
}

/* The CPU library: the named variant, else the best-scoring
 * libggml-cpu-*.so, else a plain libggml-cpu.so. */
static void *open_cpu(const char *dir, const char *want, char *variant, size_t vlen, char *why, size_t n)
{
    char file[256];
    if (want && *want) {
        snprintf(file, sizeof file, "libggml-cpu-%s.so", want);
        snprintf(variant, vlen, "%s", want);
        return open_path(dir, file, why, n);
    }
    DIR *d = opendir(dir);
    void *best = NULL;
    int best_score = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (strncmp(e->d_name, "libggml-cpu-", 12) || l < 16 || strcmp(e->d_name + l - 3, ".so"))
                continue;
            char err[256];
            void *h = open_path(dir, e->d_name, err, sizeof err);
            int (*score)(void);
            *(void **)&score = h ? dlsym(h, "ggml_backend_score") : NULL;
            int s = score ? score() : 0;
            if (s > best_score) {
                if (best)
                    dlclose(best);
                best = h;
                best_score = s;
                snprintf(variant, vlen, "%.*s", (int)(l - 15), e->d_name + 12);
            } else if (h) {
                dlclose(h);
            }
        }
        closedir(d);
    }
    if (best)
        return best;
    snprintf(variant, vlen, "cpu");
    return open_path(dir, "libggml-cpu.so", why, n);
}

static void loaded_from(void *h, char *buf, size_t n)
{
    struct link_map *lm = NULL;
    if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name)
        snprintf(buf, n, "%s", lm->l_name);
    else
        snprintf(buf, n, "?");
}

int gg_load(gg_adapter *A, const char *cpu_variant, char *why, size_t n)
{
    char err[512] = "";
    /* a libggml-base already in the process is the one device libraries
     * will bind to, so it is the one to use */
    void *base = dlopen("libggml-base.so", RTLD_NOW | RTLD_NOLOAD);
    if (!base && !(base = open_path(A->dir, "libggml-base.so", err, sizeof err))) {
        snprintf(why, n, "cannot load libggml-base.so from %s (run ci/install-ggml.sh, or give dir=PATH or "
                         "KVV_GGML_LIB_DIR): %s", A->dir, err);
        return -1;
    }
    void *dev;
    if (A->is_cpu) {
        dev = open_cpu(A->dir, cpu_variant, A->variant, sizeof A->variant, err, sizeof err);
    } else {
        snprintf(A->variant, sizeof A->variant, "vulkan");
        dev = open_path(A->dir, "libggml-vulkan.so", err, sizeof err);
    }
    if (!dev) {
        snprintf(why, n, "cannot load the ggml %s library from %s: %s", A->device, A->dir, err);
        return -1;
    }
    if (resolve(&A->api, base, dev, why, n))
        return -1;
    if (resolve_reg(&A->api, dev, A->device)) {
        snprintf(why, n, "the ggml %s library in %s exports neither ggml_backend_init nor a registration function",
                 A->device, A->dir);
        return -1;
    }
    if (A->is_cpu && (!A->api.get_type_traits_cpu || !A->api.cpu_init)) {
        snprintf(why, n, "the ggml CPU library in %s lacks ggml_get_type_traits_cpu/ggml_cpu_init", A->dir);
        return -1;
    }
    A->api.log_set(on_log, NULL);
    if (A->api.score && A->api.score() <= 0) {
        snprintf(why, n, "the ggml %s library (%s) cannot run on this machine (ggml_backend_score 0)", A->device,
                 A->variant);
        return -1;
    }
    A->reg = A->api.reg();
    if (!A->reg || A->api.reg_dev_count(A->reg) == 0) {
        snprintf(why, n,
                 "ggml's %s backend found no device%s%s%s", A->device,
                 A->is_cpu ? "" : " (it skips CPU implementations such as lavapipe unless told: add :vkdev=0 or set "
                                  "GGML_VK_VISIBLE_DEVICES=0)",
                 *log_last ? "; ggml said: " : "", log_last);
        return -1;
    }
    A->dev = A->api.reg_dev_get(A->reg, 0);
    A->be = A->api.dev_init(A->dev, NULL);
    if (!A->be) {
        snprintf(why, n, "ggml could not start its %s device %s%s%s", A->device, A->api.dev_description(A->dev),
                 *log_last ? ": " : "", log_last);
        return -1;
    }
    if (A->is_cpu) {
        A->api.cpu_init();
        *(void **)&A->api.set_n_threads = A->api.reg_get_proc_address(A->reg, "ggml_backend_set_n_threads");
        const gg_type_traits_cpu *f16 = A->api.get_type_traits_cpu(GG_TYPE_F16);
        if (!f16 || f16->vec_dot_type != GG_TYPE_F16 || !f16->from_float) {
            snprintf(why, n, "ggml_get_type_traits_cpu(f16) does not read back as ggml 0.25 lays it out");
            return -1;
        }
    }
    char base_path[1024];
    loaded_from(base, base_path, sizeof base_path);
    snprintf(A->description, sizeof A->description, "ggml %s (%s) %s device %.100s [%s], libggml-base %.250s",
             A->api.version ? A->api.version() : "(no ggml_version)", A->api.commit ? A->api.commit() : "?", A->device, A->api.dev_description(A->dev), A->variant, base_path);
    return 0;
}

const char *gg_log_last(void)
{
    return log_last;
}
