"""The permutation test: p-value formula, level, power, reproducibility, the conditional scheme,
Benjamini-Hochberg against a hand computation and SciPy, mi_matrix p-values, bad input."""
import numpy as np
import pytest
from scipy import stats

import fastmi
from fastmi._copula import normal_scores
from fastmi._permutation import _null_settings, benjamini_hochberg, child_seed, power_k, strata_of


def _gauss(rng, n, rho):
    x = rng.standard_normal(n)
    return x, rho * x + np.sqrt(1 - rho ** 2) * rng.standard_normal(n)


def test_pvalue_is_the_phipson_smyth_formula():
    x, y = _gauss(np.random.default_rng(0), 300, 0.1)
    res = fastmi.permutation_test(x, y, n_permutations=59, rng=3, k=3)
    assert res.null_distribution.shape == (59,)
    assert res.observed == res.statistic.mi  # KSG with k given: the statistic is the full-sample estimate
    assert res.diagnostics == {}
    expected = (1 + np.count_nonzero(res.null_distribution >= res.observed)) / 60
    assert res.pvalue == pytest.approx(expected, abs=0)
    assert res.scheme == "rows of x permuted"


def test_ksg_default_permutes_two_k_on_normal_scores_combined_by_min_p():
    """k not given: the statistic keeps k = 3; the test permutes KSG on normal scores at k = 3 and
    k = power_k(n), each exactly the test a user would run with that k, combined by the smaller
    permutation p-value (checked against a hand computation), unchanged by monotone maps."""
    x, y = _gauss(np.random.default_rng(8), 400, 0.2)
    res = fastmi.permutation_test(x, y, n_permutations=19, rng=2, n_jobs=1)
    about = res.diagnostics["test_statistic"]
    assert about["k"] == [3, power_k(400)] == [3, 40] and about["normal_scores"] and about["combined"] == "min-p"
    assert res.statistic.mi == fastmi.mutual_info(x, y, method="ksg", k=3, rng=0).mi
    sx, sy = normal_scores(x), normal_scores(y)
    null = np.array(about["null_mi"])
    for j, k in enumerate((3, 40)):
        explicit = fastmi.permutation_test(sx, sy, k=k, n_permutations=19, rng=2, n_jobs=1, n_bootstrap=0)
        np.testing.assert_array_equal(null[:, j], explicit.null_distribution)
        assert about["observed_mi"][j] == fastmi.mutual_info(sx, sy, method="ksg", k=k, n_bootstrap=0).mi
    values = np.vstack([about["observed_mi"], null])
    p = np.array([[np.mean(values[:, s] >= values[i, s]) for s in range(2)] for i in range(20)]).min(axis=1)
    assert res.observed == pytest.approx(-np.log(p[0]), abs=1e-12)
    np.testing.assert_allclose(res.null_distribution, -np.log(p[1:]), atol=1e-12)
    assert res.pvalue == np.mean(p <= p[0])
    mapped = fastmi.permutation_test(np.exp(x), y ** 3, n_permutations=19, rng=2, n_jobs=1)
    np.testing.assert_array_equal(res.null_distribution, mapped.null_distribution)
    assert mapped.pvalue == res.pvalue
    assert power_k(10) == 3 and power_k(10 ** 6) == 100
    small = fastmi.permutation_test(x[:30], y[:30], n_permutations=9, rng=0)
    assert small.diagnostics["test_statistic"]["k"] == [3] and small.diagnostics["test_statistic"]["combined"] is None


def test_ksg_default_keeps_the_power_of_k3_on_fine_structure():
    """y = 0.6 sin(8x) + noise at n = 1000: KSG at k = 3 sees it; k = 100 on its own averages it
    away; the default (min-p of both) keeps k = 3's power. 99 permutations: with two statistics the
    smallest attainable min-p p-value is about 2 / (1 + n_permutations)."""
    hits = {"auto": [], "large": []}
    for s in range(5):
        g = np.random.default_rng(300 + s)
        x = g.uniform(-np.pi, np.pi, 1000)
        y = 0.6 * np.sin(8 * x) + g.standard_normal(1000)
        hits["auto"].append(fastmi.permutation_test(x, y, n_permutations=99, rng=s, n_jobs=2).pvalue < 0.05)
        hits["large"].append(fastmi.permutation_test(normal_scores(x), normal_scores(y), k=100, n_permutations=99,
                                                     rng=s, n_jobs=2, n_bootstrap=0).pvalue < 0.05)
    assert np.mean(hits["auto"]) >= 0.8 and np.mean(hits["large"]) <= 0.5, hits


