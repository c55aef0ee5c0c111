"""The faster GMM-MI procedure (split search, mc_samples='auto', separate EM tolerances) and the
upstream procedure kept beside it (``GMMMI.upstream``, ``UPSTREAM_PROCEDURE``)."""
from __future__ import annotations

import numpy as np
import pytest

import fastmi
from fastmi.bench import get_distribution
from fastmi.gmm import UPSTREAM_PROCEDURE, GMMMI
from fastmi.gmm._mixture import Mixture
from fastmi.gmm._montecarlo import MC_AUTO_MAX, MC_AUTO_REPLICATE
from fastmi.gmm._select import split_component


def _old_path_data():
    rng = np.random.default_rng(7)
    x = rng.standard_normal(1500)
    return x, np.sin(2 * x) + 0.5 * rng.standard_normal(1500)


# GMMMI(rng=0, n_bootstrap=10[, init]).fit_estimate(*_old_path_data()) computed by fastmi at
# 9cfcc30, before the faster defaults: (mi, std, K), floats as float.hex
OLD_PATH = {
    "kmeans++": ("0x1.c6012c8c3cfb3p-2", "0x1.8215cf6488e2ep-6", 3),
    "random_resp": ("0x1.033b7d2588931p-1", "0x1.04e11289d04c5p-6", 6),
}


@pytest.mark.parametrize("init", list(OLD_PATH))
def test_upstream_procedure_reproduces_the_old_path_bit_for_bit(init):
    x, y = _old_path_data()
    mi, std, k = OLD_PATH[init]
    res = GMMMI(rng=0, n_bootstrap=10, init=init, **UPSTREAM_PROCEDURE).fit_estimate(x, y)
    # equal to the last bits of a float, not bit for bit: the kernels use fastmath contractions,
    # and whether a callee was compiled with its caller or loaded from Numba's cache moves the
    # last bit (seen: 2 ulp after the cache was filled in another order)
    assert res.n_components == k
    assert res.mi == pytest.approx(float.fromhex(mi), rel=1e-12)
    assert res.std == pytest.approx(float.fromhex(std), rel=1e-9)
    # the classmethod is the same options (plus upstream's init, here overridden)
    again = GMMMI.upstream(rng=0, n_bootstrap=10, init=init).fit_estimate(x, y)
    assert (again.mi, again.std) == (res.mi, res.std)


def test_upstream_classmethod_options():
    est = GMMMI.upstream(n_bootstrap=7)
    params = est.get_params()
    assert {k: params[k] for k in UPSTREAM_PROCEDURE} == UPSTREAM_PROCEDURE
    assert params["init"] == "random_resp" and params["n_bootstrap"] == 7
    assert GMMMI().get_params()["search"] == "split"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_search_selects_the_true_k(seed):
    """The split search finds the three components of the 'mixture3' preset, and one for a
    bivariate Gaussian, at the calibration suite's N."""
    x, y = get_distribution("mixture3").sample(5000, np.random.default_rng(seed))
    assert GMMMI(rng=0, n_bootstrap=0).fit(x, y).n_components_ == 3
    x, y = get_distribution("gaussian").sample(5000, np.random.default_rng(seed))
    assert GMMMI(rng=0, n_bootstrap=0).fit(x, y).n_components_ == 1


def test_split_search_warm_starts():
    """Each K > 1 in the split search is fitted from the split start alone (n_init='auto'), and
    those fits take fewer EM iterations than the fresh search's (3 starts per K)."""
    x, y = get_distribution("mixture3").sample(3000, np.random.default_rng(0))
    split = GMMMI(rng=0, n_bootstrap=0).fit(x, y).cv_
    fresh = GMMMI(rng=0, n_bootstrap=0, search="fresh", n_init=3).fit(x, y).cv_
    assert all(len(s) == 1 for s in split["score_per_init"])
    assert sum(map(sum, split["n_iter"])) < sum(map(sum, fresh["n_iter"]))


def test_split_component_keeps_the_moments():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    b = rng.standard_normal((3, 3))
    covs = np.stack([a @ a.T + np.eye(3), b @ b.T + np.eye(3)])
    mix = Mixture(np.array([0.3, 0.7]), rng.standard_normal((2, 3)), covs)
    out = split_component(mix)

    def moments(m):
        mean = m.weights @ m.means
        dev = m.means - mean
        cov = np.einsum("k,kij->ij", m.weights, m.covariances) + np.einsum("k,ki,kj->ij", m.weights, dev, dev)
        return mean, cov

    assert out.n_components == 3 and np.isclose(out.weights.sum(), 1.0)
    for p, q in zip(moments(mix), moments(out)):
        np.testing.assert_allclose(p, q, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(out.covariances) > 0)


