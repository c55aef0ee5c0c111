"""fastmi.bench: every distribution's true MI against an independent computation, and the runner.

The independent computations use plain NumPy/SciPy densities (``scipy.stats``), samplers
written here, and numerical integration (``scipy.integrate.quad``, grid sums); none of
them calls fastmi.bench's formulas. Monte-Carlo checks allow 5 standard errors, computed
from the same draws, with fixed seeds.
"""
import argparse
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate, stats

import fastmi
import fastmi.bench as fb

N_MC = 200_000


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Reference values go to a fresh cache directory, never the user's."""
    monkeypatch.setenv("FASTMI_CACHE_DIR", str(tmp_path / "cache"))
    fb.clear_memory_cache()
    yield
    fb.clear_memory_cache()


def assert_mc(mi, values, what, extra=0.0):
    """``mi`` agrees with the mean of ``values`` within 5 MC standard errors (+ ``extra``)."""
    values = np.asarray(values, dtype=float)
    est = values.mean()
    se = values.std(ddof=1) / math.sqrt(values.size)
    assert abs(mi - est) < 5 * se + extra, f"{what}: {mi:.6f} vs MC {est:.6f} ± {se:.2g}"


# ---------------------------------------------------------------------------------------------
# Gaussians
# ---------------------------------------------------------------------------------------------
def _mvn_log_ratio(cov, dx, n, seed):
    rng = np.random.default_rng(seed)
    p = rng.multivariate_normal(np.zeros(len(cov)), cov, n)
    joint = stats.multivariate_normal(cov=cov).logpdf(p)
    lx = stats.multivariate_normal(cov=cov[:dx, :dx]).logpdf(p[:, :dx])
    ly = stats.multivariate_normal(cov=cov[dx:, dx:]).logpdf(p[:, dx:])
    return joint - lx - ly


def test_gaussian_rho_against_mc():
    d = fb.Gaussian(0.6)
    assert d.mi_stderr == 0 and d.y_type == "continuous" and (d.dx, d.dy) == (1, 1)
    assert_mc(d.mi, _mvn_log_ratio(np.array([[1, .6], [.6, 1]]), 1, N_MC, 1), "gaussian rho=0.6")


def test_gaussian_general_covariance_against_mc_and_canonical_correlations():
    a = np.random.default_rng(7).standard_normal((5, 5))
    cov = a @ a.T + 0.5 * np.eye(5)
    d = fb.Gaussian(cov=cov, dx=2)
    assert (d.dx, d.dy) == (2, 3)
    assert_mc(d.mi, _mvn_log_ratio(cov, 2, N_MC, 2), "gaussian 2x3")
    # exact, by another route: MI = -1/2 sum ln(1 - r_i^2) over the canonical correlations r_i,
    # the singular values of Lx^-1 Sxy Ly^-T (L: Cholesky factors of the marginal covariances)
    lx, ly = np.linalg.cholesky(cov[:2, :2]), np.linalg.cholesky(cov[2:, 2:])
    r = np.linalg.svd(np.linalg.solve(lx, np.linalg.solve(ly, cov[2:, :2]).T), compute_uv=False)
    assert abs(d.mi - (-0.5 * np.sum(np.log1p(-r ** 2)))) < 1e-12


def test_gaussian_against_grid_quadrature():
    cov = [[1.0, 0.6], [0.6, 1.0]]
    truth, mass = _mixture_mi_by_grid([1.0], [[0.0, 0.0]], [cov])
    assert abs(mass - 1) < 1e-6 and abs(fb.Gaussian(0.6).mi - truth) < 1e-6


