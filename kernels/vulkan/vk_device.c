/* Instance, physical devices, and the one logical device kvverify uses.
 *
 * Nothing here runs at load time: the runner forks worker processes, and a
 * Vulkan instance must not be shared across fork(), so the context is made
 * on the first call in the process that uses it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/vulkan/vk_internal.h"

#define VKV_MAX_DEVICES 16

/* lavapipe JIT-compiles code the first time devices are enumerated, and
 * that code leaves an allocation LeakSanitizer cannot attribute to any
 * library (JIT frames have no symbols), so no suppression can name it.  In
 * sanitizer builds the enumeration is kept out of leak detection; all that
 * kvverify allocates itself stays checked. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define DRIVER_JIT_BEGIN() __lsan_disable()
#define DRIVER_JIT_END() __lsan_enable()
#else
#define DRIVER_JIT_BEGIN() ((void)0)
#define DRIVER_JIT_END() ((void)0)
#endif

static vkv_ctx *ctx;        /* the open context, or NULL */
static int selected = -2;   /* -2: not set yet (read KVV_VK_DEVICE); -1: default; -3: KVV_VK_DEVICE unparsable */
static int opened_with;     /* the selection ctx was opened with */

int vkv_fail(vkv_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return KVV_FAILED;
}

int vkv_decline(vkv_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return KVV_UNSUPPORTED;
}

int vkv_selected_index(void)
{
    if (selected == -2) {
        const char *e = getenv("KVV_VK_DEVICE");
        char *end;
        long v = e && *e ? strtol(e, &end, 10) : -1;
        selected = e && *e && !*end && v >= 0 && v < 1000 ? (int)v : e && *e ? -3 : -1;
    }
    return selected;
}

int vkv_select(int index)
{
    int want = index < 0 ? -1 : index;
    if (ctx && want != opened_with)
        return -1;
    selected = want;
    return 0;
}

static int create_instance(VkInstance *inst, char *why, size_t n)
{
    if (vkv_load(why, n))
        return -1;
    uint32_t ver = VK_API_VERSION_1_0;
    if (!vkv.vkEnumerateInstanceVersion || vkv.vkEnumerateInstanceVersion(&ver) != VK_SUCCESS ||
        ver < VK_API_VERSION_1_1) {
        snprintf(why, n, "the Vulkan loader is version 1.0; kvverify needs Vulkan 1.1 (subgroup operations)");
        return -1;
    }
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "kvverify",
                             .apiVersion = VK_API_VERSION_1_2};
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
    VkResult r = vkv.vkCreateInstance(&ci, NULL, inst);
    if (r != VK_SUCCESS) {
        snprintf(why, n, "vkCreateInstance failed: %s", vkv_result_name(r));
        return -1;
    }
    if (vkv_load_instance(*inst, why, n)) {
        PFN_vkDestroyInstance d = (PFN_vkDestroyInstance)vkv.vkGetInstanceProcAddr(*inst, "vkDestroyInstance");
        if (d)
            d(*inst, NULL);
        return -1;
    }
    return 0;
}

static const char *type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

