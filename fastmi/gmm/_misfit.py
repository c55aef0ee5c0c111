"""What the bootstrap of a mixture fit cannot see: misspecification.

The bootstrap spread measures how much the fitted mixture's MI varies between data sets. When
no mixture of the selected size describes the data, every replicate is wrong the same way and
the spread says nothing about it. Two measurements reach that error:

* **The resubstitution gap.** The MI of a fitted mixture q is E_q[r], the mean of its log
  ratio r = log q(x, y) - log q(x) - log q(y) under q itself (the Monte-Carlo integral). The
  same log ratio averaged over the rows the mixture was fitted to estimates E_p[r] under the
  data's distribution p. For a well-specified mixture both converge to the MI (for one
  Gaussian they agree exactly: the sample covariance is the fitted one); when the mixture
  misrepresents the dependence they disagree, by an amount of the order of the MI's bias.
  The gap averaged over the bootstrap replicates enters the error bar in quadrature.
* **A nonparametric check.** The k-NN (KSG) estimate on the data against the same estimate
  on as many points drawn from the fitted mixture: k-NN estimators are biased, but alike on
  both samples when the mixture is right (the bias depends on the shape of the distribution,
  which the two share). A difference beyond both estimates' errors means the mixture misses
  (or invents) dependence that its error bar cannot cover: the result is flagged
  (``diagnostics['misfit']``) with a :class:`~fastmi.MisfitWarning`.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import digamma

from ..knn._ksg import _cmi_counts, _ksg_counts
from ..knn._mixed import _ross_counts
from ._bootstrap import resample_indices
from ._kernels._em import _mean_log_likelihood

#: the check flags a difference larger than this many combined standard errors
MISFIT_SIGMAS = 3.0
#: the standard error of a k-NN estimate from its per-point terms ignores that neighbouring
#: points share neighbours; over repeated Gaussian samples the estimates' spread was 1.0-1.2
#: times it in 2 dimensions and 1.4-1.7 times in 6-10 (n = 500-5000): scaled by 1 + this * d
SE_INFLATION_PER_DIM = 0.1
#: rows used by the k-NN check (a seeded subset of larger data sets), to bound its cost
CHECK_ROWS = 50_000
_K_NN = 3


# --------------------------------------------------------------------------- resubstitution
def _row_weights(seed_of, b, n):
    """Bootstrap counts of the rows of replicate b (None: all rows once, the full-data fit)."""
    if seed_of is None:
        return None
    return np.bincount(resample_indices(seed_of(b), n), minlength=n).astype(np.float64)


def _term_mean(X, rows, w, cols, weights, means, covs):
    """Weighted mean log density of the mixture's marginal over ``cols`` at ``X[rows]``."""
    c = np.asarray(cols)
    return _mean_log_likelihood(np.ascontiguousarray(X[np.ix_(rows, c)]), weights,
                                np.ascontiguousarray(means[:, c]), np.ascontiguousarray(covs[:, c[:, None], c]),
                                None if w is None else w[rows])


def resubstitution_mi(X, terms, weights, means, covs, row_weights=None):
    """Sum over ``terms`` (``coef, eval_cols, param_cols``, see ``mi_terms``) of the mean log
    density of each marginal over the rows it was fitted to (weighted by ``row_weights``)."""
    rows = np.arange(X.shape[0]) if row_weights is None else np.flatnonzero(row_weights)
    return sum(coef * _term_mean(X, rows, row_weights, cols, weights, means, covs) for coef, cols, _ in terms)


