"""Data generators for the GMM-MI benchmarks and the parity test against upstream gmm-mi.

numpy only: imported by fastmi-side code (tests, benchmarks/bench_gmm.py) and by
run_upstream.py inside the upstream venv (which has an older numpy).

Every case is a 2-D joint sample: ``make(name, n, seed) -> (x, y)`` with x, y of shape (n,),
and ``true_mi(name)`` is the exact MI in nat (closed form, or a fixed-seed Monte Carlo
integral for the mixtures, accurate to ~1e-3 nat).

Benchmark cases (N = 1e4 in benchmarks/bench_gmm.py)
----------------------------------------------------
``gaussian``   bivariate Gaussian, unit variances, rho = 0.6; MI = -ln(1 - rho^2) / 2 = 0.2231.
``mixture3``   3-component 2-D Gaussian mixture chosen for fastmi (not upstream's), see MIXTURE3:
                 weights      0.5,            0.3,                  0.2
                 means        (0, 0),         (3, 2),               (-2, 3)
                 covariances  [[1, .7],       [[.5, -.2],           [[.3, 0],
                               [.7, 1]]        [-.2, .4]]            [0, 1.2]]
               MI (Monte Carlo, 4e6 points, seed 12345) = 0.5678 nat.
``gamma_exp``  the gamma-exponential toy of the GMM-MI paper (Piras et al. 2023, Sec. 4):
               x ~ Gamma(alpha, 1), y | x ~ Exponential(rate x); the case returns
               (ln x, ln y). MI = psi(alpha + 1) - ln(alpha); alpha = 1 gives 1 - gamma_E = 0.4228.

Upstream's own toy cases (used by tests/test_parity_upstream.py)
---------------------------------------------------------------
``readme_gaussian``  upstream's README / test example: rho = 0.6, mean 0, unit variances,
                     drawn as ``default_rng(seed).multivariate_normal(mean, cov, n)``
                     (upstream uses n = 200, seed 0).
``gaussian_rho09``   the high-MI end of upstream's bivariate-Gaussian comparison, rho = 0.9.
``D3``               upstream's 3-component synthetic model "D3" (MI ~ 0.1323 nat by MC; weights
                     0.3/0.45/0.25), the first non-trivial shape in upstream's examples.
``gamma_exp``        as above; upstream's comparison notebook draws x with
                     ``rng.gamma(alpha, 1, N)`` then ``rng.exponential(scale=1/x)``, as here.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["CASES", "BENCH_CASES", "PARITY_CASES", "make", "true_mi", "mixture_sample", "mixture_mi_mc"]

EULER_GAMMA = 0.57721566490153286061

# (weights, means, covariances) of the 2-D mixtures
MIXTURE3 = (
    np.array([0.5, 0.3, 0.2]),
    np.array([[0.0, 0.0], [3.0, 2.0], [-2.0, 3.0]]),
    np.array([[[1.0, 0.7], [0.7, 1.0]],
              [[0.5, -0.2], [-0.2, 0.4]],
              [[0.3, 0.0], [0.0, 1.2]]]),
)
# upstream's "D3" toy model (parameters as published in the GMM-MI paper / its synthetic data)
D3 = (
    np.array([0.3, 0.45, 0.25]),
    np.array([[-1.0, 1.0], [0.0, 2.0], [-1.5, 2.0]]),
    np.array([[[1.0, 0.0], [0.0, 0.1]],
              [[0.5, 0.2], [0.2, 0.5]],
              [[0.1, 0.05], [0.05, 0.1]]]),
)
GAMMA_EXP_ALPHA = 1.0


def _digamma(a: float) -> float:
    """psi(a) for a > 0 (recurrence up to a >= 6, then the asymptotic series); ~1e-12 accurate."""
    if a <= 0:
        raise ValueError("digamma implemented for a > 0 only")
    acc = 0.0
    while a < 6.0:
        acc -= 1.0 / a
        a += 1.0
    inv2 = 1.0 / (a * a)
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))))
    return acc + math.log(a) - 0.5 / a - series


def gamma_exp_mi(alpha: float) -> float:
    """MI in nat of the gamma-exponential pair: psi(alpha + 1) - ln(alpha)."""
    return _digamma(alpha + 1.0) - math.log(alpha)


def gaussian_mi(rho: float) -> float:
    return -0.5 * math.log1p(-rho * rho)


# ---------------------------------------------------------------------------------------------
# Mixtures
# ---------------------------------------------------------------------------------------------
def mixture_sample(params, n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws (n, 2) from a 2-D Gaussian mixture; component labels drawn first."""
    w, mu, cov = params
    labels = rng.choice(len(w), size=n, p=w)
    chol = np.linalg.cholesky(cov)
    z = rng.standard_normal((n, 2))
    return mu[labels] + np.einsum("nij,nj->ni", chol[labels], z)


