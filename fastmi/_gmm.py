"""Gaussian-mixture machinery behind GMM-MI: parameters, initialisations, EM fits,
component selection and Monte-Carlo functionals. Inputs here are already validated
and standardised; the public estimator lives in ``_estimators.py``.
"""
from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ._kernels._em import EM_OK, _em_fit, _mean_log_likelihood
from ._kernels._init import _kmeans_pp_centers, _lloyd, _m_step_from_labels, _m_step_from_resp, _nearest_centre
from ._kernels._linalg import _precision_cholesky
from ._xp_gmm import control_variate_estimate
from ._kernels._bootstrap import _control_variate_means, _em_fit_resampled, _mc_categorical_batch, _mc_log_ratio_batch

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

    def affine(self, loc, scale):
        """The mixture of ``loc + scale * x`` for x drawn from this one (scale per column)."""
        means, covs = affine_params(self.means, self.covariances, loc, scale)
        return Mixture(self.weights.copy(), np.ascontiguousarray(means), np.ascontiguousarray(covs))

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


def affine_params(means, covariances, loc, scale):
    """Means (..., d) and covariances (..., d, d) of ``loc + scale * x``, scale per column."""
    s = np.asarray(scale, dtype=np.float64)
    return loc + means * s, covariances * s[:, None] * s[None, :]


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
    K, d = resp.shape[1], X.shape[1]
    mix = Mixture(np.empty(K), np.empty((K, d)), np.empty((K, d, d)))
    _m_step_from_resp(X, np.ascontiguousarray(resp), reg_covar, mix.weights, mix.means, mix.covariances)
    return mix


def _mixture_from_labels(X, labels, centers, reg_covar):
    """M-step from hard labels; components with too few points keep their centre and the data covariance."""
    K, d = centers.shape
    mix = Mixture(np.empty(K), np.empty((K, d)), np.empty((K, d, d)))
    counts = np.empty(K)
    _m_step_from_labels(X, labels, reg_covar, mix.weights, mix.means, mix.covariances, counts)
    thin = counts < d + 1
    if thin.any():
        mix.means[thin] = centers[thin]
        mix.covariances[thin] = np.cov(X, rowvar=False).reshape(d, d) + reg_covar * np.eye(d)
        w = np.maximum(counts, 1.0)
        mix.weights = w / w.sum()
    return mix


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
        centers = np.empty((K, d))
        _kmeans_pp_centers(X, int(rng.integers(n)), rng.random(K), centers)
        labels = np.full(n, -1, dtype=np.int64)
        if method == "kmeans":
            _lloyd(X, centers, labels, 300)
        else:
            _nearest_centre(X, centers, labels)
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


_WORD = (1 << 64) - 1


def pcg_state(seed):
    """The state of ``np.random.PCG64(seed)`` as four uint64 words (state high, state low,
    increment high, increment low), for the kernels that draw from it."""
    st = np.random.PCG64(seed).state["state"]
    return np.array([st["state"] >> 64, st["state"] & _WORD, st["inc"] >> 64, st["inc"] & _WORD], dtype=np.uint64)


def resample_indices(seed, n):
    """The n row indices of the bootstrap resample drawn from ``PCG64(seed)``: row
    floor(r n / 2^64) for each raw draw r, as ``_em_fit_resampled`` draws them (this is its
    NumPy twin, for the array-namespace path and the tests)."""
    if n >= 1 << 32:
        raise ValueError("resampling supports fewer than 2**32 rows")
    raw = np.random.PCG64(seed).random_raw(n)
    nn = np.uint64(n)
    # high word of the 128-bit product raw * n, from 32-bit halves (exact for n < 2^32)
    mid = ((raw & np.uint64(0xFFFFFFFF)) * nn) >> np.uint64(32)
    return (((raw >> np.uint64(32)) * nn + mid) >> np.uint64(32)).astype(np.int64)


