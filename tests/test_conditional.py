"""Conditional MI with categorical y (ksg, gmm), discrete conditional MI, degenerate conditioning,
ties (KSG, jitter, 'mixed'; see benchmarks/ties.py), small classes and clipping."""
import math
import warnings

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import digamma

import fastmi
from fastmi.bench import ClassConditionalGaussian
from fastmi.knn import categorical_ksg_conditional_mutual_info, categorical_ksg_mutual_info, mixed_mutual_info

GMM_FAST = dict(n_bootstrap=10, mc_samples=20_000, n_init=1, max_components=4)


def _explained_away(rng, n):
    """Y depends on Z only and X = Z + noise: I(X; Y) > 0 but I(X; Y | Z) = 0."""
    z = rng.standard_normal(n)
    labels = (z + 0.3 * rng.standard_normal(n) > 0).astype(int)
    return z + 0.5 * rng.standard_normal(n), labels, z


# ----------------------------------------------------------------------- categorical y
@pytest.mark.parametrize("method", ["ksg", "gmm"])
def test_categorical_cmi_with_independent_z_is_the_mi(method, rng):
    dist = ClassConditionalGaussian(priors=(0.9, 0.1), means=(-1.0, 1.0))
    x, labels = dist.sample(3000, rng)
    z = rng.standard_normal(3000)
    kw = GMM_FAST if method == "gmm" else {}
    r = fastmi.conditional_mutual_info(x, labels, z, method=method, y_type="categorical", rng=1, **kw)
    assert r.quantity == "cmi" and r.diagnostics["resampling"]["n_replicates"] > 0
    assert abs(dist.mi - 0.14202) < 1e-4
    assert abs(r.mi - dist.mi) < 3 * r.std + 0.01, (r, dist.mi)


@pytest.mark.parametrize("method", ["ksg", "gmm"])
def test_categorical_cmi_is_zero_when_z_explains_y(method, rng):
    x, labels, z = _explained_away(rng, 3000)
    kw = GMM_FAST if method == "gmm" else {}
    mi = fastmi.mutual_info(x, labels, method=method, y_type="categorical", rng=1, **kw)
    cmi = fastmi.conditional_mutual_info(x, labels, z, method=method, y_type="categorical", rng=1, **kw)
    assert mi.mi > 0.25
    assert abs(cmi.mi) < 3 * cmi.std + 0.01, cmi


def test_gmm_categorical_cmi_keeps_the_bootstrap_semantics(rng):
    x, labels, z = _explained_away(rng, 1500)
    r = fastmi.conditional_mutual_info(x, labels, z, y_type="categorical", rng=0, **GMM_FAST)
    res = r.diagnostics["resampling"]
    assert (r.method, res["scheme"], res["point"], res["n_replicates"]) == (
        "gmm-categorical-cmi", "bootstrap", "bootstrap mean", 10)
    assert r.mi == pytest.approx(r.samples.mean())
    est = fastmi.GMMMI(y_type="categorical", rng=0, n_bootstrap=0, mc_samples=20_000, n_init=1,
                       max_components=4).fit(x, labels, z)
    assert list(est.dims_) == ["z", "x"]  # z leads: the z-marginal draws are the joint draws' first coordinates
    point = est.estimate()
    assert point.quantity == "cmi" and math.isnan(point.std)


def test_ksg_categorical_cmi_counts_against_brute_force(rng):
    """The estimator's formula evaluated with O(n^2) counts written out here."""
    n, k = 120, 3
    x = rng.standard_normal(n)
    z = rng.standard_normal(n)
    labels = rng.integers(0, 3, n)
    r = categorical_ksg_conditional_mutual_info(x, labels, z, k=k, standardize=False, n_bootstrap=0)
    xz = np.c_[x, z]
    d_xz = np.abs(xz[:, None, :] - xz[None, :, :]).max(axis=2)
    d_z = np.abs(z[:, None] - z[None, :])
    total = 0.0
    for i in range(n):
        same = labels == labels[i]
        kc = min(k, same.sum() - 1)
        radius = np.sort(d_xz[i, same])[kc]  # index 0 is the point itself
        m = np.count_nonzero(d_xz[i] < radius)
        n_cz = np.count_nonzero(d_z[i, same] < radius)
        n_z = np.count_nonzero(d_z[i] < radius)
        total += digamma(kc) - digamma(m) - digamma(n_cz) + digamma(n_z)
    assert r.mi == pytest.approx(total / n, abs=1e-12)