def test_ksg_default_has_more_power_than_k3():
    """rho = 0.25 at n = 600 (MI 0.032 nat), 12 seeded data sets, 99 permutations: the default
    test rejects on nearly all, KSG at k = 3 on few."""
    hits_auto, hits_k3 = [], []
    for s in range(12):
        x, y = _gauss(np.random.default_rng(700 + s), 600, 0.25)
        hits_auto.append(fastmi.permutation_test(x, y, n_permutations=99, rng=s, n_jobs=2,
                                                 n_bootstrap=0).pvalue < 0.05)
        hits_k3.append(fastmi.permutation_test(x, y, k=3, n_permutations=99, rng=s, n_jobs=2,
                                               n_bootstrap=0).pvalue < 0.05)
    assert np.mean(hits_auto) >= 0.9 and np.mean(hits_auto) >= np.mean(hits_k3) + 0.3, (hits_auto, hits_k3)


def test_ksg_default_level_with_skewed_marginals():
    """200 tests of independent exponential pairs (n = 100, so k = 10) with the default KSG
    statistic: the share of p < 0.05 lies in [0.01, 0.10]."""
    p = []
    for s in range(200):
        rng = np.random.default_rng(900 + s)
        p.append(fastmi.permutation_test(rng.exponential(size=100), rng.exponential(size=100), n_permutations=39,
                                         rng=s, n_jobs=1, n_bootstrap=0).pvalue)
    assert 0.01 <= np.mean(np.array(p) < 0.05) <= 0.10, np.mean(np.array(p) < 0.05)


def test_user_k_conditional_and_categorical_keep_the_estimate():
    x, y = _gauss(np.random.default_rng(3), 300, 0.3)
    z = np.random.default_rng(4).standard_normal(300)
    labels = (y > 0).astype(int)
    for res in (fastmi.permutation_test(x, y, k=5, n_permutations=5, rng=0),
                fastmi.permutation_test(x, y, z=z, n_permutations=5, rng=0),
                fastmi.permutation_test(x, labels, y_type="categorical", n_permutations=5, rng=0)):
        assert "test_statistic" not in res.diagnostics and res.observed == res.statistic.mi


def test_null_estimates_skip_error_bars():
    """The null settings turn off KSG's partition error bar (its registry function is a bare
    wrapper, whose signature once hid n_bootstrap: every null estimate paid for 64 partitions)."""
    assert _null_settings("ksg", "mi", {"k": 4}) == {"k": 4, "n_bootstrap": 0}
    assert _null_settings("ksg", "conditional", {})["n_bootstrap"] == 0
    assert _null_settings("gmm", "mi", {})["check_fit"] is False


def test_level_under_independence():
    """200 tests of independent pairs: the share of p < 0.05 lies in [0.01, 0.10] (39 permutations,
    so p < 0.05 means p = 1/40; the gaussian estimator keeps this fast, and the permutation
    scheme is the same for every method; benchmarks/calibration_permutation.py runs KSG)."""
    p = []
    for s in range(200):
        rng = np.random.default_rng(s)
        x, y = rng.standard_normal(50), rng.standard_normal(50)
        p.append(fastmi.permutation_test(x, y, method="gaussian", n_permutations=39, rng=s, n_jobs=1).pvalue)
    p = np.array(p)
    assert 0.01 <= np.mean(p < 0.05) <= 0.10, np.mean(p < 0.05)
    # p-values of a valid test are uniform on {1/40, ..., 1}: no pile-up at either end
    assert 0.01 <= np.mean(p <= 0.1) <= 0.2 and 0.8 <= np.mean(p <= 0.9) <= 0.99


@pytest.mark.slow
def test_power_at_rho_015():
    """rho = 0.15 at n = 2000 (MI 0.011 nat): GMM-MI's test rejects on every data set. (KSG at
    k = 3 does not reach this power: its null spread at n = 2000 is 0.018 nat; see
    benchmarks/calibration_permutation.py.)"""
    hits = []
    for s in range(6):
        x, y = _gauss(np.random.default_rng(500 + s), 2000, 0.15)
        hits.append(fastmi.permutation_test(x, y, method="gmm", n_permutations=39, rng=s, n_bootstrap=0,
                                            n_jobs=1).pvalue < 0.05)
    assert np.mean(hits) >= 0.9