def resubstitution_categorical_mi(X, codes, weights_within, prior, means, covs, comp_class, dz=0,
                                  row_weights=None):
    """I(C; X) (I(C; X | Z) when the first ``dz`` columns are z) of class-conditional mixtures,
    averaged over the rows they were fitted to: the mean of log p(x | c) - log p(x) (minus the
    same over the z columns)."""
    n, d = X.shape
    w = np.ones(n) if row_weights is None else row_weights

    def info(cols):
        total = 0.0
        for c in range(prior.shape[0]):
            sel = comp_class == c
            rows = np.flatnonzero((codes == c) & (w > 0))
            if rows.size:
                total += w[rows].sum() * _term_mean(X, rows, w, cols, weights_within[sel], means[sel], covs[sel])
        rows = np.flatnonzero(w > 0)
        mix = weights_within * prior[comp_class]
        return total / w.sum() - _term_mean(X, rows, w, cols, mix, means, covs)

    value = info(list(range(d)))
    return value - info(list(range(dz))) if dz else value


def resubstitution_gaps(values, ok, fn, seed_of, n, pmap):
    """``values[b] - fn(b, row_weights_b)`` for every replicate that succeeded (NaN elsewhere):
    each replicate's MI minus its log ratio averaged over its own resampled rows."""
    gaps = np.full(values.shape[0], np.nan)

    def one(b):
        if ok[b]:
            gaps[b] = values[b] - fn(b, _row_weights(seed_of, b, n))

    pmap(one, list(range(values.shape[0])))
    return gaps


# --------------------------------------------------------------------------- k-NN check
def sample_mixture(rng, m, weights, means, chol):
    """m points from the mixture (``chol``: the covariances' lower Cholesky factors)."""
    comp = rng.choice(weights.shape[0], size=m, p=weights / weights.sum())
    z = rng.standard_normal((m, means.shape[1]))
    return means[comp] + np.einsum("nij,nj->ni", chol[comp], z)


def ksg_terms(kind, arrays, n_threads):
    """Per-point terms whose mean is the k-NN estimate (KSG, Frenzel-Pompe CMI or Ross's
    categorical form), for the mean and its standard error."""
    if kind == "mi":
        x, y = arrays
        _, nx, ny = _ksg_counts(x, y, _K_NN, 1, n_threads)
        return digamma(_K_NN) + digamma(x.shape[0]) - digamma(nx + 1) - digamma(ny + 1)
    if kind == "cmi":
        x, y, z = arrays
        _, nxz, nyz, nz = _cmi_counts(x, y, z, _K_NN, n_threads)
        return digamma(_K_NN) - digamma(nxz + 1) - digamma(nyz + 1) + digamma(nz + 1)
    x, codes = arrays
    _, k_used, m = _ross_counts(x, codes, _K_NN, n_threads)
    return digamma(x.shape[0]) + digamma(k_used) - digamma(np.bincount(codes)[codes]) - digamma(m)


def knn_check(kind, data_arrays, model_arrays, error_bar, n_threads):
    """Compare the k-NN estimate on the data with the same on the model's sample.

    Returns the ``diagnostics['misfit_check']`` record; ``misfit`` is True when the
    difference exceeds ``MISFIT_SIGMAS`` times the combined error (the result's
    ``error_bar`` and both estimates' standard errors, in quadrature).
    """
    td = ksg_terms(kind, data_arrays, n_threads)
    tm = ksg_terms(kind, model_arrays, n_threads)
    diff = float(td.mean() - tm.mean())
    dim = sum(a.shape[1] for a in data_arrays if a.ndim == 2)
    se = (1.0 + SE_INFLATION_PER_DIM * dim) * math.sqrt(td.var(ddof=1) / td.size + tm.var(ddof=1) / tm.size)
    scale = math.hypot(error_bar if math.isfinite(error_bar) else 0.0, se)
    return {"run": True, "estimator": {"mi": "ksg", "cmi": "ksg-cmi", "categorical": "ksg-ross"}[kind],
            "k": _K_NN, "n_rows": int(td.size), "knn_data": float(td.mean()), "knn_model": float(tm.mean()),
            "difference": diff, "stderr": se, "threshold": MISFIT_SIGMAS * scale,
            "misfit": bool(abs(diff) > MISFIT_SIGMAS * scale)}
