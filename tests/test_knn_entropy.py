"""Nearest-neighbour entropy (Kozachenko-Leonenko) and KL divergence (Wang-Kulkarni-Verdu):
the kd-tree's Euclidean and external-point queries against brute force, the estimates
against an independent NumPy/SciPy implementation, and known answers.

Tolerances of the known-answer tests come from the estimator's spread and bias at the
sample size used, measured over 10 independent seeds (k = 3) and quoted next to each
test: the tolerance is |bias| plus about four standard deviations, so a seed change should
not fail them, while a wrong constant (log 2 per dimension, radius versus diameter, psi
terms) would.
"""
import math

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.special import digamma, gamma

import fastmi
from fastmi import _registry
from fastmi._ksg_cy import KDTree
from fastmi.knn import _entropy, knn_entropy, knn_kl_divergence

METRICS = ["max", "euclidean"]
CDIST = {"max": "chebyshev", "euclidean": "euclidean"}


@pytest.fixture
def rng():
    return np.random.default_rng(20240917)


def gaussian_entropy(cov):
    return 0.5 * np.linalg.slogdet(2 * np.pi * np.e * np.atleast_2d(cov))[1]


def gaussian_kl(m0, s0, m1, s1):
    """D(N(m0, s0) || N(m1, s1)) in closed form."""
    d = len(m0)
    inv = np.linalg.inv(s1)
    dm = m1 - m0
    return 0.5 * (np.trace(inv @ s0) + dm @ inv @ dm - d + np.linalg.slogdet(s1)[1] - np.linalg.slogdet(s0)[1])


# ----------------------------------------------------------------- brute-force references
def kth(dist, k):
    """k-th smallest entry of every row (np.partition)."""
    return np.partition(dist, k - 1, axis=1)[:, k - 1]


def ref_entropy_distances(x, k, metric):
    d = cdist(x, x, CDIST[metric])
    np.fill_diagonal(d, np.inf)   # a point is not its own neighbour
    return kth(d, k)


def ref_kl_distances(x, y, k, metric):
    return ref_entropy_distances(x, k, metric), kth(cdist(x, y, CDIST[metric]), k)


def ref_log_unit_ball(d, metric):
    return math.log(2.0 ** d if metric == "max" else math.pi ** (d / 2) / gamma(d / 2 + 1))


def ref_entropy(x, k, metric):
    n, d = x.shape
    eps = ref_entropy_distances(x, k, metric)
    return digamma(n) - digamma(k) + ref_log_unit_ball(d, metric) + d * np.mean(np.log(eps))


def ref_kl(x, y, k, metric):
    (n, d), m = x.shape, y.shape[0]
    rho, nu = ref_kl_distances(x, y, k, metric)
    return d * np.mean(np.log(nu / rho)) + math.log(m / (n - 1))


# ----------------------------------------------------------------- kd-tree queries
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("d", [1, 2, 3, 5, 10])
def test_tree_knn_and_query_match_cdist_exactly(rng, metric, d):
    n = 157
    a = rng.standard_normal((n, d))
    a[::5] = np.round(a[::5], 1)                    # some equal coordinates and distances
    b = np.concatenate([rng.standard_normal((60, d)), a[:10]])   # 10 query points in the tree
    dist = cdist(a, a, CDIST[metric])
    np.fill_diagonal(dist, np.inf)
    to_tree = cdist(b, a, CDIST[metric])
    for leafsize in (2, 8, 32):
        tree = KDTree(a, leafsize, 2, metric=metric)
        assert tree.metric == metric
        for k in (1, 3, 10):
            np.testing.assert_array_equal(tree.knn(k, n_threads=2)[0], kth(dist, k))
            np.testing.assert_array_equal(tree.query(b, k, 2), kth(to_tree, k))
        np.testing.assert_array_equal(tree.query(b, n, 1), to_tree.max(axis=1))   # k = n: farthest point
    assert (tree.query(a[:10], 1) == 0).all()


@pytest.mark.parametrize("metric", METRICS)
def test_tree_queries_in_parallel_equal_serial_and_brute_force(rng, metric):
    """Above 8192 queries per thread the loops run in parallel: same answers."""
    n, d = 40_000, 3
    a = rng.standard_normal((n, d))
    b = rng.standard_normal((n, d))
    tree = KDTree(a, 8, 2, metric=metric)
    eps1, eps2 = tree.knn(3, n_threads=1)[0], tree.knn(3, n_threads=2)[0]
    q1, q2 = tree.query(b, 3, 1), tree.query(b, 3, 2)
    np.testing.assert_array_equal(eps1, eps2)
    np.testing.assert_array_equal(q1, q2)
    rows = rng.choice(n, 300, replace=False)
    dist = cdist(a[rows], a, CDIST[metric])
    dist[np.arange(300), rows] = np.inf
    np.testing.assert_array_equal(eps2[rows], kth(dist, 3))
    np.testing.assert_array_equal(q2[rows], kth(cdist(b[rows], a, CDIST[metric]), 3))


