"""EM for full-covariance Gaussian mixtures: fused E-step, closed-form M-step, the fit loop.

Shapes: X (n, d) C-contiguous float64; weights (K,); means (K, d); covariances (K, d, d).
All log densities are in nats. No fastmath: log-sum-exp must see -inf. Inner loops index
arrays directly rather than slicing them, since a Numba view per (sample, component) costs
more than the arithmetic.
"""
import math

import numba
import numpy as np

from .._config import NUMBA_CACHE
from ._linalg import LOG_2PI, _precision_cholesky

# EM status codes returned by _em_fit
EM_OK = 0
EM_NOT_SPD = 1  # a covariance lost positive definiteness (a component collapsed)
EM_NAN = 2  # the likelihood became NaN


@numba.njit(nogil=True, cache=NUMBA_CACHE, inline="always")
def _log_weighted_prob(x, i, d, log_w, means, prec_chol, log_det, k0, K, out):
    """out[k] = log w + log N(x[i, :d] | mean, cov) for components k0..k0+K-1; returns the max.

    ``prec_chol`` holds lower-triangular P with cov^-1 = P^T P and ``log_det`` = log|P|.
    """
    best = -np.inf
    for k in range(K):
        kk = k0 + k
        maha = 0.0
        for a in range(d):
            s = 0.0
            for b in range(a + 1):
                s += prec_chol[kk, a, b] * (x[i, b] - means[kk, b])
            maha += s * s
        v = log_w[kk] + log_det[kk] - 0.5 * (d * LOG_2PI + maha)
        out[k] = v
        if v > best:
            best = v
    return best


@numba.njit(nogil=True, cache=NUMBA_CACHE, inline="always")
def _exp_normalise(v, K, vmax):
    """v[:K] <- exp(v - vmax); returns log(sum(exp(v))) (-inf if all entries are -inf).

    The maximal entry gives exp(0) = 1 exactly, so a single component costs no exp or log.
    """
    if vmax == -np.inf:
        return -np.inf
    s = 0.0
    for k in range(K):
        if v[k] == vmax:
            v[k] = 1.0
        else:
            v[k] = math.exp(v[k] - vmax)
        s += v[k]
    if s == 1.0:
        return vmax
    return vmax + math.log(s)


@numba.njit(nogil=True, cache=NUMBA_CACHE)
def _e_step(X, log_w, means, prec_chol, log_det, center, nk, s1, s2):
    """Fused E-step: log-prob -> log-sum-exp -> responsibilities -> sufficient statistics.

    Accumulates, for each component k, nk = sum r_ik, s1 = sum r_ik (x_i - c_k) and the
    lower triangle of s2 = sum r_ik (x_i - c_k)(x_i - c_k)^T, where c_k = ``center[k]``
    (the current mean: shifting keeps the one-pass covariance free of cancellation).
    Returns the total log-likelihood.
    """
    n, d = X.shape
    K = means.shape[0]
    nk[:] = 0.0
    s1[:] = 0.0
    s2[:] = 0.0
    lp = np.empty(K)
    xc = np.empty(d)
    total = 0.0
    for i in range(n):
        vmax = _log_weighted_prob(X, i, d, log_w, means, prec_chol, log_det, 0, K, lp)
        lse = _exp_normalise(lp, K, vmax)
        total += lse
        inv = math.exp(vmax - lse)
        for k in range(K):
            r = lp[k] * inv
            nk[k] += r
            for a in range(d):
                xc[a] = X[i, a] - center[k, a]
                s1[k, a] += r * xc[a]
            for a in range(d):
                ra = r * xc[a]
                for b in range(a + 1):
                    s2[k, a, b] += ra * xc[b]
    return total


@numba.njit(nogil=True, cache=NUMBA_CACHE)
def _m_step(nk, s1, s2, center, n, reg_covar, weights, means, covariances):
    """Closed-form M-step from the shifted sufficient statistics of ``_e_step``."""
    K, d = means.shape
    eps10 = 10.0 * np.finfo(np.float64).eps
    wsum = 0.0
    for k in range(K):
        nkk = nk[k] + eps10
        weights[k] = nkk / n
        wsum += weights[k]
        for a in range(d):
            means[k, a] = center[k, a] + s1[k, a] / nkk
        for a in range(d):
            da = s1[k, a] / nkk
            for b in range(a + 1):
                c = s2[k, a, b] / nkk - da * (s1[k, b] / nkk)
                covariances[k, a, b] = c
                covariances[k, b, a] = c
            covariances[k, a, a] += reg_covar
    for k in range(K):
        weights[k] /= wsum


@numba.njit(nogil=True, cache=NUMBA_CACHE)
def _em_fit(X, weights, means, covariances, tol, reg_covar, max_iter):
    """Run EM in place from the given parameters.

    Each iteration is an E-step on the current parameters then an M-step. Stops when the
    mean log-likelihood per sample changes by less than ``tol``, or after ``max_iter``
    iterations. Returns ``(n_iter, converged, lower_bound, status)``: ``lower_bound`` is the
    mean log-likelihood of the last E-step, ``status`` is EM_OK, EM_NOT_SPD or EM_NAN.
    """
    n, d = X.shape
    K = means.shape[0]
    chol = np.zeros((K, d, d))
    prec_chol = np.zeros((K, d, d))
    log_det = np.empty(K)
    log_w = np.empty(K)
    center = np.empty((K, d))
    nk = np.empty(K)
    s1 = np.empty((K, d))
    s2 = np.empty((K, d, d))
    lower_bound = -np.inf
    for it in range(1, max_iter + 1):
        if _precision_cholesky(covariances, chol, prec_chol, log_det) >= 0:
            return it, False, lower_bound, EM_NOT_SPD
        for k in range(K):
            log_w[k] = math.log(weights[k])
        center[:, :] = means
        ll = _e_step(X, log_w, means, prec_chol, log_det, center, nk, s1, s2) / n
        if not math.isfinite(ll):
            return it, False, lower_bound, EM_NAN
        _m_step(nk, s1, s2, center, n, reg_covar, weights, means, covariances)
        change = ll - lower_bound
        lower_bound = ll
        if abs(change) < tol:
            return it, True, lower_bound, EM_OK
    return max_iter, False, lower_bound, EM_OK


@numba.njit(nogil=True, cache=NUMBA_CACHE)
def _mean_log_likelihood(X, weights, means, covariances):
    """Mean log-likelihood per sample of X under the mixture; NaN if a covariance is not SPD."""
    n, d = X.shape
    K = means.shape[0]
    chol = np.zeros((K, d, d))
    prec_chol = np.zeros((K, d, d))
    log_det = np.empty(K)
    if _precision_cholesky(covariances, chol, prec_chol, log_det) >= 0:
        return np.nan
    log_w = np.log(weights)
    lp = np.empty(K)
    total = 0.0
    for i in range(n):
        total += _exp_normalise(lp, K, _log_weighted_prob(X, i, d, log_w, means, prec_chol, log_det, 0, K, lp))
    return total / n
