"""Power of the permutation test's candidate statistics on the tuning and held-out families.

    python benchmarks/power_table.py --half tuning --datasets 16 --n-jobs 2 --permutations 39 \
        --candidates k3 k30ns k50ns k100ns k100 n20ns
    python benchmarks/power_table.py --half held-out --datasets 16 --n-jobs 2 --permutations 39 \
        --candidates k3 k30ns auto
    python benchmarks/power_table.py --half held-out --families "rho=0.15" --datasets 100 --n-jobs 2 \
        --permutations 199 --candidates auto
    python benchmarks/power_table.py --half null --datasets 200 --n-jobs 2 --permutations 39 --candidates auto

A candidate is ``k<K>`` (KSG with k = K on the data), ``k<K>ns`` (on each coordinate's normal
scores), ``n<D>ns`` (k = n // D on normal scores) or ``auto`` (``permutation_test``'s default for
method='ksg'). Permuting rows commutes with taking normal scores, so ``k<K>ns`` is the test
``auto`` runs when it picks that k; ``n<D>ns`` is k = n // D kept within [3, 100]. Prints, per
family, the share of p < 0.05 and the seconds per test.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import fastmi  # noqa: E402
from fastmi._copula import normal_scores  # noqa: E402
from power_families import HELD_OUT, NULL, TUNING  # noqa: E402


def resolve(candidate, n):
    """``(k, normal_scores)`` of a candidate at n rows, or None for 'auto'."""
    if candidate == "auto":
        return None
    m = re.fullmatch(r"(k|n)(\d+)(ns)?", candidate)
    if m is None:
        raise ValueError(f"unknown candidate {candidate!r}")
    return (int(m[2]) if m[1] == "k" else test_k_of(n, int(m[2])), bool(m[3]))


def test_k_of(n, divisor):
    return int(min(100, max(3, n // divisor)))


def run_test(spec, x, y, seed, n_permutations, n_jobs):
    common = dict(method="ksg", n_permutations=n_permutations, rng=seed, n_jobs=n_jobs, n_bootstrap=0)
    if spec is None:
        return fastmi.permutation_test(x, y, **common).pvalue
    k, scores = spec
    if scores:
        x, y = normal_scores(x), normal_scores(y)
    return fastmi.permutation_test(x, y, k=k, **common).pvalue


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=["tuning", "held-out", "null"], default="tuning")
    parser.add_argument("--datasets", type=int, default=20, help="data sets per family")
    parser.add_argument("--candidates", nargs="+", default=["k3", "auto"])
    parser.add_argument("--permutations", type=int, default=99)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--families", default=None, help="regular expression: only the families it matches")
    args = parser.parse_args(argv)
    families = {"tuning": TUNING, "held-out": HELD_OUT, "null": NULL}[args.half]
    if args.families:
        families = [f for f in families if re.search(args.families, f[0])]
    print(f"{args.half}: share of p < 0.05 over {args.datasets} data sets, {args.permutations} permutations "
          f"(seconds per test)", flush=True)
    print(f"{'family':38s}" + "".join(f"{c:>16s}" for c in args.candidates), flush=True)
    for name, draw, first in families:
        cells, done = [], {}  # candidates that are the same test at this n run once
        n = draw(np.random.default_rng(first))[0].shape[0]
        for c in args.candidates:
            spec = resolve(c, n)
            if spec not in done:
                t = time.perf_counter()
                p = [run_test(spec, *draw(np.random.default_rng(first + s)), s, args.permutations, args.n_jobs)
                     for s in range(args.datasets)]
                done[spec] = f"{np.mean(np.array(p) < 0.05):.2f} ({(time.perf_counter() - t) / args.datasets:.2f}s)"
            cells.append(done[spec])
        print(f"{name:38s}" + "".join(f"{c:>16s}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
