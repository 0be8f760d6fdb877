/* The built-in backends of this build and the ones it was configured
 * without, defined by kvv_builtins_list.c, which CMake writes from the
 * backends the kernels/ folders added (see CMakeLists.txt). */
#ifndef KVV_BACKENDS_BUILTINS_LIST_H
#define KVV_BACKENDS_BUILTINS_LIST_H

#include "kvv/builtin.h"

typedef struct {
    const char *name, *label, *why;
} kvv_unbuilt_backend;

extern const kvv_builtin *const kvv_builtins[];
extern const int kvv_builtins_n;
extern const kvv_unbuilt_backend kvv_unbuilt[];
extern const int kvv_unbuilt_n;

#endif
