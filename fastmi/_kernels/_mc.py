"""Monte-Carlo integrals of log-density ratios of a fitted Gaussian mixture.

Randomness comes from Python: standard normals ``z`` (m, D) and uniforms ``u`` (m,).
The kernels pick each sample's component by inverting the weights' CDF at u, map
x = mean[c] + L[c] z, and evaluate every needed log density in the same pass, so no
(samples x components) array is built.
"""
import numba
import numpy as np

from .._config import NUMBA_CACHE
from ._em import _exp_normalise, _log_weighted_prob


@numba.njit(nogil=True, cache=NUMBA_CACHE, inline="always")
def _pick_component(u, cum_weights):
    """Smallest c with u < cum_weights[c] (the last one if rounding leaves u above)."""
    K = cum_weights.shape[0]
    c = 0
    while c < K - 1 and u >= cum_weights[c]:
        c += 1
    return c


@numba.njit(nogil=True, cache=NUMBA_CACHE, inline="always")
def _draw_point(z, i, c, means, chol, out):
    """out[0] = means[c] + chol[c] @ z[i] (chol lower triangular)."""
    D = z.shape[1]
    for a in range(D):
        s = means[c, a]
        for b in range(a + 1):
            s += chol[c, a, b] * z[i, b]
        out[0, a] = s


@numba.njit(nogil=True, cache=NUMBA_CACHE)
def _mc_log_ratio_moments(z, u, cum_weights, means, chol, term_cols, term_dims, term_coef,
                          term_log_w, term_means, term_prec_chol, term_log_det):
    """Sum and sum of squares over samples of  f(x) = sum_t coef_t * log p_t(x[cols_t]).

    Term t is a K-component mixture over the columns ``term_cols[t, :term_dims[t]]`` of the
    sampled point; its parameters are rows t*K .. t*K+K-1 of ``term_log_w`` (T*K,),
    ``term_means`` (T*K, dmax), ``term_prec_chol`` (T*K, dmax, dmax), ``term_log_det`` (T*K,).
    MI is f = log p(x,y) - log p(x) - log p(y); conditional MI, entropies and KL are other
    signed sums of marginal log densities.
    """
    m = z.shape[0]
    D = z.shape[1]
    T, dmax = term_cols.shape
    K = cum_weights.shape[0]
    x = np.empty((1, D))
    sub = np.empty((T, dmax))
    lp = np.empty(K)
    total = 0.0
    total_sq = 0.0
    for i in range(m):
        _draw_point(z, i, _pick_component(u[i], cum_weights), means, chol, x)
        f = 0.0
        for t in range(T):
            dt = term_dims[t]
            for a in range(dt):
                sub[t, a] = x[0, term_cols[t, a]]
            vmax = _log_weighted_prob(sub, t, dt, term_log_w, term_means, term_prec_chol, term_log_det,
                                      t * K, K, lp)
            f += term_coef[t] * _exp_normalise(lp, K, vmax)
        total += f
        total_sq += f * f
    return total, total_sq


@numba.njit(nogil=True, cache=NUMBA_CACHE)
def _mc_categorical_moments(z, u, cum_weights, means, chol, prec_chol, log_det, comp_class,
                            log_w_joint, log_w_within):
    """Sum and sum of squares of log p(x | c) - log p(x) for x ~ p(x | c), c ~ p(c).

    The class-conditional mixtures are stacked into one mixture of J components:
    ``comp_class[j]`` is the class of component j, ``log_w_within[j]`` its log weight
    within the class and ``log_w_joint[j] = log p(c) + log_w_within[j]`` (whose CDF is
    ``cum_weights``).
    """
    m = z.shape[0]
    D = z.shape[1]
    J = means.shape[0]
    x = np.empty((1, D))
    lp = np.empty(J)
    lc = np.empty(J)
    total = 0.0
    total_sq = 0.0
    for i in range(m):
        j0 = _pick_component(u[i], cum_weights)
        _draw_point(z, i, j0, means, chol, x)
        vmax = _log_weighted_prob(x, 0, D, log_w_joint, means, prec_chol, log_det, 0, J, lp)
        c = comp_class[j0]
        nc = 0
        cmax = -np.inf
        for j in range(J):
            if comp_class[j] == c:
                v = lp[j] + log_w_within[j] - log_w_joint[j]
                lc[nc] = v
                nc += 1
                if v > cmax:
                    cmax = v
        f = _exp_normalise(lc, nc, cmax) - _exp_normalise(lp, J, vmax)
        total += f
        total_sq += f * f
    return total, total_sq
