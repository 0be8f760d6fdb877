/* A small PNG reader for tests: enough of zlib's DEFLATE (RFC 1951) and of
 * PNG (8-bit RGB/RGBA, non-interlaced, as a browser screenshot is) to look
 * at the pixels of a screenshot without another library. */
#ifndef KVV_PNG_READ_H
#define KVV_PNG_READ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- DEFLATE ---------------- */

typedef struct {
    const uint8_t *in;
    size_t in_len, pos;
    uint32_t bits;
    int nbits;
    uint8_t *out;
    size_t out_len, out_cap;
    int err;
} png_inflate_t;

/* A canonical Huffman code: counts of codes per length and the symbols
 * in code order (RFC 1951 3.2.2). */
typedef struct {
    uint16_t count[16];
    uint16_t symbol[320];
} png_huff_t;

static int png_bits(png_inflate_t *s, int n)
{
    while (s->nbits < n) {
        if (s->pos >= s->in_len) {
            s->err = 1;
            return 0;
        }
        s->bits |= (uint32_t)s->in[s->pos++] << s->nbits;
        s->nbits += 8;
    }
    int v = (int)(s->bits & ((1u << n) - 1));
    s->bits >>= n;
    s->nbits -= n;
    return v;
}

static int png_huff_build(png_huff_t *h, const uint8_t *lengths, int n)
{
    uint16_t offs[16];
    memset(h->count, 0, sizeof h->count);
    for (int i = 0; i < n; i++)
        h->count[lengths[i]]++;
    h->count[0] = 0;
    offs[1] = 0;
    for (int len = 1; len < 15; len++)
        offs[len + 1] = (uint16_t)(offs[len] + h->count[len]);
    for (int i = 0; i < n; i++)
        if (lengths[i])
            h->symbol[offs[lengths[i]]++] = (uint16_t)i;
    return 0;
}

/* Codes are read MSB-first, bit by bit, against the first code of each length. */
static int png_huff_decode(png_inflate_t *s, const png_huff_t *h)
{
    int code = 0, first = 0, index = 0;
    for (int len = 1; len < 16; len++) {
        code |= png_bits(s, 1);
        int count = h->count[len];
        if (code - first < count)
            return h->symbol[index + (code - first)];
        index += count;
        first = (first + count) << 1;
        code <<= 1;
        if (s->err)
            return -1;
    }
    s->err = 1;
    return -1;
}

static int png_put(png_inflate_t *s, uint8_t b)
{
    if (s->out_len == s->out_cap) {
        size_t cap = s->out_cap ? 2 * s->out_cap : 65536;
        uint8_t *p = realloc(s->out, cap);
        if (!p) {
            s->err = 1;
            return -1;
        }
        s->out = p;
        s->out_cap = cap;
    }
    s->out[s->out_len++] = b;
    return 0;
}

