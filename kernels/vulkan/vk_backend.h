/* The Vulkan backend: the whole interface of kernels/vulkan.
 *
 * Host code in C on the Vulkan API, loaded at run time (libvulkan.so.1 via
 * dlopen), shaders in GLSL compiled to SPIR-V by glslc at build time.
 * Nothing is created at load time: the instance and device are made on the
 * first call in the process that uses them (the runner forks its workers
 * first).  Every entry point is synchronous.
 *
 * Environment: KVV_VK_DEVICE (device index, as --vk-device), KVV_VULKAN_LOADER
 * (the loader library to open instead of libvulkan.so.1), KVV_VK_NO_SUBGROUP=1
 * (use the shared-memory reductions even where subgroup shuffles exist),
 * KVV_VK_KV_F16=1 (attention rounds K/V values to f16, the dequant cache
 * holding f16 as in ggml's Vulkan flash attention, and reports kv_round
 * 2^-11; by default they stay f32 and the cache is f32). */
#ifndef KVV_VK_BACKEND_H
#define KVV_VK_BACKEND_H

#include <stddef.h>
#include <stdio.h>

#include "kvv/backend.h"

/* The backend on the selected device, created on first call; NULL with the
 * reason in why (no loader, no driver/ICD, no device, the selected index
 * does not exist, the device lacks what kvverify needs). */
const kvv_backend *kvv_vulkan_backend(char *why, size_t why_len);

/* Choose the device by its index in `kvverify list devices` (-1 = the
 * default: the first discrete GPU, else integrated, else any usable one).
 * Without a call, the environment variable KVV_VK_DEVICE is used.  Returns
 * 0, or -1 with why when a different device is already open in this
 * process.  The index itself is checked when the device is opened. */
int kvv_vulkan_select_device(int index, char *why, size_t why_len);

/* Print one line per Vulkan device (index, name, type, API version,
 * driver, subgroup size, features and limits kvverify looks at, and which
 * one the current selection opens).  Returns the number of devices, or -1
 * with why when there is no loader or no driver. */
int kvv_vulkan_list_devices(FILE *out, char *why, size_t why_len);

/* Whether the selected device can be opened, found out in a child process
 * so that the caller holds no Vulkan state when it forks workers later.
 * Returns 1 with a description of the device in desc, or 0 with the reason
 * there is none. */
int kvv_vulkan_probe(char *desc, size_t desc_len);

#endif
