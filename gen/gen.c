/* Deterministic input distributions (see gen.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen/gen.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void kvv_rng_seed(kvv_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t kvv_rng_next(kvv_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double kvv_rng_uniform(kvv_rng *r) { return (double)(kvv_rng_next(r) >> 11) * 0x1p-53; }

double kvv_rng_normal(kvv_rng *r)
{
    double u1 = kvv_rng_uniform(r), u2 = kvv_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Student-t with 3 degrees of freedom (heavy tails with finite variance):
 * kvv_rng_student3_f32_n in gen_normal.c. */

/* RoPE-like rows: channel magnitudes that fall with frequency, then pairs
 * (2i, 2i+1) rotated by pos * theta_i as rotary embeddings do. */
static void rope_rows(float *x, int64_t r0, int64_t r1, int width, int period, const double *tab)
{
    for (int64_t row = r0; row < r1; row++) {
        double pos = (double)(period > 0 ? row % period : row);
        for (int i = 0; i + 1 < width; i += 2) {
            double mag = 1.0 + 4.0 * (1.0 - (double)i / width);
            double a = x[row * width + i] * mag, b = x[row * width + i + 1] * mag;
            double cs, sn;
            if (tab) {
                cs = tab[2 * ((int64_t)pos * (width / 2) + i / 2)];
                sn = tab[2 * ((int64_t)pos * (width / 2) + i / 2) + 1];
            } else {
                double theta = pow(10000.0, -(double)i / width);
                cs = cos(pos * theta);
                sn = sin(pos * theta);
            }
            x[row * width + i] = (float)(a * cs - b * sn);
            x[row * width + i + 1] = (float)(a * sn + b * cs);
        }
    }
}

/* The rotation of a pair depends on its position and channel only, and the
 * rows of every head repeat the same positions: cos and sin are evaluated
 * once per (position, pair) into a table (the same calls on the same
 * arguments, so the same bits), where each row took its own.  Without the
 * memory for the table, rows are rotated one by one. */
static void rope(float *x, int64_t rows, int width, int period)
{
    int64_t npos = period > 0 && period < rows ? period : rows;
    if (npos <= 0 || width < 2)
        return;
    double *tab = malloc(sizeof(double) * 2 * (size_t)npos * (size_t)(width / 2));
    if (tab) {
        for (int64_t p = 0; p < npos; p++)
            for (int i = 0; i + 1 < width; i += 2) {
                double theta = pow(10000.0, -(double)i / width), pos = (double)p;
                tab[2 * (p * (width / 2) + i / 2)] = cos(pos * theta);
                tab[2 * (p * (width / 2) + i / 2) + 1] = sin(pos * theta);
            }
    }
    rope_rows(x, 0, rows, width, period, tab);
    free(tab);
}

