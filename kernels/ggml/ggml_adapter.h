/* The ggml adapter's internal interface: a kvverify backend (plugin ABI)
 * around a dlopen'ed ggml build.  Files:
 *   ggml_adapter.c   options, the kvv_backend table, the exported symbols
 *   ggml_load.c      finding and loading libggml-base and a device library
 *   ggml_typemap.c   kvverify types <-> ggml enum values: the upstream rows,
 *                    the library's own TurboQuant types found and probed,
 *                    and a map file as an override
 *   ggml_formats.c   the TurboQuant format versions (layout, levels, decoder)
 *   ggml_probe.c     which format version a library type stores, read from
 *                    its own dequantizer
 *   ggml_graph.c     running a one-op graph on the device
 *   ggml_child.c     asking whether ggml takes a node, in a child process
 *   ggml_ops.c       quantize, dequantize, attention and its precision report */
#ifndef KVV_GGML_ADAPTER_H
#define KVV_GGML_ADAPTER_H

#include <pthread.h>
#include <stddef.h>

#include "kernels/ggml/ggml_api.h"
#include "kvv/backend.h"

/* ---- ggml_formats.c ---- */
typedef enum { GF_2BIT, GF_2BIT_SIGN, GF_NIBBLE, GF_3BIT_STREAM } gf_pack;
typedef struct gg_format {
    kvv_type type;      /* the kvverify row */
    const char *name;   /* "turbo3@qk128" */
    const char *cache;  /* the cache type it is a version of: "turbo3" */
    int block, bytes, levels;
    gf_pack pack;
    int qs;             /* byte offset of the index bits */
    int rnorm;          /* bytes 2-3 scale a QJL residual term (turbo4@qjl) */
    const float *table; /* levels values, ascending */
} gg_format;
const gg_format *gg_formats(int *n);
const gg_format *gg_format_of(kvv_type t); /* NULL: not a TurboQuant version */
const char *gg_pack_name(gf_pack p);
int gg_format_index_bits(const gg_format *f);
/* where index bit s of value j lives */
void gg_format_bit(const gg_format *f, int j, int s, int *byte, int *bit);
int gg_format_index(const gg_format *f, const uint8_t *blk, int j);
void gg_format_set_index(const gg_format *f, uint8_t *blk, int j, int idx);
/* one block as a correct dequantizer gives it (QJL term not modelled) */
void gg_format_decode(const gg_format *f, const uint8_t *blk, float *out);
float gg_f16_to_f32(uint16_t h);

/* ---- ggml_probe.c ---- */
typedef struct gg_probe {
    kvv_type match;   /* the format version it stores; KVV_TYPE_NONE: none known */
    int known_family; /* its name is one of kvverify's cache types */
    int crashed;      /* its to_float crashed or hung while probed */
    char family[16];  /* "turbo3"; "" for a name that is not a TurboQuant type */
    char text[720];   /* what was read, and the verdict */
} gg_probe;
/* The family of a library type name ("turbo3_0" -> "turbo3"; "" if none). */
void gg_probe_family(const char *name, char *fam, size_t n);
/* Whether a family is one of kvverify's cache types. */
int gg_probe_family_known(const char *fam);
/* Probe the library type `name` (ggml enum ggml, block values in bytes)
 * through its to_float, against every version of its family, or only
 * against `only` (a map file's claim; KVV_TYPE_NONE: by the name). */
void gg_probe_type(gg_to_float_fn to_float, const char *name, int ggml, int64_t block, size_t bytes, kvv_type only,
                   gg_probe *p);

/* How a type's bytes are produced. */
typedef enum { GG_Q_NONE, GG_Q_SET_ROWS, GG_Q_CHUNK } gg_quant_path;

/* One kvverify type served by ggml. */
typedef struct gg_type_entry {
    int ggml;                /* enum ggml_type; -1 = not served */
    char ggml_name[32];      /* what ggml_type_name() must say for it */
    gg_quant_path quant;     /* set_rows (the cache write) or ggml_quantize_chunk */
    int from_file;           /* a map file's row (checked by the probe, not replaced by discovery) */
} gg_type_entry;

/* A TurboQuant type the library has, and what the probe read of it. */
typedef struct gg_found {
    int ggml;
    char name[32];
    int64_t block;
    size_t bytes;
    gg_probe probe;
} gg_found;
#define GG_MAX_FOUND 16

