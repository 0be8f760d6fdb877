/* The adapter's operations, each done the way llama.cpp does it:
 *   quantize    ggml_set_rows into a cache tensor on the device (the K/V
 *               cache write), or ggml_quantize_chunk (iq4_nl@search, and
 *               every type with quant=chunk)
 *   dequantize  the type traits' to_float on the CPU device; ggml_get_rows
 *               on another device (its own dequantization shaders)
 *   attention   one ggml_flash_attn_ext node over the cache as the ABI
 *               lays it out, with ggml_prec_set_acc(F32) as llama.cpp sets
 *
 * and the precision report (kvv_attn_info) says what ggml computes in, so
 * that the oracle's bound is the one for ggml's arithmetic:
 *   CPU, vector path     Q is converted to K's vec_dot type before the dot
 *                        products (f16 for f16 K, bf16 for bf16 K, q8_0 or
 *                        q8_1 for the block types); V accumulates in f16
 *                        when V is f16, in f32 otherwise
 *   CPU, tiled path      (n_q >= 64 and K, V both f32 or both f16) Q, K and
 *                        V in f32, f32 accumulation
 *   Vulkan (fp16 device) Q*scale, K and V rounded to f16; the output
 *                        accumulates in f16 (FLOAT_TYPE of flash_attn.comp)
 * The Q conversion of the vector path rounds Q to blocks of its own
 * maximum, which no per-element unit roundoff describes; the adapter
 * reports the smallest kv_round for which the oracle's model covers it on
 * this very input: max over query/key pairs of
 * sum_c |q~_c - q_c| |k_c| / sum_c |q_c| |k_c|, with q~ ggml's own
 * conversion.  It is a pure function of Q and K, cached for repeated calls
 * on the same data (so that a timing loop times ggml). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/ggml/ggml_adapter.h"

int gg_threads_of(const kvv_toggles *tg)
{
    if (tg && tg->threads > 0)
        return tg->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int gg_decline_type(const gg_adapter *A, kvv_type t, char *why, size_t n)
{
    const gg_kvv_type *k = gg_kvv_type_get(t);
    int crashed = 0;
    const char *broken = k ? gg_typemap_broken(&A->map, t, &crashed) : NULL;
    const gg_format *f = k ? gg_format_of(t) : NULL;
    const kvv_type as = f ? gg_typemap_stored_as(&A->map, t, NULL, 0) : KVV_TYPE_NONE; /* any row of the family */
    if (!k) {
        snprintf(why, n, "type %d is not a kvverify type", (int)t);
    } else if (broken) {
        snprintf(why, n, "%s", broken);
        return crashed ? KVV_FAILED : KVV_BAD_FORMAT;
    } else if (k->rotated && as != KVV_TYPE_NONE) {
        snprintf(why, n, "%s: this ggml stores %s as %s (ggml %d '%s')", k->name, f->cache, gg_kvv_type_get(as)->name,
                 A->map.e[as].ggml, A->map.e[as].ggml_name);
    } else if (k->rotated) {
        snprintf(why, n, "%s: this ggml has no %s type (upstream ggml has none; a fork's types named turbo<N> are "
                 "found and probed, others can be given with types=FILE)", k->name, f ? f->cache : k->name);
    } else if (t == KVV_IQ4_NL && A->quant_chunk)
        snprintf(why, n, "iq4_nl: quant=chunk makes iq4_nl@search bytes, not iq4_nl");
    else
        snprintf(why, n, "%s: not in the type map", k->name);
    return KVV_UNSUPPORTED;
}

/* The library type that runs kvverify type t: its row of the map, or for
 * a type stored in no known format (broken) the library's own type of that
 * cache type when it has t's block and bytes, in *tmp: its cache write and
 * attention still run (a crash in them is a finding), and the call then
 * reports the format.  NULL when neither. */
