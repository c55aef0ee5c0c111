"""Numerical safety (log-sum-exp at +-1e300, singular fits), concurrency (threads give the
serial results; Numba's thread setting untouched, exceptions included) and visible failure
modes (fastmi warning classes and ``diagnostics['flags']``)."""
import warnings
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pytest

import fastmi
from fastmi.exceptions import ConvergenceWarning, DegenerateFitWarning, FitWarning
from fastmi.gmm import _xp
from fastmi.gmm._kernels import _em

GMM_FAST = {"n_bootstrap": 4, "mc_samples": 2000, "n_init": 1, "max_components": 2}


# ------------------------------------------------------------------ log-sum-exp
EXTREME = np.array([[1e300, 1e300 - 1.0, -1e300],
                    [-1e300, -1e300, -1e300],
                    [-np.inf, -np.inf, -np.inf],
                    [-np.inf, 0.0, -1e300],
                    [700.0, 710.0, -745.0]])


def _reference(rows):
    out = []
    for r in rows:
        m = np.max(r)
        out.append(-np.inf if m == -np.inf else m + np.log(np.sum(np.exp(r - m))))
    return np.array(out)


def test_xp_logsumexp_extreme_values():
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow of exp(-huge) to 0 is fine
        got = _xp.logsumexp(np, EXTREME, axis=1)
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(_reference(EXTREME)))
    np.testing.assert_allclose(got[np.isfinite(got)], _reference(EXTREME)[np.isfinite(got)], rtol=1e-15)
    assert got[2] == -np.inf


def test_kernel_block_logsumexp_extreme_values():
    lp = np.ascontiguousarray(EXTREME.T.copy())  # (K, m): components by rows
    K, m = lp.shape
    lse, vmax, ssum = np.empty(m), np.empty(m), np.empty(m)
    _em._block_logsumexp(lp, K, m, lse, vmax, ssum)
    ref = _reference(EXTREME)
    assert not np.isnan(lse).any()
    np.testing.assert_array_equal(np.isfinite(lse), np.isfinite(ref))
    np.testing.assert_allclose(lse[np.isfinite(ref)], ref[np.isfinite(ref)], rtol=1e-14)


# ------------------------------------------------------------------ singular fits
def test_fit_that_would_go_singular_fails_cleanly(rng):
    """Half the points on one spot and reg_covar=0: a component collapses onto it. The fit
    is refused with a clear message, never a NaN estimate."""
    x = np.r_[np.zeros(60), rng.standard_normal(60)]
    y = np.r_[np.zeros(60), rng.standard_normal(60)]
    with pytest.raises(ValueError, match=r"every EM fit on data failed \(singular covariances\)"):
        fastmi.GMMMI(n_components=2, reg_covar=0.0, n_bootstrap=4, mc_samples=1000, n_init=1, rng=0).fit(x, y)


