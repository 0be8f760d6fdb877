/* Placeholder for the CPU attention kernel until kernels/cpu/attn*.c provides
 * cpu_attention(): the backend declines attention cases cleanly instead of
 * failing to link.  Delete this file when the real kernel lands. */
#include <stdio.h>

#include "kernels/cpu/cpu_internal.h"

int cpu_attention(const kvv_attn_args *a, float *out, kvv_attn_info *info, char *err, size_t err_len)
{
    (void)a;
    (void)out;
    (void)info;
    snprintf(err, err_len, "attention kernel not built yet");
    return KVV_UNSUPPORTED;
}
