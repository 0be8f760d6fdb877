/* The reference attention is the oracle: a change made for speed must not
 * move a single output bit.  Two witnesses, on seeded inputs of every shape
 * the harness feeds it (decode and prefill, GQA, masks with fully masked
 * rows, ALiBi, softcap, head dims 64 to 576/512, NaN/Inf in the inputs):
 *
 * - the frozen copy of the reference before the speed-up
 *   (tests/ref_attn_frozen.h), run on the same inputs with the same BLAS:
 *   the outputs, probabilities and scores must be equal bit for bit, on any
 *   machine, with and without the optional outputs requested;
 * - SHA-256 digests of those outputs stored in tests/ref_attn_bits.txt,
 *   one section per BLAS kernel ("# blas NAME" and its lines): a BLAS
 *   other than the one that wrote a section may round the GEMMs' sums
 *   differently, so the current one is held to its own section, and the
 *   comparison is skipped, with a message, where the file has none for it.
 *
 * KVV_REF_ATTN_BITS_WRITE=FILE appends to FILE the section of this BLAS,
 * computed by the frozen copy (the reference before the speed-up, whose
 * results are the ones to keep), instead of comparing. */
#include <CUnit/CUnit.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"
#include "tests/ref_attn_frozen.h"
#include "tests/sha256.h"
#include "tests/harness.h"

#define BITS_FILE "tests/ref_attn_bits.txt"

typedef enum { M_NONE, M_CAUSAL, M_RANDOM, M_HOLES } mask_kind;
typedef enum { S_PLAIN, S_V_NONFINITE, S_Q_NAN, S_OVERFLOW, S_TINY_WEIGHTS } special_kind;

typedef struct {
    const char *name;
    int dk, dv, nq, nkv, h, hkv;
    mask_kind mask;
    double max_bias, softcap, scale; /* scale 0: 1/sqrt(dk) */
    special_kind special;
    uint64_t seed;
} bits_case;

static const bits_case cases[] = {
    {"decode-bench-d128-nkv4096-h32-gqa4", 128, 128, 1, 4096, 32, 8, M_NONE, 0, 0, 0, S_PLAIN, 1},
    {"prefill-bench-d128-nq256-nkv256-h8-causal", 128, 128, 256, 256, 8, 8, M_CAUSAL, 0, 0, 0, S_PLAIN, 2},
    {"decode-d128-nkv333-h8-gqa8", 128, 128, 1, 333, 8, 1, M_NONE, 0, 0, 0, S_PLAIN, 3},
    {"decode-d128-nkv1", 128, 128, 1, 1, 4, 2, M_NONE, 0, 0, 0, S_PLAIN, 4},
    {"prefill-d64-nq37-nkv100-gqa2-causal", 64, 64, 37, 100, 4, 2, M_CAUSAL, 0, 0, 0, S_PLAIN, 5},
    {"prefill-d256-nq5-nkv130-random", 256, 256, 5, 130, 4, 4, M_RANDOM, 0, 0, 0, S_PLAIN, 6},
    {"prefill-d128-nq9-nkv64-holes", 128, 128, 9, 64, 4, 1, M_HOLES, 0, 0, 0, S_PLAIN, 7},
    {"prefill-d128-nq16-nkv64-alibi8-gqa4", 128, 128, 16, 64, 8, 2, M_CAUSAL, 8.0, 0, 0, S_PLAIN, 8},
    {"decode-d128-nkv700-alibi-h12", 128, 128, 1, 700, 12, 4, M_NONE, 4.0, 0, 0, S_PLAIN, 9},
    {"prefill-d128-nq8-nkv200-softcap30", 128, 128, 8, 200, 4, 4, M_CAUSAL, 0, 30.0, 1.0, S_PLAIN, 10},
    {"prefill-d80-nq7-nkv97-softcap-alibi-random", 80, 80, 7, 97, 6, 3, M_RANDOM, 2.0, 20.0, 0, S_PLAIN, 11},
    {"decode-mla-d576-dv512-nkv512-h16", 576, 512, 1, 512, 16, 1, M_NONE, 0, 0, 0, S_PLAIN, 12},
    {"prefill-mla-d576-dv512-nq32-nkv64-causal", 576, 512, 32, 64, 4, 1, M_CAUSAL, 0, 0, 0, S_PLAIN, 13},
    {"decode-d96-nkv257", 96, 96, 1, 257, 4, 4, M_NONE, 0, 0, 0, S_PLAIN, 14},
    {"prefill-d112-nq3-nkv31-causal", 112, 112, 3, 31, 2, 1, M_CAUSAL, 0, 0, 0, S_PLAIN, 15},
    {"prefill-d192-nq4-nkv65-random-gqa4", 192, 192, 4, 65, 8, 2, M_RANDOM, 0, 0, 0, S_PLAIN, 16},
    {"prefill-d128-nq6-nkv40-v-nan-inf-causal", 128, 128, 6, 40, 4, 2, M_CAUSAL, 0, 0, 0, S_V_NONFINITE, 17},
    {"decode-d64-nkv50-v-nan-inf", 64, 64, 1, 50, 2, 1, M_NONE, 0, 0, 0, S_V_NONFINITE, 18},
    {"prefill-d64-nq4-nkv30-q-nan-random", 64, 64, 4, 30, 4, 2, M_RANDOM, 0, 0, 0, S_Q_NAN, 19},
    {"prefill-d64-nq4-nkv30-overflow-causal", 64, 64, 4, 30, 2, 2, M_CAUSAL, 0, 0, 0, S_OVERFLOW, 20},
    {"decode-d128-nkv300-tiny-weights-v-inf", 128, 128, 1, 300, 4, 4, M_NONE, 0, 0, 4.0, S_TINY_WEIGHTS, 21},
};
#define NCASES ((int)(sizeof cases / sizeof *cases))