static void query_info(VkPhysicalDevice pd, vkv_device_info *d)
{
    memset(d, 0, sizeof *d);
    VkPhysicalDeviceProperties p;
    vkv.vkGetPhysicalDeviceProperties(pd, &p);
    snprintf(d->name, sizeof d->name, "%s", p.deviceName);
    d->type = p.deviceType;
    d->kind = type_name(p.deviceType);
    d->api_version = p.apiVersion;
    d->vendor_id = p.vendorID;
    d->device_id = p.deviceID;
    d->max_shared = p.limits.maxComputeSharedMemorySize;
    d->max_invocations = p.limits.maxComputeWorkGroupInvocations;
    for (int i = 0; i < 3; i++)
        d->max_group_count[i] = p.limits.maxComputeWorkGroupCount[i];
    d->max_storage_range = p.limits.maxStorageBufferRange;
    d->shader_float64 = 0;

    uint32_t nq = 0;
    vkv.vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, NULL);
    VkQueueFamilyProperties qf[32];
    if (nq > 32)
        nq = 32;
    vkv.vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qf);
    for (uint32_t i = 0; i < nq; i++)
        if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT)
            d->has_compute_queue = 1;

    if (p.apiVersion < VK_API_VERSION_1_1) {
        snprintf(d->unusable, sizeof d->unusable, "Vulkan %u.%u device; kvverify needs 1.1",
                 VK_API_VERSION_MAJOR(p.apiVersion), VK_API_VERSION_MINOR(p.apiVersion));
        return;
    }
    /* 1.1 core: subgroups and 16-bit storage */
    VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceFloatControlsProperties fc = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FLOAT_CONTROLS_PROPERTIES};
    VkPhysicalDeviceDriverProperties dp = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg};
    int v12 = p.apiVersion >= VK_API_VERSION_1_2;
    if (v12) {
        sg.pNext = &fc;
        fc.pNext = &dp;
    }
    vkv.vkGetPhysicalDeviceProperties2(pd, &p2);
    d->subgroup_size = sg.subgroupSize;
    d->subgroup_compute = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                          (sg.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT);
    d->subgroup_shuffle = d->subgroup_compute && (sg.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
    if (v12) {
        d->denorm_preserve32 = fc.shaderDenormPreserveFloat32;
        d->nan_preserve32 = fc.shaderSignedZeroInfNanPreserveFloat32;
        d->rte32 = fc.shaderRoundingModeRTEFloat32;
        snprintf(d->driver, sizeof d->driver, "%.*s %.*s", VK_MAX_DRIVER_NAME_SIZE, dp.driverName,
                 VK_MAX_DRIVER_INFO_SIZE, dp.driverInfo);
    }

    VkPhysicalDevice16BitStorageFeatures s16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDevice8BitStorageFeatures s8 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &s16};
    if (v12) {
        s16.pNext = &s8;
        s8.pNext = &f16;
    }
    vkv.vkGetPhysicalDeviceFeatures2(pd, &f2);
    d->storage16 = s16.storageBuffer16BitAccess;
    d->storage8 = s8.storageBuffer8BitAccess;
    d->shader_float16 = f16.shaderFloat16;
    d->shader_int8 = f16.shaderInt8;
    d->shader_float64 = f2.features.shaderFloat64;

    if (!d->has_compute_queue)
        snprintf(d->unusable, sizeof d->unusable, "no queue family with compute");
    else if (d->max_invocations < 128)
        snprintf(d->unusable, sizeof d->unusable, "maxComputeWorkGroupInvocations %u < 128", d->max_invocations);
    else if (d->max_shared < 16384)
        snprintf(d->unusable, sizeof d->unusable, "maxComputeSharedMemorySize %u < 16384", d->max_shared);
}

static int enumerate_with(VkInstance inst, VkPhysicalDevice *pds, vkv_device_info *out, int max, char *why,
                          size_t n)
{
    uint32_t count = 0;
    DRIVER_JIT_BEGIN();
    VkResult r = vkv.vkEnumeratePhysicalDevices(inst, &count, NULL);
    DRIVER_JIT_END();
    if (r != VK_SUCCESS) {
        snprintf(why, n, "vkEnumeratePhysicalDevices failed: %s", vkv_result_name(r));
        return -1;
    }
    VkPhysicalDevice all[VKV_MAX_DEVICES];
    if (count > VKV_MAX_DEVICES)
        count = VKV_MAX_DEVICES;
    r = vkv.vkEnumeratePhysicalDevices(inst, &count, all);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        snprintf(why, n, "vkEnumeratePhysicalDevices failed: %s", vkv_result_name(r));
        return -1;
    }
    for (uint32_t i = 0; i < count && (int)i < max; i++) {
        if (pds)
            pds[i] = all[i];
        if (out)
            query_info(all[i], &out[i]);
    }
    if (count == 0)
        snprintf(why, n, "the Vulkan loader found no device (no driver/ICD installed; for a CPU device install "
                         "mesa-vulkan-drivers)");
    return (int)count;
}

int vkv_enumerate(vkv_device_info *out, int max, char *why, size_t why_len)
{
    if (ctx) { /* reuse the open instance */
        return enumerate_with(ctx->inst, NULL, out, max, why, why_len);
    }
    VkInstance inst;
    if (create_instance(&inst, why, why_len))
        return -1;
    int n = enumerate_with(inst, NULL, out, max, why, why_len);
    vkv.vkDestroyInstance(inst, NULL);
    return n;
}

