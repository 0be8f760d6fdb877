/* Buffers and batches: device buffers reused between calls, one staging
 * buffer for host transfers, and a command buffer recorded, submitted and
 * waited for per backend call (every entry point is synchronous). */
#include <string.h>

#include "kernels/vulkan/vk_internal.h"

static int find_memory(const vkv_ctx *c, uint32_t bits, VkMemoryPropertyFlags want, VkMemoryPropertyFlags nice)
{
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < c->mem.memoryTypeCount; i++) {
            VkMemoryPropertyFlags f = c->mem.memoryTypes[i].propertyFlags;
            if ((bits >> i & 1) && (f & want) == want && (pass || (f & nice) == nice))
                return (int)i;
        }
    return -1;
}

int vkv_buf_create(vkv_ctx *c, size_t size, int host_visible, vkv_buf *b)
{
    memset(b, 0, sizeof *b);
    size = (size + 255) & ~(size_t)255;
    if (size > c->info.max_storage_range && !host_visible)
        return vkv_decline(c, "a buffer of %zu bytes exceeds this device's maxStorageBufferRange (%llu)", size,
                           (unsigned long long)c->info.max_storage_range);
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                             .size = size,
                             .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                      VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                             .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = vkv.vkCreateBuffer(c->dev, &bi, NULL, &b->buf);
    if (r != VK_SUCCESS)
        return vkv_fail(c, "vkCreateBuffer(%zu bytes): %s", size, vkv_result_name(r));
    VkMemoryRequirements req;
    vkv.vkGetBufferMemoryRequirements(c->dev, b->buf, &req);
    int type = host_visible ? find_memory(c, req.memoryTypeBits,
                                          VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                                          VK_MEMORY_PROPERTY_HOST_CACHED_BIT)
                            : find_memory(c, req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type < 0) {
        vkv.vkDestroyBuffer(c->dev, b->buf, NULL);
        b->buf = VK_NULL_HANDLE;
        return vkv_fail(c, "no suitable memory type for a %s buffer", host_visible ? "host-visible" : "device");
    }
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                               .allocationSize = req.size,
                               .memoryTypeIndex = (uint32_t)type};
    r = vkv.vkAllocateMemory(c->dev, &ai, NULL, &b->mem);
    if (r == VK_SUCCESS)
        r = vkv.vkBindBufferMemory(c->dev, b->buf, b->mem, 0);
    if (r == VK_SUCCESS && host_visible)
        r = vkv.vkMapMemory(c->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map);
    if (r != VK_SUCCESS) {
        vkv_buf_destroy(c, b);
        return vkv_fail(c, "allocating %zu bytes of %s memory: %s", size, host_visible ? "host" : "device",
                        vkv_result_name(r));
    }
    b->size = size;
    return 0;
}

void vkv_buf_destroy(vkv_ctx *c, vkv_buf *b)
{
    if (b->map)
        vkv.vkUnmapMemory(c->dev, b->mem);
    if (b->buf)
        vkv.vkDestroyBuffer(c->dev, b->buf, NULL);
    if (b->mem)
        vkv.vkFreeMemory(c->dev, b->mem, NULL);
    memset(b, 0, sizeof *b);
}

int vkv_scratch(vkv_ctx *c, int role, size_t size, vkv_buf **out)
{
    vkv_buf *b = &c->scratch[role];
    if (size == 0)
        size = 4;
    if (b->size < size) {
        if (c->recording)
            return vkv_fail(c, "internal: scratch buffer %d grown while recording", role);
        vkv_buf_destroy(c, b);
        /* grow geometrically so that a sweep of sizes does not reallocate every call */
        size_t want = size + size / 2;
        if (want > c->info.max_storage_range && size <= c->info.max_storage_range)
            want = size;
        int rc = vkv_buf_create(c, want, 0, b);
        if (rc)
            return rc;
    }
    *out = b;
    return 0;
}

/* Staging space for this batch: grown before recording starts, so the
 * kernels reserve what they will need with vkv_begin's caller. */
