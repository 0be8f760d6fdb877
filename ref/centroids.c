/* Centroid tables from first principles (SPEC 3.5): Lloyd-Max quantizers of
 * the coordinate density of a random unit vector, by GSL quadrature, the
 * tables the formats ship, and which density and dimension each matches.
 *
 * Everything is computed in the standardized variable s = t*sqrt(d), where
 * both densities have unit variance and comparable shape for every d:
 *   Beta:  f(s) ∝ (1 - s^2/d)^((d-3)/2) on [-sqrt(d), sqrt(d)]
 *   Gauss: f(s) ∝ exp(-s^2/2)
 * so the Gaussian quantizer is the same for every d up to the 1/sqrt(d)
 * scale, and a distortion in s units is the distortion per coordinate
 * times d. */
#include <float.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref/ref.h"

#define WS_LIMIT 200
#define MAX_LEVELS 256
#define MAX_ITER 20000
#define CONV_TOL 1e-12 /* largest centroid move (s units) at convergence */
#define GAUSS_LIM 40.0 /* exp(-800): nothing beyond */

/* ---- the shipped tables (SPEC 3.1-3.3, and the tables found in the forks) ---- */
static const double c2[4] = {-0.133462, -0.039994, 0.039994, 0.133462};
static const double c3[8] = {-0.190685, -0.117832, -0.065717, -0.021460, 0.021460, 0.065717, 0.117832, 0.190685};
static const double c4[16] = {-0.241556, -0.182907, -0.143047, -0.111065, -0.083317, -0.058069,
                              -0.034311, -0.011353, 0.011353,  0.034311,  0.058069,  0.083317,
                              0.111065,  0.143047,  0.182907,  0.241556};
/* The 4-bit table some forks' CPU code ships; its midpoints (0.013963,
 * 0.028293, 0.043430, 0.060009, 0.079142, 0.103361, 0.145560) are the
 * averages of these magnitudes. */
static const double c4alt[16] = {-0.173926, -0.117195, -0.089527, -0.068756, -0.051262, -0.035597,
                                 -0.020989, -0.006938, 0.006938,  0.020989,  0.035597,  0.051262,
                                 0.068756,  0.089527,  0.117195,  0.173926};
/* the later "Gaussian-exact" revision */
static const double c3g[8] = {-0.190207, -0.118786, -0.066822, -0.021663, 0.021663, 0.066822, 0.118786, 0.190207};
static const double c4g[16] = {-0.241529, -0.182877, -0.143016, -0.111036, -0.083292, -0.058050,
                               -0.034299, -0.011349, 0.011349,  0.034299,  0.058050,  0.083292,
                               0.111036,  0.143016,  0.182877,  0.241529};

static const kvv_ref_table tables[] = {
    {"turbo2 C2", 4, c2},
    {"turbo3 C3", 8, c3},
    {"turbo4 C4", 16, c4},
    {"turbo4@narrow C4n (TheTom fork, all backends)", 16, c4alt},
    {"turbo3 C3g (Gaussian-exact revision)", 8, c3g},
    {"turbo4 C4g (Gaussian-exact revision)", 16, c4g},
};

const kvv_ref_table *kvv_ref_tables(int *count)
{
    if (count)
        *count = (int)(sizeof tables / sizeof tables[0]);
    return tables;
}

/* ---- densities in s units ---- */
typedef struct density {
    kvv_ref_density kind;
    int d;
    double lim;  /* support [-lim, lim] */
    double z;    /* total mass */
    double c;    /* the centroid an integrand is centred on */
    gsl_integration_workspace *ws;
} density;

static double pdf(double s, void *p)
{
    const density *D = p;
    if (D->kind == KVV_DENSITY_GAUSS)
        return exp(-0.5 * s * s);
    double a = 1.0 - s * s / D->d;
    if (a <= 0)
        return 0.0; /* the endpoints (integrable singularity for d = 2) */
    return D->d == 3 ? 1.0 : exp(0.5 * (D->d - 3) * log(a));
}
static double pdf_m1(double s, void *p) { return s * pdf(s, p); }
static double pdf_sq_err(double s, void *p)
{
    const density *D = p;
    return (s - D->c) * (s - D->c) * pdf(s, p);
}

static double integrate(density *D, double (*fn)(double, void *), double a, double b)
{
    gsl_function F = {fn, D};
    double r = 0, err = 0;
    if (b <= a)
        return 0.0;
    /* roundoff warnings on cells of negligible mass are harmless: the
     * result is still the best estimate */
    gsl_integration_qags(&F, a, b, 1e-15, 1e-12, WS_LIMIT, D->ws, &r, &err);
    return r;
}

