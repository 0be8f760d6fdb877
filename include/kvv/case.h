/* kvverify public API: a test case as a small value with a stable name.
 *
 * The name is the case's identity: every failure line prints it, and the CLI
 * accepts it back (`kvverify run -p NAME`), so a failure can be pasted into a
 * rerun.  Example: attn/d256/q8_0-turbo3/nq1/nkv4096/h8/gqa4/cache=on/dist=outlier/seed=7 */
#ifndef KVV_CASE_H
#define KVV_CASE_H

#include <stddef.h>
#include <stdint.h>

#include "kvv/types.h"

typedef enum kvv_op {
    KVV_OP_QUANT,   /* quantize rows (set_rows) */
    KVV_OP_DEQUANT, /* dequantize canonical bytes */
    KVV_OP_WHT,     /* forward and inverse rotation of rows in groups */
    KVV_OP_ATTN,    /* quantize K/V, then flash attention over the cache */
    KVV_OP_PPL,     /* end-to-end probe model */
    KVV_OP_COUNT
} kvv_op;

typedef enum kvv_mask {
    KVV_MASK_NONE,   /* every key visible */
    KVV_MASK_CAUSAL, /* query i at position n_kv-n_q+i sees keys j <= its position */
    KVV_MASK_RANDOM, /* about a fifth of the entries -inf */
    KVV_MASK_HOLES,  /* causal, plus some query rows masked entirely */
    KVV_MASK_COUNT
} kvv_mask;

typedef enum kvv_dist {
    KVV_DIST_GAUSS,     /* N(0,1) */
    KVV_DIST_OUTLIER,   /* N(0,1) with a few channels 10-100x larger, as in real K caches */
    KVV_DIST_HEAVY,     /* Student-t with 3 degrees of freedom */
    KVV_DIST_ROPE,      /* pairs of channels rotated by position-dependent angles */
    KVV_DIST_CONST,     /* constant blocks */
    KVV_DIST_ZERO,      /* all zero */
    KVV_DIST_DENORM,    /* values around the f32 denormal range */
    KVV_DIST_HUGE,      /* values that overflow f16 */
    KVV_DIST_NONFINITE, /* Gaussian with a few NaN and Inf */
    KVV_DIST_GRID,      /* multiples of 1/4 in [-1, 1]: equal magnitudes of both signs, values on rounding boundaries */
    KVV_DIST_COUNT
} kvv_dist;

/* Kernel toggles.  Those marked speed-only must leave every output bit
 * unchanged; the oracle checks that against the baseline value. */
typedef enum kvv_rot_site {
    KVV_ROT_KERNEL, /* the attention kernel rotates Q and inverse-rotates the output */
    KVV_ROT_GRAPH   /* separate WHT ops around a kernel that works in the rotated basis */
} kvv_rot_site;

typedef enum kvv_variant { KVV_VAR_AUTO, KVV_VAR_VEC, KVV_VAR_TILED } kvv_variant;
typedef enum kvv_isa { KVV_ISA_AUTO, KVV_ISA_SCALAR, KVV_ISA_AVX2 } kvv_isa;

typedef struct kvv_toggles {
    int threads;     /* speed-only. 0 = backend default */
    int split;       /* speed-only. split-K chunks of the KV range, >= 1 */
    int cache;       /* speed-only. dequant cache: 0 = dequantize in the loop, 1 = first into a buffer */
    int lut;         /* speed-only. turbo3 dequant LUT: 8 = 8-entry, 4 = sign + 4 magnitudes */
    kvv_rot_site rot;
    kvv_variant variant;
    kvv_isa isa;
} kvv_toggles;

/* Baseline toggles: the values speed-only toggles are compared against. */
kvv_toggles kvv_toggles_default(void);
/* Copy of t with every speed-only toggle at its baseline value. */
kvv_toggles kvv_toggles_baseline(kvv_toggles t);
/* Whether t differs from its baseline in a speed-only toggle. */
int kvv_toggles_has_speed(kvv_toggles t);

