"""Plots (matplotlib, optional): the fitted mixture over the data, the bootstrap
distribution, the PMI profile, the cross-validation curve and the MI-matrix heatmap.

Every function draws on ``ax`` when given (so it composes into the caller's
figures, and the command line can draw without pyplot), otherwise on a new
pyplot figure, and returns the Axes; the figure is ``ax.figure``.
"""
from __future__ import annotations

import math

import numpy as np

from ._copula import normal_scores
from ._validation import check_array, check_same_length


def _mpl():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'fastmi[plot]'") from None
    return matplotlib


def _axes(ax, figsize):
    _mpl()
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


# --------------------------------------------------------------------------- fitted mixture
def _log_gauss_2d(pts, mean, cov):
    """log N(pts | mean, cov) for 2-D points, closed form (no LAPACK for a 2x2)."""
    a, b, c = cov[0, 0], cov[0, 1], cov[1, 1]
    det = a * c - b * b
    dx = pts[:, 0] - mean[0]
    dy = pts[:, 1] - mean[1]
    quad = (c * dx * dx - 2.0 * b * dx * dy + a * dy * dy) / det
    return -0.5 * quad - math.log(2.0 * math.pi) - 0.5 * math.log(det)


MAX_COMPONENTS_DRAWN = 4
"""plot_fit draws component ellipses by default up to this many components."""


def _ellipse(mean, cov, n_sigma, **kwargs):
    from matplotlib.patches import Ellipse

    vals, vecs = np.linalg.eigh(cov)
    vals = np.clip(vals, 0.0, None)
    angle = math.degrees(math.atan2(vecs[1, 1], vecs[0, 1]))
    return Ellipse(xy=mean, width=2 * n_sigma * math.sqrt(vals[1]), height=2 * n_sigma * math.sqrt(vals[0]),
                   angle=angle, **kwargs)


