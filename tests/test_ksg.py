"""KSG-family estimates: scikit-learn equality, known answers, input handling."""
import math
import warnings

import numpy as np
import pytest
from scipy.special import digamma

import fastmi
from fastmi._plugin import discrete_mutual_info, gaussian_mutual_info
from fastmi.knn import categorical_ksg_mutual_info, ksg_conditional_mutual_info, ksg_mutual_info, mixed_mutual_info

sk_mi = pytest.importorskip("sklearn.feature_selection._mutual_info")


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def gaussian_pair(rng, n, cov, dx):
    xy = rng.multivariate_normal(np.zeros(len(cov)), cov, size=n)
    return xy[:, :dx], xy[:, dx:]


def gaussian_mi(cov, dx):
    cov = np.asarray(cov)
    return 0.5 * math.log(np.linalg.det(cov[:dx, :dx]) * np.linalg.det(cov[dx:, dx:]) / np.linalg.det(cov))


# ------------------------------------------------------------ scikit-learn parity
@pytest.mark.parametrize("k", [1, 3, 10])
@pytest.mark.parametrize("n", [200, 2000])
@pytest.mark.parametrize("ties", [False, True])
def test_ksg1_equals_sklearn_core(rng, k, n, ties):
    x = rng.standard_normal(n)
    y = 0.5 * x + rng.standard_normal(n)
    if ties:   # coarse enough for tied points and tied marginal distances
        x, y = np.round(x, 1 if n == 200 else 2), np.round(y, 1 if n == 200 else 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ours = ksg_mutual_info(x, y, k=k, standardize=False).mi
    ref = sk_mi._compute_mi_cc(x, y, k)
    assert ref > 0   # scikit-learn clips at 0; keep the comparison informative
    assert abs(ours - ref) < 1e-9


@pytest.mark.parametrize("k", [1, 3, 10])
def test_ross_equals_sklearn_core(rng, k):
    n = 1500
    d = rng.choice(np.array(["a", "b", "c"]), n, p=[0.6, 0.3, 0.1])
    shift = {"a": 0.0, "b": 1.0, "c": -1.5}
    c = rng.standard_normal(n) + np.array([shift[v] for v in d])
    ours = categorical_ksg_mutual_info(c, d, k=k, standardize=False).mi
    ref = sk_mi._compute_mi_cd(c, d, k)
    assert ref > 0
    assert abs(ours - ref) < 1e-9


def test_ksg1_standardize_is_column_scaling(rng):
    x = 3.0 + 10.0 * rng.standard_normal(500)
    y = x + 50 * rng.standard_normal(500)
    xs = (x - x.mean()) / x.std(ddof=1)
    ys = (y - y.mean()) / y.std(ddof=1)
    assert ksg_mutual_info(x, y).mi == ksg_mutual_info(xs, ys, standardize=False).mi


# ------------------------------------------------------------ known answers
@pytest.mark.parametrize("variant", [1, 2])
def test_gaussian_d1_known_answer(rng, variant):
    cov = [[1.0, 0.6], [0.6, 1.0]]
    x, y = gaussian_pair(rng, 10_000, cov, 1)
    truth = -0.5 * math.log(1 - 0.36)
    r = ksg_mutual_info(x, y, variant=variant, k=3)
    assert abs(r.mi - truth) < 0.03
    assert r.method == ("ksg" if variant == 1 else "ksg2")


@pytest.mark.parametrize("variant", [1, 2])
def test_gaussian_d3_known_answer(variant):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((6, 6))
    cov = a @ a.T + 3 * np.eye(6)
    truth = gaussian_mi(cov, 3)
    x, y = gaussian_pair(rng, 10_000, cov, 3)
    r = ksg_mutual_info(x, y, variant=variant, k=3)
    # KSG is biased downwards in 6-D joint space; allow ~10 %
    assert abs(r.mi - truth) < 0.1 * truth + 0.02, (r.mi, truth)


def test_independent_is_near_zero(rng):
    x = rng.standard_normal((10_000, 2))
    y = rng.standard_normal(10_000)
    assert abs(ksg_mutual_info(x, y).mi) < 0.02


def test_mixed_known_answer(rng):
    # X uniform on {0..4}, Y | X ~ U[X, X + 2]:  I = log 5 - (4/5) log 2
    n = 10_000
    x = rng.integers(0, 5, n).astype(float)
    y = x + 2.0 * rng.random(n)
    truth = math.log(5) - 0.8 * math.log(2)
    r = mixed_mutual_info(x, y, k=5, standardize=False)
    assert abs(r.mi - truth) < 0.05, (r.mi, truth)
    assert r.method == "mixed"


def test_mixed_on_purely_discrete_data(rng):
    # X = Y uniform on 4 symbols: I = log 4; every point has rho = 0
    x = rng.integers(0, 4, 4000).astype(float)
    r = mixed_mutual_info(x, x.copy(), k=3)
    assert abs(r.mi - math.log(4)) < 0.01


def test_mixed_zero_inflated_independent(rng):
    n = 8000
    x = np.where(rng.random(n) < 0.3, 0.0, rng.exponential(size=n))
    y = np.where(rng.random(n) < 0.5, 0.0, rng.standard_normal(n))
    # independent, but both variables have an atom at 0; the small positive
    # finite-sample bias shrinks with n
    assert abs(mixed_mutual_info(x, y).mi) < 0.05


def test_ross_known_answer(rng):
    # two classes N(-1, 1) and N(+1, 1) with p = (0.9, 0.1): I = 0.14202 nat
    n = 20_000
    labels = np.where(rng.random(n) < 0.9, "neg", "pos")
    x = rng.standard_normal(n) + np.where(labels == "neg", -1.0, 1.0)
    r = categorical_ksg_mutual_info(x, labels, k=3)
    assert abs(r.mi - 0.14202) < 0.02
    assert r.method == "ksg-ross"


def test_conditional_known_answers(rng):
    n = 10_000
    # x and y both driven by z only: I(X; Y | Z) = 0 while I(X; Y) > 0
    z = rng.standard_normal(n)
    x = z + rng.standard_normal(n)
    y = z + rng.standard_normal(n)
    assert abs(ksg_conditional_mutual_info(x, y, z).mi) < 0.02
    assert ksg_mutual_info(x, y).mi > 0.1
    # a Gaussian with conditional dependence
    cov = np.array([[1.0, 0.7, 0.4], [0.7, 1.0, 0.3], [0.4, 0.3, 1.0]])   # order x, y, z
    xyz = rng.multivariate_normal(np.zeros(3), cov, size=n)
    det = np.linalg.det
    truth = 0.5 * math.log(det(cov[np.ix_([0, 2], [0, 2])]) * det(cov[np.ix_([1, 2], [1, 2])])
                           / (cov[2, 2] * det(cov)))
    r = ksg_conditional_mutual_info(xyz[:, 0], xyz[:, 1], xyz[:, 2], k=3)
    assert abs(r.mi - truth) < 0.03, (r.mi, truth)
    assert r.method == "ksg-cmi"


def test_discrete_hand_computed_table():
    # counts [[3, 1], [1, 3]], n = 8: p(x,y) = 3/8, 1/8, 1/8, 3/8; marginals 1/2
    x = [0, 0, 0, 0, 1, 1, 1, 1]
    y = ["u", "u", "u", "v", "u", "v", "v", "v"]
    plug_in = 2 * (3 / 8) * math.log((3 / 8) / (1 / 4)) + 2 * (1 / 8) * math.log((1 / 8) / (1 / 4))
    assert discrete_mutual_info(x, y, miller_madow=False).mi == pytest.approx(plug_in, abs=1e-14)
    # Miller-Madow: (m_x - 1 + m_y - 1 - (m_xy - 1)) / (2n) = (1 + 1 - 3) / 16
    assert discrete_mutual_info(x, y).mi == pytest.approx(plug_in - 1 / 16, abs=1e-14)
    assert discrete_mutual_info(x, y, unit="bit").mi == pytest.approx((plug_in - 1 / 16) / math.log(2), abs=1e-14)


def test_discrete_rows_as_symbols():
    # x has 2 columns: the symbol is the row; y equals the symbol id
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 5)
    y = np.array([0, 1, 2, 3] * 5)
    r = discrete_mutual_info(x, y, miller_madow=False)
    assert r.mi == pytest.approx(math.log(4), abs=1e-14)