@pytest.mark.parametrize("method", ["ksg", "gmm"])
def test_categorical_cmi_with_constant_z_is_the_mi_with_a_warning(method, rng):
    dist = ClassConditionalGaussian(priors=(0.6, 0.4), means=(0.0, 1.0))
    x, labels = dist.sample(800, rng)
    kw = GMM_FAST if method == "gmm" else {"n_bootstrap": 5}
    mi = fastmi.mutual_info(x, labels, method=method, y_type="categorical", rng=3, **kw)
    with pytest.warns(RuntimeWarning, match="z is degenerate"):
        cmi = fastmi.conditional_mutual_info(x, labels, np.full(800, 2.5), method=method, y_type="categorical",
                                             rng=3, **kw)
    assert cmi.mi == pytest.approx(mi.mi, abs=1e-12) and cmi.quantity == "cmi"
    np.testing.assert_allclose(cmi.samples, mi.samples, atol=1e-12)
    # a constant column next to an informative one is dropped with its own warning
    z = np.c_[rng.standard_normal(800), np.ones(800)]
    with pytest.warns(RuntimeWarning, match=r"constant column\(s\) \[1\]"):
        fastmi.conditional_mutual_info(x, labels, z, method=method, y_type="categorical", rng=3, **kw)


# ----------------------------------------------------------------------- discrete
def _loop_cmi(x, y, z, miller_madow):
    """I(X;Y|Z) = sum p(x,y,z) log p(z) p(x,y,z) / (p(x,z) p(y,z)), by loops over the table."""
    n = len(x)
    xs, ys, zs = sorted(set(x)), sorted(set(y)), sorted(set(z))
    count = {(a, b, c): 0 for a in xs for b in ys for c in zs}
    for t in zip(x, y, z):
        count[t] += 1
    total = 0.0
    cells = {"xyz": 0, "xz": set(), "yz": set(), "z": set()}
    for (a, b, c), nabc in count.items():
        if nabc == 0:
            continue
        cells["xyz"] += 1
        cells["xz"].add((a, c))
        cells["yz"].add((b, c))
        cells["z"].add(c)
        nac = sum(count[(a, bb, c)] for bb in ys)
        nbc = sum(count[(aa, b, c)] for aa in xs)
        nc = sum(count[(aa, bb, c)] for aa in xs for bb in ys)
        total += nabc / n * math.log(nc * nabc / (nac * nbc))
    if miller_madow:
        total += (len(cells["xz"]) + len(cells["yz"]) - cells["xyz"] - len(cells["z"])) / (2 * n)
    return total


@pytest.mark.parametrize("miller_madow", [True, False])
def test_discrete_cmi_on_a_hand_counted_table(miller_madow):
    # 24 rows over x in {a, b}, y in {0, 1, 2}, z in {u, v}: fixed, uneven counts
    table = {("a", 0, "u"): 4, ("a", 1, "u"): 1, ("b", 0, "u"): 1, ("b", 2, "u"): 3,
             ("a", 1, "v"): 5, ("b", 1, "v"): 2, ("b", 2, "v"): 6, ("a", 2, "v"): 2}
    rows = [key for key, c in table.items() for _ in range(c)]
    x, y, z = (list(col) for col in zip(*rows))
    r = fastmi.conditional_mutual_info(x, y, z, method="discrete", miller_madow=miller_madow, n_bootstrap=0)
    assert r.quantity == "cmi" and r.method == "discrete-cmi"
    assert r.mi == pytest.approx(_loop_cmi(x, y, z, miller_madow), abs=1e-12)
    assert _loop_cmi(x, y, z, False) > 0.1