static const gg_type_entry *lib_entry(const gg_adapter *A, kvv_type t, gg_type_entry *tmp, int *broken)
{
    *broken = 0;
    if ((unsigned)t >= KVV_TYPE_COUNT)
        return NULL;
    if (A->map.e[t].ggml >= 0)
        return &A->map.e[t];
    const gg_found *g = gg_typemap_broken_found(&A->map, t);
    const gg_kvv_type *k = gg_kvv_type_get(t);
    if (!g || g->probe.crashed || g->block != k->block || (int)g->bytes != k->bytes)
        return NULL;
    memset(tmp, 0, sizeof *tmp);
    tmp->ggml = g->ggml;
    snprintf(tmp->ggml_name, sizeof tmp->ggml_name, "%s", g->name);
    tmp->quant = A->quant_chunk ? GG_Q_CHUNK : GG_Q_SET_ROWS;
    *broken = 1;
    return tmp;
}

/* ---------------- quantize ---------------- */

int gg_quantize(gg_adapter *A, kvv_type t, const float *src, void *dst, int64_t nrows, int64_t ncols,
                const kvv_toggles *tg, char *why, size_t n)
{
    gg_type_entry tmp;
    int broken;
    const gg_type_entry *e = lib_entry(A, t, &tmp, &broken);
    if (!e)
        return gg_decline_type(A, t, why, n);
    if (nrows <= 0 || ncols <= 0 || ncols % A->api.blck_size(e->ggml)) {
        snprintf(why, n, "rows of %lld values cannot be stored as %s", (long long)ncols, e->ggml_name);
        return KVV_FAILED;
    }
    if (e->quant == GG_Q_CHUNK) {
        A->api.quantize_chunk(e->ggml, src, dst, 0, nrows, ncols, NULL);
        return broken ? gg_decline_type(A, t, why, n) : KVV_OK;
    }
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)nrows);
    if (!idx) {
        snprintf(why, n, "out of memory");
        return KVV_FAILED;
    }
    for (int64_t r = 0; r < nrows; r++)
        idx[r] = r;
    gg_job j;
    int rc = gg_job_begin(&j, A, why, n);
    if (rc == KVV_OK) {
        ggml_tensor *cache = gg_job_tensor(&j, e->ggml, ncols, nrows, 1, dst, GG_OUT | GG_WRAP);
        ggml_tensor *x = gg_job_tensor(&j, GG_TYPE_F32, ncols, nrows, 1, (void *)src, GG_IN | GG_WRAP);
        ggml_tensor *rows = gg_job_tensor(&j, GG_TYPE_I64, nrows, 1, 1, idx, GG_IN);
        ggml_tensor *op = A->api.set_rows(j.ctx, cache, x, rows);
        char what[64];
        snprintf(what, sizeof what, "SET_ROWS to %s", e->ggml_name);
        rc = !gg_job_supported(&j, op, what, why, n) ? KVV_UNSUPPORTED : gg_job_run(&j, op, gg_threads_of(tg), why, n);
    }
    gg_job_end(&j);
    free(idx);
    /* a cache write that ran, in no known format: say so */
    return broken && rc == KVV_OK ? gg_decline_type(A, t, why, n) : rc;
}

/* ---------------- dequantize ---------------- */

