/* Backends that misbehave in ways a crash test does not see: the porting
 * template (kernels/template, a correct f32/f16 backend) with one thing
 * changed, built once per kind (tests/plugins/hostile.cmake):
 *   LIAR_ZEROS    libliar_zeros.so: attention at head dim 192 writes zeros and
 *                 claims kv_round = acc_round = 1e30
 *   LIAR_NO_Q     libliar_no_q.so: attention ignores Q (every visible key gets
 *                 the same weight) and claims f16 accumulation (2^-11)
 *   LIAR_OVERRUN  libliar_overrun.so: writes 2 floats past the end of out
 *   LIAR_CHATTY   libliar_chatty.so: correct, but prints to stdout when it is
 *                 loaded and on every call
 *   LIAR_HANG_GET libliar_hang_get.so: kvv_backend_get never returns
 * Options (`-b libliar_x.so:key=value:...`) change what they do:
 *   kv_round=X, acc_round=Y   the claim
 *   past=N                    floats written past the end (LIAR_OVERRUN)
 *   where=out|quant|deq       the buffer written past (LIAR_OVERRUN)
 *   crash=1                   attention segfaults (any kind)
 * kvverify must fail, refuse or isolate each (tests/test_trust.c). */
#include <stdlib.h>
#include <unistd.h>

#define kvv_backend_get template_backend_get
#include "kernels/template/template_backend.c"
#undef kvv_backend_get

#if defined(LIAR_ZEROS)
#define LIAR_NAME "liar_zeros"
#elif defined(LIAR_NO_Q)
#define LIAR_NAME "liar_no_q"
#elif defined(LIAR_OVERRUN)
#define LIAR_NAME "liar_overrun"
#elif defined(LIAR_CHATTY)
#define LIAR_NAME "liar_chatty"
#elif defined(LIAR_HANG_GET)
#define LIAR_NAME "liar_hang_get"
#else
#error "build with one of -DLIAR_ZEROS, -DLIAR_NO_Q, -DLIAR_OVERRUN, -DLIAR_CHATTY, -DLIAR_HANG_GET"
#endif

static struct {
    double kv_round, acc_round;
    int past;      /* floats */
    char where[8]; /* out, quant, deq */
    int crash;
} opt = {
#if defined(LIAR_ZEROS)
    1e30, 1e30,
#elif defined(LIAR_NO_Q)
    0, 0x1p-11,
#else
    0, 0x1p-24,
#endif
#if defined(LIAR_OVERRUN)
    2,
#else
    0,
#endif
    "out", 0};

static int chatty(void)
{
#ifdef LIAR_CHATTY
    return 1;
#else
    return 0;
#endif
}

static void say(const char *what)
{
    if (chatty()) {
        printf("liar_chatty: %s\n", what);
        fflush(stdout);
    }
}

static int *volatile nowhere; /* a store through it is a real invalid access */

/* Attention with every visible key weighted the same: the mean of V over
 * the keys the mask leaves. */
static void mean_of_v(const kvv_attn_args *a, float *out)
{
    const tpl_type *tv = type_row(a->type_v);
    const int64_t nk = (int64_t)a->n_head_kv * a->n_kv;
    float *v = malloc(sizeof(float) * (size_t)(nk * a->dv + 1));
    if (!v)
        return;
    tv->load(a->v, v, nk * a->dv);
    for (int h = 0; h < a->n_head; h++)
        for (int i = 0; i < a->n_q; i++) {
            float *o = out + ((size_t)h * a->n_q + i) * a->dv;
            int n = 0;
            for (int d = 0; d < a->dv; d++)
                o[d] = 0;
            for (int j = 0; j < a->n_kv; j++) {
                if (a->mask && a->mask[(size_t)i * a->n_kv + j] == -INFINITY)
                    continue;
                const float *vj = v + ((size_t)(h / (a->n_head / a->n_head_kv)) * a->n_kv + j) * a->dv;
                for (int d = 0; d < a->dv; d++)
                    o[d] += vj[d];
                n++;
            }
            for (int d = 0; d < a->dv && n; d++)
                o[d] /= (float)n;
        }
    free(v);
}