def test_gaussian_closed_form(rng):
    x = rng.standard_normal(1000)
    y = 0.3 * x + rng.standard_normal(1000)
    rho = np.corrcoef(x, y)[0, 1]
    assert gaussian_mutual_info(x, y).mi == pytest.approx(-0.5 * math.log(1 - rho ** 2), rel=1e-12)
    # multivariate: -0.5 log(det(Cx) det(Cy) / det(C)) with sample covariances
    a = rng.standard_normal((5, 5))
    cov = a @ a.T + np.eye(5)
    x, y = gaussian_pair(rng, 20_000, cov, 2)
    c = np.cov(np.hstack([x, y]), rowvar=False)
    assert gaussian_mutual_info(x, y).mi == pytest.approx(gaussian_mi(c, 2), rel=1e-10)
    assert gaussian_mutual_info(x, y).mi == pytest.approx(gaussian_mi(cov, 2), rel=0.05)
    assert gaussian_mutual_info(x, 2 * x[:, :1] + 1).mi == math.inf


# ------------------------------------------------------------ dispatcher
def test_public_dispatch(rng):
    x = rng.standard_normal(800)
    y = x + rng.standard_normal(800)
    assert fastmi.mutual_info(x, y, method="ksg").mi == ksg_mutual_info(x, y).mi
    assert fastmi.mutual_info(x, y, method="ksg2").mi == ksg_mutual_info(x, y, variant=2).mi
    assert fastmi.mutual_info(x, y, method="mixed").method == "mixed"
    assert fastmi.mutual_info(x, y, method="gaussian").method == "gaussian"
    assert fastmi.mutual_info(x > 0, y > 0, method="discrete").method == "discrete"
    lab = np.where(y > 0, "p", "n")
    assert fastmi.mutual_info(x, lab, method="ksg", y_type="categorical").method == "ksg-ross"
    z = rng.standard_normal(800)
    assert fastmi.conditional_mutual_info(x, y, z, method="ksg").method == "ksg-cmi"


