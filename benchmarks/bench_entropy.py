"""Kozachenko-Leonenko entropy speed: fastmi's knn entropy side by side with the same
estimator written on scipy's cKDTree, on the same data.

Implementations (k = 3, point estimate only, no error bar):

* ``fastmi``  -- ``fastmi.entropy(x, method="knn", k=3, metric=..., n_bootstrap=0)``
  (Cython kd-tree, OpenMP over every core); ``fastmi-1thread`` is the same with
  ``n_jobs=1``;
* ``ckdtree`` -- ``cKDTree(x).query(x, k + 1, p=inf or 2, workers=-1)`` (the first
  neighbour is the point itself), then the same formula.

Both compute the same k-th neighbour distances, so the two estimates agree to rounding
(printed as ``|diff|``).

Cases: x ~ N(0, I_d) with d = 1 or 3, N = 1e6 (``--n`` changes it), max-norm and
Euclidean.

    python benchmarks/bench_entropy.py [--repeat 3] [--n 1000000] [--cases d1-max,d3-euclidean,...]

The machine may be shared with other jobs: compare ratios measured in one run, never
absolute times across runs.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

K = 3
SEED = 0
# name -> (d, metric)
CASES = {"d1-max": (1, "max"), "d1-euclidean": (1, "euclidean"),
         "d3-max": (3, "max"), "d3-euclidean": (3, "euclidean")}


def make_data(d, n, seed=SEED):
    return np.random.default_rng(seed).standard_normal((n, d))


def run_fastmi(x, metric, n_jobs=None):
    import fastmi

    return fastmi.entropy(x, method="knn", k=K, metric=metric, n_bootstrap=0, n_jobs=n_jobs).mi


def run_ckdtree(x, metric):
    """Kozachenko-Leonenko on scipy's cKDTree: H = psi(n) - psi(k) + log c_d + d <log eps>."""
    from scipy.spatial import cKDTree
    from scipy.special import digamma, gammaln

    n, d = x.shape
    p = np.inf if metric == "max" else 2
    eps = cKDTree(x).query(x, k=K + 1, p=p, workers=-1)[0][:, -1]
    log_c = d * math.log(2) if metric == "max" else 0.5 * d * math.log(math.pi) - gammaln(0.5 * d + 1)
    return digamma(n) - digamma(K) + log_c + d * np.mean(np.log(eps))


IMPLS = {"fastmi": run_fastmi, "fastmi-1thread": lambda x, metric: run_fastmi(x, metric, n_jobs=1),
         "ckdtree": run_ckdtree}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many interleaved runs")
    parser.add_argument("--n", type=float, default=1e6, help="sample size (default 1e6)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of " + ",".join(CASES))
    args = parser.parse_args(argv)
    from fastmi._config import resolve_n_jobs

    n = int(args.n)
    print(f"# KL entropy, k={K}, N={n:.0e}; fastmi threads: {resolve_n_jobs(None)}; ckdtree workers=-1; "
          f"times: best wall-clock seconds of {args.repeat}; load average at start: {os.getloadavg()[0]:.1f}\n")
    print("| case | fastmi | fastmi 1 thread | ckdtree | ckdtree / fastmi | ckdtree / fastmi 1 thread | |diff| |")
    print("|---|---|---|---|---|---|---|")
    for fn in IMPLS.values():   # warm-up: imports and thread pools are not timed
        fn(make_data(2, 2000), "max")
    for case in args.cases.split(","):
        d, metric = CASES[case]
        x = make_data(d, n)
        times, values = {}, {}
        # interleaved rounds, so that load from other jobs hits every implementation alike
        for _ in range(args.repeat):
            for impl, fn in IMPLS.items():
                t0 = time.perf_counter()
                values[impl] = fn(x, metric)
                times[impl] = min(times.get(impl, math.inf), time.perf_counter() - t0)
        f, f1, c = times["fastmi"], times["fastmi-1thread"], times["ckdtree"]
        diff = abs(values["fastmi"] - values["ckdtree"])
        print(f"| {case} | {f:.3f} | {f1:.3f} | {c:.3f} | {c / f:.1f}x | {c / f1:.1f}x | {diff:.1e} |", flush=True)
    print(f"\nload average at end: {os.getloadavg()[0]:.1f} (other jobs may share the machine)")


if __name__ == "__main__":
    main()
