/* Compute pipelines from the embedded SPIR-V, made on first use and kept
 * for the life of the context, and the dispatch of one of them. */
#include <stdlib.h>
#include <string.h>

#include "kernels/vulkan/vk_internal.h"

static const vkv_spirv *find_spirv(const char *name)
{
    for (int i = 0; i < vkv_spirv_count; i++)
        if (!strcmp(vkv_spirv_table[i].name, name))
            return &vkv_spirv_table[i];
    return NULL;
}

static int get_pipeline(vkv_ctx *c, const char *name, const uint32_t *spec, int nspec, VkPipeline *out)
{
    for (int i = 0; i < c->npipes; i++) {
        vkv_pipeline *p = &c->pipes[i];
        if (p->nspec == nspec && !strcmp(p->shader, name) &&
            (nspec == 0 || !memcmp(p->spec, spec, sizeof *spec * (size_t)nspec))) {
            *out = p->pipe;
            return 0;
        }
    }
    const vkv_spirv *sp = find_spirv(name);
    if (!sp)
        return vkv_fail(c, "internal: no shader named %s in this build", name);
    if (nspec > VKV_MAX_SPEC)
        return vkv_fail(c, "internal: %d specialization constants for %s", nspec, name);
    if (c->npipes == c->cap_pipes) {
        int cap = c->cap_pipes ? 2 * c->cap_pipes : 32;
        vkv_pipeline *np = realloc(c->pipes, sizeof *np * (size_t)cap);
        if (!np)
            return vkv_fail(c, "out of memory");
        c->pipes = np;
        c->cap_pipes = cap;
    }
    VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                   .codeSize = sp->size,
                                   .pCode = sp->code};
    VkShaderModule mod;
    VkResult r = vkv.vkCreateShaderModule(c->dev, &mi, NULL, &mod);
    if (r != VK_SUCCESS)
        return vkv_fail(c, "vkCreateShaderModule(%s): %s", name, vkv_result_name(r));
    VkSpecializationMapEntry me[VKV_MAX_SPEC];
    for (int i = 0; i < nspec; i++)
        me[i] = (VkSpecializationMapEntry){.constantID = (uint32_t)i, .offset = (uint32_t)(4 * i), .size = 4};
    VkSpecializationInfo si = {.mapEntryCount = (uint32_t)nspec,
                               .pMapEntries = me,
                               .dataSize = 4 * (size_t)nspec,
                               .pData = spec};
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = mod,
                  .pName = "main",
                  .pSpecializationInfo = nspec ? &si : NULL},
        .layout = c->layout};
    VkPipeline pipe = VK_NULL_HANDLE;
    r = vkv.vkCreateComputePipelines(c->dev, VK_NULL_HANDLE, 1, &ci, NULL, &pipe);
    vkv.vkDestroyShaderModule(c->dev, mod, NULL);
    if (r != VK_SUCCESS)
        return vkv_fail(c, "vkCreateComputePipelines(%s): %s", name, vkv_result_name(r));
    vkv_pipeline *p = &c->pipes[c->npipes++];
    p->shader = sp->name;
    memset(p->spec, 0, sizeof p->spec);
    if (nspec)
        memcpy(p->spec, spec, sizeof *spec * (size_t)nspec);
    p->nspec = nspec;
    p->pipe = pipe;
    *out = pipe;
    return 0;
}

int vkv_dispatch(vkv_ctx *c, const char *name, const uint32_t *spec, int nspec, vkv_buf *const *bufs, int nbufs,
                 const void *push, size_t push_size, uint32_t gx, uint32_t gy, uint32_t gz)
{
    VkPipeline pipe = VK_NULL_HANDLE;
    int rc = get_pipeline(c, name, spec, nspec, &pipe);
    if (rc)
        return rc;
    if (c->nsets == 64)
        return vkv_fail(c, "internal: more than 64 dispatches in one batch");
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = c->dpool,
                                      .descriptorSetCount = 1,
                                      .pSetLayouts = &c->dsl};
    VkDescriptorSet set;
    VkResult r = vkv.vkAllocateDescriptorSets(c->dev, &ai, &set);
    if (r != VK_SUCCESS)
        return vkv_fail(c, "vkAllocateDescriptorSets: %s", vkv_result_name(r));
    c->nsets++;
    VkDescriptorBufferInfo bi[VKV_MAX_BINDINGS];
    VkWriteDescriptorSet w[VKV_MAX_BINDINGS];
    for (int i = 0; i < VKV_MAX_BINDINGS; i++) {
        const vkv_buf *b = i < nbufs && bufs[i] ? bufs[i] : &c->dummy;
        bi[i] = (VkDescriptorBufferInfo){.buffer = b->buf, .offset = 0, .range = VK_WHOLE_SIZE};
        w[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                      .dstSet = set,
                                      .dstBinding = (uint32_t)i,
                                      .descriptorCount = 1,
                                      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                      .pBufferInfo = &bi[i]};
    }
    vkv.vkUpdateDescriptorSets(c->dev, VKV_MAX_BINDINGS, w, 0, NULL);
    vkv.vkCmdBindPipeline(c->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
    vkv.vkCmdBindDescriptorSets(c->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, c->layout, 0, 1, &set, 0, NULL);
    if (push_size) {
        uint8_t pc[VKV_PUSH_BYTES] = {0};
        memcpy(pc, push, push_size < VKV_PUSH_BYTES ? push_size : VKV_PUSH_BYTES);
        vkv.vkCmdPushConstants(c->cmd, c->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, VKV_PUSH_BYTES, pc);
    }
    vkv.vkCmdDispatch(c->cmd, gx, gy, gz);
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                           VK_ACCESS_TRANSFER_READ_BIT};
    vkv.vkCmdPipelineBarrier(c->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                             VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, NULL,
                             0, NULL);
    return 0;
}
