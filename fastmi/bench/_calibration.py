"""Calibration of reported error bars: how often the truth lies within ±1 and ±2 reported std."""
from __future__ import annotations

import math

import numpy as np

from ._distributions import PRESETS
from ._hard import HARD_SUITE
from ._runner import COLUMNS, _as_output, _records, fastmi_estimators, run

CALIBRATION_COLUMNS = ("estimator", "runs", "with_std", "flagged", "coverage_1", "coverage_2",
                       "coverage_1_unflagged", "coverage_2_unflagged", "median_abs_z", "mae", "total_seconds",
                       "max_seconds")
"""Columns of the summary returned by :func:`calibration`."""


def calibration_suite():
    """The distributions :func:`calibration` uses by default: the hard families
    (``HARD_SUITE``) and the continuous presets (``PRESETS``)."""
    from ._catalog import get_distribution

    names = [k for k in PRESETS if get_distribution(k).y_type == "continuous"] + list(HARD_SUITE)
    return {k: get_distribution(k) for k in names}


def z_scores(table):
    """(estimate − truth) / reported std for every row of a :func:`run` table (NaN where the
    estimator gave no std or failed)."""
    out = []
    for r in _records(table):
        std = r["reported_std"]
        ok = r["status"] == "ok" and std is not None and math.isfinite(std) and std > 0
        out.append(r["error"] / std if ok else math.nan)
    return np.array(out)


def summarize_calibration(table, *, as_frame=None):
    """Per estimator: the coverage of the ±1 and ±2 std intervals, with and without the runs
    the estimator flagged, the share flagged, the median ``|z|``, the mean absolute error and the
    time (see ``CALIBRATION_COLUMNS``)."""
    rows = _records(table)
    z = z_scores(rows)
    out = []
    for name in dict.fromkeys(r["estimator"] for r in rows):
        idx = [i for i, r in enumerate(rows) if r["estimator"] == name and r["status"] == "ok"]
        zi = z[idx]
        has = np.isfinite(zi)
        flagged = np.array([bool(rows[i]["flagged"]) for i in idx], dtype=bool)
        errs = np.array([abs(rows[i]["error"]) for i in idx])
        secs = np.array([rows[i]["seconds"] for i in idx])

        def cover(mask, w):
            m = mask & has
            return float(np.mean(np.abs(zi[m]) <= w)) if m.any() else math.nan

        out.append({
            "estimator": name, "runs": len(idx), "with_std": int(has.sum()), "flagged": int(flagged.sum()),
            "coverage_1": cover(np.ones_like(has), 1.0), "coverage_2": cover(np.ones_like(has), 2.0),
            "coverage_1_unflagged": cover(~flagged, 1.0), "coverage_2_unflagged": cover(~flagged, 2.0),
            "median_abs_z": float(np.median(np.abs(zi[has]))) if has.any() else math.nan,
            "mae": float(errs.mean()) if errs.size else math.nan,
            "total_seconds": float(secs.sum()) if secs.size else math.nan,
            "max_seconds": float(secs.max()) if secs.size else math.nan,
        })
    return _as_output(out, CALIBRATION_COLUMNS, as_frame)


def calibration(estimators=None, distributions=None, n=5000, seeds=3, *, as_frame=None, progress=False):
    """Run estimators over many (distribution, seed) cases and measure whether their error
    bars are honest.

    For each run, z = (estimate − true MI) / reported std. An honest error bar puts the
    truth within ±1 std in about 68 % of the runs and within ±2 std in about 95 %.

    Parameters
    ----------
    estimators : dict, str or list, optional
        As for :func:`run`; default: ``fastmi_estimators()`` (GMM-MI and KSG).
    distributions : dict, str or list, optional
        Default: :func:`calibration_suite` (the hard families and the continuous presets).
    n : int, default=5000
    seeds : int or sequence of int, default=3
    as_frame : bool, optional
        pandas DataFrames (default when pandas is installed) or lists of dicts.
    progress : bool, default=False
        One line per run on stderr.

    Returns
    -------
    table : DataFrame or list of dict
        The :func:`run` table with a ``z`` column.
    summary : DataFrame or list of dict
        One row per estimator, columns ``CALIBRATION_COLUMNS``.
    """
    table = run(fastmi_estimators() if estimators is None else estimators,
                calibration_suite() if distributions is None else distributions,
                n=n, seeds=seeds, as_frame=False, progress=progress)
    for r, z in zip(table, z_scores(table)):
        r["z"] = float(z)
    summary = summarize_calibration(table, as_frame=False)
    return _as_output(table, COLUMNS + ("z",), as_frame), _as_output(summary, CALIBRATION_COLUMNS, as_frame)


def plot_calibration(table, *, ax=None, title=None):
    """z = (estimate − truth) / reported std of every run, case by case, one marker style per
    estimator, with the ±1 and ±2 bands (needs matplotlib; returns the Axes)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("plot_calibration needs matplotlib: pip install 'fastmi[plot]'") from None
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(9.0, 4.5), layout="constrained").add_subplot()
    rows = _records(table)
    cases = list(dict.fromkeys(r["distribution"] for r in rows))
    where = {c: i for i, c in enumerate(cases)}
    ests = list(dict.fromkeys(r["estimator"] for r in rows))
    for k, name in enumerate(ests):
        pts = [(where[r["distribution"]] + 0.15 * (k - (len(ests) - 1) / 2), r.get("z", math.nan))
               for r in rows if r["estimator"] == name]
        xs, zs = zip(*pts) if pts else ((), ())
        zs = np.clip(np.array(zs, dtype=float), -10, 10)
        ax.plot(xs, zs, "o^sDv"[k % 5], ms=4, alpha=0.8, linestyle="none", label=name)
    for w, a in ((1, 0.25), (2, 0.12)):
        ax.axhspan(-w, w, color="tab:green", alpha=a, lw=0)
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(cases, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("z = (estimate − truth) / reported std (clipped at ±10)")
    ax.set_title(title or "Calibration of the reported error bars")
    ax.legend(fontsize=8)
    return ax
