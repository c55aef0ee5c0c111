"""mi_matrix, MIMatrix and the disentanglement summaries (MIG, most informative factor)."""
import json
import math
import sys
import threading

import numpy as np
import pytest

import fastmi
from fastmi.interpret import factor_entropy
from fastmi.matrix import _compute as _matrix

GMM_FAST = dict(n_bootstrap=5, mc_samples=20_000)


def representation(rng, n=1000):
    """Three factors; latents 0-2 are known functions of one factor each, latents 3-4 are nuisance."""
    v = rng.standard_normal((n, 3))
    z = np.column_stack([
        v[:, 0] + 0.3 * rng.standard_normal(n),          # linear in v0
        np.tanh(v[:, 1]) + 0.1 * rng.standard_normal(n),  # monotone non-linear in v1
        v[:, 2] ** 3 + 0.5 * rng.standard_normal(n),      # cubic in v2
        rng.standard_normal(n),                           # nuisance
        rng.gamma(2.0, 1.0, n),                           # nuisance, skewed
    ])
    return z, v


@pytest.fixture(scope="module")
def rep_data():
    return representation(np.random.default_rng(7))


@pytest.fixture(scope="module")
def rep_matrix(rep_data):
    z, v = rep_data
    return fastmi.mi_matrix(z, v, rng=11, n_jobs=2, progress=False, **GMM_FAST)


# --------------------------------------------------------------------------- correctness
def test_representation_high_mi_exactly_where_expected(rep_matrix):
    m = rep_matrix
    assert m.shape == (5, 3)
    expected = np.zeros((5, 3), dtype=bool)
    expected[[0, 1, 2], [0, 1, 2]] = True
    # latent 0 = v0 + 0.3 noise, both Gaussian: I = 0.5 log(1 + 1 / 0.09)
    assert m.values[0, 0] == pytest.approx(0.5 * math.log(1 + 1 / 0.09), abs=0.1)
    assert (m.values[expected] > 0.7).all(), m.values
    # about 0 elsewhere: GMM-MI of independent pairs is a few 1e-3 nat, a little more for the skewed nuisance
    off = m.values[~expected]
    assert (np.abs(off) < 0.04).all(), m.values
    assert np.isfinite(m.stds).all() and (m.stds > 0).all()
    assert all(r.samples.size == 5 for r in m.results.flat)
    # each signal latent's most informative parameter is its own factor, by a significant gap
    # (5 std: the cubic latent's std includes the misfit error, 0.12 of its 0.14 nat, which is
    # honest: its GMM-MI at n = 1000 is 0.94 against 1.32 from KSG at n = 2e5)
    best = m.most_informative()
    for k in range(3):
        assert best[k]["row"] == f"a{k}" and best[k]["col"] == f"b{k}"
        assert best[k]["gap"] > 5 * best[k]["gap_std"]
    assert [b["row"] for b in best] == m.row_names


def test_entries_equal_the_one_pair_estimate_with_the_pair_seed(rep_data, rep_matrix):
    z, v = rep_data
    m = rep_matrix
    for i in range(z.shape[1]):
        for j in range(v.shape[1]):
            seed = np.random.SeedSequence(11, spawn_key=(i, j))  # documented: SeedSequence(rng) + (i, j)
            assert m.pair_seed(i, j).spawn_key == seed.spawn_key and m.pair_seed(i, j).entropy == seed.entropy
            r = fastmi.mutual_info(z[:, i], v[:, j], rng=seed, n_jobs=1, **GMM_FAST)
            assert r.mi == m.values[i, j]
            assert r.std == m.stds[i, j]
            np.testing.assert_array_equal(r.samples, m.results[i, j].samples)
            assert r.n_components == m.results[i, j].n_components


