/* The CPU backend's own constant tables: TurboQuant centroids and midpoints,
 * the WHT and QJL sign vectors, the iq4_nl grid.  Written out here from the
 * format definitions (SPEC 3, facts on the forks) and never shared with ref/,
 * so that a wrong table on either side shows up as a disagreement. */
#include "kernels/cpu/cpu_internal.h"

/* turbo2: 2-bit Lloyd-Max levels; an index is the count of midpoints <= u */
const float cpu_turbo2_c[4] = {-0.133462f, -0.039994f, 0.039994f, 0.133462f};
const float cpu_turbo2_m[3] = {-0.086728f, 0.0f, 0.086728f};

/* turbo3: 3-bit levels, exactly symmetric (the 4-magnitude LUT relies on it) */
const float cpu_turbo3_c[8] = {-0.190685f, -0.117832f, -0.065717f, -0.021460f,
                               0.021460f,  0.065717f,  0.117832f,  0.190685f};
const float cpu_turbo3_m[7] = {-0.154259f, -0.091775f, -0.043589f, 0.0f, 0.043589f, 0.091775f, 0.154259f};

/* turbo4 (4-bit variant): ascending, negatives first */
#ifdef KVV_FAULT_wrong_table
/* the alternative 4-bit table some forks' CPU code shipped (matches no density) */
const float cpu_turbo4_c[16] = {-0.173926f, -0.117195f, -0.089527f, -0.068756f, -0.051262f, -0.035597f,
                                -0.020989f, -0.006938f, 0.006938f,  0.020989f,  0.035597f,  0.051262f,
                                0.068756f,  0.089527f,  0.117195f,  0.173926f};
const float cpu_turbo4_m[15] = {-0.145560f, -0.103361f, -0.079142f, -0.060009f, -0.043430f,
                                -0.028293f, -0.013963f, 0.0f,       0.013963f,  0.028293f,
                                0.043430f,  0.060009f,  0.079142f,  0.103361f,  0.145560f};
#else
const float cpu_turbo4_c[16] = {-0.241556f, -0.182907f, -0.143047f, -0.111065f, -0.083317f, -0.058069f,
                                -0.034311f, -0.011353f, 0.011353f,  0.034311f,  0.058069f,  0.083317f,
                                0.111065f,  0.143047f,  0.182907f,  0.241556f};
const float cpu_turbo4_m[15] = {-0.212232f, -0.162977f, -0.127056f, -0.097191f, -0.070693f,
                                -0.046190f, -0.022832f, 0.0f,       0.022832f,  0.046190f,
                                0.070693f,  0.097191f,  0.127056f,  0.162977f,  0.212232f};
#endif

/* turbo4@narrow: the narrower 4-bit table of TheTom/llama-cpp-turboquant's
 * 4-bit revision, with the midpoints its quantizer compares against */
const float cpu_turbo4n_c[16] = {-0.173926f, -0.117195f, -0.089527f, -0.068756f, -0.051262f, -0.035597f,
                                 -0.020989f, -0.006938f, 0.006938f,  0.020989f,  0.035597f,  0.051262f,
                                 0.068756f,  0.089527f,  0.117195f,  0.173926f};
const float cpu_turbo4n_m[15] = {-0.145560f, -0.103361f, -0.079142f, -0.060009f, -0.043430f,
                                 -0.028293f, -0.013963f, 0.0f,       0.013963f,  0.028293f,
                                 0.043430f,  0.060009f,  0.079142f,  0.103361f,  0.145560f};

