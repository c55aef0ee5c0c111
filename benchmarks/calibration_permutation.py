"""The permutation test's level and power.

    python benchmarks/calibration_permutation.py                 # 200 null tests, 100 power tests
    python benchmarks/calibration_permutation.py --method gmm --null 200 --power 20 --permutations 39 \
        --n-null 500

Level: independent Gaussian pairs (n = ``--n-null``), the share of p < 0.05 (target within
[0.01, 0.10]). Power: correlation rho = 0.15 at n = 2000, the share of p < 0.05 (target >= 0.9
with method='ksg'). Also checks that n_jobs=1 and n_jobs=2 give identical null distributions.
Without --k, method='ksg' tests with its default statistic (KSG with k = min(100, n // 10) on
normal scores); --k 3 tests the k = 3 estimate itself. benchmarks/power_table.py has the other
families (tuning, held-out, non-Gaussian nulls).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import fastmi  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="ksg")
    parser.add_argument("--null", type=int, default=200, help="tests under independence")
    parser.add_argument("--n-null", type=int, default=1000)
    parser.add_argument("--power", type=int, default=100, help="tests at rho = 0.15, n = 2000")
    parser.add_argument("--permutations", type=int, default=199)
    parser.add_argument("--k", type=int, default=None, help="neighbours of the k-NN methods (default: theirs)")
    args = parser.parse_args(argv)
    kw = {} if args.k is None else {"k": args.k}
    t = time.perf_counter()
    p_null = []
    for s in range(args.null):
        g = np.random.default_rng(s)
        x, y = g.standard_normal(args.n_null), g.standard_normal(args.n_null)
        p_null.append(fastmi.permutation_test(x, y, method=args.method, n_permutations=args.permutations, rng=s,
                                              **kw).pvalue)
    p_null = np.array(p_null)
    level = np.mean(p_null < 0.05)
    print(f"level: {args.method}, n = {args.n_null}, {args.null} tests: share p < 0.05 = {level:.3f} "
          f"(target [0.01, 0.10]); {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    rho = 0.15
    p_alt = []
    for s in range(args.power):
        g = np.random.default_rng(10_000 + s)
        x = g.standard_normal(2000)
        y = rho * x + np.sqrt(1 - rho ** 2) * g.standard_normal(2000)
        p_alt.append(fastmi.permutation_test(x, y, method=args.method, n_permutations=args.permutations, rng=s,
                                              **kw).pvalue)
    power = np.mean(np.array(p_alt) < 0.05)
    print(f"power: {args.method}, rho = {rho}, n = 2000, {args.power} tests: share p < 0.05 = {power:.3f} "
          f"(target >= 0.9); {time.perf_counter() - t:.0f} s", flush=True)
    g = np.random.default_rng(0)
    x, y = g.standard_normal(500), g.standard_normal(500)
    a = fastmi.permutation_test(x, y, method=args.method, n_permutations=49, rng=1, n_jobs=1)
    b = fastmi.permutation_test(x, y, method=args.method, n_permutations=49, rng=1, n_jobs=2)
    print("n_jobs=1 and n_jobs=2 identical:", bool(np.array_equal(a.null_distribution, b.null_distribution)
                                                  and a.pvalue == b.pvalue))


if __name__ == "__main__":
    main()
