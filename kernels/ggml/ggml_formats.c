/* The TurboQuant format versions as the adapter knows them: geometry, where
 * each index bit lives, the level table, and a decoder of one block.  These
 * are the facts a format probe (ggml_probe.c) compares a library's own
 * dequantizer against, to say which version a fork's type is.  The rows are
 * the TurboQuant rows of include/kvv/formats.def; their bits and tables are
 * written out here from SPEC 3, not taken from ref/: the adapter is a plugin
 * and links no kvverify module. */
#include <math.h>
#include <string.h>

#include "kernels/ggml/ggml_adapter.h"

static const float C2[4] = {-0.133462f, -0.039994f, 0.039994f, 0.133462f};
static const float C3[8] = {-0.190685f, -0.117832f, -0.065717f, -0.021460f,
                            0.021460f,  0.065717f,  0.117832f,  0.190685f};
static const float C4[16] = {-0.241556f, -0.182907f, -0.143047f, -0.111065f, -0.083317f, -0.058069f,
                             -0.034311f, -0.011353f, 0.011353f,  0.034311f,  0.058069f,  0.083317f,
                             0.111065f,  0.143047f,  0.182907f,  0.241556f};
static const float C4N[16] = {-0.173926f, -0.117195f, -0.089527f, -0.068756f, -0.051262f, -0.035597f,
                              -0.020989f, -0.006938f, 0.006938f,  0.020989f,  0.035597f,  0.051262f,
                              0.068756f,  0.089527f,  0.117195f,  0.173926f};

/* Where each TurboQuant row keeps its index bits and which levels it uses:
 * the adapter's own reading of SPEC 3 (a row of kvv/formats.def without its
 * GG_LAYOUT_ here does not compile).  Name, cache type, block, bytes and
 * levels come from the list. */
#define GG_LAYOUT_TURBO2 GF_2BIT, 2, 0, C2
#define GG_LAYOUT_TURBO2_QK128 GF_2BIT, 2, 0, C2
#define GG_LAYOUT_TURBO3 GF_2BIT_SIGN, 2, 0, C3
#define GG_LAYOUT_TURBO3_QK128 GF_2BIT_SIGN, 2, 0, C3
#define GG_LAYOUT_TURBO4 GF_NIBBLE, 4, 0, C4
#define GG_LAYOUT_TURBO4_QJL GF_3BIT_STREAM, 4, 1, C3
#define GG_LAYOUT_TURBO4_NARROW GF_NIBBLE, 4, 0, C4N

#define GG_ROW_FLOAT(id, name, cache, block, bytes, bits)
#define GG_ROW_BLOCK(id, name, cache, block, bytes, bits)
#define GG_ROW_TURBO(id, name, cache, block, bytes, bits)                                                        \
    {KVV_##id, name, cache, block, bytes, 1 << (bits), GG_LAYOUT_##id},
static const gg_format formats[] = {
#define KVV_FORMAT(id, value, name, cache, family, block, bytes, bits, ...)                                       \
    GG_ROW_##family(id, name, cache, block, bytes, bits)
#include "kvv/formats.def"
};

const gg_format *gg_formats(int *n)
{
    *n = (int)(sizeof formats / sizeof *formats);
    return formats;
}

const gg_format *gg_format_of(kvv_type t)
{
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (formats[i].type == t)
            return &formats[i];
    return NULL;
}

const char *gg_pack_name(gf_pack p)
{
    switch (p) {
    case GF_2BIT: return "2-bit fields, 4 per byte, low bits first";
    case GF_2BIT_SIGN: return "2-bit fields 4 per byte, the third bit in a plane of 8 per byte";
    case GF_NIBBLE: return "4-bit nibbles, low nibble first";
    case GF_3BIT_STREAM: return "3-bit little-endian bit stream";
    }
    return "?";
}

int gg_format_index_bits(const gg_format *f)
{
    return f->levels == 4 ? 2 : f->levels == 8 ? 3 : 4;
}

void gg_format_bit(const gg_format *f, int j, int s, int *byte, int *bit)
{
    int pos;
    switch (f->pack) {
    case GF_2BIT_SIGN:
        if (s == 2) { /* the third bit in its own plane after the 2-bit fields */
            *byte = f->qs + f->block / 4 + j / 8;
            *bit = j % 8;
            return;
        }
        pos = 8 * (f->qs + j / 4) + 2 * (j % 4) + s;
        break;
    case GF_2BIT:
        pos = 8 * (f->qs + j / 4) + 2 * (j % 4) + s;
        break;
    case GF_NIBBLE:
        pos = 8 * (f->qs + j / 2) + 4 * (j & 1) + s;
        break;
    default: /* GF_3BIT_STREAM */
        pos = 8 * f->qs + 3 * j + s;
        break;
    }
    *byte = pos / 8;
    *bit = pos % 8;
}

int gg_format_index(const gg_format *f, const uint8_t *blk, int j)
{
    int idx = 0, by, bi;
    for (int s = 0; s < gg_format_index_bits(f); s++) {
        gg_format_bit(f, j, s, &by, &bi);
        idx |= ((blk[by] >> bi) & 1) << s;
    }
    return idx;
}

void gg_format_set_index(const gg_format *f, uint8_t *blk, int j, int idx)
{
    int by, bi;
    for (int s = 0; s < gg_format_index_bits(f); s++) {
        gg_format_bit(f, j, s, &by, &bi);
        blk[by] = (uint8_t)((blk[by] & ~(1u << bi)) | (((unsigned)idx >> s & 1u) << bi));
    }
}

float gg_f16_to_f32(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu;
    if (e == 0) {
        float v = (float)m * 0x1p-24f;
        return sign ? -v : v;
    }
    uint32_t x = e == 0x1f ? sign | 0x7f800000u | (m << 13) : sign | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* What a correct dequantizer of this version gives for a block: level
 * times the f16 norm, in the rotated basis.  turbo4@qjl adds a residual
 * term scaled by rnorm, which the probe keeps at 0 (so it is not modelled
 * here; the dequant rule checks it against the reference). */
void gg_format_decode(const gg_format *f, const uint8_t *blk, float *out)
{
    const float norm = gg_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8));
    for (int j = 0; j < f->block; j++)
        out[j] = f->table[gg_format_index(f, blk, j)] * norm;
}
