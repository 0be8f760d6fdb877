/* Finding a backend by name: the built-in ones (kernels/, each listed by
 * the build in the registry of include/kvv/builtin.h), the ggml aliases,
 * or a plugin library that exports kvv_backend_get (include/kvv/backend.h).
 * Nothing here runs a backend's arithmetic. */
#ifndef KVV_BACKENDS_REGISTRY_H
#define KVV_BACKENDS_REGISTRY_H

#include <stddef.h>

#include "kvv/backend.h"
#include "kvv/builtin.h"

/* Look up a backend by name ("cpu", "vulkan", a ggml alias, or a path to a
 * plugin .so).  Returns NULL with a reason in why. */
const kvv_backend *kvv_backend_open(const char *name, char *why, size_t why_len);
/* Whether kvv_backend_open could find the backend, without loading or
 * starting anything (a library's code and a device's threads belong in the
 * worker processes, after the fork): a built-in name, or a library (path or
 * ggml alias) that exists.  0, or -1 with why. */
int kvv_backend_check_name(const char *name, char *why, size_t why_len);
/* Check a table's ABI fields and required functions; 0 or -1 with why. */
int kvv_backend_check_abi(const kvv_backend *b, char *why, size_t why_len);
/* Names of the built-in backends this build has, comma separated. */
const char *kvv_backend_builtin_names(void);
/* Whether name is one of them (not a library). */
int kvv_backend_is_builtin(const char *name);

/* The built-in backends of this build, in the build's order (the CPU
 * first); NULL past the end. */
const kvv_builtin *kvv_builtin_at(int i);
/* The one called name, or NULL when this build lacks it. */
const kvv_builtin *kvv_builtin_find(const char *name);
/* Why a built-in backend that kvverify has is missing from this build
 * (configured off, headers or compiler not found), with its label; NULL
 * when name is built or is no built-in backend at all. */
const char *kvv_builtin_unbuilt(const char *name, const char **label);
/* The unbuilt ones in order (name, label, reason); 0 past the end. */
int kvv_builtin_unbuilt_at(int i, const char **name, const char **label, const char **why);

#endif
