"""GMM-MI on independent pairs with non-Gaussian marginals: is an MI of 0 reported as 0?

    python benchmarks/calibration_independence.py                       # both halves, n = 1000 and 5000
    python benchmarks/calibration_independence.py --options '{"copula": false}'   # another option set
    python benchmarks/calibration_independence.py --matrix               # also the 10 x 6 mi_matrix case

For every family, ``--seeds`` data sets at each n: z = mi / std (the truth is 0). Printed per
family and n: the mean z, the share of runs with |z| <= 2, the selected K range and the share
flagged by the misfit check. Target (issue 19): mean z <= 1.0 and |z| <= 2 in >= 90 % of runs.

The families are split in two before any default is chosen: ``TUNING`` was looked at while
choosing, ``HELD_OUT`` only to report.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import fastmi  # noqa: E402


def _bimodal(rng, n):
    return np.where(rng.random(n) < 0.5, -2.0, 2.0) + 0.5 * rng.standard_normal(n)


#: independent (x, y) samplers: name -> f(rng, n) -> (x, y); x is 2-D where the name says so
TUNING = {
    "uniform_x_gauss_y": lambda rng, n: (rng.random(n), rng.standard_normal(n)),
    "bimodal_x_uniform_y": lambda rng, n: (_bimodal(rng, n), rng.random(n)),
    "uniform2d_x_exp_y": lambda rng, n: (rng.random((n, 2)), rng.exponential(size=n)),
    "beta_x_gamma_y": lambda rng, n: (rng.beta(0.5, 0.5, n), rng.gamma(0.7, size=n)),
}
HELD_OUT = {
    "exp_x_gauss_y": lambda rng, n: (rng.exponential(size=n), rng.standard_normal(n)),
    "student3_x_lognormal_y": lambda rng, n: (rng.standard_t(3, n), rng.lognormal(size=n)),
    # dependence inside x (a parabola), none between x and y
    "parabola2d_x_uniform_y": lambda rng, n: (
        np.column_stack([u := rng.uniform(-1, 1, n), u ** 2 + 0.05 * rng.standard_normal(n)]), rng.random(n)),
    "bimodal2d_x_student5_y": lambda rng, n: (
        np.column_stack([_bimodal(rng, n), _bimodal(rng, n)]), rng.standard_t(5, n)),
}
#: added after the K > 1 permutation-null correction was designed on the parabola above, to check
#: it on data it was not designed on: non-Gaussian copulas inside x (a ring, a sine), so K > 1
HELD_OUT_K = {
    "ring2d_x_exp_y": lambda rng, n: (
        np.column_stack([np.cos(t := rng.uniform(0, 2 * np.pi, n)), np.sin(t)]) * (1 + 0.1 * rng.standard_normal((n, 1))),
        rng.exponential(size=n)),
    "sine2d_x_student3_y": lambda rng, n: (
        np.column_stack([u := rng.uniform(-1, 1, n), np.sin(3 * u) + 0.1 * rng.standard_normal(n)]),
        rng.standard_t(3, n)),
}
REFERENCE = {"gauss_x_gauss_y": lambda rng, n: (rng.standard_normal(n), rng.standard_normal(n))}


def matrix_case(rng, n=3000):
    """The 10 x 6 matrix of the issue: 6 uniform parameters, 5 latents that are sines of
    parameters 0-4 plus noise, and 5 pure-noise latents; returns (latents, params, truth_zero mask)."""
    params = rng.uniform(-1, 1, (n, 6))
    sines = np.sin(3.0 * params[:, :5]) + 0.3 * rng.standard_normal((n, 5))
    noise = rng.standard_normal((n, 5))
    latents = np.column_stack([sines, noise])
    zero = np.ones((10, 6), bool)
    zero[np.arange(5), np.arange(5)] = False
    return latents, params, zero


def run_family(sampler, n, seeds, options):
    z, ks, flagged, secs = [], [], [], []
    for seed in range(seeds):
        x, y = sampler(np.random.default_rng(1000 + seed), n)
        t = time.perf_counter()
        r = fastmi.mutual_info(x, y, method="gmm", rng=seed, **options)
        secs.append(time.perf_counter() - t)
        z.append(r.mi / r.std if r.std > 0 else (0.0 if r.mi == 0 else np.inf))
        ks.append(r.n_components)
        flagged.append(bool(r.diagnostics.get("misfit", False)))
    return np.array(z), ks, np.array(flagged), np.array(secs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--options", default="{}", help="GMM-MI options as JSON (default: the defaults)")
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--half", choices=["tuning", "held_out", "held_out_k", "both"], default="both",
                        help="both: all three halves (held_out_k: the K > 1 families added later)")
    parser.add_argument("--matrix", action="store_true", help="also the 10 x 6 mi_matrix case")
    args = parser.parse_args(argv)
    options = json.loads(args.options)
    halves = {"tuning": TUNING, "held_out": HELD_OUT, "held_out_k": HELD_OUT_K}
    if args.half != "both":
        halves = {args.half: halves[args.half]}
    halves["reference"] = REFERENCE
    print(f"# options: {json.dumps(options) if options else 'defaults'}; {args.seeds} seeds")
    print(f"{'half':10s} {'family':26s} {'n':>5s} {'mean z':>7s} {'|z|<=2':>7s} {'K':>7s} {'flag':>5s} {'max s':>6s}")
    ok = True
    for half, fams in halves.items():
        for name, sampler in fams.items():
            for n in args.n:
                z, ks, fl, secs = run_family(sampler, n, args.seeds, options)
                within = np.mean(np.abs(z) <= 2)
                hit = z.mean() <= 1.0 and within >= 0.9
                ok &= hit or half == "reference"
                print(f"{half:10s} {name:26s} {n:5d} {z.mean():7.2f} {within:7.2f} {min(ks):>3d}-{max(ks):<3d} "
                      f"{fl.mean():5.2f} {secs.max():6.2f}{'' if hit else '  MISS'}", flush=True)
    if args.matrix:
        zs, fl = [], []
        for seed in range(max(1, args.seeds // 5)):
            lat, par, zero = matrix_case(np.random.default_rng(seed))
            m = fastmi.mi_matrix(lat, par, method="gmm", rng=seed, **options)
            zz = m.values / m.stds
            zs.append(zz[zero])
            fl.append(np.asarray(m.misfit)[zero])
        zs, fl = np.concatenate(zs), np.concatenate(fl)
        hit = zs.mean() <= 1.0 and np.mean(np.abs(zs) <= 2) >= 0.9
        ok &= hit
        print(f"mi_matrix 10x6, N=3000, {zs.size} zero entries: mean z {zs.mean():.2f}, |z|<=2 "
              f"{np.mean(np.abs(zs) <= 2):.2f}, flagged {fl.mean():.2f}{'' if hit else '  MISS'}")
    print("all targets met" if ok else "some targets missed")


if __name__ == "__main__":
    main()
