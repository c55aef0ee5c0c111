"""Error bars that cover misspecification: the resubstitution gap, the k-NN misfit check,
and their calibration on a seeded subset of the hard benchmark families."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import fastmi
from fastmi.bench import get_distribution
from fastmi.bench._calibration import summarize_calibration
from fastmi.gmm import _misfit
from fastmi.gmm._montecarlo import mi_terms

FAST = dict(n_bootstrap=20, mc_samples=20_000)


def _log_mixture(X, w, means, covs):
    return logsumexp([math.log(wk) + multivariate_normal(m, c).logpdf(X) for wk, m, c in zip(w, means, covs)], axis=0)


def _random_mixture(rng, K, d):
    w = rng.dirichlet(np.ones(K) * 3)
    means = rng.normal(size=(K, d))
    A = rng.normal(size=(K, d, d))
    covs = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(d)
    return w, means, covs


def test_resubstitution_mi_matches_a_scipy_reference(rng):
    w, means, covs = _random_mixture(rng, 3, 3)
    X = rng.normal(size=(400, 3))
    x, y = [0], [1, 2]

    def ratio(rows):
        joint = _log_mixture(rows, w, means, covs)
        lx = _log_mixture(rows[:, x], w, means[:, x], covs[:, x][:, :, x])
        ly = _log_mixture(rows[:, y], w, means[:, y], covs[:, y][:, :, y])
        return joint - lx - ly

    got = _misfit.resubstitution_mi(X, mi_terms([x, y]), w, means, covs)
    assert got == pytest.approx(ratio(X).mean(), rel=1e-10)


def test_categorical_resubstitution_matches_a_scipy_reference(rng):
    classes = [_random_mixture(rng, k, 2) for k in (2, 1, 3)]
    prior = np.array([0.5, 0.2, 0.3])
    codes = rng.choice(3, size=300, p=prior)
    X = rng.normal(size=(300, 2))
    log_c = np.stack([_log_mixture(X, *c) for c in classes])  # (3, n): log p(x | c)
    log_p = logsumexp(log_c + np.log(prior)[:, None], axis=0)
    ref = np.mean(log_c[codes, np.arange(300)] - log_p)
    comp_class = np.concatenate([np.full(len(c[0]), i) for i, c in enumerate(classes)])
    W, M, C = (np.concatenate([c[j] for c in classes]) for j in range(3))
    got = _misfit.resubstitution_categorical_mi(X, codes, W, prior, M, C, comp_class)
    assert got == pytest.approx(ref, rel=1e-10)


def test_one_gaussian_has_no_gap_and_the_papers_std_is_kept(rng):
    """For one Gaussian the log ratio averaged over the fitted rows is the fitted MI exactly, so
    the misfit term vanishes; uncertainty='bootstrap' reports the paper's std."""
    x = rng.normal(size=3000)
    y = 0.6 * x + 0.8 * rng.normal(size=3000)
    r = fastmi.mutual_info(x, y, n_components=1, rng=3, **FAST)
    paper = fastmi.mutual_info(x, y, n_components=1, rng=3, uncertainty="bootstrap", **FAST)
    assert abs(r.diagnostics["resubstitution_gap"]) < 1e-10
    assert r.mi == paper.mi and r.std == pytest.approx(paper.std, rel=1e-9)
    assert paper.diagnostics["misfit_error"] == 0.0
    assert paper.std == pytest.approx(math.hypot(paper.diagnostics["bootstrap_std"],
                                                 paper.diagnostics["mc_shared_error"]))


def test_misspecified_mixture_widens_the_error_bar_and_the_interval():
    """A heavy-tailed, skewed family (gamma-exponential on its raw scale) fitted by a mixture:
    the gap is large, the std covers it and ci() widens with it."""
    x, y = get_distribution("gamma_exp_raw").sample(3000, np.random.default_rng(0))
    r = fastmi.mutual_info(x, y, rng=0, **FAST)
    paper = fastmi.mutual_info(x, y, rng=0, uncertainty="bootstrap", **FAST)
    gap = r.diagnostics["misfit_error"]
    assert gap > 3 * r.diagnostics["bootstrap_std"]
    assert r.std == pytest.approx(math.hypot(r.diagnostics["bootstrap_std"], r.diagnostics["mc_shared_error"], gap))
    lo, hi = r.ci(0.95)
    plo, phi = paper.ci(0.95)
    assert hi - lo > 2 * 1.9 * gap and hi - lo > phi - plo


def test_a_mixture_that_misses_the_dependence_is_flagged():
    """The strongly spiralled Gaussian: a mixture underestimates its MI by far more than any
    error bar; the k-NN check sees it and flags the result."""
    d = get_distribution("spiral_strong_gaussian_2x2")
    x, y = d.sample(3000, np.random.default_rng(0))
    with pytest.warns(fastmi.MisfitWarning, match="goodness-of-fit"):
        r = fastmi.mutual_info(x, y, rng=0, **FAST)
    assert abs(r.mi - d.mi) > 5 * r.std  # the error bar alone would mislead
    check = r.diagnostics["misfit_check"]
    assert r.diagnostics["misfit"] and r.diagnostics["flags"]["misfit"] and check["run"]
    assert check["difference"] > check["threshold"] > 0
    assert "MISFIT" in repr(r)
    unchecked = fastmi.mutual_info(x, y, rng=0, check_fit=False, **FAST)
    assert not unchecked.diagnostics["misfit"] and "MISFIT" not in repr(unchecked)


