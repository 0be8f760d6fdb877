/* Format probe: which TurboQuant format version a library's type stores,
 * read from the library's own dequantizer (its to_float), never from its
 * headers or a map someone wrote by hand.
 *
 * Matching: every format version of the type's cache family with the same
 * block and bytes is a candidate; crafted blocks (one index changed at a
 * time, unit norm, over every element and every level; then blocks of random
 * indices under norms from zero and subnormal to 65504 and negative, several
 * blocks per call) go through to_float, and a candidate matches when every
 * value equals its decoder's bit for bit.
 *
 * Description (what the report says, match or not): starting from a block of
 * zero indices with norm 1, each payload bit is set alone to see which value
 * it moves; the bits of each value and the values their combinations give
 * are its index bits and the level table; doubling the norm field shows
 * whether it is a plain f16 scale.  A bit that moves several values means
 * the dequantizer transforms the block (a rotation inside to_float) and no
 * per-value table can be read. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kernels/ggml/ggml_adapter.h"

#define PROBE_MAX_BLOCK 128
#define PROBE_MAX_BYTES 256
#define PROBE_GUARD 64            /* floats past the block that to_float must not touch */
#define PROBE_RANDOM_BLOCKS 32
#define F16_ONE 0x3c00u
#define F16_TWO 0x4000u

static const uint16_t probe_norms[] = {0x3c00, 0x3800, 0x4200, 0xc000, 0x7bff, 0x0001, 0x03ff,
                                       0x0000, 0x8000, 0x2e66, 0x5640, 0xbc00, 0x1234, 0x6000};

