"""Property-based tests (hypothesis): invariances of the estimators, finiteness on valid input,
and the KSG counts against the brute-force references of ``test_ksg_kernels`` on data with ties.

Each property has a bounded budget (``max_examples``) so the file runs in well under a minute;
``pytest tests/test_properties.py --hypothesis-show-statistics`` prints the examples run.

What holds exactly and what only within noise:

* KSG (1 and 2), mixed, discrete and Gaussian are symmetric in x and y up to the order of a
  floating-point sum (1e-12).
* KSG with ``standardize=True`` is invariant under ``x -> a x + b``: exactly for a power-of-two
  ``a`` and ``b = 0`` (standardisation then gives the same bits), and to rounding otherwise.
* Permuting rows leaves the KSG-1 and mixed point estimates exactly unchanged (the digamma
  averages are sums over a histogram of counts, independent of order); KSG-2 breaks ties in
  the joint distance by row index, so it is exact only without ties.
* GMM-MI draws CV folds, bootstrap replicates and MC samples from its seed, so swapping x and
  y, rescaling or permuting rows changes which random numbers meet which rows. Standardising
  is internal, so an affine map of either variable changes only rounding: with the same seed
  the estimate agrees to 1e-6. For swaps and row permutations what holds is agreement within
  the error bars: ``|a - b| <= 3 sqrt(std_a^2 + std_b^2)``.
"""
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fastmi
from fastmi.knn import _ksg, _mixed
from fastmi.knn import ksg_mutual_info

from test_ksg_kernels import ref_cmi, ref_ksg, ref_mixed

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
GMM_FAST = {"n_bootstrap": 8, "mc_samples": 2000, "n_init": 1, "max_components": 2}


@st.composite
def paired(draw, min_n=8, max_n=80, ties=None, max_dim=2):
    """(x, y): n rows, 1..max_dim columns each, y dependent on x to a drawn degree; with ties,
    values are rounded to a coarse grid and some rows duplicated."""
    n = draw(st.integers(min_n, max_n))
    dx, dy = draw(st.integers(1, max_dim)), draw(st.integers(1, max_dim))
    seed = draw(st.integers(0, 2**32 - 1))
    rho = draw(st.floats(0.0, 0.95))
    ties = draw(st.booleans()) if ties is None else ties
    g = np.random.default_rng(seed)
    x = g.standard_normal((n, dx))
    y = g.standard_normal((n, dy))
    y[:, 0] = rho * x[:, 0] + math.sqrt(1 - rho**2) * y[:, 0]
    if ties:
        step = draw(st.sampled_from([0.25, 0.5, 1.0]))
        x, y = np.round(x / step) * step, np.round(y / step) * step
        dup = g.choice(n, n // 4, replace=False)
        src = g.choice(n, n // 4)
        x[dup], y[dup] = x[src], y[src]
    return x, y


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def valid(fn, *args, **kwargs):
    """``fn(...)``, or None when the drawn input is rejected as invalid (a ValueError that
    says why: constant columns, too few samples, ...)."""
    try:
        return quiet(fn, *args, **kwargs)
    except ValueError as exc:
        assert str(exc)
        return None


# ------------------------------------------------------------------ symmetry
@settings(max_examples=60, **SETTINGS)
@given(data=paired(), method=st.sampled_from(["ksg", "ksg2", "mixed", "gaussian"]), k=st.integers(1, 5))
def test_symmetric_in_x_and_y(data, method, k):
    x, y = data
    kw = {} if method == "gaussian" else {"k": k}
    a = valid(fastmi.mutual_info, x, y, method=method, n_bootstrap=0, **kw)
    assume(a is not None)
    b = quiet(fastmi.mutual_info, y, x, method=method, n_bootstrap=0, **kw)
    assert b.mi == pytest.approx(a.mi, abs=1e-12) or (a.mi == b.mi == math.inf)


@settings(max_examples=30, **SETTINGS)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 60), cx=st.integers(2, 5), cy=st.integers(2, 5))
def test_discrete_symmetric(seed, n, cx, cy):
    g = np.random.default_rng(seed)
    x, y = g.integers(0, cx, n), g.integers(0, cy, n)
    a = valid(fastmi.mutual_info, x, y, method="discrete", n_bootstrap=0)
    assume(a is not None)
    assert quiet(fastmi.mutual_info, y, x, method="discrete", n_bootstrap=0).mi == pytest.approx(a.mi, abs=1e-12)


@settings(max_examples=4, **SETTINGS)
@given(data=paired(min_n=150, max_n=200, ties=False, max_dim=1))
def test_gmm_symmetric_within_error_bars(data):
    x, y = data
    a = quiet(fastmi.mutual_info, x, y, method="gmm", rng=1, **GMM_FAST)
    b = quiet(fastmi.mutual_info, y, x, method="gmm", rng=1, **GMM_FAST)
    assert abs(a.mi - b.mi) <= 3 * math.hypot(a.std, b.std) + 1e-3


# ------------------------------------------------------------------ affine maps
@settings(max_examples=60, **SETTINGS)
@given(data=paired(), e=st.integers(-60, 60), sign=st.sampled_from([1.0, -1.0]), variant=st.sampled_from([1, 2]),
       k=st.integers(1, 5), which=st.sampled_from("xy"))
def test_ksg_exact_under_power_of_two_scaling(data, e, sign, variant, k, which):
    x, y = data
    a = valid(ksg_mutual_info, x, y, variant=variant, k=k, n_bootstrap=0)
    assume(a is not None)
    s = sign * 2.0**e
    x2, y2 = (x * s, y) if which == "x" else (x, y * s)
    assert quiet(ksg_mutual_info, x2, y2, variant=variant, k=k, n_bootstrap=0).mi == a.mi