int gg_dequantize(gg_adapter *A, kvv_type t, const void *src, float *dst, int64_t nrows, int64_t ncols,
                  const kvv_toggles *tg, char *why, size_t n)
{
    gg_type_entry tmp;
    int broken;
    const gg_type_entry *e = lib_entry(A, t, &tmp, &broken);
    if (!e)
        return gg_decline_type(A, t, why, n);
    if (nrows <= 0 || ncols <= 0 || ncols % A->api.blck_size(e->ggml)) {
        snprintf(why, n, "rows of %lld values cannot be stored as %s", (long long)ncols, e->ggml_name);
        return KVV_FAILED;
    }
    if (A->is_cpu) {
        if (e->ggml == GG_TYPE_F32) {
            memcpy(dst, src, sizeof(float) * (size_t)(nrows * ncols));
            return KVV_OK;
        }
        const gg_type_traits *tr = A->api.get_type_traits(e->ggml);
        if (!tr->to_float) {
            snprintf(why, n, "ggml's %s has no to_float", e->ggml_name);
            return KVV_UNSUPPORTED;
        }
        tr->to_float(src, dst, nrows * ncols); /* rows are packed whole blocks */
        /* values of a type in no known format: given back (the host judges
         * the library's own round trip), and the format reported */
        return broken ? gg_decline_type(A, t, why, n) : KVV_OK;
    }
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)nrows);
    if (!idx) {
        snprintf(why, n, "out of memory");
        return KVV_FAILED;
    }
    for (int64_t r = 0; r < nrows; r++)
        idx[r] = (int32_t)r;
    gg_job j;
    int rc = gg_job_begin(&j, A, why, n);
    if (rc == KVV_OK) {
        ggml_tensor *cache = gg_job_tensor(&j, e->ggml, ncols, nrows, 1, (void *)src, GG_IN);
        ggml_tensor *rows = gg_job_tensor(&j, GG_TYPE_I32, nrows, 1, 1, idx, GG_IN);
        ggml_tensor *op = A->api.get_rows(j.ctx, cache, rows);
        gg_job_bind(&j, op, dst, GG_OUT);
        char what[64];
        snprintf(what, sizeof what, "GET_ROWS from %s", e->ggml_name);
        rc = !gg_job_supported(&j, op, what, why, n) ? KVV_UNSUPPORTED : gg_job_run(&j, op, gg_threads_of(tg), why, n);
    }
    gg_job_end(&j);
    free(idx);
    return broken && rc == KVV_OK ? gg_decline_type(A, t, why, n) : rc;
}

/* ---------------- rotation (types a fork's map provides) ---------------- */

/* SPEC 3.4's sign vectors, packed (set bit = -1, element e = bit e%32 of
 * word e/32). */
static const uint32_t S1[4] = {0xE46A0359u, 0x42F85949u, 0xA4C63BBBu, 0x49F250A9u};
static const uint32_t S2[4] = {0x16ACEE90u, 0x3F628FDCu, 0xB7A5357Au, 0xBEA56562u};

static float sign_of(const uint32_t *s, int e)
{
    return (s[e >> 5] >> (e & 31)) & 1 ? -1.0f : 1.0f;
}

static int rot_group(int d)
{
    int g = 1;
    while (g < 128 && d % (2 * g) == 0)
        g *= 2;
    return g;
}

/* In-place f32 rotation of rows, groups of g: forward S2 H S1 / sqrt(g),
 * inverse S1 H S2 / sqrt(g); what a fork's graph does around its kernel. */
static void rotate_rows(float *x, int64_t rows, int cols, int inverse)
{
    const int g = rot_group(cols);
    const float inv_sqrt = (float)(1.0 / sqrt((double)g));
    const uint32_t *pre = inverse ? S2 : S1, *post = inverse ? S1 : S2;
    for (int64_t r = 0; r < rows; r++)
        for (int c0 = 0; c0 < cols; c0 += g) {
            float *u = x + r * cols + c0;
            for (int i = 0; i < g; i++)
                u[i] *= sign_of(pre, i);
            for (int h = 1; h < g; h *= 2)
                for (int b = 0; b < g; b += 2 * h)
                    for (int i = b; i < b + h; i++) {
                        float p = u[i], q = u[i + h];
                        u[i] = p + q;
                        u[i + h] = p - q;
                    }
            for (int i = 0; i < g; i++)
                u[i] = u[i] * inv_sqrt * sign_of(post, i);
        }
}

/* ---------------- the precision report ---------------- */

/* Q as the CPU vector path sees it: converted to K's vec_dot type and
 * back.  q8_1 (the partner of q4_1 and q5_1 K) also carries s, the block's
 * sum, rounded to f16, which the dot product uses for K's block minimum:
 * serr[b] = |s - d * sum(qs)| per block (0 for other types).  -1 when the
 * type has no way back. */
