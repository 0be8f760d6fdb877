/* The CPU backend's entry in the registry of built-in backends. */
#include <stdio.h>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_internal.h"
#include "kvv/builtin.h"

static int cpu_probe(char *desc, size_t n)
{
    snprintf(desc, n, "%s kernels", kvv_cpu_has_avx2() ? "AVX2" : "scalar");
    return 1;
}

static const kvv_backend *cpu_open(char *why, size_t n)
{
    (void)why;
    (void)n;
    return kvv_cpu_backend();
}

static const char *cpu_type_kernels(kvv_type t, char *buf, size_t n)
{
    int scalar = cpu_type_fns_get(t, KVV_ISA_SCALAR) != NULL, avx2 = cpu_type_fns_get(t, KVV_ISA_AVX2) != NULL;
    snprintf(buf, n, "%s%s", scalar ? "scalar" : "-", avx2 ? ",avx2" : "");
    return buf;
}

const kvv_builtin kvv_builtin_cpu = {"cpu", "CPU", cpu_probe, cpu_open, NULL, NULL, cpu_type_kernels};