/* splitmix64: the inputs depend on nothing but the seed */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s) { return (double)(mix(s) >> 11) * 0x1p-53 * 2.0 - 1.0; }

/* a bell-shaped value rounded to f32, as the dequantized caches the
 * reference sees are f32 values */
static double bell(uint64_t *s) { return (double)(float)((unit(s) + unit(s) + unit(s)) * 0.6); }

typedef struct {
    double *q, *k, *v;
    float *mask;
    kvv_ref_attn_args a;
    size_t nout, nprob;
} bits_inputs;

static int make_inputs(const bits_case *c, bits_inputs *in)
{
    size_t nq = (size_t)c->h * c->nq * c->dk, nk = (size_t)c->hkv * c->nkv * c->dk,
           nv = (size_t)c->hkv * c->nkv * c->dv, nm = (size_t)c->nq * c->nkv;
    uint64_t s = c->seed * 0x2545f4914f6cdd1du;
    in->q = malloc(sizeof(double) * nq);
    in->k = malloc(sizeof(double) * nk);
    in->v = malloc(sizeof(double) * nv);
    in->mask = c->mask == M_NONE && c->max_bias == 0 ? NULL : malloc(sizeof(float) * nm);
    if (!in->q || !in->k || !in->v || (!in->mask && !(c->mask == M_NONE && c->max_bias == 0)))
        return -1;
    for (size_t i = 0; i < nq; i++)
        in->q[i] = bell(&s);
    /* outlier channels in K, as real caches have */
    for (size_t i = 0; i < nk; i++)
        in->k[i] = bell(&s) * ((i % (size_t)c->dk) % 17 == 3 ? 20.0 : 1.0);
    for (size_t i = 0; i < nv; i++)
        in->v[i] = bell(&s);
    for (int i = 0; in->mask && i < c->nq; i++) {
        int pos = c->nkv - c->nq + i;
        for (int j = 0; j < c->nkv; j++) {
            int vis = 1;
            if (c->mask == M_CAUSAL || c->mask == M_HOLES)
                vis = j <= pos;
            else if (c->mask == M_RANDOM)
                vis = mix(&s) % 5 != 0;
            if (c->mask == M_HOLES && i % 3 == 1)
                vis = 0;
            float bias = c->max_bias > 0 ? -(float)abs(pos - j) : 0.0f;
            in->mask[(size_t)i * c->nkv + j] = vis ? bias : -INFINITY;
        }
    }
    switch (c->special) {
    case S_V_NONFINITE: /* in a row masked for the early queries, and in a visible one */
        in->v[(size_t)(c->nkv - 1) * c->dv + 3] = NAN;
        in->v[(size_t)(c->nkv / 2) * c->dv + 5] = INFINITY;
        in->v[nv - 1] = -INFINITY;
        break;
    case S_Q_NAN:
        in->q[(size_t)c->nq * c->dk + 2] = NAN; /* head 1, query 0 */
        break;
    case S_OVERFLOW: /* scores of +-inf: exp(inf - inf) */
        for (size_t i = 0; i < (size_t)c->dk; i++)
            in->q[i] *= 1e160;
        for (size_t i = 0; i < (size_t)c->dk; i++)
            in->k[i] *= 1e160;
        break;
    case S_TINY_WEIGHTS: /* a large scale makes most weights underflow to 0 next to an Inf in V */
        in->v[7] = INFINITY;
        break;
    case S_PLAIN:
        break;
    }
    in->a = (kvv_ref_attn_args){c->dk, c->dv, c->nq, c->nkv, c->h, c->hkv, in->q, in->k, in->v, in->mask,
                                c->scale > 0 ? c->scale : 1.0 / sqrt(c->dk), c->max_bias, c->softcap};
    in->nout = (size_t)c->h * c->nq * c->dv;
    in->nprob = (size_t)c->h * c->nq * c->nkv;
    return 0;
}