def test_gaussian_blocks_and_sampler():
    d = fb.Gaussian(0.5, dx=3, dy=2)
    x, y = d.sample(40_000, 3)
    assert x.shape == (40_000, 3) and y.shape == (40_000, 2)
    c = np.corrcoef(np.column_stack([x, y]).T)
    expected = np.eye(5)
    expected[0, 3] = expected[3, 0] = expected[1, 4] = expected[4, 1] = 0.5
    assert np.abs(c - expected).max() < 5 / math.sqrt(40_000) * 1.5
    # two independent correlated pairs, the third x coordinate is noise: MI = 2 * (-0.5 ln(1 - 0.25))
    assert_mc(d.mi, _mvn_log_ratio(d.cov, 3, 100_000, 4), "gaussian 3x2")
    x1, y1 = fb.Gaussian(0.5).sample(10, 0)
    assert x1.shape == (10,) and y1.shape == (10,)
    np.testing.assert_array_equal(fb.Gaussian(0.5).sample(10, 0)[0], x1)  # seeded


def test_gaussian_bad_input():
    with pytest.raises(ValueError, match="exactly one"):
        fb.Gaussian()
    with pytest.raises(ValueError, match="positive definite"):
        fb.Gaussian(1.0)
    with pytest.raises(ValueError, match="n must be"):
        fb.Gaussian(0.5).sample(0)


# ---------------------------------------------------------------------------------------------
# Student-t
# ---------------------------------------------------------------------------------------------
def _t_log_ratio(nu, scale, dx, n, seed):
    rng = np.random.default_rng(seed)
    dist = stats.multivariate_t(shape=scale, df=nu)
    p = dist.rvs(size=n, random_state=rng)
    lx = stats.multivariate_t(shape=scale[:dx, :dx], df=nu).logpdf(p[:, :dx])
    ly = stats.multivariate_t(shape=scale[dx:, dx:], df=nu).logpdf(p[:, dx:])
    return dist.logpdf(p) - lx - ly


@pytest.mark.parametrize("nu, rho", [(3.0, 0.6), (2.0, 0.0), (10.0, -0.3)])
def test_student_t_against_mc(nu, rho):
    d = fb.StudentT(nu, rho)
    assert d.mi > 0
    assert_mc(d.mi, _t_log_ratio(nu, np.array([[1, rho], [rho, 1]]), 1, N_MC, 11), f"t nu={nu} rho={rho}")


def test_multivariate_student_t_against_mc():
    a = np.random.default_rng(5).standard_normal((3, 3))
    scale = a @ a.T + np.eye(3)
    d = fb.StudentT(4.0, scale=scale, dx=2)
    assert (d.dx, d.dy) == (2, 1)
    assert_mc(d.mi, _t_log_ratio(4.0, scale, 2, N_MC, 12), "t 2x1")


def test_student_t_sampler_and_gaussian_limit():
    x, y = fb.StudentT(3.0, 0.6).sample(20_000, 0)
    # marginals are t_3 with unit scale
    assert stats.kstest(x, stats.t(df=3).cdf).pvalue > 1e-3
    assert stats.kstest(y, stats.t(df=3).cdf).pvalue > 1e-3
    assert abs(fb.StudentT(1e7, 0.6).mi - (-0.5 * math.log(1 - 0.36))) < 1e-5


# ---------------------------------------------------------------------------------------------
# gamma-exponential
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [1.0, 2.5, 0.5])
def test_gamma_exponential_against_mc(alpha):
    # y | x ~ Exp(rate x); marginally y is Lomax(alpha): p(y) = alpha / (1 + y)^(alpha + 1)
    rng = np.random.default_rng(21)
    x = rng.gamma(alpha, 1.0, N_MC)
    y = rng.exponential(1.0 / x)
    ratio = stats.expon(scale=1.0 / x).logpdf(y) - stats.lomax(alpha).logpdf(y)
    assert_mc(fb.GammaExponential(alpha).mi, ratio, f"gamma-exp alpha={alpha}")


def test_gamma_exponential_sampler():
    lx, ly = fb.GammaExponential(2.0).sample(20_000, 4)
    x, y = fb.GammaExponential(2.0, log=False).sample(20_000, 4)
    np.testing.assert_allclose(np.exp(lx), x, rtol=1e-12)
    np.testing.assert_allclose(np.exp(ly), y, rtol=1e-12)
    assert stats.kstest(x, stats.gamma(2.0).cdf).pvalue > 1e-3
    assert stats.kstest(y, stats.lomax(2.0).cdf).pvalue > 1e-3