def test_tree_rejects_bad_metric_and_queries(rng):
    a = rng.standard_normal((20, 2))
    with pytest.raises(ValueError, match="metric must be 'max' or 'euclidean', got 'l1'"):
        KDTree(a, 4, 1, metric="l1")
    tree = KDTree(a, 4, 1, metric="euclidean")
    with pytest.raises(ValueError, match="query points must have 2 columns, got 3"):
        tree.query(rng.standard_normal((5, 3)), 1)
    with pytest.raises(ValueError, match=r"k must satisfy 1 <= k <= n = 20, got 21"):
        tree.query(a, 21)
    with pytest.raises(ValueError, match="count needs a tree with metric='max'"):
        tree.count(np.ones(20))
    with pytest.raises(ValueError, match="groups"):
        tree.knn(2, groups=[0, 1, 2])
    assert tree.query(np.empty((0, 2)), 1).shape == (0,)


# ----------------------------------------------------------------- estimators vs brute force
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("n,d", [(50, 1), (120, 3), (200, 5)])
def test_estimates_equal_the_brute_force_implementation(rng, metric, n, d):
    x = rng.standard_normal((n, d)) * np.linspace(0.5, 3.0, d)
    y = 0.3 + 1.5 * rng.standard_normal((int(1.3 * n), d))
    for k in (1, 3, 7):
        np.testing.assert_array_equal(_entropy._entropy_distances(x, k, metric, 1), ref_entropy_distances(x, k, metric))
        rho, nu = _entropy._kl_distances(x, y, k, metric, 2)
        ref_rho, ref_nu = ref_kl_distances(x, y, k, metric)
        np.testing.assert_array_equal(rho, ref_rho)
        np.testing.assert_array_equal(nu, ref_nu)
        h = knn_entropy(x, k=k, metric=metric, n_bootstrap=0)
        assert h.mi == pytest.approx(ref_entropy(x, k, metric), rel=1e-12, abs=1e-12)
        kl = knn_kl_divergence(x, y, k=k, metric=metric, n_bootstrap=0)
        assert kl.mi == pytest.approx(ref_kl(x, y, k, metric), rel=1e-12, abs=1e-12)
        # the public entry points dispatch to the same estimators
        assert fastmi.entropy(x, k=k, metric=metric, n_bootstrap=0).mi == h.mi
        assert fastmi.kl_divergence(x, y, k=k, metric=metric, n_bootstrap=0).mi == kl.mi


def test_unit_ball_volumes():
    """c_d for radius 1: the max-norm ball is the cube [-1, 1]^d; the Euclidean one is
    pi in 2-D and 4 pi / 3 in 3-D."""
    for d in (1, 2, 3, 10):
        assert _entropy._log_unit_ball(d, "max") == pytest.approx(d * math.log(2))
    assert _entropy._log_unit_ball(1, "euclidean") == pytest.approx(math.log(2))
    assert _entropy._log_unit_ball(2, "euclidean") == pytest.approx(math.log(math.pi))
    assert _entropy._log_unit_ball(3, "euclidean") == pytest.approx(math.log(4 * math.pi / 3))


# ----------------------------------------------------------------- known answers
@pytest.mark.parametrize("metric", METRICS)
def test_entropy_of_gaussians(rng, metric):
    # d = 1, sigma = 2, n = 5000: bias <= 0.01, sd ~0.012 over seeds. Tolerance 0.05.
    x = 2.0 * rng.standard_normal(5000)
    assert knn_entropy(x, metric=metric, n_bootstrap=0).mi == pytest.approx(gaussian_entropy(4.0), abs=0.05)
    # d = 3, correlation 0.5, scales (1, 2, 0.5), n = 10000: bias -0.026 (max) / -0.023
    # (Euclidean), sd 0.009 / 0.012 over seeds. Tolerance 0.07.
    s = np.array([1.0, 2.0, 0.5])
    cov = (0.5 + 0.5 * np.eye(3)) * np.outer(s, s)
    x = rng.standard_normal((10_000, 3)) @ np.linalg.cholesky(cov).T
    assert knn_entropy(x, metric=metric, n_bootstrap=0).mi == pytest.approx(gaussian_entropy(cov), abs=0.07)
    # d = 10, scales 0.7 ... 1.4, n = 10000: the estimator is biased here -- +0.061 nat
    # (max-norm) and +0.021 (Euclidean), sd 0.025 / 0.027 over seeds, out of H = 14.3 nat.
    # Tolerance 0.17 nat, about 1% of H.
    s = np.linspace(0.7, 1.4, 10)
    x = rng.standard_normal((10_000, 10)) * s
    h = knn_entropy(x, metric=metric, n_bootstrap=0).mi
    assert h == pytest.approx(gaussian_entropy(np.diag(s ** 2)), abs=0.17)