@pytest.mark.parametrize("method", ["ksg", "gmm"])
def test_identical_for_any_n_jobs(method):
    x, y = _gauss(np.random.default_rng(1), 300, 0.3)
    kw = dict(method=method, n_permutations=9, rng=7)
    if method == "gmm":
        kw["n_bootstrap"] = 5
    a = fastmi.permutation_test(x, y, n_jobs=1, **kw)
    b = fastmi.permutation_test(x, y, n_jobs=2, **kw)
    np.testing.assert_array_equal(a.null_distribution, b.null_distribution)
    assert a.pvalue == b.pvalue and a.observed == b.observed and a.statistic.mi == b.statistic.mi
    assert a.diagnostics == b.diagnostics and ("test_statistic" in a.diagnostics) == (method == "ksg")


def test_gmm_observed_is_the_full_fit_not_the_bootstrap_mean():
    x, y = _gauss(np.random.default_rng(2), 400, 0.5)
    res = fastmi.permutation_test(x, y, method="gmm", n_permutations=5, rng=0, n_bootstrap=10)
    assert res.statistic.samples.size == 10  # the statistic keeps the user's settings
    point = fastmi.mutual_info(x, y, method="gmm", n_bootstrap=0, check_fit=False,
                               rng=child_seed(np.random.SeedSequence(0), 0))
    assert res.observed == pytest.approx(point.mi, rel=1e-12)
    assert res.pvalue == pytest.approx(1 / 6)
    # the null estimates are point estimates too: no bootstrap, no fit check
    perm = np.random.default_rng(child_seed(np.random.SeedSequence(0), 1, 0)).permutation(400)
    null0 = fastmi.mutual_info(x[perm], y, method="gmm", n_bootstrap=0, check_fit=False,
                               rng=child_seed(np.random.SeedSequence(0), 2, 0))
    assert res.null_distribution[0] == null0.mi


def test_conditional_scheme_keeps_the_dependence_on_z():
    """x and y both depend on z, not on each other: permuting x freely rejects, permuting it
    within strata of z does not; with a direct link it rejects."""
    p_free, p_strat, p_link = [], [], []
    for s in range(20):
        rng = np.random.default_rng(s)
        z = rng.standard_normal(300)
        x = z + 0.5 * rng.standard_normal(300)
        y = z + 0.5 * rng.standard_normal(300)
        p_free.append(fastmi.permutation_test(x, y, n_permutations=19, rng=s, n_jobs=1).pvalue)
        p_strat.append(fastmi.permutation_test(x, y, z=z, n_permutations=19, rng=s, n_jobs=1).pvalue)
        p_link.append(fastmi.permutation_test(x, y + 0.8 * x, z=z, n_permutations=19, rng=s, n_jobs=1).pvalue)
    assert max(p_free) == pytest.approx(1 / 20)
    assert np.mean(np.array(p_strat) <= 0.05) <= 0.25
    assert np.mean(np.array(p_link) <= 0.05) >= 0.9


def test_strata_of_z():
    rng = np.random.default_rng(0)
    codes, scheme = strata_of(rng.standard_normal(1000))
    assert np.unique(codes).size == 20 and np.bincount(codes).min() == 50 and "20 strata" in scheme
    codes2, _ = strata_of(rng.standard_normal((1000, 2)), n_strata=16)
    assert np.unique(codes2).size <= 16 and codes2.size == 1000
    labels = rng.integers(0, 3, 500).astype(float)
    codes3, scheme3 = strata_of(labels)
    assert np.array_equal(np.unique(labels)[codes3], labels) and "3 distinct values" in scheme3


def test_categorical_y():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 400)
    x = rng.standard_normal(400) + 1.5 * labels
    res = fastmi.permutation_test(x, labels, y_type="categorical", n_permutations=19, rng=0)
    assert res.pvalue == pytest.approx(1 / 20)
    res0 = fastmi.permutation_test(rng.standard_normal(400), labels, y_type="categorical", n_permutations=19, rng=0)
    assert res0.pvalue > 0.05


