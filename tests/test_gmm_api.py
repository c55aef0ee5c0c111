"""GMMMI / mutual_info: API behaviour, reproducibility, persistence and bad input."""
import json
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastmi
from fastmi import GMMMI, MIResult
from fastmi.exceptions import ConvergenceWarning

from _reference import gaussian_mi


def _gauss(rng, n, rho):
    x = rng.standard_normal(n)
    return x, rho * x + math.sqrt(1 - rho**2) * rng.standard_normal(n)


FAST = dict(n_bootstrap=8, mc_samples=20_000)


def test_result_fields_units_and_json(rng):
    x, y = _gauss(rng, 2000, 0.6)
    r = fastmi.mutual_info(x, y, rng=1, **FAST)
    assert isinstance(r, MIResult) and r.unit == "nat" and r.method == "gmm"
    assert r.samples.shape == (8,)
    assert r.mi == pytest.approx(r.samples.mean())
    assert r.diagnostics["bootstrap_std"] == pytest.approx(r.samples.std(ddof=1))
    assert r.std == pytest.approx(math.hypot(r.samples.std(ddof=1), r.diagnostics["mc_shared_error"],
                                             r.diagnostics["misfit_error"]))
    lo, hi = r.ci(0.9)
    assert lo <= np.median(r.samples) <= hi
    lo_n, hi_n = r.ci(0.95, method="normal")
    assert hi_n - lo_n == pytest.approx(2 * 1.959964 * r.std, rel=1e-5)
    rb = fastmi.mutual_info(x, y, rng=1, unit="bit", **FAST)
    assert rb.unit == "bit" and rb.mi == pytest.approx(r.mi / math.log(2), rel=1e-12)
    assert r.to("bit").mi == pytest.approx(rb.mi, rel=1e-12)
    d = json.loads(r.to_json())
    assert d["mi"] == pytest.approx(r.mi) and d["n_components"] == r.n_components
    diag = r.diagnostics
    assert diag["cv"]["selected"] == r.n_components
    assert {"k", "score", "score_per_init", "n_iter", "converged", "suspicious"} <= set(diag["cv"])
    assert len(diag["bootstrap"]["n_iter"]) == 8 and diag["bootstrap"]["failed"] == 0
    # one Gaussian component: the MC integral is replaced by the exact closed form
    assert r.n_components > 1 or all(se == 0 for se in diag["mc_stderr"])
    with pytest.raises(ValueError, match="level"):
        r.ci(1.5)


def test_same_rng_bit_identical_for_any_n_jobs(rng):
    x, y = _gauss(rng, 3000, 0.8)
    r1 = fastmi.mutual_info(x, y, rng=5, n_jobs=1, **FAST)
    r2 = fastmi.mutual_info(x, y, rng=5, n_jobs=2, **FAST)
    assert np.array_equal(r1.samples, r2.samples)
    assert r1.diagnostics["cv"]["score"] == r2.diagnostics["cv"]["score"]
    r3 = fastmi.mutual_info(x, y, rng=6, n_jobs=2, **FAST)
    assert not np.array_equal(r1.samples, r3.samples)


def test_estimate_is_rerunnable_without_refit(rng):
    x, y = _gauss(rng, 2000, 0.5)
    est = GMMMI(rng=3, **FAST).fit(x, y)
    a, b = est.estimate(), est.estimate()
    assert np.array_equal(a.samples, b.samples)
    est.n_bootstrap = 0
    c = est.estimate()
    assert c.samples.size == 0 and math.isnan(c.std) and np.isfinite(c.mi)


@pytest.mark.parametrize("init", ["kmeans++", "random_resp", "kmeans", "random", "minmax"])
def test_every_init_gives_the_right_answer(rng, init):
    x, y = _gauss(rng, 4000, 0.7)
    r = fastmi.mutual_info(x, y, init=init, rng=2, **FAST)
    assert abs(r.mi - gaussian_mi([[1, 0.7], [0.7, 1]], 1)) < 0.05