# ---------------------------------------------------------------------------------------------
# additive uniform noise
# ---------------------------------------------------------------------------------------------
def _uniform_noise_mi_by_quadrature(a):
    # I = h(Y) - h(N) with p(y) = |[0, 1] ∩ [y - a, y]| / a, integrated numerically
    def p(y):
        return max(0.0, min(1.0, y) - max(0.0, y - a)) / a

    def integrand(y):
        v = p(y)
        return -v * math.log(v) if v > 0 else 0.0

    breaks = sorted({0.0, min(1.0, a), max(1.0, a), 1.0 + a})
    h = sum(integrate.quad(integrand, lo, hi, epsabs=1e-13, epsrel=1e-12)[0] for lo, hi in zip(breaks, breaks[1:]))
    return h - math.log(a)


@pytest.mark.parametrize("a", [0.05, 0.5, 1.0, 2.5, 10.0])
def test_additive_uniform_against_quadrature(a):
    assert abs(fb.AdditiveUniform(a).mi - _uniform_noise_mi_by_quadrature(a)) < 1e-9


def test_additive_uniform_sampler_and_dims():
    d = fb.AdditiveUniform(0.3, dim=2)
    x, y = d.sample(5000, 0)
    assert x.shape == (5000, 2)
    assert x.min() >= 0 and x.max() <= 1 and (y - x).min() >= 0 and (y - x).max() <= 0.3
    assert abs(d.mi - 2 * _uniform_noise_mi_by_quadrature(0.3)) < 1e-9


# ---------------------------------------------------------------------------------------------
# Gaussian mixtures (reference MC) against 2-D grid quadrature
# ---------------------------------------------------------------------------------------------
MIX = ([0.5, 0.3, 0.2],
       [[0.0, 0.0], [3.0, 2.0], [-2.0, 3.0]],
       [[[1.0, 0.7], [0.7, 1.0]], [[0.5, -0.2], [-0.2, 0.4]], [[0.3, 0.0], [0.0, 1.2]]])


def _grid(means, covs, m=1201, width=9.0):
    sd = np.sqrt(np.stack([np.diag(c) for c in covs]))
    lo = (np.asarray(means) - width * sd).min(axis=0)
    hi = (np.asarray(means) + width * sd).max(axis=0)
    gx, gy = np.linspace(lo[0], hi[0], m), np.linspace(lo[1], hi[1], m)
    return gx, gy, np.stack(np.meshgrid(gx, gy, indexing="ij"), axis=-1)


def _mixture_mi_by_grid(w, means, covs):
    gx, gy, pts = _grid(means, covs)
    p = sum(wk * stats.multivariate_normal(mk, ck).pdf(pts) for wk, mk, ck in zip(w, means, covs))
    dxa, dya = gx[1] - gx[0], gy[1] - gy[0]
    px = p.sum(axis=1) * dya          # marginals by summing the grid, not by formula
    py = p.sum(axis=0) * dxa
    ok = p > 1e-300
    ratio = np.zeros_like(p)
    ratio[ok] = np.log(p[ok] / np.outer(px, py)[ok])
    return float((p * ratio).sum() * dxa * dya), float(p.sum() * dxa * dya)


def test_mixture_reference_mc_against_grid_quadrature():
    d = fb.GaussianMixture(*MIX, n_mc=N_MC, mc_seed=3)
    truth, mass = _mixture_mi_by_grid(*MIX)
    assert abs(mass - 1) < 1e-6
    assert 0 < d.mi_stderr < 5e-3
    assert abs(d.mi - truth) < 5 * d.mi_stderr, (d.mi, truth, d.mi_stderr)
    x, y = d.sample(1000, 0)
    assert x.shape == y.shape == (1000,)


def test_mixture_with_one_component_is_the_gaussian():
    cov = [[2.0, 0.8], [0.8, 1.0]]
    d = fb.GaussianMixture([1.0], [[1.0, -1.0]], [cov], n_mc=N_MC)
    closed = -0.5 * math.log(1 - 0.8 ** 2 / 2.0)
    assert abs(d.mi - closed) < 5 * d.mi_stderr


