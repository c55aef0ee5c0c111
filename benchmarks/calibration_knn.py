"""Calibration of the nearest-neighbour error bars (the default 'partition' scheme).

For each case, ``--reps`` independent data sets of n rows are drawn; on each, the default
call (``rng`` fixed per data set) reports ``mi`` and ``std``. The *observed* spread is the
standard deviation of ``mi`` over the data sets (ddof=1); the calibration ratio is the mean
reported std divided by it, and the relative spread of the reported std is its std over
the data sets divided by its mean. The ratio itself is uncertain by about
``1/sqrt(2 (reps - 1))`` (7 % at 100 data sets) from the observed spread alone.

Cases: KSG on a Gaussian pair with d = 1 and d = 3 (x and y of d columns each, rho = 0.6),
a non-Gaussian pair (y = exp(x) + noise, KSG), the Kozachenko-Leonenko entropy of a 2-D
Gaussian, and Ross's categorical estimator (three Gaussian classes in 1-D).

    python benchmarks/calibration_knn.py                 # 30 data sets per case, n = 2000 and 20000 (minutes)
    python benchmarks/calibration_knn.py --full          # 100 data sets per case (the figures in docs/guide/knn.rst)
    python benchmarks/calibration_knn.py --scheme subsample   # the old default: 20 half-size subsamples

Targets: ratio in [0.8, 1.25], relative spread of the reported std <= 10 %.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import fastmi  # noqa: E402
from fastmi import _subsample  # noqa: E402


def _gauss(d):
    def draw(g, n):
        x = g.standard_normal((n, d))
        return x, 0.6 * x + 0.8 * g.standard_normal((n, d))
    return draw


def _nongauss(g, n):
    x = g.standard_normal(n)
    return x, np.exp(x) + 0.5 * g.standard_normal(n)


def _classes(g, n):
    labels = g.choice(3, n, p=[0.5, 0.3, 0.2])
    return np.array([-1.0, 0.0, 1.5])[labels] + g.standard_normal(n), labels


CASES = {
    "ksg-gauss-d1": (_gauss(1), lambda x, y, **kw: fastmi.mutual_info(x, y, method="ksg", **kw)),
    "ksg-gauss-d3": (_gauss(3), lambda x, y, **kw: fastmi.mutual_info(x, y, method="ksg", **kw)),
    "ksg-exp-noise": (_nongauss, lambda x, y, **kw: fastmi.mutual_info(x, y, method="ksg", **kw)),
    "knn-entropy-d2": (lambda g, n: (g.standard_normal((n, 2)), None),
                       lambda x, y, **kw: fastmi.entropy(x, method="knn", **kw)),
    "ross-3-classes": (_classes, lambda x, y, **kw: fastmi.mutual_info(x, y, method="ksg", y_type="categorical",
                                                                       **kw)),
}


def run_case(name, n, reps, scheme, seed=0):
    draw, call = CASES[name]
    kw = {"subsample": 0.5} if scheme == "subsample" else {}
    mis, stds = np.empty(reps), np.empty(reps)
    info = None
    for r in range(reps):
        g = np.random.default_rng([seed, n, r])
        x, y = draw(g, n)
        res = call(x, y, rng=r, n_jobs=1, **kw)
        mis[r], stds[r] = res.mi, res.std
        info = res.diagnostics["resampling"]
    obs = float(np.std(mis, ddof=1))
    return {"case": name, "n": n, "reps": reps, "scheme": info["scheme"],
            "pieces": f"{info.get('pieces', '-')}x{info.get('repeats', '-')}", "observed": obs,
            "mean_std": float(stds.mean()), "ratio": float(stds.mean() / obs),
            "rel_spread": float(stds.std(ddof=1) / stds.mean())}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=30, help="data sets per case (default 30; --full gives 100)")
    p.add_argument("--full", action="store_true", help="100 data sets per case")
    p.add_argument("--n", default="2000,20000", help="comma-separated sample sizes")
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated cases")
    p.add_argument("--seed", type=int, default=0, help="data seed (tuning used 1; the reported figures 0)")
    p.add_argument("--scheme", choices=("partition", "subsample"), default="partition")
    p.add_argument("--min-rows", type=int, default=None,
                   help="override the partition scheme's minimum piece size (for tuning)")
    args = p.parse_args(argv)
    reps = 100 if args.full else args.reps
    if args.min_rows is not None:
        _subsample.PARTITION_MIN_ROWS = args.min_rows
        _subsample.partition_plan.__defaults__ = (args.min_rows, _subsample.PARTITION_PIECES)
    print(f"| case | n | scheme | pieces x repeats | observed std | mean reported std | ratio | rel. spread of std |")
    print("|---|---:|---|---|---:|---:|---:|---:|")
    t0 = time.perf_counter()
    for n in (int(v) for v in args.n.split(",")):
        for name in args.cases.split(","):
            r = run_case(name, n, reps, args.scheme, args.seed)
            print(f"| {r['case']} | {r['n']} | {r['scheme']} | {r['pieces']} | {r['observed']:.5f} | "
                  f"{r['mean_std']:.5f} | {r['ratio']:.3f} | {r['rel_spread']:.3f} |", flush=True)
    print(f"\n{reps} data sets per case, {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
