"""EM for full-covariance Gaussian mixtures: fused E-step, closed-form M-step, the fit loop.

Shapes: X (n, d) C-contiguous float64; weights (K,); means (K, d); covariances (K, d, d).
All log densities are in nats. No fastmath: log-sum-exp must see -inf.

The E-step works on blocks of ``BLOCK`` samples held feature-major (Xt, shape (d, n)), so
every inner loop runs over contiguous samples with scalar per-component constants; a
sample-at-a-time loop spends more on indexing than on arithmetic.
"""
import math

import numba
import numpy as np

from .._config import NUMBA_CACHE
from ._linalg import LOG_2PI, _precision_cholesky

BLOCK = 256

# EM status codes returned by _em_fit
EM_OK = 0
EM_NOT_SPD = 1  # a covariance lost positive definiteness (a component collapsed)
EM_NAN = 2  # the likelihood became NaN


@numba.njit(nogil=True, cache=NUMBA_CACHE)
def _block_log_prob(Xt, rows, i0, m, log_w, means, prec_chol, log_det, k0, K, lp, acc, ya):
    """lp[k, :m] = log w + log N(x | mean, cov) of samples i0..i0+m-1, components k0..k0+K-1.

    The point of sample i is ``Xt[rows, i]`` (len(rows) = d). ``prec_chol`` holds the
    lower-triangular P with cov^-1 = P^T P and ``log_det`` = log|P|.
    """
    d = rows.shape[0]
    for k in range(K):
        kk = k0 + k
        for i in range(m):
            acc[i] = 0.0
        for a in range(d):
            for i in range(m):
                ya[i] = 0.0
            for b in range(a + 1):
                p = prec_chol[kk, a, b]
                mu = means[kk, b]
                xb = Xt[rows[b]]
                for i in range(m):
                    ya[i] += p * (xb[i0 + i] - mu)
            for i in range(m):
                acc[i] += ya[i] * ya[i]
        c = log_w[kk] + log_det[kk] - 0.5 * d * LOG_2PI
        for i in range(m):
            lp[k, i] = c - 0.5 * acc[i]


@numba.njit(nogil=True, cache=NUMBA_CACHE)
def _block_logsumexp(lp, K, m, lse, vmax):
    """lse[i] = log sum_k exp(lp[k, i]); lp[:K, :m] <- exp(lp - max_k lp) (0 where all are -inf).

    The maximal entry is exp(0) = 1 exactly, so it costs no exp, and one component no log.
    """
    if K == 1:
        for i in range(m):
            lse[i] = lp[0, i]
            vmax[i] = lp[0, i]
            lp[0, i] = 1.0 if lp[0, i] != -np.inf else 0.0
        return
    for i in range(m):
        vmax[i] = lp[0, i]
    for k in range(1, K):
        for i in range(m):
            if lp[k, i] > vmax[i]:
                vmax[i] = lp[k, i]
    for i in range(m):
        lse[i] = 0.0
    for k in range(K):
        for i in range(m):
            v = lp[k, i]
            if v == vmax[i]:
                e = 1.0 if v != -np.inf else 0.0
            else:
                e = math.exp(v - vmax[i])
            lp[k, i] = e
            lse[i] += e
    for i in range(m):
        lse[i] = vmax[i] + math.log(lse[i]) if vmax[i] != -np.inf else -np.inf


@numba.njit(nogil=True, cache=NUMBA_CACHE)
def _e_step(Xt, log_w, means, prec_chol, log_det, center, nk, s1, s2):
    """Fused E-step: log-prob -> log-sum-exp -> responsibilities -> sufficient statistics.

    Accumulates, for each component k, nk = sum r_ik, s1 = sum r_ik (x_i - c_k) and the
    lower triangle of s2 = sum r_ik (x_i - c_k)(x_i - c_k)^T, where c_k = ``center[k]``
    (the current mean: shifting keeps the one-pass covariance free of cancellation).
    ``Xt`` is the data feature-major, shape (d, n). Returns the total log-likelihood.
    """
    d, n = Xt.shape
    K = means.shape[0]
    nk[:] = 0.0
    s1[:] = 0.0
    s2[:] = 0.0
    rows = np.arange(d)
    lp = np.empty((K, BLOCK))
    acc = np.empty(BLOCK)
    ya = np.empty(BLOCK)
    lse = np.empty(BLOCK)
    vmax = np.empty(BLOCK)
    xc = np.empty((d, BLOCK))
    total = 0.0
    for i0 in range(0, n, BLOCK):
        m = min(BLOCK, n - i0)
        _block_log_prob(Xt, rows, i0, m, log_w, means, prec_chol, log_det, 0, K, lp, acc, ya)
        _block_logsumexp(lp, K, m, lse, vmax)
        for i in range(m):
            total += lse[i]
            acc[i] = math.exp(vmax[i] - lse[i])  # 1 / sum of the shifted exponentials
        for k in range(K):
            r = lp[k]
            t = 0.0
            for i in range(m):
                r[i] *= acc[i]
                t += r[i]
            nk[k] += t
            for a in range(d):
                ck = center[k, a]
                xa = Xt[a]
                t = 0.0
                for i in range(m):
                    xc[a, i] = xa[i0 + i] - ck
                    t += r[i] * xc[a, i]
                s1[k, a] += t
            for a in range(d):
                for i in range(m):
                    ya[i] = r[i] * xc[a, i]
                for b in range(a + 1):
                    t = 0.0
                    for i in range(m):
                        t += ya[i] * xc[b, i]
                    s2[k, a, b] += t
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
    Xt = np.ascontiguousarray(X.T)
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
        ll = _e_step(Xt, log_w, means, prec_chol, log_det, center, nk, s1, s2) / n
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
    Xt = np.ascontiguousarray(X.T)
    rows = np.arange(d)
    log_w = np.log(weights)
    lp = np.empty((K, BLOCK))
    acc = np.empty(BLOCK)
    ya = np.empty(BLOCK)
    lse = np.empty(BLOCK)
    vmax = np.empty(BLOCK)
    total = 0.0
    for i0 in range(0, n, BLOCK):
        m = min(BLOCK, n - i0)
        _block_log_prob(Xt, rows, i0, m, log_w, means, prec_chol, log_det, 0, K, lp, acc, ya)
        _block_logsumexp(lp, K, m, lse, vmax)
        for i in range(m):
            total += lse[i]
    return total / n
