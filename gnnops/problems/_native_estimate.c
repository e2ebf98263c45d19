/* The algebraic part of the error estimate in one call: gnnops/problems/_native.py.
 *
 * The same arithmetic as the Python path (estimators.algebraic_error with the lean
 * V-cycle of _vcycle.py): the free-dof gather of the assembled matrix, the Galerkin
 * products P^T A P through the per-mesh maps (data_{l+1} = T2 (T1 data_l)), the residual
 * of the candidate, and conjugate gradients preconditioned by one smoothed-aggregation
 * V-cycle per iteration (pyamg's Gauss-Seidel sweep, the coarsest level by a dense
 * Cholesky factor). It exists because on small meshes (a few thousand nodes) the Python
 * path spends most of its time in per-call overhead around these kernels.
 *
 * Built on first use by _native.py with the system's C compiler (-O3 -ffp-contract=off);
 * without a compiler the Python path runs, with the same result to round-off.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef int32_t ix_t;

typedef struct {
    int64_t rows;
    const ix_t *ip, *ix;
    const double *x; /* NULL for a pattern whose data is computed per call */
} csr_t;

/* t: rows and the addresses of indptr, indices and data (0: none) */
static csr_t table_csr(const int64_t *t) {
    csr_t m;
    m.rows = t[0];
    m.ip = (const ix_t *)(intptr_t)t[1];
    m.ix = (const ix_t *)(intptr_t)t[2];
    m.x = t[3] == 0 ? NULL : (const double *)(intptr_t)t[3];
    return m;
}

/* sum_j m_ij x_j with two partial sums (half the dependent-add chain of one: a Gauss-Seidel
 * sweep is bound by that chain, each row waiting for its neighbours' new values) */
static inline double row_dot(const csr_t *m, const double *a, const double *x, int64_t i) {
    double s0 = 0.0, s1 = 0.0;
    ix_t jj = m->ip[i], end = m->ip[i + 1];
    for (; jj + 1 < end; jj += 2) {
        s0 += a[jj] * x[m->ix[jj]];
        s1 += a[jj + 1] * x[m->ix[jj + 1]];
    }
    if (jj < end) s0 += a[jj] * x[m->ix[jj]];
    return s0 + s1;
}

/* y = M x (M's pattern with data a) */
static void spmv(const csr_t *m, const double *a, const double *x, double *y) {
    for (int64_t i = 0; i < m->rows; i++) {
        y[i] = row_dot(m, a, x, i);
    }
}

/* pyamg.amg_core.gauss_seidel over rows start, start+step, ... (stop excluded), with the
 * inverse diagonal dinv (0 where the diagonal is 0: the row is left alone, as in pyamg):
 * x_i += (b_i - (A x)_i) / a_ii, equal to pyamg's (b_i - sum_{j != i} a_ij x_j) / a_ii up to
 * round-off, without a division and a branch per entry */
static void gauss_seidel(const csr_t *m, const double *a, const double *dinv, double *x,
                         const double *b, int64_t start, int64_t stop, int64_t step) {
    for (int64_t i = start; i != stop; i += step) {
        x[i] += (b[i] - row_dot(m, a, x, i)) * dinv[i];
    }
}

static double dot(int64_t n, const double *a, const double *b) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

#define MAX_LEVELS 32

typedef struct {
    int64_t levels;                      /* L: L - 1 transfers, the last level dense */
    csr_t a[MAX_LEVELS];                 /* level patterns */
    double *data[MAX_LEVELS];            /* level data */
    double *dinv[MAX_LEVELS];            /* inverse diagonals (0 for a zero diagonal) */
    csr_t p[MAX_LEVELS], r[MAX_LEVELS];  /* prolongators, restrictions */
    double *xb[MAX_LEVELS], *bb[MAX_LEVELS], *tb[MAX_LEVELS]; /* iterate, right side, temp */
    double *chol;                        /* [nc, nc] lower Cholesky factor of the coarsest */
    int64_t nc;
    int symmetric;
} hier_t;

static void coarse_solve(const hier_t *h, const double *b, double *x) {
    int64_t n = h->nc;
    const double *c = h->chol;
    for (int64_t i = 0; i < n; i++) {
        double s = b[i];
        for (int64_t k = 0; k < i; k++) s -= c[i * n + k] * x[k];
        x[i] = s / c[i * n + i];
    }
    for (int64_t i = n - 1; i >= 0; i--) {
        double s = x[i];
        for (int64_t k = i + 1; k < n; k++) s -= c[k * n + i] * x[k];
        x[i] = s / c[i * n + i];
    }
}

