"""Closed-form small-matrix linear algebra (no LAPACK: d is tiny, calls are many)."""
import math

import numba

from ._cache import NUMBA_CACHE

LOG_2PI = math.log(2.0 * math.pi)


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _cholesky_lower(a, out):
    """Lower Cholesky factor of the SPD matrix ``a`` (d, d) into ``out``; False if not SPD."""
    d = a.shape[0]
    for j in range(d):
        s = a[j, j]
        for p in range(j):
            s -= out[j, p] * out[j, p]
        if not s > 0.0:  # also catches NaN
            return False
        ljj = math.sqrt(s)
        out[j, j] = ljj
        for i in range(j + 1, d):
            t = a[i, j]
            for p in range(j):
                t -= out[i, p] * out[j, p]
            out[i, j] = t / ljj
        for i in range(j):
            out[i, j] = 0.0
    return True


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _invert_lower(lower, out):
    """Inverse of a lower-triangular matrix by forward substitution; returns log|det(out)|."""
    d = lower.shape[0]
    logdet = 0.0
    for j in range(d):
        out[j, j] = 1.0 / lower[j, j]
        logdet -= math.log(lower[j, j])
        for i in range(j + 1, d):
            s = 0.0
            for p in range(j, i):
                s += lower[i, p] * out[p, j]
            out[i, j] = -s / lower[i, i]
        for i in range(j):
            out[i, j] = 0.0
    return logdet


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _precision_cholesky(covariances, chol, prec_chol, log_det):
    """For each component: L = chol(cov), P = L^-1 (so cov^-1 = P^T P), log|P|.

    Returns the index of the first non-SPD covariance, or -1 when all are SPD.
    """
    for k in range(covariances.shape[0]):
        if not _cholesky_lower(covariances[k], chol[k]):
            return k
        log_det[k] = _invert_lower(chol[k], prec_chol[k])
    return -1
