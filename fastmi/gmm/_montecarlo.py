"""Monte-Carlo integrals of fitted mixtures over common random numbers, with the
moment-matched Gaussian as a control variate."""
from __future__ import annotations

import threading

import numpy as np

from ._kernels._bootstrap import _control_variate_means, _mc_categorical_batch, _mc_log_ratio_batch

MC_CHUNK = 1 << 16  # samples per MC kernel call: bounds memory for any mc_samples
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


class LeadingDraws:
    """The first ``dim`` normal coordinates of ``draws`` (and the same uniforms): the draws
    of a marginal over a mixture's leading columns that land on the very points drawn from
    the full mixture (the leading block of a Cholesky factor is the marginal's factor)."""

    def __init__(self, draws, dim):
        self.draws, self.dim, self.n_samples = draws, int(dim), draws.n_samples

    def __iter__(self):
        for z, u in self.draws:
            yield np.ascontiguousarray(z[: self.dim]), u


def _mean_and_stderr(total, total_sq, m):
    mean = total / m
    var = np.maximum(total_sq / m - mean * mean, 0.0)
    return mean, np.sqrt(var / m)


def control_variate_estimate(xp, sums, expected, m):
    """Estimate and standard error of E[f] from sums [f, f^2, g, g^2, f g] over m draws, with
    the control variate g of known expectation ``expected`` and the optimal coefficient."""
    mf, mg = sums[:, 0] / m, sums[:, 2] / m
    var_f = sums[:, 1] / m - mf * mf
    var_g = sums[:, 3] / m - mg * mg
    cov_fg = sums[:, 4] / m - mf * mg
    usable = var_g > 1e-12 * xp.maximum(var_f, 1e-300)
    beta = xp.where(usable, cov_fg / xp.where(usable, var_g, 1.0), 0.0)
    est = mf - beta * (mg - expected)
    resid = xp.maximum(var_f - beta * cov_fg, 0.0)
    return est, xp.sqrt(resid / m)


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

