/* Opening the Vulkan loader at run time (see vk_loader.h). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/vulkan/vk_loader.h"

vkv_fns vkv;

static void *loader_handle;

int vkv_load(char *why, size_t why_len)
{
    if (vkv.vkGetInstanceProcAddr)
        return 0;
    const char *name = getenv("KVV_VULKAN_LOADER");
    if (!name || !*name)
        name = "libvulkan.so.1";
    loader_handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!loader_handle) {
        const char *e = dlerror();
        snprintf(why, why_len,
                 "no Vulkan loader: cannot open %s (%s); install the Vulkan loader (libvulkan1) and a driver, e.g. "
                 "mesa-vulkan-drivers for the lavapipe CPU device",
                 name, e ? e : "unknown error");
        return -1;
    }
    *(void **)&vkv.vkGetInstanceProcAddr = dlsym(loader_handle, "vkGetInstanceProcAddr");
    if (!vkv.vkGetInstanceProcAddr) {
        snprintf(why, why_len, "%s does not export vkGetInstanceProcAddr: not a Vulkan loader", name);
        dlclose(loader_handle);
        loader_handle = NULL;
        return -1;
    }
#define X(fn) vkv.fn = (PFN_##fn)vkv.vkGetInstanceProcAddr(VK_NULL_HANDLE, #fn);
    VKV_GLOBAL_FNS(X)
#undef X
    if (!vkv.vkCreateInstance) {
        snprintf(why, why_len, "the Vulkan loader %s lacks vkCreateInstance", name);
        vkv.vkGetInstanceProcAddr = NULL;
        return -1;
    }
    return 0;
}

int vkv_load_instance(VkInstance inst, char *why, size_t why_len)
{
#define X(fn)                                                                                                          \
    if (!(vkv.fn = (PFN_##fn)vkv.vkGetInstanceProcAddr(inst, #fn))) {                                                \
        snprintf(why, why_len, "the Vulkan instance lacks %s (a Vulkan 1.1 loader is needed)", #fn);                 \
        return -1;                                                                                                     \
    }
    VKV_INSTANCE_FNS(X)
#undef X
    return 0;
}

int vkv_load_device(VkDevice dev, char *why, size_t why_len)
{
#define X(fn)                                                                                                          \
    if (!(vkv.fn = (PFN_##fn)vkv.vkGetDeviceProcAddr(dev, #fn))) {                                                   \
        snprintf(why, why_len, "the Vulkan device lacks %s", #fn);                                                     \
        return -1;                                                                                                     \
    }
    VKV_DEVICE_FNS(X)
#undef X
    return 0;
}

const char *vkv_result_name(VkResult r)
{
    static const struct {
        VkResult r;
        const char *name;
    } names[] = {
        {VK_SUCCESS, "VK_SUCCESS"},
        {VK_NOT_READY, "VK_NOT_READY"},
        {VK_TIMEOUT, "VK_TIMEOUT"},
        {VK_INCOMPLETE, "VK_INCOMPLETE"},
        {VK_ERROR_OUT_OF_HOST_MEMORY, "VK_ERROR_OUT_OF_HOST_MEMORY"},
        {VK_ERROR_OUT_OF_DEVICE_MEMORY, "VK_ERROR_OUT_OF_DEVICE_MEMORY"},
        {VK_ERROR_INITIALIZATION_FAILED, "VK_ERROR_INITIALIZATION_FAILED"},
        {VK_ERROR_DEVICE_LOST, "VK_ERROR_DEVICE_LOST"},
        {VK_ERROR_MEMORY_MAP_FAILED, "VK_ERROR_MEMORY_MAP_FAILED"},
        {VK_ERROR_LAYER_NOT_PRESENT, "VK_ERROR_LAYER_NOT_PRESENT"},
        {VK_ERROR_EXTENSION_NOT_PRESENT, "VK_ERROR_EXTENSION_NOT_PRESENT"},
        {VK_ERROR_FEATURE_NOT_PRESENT, "VK_ERROR_FEATURE_NOT_PRESENT"},
        {VK_ERROR_INCOMPATIBLE_DRIVER, "VK_ERROR_INCOMPATIBLE_DRIVER (no Vulkan driver (ICD) found)"},
        {VK_ERROR_TOO_MANY_OBJECTS, "VK_ERROR_TOO_MANY_OBJECTS"},
        {VK_ERROR_FORMAT_NOT_SUPPORTED, "VK_ERROR_FORMAT_NOT_SUPPORTED"},
        {VK_ERROR_FRAGMENTED_POOL, "VK_ERROR_FRAGMENTED_POOL"},
        {VK_ERROR_OUT_OF_POOL_MEMORY, "VK_ERROR_OUT_OF_POOL_MEMORY"},
        {VK_ERROR_INVALID_SHADER_NV, "VK_ERROR_INVALID_SHADER_NV"},
        {VK_ERROR_UNKNOWN, "VK_ERROR_UNKNOWN"},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (names[i].r == r)
            return names[i].name;
    return "VkResult (unlisted)";
}