@pytest.mark.parametrize("name", ["gaussian", "gaussian_strong", "mixture3"])
def test_well_specified_cases_are_not_flagged(name):
    d = get_distribution(name)
    for seed in range(3):
        x, y = d.sample(2000, np.random.default_rng(seed))
        with warnings.catch_warnings():
            warnings.simplefilter("error", fastmi.MisfitWarning)
            r = fastmi.mutual_info(x, y, rng=seed, **FAST)
        check = r.diagnostics["misfit_check"]
        assert not r.diagnostics["misfit"] and abs(check["difference"]) < check["threshold"], (seed, check)


def test_categorical_check_runs_and_passes_on_gaussian_classes(rng):
    labels = rng.integers(0, 3, 3000)
    x = rng.normal(size=3000) + labels
    r = fastmi.mutual_info(x, labels, y_type="categorical", rng=0, **FAST)
    check = r.diagnostics["misfit_check"]
    assert check["run"] and check["estimator"] == "ksg-ross" and not r.diagnostics["misfit"]
    assert abs(r.diagnostics["resubstitution_gap"]) < 0.01


def test_the_point_estimate_records_the_gap_without_an_error_bar(rng):
    x = rng.normal(size=2000)
    r = fastmi.mutual_info(x, x + rng.normal(size=2000), rng=0, n_bootstrap=0)
    assert math.isnan(r.std) and "resubstitution_gap" in r.diagnostics and not r.diagnostics["misfit"]


@pytest.mark.parametrize("kw, msg", [({"uncertainty": "honest"}, "uncertainty"),
                                     ({"check_fit": "yes"}, "check_fit must be True or False")])
def test_bad_options_are_refused(kw, msg):
    with pytest.raises(ValueError, match=msg):
        fastmi.GMMMI(**kw).fit(np.arange(50.0), np.arange(50.0) ** 0.5)


def test_coverage_on_a_seeded_subset_of_the_hard_suite():
    """Easy, misspecified and unrepresentable families, two seeds each at N = 2000: the
    misfit-aware std covers the truth within 2 std in the unflagged runs, where the paper's
    bootstrap std does not, and only the spiral is flagged."""
    names = ["gaussian", "mixture3", "gamma_exp_raw", "gaussian_exp_cube", "half_cube_gaussian_2x2",
             "spiral_strong_gaussian_2x2"]
    table = {"misfit": [], "bootstrap": []}
    for name in names:
        d = get_distribution(name)
        for seed in range(2):
            x, y = d.sample(2000, np.random.default_rng(seed))
            for mode in table:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r = fastmi.mutual_info(x, y, rng=0, uncertainty=mode, check_fit=mode == "misfit", **FAST)
                table[mode].append({"estimator": mode, "distribution": name, "seed": seed, "status": "ok",
                                    "error": r.mi - d.mi, "reported_std": r.std, "seconds": 0.0,
                                    "flagged": r.diagnostics["misfit"]})
    honest, paper = (summarize_calibration(table[m], as_frame=False)[0] for m in ("misfit", "bootstrap"))
    flagged = {r["distribution"] for r in table["misfit"] if r["flagged"]}
    assert flagged == {"spiral_strong_gaussian_2x2"}
    assert honest["coverage_2_unflagged"] >= 0.9, honest
    assert paper["coverage_2"] <= 0.75, paper


def test_matrix_marks_the_entries_that_fail_the_check(rng):
    """A near-deterministic wiggle (y = sin 6x + small noise) is beyond a two-component
    mixture: its entry is flagged in the matrix, the independent pairs are not."""
    x = rng.uniform(-2, 2, 2000)
    cols = np.column_stack([x, np.sin(6 * x) + 0.05 * rng.normal(size=2000), rng.normal(size=2000)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastmi.MisfitWarning)
        m = fastmi.mi_matrix(cols, rng=0, n_components=2, **FAST)
    flags = m.misfit
    assert flags.shape == (3, 3) and flags[0, 1] and not flags[0, 2] and not flags[1, 2]
    assert all(flags[i, j] == m.results[i, j].diagnostics["misfit"] for i, j in [(0, 1), (0, 2), (1, 2)])
    assert m.values[0, 1] < fastmi.mutual_info(cols[:, 0], cols[:, 1], method="ksg").mi - 3 * m.stds[0, 1]


def test_the_gap_is_the_full_fits_mi_minus_its_log_ratio_over_the_data(rng):
    """The recorded gap, recomputed with SciPy from the fitted parameters in the data's units
    (the Jacobians of the standardisation cancel in the log ratio)."""
    x = rng.standard_normal(1500)
    y = np.tanh(2 * x) + 0.3 * rng.standard_normal(1500)
    est = fastmi.GMMMI(rng=0, n_bootstrap=0).fit(x, y)
    r = est.estimate()
    w, m, c = est.weights_, est.means_, est.covariances_
    X = np.column_stack([x, y])
    resub = np.mean(_log_mixture(X, w, m, c) - _log_mixture(X[:, :1], w, m[:, :1], c[:, :1, :1])
                    - _log_mixture(X[:, 1:], w, m[:, 1:], c[:, 1:, 1:]))
    assert r.diagnostics["resubstitution_gap"] == pytest.approx(r.mi - resub, abs=1e-9)
