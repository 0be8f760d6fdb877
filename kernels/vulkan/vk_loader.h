/* The Vulkan loader, opened at run time.
 *
 * kvverify never links libvulkan: the backend dlopen()s libvulkan.so.1 on
 * first use and takes every entry point through vkGetInstanceProcAddr /
 * vkGetDeviceProcAddr, so one binary runs (and says clearly why the Vulkan
 * backend is absent) on machines without a loader or a driver. */
#ifndef KVV_VK_LOADER_H
#define KVV_VK_LOADER_H

#include <stddef.h>

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

/* Entry points, by the level they are looked up at. */
#define VKV_GLOBAL_FNS(X)                                                                                            \
    X(vkCreateInstance)                                                                                            \
    X(vkEnumerateInstanceVersion)
#define VKV_INSTANCE_FNS(X)                                                                                          \
    X(vkDestroyInstance)                                                                                           \
    X(vkEnumeratePhysicalDevices)                                                                                  \
    X(vkGetPhysicalDeviceProperties)                                                                               \
    X(vkGetPhysicalDeviceProperties2)                                                                              \
    X(vkGetPhysicalDeviceFeatures2)                                                                                \
    X(vkGetPhysicalDeviceQueueFamilyProperties)                                                                    \
    X(vkGetPhysicalDeviceMemoryProperties)                                                                         \
    X(vkEnumerateDeviceExtensionProperties)                                                                        \
    X(vkCreateDevice)                                                                                              \
    X(vkGetDeviceProcAddr)
#define VKV_DEVICE_FNS(X)                                                                                            \
    X(vkDestroyDevice)                                                                                             \
    X(vkGetDeviceQueue)                                                                                            \
    X(vkDeviceWaitIdle)                                                                                            \
    X(vkCreateBuffer)                                                                                              \
    X(vkDestroyBuffer)                                                                                             \
    X(vkGetBufferMemoryRequirements)                                                                               \
    X(vkAllocateMemory)                                                                                            \
    X(vkFreeMemory)                                                                                                \
    X(vkBindBufferMemory)                                                                                          \
    X(vkMapMemory)                                                                                                 \
    X(vkUnmapMemory)                                                                                               \
    X(vkCreateShaderModule)                                                                                        \
    X(vkDestroyShaderModule)                                                                                       \
    X(vkCreateDescriptorSetLayout)                                                                                 \
    X(vkDestroyDescriptorSetLayout)                                                                                \
    X(vkCreatePipelineLayout)                                                                                      \
    X(vkDestroyPipelineLayout)                                                                                     \
    X(vkCreateComputePipelines)                                                                                    \
    X(vkDestroyPipeline)                                                                                           \
    X(vkCreateDescriptorPool)                                                                                      \
    X(vkDestroyDescriptorPool)                                                                                     \
    X(vkResetDescriptorPool)                                                                                       \
    X(vkAllocateDescriptorSets)                                                                                    \
    X(vkUpdateDescriptorSets)                                                                                      \
    X(vkCreateCommandPool)                                                                                         \
    X(vkDestroyCommandPool)                                                                                        \
    X(vkAllocateCommandBuffers)                                                                                    \
    X(vkResetCommandBuffer)                                                                                        \
    X(vkBeginCommandBuffer)                                                                                        \
    X(vkEndCommandBuffer)                                                                                          \
    X(vkCmdBindPipeline)                                                                                           \
    X(vkCmdBindDescriptorSets)                                                                                     \
    X(vkCmdPushConstants)                                                                                          \
    X(vkCmdDispatch)                                                                                               \
    X(vkCmdPipelineBarrier)                                                                                        \
    X(vkCmdCopyBuffer)                                                                                             \
    X(vkCmdFillBuffer)                                                                                             \
    X(vkCreateFence)                                                                                               \
    X(vkDestroyFence)                                                                                              \
    X(vkResetFences)                                                                                               \
    X(vkWaitForFences)                                                                                             \
    X(vkQueueSubmit)

typedef struct vkv_fns {
#define X(name) PFN_##name name;
    VKV_GLOBAL_FNS(X) VKV_INSTANCE_FNS(X) VKV_DEVICE_FNS(X)
#undef X
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
} vkv_fns;

/* The process-wide table (filled in stages by the functions below). */
extern vkv_fns vkv;

/* dlopen the loader (KVV_VULKAN_LOADER overrides the library name, e.g. to
 * test the error path) and look up the global entry points.  0, or -1 with
 * a reason in why. */
int vkv_load(char *why, size_t why_len);
int vkv_load_instance(VkInstance inst, char *why, size_t why_len);
int vkv_load_device(VkDevice dev, char *why, size_t why_len);

/* Text of a VkResult ("VK_ERROR_OUT_OF_DEVICE_MEMORY"). */
const char *vkv_result_name(VkResult r);

#endif
