"""Gaussian-copula MI: invariance, an independent NumPy/SciPy reference, known answers."""
import math

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import psi

import fastmi
from fastmi._gcmi import gcmi_categorical_mutual_info, gcmi_conditional_mutual_info, gcmi_mutual_info


# ----------------------------------------------------------------- independent reference
def _ref_scores(a):
    """Normal scores from argsort ranks (untied data) and scipy.stats.norm.ppf."""
    a = np.asarray(a, dtype=float).reshape(len(a), -1)
    out = np.empty_like(a)
    for j in range(a.shape[1]):
        ranks = np.empty(a.shape[0])
        ranks[np.argsort(a[:, j], kind="stable")] = np.arange(1, a.shape[0] + 1)
        out[:, j] = stats.norm.ppf(ranks / (a.shape[0] + 1))
    return out


def _ref_h(u, bias):
    n, d = u.shape
    h = 0.5 * np.linalg.slogdet(np.atleast_2d(np.cov(u, rowvar=False)))[1]
    if bias:
        h -= d / 2 * math.log(2 / (n - 1)) + sum(psi((n - i) / 2) for i in range(1, d + 1)) / 2
    return h


def _ref_gcmi(x, y, bias):
    u, v = _ref_scores(x), _ref_scores(y)
    return _ref_h(u, bias) + _ref_h(v, bias) - _ref_h(np.hstack([u, v]), bias)


def _gauss(rng, n, cov):
    return rng.multivariate_normal(np.zeros(len(cov)), cov, size=n)


COV3 = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.4], [0.3, 0.4, 1.0]])


def _gauss_mi(cov, a, b):
    ld = lambda idx: np.linalg.slogdet(cov[np.ix_(idx, idx)])[1]
    return 0.5 * (ld(a) + ld(b) - ld(a + b))


# ----------------------------------------------------------------- tests
@pytest.mark.parametrize("bias", [True, False])
def test_equals_an_independent_reference(rng, bias):
    x = rng.standard_normal((700, 2))
    y = np.c_[np.sin(x[:, 0]) + rng.standard_normal(700), x[:, 1] ** 3 + rng.standard_normal(700),
              rng.standard_normal(700)]
    r = gcmi_mutual_info(x, y, bias_correct=bias, n_bootstrap=0)
    assert r.mi == pytest.approx(_ref_gcmi(x, y, bias), abs=1e-12)
    z = rng.standard_normal((700, 2)) + x
    ref_c = (_ref_h(np.hstack([_ref_scores(x), _ref_scores(z)]), bias)
             + _ref_h(np.hstack([_ref_scores(y), _ref_scores(z)]), bias)
             - _ref_h(np.hstack([_ref_scores(x), _ref_scores(y), _ref_scores(z)]), bias) - _ref_h(_ref_scores(z), bias))
    assert gcmi_conditional_mutual_info(x, y, z, bias_correct=bias, n_bootstrap=0).mi == pytest.approx(ref_c, abs=1e-12)
    labels = np.array(["a", "b", "c"])[rng.integers(0, 3, 700)]
    u = _ref_scores(x)
    ref_d = _ref_h(u, bias) - sum(np.mean(labels == c) * _ref_h(u[labels == c], bias) for c in "abc")
    assert gcmi_categorical_mutual_info(x, labels, bias_correct=bias, n_bootstrap=0).mi == pytest.approx(ref_d,
                                                                                                          abs=1e-12)


def test_bit_for_bit_invariant_under_increasing_maps(rng):
    x = rng.standard_normal((3000, 2))
    y = 0.5 * x[:, :1] + rng.standard_normal((3000, 1))
    z = rng.standard_normal(3000) + x[:, 1]
    x2 = np.c_[np.exp(x[:, 0]), 3.0 * x[:, 1] ** 3 + x[:, 1] - 7.0]
    y2, z2 = np.arctan(y), 1e6 * z + 5.0
    a, b = fastmi.mutual_info(x, y, method="gcmi", rng=4), fastmi.mutual_info(x2, y2, method="gcmi", rng=4)
    assert a.mi == b.mi and a.std == b.std
    np.testing.assert_array_equal(a.samples, b.samples)
    assert (fastmi.conditional_mutual_info(x, y, z, method="gcmi", n_bootstrap=0).mi
            == fastmi.conditional_mutual_info(x2, y2, z2, method="gcmi", n_bootstrap=0).mi)
    labels = (z > 0).astype(int)
    assert (fastmi.mutual_info(x, labels, method="gcmi", y_type="categorical", n_bootstrap=0).mi
            == fastmi.mutual_info(x2, labels, method="gcmi", y_type="categorical", n_bootstrap=0).mi)
    # and a map that is not increasing changes it
    assert fastmi.mutual_info(x ** 2, y, method="gcmi", n_bootstrap=0).mi != a.mi


