#version 450
// In-place rotation of rows in groups of g (a power of two, 1..128), the
// WHT op, and the "graph" rotation of Q and the attention output.  One
// workgroup per chunk of whole groups.

#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "turbo_tables.glsl"

layout(local_size_x_id = 0) in;
const uint CHUNK = 1024u; // values per workgroup (whole groups: g divides it)

layout(std430, binding = 0) buffer Data { float x[]; };

layout(push_constant) uniform Params {
    uint n, g, log2g, gx;
    uint inverse;
} pc;

shared float buf[CHUNK];
#define WHT_BUF buf
#include "wht.glsl"

void main()
{
    uint c0 = (gl_WorkGroupID.x + gl_WorkGroupID.y * pc.gx) * CHUNK;
    if (c0 >= pc.n)
        return;
    uint lid = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
    uint m = min(CHUNK, pc.n - c0);
    for (uint i = lid; i < m; i += wg)
        buf[i] = x[c0 + i];
    wht_shared(m, pc.g, pc.log2g, pc.inverse != 0u, lid, wg);
    for (uint i = lid; i < m; i += wg)
        x[c0 + i] = buf[i];
}
