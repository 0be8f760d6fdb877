/* Private to kernels/vulkan: the device context and the pieces the backend
 * table is assembled from (device, buffers, pipelines, kernels). */
#ifndef KVV_VK_INTERNAL_H
#define KVV_VK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/vulkan/vk_loader.h"
#include "kvv/backend.h"

/* ---- what a physical device offers (for listing, selection and fallbacks) ---- */
typedef struct vkv_device_info {
    char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
    char driver[2 * VK_MAX_DRIVER_NAME_SIZE + 8];             /* driver name and version text, when the device reports them */
    const char *kind;               /* "discrete", "integrated", "virtual", "cpu", "other" */
    VkPhysicalDeviceType type;
    uint32_t api_version, vendor_id, device_id;
    uint32_t subgroup_size;         /* the device's (never assumed: 8 on lavapipe, 32 on NVIDIA) */
    int subgroup_compute;           /* subgroup operations are available in compute shaders */
    int subgroup_shuffle;           /* ... including shuffle (the reductions' butterfly) */
    int shader_float16, shader_int8, storage8, storage16, shader_float64;
    int denorm_preserve32, nan_preserve32, rte32; /* float controls (reported, not relied on) */
    uint32_t max_shared;            /* maxComputeSharedMemorySize */
    uint32_t max_invocations;       /* maxComputeWorkGroupInvocations */
    uint32_t max_group_count[3];
    uint64_t max_storage_range;     /* maxStorageBufferRange */
    int has_compute_queue;
    char unusable[160];             /* empty when kvverify can use the device, else why not */
} vkv_device_info;

/* Enumerate devices with a temporary instance.  Returns the count (up to
 * max filled in) or -1 with why. */
int vkv_enumerate(vkv_device_info *out, int max, char *why, size_t why_len);
/* Index the default selection picks among n devices: the first usable
 * discrete GPU, else integrated, else any usable one; -1 when none. */
int vkv_default_index(const vkv_device_info *d, int n);

/* ---- buffers ---- */
typedef struct vkv_buf {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceSize size;
    void *map; /* host-visible buffers stay mapped */
} vkv_buf;

/* ---- pipelines: one per (shader, specialization constants) ---- */
#define VKV_MAX_BINDINGS 8
#define VKV_MAX_SPEC 12
#define VKV_PUSH_BYTES 128
typedef struct vkv_pipeline {
    const char *shader;
    uint32_t spec[VKV_MAX_SPEC];
    int nspec;
    VkPipeline pipe;
} vkv_pipeline;

/* ---- the context: one device, created on first use ---- */
typedef struct vkv_ctx {
    VkInstance inst;
    VkPhysicalDevice phys;
    VkDevice dev;
    VkQueue queue;
    uint32_t qfam;
    VkPhysicalDeviceMemoryProperties mem;
    vkv_device_info info;
    int index;
    int use_subgroups;    /* reductions by subgroup shuffles (else the shared-memory variant) */
    int kv_f16;           /* attention rounds K/V to f16 (an f16 dequant cache), as ggml's Vulkan FA */
    int rounding_checked, rounds_to_nearest, flushes_subnormals; /* vk_probe.c */
    char rounding_note[512];
    VkCommandPool cmd_pool;
    VkCommandBuffer cmd;
    VkFence fence;
    VkDescriptorPool dpool;
    VkDescriptorSetLayout dsl;
    VkPipelineLayout layout;
    vkv_pipeline *pipes;
    int npipes, cap_pipes;
    vkv_buf dummy;        /* bound where a shader has no buffer */
    vkv_buf staging;      /* host-visible, for uploads and downloads */
    vkv_buf scratch[10];  /* device buffers reused between calls, by role */
    int recording;
    int nsets;            /* descriptor sets used by the current batch */
    size_t staged;        /* bytes of staging used by the current batch */
    char err[512];
} vkv_ctx;

/* Roles of the scratch buffers. */
enum { VKV_B_IN, VKV_B_OUT, VKV_B_Q, VKV_B_K, VKV_B_V, VKV_B_MASK, VKV_B_KC, VKV_B_VC, VKV_B_SLOPE, VKV_B_PART,
       VKV_B_COUNT };

