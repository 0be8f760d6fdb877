/* Models for the end-to-end gate: the whole interface of model/.
 *
 * - GGUF v3 (v2 read too): a parser that is a pure function over a byte
 *   buffer (it never reads outside it and never trusts a count or an offset
 *   before checking it against the buffer), and a writer.
 * - A llama-family model loaded from GGUF (RMSNorm, RoPE, GQA attention,
 *   SwiGLU; weights f32/f16/bf16/q8_0/q4_0/q4_1/q5_0/q5_1/iq4_nl, dequantized
 *   once by the reference), plus the hybrid architecture "kvv-hybrid" that
 *   interleaves diagonal linear recurrences with attention layers.
 * - Two forward passes of the same model: the run, in f32 with K/V written
 *   into a backend's cache (backend->quantize_rows) and attention by
 *   backend->attention, and the reference, entirely in f64 with unquantized
 *   K/V (kvv_ref_attention).
 * - The probe model: weights constructed from a seed so that the model
 *   predicts its corpus well with sharp attention (see probe.c).
 * - Perplexity and KL-divergence statistics of a run against the reference.
 *
 * Only oracle/ and tools/ use this module. */
#ifndef KVV_MODEL_H
#define KVV_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "kvv/backend.h"
#include "kvv/types.h"

/* ======================= GGUF ======================= */

typedef enum kvv_gguf_type {
    KVV_GGUF_UINT8 = 0,
    KVV_GGUF_INT8 = 1,
    KVV_GGUF_UINT16 = 2,
    KVV_GGUF_INT16 = 3,
    KVV_GGUF_UINT32 = 4,
    KVV_GGUF_INT32 = 5,
    KVV_GGUF_FLOAT32 = 6,
    KVV_GGUF_BOOL = 7,
    KVV_GGUF_STRING = 8,
    KVV_GGUF_ARRAY = 9,
    KVV_GGUF_UINT64 = 10,
    KVV_GGUF_INT64 = 11,
    KVV_GGUF_FLOAT64 = 12,
    KVV_GGUF_TYPE_COUNT
} kvv_gguf_type;

/* ggml tensor type ids (the ones this project writes; the reader knows the
 * block sizes of more, see kvv_ggml_type_size). */
enum {
    KVV_GGML_F32 = 0,
    KVV_GGML_F16 = 1,
    KVV_GGML_Q4_0 = 2,
    KVV_GGML_Q4_1 = 3,
    KVV_GGML_Q5_0 = 6,
    KVV_GGML_Q5_1 = 7,
    KVV_GGML_Q8_0 = 8,
    KVV_GGML_IQ4_NL = 20,
    KVV_GGML_BF16 = 30
};

#define KVV_GGUF_MAGIC 0x46554747u /* "GGUF" little endian */
#define KVV_GGUF_VERSION 3u
#define KVV_GGUF_DEFAULT_ALIGNMENT 32u
#define KVV_GGUF_MAX_DIMS 4
#define KVV_GGUF_MAX_NAME 64 /* ggml's GGML_MAX_NAME, terminator included */

/* Values per block and bytes per block of a ggml type; 0 when unknown. */
int kvv_ggml_type_size(uint32_t ggml_type, int *block, int *bytes);
const char *kvv_ggml_type_name(uint32_t ggml_type);
/* The K/V-table type that holds the same bytes (KVV_TYPE_NONE if none). */
kvv_type kvv_ggml_to_kvv(uint32_t ggml_type);

typedef struct kvv_gguf_kv {
    char *key;               /* NUL-terminated copy */
    kvv_gguf_type type;
    kvv_gguf_type elem;      /* arrays: element type */
    uint64_t n;              /* arrays: element count; strings: byte length */
    const uint8_t *data;     /* into the buffer: the scalar's bytes, the string's bytes, or the array payload */
    const uint8_t **strs;    /* arrays of strings: n pointers to the string bytes ... */
    uint64_t *lens;          /* ... and their lengths */
} kvv_gguf_kv;

typedef struct kvv_gguf_tensor {
    char name[KVV_GGUF_MAX_NAME];
    int ndim;
    int64_t ne[KVV_GGUF_MAX_DIMS]; /* innermost first; unused dims 1 */
    uint32_t type;                 /* ggml type id */
    uint64_t offset;               /* from the start of the data section */
    uint64_t nbytes;
    const uint8_t *data;           /* into the buffer */
} kvv_gguf_tensor;

typedef struct kvv_gguf {
    uint32_t version;
    uint32_t alignment;
    uint64_t nkv, ntensors;
    kvv_gguf_kv *kv;
    kvv_gguf_tensor *tensors;
    uint64_t data_offset; /* start of the data section in the buffer */
} kvv_gguf;

/* Parse a whole GGUF file held in buf[0..size).  The result points into buf
 * (which must outlive it).  Returns 0, or -1 with a message in err (and g
 * left empty).  Never reads outside the buffer, whatever the bytes. */
