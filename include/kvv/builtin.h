/* A backend built into kvverify (as opposed to a plugin library): what the
 * registry (backends/) needs from it.  Each built-in backend defines one
 * `const kvv_builtin kvv_builtin_<name>`; the build lists the ones it
 * compiled, so nothing above the kernels names a concrete backend. */
#ifndef KVV_BUILTIN_H
#define KVV_BUILTIN_H

#include <stddef.h>
#include <stdio.h>

#include "kvv/backend.h"
#include "kvv/types.h"

typedef struct kvv_builtin {
    const char *name;  /* as given to -b: "cpu", "vulkan" */
    const char *label; /* as printed: "CPU", "Vulkan" */
    /* Whether it can run on this machine, found out without leaving state
     * in the caller (a device backend asks in a child process): 1 with a
     * description in desc, or 0 with the reason in desc. */
    int (*probe)(char *desc, size_t desc_len);
    /* The backend table, created on first call; NULL with why. */
    const kvv_backend *(*open)(char *why, size_t why_len);
    /* Device backends only (NULL otherwise): choose the device by its index
     * in the listing (0, or -1 with why), and print one line per device
     * (the number of devices, or -1 with why when there is no driver). */
    int (*select_device)(int index, char *why, size_t why_len);
    int (*list_devices)(FILE *out, char *why, size_t why_len);
    /* Which kernels it has for a cache type, for `kvverify list types`
     * ("scalar,avx2", "-"); NULL when it does not say. */
    const char *(*type_kernels)(kvv_type t, char *buf, size_t len);
} kvv_builtin;

#endif