static int png_codes(png_inflate_t *s, const png_huff_t *lit, const png_huff_t *dist)
{
    static const uint16_t lbase[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                       31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
    static const uint8_t lextra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
    static const uint16_t dbase[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
                                       193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
    static const uint8_t dextra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
    for (;;) {
        int sym = png_huff_decode(s, lit);
        if (s->err || sym < 0)
            return -1;
        if (sym < 256) {
            if (png_put(s, (uint8_t)sym))
                return -1;
        } else if (sym == 256) {
            return 0;
        } else {
            sym -= 257;
            if (sym >= 29)
                return -1;
            int len = lbase[sym] + png_bits(s, lextra[sym]);
            int ds = png_huff_decode(s, dist);
            if (s->err || ds < 0 || ds >= 30)
                return -1;
            size_t d = dbase[ds] + (size_t)png_bits(s, dextra[ds]);
            if (d > s->out_len)
                return -1;
            for (int i = 0; i < len; i++)
                if (png_put(s, s->out[s->out_len - d]))
                    return -1;
        }
    }
}

static int png_dynamic(png_inflate_t *s)
{
    static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    int nlen = png_bits(s, 5) + 257, ndist = png_bits(s, 5) + 1, ncode = png_bits(s, 4) + 4;
    uint8_t lengths[320] = {0};
    png_huff_t lc, lit, dist;
    for (int i = 0; i < ncode; i++)
        lengths[order[i]] = (uint8_t)png_bits(s, 3);
    png_huff_build(&lc, lengths, 19);
    int i = 0;
    while (i < nlen + ndist) {
        int sym = png_huff_decode(s, &lc);
        if (s->err || sym < 0)
            return -1;
        if (sym < 16) {
            lengths[i++] = (uint8_t)sym;
            continue;
        }
        int rep, val = 0;
        if (sym == 16) {
            if (!i)
                return -1;
            val = lengths[i - 1];
            rep = 3 + png_bits(s, 2);
        } else if (sym == 17) {
            rep = 3 + png_bits(s, 3);
        } else {
            rep = 11 + png_bits(s, 7);
        }
        if (i + rep > nlen + ndist)
            return -1;
        while (rep--)
            lengths[i++] = (uint8_t)val;
    }
    png_huff_build(&lit, lengths, nlen);
    png_huff_build(&dist, lengths + nlen, ndist);
    return png_codes(s, &lit, &dist);
}

static int png_fixed(png_inflate_t *s)
{
    uint8_t lengths[320];
    png_huff_t lit, dist;
    for (int i = 0; i < 288; i++)
        lengths[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
    png_huff_build(&lit, lengths, 288);
    for (int i = 0; i < 30; i++)
        lengths[i] = 5;
    png_huff_build(&dist, lengths, 30);
    return png_codes(s, &lit, &dist);
}

/* Inflate a zlib stream; the caller frees *out.  0 or -1. */
static int png_zlib_inflate(const uint8_t *in, size_t n, uint8_t **out, size_t *out_len)
{
    png_inflate_t s;
    memset(&s, 0, sizeof s);
    if (n < 2 || (in[0] & 0x0f) != 8 || ((in[0] << 8) | in[1]) % 31)
        return -1;
    s.in = in + 2;
    s.in_len = n - 2;
    int last;
    do {
        last = png_bits(&s, 1);
        int type = png_bits(&s, 2);
        int rc;
        if (type == 0) {
            s.bits = 0;
            s.nbits = 0; /* stored blocks start at a byte boundary */
            if (s.pos + 4 > s.in_len)
                rc = -1;
            else {
                size_t len = s.in[s.pos] | (size_t)s.in[s.pos + 1] << 8;
                s.pos += 4;
                rc = s.pos + len > s.in_len ? -1 : 0;
                for (size_t i = 0; rc == 0 && i < len; i++)
                    rc = png_put(&s, s.in[s.pos++]);
            }
        } else if (type == 1) {
            rc = png_fixed(&s);
        } else if (type == 2) {
            rc = png_dynamic(&s);
        } else {
            rc = -1;
        }
        if (rc || s.err) {
            free(s.out);
            return -1;
        }
    } while (!last);
    *out = s.out;
    *out_len = s.out_len;
    return 0;
}

/* ---------------- PNG ---------------- */

typedef struct {
    uint32_t width, height;
    int channels;    /* 3 (RGB) or 4 (RGBA) */
    uint8_t *pixels; /* width * height * channels */
} png_image;

static uint32_t png_be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static int png_paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Read an 8-bit RGB or RGBA non-interlaced PNG.  0, or -1 with why. */
static int png_load(const char *path, png_image *img, char *why, size_t why_len)
{
    memset(img, 0, sizeof *img);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, why_len, "cannot open %s", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(size > 0 ? (size_t)size : 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(buf);
        snprintf(why, why_len, "cannot read %s", path);
        return -1;
    }
    fclose(f);
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t *idat = NULL;
    size_t nidat = 0;
    int rc = -1, depth = 0, ctype = 0, interlace = 0;
    if (size < 33 || memcmp(buf, sig, 8)) {
        snprintf(why, why_len, "not a PNG file");
        goto done;
    }
    for (size_t p = 8; p + 12 <= (size_t)size;) {
        uint32_t len = png_be32(buf + p);
        const uint8_t *type = buf + p + 4, *data = buf + p + 8;
        if (p + 12 + len > (size_t)size)
            break;
        if (!memcmp(type, "IHDR", 4) && len >= 13) {
            img->width = png_be32(data);
            img->height = png_be32(data + 4);
            depth = data[8];
            ctype = data[9];
            interlace = data[12];
        } else if (!memcmp(type, "IDAT", 4)) {
            uint8_t *q = realloc(idat, nidat + len);
            if (!q)
                goto done;
            idat = q;
            memcpy(idat + nidat, data, len);
            nidat += len;
        } else if (!memcmp(type, "IEND", 4)) {
            break;
        }
        p += 12 + len;
    }
    if (depth != 8 || (ctype != 2 && ctype != 6) || interlace) {
        snprintf(why, why_len, "unsupported PNG: depth %d, color type %d, interlace %d", depth, ctype, interlace);
        goto done;
    }
    img->channels = ctype == 6 ? 4 : 3;
    uint8_t *raw;
    size_t nraw;
    if (png_zlib_inflate(idat, nidat, &raw, &nraw)) {
        snprintf(why, why_len, "corrupt image data");
        goto done;
    }
    size_t stride = (size_t)img->width * (size_t)img->channels;
    if (nraw < (stride + 1) * img->height) {
        free(raw);
        snprintf(why, why_len, "image data too short");
        goto done;
    }
    img->pixels = malloc(stride * img->height);
    if (!img->pixels) {
        free(raw);
        goto done;
    }
    /* undo the per-row filters (PNG 9.2) */
    int bpp = img->channels;
    for (uint32_t y = 0; y < img->height; y++) {
        const uint8_t *src = raw + y * (stride + 1) + 1;
        uint8_t *row = img->pixels + y * stride, *up = y ? row - stride : NULL;
        int filter = raw[y * (stride + 1)];
        for (size_t x = 0; x < stride; x++) {
            int a = x >= (size_t)bpp ? row[x - bpp] : 0, b = up ? up[x] : 0,
                c = up && x >= (size_t)bpp ? up[x - bpp] : 0, v = src[x];
            switch (filter) {
            case 1: v += a; break;
            case 2: v += b; break;
            case 3: v += (a + b) / 2; break;
            case 4: v += png_paeth(a, b, c); break;
            default: break;
            }
            row[x] = (uint8_t)v;
        }
    }
    free(raw);
    rc = 0;
done:
    free(buf);
    free(idat);
    return rc;
}

#endif
