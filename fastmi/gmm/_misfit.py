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
  The gap of the full-data fit enters the error bar in quadrature.
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
from ..knn._mixed import _ross_cmi_counts, _ross_counts
from ._kernels._em import _mean_log_likelihood

#: the check flags a difference larger than this many combined standard errors
MISFIT_SIGMAS = 3.0
#: the standard error of a k-NN estimate from its per-point terms ignores that neighbouring
#: points share neighbours; over repeated Gaussian samples the estimates' spread was 1.0-1.2
#: times it in 2 dimensions and 1.4-1.7 times in 6-10 (n = 500-5000): scaled by 1 + this * d
SE_INFLATION_PER_DIM = 0.1
#: the check's first stage (half the rows) passes a fit whose difference is within this many
#: combined standard errors; others go on to all the rows
PASS_SIGMAS = 1.5
#: rows used by the k-NN check (a seeded subset of larger data sets), to bound its cost
CHECK_ROWS = 50_000
_K_NN = 3


# --------------------------------------------------------------------------- resubstitution
def _term_mean(X, rows, cols, weights, means, covs):
    """Mean log density of the mixture's marginal over ``cols`` at ``X[rows]``."""
    c = np.asarray(cols)
    return _mean_log_likelihood(np.ascontiguousarray(X[np.ix_(rows, c)]), weights,
                                np.ascontiguousarray(means[:, c]), np.ascontiguousarray(covs[:, c[:, None], c]))


def resubstitution_mi(X, terms, weights, means, covs):
    """Sum over ``terms`` (``coef, eval_cols, param_cols``, see ``mi_terms``) of the mean log
    density of each marginal over the rows of X (those the mixture was fitted to)."""
    rows = np.arange(X.shape[0])
    return sum(coef * _term_mean(X, rows, cols, weights, means, covs) for coef, cols, _ in terms)


def resubstitution_categorical_mi(X, codes, weights_within, prior, means, covs, comp_class, dz=0):
    """I(C; X) (I(C; X | Z) when the first ``dz`` columns are z) of class-conditional mixtures,
    averaged over the rows they were fitted to: the mean of log p(x | c) - log p(x) (minus the
    same over the z columns)."""
    n, d = X.shape

    def info(cols):
        total = 0.0
        for c in range(prior.shape[0]):
            rows = np.flatnonzero(codes == c)
            if rows.size:
                sel = comp_class == c
                total += rows.size * _term_mean(X, rows, cols, weights_within[sel], means[sel], covs[sel])
        return total / n - _term_mean(X, np.arange(n), cols, weights_within * prior[comp_class], means, covs)

    value = info(list(range(d)))
    return value - info(list(range(dz))) if dz else value


# --------------------------------------------------------------------------- k-NN check
def sample_mixture(rng, m, weights, means, chol):
    """m points from the mixture (``chol``: the covariances' lower Cholesky factors)."""
    comp = rng.choice(weights.shape[0], size=m, p=weights / weights.sum())
    z = rng.standard_normal((m, means.shape[1]))
    return means[comp] + np.einsum("nij,nj->ni", chol[comp], z)


def ksg_terms(kind, arrays, n_threads):
    """Per-point terms whose mean is the k-NN estimate (KSG, Frenzel-Pompe CMI or Ross's
    categorical form, and its conditional form), for the mean and its standard error."""
    if kind == "mi":
        x, y = arrays
        _, nx, ny = _ksg_counts(x, y, _K_NN, 1, n_threads)
        return digamma(_K_NN) + digamma(x.shape[0]) - digamma(nx + 1) - digamma(ny + 1)
    if kind == "cmi":
        x, y, z = arrays
        _, nxz, nyz, nz = _cmi_counts(x, y, z, _K_NN, n_threads)
        return digamma(_K_NN) - digamma(nxz + 1) - digamma(nyz + 1) + digamma(nz + 1)
    if kind == "categorical_cmi":
        x, z, codes = arrays
        _, k_used, m_xz, n_cz, n_z = _ross_cmi_counts(x, z, codes, _K_NN, n_threads, by_row=True)
        return digamma(k_used) - digamma(m_xz) - digamma(n_cz) + digamma(n_z)
    x, codes = arrays
    _, k_used, m = _ross_counts(x, codes, _K_NN, n_threads)
    return digamma(x.shape[0]) + digamma(k_used) - digamma(np.bincount(codes)[codes]) - digamma(m)


def knn_check(kind, data_arrays, model_arrays, error_bar, n_threads, pmap, first=None):
    """Compare the k-NN estimate on the data with the same on the model's sample.

    In two stages: on the rows ``first`` (a random half of both samples) the check passes at
    once when the difference is within ``PASS_SIGMAS`` combined errors (most good fits, at
    less than half the cost); otherwise it is decided on all the rows. The two estimates of
    a stage run side by side, on half the threads each (at a few thousand rows that is
    faster than either using them all). Returns the ``diagnostics['misfit_check']``
    record; ``misfit`` is True when the difference on all the rows exceeds
    ``MISFIT_SIGMAS`` times the combined error (the result's ``error_bar`` and both
    estimates' standard errors, in quadrature).
    """
    threads = max(1, n_threads // 2)
    dim = sum(a.shape[1] for a in data_arrays if a.ndim == 2)
    error_bar = error_bar if math.isfinite(error_bar) else 0.0

    def compare(rows):
        def terms(arrays):
            if rows is not None:
                arrays = tuple(np.ascontiguousarray(a[rows]) for a in arrays)
            return ksg_terms(kind, arrays, threads)

        td, tm = pmap(terms, [data_arrays, model_arrays])
        se = (1.0 + SE_INFLATION_PER_DIM * dim) * math.sqrt(td.var(ddof=1) / td.size + tm.var(ddof=1) / tm.size)
        return {"run": True, "estimator": {"mi": "ksg", "cmi": "ksg-cmi", "categorical": "ksg-ross",
                                            "categorical_cmi": "ksg-ross-cmi"}[kind],
                "k": _K_NN, "n_rows": int(td.size), "knn_data": float(td.mean()), "knn_model": float(tm.mean()),
                "difference": float(td.mean() - tm.mean()), "stderr": se}

    if first is not None:
        out = compare(first)
        if abs(out["difference"]) <= PASS_SIGMAS * math.hypot(error_bar, out["stderr"]):
            return {**out, "stage": 1, "threshold": PASS_SIGMAS * math.hypot(error_bar, out["stderr"]),
                    "misfit": False}
    out = compare(None)
    threshold = MISFIT_SIGMAS * math.hypot(error_bar, out["stderr"])
    return {**out, "stage": 2, "threshold": threshold, "misfit": bool(abs(out["difference"]) > threshold)}
