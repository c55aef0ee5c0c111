"""GMM-MI near zero and where the split search used to stop early: copula-space fits, the exact
one-Gaussian bias correction, retries after a failed fit check, categorical conditional MI."""
import math
import warnings

import numpy as np
import pytest

import fastmi
from fastmi.bench import GaussianMixture, get_distribution
from fastmi._wishart import gaussian_mi_bias


def test_gaussian_mi_bias_is_the_wishart_bias():
    """Against a plain Monte-Carlo of the plug-in MI and CMI of Gaussian samples (any covariance),
    and against the large-n limit dx dy / (2n)."""
    rng = np.random.default_rng(0)
    n = 40
    cov = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.2], [0.3, 0.2, 1.0]])
    L = np.linalg.cholesky(cov)

    def ld(c, idx):  # log det of the (idx, idx) blocks of a stack of matrices
        return np.linalg.slogdet(c[..., idx, :][..., idx])[1]

    def mi(c):
        return 0.5 * (ld(c, [0]) + ld(c, [1, 2]) - ld(c, [0, 1, 2]))

    def cmi(c):  # I(0; 1 | 2)
        return 0.5 * (ld(c, [0, 2]) + ld(c, [1, 2]) - ld(c, [0, 1, 2]) - ld(c, [2]))

    a = rng.standard_normal((20000, n, 3)) @ L.T
    a -= a.mean(axis=1, keepdims=True)
    draws = np.einsum("bni,bnj->bij", a, a) / (n - 1)
    for f, b in ((mi, gaussian_mi_bias(n, 1, 2)), (cmi, gaussian_mi_bias(n, 1, 1, 1))):
        vals = f(draws) - f(cov)
        assert abs(vals.mean() - b) < 4 * vals.std() / math.sqrt(vals.size), (vals.mean(), b)
    assert gaussian_mi_bias(10**6, 2, 3) == pytest.approx(6 / 2e6, rel=1e-3)


def _independent(rng, n, kind):
    if kind == "uniform_gauss":
        return rng.random(n), rng.standard_normal(n)
    if kind == "exp2d_gauss":
        return rng.exponential(size=(n, 2)), rng.standard_normal(n)
    return np.where(rng.random(n) < 0.5, -2.0, 2.0) + 0.5 * rng.standard_normal(n), rng.random(n)


@pytest.mark.parametrize("kind", ["uniform_gauss", "exp2d_gauss", "bimodal_uniform"])
def test_independent_non_gaussian_pairs_cover_zero(kind):
    z = []
    for s in range(8):
        x, y = _independent(np.random.default_rng(s), 1000, kind)
        r = fastmi.mutual_info(x, y, rng=s)
        z.append(r.mi / r.std)
        assert r.diagnostics["fit"]["space"] == "copula"
        assert r.n_components == 1 and "bias_correction" in r.diagnostics
    z = np.array(z)
    assert z.mean() <= 1.0 and np.mean(np.abs(z) <= 2) >= 0.85, z
    # the last release's procedure calls these dependent (mean z 2-3 on the first and last)
    if kind != "exp2d_gauss":
        old = [fastmi.mutual_info(*_independent(np.random.default_rng(s), 1000, kind), rng=s, copula=False,
                                  bias_correction=False) for s in range(4)]
        assert np.mean([r.mi / r.std for r in old]) > 1.5


def _parabola(rng, n):
    """x on a noisy parabola (its two coordinates depend on each other, not on y), y uniform: a
    non-Gaussian copula, so K > 1 in the data's space."""
    u = rng.uniform(-1, 1, n)
    return np.column_stack([u, u ** 2 + 0.05 * rng.standard_normal(n)]), rng.random(n)


def test_null_correction_brings_k_above_one_back_to_zero():
    """A mixture with K > 1 fitted to independent variables invents dependence (z 1.2-1.9 here
    without the correction); the permutation null at the selected K removes it, and says so."""
    z, z_old = [], []
    for s in range(4):
        x, y = _parabola(np.random.default_rng(1000 + s), 1000)
        r = fastmi.mutual_info(x, y, rng=s)
        old = fastmi.mutual_info(x, y, rng=s, bias_correction="gaussian")
        assert r.n_components == old.n_components > 1 and r.diagnostics["fit"]["space"] == "data"
        bc = r.diagnostics["bias_correction"]
        assert bc["kind"] == f"permutation null at K={r.n_components}" and bc["applied"]
        assert len(bc["null_mi"]) == fastmi.GMMMI.N_NULL and bc["bias"] == pytest.approx(np.mean(bc["null_mi"]))
        assert r.mi == pytest.approx(old.mi - bc["bias"], abs=1e-12) and r.std >= old.std
        assert "bias_correction" not in old.diagnostics
        z.append(r.mi / r.std)
        z_old.append(old.mi / old.std)
    assert np.mean(z_old) > 1.0 and abs(np.mean(z)) < 0.5, (z_old, z)
    assert fastmi.mutual_info(x, y, rng=3, n_jobs=1).mi == r.mi  # reproducible for any n_jobs


