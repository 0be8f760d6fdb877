/* The optimized CPU backend: the whole interface of kernels/cpu.
 * AVX2/F16C/FMA kernels with runtime dispatch and a scalar fallback, a
 * thread pool, and the toggles of kvv_toggles (threads, split-K, dequant
 * cache, turbo3 LUT variant, rotation site, vec/tiled variant, isa). */
#ifndef KVV_CPU_BACKEND_H
#define KVV_CPU_BACKEND_H

#include "kvv/backend.h"

/* The process-wide CPU backend (never NULL). */
const kvv_backend *kvv_cpu_backend(void);
/* Whether this processor runs the AVX2/FMA/F16C kernels. */
int kvv_cpu_has_avx2(void);

#endif
