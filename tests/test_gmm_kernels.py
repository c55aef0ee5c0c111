"""Numba GMM kernels against plain NumPy/SciPy references."""
import os

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastmi._config import thread_map
from fastmi._streams import Stream, Streams
from fastmi.gmm._bootstrap import bootstrap_categorical, bootstrap_continuous, pcg_state, resample_indices
from fastmi.gmm._kernels._bootstrap import _mc_log_ratio_batch
from fastmi.gmm._kernels._em import _em_fit, _mean_log_likelihood
from fastmi.gmm._kernels._linalg import _precision_cholesky
from fastmi.gmm._mixture import Mixture, fit_em, initial_mixture
from fastmi.gmm._montecarlo import MCDraws, _term_arrays, mc_categorical_mi, mc_log_ratio, mi_terms, stack
from fastmi.gmm._select import EMSettings

from _reference import gaussian_mi, mixture_logpdf, mixture_mi_reference, numpy_em


def _data(rng, n, d):
    A = rng.standard_normal((d, d))
    X = rng.standard_normal((n, d)) @ A.T
    X[: n // 3] += 3.0
    X[n // 3: n // 2] -= 2.0
    return np.ascontiguousarray(X)


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_precision_cholesky_matches_numpy(rng, d):
    A = rng.standard_normal((4, d, d))
    covs = A @ A.transpose(0, 2, 1) + 0.1 * np.eye(d)
    chol, prec, logdet = np.zeros_like(covs), np.zeros_like(covs), np.empty(4)
    assert _precision_cholesky(covs, chol, prec, logdet) == -1
    for k in range(4):
        assert_allclose(chol[k], np.linalg.cholesky(covs[k]), rtol=1e-12, atol=1e-12)
        assert_allclose(prec[k].T @ prec[k], np.linalg.inv(covs[k]), rtol=1e-9, atol=1e-9)
        assert_allclose(logdet[k], -0.5 * np.linalg.slogdet(covs[k])[1], rtol=1e-12)


def test_precision_cholesky_flags_non_spd():
    covs = np.array([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]])
    chol, prec, logdet = np.zeros_like(covs), np.zeros_like(covs), np.empty(2)
    assert _precision_cholesky(covs, chol, prec, logdet) == 1


@pytest.mark.parametrize("d,K", [(1, 1), (1, 3), (2, 2), (2, 4), (3, 3)])
def test_em_matches_numpy_reference(rng, d, K):
    X = _data(rng, 3000, d)
    start = initial_mixture(X, K, "kmeans++", rng, 1e-6)
    n_iter = 25
    w, mu, cov, lls = numpy_em(X, start.weights, start.means, start.covariances, n_iter, 1e-6)
    m = start.copy()
    it, converged, lb, status = _em_fit(X, m.weights, m.means, m.covariances, 0.0, 1e-6, n_iter)
    # one component: EM's fixed point (reached by its first M-step) is computed in closed form
    assert (it, converged, status) == ((1, True, 0) if K == 1 else (n_iter, False, 0))
    assert_allclose(m.weights, w, rtol=1e-10, atol=1e-12)
    assert_allclose(m.means, mu, rtol=1e-10, atol=1e-10)
    assert_allclose(m.covariances, cov, rtol=1e-10, atol=1e-10)
    assert_allclose(lb, lls[-1], rtol=1e-10)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_weighted_em_equals_repeated_rows(rng, d):
    # a bootstrap fit sees each distinct row once with its count as a weight: the same EM as
    # on the repeated rows, for the closed-form K = 1 fit and for EM proper
    from fastmi.gmm._kernels._em import _em_fit_t

    X = _data(rng, 800, d)
    counts = rng.integers(0, 4, size=len(X)).astype(float)
    keep = counts > 0
    rep = np.ascontiguousarray(np.repeat(X, counts.astype(int), axis=0))
    for K in (1, 3):
        start = initial_mixture(X, K, "kmeans++", np.random.default_rng(1), 1e-6)
        ref, info = fit_em(rep, start, 1e-8, 1e-6, 500)
        m = start.copy()
        it, conv, lb, status = _em_fit_t(np.ascontiguousarray(X[keep].T), counts[keep], m.weights, m.means,
                                         m.covariances, 1e-8, 1e-6, 500)
        assert (it, conv, status) == (info.n_iter, info.converged, 0)
        assert_allclose(m.means, ref.means, rtol=1e-10, atol=1e-12)
        assert_allclose(m.covariances, ref.covariances, rtol=1e-10, atol=1e-12)
        assert_allclose(lb, info.lower_bound, rtol=1e-12)
    # K = 1 against NumPy's weighted moments, and the likelihood against SciPy
    from scipy.stats import multivariate_normal

    mean = np.average(X, axis=0, weights=counts)
    cov = np.atleast_2d(np.cov(X, rowvar=False, fweights=counts.astype(int), bias=True)) + 1e-6 * np.eye(d)
    m1, info1 = fit_em(rep, initial_mixture(X, 1, "kmeans++", rng, 1e-6), 1e-5, 1e-6, 10)
    assert_allclose(m1.means[0], mean, rtol=1e-10, atol=1e-12)
    assert_allclose(m1.covariances[0], cov, rtol=1e-10)
    assert_allclose(info1.lower_bound, multivariate_normal(mean, cov).logpdf(rep).mean(), rtol=1e-12)


@pytest.mark.parametrize("init", ["kmeans++", "random_resp", "kmeans", "random", "minmax"])
def test_em_log_likelihood_never_decreases(rng, init):
    X = _data(rng, 2000, 2)
    # reg_covar keeps components from collapsing onto a few points, where rounding in a
    # near-singular covariance can break exact monotonicity
    m = initial_mixture(X, 3, init, rng, 1e-6)
    lbs = []
    for _ in range(60):  # one iteration at a time: each call reports the E-step likelihood
        _, _, lb, status = _em_fit(X, m.weights, m.means, m.covariances, 0.0, 1e-6, 1)
        assert status == 0
        lbs.append(lb)
    assert np.all(np.diff(lbs) >= -1e-12), np.diff(lbs).min()
    assert lbs[-1] > lbs[0]


def test_em_converges_by_tol_and_flags_collapse(rng):
    X = _data(rng, 2000, 2)
    m, info = fit_em(X, initial_mixture(X, 2, "kmeans++", rng, 1e-15), 1e-5, 1e-15, 10_000)
    assert info.converged and info.ok and 2 < info.n_iter < 10_000
    # two identical points per component cannot define a 2-D covariance
    Xd = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.0, 5.0]])
    start = Mixture(np.array([0.5, 0.5]), np.array([[0.0, 0.0], [5.0, 5.0]]), np.array([np.eye(2)] * 2))
    _, info = fit_em(Xd, start, 1e-5, 0.0, 100)
    assert not info.ok