def _mixture3_estimate(**kw):
    x, y = get_distribution("mixture3").sample(5000, np.random.default_rng(0))
    return GMMMI(rng=0, n_bootstrap=20, **kw).fit(x, y)


def test_auto_mc_reaches_its_target():
    est = _mixture3_estimate()
    res = est.estimate()
    auto = res.diagnostics["mc_auto"]
    assert auto["replicate_samples"] == MC_AUTO_REPLICATE
    shared = res.diagnostics["mc_shared_error"]
    assert np.isclose(shared, np.hypot(auto["paired_error"], auto["reference_error"]))
    # the reference draws stop once the shared error is within the target, or at the cap
    assert shared <= 1.25 * max(auto["target"], auto["paired_error"]) or auto["reference_samples"] == MC_AUTO_MAX
    assert auto["target"] >= 0.15 * res.diagnostics["bootstrap_std"] * 0.999
    # and the MI agrees with a 10x longer fixed-sample integral within the two MC errors
    est.mc_samples = 1_000_000
    ref = est.estimate()
    err = np.hypot(shared, ref.diagnostics["mc_shared_error"])
    assert abs(res.mi - ref.mi) < 4 * err, (res.mi, ref.mi, err)
    assert abs(res.diagnostics["bootstrap_std"] - ref.diagnostics["bootstrap_std"]) < 0.2 * ref.diagnostics[
        "bootstrap_std"]


def test_auto_mc_is_identical_for_any_n_jobs():
    a = _mixture3_estimate(n_jobs=1).estimate()
    b = _mixture3_estimate(n_jobs=2).estimate()
    assert (a.mi, a.std) == (b.mi, b.std)


def test_auto_mc_one_component_is_exact():
    x, y = get_distribution("gaussian").sample(2000, np.random.default_rng(1))
    res = GMMMI(n_components=1, rng=0, n_bootstrap=5).fit_estimate(x, y)
    assert res.diagnostics["mc_shared_error"] == 0.0


@pytest.mark.parametrize("name, value", [("mc_samples", "many"), ("n_init", "some"), ("search", "greedy"),
                                         ("bootstrap_start", "zero"), ("bootstrap_tol", -1.0),
                                         ("search_tol", -1.0)])
def test_new_options_are_validated(name, value):
    x = np.random.default_rng(0).standard_normal(200)
    with pytest.raises(ValueError, match=name):
        fastmi.GMMMI(**{name: value}).fit(x, x + 1.0)


def test_a_fixed_k_is_fitted_from_fresh_starts(rng):
    """With n_components fixed there is no smaller fit to split: 'auto' means 3 fresh starts,
    which find the two arms of an X-shaped dependence that one start can miss."""
    x = rng.standard_normal(2000)
    y = np.where(rng.random(2000) < 0.5, x, -x) + 0.3 * rng.standard_normal(2000)
    est = GMMMI(n_components=2, rng=0, n_bootstrap=10)
    assert est._n_init() == 3 and GMMMI()._n_init() == 1
    r = est.fit_estimate(x, y)
    assert len(r.diagnostics["cv"]["score_per_init"][0]) == 3
    assert r.mi == pytest.approx(fastmi.mutual_info(x, y, method="ksg").mi, abs=0.1) and not r.diagnostics["misfit"]


def test_auto_tolerances_follow_tol():
    """The search and bootstrap tolerances scale with tol unless set: a user who tightens tol
    tightens every EM fit."""
    est = GMMMI(tol=1e-6)
    assert (est._em("fit").tol, est._em("search").tol, est._em("bootstrap").tol) == pytest.approx((1e-6, 3e-6, 1e-5))
    assert GMMMI()._em("bootstrap").tol == pytest.approx(1e-3) and GMMMI()._em("search").tol == pytest.approx(3e-4)
    est = GMMMI(tol=1e-6, search_tol=None, bootstrap_tol=2e-3)
    assert (est._em("search").tol, est._em("bootstrap").tol) == (1e-6, 2e-3)
    with pytest.raises(ValueError, match="search_tol"):
        GMMMI(search_tol="tight").fit(np.arange(20.0), np.arange(20.0) ** 2)