@pytest.mark.parametrize("metric", METRICS)
def test_entropy_of_uniform_boxes(rng, metric):
    # d = 1, [0, 3]: H = log 3; bias <= 0.002, sd ~0.01 at n = 5000. Tolerance 0.04.
    x = rng.uniform(0.0, 3.0, 5000)
    assert knn_entropy(x, metric=metric, n_bootstrap=0).mi == pytest.approx(math.log(3.0), abs=0.04)
    # d = 3, box of sides (0.5, 1, 2): H = log 1 = 0. Near the faces the k-th neighbour is
    # farther than in the interior, so the estimate is biased upwards, and the boundary
    # layer shrinks like n**(-1/d): measured +0.10 at n = 2500 and +0.05 at n = 20000 (sd
    # 0.015 and 0.005). Test the sign, the size and the n**(-1/3) decay (ratio 2).
    sides = np.array([0.5, 1.0, 2.0])
    err = {n: knn_entropy(rng.uniform(0, 1, (n, 3)) * sides, metric=metric, n_bootstrap=0).mi for n in (2500, 20_000)}
    assert 0.05 < err[2500] < 0.16 and 0.03 < err[20_000] < 0.07
    assert 1.4 < err[2500] / err[20_000] < 2.9


@pytest.mark.parametrize("metric", METRICS)
def test_kl_of_gaussians(rng, metric):
    # d = 1: N(0, 1) against N(0.5, 4), n = 5000, m = 8000: D = 0.125; bias <= 0.01,
    # sd <= 0.022 over seeds. Tolerance 0.07.
    p = rng.standard_normal(5000)
    q = 0.5 + 2.0 * rng.standard_normal(8000)
    truth = gaussian_kl(np.zeros(1), np.eye(1), np.full(1, 0.5), np.eye(1) * 4.0)
    assert knn_kl_divergence(p, q, metric=metric, n_bootstrap=0).mi == pytest.approx(truth, abs=0.07)
    # d = 5: N(0, I) against N(0.5, diag(1 ... 2)**2), n = m = 10000: D = 1.045; bias +0.053
    # (max-norm) / +0.029 (Euclidean), sd 0.022 / 0.017 over seeds. Tolerance 0.14.
    cov = np.diag(np.linspace(1.0, 2.0, 5) ** 2)
    p = rng.standard_normal((10_000, 5))
    q = 0.5 + rng.standard_normal((10_000, 5)) @ np.sqrt(cov)
    truth = gaussian_kl(np.zeros(5), np.eye(5), np.full(5, 0.5), cov)
    r = knn_kl_divergence(p, q, metric=metric, n_bootstrap=0)
    assert r.mi == pytest.approx(truth, abs=0.14)
    # D(P || P) is about 0 (log(m / (n - 1)) corrects the sample sizes)
    assert abs(knn_kl_divergence(p, rng.standard_normal((7000, 5)), metric=metric, n_bootstrap=0).mi) < 0.06


# ----------------------------------------------------------------- results and error bars
def test_results_have_partition_error_bars_by_default(rng):
    x = rng.standard_normal((3000, 2))
    y = 0.5 + rng.standard_normal((2000, 2))
    h = fastmi.entropy(x, rng=3)
    kl = fastmi.kl_divergence(x, y, rng=3, metric="euclidean")
    for r, quantity in ((h, "entropy"), (kl, "kl")):
        info = r.diagnostics["resampling"]
        assert r.method == "knn" and r.quantity == quantity
        assert info["scheme"] == "partition" and info["n_replicates"] == r.samples.size >= 64
        assert r.std == pytest.approx(np.std(r.samples, ddof=1), rel=1e-12)
        assert math.isfinite(r.std) and 0 < r.std < 0.1
    # 5000 rows in all: 20 pieces of 150 P-rows and 100 Q-rows, 4 partitions; 3000 rows: 12 x 250, 6 partitions
    assert kl.diagnostics["resampling"]["sizes"] == {"p": 150, "q": 100}
    assert (kl.diagnostics["resampling"]["pieces"], kl.diagnostics["resampling"]["repeats"]) == (20, 4)
    assert h.diagnostics["resampling"]["size"] == 250 and h.diagnostics["resampling"]["repeats"] == 6
    sub = fastmi.kl_divergence(x, y, rng=3, metric="euclidean", subsample=0.5)
    assert sub.diagnostics["resampling"]["scheme"] == "subsample" and sub.samples.size == 20
    assert sub.diagnostics["resampling"]["sizes"] == {"p": 1500, "q": 1000}
    # the point estimate is the full-sample one, replicates are reproducible, bits scale
    assert h.mi == fastmi.entropy(x, n_bootstrap=0).mi
    np.testing.assert_array_equal(fastmi.entropy(x, rng=3).samples, h.samples)
    assert fastmi.entropy(x, rng=3, unit="bit").mi == pytest.approx(h.mi / math.log(2))
    none = fastmi.kl_divergence(x, y, n_bootstrap=0)
    assert none.diagnostics["resampling"]["scheme"] == "none" and math.isnan(none.std)