typedef struct gg_typemap {
    gg_type_entry e[KVV_TYPE_COUNT];
    gg_found found[GG_MAX_FOUND];
    int nfound;
} gg_typemap;

/* What ggml_turbo_wht said of one (row width, group, direction). */
typedef struct gg_wht_memo {
    int ncols, group, inverse, ok, recorded;
    char why[300];
} gg_wht_memo;
#define GG_WHT_MEMO 48

/* The adapter's cache of the Q-conversion allowance (ggml_ops.c). */
typedef struct gg_qcache {
    void *q, *k;          /* copies of the inputs it was computed for */
    size_t qbytes, kbytes;
    int key[8];
    double uk;
} gg_qcache;

typedef struct gg_adapter {
    kvv_backend table; /* first: the host sees this */
    gg_api api;
    int is_cpu;
    char device[16];   /* "cpu" or "vulkan" */
    char dir[1024];
    char variant[64];  /* the CPU library chosen ("icelake"), or the device library's name */
    gg_reg reg;
    gg_dev dev;
    gg_backend be;
    int threads;       /* what set_n_threads was last given */
    gg_typemap map;
    int rot_host;      /* rotated types: rotate Q / the output on the host */
    int quant_chunk;   /* quant=chunk: every type through ggml_quantize_chunk */
    size_t stack_bytes; /* stack=KIB: the library's work on threads of this stack (0: the caller's) */
    gg_qcache qc;
    int mask_pad;      /* the attention mask's rows, a multiple of this (0: not asked yet; -1: refused) */
    char mask_why[300];
    int layout_ok;     /* ggml_layout.c: op_params can be read */
    char layout_why[200];
    gg_wht_memo wht_memo[GG_WHT_MEMO];
    int nwht_memo;
    pthread_mutex_t lock; /* ggml's backend objects are not for concurrent use */
    char name[64];
    char description[1024];
} gg_adapter;

/* ---- ggml_load.c ---- */
/* Load the libraries of one device from dir ("cpu": libggml-base.so and the
 * best libggml-cpu*.so, or the one named by cpu_variant; "vulkan":
 * libggml-vulkan.so), resolve the API and start a backend on its first
 * device.  0, or -1 with why. */
int gg_load(gg_adapter *A, const char *cpu_variant, char *why, size_t n);
/* The last warning or error ggml logged ("" if none). */
const char *gg_log_last(void);

/* ---- ggml_typemap.c ---- */
/* kvverify's type names and formats, as a plugin sees them: the
 * header-only facts of include/kvv/formats.def (the host's type table is
 * not linked into plugins).  NULL for a value that is no row. */
typedef kvv_format gg_kvv_type;
const gg_kvv_type *gg_kvv_type_get(kvv_type t);
/* The upstream map: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 iq4_nl (set_rows)
 * and iq4_nl@search (ggml_quantize_chunk); with chunk = 1 every type is
 * made by ggml_quantize_chunk, and iq4_nl (which it cannot make) is off. */
void gg_typemap_default(gg_typemap *m, int chunk);
/* Add or replace rows from a file (see README "ggml adapter"). */
int gg_typemap_load(gg_typemap *m, const char *path, char *why, size_t n);
/* Check every row against the loaded library: ggml_type_name and block
 * size/bytes must agree, and the probe must read a map file's TurboQuant
 * rows as what they claim; rows that fail are an error, not a silent skip. */
int gg_typemap_check(const gg_typemap *m, const gg_api *api, char *why, size_t n);
/* Walk the library's type table; probe every type named turbo<N> and serve
 * the format version it matches (rows of a map file stay as given).
 * Returns how many such types the library has. */
int gg_typemap_discover(gg_typemap *m, const gg_api *api, int chunk);
/* What the probe read from a library type of t's cache type that matches
 * no format version (t's cases must fail with it), or NULL; *crashed (may
 * be NULL) says whether its to_float crashed while probed. */
const char *gg_typemap_broken(const gg_typemap *m, kvv_type t, int *crashed);
/* The library type behind it (NULL when t is not broken). */
const gg_found *gg_typemap_broken_found(const gg_typemap *m, kvv_type t);
/* The row in which the library stores cache type `cache` (KVV_TYPE_NONE:
 * none), and in note how that is known. */
kvv_type gg_typemap_stored_as(const gg_typemap *m, kvv_type cache, char *note, size_t n);
/* "turbo2 (42) = turbo2@qk128, turbo3 (43) = ..." */
void gg_typemap_summary(const gg_typemap *m, char *out, size_t n);

