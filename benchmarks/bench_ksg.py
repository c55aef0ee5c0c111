"""KSG speed: fastmi's KSG-1 side by side with two baselines, on the same data.

Implementations (all KSG algorithm 1, k = 3, max-norm):

* ``fastmi``  -- ``fastmi.mutual_info(x, y, method="ksg", k=3)`` (Cython grids or kd-tree,
  OpenMP over every core); ``fastmi-1thread`` is the same with ``n_jobs=1``;
* ``fastmi-default`` -- the default call, ``n_bootstrap`` left at None: the point
  estimate plus its error bar (64 pieces of disjoint partitions; for 1-D x and y all the
  pieces of a partition in one kernel call; at most about one more estimate's cost);
* ``sklearn`` -- ``sklearn.feature_selection.mutual_info_regression(x, y,
  n_neighbors=3)``. It adds 1e-10-scaled noise to the data first and, for x with
  d > 1 columns, estimates d *univariate* MIs I(x_j; y) -- a different, cheaper
  quantity. Only its time is compared. Single-threaded.
* ``ckdtree`` -- the estimator written here on ``scipy.spatial.cKDTree``: max-norm
  k-NN query, then ``query_ball_point(..., return_length=True)`` per marginal, all
  with ``workers=-1``.

Cases: x of d = 1 or 3 columns, y of 1 column (the shape ``mutual_info_regression``
takes), y = x @ w + noise; d = 1 at N = 1e4, 1e5, 1e6 and d = 3 at N = 1e4, 1e5.
``d3x3`` adds y of 3 columns too (a 6-D joint space; sklearn cannot do it).

pytest-benchmark (one group per case; a ratio table is printed at the end):

    python -m pytest benchmarks/bench_ksg.py --benchmark-only
    python -m pytest benchmarks/bench_ksg.py --benchmark-only --quick    # N <= 1e5 subset

Script mode, printing a markdown table with the ratios (best of interleaved rounds):

    python benchmarks/bench_ksg.py [--repeat 3] [--baseline-repeat 2] [--cases d1-1e4,d1-1e5,...]

The machine may be shared with other jobs: compare ratios measured in one run,
never absolute times across runs. Targets: the default call (with its error bar)
<= 2x the point estimate at N = 1e5 and 1e6; the point estimate >= 20x sklearn at
d = 1, N = 1e6 and >= 10x the faster baseline at d = 3, N = 1e5; time growing close
to n log n.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

K = 3
SEED = 0
# name -> (dx, dy, n)
CASES = {
    "d1-1e4": (1, 1, 10_000),
    "d1-1e5": (1, 1, 100_000),
    "d1-1e6": (1, 1, 1_000_000),
    "d3-1e4": (3, 1, 10_000),
    "d3-1e5": (3, 1, 100_000),
    "d3x3-1e5": (3, 3, 100_000),
}


def make_data(dx, dy, n, seed=SEED):
    """x ~ N(0, I_dx); y = x @ W + N(0, I_dy), with W fixed by the seed."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dx))
    w = rng.uniform(0.3, 0.8, size=(dx, dy)) / math.sqrt(dx)
    y = x @ w + rng.standard_normal((n, dy))
    return x, y


# ---------------------------------------------------------------- implementations
def run_fastmi(x, y):
    from fastmi.knn import ksg_mutual_info

    return ksg_mutual_info(x, y, k=K, n_bootstrap=0).mi


def run_fastmi_default(x, y):
    """The default call: the point estimate and its error bar (the 'partition' scheme)."""
    from fastmi.knn import ksg_mutual_info

    return ksg_mutual_info(x, y, k=K, rng=0).mi


def run_fastmi_1thread(x, y):
    from fastmi.knn import ksg_mutual_info

    return ksg_mutual_info(x, y, k=K, n_bootstrap=0, n_jobs=1).mi


def run_sklearn(x, y):
    from sklearn.feature_selection import mutual_info_regression

    return mutual_info_regression(x, y[:, 0], n_neighbors=K, random_state=0)


def run_ckdtree(x, y):
    """KSG-1 on scipy's cKDTree: strict counts through nextafter(eps, 0)."""
    from scipy.spatial import cKDTree
    from scipy.special import digamma

    n = x.shape[0]
    xy = np.hstack([x, y])
    eps = cKDTree(xy).query(xy, k=K + 1, p=np.inf, workers=-1)[0][:, -1]
    r = np.nextafter(eps, 0)
    nx = cKDTree(x).query_ball_point(x, r, p=np.inf, return_length=True, workers=-1) - 1
    ny = cKDTree(y).query_ball_point(y, r, p=np.inf, return_length=True, workers=-1) - 1
    return digamma(K) + digamma(n) - np.mean(digamma(nx + 1)) - np.mean(digamma(ny + 1))


