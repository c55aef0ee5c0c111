"""GMM-MI over the calibration suite: time and accuracy at default settings, optionally side
by side with a baseline option set in the same invocation.

    python benchmarks/bench_calibration_speed.py                 # defaults only
    python benchmarks/bench_calibration_speed.py --compare       # vs the old procedure
    python benchmarks/bench_calibration_speed.py --compare --baseline '{"search": "fresh"}'
    python benchmarks/bench_calibration_speed.py --compare --halves \
        --baseline '{"copula": false, "retry": false, "bias_correction": false}'   # vs the last release

The suite is ``fastmi.bench.calibration``'s (25 distributions x 3 data seeds at N = 5000, GMMMI
with rng=0 and every core). With ``--compare`` each case runs the defaults then the baseline
on the same sample before moving on, so slow phases of a shared machine hit both alike; only
ratios measured in one invocation are meaningful. The default baseline is
``fastmi.gmm.UPSTREAM_PROCEDURE`` with fastmi's own initialisation: fastmi's behaviour before
the faster defaults (fresh initialisations at every K, tol 1e-5, 1e5 MC samples).

Printed: per case and seed the selected K, seconds, error (estimate - true MI) and reported
std of each side; then per side the total and largest seconds, the mean absolute error and
the coverage of the +-1 / +-2 std intervals; and the ratios.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import fastmi  # noqa: E402
from fastmi.bench import calibration_suite, run, summarize_calibration  # noqa: E402
from fastmi.gmm import UPSTREAM_PROCEDURE  # noqa: E402

WELL_SPECIFIED = ("gaussian", "gaussian_strong", "gaussian_indep", "gaussian_3x3", "mixture3", "concentric_gaussian")


def halves(suite):
    """The suite split in two before any default was chosen from it: the sorted names
    alternately into 'tuning' (looked at while choosing) and 'held-out' (only reported)."""
    names = sorted(suite)
    return {"tuning": set(names[0::2]), "held-out": set(names[1::2])}


def _estimator(options, ks):
    """fastmi GMM-MI with ``options``; records the selected K of every call in ``ks``."""
    def estimate(x, y, *, y_type="continuous"):
        res = fastmi.mutual_info(x, y, method="gmm", y_type=y_type, rng=0, **options)
        ks.append(res.n_components)
        return res
    return estimate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="also run the baseline options, side by side")
    parser.add_argument("--baseline", default=None,
                        help="baseline options as JSON (default: fastmi.gmm.UPSTREAM_PROCEDURE)")
    parser.add_argument("--options", default="{}", help="options of the measured side as JSON (default: none)")
    parser.add_argument("--halves", action="store_true", help="also summarise the tuning and held-out halves")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cases", default=None, help="comma-separated distributions (default: the suite)")
    args = parser.parse_args(argv)

    sides = {"new": json.loads(args.options)}
    if args.compare:
        sides["old"] = json.loads(args.baseline) if args.baseline else dict(UPSTREAM_PROCEDURE)
    suite = calibration_suite()
    if args.cases:
        suite = {k: suite[k] for k in args.cases.split(",")}
    ks = {name: [] for name in sides}
    ests = {name: _estimator(opts, ks[name]) for name, opts in sides.items()}
    table = run(ests, suite, n=args.n, seeds=args.seeds, as_frame=False)
    for name in sides:  # the untimed warm-up calls come first
        del ks[name][: len(ks[name]) - sum(r["estimator"] == name for r in table)]
    rows = {name: [r for r in table if r["estimator"] == name] for name in sides}
    for name in sides:
        for r, k in zip(rows[name], ks[name]):
            r["k"] = k

    for name, opts in sides.items():
        print(f"# {name}: {json.dumps(opts) if opts else 'defaults'}")
    head = f"{'case':28s} {'seed':>4s}"
    for name in sides:
        head += f" | {name + ' K':>6s} {'s':>6s} {'error':>8s} {'std':>7s}"
    print(head)
    for i, r0 in enumerate(rows["new"]):
        line = f"{r0['distribution']:28s} {r0['seed']:4d}"
        for name in sides:
            r = rows[name][i]
            line += f" | {str(r['k']):>6s} {r['seconds']:6.2f} {r['error']:+8.4f} {r['reported_std']:7.4f}"
        print(line)

    summary = {s["estimator"]: s for s in summarize_calibration(table, as_frame=False)}
    print()
    for name in sides:
        s = summary[name]
        print(f"{name}: total {s['total_seconds']:.2f} s, max {s['max_seconds']:.2f} s, MAE {s['mae']:.4f}, "
              f"coverage +-1 {s['coverage_1']:.2f}, +-2 {s['coverage_2']:.2f} ({s['runs']} runs)")
        well = [r for r in rows[name] if r["distribution"] in WELL_SPECIFIED]
        if well:
            print(f"  well-specified K: {[r['k'] for r in well]}")
            print(f"  well-specified std: {[round(r['reported_std'], 4) for r in well]}")
    if args.halves:
        print()
        for half, names in halves(suite).items():
            part = summarize_calibration([r for r in table if r["distribution"] in names], as_frame=False)
            for s in part:
                print(f"{half:8s} {s['estimator']}: MAE {s['mae']:.4f}, +-1 {s['coverage_1']:.2f}, "
                      f"+-2 {s['coverage_2']:.2f}, unflagged +-1 {s['coverage_1_unflagged']:.2f} "
                      f"+-2 {s['coverage_2_unflagged']:.2f}, flagged {s['flagged']}, total {s['total_seconds']:.1f} s, "
                      f"max {s['max_seconds']:.2f} s ({s['runs']} runs)")
    if args.compare:
        new, old = summary["new"], summary["old"]
        print(f"\nspeed-up (old / new): total {old['total_seconds'] / new['total_seconds']:.2f}x, "
              f"max {old['max_seconds'] / new['max_seconds']:.2f}x")


if __name__ == "__main__":
    main()
