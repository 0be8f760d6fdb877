/* The Vulkan backend's entry in the registry of built-in backends. */
#include "kernels/vulkan/vk_backend.h"
#include "kvv/builtin.h"

const kvv_builtin kvv_builtin_vulkan = {"vulkan",
                                        "Vulkan",
                                        kvv_vulkan_probe,
                                        kvv_vulkan_backend,
                                        kvv_vulkan_select_device,
                                        kvv_vulkan_list_devices,
                                        NULL};