static int density_init(density *D, kvv_ref_density kind, int d)
{
    if ((kind != KVV_DENSITY_BETA && kind != KVV_DENSITY_GAUSS) || d < 2)
        return -1;
    D->kind = kind;
    D->d = d;
    D->lim = kind == KVV_DENSITY_GAUSS ? GAUSS_LIM : sqrt((double)d);
    if (D->lim > GAUSS_LIM)
        D->lim = GAUSS_LIM;
    D->ws = gsl_integration_workspace_alloc(WS_LIMIT);
    if (!D->ws)
        return -1;
    D->z = 2.0 * integrate(D, pdf, 0.0, D->lim);
    return D->z > 0 ? 0 : -1;
}

static void density_free(density *D) { gsl_integration_workspace_free(D->ws); }

/* Distortion (s units) of the symmetric quantizer with ascending levels c
 * and nearest-neighbour cells. */
static double distortion(density *D, int levels, const double *c)
{
    double sum = 0;
    for (int k = levels / 2; k < levels; k++) {
        double a = k == levels / 2 ? 0.0 : 0.5 * (c[k - 1] + c[k]);
        double b = k == levels - 1 ? D->lim : 0.5 * (c[k] + c[k + 1]);
        D->c = c[k];
        sum += integrate(D, pdf_sq_err, a, b);
    }
    return 2.0 * sum / D->z;
}

/* Lloyd-Max iteration for a symmetric density and an even number of
 * levels, in s units; c holds the start and receives the result.  The
 * density is symmetric, so only the positive half is iterated. */
static int lloyd(density *D, int levels, double *c)
{
    int h = levels / 2;
    double nc[MAX_LEVELS];
    for (int it = 0; it < MAX_ITER; it++) {
        double move = 0;
        for (int k = h; k < levels; k++) {
            double a = k == h ? 0.0 : 0.5 * (c[k - 1] + c[k]);
            double b = k == levels - 1 ? D->lim : 0.5 * (c[k] + c[k + 1]);
            double m0 = integrate(D, pdf, a, b), m1 = integrate(D, pdf_m1, a, b);
            nc[k] = m0 > 0 ? m1 / m0 : 0.5 * (a + b);
        }
        for (int k = h; k < levels; k++) {
            move = fmax(move, fabs(nc[k] - c[k]));
            c[k] = nc[k];
            c[levels - 1 - k] = -nc[k];
        }
        if (move < CONV_TOL)
            return 0;
    }
    return -1;
}

/* Start: the Gaussian quantiles at the cell centres (k+1/2)/levels. */
static void initial_levels(const density *D, int levels, double *c)
{
    for (int k = 0; k < levels; k++) {
        double s = gsl_cdf_ugaussian_Pinv((k + 0.5) / levels);
        c[k] = fmax(-0.95 * D->lim, fmin(0.95 * D->lim, s));
    }
}

static int valid_levels(int levels) { return levels >= 2 && levels <= MAX_LEVELS && levels % 2 == 0; }

int kvv_ref_lloyd_max(kvv_ref_density dens, int d, int levels, double *centroids, double *mse)
{
    if (!valid_levels(levels))
        return -1;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    density D;
    double c[MAX_LEVELS];
    int rc = density_init(&D, dens, d);
    if (rc == 0) {
        initial_levels(&D, levels, c);
        rc = lloyd(&D, levels, c);
        if (rc == 0) {
            if (mse)
                *mse = distortion(&D, levels, c) / d;
            for (int k = 0; k < levels; k++)
                centroids[k] = c[k] / sqrt((double)d);
        }
        density_free(&D);
    }
    gsl_set_error_handler(old);
    return rc;
}

/* ---- matching a shipped table ---- */

/* Largest deviation of table t (s units) from the derived levels c,
 * relative to the local spacing of c (the smaller gap to a neighbour):
 * a level off by 2% of the gap to its neighbour is off by 2%. */
static double rel_dev(int levels, const double *t, const double *c, double *abs_dev)
{
    double worst = 0, worst_abs = 0;
    for (int k = 0; k < levels; k++) {
        double gap = DBL_MAX;
        if (k > 0)
            gap = fmin(gap, c[k] - c[k - 1]);
        if (k < levels - 1)
            gap = fmin(gap, c[k + 1] - c[k]);
        double e = fabs(t[k] - c[k]);
        worst = fmax(worst, e / gap);
        worst_abs = fmax(worst_abs, e);
    }
    if (abs_dev)
        *abs_dev = worst_abs;
    return worst;
}

typedef struct fit {
    int d;
    double rel;
    double c[MAX_LEVELS]; /* derived levels, s units */
} fit;

/* Beta levels at dimension d, started from `start` (s units). */
static int beta_levels(int d, int levels, const double *start, double *c)
{
    density D;
    if (density_init(&D, KVV_DENSITY_BETA, d))
        return -1;
    memcpy(c, start, sizeof(double) * (size_t)levels);
    for (int k = 0; k < levels; k++)
        c[k] = fmax(-0.95 * D.lim, fmin(0.95 * D.lim, c[k]));
    int rc = lloyd(&D, levels, c);
    density_free(&D);
    return rc;
}