/* ppl: which probe model (built from the case's seed, head dim and heads) */
typedef enum kvv_probe_kind {
    KVV_PROBE_LLAMA,  /* "probe": llama architecture, attention layers only */
    KVV_PROBE_HYBRID, /* "hybrid": recurrent layers interleaved with attention */
    KVV_PROBE_COUNT
} kvv_probe_kind;

typedef struct kvv_case {
    kvv_op op;
    kvv_type type_k; /* quant/dequant: the type under test */
    kvv_type type_v;
    int dk, dv;      /* head dims of K (and Q) and V; wht: row width */
    int group;       /* wht: rotation group; 0 = kvv_rot_group(dk) */
    int n_q, n_kv;   /* query rows, cache rows; quant/dequant/wht: rows = n_kv */
    int n_head, n_head_kv;
    kvv_mask mask;
    float max_bias;  /* ALiBi; 0 = off */
    float softcap;   /* logit softcap; 0 = off */
    float scale;     /* 0 = 1/sqrt(dk) */
    kvv_toggles tg;
    kvv_dist dist;
    uint64_t seed;
    kvv_probe_kind model; /* ppl only; n_q is the prefill chunk, n_kv the context */
} kvv_case;

/* A case with defaults for the op (one head, 64 rows, Gaussian, seed 1). */
kvv_case kvv_case_default(kvv_op op);

/* Stable name; returns the length that was (or would be) written. */
int kvv_case_name(const kvv_case *c, char *buf, size_t len);
/* Parse a full case name.  Returns 0, or -1 with a message in err. */
int kvv_case_parse(const char *name, kvv_case *c, char *err, size_t err_len);
/* Set one field by its name-part key (dist, seed, mask, alibi, softcap,
 * scale, cache, split, lut, threads, rot, var, isa, model); 0 or -1 with err. */
int kvv_case_set(kvv_case *c, const char *key, const char *val, char *err, size_t err_len);
/* Check a case's shapes and types before any work; 0, or -1 with a message. */
int kvv_case_validate(const kvv_case *c, char *err, size_t err_len);

/* The effective attention scale and the rows a non-attention case covers. */
float kvv_case_scale(const kvv_case *c);
int kvv_case_rows(const kvv_case *c);

/* The op table: what each op's cases are made of, one row per op (core/ops.c),
 * so that names, checks, runners, reports and generators look an op up
 * instead of switching over it.  The oracle's runners and rules are a table
 * of the same shape (oracle/run_case.c). */
typedef enum kvv_op_shape {
    KVV_SHAPE_ROWS,   /* rows of one type: "/TYPE/dD/rowsN" */
    KVV_SHAPE_GROUPS, /* rows rotated in groups: "/dD/gG/rowsN" */
    KVV_SHAPE_HEADS,  /* attention heads over a K/V cache: "/dD[/dvV]/K-V/nqQ/nkvN/hH/gqaG..." */
    KVV_SHAPE_COUNT
} kvv_op_shape;
enum { /* which ratio rules judge an op's cases (kvv_op_info.ratios) */
    KVV_RATIO_ARITH = 1,  /* arith: error against the reference's own rounding */
    KVV_RATIO_BUDGET = 2, /* budget: error against unquantized K/V */
    KVV_RATIO_PPL = 4     /* the share of a perplexity/KL bound used */
};
typedef struct kvv_op_info {
    kvv_op op;
    const char *name;  /* as in case names */
    const char *what;  /* one line */
    kvv_op_shape shape;
    int from_model;    /* inputs are a probe model and its corpus, not a distribution */
    int ratios;        /* KVV_RATIO_* */
    int fuzz_weight;   /* how often the random case generator draws it (0: never) */
} kvv_op_info;
/* The row of op, or NULL for a value outside the table. */
const kvv_op_info *kvv_op_get(kvv_op op);

const char *kvv_op_name(kvv_op op);
kvv_op kvv_op_from_name(const char *s);
const char *kvv_dist_name(kvv_dist d);
kvv_dist kvv_dist_from_name(const char *s);
const char *kvv_mask_name(kvv_mask m);
kvv_mask kvv_mask_from_name(const char *s);
const char *kvv_probe_name(kvv_probe_kind k);
kvv_probe_kind kvv_probe_from_name(const char *s);

#endif