def _log_mix_2d(params, pts):
    w, mu, cov = params
    out = np.empty((pts.shape[0], len(w)))
    for k in range(len(w)):
        d = pts - mu[k]
        inv = np.linalg.inv(cov[k])
        q = np.einsum("ni,ij,nj->n", d, inv, d)
        out[:, k] = math.log(w[k]) - math.log(2 * math.pi) - 0.5 * math.log(np.linalg.det(cov[k])) - 0.5 * q
    return _logsumexp(out)


def _log_mix_1d(params, v, axis):
    w, mu, cov = params
    out = np.empty((v.shape[0], len(w)))
    for k in range(len(w)):
        s2 = cov[k, axis, axis]
        out[:, k] = math.log(w[k]) - 0.5 * math.log(2 * math.pi * s2) - 0.5 * (v - mu[k, axis]) ** 2 / s2
    return _logsumexp(out)


def _logsumexp(a):
    m = a.max(axis=1)
    return m + np.log(np.exp(a - m[:, None]).sum(axis=1))


_MC_CACHE: dict = {}


def mixture_mi_mc(params, n_mc: int = 4_000_000, seed: int = 12345, chunk: int = 500_000) -> float:
    """E[ln p(x,y) - ln p(x) - ln p(y)] by Monte Carlo with a fixed seed (std error ~ 5e-4 nat)."""
    key = (id(params), n_mc, seed)
    if key not in _MC_CACHE:
        rng = np.random.default_rng(seed)
        total, done = 0.0, 0
        while done < n_mc:
            m = min(chunk, n_mc - done)
            p = mixture_sample(params, m, rng)
            total += float(np.sum(_log_mix_2d(params, p) - _log_mix_1d(params, p[:, 0], 0)
                                  - _log_mix_1d(params, p[:, 1], 1)))
            done += m
        _MC_CACHE[key] = total / n_mc
    return _MC_CACHE[key]


# ---------------------------------------------------------------------------------------------
# Case generators: (n, rng) -> (n, 2)
# ---------------------------------------------------------------------------------------------
def _bivariate_gaussian(rho):
    def gen(n, rng):
        return rng.multivariate_normal(np.zeros(2), np.array([[1.0, rho], [rho, 1.0]]), n)
    return gen


def _mixture(params):
    def gen(n, rng):
        return mixture_sample(params, n, rng)
    return gen


def _gamma_exp(alpha):
    def gen(n, rng):
        x = rng.gamma(alpha, 1.0, n)
        y = rng.exponential(scale=1.0 / x)
        return np.column_stack([np.log(x), np.log(y)])
    return gen


# name -> (generator, true-MI thunk, one-line description)
CASES = {
    "gaussian": (_bivariate_gaussian(0.6), lambda: gaussian_mi(0.6),
                 "bivariate Gaussian, rho=0.6"),
    "mixture3": (_mixture(MIXTURE3), lambda: mixture_mi_mc(MIXTURE3),
                 "3-component 2-D Gaussian mixture (cases.MIXTURE3)"),
    "gamma_exp": (_gamma_exp(GAMMA_EXP_ALPHA), lambda: gamma_exp_mi(GAMMA_EXP_ALPHA),
                  "gamma-exponential, alpha=1, on (ln x, ln y)"),
    "readme_gaussian": (_bivariate_gaussian(0.6), lambda: gaussian_mi(0.6),
                        "upstream README bivariate Gaussian, rho=0.6"),
    "gaussian_rho09": (_bivariate_gaussian(0.9), lambda: gaussian_mi(0.9),
                       "bivariate Gaussian, rho=0.9"),
    "D3": (_mixture(D3), lambda: mixture_mi_mc(D3), "upstream's synthetic model D3"),
}
BENCH_CASES = ("gaussian", "mixture3", "gamma_exp")
PARITY_CASES = ("readme_gaussian", "gaussian_rho09", "D3", "gamma_exp")


def make(name: str, n: int = 10_000, seed: int = 0):
    """Return (x, y), each of shape (n,), for case ``name`` drawn with ``default_rng(seed)``."""
    try:
        gen = CASES[name][0]
    except KeyError:
        raise ValueError(f"unknown case {name!r}; choose from {sorted(CASES)}") from None
    xy = gen(int(n), np.random.default_rng(seed))
    return np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])


def true_mi(name: str) -> float:
    """Exact MI of case ``name`` in nat."""
    return float(CASES[name][1]())


def describe(name: str) -> str:
    return CASES[name][2]
