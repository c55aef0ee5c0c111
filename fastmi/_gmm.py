"""Gaussian-mixture machinery behind GMM-MI: parameters, initialisations, EM fits,
component selection and Monte-Carlo functionals. Inputs here are already validated
and standardised; the public estimator lives in ``_estimators.py``.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ._kernels._em import EM_OK, _em_fit, _mean_log_likelihood
from ._kernels._linalg import _precision_cholesky
from ._kernels._mc import _mc_categorical_moments, _mc_log_ratio_moments

INITS = ("kmeans++", "random_resp", "kmeans", "random", "minmax")
MC_CHUNK = 1 << 16  # samples per MC kernel call: bounds memory for any mc_samples


# --------------------------------------------------------------------------- parameters
@dataclass
class Mixture:
    """Parameters of a full-covariance Gaussian mixture."""

    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, d)
    covariances: np.ndarray  # (K, d, d)

    @property
    def n_components(self):
        return self.weights.shape[0]

    @property
    def n_features(self):
        return self.means.shape[1]

    def copy(self):
        return Mixture(self.weights.copy(), self.means.copy(), self.covariances.copy())

    def marginal(self, cols):
        """The mixture of the Gaussians sliced to ``cols`` (same weights)."""
        cols = np.asarray(cols, dtype=np.intp)
        return Mixture(self.weights.copy(), np.ascontiguousarray(self.means[:, cols]),
                       np.ascontiguousarray(self.covariances[:, cols[:, None], cols[None, :]]))

    def affine(self, loc, scale):
        """The mixture of ``loc + scale * x`` for x drawn from this one (scale per column)."""
        s = np.asarray(scale, dtype=np.float64)
        return Mixture(self.weights.copy(), np.ascontiguousarray(loc + self.means * s),
                       np.ascontiguousarray(self.covariances * s[None, :, None] * s[None, None, :]))

    def n_parameters(self):
        K, d = self.means.shape
        return (K - 1) + K * d + K * d * (d + 1) // 2

    def factors(self):
        """(cholesky, precision cholesky, log|precision cholesky|) of every component."""
        K, d = self.means.shape
        chol, prec, logdet = np.zeros((K, d, d)), np.zeros((K, d, d)), np.empty(K)
        bad = _precision_cholesky(self.covariances, chol, prec, logdet)
        if bad >= 0:
            raise FloatingPointError(f"covariance of component {bad} is not positive definite")
        return chol, prec, logdet


@dataclass
class FitInfo:
    n_iter: int
    converged: bool
    lower_bound: float
    ok: bool


def fit_em(X, start, tol, reg_covar, max_iter):
    """EM from ``start`` (left untouched); returns (Mixture, FitInfo)."""
    m = start.copy()
    n_iter, converged, lb, status = _em_fit(X, m.weights, m.means, m.covariances, tol, reg_covar, max_iter)
    return m, FitInfo(int(n_iter), bool(converged), float(lb), status == EM_OK)


# --------------------------------------------------------------------------- initialisation
def mixture_from_resp(X, resp, reg_covar):
    """One M-step from responsibilities (n, K)."""
    n, d = X.shape
    nk = resp.sum(axis=0) + 10 * np.finfo(np.float64).eps
    means = (resp.T @ X) / nk[:, None]
    covs = np.empty((resp.shape[1], d, d))
    for k in range(resp.shape[1]):
        diff = X - means[k]
        covs[k] = (resp[:, k, None] * diff).T @ diff / nk[k]
        covs[k].flat[:: d + 1] += reg_covar
    return Mixture(nk / nk.sum(), means, covs)


def _mixture_from_labels(X, labels, centers, reg_covar):
    """M-step from hard labels; components with too few points keep their centre and the data covariance."""
    n, d = X.shape
    K = centers.shape[0]
    resp = np.zeros((n, K))
    resp[np.arange(n), labels] = 1.0
    mix = mixture_from_resp(X, resp, reg_covar)
    counts = np.bincount(labels, minlength=K)
    thin = counts < d + 1
    if thin.any():
        mix.means[thin] = centers[thin]
        mix.covariances[thin] = np.cov(X, rowvar=False).reshape(d, d) + reg_covar * np.eye(d)
        w = np.maximum(counts, 1).astype(np.float64)
        mix.weights = w / w.sum()
    return mix


def _sq_dist(X, centers):
    return ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)


def _kmeans_pp_centers(X, K, rng):
    n = X.shape[0]
    centers = np.empty((K, X.shape[1]))
    centers[0] = X[rng.integers(n)]
    d2 = ((X - centers[0]) ** 2).sum(axis=1)
    for k in range(1, K):
        total = d2.sum()
        i = rng.choice(n, p=d2 / total) if total > 0 else rng.integers(n)
        centers[k] = X[i]
        d2 = np.minimum(d2, ((X - centers[k]) ** 2).sum(axis=1))
    return centers


def _lloyd(X, centers, max_iter=300):
    labels = _sq_dist(X, centers).argmin(axis=1)
    for _ in range(max_iter):
        for k in range(centers.shape[0]):
            members = labels == k
            if members.any():
                centers[k] = X[members].mean(axis=0)
        new = _sq_dist(X, centers).argmin(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels, centers


def _isotropic_spread(X, K):
    """Covariance sized to the data box: (mean squared side length / K^2) * I."""
    side = X.max(axis=0) - X.min(axis=0)
    return np.eye(X.shape[1]) * (np.mean(side**2) / K**2)


def initial_mixture(X, K, method, rng, reg_covar):
    """Starting parameters for K components by ``method`` (one of INITS)."""
    n, d = X.shape
    if method == "random_resp":
        resp = rng.uniform(size=(n, K))
        return mixture_from_resp(X, resp / resp.sum(axis=1, keepdims=True), reg_covar)
    if method in ("kmeans++", "kmeans"):
        centers = _kmeans_pp_centers(X, K, rng)
        if method == "kmeans":
            labels, centers = _lloyd(X, centers)
        else:
            labels = _sq_dist(X, centers).argmin(axis=1)
        return _mixture_from_labels(X, labels, centers, reg_covar)
    if method == "random":
        means = X[rng.choice(n, size=K, replace=False)].copy()
    else:  # minmax
        means = rng.uniform(X.min(axis=0), X.max(axis=0), size=(K, d))
    cov = _isotropic_spread(X, K)
    return Mixture(np.full(K, 1.0 / K), means, np.repeat(cov[None], K, axis=0))


# --------------------------------------------------------------------------- seeds and threads
def child_seed(root, *key):
    """A SeedSequence addressed by ``key`` under ``root``: independent of call order."""
    return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + tuple(int(k) for k in key))


@contextmanager
def thread_map(n_jobs):
    """Yield an ordered ``map`` running on ``n_jobs`` threads (the kernels release the GIL)."""
    if n_jobs == 1:
        yield lambda fn, items: [fn(it) for it in items]
        return
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        yield lambda fn, items: list(pool.map(fn, items))


# --------------------------------------------------------------------------- choosing K
@dataclass
class EMSettings:
    tol: float
    reg_covar: float
    max_iter: int


def select_n_components(X, *, candidates, n_init, n_folds, init, em, threshold, patience, metric,
                        root, key, pmap):
    """Choose K by held-out likelihood (``metric='cv'``) or AIC/BIC with patience.

    ``candidates`` is the increasing list of K to try. Returns ``(K, warm_start, record)``,
    where ``record`` holds the per-K, per-init scores and per-fit EM diagnostics.
    """
    n = X.shape[0]
    folds = None
    if metric == "cv":
        perm = np.random.default_rng(child_seed(root, *key, 0)).permutation(n)
        folds = [np.sort(f) for f in np.array_split(perm, n_folds)]
        splits = [(np.ascontiguousarray(X[np.setdiff1d(perm, f, assume_unique=True)]),
                   np.ascontiguousarray(X[f])) for f in folds]
    record = {"k": [], "score": [], "score_per_init": [], "n_iter": [], "converged": [], "ok": []}
    best_score, best_k, best_warm, waited = -np.inf, None, None, 0
    for K in candidates:
        starts = [initial_mixture(X, K, init, np.random.default_rng(child_seed(root, *key, 1, K, i)), em.reg_covar)
                  for i in range(n_init)]
        if metric == "cv":
            jobs = [(i, f) for i in range(n_init) for f in range(n_folds)]

            def run(job):
                i, f = job
                m, info = fit_em(splits[f][0], starts[i], em.tol, em.reg_covar, em.max_iter)
                score = _mean_log_likelihood(splits[f][1], m.weights, m.means, m.covariances) if info.ok else np.nan
                return m, info, score
        else:
            jobs = list(range(n_init))

            def run(i):
                m, info = fit_em(X, starts[i], em.tol, em.reg_covar, em.max_iter)
                if not info.ok:
                    return m, info, np.nan
                ll = _mean_log_likelihood(X, m.weights, m.means, m.covariances)
                penalty = m.n_parameters() * (2.0 if metric == "aic" else math.log(n))
                return m, info, ll - 0.5 * penalty / n  # -criterion / (2n): higher is better
        results = pmap(run, jobs)
        per_fit = np.array([r[2] for r in results]).reshape(n_init, -1)
        per_fit = np.where(np.isfinite(per_fit), per_fit, -np.inf)
        per_init = per_fit.mean(axis=1)
        i_best = int(np.argmax(per_init))
        j_best = int(np.argmax(per_fit[i_best]))
        score = per_init[i_best]
        record["k"].append(K)
        record["score"].append(float(score))
        record["score_per_init"].append(per_init.tolist())
        record["n_iter"].append([r[1].n_iter for r in results])
        record["converged"].append([r[1].converged for r in results])
        record["ok"].append([r[1].ok for r in results])
        if score > best_score + threshold or best_k is None and np.isfinite(score):
            best_score, best_k, waited = score, K, 0
            best_warm = results[i_best * per_fit.shape[1] + j_best][0]
        else:
            waited += 1
            if waited >= patience:
                break
    record["stopped_by_patience"] = waited >= patience
    return best_k, best_warm, record


# --------------------------------------------------------------------------- Monte Carlo
MC_CACHE_BYTES = 64 << 20  # common draws up to this size are generated once and shared


class MCDraws:
    """Common random numbers for Monte-Carlo integrals: ``n_samples`` standard normals in D
    dimensions and as many uniforms, from one seed, served in chunks of ``MC_CHUNK``.

    Every replicate integrates over the same draws (common random numbers), so MC noise
    does not enter the spread between replicates. Small draws are cached; large ones are
    regenerated from the seed, chunk by chunk, so memory stays bounded.
    """

    def __init__(self, seed, n_samples, dim):
        self.seed, self.n_samples, self.dim = seed, int(n_samples), int(dim)
        self._cache = list(self._generate()) if self.n_samples * (dim + 1) * 8 <= MC_CACHE_BYTES else None

    def _generate(self):
        rng = np.random.default_rng(self.seed)
        done = 0
        while done < self.n_samples:
            m = min(MC_CHUNK, self.n_samples - done)
            yield rng.standard_normal((m, self.dim)), rng.random(m)
            done += m

    def __iter__(self):
        return iter(self._cache) if self._cache is not None else self._generate()


def mc_log_ratio(mix, terms, draws):
    """E_{x ~ mix}[sum_t coef_t log p_t(x[cols_t])] by Monte Carlo over ``draws`` (MCDraws).

    ``terms`` is a list of ``(coef, cols, mixture_t)``; each ``mixture_t`` has the same
    number of components as ``mix``. Returns (estimate, standard error), in nats.
    """
    chol, _, _ = mix.factors()
    K = mix.n_components
    T = len(terms)
    dmax = max(len(c) for _, c, _ in terms)
    cols = np.zeros((T, dmax), dtype=np.int64)
    dims = np.empty(T, dtype=np.int64)
    coef = np.empty(T)
    log_w = np.empty((T, K))
    means = np.zeros((T, K, dmax))
    prec = np.zeros((T, K, dmax, dmax))
    logdet = np.empty((T, K))
    for t, (c, tc, tm) in enumerate(terms):
        dt = len(tc)
        cols[t, :dt], dims[t], coef[t] = tc, dt, c
        log_w[t] = np.log(tm.weights)
        means[t, :, :dt] = tm.means
        _, prec[t, :, :dt, :dt], logdet[t] = tm.factors()
    cum_w = np.cumsum(mix.weights)
    args = (cum_w, mix.means, chol, cols, dims, coef, log_w.reshape(-1), means.reshape(T * K, dmax),
            prec.reshape(T * K, dmax, dmax), logdet.reshape(-1))
    total = total_sq = 0.0
    for z, u in draws:
        s, s2 = _mc_log_ratio_moments(z, u, *args)
        total += s
        total_sq += s2
    return _mean_and_stderr(total, total_sq, draws.n_samples)


def _mean_and_stderr(total, total_sq, m):
    mean = total / m
    var = max(total_sq / m - mean * mean, 0.0)
    return mean, math.sqrt(var / m)


def mi_terms(mix, groups, kind="mi"):
    """Terms of ``mc_log_ratio`` for MI between column groups, or CMI given a third group.

    ``groups`` = (x_cols, y_cols) for MI or (x_cols, y_cols, z_cols) for I(X;Y|Z).
    """
    if len(groups) == 2:
        x, y = groups
        xy = list(x) + list(y)
        return [(1.0, xy, mix.marginal(xy)), (-1.0, list(x), mix.marginal(x)), (-1.0, list(y), mix.marginal(y))]
    x, y, z = (list(g) for g in groups)
    return [(1.0, z, mix.marginal(z)), (1.0, x + y + z, mix.marginal(x + y + z)),
            (-1.0, x + z, mix.marginal(x + z)), (-1.0, y + z, mix.marginal(y + z))]


def mc_categorical_mi(mixtures, prior, draws):
    """I(X; C) for class-conditional mixtures ``mixtures[c]`` and class prior ``prior``, by MC."""
    w_joint = np.concatenate([p * m.weights for p, m in zip(prior, mixtures)])
    w_joint /= w_joint.sum()
    stacked = Mixture(w_joint, np.concatenate([m.means for m in mixtures]),
                      np.concatenate([m.covariances for m in mixtures]))
    comp_class = np.concatenate([np.full(m.n_components, c, dtype=np.int64) for c, m in enumerate(mixtures)])
    log_within = np.log(np.concatenate([m.weights for m in mixtures]))
    chol, prec, logdet = stacked.factors()
    args = (np.cumsum(w_joint), stacked.means, chol, prec, logdet, comp_class, np.log(w_joint), log_within)
    total = total_sq = 0.0
    for z, u in draws:
        s, s2 = _mc_categorical_moments(z, u, *args)
        total += s
        total_sq += s2
    return _mean_and_stderr(total, total_sq, draws.n_samples)