static double beta_objective(const kvv_ref_table *t, int d, const double *start, double *c)
{
    double ts[MAX_LEVELS];
    if (beta_levels(d, t->levels, start, c))
        return DBL_MAX;
    for (int k = 0; k < t->levels; k++)
        ts[k] = t->values[k] * sqrt((double)d);
    return rel_dev(t->levels, ts, c, NULL);
}

/* Gaussian: one quantizer for every d; scan every d. */
static int best_gauss(const kvv_ref_table *t, int dmin, int dmax, fit *f)
{
    density D;
    if (density_init(&D, KVV_DENSITY_GAUSS, 2))
        return -1;
    initial_levels(&D, t->levels, f->c);
    int rc = lloyd(&D, t->levels, f->c);
    density_free(&D);
    if (rc)
        return -1;
    f->rel = DBL_MAX;
    for (int d = dmin; d <= dmax; d++) {
        double ts[MAX_LEVELS];
        for (int k = 0; k < t->levels; k++)
            ts[k] = t->values[k] * sqrt((double)d);
        double r = rel_dev(t->levels, ts, f->c, NULL);
        if (r < f->rel) {
            f->rel = r;
            f->d = d;
        }
    }
    return 0;
}

/* Beta: the deviation is smooth in d; scan a geometric grid (each solve
 * started from the last), then narrow the bracket around the best point by
 * golden-section steps on the integers, then check the neighbours. */
static int best_beta(const kvv_ref_table *t, int dmin, int dmax, const double *gauss_start, fit *f)
{
    double start[MAX_LEVELS], c[MAX_LEVELS];
    int grid[512], n = 0;
    for (double x = dmin; n < 511; x = fmax(x * 1.12, x + 1)) {
        int d = (int)lround(x);
        if (d > dmax)
            break;
        if (!n || grid[n - 1] != d)
            grid[n++] = d;
    }
    if (!n || grid[n - 1] != dmax)
        grid[n++] = dmax;
    memcpy(start, gauss_start, sizeof(double) * (size_t)t->levels);
    f->rel = DBL_MAX;
    int bi = 0;
    for (int i = 0; i < n; i++) {
        double r = beta_objective(t, grid[i], start, c);
        if (r == DBL_MAX)
            continue;
        memcpy(start, c, sizeof(double) * (size_t)t->levels);
        if (r < f->rel) {
            f->rel = r;
            f->d = grid[i];
            bi = i;
            memcpy(f->c, c, sizeof(double) * (size_t)t->levels);
        }
    }
    if (f->rel == DBL_MAX)
        return -1;
    int lo = grid[bi > 0 ? bi - 1 : 0], hi = grid[bi < n - 1 ? bi + 1 : n - 1];
    memcpy(start, f->c, sizeof(double) * (size_t)t->levels);
    while (hi - lo > 3) {
        int m1 = lo + (hi - lo) / 3, m2 = hi - (hi - lo) / 3;
        double r1 = beta_objective(t, m1, start, c), r2 = beta_objective(t, m2, start, c);
        if (r1 <= r2)
            hi = m2;
        else
            lo = m1;
    }
    for (int d = lo; d <= hi; d++) {
        double r = beta_objective(t, d, start, c);
        if (r < f->rel) {
            f->rel = r;
            f->d = d;
            memcpy(f->c, c, sizeof(double) * (size_t)t->levels);
        }
    }
    return 0;
}

int kvv_ref_table_match_find(const kvv_ref_table *t, int dmin, int dmax, kvv_ref_table_match *m)
{
    if (!t || !m || !valid_levels(t->levels) || dmin < 2 || dmax < dmin)
        return -1;
    for (int k = 1; k < t->levels; k++)
        if (!(t->values[k] > t->values[k - 1]))
            return -1;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    fit *g = malloc(sizeof *g), *b = malloc(sizeof *b);
    int rc = -1;
    if (g && b && best_gauss(t, dmin, dmax, g) == 0 && best_beta(t, dmin, dmax, g->c, b) == 0) {
        const fit *f = b->rel < g->rel ? b : g;
        density D;
        m->density = f == b ? KVV_DENSITY_BETA : KVV_DENSITY_GAUSS;
        m->d = f->d;
        if (density_init(&D, m->density, f->d) == 0) {
            double ts[MAX_LEVELS], sd = sqrt((double)f->d);
            for (int k = 0; k < t->levels; k++)
                ts[k] = t->values[k] * sd;
            m->max_rel_dev = rel_dev(t->levels, ts, f->c, &m->max_abs_dev);
            m->max_abs_dev /= sd; /* back to the table's units */
            m->mse_shipped = distortion(&D, t->levels, ts);
            m->mse_optimal = distortion(&D, t->levels, f->c);
            m->matches = m->max_rel_dev <= KVV_REF_TABLE_TOL;
            density_free(&D);
            rc = 0;
        }
    }
    free(g);
    free(b);
    gsl_set_error_handler(old);
    return rc;
}
