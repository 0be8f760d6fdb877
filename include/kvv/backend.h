/* kvverify public API: the backend interface (a versioned C ABI).
 *
 * A backend is a table of function pointers plus a name, in the style of
 * dav1d's checkasm DSP contexts.  In-process backends fill it directly; an
 * external port is a shared library exporting
 *
 *     const kvv_backend *kvv_backend_get(uint32_t abi_version);
 *
 * which returns NULL when it cannot serve that ABI version.  The harness
 * rejects a table whose abi_version differs from KVV_ABI_VERSION or whose
 * struct_size is smaller than the one it was built with.
 *
 * Conventions for every entry point:
 * - All inputs are in the original (unrotated) basis.  Quantizing a turbo
 *   type includes its WHT rotation; dequantizing returns the rotated basis
 *   (SPEC 3); attention takes unrotated Q and returns the unrotated output.
 * - Rows are contiguous and packed: row r of a quantized tensor starts at
 *   r * kvv_row_bytes(type, ncols).
 * - Return KVV_OK, KVV_UNSUPPORTED (the backend declines; why in last_error),
 *   or KVV_FAILED (it tried and failed; why in last_error). */
#ifndef KVV_BACKEND_H
#define KVV_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "kvv/case.h"
#include "kvv/types.h"

#define KVV_ABI_VERSION 1u

/* KVV_BAD_FORMAT: the backend has the type, but stores it in a format that
 * matches none of kvverify's format versions (a fork's type whose table or
 * packing is new); last_error says what it found.  The case fails (rule
 * format) rather than being skipped.  quantize_rows and dequantize_rows may
 * still fill dst with the backend's own bytes and values when they return
 * it: the host then judges the backend's own round trip (rule roundtrip: a
 * cache in a new format must still give back what was written, about as
 * well as the type's known versions do).  Values left unwritten are seen as
 * such, never judged. */
enum { KVV_OK = 0, KVV_UNSUPPORTED = 1, KVV_FAILED = 2, KVV_BAD_FORMAT = 3 };

typedef struct kvv_attn_args {
    int dk, dv;             /* head dims of K/Q and V */
    int n_q, n_kv;          /* query rows per head, cache rows per KV head */
    int n_head, n_head_kv;  /* query heads, KV heads (GQA: n_head % n_head_kv == 0) */
    kvv_type type_k, type_v;
    const float *q;         /* [n_head][n_q][dk] f32, unrotated */
    const void *k;          /* [n_head_kv][n_kv] rows of type_k, as written by quantize_rows */
    const void *v;          /* [n_head_kv][n_kv] rows of type_v */
    const float *mask;      /* [n_q][n_kv] or NULL: 0, -inf, or an ALiBi position bias */
    float scale;            /* applied to q.k before softcap */
    float max_bias;         /* ALiBi: slope_h multiplies the mask; 0 = slopes of 1 */
    float softcap;          /* s = softcap * tanh(s / softcap); 0 = off */
    kvv_toggles tg;
} kvv_attn_args;

/* What the backend reports about the precision it actually computed in, so
 * that the oracle's error bound matches the arithmetic (unit roundoffs). */
typedef struct kvv_attn_info {
    double kv_round;  /* rounding of dequantized K/V values before use: 0 (exact f32) or 2^-11 (f16) */
    double acc_round; /* accumulation: 2^-24 (f32) or 2^-11 (f16) */
} kvv_attn_info;

typedef struct kvv_backend kvv_backend;
struct kvv_backend {
    uint32_t abi_version;  /* KVV_ABI_VERSION */
    uint32_t struct_size;  /* sizeof(kvv_backend) the backend was built with */
    const char *name;      /* short name used by -b and in reports */
    const char *description;
    void *ctx;

    /* Optional: decline a case before any work (1 = can run it). */
    int (*supports)(void *ctx, const kvv_case *c, char *why, size_t why_len);
    int (*quantize_rows)(void *ctx, kvv_type t, const float *src, void *dst,
                         int64_t nrows, int64_t ncols, const kvv_toggles *tg);
    int (*dequantize_rows)(void *ctx, kvv_type t, const void *src, float *dst,
                           int64_t nrows, int64_t ncols, const kvv_toggles *tg);
    /* In-place rotation of rows in groups of `group` values (a power of two). */
    int (*wht)(void *ctx, float *x, int64_t nrows, int64_t ncols, int group,
               int inverse, const kvv_toggles *tg);
    int (*attention)(void *ctx, const kvv_attn_args *a, float *out, kvv_attn_info *info);
    /* Wait for queued work (asynchronous devices); may be NULL. */
    int (*flush)(void *ctx);
    /* Release everything; may be NULL. */
    void (*destroy)(void *ctx);
    /* Text of the last KVV_UNSUPPORTED / KVV_FAILED; may be NULL. */
    const char *(*last_error)(void *ctx);

    /* ---- appended entries: optional, read only when struct_size covers them ---- */

    /* The format version (a row of the type table) in which this backend
     * stores the cache type whose default row is `cache`: that row, another
     * row of the same cache type (KVV_TURBO3 -> KVV_TURBO3_QK128), or
     * KVV_TYPE_NONE when it has none or none that kvverify knows.  `note`
     * receives how it knows (e.g. what a format probe read).  The host runs
     * its generated case lists in these versions.  NULL: every row as it is. */
    kvv_type (*stored_as)(void *ctx, kvv_type cache, char *note, size_t note_len);
};

/* The size of the table as version 1 first had it (up to last_error): a
 * library built before the appended entries still loads. */
#define KVV_BACKEND_MIN_SIZE (offsetof(kvv_backend, last_error) + sizeof(void *))
/* Whether a table is large enough to hold an appended entry. */
#define KVV_BACKEND_HAS(b, field) ((b)->struct_size >= offsetof(kvv_backend, field) + sizeof((b)->field))

/* The symbol an external backend library exports. */
typedef const kvv_backend *(*kvv_backend_get_fn)(uint32_t abi_version);
#define KVV_BACKEND_SYMBOL "kvv_backend_get"

/* Optional: a library that takes options (`-b lib.so:key=value:key=value`)
 * exports this as well; the host then calls it instead of kvv_backend_get,
 * with the text after the first ':' ("" when there is none).  It returns a
 * new, independent table per call (one library may be opened several times
 * with different options), or NULL with the reason in why. */
typedef const kvv_backend *(*kvv_backend_get_config_fn)(uint32_t abi_version, const char *config, char *why,
                                                        size_t why_len);
#define KVV_BACKEND_CONFIG_SYMBOL "kvv_backend_get_config"

#endif
