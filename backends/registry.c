/* Finding backends by name: the built-in ones (the build's list, made by
 * CMake as kvv_builtins_list.c), or a shared library that exports
 * kvv_backend_get (the plugin ABI of include/kvv/backend.h). */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/builtins_list.h"
#include "backends/registry.h"
#include "proc/proc.h"

const kvv_builtin *kvv_builtin_at(int i)
{
    return i >= 0 && i < kvv_builtins_n ? kvv_builtins[i] : NULL;
}

const kvv_builtin *kvv_builtin_find(const char *name)
{
    for (int i = 0; i < kvv_builtins_n; i++)
        if (!strcmp(kvv_builtins[i]->name, name))
            return kvv_builtins[i];
    return NULL;
}

int kvv_builtin_unbuilt_at(int i, const char **name, const char **label, const char **why)
{
    if (i < 0 || i >= kvv_unbuilt_n)
        return 0;
    *name = kvv_unbuilt[i].name;
    *label = kvv_unbuilt[i].label;
    *why = kvv_unbuilt[i].why;
    return 1;
}

const char *kvv_builtin_unbuilt(const char *name, const char **label)
{
    for (int i = 0; i < kvv_unbuilt_n; i++)
        if (!strcmp(kvv_unbuilt[i].name, name)) {
            if (label)
                *label = kvv_unbuilt[i].label;
            return kvv_unbuilt[i].why;
        }
    return NULL;
}

const char *kvv_backend_builtin_names(void)
{
    static char names[256];
    if (!names[0])
        for (int i = 0; i < kvv_builtins_n; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "," : "",
                     kvv_builtins[i]->name);
    return names;
}

int kvv_backend_check_abi(const kvv_backend *b, char *why, size_t n)
{
    if (!b) {
        snprintf(why, n, "no backend table");
        return -1;
    }
    if (b->abi_version != KVV_ABI_VERSION) {
        snprintf(why, n, "backend ABI version %u, this kvverify speaks version %u", b->abi_version, KVV_ABI_VERSION);
        return -1;
    }
    if (b->struct_size < KVV_BACKEND_MIN_SIZE) {
        snprintf(why, n, "backend table is %u bytes, version %u needs %zu", b->struct_size, KVV_ABI_VERSION,
                 (size_t)KVV_BACKEND_MIN_SIZE);
        return -1;
    }
    const char *missing = !b->name                ? "name"
                          : !b->quantize_rows     ? "quantize_rows"
                          : !b->dequantize_rows   ? "dequantize_rows"
                          : !b->wht               ? "wht"
                          : !b->attention         ? "attention"
                                                  : NULL;
    if (missing) {
        snprintf(why, n, "backend table lacks the required entry '%s'", missing);
        return -1;
    }
    return 0;
}

/* A library path and its options: "dir/lib.so:key=value:key=value".  The
 * options start at the first ':' after the last '/' (so a directory may
 * contain ':'; a file name may not). */
static void split_options(const char *name, char *path, size_t plen, const char **config)
{
    const char *slash = strrchr(name, '/');
    const char *colon = strchr(slash ? slash : name, ':');
    size_t n = colon ? (size_t)(colon - name) : strlen(name);
    snprintf(path, plen, "%.*s", (int)n, name);
    *config = colon ? colon + 1 : NULL;
}

static const kvv_backend *open_plugin(const char *path, const char *config, char *why, size_t n)
{
    if (access(path, F_OK) != 0) {
        snprintf(why, n, "backend library %s: %s", path, strerror(errno));
        return NULL;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, n, "cannot load backend library: %s", dlerror());
        return NULL;
    }
    kvv_backend_get_fn get;
    kvv_backend_get_config_fn get_config;
    *(void **)&get = dlsym(h, KVV_BACKEND_SYMBOL);
    *(void **)&get_config = dlsym(h, KVV_BACKEND_CONFIG_SYMBOL);
    if (!get && !get_config) {
        snprintf(why, n, "%s does not export %s() (not a kvverify backend library?)", path, KVV_BACKEND_SYMBOL);
        dlclose(h);
        return NULL;
    }
    if (config && *config && !get_config) {
        snprintf(why, n, "%s takes no options (it does not export %s()), but it was given ':%s'", path,
                 KVV_BACKEND_CONFIG_SYMBOL, config);
        dlclose(h);
        return NULL;
    }
    char sub[400] = "";
    const kvv_backend *b = get_config ? get_config(KVV_ABI_VERSION, config ? config : "", sub, sizeof sub)
                                      : get(KVV_ABI_VERSION);
    if (!b) {
        if (*sub)
            snprintf(why, n, "%s: %s", path, sub);
        else
            snprintf(why, n, "%s: %s(%u) returned no table (it does not serve this ABI version)", path,
                     get_config ? KVV_BACKEND_CONFIG_SYMBOL : KVV_BACKEND_SYMBOL, KVV_ABI_VERSION);
        dlclose(h);
        return NULL;
    }
    if (kvv_backend_check_abi(b, sub, sizeof sub)) {
        snprintf(why, n, "%s: %s", path, sub);
        dlclose(h);
        return NULL;
    }
    return b; /* the library stays loaded for the life of the process */
}