def test_symmetric_matrix_estimates_each_pair_once(monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1000, 4))
    x[:, 1] += x[:, 0]
    x[:, 3] -= 0.5 * x[:, 2]
    calls, lock = [], threading.Lock()
    real = _matrix.mutual_info

    def counting(xa, xb, **kw):
        with lock:
            calls.append(kw["rng"].spawn_key)
        return real(xa, xb, **kw)

    monkeypatch.setattr(_matrix, "mutual_info", counting)
    m = fastmi.mi_matrix(x, method="ksg", n_bootstrap=4, rng=5, n_jobs=2, progress=False)
    assert sorted(calls) == [(i, j) for i in range(4) for j in range(i + 1, 4)]
    assert m.symmetric and m.shape == (4, 4)
    assert np.isnan(np.diag(m.values)).all() and np.isnan(np.diag(m.stds)).all()
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_array_equal(m.values[off], m.values.T[off])
    np.testing.assert_array_equal(m.stds[off], m.stds.T[off])
    assert m[1, 0] is m[0, 1]
    assert m.values[0, 1] > 0.25 and m.values[2, 3] > 0.07 and abs(m.values[0, 2]) < 0.05
    # the lower triangle reuses the upper pair's seed
    assert m.pair_seed(3, 1).spawn_key == m.pair_seed(1, 3).spawn_key == (1, 3)
    r = fastmi.mutual_info(x[:, 1], x[:, 3], method="ksg", n_bootstrap=4, rng=m.pair_seed(3, 1))
    assert r.mi == m.values[3, 1]
    np.testing.assert_array_equal(r.samples, m[3, 1].samples)
    assert m.diagnostics["n_pairs"] == 6


@pytest.mark.parametrize("options", [
    dict(n_jobs=1),
    dict(n_jobs=2, pairs_per_task=1),
    dict(n_jobs=2, pairs_per_task=4),
    dict(n_jobs=2, executor="processes"),
])
def test_schedule_does_not_change_a_number(options):
    rng = np.random.default_rng(4)
    a = rng.standard_normal((300, 3))
    b = np.column_stack([a[:, 0] + rng.standard_normal(300), rng.standard_normal(300)])
    kw = dict(method="ksg", jitter=True, n_bootstrap=6, rng=np.random.SeedSequence(99), progress=False)
    ref = fastmi.mi_matrix(a, b, n_jobs=2, **kw)
    m = fastmi.mi_matrix(a, b, **options, **kw)
    np.testing.assert_array_equal(m.values, ref.values)
    np.testing.assert_array_equal(m.samples, ref.samples)
    assert m.diagnostics["n_tasks"] == math.ceil(6 / m.diagnostics["pairs_per_task"])


def test_gmm_bit_identical_for_any_n_jobs(rep_data, rep_matrix):
    z, v = rep_data
    m = fastmi.mi_matrix(z[:, :2], v[:, :2], rng=11, n_jobs=1, progress=False, **GMM_FAST)
    np.testing.assert_array_equal(m.values, rep_matrix.values[:2, :2])
    np.testing.assert_array_equal(m.samples, rep_matrix.samples[:2, :2])
    assert m.diagnostics["scheduler"] == "serial"


def test_rng_kinds_and_units():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((200, 2))
    b = a + rng.standard_normal((200, 2))
    kw = dict(method="gaussian", n_bootstrap=3, progress=False)
    m1 = fastmi.mi_matrix(a, b, rng=8, **kw)
    m2 = fastmi.mi_matrix(a, b, rng=np.random.SeedSequence(8), **kw)
    np.testing.assert_array_equal(m1.samples, m2.samples)
    g1 = fastmi.mi_matrix(a, b, rng=np.random.default_rng(8), **kw)
    g2 = fastmi.mi_matrix(a, b, rng=np.random.default_rng(8), **kw)
    np.testing.assert_array_equal(g1.samples, g2.samples)
    bits = fastmi.mi_matrix(a, b, rng=8, unit="bit", **kw)
    np.testing.assert_allclose(bits.values, m1.values / math.log(2), rtol=1e-14)
    assert bits.unit == "bit" and m1.to("bit").unit == "bit"
    np.testing.assert_allclose(m1.to("bit").stds, bits.stds, rtol=1e-14)
    fresh = fastmi.mi_matrix(a, b, **kw)  # rng=None: fresh entropy, recorded so the run can be repeated
    again = fastmi.mi_matrix(a, b, rng=np.random.SeedSequence(fresh.seed_entropy), **kw)
    np.testing.assert_array_equal(fresh.samples, again.samples)


