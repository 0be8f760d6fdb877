/* Finding backends by name: the built-in ones, or a shared library that
 * exports kvv_backend_get (the plugin ABI of include/kvv/backend.h). */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "kernels/cpu/cpu_backend.h"
#include "oracle/oracle.h"
#ifdef KVV_HAVE_VULKAN
#include "kernels/vulkan/vk_backend.h"
#endif

const char *kvv_backend_builtin_names(void)
{
#ifdef KVV_HAVE_VULKAN
    return "cpu,vulkan";
#else
    return "cpu";
#endif
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
    if (b->struct_size < sizeof(kvv_backend)) {
        snprintf(why, n, "backend table is %u bytes, version %u needs %zu", b->struct_size, KVV_ABI_VERSION,
                 sizeof(kvv_backend));
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

static const kvv_backend *open_plugin(const char *path, char *why, size_t n)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, n, "cannot load backend library: %s", dlerror());
        return NULL;
    }
    kvv_backend_get_fn get;
    *(void **)&get = dlsym(h, KVV_BACKEND_SYMBOL);
    if (!get) {
        snprintf(why, n, "%s does not export %s()", path, KVV_BACKEND_SYMBOL);
        dlclose(h);
        return NULL;
    }
    const kvv_backend *b = get(KVV_ABI_VERSION);
    if (!b) {
        snprintf(why, n, "%s: %s(%u) returned no table (it does not serve this ABI version)", path,
                 KVV_BACKEND_SYMBOL, KVV_ABI_VERSION);
        dlclose(h);
        return NULL;
    }
    char sub[200];
    if (kvv_backend_check_abi(b, sub, sizeof sub)) {
        snprintf(why, n, "%s: %s", path, sub);
        dlclose(h);
        return NULL;
    }
    return b; /* the library stays loaded for the life of the process */
}

const kvv_backend *kvv_backend_open(const char *name, char *why, size_t n)
{
    if (!strcmp(name, "cpu"))
        return kvv_cpu_backend();
#ifdef KVV_HAVE_VULKAN
    if (!strcmp(name, "vulkan"))
        return kvv_vulkan_backend(why, n);
#else
    if (!strcmp(name, "vulkan")) {
        snprintf(why, n, "this kvverify was built without the Vulkan backend (configure with -DKVV_VULKAN=ON and "
                         "libvulkan-dev, glslc installed)");
        return NULL;
    }
#endif
    if (strchr(name, '/') || strstr(name, ".so"))
        return open_plugin(name, why, n);
    snprintf(why, n, "unknown backend '%s' (built in: %s; or a path to a backend library)", name,
             kvv_backend_builtin_names());
    return NULL;
}
