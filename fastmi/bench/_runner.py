"""Run MI estimators on distributions with a known MI and tabulate error and time."""
from __future__ import annotations

import csv
import inspect
import math
import time
import warnings

import numpy as np

from .. import _registry
from .._result import unit_scale
from .._validation import check_choice, check_int
from ._catalog import get_distribution
from ._distributions import Distribution

__all__ = ["COLUMNS", "Unsupported", "fastmi_estimators", "run", "summarize", "to_markdown", "write_table",
           "plot"]

COLUMNS = ("estimator", "distribution", "n", "seed", "true_mi", "estimate", "error", "reported_std", "seconds",
           "status", "flagged")
"""Columns of the table returned by :func:`run`, in order."""

SUMMARY_COLUMNS = ("estimator", "distribution", "n", "runs", "true_mi", "mean_estimate", "bias", "rmse",
                   "sd_estimate", "mean_reported_std", "median_seconds")


class Unsupported(Exception):
    """Raised by an estimator for data it does not handle (e.g. 2-D x, categorical y).

    :func:`run` records such a run with status ``'unsupported: <message>'`` and a NaN
    estimate, without a warning.
    """


# ---------------------------------------------------------------------------------------------
# ready-made estimators
# ---------------------------------------------------------------------------------------------
def fastmi_estimators(methods=None, *, rng=0, n_jobs=None, options=None):
    """fastmi's own estimators as callables for :func:`run`.

    Parameters
    ----------
    methods : sequence of str, optional
        Any registered methods (``fastmi.list_methods()``); default 'gmm' and 'ksg'.
    rng : None, int, SeedSequence or Generator, default=0
        Passed to every call, so that an estimator's own randomness (initialisations,
        bootstrap, Monte Carlo, jitter) is the same on every data set.
    n_jobs : int, optional
        Threads per call (None: all cores).
    options : dict, optional
        ``method -> dict`` of extra keyword arguments, e.g.
        ``{'gmm': {'n_bootstrap': 10, 'mc_samples': 20_000}, 'ksg': {'k': 5}}``.

    Returns
    -------
    dict
        ``'fastmi-<method>' -> callable(x, y, *, y_type='continuous') -> MIResult``. The
        callables accept ``y_type`` so that :func:`run` routes categorical data to the
        categorical variants (methods with ``categorical_y`` in ``fastmi.list_methods()``);
        the others raise :class:`Unsupported` there.
    """
    if methods is None:
        methods = _registry.benchmarked()
    if isinstance(methods, str):
        methods = (methods,)
    options = dict(options or {})
    unknown = (set(methods) | set(options)) - set(_registry.names())
    if unknown:
        raise ValueError(f"unknown fastmi method(s) {sorted(unknown)}; choose from {_registry.names()}")
    return {f"fastmi-{m}": _make_fastmi(m, rng, n_jobs, dict(options.get(m, {}))) for m in methods}


def _make_fastmi(method, rng, n_jobs, kwargs):
    def estimator(x, y, *, y_type="continuous"):
        import fastmi

        if y_type == "categorical" and method not in _registry.names("categorical"):
            raise Unsupported(f"fastmi method {method!r} has no categorical variant")
        return fastmi.mutual_info(x, y, method=method, y_type=y_type, rng=rng, n_jobs=n_jobs, **kwargs)

    estimator.__name__ = f"fastmi_{method}"
    estimator.__qualname__ = estimator.__name__
    estimator.__doc__ = f"fastmi.mutual_info(x, y, method={method!r}, rng={rng!r}, n_jobs={n_jobs!r}, **{kwargs!r})"
    return estimator


# ---------------------------------------------------------------------------------------------
# the runner
# ---------------------------------------------------------------------------------------------
def _resolve_estimators(estimators):
    if callable(estimators) and not isinstance(estimators, dict):
        return {getattr(estimators, "__name__", "estimator"): estimators}
    if isinstance(estimators, str):
        estimators = [estimators]
    if isinstance(estimators, dict):
        out = dict(estimators)
    else:
        out = {}
        for e in estimators:
            if isinstance(e, str):
                name = e[len("fastmi-"):] if e.startswith("fastmi-") else e
                out.update(fastmi_estimators([name]))
            elif callable(e):
                out[getattr(e, "__name__", f"estimator{len(out)}")] = e
            else:
                raise ValueError(f"an estimator must be a callable or a fastmi method name, got {e!r}")
    if not out:
        raise ValueError("no estimators given")
    for name, fn in out.items():
        if not callable(fn):
            raise ValueError(f"estimator {name!r} is not callable: {fn!r}")
    return {str(k): v for k, v in out.items()}