def test_discrete_cmi_error_bars_and_rows_as_symbols(rng):
    x = rng.integers(0, 3, 400)
    z = rng.integers(0, 2, (400, 2))
    y = (x + z[:, 0] + rng.integers(0, 2, 400)) % 3
    r = fastmi.conditional_mutual_info(x, y, z, method="discrete", rng=0)
    assert r.diagnostics["resampling"]["scheme"] == "subsample" and r.std > 0
    zc = z[:, 0] * 2 + z[:, 1]
    assert r.mi == pytest.approx(fastmi.conditional_mutual_info(x, y, zc, method="discrete", n_bootstrap=0).mi)


def test_discrete_cmi_degenerate_inputs(rng):
    x = rng.integers(0, 3, 300)
    y = (x + rng.integers(0, 2, 300)) % 3
    mi = fastmi.mutual_info(x, y, method="discrete", n_bootstrap=0).mi
    for mm in (True, False):
        with pytest.warns(RuntimeWarning, match="z is degenerate"):
            r = fastmi.conditional_mutual_info(x, y, np.zeros(300), method="discrete", miller_madow=mm,
                                               n_bootstrap=0)
        assert r.mi == pytest.approx(fastmi.mutual_info(x, y, method="discrete", miller_madow=mm,
                                                        n_bootstrap=0).mi, abs=1e-15)
    assert r.mi != mi  # the last one had no Miller-Madow term
    with pytest.warns(RuntimeWarning, match="x takes a single value"):
        r = fastmi.conditional_mutual_info(["s"] * 300, y, x, method="discrete", rng=0)
    assert r.mi == 0.0 and np.all(r.samples == 0.0)
    with pytest.warns(RuntimeWarning, match="y takes a single value"):
        assert fastmi.conditional_mutual_info(x, np.ones((300, 2)), y, method="discrete", n_bootstrap=0).mi == 0.0


# ----------------------------------------------------------------------- ties
def _censored_truth(rho):
    """I(X; max(Y, 0)) for a standard bivariate normal: quadrature over x of the atom's term
    and the y > 0 part (truncated-normal moments), both against their own reference measure."""
    s = math.sqrt(1 - rho * rho)

    def f(x):
        mu = rho * x
        a = -mu / s
        p, pa, q = stats.norm.cdf(mu / s), stats.norm.pdf(a), stats.norm.cdf(-mu / s)
        cont = -p * math.log(s) - (p + a * pa) / 2 + 0.5 * (s * s * (p + a * pa) + 2 * mu * s * pa + mu * mu * p)
        return stats.norm.pdf(x) * (cont + (q * math.log(2 * q) if q > 0 else 0.0))

    return integrate.quad(f, -40, 40, epsabs=1e-13, epsrel=1e-12, limit=500)[0]


def _censored(seed, n, rho=0.6, both=False):
    r = np.random.default_rng(seed)
    x = r.standard_normal(n)
    y = np.maximum(rho * x + math.sqrt(1 - rho * rho) * r.standard_normal(n), 0.0)
    return (np.maximum(x, 0.0) if both else x), y


def test_censored_gaussian_truth_and_jittered_ksg():
    truth = _censored_truth(0.6)
    assert truth == pytest.approx(0.1768506, abs=1e-6)  # a 4e6-draw MC of the log-ratio: 0.17700 +- 0.00026
    assert _censored_truth(0.0) == pytest.approx(0.0, abs=1e-12)
    x, y = _censored(0, 2000)
    jit = fastmi.mutual_info(x, y, method="ksg", jitter=True, rng=0)
    assert abs(jit.mi - truth) < 2 * jit.std, (jit, truth)
    # ties in y only (no zero joint distance): 'mixed' is KSG up to log n - psi(n)
    plain = fastmi.mutual_info(x, y, method="ksg", n_bootstrap=0).mi
    mixed = fastmi.mutual_info(x, y, method="mixed", n_bootstrap=0).mi
    assert mixed - plain == pytest.approx(math.log(2000) - digamma(2000), abs=1e-12)