def test_mean_log_likelihood_matches_scipy(rng):
    X = _data(rng, 1000, 3)
    m = initial_mixture(X, 3, "kmeans", rng, 1e-6)
    ref = mixture_logpdf(X, m.weights, m.means, m.covariances).mean()
    assert_allclose(_mean_log_likelihood(X, m.weights, m.means, m.covariances), ref, rtol=1e-12)


def _plain_mc(mix, terms, draws):
    """Mean and standard error of f alone, straight from the kernel's sums (no control variate)."""
    sums = np.zeros((1, 5))
    for z, u in draws:
        _mc_log_ratio_batch(z, u, *stack([mix]), *_term_arrays(terms), sums)
    m = draws.n_samples
    mean = sums[0, 0] / m
    return mean, np.sqrt((sums[0, 1] / m - mean**2) / m), sums[0]


@pytest.mark.parametrize("dx,dy", [(1, 1), (2, 2), (1, 3)])
def test_mc_single_gaussian_matches_closed_form(rng, dx, dy):
    D = dx + dy
    A = rng.standard_normal((D, D))
    cov = A @ A.T + 0.5 * np.eye(D)
    mix = Mixture(np.array([1.0]), rng.standard_normal((1, D)), cov[None])
    groups = (list(range(dx)), list(range(dx, D)))
    truth = gaussian_mi(cov, dx)
    # the MC kernel itself, on a one-component mixture
    est, se, sums = _plain_mc(mix, mi_terms(groups), MCDraws(7, 200_000, D))
    assert se > 0 and abs(est - truth) < 4 * se
    assert_allclose(sums[2], sums[0], rtol=1e-10)  # its control variate is f itself
    # the public integrator short-cuts one component to the exact closed form
    (exact,), (se0,) = mc_log_ratio(*stack([mix]), mi_terms(groups), MCDraws(7, 1000, D))
    assert se0 == 0 and exact == pytest.approx(truth, rel=1e-12)