def test_reg_covar_keeps_covariances_positive_definite(rng):
    x = np.r_[np.zeros(60), rng.standard_normal(60)]
    y = np.r_[np.zeros(60), rng.standard_normal(60)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        est = fastmi.GMMMI(n_components=2, reg_covar=1e-6, n_bootstrap=4, mc_samples=1000, n_init=1, rng=0).fit(x, y)
        r = est.estimate()
    assert np.isfinite(r.mi) and np.isfinite(r.samples).all()
    for c in np.atleast_3d(est.covariances_):
        assert np.linalg.eigvalsh(c).min() > 0


# ------------------------------------------------------------------ concurrency
def _jobs(rng):
    x = rng.standard_normal(600)
    y = 0.6 * x + 0.8 * rng.standard_normal(600)
    z = rng.standard_normal(600)
    lab = (x > 0).astype(int)
    return [
        lambda: fastmi.mutual_info(x, y, method="gmm", rng=1, **GMM_FAST),
        lambda: fastmi.mutual_info(x, y, method="ksg", rng=1, n_jobs=2),
        lambda: fastmi.mutual_info(x, y, method="ksg2", rng=1),
        lambda: fastmi.mutual_info(np.round(x), y, method="mixed", rng=1),
        lambda: fastmi.mutual_info(np.round(x), np.round(y), method="discrete", rng=1),
        lambda: fastmi.mutual_info(x, y, method="gaussian", rng=1),
        lambda: fastmi.mutual_info(x, lab, method="ksg", y_type="categorical", rng=1),
        lambda: fastmi.conditional_mutual_info(x, y, z, method="ksg", rng=1),
        lambda: fastmi.entropy(x, rng=1),
    ]


def test_threads_give_the_serial_results(rng):
    jobs = _jobs(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        serial = [(r.mi, r.std) for r in (j() for j in jobs)]
        with ThreadPoolExecutor(max_workers=6) as pool:
            futures = [pool.submit(j) for j in jobs * 3]
            concurrent = [(f.result().mi, f.result().std) for f in futures]
    assert concurrent == serial * 3


def test_numba_threads_restored_even_after_errors(rng, monkeypatch):
    before = numba.get_num_threads()
    x = rng.standard_normal(200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fastmi.mutual_info(x, x + rng.standard_normal(200), method="gmm", n_jobs=1, rng=0, **GMM_FAST)
        assert numba.get_num_threads() == before
        with pytest.raises(ValueError):
            fastmi.mutual_info(x, np.r_[x[:-1], np.nan], method="gmm", n_jobs=1)
        assert numba.get_num_threads() == before
        import fastmi.gmm._estimator as est_module

        def failing_search(*args, **kwargs):  # an error inside the fit, after the thread pool started
            raise ValueError("every EM fit failed (injected)")

        monkeypatch.setattr(est_module, "select_n_components", failing_search)
        with pytest.raises(ValueError, match="injected"):
            fastmi.GMMMI(n_components=2, n_init=1, n_jobs=2, rng=0).fit(x[:100], x[100:])
        assert numba.get_num_threads() == before


# ------------------------------------------------------------------ visible failure modes
def test_warning_classes_are_exported():
    assert issubclass(fastmi.ConvergenceWarning, fastmi.FitWarning)
    assert issubclass(fastmi.DegenerateFitWarning, fastmi.FitWarning)
    assert issubclass(fastmi.DegenerateFitWarning, RuntimeWarning)


def test_non_convergence_warns_and_is_flagged(rng):
    x = rng.standard_normal(300)
    y = np.sin(3 * x) + 0.2 * rng.standard_normal(300)
    # K fixed at 2: a one-component fit is closed form and always converges, and with one EM
    # step per fit the search may select K = 1 (the split search does here)
    with pytest.warns(ConvergenceWarning, match=r"did not converge"):
        r = fastmi.mutual_info(x, y, method="gmm", max_iter=1, tol=0.0, rng=0,
                               n_components=2, **{k: v for k, v in GMM_FAST.items() if k != "max_components"})
    flags = r.diagnostics["flags"]
    assert flags["search_not_converged"] > 0 and flags["refit_not_converged"]
    assert flags["bootstrap_not_converged"] > 0


def test_max_components_reached_warns_and_is_flagged(rng):
    x = rng.standard_normal(300)
    y = np.sin(3 * x) + 0.1 * rng.standard_normal(300)
    with pytest.warns(ConvergenceWarning, match=r"reached max_components=1"):
        r = fastmi.mutual_info(x, y, method="gmm", rng=0, **{**GMM_FAST, "max_components": 1})
    assert r.diagnostics["flags"]["max_components_reached"] is True


def test_suspicious_fit_warns_and_is_flagged(rng):
    """EM with several components that stops after one iteration from its initialisation (a
    huge tol) is suspicious."""
    x = rng.standard_normal(300)
    y = 0.5 * x + rng.standard_normal(300)
    with pytest.warns(DegenerateFitWarning, match=r"every EM fit with the selected K=2 on data stopped after at most two iterations"):
        r = fastmi.mutual_info(x, y, method="gmm", n_components=2, tol=1e6, rng=0,
                               **{k: v for k, v in GMM_FAST.items() if k != "max_components"})
    assert r.diagnostics["flags"]["search_suspicious"] > 0


@pytest.mark.parametrize("case", ["bic", "categorical_k1", "warm_bootstrap"])
def test_warm_started_and_closed_form_fits_are_not_suspicious(case, rng):
    """Refits warm-started from a converged fit (the full-data refit after AIC/BIC, every
    bootstrap replicate) and one-component fits (closed form, one iteration) legitimately stop
    within two iterations: no warning, no flag."""
    x = rng.standard_normal(2000)
    y = np.where(rng.random(2000) < 0.5, x, -x) + 0.3 * rng.standard_normal(2000)
    kw = {"rng": 0, "n_bootstrap": 20, "mc_samples": 5000}
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)
        if case == "bic":
            r = fastmi.mutual_info(x, y, metric="bic", max_components=4, **kw)
        elif case == "categorical_k1":
            r = fastmi.mutual_info(x, x > 0.5, y_type="categorical", n_components=1, **kw)
        else:
            r = fastmi.mutual_info(x, y, n_components=2, **kw)
    assert r.diagnostics["flags"]["search_suspicious"] == 0


def test_clean_fit_has_no_flags(rng):
    x = rng.standard_normal(400)
    y = 0.6 * x + 0.8 * rng.standard_normal(400)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitWarning)
        r = fastmi.mutual_info(x, y, method="gmm", rng=0, **{**GMM_FAST, "max_components": 4})
    f = r.diagnostics["flags"]
    assert not (f["max_components_reached"] or f["refit_failed"] or f["refit_not_converged"] or f["search_suspicious"])
    assert f["bootstrap_failed"] == 0