static void sweeps(const hier_t *h, int64_t l, double *x, const double *b, int first) {
    const csr_t *m = &h->a[l];
    int64_t n = m->rows;
    if (h->symmetric) {
        gauss_seidel(m, h->data[l], h->dinv[l], x, b, 0, n, 1);
        gauss_seidel(m, h->data[l], h->dinv[l], x, b, n - 1, -1, -1);
    } else if (first) {
        gauss_seidel(m, h->data[l], h->dinv[l], x, b, 0, n, 1);
    } else {
        gauss_seidel(m, h->data[l], h->dinv[l], x, b, n - 1, -1, -1);
    }
}

/* x = V-cycle(b) from a zero guess on level l */
static void vcycle(const hier_t *h, int64_t l, const double *b, double *x) {
    if (l == h->levels - 1) {
        coarse_solve(h, b, x);
        return;
    }
    const csr_t *m = &h->a[l];
    int64_t n = m->rows;
    double *t = h->tb[l], *bc = h->bb[l + 1], *xc = h->xb[l + 1];
    memset(x, 0, (size_t)n * sizeof(double));
    sweeps(h, l, x, b, 1);
    spmv(m, h->data[l], x, t);
    for (int64_t i = 0; i < n; i++) t[i] = b[i] - t[i];
    spmv(&h->r[l], h->r[l].x, t, bc);
    vcycle(h, l + 1, bc, xc);
    spmv(&h->p[l], h->p[l].x, xc, t);
    for (int64_t i = 0; i < n; i++) x[i] += t[i];
    sweeps(h, l, x, b, 0);
}

/* The layout of tab (int64): [0] L (<= MAX_LEVELS); then per level l < L: rows, ip_off,
 * ix (its pattern; level 0 is the free-dof pattern); then per transfer l < L - 1, four
 * matrices of four entries each (rows, ip, ix, x): P_l, R_l, T1_l, T2_l.
 * The ip / ix / x entries are the addresses of the caller's arrays (int32 indices, float64
 * data), which it keeps alive. */
static void layout(const int64_t *tab, hier_t *h,
                   csr_t *t1, csr_t *t2) {
    int64_t L = tab[0];
    const int64_t *lt = tab + 1, *tt = tab + 1 + 3 * L;
    h->levels = L;
    for (int64_t l = 0; l < L; l++) {
        int64_t t[4] = {lt[3 * l], lt[3 * l + 1], lt[3 * l + 2], 0};
        h->a[l] = table_csr(t);
    }
    for (int64_t l = 0; l + 1 < L; l++) {
        h->p[l] = table_csr(tt + 16 * l);
        h->r[l] = table_csr(tt + 16 * l + 4);
        t1[l] = table_csr(tt + 16 * l + 8);
        t2[l] = table_csr(tt + 16 * l + 12);
    }
}

/* Doubles of workspace gn_algebraic_error needs for this tab and n rows of the full system
 * (allocated once per mesh by the caller: a malloc per call costs page faults after a
 * large solve trimmed the heap). */
int64_t gn_workspace_size(const int64_t *tab, int64_t n) {
    hier_t h;
    csr_t t1[MAX_LEVELS], t2[MAX_LEVELS];
    layout(tab, &h, t1, t2);
    int64_t total = n, maxt = 0;
    for (int64_t l = 0; l < h.levels; l++)
        total += h.a[l].ip[h.a[l].rows] + 4 * h.a[l].rows;
    for (int64_t l = 0; l + 1 < h.levels; l++)
        if (t1[l].rows > maxt) maxt = t1[l].rows;
    int64_t nc = h.a[h.levels - 1].rows, nf = h.a[0].rows;
    return total + maxt + nc * nc + 5 * nf + 1;
}

/* Returns 0, or -1 (the coarsest level not SPD: the caller takes the Python path).
 * Full system: n rows of A (ip, ix, ax), b, g, fixed (uint8), candidate u; free [nf] and
 * take [nnz_0] (level-0 data = ax[take]); w [nf] the CG weights; work: the doubles of
 * gn_workspace_size. Out: e [n] (g - u on fixed dofs, the CG solution on free ones),
 * res [cycles + 1], info [2] = (iterations run, converged). */