def test_control_variate_agrees_with_plain_mc_and_shrinks_error():
    mix = Mixture(np.array([0.6, 0.4]), np.array([[0.0, 0.0], [1.0, 0.5]]),
                  np.array([[[1.0, 0.6], [0.6, 1.0]], [[0.8, 0.5], [0.5, 1.2]]]))
    terms = mi_terms(([0], [1]))
    draws = MCDraws(5, 200_000, 2)
    plain, plain_se, _ = _plain_mc(mix, terms, draws)
    (cv,), (cv_se,) = mc_log_ratio(*stack([mix]), terms, draws)
    assert abs(cv - plain) < 4 * plain_se
    assert cv_se < 0.5 * plain_se
    # and both agree with an independent long MC
    ref = mixture_mi_reference(mix.weights, mix.means, mix.covariances, 1, 2_000_000, np.random.default_rng(1))
    assert abs(cv - ref) < 4 * cv_se + 4e-4


def test_mc_mixture_matches_numpy_reference(rng):
    mix = Mixture(np.array([0.5, 0.3, 0.2]), np.array([[0.0, 0.0], [2.0, 1.0], [-1.0, 2.0]]),
                  np.array([[[1.0, 0.5], [0.5, 1.0]], [[0.5, -0.2], [-0.2, 0.8]], [[1.5, 0.0], [0.0, 0.3]]]))
    draws = MCDraws(3, 50_000, 2)
    est, _, _ = _plain_mc(mix, mi_terms(([0], [1])), draws)
    # the same points, evaluated by SciPy
    L = np.linalg.cholesky(mix.covariances)
    total = 0.0
    for z, u in draws:
        comp = np.searchsorted(np.cumsum(mix.weights), u, side="right").clip(max=2)
        pts = mix.means[comp] + np.einsum("nab,bn->na", L[comp], z)
        f = (mixture_logpdf(pts, mix.weights, mix.means, mix.covariances)
             - mixture_logpdf(pts[:, :1], mix.weights, mix.means[:, :1], mix.covariances[:, :1, :1])
             - mixture_logpdf(pts[:, 1:], mix.weights, mix.means[:, 1:], mix.covariances[:, 1:, 1:]))
        total += f.sum()
    assert_allclose(est, total / draws.n_samples, rtol=1e-10)


def test_mc_categorical_matches_quadrature():
    from scipy.integrate import quad
    from scipy.stats import norm

    prior = np.array([0.7, 0.3])
    mixes = [Mixture(np.array([0.6, 0.4]), np.array([[-1.0], [0.5]]), np.array([[[0.5]], [[1.0]]])),
             Mixture(np.array([1.0]), np.array([[1.5]]), np.array([[[0.7]]]))]

    def dens(x, m):
        return sum(w * norm.pdf(x, mu[0], np.sqrt(c[0, 0])) for w, mu, c in zip(m.weights, m.means, m.covariances))

    def integrand(x, c):
        px = sum(p * dens(x, m) for p, m in zip(prior, mixes))
        pc = dens(x, mixes[c])
        return pc * np.log(pc / px) if pc > 0 else 0.0

    truth = sum(p * quad(integrand, -15, 15, args=(c,), limit=200)[0] for c, p in enumerate(prior))
    comp_class = np.array([0, 0, 1])
    (est,), (se,) = mc_categorical_mi(np.array([[0.6, 0.4, 1.0]]), prior[None], np.array([[[-1.0], [0.5], [1.5]]]),
                                      np.array([[[[0.5]], [[1.0]], [[0.7]]]]), comp_class, MCDraws(11, 400_000, 1))
    assert abs(est - truth) < 4 * se


def test_mc_draws_bounded_and_reproducible():
    small = MCDraws(5, 1000, 2)
    big = MCDraws(5, 10_000_000, 2)  # too big to cache: regenerated chunk by chunk
    assert small.cached and not big.cached
    list(small)
    assert small._cache is not None and big._cache is None
    first = next(iter(big))
    again = next(iter(big))
    assert first[0].shape == (2, 1 << 16) and first[1].shape == (1 << 16,)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])