static int q_converted(gg_adapter *A, int vdt, const float *q, float *out, float *serr, int64_t rows, int cols)
{
    const gg_api *api = &A->api;
    const gg_type_traits_cpu *tc = api->get_type_traits_cpu(vdt);
    const gg_type_traits *tr = api->get_type_traits(vdt);
    const int64_t bs = api->blck_size(vdt);
    const size_t rb = api->type_size(vdt) * (size_t)cols / (size_t)bs;
    const int q8_1 = !tr->to_float && !strcmp(tr->type_name, "q8_1") && api->type_size(vdt) == 36 && bs == 32;
    unsigned char *buf = malloc(rb);
    int rc = buf && tc->from_float && (tr->to_float || q8_1) ? 0 : -1;
    for (int64_t r = 0; r < rows && rc == 0; r++) {
        tc->from_float(q + r * cols, buf, cols);
        for (int b = 0; b < cols / bs; b++)
            serr[r * (cols / bs) + b] = 0;
        if (!q8_1) {
            tr->to_float(buf, out + r * cols, cols);
            continue;
        }
        for (int b = 0; b < cols / 32; b++) { /* d f16, s f16, qs int8[32] */
            const unsigned char *blk = buf + 36 * b;
            const float d = gg_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8));
            const float sv = gg_f16_to_f32((uint16_t)(blk[2] | blk[3] << 8));
            double sum = 0;
            for (int i = 0; i < 32; i++) {
                out[r * cols + 32 * b + i] = d * (float)(int8_t)blk[4 + i];
                sum += (double)d * (int8_t)blk[4 + i];
            }
            serr[r * (cols / 32) + b] = (float)fabs((double)sv - sum);
        }
    }
    free(buf);
    return rc;
}

/* max over (query, key) of the score error the Q conversion causes over
 * sum |q| |k|: the kv_round that covers it in the oracle's score term.
 * The error is sum_c |q~_c - q_c| |k_c|, plus for q8_1 the block sums'
 * rounding times K's block minimum (bounded by the block's largest |k|,
 * since the minimum is itself a stored value). */
static double q_allowance_compute(gg_adapter *A, const kvv_attn_args *a, int ek, int vdt)
{
    const int64_t nq = (int64_t)a->n_head * a->n_q, nk = (int64_t)a->n_head_kv * a->n_kv;
    const int bs = (int)A->api.blck_size(vdt), nb = a->dk / bs;
    float *qt = malloc(sizeof(float) * (size_t)(nq * a->dk)), *kf = malloc(sizeof(float) * (size_t)(nk * a->dk));
    float *serr = malloc(sizeof(float) * (size_t)(nq * nb)), *kmax = malloc(sizeof(float) * (size_t)(nk * nb));
    double *aq = malloc(sizeof(double) * (size_t)a->dk), *dq = malloc(sizeof(double) * (size_t)a->dk);
    double uk = 0x1p-6; /* fallback when ggml gives no way to see the conversion: q8 at its coarsest, doubled */
    if (!qt || !kf || !serr || !kmax || !aq || !dq || q_converted(A, vdt, a->q, qt, serr, nq, a->dk))
        goto out;
    if (ek == GG_TYPE_F32)
        memcpy(kf, a->k, sizeof(float) * (size_t)(nk * a->dk));
    else
        A->api.get_type_traits(ek)->to_float(a->k, kf, nk * a->dk);
    for (int64_t r = 0; r < nk; r++)
        for (int b = 0; b < nb; b++) {
            float m = 0;
            for (int c = b * bs; c < (b + 1) * bs; c++) {
                kf[r * a->dk + c] = fabsf(kf[r * a->dk + c]);
                m = kf[r * a->dk + c] > m ? kf[r * a->dk + c] : m;
            }
            kmax[r * nb + b] = m;
        }
    uk = 0;
    const int grp = a->n_head / a->n_head_kv;
    for (int h = 0; h < a->n_head; h++)
        for (int i = 0; i < a->n_q; i++) {
            const int64_t qr = (int64_t)h * a->n_q + i;
            for (int c = 0; c < a->dk; c++) {
                aq[c] = fabs((double)a->q[qr * a->dk + c]);
                dq[c] = fabs((double)qt[qr * a->dk + c] - (double)a->q[qr * a->dk + c]);
            }
            for (int j = 0; j < a->n_kv; j++) {
                const int64_t kr = (int64_t)(h / grp) * a->n_kv + j;
                const float *k = kf + kr * a->dk;
                double num = 0, den = 0;
                for (int c = 0; c < a->dk; c++) {
                    num += dq[c] * k[c];
                    den += aq[c] * k[c];
                }
                for (int b = 0; b < nb; b++)
                    num += (double)serr[qr * nb + b] * kmax[kr * nb + b];
                if (den > 0 && isfinite(num) && isfinite(den) && num / den > uk)
                    uk = num / den;
            }
        }
out:
    free(qt);
    free(kf);
    free(serr);
    free(kmax);
    free(aq);
    free(dq);
    return uk;
}

