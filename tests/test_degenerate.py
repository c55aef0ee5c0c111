"""Degenerate but legal data, over every registered MI method: a documented, sensible
result or a warning, never a silent NaN.

What each method does with perfectly dependent variables is documented per method in
``PERFECT`` (and in the estimators' docstrings); everything else must give a finite estimate
whose error bar is either finite or explicitly absent (``std`` NaN with
``diagnostics['resampling']['scheme'] == 'none'`` and a ``why``).
"""
import math
import warnings

import numpy as np
import pytest
from scipy.special import digamma

import fastmi
from fastmi import _registry

METHODS = [m for m in _registry.names("mi") if _registry.get(m).available]  # the torch extra may be missing
FAST = {"gmm": {"n_bootstrap": 10, "mc_samples": 2000, "n_init": 1, "max_components": 3}}
CONTINUOUS = [m for m in METHODS if _registry.get(m).data != "discrete"]


def run(x, y, method, **kw):
    """The estimate, and the warnings raised on the way (all recorded)."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = fastmi.mutual_info(x, y, method=method, rng=0, **{**FAST.get(method, {}), **kw})
    return r, [str(m.message) for m in w], [m.category for m in w]


def assert_sensible(r):
    """A finite estimate; an error bar that is finite or declared absent."""
    assert math.isfinite(r.mi), r
    if not math.isfinite(r.std):
        res = r.diagnostics["resampling"]
        assert res["scheme"] == "none" and res.get("why"), res
    assert np.isfinite(r.samples).all()


@pytest.fixture(scope="module")
def data():
    g = np.random.default_rng(11)
    x = g.standard_normal(400)
    return {"x": x, "y_indep": g.standard_normal(400), "y_dep": 0.6 * x + 0.8 * g.standard_normal(400)}


# ------------------------------------------------------------------ constant / near-constant
@pytest.mark.parametrize("method", CONTINUOUS)
def test_constant_column_is_a_clear_error(method, data):
    x = np.c_[data["x"], np.full(400, 3.0)]
    with pytest.raises(ValueError, match=r"x has constant column\(s\) \[1\]"):
        fastmi.mutual_info(x, data["y_indep"], method=method, **FAST.get(method, {}))


@pytest.mark.parametrize("method", METHODS)
def test_near_constant_column(method, data):
    """A column that varies by 1e-12 around 1 is legal: standardisation rescales it."""
    x = 1.0 + 1e-12 * data["x"]
    r, msgs, _ = run(x, data["y_indep"], method)
    assert_sensible(r)
    if method == "discrete":  # every value distinct: said so
        assert any("occurs once" in m for m in msgs)
    else:
        assert abs(r.mi) <= 3 * r.std + 1e-3


# ------------------------------------------------------------------ duplicates and ties
@pytest.mark.parametrize("method", METHODS)
def test_duplicated_rows(method, data):
    """Every row repeated 10 times: KSG says that it sees ties; the others give finite values."""
    x, y = np.repeat(data["x"][:40], 10), np.repeat(data["y_dep"][:40], 10)
    r, msgs, _ = run(x, y, method)
    assert_sensible(r)
    if method in ("ksg", "ksg2"):
        assert any("tied points" in m for m in msgs)


@pytest.mark.parametrize("method", METHODS)
def test_heavy_ties(method, data):
    x, y = np.round(data["x"]), np.round(data["y_dep"])  # a handful of values each
    r, msgs, _ = run(x, y, method)
    assert_sensible(r)
    if method in ("ksg", "ksg2"):
        assert any("tied points" in m and "method='mixed'" in m for m in msgs)
    if method in ("mixed", "discrete"):  # the estimators meant for it are near the plug-in truth
        ref = fastmi.mutual_info(x, y, method="discrete", miller_madow=False, n_bootstrap=0).mi
        assert abs(r.mi - ref) < 0.1


# ------------------------------------------------------------------ perfect dependence
def _perfect_ksg(r, msgs, n):
    # the documented bound of algorithm 1, attained
    assert r.mi == pytest.approx(digamma(n) - digamma(3), abs=1e-12)


def _perfect_large(r, msgs, n):
    # ksg2 / mixed: finite, far above any realistic MI (the scale is log n)
    assert_sensible(r)
    assert r.mi > 0.7 * math.log(n)


def _perfect_discrete(r, msgs, n):
    # H(x) = log n when every symbol is unique (+ the Miller-Madow term), with the warning that says so
    assert r.mi == pytest.approx(math.log(n) + (n - 1) / (2 * n), rel=1e-9)
    assert any("occurs once" in m for m in msgs)


def _perfect_gaussian(r, msgs, n):
    assert r.mi == math.inf
    assert any("infinite" in m for m in msgs)


def _perfect_neural(r, msgs, n):
    # the neural bounds (fastmi.neural): finite and well above the MI of the partly dependent pair
    # (0.22 nat) -- above 1 nat for InfoNCE, MINE and CLUB; NWJ, whose e^(f - 1) term makes it learn a sharp
    # dependence slowly from the default critic's bilinear start, reaches 0.59 nat in its 300 epochs
    # here; InfoNCE never above log(batch)
    assert_sensible(r)
    assert r.mi > (0.5 if r.method == "nwj" else 1.0)
    if "cap" in r.diagnostics:
        assert r.mi <= r.diagnostics["cap"] + 1e-9


PERFECT = {
    # GMM: a mixture has no density on a line, so y = x is refused with a clear message
    "gmm": r"linearly dependent",
    "ksg": _perfect_ksg,
    "ksg2": _perfect_large,
    "mixed": _perfect_large,
    "discrete": _perfect_discrete,
    "gaussian": _perfect_gaussian,
    "gcmi": _perfect_gaussian,
    **{m: _perfect_neural for m in METHODS if _registry.get(m).extra == "torch"},
}


@pytest.mark.parametrize("method", METHODS)
def test_perfectly_dependent(method, data):
    assert method in PERFECT, f"document what {method!r} does with y = x in PERFECT"
    x = data["x"]
    if isinstance(PERFECT[method], str):
        with pytest.raises(ValueError, match=PERFECT[method]):
            fastmi.mutual_info(x, x.copy(), method=method, **FAST.get(method, {}))
        return
    r, msgs, _ = run(x, x.copy(), method)
    PERFECT[method](r, msgs, x.size)


# ------------------------------------------------------------------ independence
@pytest.mark.parametrize("method", METHODS)
def test_independent_within_error_bar(method, data):
    x, y = data["x"], data["y_indep"]
    if method == "discrete":
        g = np.random.default_rng(3)
        x, y = g.integers(0, 4, 400), g.integers(0, 4, 400)
    r, _, _ = run(x, y, method)
    assert math.isfinite(r.std) and r.std > 0
    assert abs(r.mi) <= 3 * r.std, (r.mi, r.std)


# ------------------------------------------------------------------ extreme scales
@pytest.mark.parametrize("scale", [1e150, 1e-150])
@pytest.mark.parametrize("method", METHODS)
def test_extreme_scales(method, scale, data):
    """Rescaling both variables by 1e+-150 leaves the estimate as it was (every method
    standardises, or uses correlations, or symbols)."""
    x, y = data["x"], data["y_dep"]
    base, _, _ = run(x, y, method)
    r, _, _ = run(x * scale, y * scale, method)
    assert_sensible(r)
    tol = 2e-2 if method == "gmm" else 1e-6  # GMM: EM from a rescaled start, same seed
    assert r.mi == pytest.approx(base.mi, abs=tol)


def test_overflow_when_standardised_is_clear():
    """Values near the float64 limit beside values near 1 cannot be standardised without losing
    the small ones (they fall below the normal float64 range): a clear error, not NaN."""
    x = np.r_[1.7e308, 1.7e308, -1e308, np.linspace(0, 1, 20)]
    with pytest.raises(ValueError, match=r"x spans too many orders of magnitude"):
        fastmi.mutual_info(x, np.arange(x.size, dtype=float), method="ksg")


# ------------------------------------------------------------------ integers to continuous estimators
@pytest.mark.parametrize("method", CONTINUOUS)
def test_integer_data(method):
    g = np.random.default_rng(5)
    x = g.integers(0, 5, 300)
    y = x + g.integers(0, 2, 300)
    r, msgs, _ = run(x, y, method)
    assert_sensible(r)
    if method in ("ksg", "ksg2"):
        assert any("tied points" in m for m in msgs)


# ------------------------------------------------------------------ tiny N
TOO_FEW = r"(must be smaller than the number of samples|too few|needs more samples|linearly dependent)"


@pytest.mark.parametrize("n", [2, 5, 10])
@pytest.mark.parametrize("method", METHODS)
def test_tiny_n(method, n, data):
    """N = 2, 5, 10: a clear 'too few' error or a finite estimate with a finite or
    declared-absent error bar."""
    x, y = data["x"][:n], data["y_dep"][:n]
    if method == "discrete":
        x, y = (x > 0).astype(int), (y > 0).astype(int)
        x[:2], y[:2] = [0, 1], [0, 1]  # two symbols each
    try:
        r, _, _ = run(x, y, method)
    except ValueError as exc:
        assert __import__("re").search(TOO_FEW, str(exc)), exc
        return
    assert_sensible(r)


@pytest.mark.parametrize("method", _registry.names("entropy"))
@pytest.mark.parametrize("scale", [1e150, 1e-150])
def test_entropy_extreme_scale(method, scale, data):
    """H(aX) = H(X) + log|a|: finite and shifted exactly (up to rounding)."""
    x = data["x"]
    h = fastmi.entropy(x, method=method, n_bootstrap=0).mi
    hs = fastmi.entropy(x * scale, method=method, n_bootstrap=0).mi
    assert math.isfinite(hs)
    assert hs == pytest.approx(h + math.log(scale), abs=1e-6)