def test_null_correction_leaves_dependent_data_alone():
    """Far from zero (z >= 3) the null is not fitted; nor is it applied to an estimate outside the
    null distribution, or with K = 1 (exact correction) or bias_correction=False."""
    rng = np.random.default_rng(0)
    u = rng.uniform(-1, 1, 2000)
    x = np.column_stack([u, u ** 2 + 0.05 * rng.standard_normal(2000)])
    r = fastmi.mutual_info(x, u + 0.3 * rng.random(2000), rng=0)
    assert r.n_components > 1 and "bias_correction" not in r.diagnostics
    est = fastmi.GMMMI(rng=0).fit(*_parabola(np.random.default_rng(1000), 1000))
    diag = {}
    assert est._null_shift(diag, 1.0, 2) == (0.0, 0.0) and diag["bias_correction"]["applied"] is False
    est.bias_correction = False
    assert est._null_shift({}, 0.0, 2) == (0.0, 0.0)


def test_copula_fit_is_invariant_under_monotone_maps():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(2000)
    y = 0.6 * x + 0.8 * rng.standard_normal(2000)
    a = fastmi.mutual_info(x, y, rng=0)
    b = fastmi.mutual_info(np.exp(x), y ** 3, rng=0)
    assert a.diagnostics["fit"]["space"] == "copula"
    assert a.mi == b.mi and a.std == b.std


def test_non_gaussian_copula_falls_back_to_the_data_space():
    x, y = GaussianMixture([0.5, 0.5], [[0, 0], [0, 0]], [[[1, 0.9], [0.9, 1]], [[1, -0.9], [-0.9, 1]]],
                           dx=1).sample(3000, rng=0)
    r = fastmi.mutual_info(x, y, rng=0)
    assert r.diagnostics["fit"]["space"] == "data"
    assert r.diagnostics["fit"]["attempts"][0]["outcome"].startswith("more than one component")
    # a fixed K is about the data's space; copula=False never leaves it
    assert fastmi.mutual_info(x, y, rng=0, n_components=2).diagnostics["fit"]["space"] == "data"
    assert fastmi.mutual_info(x, y, rng=0, copula=False).diagnostics["fit"]["attempts"] == []


def test_entropy_and_kl_of_a_copula_fit_come_from_the_data_space():
    """Entropies are not copula-invariant: a copula fit answers from a data-space twin."""
    rng = np.random.default_rng(1)
    x = 2.0 * rng.standard_normal(4000)
    y = 0.5 * x + rng.standard_normal(4000)
    est = fastmi.GMMMI(rng=0, n_bootstrap=10).fit(x, y)
    est.estimate()
    assert est.space_ == "copula"
    h = est.entropy()
    assert abs(h["x"].mi - 0.5 * math.log(2 * math.pi * math.e * 4.0)) < 3 * h["x"].std + 0.01
    assert abs(h["y"].mi - 0.5 * math.log(2 * math.pi * math.e * 2.0)) < 3 * h["y"].std + 0.01
    raw = fastmi.GMMMI(rng=0, n_bootstrap=10, copula=False, check_fit=False).fit(x, y)
    raw.estimate()
    assert h["x"].mi == raw.entropy()["x"].mi
    assert est.kl_divergence().mi == raw.kl_divergence().mi


@pytest.mark.parametrize("case", [("x_shape", 3), ("x_shape", 17), ("thin_band", 0), ("thin_band", 7)])
def test_retry_repairs_early_stops(case):
    """Seeds on which the search stopped early (the X shape at K = 1, the band at K = 7-10): the
    fit check fires, the harder search repairs the fit, and the result is neither flagged
    nor off by more than 3 std."""
    name, seed = case
    cov = lambda r: [[1.0, r], [r, 1.0]]  # noqa: E731
    dist = (GaussianMixture([0.5, 0.5], [[0, 0], [0, 0]], [cov(0.9), cov(-0.9)], dx=1) if name == "x_shape"
            else get_distribution("uniform_noise:a=0.2"))
    x, y = dist.sample(5000, rng=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastmi.MisfitWarning)
        r = fastmi.mutual_info(x, y, rng=seed)
    assert not r.diagnostics["misfit"]
    assert abs(r.mi - dist.mi) < 3 * r.std
    failed = [a for a in r.diagnostics["fit"]["attempts"] if a["outcome"] == "failed the fit check"]
    assert failed and r.diagnostics["fit"]["stage"] == len(r.diagnostics["fit"]["attempts"])
    # without retries the same call is flagged
    with pytest.warns(fastmi.MisfitWarning):
        flagged = fastmi.mutual_info(x, y, rng=seed, retry=False)
    assert flagged.diagnostics["misfit"]