void kvv_gen_fill(float *x, int64_t rows, int width, int period, kvv_dist dist, uint64_t seed, uint64_t stream)
{
    kvv_rng r;
    kvv_rng_seed(&r, seed, stream);
    int64_t n = rows * (int64_t)width;
    switch (dist) {
    case KVV_DIST_GAUSS:
    case KVV_DIST_ROPE:
    case KVV_DIST_OUTLIER:
    case KVV_DIST_NONFINITE:
        kvv_rng_normal_f32_n(&r, x, n); /* (float)kvv_rng_normal each, faster */
        break;
    case KVV_DIST_HEAVY:
        kvv_rng_student3_f32_n(&r, x, n); /* (float)student3 each, faster */
        break;
    case KVV_DIST_CONST:
        /* each run of 32 values (a block) holds one random value */
        for (int64_t i = 0; i < n; i += 32) {
            float v = (float)kvv_rng_normal(&r);
            for (int64_t j = i; j < i + 32 && j < n; j++)
                x[j] = v;
        }
        break;
    case KVV_DIST_ZERO:
        memset(x, 0, (size_t)n * sizeof *x);
        break;
    case KVV_DIST_DENORM:
        /* each block of 32 at one of three tiny scales: f32 subnormals,
         * values around FLT_MIN (half of them subnormal), and f16
         * subnormals (a stored f16 scale or value loses bits there) */
        for (int64_t i = 0; i < n; i += 32) {
            static const double scale[3] = {1e-39, 1.1754943508222875e-38, 1e-6};
            double sc = scale[kvv_rng_next(&r) % 3];
            for (int64_t j = i; j < i + 32 && j < n; j++)
                x[j] = (float)(kvv_rng_normal(&r) * sc);
        }
        break;
    case KVV_DIST_HUGE:
        /* mostly beyond the f16 range (65504), with the f16 overflow
         * boundary itself in every block: 65504 stays finite, 65520 is the
         * first value that rounds to Inf */
        for (int64_t i = 0; i < n; i++)
            x[i] = (float)(kvv_rng_normal(&r) * 1e5);
        for (int64_t i = 0; i < n; i += 32) {
            static const float edge[4] = {65504.0f, -65519.996f, 65520.0f, -65536.0f};
            int64_t len = n - i < 32 ? n - i : 32;
            x[i + (int64_t)(kvv_rng_next(&r) % (uint64_t)len)] = edge[kvv_rng_next(&r) % 4];
        }
        break;
    case KVV_DIST_GRID:
        /* what already-quantized data looks like: few distinct values, so a
         * block's largest magnitude occurs with both signs and x*id lands
         * exactly on rounding boundaries */
        for (int64_t i = 0; i < n; i++)
            x[i] = (float)((int)(kvv_rng_next(&r) % 9) - 4) * 0.25f;
        break;
    default:
        memset(x, 0, (size_t)n * sizeof *x);
        break;
    }
    if (dist == KVV_DIST_OUTLIER) {
        /* about 3% of the channels (at least one), 10-100x larger, the same
         * channels in every row as in real K caches */
        int nout = width / 32 > 0 ? width / 32 : 1;
        char *taken = width > 0 ? calloc((size_t)width, 1) : NULL;
        for (int o = 0; o < nout && taken; o++) {
            /* distinct channels: one drawn twice would be scaled twice, up
             * to 10^4 */
            int ch = (int)(kvv_rng_next(&r) % (uint64_t)width);
            while (taken[ch])
                ch = (ch + 1) % width;
            taken[ch] = 1;
            double f = 10.0 * pow(10.0, kvv_rng_uniform(&r));
            for (int64_t row = 0; row < rows; row++)
                x[row * width + ch] = (float)(x[row * width + ch] * f);
        }
        free(taken);
    } else if (dist == KVV_DIST_ROPE) {
        rope(x, rows, width, period);
    } else if (dist == KVV_DIST_NONFINITE) {
        for (int64_t i = 0; i < n; i++) {
            uint64_t u = kvv_rng_next(&r) % 200;
            if (u == 0)
                x[i] = NAN;
            else if (u == 1)
                x[i] = INFINITY;
            else if (u == 2)
                x[i] = -INFINITY;
        }
    }
}

void kvv_gen_mask(float *mask, const kvv_case *c)
{
    kvv_rng r;
    kvv_rng_seed(&r, c->seed, KVV_STREAM_MASK);
    int nq = c->n_q, nkv = c->n_kv;
    for (int i = 0; i < nq; i++) {
        int pos = nkv - nq + i; /* the query's position in the cache */
        int hole = c->mask == KVV_MASK_HOLES && (i % 3 == 1);
        for (int j = 0; j < nkv; j++) {
            int visible = 1;
            if (c->mask == KVV_MASK_CAUSAL || c->mask == KVV_MASK_HOLES)
                visible = j <= pos;
            else if (c->mask == KVV_MASK_RANDOM)
                visible = kvv_rng_next(&r) % 5 != 0;
            if (hole)
                visible = 0;
            float bias = c->max_bias > 0 ? -(float)abs(pos - j) : 0.0f;
            mask[(int64_t)i * nkv + j] = visible ? bias : -INFINITY;
        }
    }
}