def test_mixture_cache_on_disk_and_in_memory(tmp_path, monkeypatch):
    d = fb.GaussianMixture(*MIX, n_mc=20_000, mc_seed=5)
    value = d.mi
    files = list(fb.cache_dir().glob("gaussian_mixture-*.json"))
    assert fb.cache_dir() == tmp_path / "cache" / "bench" and len(files) == 1

    from fastmi.bench import _distributions

    def boom(*a, **k):
        raise AssertionError("recomputed despite the cache")

    monkeypatch.setattr(_distributions, "_mc_mean", boom)
    assert fb.GaussianMixture(*MIX, n_mc=20_000, mc_seed=5).mi == value           # memory
    fb.clear_memory_cache()
    again = fb.GaussianMixture(*MIX, n_mc=20_000, mc_seed=5)
    assert again.mi == value and again.mi_stderr == d.mi_stderr                      # disk
    with pytest.raises(AssertionError, match="recomputed"):
        fb.GaussianMixture(*MIX, n_mc=20_000, mc_seed=6).mi                         # new seed, new key
    with pytest.raises(AssertionError, match="recomputed"):
        fb.GaussianMixture(*MIX, n_mc=20_001, mc_seed=5).mi                         # new n_mc, new key


def test_cache_survives_unwritable_directory(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("FASTMI_CACHE_DIR", str(blocker))
    d = fb.GaussianMixture(*MIX, n_mc=10_000)
    assert np.isfinite(d.mi)


# ---------------------------------------------------------------------------------------------
# categorical-continuous
# ---------------------------------------------------------------------------------------------
def test_categorical_quadrature_against_mc_and_design_value():
    d = fb.ClassConditionalGaussian([0.9, 0.1], [-1.0, 1.0], [1.0, 1.0])
    assert d.y_type == "categorical" and d.mi_method == "quadrature"
    assert abs(d.mi - 0.14202) < 1e-5  # I(X; C), C ~ Bernoulli(0.1), X | C ~ N(-1 or +1, 1), by quadrature
    rng = np.random.default_rng(31)
    c = (rng.uniform(size=N_MC) < 0.1).astype(int)
    x = np.where(c == 1, 1.0, -1.0) + rng.standard_normal(N_MC)
    l0, l1 = stats.norm(-1, 1).pdf(x), stats.norm(1, 1).pdf(x)
    px = 0.9 * l0 + 0.1 * l1
    assert_mc(d.mi, np.log(np.where(c == 1, l1, l0) / px), "categorical 1-D")


def test_categorical_unequal_variances_three_classes_against_mc():
    pri, mu, var = [0.2, 0.5, 0.3], [0.0, 1.0, 3.0], [0.5, 2.0, 0.3]
    d = fb.ClassConditionalGaussian(pri, mu, var)
    rng = np.random.default_rng(32)
    c = rng.choice(3, size=N_MC, p=pri)
    x = np.asarray(mu)[c] + np.sqrt(var)[c] * rng.standard_normal(N_MC)
    dens = np.stack([stats.norm(m, math.sqrt(v)).pdf(x) for m, v in zip(mu, var)], axis=1)
    assert_mc(d.mi, np.log(dens[np.arange(N_MC), c] / (dens @ pri)), "categorical 3 classes")
    x, y = d.sample(3000, 0)
    assert y.dtype.kind == "i" and set(np.unique(y)) == {0, 1, 2} and x.shape == (3000,)


def test_categorical_2d_reference_mc_against_grid_quadrature():
    pri = np.array([0.5, 0.3, 0.2])
    means = np.array([[0.0, 0.0], [1.5, 0.0], [0.0, 2.0]])
    covs = np.array([np.eye(2), [[1.0, 0.3], [0.3, 0.5]], [[0.4, 0.0], [0.0, 1.0]]])
    d = fb.ClassConditionalGaussian(pri, means, covs, n_mc=N_MC, mc_seed=1)
    assert d.dx == 2 and d.mi_stderr > 0
    gx, gy, pts = _grid(means, covs)
    dens = np.stack([stats.multivariate_normal(m, c).pdf(pts) for m, c in zip(means, covs)])
    px = np.tensordot(pri, dens, axes=1)
    area = (gx[1] - gx[0]) * (gy[1] - gy[0])
    truth = 0.0
    for k in range(3):
        ok = dens[k] > 1e-300
        truth += pri[k] * float((dens[k][ok] * np.log(dens[k][ok] / px[ok])).sum() * area)
    assert abs(d.mi - truth) < 5 * d.mi_stderr, (d.mi, truth, d.mi_stderr)


# ---------------------------------------------------------------------------------------------
# monotone transforms
# ---------------------------------------------------------------------------------------------
def test_transformed_against_change_of_variables_mc():
    # (u, v) = (exp x, y^3) with (x, y) Gaussian rho=0.6: densities by change of variables
    d = fb.Transformed(fb.Gaussian(0.6), "exp", "cube")
    rng = np.random.default_rng(41)
    g = rng.multivariate_normal([0, 0], [[1, .6], [.6, 1]], N_MC)
    u, v = np.exp(g[:, 0]), g[:, 1] ** 3
    cb = np.cbrt(v)
    log_jac_v = -np.log(3.0) - 2.0 * np.log(np.abs(cb))
    joint = stats.multivariate_normal(cov=[[1, .6], [.6, 1]]).logpdf(np.column_stack([np.log(u), cb])) \
        - np.log(u) + log_jac_v
    lu = stats.lognorm(1.0).logpdf(u)
    lv = stats.norm.logpdf(cb) + log_jac_v
    assert_mc(d.mi, joint - lu - lv, "exp/cube gaussian")


def test_transformed_samples_are_maps_of_the_base_samples():
    base = fb.StudentT(3.0, 0.6, dx=2, dy=1)
    d = fb.Transformed(base, ["arcsinh", "cbrt"], np.exp)
    bx, by = base.sample(500, 9)
    x, y = d.sample(500, 9)
    np.testing.assert_allclose(x, np.column_stack([np.arcsinh(bx[:, 0]), np.cbrt(bx[:, 1])]))
    np.testing.assert_allclose(y, np.exp(by))
    assert d.mi == base.mi and d.dx == 2
    np.testing.assert_array_equal(np.argsort(x[:, 0]), np.argsort(bx[:, 0]))
    cat = fb.Transformed(fb.get_distribution("categorical"), "exp")
    assert cat.y_type == "categorical" and cat.mi == pytest.approx(0.14202, abs=1e-5)
    with pytest.raises(ValueError, match="categorical"):
        fb.Transformed(fb.get_distribution("categorical"), fy="exp")
    with pytest.raises(ValueError, match="NaN or inf"):
        fb.Transformed(fb.Gaussian(0.5), "log").sample(100, 0)
    with pytest.raises(ValueError, match="unknown transform"):
        fb.Transformed(fb.Gaussian(0.5), "tanh")


# ---------------------------------------------------------------------------------------------
# presets and specs
# ---------------------------------------------------------------------------------------------
def test_presets_build_and_sample():
    for name in fb.list_distributions():
        d = fb.get_distribution(name)
        if isinstance(d, fb.GaussianMixture) or (isinstance(d, fb.ClassConditionalGaussian) and d.dx > 1):
            d.n_mc = 20_000  # keep the test fast; the full reference is checked above at 2e5
        x, y = d.sample(50, 0)
        assert len(x) == len(y) == 50 and np.isfinite(d.mi) and d.name == name
        assert d.y_type in ("continuous", "categorical")


def test_spec_strings():
    d = fb.get_distribution("gaussian:rho=0.9,dx=2")
    assert d.dx == d.dy == 2 and abs(d.mi - (-math.log(1 - 0.81))) < 1e-12
    assert fb.get_distribution("uniform_noise:a=4").mi == pytest.approx(1 / 8)
    assert fb.get_distribution("gamma_exp:alpha=2,log=false").log is False
    for bad in ("nonsense", "gaussian:rho", "gaussian:foo=1", "gaussian:rho=abc"):
        with pytest.raises(ValueError):
            fb.get_distribution(bad)


# ---------------------------------------------------------------------------------------------
# the runner
# ---------------------------------------------------------------------------------------------
DISTS = ["gaussian", "uniform_noise", "categorical"]


def _runner_table(**kw):
    seen = {"const": [], "mean_x": []}

    def const(x, y):
        seen["const"].append((x.copy(), y.copy()))
        return 0.25

    def mean_x(x, y, *, y_type="continuous"):
        seen["mean_x"].append((x.copy(), y.copy(), y_type))
        return fastmi.MIResult(mi=float(np.mean(x)) / math.log(2.0), std=0.5, unit="bit", method="test")

    table = fb.run({"const": const, "mean_x": mean_x}, DISTS, n=[100, 300], seeds=[3, 4], warmup=False,
                   as_frame=False, **kw)
    return table, seen


def test_runner_table_values():
    table, seen = _runner_table()
    assert isinstance(table, list) and len(table) == 2 * 3 * 2 * 2
    assert all(tuple(r) == fb.COLUMNS for r in table)
    keys = {(r["estimator"], r["distribution"], r["n"], r["seed"]) for r in table}
    assert len(keys) == len(table)
    for r in table:
        d = fb.get_distribution(r["distribution"])
        x, _ = d.sample(r["n"], np.random.default_rng(r["seed"]))
        assert r["true_mi"] == d.mi and r["status"] == "ok" and r["seconds"] >= 0
        if r["estimator"] == "const":
            assert r["estimate"] == 0.25 and math.isnan(r["reported_std"])
        else:  # MIResult in bits converted to nats
            assert r["estimate"] == pytest.approx(np.mean(x), rel=1e-12, abs=1e-15)
            assert r["reported_std"] == pytest.approx(0.5 * math.log(2.0))
        assert r["error"] == pytest.approx(r["estimate"] - d.mi, abs=1e-15)
    # identical samples for every estimator, y_type passed to callables that accept it
    assert len(seen["const"]) == len(seen["mean_x"]) == 12
    for (x1, y1), (x2, y2, yt) in zip(seen["const"], seen["mean_x"]):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    assert [s[2] for s in seen["mean_x"]] == ["continuous"] * 8 + ["categorical"] * 4


def test_runner_dataframe_summary_and_files(tmp_path):
    pd = pytest.importorskip("pandas")
    table = fb.run({"zero": lambda x, y: 0.0, "half": lambda x, y: {"mi": 0.5, "std": 0.1, "seconds": 7.0}},
                   ["gaussian", "gamma_exp"], n=200, seeds=3, warmup=False)
    assert isinstance(table, pd.DataFrame) and list(table.columns) == list(fb.COLUMNS) and len(table) == 12
    assert sorted(table["seed"].unique()) == [0, 1, 2]
    half = table[table.estimator == "half"]
    assert (half.seconds == 7.0).all() and (half.reported_std == 0.1).all()
    s = fb.summarize(table)
    row = s[(s.estimator == "zero") & (s.distribution == "gaussian")].iloc[0]
    assert row.runs == 3 and row.rmse == pytest.approx(-0.5 * math.log(1 - 0.36))
    assert row.bias == pytest.approx(0.5 * math.log(1 - 0.36))
    md = fb.to_markdown(s)
    assert md.startswith("| estimator | distribution |") and md.count("\n") == 2 + 4
    fb.write_table(table, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv")
    assert list(back.columns) == list(fb.COLUMNS) and len(back) == 12


def test_runner_failures():
    def boom(x, y):
        raise RuntimeError("kaput")

    def picky(x, y, *, y_type="continuous"):
        if y_type == "categorical":
            raise fb.Unsupported("no labels")
        return 1.0

    with pytest.warns(RuntimeWarning, match="kaput"):
        table = fb.run({"boom": boom, "picky": picky}, ["gaussian", "categorical"], n=50, seeds=[0],
                       warmup=True, as_frame=False)
    status = {(r["estimator"], r["distribution"]): r["status"] for r in table}
    assert status[("boom", "gaussian")] == "error: RuntimeError: kaput"
    assert status[("picky", "categorical")] == "unsupported: no labels"
    assert status[("picky", "gaussian")] == "ok"
    assert all(math.isnan(r["estimate"]) for r in table if r["status"] != "ok")
    s = fb.summarize(table, as_frame=False)
    assert {r["runs"] for r in s if r["estimator"] == "boom"} == {0}
    with pytest.raises(RuntimeError, match="kaput"):
        fb.run({"boom": boom}, ["gaussian"], n=50, seeds=[0], errors="raise", warmup=False)
    with pytest.raises(ValueError):
        fb.run({}, ["gaussian"])
    with pytest.raises(ValueError):
        fb.run({"c": lambda x, y: 0.0}, ["gaussian"], n=[50], seeds=[-1])


def test_fastmi_estimators_run():
    ests = fb.fastmi_estimators(["gmm", "ksg", "gaussian"], n_jobs=1,
                                options={"gmm": {"n_bootstrap": 2, "mc_samples": 2000, "max_components": 3}})
    table = fb.run(ests, ["gaussian", "categorical"], n=400, seeds=[0], as_frame=False)
    got = {(r["estimator"], r["distribution"]): r for r in table}
    for key in [("fastmi-gmm", "gaussian"), ("fastmi-ksg", "gaussian"), ("fastmi-gaussian", "gaussian"),
                ("fastmi-gmm", "categorical"), ("fastmi-ksg", "categorical")]:
        assert got[key]["status"] == "ok" and abs(got[key]["error"]) < 0.25, got[key]
    assert got[("fastmi-gmm", "gaussian")]["reported_std"] > 0
    assert got[("fastmi-gaussian", "categorical")]["status"].startswith("unsupported")
    with pytest.raises(ValueError, match="unknown fastmi method"):
        fb.fastmi_estimators(["nope"])


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    table = fb.run({"zero": lambda x, y: 0.0, "one": lambda x, y: 1.0}, ["gaussian", "uniform_noise"], n=100,
                   seeds=2, warmup=False, as_frame=False)
    fig = fb.plot(table, title="t")
    fig.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert fig.axes[0].get_xscale() == "log"


# ---------------------------------------------------------------------------------------------
# command line and import hygiene
# ---------------------------------------------------------------------------------------------
def test_cli_main(tmp_path, capsys, monkeypatch):
    from fastmi.bench import _distributions

    # `--list` prints every preset's MI; a stand-in keeps the mixtures' reference MC out of this test
    monkeypatch.setattr(_distributions, "_mc_mean", lambda *a: {"mi": 0.5, "stderr": 0.001})
    out = tmp_path / "t.csv"
    rc = fb.main(["--estimators", "ksg", "gaussian", "--distributions", "gaussian", "uniform_noise:a=2",
                  "--n", "300", "--seeds", "0", "1", "--out", str(out), "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "| fastmi-ksg | gaussian | 300 | 2 |" in text
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(fb.COLUMNS) and len(lines) == 1 + 2 * 2 * 2
    assert fb.main(["--distributions", "nonsense", "--quiet"]) == 2
    assert fb.main(["--list"]) == 0
    assert "mixture3" in capsys.readouterr().out


def test_register_cli():
    parser = argparse.ArgumentParser(prog="fastmi")
    sub = parser.add_subparsers(dest="command")
    fb.register_cli(sub)
    args = parser.parse_args(["bench", "--n", "100", "200", "--seeds", "5", "--estimators", "ksg"])
    assert args.func is fb.run_cli and args.n == [100, 200] and args.seeds == [5] and args.estimators == ["ksg"]


def test_import_fastmi_does_not_import_bench():
    code = "import sys, fastmi; assert 'fastmi.bench' not in sys.modules, 'eager import'"
    subprocess.run([sys.executable, "-c", code], check=True)