# --------------------------------------------------------------------------- MIG
def test_mig_hand_checked_values():
    values = np.array([[1.0, 0.2],
                       [0.5, 0.1],
                       [0.1, 0.9]])
    g = fastmi.mig(values, entropies=[2.0, 1.5])
    # factor 0: (1.0 - 0.5) / 2.0 = 0.25; factor 1: (0.9 - 0.2) / 1.5 = 0.4666...
    np.testing.assert_allclose(g.gaps, [0.25, 0.7 / 1.5], rtol=1e-15)
    assert g.mig == pytest.approx((0.25 + 0.7 / 1.5) / 2, rel=1e-15)
    assert g.top == ["a0", "a2"] and g.second == ["a1", "a0"]
    assert math.isnan(g.std)
    # perfectly disentangled: one latent holds all of each factor's entropy -> MIG = 1
    assert fastmi.mig(np.diag([math.log(4), math.log(2)]), entropies=[math.log(4), math.log(2)]).mig == 1.0


def _matrix_from(values, samples, rows=("z0", "z1", "z2"), cols=("f0", "f1")):
    res = np.empty(values.shape, dtype=object)
    for (i, j), v in np.ndenumerate(values):
        res[i, j] = fastmi.MIResult(mi=v, std=float(np.std(samples[i, j], ddof=1)), samples=samples[i, j])
    return fastmi.MIMatrix(res, list(rows), list(cols))


