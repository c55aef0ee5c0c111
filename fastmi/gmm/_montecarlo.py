"""Monte-Carlo integrals of fitted mixtures over common random numbers, with the
moment-matched Gaussian as a control variate."""
from __future__ import annotations

import math
import threading

import numpy as np

from ._kernels._bootstrap import (_control_variate_means, _mc_categorical_batch, _mc_log_ratio_batch,
                                 _mc_log_ratio_values_batch)

MC_CHUNK = 1 << 16  # samples per MC kernel call: bounds memory for any mc_samples
MC_CACHE_BYTES = 64 << 20  # common draws up to this size are generated once and shared
#: mc_samples='auto': common draws per bootstrap replicate (their spread barely depends on it)
MC_AUTO_REPLICATE = 1 << 13
#: mc_samples='auto': the reference integral's draws, at most
MC_AUTO_MAX = 1 << 20
#: mc_samples='auto': target MC error of the mean, relative to the bootstrap spread, and absolute (nats)
MC_AUTO_REL = 0.25
MC_AUTO_ABS = 1e-4
#: mc_samples='auto': where the pairing's error alone exceeds the target, the reference's error
#: is brought to this multiple of it (more reference draws would barely lower the total)
MC_AUTO_PAIRED_SHARE = 1.0
#: mc_samples='auto': the reference integral's draws come, and its error is checked, in chunks of this size
MC_AUTO_CHUNK = 1 << 14
#: mc_samples='auto': slices of each chunk of the reference integral, integrated in parallel
MC_AUTO_PARTS = 2
#: mc_samples for whatever 'auto' does not cover (no bootstrap, categorical y, the array backends)
MC_AUTO_FALLBACK = 100_000


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

    def __init__(self, seed, n_samples, dim, chunk=MC_CHUNK):
        self.seed, self.n_samples, self.dim, self.chunk = seed, int(n_samples), int(dim), int(chunk)
        self.cached = self.n_samples * (dim + 1) * 8 <= MC_CACHE_BYTES
        self._cache = None
        self._lock = threading.Lock()

    def _generate(self):
        rng = np.random.default_rng(self.seed)
        done = 0
        while done < self.n_samples:
            m = min(self.chunk, self.n_samples - done)
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


def _serial_map(fn, items):
    return [fn(item) for item in items]


def _mean_and_stderr(total, total_sq, m):
    mean = total / m
    var = np.maximum(total_sq / m - mean * mean, 0.0)
    return mean, np.sqrt(var / m)


def control_variate_estimate(xp, sums, expected, m, *, with_beta=False):
    """Estimate and standard error of E[f] from sums [f, f^2, g, g^2, f g] over m draws, with
    the control variate g of known expectation ``expected`` and the optimal coefficient
    (also returned, third, with ``with_beta``)."""
    mf, mg = sums[:, 0] / m, sums[:, 2] / m
    var_f = sums[:, 1] / m - mf * mf
    var_g = sums[:, 3] / m - mg * mg
    cov_fg = sums[:, 4] / m - mf * mg
    usable = var_g > 1e-12 * xp.maximum(var_f, 1e-300)
    beta = xp.where(usable, cov_fg / xp.where(usable, var_g, 1.0), 0.0)
    est = mf - beta * (mg - expected)
    resid = xp.maximum(var_f - beta * cov_fg, 0.0)
    if with_beta:
        return est, xp.sqrt(resid / m), beta
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



