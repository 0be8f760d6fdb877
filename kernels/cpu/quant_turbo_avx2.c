/* AVX2 TurboQuant kernels. */
#include <immintrin.h>

#include "kernels/cpu/turbo_formats.h"

const cpu_type_fns cpu_turbo_avx2[KVV_TYPE_COUNT] = {
    [KVV_TURBO2] = {0},
};