def test_mc_draws_are_sorted_uniforms_and_normals():
    from scipy.stats import kstest

    z, u = next(iter(MCDraws(8, 50_000, 3)))
    assert np.all(np.diff(u) >= 0) and 0 < u[0] and u[-1] < 1
    # ascending order statistics of iid uniforms: as a set they are uniform, and the
    # number below any level is binomial
    assert kstest(u, "uniform").pvalue > 1e-3
    assert abs((u < 0.3).sum() - 15_000) < 5 * np.sqrt(50_000 * 0.3 * 0.7)
    for row in z:
        assert kstest(row, "norm").pvalue > 1e-3
    assert abs(np.corrcoef(z)[0, 1]) < 0.03


def test_mixture_affine(rng):
    mix = initial_mixture(_data(rng, 500, 3), 2, "kmeans", rng, 0.0)
    loc, scale = np.array([1.0, 2.0, 3.0]), np.array([2.0, 1.0, 0.5])
    aff = mix.affine(loc, scale)
    assert_allclose(aff.means, loc + mix.means * scale)
    for k in range(2):
        assert_allclose(aff.covariances[k], np.diag(scale) @ mix.covariances[k] @ np.diag(scale), rtol=1e-14)


def test_mc_batch_equals_one_at_a_time(rng):
    X = _data(rng, 2000, 3)
    mixes = [fit_em(X, initial_mixture(X, 3, "kmeans", rng, 1e-6), 1e-5, 1e-6, 500)[0] for _ in range(4)]
    draws = MCDraws(2, 70_000, 3)  # two chunks
    terms = mi_terms(([0], [1, 2]))
    batch, _ = mc_log_ratio(*stack(mixes), terms, draws)
    single = [mc_log_ratio(*stack([m]), terms, draws)[0][0] for m in mixes]
    assert np.array_equal(batch, single)
    # a term evaluated under another marginal (KL): KL(p || p) = 0 exactly
    same, _ = mc_log_ratio(*stack(mixes), [(1.0, [0], [0]), (-1.0, [0], [0])], draws)
    assert np.all(same == 0)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_batched_bootstrap_equals_looped(rng, n_jobs):
    X = _data(rng, 1500, 2)
    warm = fit_em(X, initial_mixture(X, 3, "kmeans++", rng, 1e-15), 1e-5, 1e-15, 10_000)[0]
    em = EMSettings(1e-5, 1e-15, 10_000)
    root = np.random.SeedSequence(42)
    draws = MCDraws(9, 30_000, 2)
    B = 20  # more than one batch of 16

    def seed_of(b):
        return Streams(root)(Stream.BOOTSTRAP, b)

    with thread_map(n_jobs) as pmap:
        out = bootstrap_continuous(X, warm, ([0], [1]), B, seed_of, em, draws, pmap)
    assert out.ok.all()
    for b in range(B):
        idx = resample_indices(seed_of(b), len(X))
        m, info = fit_em(np.ascontiguousarray(X[idx]), warm, em.tol, em.reg_covar, em.max_iter)
        assert info.n_iter == out.n_iter[b, 0] and info.converged == out.converged[b, 0]
        assert_allclose(out.params[1][b], m.means, rtol=1e-10, atol=1e-12)
        assert_allclose(out.params[2][b], m.covariances, rtol=1e-10, atol=1e-12)
        (v,), _ = mc_log_ratio(*stack([m]), mi_terms(([0], [1])), draws)
        assert_allclose(out.values[b], v, rtol=1e-10)