# ------------------------------------------------------------ invariances
def test_identical_for_any_n_jobs(rng):
    n = 20_000   # large enough for the kernels to use several threads
    x = rng.standard_normal((n, 2))
    y = x[:, 0] + rng.standard_normal(n)
    z = rng.standard_normal(n)
    lab = (y > 0).astype(int)
    for f in (lambda j: ksg_mutual_info(x, y, n_jobs=j).mi,
              lambda j: ksg_mutual_info(x, y, variant=2, n_jobs=j).mi,
              lambda j: mixed_mutual_info(np.round(x), y, n_jobs=j).mi,
              lambda j: categorical_ksg_mutual_info(x, lab, n_jobs=j).mi,
              lambda j: ksg_conditional_mutual_info(x, y, z, n_jobs=j).mi,
              lambda j: ksg_mutual_info(x, y, n_bootstrap=2, subsample=0.9, rng=1, n_jobs=j).std):
        assert f(1) == f(2) == f(3)


def test_row_order_does_not_matter(rng):
    x = rng.standard_normal(1000)
    y = x + rng.standard_normal(1000)
    p = rng.permutation(1000)
    assert ksg_mutual_info(x, y, standardize=False).mi == ksg_mutual_info(x[p], y[p], standardize=False).mi


def test_units(rng):
    x = rng.standard_normal(500)
    y = x + rng.standard_normal(500)
    nat = ksg_mutual_info(x, y, n_bootstrap=4, rng=0)
    bit = ksg_mutual_info(x, y, n_bootstrap=4, rng=0, unit="bit")
    assert bit.unit == "bit"
    assert bit.mi == pytest.approx(nat.mi / math.log(2), rel=1e-14)
    assert bit.std == pytest.approx(nat.std / math.log(2), rel=1e-14)