def test_joint_ties_warn_and_mixed_beats_jitter_on_a_doubly_censored_gaussian():
    truth = 0.152844  # both variables censored at 0, rho = 0.6 (benchmarks/ties.py, by quadrature)
    with pytest.warns(RuntimeWarning, match="method='mixed'.*method='discrete'"):
        plain = fastmi.mutual_info(*_censored(0, 2000, both=True), method="ksg", n_bootstrap=0)
    assert plain.mi < -1.0  # tied points counted with k: far below zero
    mixed, jit = [], []
    for seed in range(5):
        x, y = _censored(seed, 2000, both=True)
        mixed.append(fastmi.mutual_info(x, y, method="mixed", n_bootstrap=0).mi)
        jit.append(fastmi.mutual_info(x, y, method="ksg", jitter=True, n_bootstrap=0, rng=seed).mi)
    # measured over 20 seeds: mixed +0.013 +- 0.011 (sd), jitter-KSG +0.048 +- 0.015
    assert abs(np.mean(mixed) - truth) < 0.03
    assert np.mean(jit) - truth > 0.03
    assert abs(np.mean(mixed) - truth) < abs(np.mean(jit) - truth)


def _gao_reference(x, y, k):
    """Gao et al. (2017) as in the authors' reference code, by brute force: rho the k-th
    neighbour distance (max-norm, the point excluded); rho == 0: k~ and the marginal counts
    are the copies of the point (itself included); else k~ = k and the counts are of points
    strictly within rho (itself included); mean of psi(k~) + log n - psi(n_x) - psi(n_y)."""
    n = len(x)
    dx = np.abs(x[:, None] - x[None, :])
    dy = np.abs(y[:, None] - y[None, :])
    d = np.maximum(dx, dy)
    total = 0.0
    for i in range(n):
        rho = np.sort(np.delete(d[i], i))[k - 1]
        if rho == 0:
            kt, nx, ny = np.count_nonzero(d[i] == 0), np.count_nonzero(dx[i] == 0), np.count_nonzero(dy[i] == 0)
        else:
            kt, nx, ny = k, np.count_nonzero(dx[i] < rho), np.count_nonzero(dy[i] < rho)
        total += digamma(kt) + math.log(n) - digamma(nx) - digamma(ny)
    return total / n


@pytest.mark.parametrize("case", ["discrete", "zero-inflated"])
def test_mixed_is_gao_et_al_exactly(case, rng):
    """'mixed' was reported to give 0.16-0.28 nat on independent discrete data at n = 100; the
    estimator is the published one (same counts, same digamma form), so that is its small-n bias."""
    n = 150
    if case == "discrete":
        x, y = rng.integers(0, 8, n).astype(float), rng.integers(0, 8, n).astype(float)
    else:
        x = np.where(rng.random(n) < 0.4, 0.0, rng.standard_normal(n))
        y = np.where(rng.random(n) < 0.3, 0.0, x + rng.standard_normal(n))
    r = mixed_mutual_info(x, y, k=3, standardize=False, n_bootstrap=0)
    assert r.mi == pytest.approx(_gao_reference(x, y, 3), abs=1e-12)


def test_mixed_small_sample_bias_on_sparse_discrete_data_vanishes_with_n():
    """Independent 8x8 uniform symbols (true MI 0): at n = 100 most cells hold fewer than
    k + 1 = 4 copies and 'mixed' is biased upwards like the plug-in estimate (measured
    +0.30 over 20 seeds); at n = 1000 every cell is well populated and the bias is gone."""
    def mean_mixed(n, seeds):
        vals = []
        for s in range(seeds):
            r = np.random.default_rng(s)
            vals.append(mixed_mutual_info(r.integers(0, 8, n).astype(float), r.integers(0, 8, n).astype(float),
                                          n_bootstrap=0).mi)
        return np.mean(vals)

    assert mean_mixed(100, 10) > 0.2
    assert abs(mean_mixed(1000, 5)) < 0.01


