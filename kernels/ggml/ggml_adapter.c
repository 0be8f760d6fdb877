/* The ggml adapter: a kvverify backend library around an existing ggml
 * build (a real llama.cpp), loaded at run time.  Options follow the
 * library's path, separated by ':':
 *
 *     -b build/libkvv_ggml.so:device=vulkan:vkdev=0:quant=chunk
 *     -b ggml-cpu:cpu=haswell          (kvverify's alias for this library)
 *
 *   device=cpu|vulkan   which ggml device runs the ops (default cpu)
 *   dir=PATH            folder with libggml-base.so and the device library
 *                       (default $KVV_GGML_LIB_DIR, else the folder
 *                       ci/install-ggml.sh fills: .deps/ggml/<device>)
 *   cpu=VARIANT         a libggml-cpu-VARIANT.so instead of the best scoring
 *   vkdev=N             sets GGML_VK_VISIBLE_DEVICES=N before ggml starts
 *                       Vulkan (ggml skips CPU implementations like lavapipe
 *                       unless told)
 *   quant=set_rows|chunk  how cache bytes are made (default set_rows, the
 *                       K/V cache write; chunk = ggml_quantize_chunk)
 *   types=FILE          a type map for a fork (default $KVV_GGML_TYPES)
 *   rot=host|none       rotated types of a fork, in cases with rot=kernel:
 *                       rotate Q and the output on the host around ggml's
 *                       attention (default), or decline them.  Cases with
 *                       rot=graph always run the fork's own graph:
 *                       ggml_turbo_wht on Q, the attention, the inverse
 *                       ggml_turbo_wht on the output (ggml_ops.c)
 *   stack=KIB           the library's work (the probe, every op) runs on
 *                       threads of KIB KiB of stack, its own thread pool's
 *                       too: a library that needs more stack than the
 *                       threads of a program or platform have crashes, as
 *                       there (ggml_stack.c; default: the caller's stack)
 *
 * Every entry point takes a lock: ggml's backend objects are not for
 * concurrent use. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ggml/ggml_adapter.h"
#include "kernels/ggml/ggml_stack.h"

#ifndef KVV_GGML_DEFAULT_DIR
#define KVV_GGML_DEFAULT_DIR ".deps/ggml"
#endif

static _Thread_local char last_err[512];

static const char *gg_last_error(void *ctx)
{
    (void)ctx;
    return last_err;
}

/* ---- options ---- */

typedef struct {
    char device[16], dir[1024], cpu[64], vkdev[16], quant[16], types[1024], rot[16], stack[16];
} gg_options;

static const struct {
    const char *key;
    size_t off, len;
} option_fields[] = {
    {"device", offsetof(gg_options, device), sizeof(((gg_options *)0)->device)},
    {"dir", offsetof(gg_options, dir), sizeof(((gg_options *)0)->dir)},
    {"cpu", offsetof(gg_options, cpu), sizeof(((gg_options *)0)->cpu)},
    {"vkdev", offsetof(gg_options, vkdev), sizeof(((gg_options *)0)->vkdev)},
    {"quant", offsetof(gg_options, quant), sizeof(((gg_options *)0)->quant)},
    {"types", offsetof(gg_options, types), sizeof(((gg_options *)0)->types)},
    {"rot", offsetof(gg_options, rot), sizeof(((gg_options *)0)->rot)},
    {"stack", offsetof(gg_options, stack), sizeof(((gg_options *)0)->stack)},
};

static int parse_options(const char *config, gg_options *o, char *why, size_t n)
{
    memset(o, 0, sizeof *o);
    snprintf(o->device, sizeof o->device, "cpu");
    snprintf(o->quant, sizeof o->quant, "set_rows");
    snprintf(o->rot, sizeof o->rot, "host");
    const char *env = getenv("KVV_GGML_TYPES");
    if (env)
        snprintf(o->types, sizeof o->types, "%s", env);
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", config ? config : "");
    char *save = NULL;
    for (char *kv = strtok_r(buf, ":", &save); kv; kv = strtok_r(NULL, ":", &save)) {
        char *eq = strchr(kv, '=');
        size_t i = 0, nf = sizeof option_fields / sizeof *option_fields;
        if (eq) {
            *eq = 0;
            while (i < nf && strcmp(option_fields[i].key, kv))
                i++;
        }
        if (!eq || i == nf) {
            snprintf(why, n, "ggml adapter: unknown option '%s' (options: device, dir, cpu, vkdev, quant, types, rot, "
                                "stack)",
                     kv);
            return -1;
        }
        snprintf((char *)o + option_fields[i].off, option_fields[i].len, "%s", eq + 1);
    }
    if (strcmp(o->device, "cpu") && strcmp(o->device, "vulkan")) {
        snprintf(why, n, "ggml adapter: device=%s (cpu or vulkan)", o->device);
        return -1;
    }
    if (strcmp(o->quant, "set_rows") && strcmp(o->quant, "chunk")) {
        snprintf(why, n, "ggml adapter: quant=%s (set_rows or chunk)", o->quant);
        return -1;
    }
    if (strcmp(o->rot, "host") && strcmp(o->rot, "none")) {
        snprintf(why, n, "ggml adapter: rot=%s (host or none)", o->rot);
        return -1;
    }
    if (*o->stack) {
        char *end;
        long kib = strtol(o->stack, &end, 10);
        if (end == o->stack || *end || kib <= 0 || kib > 1L << 20) {
            snprintf(why, n, "ggml adapter: stack=%s (a size in KiB, 1 to 1048576)", o->stack);
            return -1;
        }
        if (gg_stack_check((size_t)kib * 1024, why, n))
            return -1;
    }
    return 0;
}

