// One dequantized element of a K/V row: the f32 value the reference's
// dequantizer gives (rotated basis for turbo types).  Included once per
// buffer it reads, with DQ_NAME (the function) and DQ_BUF (a uint[] buffer
// member) defined, because GLSL cannot pass a buffer to a function.
//
//   float DQ_NAME(uint t, uint ro, uint j, uint lut)
//     t: type, ro: byte offset of the row in DQ_BUF, j: element, lut: 8 or 4
//
// Native f32 arithmetic, `precise` (no contraction): each value is one or
// two correctly rounded operations on exact inputs, none of them near the
// subnormal range, so it matches the reference bit for bit.  Needs
// common.glsl and turbo_tables.glsl.

float DQ_NAME(uint t, uint ro, uint j, uint lut)
{
    if (t == T_F32)
        return uintBitsToFloat(DQ_BUF[(ro >> 2) + j]);
    if (t == T_F16)
        return f16_to_f32(RD16(DQ_BUF, ro + 2u * j));
    if (t == T_BF16)
        return uintBitsToFloat(RD16(DQ_BUF, ro + 2u * j) << 16);
    uint B = TYPE_BLOCK[t];
    uint bo = ro + (j / B) * TYPE_BYTES[t], e = j % B;
    precise float r;
    if (t == T_Q8_0) {
        float d = f16_to_f32(RD16(DQ_BUF, bo));
        r = float(int(RD8(DQ_BUF, bo + 2u + e)) - (RD8(DQ_BUF, bo + 2u + e) >= 128u ? 256 : 0)) * d;
    } else if (!type_is_turbo(t)) {
        // ggml 32-blocks: nibble e (low) or e-16 (high), fifth bit from qh
        bool has_m = t == T_Q4_1 || t == T_Q5_1, five = t == T_Q5_0 || t == T_Q5_1;
        uint qs = bo + 2u + (has_m ? 2u : 0u) + (five ? 4u : 0u);
        uint q = (RD8(DQ_BUF, qs + (e & 15u)) >> (e >= 16u ? 4u : 0u)) & 15u;
        if (five) {
            uint qh = bo + 2u + (has_m ? 2u : 0u);
            q |= ((RD8(DQ_BUF, qh + (e >> 3)) >> (e & 7u)) & 1u) << 4;
        }
        float d = f16_to_f32(RD16(DQ_BUF, bo));
        if (t == T_IQ4_NL || t == T_IQ4_NL_SEARCH) {
            const int grid[16] = int[](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
            r = d * float(grid[q]);
        } else if (has_m) {
            precise float v = float(q) * d;
            r = v + f16_to_f32(RD16(DQ_BUF, bo + 2u));
        } else {
            r = float(int(q) - (five ? 16 : 8)) * d;
        }
    } else {
        float norm = f16_to_f32(RD16(DQ_BUF, bo));
        if (t == T_TURBO4 || t == T_TURBO4_NARROW) {
            uint q = (RD8(DQ_BUF, bo + 4u + e / 2u) >> (4u * (e & 1u))) & 15u;
            r = uintBitsToFloat(t == T_TURBO4 ? TQ_C4[q] : TQ_C4N[q]) * norm;
        } else if (t == T_TURBO4_QJL) {
            // 3-bit index from the bit stream
            uint bit = 3u * e;
            uint w = RD8(DQ_BUF, bo + 4u + bit / 8u) | (bit / 8u + 1u < 48u ? RD8(DQ_BUF, bo + 5u + bit / 8u) << 8 : 0u);
            uint q = (w >> (bit & 7u)) & 7u;
            // the QJL term: the transposed transform of the sign vector.  Its
            // butterfly adds and subtracts +-1 values, so element e is the
            // exact integer sum over i of sign_i * S2_i * (-1)^popcount(i & e):
            // 128 minus twice the count of negative terms, counted 32 at a
            // time on the packed bits (the sign bytes start 4-aligned: 68 | bo).
            uint walsh = 0u; // bit b: parity(b & e) for b < 32
            walsh ^= (e & 1u) != 0u ? 0xAAAAAAAAu : 0u;
            walsh ^= (e & 2u) != 0u ? 0xCCCCCCCCu : 0u;
            walsh ^= (e & 4u) != 0u ? 0xF0F0F0F0u : 0u;
            walsh ^= (e & 8u) != 0u ? 0xFF00FF00u : 0u;
            walsh ^= (e & 16u) != 0u ? 0xFFFF0000u : 0u;
            int neg = 0;
            for (uint k = 0u; k < 4u; k++) {
                uint signs = DQ_BUF[((bo + 52u) >> 2) + k]; // set bit: +1
                uint par = (bitCount(k & (e >> 5)) & 1) != 0 ? ~walsh : walsh;
                neg += bitCount(~signs ^ TQ_QJL_S2[k] ^ par);
            }
            int p = 128 - 2 * neg;
            precise float v = float(p) * uintBitsToFloat(TQ_INV_SQRT[7] ^ tq_sign_bit(TQ_QJL_S1, e));
            precise float sc = uintBitsToFloat(TQ_QJL_SCALE) * f16_to_f32(RD16(DQ_BUF, bo + 2u));
            precise float qq = v * sc;
            precise float c = uintBitsToFloat(TQ_C3[q]) + qq;
            r = c * norm;
        } else {
            uint q = (RD8(DQ_BUF, bo + 2u + e / 4u) >> (2u * (e & 3u))) & 3u;
            if (t == T_TURBO2 || t == T_TURBO2_QK128) {
                r = uintBitsToFloat(TQ_C2[q]) * norm;
            } else {
                uint s = (RD8(DQ_BUF, bo + 2u + B / 4u + e / 8u) >> (e & 7u)) & 1u;
                if (lut == 4u) {
                    // sign + 4 magnitudes: equal bits because C3 is symmetric
                    precise float v = uintBitsToFloat(TQ_C3[4u + (q ^ (s != 0u ? 0u : 3u))]) * norm;
                    r = s != 0u ? v : -v;
                } else {
                    r = uintBitsToFloat(TQ_C3[q | (s << 2)]) * norm;
                }
            }
        }
    }
    return r;
}
