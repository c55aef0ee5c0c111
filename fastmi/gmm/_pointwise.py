"""Pointwise mutual information of fitted mixtures: for each row, the log ratio
log q(x, y) - log q(x) - log q(y) whose mean under q is the MI (and whose histogram is the
PMI profile of Czyz et al. 2023). Row-wise densities in standardised units; the public entry
is ``GMMMI.pointwise_mi``."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp

_LOG_2PI = math.log(2.0 * math.pi)


def log_density(X, weights, means, covs):
    """log q(X[i]) of the mixture for every row of X (n, d): array (n,)."""
    n, d = X.shape
    out = np.empty((weights.shape[0], n))
    for k in range(weights.shape[0]):
        L = np.linalg.cholesky(covs[k])
        sol = solve_triangular(L, (X - means[k]).T, lower=True, check_finite=False)
        out[k] = (math.log(weights[k]) if weights[k] > 0 else -np.inf) - 0.5 * (
            np.einsum("ij,ij->j", sol, sol) + 2.0 * np.log(np.diag(L)).sum() + d * _LOG_2PI)
    return logsumexp(out, axis=0)


def _marginal_log_density(X, cols, weights, means, covs):
    c = np.asarray(cols)
    return log_density(X[:, c], weights, means[:, c], covs[:, c[:, None], c])


def continuous_pmi(Z, terms, weights, means, covs):
    """sum_t coef_t log q_t(Z[:, cols_t]) for each row (``terms`` as ``mi_terms``)."""
    return sum(coef * _marginal_log_density(Z, cols, weights, means, covs) for coef, cols, _ in terms)


def categorical_pmi(Z, codes, weights_within, prior, means, covs, comp_class, dz=0):
    """log q(x | c) - log q(x) of each row's class c (its z-conditional form when the first
    ``dz`` columns are z: log q(x | c, z) - log q(x | z))."""

    def info(cols):
        own = np.empty(Z.shape[0])
        for c in range(prior.shape[0]):
            rows = codes == c
            if rows.any():
                sel = comp_class == c
                own[rows] = _marginal_log_density(Z[rows], cols, weights_within[sel], means[sel], covs[sel])
        return own - _marginal_log_density(Z, cols, weights_within * prior[comp_class], means, covs)

    value = info(list(range(Z.shape[1])))
    return value - info(list(range(dz))) if dz else value


@dataclass
class PointwiseMI:
    """Pointwise mutual information of a fitted :class:`~fastmi.GMMMI`, one value per row.

    Attributes
    ----------
    values : ndarray of shape (n_samples,)
        log q(x, y) - log q(x) - log q(y) (log q(x | c) - log q(x) for class labels; the
        z-conditional forms with z), averaged over the fitted mixtures: the bootstrap fits of
        the last ``estimate()`` when there are any, else the full-data fit.
    std : ndarray of shape (n_samples,)
        The spread (ddof=1) of each row's value over the bootstrap fits; NaN with one fit.
    unit : {'nat', 'bit'}
    n_fits : int
        How many mixtures were averaged.
    space : {'data', 'copula'}
        Where the mixture lives; PMI is the same in both (the Jacobians of the maps cancel).
    """

    values: np.ndarray
    std: np.ndarray
    unit: str = "nat"
    n_fits: int = 1
    space: str = "data"

    @property
    def mean(self):
        """The mean PMI over the rows: a resubstitution estimate of the MI."""
        return float(np.mean(self.values))

    def top(self, k=10):
        """Indices of the ``k`` rows with the largest PMI (the samples that carry the most
        information), largest first."""
        k = min(int(k), self.values.size)
        return np.argsort(-self.values, kind="stable")[:k]

    def __len__(self):
        return self.values.size

    def __repr__(self):
        return (f"PointwiseMI(n={self.values.size}, mean={self.mean:.4g} {self.unit}, n_fits={self.n_fits}, "
                f"space={self.space!r})")
