#version 450
// Dequantize rows of any kvverify type to f32 (OUT_F16 = 0) or to f16
// (OUT_F16 = 1: the "f16 dequant cache" of attention, K or V written once
// and read by every query).  One invocation per output word over the whole
// tensor, so every word has one writer.

#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
#include "turbo_tables.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TYPE = 3u;
layout(constant_id = 2) const uint LUT = 8u;
layout(constant_id = 3) const uint OUT_F16 = 0u;

layout(std430, binding = 0) readonly buffer Src { uint src[]; };
layout(std430, binding = 1) writeonly buffer Dst { uint dst[]; };

layout(push_constant) uniform Params {
    uint nrows, ncols, row_bytes, gx;
} pc;

#define DQ_NAME dq
#define DQ_BUF src
#include "dequant_elem.glsl"

float elem(uint e) { return dq(TYPE, (e / pc.ncols) * pc.row_bytes, e % pc.ncols, LUT); }

void main()
{
    uint w = (gl_WorkGroupID.x + gl_WorkGroupID.y * pc.gx) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    uint n = pc.nrows * pc.ncols;
    if (OUT_F16 == 0u) {
        if (w < n)
            dst[w] = floatBitsToUint(elem(w));
        return;
    }
    uint e = 2u * w;
    if (e >= n)
        return;
    uint lo = f32_to_f16_bits(floatBitsToUint(elem(e)));
    uint hi = e + 1u < n ? f32_to_f16_bits(floatBitsToUint(elem(e + 1u))) : 0u;
    dst[w] = lo | (hi << 16);
}
