"""The nearest-neighbour default error bar: disjoint partitions ('partition' scheme)."""
import math

import numpy as np
import pytest

import fastmi
from fastmi import _subsample
from fastmi._subsample import Partition, _partition_replicates, partition_plan


def test_plan_sizes_and_fallback():
    p = partition_plan([(100_000, 4)])
    assert (p.pieces, p.repeats, p.size) == (64, 1, 1562)
    p = partition_plan([(2000, 4)])
    assert (p.pieces, p.repeats, p.size) == (8, 8, 250)
    # per stratum: the smallest stratum limits the pieces
    p = partition_plan([(4000, 2), (30, 2)])
    assert (p.pieces, p.repeats, p.sizes) == (15, 5, [266, 2])
    assert partition_plan([(499, 4)]) is None


def test_pieces_are_disjoint_and_keep_the_strata():
    n = 1000
    strata = [(np.arange(0, 700), None), (np.arange(700, 1000), None)]
    plan = partition_plan([(700, 2), (300, 2)], min_rows=100, target=12)
    seen = []

    def value(rows):
        seen.append(rows.copy())
        return float(rows.mean())

    adjusted, info = _partition_replicates(value, [np.arange(n, dtype=float)], 0.5, plan,
                                           np.random.default_rng(0), strata)
    assert (plan.pieces, plan.repeats) == (10, 2) and len(seen) == 20
    for r in range(plan.repeats):
        rows = np.concatenate(seen[r * plan.pieces:(r + 1) * plan.pieces])
        assert np.unique(rows).size == rows.size == plan.pieces * plan.size  # disjoint within a partition
    for rows in seen:
        assert np.count_nonzero(rows < 700) == 70 and np.count_nonzero(rows >= 700) == 30
    # the std: pooled within-partition variance, times piece size / n
    raw = np.array([rows.mean() for rows in seen]).reshape(2, 10)
    pooled = np.sum((raw - raw.mean(axis=1, keepdims=True)) ** 2) / (2 * 9)
    assert np.std(adjusted, ddof=1) == pytest.approx(math.sqrt(pooled * 100 / n), rel=1e-12)
    assert info["scheme"] == "partition" and info["std_of_std"] == pytest.approx(1 / math.sqrt(36))


@pytest.mark.parametrize("call", [
    lambda x, y, **kw: fastmi.mutual_info(x, y, method="ksg", **kw),
    lambda x, y, **kw: fastmi.mutual_info(x, y, method="ksg2", **kw),
    lambda x, y, **kw: fastmi.mutual_info(x, np.round(y), method="mixed", **kw),
    lambda x, y, **kw: fastmi.mutual_info(x, (y > 0).astype(int), method="ksg", y_type="categorical", **kw),
    lambda x, y, **kw: fastmi.conditional_mutual_info(x, y, x + y, method="ksg", **kw),
    lambda x, y, **kw: fastmi.conditional_mutual_info(x, (y > 0).astype(int), y, method="ksg",
                                                      y_type="categorical", **kw),
    lambda x, y, **kw: fastmi.entropy(np.c_[x, y], **kw),
    lambda x, y, **kw: fastmi.kl_divergence(np.c_[x, y], np.c_[y, x][:1500] + 0.3, **kw),
], ids=["ksg", "ksg2", "mixed", "ross", "cmi", "ross-cmi", "entropy", "kl"])
def test_every_knn_method_defaults_to_partitions_independent_of_threads(call, rng):
    x = rng.standard_normal(3000)
    y = 0.6 * x + 0.8 * rng.standard_normal(3000)
    a, b = call(x, y, rng=5, n_jobs=1), call(x, y, rng=5, n_jobs=2)
    info = a.diagnostics["resampling"]
    assert info["scheme"] == "partition" and info["pieces"] * info["repeats"] == a.samples.size >= 64
    assert info["std_of_std"] <= 0.13 and math.isfinite(a.std) and a.std > 0
    assert a.mi == b.mi and a.std == b.std
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.mi == call(x, y, n_bootstrap=0).mi  # the point estimate is the full-sample one


def test_small_n_falls_back_to_subsamples_and_explicit_choices_win(rng):
    x = rng.standard_normal(400)
    y = x + rng.standard_normal(400)
    assert fastmi.mutual_info(x, y, method="ksg").diagnostics["resampling"]["scheme"] == "subsample"
    x = rng.standard_normal(600)
    y = x + rng.standard_normal(600)
    assert fastmi.mutual_info(x, y, method="ksg").diagnostics["resampling"]["scheme"] == "partition"
    r = fastmi.mutual_info(x, y, method="ksg", n_bootstrap=7)
    assert r.diagnostics["resampling"]["scheme"] == "subsample" and r.samples.size == 7
    r = fastmi.mutual_info(x, y, method="ksg", subsample=0.3)
    assert r.diagnostics["resampling"]["scheme"] == "subsample" and r.diagnostics["resampling"]["size"] == 180


def test_partition_std_tracks_the_spread_over_data_sets():
    """A short version of benchmarks/calibration_knn.py: 40 data sets of the 2-D Kozachenko-Leonenko
    entropy (0.99 of the spread over 100 data sets there); a scheme off by 1.6x either way fails."""
    mis, stds = [], []
    for r in range(40):
        x = np.random.default_rng([7, r]).standard_normal((2000, 2))
        res = fastmi.entropy(x, rng=r, n_jobs=1)
        mis.append(res.mi)
        stds.append(res.std)
    ratio = np.mean(stds) / np.std(mis, ddof=1)
    assert 0.62 < ratio < 1.6, ratio
    assert _subsample.PARTITION_MIN_ROWS == 250 and isinstance(partition_plan([(2000, 4)]), Partition)