def test_ross_tie_warning_does_not_point_at_mixed(rng):
    x = rng.integers(0, 3, 300).astype(float)
    labels = rng.integers(0, 2, 300)
    with pytest.warns(RuntimeWarning, match="Ross estimator assumes continuous data. Use jitter=True") as rec:
        categorical_ksg_mutual_info(x, labels, n_bootstrap=0)
    assert "mixed" not in str(rec[0].message)


# ----------------------------------------------------------------------- small classes
@pytest.mark.parametrize("method", ["ksg", "gmm"])
def test_min_class_size_drops_small_classes_with_a_warning(method, rng):
    x = rng.standard_normal(400)
    labels = np.array(["a"] * 200 + ["b"] * 197 + ["c"] * 2 + ["d"])
    x[200:397] += 1.0
    kw = GMM_FAST if method == "gmm" else {"n_bootstrap": 5}
    with pytest.raises(ValueError, match=r"class\(es\) \['d'\] have fewer than 2 samples"):
        fastmi.mutual_info(x, labels, method=method, y_type="categorical", rng=0, **kw)
    with pytest.warns(RuntimeWarning, match=r"min_class_size=3: dropped 3 sample\(s\) of 2 class\(es\).*'c', 'd'"):
        r = fastmi.mutual_info(x, labels, method=method, y_type="categorical", min_class_size=3, rng=0, **kw)
    ref = fastmi.mutual_info(x[:397], labels[:397], method=method, y_type="categorical", rng=0, **kw)
    assert r.mi == pytest.approx(ref.mi, abs=1e-12)
    if method == "ksg":
        assert r.diagnostics["n_dropped"] == 3 and r.diagnostics["classes"] == ["a", "b"]
    z = rng.standard_normal(400)
    with pytest.warns(RuntimeWarning, match="dropped 3 sample"):
        c = fastmi.conditional_mutual_info(x, labels, z, method=method, y_type="categorical", min_class_size=3,
                                           rng=0, **kw)
    assert c.mi == pytest.approx(fastmi.conditional_mutual_info(x[:397], labels[:397], z[:397], method=method,
                                                                y_type="categorical", rng=0, **kw).mi, abs=1e-12)


def test_min_class_size_errors(rng):
    x = rng.standard_normal(100)
    labels = np.array([0] * 97 + [1] * 3)
    with pytest.raises(ValueError, match="min_class_size must be >= 2"):
        categorical_ksg_mutual_info(x, labels, min_class_size=1)
    with pytest.raises(ValueError, match="fewer than two classes have min_class_size=5"):
        categorical_ksg_mutual_info(x, labels, min_class_size=5)
    with pytest.raises(ValueError, match="min_class_size applies to y_type='categorical' only"):
        fastmi.GMMMI(min_class_size=3).fit(x, rng.standard_normal(100))


# ----------------------------------------------------------------------- clipping
def test_clip_matches_sklearn_convention_and_records_it(rng):
    x, y = rng.standard_normal(500), rng.standard_normal(500)
    raw = fastmi.mutual_info(x, y, method="ksg", rng=4)
    clipped = fastmi.mutual_info(x, y, method="ksg", rng=4, clip=True)
    assert raw.samples.min() < 0  # independent data: some replicates are negative
    assert clipped.mi == max(raw.mi, 0.0) and clipped.std == raw.std
    np.testing.assert_array_equal(clipped.samples, np.maximum(raw.samples, 0.0))
    info = clipped.diagnostics["clipped"]
    assert info == {"mi": raw.mi < 0, "unclipped_mi": raw.mi,
                    "n_replicates_clipped": int(np.count_nonzero(raw.samples < 0))}
    assert "clipped" not in raw.diagnostics
    with pytest.raises(ValueError, match="clip must be True or False"):
        fastmi.mutual_info(x, y, method="ksg", clip="yes")