def plot_fit(est, x, y, *, dims=None, ax=None, n_sigma=(1.0, 2.0), levels=8, max_points=5000, labels=None,
             rng=0, components="auto"):
    """The fitted Gaussian mixture over the data, in two dimensions.

    Draws the data (a random subset of ``max_points``), the contours of the fitted
    joint density and, optionally, for each component, ellipses at ``n_sigma``
    standard deviations with line widths growing with the component's weight.

    Parameters
    ----------
    est : GMMMI
        A fitted, continuous (``y_type='continuous'``) estimator.
    x, y : array-like of shape (n_samples,) or (n_samples, d)
        The data it was fitted to (or any data in the same units). The estimator
        keeps only standardised data privately, so the data are passed here. A fit in
        copula space (``est.space_ == 'copula'``) is drawn over the data's normal scores.
    dims : (int, int), optional
        The two columns of the joint (x then y) to show; default the first column
        of x against the first column of y. The density shown is the mixture's
        marginal on those columns.
    ax : matplotlib Axes, optional
    n_sigma : sequence of float, default=(1, 2)
        Radii of the component ellipses, in standard deviations.
    levels : int, default=8
        Number of density contour levels.
    max_points : int, default=5000
        Largest number of points drawn.
    labels : (str, str), optional
        Axis labels (default 'x[i]', 'y[j]' style names).
    rng : int, default=0
        Seed of the subset of points drawn.
    components : bool or 'auto', default='auto'
        Draw each component's ellipses and centre. 'auto' draws them for at most
        ``MAX_COMPONENTS_DRAWN`` (4) components: beyond that they hide the density, which
        the contours show alone (the title gives K).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if components not in (True, False, "auto"):
        raise ValueError(f"components must be True, False or 'auto', got {components!r}")
    if not hasattr(est, "weights_") or not hasattr(est, "dims_"):
        raise ValueError("plot_fit needs a fitted GMMMI: call est.fit(x, y) first")
    if not isinstance(est.weights_, np.ndarray):
        raise ValueError("plot_fit draws the joint mixture of continuous x and y; this estimator is categorical")
    x = check_array(x, "x", allow_constant=True)
    y = check_array(y, "y", allow_constant=True)
    check_same_length(x=x, y=y)
    dx, dy = est.dims_["x"], est.dims_["y"]
    if (x.shape[1], y.shape[1]) != (dx, dy):
        raise ValueError(f"x and y have {x.shape[1]} and {y.shape[1]} columns; the model was fitted to {dx} and {dy}")
    data = np.hstack([x, y])
    copula = getattr(est, "space_", "data") == "copula"
    if copula:  # the mixture lives in copula space: show the data there too
        data = normal_scores(data)
    d = data.shape[1]
    if d != est.means_.shape[1]:  # a conditional fit (z) has more columns than x and y
        raise ValueError(f"the model has {est.means_.shape[1]} columns; plot_fit takes x and y only")
    cols = (0, dx) if dims is None else tuple(int(c) for c in dims)
    if len(cols) != 2 or cols[0] == cols[1] or not all(0 <= c < d for c in cols):
        raise ValueError(f"dims must be two different columns in [0, {d}), got {dims!r}")
    names = [f"x[{k}]" if dx > 1 else "x" for k in range(dx)] + [f"y[{k}]" if dy > 1 else "y" for k in range(dy)]
    labels = labels or (names[cols[0]], names[cols[1]])
    if copula:
        labels = tuple(f"normal score of {name}" for name in labels)
    sel = np.array(cols)
    w = np.asarray(est.weights_)
    means = np.asarray(est.means_)[:, sel]
    covs = np.asarray(est.covariances_)[:, sel[:, None], sel[None, :]]

    ax = _axes(ax, (5.5, 4.5))
    pts = data[:, sel]
    if pts.shape[0] > max_points:
        pts = pts[np.sort(np.random.default_rng(rng).choice(pts.shape[0], max_points, replace=False))]
    ax.scatter(pts[:, 0], pts[:, 1], s=6, c="0.35", alpha=0.45, linewidths=0, rasterized=True, label="data")

    lo, hi = data[:, sel].min(axis=0), data[:, sel].max(axis=0)
    pad = 0.05 * (hi - lo)
    gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 160)
    gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], 160)
    GX, GY = np.meshgrid(gx, gy)
    grid = np.column_stack([GX.ravel(), GY.ravel()])
    logp = np.stack([math.log(wk) + _log_gauss_2d(grid, m, c) for wk, m, c in zip(w, means, covs)])
    top = logp.max(axis=0)
    dens = np.exp(top + np.log(np.exp(logp - top).sum(axis=0))).reshape(GX.shape)
    ax.contour(GX, GY, dens, levels=levels, cmap="viridis", linewidths=0.9)

    draw = len(w) <= MAX_COMPONENTS_DRAWN if components == "auto" else components
    for k, (wk, m, c) in enumerate(zip(w, means, covs) if draw else ()):
        lw = 0.8 + 2.5 * wk / w.max()
        for s in n_sigma:
            ax.add_patch(_ellipse(m, c, s, fill=False, edgecolor=f"C{k % 10}", linewidth=lw, alpha=0.9))
        ax.plot(*m, marker="+", color=f"C{k % 10}", markersize=8)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(f"GMM fit: K = {len(w)} components" + ("" if draw else " (density contours)"))
    return ax


# --------------------------------------------------------------------------- bootstrap
_REPLICATES_TITLE = {"bootstrap": "Bootstrap distribution",
                     "subsample": "Subsample replicates (rescaled to the full size)",
                     "held-out batches": "Held-out batch estimates"}


def plot_bootstrap(result, *, ax=None, bins="auto", level=0.95):
    """Histogram of the replicates (bootstrap, or subsample for the k-NN and plug-in
    estimators) with the estimate and its interval; the title names the scheme.

    Parameters
    ----------
    result : MIResult
        A result with at least 2 replicates (``n_bootstrap >= 2``).
    ax : matplotlib Axes, optional
    bins : int or str, default='auto'
        Passed to ``Axes.hist``.
    level : float, default=0.95
        Level of the percentile interval shaded.

    Returns
    -------
    matplotlib.axes.Axes
    """
    samples = np.asarray(getattr(result, "samples", []), dtype=np.float64)
    if samples.size < 2:
        raise ValueError("plot_bootstrap needs bootstrap replicates: estimate with n_bootstrap >= 2")
    lo, hi = result.ci(level)
    ax = _axes(ax, (5.5, 4.0))
    ax.hist(samples, bins=bins, color="C0", alpha=0.6, edgecolor="white", label=f"{samples.size} replicates")
    ax.axvspan(lo, hi, color="C1", alpha=0.15, zorder=0, label=f"{100 * level:g}% interval [{lo:.3g}, {hi:.3g}]")
    ax.axvline(result.mi, color="C3", linewidth=2, label=f"estimate {result.mi:.4g} ± {result.std:.2g}")
    ax.set_xlabel(f"MI [{result.unit}]")
    ax.set_ylabel("replicates")
    scheme = (getattr(result, "diagnostics", None) or {}).get("resampling", {}).get("scheme", "bootstrap")
    what = _REPLICATES_TITLE.get(scheme, f"Replicates ({scheme})")
    ax.set_title(f"{what} ({result.method})")
    ax.legend(fontsize="small", loc="best")
    return ax


# --------------------------------------------------------------------------- PMI profile
def plot_pmi_profile(pmi, *, ax=None, bins="auto", mi=None):
    """Histogram of pointwise MI values (the PMI profile of Czyz et al., 2023) with their mean.

    Parameters
    ----------
    pmi : PointwiseMI or array-like of shape (n_samples,)
        From :meth:`fastmi.GMMMI.pointwise_mi`, or the values themselves.
    ax : matplotlib Axes, optional
    bins : int or str, default='auto'
        Passed to ``Axes.hist``.
    mi : MIResult or float, optional
        An MI estimate to mark beside the mean PMI (they agree when the mixture fits).

    Returns
    -------
    matplotlib.axes.Axes
    """
    unit = getattr(pmi, "unit", "nat")
    values = check_array(getattr(pmi, "values", pmi), "pmi", allow_constant=True, min_samples=2)
    if values.shape[1] != 1:
        raise ValueError(f"pmi must be one value per sample, got shape {values.shape}")
    values = values[:, 0]
    ax = _axes(ax, (5.5, 4.0))
    ax.hist(values, bins=bins, color="C0", alpha=0.6, edgecolor="white", label=f"{values.size} samples")
    ax.axvline(values.mean(), color="C3", linewidth=2, label=f"mean PMI {values.mean():.4g}")
    if mi is not None:
        v = float(getattr(mi, "mi", mi))
        ax.axvline(v, color="k", linestyle="--", linewidth=1.5, label=f"MI estimate {v:.4g}")
    ax.axvline(0.0, color="0.5", linewidth=0.8, zorder=0)
    ax.set_xlabel(f"pointwise MI [{unit}]")
    ax.set_ylabel("samples")
    ax.set_title("PMI profile")
    ax.legend(fontsize="small", loc="best")
    return ax


# --------------------------------------------------------------------------- CV curve
def _cv_records(obj):
    if hasattr(obj, "cv_"):
        cv = obj.cv_
    elif hasattr(obj, "diagnostics"):
        cv = obj.diagnostics.get("cv")
        if cv is None:
            raise ValueError(f"this result ({getattr(obj, 'method', '?')}) has no component search to plot")
    else:
        cv = obj
    if not isinstance(cv, dict):
        raise ValueError("plot_cv takes a fitted GMMMI, a GMM-MI MIResult or its diagnostics['cv'] dict")
    if "k" in cv:
        return {None: cv}
    if cv and all(isinstance(v, dict) and "k" in v for v in cv.values()):
        return cv  # categorical: one record per class
    raise ValueError("plot_cv: the dict holds no component search record (keys 'k', 'score')")


def plot_cv(obj, *, ax=None):
    """The component-selection score against the number of components K.

    Parameters
    ----------
    obj : GMMMI, MIResult or dict
        A fitted GMMMI (``cv_``), a GMM-MI result (``diagnostics['cv']``) or the
        record itself. For the categorical variant there is one curve per class.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        The fold-averaged score of the best initialisation per K (line), every
        initialisation's score (dots), and the selected K (star).
    """
    records = _cv_records(obj)
    ax = _axes(ax, (5.5, 4.0))
    selection = "cv"
    for n, (name, rec) in enumerate(records.items()):
        color = f"C{n % 10}"
        k = np.asarray(rec["k"], dtype=float)
        score = np.asarray(rec["score"], dtype=float)
        selection = rec.get("selection", selection)
        suffix = "" if name is None else f" (class {name})"
        ax.plot(k, score, "-o", color=color, markersize=4, label=f"best initialisation{suffix}")
        per_init = rec.get("score_per_init")
        if per_init:
            for kk, row in zip(k, per_init):
                row = np.asarray(row, dtype=float)
                row = row[np.isfinite(row)]
                ax.plot(np.full(row.size, kk), row, ".", color=color, alpha=0.35, markersize=5)
        sel = rec.get("selected")
        if sel is not None and sel in rec["k"]:
            s = score[list(rec["k"]).index(sel)]
            ax.plot([sel], [s], marker="*", color=color, markersize=14, linestyle="none",
                    label=f"selected K = {sel}{suffix}")
    ax.set_xlabel("number of components K")
    ax.set_ylabel({"cv": "held-out log-likelihood per sample", "aic": "-AIC / 2n", "bic": "-BIC / 2n"}
                  .get(selection, "score"))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Component selection")
    ax.legend(fontsize="small", loc="best")
    return ax


# --------------------------------------------------------------------------- MI matrix
def _round_to_error(v, s, digits):
    """``v`` and ``s`` as text: with ``digits`` (int) decimals, else ``v`` rounded where ``s``
    has its second significant digit (so an error bar of 0.004 never prints as 0.00)."""
    if digits is None:
        if np.isfinite(s) and s > 0:
            digits = int(min(6, max(0, 1 - math.floor(math.log10(s)))))
        else:
            digits = 2 if v == 0 or not np.isfinite(v) else int(min(6, max(0, 2 - math.floor(math.log10(abs(v))))))
    return f"{v:.{digits}f}", (f"±{s:.{digits}f}" if np.isfinite(s) else "")


def _cell_points(ax, p, q):
    """Width and height of one heatmap cell in points, for the axes' current size."""
    fig = ax.figure
    engine = fig.get_layout_engine()
    if engine is not None:  # constrained layout places the axes at draw time: place them now
        engine.execute(fig)
    pos = ax.get_position()
    w, h = fig.get_size_inches()
    return 72.0 * w * pos.width / q, 72.0 * h * pos.height / p