# ------------------------------------------------------------ subsampling error bars
def test_subsample_replicates(rng):
    x = rng.standard_normal(2000)
    y = x + rng.standard_normal(2000)
    point = ksg_mutual_info(x, y).mi
    r = ksg_mutual_info(x, y, n_bootstrap=20, rng=3)
    again = ksg_mutual_info(x, y, n_bootstrap=20, rng=3)
    np.testing.assert_array_equal(r.samples, again.samples)
    assert r.samples.size == 20
    assert r.mi == pytest.approx(point, abs=1e-12)   # centred on the full-data estimate
    info = r.diagnostics["resampling"]
    assert info["size"] == 1000 and info["scale"] == 1.0
    assert r.std == pytest.approx(np.std(info["raw"], ddof=1), rel=1e-12)
    lo, hi = r.ci(0.9)
    assert lo < r.mi < hi
    # a quarter sample: replicates rescaled by sqrt(m / (n - m)) = sqrt(1/3)
    q = ksg_mutual_info(x, y, n_bootstrap=10, subsample=0.25, rng=3)
    assert q.diagnostics["resampling"]["size"] == 500
    assert q.std == pytest.approx(np.std(q.diagnostics["resampling"]["raw"], ddof=1) * math.sqrt(1 / 3), rel=1e-12)


def test_subsample_std_is_calibrated():
    # the replicate std must track the spread of independent full-size estimates
    truth_rng = np.random.default_rng(11)
    n = 2000
    values, stds = [], []
    for _ in range(12):
        x = truth_rng.standard_normal(n)
        y = 0.6 * x + 0.8 * truth_rng.standard_normal(n)
        r = ksg_mutual_info(x, y, n_bootstrap=16, rng=truth_rng)
        values.append(r.mi)
        stds.append(r.std)
    ratio = np.mean(stds) / np.std(values, ddof=1)
    assert 0.5 < ratio < 2.0, ratio


@pytest.mark.parametrize("func", ["mixed", "ross", "cmi", "discrete", "gaussian", "ksg2"])
def test_every_estimator_gives_error_bars(rng, func):
    n = 600
    x = rng.standard_normal(n)
    y = x + rng.standard_normal(n)
    call = {
        "mixed": lambda **kw: mixed_mutual_info(np.round(x), y, **kw),
        "ross": lambda **kw: categorical_ksg_mutual_info(x, (y > 0.5).astype(int), **kw),
        "cmi": lambda **kw: ksg_conditional_mutual_info(x, y, rng.standard_normal(n), **kw),
        "discrete": lambda **kw: discrete_mutual_info(x > 0, y > 0, **kw),
        "gaussian": lambda **kw: gaussian_mutual_info(x, y, **kw),
        "ksg2": lambda **kw: ksg_mutual_info(x, y, variant=2, **kw),
    }[func]
    r = call(n_bootstrap=5, rng=0)
    assert r.samples.size == 5 and r.std > 0 and np.isfinite(r.mi)


def test_ross_subsample_keeps_class_proportions(rng):
    n = 1000
    lab = np.where(rng.random(n) < 0.95, 0, 1)
    x = rng.standard_normal(n) + lab
    r = categorical_ksg_mutual_info(x, lab, n_bootstrap=4, rng=0)
    counts = np.bincount(lab)
    assert r.diagnostics["resampling"]["size"] == sum(max(2, round(c / 2)) for c in counts)


# ------------------------------------------------------------ jitter and ties
def test_jitter_is_seeded_and_breaks_ties(rng):
    x = np.round(rng.standard_normal(1000), 1)
    y = np.round(x + rng.standard_normal(1000), 1)
    with pytest.warns(RuntimeWarning, match="tied points"):
        tied = ksg_mutual_info(x, y, k=3)
    assert tied.diagnostics["n_tied"] > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = ksg_mutual_info(x, y, jitter=True, rng=5)
        b = ksg_mutual_info(x, y, jitter=True, rng=5)
    assert a.mi == b.mi and a.diagnostics["n_tied"] == 0
    assert a.diagnostics["jitter"] == 1e-10
    assert ksg_mutual_info(x, y, jitter=1e-6, rng=5).diagnostics["jitter"] == 1e-6