def test_mig_from_factor_data_with_discrete_and_binned_entropies():
    n = 2000
    discrete = np.repeat([0, 1, 2, 3], n // 4)            # 4 equally frequent values: H = ln 4
    continuous = (np.arange(n) + 0.5) / n                 # 20 equal-width bins of exactly 100: H = ln 20
    assert factor_entropy(discrete) == pytest.approx(math.log(4), rel=1e-15)
    assert factor_entropy(continuous, bins=20) == pytest.approx(math.log(20), rel=1e-15)
    assert factor_entropy(continuous, bins=10) == pytest.approx(math.log(10), rel=1e-15)
    assert factor_entropy(discrete, discrete=False, bins=2) == pytest.approx(math.log(2), rel=1e-15)
    assert factor_entropy(np.array(["a", "b"] * 10)) == pytest.approx(math.log(2))
    assert factor_entropy(discrete, unit="bit") == pytest.approx(2.0, rel=1e-15)

    values = np.array([[1.2, 0.1], [0.3, 2.0], [0.2, 0.5]])
    samples = values[:, :, None] + np.array([-0.01, 0.0, 0.01])  # 3 replicates per entry
    m = _matrix_from(values, samples)
    g = m.mig(np.column_stack([discrete, continuous]))
    expected = [(1.2 - 0.3) / math.log(4), (2.0 - 0.5) / math.log(20)]
    np.testing.assert_allclose(g.gaps, expected, rtol=1e-14)
    assert g.mig == pytest.approx(np.mean(expected), rel=1e-14)
    assert g.factor_names == ["f0", "f1"] and g.top == ["z0", "z1"] and g.second == ["z1", "z2"]
    # replicates shift every entry alike here, so every replicate has the same MIG
    np.testing.assert_allclose(g.samples, g.mig, rtol=1e-12)
    assert g.samples.size == 3
    json.dumps(g.to_dict())


def test_mig_on_representation(rep_data, rep_matrix):
    z, v = rep_data
    g = fastmi.mig(rep_matrix, v)  # continuous factors: 20-bin entropies
    h = np.array([factor_entropy(v[:, k]) for k in range(3)])
    srt = -np.sort(-rep_matrix.values, axis=0)
    np.testing.assert_allclose(g.gaps, (srt[0] - srt[1]) / h, rtol=1e-14)
    assert g.top == ["a0", "a1", "a2"]
    assert 0.2 < g.mig and np.isfinite(g.std) and g.std < 0.1
    assert g.samples.size == 5


def test_mig_rejects_bad_input(rep_matrix):
    values = np.ones((3, 2))
    with pytest.raises(ValueError, match="exactly one"):
        fastmi.mig(values)
    with pytest.raises(ValueError, match="exactly one"):
        fastmi.mig(values, np.ones((5, 2)), entropies=[1, 1])
    with pytest.raises(ValueError, match="at least 2 latents"):
        fastmi.mig(np.ones((1, 2)), entropies=[1, 1])
    with pytest.raises(ValueError, match="2 factors"):
        fastmi.mig(values, entropies=[1, 1, 1])
    with pytest.raises(ValueError, match="positive"):
        fastmi.mig(values, entropies=[1, 0])
    sym = fastmi.mi_matrix(np.random.default_rng(0).standard_normal((50, 3)), method="gaussian", progress=False)
    with pytest.raises(ValueError, match="symmetric"):
        fastmi.mig(sym, entropies=[1, 1, 1])


# --------------------------------------------------------------------------- export
def test_names_exports_and_round_trips(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    lat = pd.DataFrame(rng.standard_normal((300, 3)), columns=["z_a", "z_b", "z_c"])
    par = pd.DataFrame({"mass": lat["z_a"] + rng.standard_normal(300), "spin": rng.standard_normal(300)})
    m = fastmi.mi_matrix(lat, par, method="gaussian", n_bootstrap=4, rng=2, progress=False)
    assert m.row_names == ["z_a", "z_b", "z_c"] and m.col_names == ["mass", "spin"]
    assert m["z_a", "mass"] is m.results[0, 0]
    with pytest.raises(KeyError, match="unknown column"):
        m["z_a", "charge"]

    long = m.to_pandas()
    assert list(long.columns) == ["a", "b", "mi", "std", "ci_low", "ci_high", "n_replicates"]
    assert len(long) == 6 and (long["n_replicates"] == 4).all()
    assert long.loc[(long.a == "z_b") & (long.b == "spin"), "mi"].item() == m.values[1, 1]
    wide = m.to_pandas("mi")
    np.testing.assert_array_equal(wide.to_numpy(), m.values)
    assert list(wide.index) == m.row_names and list(wide.columns) == m.col_names
    np.testing.assert_array_equal(m.to_pandas("std").to_numpy(), m.stds)

    d = json.loads(m.to_json())
    assert d["rows"] == m.row_names and d["cols"] == m.col_names
    np.testing.assert_array_equal(np.array(d["values"]), m.values)
    assert d["entries"][0]["samples"] == m.results[0, 0].samples.tolist()
    assert "diagnostics" not in d["entries"][0]
    assert "diagnostics" in json.loads(m.to_json(diagnostics=True))["entries"][0]

    path = tmp_path / "table.csv"
    m.to_csv(path)
    back = pd.read_csv(path)
    np.testing.assert_array_equal(back["mi"].to_numpy(), long["mi"].to_numpy())  # full precision
    np.testing.assert_array_equal(back["std"].to_numpy(), long["std"].to_numpy())


def test_to_xarray():
    xr = pytest.importorskip("xarray")
    rng = np.random.default_rng(1)
    a = rng.standard_normal((200, 3))
    m = fastmi.mi_matrix(a, method="gaussian", n_bootstrap=3, rng=0, progress=False)
    ds = m.to_xarray()
    assert isinstance(ds, xr.Dataset)
    assert ds["samples"].shape == (3, 3, 3)
    np.testing.assert_array_equal(ds["mi"].to_numpy(), m.values)
    np.testing.assert_array_equal(ds["std"].sel(a="x0", b="x2").item(), m.stds[0, 2])
    assert ds.attrs["unit"] == "nat"


def test_symmetric_symmetric_long_table_lists_each_pair_once():
    pd = pytest.importorskip("pandas")
    m = fastmi.mi_matrix(np.random.default_rng(0).standard_normal((80, 4)), method="gaussian", progress=False)
    long = m.to_pandas()
    assert len(long) == 6 and set(zip(long.a, long.b)) == {(f"x{i}", f"x{j}") for i in range(4)
                                                          for j in range(i + 1, 4)}
    assert isinstance(long, pd.DataFrame)


# --------------------------------------------------------------------------- errors and progress
def test_input_validation():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((100, 3))
    with pytest.raises(ValueError, match="same number of samples"):
        fastmi.mi_matrix(a, rng.standard_normal((99, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        fastmi.mi_matrix(a[:, :1])
    with pytest.raises(ValueError, match="method must be one of"):
        fastmi.mi_matrix(a, method="no_such_method")
    bad = a.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="a contains 1 NaN"):
        fastmi.mi_matrix(bad)
    with pytest.raises(ValueError, match="duplicate column names"):
        fastmi.mi_matrix(a, a_names=["u", "u", "v"])
    with pytest.raises(ValueError, match="3 names for 2 columns"):
        fastmi.mi_matrix(a, a[:, :2], b_names=["p", "q", "r"])
    with pytest.raises(ValueError, match="rng must be"):
        fastmi.mi_matrix(a, rng="seed")
    with pytest.raises(ValueError, match="on_error"):
        fastmi.mi_matrix(a, on_error="ignore")
    with pytest.raises(ValueError, match="categorical"):
        fastmi.mi_matrix(a, y_type="categorical")


def test_failing_pair_raises_with_its_names_or_becomes_nan():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((60, 2))
    b = rng.standard_normal((60, 2))
    # 500 components cannot be fitted to 60 samples: the estimator's own ValueError
    with pytest.raises(ValueError, match=r"pair \('a0', 'b0'\).*too few"):
        fastmi.mi_matrix(a, b, n_components=500, n_jobs=1, progress=False)
    m = fastmi.mi_matrix(a, b, n_components=500, on_error="nan", n_jobs=2, progress=False)
    assert np.isnan(m.values).all() and len(m.diagnostics["errors"]) == 4
    assert "too few" in m.diagnostics["errors"]["a1|b0"]


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_the_error_raised_is_the_first_failing_pair_whatever_the_schedule(executor):
    """Every pair fails; on any number of workers the error is pair (a0, b0)'s, the first in
    pair order, not whichever finished first."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((60, 3))
    b = rng.standard_normal((60, 3))
    for _ in range(3 if executor == "threads" else 1):
        with pytest.raises(ValueError, match=r"^pair \('a0', 'b0'\).*too few"):
            fastmi.mi_matrix(a, b, n_components=500, n_jobs=2, executor=executor, progress=False)


def test_categorical_columns():
    rng = np.random.default_rng(2)
    n = 600
    labels = rng.choice(np.array(["lo", "hi"]), n)
    x = np.column_stack([np.where(labels == "hi", 1.0, -1.0) + rng.standard_normal(n), rng.standard_normal(n)])
    m = fastmi.mi_matrix(x, labels, method="ksg", y_type="categorical", rng=0, progress=False)
    assert m.shape == (2, 1)
    assert m.values[0, 0] > 0.2 and abs(m.values[1, 0]) < 0.05
    r = fastmi.mutual_info(x[:, 0], labels, method="ksg", y_type="categorical", rng=m.pair_seed(0, 0))
    assert r.mi == m.values[0, 0]


def test_progress_bar_only_when_asked(capsys, monkeypatch):
    pytest.importorskip("tqdm")
    a = np.random.default_rng(0).standard_normal((50, 3))
    fastmi.mi_matrix(a, method="gaussian", progress=True)
    assert "MI matrix (gaussian)" in capsys.readouterr().err
    fastmi.mi_matrix(a, method="gaussian", progress=False)
    fastmi.mi_matrix(a, method="gaussian")  # default: stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""
    # without tqdm: no bar and no error
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    m = fastmi.mi_matrix(a, method="gaussian", progress=True)
    assert capsys.readouterr().err == "" and m.shape == (3, 3)
    with pytest.raises(ValueError, match="progress"):
        fastmi.mi_matrix(a, method="gaussian", progress="yes")