def test_ties_warn_and_jitter_breaks_them(rng):
    x = rng.standard_normal((500, 2))
    x[:20] = x[20:40]
    with pytest.warns(RuntimeWarning, match="40 of 500 points have a zero k-th neighbour distance"):
        r = knn_entropy(x, k=1, n_bootstrap=0)
    assert r.mi == -math.inf
    assert math.isfinite(knn_entropy(x, k=1, jitter=True, rng=0, n_bootstrap=0).mi)
    with pytest.warns(RuntimeWarning, match="KL divergence"):
        knn_kl_divergence(x[20:], x[:20], k=1, n_bootstrap=0)


def test_bad_inputs_are_named(rng):
    x = rng.standard_normal((5, 2))
    with pytest.raises(ValueError, match="k=5 must be smaller than the number of samples n=5"):
        fastmi.entropy(x, k=5)
    with pytest.raises(ValueError, match="k=5 must be smaller than the number of samples n=5"):
        fastmi.kl_divergence(x, rng.standard_normal((50, 2)), k=5)
    with pytest.raises(ValueError, match="k=4 must not exceed the number of q_samples m=3"):
        fastmi.kl_divergence(rng.standard_normal((50, 2)), x[:3], k=4)
    with pytest.raises(ValueError, match=r"p_samples and q_samples must have the same number of columns "
                                         r"\(dimensions\), got 2 and 3"):
        fastmi.kl_divergence(x, rng.standard_normal((5, 3)), k=1)
    bad = x.copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="x contains 1 NaN or infinite value"):
        fastmi.entropy(bad, k=1)
    with pytest.raises(ValueError, match="q_samples contains 1 NaN or infinite value"):
        fastmi.kl_divergence(x, bad, k=1)
    with pytest.raises(ValueError, match=r"metric must be one of \['euclidean', 'max'\], got 'manhattan'"):
        fastmi.entropy(x, k=1, metric="manhattan")
    with pytest.raises(ValueError, match=r"metric must be one of \['euclidean', 'max'\], got 'l2'"):
        fastmi.kl_divergence(x, x + 1, k=1, metric="l2")
    with pytest.raises(ValueError, match="method must be one of .*got 'nope'"):
        fastmi.entropy(x, method="nope")
    with pytest.raises(ValueError, match=r"entropy is supported by methods \['knn'\], not 'gmm'"):
        fastmi.entropy(x, method="gmm")
    with pytest.raises(ValueError, match=r"KL divergence is supported by methods \['knn'\], not 'ksg'"):
        fastmi.kl_divergence(x, x + 1, method="ksg")
    with pytest.raises(ValueError, match="mutual information is supported by methods .*not 'knn'"):
        fastmi.mutual_info(x[:, 0], x[:, 1], method="knn")
    # an explicit error bar that q cannot support is an error; the default just goes without
    p, q = rng.standard_normal((100, 1)), rng.standard_normal((4, 1))
    with pytest.raises(ValueError, match="q_samples subsampled at the fraction"):
        fastmi.kl_divergence(p, q, k=3, n_bootstrap=5)
    r = fastmi.kl_divergence(p, q, k=3)
    assert r.diagnostics["resampling"]["scheme"] == "none" and "q_samples" in r.diagnostics["resampling"]["why"]


def test_registry_lists_entropy_and_kl_support():
    rows = {m["name"]: m for m in fastmi.list_methods()}
    assert rows["knn"]["entropy"] and rows["knn"]["kl"] and not rows["knn"]["mi"]
    assert not rows["gmm"]["entropy"] and "GMMMI.entropy" in rows["gmm"]["summary"]
    assert all(rows[m]["mi"] for m in _registry.names())
    assert _registry.names("entropy") == _registry.names("kl") == ["knn"]
    assert "knn" not in _registry.names()          # not an MI method: not in --method choices
    text = repr(fastmi.list_methods())
    assert " entropy " in text.splitlines()[0] and " kl " in text.splitlines()[0]
    assert fastmi.entropy is fastmi._api.entropy and "kl_divergence" in fastmi.__all__