def test_no_jitter_is_deterministic_without_rng(rng):
    x = rng.standard_normal(300)
    y = x + rng.standard_normal(300)
    assert ksg_mutual_info(x, y).mi == ksg_mutual_info(x, y).mi


# ------------------------------------------------------------ input handling: correct numbers
def test_int_float32_noncontiguous_and_lists_give_the_float64_answer(rng):
    xi = rng.integers(-1000, 1000, size=(600, 2))
    yi = xi[:, :1] + rng.integers(-800, 800, size=(600, 1))
    ref = ksg_mutual_info(xi.astype(np.float64), yi.astype(np.float64)).mi
    assert ksg_mutual_info(xi, yi).mi == ref
    assert ksg_mutual_info(xi.tolist(), yi.tolist()).mi == ref
    assert ksg_mutual_info(np.asfortranarray(xi), yi).mi == ref
    x32 = rng.standard_normal((600, 2)).astype(np.float32)
    y32 = (x32[:, 0] + rng.standard_normal(600)).astype(np.float32)
    assert ksg_mutual_info(x32, y32).mi == ksg_mutual_info(x32.astype(np.float64), y32.astype(np.float64)).mi
    big = rng.standard_normal((1200, 3))
    xv, yv = big[::2, ::2], big[1::2, 1]        # strided views
    assert not xv.flags.c_contiguous
    for f in (ksg_mutual_info, mixed_mutual_info, gaussian_mutual_info):
        assert f(xv, yv).mi == f(np.ascontiguousarray(xv), np.ascontiguousarray(yv)).mi
    assert (ksg_conditional_mutual_info(xv, yv, big[::2, 1]).mi
            == ksg_conditional_mutual_info(xv.copy(), yv.copy(), big[::2, 1].copy()).mi)
    lab = (yv > 0).astype(np.int8)
    assert (categorical_ksg_mutual_info(xv.astype(np.float32), lab).mi
            == categorical_ksg_mutual_info(xv.astype(np.float32).astype(np.float64), lab).mi)


# ------------------------------------------------------------ input handling: errors
ESTIMATORS = {
    "ksg": lambda x, y, **kw: ksg_mutual_info(x, y, **kw),
    "ksg2": lambda x, y, **kw: ksg_mutual_info(x, y, variant=2, **kw),
    "mixed": lambda x, y, **kw: mixed_mutual_info(x, y, **kw),
    "cmi": lambda x, y, **kw: ksg_conditional_mutual_info(x, y, np.arange(len(np.asarray(x)), dtype=float), **kw),
    "gaussian": lambda x, y, **kw: gaussian_mutual_info(x, y, **kw),
}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_bad_input_raises_value_error(name, rng):
    f = ESTIMATORS[name]
    x = rng.standard_normal(50)
    y = x + rng.standard_normal(50)
    bad = x.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        f(bad, y)
    bad[3] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        f(x, bad)
    with pytest.raises(ValueError, match="same number of samples"):
        f(x, y[:-1])
    with pytest.raises(ValueError, match="empty"):
        f(np.array([]), np.array([]))
    with pytest.raises(ValueError, match="constant column"):
        f(np.column_stack([x, np.ones(50)]), y)
    with pytest.raises(ValueError, match="identical"):
        f(np.full(50, 2.5), y)
    with pytest.raises(ValueError, match="numeric"):
        f(np.array(["a"] * 50), y)
    with pytest.raises(ValueError, match="unit"):
        f(x, y, unit="nats")
    with pytest.raises(ValueError, match="n_jobs"):
        f(x, y, n_jobs=0)
    with pytest.raises(ValueError, match="n_bootstrap"):
        f(x, y, n_bootstrap=-1)
    with pytest.raises(ValueError, match="subsample"):
        f(x, y, n_bootstrap=2, subsample=50)
    with pytest.raises(ValueError, match="subsample"):
        f(x, y, n_bootstrap=2, subsample=1.5)