def test_batched_categorical_bootstrap_equals_looped(rng):
    n = 1200
    codes = (rng.random(n) < 0.3).astype(np.int64)
    X = np.ascontiguousarray(rng.standard_normal((n, 1)) + 2.0 * codes[:, None])
    warms = [fit_em(np.ascontiguousarray(X[codes == c]), initial_mixture(X[codes == c], 2, "kmeans++", rng, 1e-15),
                    1e-5, 1e-15, 10_000)[0] for c in (0, 1)]
    em = EMSettings(1e-5, 1e-15, 10_000)
    root = np.random.SeedSequence(7)
    draws = MCDraws(3, 20_000, 1)

    def seed_of(b):
        return Streams(root)(Stream.BOOTSTRAP, b)

    with thread_map(2) as pmap:
        out = bootstrap_categorical(X, codes, warms, 5, seed_of, em, draws, pmap)
    for b in range(5):
        idx = resample_indices(seed_of(b), n)
        fits = [fit_em(np.ascontiguousarray(X[idx][codes[idx] == c]), warms[c], 1e-5, 1e-15, 10_000)[0] for c in (0, 1)]
        prior = np.bincount(codes[idx], minlength=2) / n
        (v,), _ = mc_categorical_mi(np.concatenate([f.weights for f in fits])[None], prior[None],
                                    np.concatenate([f.means for f in fits])[None],
                                    np.concatenate([f.covariances for f in fits])[None], np.array([0, 0, 1, 1]), draws)
        assert_allclose(out.values[b], v, rtol=1e-10)


def test_vectorised_exp_and_log_match_libm(rng):
    import numba

    from fastmi.gmm._kernels._em import _exp_shifted_sum, _log_positive

    @numba.njit
    def exp_shifted(v, shift):
        out, total = v.copy(), np.ones(v.shape[0])
        _exp_shifted_sum(out, shift, v.shape[0], total)
        return out, total

    @numba.njit
    def log(v):
        out = np.empty_like(v)
        _log_positive(v, np.zeros_like(v), out, v.shape[0])
        return out

    x = np.concatenate([-rng.random(50_000) * 700, [0.0, -1e-300, -0.5, -np.log(2)]])
    shift = rng.standard_normal(x.size)
    arg = (x + shift) - shift  # the kernel's own argument, rounding included
    out, total = exp_shifted(x + shift, shift)
    assert_allclose(out, np.exp(arg), rtol=5e-16, atol=0)  # about 2 ulp
    assert_allclose(total, 1 + np.exp(arg), rtol=5e-16)
    assert exp_shifted(np.array([2.5]), np.array([2.5]))[0][0] == 1.0
    v = np.concatenate([1 + rng.random(50_000) * 50, 10 ** rng.uniform(-300, 300, 50_000), [1.0, 2.0, np.sqrt(2)]])
    assert_allclose(log(v), np.log(v), rtol=4e-16, atol=1e-300)
    assert log(np.array([1.0]))[0] == 0.0


def test_init_kernels_match_numpy(rng):
    from fastmi.gmm._kernels._init import (_kmeans_pp_centers, _lloyd, _m_step_from_labels, _m_step_from_resp,
                                       _nearest_centre)

    X = _data(rng, 1500, 3)
    K = 4
    # M-step from responsibilities, against the textbook formulas
    resp = rng.random((1500, K))
    resp /= resp.sum(1, keepdims=True)
    w, mu, cov = np.empty(K), np.empty((K, 3)), np.empty((K, 3, 3))
    _m_step_from_resp(X, resp, 1e-6, w, mu, cov)
    nk = resp.sum(0)
    assert_allclose(w, nk / nk.sum(), rtol=1e-12)
    assert_allclose(mu, resp.T @ X / nk[:, None], rtol=1e-12)
    for k in range(K):
        diff = X - mu[k]
        assert_allclose(cov[k], (resp[:, k, None] * diff).T @ diff / nk[k] + 1e-6 * np.eye(3), rtol=1e-11)
    # hard labels give the same as one-hot responsibilities
    labels = rng.integers(0, K, 1500)
    w2, mu2, cov2, counts = np.empty(K), np.empty((K, 3)), np.empty((K, 3, 3)), np.empty(K)
    _m_step_from_labels(X, labels, 1e-6, w2, mu2, cov2, counts)
    _m_step_from_resp(X, np.eye(K)[labels], 1e-6, w, mu, cov)
    assert_allclose(mu2, mu, rtol=1e-12)
    assert_allclose(cov2, cov, rtol=1e-11)
    assert np.array_equal(counts, np.bincount(labels, minlength=K))
    # nearest centres and Lloyd's iterations
    centers = X[rng.choice(1500, K, replace=False)].copy()
    lab = np.full(1500, -1)
    assert _nearest_centre(X, centers, lab) == 1500
    assert np.array_equal(lab, ((X[:, None] - centers[None]) ** 2).sum(-1).argmin(1))
    ref = centers.copy()
    ref_lab = ((X[:, None] - ref[None]) ** 2).sum(-1).argmin(1)
    for _ in range(300):
        ref = np.array([X[ref_lab == k].mean(0) if np.any(ref_lab == k) else ref[k] for k in range(K)])
        new = ((X[:, None] - ref[None]) ** 2).sum(-1).argmin(1)
        if np.array_equal(new, ref_lab):
            break
        ref_lab = new
    _lloyd(X, centers, lab, 300)
    assert np.array_equal(lab, ref_lab)
    assert_allclose(centers, ref, rtol=1e-12)
    # k-means++: distinct data rows, the first one chosen by index, later ones by D^2 sampling
    out = np.empty((K, 3))
    _kmeans_pp_centers(X, 7, rng.random(K), out)
    assert np.array_equal(out[0], X[7])
    rows = [np.flatnonzero((X == c).all(1)) for c in out]
    assert all(r.size == 1 for r in rows) and len({int(r[0]) for r in rows}) == K
    # u just below 1 picks the last point with positive D^2; u = 0 the first such point
    two = np.array([[0.0], [1.0], [5.0]])
    c2 = np.empty((2, 1))
    _kmeans_pp_centers(two, 0, np.array([0.0, 0.999999]), c2)
    assert c2[1, 0] == 5.0
    _kmeans_pp_centers(two, 0, np.array([0.0, 0.0]), c2)
    assert c2[1, 0] == 1.0


