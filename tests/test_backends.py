"""The array-namespace bootstrap (NumPy here, CuPy on GPUs) against the Numba kernels."""
import importlib.util

import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastmi
from fastmi.gmm import _xp as _xp_gmm
from fastmi.gmm._backend import get_namespace
from fastmi.gmm._mixture import fit_em, initial_mixture
from fastmi.gmm._montecarlo import MCDraws, mc_log_ratio, mi_terms, stack

XP_BACKENDS = ["numpy"] + (["cupy"] if importlib.util.find_spec("cupy") else [])


@pytest.fixture(params=XP_BACKENDS)
def xp(request):
    try:
        return get_namespace(request.param)
    except ImportError as exc:
        pytest.skip(str(exc))


def _data(rng, n):
    X = rng.standard_normal((n, 2)) @ np.array([[1.0, 0.6], [0.0, 0.8]])
    X[: n // 3] += [2.5, -1.0]
    return np.ascontiguousarray(X)


def test_xp_em_matches_numba(rng, xp):
    X = _data(rng, 1500)
    starts = [initial_mixture(X, 3, "kmeans++", np.random.default_rng(s), 1e-15) for s in range(3)]
    W, M, C = (xp.asarray(a) for a in stack(starts))
    Xb = xp.asarray(np.repeat(X[None], 3, axis=0))
    W, M, C, it, conv, lb, ok = _xp_gmm.em_fit(xp, Xb, W, M, C, 1e-5, 1e-15, 10_000)
    for b, start in enumerate(starts):
        m, info = fit_em(X, start, 1e-5, 1e-15, 10_000)
        assert int(it[b]) == info.n_iter and bool(conv[b]) and bool(ok[b])
        assert_allclose(np.asarray(_xp_gmm._host(xp, M))[b], m.means, rtol=1e-8, atol=1e-10)
        assert_allclose(np.asarray(_xp_gmm._host(xp, C))[b], m.covariances, rtol=1e-8, atol=1e-10)
        assert_allclose(float(lb[b]), info.lower_bound, rtol=1e-10)


def test_xp_logsumexp_handles_infinities(xp):
    a = xp.asarray([[0.0, -np.inf], [-np.inf, -np.inf], [1000.0, 1000.0]])
    out = _xp_gmm._host(xp, _xp_gmm.logsumexp(xp, a, axis=1))
    assert out[0] == 0.0 and out[1] == -np.inf and out[2] == pytest.approx(1000.0 + np.log(2.0))


def test_xp_mc_matches_numba(rng, xp):
    X = _data(rng, 1000)
    mixes = [fit_em(X, initial_mixture(X, 3, "kmeans", np.random.default_rng(s), 1e-6), 1e-5, 1e-6, 300)[0]
             for s in range(2)]
    draws = MCDraws(4, 30_000, 2)
    terms = mi_terms(([0], [1]))
    ref, _ = mc_log_ratio(*stack(mixes), terms, draws)
    got, _ = _xp_gmm.mc_log_ratio(xp, *(xp.asarray(a) for a in stack(mixes)), terms, draws)
    assert_allclose(_xp_gmm._host(xp, got), ref, rtol=1e-8)


@pytest.mark.parametrize("y_type", ["continuous", "categorical"])
def test_backend_bootstrap_matches_numba(rng, y_type):
    n = 2000
    x = rng.standard_normal(n)
    if y_type == "categorical":
        y = (rng.random(n) < 0.3).astype(int)
        x = x + 1.5 * y
    else:
        y = 0.7 * x + rng.standard_normal(n)
    kw = dict(n_bootstrap=6, mc_samples=20_000, rng=3, y_type=y_type)
    ref = fastmi.mutual_info(x, y, **kw)
    for backend in XP_BACKENDS:
        got = fastmi.mutual_info(x, y, backend=backend, **kw)
        assert_allclose(got.samples, ref.samples, rtol=1e-8)
        assert got.diagnostics["bootstrap"]["n_iter"] == ref.diagnostics["bootstrap"]["n_iter"]


def test_cupy_missing_is_a_clear_error(monkeypatch, rng):
    monkeypatch.setenv("FASTMI_DISABLE_CUPY", "1")
    with pytest.raises(ImportError, match="FASTMI_DISABLE_CUPY"):
        fastmi.mutual_info(rng.standard_normal(100), rng.standard_normal(100), backend="cupy")
    if importlib.util.find_spec("cupy") is None:
        monkeypatch.delenv("FASTMI_DISABLE_CUPY")
        with pytest.raises(ImportError, match="gpu' extra"):
            fastmi.mutual_info(rng.standard_normal(100), rng.standard_normal(100), backend="cupy")


def test_lockstep_batch_bounds_memory_and_does_not_change_results(rng, monkeypatch):
    np_xp = get_namespace("numpy")
    # 8 n (3 K d + 2 K + d) bytes per replicate: 1e7 rows, K = 3, d = 2 need ~2 GB each
    assert _xp_gmm.lockstep_batch(np_xp, 10_000_000, 2, 3) == 1
    assert _xp_gmm.lockstep_batch(np_xp, 1000, 2, 3) == 64
    monkeypatch.setattr(_xp_gmm, "HOST_BUDGET", 3 * 8 * 1500 * (3 * 2 * 2 + 2 * 2 + 2))
    assert _xp_gmm.lockstep_batch(np_xp, 1500, 2, 2) == 3
    x = rng.standard_normal(1500)
    y = np.where(rng.random(1500) < 0.5, x, -x) + 0.3 * rng.standard_normal(1500)
    kw = dict(n_components=2, n_bootstrap=7, mc_samples=5000, rng=5, backend="numpy")
    small = fastmi.mutual_info(x, y, **kw)
    monkeypatch.setattr(_xp_gmm, "HOST_BUDGET", 1 << 30)
    big = fastmi.mutual_info(x, y, **kw)
    assert_allclose(small.samples, big.samples, rtol=1e-12)
