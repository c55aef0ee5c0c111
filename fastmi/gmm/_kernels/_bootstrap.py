"""Batched kernels for the bootstrap loop: many EM fits, then the MC integrals of many
fitted mixtures, each replicate computed serially by one call so that results never
depend on how replicates are split between threads.
"""
import numba
import numpy as np

from ._cache import NUMBA_CACHE
from ._em import EM_NAN, _em_fit_t, _sum
from ._linalg import LOG_2PI, _cholesky_lower, _invert_lower, _precision_cholesky
from ._mc import _component_bounds, _mc_categorical_moments, _mc_log_ratio_moments, _mc_log_ratio_values
from ._random import _resample_counts


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _distinct_rows(Xt, sw, out_t, out_w):
    """Copy the columns of Xt (d, n) whose weight sw is positive, and those weights, to the
    front of out_t (d, U) and out_w (U,), in order, with no data-dependent branch (U = number of
    positive weights)."""
    d, n = Xt.shape
    U = out_w.shape[0]
    j = 0
    for i in range(n):
        if j == U:
            break
        for a in range(d):  # written at j whatever the weight: a later kept row overwrites it
            out_t[a, j] = Xt[a, i]
        out_w[j] = sw[i]
        j += sw[i] > 0.0


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _em_fit_resampled(X, codes, states, k_ranges, weights, means, covariances, tol, reg_covar, max_iter,
                      n_iter, converged, lower_bound, status, class_count):
    """Bootstrap fits: replicate b resamples the n rows of X with replacement, drawing from
    the PCG64 ``states[b]``, then refits the mixture of each class c (rows with codes == c)
    from its current parameters, components ``k_ranges[c]:k_ranges[c + 1]`` of
    ``weights[b]``, ``means[b]``, ``covariances[b]`` (overwritten with the fit). Per-fit
    results go to ``n_iter[b, c]`` etc.; ``class_count[b, c]`` is the class's resampled size.

    A resample repeats rows: EM sees each distinct row once, weighted by its count (a
    bootstrap of n rows has about 0.63 n distinct ones), which is the same EM up to the
    order of summation. A one-component fit is closed form and takes all the class's rows
    with their counts, zeros included.
    """
    n_rows, d = X.shape
    n_classes = k_ranges.shape[0] - 1
    class_size = np.zeros(n_classes, dtype=np.int64)
    for r in range(n_rows):
        class_size[codes[r]] += 1
    offset = np.zeros(n_classes + 1, dtype=np.int64)
    for c in range(n_classes):
        offset[c + 1] = offset[c] + class_size[c]
    # the rows of each class c as one contiguous feature-major block (d, size) starting at
    # flat[d * offset[c]], and their positions in X
    flat = np.empty(d * n_rows)
    rows = np.empty(n_rows, dtype=np.int64)
    fill = offset[:n_classes].copy()
    for r in range(n_rows):
        c = codes[r]
        j = fill[c]
        fill[c] += 1
        rows[j] = r
        for a in range(d):
            flat[d * offset[c] + a * class_size[c] + (j - offset[c])] = X[r, a]
    count = np.zeros(n_rows)
    sw = np.empty(n_rows)
    for b in range(states.shape[0]):
        count[:] = 0.0
        _resample_counts(states[b], count)
        for c in range(n_classes):
            lo, hi = offset[c], offset[c + 1]
            sw_c = sw[lo:hi]
            rows_c = rows[lo:hi]
            for i in range(hi - lo):
                sw_c[i] = count[rows_c[i]]
            class_count[b, c] = _sum(sw_c, hi - lo)
            k0, k1 = k_ranges[c], k_ranges[c + 1]
            Xt = flat[d * lo:d * hi].reshape((d, hi - lo))
            w_c = weights[b, k0:k1].copy()
            mu_c = means[b, k0:k1].copy()
            cov_c = covariances[b, k0:k1].copy()
            if class_count[b, c] == 0.0:  # the class is absent from this resample
                it, conv, lb, st = 0, False, -np.inf, EM_NAN
            elif k1 - k0 == 1:
                it, conv, lb, st = _em_fit_t(Xt, sw_c, w_c, mu_c, cov_c, tol, reg_covar, max_iter)
            else:
                U = 0
                for i in range(hi - lo):
                    U += sw_c[i] > 0.0
                Xu = np.empty((d, U))
                wu = np.empty(U)
                _distinct_rows(Xt, sw_c, Xu, wu)
                it, conv, lb, st = _em_fit_t(Xu, wu, w_c, mu_c, cov_c, tol, reg_covar, max_iter)
            for k in range(k1 - k0):  # element-wise: slice assignment compiles a costly error path
                weights[b, k0 + k] = w_c[k]
                for a in range(d):
                    means[b, k0 + k, a] = mu_c[k, a]
                    for e in range(d):
                        covariances[b, k0 + k, a, e] = cov_c[k, a, e]
            n_iter[b, c] = it
            converged[b, c] = conv
            lower_bound[b, c] = lb
            status[b, c] = st


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
def _gaussian_terms_quadratic(mean, cov, eval_cols, param_cols, dims, coef, A, h):
    """sum_t coef_t log N(x[eval_t]; mean[param_t], cov[param_t, param_t]) as the quadratic
    c0 + h . v - v^T A v / 2 in v = x - mean: fills A (D, D) and h (D,), returns c0 (NaN if
    a sub-covariance is not SPD)."""
    T, dmax = eval_cols.shape
    A[:, :] = 0.0
    h[:] = 0.0
    c0 = 0.0
    sub = np.zeros((dmax, dmax))
    chol = np.zeros((dmax, dmax))
    prec = np.zeros((dmax, dmax))
    lam = np.zeros((dmax, dmax))
    delta = np.zeros(dmax)
    for t in range(T):
        dt = dims[t]
        e, p = eval_cols[t], param_cols[t]
        for a in range(dt):
            delta[a] = mean[e[a]] - mean[p[a]]  # zero unless a term evaluates another marginal (KL)
            for b in range(dt):
                sub[a, b] = cov[p[a], p[b]]
        if not _cholesky_lower(sub[:dt, :dt], chol[:dt, :dt]):
            return np.nan
        log_det = _invert_lower(chol[:dt, :dt], prec[:dt, :dt])
        for a in range(dt):  # precision P^T P
            for b in range(dt):
                s = 0.0
                for r in range(max(a, b), dt):
                    s += prec[r, a] * prec[r, b]
                lam[a, b] = s
        quad = 0.0
        for a in range(dt):
            ld = 0.0
            for b in range(dt):
                A[e[a], e[b]] += coef[t] * lam[a, b]
                ld += lam[a, b] * delta[b]
            h[e[a]] -= coef[t] * ld
            quad += delta[a] * ld
        c0 += coef[t] * (log_det - 0.5 * (dt * LOG_2PI + quad))
    return c0


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _control_variate(weights, means, covariances, eval_cols, param_cols, dims, coef, g_mean, g_cov, A, h):
    """The control variate of a mixture's log-ratio: the same signed sum of log densities for
    its moment-matched Gaussian (mean ``g_mean``, covariance ``g_cov``), as the quadratic
    (A, h, returned c0) of ``_gaussian_terms_quadratic``."""
    _moment_match(weights, means, covariances, g_mean, g_cov)
    return _gaussian_terms_quadratic(g_mean, g_cov, eval_cols, param_cols, dims, coef, A, h)


