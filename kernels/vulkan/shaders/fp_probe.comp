#version 450
// What the device's native f32 arithmetic does: one invocation computes a
// few sums and products whose correctly rounded results differ between
// rounding to nearest even and toward zero, and one whose result is
// subnormal.  The host compares them with the IEEE answers (vk_probe.c).
// Dequantization and attention use native arithmetic and rely on it.

layout(local_size_x = 1) in;
layout(std430, binding = 0) readonly buffer Src { float a[]; };
layout(std430, binding = 1) writeonly buffer Dst { float r[]; };

void main()
{
    for (uint i = 0u; i < 4u; i++) {
        precise float s = a[2u * i] + a[2u * i + 1u];
        precise float p = a[2u * i] * a[2u * i + 1u];
        r[2u * i] = s;
        r[2u * i + 1u] = p;
    }
}