def test_benjamini_hochberg_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2, 0.5])
    # sorted 0.005, 0.01, 0.03, 0.04 against i * 0.05 / 6 = 0.0083, 0.0167, 0.025, 0.033: the first two
    np.testing.assert_array_equal(benjamini_hochberg(p, 0.05), [True, False, False, True, False, False])
    # step-up: p_(5) = 0.05 <= 0.05 rejects all five, though none is below its own Bonferroni level
    np.testing.assert_array_equal(benjamini_hochberg([0.01, 0.02, 0.03, 0.04, 0.05], 0.05), [True] * 5)
    np.testing.assert_array_equal(benjamini_hochberg([0.001, 0.5, 0.04, 0.041], 0.05), [True, False, False, False])
    # NaN entries are not tests
    np.testing.assert_array_equal(benjamini_hochberg([0.01, np.nan, 0.02], 0.05), [True, False, True])


def test_benjamini_hochberg_agrees_with_scipy():
    rng = np.random.default_rng(0)
    for _ in range(50):
        p = np.concatenate([rng.uniform(size=30), rng.uniform(0, 0.01, size=rng.integers(0, 10))])
        np.testing.assert_array_equal(benjamini_hochberg(p, 0.1), stats.false_discovery_control(p) <= 0.1)


def test_mi_matrix_pvalues_and_significance():
    rng = np.random.default_rng(5)
    n = 500
    factors = rng.uniform(-1, 1, (n, 3))
    latents = np.column_stack([np.sin(3 * factors[:, 0]) + 0.2 * rng.standard_normal(n),
                               factors[:, 1] + 0.3 * rng.standard_normal(n), rng.standard_normal(n)])
    # 199 permutations: the smallest p-value, 1/200, is below BH's first threshold 0.05 / 9
    m = fastmi.mi_matrix(latents, factors, method="ksg", n_permutations=199, rng=0, n_bootstrap=0)
    assert m.pvalues.shape == (3, 3) and np.isfinite(m.pvalues).all()
    sig = m.significant(0.05)
    assert sig[0, 0] and sig[1, 1] and sig.sum() <= 3
    np.testing.assert_array_equal(sig, benjamini_hochberg(m.pvalues, 0.05))
    # entry (i, j) is the test of its own pair, with the pair's seed as root
    one = fastmi.permutation_test(latents[:, 1], factors[:, 2], n_permutations=199, n_bootstrap=0,
                                  rng=m.pair_seed(1, 2), n_jobs=1)
    assert m.results[1, 2].diagnostics["permutation"]["n_permutations"] == 199
    assert one.pvalue == m.pvalues[1, 2] and one.statistic.mi == m.values[1, 2]
    assert m.results[1, 2].diagnostics["permutation"]["test_statistic"] == one.diagnostics["test_statistic"]
    sym = fastmi.mi_matrix(latents, method="ksg", n_permutations=19, rng=0, n_bootstrap=0)
    s = sym.significant(0.05, correction="none")
    np.testing.assert_array_equal(s, s.T)
    assert not s.diagonal().any()
    with pytest.raises(ValueError, match="no p-values"):
        fastmi.mi_matrix(latents, factors, method="ksg", rng=0, n_bootstrap=0).significant()
    with pytest.raises(ValueError, match="correction"):
        m.significant(correction="holm")


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "99"])
def test_bad_n_permutations(bad):
    x, y = _gauss(np.random.default_rng(0), 100, 0.2)
    with pytest.raises(ValueError, match="n_permutations"):
        fastmi.permutation_test(x, y, n_permutations=bad)
    with pytest.raises(ValueError, match="n_permutations"):
        fastmi.mi_matrix(np.column_stack([x, y]), method="ksg", n_permutations=bad)


def test_bad_input_names_the_argument():
    x, y = _gauss(np.random.default_rng(0), 100, 0.2)
    with pytest.raises(ValueError, match="pass z"):
        fastmi.permutation_test(x, y, n_strata=5)
    with pytest.raises(ValueError, match="y"):
        fastmi.permutation_test(x, np.zeros(100, int), y_type="categorical")
    with pytest.raises(ValueError, match="method"):
        fastmi.permutation_test(x, y, method="nope")