/* ---- entry points ---- */

static int gg_supports(void *ctx, const kvv_case *c, char *why, size_t n)
{
    gg_adapter *A = ctx;
    const kvv_type need[2] = {c->type_k, c->type_v};
    for (int i = 0; c->op != KVV_OP_WHT && i < (c->op == KVV_OP_ATTN || c->op == KVV_OP_PPL ? 2 : 1); i++)
        if ((unsigned)need[i] >= KVV_TYPE_COUNT ||
            (A->map.e[need[i]].ggml < 0 && !gg_typemap_broken(&A->map, need[i], NULL))) {
            gg_decline_type(A, need[i], why, n); /* a broken type goes on, to fail in the entry point */
            return 0;
        }
    /* ggml chooses its own code paths: only the thread count is a knob */
    const kvv_toggles *t = &c->tg;
    const char *no = t->split > 1                    ? "split-K (ggml splits the KV range by thread count itself)"
                     : t->cache                      ? "a dequant cache"
                     : t->lut != 8                   ? "a LUT variant"
                     : t->variant != KVV_VAR_AUTO    ? "a choice of attention variant"
                     : t->isa != KVV_ISA_AUTO        ? "a choice of ISA (the cpu=VARIANT option picks the library)"
                                                     : NULL;
    if (no) {
        snprintf(why, n, "ggml has no setting for %s", no);
        return 0;
    }
    if (c->op == KVV_OP_WHT)
        return gg_wht_available(A, why, n);
    return 1;
}

/* One entry point's call, to be made on the caller's thread or on one of
 * stack=KIB (why points at the caller's error buffer: last_err is per
 * thread). */
typedef struct {
    enum { CALL_QUANT, CALL_DEQUANT, CALL_WHT, CALL_ATTN } op;
    gg_adapter *A;
    kvv_type t;
    const void *src;
    void *dst;
    int64_t nrows, ncols;
    int group, inverse;
    const kvv_toggles *tg;
    const kvv_attn_args *attn;
    kvv_attn_info *info;
    char *why;
} gg_call;

static int call_body(void *p)
{
    gg_call *c = p;
    switch (c->op) {
    case CALL_QUANT:
        return gg_quantize(c->A, c->t, c->src, c->dst, c->nrows, c->ncols, c->tg, c->why, sizeof last_err);
    case CALL_DEQUANT:
        return gg_dequantize(c->A, c->t, c->src, c->dst, c->nrows, c->ncols, c->tg, c->why, sizeof last_err);
    case CALL_WHT:
        return gg_wht(c->A, c->dst, c->nrows, c->ncols, c->group, c->inverse, c->tg, c->why, sizeof last_err);
    default:
        return gg_attention(c->A, c->attn, c->dst, c->info, c->why, sizeof last_err);
    }
}

static int call(gg_call *c)
{
    c->why = last_err;
    pthread_mutex_lock(&c->A->lock);
    int rc = KVV_FAILED;
    if (gg_stack_run(c->A->stack_bytes, call_body, c, &rc, last_err, sizeof last_err))
        rc = KVV_FAILED;
    pthread_mutex_unlock(&c->A->lock);
    return rc;
}

static int gg_quantize_rows(void *ctx, kvv_type t, const float *src, void *dst, int64_t nrows, int64_t ncols,
                            const kvv_toggles *tg)
{
    gg_call c = {.op = CALL_QUANT, .A = ctx, .t = t, .src = src, .dst = dst, .nrows = nrows, .ncols = ncols, .tg = tg};
    return call(&c);
}

static int gg_dequantize_rows(void *ctx, kvv_type t, const void *src, float *dst, int64_t nrows, int64_t ncols,
                              const kvv_toggles *tg)
{
    gg_call c = {.op = CALL_DEQUANT, .A = ctx, .t = t, .src = src, .dst = dst, .nrows = nrows, .ncols = ncols,
                 .tg = tg};
    return call(&c);
}

static int gg_wht_entry(void *ctx, float *x, int64_t nrows, int64_t ncols, int group, int inverse,
                        const kvv_toggles *tg)
{
    gg_call c = {.op = CALL_WHT, .A = ctx, .dst = x, .nrows = nrows, .ncols = ncols, .group = group,
                 .inverse = inverse, .tg = tg};
    return call(&c);
}

static int gg_attention_entry(void *ctx, const kvv_attn_args *a, float *out, kvv_attn_info *info)
{
    gg_call c = {.op = CALL_ATTN, .A = ctx, .attn = a, .dst = out, .info = info};
    return call(&c);
}