def _control_variate_means(weights, means, covariances, eval_cols, param_cols, dims, coef, expected):
    """expected[b] = E[g] under mixture b, g its control variate (see ``_mc_log_ratio_batch``):
    g is quadratic, so only the mixture's mean and covariance enter, c0 - tr(A cov) / 2.
    NaN where a marginal of the moment-matched Gaussian is not SPD. (Python glue.)"""
    D = means.shape[2]
    g_mean, g_cov, A, h = np.empty(D), np.empty((D, D)), np.empty((D, D)), np.empty(D)
    for b in range(means.shape[0]):
        c0 = _control_variate(weights[b], means[b], covariances[b], eval_cols, param_cols, dims, coef, g_mean, g_cov,
                              A, h)
        trace = 0.0  # Python floats: the same IEEE operations, in the same order, as compiled code
        for a in range(D):
            for c in range(D):
                trace += float(A[a, c]) * float(g_cov[c, a])
        expected[b] = c0 - 0.5 * trace


def _prepared_mixtures(u, weights, means, covariances, eval_cols, param_cols, dims, coef):
    """For each mixture b: ``(b, args)``, with ``args`` the arguments after ``z`` of
    ``_mc_log_ratio_moments`` / ``_mc_log_ratio_values`` for the draws' uniforms ``u``, or None
    when b has a non-SPD covariance. The work arrays are reused: use ``args`` before the next."""
    B, K, D = means.shape
    chol = np.zeros((K, D, D))
    prec = np.zeros((K, D, D))
    log_det = np.empty(K)
    cum_w = np.empty(K)
    bounds = np.empty(K, dtype=np.int64)
    T, dmax = eval_cols.shape
    log_w = np.empty(T * K)
    t_means = np.zeros((T * K, dmax))
    t_prec = np.zeros((T * K, dmax, dmax))
    t_log_det = np.empty(T * K)
    g_mean, g_cov, cv_A, cv_h = np.empty(D), np.empty((D, D)), np.empty((D, D)), np.empty(D)
    for b in range(B):
        cv_c0 = _control_variate(weights[b], means[b], covariances[b], eval_cols, param_cols, dims, coef, g_mean,
                                 g_cov, cv_A, cv_h)
        if (_precision_cholesky(covariances[b], chol, prec, log_det) >= 0 or
                not _pack_terms(weights[b], means[b], covariances[b], param_cols, dims, log_w, t_means, t_prec,
                                t_log_det) or not np.isfinite(cv_c0)):
            yield b, None
            continue
        acc = 0.0
        for k in range(K):  # the cumulative weights, summed in order
            acc += float(weights[b, k])
            cum_w[k] = acc
        # the smallest component c with u < cum_w[c]; the last one takes the rest
        bounds[:K - 1] = np.searchsorted(u, cum_w[:K - 1])
        bounds[K - 1] = u.shape[0]
        yield b, (bounds, means[b], chol, eval_cols, dims, coef, log_w, t_means, t_prec, t_log_det, g_mean, cv_A,
                  cv_h, cv_c0)