def _resolve_distributions(distributions):
    if isinstance(distributions, (str, Distribution)):
        distributions = [distributions]
    if isinstance(distributions, dict):
        out = {str(k): get_distribution(v) for k, v in distributions.items()}
    else:
        out = {}
        for d in distributions:
            d = get_distribution(d)
            if d.name in out:
                raise ValueError(f"two distributions are named {d.name!r}; pass a dict to name them")
            out[d.name] = d
    if not out:
        raise ValueError("no distributions given")
    return out


def _int_list(value, name, low):
    values = [value] if np.ndim(value) == 0 else list(value)
    if not values:
        raise ValueError(f"{name} is empty")
    return [check_int(v if not isinstance(v, np.integer) else int(v), name, low=low) for v in values]


def _accepts_y_type(fn):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "y_type" in params


def _call(fn, accepts_y_type, x, y, y_type):
    if accepts_y_type:
        return fn(x, y, y_type=y_type)
    return fn(x, y)


def _interpret(result):
    """(estimate in nats, reported std in nats, self-reported seconds or None, flagged).

    ``flagged`` is True when the estimator marked its own result as unreliable: a dict's
    ``'flagged'``, or ``diagnostics['misfit']`` of an MIResult."""
    seconds = None
    unit = "nat"
    flagged = False
    if isinstance(result, dict):
        if "mi" not in result:
            raise ValueError(f"an estimator returned a dict without 'mi': {sorted(result)}")
        mi, std = result["mi"], result.get("std")
        unit = result.get("unit", "nat")
        seconds = result.get("seconds")
        flagged = bool(result.get("flagged", False))
    elif hasattr(result, "mi"):
        mi, std = result.mi, getattr(result, "std", None)
        unit = getattr(result, "unit", "nat")
        flagged = bool((getattr(result, "diagnostics", None) or {}).get("misfit", False))
    else:
        arr = np.asarray(result, dtype=np.float64)
        if arr.size != 1:
            raise ValueError(f"an estimator returned {arr.size} values where one MI was expected")
        mi, std = float(arr.reshape(())), None
    scale = 1.0 / unit_scale(unit)
    mi = float(mi) * scale
    std = math.nan if std is None else float(std) * scale
    return mi, std, (None if seconds is None else float(seconds)), flagged