static void free_inputs(bits_inputs *in)
{
    free(in->q);
    free(in->k);
    free(in->v);
    free(in->mask);
}

typedef struct {
    double *out, *probs, *scores;
} bits_outputs;

/* runs fn with or without the optional outputs (they are NULL in `o` then) */
static int run_ref(int (*fn)(const kvv_ref_attn_args *, double *, double *, double *), const bits_inputs *in,
                   int with_optional, bits_outputs *o)
{
    o->out = malloc(sizeof(double) * in->nout);
    o->probs = with_optional ? malloc(sizeof(double) * in->nprob) : NULL;
    o->scores = with_optional ? malloc(sizeof(double) * in->nprob) : NULL;
    if (!o->out || (with_optional && (!o->probs || !o->scores)))
        return -1;
    /* a value the reference must overwrite everywhere */
    memset(o->out, 0xa5, sizeof(double) * in->nout);
    if (with_optional) {
        memset(o->probs, 0xa5, sizeof(double) * in->nprob);
        memset(o->scores, 0xa5, sizeof(double) * in->nprob);
    }
    return fn(&in->a, o->out, o->probs, o->scores);
}

static void free_outputs(bits_outputs *o)
{
    free(o->out);
    free(o->probs);
    free(o->scores);
}

/* 1 when equal bit for bit; otherwise prints the first difference */
static int same_bits(const char *cname, const char *what, const double *got, const double *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t g, w;
        memcpy(&g, got + i, 8);
        memcpy(&w, want + i, 8);
        if (g != w) {
            fprintf(stderr, "\n  %s: %s[%zu] is %.17g (0x%016" PRIx64 "), the frozen reference %.17g (0x%016" PRIx64
                            ")\n",
                    cname, what, i, got[i], g, want[i], w);
            return 0;
        }
    }
    return 1;
}

static int reference(const kvv_ref_attn_args *a, double *out, double *probs, double *scores)
{
    return kvv_ref_attention(a, out, probs, scores);
}

/* BLAS thread counts to check at: one, and more than one (the GEMMs split
 * rows and columns among threads, which must change no bit) */
static const int blas_threads[2] = {1, 2};

static void test_matches_frozen_copy(void)
{
    for (int bt = 0; bt < 2; bt++) {
        kvv_ref_blas_threads(blas_threads[bt]);
        for (int i = 0; i < NCASES; i++) {
            const bits_case *c = &cases[i];
            bits_inputs in;
            bits_outputs want, got, got_plain;
            CU_ASSERT_FATAL(make_inputs(c, &in) == 0);
            CU_ASSERT_FATAL(run_ref(frozen_ref_attention, &in, 1, &want) == 0);
            CU_ASSERT_FATAL(run_ref(reference, &in, 1, &got) == 0);
            CU_ASSERT_FATAL(run_ref(reference, &in, 0, &got_plain) == 0);
            CU_ASSERT(same_bits(c->name, "out", got.out, want.out, in.nout));
            CU_ASSERT(same_bits(c->name, "probs", got.probs, want.probs, in.nprob));
            CU_ASSERT(same_bits(c->name, "scores", got.scores, want.scores, in.nprob));
            CU_ASSERT(same_bits(c->name, "out (without probs and scores)", got_plain.out, want.out, in.nout));
            free_outputs(&want);
            free_outputs(&got);
            free_outputs(&got_plain);
            free_inputs(&in);
        }
    }
}

static void digest(const double *x, size_t n, char hex[65])
{
    sha256_ctx s;
    sha256_init(&s);
    sha256_update(&s, x, sizeof(double) * n);
    sha256_hex(&s, hex);
}

static void blas_name(char *buf, size_t n)
{
    snprintf(buf, n, "%s (core %s)", openblas_get_config(), openblas_get_corename());
}

/* the digests of out, probs and scores of case i by fn (the current
 * reference or the frozen copy) */
static int case_digests_of(int (*fn)(const kvv_ref_attn_args *, double *, double *, double *), int i,
                           char hex[3][65])
{
    bits_inputs in;
    bits_outputs o;
    if (make_inputs(&cases[i], &in) || run_ref(fn, &in, 1, &o))
        return -1;
    digest(o.out, in.nout, hex[0]);
    digest(o.probs, in.nprob, hex[1]);
    digest(o.scores, in.nprob, hex[2]);
    free_outputs(&o);
    free_inputs(&in);
    return 0;
}

