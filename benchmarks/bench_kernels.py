"""Hot paths of GMM-MI, one pytest-benchmark group per kernel, each beside a NumPy baseline.

    python -m pytest benchmarks/bench_kernels.py --benchmark-only            # everything
    python -m pytest benchmarks/ --benchmark-only --quick                     # quick subset
    python -m pytest benchmarks/ --benchmark-only --benchmark-save=base      # then, later:
    python -m pytest benchmarks/ --benchmark-only --benchmark-compare=0001   # compare two runs

Every case runs warm-up rounds first, so Numba compilation is never timed.
"""
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from fastmi._config import thread_map
from fastmi._streams import Stream, Streams
from fastmi.gmm._bootstrap import bootstrap_continuous
from fastmi.gmm._kernels._em import _e_step, _m_step
from fastmi.gmm._mixture import fit_em, initial_mixture
from fastmi.gmm._montecarlo import MCDraws, mc_log_ratio, mi_terms, stack
from fastmi.gmm._select import EMSettings

Q = pytest.mark.quick


def _mixture_data(n, K, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    X += rng.integers(0, max(K, 1), size=n)[:, None] * np.array([2.0, -1.0])
    return np.ascontiguousarray((X - X.mean(0)) / X.std(0))


def _model(X, K):
    return fit_em(X, initial_mixture(X, K, "kmeans++", np.random.default_rng(1), 1e-6), 1e-3, 1e-6, 50)[0]


def _run(benchmark, fn, *args, rounds=5):
    return benchmark.pedantic(fn, args=args, warmup_rounds=2, rounds=rounds, iterations=1)


SIZES_EK = [pytest.param(n, K, marks=Q if (n, K) in {(10_000, 3)} else ())
            for n in (1_000, 10_000, 100_000, 1_000_000) for K in (1, 3, 10)]


# ------------------------------------------------------------------------------------ E-step
def _numpy_e_step(X, m):
    """sklearn-style vectorised E-step plus sufficient statistics (the baseline)."""
    lp = np.stack([np.log(w) + multivariate_normal(mu, c).logpdf(X).reshape(-1)
                   for w, mu, c in zip(m.weights, m.means, m.covariances)], axis=1)
    norm = logsumexp(lp, axis=1)
    resp = np.exp(lp - norm[:, None])
    nk = resp.sum(0)
    return norm.sum(), nk, resp.T @ X, np.einsum("nk,na,nb->kab", resp, X, X)


def _fused_e_step(Xt, m, prec, logdet):
    K, d = m.means.shape
    nk, s1, s2 = np.empty(K), np.empty((K, d)), np.empty((K, d, d))
    return _e_step(Xt, np.ones(Xt.shape[1]), np.log(m.weights), m.means, prec, logdet, m.means.copy(), nk, s1, s2)


@pytest.mark.benchmark(group="e-step")
@pytest.mark.parametrize("n,K", SIZES_EK)
def test_e_step_fastmi(benchmark, n, K):
    X = _mixture_data(n, K)
    m = _model(X[:20_000], K)
    _, prec, logdet = m.factors()
    _run(benchmark, _fused_e_step, np.ascontiguousarray(X.T), m, prec, logdet)


@pytest.mark.benchmark(group="e-step")
@pytest.mark.parametrize("n,K", SIZES_EK)
def test_e_step_numpy_baseline(benchmark, n, K):
    X = _mixture_data(n, K)
    m = _model(X[:20_000], K)
    _run(benchmark, _numpy_e_step, X, m, rounds=3)


# ------------------------------------------------------------------------------------ M-step
@pytest.mark.benchmark(group="m-step")
@pytest.mark.parametrize("K", [pytest.param(1), pytest.param(3, marks=Q), pytest.param(10)])
def test_m_step_fastmi(benchmark, K):
    X = _mixture_data(10_000, K)
    m = _model(X, K)
    _, prec, logdet = m.factors()
    d = 2
    nk, s1, s2 = np.empty(K), np.empty((K, d)), np.empty((K, d, d))
    Xt = np.ascontiguousarray(X.T)
    _e_step(Xt, np.ones(len(X)), np.log(m.weights), m.means, prec, logdet, m.means.copy(), nk, s1, s2)
    out = m.copy()
    benchmark.pedantic(_m_step, args=(nk, s1, s2, m.means, 10_000, 1e-6, out.weights, out.means, out.covariances),
                       warmup_rounds=2, rounds=20, iterations=10)


# ------------------------------------------------------------------------------------ MC integral
SIZES_MC = [pytest.param(m, K, marks=Q if (m, K) == (100_000, 3) else ())
            for m in (10_000, 100_000, 1_000_000) for K in (1, 3, 10)]


def _numpy_mc(m, draws):
    """Plain MC of MI with SciPy densities over the same draws (the baseline)."""
    total = 0.0
    L = np.linalg.cholesky(m.covariances)
    cum = np.cumsum(m.weights)
    for z, u in draws:
        comp = np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)
        pts = m.means[comp] + np.einsum("nab,bn->na", L[comp], z)

        def lmix(P, cols):
            return logsumexp(np.stack([np.log(w) + multivariate_normal(mu[cols], c[np.ix_(cols, cols)]).logpdf(P)
                                       .reshape(-1) for w, mu, c in zip(m.weights, m.means, m.covariances)]), axis=0)

        total += (lmix(pts, [0, 1]) - lmix(pts[:, :1], [0]) - lmix(pts[:, 1:], [1])).sum()
    return total / draws.n_samples


@pytest.mark.benchmark(group="mc-integral")
@pytest.mark.parametrize("m,K", SIZES_MC)
def test_mc_fastmi(benchmark, m, K):
    mix = _model(_mixture_data(20_000, K), K)
    draws = MCDraws(0, m, 2)
    _run(benchmark, mc_log_ratio, *stack([mix]), mi_terms(([0], [1])), draws)


@pytest.mark.benchmark(group="mc-integral")
@pytest.mark.parametrize("m,K", SIZES_MC)
def test_mc_numpy_baseline(benchmark, m, K):
    mix = _model(_mixture_data(20_000, K), K)
    _run(benchmark, _numpy_mc, mix, MCDraws(0, m, 2), rounds=3)


# ------------------------------------------------------------------------------------ bootstrap loop
@pytest.mark.benchmark(group="bootstrap-loop")
@pytest.mark.parametrize("n,K", [pytest.param(n, K, marks=Q if (n, K) == (10_000, 3) else ())
                                 for n in (1_000, 10_000, 100_000) for K in (1, 3, 10)])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_bootstrap_loop(benchmark, n, K, n_jobs):
    """50 warm-started EM refits + 50 MC integrals of 1e5 samples: GMM-MI's default loop."""
    X = _mixture_data(n, K)
    em = EMSettings(1e-5, 1e-15, 10_000)
    warm = fit_em(X, initial_mixture(X, K, "kmeans++", np.random.default_rng(1), 1e-15), em.tol, em.reg_covar,
                  em.max_iter)[0]  # a converged warm start, as the component search leaves it
    root = np.random.SeedSequence(3)
    draws = MCDraws(1, 100_000, 2)

    def loop():
        with thread_map(n_jobs) as pmap:
            return bootstrap_continuous(X, warm, ([0], [1]), 50, lambda b: Streams(root)(Stream.BOOTSTRAP, b), em, draws, pmap)

    _run(benchmark, loop, rounds=3)