@pytest.mark.parametrize("seed", [0, 12345, np.random.SeedSequence(9, spawn_key=(2, 7))])
def test_kernel_pcg64_is_numpys_stream(seed):
    from fastmi.gmm._kernels._random import _pcg64_fill

    out = np.empty(100_000, dtype=np.uint64)
    _pcg64_fill(pcg_state(seed), out)
    assert np.array_equal(out, np.random.PCG64(seed).random_raw(100_000))


def test_resampling_counts_match_indices_and_are_uniform():
    from scipy.stats import chisquare

    from fastmi.gmm._kernels._random import _resample_counts

    n = 20_000
    seed = np.random.SeedSequence(4, spawn_key=(2, 0))
    idx = resample_indices(seed, n)
    count = np.zeros(n)
    _resample_counts(pcg_state(seed), count)
    assert np.array_equal(np.bincount(idx, minlength=n), count) and count.sum() == n
    # indices against exact integer arithmetic, and uniform over rows
    raw = np.random.PCG64(seed).random_raw(n)
    assert [int(r) * n >> 64 for r in raw[:500]] == idx[:500].tolist()
    assert idx.min() >= 0 and idx.max() < n
    pooled = np.concatenate([resample_indices(np.random.SeedSequence(s), 1000) for s in range(200)])
    assert chisquare(np.bincount(pooled, minlength=1000)).pvalue > 1e-3
    # each replicate draws about 1 - 1/e distinct rows
    assert abs((count > 0).mean() - (1 - np.exp(-1))) < 0.01


def test_mc_terms_must_be_added_or_subtracted():
    mix = Mixture(np.array([0.5, 0.5]), np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([np.eye(2)] * 2))
    with pytest.raises(ValueError, match=r"coefficients must be \+1 or -1"):
        mc_log_ratio(*stack([mix]), [(0.5, [0], [0])], MCDraws(1, 1000, 2))


@pytest.mark.skipif(os.environ.get("NUMBA_BOUNDSCHECK") != "1",
                    reason="for the bounds-checked CI job (NUMBA_BOUNDSCHECK=1); unchecked, the call writes out of bounds")
def test_bounds_checked_build_catches_an_undersized_array():
    """The CI job that runs this file with NUMBA_BOUNDSCHECK=1 really checks bounds: a kernel
    given an output one entry short raises instead of writing past it."""
    covs = np.broadcast_to(np.eye(2), (3, 2, 2)).copy()
    with pytest.raises(IndexError):
        _precision_cholesky(covs, np.zeros((3, 2, 2)), np.zeros((3, 2, 2)), np.empty(2))