def _mc_log_ratio_batch(z, u, weights, means, covariances, eval_cols, param_cols, dims, coef, sums):
    """Add, for each mixture b, to ``sums[b]`` the moments [f, f^2, g, g^2, f g] summed over
    the draws (z feature-major (D, m), u ascending (m,)), where f(x) = sum_t coef_t
    log p_t(x[eval_cols_t]) with p_t mixture b's marginal over ``param_cols_t``, g is the same
    sum for the moment-matched Gaussian of mixture b (a control variate), and x is drawn from
    mixture b. ``sums[b, 0]`` is NaN if b has a non-SPD covariance.

    Python glue around compiled kernels; the samples' work is ``_mc_log_ratio_moments``.
    """
    for b, args in _prepared_mixtures(u, weights, means, covariances, eval_cols, param_cols, dims, coef):
        if args is None:
            sums[b, 0] = np.nan
        else:
            _mc_log_ratio_moments(z, *args, sums[b])


def _mc_log_ratio_values_batch(z, u, weights, means, covariances, eval_cols, param_cols, dims, coef, f, g):
    """The per-sample values behind ``_mc_log_ratio_batch``'s moments: f[b, i] and g[b, i]
    for draw i mapped through mixture b (f, g of shape (B, m)); row b of f is NaN if b has
    a non-SPD covariance. (Python glue, as ``_mc_log_ratio_batch``.)"""
    for b, args in _prepared_mixtures(u, weights, means, covariances, eval_cols, param_cols, dims, coef):
        if args is None:
            f[b] = np.nan
        else:
            _mc_log_ratio_values(z, *args, f[b], g[b])


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
    bounds = np.empty(J, dtype=np.int64)
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
        _component_bounds(u, cum_w, bounds)
        s, s2 = _mc_categorical_moments(z, bounds, means[b], chol, prec, log_det, comp_class, log_joint,
                                        log_within)
        total[b] += s
        total_sq[b] += s2
