"""GMM-MI speed: fastmi alone (pytest-benchmark), and fastmi vs upstream gmm-mi side by side.

pytest-benchmark (fastmi ``GMMMI().fit(x, y).estimate()`` at default settings, N = 1e4,
three cases; one warm-up round so Numba compilation is not timed):

    python -m pytest benchmarks/bench_gmm.py --benchmark-only    # [--quick: gaussian, mixture3]

Side by side with upstream gmm-mi 0.8.2 on identical data (upstream in .venv-upstream, built
on demand by benchmarks/upstream/make_venv.sh, with one BLAS/OpenMP thread: upstream at its
fastest on 2-D data), printing a markdown table:

    python benchmarks/bench_gmm.py --compare [--n 10000] [--seed 0] [--repeat 3]
                                   [--cases gaussian,mixture3,gamma_exp] [--init kmeans++]

Both sides run their defaults (fastmi's default init is 'kmeans++'; ``--init random_resp``
gives upstream's initialisation). Timings are ``time.perf_counter`` around fit + estimate
inside each process (interpreter start-up and imports excluded), best of ``--repeat`` for
fastmi and best of ``--upstream-repeat`` (default 1) for upstream; the runs are sequential
so they do not compete for cores. The machine may be shared: only ratios measured in one
invocation are meaningful. Target: >= 50x faster than upstream on each case.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from benchmarks.upstream import cases  # noqa: E402

N_BENCH = 10_000
SEED = 0


def _fastmi_run(x, y, **kw):
    import fastmi

    return fastmi.GMMMI(**kw).fit(x, y).estimate()


def _warm_up(**kw):
    """Compile every Numba kernel on a small problem so that compilation is never timed."""
    x, y = cases.make("mixture3", 2_000, 123)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _fastmi_run(x, y, n_bootstrap=2, mc_samples=1_000, rng=0, **kw)


# ------------------------------------------------------------------------------ pytest-benchmark
try:
    import pytest
except ImportError:  # script mode without pytest
    pytest = None

if pytest is not None:

    @pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.quick) if c != "gamma_exp" else c
                                      for c in cases.BENCH_CASES])
    def test_gmm_fit_estimate(benchmark, case):
        x, y = cases.make(case, N_BENCH, SEED)
        _warm_up()
        res = benchmark.pedantic(_fastmi_run, args=(x, y), kwargs={"rng": 0}, rounds=3, iterations=1,
                                 warmup_rounds=1)
        benchmark.extra_info.update(case=case, n=N_BENCH, mi=float(res.mi), std=float(res.std),
                                    n_components=res.n_components, true_mi=cases.true_mi(case))
        assert abs(res.mi - cases.true_mi(case)) < 5 * res.std + 0.01


# ------------------------------------------------------------------------------ --compare
def _time_fastmi(x, y, repeat, **kw):
    best, res = float("inf"), None
    for _ in range(repeat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            res = _fastmi_run(x, y, **kw)
            best = min(best, time.perf_counter() - t0)
    return best, res


def _fmt(mi, std):
    return f"{mi:.4f} ± {std:.4f}"


def compare(args):
    from benchmarks.upstream import harness

    import fastmi

    harness.ensure_venv()
    _warm_up(init=args.init)
    rows = []
    for case in args.cases:
        x, y = cases.make(case, args.n, args.seed)
        ups = [harness.run_upstream(x, y, {}, use_cache=False) for _ in range(args.upstream_repeat)]
        up = min(ups, key=lambda r: r["seconds"])
        t_def, r_def = _time_fastmi(x, y, args.repeat, rng=0, init=args.init)
        t_one, r_one = _time_fastmi(x, y, args.repeat, rng=0, init=args.init, n_jobs=1)
        row = dict(case=case, up=up, t_def=t_def, t_one=t_one, r_def=r_def, r_one=r_one,
                   true=cases.true_mi(case))
        rows.append(row)
        print(f"# {case}: upstream {up['seconds']:.2f} s (K={up['n_components']}), fastmi {t_def:.3f} s "
              f"(n_jobs=None) / {t_one:.3f} s (n_jobs=1) (K={r_def.n_components})", file=sys.stderr, flush=True)

    up_v = rows[0]["up"]["versions"]
    print(f"\nGMM-MI, N={args.n}, seed={args.seed}, {os.cpu_count()} cores; upstream gmm-mi "
          f"{up_v['gmm-mi']} (scikit-learn {up_v['scikit-learn']}, numpy {up_v['numpy']}, one BLAS thread, "
          f"init random_sklearn); fastmi {fastmi.__version__} (init {args.init}); fit + estimate, "
          f"best of {args.upstream_repeat} (upstream) / {args.repeat} (fastmi).\n")
    print("| case | upstream s | fastmi s (n_jobs=None) | fastmi s (n_jobs=1) | ratio (None) | ratio (1) "
          "| upstream MI ± std (K) | fastmi MI ± std (K) | true MI |")
    print("|---|---:|---:|---:|---:|---:|---|---|---:|")
    for r in rows:
        up = r["up"]
        print(f"| {r['case']} | {up['seconds']:.2f} | {r['t_def']:.3f} | {r['t_one']:.3f} "
              f"| {up['seconds'] / r['t_def']:.1f}x | {up['seconds'] / r['t_one']:.1f}x "
              f"| {_fmt(up['mi'], up['std'])} ({up['n_components']}) "
              f"| {_fmt(r['r_def'].mi, r['r_def'].std)} ({r['r_def'].n_components}) | {r['true']:.4f} |")
    worst = min(r["up"]["seconds"] / r["t_def"] for r in rows)
    print(f"\nslowest speed-up (n_jobs=None): {worst:.1f}x; target >= 50x: {'met' if worst >= 50 else 'NOT met'}")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description="GMM-MI: fastmi vs upstream gmm-mi, side by side")
    p.add_argument("--compare", action="store_true", help="time fastmi and upstream on identical data")
    p.add_argument("--n", type=int, default=N_BENCH)
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--repeat", type=int, default=3, help="fastmi repeats (best is reported)")
    p.add_argument("--upstream-repeat", type=int, default=1, help="upstream repeats (best is reported)")
    p.add_argument("--cases", type=lambda s: s.split(","), default=list(cases.BENCH_CASES))
    p.add_argument("--init", default="kmeans++", help="fastmi init (default: its own default, kmeans++)")
    args = p.parse_args(argv)
    if not args.compare:
        p.error("use --compare (or run the pytest-benchmark cases with pytest)")
    compare(args)


if __name__ == "__main__":
    main()
