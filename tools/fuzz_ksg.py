"""Time-bounded fuzz of the KSG kernels (``fastmi._ksg_cy``) and the nearest-neighbour estimators.

Each iteration draws a shape (n, d), values (Gaussian, heavy-tailed, coarse grids with ties,
duplicated rows, huge/tiny scales, constant columns), k and a thread count, then runs
``KDTree.knn`` (with and without tie-breaking and column groups), ``KDTree.query``,
``KDTree.count``, ``count_sorted`` and the public estimators (ksg, ksg2, mixed, Frenzel-Pompe
CMI, Ross categorical, Kozachenko-Leonenko entropy, KL divergence). It checks that no kernel
output is NaN, that every estimate on input the validation accepts is finite (or +inf only where
documented), and, for small n, that the counts equal a brute-force reference. Meant to be run
against a build with ``-fsanitize=address`` (README, "Development"), where any out-of-bounds
access aborts the process:

    python tools/fuzz_ksg.py --seconds 120 --seed 0

Prints one JSON line: iterations, kernel calls, estimator calls, rejected inputs, silent NaNs,
NaNs that a warning declares undefined (the KL divergence with P-samples tied both to P and to Q),
count mismatches. Exit status 1 if any NaN or mismatch was found.
"""
import argparse
import json
import math
import sys
import time
import warnings

import numpy as np