#ifndef KVV_INSTALLED_PLUGINS
#define KVV_INSTALLED_PLUGINS ""
#endif

/* Names that load the ggml adapter (kernels/ggml, built next to kvverify as
 * libkvv_ggml.so; KVV_GGML_ADAPTER overrides its path) on one ggml device. */
static const struct {
    const char *name, *config;
} ggml_aliases[] = {{"ggml-cpu", "device=cpu"}, {"ggml-vulkan", "device=vulkan"}};

/* What a name that is not built in stands for: a library path and its
 * options.  0, or -1 with why when the name is neither an alias nor a path. */
static int resolve_library(const char *name, char *path, size_t plen, char *config, size_t clen, char *why, size_t n)
{
    for (size_t i = 0; i < sizeof ggml_aliases / sizeof *ggml_aliases; i++) {
        size_t l = strlen(ggml_aliases[i].name);
        if (strncmp(name, ggml_aliases[i].name, l) || (name[l] && name[l] != ':'))
            continue;
        const char *env = getenv("KVV_GGML_ADAPTER");
        if (env && *env) {
            snprintf(path, plen, "%s", env);
        } else {
            if (kvv_beside_self("libkvv_ggml.so", path, plen)) {
                snprintf(why, n, "cannot find the ggml adapter: /proc/self/exe unreadable (set KVV_GGML_ADAPTER)");
                return -1;
            }
            char *slash = strrchr(path, '/');
            /* beside the program in a build tree; where `cmake --install`
             * puts it (lib/kvverify) in an installed one */
            if (access(path, F_OK) != 0 && slash && *KVV_INSTALLED_PLUGINS) {
                size_t dir = (size_t)(slash - path);
                if (dir + strlen(KVV_INSTALLED_PLUGINS) + 20 < plen)
                    snprintf(slash, plen - dir, "/%s/libkvv_ggml.so", KVV_INSTALLED_PLUGINS);
            }
        }
        snprintf(config, clen, "%s%s%s", ggml_aliases[i].config, name[l] ? ":" : "", name[l] ? name + l + 1 : "");
        return 0;
    }
    if (strchr(name, '/') || strstr(name, ".so")) {
        const char *opts;
        split_options(name, path, plen, &opts);
        snprintf(config, clen, "%s", opts ? opts : "");
        return 0;
    }
    snprintf(why, n,
             "unknown backend '%s' (built in: %s; ggml-cpu and ggml-vulkan load the ggml adapter; or a path to a "
             "backend library)",
             name, kvv_backend_builtin_names());
    return -1;
}

int kvv_backend_is_builtin(const char *name) { return kvv_builtin_find(name) != NULL; }

int kvv_backend_check_name(const char *name, char *why, size_t n)
{
    if (kvv_backend_is_builtin(name))
        return 0;
    if (kvv_builtin_unbuilt(name, NULL))
        return kvv_backend_open(name, why, n) ? 0 : -1; /* loads nothing: only says why */
    char path[4096], config[1024];
    if (resolve_library(name, path, sizeof path, config, sizeof config, why, n))
        return -1;
    if (access(path, R_OK) != 0) {
        snprintf(why, n, "no readable backend library at %s (%s)", path, strerror(errno));
        return -1;
    }
    return 0;
}

const kvv_backend *kvv_backend_open(const char *name, char *why, size_t n)
{
    const kvv_builtin *bi = kvv_builtin_find(name);
    if (bi)
        return bi->open(why, n);
    const char *label, *missing = kvv_builtin_unbuilt(name, &label);
    if (missing) {
        snprintf(why, n, "this kvverify was built without the %s backend (%s)", label, missing);
        return NULL;
    }
    char path[4096], config[1024];
    if (resolve_library(name, path, sizeof path, config, sizeof config, why, n))
        return NULL;
    return open_plugin(path, config, why, n);
}