int kvv_gguf_parse(const uint8_t *buf, size_t size, kvv_gguf *g, char *err, size_t err_len);
void kvv_gguf_free(kvv_gguf *g);

const kvv_gguf_kv *kvv_gguf_find(const kvv_gguf *g, const char *key);
const kvv_gguf_tensor *kvv_gguf_find_tensor(const kvv_gguf *g, const char *name);
/* Typed getters: 0 when present with a compatible type (any integer type for
 * kvv_gguf_get_int when the value fits; f32 or f64 for get_float; a string
 * for get_str, which returns the bytes and their length). */
int kvv_gguf_get_int(const kvv_gguf *g, const char *key, int64_t *out);
int kvv_gguf_get_float(const kvv_gguf *g, const char *key, double *out);
int kvv_gguf_get_str(const kvv_gguf *g, const char *key, const char **s, size_t *len);
/* Element i of an array of integers or floats, as double. */
double kvv_gguf_arr_num(const kvv_gguf_kv *kv, uint64_t i);

/* The writer: key/values and tensors in the order they are added, written
 * with general.alignment (added as a key when not the default). */
typedef struct kvv_gguf_writer kvv_gguf_writer;
kvv_gguf_writer *kvv_gguf_writer_new(uint32_t alignment);
void kvv_gguf_writer_free(kvv_gguf_writer *w);
/* A scalar (type < ARRAY, not STRING): val points to its little-endian bytes
 * of the type's size.  A string: val is the bytes, n their length.  An array:
 * elem is the element type, n the count, val the packed elements (for an
 * array of strings, val is a const char *const[n] of NUL-terminated strings). */
int kvv_gguf_add_kv(kvv_gguf_writer *w, const char *key, kvv_gguf_type type, kvv_gguf_type elem, uint64_t n,
                    const void *val);
int kvv_gguf_add_u32(kvv_gguf_writer *w, const char *key, uint32_t v);
int kvv_gguf_add_f32(kvv_gguf_writer *w, const char *key, float v);
int kvv_gguf_add_str(kvv_gguf_writer *w, const char *key, const char *s);
/* A tensor of ggml type `type` with ne[0..ndim) (innermost first); data is
 * copied, nbytes must match the shape. */
int kvv_gguf_add_tensor(kvv_gguf_writer *w, const char *name, uint32_t type, int ndim, const int64_t *ne,
                        const void *data, size_t nbytes);
/* The file's bytes (malloc'ed, caller frees); 0 or -1 with err. */
int kvv_gguf_write(const kvv_gguf_writer *w, uint8_t **out, size_t *size, char *err, size_t err_len);

/* ======================= models ======================= */

typedef enum kvv_layer_kind { KVV_LAYER_ATTENTION, KVV_LAYER_RECURRENT } kvv_layer_kind;

typedef struct kvv_model_layer {
    kvv_layer_kind kind;
    float *attn_norm;                /* [n_embd]: the pre-norm of either kind */
    float *wq, *wk, *wv, *wo;        /* attention: [n_head*dk][n_embd], [n_head_kv*dk][n_embd], .., [n_embd][n_head*dv] */
    float *ssm_in, *ssm_a, *ssm_out; /* recurrence: [n_state][n_embd], [n_state], [n_embd][n_state] */
    float *ffn_norm;                 /* [n_embd] */
    float *ffn_gate, *ffn_up;        /* [n_ff][n_embd] */
    float *ffn_down;                 /* [n_embd][n_ff] */
} kvv_model_layer;

typedef struct kvv_model {
    char arch[32];            /* "llama" or "kvv-hybrid" */
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, dk, dv, n_ff, n_state, n_ctx_train;
    double rope_base, rms_eps;
    float *tok_embd;          /* [n_vocab][n_embd] */
    float *out_norm;          /* [n_embd] */
    float *out;               /* [n_vocab][n_embd] (token_embd when output.weight is absent) */
    kvv_model_layer *layers;
    int n_attn_layers;
    /* tokenizer: the vocabulary's strings (greedy longest match, see tokenize.c) */
    char **tokens;
    int unk_id;
} kvv_model;

/* Build a model from a parsed GGUF: checks the architecture, every key the
 * forward pass needs and every tensor's name, type and shape; refuses what it
 * does not know (another architecture, an extra tensor, MoE, partial
 * rotary).  Returns 0 or -1 with err. */
int kvv_model_load(const kvv_gguf *g, kvv_model *m, char *err, size_t err_len);
/* Read a file and load it. */
int kvv_model_load_file(const char *path, kvv_model *m, char *err, size_t err_len);
void kvv_model_free(kvv_model *m);

/* Greedy longest-match tokenization over the vocabulary's strings; bytes no
 * token covers become unk_id.  Returns the token count written (at most max). */