class _SerialMap:
    n_jobs = 1

    def __call__(self, fn, items):
        return [fn(it) for it in items]


class _PoolMap:
    def __init__(self, pool, n_jobs):
        self.pool, self.n_jobs = pool, n_jobs

    def __call__(self, fn, items):
        return list(self.pool.map(fn, items))


@contextmanager
def thread_map(n_jobs):
    """Yield an ordered ``map`` running on ``n_jobs`` threads (the kernels release the GIL)."""
    if n_jobs == 1:
        yield _SerialMap()
        return
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        yield _PoolMap(pool, n_jobs)


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
        # one component is fitted in closed form, whatever the start: one fit serves every init
        n_starts = 1 if K == 1 else n_init
        starts = [initial_mixture(X, K, init, np.random.default_rng(child_seed(root, *key, 1, K, i)), em.reg_covar)
                  for i in range(n_starts)]
        if metric == "cv":
            jobs = [(i, f) for i in range(n_starts) for f in range(n_folds)]

            def run(job):
                i, f = job
                m, info = fit_em(splits[f][0], starts[i], em.tol, em.reg_covar, em.max_iter)
                score = _mean_log_likelihood(splits[f][1], m.weights, m.means, m.covariances) if info.ok else np.nan
                return m, info, score
        else:
            jobs = list(range(n_starts))

            def run(i):
                m, info = fit_em(X, starts[i], em.tol, em.reg_covar, em.max_iter)
                if not info.ok:
                    return m, info, np.nan
                ll = _mean_log_likelihood(X, m.weights, m.means, m.covariances)
                penalty = m.n_parameters() * (2.0 if metric == "aic" else math.log(n))
                return m, info, ll - 0.5 * penalty / n  # -criterion / (2n): higher is better
        results = pmap(run, jobs) * (n_init // n_starts)
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
    dimensions and as many uniforms, from one seed, served in chunks of ``MC_CHUNK`` as
    ``(z, u)`` with z of shape (D, m) and u of shape (m,).

    Every replicate integrates over the same draws (common random numbers), so MC noise
    does not enter the spread between replicates. Within a chunk the uniforms come in
    ascending order: they are the order statistics of m independent uniforms, drawn in
    O(m) from exponential spacings. z is independent of u, so pairing sorted u with z
    leaves the (z, u) pairs independent and identically distributed, and a mixture's
    component then owns a contiguous run of samples. Small draws are generated on first
    use (never, when every mixture has one component) and cached; large ones are
    regenerated from the seed, chunk by chunk, so memory stays bounded.
    """

    def __init__(self, seed, n_samples, dim):
        self.seed, self.n_samples, self.dim = seed, int(n_samples), int(dim)
        self.cached = self.n_samples * (dim + 1) * 8 <= MC_CACHE_BYTES
        self._cache = None
        self._lock = threading.Lock()

    def _generate(self):
        rng = np.random.default_rng(self.seed)
        done = 0
        while done < self.n_samples:
            m = min(MC_CHUNK, self.n_samples - done)
            z = rng.standard_normal((self.dim, m))
            spacings = np.cumsum(rng.standard_exponential(m + 1))
            yield z, spacings[:m] / spacings[m]
            done += m

    def __iter__(self):
        if not self.cached:
            return self._generate()
        with self._lock:  # threads share one copy
            if self._cache is None:
                self._cache = list(self._generate())
        return iter(self._cache)


def _mean_and_stderr(total, total_sq, m):
    mean = total / m
    var = np.maximum(total_sq / m - mean * mean, 0.0)
    return mean, np.sqrt(var / m)


def mi_terms(groups):
    """Terms ``(coef, eval_cols, param_cols)`` of MI between two column groups, or of
    I(X; Y | Z) when a third (conditioning) group is given."""
    if len(groups) == 2:
        x, y = (list(g) for g in groups)
        return [(1.0, x + y, x + y), (-1.0, x, x), (-1.0, y, y)]
    x, y, z = (list(g) for g in groups)
    return [(1.0, z, z), (1.0, x + y + z, x + y + z), (-1.0, x + z, x + z), (-1.0, y + z, y + z)]


def _term_arrays(terms):
    T = len(terms)
    dmax = max(len(e) for _, e, _ in terms)
    eval_cols = np.zeros((T, dmax), dtype=np.int64)
    param_cols = np.zeros((T, dmax), dtype=np.int64)
    dims = np.empty(T, dtype=np.int64)
    coef = np.empty(T)
    for t, (c, e, p) in enumerate(terms):
        if len(e) != len(p):
            raise ValueError("a term evaluates a marginal of another dimension")
        if abs(c) != 1.0:
            raise ValueError("terms are added or subtracted: coefficients must be +1 or -1")
        eval_cols[t, : len(e)], param_cols[t, : len(p)], dims[t], coef[t] = e, p, len(e), c
    return eval_cols, param_cols, dims, coef


def stack(mixtures):
    """(weights (B, K), means (B, K, d), covariances (B, K, d, d)) of equal-K mixtures."""
    return (np.stack([m.weights for m in mixtures]), np.stack([m.means for m in mixtures]),
            np.stack([m.covariances for m in mixtures]))


def mc_log_ratio(weights, means, covariances, terms, draws):
    """E_{x ~ mixture b}[sum_t coef_t log p_t(x[eval_cols_t])] for each of B stacked mixtures.

    ``terms`` is a list of ``(coef, eval_cols, param_cols)``: p_t is mixture b's marginal
    over ``param_cols``, evaluated at the columns ``eval_cols`` of the sampled point (equal
    for MI and entropies; different for KL between marginals). The same sum for the
    moment-matched Gaussian, whose expectation is known in closed form, serves as a control
    variate; for a single component it is the exact answer and no sampling is done.
    Returns (estimates, standard errors), arrays of shape (B,) in nats; NaN for a mixture
    with a non-SPD covariance.
    """
    cols = _term_arrays(terms)
    expected = np.empty(weights.shape[0])
    _control_variate_means(weights, means, covariances, *cols, expected)
    if weights.shape[1] == 1:
        return expected, np.zeros_like(expected)
    sums = np.zeros((weights.shape[0], 5))
    for z, u in draws:
        _mc_log_ratio_batch(z, u, weights, means, covariances, *cols, sums)
    return control_variate_estimate(np, sums, expected, draws.n_samples)


def mc_categorical_mi(weights_within, prior, means, covariances, comp_class, draws):
    """I(X; C) for each of B stacked class-conditional mixtures (see ``_mc_categorical_batch``)."""
    total = np.zeros(weights_within.shape[0])
    total_sq = np.zeros(weights_within.shape[0])
    for z, u in draws:
        _mc_categorical_batch(z, u, weights_within, prior, means, covariances, comp_class, total, total_sq)
    return _mean_and_stderr(total, total_sq, draws.n_samples)


# --------------------------------------------------------------------------- bootstrap
@dataclass
class BootstrapOutput:
    values: np.ndarray  # (B,) MI in nats, NaN where the fit failed
    stderr: np.ndarray  # (B,) MC standard errors
    n_iter: np.ndarray  # (B, n_fits) EM iterations (one fit per class for the categorical variant)
    converged: np.ndarray
    ok: np.ndarray  # (B,) every fit of the replicate succeeded
    params: tuple  # stacked fitted parameters


def _resample_indices(seed_of, start, stop, n):
    """Bootstrap row indices of replicates start..stop-1 (see ``resample_indices``)."""
    return np.stack([resample_indices(seed_of(b), n) for b in range(start, stop)])


def _per_thread(B, pmap):
    """Contiguous runs of replicates, one per thread."""
    return [(r[0], r[-1] + 1) for r in np.array_split(np.arange(B), min(getattr(pmap, "n_jobs", 1), B)) if r.size]


def _refit_resampled(X, codes, k_ranges, params, n_boot, seed_of, em, pmap, integrate):
    """Resample, refit and integrate every replicate: each thread takes one contiguous run of
    replicates, fits them all by one ``_em_fit_resampled`` call (each from its own PCG64
    stream), then calls ``integrate(start, stop)``. ``params`` are the stacked (B, K, ...)
    starting parameters, overwritten by the fits. Returns the per-fit diagnostics."""
    n_fits = len(k_ranges) - 1
    n_iter = np.zeros((n_boot, n_fits), dtype=np.int64)
    conv = np.zeros((n_boot, n_fits), dtype=np.bool_)
    lb = np.zeros((n_boot, n_fits))
    status = np.zeros((n_boot, n_fits), dtype=np.int64)
    class_count = np.zeros((n_boot, n_fits))
    W, M, C = params

    def work(run):
        s, e = run
        states = np.stack([pcg_state(seed_of(b)) for b in range(s, e)])
        _em_fit_resampled(X, codes, states, k_ranges, W[s:e], M[s:e], C[s:e], em.tol, em.reg_covar, em.max_iter,
                          n_iter[s:e], conv[s:e], lb[s:e], status[s:e], class_count[s:e])
        integrate(s, e, class_count[s:e])

    pmap(work, _per_thread(n_boot, pmap))
    return n_iter, conv, (status == EM_OK).all(axis=1)


def bootstrap_continuous(X, warm, groups, n_boot, seed_of, em, draws, pmap):
    """Bootstrap MI (or CMI) of the mixture model warm-started from ``warm``.

    Replicate b resamples the n rows from its own stream ``seed_of(b)``, refits EM by
    ``_em_fit_resampled`` and integrates by ``_mc_log_ratio_batch`` over the common ``draws``.
    """
    n = X.shape[0]
    W, M, C = (np.repeat(a[None], n_boot, axis=0) for a in (warm.weights, warm.means, warm.covariances))
    values = np.zeros(n_boot)
    stderr = np.zeros(n_boot)
    terms = mi_terms(groups)

    def integrate(s, e, _count):
        values[s:e], stderr[s:e] = mc_log_ratio(W[s:e], M[s:e], C[s:e], terms, draws)

    n_iter, conv, ok = _refit_resampled(X, np.zeros(n, dtype=np.int64), np.array([0, warm.n_components]),
                                        (W, M, C), n_boot, seed_of, em, pmap, integrate)
    return BootstrapOutput(values, stderr, n_iter, conv, ok & np.isfinite(values), (W, M, C))


def bootstrap_categorical(X, codes, warms, n_boot, seed_of, em, draws, pmap):
    """Bootstrap I(X; C): replicate b resamples rows, refits each class's mixture warm-started,
    and uses its own empirical class prior."""
    n = X.shape[0]
    comp_class = np.concatenate([np.full(w.n_components, c, dtype=np.int64) for c, w in enumerate(warms)])
    k_ranges = np.concatenate([[0], np.cumsum([w.n_components for w in warms])]).astype(np.int64)
    Ww, Mm, Cc = (np.repeat(np.concatenate([getattr(w, p) for w in warms])[None], n_boot, axis=0)
                  for p in ("weights", "means", "covariances"))
    prior = np.zeros((n_boot, len(warms)))
    values = np.zeros(n_boot)
    stderr = np.zeros(n_boot)

    def integrate(s, e, class_count):
        prior[s:e] = class_count / n
        values[s:e], stderr[s:e] = mc_categorical_mi(Ww[s:e], prior[s:e], Mm[s:e], Cc[s:e], comp_class, draws)

    n_iter, conv, ok = _refit_resampled(X, codes, k_ranges, (Ww, Mm, Cc), n_boot, seed_of, em, pmap, integrate)
    return BootstrapOutput(values, stderr, n_iter, conv, ok & np.isfinite(values), (Ww, prior, Mm, Cc, comp_class))