static int same_bits(float a, float b)
{
    if (isnan(a) && isnan(b))
        return 1;
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* to_float of nblk blocks into out, which has PROBE_GUARD floats of slack
 * after them; -1 when the library wrote into the slack */
static int deq(gg_to_float_fn to_float, const uint8_t *blk, int nblk, int B, float *out)
{
    const float poison = -1234.5f;
    for (int i = 0; i < PROBE_GUARD; i++)
        out[nblk * B + i] = poison;
    to_float(blk, out, (int64_t)nblk * B);
    for (int i = 0; i < PROBE_GUARD; i++)
        if (!same_bits(out[nblk * B + i], poison))
            return -1;
    return 0;
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* 1 when to_float decodes exactly as candidate f; 0 when not; -1 when it
 * overran its output.  where: the first difference. */
static int matches(gg_to_float_fn to_float, const gg_format *f, char *where, size_t n)
{
    static uint8_t blk[PROBE_RANDOM_BLOCKS * PROBE_MAX_BYTES];
    static float got[PROBE_RANDOM_BLOCKS * PROBE_MAX_BLOCK + PROBE_GUARD], want[PROBE_MAX_BLOCK];
    const int B = f->block, S = f->bytes;
    /* one index at a time over index 0 everywhere, unit norm */
    for (int j = 0; j < B; j++)
        for (int k = 0; k < f->levels; k++) {
            memset(blk, 0, (size_t)S);
            put16(blk, F16_ONE);
            gg_format_set_index(f, blk, j, k);
            if (deq(to_float, blk, 1, B, got))
                return -1;
            gg_format_decode(f, blk, want);
            for (int e = 0; e < B; e++)
                if (!same_bits(got[e], want[e])) {
                    snprintf(where, n, "value %d with index %d at value %d: %g, %s gives %g", e, k, j,
                             (double)got[e], f->name, (double)want[e]);
                    return 0;
                }
        }
    /* random indices under many norms, several blocks per call */
    uint32_t seed = 12345u;
    for (int b = 0; b < PROBE_RANDOM_BLOCKS; b++) {
        uint8_t *p = blk + (size_t)b * S;
        memset(p, 0, (size_t)S);
        for (int i = 2; i < S; i++)
            p[i] = (uint8_t)lcg(&seed);
        if (f->rnorm) /* the QJL term is scaled by rnorm: keep it out */
            put16(p + 2, 0);
        put16(p, probe_norms[b % (int)(sizeof probe_norms / sizeof *probe_norms)]);
    }
    if (deq(to_float, blk, PROBE_RANDOM_BLOCKS, B, got))
        return -1;
    for (int b = 0; b < PROBE_RANDOM_BLOCKS; b++) {
        gg_format_decode(f, blk + (size_t)b * S, want);
        for (int e = 0; e < B; e++)
            if (!same_bits(got[b * B + e], want[e])) {
                snprintf(where, n, "block %d of %d (norm bits 0x%04x) value %d: %g, %s gives %g", b,
                         PROBE_RANDOM_BLOCKS, probe_norms[b % (int)(sizeof probe_norms / sizeof *probe_norms)], e,
                         (double)got[b * B + e], f->name, (double)want[e]);
                return 0;
            }
    }
    return 1;
}

/* What the bits of a block do, from single-bit blocks over a zero block of
 * unit norm. */
typedef struct {
    int dense;              /* largest number of values one bit moves (> 1: not a per-value code) */
    int unused;             /* payload bits that move nothing */
    int nbits[PROBE_MAX_BLOCK];
    int bytepos[PROBE_MAX_BLOCK][8], bitpos[PROBE_MAX_BLOCK][8];
    int uniform;            /* every value has the same number of bits */
    int levels;             /* 2^bits when uniform and bits <= 4 */
    float table[16];        /* levels in index order (by the significance found) */
    int order[8];           /* order[s]: which of a value's bits has significance s */
    int table_ok;           /* a bit order makes the levels strictly ascending */
    int norm;               /* 1 plain f16 scale at bytes 0-1, 0 ignored, -1 neither */
    float v0;               /* the value of index 0 */
} bitmap;

static void read_bits(gg_to_float_fn to_float, int B, int S, int overran[1], bitmap *m)
{
    static uint8_t blk[PROBE_MAX_BYTES];
    static float base[PROBE_MAX_BLOCK + PROBE_GUARD], v[PROBE_MAX_BLOCK + PROBE_GUARD];
    memset(m, 0, sizeof *m);
    memset(blk, 0, (size_t)S);
    put16(blk, F16_ONE);
    overran[0] |= deq(to_float, blk, 1, B, base);
    m->v0 = base[0];
    put16(blk, F16_TWO);
    overran[0] |= deq(to_float, blk, 1, B, v);
    int scaled = 1, same = 1;
    for (int e = 0; e < B; e++) {
        scaled &= same_bits(v[e], 2.0f * base[e]);
        same &= same_bits(v[e], base[e]);
    }
    m->norm = scaled && !same ? 1 : same ? 0 : -1;
    put16(blk, F16_ONE);
    for (int p = 2; p < S; p++)
        for (int b = 0; b < 8; b++) {
            blk[p] = (uint8_t)(1u << b);
            overran[0] |= deq(to_float, blk, 1, B, v);
            blk[p] = 0;
            int moved = 0, at = -1;
            for (int e = 0; e < B; e++)
                if (!same_bits(v[e], base[e])) {
                    moved++;
                    at = e;
                }
            if (moved == 0)
                m->unused++;
            else if (moved > 1)
                m->dense = moved > m->dense ? moved : m->dense;
            else if (m->nbits[at] < 8) {
                m->bytepos[at][m->nbits[at]] = p;
                m->bitpos[at][m->nbits[at]++] = b;
            }
        }
    m->uniform = 1;
    for (int e = 1; e < B; e++)
        m->uniform &= m->nbits[e] == m->nbits[0];
    const int nb = m->nbits[0];
    if (m->dense || !m->uniform || nb < 1 || nb > 4)
        return;
    m->levels = 1 << nb;
    /* the values of every combination of value 0's bits */
    float combo[16];
    for (int c = 0; c < m->levels; c++) {
        memset(blk, 0, (size_t)S);
        put16(blk, F16_ONE);
        for (int s = 0; s < nb; s++)
            if (c >> s & 1)
                blk[m->bytepos[0][s]] |= (uint8_t)(1u << m->bitpos[0][s]);
        overran[0] |= deq(to_float, blk, 1, B, v);
        combo[c] = v[0];
    }
    /* the bit order under which the levels ascend (tables are ascending) */
    int perm[4] = {0, 1, 2, 3};
    for (int tries = 0; tries < 24 && !m->table_ok; tries++) {
        int ok = 1;
        float t[16];
        for (int k = 0; k < m->levels; k++) {
            int c = 0;
            for (int s = 0; s < nb; s++)
                if (k >> s & 1)
                    c |= 1 << perm[s];
            t[k] = combo[c];
            if (k > 0 && !(t[k] > t[k - 1]))
                ok = 0;
        }
        if (ok) {
            m->table_ok = 1;
            memcpy(m->table, t, sizeof t);
            memcpy(m->order, perm, sizeof perm);
        }
        /* next permutation of perm[0..nb) (lexicographic) */
        int i = nb - 2;
        while (i >= 0 && perm[i] > perm[i + 1])
            i--;
        if (i < 0)
            break;
        int j = nb - 1;
        while (perm[j] < perm[i])
            j--;
        int x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
        for (int a = i + 1, z = nb - 1; a < z; a++, z--) {
            x = perm[a];
            perm[a] = perm[z];
            perm[z] = x;
        }
    }
    if (!m->table_ok)
        for (int k = 0; k < m->levels; k++)
            m->table[k] = combo[k];
}

/* Whether the bits read are laid out as f's packing. */
static int same_packing(const bitmap *m, const gg_format *f)
{
    if (!m->uniform || m->nbits[0] != gg_format_index_bits(f) || !m->table_ok)
        return 0;
    for (int e = 0; e < f->block; e++)
        for (int s = 0; s < m->nbits[0]; s++) {
            int by, bi;
            gg_format_bit(f, e, s, &by, &bi);
            /* the bit of significance s is read-bit order[s] of this value */
            int r = m->order[s];
            if (m->bytepos[e][r] != by || m->bitpos[e][r] != bi)
                return 0;
        }
    return 1;
}

static void describe(const bitmap *m, int B, const gg_format *cands[], int ncand, char *out, size_t n)
{
    size_t l = 0;
#define ADD(...) (l += (size_t)snprintf(out + l, l < n ? n - l : 0, __VA_ARGS__))
    if (m->dense) {
        ADD("setting one index bit changes up to %d of its %d values (to_float transforms the block, e.g. rotates it "
            "back, so no per-value table can be read)", m->dense, B);
    } else if (!m->uniform || !m->levels) {
        ADD("values carry unequal numbers of bits (value 0: %d, some other: %d)", m->nbits[0],
            m->nbits[B > 1 ? B - 1 : 0]);
    } else {
        ADD("%d levels {", m->levels);
        for (int k = 0; k < m->levels; k++)
            ADD("%s%.6g", k ? ", " : "", (double)m->table[k]);
        ADD("}%s", m->table_ok ? "" : " (not ascending in any bit order)");
        const gg_format *pk = NULL;
        for (int i = 0; i < ncand && !pk; i++)
            if (same_packing(m, cands[i]))
                pk = cands[i];
        if (pk) {
            ADD(", packing %s", gg_pack_name(pk->pack));
        } else {
            ADD(", packing unknown (value 0 at");
            for (int s = 0; s < m->nbits[0]; s++)
                ADD(" byte %d bit %d", m->bytepos[0][s], m->bitpos[0][s]);
            ADD(")");
        }
    }
    ADD(", norm %s", m->norm == 1 ? "f16 per block at bytes 0-1" : m->norm == 0 ? "field 0-1 ignored" : "bytes 0-1 not a plain f16 scale");
    if (m->unused)
        ADD(", %d payload bits unused", m->unused);
#undef ADD
}

/* The candidate closest to what was read: same number of levels, smallest
 * largest difference of the tables. */
static const gg_format *nearest(const bitmap *m, const gg_format *cands[], int ncand, double *dev)
{
    const gg_format *best = ncand ? cands[0] : NULL;
    *dev = -1;
    for (int i = 0; i < ncand && m->levels; i++) {
        if (cands[i]->levels != m->levels)
            continue;
        double d = 0;
        for (int k = 0; k < m->levels; k++)
            d = fmax(d, fabs((double)m->table[k] - cands[i]->table[k]));
        if (*dev < 0 || d < *dev) {
            *dev = d;
            best = cands[i];
        }
    }
    return best;
}

/* the cache family a library type name belongs to: "turbo3" for "turbo3",
 * "turbo3_0" or "TURBO3_0"; "" when the name is not a TurboQuant type */
void gg_probe_family(const char *name, char *fam, size_t n)
{
    fam[0] = 0;
    if (strncasecmp(name, "turbo", 5) || name[5] < '0' || name[5] > '9')
        return;
    size_t k = 5;
    while (name[k] >= '0' && name[k] <= '9')
        k++;
    snprintf(fam, n, "turbo%.*s", (int)(k - 5), name + 5);
}

int gg_probe_family_known(const char *fam)
{
    int nf;
    const gg_format *all = gg_formats(&nf);
    for (int i = 0; i < nf && *fam; i++)
        if (!strcmp(all[i].cache, fam))
            return 1;
    return 0;
}

void gg_probe_type(gg_to_float_fn to_float, const char *name, int ggml, int64_t block, size_t bytes, kvv_type only,
                   gg_probe *p)
{
    memset(p, 0, sizeof *p);
    p->match = KVV_TYPE_NONE;
    const gg_format *want = only != KVV_TYPE_NONE ? gg_format_of(only) : NULL;
    if (want)
        snprintf(p->family, sizeof p->family, "%s", want->cache);
    else
        gg_probe_family(name, p->family, sizeof p->family);
    int nf;
    const gg_format *all = gg_formats(&nf), *cands[8];
    int ncand = 0, known = 0;
    char geoms[200] = "";
    for (int i = 0; i < nf; i++) {
        if (strcmp(all[i].cache, p->family) || (want && &all[i] != want))
            continue;
        known = 1;
        size_t gl = strlen(geoms);
        snprintf(geoms + gl, sizeof geoms - gl, "%s%s %d/%d", gl ? ", " : "", all[i].name, all[i].block, all[i].bytes);
        if (all[i].block == block && (size_t)all[i].bytes == bytes && ncand < 8)
            cands[ncand++] = &all[i];
    }
    p->known_family = known;
    int l = snprintf(p->text, sizeof p->text, "%s (ggml %d, %lld values in %zu bytes): ", name, ggml, (long long)block,
                     bytes);
    char *t = p->text + l;
    size_t tn = sizeof p->text - (size_t)l;
    if (!known) {
        snprintf(t, tn, "not a kvverify cache type: not checked");
        return;
    }
    if (!to_float) {
        snprintf(t, tn, "the library has no to_float for it: its format cannot be probed");
        return;
    }
    if (!ncand) {
        snprintf(t, tn, "no format version of %s has this geometry (kvverify knows %s values/bytes)", p->family, geoms);
        return;
    }
    if (block > PROBE_MAX_BLOCK || bytes > PROBE_MAX_BYTES) {
        snprintf(t, tn, "blocks this large cannot be probed");
        return;
    }
    int overran = 0;
    bitmap m;
    read_bits(to_float, (int)block, (int)bytes, &overran, &m);
    char desc[420];
    describe(&m, (int)block, cands, ncand, desc, sizeof desc);
    if (overran) {
        snprintf(t, tn, "%s: to_float writes past the values it was asked for: not trusted", desc);
        return;
    }
    char where[200] = "";
    for (int i = 0; i < ncand; i++) {
        int r = matches(to_float, cands[i], where, sizeof where);
        if (r < 0) {
            snprintf(t, tn, "%s: to_float writes past the values it was asked for: not trusted", desc);
            return;
        }
        if (r == 1) {
            p->match = cands[i]->type;
            snprintf(t, tn, "%s: %s", desc, cands[i]->name);
            return;
        }
    }
    double dev;
    const gg_format *near = nearest(&m, cands, ncand, &dev);
    matches(to_float, near, where, sizeof where); /* where the nearest one differs */
    if (m.levels && near->levels == m.levels && dev > 0)
        snprintf(t, tn, "%s: matches no known version; nearest %s, outermost level %.4g vs %.4g", desc, near->name,
                 (double)m.table[m.levels - 1], (double)near->table[near->levels - 1]);
    else
        snprintf(t, tn, "%s: matches no known version; nearest %s differs at %s", desc, near->name, where);
}
