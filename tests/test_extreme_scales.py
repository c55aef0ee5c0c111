"""Extreme scales (issue 22): MI is invariant under rescaling a variable, so every registered
method must give the answer it gives at scale 1 -- exactly for power-of-two factors, which every
standardisation now applies first -- or a clear ValueError naming the argument, from 1e-300 to
1e300 and beyond, with identical repeated calls."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import fastmi
from fastmi import _registry
from fastmi.knn import knn_entropy, knn_kl_divergence

N = 160
#: the kwargs that make each method quick; n_bootstrap=0 where the method has it
_QUICK = {"gmm": dict(n_bootstrap=0, mc_samples=1000, n_components=1, check_fit=False)}
_NEURAL = dict(max_epochs=2, hidden=8, batch_size=64)
POW2 = [2.0**-1000, 2.0**-500, 2.0**500, 2.0**1015]  # 9e-302 .. 4e305: exact factors
POW10 = [1e-300, 1e-200, 1e-150, 1e150, 1e200, 1e300]


def _kwargs(name):
    m = _registry._METHODS[name]
    params = m.parameters()
    kw = dict(_QUICK.get(name, _NEURAL if m.extra == "torch" else {}))
    if "n_bootstrap" in params:
        kw.setdefault("n_bootstrap", 0)
    if "rng" in params:
        kw["rng"] = 3
    return {k: v for k, v in kw.items() if k in params}


def _data():
    g = np.random.default_rng(12)
    x = g.standard_normal((N, 1))
    y = 0.8 * x + 0.6 * g.standard_normal((N, 1))
    return x, y


def _mi(name, x, y):
    m = _registry._METHODS[name]
    if not m.available:
        pytest.skip(f"{name} needs {m.extra}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. the discrete method's "every symbol occurs once"
        # but no overflow/underflow/divide warning from NumPy
        warnings.filterwarnings("error", message=".*encountered in", category=RuntimeWarning)
        return fastmi.mutual_info(x, y, method=name, **_kwargs(name)).mi


@pytest.mark.parametrize("name", _registry.names("mi"))
def test_every_method_is_scale_invariant_or_refuses_clearly(name):
    x, y = _data()
    ref = _mi(name, x, y)
    assert math.isfinite(ref)
    ends = POW2[:1] + POW2[-1:] + POW10[:1] + POW10[-1:]
    slow = name == "gmm" or _registry._METHODS[name].extra == "torch"
    for which, scales in (("y", ends if slow else POW2 + POW10), ("x", ends[::3] if slow else ends)):
        for s in scales:
            xs, ys = (x, y * s) if which == "y" else (x * s, y)
            try:
                v = _mi(name, xs, ys)
            except ValueError as exc:
                assert which in str(exc), (name, which, s, str(exc))  # names the argument
                continue
            again = _mi(name, xs, ys)
            assert again == v or (math.isnan(v) and math.isnan(again)), (name, which, s, v, again)
            if s in POW2:
                assert v == ref, (name, which, s, v, ref)
            else:
                assert v == pytest.approx(ref, rel=1e-6, abs=1e-9), (name, which, s, v, ref)


def test_ksg_and_gmm_give_the_answer_rather_than_refusing():
    """The scale-first standardisation makes these no longer refuse (or return ~0) at 1e200."""
    x, y = _data()
    for name in ("gmm", "ksg", "gaussian"):
        ref = _mi(name, x, y)
        assert _mi(name, x, y * 1e200) == pytest.approx(ref, rel=1e-6)
        assert _mi(name, x * 1e-300, y) == pytest.approx(ref, rel=1e-6)


def test_near_the_float64_limit():
    """Data within a factor 4 of the float64 maximum: no LinAlgError, FloatingPointError, inf or
    NaN; jitter does not push values to inf; repeated calls agree."""
    x, y = _data()
    s = 2.0**1021 / np.max(np.abs(np.r_[x, y]))  # max |value| = 2**1021 = 4.5e307
    for name in ("gmm", "ksg", "gaussian"):
        assert _mi(name, x * s, y * s) == pytest.approx(_mi(name, x, y), rel=1e-6)
    for standardize in (False, True):
        kw = dict(method="ksg", standardize=standardize, jitter=True, rng=1, n_bootstrap=0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            a = fastmi.mutual_info(x * s, y * s, **kw).mi
            b = fastmi.mutual_info(x * s, y * s, **kw).mi
            c = fastmi.mutual_info(x * 2.0**-1000, y * 2.0**-1000, **kw).mi
        assert math.isfinite(a) and a == b
        if standardize:
            assert a == c  # jitter relative to the standardised data: scale-free
    big = np.r_[x[:, 0], 1.7e308]
    with pytest.raises(ValueError, match="y spans too many orders of magnitude"):
        fastmi.mutual_info(np.r_[y[:, 0], 0.0], big, method="ksg", n_bootstrap=0)
    with pytest.raises(ValueError, match="x spans too many orders of magnitude"):
        fastmi.mutual_info(big, np.r_[y[:, 0], 0.0], method="gmm", **_QUICK["gmm"])


@pytest.mark.parametrize("metric", ["max", "euclidean"])
def test_knn_entropy_and_kl_scale_as_they_must(metric):
    """H(s X) = H(X) + d log s and KL(sP || sQ) = KL(P || Q), for both metrics and jitter on or
    off; before, the Euclidean distances overflowed to inf at 1e200 and underflowed at 1e-200."""
    g = np.random.default_rng(4)
    p, q = g.standard_normal((300, 2)), 1.5 * g.standard_normal((300, 2)) + 0.5
    h = knn_entropy(p, metric=metric, rng=0, n_bootstrap=0).mi
    kl = knn_kl_divergence(p, q, metric=metric, rng=0, n_bootstrap=0).mi
    for s in (2.0**-700, 1e-200, 1e200, 2.0**700):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no false "tied points" warning
            hs = knn_entropy(p * s, metric=metric, rng=0, n_bootstrap=0).mi
            kls = knn_kl_divergence(p * s, q * s, metric=metric, rng=0, n_bootstrap=0).mi
        assert hs - 2 * math.log(s) == pytest.approx(h, abs=1e-9)
        assert kls == pytest.approx(kl, abs=1e-9)


@pytest.mark.parametrize("name", ["infonce", "club"])
def test_neural_near_the_float64_limit(name):
    """Before, standardisation overflowed and training raised FloatingPointError 'lower lr',
    which the learning rate had nothing to do with."""
    x, y = _data()
    s = 2.0**1021 / np.max(np.abs(np.r_[x, y]))
    assert _mi(name, x * s, y * s) == _mi(name, x, y)