@settings(max_examples=60, **SETTINGS)
@given(data=paired(ties=False), scale=st.floats(1e-3, 1e3), shift=st.floats(-1e3, 1e3),
       variant=st.sampled_from([1, 2]), k=st.integers(1, 5))
def test_ksg_affine_to_rounding(data, scale, shift, variant, k):
    x, y = data
    a = valid(ksg_mutual_info, x, y, variant=variant, k=k, n_bootstrap=0)
    assume(a is not None)
    b = quiet(ksg_mutual_info, scale * x + shift, y, variant=variant, k=k, n_bootstrap=0)
    assert b.mi == pytest.approx(a.mi, abs=1e-9)


@settings(max_examples=5, **SETTINGS)
@given(data=paired(min_n=150, max_n=200, ties=False, max_dim=1), scale=st.floats(1e-3, 1e3),
       shift=st.floats(-1e3, 1e3))
def test_gmm_affine_same_seed(data, scale, shift):
    x, y = data
    a = quiet(fastmi.mutual_info, x, y, method="gmm", rng=2, **GMM_FAST)
    b = quiet(fastmi.mutual_info, x, scale * y + shift, method="gmm", rng=2, **GMM_FAST)
    assert b.mi == pytest.approx(a.mi, abs=1e-6)


# ------------------------------------------------------------------ row permutations
@settings(max_examples=60, **SETTINGS)
@given(data=paired(), perm_seed=st.integers(0, 2**32 - 1), method=st.sampled_from(["ksg", "ksg2", "mixed"]),
       k=st.integers(1, 5))
def test_knn_invariant_under_row_permutation(data, perm_seed, method, k):
    x, y = data
    if method == "ksg2":  # row order breaks ties in the joint distance
        assume(np.unique(np.hstack([x, y]), axis=0).shape[0] == x.shape[0] and np.unique(x).size == x.size
               and np.unique(y).size == y.size)
    a = valid(fastmi.mutual_info, x, y, method=method, k=k, n_bootstrap=0)
    assume(a is not None)
    p = np.random.default_rng(perm_seed).permutation(x.shape[0])
    assert quiet(fastmi.mutual_info, x[p], y[p], method=method, k=k, n_bootstrap=0).mi == a.mi


@settings(max_examples=4, **SETTINGS)
@given(data=paired(min_n=150, max_n=200, ties=False, max_dim=1), perm_seed=st.integers(0, 2**32 - 1))
def test_gmm_row_permutation_within_error_bars(data, perm_seed):
    x, y = data
    p = np.random.default_rng(perm_seed).permutation(x.shape[0])
    a = quiet(fastmi.mutual_info, x, y, method="gmm", rng=3, **GMM_FAST)
    b = quiet(fastmi.mutual_info, x[p], y[p], method="gmm", rng=3, **GMM_FAST)
    assert abs(a.mi - b.mi) <= 3 * math.hypot(a.std, b.std) + 1e-3


# ------------------------------------------------------------------ finite on valid input
@settings(max_examples=80, **SETTINGS)
@given(data=paired(min_n=2), method=st.sampled_from(["ksg", "ksg2", "mixed"]), k=st.integers(1, 6),
       boot=st.sampled_from([0, None, 5]))
def test_knn_finite_on_valid_input(data, method, k, boot):
    x, y = data
    r = valid(fastmi.mutual_info, x, y, method=method, k=k, n_bootstrap=boot, rng=0)
    assume(r is not None)
    assert math.isfinite(r.mi)
    assert np.isfinite(r.samples).all()
    assert math.isfinite(r.std) or r.diagnostics["resampling"]["scheme"] == "none"


@settings(max_examples=6, **SETTINGS)
@given(data=paired(min_n=30, max_n=120))
def test_gmm_finite_on_valid_input(data):
    x, y = data
    r = valid(fastmi.mutual_info, x, y, method="gmm", rng=0, **GMM_FAST)
    assume(r is not None)
    assert math.isfinite(r.mi) and math.isfinite(r.std)
    assert np.isfinite(r.samples).all()


# ------------------------------------------------------------------ counts vs brute force, with ties
@settings(max_examples=60, **SETTINGS)
@given(data=paired(min_n=4, max_n=60, ties=True, max_dim=3), k=st.integers(1, 6), variant=st.sampled_from([1, 2]),
       n_threads=st.sampled_from([1, 2]))
def test_ksg_counts_match_brute_force_with_ties(data, k, variant, n_threads):
    x, y = data
    assume(k < x.shape[0])
    got = _ksg._ksg_counts(x, y, k, variant, n_threads=n_threads)
    for g, r in zip(got, ref_ksg(x, y, k, variant)):
        np.testing.assert_array_equal(g, r)


@settings(max_examples=40, **SETTINGS)
@given(data=paired(min_n=4, max_n=60, ties=True), k=st.integers(1, 6))
def test_mixed_counts_match_brute_force_with_ties(data, k):
    x, y = data
    assume(k < x.shape[0])
    for g, r in zip(_mixed._mixed_counts(x, y, k, n_threads=1), ref_mixed(x, y, k)):
        np.testing.assert_array_equal(g, r)


@settings(max_examples=40, **SETTINGS)
@given(data=paired(min_n=4, max_n=50, ties=True), k=st.integers(1, 6), zseed=st.integers(0, 2**32 - 1))
def test_cmi_counts_match_brute_force_with_ties(data, k, zseed):
    x, y = data
    assume(k < x.shape[0])
    z = np.round(np.random.default_rng(zseed).standard_normal((x.shape[0], 1)) * 2) / 2
    for g, r in zip(_ksg._cmi_counts(x, y, z, k, n_threads=1), ref_cmi(x, y, z, k)):
        np.testing.assert_array_equal(g, r)
