/* The op table of include/kvv/case.h: one row per op. */
#include "kvv/case.h"

static const kvv_op_info ops[KVV_OP_COUNT] = {
    [KVV_OP_QUANT] = {KVV_OP_QUANT, "quant", "quantize rows (set_rows)", KVV_SHAPE_ROWS, 0, 0, 4},
    [KVV_OP_DEQUANT] = {KVV_OP_DEQUANT, "dequant", "dequantize canonical bytes", KVV_SHAPE_ROWS, 0, 0, 3},
    [KVV_OP_WHT] = {KVV_OP_WHT, "wht", "forward and inverse rotation of rows in groups", KVV_SHAPE_GROUPS, 0,
                    KVV_RATIO_ARITH, 2},
    [KVV_OP_ATTN] = {KVV_OP_ATTN, "attn", "quantize K/V, then flash attention over the cache", KVV_SHAPE_HEADS, 0,
                     KVV_RATIO_ARITH | KVV_RATIO_BUDGET, 11},
    [KVV_OP_PPL] = {KVV_OP_PPL, "ppl", "the probe model end to end: perplexity and KL divergence", KVV_SHAPE_HEADS, 1,
                    KVV_RATIO_PPL, 0},
};

const kvv_op_info *kvv_op_get(kvv_op op) { return (unsigned)op < KVV_OP_COUNT ? &ops[op] : NULL; }