def test_gaussian_known_answer_at_1e5(rng):
    cov = np.array([[1.0, 0.3, 0.6, 0.2], [0.3, 1.0, 0.1, 0.5], [0.6, 0.1, 1.0, 0.3], [0.2, 0.5, 0.3, 1.0]])
    xy = _gauss(rng, 100_000, cov)
    truth = _gauss_mi(cov, [0, 1], [2, 3])
    # monotone marginals do not change a Gaussian copula
    r = fastmi.mutual_info(np.exp(xy[:, :2]), xy[:, 2:] ** 3, method="gcmi", n_bootstrap=0)
    assert abs(r.mi - truth) < 0.005
    assert abs(fastmi.mutual_info(xy[:, 0], xy[:, 2], method="gcmi", n_bootstrap=0).mi
               - _gauss_mi(cov, [0], [2])) < 0.005


def test_conditional_known_answer_on_a_gaussian(rng):
    xyz = _gauss(rng, 100_000, COV3)
    ld = lambda idx: np.linalg.slogdet(COV3[np.ix_(idx, idx)])[1]
    truth = 0.5 * (ld([0, 2]) + ld([1, 2]) - ld([0, 1, 2]) - ld([2]))
    r = fastmi.conditional_mutual_info(xyz[:, 0], np.exp(xyz[:, 1]), xyz[:, 2], method="gcmi", n_bootstrap=0)
    assert r.quantity == "cmi" and abs(r.mi - truth) < 0.005


def test_categorical_known_answer_on_gaussian_classes(rng):
    """x | c ~ N(mu_c, 1): in the population the scores u = Phi^-1(F(x)) are N(0, 1), so the
    estimate tends to -sum_c p_c log sd(u | c), a one-dimensional integral per class."""
    p, mu = np.array([0.5, 0.3, 0.2]), np.array([-1.0, 0.0, 1.5])
    cdf = lambda t: float(np.sum(p * stats.norm.cdf(t - mu)))
    sf = lambda t: float(np.sum(p * stats.norm.sf(t - mu)))
    g = lambda t: stats.norm.ppf(cdf(t)) if cdf(t) < 0.5 else -stats.norm.ppf(sf(t))  # no rounding to 1
    limit = 0.0
    for pc, m in zip(p, mu):
        m1 = integrate.quad(lambda t: g(t) * stats.norm.pdf(t - m), m - 9, m + 9, limit=200)[0]
        m2 = integrate.quad(lambda t: g(t) ** 2 * stats.norm.pdf(t - m), m - 9, m + 9, limit=200)[0]
        limit -= pc * 0.5 * math.log(m2 - m1 ** 2)
    labels = rng.choice(3, 100_000, p=p)
    x = mu[labels] + rng.standard_normal(100_000)
    r = fastmi.mutual_info(x, labels, method="gcmi", y_type="categorical", n_bootstrap=0)
    assert abs(r.mi - limit) < 0.005
    # with equal-variance Gaussian classes the true MI is larger: not a Gaussian copula
    assert r.mi > 0.1


def test_lower_bound_far_below_the_truth(rng):
    x = rng.standard_normal(20_000)
    y = x ** 2 + 0.1 * rng.standard_normal(20_000)
    g = fastmi.mutual_info(x, y, method="gcmi", n_bootstrap=0)
    k = fastmi.mutual_info(x, y, method="ksg", n_bootstrap=0)
    assert abs(g.mi) < 0.01 and k.mi > 1.3 and g.diagnostics["lower_bound"]


def test_error_bar_and_bad_input(rng):
    x = rng.standard_normal(800)
    y = x + rng.standard_normal(800)
    r = fastmi.mutual_info(x, y, method="gcmi", rng=0)
    assert r.diagnostics["resampling"]["scheme"] == "subsample" and 0 < r.std < 0.1
    assert "gcmi" in fastmi.list_methods().__repr__()
    with pytest.raises(ValueError, match="bias_correct must be"):
        fastmi.mutual_info(x, y, method="gcmi", bias_correct=1)
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] have fewer than dx \+ 2 = 4 samples"):
        fastmi.mutual_info(np.c_[x, y], np.r_[np.zeros(797, int), 1, 1, 1], method="gcmi", y_type="categorical")
    with pytest.raises(ValueError, match="singular covariance"):
        fastmi.mutual_info(np.c_[x, 2 * x], y, method="gcmi")
