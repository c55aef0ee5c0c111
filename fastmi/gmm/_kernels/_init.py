"""Initialisation kernels: k-means++ seeding, nearest-centre labels, Lloyd iterations and the
M-step from hard labels or responsibilities. Random numbers come from the caller."""
import numba
import numpy as np

from ._cache import NUMBA_CACHE


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _kmeans_pp_centers(X, first, u, centers):
    """k-means++ seeding: centre 0 is row ``first``; centre k >= 1 is drawn with probability
    proportional to the squared distance to the nearest chosen centre, by inverting the
    cumulative distances at ``u[k] * total`` (uniformly when every distance is 0)."""
    n, d = X.shape
    K = centers.shape[0]
    d2 = np.empty(n)
    for a in range(d):  # element-wise: row assignment compiles a costly error path
        centers[0, a] = X[first, a]
    for i in range(n):
        s = 0.0
        for a in range(d):
            t = X[i, a] - centers[0, a]
            s += t * t
        d2[i] = s
    for k in range(1, K):
        total = 0.0
        for i in range(n):
            total += d2[i]
        if total > 0.0:
            target = u[k] * total
            acc = 0.0
            pick = n - 1
            for i in range(n):
                acc += d2[i]
                if acc > target:
                    pick = i
                    break
        else:
            pick = min(int(u[k] * n), n - 1)
        for a in range(d):
            centers[k, a] = X[pick, a]
        for i in range(n):
            s = 0.0
            for a in range(d):
                t = X[i, a] - centers[k, a]
                s += t * t
            if s < d2[i]:
                d2[i] = s


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _nearest_centre(X, centers, labels):
    """labels[i] = index of the nearest centre (squared Euclidean); returns how many changed."""
    n, d = X.shape
    K = centers.shape[0]
    changed = 0
    for i in range(n):
        best, arg = np.inf, 0
        for k in range(K):
            s = 0.0
            for a in range(d):
                t = X[i, a] - centers[k, a]
                s += t * t
            if s < best:
                best, arg = s, k
        if labels[i] != arg:
            changed += 1
            labels[i] = arg
    return changed


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _lloyd(X, centers, labels, max_iter):
    """Lloyd's k-means from ``centers`` until no label changes (empty clusters keep their centre)."""
    n, d = X.shape
    K = centers.shape[0]
    labels[:] = -1
    _nearest_centre(X, centers, labels)
    sums = np.zeros((K, d))
    counts = np.zeros(K)
    for _ in range(max_iter):
        sums[:] = 0.0
        counts[:] = 0.0
        for i in range(n):
            counts[labels[i]] += 1.0
            for a in range(d):
                sums[labels[i], a] += X[i, a]
        for k in range(K):
            if counts[k] > 0:
                for a in range(d):
                    centers[k, a] = sums[k, a] / counts[k]
        if _nearest_centre(X, centers, labels) == 0:
            break


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _m_step_from_resp(X, resp, reg_covar, weights, means, covariances):
    """Weights, means and (two-pass) covariances from responsibilities resp (n, K)."""
    n, d = X.shape
    K = resp.shape[1]
    eps10 = 10.0 * np.finfo(np.float64).eps
    nk = np.zeros(K)
    means[:] = 0.0
    covariances[:] = 0.0
    for i in range(n):
        for k in range(K):
            r = resp[i, k]
            nk[k] += r
            for a in range(d):
                means[k, a] += r * X[i, a]
    for k in range(K):
        nk[k] += eps10
        for a in range(d):
            means[k, a] /= nk[k]
    for i in range(n):
        for k in range(K):
            r = resp[i, k]
            for a in range(d):
                da = r * (X[i, a] - means[k, a])
                for b in range(a + 1):
                    covariances[k, a, b] += da * (X[i, b] - means[k, b])
    total = 0.0
    for k in range(K):
        total += nk[k]
    for k in range(K):
        weights[k] = nk[k] / total
        for a in range(d):
            for b in range(a + 1):
                c = covariances[k, a, b] / nk[k]
                covariances[k, a, b] = c
                covariances[k, b, a] = c
            covariances[k, a, a] += reg_covar


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _m_step_from_labels(X, labels, reg_covar, weights, means, covariances, counts):
    """``_m_step_from_resp`` for one-hot responsibilities, without building them."""
    n, d = X.shape
    K = means.shape[0]
    eps10 = 10.0 * np.finfo(np.float64).eps
    counts[:] = 0.0
    means[:] = 0.0
    covariances[:] = 0.0
    for i in range(n):
        k = labels[i]
        counts[k] += 1.0
        for a in range(d):
            means[k, a] += X[i, a]
    for k in range(K):
        for a in range(d):
            means[k, a] /= counts[k] + eps10
    for i in range(n):
        k = labels[i]
        for a in range(d):
            da = X[i, a] - means[k, a]
            for b in range(a + 1):
                covariances[k, a, b] += da * (X[i, b] - means[k, b])
    total = 0.0
    for k in range(K):
        total += counts[k] + eps10
    for k in range(K):
        nk = counts[k] + eps10
        weights[k] = nk / total
        for a in range(d):
            for b in range(a + 1):
                c = covariances[k, a, b] / nk
                covariances[k, a, b] = c
                covariances[k, b, a] = c
            covariances[k, a, a] += reg_covar