void gg_qcache_free(gg_qcache *c)
{
    free(c->q);
    free(c->k);
    memset(c, 0, sizeof *c);
}

static double q_allowance(gg_adapter *A, const kvv_attn_args *a, int ek, int vdt, size_t kbytes)
{
    gg_qcache *c = &A->qc;
    const size_t qbytes = sizeof(float) * (size_t)a->n_head * a->n_q * a->dk;
    const int key[8] = {a->dk, a->n_q, a->n_kv, a->n_head, a->n_head_kv, ek, vdt, 0};
    if (c->q && c->qbytes == qbytes && c->kbytes == kbytes && !memcmp(c->key, key, sizeof key) &&
        !memcmp(c->q, a->q, qbytes) && !memcmp(c->k, a->k, kbytes))
        return c->uk;
    gg_qcache_free(c);
    double uk = q_allowance_compute(A, a, ek, vdt);
    c->q = malloc(qbytes);
    c->k = malloc(kbytes);
    if (c->q && c->k) {
        memcpy(c->q, a->q, qbytes);
        memcpy(c->k, a->k, kbytes);
        c->qbytes = qbytes;
        c->kbytes = kbytes;
        memcpy(c->key, key, sizeof key);
        c->uk = uk;
    } else {
        gg_qcache_free(c);
    }
    return uk;
}

static void attn_info(gg_adapter *A, const kvv_attn_args *a, int ek, int ev, size_t kbytes, kvv_attn_info *info)
{
    if (!A->is_cpu) {
        const int bf = !strcmp(A->map.e[a->type_k].ggml_name, "bf16") || !strcmp(A->map.e[a->type_v].ggml_name, "bf16");
        info->kv_round = bf ? 0x1p-7 : 0x1p-10; /* Q*scale and K both rounded to the shader's float type */
        info->acc_round = bf ? 0x1p-8 : 0x1p-11;
        return;
    }
    const int kvf = ek == ev && (ek == GG_TYPE_F32 || ek == GG_TYPE_F16);
    if (a->n_q >= 64 && kvf && a->dv % 16 == 0) { /* the tiled path (GGML_FA_TILE_Q = 64; any SIMD width divides 16) */
        info->kv_round = 0;
        info->acc_round = 0x1p-24;
        return;
    }
    const int vdt = A->api.get_type_traits_cpu(ek)->vec_dot_type;
    info->kv_round = vdt == GG_TYPE_F32 ? 0 : q_allowance(A, a, ek, vdt, kbytes);
    /* On Q values far below f16's smallest step (denormals), q8_1's f16 block
     * sum moves a score by more than sum |q| |k| itself: no relative claim
     * covers that, and the oracle refuses one above 1.  The honest claim is
     * the ceiling; the rest must be within what the accumulation term and
     * the output's own size allow, or the case fails as it should. */
    if (info->kv_round > 1.0)
        info->kv_round = 1.0;
    /* f16 V accumulates in f16 (ggml_vec_mad_f16); when the tiled path is
     * possible but not certain, the coarser report covers both */
    info->acc_round = ev == GG_TYPE_F16 ? 0x1p-11 : 0x1p-24;
}

/* ---------------- attention ---------------- */

/* rot=graph, as the fork's llama-graph builds it: when K is a TurboQuant
 * type, Q goes through ggml_turbo_wht (forward, the op's own group choice
 * from the row width) before the attention.  *q becomes that node, *qw too
 * (NULL when K is not rotated).  A refusal of the op is a failure: the
 * fork's cache type took the head dim, so its graph must rotate it. */