# --------------------------------------------------------------------------- mc_samples='auto'
class PairedMC:
    """``mc_samples='auto'`` for the bootstrap of a continuous MI (or CMI).

    Every replicate b is integrated over ``MC_AUTO_REPLICATE`` common draws S; so is the
    reference mixture (the full-data fit), sample by sample. Over common draws the MC errors
    of similar mixtures nearly cancel in their differences, so the replicates' spread needs
    few draws; their common offset does not. It is removed by the reference:

        value_b = v_b(S) + [v_ref(L) - v_ref(S)],

    with v_ref(L) the reference integrated over independent draws L, as many as needed (in
    chunks of ``MC_AUTO_CHUNK``, up to ``MC_AUTO_MAX``) for the MC error of the mean to reach
    max(MC_AUTO_REL x bootstrap spread, MC_AUTO_ABS), or, where the pairing's error alone
    exceeds that, for v_ref(L)'s error to reach MC_AUTO_PAIRED_SHARE x the pairing's. That
    error is the quadrature sum of v_ref(L)'s standard error and the standard error of
    mean_b v_b(S) - v_ref(S), estimated from its per-draw values (each draw's
    control-variate-adjusted values). Everything is computed per replicate, in replicate
    order or in fixed slices: results do not depend on threads.
    """

    def __init__(self, replicate_seed, reference_seed, dim, terms):
        self.small = MCDraws(replicate_seed, MC_AUTO_REPLICATE, dim)
        self.reference_seed, self.dim, self.terms = reference_seed, dim, terms
        self.cols = _term_arrays(terms)
        self.n_samples = MC_AUTO_REPLICATE

    def values(self, weights, means, covariances, f, g):
        """Per-draw values f, g (B, m) of B stacked mixtures over the draws S (none for one
        component: its integral is exact)."""
        if weights.shape[1] == 1:
            return
        for z, u in self.small:  # one chunk: MC_AUTO_REPLICATE <= MC_CHUNK
            _mc_log_ratio_values_batch(z, u, weights, means, covariances, *self.cols, f, g)

    def _moments(self, weights, means, covariances, f, g):
        """(estimates, standard errors, control-variate coefficients, E[g]) from f, g (B, m)."""
        expected = np.empty(weights.shape[0])
        _control_variate_means(weights, means, covariances, *self.cols, expected)
        sums = np.stack([f.sum(axis=1), np.einsum("ij,ij->i", f, f), g.sum(axis=1), np.einsum("ij,ij->i", g, g),
                         np.einsum("ij,ij->i", f, g)], axis=1)
        est, se, beta = control_variate_estimate(np, sums, expected, f.shape[1], with_beta=True)
        return est, se, beta, expected

    @staticmethod
    def _mean_adjusted(f, g, beta, expected):
        """Per draw, the mean over the rows of the control-variate-adjusted values
        f - beta (g - E[g]) (as two matrix-vector products: no (B, m) temporaries)."""
        w = np.full(f.shape[0], 1.0 / f.shape[0])
        return w @ f - (w * beta) @ g + float((w * beta) @ expected)

    def finish(self, weights, means, covariances, ok, f, g, reference, pmap=None):
        """(values (B,), standard errors (B,), shared MC error of the mean, diagnostics) from the
        per-draw values f, g of the replicates (``ok`` marks those that count) and the
        reference mixture (weights, means, covariances) of one set of parameters. ``pmap``
        (optional) maps the reference integral's chunks over threads."""
        if weights.shape[1] == 1:  # exact: the control variate is the integrand
            return mc_log_ratio(weights, means, covariances, self.terms, self.small) + (0.0, {})
        est, se, beta, expected = self._moments(weights, means, covariances, f, g)
        ok = ok & np.isfinite(est)
        if not ok.any():  # nothing to pair
            return est, se, math.nan, {}
        rw, rm, rc = (a[None] for a in reference)
        fr, gr = np.empty((1, f.shape[1])), np.empty((1, f.shape[1]))
        self.values(rw, rm, rc, fr, gr)
        est_r, _, beta_r, expected_r = self._moments(rw, rm, rc, fr, gr)
        if not np.isfinite(est_r[0]):
            return est, se, float(np.mean(se[ok])), {}
        rows = slice(None) if ok.all() else ok  # failed replicates' rows may hold NaN
        # per draw: the replicates' mean minus the reference
        diff = (self._mean_adjusted(f[rows], g[rows], beta[ok], expected[ok])
                - self._mean_adjusted(fr, gr, beta_r, expected_r))
        se_pair = float(diff.std() / math.sqrt(diff.size))
        # one replicate has no spread to compare with: the absolute target alone
        spread = float(est[ok].std(ddof=1)) if ok.sum() > 1 else 0.0
        target = max(MC_AUTO_REL * spread, MC_AUTO_ABS)
        # the reference's own error takes what the pairing leaves of the target; where the pairing
        # alone exceeds it, more reference draws would barely help: MC_AUTO_PAIRED_SHARE of its error
        ref_target = max(math.sqrt(max(target * target - se_pair * se_pair, 0.0)), MC_AUTO_PAIRED_SHARE * se_pair)
        expected = expected_r
        sums = np.zeros((1, 5))
        # lazily: only the chunks needed are drawn
        chunks = MCDraws(self.reference_seed, MC_AUTO_MAX, self.dim, MC_AUTO_CHUNK)._generate()
        n = 0

        def part_sums(part):
            out = np.zeros((1, 5))
            _mc_log_ratio_batch(*part, rw, rm, rc, *self.cols, out)
            return out

        for z, u in chunks:
            # each chunk in MC_AUTO_PARTS fixed slices (threads integrate them), their sums added
            # in order: the result does not depend on n_jobs
            edges = np.linspace(0, u.size, MC_AUTO_PARTS + 1).astype(np.int64)
            parts = [(np.ascontiguousarray(z[:, a:b]), u[a:b]) for a, b in zip(edges[:-1], edges[1:])]
            for part in (pmap or _serial_map)(part_sums, parts):
                sums += part
            n += u.size
            v_ref, se_ref = control_variate_estimate(np, sums, expected, n)
            if se_ref[0] <= ref_target:
                break
        shift = float(v_ref[0] - est_r[0])
        shared = math.sqrt(se_pair * se_pair + float(se_ref[0]) ** 2)
        info = {"replicate_samples": int(f.shape[1]), "reference_samples": n, "target": target,
                "paired_error": se_pair, "reference_error": float(se_ref[0]), "reference_shift": shift,
                "reference_value": float(v_ref[0])}
        return est + shift, se, shared, info