@pytest.mark.parametrize("metric", ["aic", "bic"])
def test_information_criteria_select_components(rng, metric):
    # two well-separated blobs with different correlations: K = 2 is the right model
    n = 3000
    a = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], n // 2)
    b = rng.multivariate_normal([6, -6], [[1, -0.5], [-0.5, 1]], n // 2)
    X = np.vstack([a, b])
    r = fastmi.mutual_info(X[:, 0], X[:, 1], metric=metric, rng=0, **FAST)
    assert r.n_components >= 2 and r.diagnostics["cv"]["selection"] == metric


def test_fixed_components_skip_search(rng):
    x, y = _gauss(rng, 2000, 0.5)
    r = fastmi.mutual_info(x, y, n_components=3, rng=0, **FAST)
    assert r.n_components == 3 and r.diagnostics["cv"]["k"] == [3]


def test_search_reaching_max_components_warns(rng):
    x = rng.uniform(size=2000)
    y = np.sin(12 * x) + 0.05 * rng.standard_normal(2000)
    with pytest.warns(ConvergenceWarning, match="max_components=2"):
        GMMMI(max_components=2, rng=0, **FAST).fit(x, y)


def test_max_iter_warns(rng):
    x, y = _gauss(rng, 2000, 0.5)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        GMMMI(n_components=3, max_iter=2, tol=1e-12, rng=0, **FAST).fit_estimate(x, y)


def test_multivariate_and_pandas_inputs(rng):
    pd = pytest.importorskip("pandas")
    cov = np.array([[1, 0.3, 0.5, 0.1], [0.3, 1, 0.2, 0.4], [0.5, 0.2, 1, 0.3], [0.1, 0.4, 0.3, 1]])
    X = rng.multivariate_normal(np.zeros(4), cov, 3000)
    df = pd.DataFrame(X, columns=list("abcd"))
    r = fastmi.mutual_info(df[["a", "b"]], df[["c", "d"]], rng=0, **FAST)
    assert abs(r.mi - gaussian_mi(cov, 2)) < 0.05
    r_list = fastmi.mutual_info(X[:, :2].tolist(), X[:, 2:].tolist(), rng=0, **FAST)
    assert np.array_equal(r.samples, r_list.samples)


def test_entropy_and_kl_match_closed_form(rng):
    n = 5000
    x = 2.0 * rng.standard_normal(n) + 1.0
    y = 0.5 * x + rng.standard_normal(n)
    est = GMMMI(n_components=1, rng=0, n_bootstrap=10, mc_samples=50_000).fit(x, y)
    est.estimate()
    h = est.entropy()
    var_x, var_y = 4.0, 0.25 * 4.0 + 1.0
    for name, var in (("x", var_x), ("y", var_y)):
        true = 0.5 * math.log(2 * math.pi * math.e * var)
        assert abs(h[name].mi - true) < 4 * h[name].std + 0.01
    # KL(N(1, 4) || N(0.5, 2)) in closed form
    m1, v1, m2, v2 = 1.0, var_x, 0.5, var_y
    kl = 0.5 * (math.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1)
    fwd = est.kl_divergence()
    assert abs(fwd.mi - kl) < 4 * fwd.std + 0.01
    rev = est.kl_divergence("reverse")
    kl_rev = 0.5 * (math.log(v1 / v2) + (v2 + (m1 - m2) ** 2) / v1 - 1)
    assert abs(rev.mi - kl_rev) < 4 * rev.std + 0.01
    with pytest.raises(ValueError, match="equal dimension"):
        GMMMI(n_components=1, n_bootstrap=0).fit(np.c_[x, rng.standard_normal(n)], y).kl_divergence()


def test_save_load_roundtrip(rng, tmp_path):
    x, y = _gauss(rng, 2000, 0.6)
    est = GMMMI(rng=4, n_bootstrap=0, mc_samples=20_000).fit(x, 3 * y + 1)
    path = tmp_path / "model.npz"
    est.save(path)
    loaded = fastmi.load_model(path)
    assert loaded.n_components_ == est.n_components_
    assert_allclose(loaded.means_, est.means_)
    assert_allclose(loaded.covariances_, est.covariances_)
    assert loaded.estimate().mi == est.estimate().mi
    loaded.n_bootstrap = 5
    with pytest.raises(ValueError, match="without its data"):
        loaded.estimate()
    # the saved file is plain arrays: no pickles
    with np.load(path, allow_pickle=False) as f:
        header = json.loads(str(f["header"]))
    assert header["format"] == "fastmi.GMMMI" and header["version"] == 1
    header["version"] = 99
    bad = tmp_path / "bad.npz"
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["header"] = np.array(json.dumps(header))
    np.savez(bad, **arrays)
    with pytest.raises(ValueError, match="version 99"):
        fastmi.load_model(bad)


def test_categorical_save_load_and_labels(rng, tmp_path):
    n = 3000
    labels = rng.choice(np.array(["cat", "dog", "eel"]), size=n, p=[0.5, 0.3, 0.2])
    x = rng.standard_normal(n) + (labels == "dog") * 2.0 - (labels == "eel") * 2.0
    est = GMMMI(y_type="categorical", rng=0, n_bootstrap=0, mc_samples=20_000).fit(x, labels)
    assert set(est.n_components_) == {"cat", "dog", "eel"}
    assert_allclose(est.class_prior_, [np.mean(labels == c) for c in ("cat", "dog", "eel")])
    est.save(tmp_path / "c.npz")
    loaded = fastmi.load_model(tmp_path / "c.npz")
    assert loaded.estimate().mi == est.estimate().mi
    # relabelling the classes changes nothing
    codes = np.searchsorted(["cat", "dog", "eel"], labels) * 10 + 7
    other = GMMMI(y_type="categorical", rng=0, n_bootstrap=0, mc_samples=20_000).fit(x, codes)
    assert other.estimate().mi == est.estimate().mi


# ---------------------------------------------------------------- bad input
def _bad(match, x, y, **kw):
    with pytest.raises(ValueError, match=match):
        fastmi.mutual_info(x, y, **{**FAST, **kw})


def test_bad_input_messages(rng):
    x, y = _gauss(rng, 500, 0.5)
    _bad("same number of samples", x, y[:-1])
    xn = x.copy(); xn[3] = np.nan
    _bad("NaN or infinite", xn, y)
    xi = x.copy(); xi[0] = np.inf
    _bad("NaN or infinite", x, xi)
    _bad("too few", x[:5], y[:5])
    _bad(r"too few for 40 components", x[:100], y[:100], n_components=40)
    _bad("constant column", np.ones(500), y)
    _bad("constant column", np.c_[x, np.full(500, 2.0)], y)
    _bad("1-D or 2-D", rng.standard_normal((500, 2, 2)), y)
    _bad("numeric", np.array(["a"] * 500), y)
    _bad("n_bootstrap must be >= 0", x, y, n_bootstrap=-1)
    _bad("init must be one of", x, y, init="bogus")
    _bad("unit must be one of", x, y, unit="dits")
    _bad("n_folds must be >= 2", x, y, n_folds=1)
    _bad("n_components must be 'auto' or a positive int", x, y, n_components="many")
    _bad("empty", np.empty(0), np.empty(0))
    _bad(r"columns of \(x, y\) are linearly dependent", x, 2 * x + 1)
    _bad("linearly dependent", np.c_[x, x - y], y)


def test_bad_categorical_input(rng):
    x = rng.standard_normal(200)
    labels = np.array(["a"] * 100 + ["b"] * 99 + ["c"])
    with pytest.raises(ValueError, match=r"class\(es\) \['c'\] have fewer than 2 samples"):
        fastmi.mutual_info(x, labels, y_type="categorical", **FAST)
    with pytest.raises(ValueError, match="single class"):
        fastmi.mutual_info(x, np.zeros(200), y_type="categorical", **FAST)
    with pytest.raises(ValueError, match="1-D"):
        fastmi.mutual_info(x, np.zeros((200, 2)), y_type="categorical", **FAST)
    with pytest.raises(ValueError, match="class 'c' has 4 samples"):
        fastmi.mutual_info(x, np.array(["a"] * 100 + ["b"] * 96 + ["c"] * 4), y_type="categorical",
                           n_components=2, **FAST)


def test_not_fitted_and_unknown_method(rng):
    with pytest.raises(ValueError, match="not fitted"):
        GMMMI().estimate()
    with pytest.raises(ValueError, match="method must be one of"):
        fastmi.mutual_info([1.0, 2.0], [1.0, 2.0], method="magic")


def test_models_saved_before_the_layout_move_still_load():
    """Files written by fastmi 0.1 before the move into fastmi/gmm/ (tests/data/*_v1.npz)."""
    from pathlib import Path

    from _reference import gaussian_mi

    data = Path(__file__).parent / "data"
    est = fastmi.load_model(data / "gmm_model_v1.npz")
    assert est.n_components_ == 1 and est.dims_ == {"x": 1, "y": 1}
    r = est.estimate()  # one component: the control variate makes the integral exact
    assert r.mi == pytest.approx(gaussian_mi(est.covariances_[0], 1), rel=1e-9)
    cat = fastmi.load_model(data / "gmm_categorical_model_v1.npz")
    assert cat.classes_.tolist() == ["a", "b"] and cat.class_prior_.sum() == pytest.approx(1.0)
    rc = cat.estimate()
    assert 0.0 < rc.mi < math.log(2) and rc.diagnostics["resampling"]["scheme"] == "none"