static int graph_rotations(gg_adapter *A, gg_job *j, ggml_tensor **q, ggml_tensor **qw, int rot_k, int rot_v,
                           const kvv_attn_args *a, char *why, size_t n)
{
    (void)rot_v;
    if (a->tg.rot != KVV_ROT_GRAPH || !rot_k)
        return 0;
    char r[400];
    *qw = gg_wht_node(A, j->ctx, *q, a->dk, 0, 0, r, sizeof r);
    if (!*qw) {
        snprintf(why, n, "the fork's graph cannot rotate Q: %s", r);
        return -1;
    }
    *q = *qw;
    return 0;
}

/* ... and when V is a TurboQuant type, the attention's output goes through
 * the inverse ggml_turbo_wht, in groups taken from K's row width when K is
 * rotated, else from V's: 128 when it divides the width, else 64 (the
 * fork's rule for MLA, whose V is a view of K); the output stays as it is
 * when that group does not divide it. */
static ggml_tensor *output_rotation(gg_adapter *A, gg_job *j, ggml_tensor *fa, int rot_k, const kvv_attn_args *a,
                                    char *why, size_t n)
{
    const int src = rot_k ? a->dk : a->dv, g = src % 128 == 0 ? 128 : 64;
    if (a->dv % g)
        return fa;
    char r[400];
    ggml_tensor *o = gg_wht_node(A, j->ctx, fa, a->dv, 1, g, r, sizeof r);
    if (!o)
        snprintf(why, n, "the fork's graph cannot rotate the output back: %s", r);
    return o;
}

/* ggml takes the mask as f16: refuse one it would change */
static int mask_to_f16(gg_adapter *A, const float *m, uint16_t *out, int64_t n, char *why, size_t len)
{
    for (int64_t i = 0; i < n; i++) {
        out[i] = A->api.fp32_to_fp16(m[i]);
        const float back = gg_f16_to_f32(out[i]);
        if (back != m[i] && !(isnan(back) && isnan(m[i]))) {
            snprintf(why, len, "ggml takes the mask as f16, and %g is not an f16 value (ALiBi positions beyond 2048)",
                     (double)m[i]);
            return KVV_UNSUPPORTED;
        }
    }
    return KVV_OK;
}

