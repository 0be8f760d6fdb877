// TurboQuant tables (SPEC 3), as the bits of the f32 values the forks store
// (written as bits so that no shader compiler's decimal conversion is
// trusted).  Index 0 first, ascending.

const uint TQ_C2[4] = uint[](0xbe08aa43u, 0xbd23d0c0u, 0x3d23d0c0u, 0x3e08aa43u);
const uint TQ_M2[3] = uint[](0xbdb19e73u, 0x00000000u, 0x3db19e73u);
#ifndef KVV_FAULT_vk_wrong_table
const uint TQ_C3[8] = uint[](0xbe4342eeu, 0xbdf151e7u, 0xbd8696a2u, 0xbcafcce2u, 0x3cafcce2u, 0x3d8696a2u,
                             0x3df151e7u, 0x3e4342eeu);
#else
// mutant: this backend's 3-bit table has its inner pair at +-0.025, not
// +-0.02146 (one backend with another table, SPEC 5.13)
const uint TQ_C3[8] = uint[](0xbe4342eeu, 0xbdf151e7u, 0xbd8696a2u, 0xbccccccdu, 0x3ccccccdu, 0x3d8696a2u,
                             0x3df151e7u, 0x3e4342eeu);
#endif
const uint TQ_M3[7] = uint[](0xbe1df612u, 0xbdbbf488u, 0xbd328a61u, 0x00000000u, 0x3d328a61u, 0x3dbbf488u,
                             0x3e1df612u);
const uint TQ_C4[16] = uint[](0xbe775a75u, 0xbe3b4bf9u, 0xbe127aeau, 0xbde3760cu, 0xbdaaa21au, 0xbd6dd9c2u,
                              0xbd0c89b1u, 0xbc3a01efu, 0x3c3a01efu, 0x3d0c89b1u, 0x3d6dd9c2u, 0x3daaa21au,
                              0x3de3760cu, 0x3e127aeau, 0x3e3b4bf9u, 0x3e775a75u);
const uint TQ_M4[15] = uint[](0xbe595358u, 0xbe26e371u, 0xbe021af8u, 0xbdc70c13u, 0xbd90c77eu, 0xbd3d31bau,
                              0xbcbb0a2du, 0x00000000u, 0x3cbb0a2du, 0x3d3d31bau, 0x3d90c77eu, 0x3dc70c13u,
                              0x3e021af8u, 0x3e26e371u, 0x3e595358u);
// turbo4@narrow: the narrower 4-bit table and the midpoints its quantizer uses
const uint TQ_C4N[16] = uint[](0xbe3219a8u, 0xbdf003efu, 0xbdb759efu, 0xbd8ccff2u, 0xbd51f81au, 0xbd11ce29u,
                               0xbcabf120u, 0xbbe3582au, 0x3be3582au, 0x3cabf120u, 0x3d11ce29u, 0x3d51f81au,
                               0x3d8ccff2u, 0x3db759efu, 0x3df003efu, 0x3e3219a8u);
const uint TQ_M4N[15] = uint[](0xbe150daeu, 0xbdd3aeefu, 0xbda21533u, 0xbd75cbffu, 0xbd31e3a8u, 0xbce7c6b9u,
                               0xbc64c511u, 0x00000000u, 0x3c64c511u, 0x3ce7c6b9u, 0x3d31e3a8u, 0x3d75cbffu,
                               0x3da21533u, 0x3dd3aeefu, 0x3e150daeu);

// Rotation signs, packed: bit (e & 31) of word (e >> 5) set means -1.
const uint TQ_S1[4] = uint[](0xE46A0359u, 0x42F85949u, 0xA4C63BBBu, 0x49F250A9u);
const uint TQ_S2[4] = uint[](0x16ACEE90u, 0x3F628FDCu, 0xB7A5357Au, 0xBEA56562u);
const uint TQ_QJL_S1[4] = uint[](0x693A565Eu, 0x25622D30u, 0x0243E607u, 0xFEC58BDAu);
const uint TQ_QJL_S2[4] = uint[](0x3D172324u, 0x203007CBu, 0x9540A34Bu, 0x856B1126u);

// (float)(1/sqrt(g)) for g = 2^k, k = 0..7
const uint TQ_INV_SQRT[8] = uint[](0x3f800000u, 0x3f3504f3u, 0x3f000000u, 0x3eb504f3u, 0x3e800000u, 0x3e3504f3u,
                                   0x3e000000u, 0x3db504f3u);

const uint TQ_EPS = 0x2edbe6ffu;      // 1e-10f: the norm below which a group is zero
const uint TQ_QJL_SCALE = 0x3c206c99u; // 1.2533141373155003f / 128.0f (sqrt(pi/2) / 128)

// +1 or -1 as the sign bit to XOR into a value (0 or 0x80000000)
uint tq_sign_bit(uint w[4], uint e) { return ((w[e >> 5] >> (e & 31u)) & 1u) << 31; }
