"""GMM-MI against known MI: each estimate within 3 reported std of the truth, and the
reported std within a factor 2 of the spread of estimates over repeated data draws."""
import math

import numpy as np
import pytest
from scipy.special import digamma

import fastmi

from _reference import gaussian_mi, mixture_mi_reference, sample_mixture

N = 10_000


def _check(draw, truth, n_draws, seed, **kw):
    """Estimate on ``n_draws`` independent data sets; check accuracy and calibration."""
    ss = np.random.SeedSequence(seed)
    results = []
    for child in ss.spawn(n_draws):
        data_rng, est_seed = np.random.default_rng(child), int(child.generate_state(1)[0])
        args = draw(data_rng)
        results.append(fastmi.mutual_info(*args, rng=est_seed, **kw))
    first = results[0]
    assert abs(first.mi - truth) < 3 * first.std, (first.mi, first.std, truth)
    mis = np.array([r.mi for r in results])
    spread = mis.std(ddof=1)
    reported = np.mean([r.std for r in results])
    assert 0.5 < reported / spread < 2.0, (reported, spread, mis)
    # the estimator is not biased beyond its error bars on average
    assert abs(mis.mean() - truth) < 3 * reported, (mis.mean(), truth, reported)
    return results


@pytest.mark.parametrize("rho", [0.6, 0.9])
def test_bivariate_gaussian(rho):
    cov = np.array([[1.0, rho], [rho, 1.0]])

    def draw(rng):
        X = rng.multivariate_normal([0, 0], cov, N)
        return X[:, 0], X[:, 1]

    _check(draw, gaussian_mi(cov, 1), n_draws=10, seed=1 + int(10 * rho))


def test_gaussian_two_by_two():
    cov = np.array([[1.0, 0.3, 0.5, 0.2], [0.3, 1.0, 0.1, 0.6], [0.5, 0.1, 1.0, 0.2], [0.2, 0.6, 0.2, 1.0]])

    def draw(rng):
        X = rng.multivariate_normal(np.zeros(4), cov, N)
        return X[:, :2], X[:, 2:]

    _check(draw, gaussian_mi(cov, 2), n_draws=8, seed=22)


def test_gamma_exponential():
    alpha = 1.0
    truth = digamma(alpha + 1) - math.log(alpha)

    def draw(rng):
        x = rng.gamma(alpha, 1.0, N)
        y = rng.exponential(1.0 / x)
        return np.log(x), np.log(y)

    _check(draw, truth, n_draws=6, seed=3)


MIX = dict(weights=[0.5, 0.3, 0.2],
           means=[[0.0, 0.0], [3.0, 1.0], [-1.0, 3.0]],
           covs=[[[1.0, 0.7], [0.7, 1.0]], [[0.5, -0.3], [-0.3, 1.0]], [[1.5, 0.0], [0.0, 0.3]]])


def test_three_component_mixture():
    truth = mixture_mi_reference(MIX["weights"], MIX["means"], MIX["covs"], 1, 10_000_000,
                                 np.random.default_rng(99))

    def draw(rng):
        X = sample_mixture(rng, N, np.array(MIX["weights"]), np.array(MIX["means"]), np.array(MIX["covs"]))
        return X[:, 0], X[:, 1]

    _check(draw, truth, n_draws=8, seed=4)


def test_categorical_imbalanced_empirical_prior():
    truth = 0.14202  # I(X; C), C ~ Bernoulli(0.1), X | C ~ N(-1 or +1, 1) (quadrature)

    def draw(rng):
        c = (rng.random(N) < 0.1).astype(int)
        x = rng.standard_normal(N) + np.where(c == 1, 1.0, -1.0)
        return x, np.array(["major", "minor"])[c]

    results = _check(draw, truth, n_draws=8, seed=5, y_type="categorical")
    assert results[0].method == "gmm-categorical"


def test_conditional_mi_gaussian():
    # z ~ N(0,1), x = z + e1, y = 0.8 x + z + e2: a Gaussian with known I(X; Y | Z)
    A = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.8, 0.8, 1.0]])  # (z, x, y) from (z, e1, e2)
    cov = A @ A.T
    zi, xi, yi = 0, 1, 2

    def ld(idx):
        return np.linalg.slogdet(cov[np.ix_(idx, idx)])[1]

    truth = 0.5 * (ld([xi, zi]) + ld([yi, zi]) - ld([zi]) - ld([xi, yi, zi]))

    def draw(rng):
        z = rng.standard_normal(N)
        x = z + rng.standard_normal(N)
        return x, 0.8 * x + z + rng.standard_normal(N), z

    ss = np.random.SeedSequence(6)
    results = []
    for child in ss.spawn(8):
        x, y, z = draw(np.random.default_rng(child))
        results.append(fastmi.conditional_mutual_info(x, y, z, rng=int(child.generate_state(1)[0])))
    first = results[0]
    assert first.method == "gmm-cmi"
    assert abs(first.mi - truth) < 3 * first.std
    mis = np.array([r.mi for r in results])
    assert 0.5 < np.mean([r.std for r in results]) / mis.std(ddof=1) < 2.0