int gn_algebraic_error(const int64_t *tab, int64_t n, const ix_t *a_ip, const ix_t *a_ix, const double *ax,
                       const double *bvec, const double *g, const uint8_t *fixed,
                       const double *u, int64_t nf, const int64_t *free_idx,
                       const int64_t *take, const double *w, int64_t cycles,
                       int64_t min_cycles, double rtol, int symmetric, double *work,
                       double *e, double *res, int64_t *info) {
    hier_t h;
    csr_t t1m[MAX_LEVELS], t2m[MAX_LEVELS];
    layout(tab, &h, t1m, t2m);
    h.symmetric = symmetric;
    int64_t L = h.levels, maxt = 0;
    double *cur = work;
    for (int64_t l = 0; l < L; l++) {
        int64_t rows = h.a[l].rows;
        h.data[l] = cur; cur += h.a[l].ip[rows];
        h.dinv[l] = cur; cur += rows;
        h.xb[l] = cur; cur += rows;
        h.bb[l] = cur; cur += rows;
        h.tb[l] = cur; cur += rows;
    }
    for (int64_t l = 0; l + 1 < L; l++)
        if (t1m[l].rows > maxt) maxt = t1m[l].rows;
    double *t1 = cur; cur += maxt;
    h.nc = h.a[L - 1].rows;
    h.chol = cur; cur += h.nc * h.nc;
    double *v = cur; cur += n;
    double *rr = cur; cur += nf;
    double *z = cur; cur += nf;
    double *pp = cur; cur += nf;
    double *ap = cur; cur += nf;
    double *x = cur; cur += nf;
    /* level 0: the free-dof gather; coarser: the Galerkin products */
    for (int64_t k = 0; k < h.a[0].ip[h.a[0].rows]; k++) h.data[0][k] = ax[take[k]];
    for (int64_t l = 0; l + 1 < L; l++) {
        spmv(&t1m[l], t1m[l].x, h.data[l], t1);
        spmv(&t2m[l], t2m[l].x, t1, h.data[l + 1]);
    }
    for (int64_t l = 0; l + 1 < L; l++) {
        const csr_t *m = &h.a[l];
        for (int64_t i = 0; i < m->rows; i++) {
            h.dinv[l][i] = 0.0;
            for (ix_t jj = m->ip[i]; jj < m->ip[i + 1]; jj++)
                if (m->ix[jj] == i && h.data[l][jj] != 0.0) h.dinv[l][i] = 1.0 / h.data[l][jj];
        }
    }
    /* the coarsest level, dense, by its Cholesky factor */
    const csr_t *c = &h.a[L - 1];
    memset(h.chol, 0, (size_t)(h.nc * h.nc) * sizeof(double));
    for (int64_t i = 0; i < h.nc; i++)
        for (ix_t jj = c->ip[i]; jj < c->ip[i + 1]; jj++)
            h.chol[i * h.nc + c->ix[jj]] += h.data[L - 1][jj];
    for (int64_t j = 0; j < h.nc; j++) {
        double d = h.chol[j * h.nc + j];
        for (int64_t k = 0; k < j; k++) d -= h.chol[j * h.nc + k] * h.chol[j * h.nc + k];
        if (!(d > 0.0)) return -1;
        d = sqrt(d);
        h.chol[j * h.nc + j] = d;
        for (int64_t i = j + 1; i < h.nc; i++) {
            double s = h.chol[i * h.nc + j];
            for (int64_t k = 0; k < j; k++) s -= h.chol[i * h.nc + k] * h.chol[j * h.nc + k];
            h.chol[i * h.nc + j] = s / d;
        }
    }
    /* residual on the free dofs of v = g on fixed dofs, u elsewhere */
    for (int64_t i = 0; i < n; i++) {
        v[i] = fixed[i] ? g[i] : u[i];
        e[i] = fixed[i] ? g[i] - u[i] : 0.0;
    }
    for (int64_t k = 0; k < nf; k++) {
        int64_t i = free_idx[k];
        double s = 0.0;
        for (ix_t jj = a_ip[i]; jj < a_ip[i + 1]; jj++) s += ax[jj] * v[a_ix[jj]];
        rr[k] = bvec[i] - s;
        x[k] = 0.0;
    }
    /* CG with one V-cycle per iteration (_vcycle.amg_cg from x0 = 0) */
    int64_t it = 0, converged = 0;
    double rz = 0.0;
    res[0] = sqrt(dot(nf, rr, rr));
    while (it < cycles && res[it] > 0.0) {
        vcycle(&h, 0, rr, z);
        double rz_new = dot(nf, rr, z);
        if (it == 0) memcpy(pp, z, (size_t)nf * sizeof(double));
        else {
            double beta = rz_new / rz;
            for (int64_t i = 0; i < nf; i++) pp[i] = z[i] + beta * pp[i];
        }
        rz = rz_new;
        spmv(&h.a[0], h.data[0], pp, ap);
        double alpha = rz / dot(nf, pp, ap), wst = 0.0, wdx = 0.0;
        for (int64_t i = 0; i < nf; i++) {
            double step = alpha * pp[i];
            x[i] += step;
            rr[i] -= alpha * ap[i];
            wst += w[i] * step * step;
            wdx += w[i] * x[i] * x[i];
        }
        it++;
        res[it] = sqrt(dot(nf, rr, rr));
        if (rtol >= 0.0 && it >= min_cycles && sqrt(wst) <= rtol * sqrt(wdx)) {
            converged = 1;
            break;
        }
    }
    for (int64_t k = 0; k < nf; k++) e[free_idx[k]] = x[k];
    info[0] = it;
    info[1] = converged || res[it] == 0.0;
    return 0;
}