/* The context for the selected device, created on first call; NULL with
 * the reason in why. */
vkv_ctx *vkv_get(char *why, size_t why_len);
void vkv_release(void);
/* Device index asked for (-1 = default); read from KVV_VK_DEVICE when unset. */
int vkv_selected_index(void);
/* Ask for device index (-1 = default) for the next open; -1 when a
 * different device is already open in this process. */
int vkv_select(int index);

/* Errors: record a message in c->err and return KVV_FAILED / KVV_UNSUPPORTED. */
int vkv_fail(vkv_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vkv_decline(vkv_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Buffers (vk_buffer.c).  A scratch buffer grows to at least `size` bytes
 * (its contents are then undefined).  Returns 0 or KVV_FAILED. */
int vkv_scratch(vkv_ctx *c, int role, size_t size, vkv_buf **out);
int vkv_buf_create(vkv_ctx *c, size_t size, int host_visible, vkv_buf *b);
void vkv_buf_destroy(vkv_ctx *c, vkv_buf *b);

/* A batch of work: begin, record uploads/dispatches/downloads, then
 * submit and wait.  Downloads land in host memory at submit time. */
/* Make room in the staging buffer for a batch (before vkv_begin). */
int vkv_reserve_staging(vkv_ctx *c, size_t bytes);
int vkv_begin(vkv_ctx *c);
int vkv_upload(vkv_ctx *c, vkv_buf *dst, const void *src, size_t n);
int vkv_fill_zero(vkv_ctx *c, vkv_buf *dst, size_t n);
int vkv_download(vkv_ctx *c, vkv_buf *src, void *dst, size_t n);
/* Dispatch shader `name` with specialization constants spec[0..nspec)
 * (constant_id i gets spec[i]; id 0 is the workgroup size by convention),
 * storage buffers at bindings 0.. (NULL = unused), push constants.  A
 * barrier follows, so the next command sees its writes. */
int vkv_dispatch(vkv_ctx *c, const char *name, const uint32_t *spec, int nspec, vkv_buf *const *bufs, int nbufs,
                 const void *push, size_t push_size, uint32_t gx, uint32_t gy, uint32_t gz);
int vkv_submit(vkv_ctx *c);

/* Workgroup count for `n` groups of work: gx x gy with gx <= the device
 * limit (shaders index with gl_WorkGroupID.x + gl_WorkGroupID.y * gx). */
void vkv_grid(const vkv_ctx *c, uint64_t n, uint32_t *gx, uint32_t *gy);

/* ---- embedded SPIR-V (generated at build time from the shaders folder) ---- */
typedef struct vkv_spirv {
    const char *name;
    const uint32_t *code;
    size_t size; /* bytes */
} vkv_spirv;
extern const vkv_spirv vkv_spirv_table[];
extern const int vkv_spirv_count;

/* Run once: whether native f32 add/mul round to nearest even (dequantize
 * and attention need it).  KVV_OK, or KVV_UNSUPPORTED with the reason. */
int vkv_probe_rounding(vkv_ctx *c);

/* ---- kernels (vk_rows.c, vk_attn.c) ---- */
int vkv_quantize(vkv_ctx *c, kvv_type t, const float *src, void *dst, int64_t nrows, int64_t ncols);
int vkv_dequantize(vkv_ctx *c, kvv_type t, const void *src, float *dst, int64_t nrows, int64_t ncols, int lut);
int vkv_wht(vkv_ctx *c, float *x, int64_t nrows, int64_t ncols, int group, int inverse);
/* The same as recorded dispatches on device buffers (inside a batch). */
int vkv_dequantize_dispatch(vkv_ctx *c, kvv_type t, vkv_buf *src, vkv_buf *dst, int64_t nrows, int64_t ncols,
                            int lut, int out_f16);
int vkv_wht_dispatch(vkv_ctx *c, vkv_buf *data, uint64_t n, int group, int inverse);
int vkv_attention(vkv_ctx *c, const kvv_attn_args *a, float *out, kvv_attn_info *info);

#endif
