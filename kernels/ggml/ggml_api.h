/* The slice of ggml's public C API that the adapter calls, declared here so
 * that the project carries no ggml header.  Checked against ggml 0.25.1
 * (llama.cpp 0ad4a86: ggml.h, ggml-alloc.h, ggml-backend.h, ggml-cpu.h).
 *
 * Everything ggml owns stays opaque (contexts, tensors, graphs, backends,
 * buffers, devices): the adapter goes through functions only, never through
 * struct fields, so ggml's tensor layout may change without breaking it.
 * The exceptions are the two traits structs, which ggml returns by pointer
 * and which the adapter reads; their layout has been stable since ggml
 * split the CPU traits out (2024), and ggml_api_load() checks that a known
 * type's traits read back sane values before trusting them.
 *
 * Enum values of types are not hard-coded here beyond the handful the
 * graphs need (f32, f16, i32, i64); the K/V types come from the type map
 * (ggml_typemap.c), which checks each against ggml_type_name(). */
#ifndef KVV_GGML_API_H
#define KVV_GGML_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ggml_context ggml_context;
typedef struct ggml_tensor ggml_tensor;
typedef struct ggml_cgraph ggml_cgraph;
typedef struct ggml_backend *gg_backend;
typedef struct ggml_backend_buffer *gg_buffer;
typedef struct ggml_backend_reg *gg_reg;
typedef struct ggml_backend_device *gg_dev;

/* struct ggml_init_params, passed by value to ggml_init */
typedef struct gg_init_params {
    size_t mem_size;
    void *mem_buffer;
    bool no_alloc;
} gg_init_params;

typedef void (*gg_to_float_fn)(const void *x, float *y, int64_t k);
typedef void (*gg_from_float_fn)(const float *x, void *y, int64_t k);

/* struct ggml_type_traits (ggml.h) */
typedef struct gg_type_traits {
    const char *type_name;
    int64_t blck_size;
    int64_t blck_size_interleave;
    size_t type_size;
    bool is_quantized;
    gg_to_float_fn to_float;
    gg_from_float_fn from_float_ref;
} gg_type_traits;

/* struct ggml_type_traits_cpu (ggml-cpu.h) */
typedef struct gg_type_traits_cpu {
    gg_from_float_fn from_float;
    void *vec_dot;
    int vec_dot_type; /* enum ggml_type */
    int64_t nrows;
} gg_type_traits_cpu;

/* enum ggml_type values the graphs themselves use (stable since ggml's
 * first releases; checked by name at load) */
enum { GG_TYPE_F32 = 0, GG_TYPE_F16 = 1, GG_TYPE_I32 = 26, GG_TYPE_I64 = 27 };
/* enum ggml_prec */
enum { GG_PREC_F32 = 10 };
/* enum ggml_log_level */
enum { GG_LOG_DEBUG = 1, GG_LOG_INFO = 2, GG_LOG_WARN = 3, GG_LOG_ERROR = 4, GG_LOG_CONT = 5 };
/* enum ggml_status */
enum { GG_STATUS_SUCCESS = 0 };

typedef void (*gg_log_fn)(int level, const char *text, void *user_data);

/* The functions, resolved by name from the loaded libraries.  One row of
 * ggml_load.c's symbol table per field. */
typedef struct gg_api {
    /* libggml-base */
    const char *(*version)(void);
    const char *(*commit)(void);
    ggml_context *(*init)(gg_init_params params);
    void (*free)(ggml_context *ctx);
    size_t (*tensor_overhead)(void);
    size_t (*graph_overhead)(void);
    ggml_tensor *(*new_tensor_1d)(ggml_context *ctx, int type, int64_t ne0);
    ggml_tensor *(*new_tensor_2d)(ggml_context *ctx, int type, int64_t ne0, int64_t ne1);
    ggml_tensor *(*new_tensor_3d)(ggml_context *ctx, int type, int64_t ne0, int64_t ne1, int64_t ne2);
    ggml_tensor *(*set_rows)(ggml_context *ctx, ggml_tensor *dst, ggml_tensor *src, ggml_tensor *rows);
    ggml_tensor *(*get_rows)(ggml_context *ctx, ggml_tensor *src, ggml_tensor *rows);
    ggml_tensor *(*flash_attn_ext)(ggml_context *ctx, ggml_tensor *q, ggml_tensor *k, ggml_tensor *v,
                                   ggml_tensor *mask, float scale, float max_bias, float logit_softcap);
    bool (*prec_set_acc)(ggml_tensor *t, int prec);
    /* a TurboQuant fork's rotation op; NULL elsewhere.  Declared with the
     * fork's latest signature (ggml_wht.c says why the earlier ones work) */
    ggml_tensor *(*turbo_wht)(ggml_context *ctx, ggml_tensor *a, int direction, int group_size, ggml_tensor *scale);
    ggml_tensor *(*cont)(ggml_context *ctx, ggml_tensor *a);
    ggml_cgraph *(*new_graph)(ggml_context *ctx);
    void (*build_forward_expand)(ggml_cgraph *g, ggml_tensor *t);
    size_t (*nbytes)(const ggml_tensor *t);
    const char *(*type_name)(int type);
    size_t (*type_size)(int type);
    int64_t (*blck_size)(int type);
    const gg_type_traits *(*get_type_traits)(int type);
    size_t (*quantize_chunk)(int type, const float *src, void *dst, int64_t start, int64_t nrows,
                             int64_t n_per_row, const float *imatrix);
    uint16_t (*fp32_to_fp16)(float x);
    void (*log_set)(gg_log_fn cb, void *user_data);
    size_t (*reg_dev_count)(gg_reg reg);
    gg_dev (*reg_dev_get)(gg_reg reg, size_t i);
    void *(*reg_get_proc_address)(gg_reg reg, const char *name);
    const char *(*dev_name)(gg_dev dev);
    const char *(*dev_description)(gg_dev dev);
    gg_backend (*dev_init)(gg_dev dev, const char *params);
    bool (*dev_supports_op)(gg_dev dev, const ggml_tensor *op);
    void (*backend_free)(gg_backend b);
    gg_buffer (*alloc_ctx_tensors)(ggml_context *ctx, gg_backend b);
    gg_buffer (*cpu_buffer_from_ptr)(void *ptr, size_t size);
    int (*tensor_alloc)(gg_buffer buf, ggml_tensor *t, void *addr);
    void (*buffer_free)(gg_buffer buf);
    void (*tensor_set)(ggml_tensor *t, const void *data, size_t offset, size_t size);
    void (*tensor_get)(const ggml_tensor *t, void *data, size_t offset, size_t size);
    int (*graph_compute)(gg_backend b, ggml_cgraph *g);

    /* the device library */
    gg_reg (*reg)(void);                                  /* ggml_backend_init, or ggml_backend_<dev>_reg */
    int (*score)(void);                                   /* ggml_backend_score; NULL in a non-DL build */
    const gg_type_traits_cpu *(*get_type_traits_cpu)(int type); /* CPU only */
    void (*cpu_init)(void);                               /* CPU only */
    /* through ggml_backend_reg_get_proc_address: CPU only */
    void (*set_n_threads)(gg_backend b, int n);
} gg_api;

#endif
