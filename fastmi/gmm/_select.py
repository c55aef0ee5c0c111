"""Choosing the number of components: cross-validated likelihood, or AIC/BIC, with patience."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._streams import Stream
from ._kernels._em import _mean_log_likelihood
from ._mixture import fit_em, initial_mixture


# --------------------------------------------------------------------------- choosing K
@dataclass
class EMSettings:
    tol: float
    reg_covar: float
    max_iter: int


def select_n_components(X, *, candidates, n_init, n_folds, init, em, threshold, patience, metric,
                        streams, part, pmap):
    """Choose K by held-out likelihood (``metric='cv'``) or AIC/BIC with patience.

    ``candidates`` is the increasing list of K to try. Returns ``(K, warm_start, record)``,
    where ``record`` holds the per-K, per-init scores and per-fit EM diagnostics.
    """
    n = X.shape[0]
    folds = None
    if metric == "cv":
        perm = np.random.default_rng(streams(Stream.CV_FOLDS, part)).permutation(n)
        folds = [np.sort(f) for f in np.array_split(perm, n_folds)]
        splits = [(np.ascontiguousarray(X[np.setdiff1d(perm, f, assume_unique=True)]),
                   np.ascontiguousarray(X[f])) for f in folds]
    record = {"k": [], "score": [], "score_per_init": [], "n_iter": [], "converged": [], "ok": []}
    best_score, best_k, best_warm, waited = -np.inf, None, None, 0
    for K in candidates:
        # one component is fitted in closed form, whatever the start: one fit serves every init
        n_starts = 1 if K == 1 else n_init
        starts = [initial_mixture(X, K, init, np.random.default_rng(streams(Stream.INIT, part, K, i)), em.reg_covar)
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