/* The probe of the library's types and its op layout (at load), on the
 * same stack as the ops */
static int probe_body(void *p)
{
    gg_adapter *A = p;
    gg_typemap_discover(&A->map, &A->api, A->quant_chunk);
    gg_layout_check(A, A->layout_why, sizeof A->layout_why); /* only the features that read op_params need it */
    return 0;
}

static kvv_type gg_stored_as(void *ctx, kvv_type cache, char *note, size_t n)
{
    gg_adapter *A = ctx;
    return gg_typemap_stored_as(&A->map, cache, note, n);
}

static void gg_destroy(void *ctx)
{
    gg_adapter *A = ctx;
    if (!A)
        return;
    if (A->be)
        A->api.backend_free(A->be);
    gg_qcache_free(&A->qc);
    pthread_mutex_destroy(&A->lock);
    free(A);
    /* the ggml libraries stay loaded: their worker threads and static
     * state outlive a backend */
}

/* ---- the exported symbols ---- */

__attribute__((visibility("default"))) const kvv_backend *kvv_backend_get_config(uint32_t abi_version,
                                                                                const char *config, char *why,
                                                                                size_t why_len)
{
    if (abi_version != KVV_ABI_VERSION) {
        snprintf(why, why_len, "the ggml adapter speaks ABI version %u, not %u", KVV_ABI_VERSION, abi_version);
        return NULL;
    }
    gg_options o;
    if (parse_options(config, &o, why, why_len))
        return NULL;
    gg_adapter *A = calloc(1, sizeof *A);
    if (!A) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&A->lock, NULL);
    snprintf(A->device, sizeof A->device, "%s", o.device);
    A->is_cpu = !strcmp(o.device, "cpu");
    A->rot_host = !strcmp(o.rot, "host");
    A->quant_chunk = !strcmp(o.quant, "chunk");
    A->stack_bytes = *o.stack ? (size_t)strtol(o.stack, NULL, 10) * 1024 : 0;
    if (A->stack_bytes && gg_stack_default(A->stack_bytes, why, why_len)) {
        gg_destroy(A);
        return NULL;
    }
    const char *env_dir = getenv("KVV_GGML_LIB_DIR");
    if (*o.dir)
        snprintf(A->dir, sizeof A->dir, "%s", o.dir);
    else if (env_dir && *env_dir)
        snprintf(A->dir, sizeof A->dir, "%s", env_dir);
    else
        snprintf(A->dir, sizeof A->dir, "%s/%s", KVV_GGML_DEFAULT_DIR, o.device);
    if (*o.vkdev)
        setenv("GGML_VK_VISIBLE_DEVICES", o.vkdev, 0); /* an explicit environment wins */
    /* a ggml assertion would attach gdb to print a backtrace: in a worker
     * that is seconds per crash for a line of text (KVV_GGML_LOG=1 and
     * GGML_NO_BACKTRACE= bring it back) */
    setenv("GGML_NO_BACKTRACE", "1", 0);
    gg_typemap_default(&A->map, A->quant_chunk);
    if ((*o.types && gg_typemap_load(&A->map, o.types, why, why_len)) || gg_load(A, o.cpu, why, why_len) ||
        gg_typemap_check(&A->map, &A->api, why, why_len)) {
        gg_destroy(A);
        return NULL;
    }
    int probed;
    if (gg_stack_run(A->stack_bytes, probe_body, A, &probed, why, why_len)) {
        gg_destroy(A);
        return NULL;
    }
    snprintf(A->name, sizeof A->name, "ggml-%s", A->device);
    size_t l = strlen(A->description);
    char found[400];
    gg_typemap_summary(&A->map, found, sizeof found);
    snprintf(A->description + l, sizeof A->description - l, "; quantize: %s%s%s; TurboQuant types: %s",
             A->quant_chunk ? "ggml_quantize_chunk" : "set_rows (iq4_nl@search: ggml_quantize_chunk)",
             *o.types ? "; type map " : "", o.types, *found ? found : "none");
    if (A->stack_bytes) {
        l = strlen(A->description);
        snprintf(A->description + l, sizeof A->description - l, "; threads of %zu KiB stack", A->stack_bytes / 1024);
    }
    A->table = (kvv_backend){
        .abi_version = KVV_ABI_VERSION,
        .struct_size = sizeof(kvv_backend),
        .name = A->name,
        .description = A->description,
        .ctx = A,
        .supports = gg_supports,
        .quantize_rows = gg_quantize_rows,
        .dequantize_rows = gg_dequantize_rows,
        .wht = gg_wht_entry,
        .attention = gg_attention_entry,
        .flush = NULL,
        .destroy = gg_destroy,
        .last_error = gg_last_error,
        .stored_as = gg_stored_as,
    };
    return &A->table;
}

__attribute__((visibility("default"))) const kvv_backend *kvv_backend_get(uint32_t abi_version)
{
    char why[512];
    const kvv_backend *b = kvv_backend_get_config(abi_version, "", why, sizeof why);
    if (!b)
        fprintf(stderr, "kvv_ggml: %s\n", why);
    return b;
}
