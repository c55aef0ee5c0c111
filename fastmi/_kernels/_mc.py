"""Monte-Carlo integrals of log-density ratios of a fitted Gaussian mixture.

Randomness comes from Python: standard normals ``z`` (m, D) and uniforms ``u`` (m,).
The kernels pick each sample's component by inverting the weights' CDF at u, map
x = mean[c] + L[c] z, and evaluate every needed log density in the same pass over a
block of samples, so no (samples x components) array larger than a block is built.
"""
import numba
import numpy as np

from .._config import NUMBA_CACHE
from ._em import ARITH, BLOCK, _block_log_prob, _block_logsumexp, _dot, _sum


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=ARITH)
def _draw_block(z, u, i0, m, cum_weights, means, chol, pts, comp):
    """pts[:, i] = means[c] + chol[c] @ z[i0 + i], c = comp[i] the smallest component with
    u < cum_weights[c] (the last one if rounding leaves u above every bound)."""
    D = z.shape[1]
    K = cum_weights.shape[0]
    for i in range(m):
        comp[i] = 0
    for k in range(K - 1):  # counting the bounds below u: a branch-free pass per component
        ck = cum_weights[k]
        for i in range(m):
            comp[i] += u[i0 + i] >= ck
    if D == 2:
        for i in range(m):
            c = comp[i]
            z0, z1 = z[i0 + i, 0], z[i0 + i, 1]
            pts[0, i] = means[c, 0] + chol[c, 0, 0] * z0
            pts[1, i] = means[c, 1] + chol[c, 1, 0] * z0 + chol[c, 1, 1] * z1
        return
    for i in range(m):
        c = comp[i]
        for a in range(D):
            s = means[c, a]
            for b in range(a + 1):
                s += chol[c, a, b] * z[i0 + i, b]
            pts[a, i] = s


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=ARITH)
def _mc_log_ratio_moments(z, u, cum_weights, means, chol, term_cols, term_dims, term_coef,
                          term_log_w, term_means, term_prec_chol, term_log_det,
                          cv_log_w, cv_means, cv_prec_chol, cv_log_det, sums):
    """Moments over samples of  f(x) = sum_t coef_t log p_t(x[cols_t])  and of the control
    variate g(x) = sum_t coef_t log N_t(x[cols_t]), added to ``sums`` as
    [sum f, sum f^2, sum g, sum g^2, sum f g].

    Term t of f is a K-component mixture over the columns ``term_cols[t, :term_dims[t]]`` of
    the sampled point; its parameters are rows t*K .. t*K+K-1 of ``term_log_w`` (T*K,),
    ``term_means`` (T*K, dmax), ``term_prec_chol`` (T*K, dmax, dmax), ``term_log_det`` (T*K,).
    Term t of g is one Gaussian (row t of the ``cv_*`` arrays). MI is
    f = log p(x,y) - log p(x) - log p(y); conditional MI, entropies and KL are other signed
    sums of marginal log densities.
    """
    n, D = z.shape
    T = term_cols.shape[0]
    K = cum_weights.shape[0]
    pts = np.empty((D, BLOCK))
    comp = np.empty(BLOCK, dtype=np.int64)
    lp = np.empty((K, BLOCK))
    acc = np.empty(BLOCK)
    ya = np.empty(BLOCK)
    lse = np.empty(BLOCK)
    vmax = np.empty(BLOCK)
    f = np.empty(BLOCK)
    g = np.empty(BLOCK)
    ssum = np.empty(BLOCK)
    for i0 in range(0, n, BLOCK):
        m = min(BLOCK, n - i0)
        _draw_block(z, u, i0, m, cum_weights, means, chol, pts, comp)
        f[:m] = 0.0
        g[:m] = 0.0
        for t in range(T):
            cols = term_cols[t, :term_dims[t]]
            c = term_coef[t]
            _block_log_prob(pts, cols, 0, m, term_log_w, term_means, term_prec_chol, term_log_det, t * K, K,
                            lp, acc, ya)
            _block_logsumexp(lp, K, m, lse, vmax, ssum)
            for i in range(m):
                f[i] += c * lse[i]
            _block_log_prob(pts, cols, 0, m, cv_log_w, cv_means, cv_prec_chol, cv_log_det, t, 1, lp, acc, ya)
            for i in range(m):
                g[i] += c * lp[0, i]
        sums[0] += _sum(f, m)
        sums[1] += _dot(f, f, m)
        sums[2] += _sum(g, m)
        sums[3] += _dot(g, g, m)
        sums[4] += _dot(f, g, m)


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=ARITH)
def _mc_categorical_moments(z, u, cum_weights, means, chol, prec_chol, log_det, comp_class,
                            log_w_joint, log_w_within):
    """Sum and sum of squares of log p(x | c) - log p(x) for x ~ p(x | c), c ~ p(c).

    The class-conditional mixtures are stacked into one mixture of J components:
    ``comp_class[j]`` is the class of component j, ``log_w_within[j]`` its log weight
    within the class and ``log_w_joint[j] = log p(c) + log_w_within[j]`` (whose CDF is
    ``cum_weights``).
    """
    n, D = z.shape
    J = means.shape[0]
    rows = np.arange(D)
    pts = np.empty((D, BLOCK))
    comp = np.empty(BLOCK, dtype=np.int64)
    lp = np.empty((J, BLOCK))
    lc = np.empty((J, BLOCK))
    acc = np.empty(BLOCK)
    ya = np.empty(BLOCK)
    lse_x = np.empty(BLOCK)
    lse_c = np.empty(BLOCK)
    vmax = np.empty(BLOCK)
    ssum = np.empty(BLOCK)
    total = 0.0
    total_sq = 0.0
    for i0 in range(0, n, BLOCK):
        m = min(BLOCK, n - i0)
        _draw_block(z, u, i0, m, cum_weights, means, chol, pts, comp)
        _block_log_prob(pts, rows, 0, m, log_w_joint, means, prec_chol, log_det, 0, J, lp, acc, ya)
        for j in range(J):
            shift = log_w_within[j] - log_w_joint[j]
            for i in range(m):
                lc[j, i] = lp[j, i] + shift if comp_class[comp[i]] == comp_class[j] else -np.inf
        _block_logsumexp(lp, J, m, lse_x, vmax, ssum)
        _block_logsumexp(lc, J, m, lse_c, vmax, ssum)
        for i in range(m):
            lse_c[i] -= lse_x[i]
        total += _sum(lse_c, m)
        total_sq += _dot(lse_c, lse_c, m)
    return total, total_sq