int kvv_model_tokenize(const kvv_model *m, const char *text, size_t len, int32_t *tokens, int max);

/* ---- forward passes ----
 * Both return logits for every position of tokens[0..n) (position i holds the
 * distribution of token i+1).  The run processes the tokens in prefill chunks
 * of `chunk` tokens and then one token at a time for the last `tail` tokens,
 * so that the cache written by earlier chunks is read back.  Call order on
 * the backend, which defective-backend tests rely on: for each chunk, for
 * each attention layer in order: quantize_rows(K), quantize_rows(V),
 * attention. */
/* How the buffers a backend writes in the run (the K and V rows it
 * quantizes, the attention output) are made and checked: alloc(n, what)
 * gives n zeroed bytes named `what` (a string literal), check(p, n, why)
 * after each call returns 0, or -1 with why (e.g. "backend wrote 8 bytes
 * past out (a buffer of N bytes)"), which fails the run; free releases.
 * The oracle's guard zones (kvv_guarded_buffers). */
typedef struct kvv_model_buffers {
    void *(*alloc)(size_t n, const char *what);
    int (*check)(const void *p, size_t n, const char *what, char *why, size_t why_len);
    void (*free)(void *p);
} kvv_model_buffers;

typedef struct kvv_model_run_opts {
    const kvv_backend *backend;
    kvv_type type_k, type_v;
    kvv_toggles tg;
    int chunk; /* prefill chunk (>= 1) */
    int tail;  /* tokens decoded one at a time at the end (>= 0) */
    const kvv_model_buffers *buffers; /* NULL: plain buffers, not checked */
} kvv_model_run_opts;

/* f32 run through the backend.  logits: [n][n_vocab].  Returns KVV_OK, or the
 * backend's status (KVV_UNSUPPORTED / KVV_FAILED) or -1 (bad arguments, no
 * memory) with err; `stage` names the backend call that failed. */
int kvv_model_run(const kvv_model *m, const kvv_model_run_opts *o, const int32_t *tokens, int n, float *logits,
                  char *err, size_t err_len);

/* Per attention layer: the mean over heads and query positions of the
 * largest attention weight (1 = attends to one key, 1/n = uniform). */
typedef struct kvv_ref_stats {
    double max_weight[16];
    int n_layers;
} kvv_ref_stats;
/* f64 reference.  logits: [n][n_vocab]; stats may be NULL.  0 or -1 with err. */
int kvv_model_reference(const kvv_model *m, const int32_t *tokens, int n, double *logits, kvv_ref_stats *stats,
                        char *err, size_t err_len);

/* ---- statistics of a run against the reference ---- */
typedef struct kvv_ppl_stats {
    int n;                 /* positions scored (tokens 1..n) */
    double ppl_ref, ppl_run, ratio;
    double kl_mean, kl_p99, kl_max; /* KL(ref || run) in nats per position */
    double top1;           /* fraction of positions where both argmax agree */
    int nonfinite;         /* positions whose run logits hold NaN or Inf */
    int first_nonfinite;   /* the first such position, -1 if none */
} kvv_ppl_stats;
/* Scores positions 0..n-2 (predicting tokens[1..n-1]). */
int kvv_ppl_compare(const double *ref, const float *run, const int32_t *tokens, int n, int n_vocab,
                    kvv_ppl_stats *s);

/* ======================= the probe model ======================= */

typedef struct kvv_probe_params {
    uint64_t seed;
    int head_dim;   /* 64, 128 or 256 */
    int n_head, n_head_kv;
    int hybrid;     /* interleave recurrent layers with the attention layers */
    uint32_t wtype; /* ggml type of the weight matrices (f32, f16, bf16, q8_0, q4_0, ...) */
} kvv_probe_params;

/* Defaults: seed 1, head_dim 128, 8 heads, 2 KV heads, no hybrid, f16. */
kvv_probe_params kvv_probe_default(void);
/* Whether the probe can be built with these shapes and weight type: 0, or
 * -1 with err naming what is impossible. */
int kvv_probe_check(const kvv_probe_params *p, char *err, size_t err_len);
/* Build the probe model as GGUF bytes (malloc'ed) for a corpus: the corpus
 * fixes the vocabulary's n-gram statistics the model knows.  0 or -1 with err. */
int kvv_probe_build(const kvv_probe_params *p, const char *corpus, size_t corpus_len, uint8_t **gguf,
                    size_t *size, char *err, size_t err_len);

/* The corpus that ships with the probe (corpora/probe.txt, found through
 * $KVV_CORPORA_DIR or the source tree this was built from).  Returns the
 * path written into buf, or NULL. */
const char *kvv_corpus_path(const char *file, char *buf, size_t len);
/* Whole file into a malloc'ed, NUL-terminated buffer; NULL with err. */
char *kvv_read_file(const char *path, size_t *len, char *err, size_t err_len);

#endif
