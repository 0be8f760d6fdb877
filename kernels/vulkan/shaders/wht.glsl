// The rotation of SPEC 3.4 on f32 values in shared memory, native
// arithmetic (`precise`: each butterfly is one rounded add or subtract).
// Forward: times S1, butterfly, times S2/sqrt(g); inverse: S2 first, S1
// last.  WHT_BUF is a shared float array holding whole groups of WHT_G
// values from offset 0 to n; every invocation of the workgroup must call
// wht_shared (it has barriers).  Needs turbo_tables.glsl.

void wht_shared(uint n, uint g, uint log2g, bool inverse, uint lid, uint wg)
{
    barrier();
    for (uint i = lid; i < n; i += wg) {
        uint s = tq_sign_bit(inverse ? TQ_S2 : TQ_S1, i % g);
        WHT_BUF[i] = uintBitsToFloat(floatBitsToUint(WHT_BUF[i]) ^ s);
    }
    barrier();
    for (uint h = 1u; h < g; h <<= 1) {
        for (uint p = lid; p < n / 2u; p += wg) {
            uint j = (p / h) * 2u * h + (p % h);
            precise float a = WHT_BUF[j], b = WHT_BUF[j + h];
            precise float sum = a + b, dif = a - b;
            WHT_BUF[j] = sum;
            WHT_BUF[j + h] = dif;
        }
        barrier();
    }
    for (uint i = lid; i < n; i += wg) {
        uint s = tq_sign_bit(inverse ? TQ_S1 : TQ_S2, i % g);
        precise float v = WHT_BUF[i] * uintBitsToFloat(TQ_INV_SQRT[log2g] ^ s);
        WHT_BUF[i] = v;
    }
    barrier();
}