def run(estimators, distributions, n=10_000, seeds=(0,), *, warmup=True, errors="record", as_frame=None,
        progress=False):
    """Run every estimator on the same samples of every distribution and tabulate the errors.

    Parameters
    ----------
    estimators : dict, callable, str or list
        ``name -> callable(x, y) -> float | MIResult | dict``. A callable that accepts a
        ``y_type`` keyword gets ``y_type=distribution.y_type``. A dict result needs ``'mi'``
        and may have ``'std'``, ``'unit'`` and ``'seconds'`` (time reported by the estimator
        itself, e.g. work done in another process; it replaces the wall-clock time).
        Results in bits (``unit='bit'``) are converted to nats. Strings name fastmi
        methods (see :func:`fastmi_estimators`).
    distributions : dict, Distribution, str or list
        Distributions, preset names or ``'kind:key=value'`` specs (see
        ``fastmi.bench.get_distribution``); a dict gives them table names.
    n : int or sequence of int, default=10_000
        Sample size(s).
    seeds : int or sequence of int, default=(0,)
        Data seeds: the sample for (distribution, n, seed) is
        ``distribution.sample(n, np.random.default_rng(seed))``, drawn once and given (as a
        fresh copy) to every estimator. An int ``s`` means ``range(s)``.
    warmup : bool, default=True
        Call each estimator once, untimed, on 200 samples of the first distribution of
        each ``y_type`` before timing (just-in-time compilation, caches).
    errors : {'record', 'raise'}, default='record'
        What to do when an estimator raises: record it (status ``'error: ...'``, NaN
        estimate, a RuntimeWarning) or re-raise. :class:`Unsupported` is always recorded.
    as_frame : bool, optional
        Return a pandas DataFrame (default when pandas is installed) or a list of dicts.
    progress : bool, default=False
        Print one line per run to stderr.

    Returns
    -------
    pandas.DataFrame or list of dict
        One row per (estimator, distribution, n, seed) with columns ``COLUMNS``:
        estimator, distribution, n, seed, true_mi, estimate, error (= estimate − true_mi),
        reported_std (the estimator's own std; NaN if it gives none), seconds, status
        ('ok', 'unsupported: ...' or 'error: ...'), flagged (the estimator marked its
        result as unreliable, e.g. GMM-MI's misfit check). All MI values are in nats.

    Examples
    --------
    >>> import fastmi.bench as fb
    >>> table = fb.run({"zero": lambda x, y: 0.0}, ["gaussian", "uniform_noise"], n=500, seeds=2)
    >>> len(table)
    4
    """
    ests = _resolve_estimators(estimators)
    dists = _resolve_distributions(distributions)
    ns = _int_list(n, "n", 1)
    if np.ndim(seeds) == 0:
        seed_list = list(range(check_int(int(seeds) if isinstance(seeds, np.integer) else seeds, "seeds", low=1)))
    else:
        seed_list = _int_list(seeds, "seeds", 0)
    check_choice(errors, "errors", {"record", "raise"})
    takes_y_type = {name: _accepts_y_type(fn) for name, fn in ests.items()}

    if warmup:
        firsts = {}
        for d in dists.values():
            firsts.setdefault(d.y_type, d)
        for d in firsts.values():
            x, y = d.sample(min(200, max(ns)), np.random.default_rng(2**32 - 1))
            for name, fn in ests.items():
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        _call(fn, takes_y_type[name], x.copy(), y.copy(), d.y_type)
                except Exception:  # noqa: BLE001 - the timed call reports it
                    pass

    rows = []
    for dname, dist in dists.items():
        true_mi = float(dist.mi)
        for n_ in ns:
            for seed in seed_list:
                x, y = dist.sample(n_, np.random.default_rng(seed))
                for ename, fn in ests.items():
                    row = {"estimator": ename, "distribution": dname, "n": n_, "seed": seed, "true_mi": true_mi,
                           "estimate": math.nan, "error": math.nan, "reported_std": math.nan,
                           "seconds": math.nan, "status": "ok", "flagged": False}
                    t0 = time.perf_counter()
                    try:
                        res = _call(fn, takes_y_type[ename], x.copy(), y.copy(), dist.y_type)
                        elapsed = time.perf_counter() - t0
                        mi, std, own, flagged = _interpret(res)
                        row.update(estimate=mi, error=mi - true_mi, reported_std=std,
                                   seconds=elapsed if own is None else own, flagged=flagged)
                    except Unsupported as exc:
                        row["status"] = f"unsupported: {exc}"
                    except Exception as exc:  # noqa: BLE001 - recorded, see `errors`
                        if errors == "raise":
                            raise
                        row["status"] = f"error: {type(exc).__name__}: {exc}"
                        warnings.warn(f"fastmi.bench: {ename} failed on {dname} (n={n_}, seed={seed}): "
                                      f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
                    rows.append(row)
                    if progress:
                        import sys

                        print(f"[bench] {ename:>20s} {dname:>24s} n={n_:<7d} seed={seed:<3d} "
                              f"est={row['estimate']:.4f} true={true_mi:.4f} t={row['seconds']:.3g}s "
                              f"{row['status'] if row['status'] != 'ok' else ''}", file=sys.stderr, flush=True)
    return _as_output(rows, COLUMNS, as_frame)


def _as_output(rows, columns, as_frame):
    if as_frame is None or as_frame:
        try:
            import pandas as pd
        except ImportError:
            if as_frame:
                raise ImportError("as_frame=True needs pandas: pip install pandas") from None
            return rows
        return pd.DataFrame(rows, columns=list(columns))
    return rows


def _records(table):
    if hasattr(table, "to_dict"):
        return table.to_dict("records")
    return list(table)


# ---------------------------------------------------------------------------------------------
# summaries, files, plots
# ---------------------------------------------------------------------------------------------
def summarize(table, *, as_frame=None):
    """Aggregate a :func:`run` table over seeds.

    Returns one row per (estimator, distribution, n) with: runs (successful ones),
    true_mi, mean_estimate, bias (mean error), rmse, sd_estimate (ddof=1 across seeds),
    mean_reported_std, median_seconds. Failed and unsupported runs are left out; a group
    with none left has NaN statistics. Same output type rules as :func:`run` (a DataFrame
    when given one).
    """
    recs = _records(table)
    if as_frame is None:
        as_frame = hasattr(table, "to_dict")
    groups = {}
    for r in recs:
        groups.setdefault((r["estimator"], r["distribution"], int(r["n"])), []).append(r)
    out = []
    for (est, dist, n), rs in groups.items():
        ok = [r for r in rs if r["status"] == "ok"]
        e = np.array([r["estimate"] for r in ok], dtype=float)
        err = np.array([r["error"] for r in ok], dtype=float)
        std = np.array([r["reported_std"] for r in ok], dtype=float)
        sec = np.array([r["seconds"] for r in ok], dtype=float)
        out.append({
            "estimator": est, "distribution": dist, "n": n, "runs": len(ok), "true_mi": float(rs[0]["true_mi"]),
            "mean_estimate": float(e.mean()) if e.size else math.nan,
            "bias": float(err.mean()) if err.size else math.nan,
            "rmse": float(np.sqrt(np.mean(err ** 2))) if err.size else math.nan,
            "sd_estimate": float(e.std(ddof=1)) if e.size > 1 else math.nan,
            "mean_reported_std": float(np.nanmean(std)) if std.size and np.isfinite(std).any() else math.nan,
            "median_seconds": float(np.median(sec)) if sec.size else math.nan,
        })
    return _as_output(out, SUMMARY_COLUMNS, as_frame)


def _fmt_cell(v, digits):
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return "–"
        return f"{v:.{digits}g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"
    return str(v).replace("|", "\\|")


def to_markdown(table, columns=None, *, digits=4):
    """A GitHub-flavoured markdown table of ``table`` (a DataFrame or a list of dicts).

    NaN is shown as '–'; floats with ``digits`` significant digits.
    """
    recs = _records(table)
    if columns is None:
        columns = list(table.columns) if hasattr(table, "columns") else list(recs[0]) if recs else []
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for r in recs:
        lines.append("| " + " | ".join(_fmt_cell(r.get(c, ""), digits) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def write_table(table, path):
    """Write a table to ``path``: markdown for '.md', CSV otherwise."""
    path = str(path)
    if path.endswith(".md"):
        with open(path, "w") as f:
            f.write(to_markdown(table))
        return
    if hasattr(table, "to_csv"):
        table.to_csv(path, index=False)
        return
    recs = _records(table)
    columns = list(recs[0]) if recs else list(COLUMNS)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(recs)


def plot(table, *, ax=None, metric="rmse", title=None):
    """Error against time: one point per (estimator, distribution), log-log axes.

    Parameters
    ----------
    table : DataFrame or list of dict
        A :func:`run` table (summarised here over seeds) or a :func:`summarize` table.
    ax : matplotlib Axes, optional
    metric : {'rmse', 'abs_bias'}, default='rmse'
        y axis: root-mean-square error over seeds, or ``|mean error|``.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Colour = estimator, marker = distribution, x = median seconds per call.
    """
    check_choice(metric, "metric", {"rmse", "abs_bias"})
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("fastmi.bench.plot needs matplotlib: pip install matplotlib") from None
    recs = _records(table)
    if recs and "rmse" not in recs[0]:
        recs = summarize(recs, as_frame=False)
    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 5))
    else:
        fig = ax.figure
    estimators = list(dict.fromkeys(r["estimator"] for r in recs))
    dists = list(dict.fromkeys(r["distribution"] for r in recs))
    markers = "osD^v<>pP*Xhd"
    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    floor = 1e-4
    for r in recs:
        y = r["rmse"] if metric == "rmse" else abs(r["bias"])
        if not (np.isfinite(y) and np.isfinite(r["median_seconds"])):
            continue
        ax.scatter(r["median_seconds"], max(y, floor), s=45, alpha=0.85,
                   color=colors[estimators.index(r["estimator"]) % len(colors)],
                   marker=markers[dists.index(r["distribution"]) % len(markers)], edgecolors="k", linewidths=0.4)
    for i, e in enumerate(estimators):
        ax.scatter([], [], color=colors[i % len(colors)], marker="o", label=e)
    for j, d in enumerate(dists):
        ax.scatter([], [], color="0.6", marker=markers[j % len(markers)], label=d)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("median seconds per estimate")
    ax.set_ylabel("RMSE over seeds [nat]" if metric == "rmse" else "|bias| [nat]")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, framealpha=0.8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