/* ggml's non-linear 4-bit grid of iq4_nl */
const int8_t cpu_iq4nl_grid[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* 1/sqrt(g) rounded once to f32, for g = 2^k (k = 0..7) */
const float cpu_inv_sqrt_pow2[8] = {1.0f,   0.70710678118654752f, 0.5f,   0.35355339059327376f,
                                    0.25f, 0.17677669529663688f, 0.125f, 0.08838834764831845f};

/* Sign vectors of the rotation (S1, S2) and of the QJL projection of the
 * legacy turbo4 residual, +1/-1 as floats so that kernels multiply by them
 * (multiplying by +-1 is exact). */
const float cpu_wht_s1[128] = {
    -1,  1,  1, -1, -1,  1, -1,  1, -1, -1,  1,  1,  1,  1,  1,  1,
     1, -1,  1, -1,  1, -1, -1,  1,  1,  1, -1,  1,  1, -1, -1, -1,
    -1,  1,  1, -1,  1,  1, -1,  1, -1,  1,  1, -1, -1,  1, -1,  1,
     1,  1,  1, -1, -1, -1, -1, -1,  1, -1,  1,  1,  1,  1, -1,  1,
    -1, -1,  1, -1, -1, -1,  1, -1, -1, -1,  1, -1, -1, -1,  1,  1,
     1, -1, -1,  1,  1,  1, -1, -1,  1,  1, -1,  1,  1, -1,  1, -1,
    -1,  1,  1, -1,  1, -1,  1, -1,  1,  1,  1,  1, -1,  1, -1,  1,
     1, -1,  1,  1, -1, -1, -1, -1, -1,  1,  1, -1,  1,  1, -1,  1,
};
const float cpu_wht_s2[128] = {
     1,  1,  1,  1, -1,  1,  1, -1,  1, -1, -1, -1,  1, -1, -1, -1,
     1,  1, -1, -1,  1, -1,  1, -1,  1, -1, -1,  1, -1,  1,  1,  1,
     1,  1, -1, -1, -1,  1, -1, -1, -1, -1, -1, -1,  1,  1,  1, -1,
     1, -1,  1,  1,  1, -1, -1,  1, -1, -1, -1, -1, -1, -1,  1,  1,
     1, -1,  1, -1, -1, -1, -1,  1, -1,  1, -1,  1, -1, -1,  1,  1,
    -1,  1, -1,  1,  1, -1,  1, -1, -1, -1, -1,  1, -1, -1,  1, -1,
     1, -1,  1,  1,  1, -1, -1,  1, -1,  1, -1,  1,  1, -1, -1,  1,
    -1,  1, -1,  1,  1, -1,  1, -1,  1, -1, -1, -1, -1, -1,  1, -1,
};
const float cpu_qjl_s1[128] = {
     1, -1, -1, -1, -1,  1, -1,  1,  1, -1, -1,  1, -1,  1, -1,  1,
     1, -1,  1, -1, -1, -1,  1,  1, -1,  1,  1, -1,  1, -1, -1,  1,
     1,  1,  1,  1, -1, -1,  1,  1, -1,  1, -1, -1,  1, -1,  1,  1,
     1, -1,  1,  1,  1, -1, -1,  1, -1,  1, -1,  1,  1, -1,  1,  1,
    -1, -1, -1,  1,  1,  1,  1,  1,  1, -1, -1,  1,  1, -1, -1, -1,
    -1, -1,  1,  1,  1,  1, -1,  1,  1, -1,  1,  1,  1,  1,  1,  1,
     1, -1,  1, -1, -1,  1, -1, -1, -1, -1,  1, -1,  1,  1,  1, -1,
    -1,  1, -1,  1,  1,  1, -1, -1,  1, -1, -1, -1, -1, -1, -1, -1,
};
const float cpu_qjl_s2[128] = {
     1,  1, -1,  1,  1, -1,  1,  1, -1, -1,  1,  1,  1, -1,  1,  1,
    -1, -1, -1,  1, -1,  1,  1,  1, -1,  1, -1, -1, -1, -1,  1,  1,
    -1, -1,  1, -1,  1,  1, -1, -1, -1, -1, -1,  1,  1,  1,  1,  1,
     1,  1,  1,  1, -1, -1,  1,  1,  1,  1,  1,  1,  1, -1,  1,  1,
    -1, -1,  1, -1,  1,  1, -1,  1, -1, -1,  1,  1,  1, -1,  1, -1,
     1,  1,  1,  1,  1,  1, -1,  1, -1,  1, -1,  1, -1,  1,  1, -1,
     1, -1, -1,  1,  1, -1,  1,  1, -1,  1,  1,  1, -1,  1,  1,  1,
    -1, -1,  1, -1,  1, -1, -1,  1, -1,  1, -1,  1,  1,  1,  1, -1,
};