int gg_attention(gg_adapter *A, const kvv_attn_args *a, float *out, kvv_attn_info *info, char *why, size_t n)
{
    gg_type_entry tk_tmp, tv_tmp;
    int broken_k, broken_v;
    const gg_type_entry *ek = lib_entry(A, a->type_k, &tk_tmp, &broken_k);
    const gg_type_entry *ev = lib_entry(A, a->type_v, &tv_tmp, &broken_v);
    if (!ek)
        return gg_decline_type(A, a->type_k, why, n);
    if (!ev)
        return gg_decline_type(A, a->type_v, why, n);
    const int rot_k = gg_kvv_type_get(a->type_k)->rotated, rot_v = gg_kvv_type_get(a->type_v)->rotated;
    /* rot=graph: the fork's own rotation ops in the graph; rot=kernel: the
     * exact rotation on the host around ggml's attention */
    const int graph = (rot_k || rot_v) && a->tg.rot == KVV_ROT_GRAPH;
    if (graph && !gg_wht_available(A, why, n))
        return KVV_UNSUPPORTED;
    if ((rot_k || rot_v) && !graph && !A->rot_host) {
        snprintf(why, n, "rotated types with rot=none: the fork's kernel must rotate (not supported here)");
        return KVV_UNSUPPORTED;
    }
    const int host_q = rot_k && !graph, host_o = rot_v && !graph;
    const int64_t nq = (int64_t)a->n_head * a->n_q, nk = (int64_t)a->n_head_kv * a->n_kv;
    const size_t kbytes = (size_t)nk * A->api.type_size(ek->ggml) * (size_t)a->dk / (size_t)A->api.blck_size(ek->ggml);
    const int need_mask = a->mask || a->max_bias > 0.0f;
    const int pad = need_mask ? gg_mask_pad(A, why, n) : 1;
    if (pad < 0)
        return KVV_UNSUPPORTED;
    const int64_t mrows = (a->n_q + pad - 1) / pad * pad;
    uint16_t *mask = need_mask ? calloc((size_t)mrows * a->n_kv, sizeof(uint16_t)) : NULL;
    float *res = malloc(sizeof(float) * (size_t)(nq * a->dv));
    float *qrot = host_q ? malloc(sizeof(float) * (size_t)(nq * a->dk)) : NULL;
    int rc = KVV_OK;
    if ((need_mask && !mask) || !res || (host_q && !qrot)) {
        snprintf(why, n, "out of memory");
        rc = KVV_FAILED;
        goto out;
    }
    if (a->mask && (rc = mask_to_f16(A, a->mask, mask, (int64_t)a->n_q * a->n_kv, why, n)) != KVV_OK)
        goto out;
    for (int64_t i = (int64_t)a->n_q * a->n_kv; need_mask && i < mrows * a->n_kv; i++)
        mask[i] = 0xfc00; /* the padding rows: -inf, as llama.cpp filled them */
    const float *q = a->q;
    if (host_q) {
        memcpy(qrot, a->q, sizeof(float) * (size_t)(nq * a->dk));
        rotate_rows(qrot, nq, a->dk, 0);
        q = qrot;
    }
    gg_job j;
    if ((rc = gg_job_begin(&j, A, why, n)) == KVV_OK) {
        ggml_tensor *tq = gg_job_tensor(&j, GG_TYPE_F32, a->dk, a->n_q, a->n_head, (void *)q, GG_IN | GG_WRAP);
        ggml_tensor *tk = gg_job_tensor(&j, ek->ggml, a->dk, a->n_kv, a->n_head_kv, (void *)a->k, GG_IN | GG_WRAP);
        ggml_tensor *tv = gg_job_tensor(&j, ev->ggml, a->dv, a->n_kv, a->n_head_kv, (void *)a->v, GG_IN | GG_WRAP);
        ggml_tensor *tm = need_mask ? gg_job_tensor(&j, GG_TYPE_F16, a->n_kv, mrows, 1, mask, GG_IN) : NULL;
        ggml_tensor *qin = tq, *qw = NULL, *ow = NULL;
        rc = graph_rotations(A, &j, &qin, &qw, rot_k, rot_v, a, why, n) ? KVV_FAILED : KVV_OK;
        ggml_tensor *op = rc ? NULL : A->api.flash_attn_ext(j.ctx, qin, tk, tv, tm, a->scale, a->max_bias, a->softcap);
        if (op && A->api.prec_set_acc)
            A->api.prec_set_acc(op, GG_PREC_F32);
        if (op && graph && rot_v) {
            ggml_tensor *o = output_rotation(A, &j, op, rot_k, a, why, n);
            rc = o ? rc : KVV_FAILED;
            ow = o != op ? o : NULL;
        }
        ggml_tensor *last = ow ? ow : op;
        char what[128];
        snprintf(what, sizeof what, "FLASH_ATTN_EXT with K %s, V %s, head dims %d/%d", ek->ggml_name, ev->ggml_name,
                 a->dk, a->dv);
        if (rc == KVV_OK) {
            gg_job_bind(&j, last, res, GG_OUT); /* [n_q][n_head][dv] */
            rc = !gg_job_supported(&j, op, what, why, n) || (qw && !gg_job_supported(&j, qw, "TURBO_WHT of Q", why, n)) ||
                         (ow && !gg_job_supported(&j, ow, "TURBO_WHT of the output", why, n))
                     ? KVV_UNSUPPORTED
                     : gg_job_run(&j, last, gg_threads_of(&a->tg), why, n);
        }
    }
    gg_job_end(&j);
    if (rc != KVV_OK)
        goto out;
    for (int h = 0; h < a->n_head; h++)
        for (int i = 0; i < a->n_q; i++)
            memcpy(out + ((size_t)h * a->n_q + i) * a->dv, res + ((size_t)i * a->n_head + h) * a->dv,
                   sizeof(float) * (size_t)a->dv);
    if (host_o)
        rotate_rows(out, nq, a->dv, 1);
    attn_info(A, a, ek->ggml, ev->ggml, kbytes, info);
    /* the attention over a cache in no known format ran: say so */
    if (broken_k || broken_v)
        rc = gg_decline_type(A, broken_k ? a->type_k : a->type_v, why, n);
out:
    free(mask);
    free(res);
    free(qrot);
    return rc;
}