@pytest.mark.parametrize("name", ["ksg", "ksg2", "mixed", "cmi"])
def test_k_too_large(name, rng):
    f = ESTIMATORS[name]
    x = rng.standard_normal(10)
    y = rng.standard_normal(10)
    with pytest.raises(ValueError, match="k=10 must be smaller than the number of samples n=10"):
        f(x, y, k=10)
    with pytest.raises(ValueError, match="k must be >= 1"):
        f(x, y, k=0)
    with pytest.raises(ValueError, match="k must be an int"):
        f(x, y, k=2.5)
    assert np.isfinite(f(x, y, k=9).mi)   # k = n - 1 is the largest valid k


def test_other_bad_inputs(rng):
    x = rng.standard_normal(40)
    with pytest.raises(ValueError, match="variant"):
        ksg_mutual_info(x, x, variant=3)
    with pytest.raises(ValueError, match="jitter"):
        ksg_mutual_info(x, x, jitter=-1.0)
    with pytest.raises(ValueError, match="rng"):
        ksg_mutual_info(x, x, rng="seed")
    with pytest.raises(ValueError, match="1-D or 2-D"):
        ksg_mutual_info(np.zeros((4, 5, 2)), x)
    with pytest.raises(ValueError, match="at least 2"):
        ksg_mutual_info([1.0], [2.0])
    with pytest.raises(ValueError, match="x spans too many orders of magnitude"):
        ksg_mutual_info(np.r_[x[:-1], 1e308] * 1.7, x)
    with pytest.raises(ValueError, match="y spans too many orders of magnitude"):  # y, not x
        ksg_mutual_info(x, np.r_[x[:-1], 1e308] * 1.7)
    # categorical
    lab = np.array(["a", "b"] * 20)
    with pytest.raises(ValueError, match="single class"):
        categorical_ksg_mutual_info(x, np.zeros(40))
    with pytest.raises(ValueError, match="fewer than 2 samples"):
        categorical_ksg_mutual_info(x, np.r_[np.zeros(39), 1.0])
    with pytest.raises(ValueError, match="same number of samples"):
        categorical_ksg_mutual_info(x, lab[:-1])
    with pytest.raises(ValueError, match="largest class"):
        categorical_ksg_mutual_info(x, lab, k=20)
    with pytest.raises(ValueError, match="missing labels"):
        categorical_ksg_mutual_info(x, np.array(["a", None] * 20, dtype=object))
    with pytest.raises(ValueError, match="NaN"):
        categorical_ksg_mutual_info(x, np.r_[np.zeros(20), np.full(20, np.nan)])
    # discrete
    with pytest.raises(ValueError, match="single"):
        discrete_mutual_info(np.zeros(10), np.arange(10))
    with pytest.raises(ValueError, match="same number of samples"):
        discrete_mutual_info(np.arange(10) % 2, np.arange(9) % 2)
    with pytest.raises(ValueError, match="empty"):
        discrete_mutual_info([], [])
    # gaussian: collinear columns within x
    with pytest.raises(ValueError, match="linearly dependent"):
        gaussian_mutual_info(np.column_stack([x, 2 * x]), rng.standard_normal(40))


def test_identical_points_in_joint_space_only_is_fine(rng):
    # every column varies, but all (x, y) rows repeat -- the estimate is
    # defined (ties are counted), only a warning is given
    x = np.repeat(rng.standard_normal(20), 5)
    y = np.repeat(rng.standard_normal(20), 5)
    with pytest.warns(RuntimeWarning):
        r = ksg_mutual_info(x, y, k=3)
    assert np.isfinite(r.mi)


def test_digamma_closed_form_for_perfect_ties():
    # n points on 2 distinct (x, y) values, k smaller than the group size:
    # eps = 0 everywhere and each point counts its group as neighbours
    x = np.array([0.0] * 6 + [1.0] * 4)
    with pytest.warns(RuntimeWarning):
        r = ksg_mutual_info(x, x.copy(), k=2, standardize=False)
    nx = np.array([5] * 6 + [3] * 4)
    expected = digamma(2) + digamma(10) - 2 * np.mean(digamma(nx + 1))
    assert r.mi == pytest.approx(expected, abs=1e-13)