static void overrun(const char *where, void *buf, size_t bytes)
{
    if (strcmp(opt.where, where))
        return;
    float *end = (float *)((char *)buf + bytes);
    for (int i = 0; i < opt.past; i++)
        end[i] = 1.5f;
}

static int l_attention(void *ctx, const kvv_attn_args *a, float *out, kvv_attn_info *info)
{
    say("attention");
    if (opt.crash)
        *nowhere = 1;
    int rc = tpl_attention(ctx, a, out, info);
    if (rc != KVV_OK)
        return rc;
#if defined(LIAR_ZEROS)
    if (a->dk == 192)
        memset(out, 0, sizeof(float) * (size_t)a->n_head * a->n_q * a->dv);
#elif defined(LIAR_NO_Q)
    mean_of_v(a, out);
#endif
    (void)mean_of_v;
    overrun("out", out, sizeof(float) * (size_t)a->n_head * a->n_q * a->dv);
    info->kv_round = opt.kv_round;
    info->acc_round = opt.acc_round;
    return KVV_OK;
}

static int l_quantize(void *ctx, kvv_type t, const float *src, void *dst, int64_t nrows, int64_t ncols,
                      const kvv_toggles *tg)
{
    say("quantize");
    int rc = tpl_quantize_rows(ctx, t, src, dst, nrows, ncols, tg);
    if (rc == KVV_OK)
        overrun("quant", dst, (size_t)type_row(t)->bytes * (size_t)(nrows * ncols));
    return rc;
}

static int l_dequantize(void *ctx, kvv_type t, const void *src, float *dst, int64_t nrows, int64_t ncols,
                        const kvv_toggles *tg)
{
    say("dequantize");
    int rc = tpl_dequantize_rows(ctx, t, src, dst, nrows, ncols, tg);
    if (rc == KVV_OK)
        overrun("deq", dst, sizeof(float) * (size_t)(nrows * ncols));
    return rc;
}

static kvv_backend liar;

static int parse(const char *config, char *why, size_t n)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", config);
    char *save = NULL;
    for (char *t = strtok_r(buf, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
        char *eq = strchr(t, '=');
        if (!eq) {
            snprintf(why, n, "option '%s' is not key=value", t);
            return -1;
        }
        *eq++ = 0;
        if (!strcmp(t, "kv_round"))
            opt.kv_round = strtod(eq, NULL);
        else if (!strcmp(t, "acc_round"))
            opt.acc_round = strtod(eq, NULL);
        else if (!strcmp(t, "past"))
            opt.past = atoi(eq);
        else if (!strcmp(t, "where"))
            snprintf(opt.where, sizeof opt.where, "%s", eq);
        else if (!strcmp(t, "crash"))
            opt.crash = atoi(eq);
        else {
            snprintf(why, n, "unknown option '%s'", t);
            return -1;
        }
    }
    return 0;
}

__attribute__((visibility("default"))) const kvv_backend *kvv_backend_get_config(uint32_t abi_version,
                                                                                const char *config, char *why,
                                                                                size_t why_len)
{
    say("loaded");
#ifdef LIAR_HANG_GET
    for (;;)
        pause();
#endif
    if (abi_version != KVV_ABI_VERSION || parse(config, why, why_len))
        return NULL;
    liar = template_backend;
    liar.name = LIAR_NAME;
    liar.description = "test backend: the porting template with one thing changed (tests/plugins/liar_backend.c)";
    liar.attention = l_attention;
    liar.quantize_rows = l_quantize;
    liar.dequantize_rows = l_dequantize;
    return &liar;
}

__attribute__((visibility("default"))) const kvv_backend *kvv_backend_get(uint32_t abi_version)
{
    char why[8];
    return kvv_backend_get_config(abi_version, "", why, sizeof why);
}