def test_upstream_procedure_keeps_the_old_behaviour():
    est = fastmi.GMMMI.upstream()
    assert (est.copula, est.retry, est.bias_correction) == (False, False, False)


def test_categorical_conditional_runs_the_fit_check():
    rng = np.random.default_rng(51)
    labels = rng.choice([0, 2], size=800)
    x = rng.uniform(labels, labels + 1)
    z = rng.beta(2, 3, size=800)
    r = fastmi.conditional_mutual_info(x, labels, z, y_type="categorical", method="gmm", rng=0)
    check = r.diagnostics["misfit_check"]
    assert check["run"] and check["estimator"] == "ksg-ross-cmi"
    assert abs(r.mi - math.log(2)) < 3 * r.std or r.diagnostics["misfit"]


def test_categorical_conditional_ksg_terms_match_the_estimator():
    """The check's per-point terms average to the conditional Ross estimate itself."""
    from fastmi.gmm._misfit import ksg_terms

    rng = np.random.default_rng(0)
    z = rng.standard_normal((400, 1))
    codes = rng.integers(0, 3, 400)
    x = z + 0.5 * codes[:, None] + rng.standard_normal((400, 1))
    r = fastmi.conditional_mutual_info(x, codes, z, y_type="categorical", method="ksg", n_bootstrap=0,
                                       standardize=False)
    assert ksg_terms("categorical_cmi", (x, z, codes), 1).mean() == pytest.approx(r.mi, abs=1e-12)


@pytest.mark.parametrize("form", ["categorical", "continuous"])
def test_x_a_function_of_z_gives_zero(form):
    rng = np.random.default_rng(52)
    x = rng.normal(size=800)
    y = np.sign(x) if form == "categorical" else x + rng.normal(size=800)
    with pytest.warns(fastmi.DegenerateFitWarning, match="affine function of z"):
        r = fastmi.conditional_mutual_info(x, y, x, y_type=form, method="gmm")
    assert r.mi == 0.0 and r.std == 0.0 and r.quantity == "cmi"
    with pytest.warns(fastmi.DegenerateFitWarning):
        r2 = fastmi.conditional_mutual_info(x, y, np.column_stack([2 * x + 1, rng.normal(size=800)]), y_type=form,
                                            method="gmm")
    assert r2.mi == 0.0


def test_bad_copula_and_retry():
    x = np.random.default_rng(0).standard_normal((100, 2))
    with pytest.raises(ValueError, match="copula"):
        fastmi.GMMMI(copula="yes").fit(x[:, 0], x[:, 1])
    with pytest.raises(ValueError, match="retry"):
        fastmi.GMMMI(retry=2).fit(x[:, 0], x[:, 1])
    with pytest.raises(ValueError, match="bias_correction must be True, False or 'gaussian'"):
        fastmi.GMMMI(bias_correction="auto").fit(x[:, 0], x[:, 1])


def test_average_ranks_match_scipy():
    from scipy.stats import rankdata

    from fastmi._copula import average_ranks

    rng = np.random.default_rng(0)
    for _ in range(100):
        col = rng.integers(0, rng.integers(1, 40), rng.integers(1, 200)).astype(float)
        np.testing.assert_array_equal(average_ranks(col), rankdata(col))


def test_monotone_relation_leaves_copula_space():
    """y a strictly increasing function of x has identical normal scores: the data's space
    (where the columns are not collinear) is used, and copula=True alone says why it cannot."""
    x = np.random.default_rng(0).standard_normal(500)
    r = fastmi.mutual_info(x, np.exp(x) + x, rng=0, n_bootstrap=5)
    assert r.diagnostics["fit"]["space"] == "data"
    assert r.diagnostics["fit"]["attempts"][0]["outcome"] == "columns linearly dependent in copula space"
    with pytest.raises(ValueError, match="linearly dependent"):
        fastmi.mutual_info(x, np.exp(x), rng=0, copula=True)
