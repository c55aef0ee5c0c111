"""Choosing the number of components: cross-validated likelihood, or AIC/BIC, with patience."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._streams import Stream
from ._kernels._em import _mean_log_likelihood
from ._mixture import Mixture, fit_em, initial_mixture

SEARCHES = ("split", "fresh")


# --------------------------------------------------------------------------- choosing K
@dataclass
class EMSettings:
    tol: float
    reg_covar: float
    max_iter: int


def _fold_data(X, n_folds, metric, streams, part):
    """The (train, held-out) pairs the search fits and scores on: the CV folds, or the full
    data once (held-out None) for AIC/BIC."""
    if metric != "cv":
        return [(X, None)]
    n = X.shape[0]
    perm = np.random.default_rng(streams(Stream.CV_FOLDS, part)).permutation(n)
    folds = [np.sort(f) for f in np.array_split(perm, n_folds)]
    return [(np.ascontiguousarray(X[np.setdiff1d(perm, f, assume_unique=True)]), np.ascontiguousarray(X[f]))
            for f in folds]


def _scorer(metric, n):
    """score(model, info, held_out, train): mean held-out log-likelihood (cv), or the
    information criterion as -criterion / (2n) (higher is better); NaN for a failed fit."""
    def score(m, info, held_out, train):
        if not info.ok:
            return np.nan
        if metric == "cv":
            return _mean_log_likelihood(held_out, m.weights, m.means, m.covariances)
        ll = _mean_log_likelihood(train, m.weights, m.means, m.covariances)
        penalty = m.n_parameters() * (2.0 if metric == "aic" else math.log(n))
        return ll - 0.5 * penalty / n
    return score


def split_component(mix):
    """The mixture with one more component: the component of largest weighted principal
    variance (w_k * lambda_max) replaced by two halves along its principal axis.

    The halves have the moments of the two halves of a Gaussian cut through its mean
    across that axis: means mu +- sqrt(2 lambda / pi) v, variance along v reduced to
    (1 - 2/pi) lambda, other directions unchanged, half the weight each. The split mixture
    keeps the parent's mean and covariance, so EM starts from where the K fit left off.
    """
    lam, vec = np.linalg.eigh(mix.covariances)  # ascending eigenvalues, per component
    k = int(np.argmax(mix.weights * lam[:, -1]))
    l, v = lam[k, -1], vec[k, :, -1]
    shift = math.sqrt(2.0 * l / math.pi) * v
    cov = mix.covariances[k] - (2.0 / math.pi) * l * np.outer(v, v)
    weights = np.concatenate([mix.weights, [0.5 * mix.weights[k]]])
    weights[k] *= 0.5
    means = np.concatenate([mix.means, (mix.means[k] + shift)[None]])
    means[k] = mix.means[k] - shift
    covs = np.concatenate([mix.covariances, cov[None]])
    covs[k] = cov
    return Mixture(weights, np.ascontiguousarray(means), np.ascontiguousarray(covs))


class _Search:
    """The bookkeeping both searches share: the per-K record, the best K so far and the
    patience counter."""

    def __init__(self, threshold, patience):
        self.threshold, self.patience = threshold, patience
        self.record = {"k": [], "score": [], "score_per_init": [], "n_iter": [], "converged": [], "ok": []}
        self.best_score, self.best_k, self.best_warm, self.waited = -np.inf, None, None, 0

    def add(self, K, results, n_starts):
        """Score K from its fits ``results`` (start-major, as many per start); returns True
        when the search should stop."""
        per_fit = np.array([r[2] for r in results]).reshape(n_starts, -1)
        per_fit = np.where(np.isfinite(per_fit), per_fit, -np.inf)
        per_init = per_fit.mean(axis=1)
        i_best = int(np.argmax(per_init))
        j_best = int(np.argmax(per_fit[i_best]))
        score = per_init[i_best]
        rec = self.record
        rec["k"].append(K)
        rec["score"].append(float(score))
        rec["score_per_init"].append(per_init.tolist())
        rec["n_iter"].append([r[1].n_iter for r in results])
        rec["converged"].append([r[1].converged for r in results])
        rec["ok"].append([r[1].ok for r in results])
        if score > self.best_score + self.threshold or self.best_k is None and np.isfinite(score):
            self.best_score, self.best_k, self.waited = score, K, 0
            self.best_warm = results[i_best * per_fit.shape[1] + j_best][0]
            return False
        self.waited += 1
        return self.waited >= self.patience

    def result(self):
        self.record["stopped_by_patience"] = self.waited >= self.patience
        return self.best_k, self.best_warm, self.record


def select_n_components(X, *, candidates, n_init, n_folds, init, em, threshold, patience, metric,
                        streams, part, pmap, search="fresh"):
    """Choose K by held-out likelihood (``metric='cv'``) or AIC/BIC with patience.

    ``candidates`` is the increasing list of K to try. With ``search='fresh'`` every K
    starts from ``n_init`` new initialisations (upstream GMM-MI's procedure); with
    ``search='split'`` see ``_select_split``. Returns ``(K, warm_start, record)``, where
    ``record`` holds the per-K, per-start scores and per-fit EM diagnostics.
    """
    if search == "split":
        return _select_split(X, candidates=candidates, n_init=n_init, n_folds=n_folds, init=init, em=em,
                             threshold=threshold, patience=patience, metric=metric, streams=streams, part=part,
                             pmap=pmap)
    n = X.shape[0]
    splits = _fold_data(X, n_folds, metric, streams, part)
    score_of = _scorer(metric, n)
    search = _Search(threshold, patience)
    for K in candidates:
        # one component is fitted in closed form, whatever the start: one fit serves every init
        n_starts = 1 if K == 1 else n_init
        starts = [initial_mixture(X, K, init, np.random.default_rng(streams(Stream.INIT, part, K, i)), em.reg_covar)
                  for i in range(n_starts)]
        jobs = [(i, f) for i in range(n_starts) for f in range(len(splits))]

        def run(job):
            i, f = job
            m, info = fit_em(splits[f][0], starts[i], em.tol, em.reg_covar, em.max_iter)
            return m, info, score_of(m, info, splits[f][1], splits[f][0])

        if search.add(K, pmap(run, jobs) * (n_init // n_starts), n_init):
            break
    return search.result()


def _select_split(X, *, candidates, n_init, n_folds, init, em, threshold, patience, metric, streams, part, pmap):
    """The component search warm-started from the previous K: in each fold, K+1 starts from
    that fold's K fit with one component split in two (``split_component``), and
    ``n_init - 1`` fresh initialisations (streams as in the fresh search) run alongside so
    that the search can leave a poor local optimum. A K fits each fold from every start;
    start i scores the mean over folds, and each fold carries its fit of highest training
    likelihood to the next K. A fold whose fits all failed restarts fresh at the next K.
    """
    n = X.shape[0]
    splits = _fold_data(X, n_folds, metric, streams, part)
    n_sets = len(splits)
    score_of = _scorer(metric, n)
    search = _Search(threshold, patience)
    chain = [None] * n_sets  # each fold's fit at the previous K
    for K in candidates:
        n_starts = 1 if K == 1 else n_init
        fresh = {}

        def fresh_start(i):
            if i not in fresh:  # computed once from the full data, shared by the folds
                fresh[i] = initial_mixture(X, K, init, np.random.default_rng(streams(Stream.INIT, part, K, i)),
                                           em.reg_covar)
            return fresh[i]

        def start_of(i, f):
            # the last start splits the fold's K-1 fit; where there is none, a fresh start
            if K > 1 and i == n_starts - 1 and chain[f] is not None and chain[f].n_components == K - 1:
                return split_component(chain[f])
            return fresh_start(i)

        starts = [[start_of(i, f) for f in range(n_sets)] for i in range(n_starts)]
        jobs = [(i, f) for i in range(n_starts) for f in range(n_sets)]

        def run(job):
            i, f = job
            m, info = fit_em(splits[f][0], starts[i][f], em.tol, em.reg_covar, em.max_iter)
            return m, info, score_of(m, info, splits[f][1], splits[f][0])

        # as in the fresh search, the one closed-form K = 1 fit stands for every start
        results = pmap(run, jobs) * (n_init // n_starts)
        for f in range(n_sets):
            fits = [results[i * n_sets + f] for i in range(n_init)]
            good = [r for r in fits if r[1].ok and np.isfinite(r[1].lower_bound)]
            chain[f] = max(good, key=lambda r: r[1].lower_bound)[0] if good else None
        if search.add(K, results, n_init):
            break
    return search.result()
