"""Gaussian-mixture parameters, EM fits and initialisations. Inputs are already validated
and standardised; the public estimator lives in ``_estimator.py``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._kernels._em import EM_OK, _em_fit
from ._kernels._init import _kmeans_pp_centers, _lloyd, _m_step_from_labels, _m_step_from_resp, _nearest_centre
from ._kernels._linalg import _precision_cholesky

INITS = ("kmeans++", "random_resp", "kmeans", "random", "minmax")


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
    # for data above ~1e154 the covariances in the input's units exceed float64 (inf); the MI is
    # integrated in standardised units and does not use them
    with np.errstate(over="ignore", invalid="ignore"):
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