static int case_digests(int i, char hex[3][65]) { return case_digests_of(reference, i, hex); }

static int write_digests(const char *path)
{
    FILE *f = fopen(path, "a");
    if (!f)
        return -1;
    char blas[300];
    blas_name(blas, sizeof blas);
    fprintf(f, "# blas %s\n", blas);
    for (int i = 0; i < NCASES; i++) {
        char hex[3][65];
        if (case_digests_of(frozen_ref_attention, i, hex)) {
            fclose(f);
            return -1;
        }
        fprintf(f, "%s %s %s %s\n", cases[i].name, hex[0], hex[1], hex[2]);
    }
    return fclose(f);
}

static void matches_stored_digests(void);
static void test_matches_stored_digests(void)
{
    const char *w = getenv("KVV_REF_ATTN_BITS_WRITE");
    for (int bt = 0; bt < (w && *w ? 1 : 2); bt++) {
        kvv_ref_blas_threads(blas_threads[bt]);
        matches_stored_digests();
    }
}

static void matches_stored_digests(void)
{
    const char *w = getenv("KVV_REF_ATTN_BITS_WRITE");
    if (w && *w) {
        CU_ASSERT_FATAL(write_digests(w) == 0);
        fprintf(stderr, "\n  wrote the digests of the current reference to %s\n", w);
        return;
    }
    FILE *f = fopen(BITS_FILE, "r");
    CU_ASSERT_FATAL(f != NULL);
    char line[600], blas[300], sections[2000] = "";
    blas_name(blas, sizeof blas);
    int seen[NCASES] = {0}, lines = 0, mine = 0, found = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "# blas ", 7)) {
            mine = !strcmp(line + 7, blas);
            found |= mine;
            size_t len = strlen(sections);
            snprintf(sections + len, sizeof sections - len, "%s'%s'", len ? ", " : "", line + 7);
            continue;
        }
        if (line[0] == '#' || !line[0] || !mine)
            continue;
        char name[200], h[3][65];
        CU_ASSERT_FATAL(sscanf(line, "%199s %64s %64s %64s", name, h[0], h[1], h[2]) == 4);
        int i = 0;
        while (i < NCASES && strcmp(cases[i].name, name))
            i++;
        CU_ASSERT_FATAL(i < NCASES); /* a stored case the table lost */
        char got[3][65];
        CU_ASSERT_FATAL(case_digests(i, got) == 0);
        static const char *what[3] = {"out", "probs", "scores"};
        for (int k = 0; k < 3; k++)
            if (strcmp(got[k], h[k])) {
                fprintf(stderr, "\n  %s: the digest of %s changed (stored %s, now %s)\n", name, what[k], h[k], got[k]);
                CU_FAIL("an output bit of the reference changed");
            }
        seen[i]++;
        lines++;
    }
    fclose(f);
    if (!found) {
        kvv_skip("%s has sections for the BLAS %s, not for this one, '%s', whose sums may round otherwise (the "
                 "frozen-copy comparison still holds; KVV_REF_ATTN_BITS_WRITE=%s adds its section)",
                 BITS_FILE, sections[0] ? sections : "(none)", blas, BITS_FILE);
        return;
    }
    CU_ASSERT(lines == NCASES);
    for (int i = 0; i < NCASES; i++)
        CU_ASSERT(seen[i] == 1);
}

/* The comparisons can fail: one flipped bit anywhere changes the digest and
 * is reported as a difference. */
static void test_detects_one_bit(void)
{
    double x[300];
    for (int i = 0; i < 300; i++)
        x[i] = i * 0.37;
    char a[65], b[65];
    digest(x, 300, a);
    uint64_t u;
    memcpy(&u, &x[211], 8);
    u ^= 1;
    double y[300];
    memcpy(y, x, sizeof x);
    memcpy(&y[211], &u, 8);
    digest(y, 300, b);
    CU_ASSERT(strcmp(a, b) != 0);
    CU_ASSERT(!same_bits("self-check (expected difference)", "x", y, x, 300));
    CU_ASSERT(same_bits("self-check", "x", x, x, 300));
    /* the digest of a known message (FIPS 180-4 example "abc") */
    sha256_ctx s;
    sha256_init(&s);
    sha256_update(&s, "abc", 3);
    sha256_hex(&s, a);
    CU_ASSERT_STRING_EQUAL(a, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

void kvv_register_tests(void)
{
    static const kvv_test t[] = {{"reference equals its frozen copy bit for bit", test_matches_frozen_copy},
                                 {"reference equals the stored digests", test_matches_stored_digests},
                                 {"one changed bit is caught", test_detects_one_bit},
                                 {NULL, NULL}};
    kvv_add_suite("ref_attn_bits", t);
}