static int stage(vkv_ctx *c, size_t n, size_t *off)
{
    size_t o = (c->staged + 255) & ~(size_t)255;
    if (o + n > c->staging.size)
        return vkv_fail(c, "internal: staging space exhausted (%zu + %zu > %llu)", o, n,
                        (unsigned long long)c->staging.size);
    *off = o;
    c->staged = o + n;
    return 0;
}

static void barrier(vkv_ctx *c)
{
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                           VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
    vkv.vkCmdPipelineBarrier(c->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                             VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0,
                             NULL, 0, NULL);
}

typedef struct {
    void *dst;
    size_t off, n;
} pending_read;
static pending_read reads[16];
static int nreads;

int vkv_reserve_staging(vkv_ctx *c, size_t bytes)
{
    if (c->recording)
        return vkv_fail(c, "internal: staging reserved while recording");
    bytes += 16 * 256;
    if (c->staging.size >= bytes)
        return 0;
    vkv_buf_destroy(c, &c->staging);
    return vkv_buf_create(c, bytes + bytes / 2, 1, &c->staging);
}

int vkv_begin(vkv_ctx *c)
{
    VkResult r = vkv.vkResetCommandBuffer(c->cmd, 0);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    if (r == VK_SUCCESS)
        r = vkv.vkBeginCommandBuffer(c->cmd, &bi);
    if (r != VK_SUCCESS)
        return vkv_fail(c, "vkBeginCommandBuffer: %s", vkv_result_name(r));
    vkv.vkResetDescriptorPool(c->dev, c->dpool, 0);
    c->recording = 1;
    c->nsets = 0;
    c->staged = 0;
    nreads = 0;
    return 0;
}

int vkv_upload(vkv_ctx *c, vkv_buf *dst, const void *src, size_t n)
{
    size_t off = 0;
    if (n == 0)
        return 0;
    if (stage(c, n, &off))
        return KVV_FAILED;
    memcpy((char *)c->staging.map + off, src, n);
    VkBufferCopy cp = {.srcOffset = off, .dstOffset = 0, .size = n};
    vkv.vkCmdCopyBuffer(c->cmd, c->staging.buf, dst->buf, 1, &cp);
    barrier(c);
    return 0;
}

int vkv_fill_zero(vkv_ctx *c, vkv_buf *dst, size_t n)
{
    n = (n + 3) & ~(size_t)3;
    if (n == 0)
        return 0;
    vkv.vkCmdFillBuffer(c->cmd, dst->buf, 0, n, 0);
    barrier(c);
    return 0;
}

int vkv_download(vkv_ctx *c, vkv_buf *src, void *dst, size_t n)
{
    size_t off = 0;
    if (n == 0)
        return 0;
    if (nreads == (int)(sizeof reads / sizeof *reads))
        return vkv_fail(c, "internal: too many downloads in one batch");
    if (stage(c, n, &off))
        return KVV_FAILED;
    VkBufferCopy cp = {.srcOffset = 0, .dstOffset = off, .size = n};
    vkv.vkCmdCopyBuffer(c->cmd, src->buf, c->staging.buf, 1, &cp);
    reads[nreads++] = (pending_read){dst, off, n};
    return 0;
}

int vkv_submit(vkv_ctx *c)
{
    c->recording = 0;
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    vkv.vkCmdPipelineBarrier(c->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL,
                             0, NULL);
    VkResult r = vkv.vkEndCommandBuffer(c->cmd);
    if (r != VK_SUCCESS)
        return vkv_fail(c, "vkEndCommandBuffer: %s", vkv_result_name(r));
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &c->cmd};
    vkv.vkResetFences(c->dev, 1, &c->fence);
    r = vkv.vkQueueSubmit(c->queue, 1, &si, c->fence);
    if (r != VK_SUCCESS)
        return vkv_fail(c, "vkQueueSubmit: %s", vkv_result_name(r));
    /* a generous limit: the runner's own timeout is the real watchdog */
    r = vkv.vkWaitForFences(c->dev, 1, &c->fence, VK_TRUE, 600ull * 1000000000ull);
    if (r != VK_SUCCESS)
        return vkv_fail(c, "waiting for the device: %s", vkv_result_name(r));
    for (int i = 0; i < nreads; i++)
        memcpy(reads[i].dst, (const char *)c->staging.map + reads[i].off, reads[i].n);
    nreads = 0;
    return 0;
}