IMPLS = {"fastmi": run_fastmi, "fastmi-default": run_fastmi_default, "fastmi-1thread": run_fastmi_1thread, "sklearn": run_sklearn,
         "ckdtree": run_ckdtree}


def applicable(case, impl):
    dx, dy, n = CASES[case]
    return not (impl == "sklearn" and dy > 1)


def rounds_for(n, impl):
    if impl.startswith("fastmi"):
        return 3 if n >= 1_000_000 else 7
    return 1 if n >= 1_000_000 else 3


# ---------------------------------------------------------------- pytest-benchmark
try:
    import pytest
except ImportError:  # script mode without pytest
    pytest = None

if pytest is not None:
    _DATA = {}

    def _data(case):
        if case not in _DATA:
            _DATA.clear()   # keep one case in memory at a time
            _DATA[case] = make_data(*CASES[case])
        return _DATA[case]

    QUICK = {"d1-1e4", "d1-1e5", "d3-1e4"}

    @pytest.mark.parametrize("impl", list(IMPLS))
    @pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.quick) if c in QUICK else c
                                      for c in CASES])
    def test_ksg_speed(benchmark, speed_table, case, impl):
        if not applicable(case, impl):
            pytest.skip("mutual_info_regression needs a 1-D target")
        pytest.importorskip("sklearn")
        x, y = _data(case)
        n = CASES[case][2]
        benchmark.group = f"ksg {case}"
        fn = IMPLS[impl]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            benchmark.pedantic(fn, args=(x, y), rounds=rounds_for(n, impl), iterations=1,
                               warmup_rounds=1 if impl.startswith("fastmi") else 0)
        speed_table.setdefault(f"ksg {case}", {})[impl] = benchmark.stats.stats.min


# ---------------------------------------------------------------- script mode
def _timed(fn, x, y):
    t0 = time.perf_counter()
    fn(x, y)
    return time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs for fastmi")
    parser.add_argument("--baseline-repeat", type=int, default=2, help="best of this many runs for baselines")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of " + ",".join(CASES))
    args = parser.parse_args(argv)
    from fastmi._config import resolve_n_jobs

    print(f"# KSG-1, k={K}; fastmi threads: {resolve_n_jobs(None)}; times: best wall-clock seconds; "
          f"load average at start: {os.getloadavg()[0]:.1f}\n")
    print("| case | N | fastmi | fastmi default (error bar) | fastmi 1 thread | sklearn | ckdtree | default / point "
          "| sklearn / fastmi | ckdtree / fastmi | faster baseline / fastmi | faster baseline / fastmi 1 thread |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    fast = {}
    with warnings.catch_warnings():   # warm-up: imports and thread pools are not timed
        warnings.simplefilter("ignore")
        for fn in IMPLS.values():
            fn(*make_data(1, 1, 2000))
    for case in args.cases.split(","):
        dx, dy, n = CASES[case]
        x, y = make_data(dx, dy, n)
        times = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # interleaved rounds, so that a burst of load from other jobs hits
            # every implementation alike; best time of each
            for rnd in range(max(args.repeat, args.baseline_repeat)):
                for impl, fn in IMPLS.items():
                    reps = args.repeat if impl.startswith("fastmi") else args.baseline_repeat
                    if applicable(case, impl) and rnd < reps:
                        times[impl] = min(times.get(impl, math.inf), _timed(fn, x, y))
        f = times["fastmi"]
        fast[case] = f
        cell = lambda impl: f"{times[impl]:.3f}" if impl in times else "n/a"
        ratio = lambda impl: f"{times[impl] / f:.1f}x" if impl in times else "n/a"
        best_base = min(v for k, v in times.items() if not k.startswith("fastmi"))
        print(f"| {case} | {n:.0e} | {f:.3f} | {cell('fastmi-default')} | {cell('fastmi-1thread')} | "
              f"{cell('sklearn')} | {cell('ckdtree')} | {ratio('fastmi-default')} | {ratio('sklearn')} | {ratio('ckdtree')} | {best_base / f:.1f}x | "
              f"{best_base / times['fastmi-1thread']:.1f}x |", flush=True)
    sizes = [c for c in ("d1-1e4", "d1-1e5", "d1-1e6") if c in fast]
    if len(sizes) > 1:
        print("\nScaling of fastmi at d = 1 (time ratio vs the n log n ratio):")
        for a, b in zip(sizes, sizes[1:]):
            na, nb = CASES[a][2], CASES[b][2]
            print(f"  {a} -> {b}: time x{fast[b] / fast[a]:.1f}, n log n x{nb * math.log(nb) / (na * math.log(na)):.1f}")
    print(f"\nload average at end: {os.getloadavg()[0]:.1f} (2 cores; other jobs may share the machine)")


if __name__ == "__main__":
    main()
