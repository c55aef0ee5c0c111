"""Batched kernels for the bootstrap loop: many EM fits, then the MC integrals of many
fitted mixtures, each replicate computed serially by one call so that results never
depend on how replicates are split between threads.
"""
import numba
import numpy as np

from .._config import NUMBA_CACHE
from ._em import _em_fit_t
from ._linalg import _cholesky_lower, _invert_lower, _precision_cholesky
from ._mc import _mc_categorical_moments, _mc_log_ratio_moments


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _em_fit_batch(X, idx, lengths, weights, means, covariances, tol, reg_covar, max_iter,
                  n_iter, converged, lower_bound, status):
    """Fit replicate b on rows ``X[idx[b, :lengths[b]]]``, starting from (and overwriting)
    ``weights[b]``, ``means[b]``, ``covariances[b]``; per-replicate results go to the
    output arrays. Convergence is tracked for each replicate on its own.

    A resample repeats rows: each distinct row is fitted once, weighted by its count (a
    bootstrap of n rows has about 0.63 n distinct ones), which is the same EM up to the
    order of summation.
    """
    n_rows, d = X.shape
    count = np.zeros(n_rows)
    for b in range(idx.shape[0]):
        L = lengths[b]
        for i in range(L):
            count[idx[b, i]] += 1.0
        U = 0
        for r in range(n_rows):
            U += count[r] > 0.0
        Xt = np.empty((d, U))
        sw = np.empty(U)
        j = 0
        for r in range(n_rows):  # ascending row order, whatever the draw order
            if count[r] > 0.0:
                for a in range(d):
                    Xt[a, j] = X[r, a]
                sw[j] = count[r]
                count[r] = 0.0
                j += 1
        it, conv, lb, st = _em_fit_t(Xt, sw, weights[b], means[b], covariances[b], tol, reg_covar, max_iter)
        n_iter[b] = it
        converged[b] = conv
        lower_bound[b] = lb
        status[b] = st


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _pack_terms(weights, means, covariances, param_cols, dims, log_w, t_means, t_prec, t_log_det):
    """Parameters of every term's marginal mixture (columns ``param_cols[t, :dims[t]]``),
    laid out as rows t*K .. t*K+K-1 for ``_mc_log_ratio_moments``. False if not SPD."""
    T = param_cols.shape[0]
    K = weights.shape[0]
    dmax = param_cols.shape[1]
    sub = np.zeros((dmax, dmax))
    chol = np.zeros((dmax, dmax))
    for t in range(T):
        dt = dims[t]
        for k in range(K):
            row = t * K + k
            log_w[row] = np.log(weights[k])
            for a in range(dt):
                t_means[row, a] = means[k, param_cols[t, a]]
                for c in range(dt):
                    sub[a, c] = covariances[k, param_cols[t, a], param_cols[t, c]]
            if not _cholesky_lower(sub[:dt, :dt], chol[:dt, :dt]):
                return False
            t_log_det[row] = _invert_lower(chol[:dt, :dt], t_prec[row, :dt, :dt])
    return True


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _moment_match(weights, means, covariances, mean, cov):
    """Mean and covariance of a Gaussian mixture (its moment-matched Gaussian)."""
    K, D = means.shape
    mean[:] = 0.0
    cov[:, :] = 0.0
    for k in range(K):
        for a in range(D):
            mean[a] += weights[k] * means[k, a]
    for k in range(K):
        for a in range(D):
            da = means[k, a] - mean[a]
            for c in range(D):
                cov[a, c] += weights[k] * (covariances[k, a, c] + da * (means[k, c] - mean[c]))


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _mc_log_ratio_batch(z, u, weights, means, covariances, eval_cols, param_cols, dims, coef, sums):
    """Add, for each mixture b, to ``sums[b]`` the moments [f, f^2, g, g^2, f g] summed over
    the draws (z, u), where f(x) = sum_t coef_t log p_t(x[eval_cols_t]) with p_t mixture b's
    marginal over ``param_cols_t``, g is the same sum for the moment-matched Gaussian of
    mixture b (a control variate), and x is drawn from mixture b. ``sums[b, 0]`` is NaN
    if b has a non-SPD covariance.
    """
    B, K, D = means.shape
    T, dmax = eval_cols.shape
    chol = np.zeros((K, D, D))
    prec = np.zeros((K, D, D))
    log_det = np.empty(K)
    cum_w = np.empty(K)
    log_w = np.empty(T * K)
    t_means = np.zeros((T * K, dmax))
    t_prec = np.zeros((T * K, dmax, dmax))
    t_log_det = np.empty(T * K)
    g_mean = np.empty(D)
    g_cov = np.empty((1, D, D))
    g_w = np.ones(1)
    cv_log_w = np.zeros(T)
    cv_means = np.zeros((T, dmax))
    cv_prec = np.zeros((T, dmax, dmax))
    cv_log_det = np.empty(T)
    for b in range(B):
        _moment_match(weights[b], means[b], covariances[b], g_mean, g_cov[0])
        if (_precision_cholesky(covariances[b], chol, prec, log_det) >= 0 or
                not _pack_terms(weights[b], means[b], covariances[b], param_cols, dims, log_w, t_means, t_prec,
                                t_log_det) or
                not _pack_terms(g_w, g_mean.reshape(1, D), g_cov, param_cols, dims, cv_log_w, cv_means, cv_prec,
                                cv_log_det)):
            sums[b, 0] = np.nan
            continue
        acc = 0.0
        for k in range(K):
            acc += weights[b, k]
            cum_w[k] = acc
        _mc_log_ratio_moments(z, u, cum_w, means[b], chol, eval_cols, dims, coef, log_w, t_means, t_prec,
                              t_log_det, cv_log_w, cv_means, cv_prec, cv_log_det, sums[b])


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _mc_categorical_batch(z, u, weights_within, prior, means, covariances, comp_class, total, total_sq):
    """Add, for each replicate b, the sums of log p(x|c) - log p(x) over the draws, for the
    stacked class-conditional mixture b: component j belongs to class ``comp_class[j]``,
    has weight ``weights_within[b, j]`` within it, and the classes have prior ``prior[b]``.
    """
    B, J, D = means.shape
    chol = np.zeros((J, D, D))
    prec = np.zeros((J, D, D))
    log_det = np.empty(J)
    cum_w = np.empty(J)
    log_joint = np.empty(J)
    log_within = np.empty(J)
    for b in range(B):
        if _precision_cholesky(covariances[b], chol, prec, log_det) >= 0:
            total[b] = np.nan
            continue
        acc = 0.0
        for j in range(J):
            w = prior[b, comp_class[j]] * weights_within[b, j]
            acc += w
            cum_w[j] = acc
            log_joint[j] = np.log(w)
            log_within[j] = np.log(weights_within[b, j])
        for j in range(J):
            cum_w[j] /= acc
            log_joint[j] -= np.log(acc)
        s, s2 = _mc_categorical_moments(z, u, cum_w, means[b], chol, prec, log_det, comp_class, log_joint,
                                        log_within)
        total[b] += s
        total_sq[b] += s2
