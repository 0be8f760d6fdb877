/* The reference's row of functions for every type (kvv_type order). */
#include "ref/quant/quant.h"

static const kvv_ref_type *const rows[KVV_TYPE_COUNT] = {
    [KVV_F32] = &kvv_rq_f32,
    [KVV_F16] = &kvv_rq_f16,
    [KVV_BF16] = &kvv_rq_bf16,
    [KVV_Q8_0] = &kvv_rq_q8_0,
    [KVV_Q4_0] = &kvv_rq_q4_0,
    [KVV_Q4_1] = &kvv_rq_q4_1,
    [KVV_Q5_0] = &kvv_rq_q5_0,
    [KVV_Q5_1] = &kvv_rq_q5_1,
    [KVV_IQ4_NL] = &kvv_rq_iq4_nl,
    [KVV_IQ4_NL_SEARCH] = &kvv_rq_iq4_nl_search,
    [KVV_TURBO2] = &kvv_rq_turbo2,
    [KVV_TURBO2_QK128] = &kvv_rq_turbo2_qk128,
    [KVV_TURBO3] = &kvv_rq_turbo3,
    [KVV_TURBO3_QK128] = &kvv_rq_turbo3_qk128,
    [KVV_TURBO4] = &kvv_rq_turbo4,
    [KVV_TURBO4_QJL] = &kvv_rq_turbo4_qjl,
    [KVV_TURBO4_NARROW] = &kvv_rq_turbo4_narrow,
};

const kvv_ref_type *kvv_ref_type_get(kvv_type t)
{
    if ((int)t < 0 || t >= KVV_TYPE_COUNT)
        return NULL;
    return rows[t];
}
