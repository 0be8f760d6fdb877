/* A hostile test backend, built four times as a plugin library:
 * libhostile_segv.so, libhostile_abort.so, libhostile_hang.so and
 * libhostile_sizes.so.
 *
 * It serves f32 rows correctly (quantizing and dequantizing f32 is a copy,
 * bit-identical to the reference) and declines everything else, except that
 * any call on rows of HOSTILE_TRIGGER_WIDTH values misbehaves:
 *   HOSTILE_SEGV   a store through a NULL pointer (a real invalid access)
 *   HOSTILE_ABORT  abort()
 *   HOSTILE_HANG   never returns
 *   HOSTILE_SIZES  (on any row of 16 values or more, not only 96) a different
 *                  crash by width: the process exits with status 3 from 256
 *                  values, aborts from 96, segfaults below: three failures
 *                  the shrinker must keep apart (tests/test_trust.c)
 * The harness must turn that call into a failing verdict naming the case and
 * go on with the next cases (tests/test_hostile_backends.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvv/backend.h"

#define HOSTILE_TRIGGER_WIDTH 96

#if defined(HOSTILE_SEGV)
#define HOSTILE_NAME "hostile_segv"
#elif defined(HOSTILE_ABORT)
#define HOSTILE_NAME "hostile_abort"
#elif defined(HOSTILE_HANG)
#define HOSTILE_NAME "hostile_hang"
#elif defined(HOSTILE_SIZES)
#define HOSTILE_NAME "hostile_sizes"
#else
#error "build with one of -DHOSTILE_SEGV, -DHOSTILE_ABORT, -DHOSTILE_HANG, -DHOSTILE_SIZES"
#endif

static char last_err[200];

#if defined(HOSTILE_SEGV) || defined(HOSTILE_SIZES)
/* volatile: the compiler may not prove the pointer NULL and drop the store */
static int *volatile nowhere;
#endif

static void misbehave_at(int64_t width)
{
#if defined(HOSTILE_SEGV)
    (void)width;
    *nowhere = 42;
#elif defined(HOSTILE_ABORT)
    (void)width;
    abort();
#elif defined(HOSTILE_SIZES)
    if (width >= 256)
        _exit(3);
    if (width >= 96)
        abort();
    *nowhere = 42;
#else
    (void)width;
    for (;;)
        pause();
#endif
}

#if defined(HOSTILE_SIZES)
#define TRIGGERS(w) ((w) >= 16)
#else
#define TRIGGERS(w) ((w) == HOSTILE_TRIGGER_WIDTH)
#endif
#define misbehave() misbehave_at(HOSTILE_TRIGGER_WIDTH)

static int decline(const char *what)
{
    snprintf(last_err, sizeof last_err, "%s serves f32 rows only (%s)", HOSTILE_NAME, what);
    return KVV_UNSUPPORTED;
}

static int h_quantize(void *ctx, kvv_type t, const float *src, void *dst, int64_t nrows, int64_t ncols,
                      const kvv_toggles *tg)
{
    (void)ctx;
    (void)tg;
    if (ncols == HOSTILE_TRIGGER_WIDTH)
        misbehave();
    if (t != KVV_F32)
        return decline("quantize");
    memcpy(dst, src, sizeof(float) * (size_t)(nrows * ncols));
    return KVV_OK;
}

static int h_dequantize(void *ctx, kvv_type t, const void *src, float *dst, int64_t nrows, int64_t ncols,
                        const kvv_toggles *tg)
{
    (void)ctx;
    (void)tg;
    if (TRIGGERS(ncols))
        misbehave_at(ncols);
    if (t != KVV_F32)
        return decline("dequantize");
    memcpy(dst, src, sizeof(float) * (size_t)(nrows * ncols));
    return KVV_OK;
}

static int h_wht(void *ctx, float *x, int64_t nrows, int64_t ncols, int group, int inverse, const kvv_toggles *tg)
{
    (void)ctx;
    (void)x;
    (void)nrows;
    (void)group;
    (void)inverse;
    (void)tg;
    if (ncols == HOSTILE_TRIGGER_WIDTH)
        misbehave();
    return decline("wht");
}

static int h_attention(void *ctx, const kvv_attn_args *a, float *out, kvv_attn_info *info)
{
    (void)ctx;
    (void)out;
    (void)info;
    if (a->dk == HOSTILE_TRIGGER_WIDTH)
        misbehave();
    return decline("attention");
}

static const char *h_last_error(void *ctx)
{
    (void)ctx;
    return last_err;
}

static const kvv_backend hostile = {
    .abi_version = KVV_ABI_VERSION,
    .struct_size = sizeof(kvv_backend),
    .name = HOSTILE_NAME,
    .description = "test backend: f32 copies, misbehaves on rows of 96 values",
    .quantize_rows = h_quantize,
    .dequantize_rows = h_dequantize,
    .wht = h_wht,
    .attention = h_attention,
    .last_error = h_last_error,
};

const kvv_backend *kvv_backend_get(uint32_t abi_version)
{
    return abi_version == KVV_ABI_VERSION ? &hostile : NULL;
}