int vkv_default_index(const vkv_device_info *d, int n)
{
    static const VkPhysicalDeviceType pref[] = {VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU,
                                                VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU,
                                                VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU};
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < n; i++)
            if (d[i].type == pref[p] && !d[i].unusable[0])
                return i;
    for (int i = 0; i < n; i++)
        if (!d[i].unusable[0])
            return i;
    return -1;
}

static int uniform_layout(vkv_ctx *c)
{
    VkDescriptorSetLayoutBinding b[VKV_MAX_BINDINGS];
    for (int i = 0; i < VKV_MAX_BINDINGS; i++)
        b[i] = (VkDescriptorSetLayoutBinding){.binding = (uint32_t)i,
                                              .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                              .descriptorCount = 1,
                                              .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkDescriptorSetLayoutCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                           .bindingCount = VKV_MAX_BINDINGS,
                                           .pBindings = b};
    VkResult r = vkv.vkCreateDescriptorSetLayout(c->dev, &dci, NULL, &c->dsl);
    if (r != VK_SUCCESS)
        return vkv_fail(c, "vkCreateDescriptorSetLayout: %s", vkv_result_name(r));
    VkPushConstantRange pr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = VKV_PUSH_BYTES};
    VkPipelineLayoutCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                      .setLayoutCount = 1,
                                      .pSetLayouts = &c->dsl,
                                      .pushConstantRangeCount = 1,
                                      .pPushConstantRanges = &pr};
    r = vkv.vkCreatePipelineLayout(c->dev, &pci, NULL, &c->layout);
    if (r != VK_SUCCESS)
        return vkv_fail(c, "vkCreatePipelineLayout: %s", vkv_result_name(r));
    VkDescriptorPoolSize ps = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 64 * VKV_MAX_BINDINGS};
    VkDescriptorPoolCreateInfo dpi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                      .maxSets = 64,
                                      .poolSizeCount = 1,
                                      .pPoolSizes = &ps};
    r = vkv.vkCreateDescriptorPool(c->dev, &dpi, NULL, &c->dpool);
    if (r != VK_SUCCESS)
        return vkv_fail(c, "vkCreateDescriptorPool: %s", vkv_result_name(r));
    return 0;
}

static void destroy_ctx(vkv_ctx *c)
{
    if (c->dev) {
        vkv.vkDeviceWaitIdle(c->dev);
        for (int i = 0; i < c->npipes; i++)
            vkv.vkDestroyPipeline(c->dev, c->pipes[i].pipe, NULL);
        free(c->pipes);
        for (int i = 0; i < VKV_B_COUNT; i++)
            vkv_buf_destroy(c, &c->scratch[i]);
        vkv_buf_destroy(c, &c->staging);
        vkv_buf_destroy(c, &c->dummy);
        if (c->dpool)
            vkv.vkDestroyDescriptorPool(c->dev, c->dpool, NULL);
        if (c->layout)
            vkv.vkDestroyPipelineLayout(c->dev, c->layout, NULL);
        if (c->dsl)
            vkv.vkDestroyDescriptorSetLayout(c->dev, c->dsl, NULL);
        if (c->fence)
            vkv.vkDestroyFence(c->dev, c->fence, NULL);
        if (c->cmd_pool)
            vkv.vkDestroyCommandPool(c->dev, c->cmd_pool, NULL);
        vkv.vkDestroyDevice(c->dev, NULL);
    }
    if (c->inst)
        vkv.vkDestroyInstance(c->inst, NULL);
    free(c);
}

