"""``fastmi bench``: run fastmi's estimators on distributions with a known MI."""
from __future__ import annotations

import argparse
import sys

from .. import _registry

DEFAULT_DISTRIBUTIONS = ("gaussian", "gamma_exp", "mixture3", "student_t", "uniform_noise", "gaussian_exp_cube",
                         "categorical")
DESCRIPTION = ("Benchmark fastmi's estimators on distributions with a known mutual information: "
               "prints a summary (bias, RMSE over seeds, median time) and optionally writes the full "
               "table and an error-vs-time plot.")


def add_arguments(parser):
    """Add the ``fastmi bench`` options to an ``argparse`` parser."""
    parser.add_argument("--estimators", nargs="+", default=_registry.benchmarked(), metavar="METHOD",
                        choices=_registry.names(),
                        help=f"fastmi methods: {' '.join(_registry.names())} (default: %(default)s)")
    parser.add_argument("--distributions", nargs="+", default=None, metavar="DIST",
                        help="preset names or 'kind:key=value,...' specs, e.g. gaussian:rho=0.9,dx=2 "
                             f"(see --list; default: {' '.join(DEFAULT_DISTRIBUTIONS)}; with --calibration, the "
                             "hard families and the continuous presets)")
    parser.add_argument("--n", nargs="+", type=int, default=None,
                        help="sample size(s) (default 10000; 5000 with --calibration)")
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="data seeds (default: 0; 0 1 2 with --calibration)")
    parser.add_argument("--calibration", action="store_true",
                        help="report the coverage of the ±1 and ±2 std error bars and the z-scores, per estimator "
                             "(--plot then draws z against the cases)")
    parser.add_argument("--n-bootstrap", type=int, default=None, help="replicates for every method's error bar "
                                                                      "(default: each method's default)")
    parser.add_argument("--mc-samples", type=int, default=None,
                        help="Monte-Carlo samples (the methods that integrate, e.g. gmm)")
    parser.add_argument("--k", type=int, default=None, help="neighbours (the nearest-neighbour methods; default 3)")
    parser.add_argument("--n-jobs", type=int, default=None, help="threads per estimate (default: all cores)")
    parser.add_argument("--out", metavar="TABLE", help="write the full table (.csv, or .md for markdown)")
    parser.add_argument("--plot", metavar="PNG", help="save an error-vs-time figure (needs matplotlib)")
    parser.add_argument("--list", action="store_true", help="list the preset distributions and exit")
    parser.add_argument("--quiet", action="store_true", help="no per-run progress lines")
    return parser


def register_cli(subparsers):
    """Add the ``bench`` sub-command to a ``fastmi`` sub-parser set.

    The parser's ``func`` default is :func:`run_cli`, which takes the parsed namespace and
    returns an exit status: use ``args.func(args)``.
    """
    p = subparsers.add_parser("bench", help="benchmark estimators on distributions with a known MI",
                              description=DESCRIPTION)
    add_arguments(p)
    p.set_defaults(func=run_cli)
    return p


def run_cli(args):
    """Execute ``fastmi bench`` for a parsed namespace; returns the exit status."""
    from .._outputs import check_output_paths
    from . import _runner
    from ._catalog import get_distribution, list_distributions

    if args.list:
        for name in list_distributions():
            print(get_distribution(name).describe())
        return 0
    # before the benchmark runs: a missing matplotlib or an unwritable path fails in a second, not at the end
    check_output_paths([("--out", args.out), ("--plot", args.plot)], figures=("--plot",))
    options = {}
    given = {k: v for k, v in (("n_bootstrap", args.n_bootstrap), ("mc_samples", args.mc_samples), ("k", args.k))
             if v is not None}
    for m in args.estimators:  # each option goes to the methods that take it
        accepted = _registry.get(m).parameters()
        options[m] = {k: v for k, v in given.items() if k in accepted}
    ests = _runner.fastmi_estimators(args.estimators, n_jobs=args.n_jobs, options=options)
    if args.calibration:
        return _run_calibration(args, ests)
    dists = [get_distribution(d) for d in args.distributions or DEFAULT_DISTRIBUTIONS]
    table = _runner.run(ests, dists, n=args.n or [10_000], seeds=args.seeds or [0], progress=not args.quiet,
                        as_frame=False)
    summary = _runner.summarize(table, as_frame=False)
    print(_runner.to_markdown(summary), end="")
    if args.out:
        _runner.write_table(table, args.out)
        print(f"table: {args.out}")
    if args.plot:
        fig = _runner.plot(summary, title=f"fastmi bench (n={','.join(map(str, args.n or [10_000]))}, "
                                          f"{len(args.seeds or [0])} seed(s))")
        fig.savefig(args.plot, dpi=130)
        print(f"plot: {args.plot}")
    return 0


def _run_calibration(args, ests):
    from . import _runner
    from ._calibration import calibration, calibration_suite, plot_calibration
    from ._catalog import get_distribution

    dists = calibration_suite() if args.distributions is None else [get_distribution(d) for d in args.distributions]
    table, summary = calibration(ests, dists, n=args.n or [5000], seeds=args.seeds or [0, 1, 2],
                                 progress=not args.quiet, as_frame=False)
    print(_runner.to_markdown(summary), end="")
    if args.out:
        _runner.write_table(table, args.out)
        print(f"table: {args.out}")
    if args.plot:
        ax = plot_calibration(table)
        ax.figure.savefig(args.plot, dpi=130)
        print(f"plot: {args.plot}")
    return 0


def main(argv=None):
    """Entry point of ``fastmi bench`` / ``python -m fastmi.bench``; returns the exit status."""
    parser = add_arguments(argparse.ArgumentParser(prog="fastmi bench", description=DESCRIPTION))
    args = parser.parse_args(argv)
    try:
        return run_cli(args)
    except (ValueError, ImportError) as exc:
        print(f"fastmi bench: error: {exc}", file=sys.stderr)
        return 2