def draw_array(g, n, d):
    kind = g.integers(0, 6)
    if kind == 0:
        a = g.standard_normal((n, d))
    elif kind == 1:
        a = g.standard_cauchy((n, d))
    elif kind == 2:  # coarse grid: many ties
        a = g.integers(-2, 3, (n, d)).astype(float)
    elif kind == 3:  # duplicated rows
        base = g.standard_normal((max(1, n // 4), d))
        a = base[g.integers(0, base.shape[0], n)]
    elif kind == 4:  # extreme scale
        a = g.standard_normal((n, d)) * 10.0 ** g.choice([-150, -20, 0, 20, 150])
    else:  # a constant column among others
        a = g.standard_normal((n, d))
        a[:, g.integers(0, d)] = 1.5
    return np.ascontiguousarray(a)


def cheb(a):
    return np.max(np.abs(a[:, None, :] - a[None, :, :]), axis=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-n", type=int, default=400)
    args = ap.parse_args()

    import fastmi
    from fastmi._ksg_cy import KDTree, count_sorted
    from fastmi.knn import (categorical_ksg_mutual_info, knn_entropy, knn_kl_divergence,
                            ksg_conditional_mutual_info, ksg_mutual_info, mixed_mutual_info)

    g = np.random.default_rng(args.seed)
    stats = {"iterations": 0, "kernel_calls": 0, "estimator_calls": 0, "rejected": 0, "silent_nan": 0, "warned_nan": 0,
             "count_mismatch": 0, "seconds": 0.0, "seed": args.seed, "module": fastmi._ksg_cy.__file__}
    problems = []
    t0 = time.perf_counter()
    warnings.simplefilter("ignore")
    while time.perf_counter() - t0 < args.seconds:
        it = stats["iterations"]
        n = int(g.integers(2, args.max_n + 1)) if g.random() < 0.8 else int(g.integers(2, 12))
        d = int(g.integers(1, 5))
        a = draw_array(g, n, d)
        threads = int(g.choice([1, 2, 4]))
        leaf = int(g.integers(2, 17))
        # ------------------------------------------------------------ raw kernels (clean input)
        tree = KDTree(a, leaf, threads, "max" if g.random() < 0.7 else "euclidean")
        stats["kernel_calls"] += 1
        if n >= 2:
            k = int(g.integers(1, n))
            eps, _ = tree.knn(k, n_threads=threads)
            stats["kernel_calls"] += 1
            if np.isnan(eps).any():
                stats["silent_nan"] += 1
                problems.append((it, "knn nan"))
            if tree.metric == "max":
                cut = int(g.integers(0, d + 1))
                groups = [0, cut, d] if 0 < cut < d else [0, d]
                ext = tree.knn(k, groups=groups, tiebreak=bool(g.integers(0, 2)), n_threads=threads)[1]
                radius = np.ascontiguousarray(np.where(g.random(n) < 0.2, 0.0, eps))
                counts = tree.count(radius, threads, bool(g.integers(0, 2)))
                stats["kernel_calls"] += 2
                if np.isnan(ext).any():
                    stats["silent_nan"] += 1
                    problems.append((it, "extents nan"))
                if n <= 120:
                    dist = cheb(a)
                    dd = dist.copy()
                    np.fill_diagonal(dd, np.inf)
                    if not np.array_equal(eps, np.sort(dd, axis=1)[:, k - 1]):
                        stats["count_mismatch"] += 1
                        problems.append((it, "knn mismatch"))
                    if not np.array_equal(np.sort(counts), np.sort((dist <= radius[:, None]).sum(axis=1))):
                        stats["count_mismatch"] += 1
                        problems.append((it, "count mismatch"))
            m = int(g.integers(1, 50))
            q = np.ascontiguousarray(draw_array(g, m, d))
            qk = int(g.integers(1, n + 1))
            qd = tree.query(q, qk, threads)
            stats["kernel_calls"] += 1
            if np.isnan(np.asarray(qd[0] if isinstance(qd, tuple) else qd)).any():
                stats["silent_nan"] += 1
                problems.append((it, "query nan"))
            col = a[:, 0]
            order = np.argsort(col, kind="stable").astype(np.intp)
            r = np.ascontiguousarray(np.abs(g.standard_normal(n)) * (np.std(col) + 1e-300))
            cs = count_sorted(np.ascontiguousarray(col[order]), order, r, threads, True)
            stats["kernel_calls"] += 1
            if n <= 120 and not np.array_equal(cs, (np.abs(col[:, None] - col[None, :]) <= r[:, None]).sum(axis=1)):
                stats["count_mismatch"] += 1
                problems.append((it, "count_sorted mismatch"))
        # ------------------------------------------------------------ public estimators (validated)
        b = draw_array(g, n, int(g.integers(1, 3)))
        if g.random() < 0.3:
            b[:, 0] = a[:, 0] * g.choice([1.0, -3.0])  # perfectly dependent
        kk = int(g.integers(1, 8))
        boot = int(g.choice([0, 0, 3]))
        calls = [
            lambda: ksg_mutual_info(a, b, k=kk, n_bootstrap=boot, n_jobs=threads, jitter=bool(g.integers(0, 2)), rng=it),
            lambda: ksg_mutual_info(a, b, variant=2, k=kk, n_bootstrap=boot, n_jobs=threads, rng=it),
            lambda: mixed_mutual_info(a, b, k=kk, n_bootstrap=boot, n_jobs=threads, rng=it),
            lambda: ksg_conditional_mutual_info(a, b, draw_array(g, n, 1), k=kk, n_bootstrap=boot, n_jobs=threads,
                                                rng=it),
            lambda: categorical_ksg_mutual_info(a, g.integers(0, 3, n), k=kk, n_bootstrap=boot, n_jobs=threads, rng=it),
            lambda: knn_entropy(a, k=kk, metric=str(g.choice(["max", "euclidean"])), n_bootstrap=boot, n_jobs=threads),
            lambda: knn_kl_divergence(a, draw_array(g, int(g.integers(2, 60)), d), k=kk, n_jobs=threads),
        ]
        for call in calls:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    res = call()
                except ValueError:
                    stats["rejected"] += 1
                    continue
            stats["estimator_calls"] += 1
            if math.isnan(res.mi) or np.isnan(res.samples).any():
                # a NaN is acceptable only when a warning says that the estimate is undefined
                if any("undefined (NaN)" in str(w.message) for w in caught):
                    stats["warned_nan"] += 1
                else:
                    stats["silent_nan"] += 1
                    problems.append((it, f"estimator nan: {res!r}"))
        stats["iterations"] += 1
    stats["seconds"] = round(time.perf_counter() - t0, 1)
    stats["problems"] = problems[:20]
    print(json.dumps(stats))
    return 1 if stats["silent_nan"] or stats["count_mismatch"] else 0


if __name__ == "__main__":
    sys.exit(main())