static vkv_ctx *create_ctx(char *why, size_t n)
{
    vkv_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(why, n, "out of memory");
        return NULL;
    }
    if (create_instance(&c->inst, why, n)) {
        free(c);
        return NULL;
    }
    VkPhysicalDevice pds[VKV_MAX_DEVICES];
    vkv_device_info infos[VKV_MAX_DEVICES];
    int count = enumerate_with(c->inst, pds, infos, VKV_MAX_DEVICES, why, n);
    int want = vkv_selected_index();
    if (count <= 0)
        goto fail;
    if (want == -3) {
        snprintf(why, n, "KVV_VK_DEVICE='%s' is not a device index (see `kvverify list devices`)",
                 getenv("KVV_VK_DEVICE"));
        goto fail;
    }
    if (want >= count) {
        snprintf(why, n, "Vulkan device %d does not exist: this machine has %d (0..%d; see `kvverify list devices`)",
                 want, count, count - 1);
        goto fail;
    }
    int idx = want >= 0 ? want : vkv_default_index(infos, count);
    if (idx < 0) {
        snprintf(why, n, "no usable Vulkan device: device 0 (%s): %s", infos[0].name, infos[0].unusable);
        goto fail;
    }
    if (infos[idx].unusable[0]) {
        snprintf(why, n, "Vulkan device %d (%s) cannot be used: %s", idx, infos[idx].name, infos[idx].unusable);
        goto fail;
    }
    c->index = idx;
    c->phys = pds[idx];
    c->info = infos[idx];
    /* the 8-lane reductions need shuffles and subgroups of at least 8; the
     * shared-memory variant computes the same tree (KVV_VK_NO_SUBGROUP=1
     * forces it, to test that the two agree bit for bit) */
    const char *nosg = getenv("KVV_VK_NO_SUBGROUP");
    c->use_subgroups = c->info.subgroup_shuffle && c->info.subgroup_size >= 8 && !(nosg && *nosg && *nosg != '0');
    /* attention's K/V precision: f32 (default), or f16 as ggml's Vulkan
     * flash attention keeps its dequant cache (KVV_VK_KV_F16=1) */
    const char *kvf16 = getenv("KVV_VK_KV_F16");
    c->kv_f16 = kvf16 && *kvf16 && *kvf16 != '0';
    vkv.vkGetPhysicalDeviceMemoryProperties(c->phys, &c->mem);

    uint32_t nq = 0;
    VkQueueFamilyProperties qf[32];
    vkv.vkGetPhysicalDeviceQueueFamilyProperties(c->phys, &nq, NULL);
    if (nq > 32)
        nq = 32;
    vkv.vkGetPhysicalDeviceQueueFamilyProperties(c->phys, &nq, qf);
    /* prefer a compute queue without graphics (an async compute family) */
    int fam = -1;
    for (uint32_t i = 0; i < nq; i++)
        if ((qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && (fam < 0 || !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)))
            fam = (int)i;
    c->qfam = (uint32_t)fam;
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = c->qfam,
                                   .queueCount = 1,
                                   .pQueuePriorities = &prio};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci};
    VkResult r = vkv.vkCreateDevice(c->phys, &dci, NULL, &c->dev);
    if (r != VK_SUCCESS) {
        snprintf(why, n, "vkCreateDevice (%s) failed: %s", c->info.name, vkv_result_name(r));
        c->dev = VK_NULL_HANDLE;
        goto fail;
    }
    if (vkv_load_device(c->dev, why, n))
        goto fail;
    vkv.vkGetDeviceQueue(c->dev, c->qfam, 0, &c->queue);
    VkCommandPoolCreateInfo cpi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                   .queueFamilyIndex = c->qfam};
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if ((r = vkv.vkCreateCommandPool(c->dev, &cpi, NULL, &c->cmd_pool)) != VK_SUCCESS ||
        (cai.commandPool = c->cmd_pool, (r = vkv.vkAllocateCommandBuffers(c->dev, &cai, &c->cmd)) != VK_SUCCESS) ||
        (r = vkv.vkCreateFence(c->dev, &fci, NULL, &c->fence)) != VK_SUCCESS) {
        snprintf(why, n, "creating the command buffer and fence: %s", vkv_result_name(r));
        goto fail;
    }
    if (uniform_layout(c) || vkv_buf_create(c, 256, 0, &c->dummy)) {
        snprintf(why, n, "%s", c->err);
        goto fail;
    }
    return c;
fail:
    destroy_ctx(c);
    return NULL;
}

vkv_ctx *vkv_get(char *why, size_t why_len)
{
    if (!ctx) {
        ctx = create_ctx(why, why_len);
        opened_with = vkv_selected_index();
    }
    return ctx;
}

void vkv_release(void)
{
    if (ctx)
        destroy_ctx(ctx);
    ctx = NULL;
}

void vkv_grid(const vkv_ctx *c, uint64_t n, uint32_t *gx, uint32_t *gy)
{
    uint64_t lim = c->info.max_group_count[0] < 65535 ? c->info.max_group_count[0] : 65535;
    if (n <= lim) {
        *gx = (uint32_t)(n ? n : 1);
        *gy = 1;
    } else {
        *gx = (uint32_t)lim;
        *gy = (uint32_t)((n + lim - 1) / lim);
    }
}