# ----------------------------------------------------------------------- bad inputs
def test_bad_conditional_inputs(rng):
    x, labels, z = _explained_away(rng, 100)
    with pytest.raises(ValueError, match="y_type must be one of"):
        fastmi.conditional_mutual_info(x, labels, z, method="ksg", y_type="ordinal")
    with pytest.raises(ValueError, match=r"conditional MI with y_type='categorical' is supported by methods "
                                         r"\['gmm', 'ksg'\], not 'discrete'"):
        fastmi.conditional_mutual_info(x, labels, z, method="discrete", y_type="categorical")
    with pytest.raises(ValueError, match="same number of samples"):
        fastmi.conditional_mutual_info(x, labels, z[:90], method="ksg", y_type="categorical")
    with pytest.raises(ValueError, match="same number of samples"):
        fastmi.conditional_mutual_info(labels, labels, labels[:90], method="discrete")
    with pytest.raises(ValueError, match="z contains 1 NaN"):
        fastmi.conditional_mutual_info(x, labels, np.r_[np.nan, z[1:]], method="ksg", y_type="categorical")
    with pytest.raises(ValueError, match=r"class\(es\) \[2\] have fewer than 2 samples"):
        fastmi.conditional_mutual_info(x, np.r_[labels[:-1], 2], z, method="ksg", y_type="categorical")
    with pytest.raises(ValueError, match="k=60 must be smaller than the size of the largest class"):
        fastmi.conditional_mutual_info(x, labels, z, method="ksg", y_type="categorical", k=60)
    with pytest.raises(ValueError, match="missing labels"):
        fastmi.conditional_mutual_info(["a", None, "b"], [1, 2, 3], [0, 0, 1], method="discrete")
    assert [m for m in fastmi.list_methods() if m["categorical_conditional"]] == [
        m for m in fastmi.list_methods() if m["name"] in fastmi._registry.names("categorical_conditional")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastmi.conditional_mutual_info(x, labels, z, method="ksg", y_type="categorical", n_bootstrap=0)


def test_gmm_categorical_cmi_on_the_numpy_backend_and_after_save_load(rng, tmp_path):
    x, labels, z = _explained_away(rng, 800)
    kw = dict(y_type="categorical", rng=0, **GMM_FAST)
    a = fastmi.GMMMI(**kw).fit_estimate(x, labels, z)
    b = fastmi.GMMMI(backend="numpy", **kw).fit_estimate(x, labels, z)
    assert b.mi == pytest.approx(a.mi, abs=1e-9)
    est = fastmi.GMMMI(**{**kw, "n_bootstrap": 0}).fit(x, labels, z)
    est.save(tmp_path / "m.npz")
    loaded = fastmi.load_model(tmp_path / "m.npz").estimate()
    assert (loaded.mi, loaded.quantity, loaded.method) == (est.estimate().mi, "cmi", "gmm-categorical-cmi")


@pytest.mark.parametrize("method", ["ksg", "gmm"])
def test_continuous_cmi_with_a_constant_z_is_the_mi_with_a_warning(method):
    rng = np.random.default_rng(11)
    x = rng.standard_normal(1500)
    y = 0.6 * x + 0.8 * rng.standard_normal(1500)
    kw = {"rng": 0} if method == "ksg" else {"rng": 0, "n_bootstrap": 3, "mc_samples": 5000, "max_components": 2}
    with pytest.warns(RuntimeWarning, match="z is degenerate"):
        r = fastmi.conditional_mutual_info(x, y, np.full(1500, 2.5), method=method, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fastmi.mutual_info(x, y, method=method, **kw)
    assert r.quantity == "cmi" and r.mi == ref.mi
    with pytest.warns(RuntimeWarning, match=r"constant column\(s\) \[1\]"):
        r2 = fastmi.conditional_mutual_info(x, y, np.c_[x + rng.standard_normal(1500), np.zeros(1500)],
                                            method=method, **kw)
    assert math.isfinite(r2.mi) and r2.mi < ref.mi  # z explains part of the dependence