/* ---- ggml_graph.c ---- */
/* A one-op graph whose tensors are bound to host memory. */
#define GG_JOB_MAX 8
enum { GG_IN = 1, GG_OUT = 2, GG_WRAP = 4 /* on the CPU device, use the host memory in place when aligned */ };
typedef struct gg_job {
    gg_adapter *A;
    ggml_context *ctx;
    struct {
        ggml_tensor *t;
        void *host;
        int flags;
        int wrapped;
    } io[GG_JOB_MAX];
    int nio;
    gg_buffer bufs[GG_JOB_MAX + 1];
    int nbufs;
} gg_job;
int gg_job_begin(gg_job *j, gg_adapter *A, char *why, size_t n);
/* A new tensor of the graph bound to host memory (NULL: ggml's own). */
ggml_tensor *gg_job_tensor(gg_job *j, int type, int64_t ne0, int64_t ne1, int64_t ne2, void *host, int flags);
/* Bind a tensor ggml made (an op's result) to host memory. */
void gg_job_bind(gg_job *j, ggml_tensor *t, void *host, int flags);
/* Whether the device runs op; if not, why says so, naming `what`. */
int gg_job_supported(gg_job *j, const ggml_tensor *op, const char *what, char *why, size_t n);
/* Allocate, upload the inputs, compute op, download the outputs.  KVV_OK,
 * or KVV_FAILED with why. */
int gg_job_run(gg_job *j, ggml_tensor *op, int threads, char *why, size_t n);
void gg_job_end(gg_job *j);

/* ---- ggml_child.c ---- */
/* Builds a node in the child; 1 when built, with *answer what to report. */
typedef int (*gg_child_fn)(gg_adapter *A, const void *arg, int *answer);
/* Run fn in a child process (its assertions abort only the child): 1 when
 * it built its node (*answer: what it reported), 0 with ggml's message. */
int gg_ask_child(gg_adapter *A, gg_child_fn fn, const void *arg, int *answer, char *msg, size_t n);
/* The attention mask's rows are n_q rounded up to a multiple of this (1, or
 * 64 where ggml asserts GGML_KQ_MASK_PAD); -1 with why when ggml takes
 * neither.  Asked once per adapter. */
int gg_mask_pad(gg_adapter *A, char *why, size_t n);

/* ---- ggml_layout.c ---- */
/* Check that tensors are laid out as the adapter reads them (sets
 * layout_ok); 0, or -1 with why. */
int gg_layout_check(gg_adapter *A, char *why, size_t n);
/* op_params[i] of a node (0 when the layout is not known). */
int32_t gg_op_param(const gg_adapter *A, const ggml_tensor *t, int i);

/* ---- ggml_wht.c ---- */
/* Whether the library has a usable ggml_turbo_wht; if not, why. */
int gg_wht_available(const gg_adapter *A, char *why, size_t n);
/* A ggml_turbo_wht node over x (rows of ncols), or NULL with why when the
 * op refuses that group (asked in a child process: its assertions abort). */
ggml_tensor *gg_wht_node(gg_adapter *A, ggml_context *ctx, ggml_tensor *x, int64_t ncols, int inverse, int group,
                         char *why, size_t n);
/* The WHT entry point on the fork's op. */
int gg_wht(gg_adapter *A, float *x, int64_t nrows, int64_t ncols, int group, int inverse, const kvv_toggles *tg,
           char *why, size_t n);

/* ---- ggml_ops.c ---- */
/* Threads for a call: the case's, else every CPU. */
int gg_threads_of(const kvv_toggles *tg);
/* Why type t is not served (for a type the map lacks); KVV_UNSUPPORTED. */
int gg_decline_type(const gg_adapter *A, kvv_type t, char *why, size_t n);
int gg_quantize(gg_adapter *A, kvv_type t, const float *src, void *dst, int64_t nrows, int64_t ncols,
                const kvv_toggles *tg, char *why, size_t n);
int gg_dequantize(gg_adapter *A, kvv_type t, const void *src, float *dst, int64_t nrows, int64_t ncols,
                  const kvv_toggles *tg, char *why, size_t n);
int gg_attention(gg_adapter *A, const kvv_attn_args *a, float *out, kvv_attn_info *info, char *why, size_t n);
void gg_qcache_free(gg_qcache *c);

#endif