def plot_mi_matrix(m, *, ax=None, annotate=True, cmap="viridis", vmin=0.0, vmax=None, colorbar=True, digits=None,
                   fontsize=None, significance=2.0):
    """Heatmap of an MI matrix, each cell annotated with its estimate ± std.

    Entries within ``significance`` standard deviations of 0 are hatched and their
    annotation is greyed, so that an estimate indistinguishable from 0 does not read as
    a precise one.

    Parameters
    ----------
    m : MIMatrix
    ax : matplotlib Axes, optional
    annotate : bool, default=True
        Write "mi\\n±std" in every cell (the value alone when the cells are too small
        for both lines at a readable size).
    cmap : str, default='viridis'
    vmin, vmax : float, optional
        Colour range (default 0 to the largest entry). Estimates slightly below 0
        (independent pairs) are drawn at the bottom colour.
    colorbar : bool, default=True
    digits : int, optional
        Decimals in the annotations. Default: per cell, down to the std's second
        significant digit.
    fontsize : float, optional
        Annotation font size (default: the largest, up to 10 pt, that fits the cells,
        and at least 6 pt).
    significance : float or None, default=2.0
        Hatch the entries with ``|mi| <= significance * std``; None hatches nothing.

    Returns
    -------
    matplotlib.axes.Axes
    """
    mpl = _mpl()
    from matplotlib.patches import Rectangle

    if significance is not None and not (isinstance(significance, (int, float)) and significance >= 0):
        raise ValueError(f"significance must be a non-negative number or None, got {significance!r}")
    values = np.asarray(m.values, dtype=float)
    stds = np.asarray(m.stds, dtype=float)
    p, q = values.shape
    ax = _axes(ax, (2.0 + 0.85 * q, 1.4 + 0.6 * p))
    finite = values[np.isfinite(values)]
    if vmax is None:
        vmax = float(finite.max()) if finite.size and finite.max() > vmin else vmin + 1.0
    cm = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
    cm = cm.with_extremes(bad="0.92")
    norm = mpl.colors.Normalize(vmin=vmin, vmax=vmax, clip=False)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cm, norm=norm, aspect="auto", interpolation="nearest")
    long_names = max(map(len, m.col_names)) > 3
    tick_size = max(6.0, min(10.0, 200.0 / max(p, q)))
    ax.set_xticks(range(q), labels=list(m.col_names), rotation=45 if long_names else 0,
                  ha="right" if long_names else "center", fontsize=tick_size)
    ax.set_yticks(range(p), labels=list(m.row_names), fontsize=tick_size)
    ax.set_xticks(np.arange(q + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(p + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", linewidth=1.0)
    ax.tick_params(which="minor", length=0)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label=f"MI [{m.unit}]", extend="min" if finite.size and
                           finite.min() < vmin else "neither")
    insignificant = np.zeros(values.shape, dtype=bool)
    if significance is not None:
        with np.errstate(invalid="ignore"):
            insignificant = np.isfinite(values) & np.isfinite(stds) & (np.abs(values) <= significance * stds)
    for i, j in zip(*np.nonzero(insignificant)):
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1.0, 1.0, fill=False, hatch="///", edgecolor="0.55",
                               linewidth=0.0, zorder=2))
    if annotate:
        texts = [[_round_to_error(values[i, j], stds[i, j], digits) for j in range(q)] for i in range(p)]
        chars = max([len(t) for row in texts for pair in row for t in pair] + [1])
        cw, ch = _cell_points(ax, p, q)
        size = fontsize or min(10.0, cw / (0.62 * chars + 0.8), ch / 2.9)
        two_lines = fontsize is not None or size >= 6.0
        if not two_lines:  # the value alone, larger
            size = max(6.0, min(10.0, cw / (0.62 * chars + 0.8), ch / 1.6))
        for i in range(p):
            for j in range(q):
                v = values[i, j]
                if not np.isfinite(v):
                    continue
                rgba = cm(norm(min(max(v, vmin), vmax)))
                light = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2] > 0.5
                value, err = texts[i][j]
                text = value + (f"\n{err}" if err and two_lines else "")
                color = "black" if light else "white"
                ax.text(j, i, text, ha="center", va="center", fontsize=size, color=color, zorder=3,
                        alpha=0.6 if insignificant[i, j] else 1.0,
                        fontstyle="italic" if insignificant[i, j] else "normal")
    title = f"Mutual information ({m.method})"
    if insignificant.any():
        title += f"\nhatched: within {significance:g} std of 0"
    ax.set_title(title, fontsize=10)
    return ax
