"""The ``fastmi`` command line."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings

from . import _registry
from ._outputs import check_extra as _check_extra
from ._outputs import check_output_paths as _check_output_paths


def _demo(args):
    import numpy as np
    from scipy.special import digamma

    import fastmi

    rng = np.random.default_rng(args.seed)
    alpha = args.alpha
    x = rng.gamma(alpha, 1.0, args.n)
    y = rng.exponential(1.0 / x)
    truth = float(digamma(alpha + 1) - math.log(alpha))
    t0 = time.perf_counter()
    r = fastmi.mutual_info(np.log(x), np.log(y), rng=args.seed, n_jobs=args.n_jobs)
    elapsed = time.perf_counter() - t0
    if args.json:
        print(json.dumps({"mi": r.mi, "std": r.std, "truth": truth, "n_components": r.n_components,
                          "seconds": elapsed, "unit": r.unit}))
        return 0
    print(f"GMM-MI demo: gamma-exponential toy (Piras et al. 2023), alpha={alpha}, N={args.n}")
    print("  x ~ Gamma(alpha, 1), y | x ~ Exponential(rate x); MI of (ln x, ln y)")
    print(f"  estimate : {r.mi:.4f} ± {r.std:.4f} nat   ({len(r.samples)} bootstrap replicates)")
    print(f"  truth    : {truth:.4f} nat   (psi(alpha+1) - ln alpha)")
    print(f"  |error|  : {abs(r.mi - truth) / r.std:.2f} std")
    print(f"  components (CV-selected K): {r.n_components}")
    from .gmm._kernels import _cache

    note = " (including the first compilation of the kernels)" if _cache.COLD else ""
    print(f"  time     : {elapsed:.2f} s{note}")
    return 0


def _warmup(args):
    from .gmm._kernels import _cache
    from .gmm._warmup import warm_up

    seconds = warm_up()
    where = _cache.CACHE_DIR if _cache.NUMBA_CACHE else "nowhere (caching is off or the folder is not writable)"
    print(f"GMM kernels compiled in {seconds:.1f} s; cached in {where}")
    return 0


# --------------------------------------------------------------------------- estimate / matrix
_RESERVED = {"rng", "unit", "n_jobs", "y_type", "method", "client", "progress", "executor", "x", "y", "z"}


def _parse_set(items):
    """``KEY=VALUE`` options for the estimator; VALUE is read as JSON when it parses."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key.isidentifier():
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        if key in _RESERVED:
            raise ValueError(f"--set {key}=... is not allowed; use the command's own option for {key!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _check_set_keys(options, method, accepted):
    """``options`` if every key is a parameter of ``method``, else a ValueError (exit 2) naming it."""
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        known = ", ".join(sorted(set(accepted) - _RESERVED))
        raise ValueError(f"--set {unknown[0]}=...: --method {method} has no parameter {unknown[0]!r}; "
                         f"its parameters: {known}")
    return options


def _int_or_auto(value):
    """argparse type of --mc-samples: 'auto' or an int."""
    return value if value == "auto" else int(value)


def _estimator_kwargs(args):
    kw = {}
    if args.n_bootstrap is not None:
        kw["n_bootstrap"] = args.n_bootstrap
    if args.mc_samples is not None:
        kw["mc_samples"] = args.mc_samples
    if args.n_components is not None:
        value = args.n_components
        if value != "auto":
            try:
                value = int(value)
            except ValueError:
                raise ValueError(f"--n-components must be 'auto' or an int, got {value!r}") from None
        kw["n_components"] = value
    if args.k is not None:
        kw["k"] = args.k
    kind = "categorical" if args.y_type == "categorical" else "mi"
    accepted = _registry.get(args.method, kind).parameters(kind)
    kw.update(_check_set_keys(_parse_set(args.set), args.method, accepted))
    for key in ("mc_samples", "n_components", "k"):
        if key in kw and key not in accepted:
            users = [m for m in _registry.names(kind) if key in _registry.get(m, kind).parameters(kind)]
            which = f"--method {users[0]} only" if len(users) == 1 else f"the methods {', '.join(users)}"
            raise ValueError(f"--{key.replace('_', '-')} applies to {which}, not {args.method!r}")
    return kw


def _save_figure(draw, path, figsize):
    """Draw with ``draw(ax)`` on a pyplot-free figure and save it to ``path``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=100, layout="constrained")
    draw(fig.add_subplot())
    try:
        fig.savefig(path)
    except (ValueError, OSError) as exc:  # unknown image format, unwritable directory
        raise ValueError(f"could not write the plot {path}: {exc}") from None
    return path


def _read_columns(args, option_values):
    from ._io import read_table

    table = read_table(args.file)
    return table, [table.select(v, opt) if v is not None else None for opt, v in option_values]


def _fmt(v, digits=4):
    return "nan" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}g}"


def _check_permutations(args):
    if args.permutations < 0:
        raise ValueError(f"--permutations must be >= 0 (0: no test), got {args.permutations}")


def _estimate(args):
    import fastmi

    kw = _estimator_kwargs(args)
    _check_permutations(args)
    if args.method != "gmm" and (args.plot_fit or args.plot_cv):
        raise ValueError("--plot-fit and --plot-cv draw GMM-MI fits; use them with --method gmm")
    if args.y_type == "categorical" and args.plot_fit:
        raise ValueError("--plot-fit draws the joint mixture of continuous x and y; not with --y-type categorical")
    _check_output_paths([("--plot-fit", args.plot_fit), ("--plot-bootstrap", args.plot_bootstrap),
                         ("--plot-cv", args.plot_cv)], figures=("--plot-fit", "--plot-bootstrap", "--plot-cv"))
    table, (xs, ys) = _read_columns(args, [("--x", args.x), ("--y", args.y)])
    both = [c for c in xs if c in ys]
    if both:
        raise ValueError(f"column(s) {both} are in both --x and --y")
    x = table.numeric(xs)
    if args.y_type == "categorical":
        if len(ys) != 1:
            raise ValueError(f"--y-type categorical takes one label column, got {len(ys)}: {ys}")
        y = table.labels(ys)
    else:
        y = table.numeric(ys)
    common = dict(rng=args.seed, unit=args.unit, n_jobs=args.n_jobs)
    est = None
    if args.method == "gmm":
        est = fastmi.GMMMI(y_type=args.y_type, **common, **kw).fit(x, y)
        r = est.estimate()
    else:
        r = fastmi.mutual_info(x, y, method=args.method, y_type=args.y_type, **common, **kw)
    test = None
    if args.permutations:
        from ._config import resolve_n_jobs
        from ._permutation import test_statistic
        from ._streams import root_seed

        pvalue, null, observed, about = test_statistic(
            r, args.seed, x, y, None, method=args.method, y_type=args.y_type, unit=args.unit, kwargs=kw,
            root=root_seed(args.seed), n_permutations=args.permutations, n_jobs=resolve_n_jobs(args.n_jobs),
            strata=None)
        test = {"pvalue": pvalue, "n_permutations": args.permutations, "observed": observed,
                "null_mean": float(null.mean()), "scheme": "rows of x permuted"}
        if about is not None:
            test["test_statistic"] = {k: v for k, v in about.items() if k != "null_mi"}
    if args.plot_bootstrap:
        if r.samples.size < 2:
            raise ValueError("--plot-bootstrap needs replicates: use --n-bootstrap 2 or more")
        _save_figure(lambda ax: fastmi.plot_bootstrap(r, ax=ax, level=args.level), args.plot_bootstrap, (6.0, 4.0))
    if args.plot_cv:
        _save_figure(lambda ax: fastmi.plot_cv(est, ax=ax), args.plot_cv, (6.0, 4.0))
    if args.plot_fit:
        names = (xs[0], ys[0]) if len(xs) == 1 and len(ys) == 1 else None
        _save_figure(lambda ax: fastmi.plot_fit(est, x, y, ax=ax, labels=names), args.plot_fit, (6.0, 5.0))
    if args.json:
        out = {"file": args.file, "x": xs, "y": ys, "n_samples": int(x.shape[0])}
        out.update(r.to_dict())
        if test is not None:
            out["permutation_test"] = test
        print(json.dumps(out))
        return 0
    label = f"I({','.join(xs)}; {','.join(ys)})"
    print(f"{label} = {r.mi:.6g} ± {_fmt(r.std, 3)} {r.unit}")
    if r.samples.size >= 2:
        lo, hi = r.ci(args.level)
        print(f"  {100 * args.level:g}% interval [{lo:.4g}, {hi:.4g}] from {r.samples.size} replicates")
    extra = f", K = {r.n_components} components" if r.n_components is not None else ""
    print(f"  method {r.method}{extra}, N = {x.shape[0]} samples ({os.path.basename(args.file)})")
    if test is not None:
        about = test.get("test_statistic")
        ks = " and ".join(str(k) for k in about["k"]) if about else ""
        on = f"; statistic: KSG at k = {ks} on normal scores, the smaller p-value" if about else ""
        print(f"  permutation test of independence: p = {test['pvalue']:.4g} ({args.permutations} permutations "
              f"of the rows of x{on})")
    if r.diagnostics.get("misfit"):
        print("  MISFIT: the mixture failed its goodness-of-fit check and the error bar does not cover it; "
              "compare with --method ksg")
    return 0


def _dask_client(args):
    """(client, closer) for --scheduler / --scheduler-file, or (None, no-op)."""
    if not args.scheduler and not args.scheduler_file:
        return None, lambda: None
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("--scheduler needs dask.distributed: pip install 'fastmi[dask]'") from None
    try:
        if args.scheduler_file:
            client = Client(scheduler_file=args.scheduler_file, timeout="30s")
            return client, client.close
        addr = args.scheduler
        if addr == "local" or addr.startswith("local:"):
            n = addr.partition(":")[2]
            if n and not n.isdigit():
                raise ValueError(f"--scheduler local:N needs an integer N, got {addr!r}")
            cluster = LocalCluster(n_workers=int(n) if n else None, threads_per_worker=1, dashboard_address=None)
            client = Client(cluster)

            def close():
                client.close()
                cluster.close()

            return client, close
        client = Client(addr, timeout="30s")
        return client, client.close
    except (OSError, TimeoutError) as exc:
        where = args.scheduler_file or args.scheduler
        raise ValueError(f"could not connect to the Dask scheduler {where}: {exc}") from None


def _matrix_table(m):
    cells = [[("·" if math.isnan(v) else f"{v:.3f}±{s:.3f}" if not math.isnan(s) else f"{v:.3f}")
              for v, s in zip(rv, rs)] for rv, rs in zip(m.values, m.stds)]
    w0 = max(len(n) for n in m.row_names)
    widths = [max(len(c), *(len(row[j]) for row in cells)) for j, c in enumerate(m.col_names)]
    lines = [" " * w0 + "  " + "  ".join(c.rjust(w) for c, w in zip(m.col_names, widths))]
    for name, row in zip(m.row_names, cells):
        lines.append(name.ljust(w0) + "  " + "  ".join(c.rjust(w) for c, w in zip(row, widths)))
    return "\n".join(lines)


def _matrix(args):
    import fastmi

    kw = _estimator_kwargs(args)
    _check_permutations(args)
    if not 0.0 < args.alpha < 1.0:
        raise ValueError(f"--alpha must lie in (0, 1), got {args.alpha}")
    out_ext = os.path.splitext(args.out)[1].lower() if args.out else None
    if args.out and out_ext not in (".csv", ".json"):
        raise ValueError(f"--out must end in .csv or .json, got {args.out!r}")
    if args.scheduler and args.scheduler_file:
        raise ValueError("give --scheduler or --scheduler-file, not both")
    if args.scheduler or args.scheduler_file:
        _check_extra("distributed", "--scheduler needs dask.distributed: pip install 'fastmi[dask]'")
    _check_output_paths([("--out", args.out), ("--plot", args.plot), ("--checkpoint", args.checkpoint)],
                        figures=("--plot",))
    table, (as_, bs) = _read_columns(args, [("--a", args.a), ("--b", args.b)])
    if args.y_type == "categorical" and bs is None:
        raise ValueError("--y-type categorical needs --b (the label columns)")
    A = table.numeric(as_)
    B = None if bs is None else (table.labels(bs) if args.y_type == "categorical" else table.numeric(bs))
    client, close = _dask_client(args)
    try:
        m = fastmi.mi_matrix(A, B, method=args.method, y_type=args.y_type, rng=args.seed, unit=args.unit,
                             n_jobs=args.n_jobs, client=client, progress=args.progress, executor=args.executor,
                             a_names=as_, b_names=bs, checkpoint=args.checkpoint,
                             n_permutations=args.permutations or None, **kw)
    finally:
        close()
    summary = {}
    if args.permutations:
        from ._result import _jsonable

        summary["pvalues"] = _jsonable(m.pvalues)
        summary["significant"] = m.significant(args.alpha, correction="bh").tolist()
        summary["alpha"] = args.alpha
    if bs is not None:
        summary["most_informative"] = m.most_informative()
        if len(as_) >= 2:
            summary["mig"] = fastmi.mig(m, B, bins=args.bins).to_dict()
    if args.out:
        if out_ext == ".json":
            with open(args.out, "w") as f:
                f.write(json.dumps({**m.to_dict(), **summary}))
        else:
            m.to_csv(args.out)
    if args.plot:
        p, q = m.shape
        _save_figure(lambda ax: fastmi.plot_mi_matrix(m, ax=ax), args.plot, (2.0 + 0.9 * q, 1.4 + 0.6 * p))
    if args.json:
        print(json.dumps({**m.to_dict(), **summary}))
        return 0
    reps = {r.samples.size for r in m.results.flat if r is not None}
    rep = f", {max(reps)} replicates per entry" if reps and max(reps) else ""
    print(f"MI matrix ({m.method}, {m.unit}), {m.shape[0]} x {m.shape[1]}{rep}, N = {A.shape[0]} "
          f"({os.path.basename(args.file)}, {m.diagnostics['seconds']:.1f} s)")
    print(_matrix_table(m))
    if args.permutations:
        import numpy as np

        sig = np.array(summary["significant"])
        hits = [f"{m.row_names[i]}-{m.col_names[j]}" for i, j in zip(*np.nonzero(sig))
                if not (m.symmetric and i > j)]
        print(f"\nsignificant at false-discovery rate {args.alpha:g} (Benjamini-Hochberg over {args.permutations}-"
              f"permutation p-values): {len(hits)} of {int(np.isfinite(m.pvalues).sum() // (2 if m.symmetric else 1))}"
              + (f": {', '.join(hits)}" if hits else ""))
    if "most_informative" in summary:
        print("\nmost informative --b column for each --a column:")
        for rec in summary["most_informative"]:
            if rec["col"] is None:
                continue
            tail = (f"   (runner-up {rec['runner_up']}: {rec['runner_up_mi']:.4g}; gap {rec['gap']:.4g} ± "
                    f"{_fmt(rec['gap_std'], 2)})" if rec["runner_up"] is not None else "")
            print(f"  {rec['row']} -> {rec['col']}: {rec['mi']:.4g} ± {_fmt(rec['std'], 2)}{tail}")
    if "mig" in summary:
        g = summary["mig"]
        print(f"\nMIG = {g['mig']:.4f} ± {_fmt(g['std'], 2)}   (gap / H(factor); H: plug-in entropy of discrete "
              f"factors, {args.bins}-bin histogram of continuous ones)")
        for name, gap, top, sec in zip(g["factors"], g["gaps"], g["top"], g["second"]):
            print(f"  {name}: gap {gap:.3f} ({top} vs {sec})")
    if args.out:
        print(f"\ntable written to {args.out}")
    if args.plot:
        print(f"heatmap written to {args.plot}")
    return 0


def _add_estimator_options(p, *, default_method="gmm"):
    p.add_argument("--method", default=default_method, choices=_registry.names(),
                   help="estimator (default gmm: GMM-MI)")
    p.add_argument("--y-type", default="continuous", choices=["continuous", "categorical"],
                   help="categorical: the y/b columns are class labels (methods gmm, ksg)")
    p.add_argument("--n-bootstrap", type=int, default=None, metavar="N",
                   help="bootstrap/subsample replicates for the error bar; 0: point estimate only (default: the "
                        "method's: 50 bootstrap fits for gmm; for the k-NN methods disjoint partitions into 64 "
                        "pieces in all, at most about one more estimate's time (KSG at N = 1e5-1e6: 0.5-0.7 more); 20 half-size subsamples for discrete, "
                        "gaussian and gcmi)")
    p.add_argument("--mc-samples", type=_int_or_auto, default=None, metavar="N",
                   help="Monte-Carlo samples per MI integral: an int or 'auto' (gmm; default 'auto')")
    p.add_argument("--n-components", default=None, metavar="K",
                   help="mixture components: 'auto' (cross-validated, the default) or an int (gmm)")
    p.add_argument("--k", type=int, default=None, help="neighbours (ksg, ksg2, mixed; default 3)")
    p.add_argument("--unit", default="nat", choices=["nat", "bit"], help="unit of the result (default nat)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0: reruns give the same numbers)")
    p.add_argument("--n-jobs", type=int, default=None, metavar="N", help="threads (default: all cores)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="any other estimator parameter, VALUE read as JSON (e.g. --set init=random_resp "
                        "--set tol=1e-6); repeatable")
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def build_parser():
    parser = argparse.ArgumentParser(prog="fastmi", description="Fast mutual-information estimators.")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="estimate MI on a built-in data set with a known answer")
    demo.add_argument("--n", type=int, default=10_000, help="number of samples (default 10000)")
    demo.add_argument("--alpha", type=float, default=1.0, help="gamma shape parameter (default 1)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--n-jobs", type=int, default=None, help="threads (default: all cores)")
    demo.add_argument("--json", action="store_true", help="print the result as JSON")
    demo.set_defaults(func=_demo)

    formats = "FILE: CSV/TSV (header row optional), NPY, NPZ or Parquet (with pyarrow)."
    cols = ("COLS: comma-separated column names, 0-based indices, index slices (0:4, end excluded), name "
            "ranges (z0:z9, both ends included) or patterns (z*); in an NPZ file a 2-D array's name selects all "
            "its columns.")
    warm = sub.add_parser("warmup", help="compile and cache the GMM kernels now (for images and shared installs)",
                          description="Compile every GMM-MI kernel by small fits and cache the machine code in the "
                                      "user cache folder (NUMBA_CACHE_DIR/fastmi, else XDG_CACHE_HOME/fastmi/numba), "
                                      "so that the first real job does not pay the compilation.")
    warm.set_defaults(func=_warmup)
    est = sub.add_parser("estimate", help="estimate I(X; Y) between columns of a data file",
                         description="Estimate the mutual information between the --x and --y columns of FILE, "
                                     "with its bootstrap error bar. " + formats + " " + cols)
    est.add_argument("file", metavar="FILE", help="data file")
    est.add_argument("--x", required=True, metavar="COLS", help="columns of X")
    est.add_argument("--y", required=True, metavar="COLS", help="columns of Y")
    _add_estimator_options(est)
    est.add_argument("--level", type=float, default=0.95, help="confidence level of the interval (default 0.95)")
    est.add_argument("--permutations", type=int, default=0, metavar="N",
                     help="also test independence with N permutations of the rows of x and print the p-value "
                          "(default 0: no test)")
    est.add_argument("--plot-fit", metavar="PNG", help="save the fitted mixture over the data (gmm, 2-D view)")
    est.add_argument("--plot-bootstrap", metavar="PNG", help="save the bootstrap distribution")
    est.add_argument("--plot-cv", metavar="PNG", help="save the cross-validation score against K (gmm)")
    est.set_defaults(func=_estimate)

    mat = sub.add_parser("matrix", help="MI between every pair of columns, with error bars (local or Dask)",
                         description="MI between every --a column and every --b column of FILE (or between all "
                                     "pairs of --a columns without --b), each with its error bar; with --b, also "
                                     "the most informative --b column for each --a column and the Mutual "
                                     "Information Gap. " + formats + " " + cols)
    mat.add_argument("file", metavar="FILE", help="data file")
    mat.add_argument("--a", required=True, metavar="COLS", help="row variables (e.g. latents)")
    mat.add_argument("--b", metavar="COLS", help="column variables (e.g. physical parameters); default: all pairs "
                                                 "of --a")
    _add_estimator_options(mat)
    mat.add_argument("--out", metavar="PATH", help="write the table: .csv (one row per pair: a, b, mi, std, ci_low, "
                                                   "ci_high, n_replicates) or .json (everything)")
    mat.add_argument("--plot", metavar="PNG", help="save the heatmap with ± annotations")
    mat.add_argument("--scheduler", metavar="ADDRESS",
                     help="run on a Dask cluster: a scheduler address (tcp://host:8786), or 'local[:N]' for a "
                          "LocalCluster of N single-thread workers; --n-jobs is then the threads per task (default 1)")
    mat.add_argument("--scheduler-file", metavar="PATH", help="connect to the Dask scheduler described by this "
                                                              "file (dask-mpi, dask-jobqueue set-ups)")
    mat.add_argument("--executor", default="threads", choices=["threads", "processes"],
                     help="local workers without a scheduler (default threads)")
    mat.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress bar (default: only in a terminal; needs tqdm)")
    mat.add_argument("--checkpoint", metavar="PATH",
                     help="record every finished entry in PATH as it completes; rerunning the same command "
                          "computes only the missing entries (a checkpoint of other data or options is refused)")
    mat.add_argument("--permutations", type=int, default=0, metavar="N",
                     help="also test every entry for independence with N permutations and report the entries "
                          "significant under Benjamini-Hochberg (default 0: no test)")
    mat.add_argument("--alpha", type=float, default=0.05, help="false-discovery rate of --permutations (default 0.05)")
    mat.add_argument("--bins", type=int, default=20,
                     help="histogram bins for the entropy of a continuous --b column in the MIG (default 20)")
    mat.set_defaults(func=_matrix)

    from .bench import register_cli

    register_cli(sub)  # fastmi bench: estimators against distributions with known MI
    for p in sub.choices.values():  # --traceback is accepted after the sub-command too
        p.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback of an error")
    return parser


def _one_line(exc):
    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    return " ".join(str(msg).split())


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"fastmi: warning: {category.__name__}: {_one_line(message)}", file=sys.stderr)


def _closed_pipe():
    """The reader of standard output went away (``fastmi ... | head``): stop quietly, as Unix
    tools do, with the status of a SIGPIPE; stdout is pointed at devnull so that the interpreter's
    final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced by an object without a descriptor
        pass
    return 141


def main(argv=None):
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            status = args.func(args)
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's final flush
            return status
        except (ValueError, KeyError, FileNotFoundError, IsADirectoryError, PermissionError, ImportError) as exc:
            if args.traceback:
                raise
            print(f"fastmi: error: {_one_line(exc)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("fastmi: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            return _closed_pipe()
        except Exception as exc:
            if args.traceback:
                raise
            print(f"fastmi: error: unexpected {type(exc).__name__}: {_one_line(exc)} (rerun with --traceback "
                  "for details)", file=sys.stderr)
            return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
