"""What the nearest-neighbour estimators share: input preparation (standardising, seeded
jitter), the neighbour counts of the Cython kernels, and the digamma averages.

All distances are max-norm (Chebyshev) distances. The kernels are deterministic and give
identical results for any ``n_jobs``; randomness (jitter, subsamples) is drawn here from ``rng``.
"""
from __future__ import annotations

import math
import threading
import warnings

import numpy as np
from scipy.special import digamma

from .. import _ksg_cy
from .._scaling import check_span, power_of_two_scale
from .._subsample import check_common
from .._validation import check_bool, check_continuous, check_float, check_int, check_rng, check_same_length

_LEAFSIZE = 8
_COUNT_LEAFSIZE = 16
_DEFAULT_JITTER = 1e-10


def _check_k(k, n):
    k = check_int(k, "k", low=1)
    if k >= n:
        raise ValueError(f"k={k} must be smaller than the number of samples n={n}")
    return k


def _jitter_amplitude(jitter):
    if jitter is None:
        return 0.0
    if isinstance(jitter, (bool, np.bool_)):
        return _DEFAULT_JITTER if jitter else 0.0
    return check_float(jitter, "jitter", low=0.0)


def _exact_mean_std(a, n_threads=1):
    """Column means and standard deviations (ddof=1) from correctly rounded sums (those of
    ``math.fsum``, computed in the Cython kernel): they do not depend on the row order and
    are odd/even under negation and exact under power-of-two scaling, so the standardised
    values -- and the neighbour counts, which compare them exactly -- inherit those
    invariances. ``a`` must be pre-scaled (|a| < 2), so that no sum overflows."""
    n = a.shape[0]
    mean = _ksg_cy.exact_column_sums(a, None, n_threads) / n
    std = np.sqrt(_ksg_cy.exact_column_sums(a, mean, n_threads) / (n - 1))
    return mean, std


def _prepare(arrays, names, standardize, amplitude, rng, n_threads=1, with_unit=False):
    """Standardise each column (mean 0, std 1) and add the seeded jitter. The columns of all
    the arrays are summed together, one thread per column.

    Scale first: each column (standardize=True), or all the arrays together (standardize=False,
    where the relative scale of x and y matters), is divided by a power of two near its largest
    magnitude. That is exact, so the standardised values and the neighbour counts are those of
    the unscaled computation wherever that one does not overflow, and nothing overflows or
    underflows anywhere in the float64 range (the unstandardised data come back in those
    power-of-two units, which leaves every neighbour count unchanged). The jitter is drawn in
    the input's units and scaled the same way. ``with_unit=True`` also returns that power of
    two (1 when standardising): the returned arrays are the input's divided by it."""
    if standardize:
        stacked = np.hstack(arrays)
        scaled = stacked / power_of_two_scale(stacked, axis=0)
        mean, std = _exact_mean_std(scaled, n_threads)
        edges = np.cumsum([0] + [a.shape[1] for a in arrays])
        for k, name in enumerate(names):
            s = std[edges[k]:edges[k + 1]]
            if not np.all(s > 0.0):
                raise ValueError(f"{name} has column(s) {np.flatnonzero(~(s > 0.0)).tolist()} whose spread "
                                 "underflows at float64 precision (values that differ only below the rounding of "
                                 "their magnitude); it cannot be standardised")
        check_span(scaled, [name for a, name in zip(arrays, names) for _ in range(a.shape[1])])
        scaled -= mean  # in place, on all the columns at once: the same operations as column by column
        scaled /= std
        arrays = [scaled[:, edges[k]:edges[k + 1]] for k in range(len(arrays))]
    else:
        p_all = max(float(power_of_two_scale(a, axis=None)) for a in arrays)
    out = []
    for a, name in zip(arrays, names):
        if not standardize:
            a = a / p_all
            check_span(a, name if len(arrays) == 1 else f"{name} (unstandardised, in the units of {', '.join(names)})")
        if amplitude > 0.0:
            # amplitude * max(1, mean |a|) in the input's units, computed in the scaled ones
            scale = amplitude * np.maximum(1.0 if standardize else 1.0 / p_all, np.abs(a).mean(axis=0))
            a = a + scale * rng.standard_normal(a.shape)
        out.append(np.ascontiguousarray(a, dtype=np.float64))
    unit = 1.0
    if not standardize:
        unit = p_all
        if amplitude > 0.0:  # the jitter may dominate tiny data: back to |a| < 1, exactly
            p2 = max(float(power_of_two_scale(a, axis=None)) for a in out)
            out = [np.ascontiguousarray(a / p2) for a in out]
            unit = p_all * p2
    return (out, unit) if with_unit else out


def _mean_digamma(counts):
    """Mean of digamma(counts) over positive integer counts: one digamma per distinct value,
    weighted by its multiplicity and summed correctly rounded (``math.fsum``), so independent of
    the order and the threads. Not ``np.dot``: a BLAS call wakes OpenBLAS's threads, whose spinning
    took a fifth of two cores from the OpenMP kernels of the next estimate."""
    b = np.bincount(counts)
    v = np.flatnonzero(b)
    return math.fsum(b[v] * digamma(v.astype(np.float64))) / counts.size


class _Presort:
    """Sort orders of the one-dimensional arrays among ``arrays``, computed in
    a helper thread while the caller works on (NumPy's sort releases the GIL),
    when ``n_threads > 1`` and the arrays are large; otherwise computed on
    demand. The helper sorts the arrays listed in ``background`` (default:
    all); the others are sorted by the caller when asked for, so that two sorts
    can run side by side. ``order(i)`` returns the order of ``arrays[i]``
    (None unless it has one column)."""

    _MIN_ROWS = 1 << 16

    def __init__(self, arrays, n_threads, background=None):
        self._arrays = arrays
        self._orders = [None] * len(arrays)
        self._background = range(len(arrays)) if background is None else background
        self._error = None
        self._thread = None
        if n_threads > 1 and arrays[0].shape[0] >= self._MIN_ROWS:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _run(self):
        try:
            for i in self._background:
                if self._arrays[i].shape[1] == 1:
                    self._orders[i] = np.argsort(self._arrays[i][:, 0])
        except BaseException as exc:  # re-raised in the caller's thread
            self._error = exc

    def order(self, i):
        if self._thread is not None and i in self._background:
            self._thread.join()
            self._thread = None
            if self._error is not None:
                raise self._error
        if self._orders[i] is None and self._arrays[i].shape[1] == 1:
            self._orders[i] = np.argsort(self._arrays[i][:, 0])
        return self._orders[i]


#: the 2-D grid k-NN (``grid_knn2``): about this many points per cell (times within 5 % from 3 to
#: 8 at n = 1e6; 20 points and cells looked at per query for Gaussian data, k = 3), used from this
#: many rows, and abandoned for the kd-tree when its probe looks at more than ``_GRID_WORK * (k + 1)``
#: points and cells per query (points on a curve: y = x looks at ~1400 at n = 1e6, a correlation of
#: 0.99 at 50, heavy tails at 46)
_GRID_ROWS_PER_CELL = 4
_GRID_MIN_ROWS = 128  # faster than the tree from n = 100 (1.4x) up (2-3.7x at 250-16000)
_GRID_WORK = 32.0


def _grid_eligible(x, y):
    return x.shape[1] == 1 and y.shape[1] == 1 and x.shape[0] >= _GRID_MIN_ROWS


def _joint_presort(x, y, n_threads):
    """The :class:`_Presort` that :func:`_joint_knn` and the 1-D marginal counts need: the grid's
    two sort orders (x's in the background), or those of the 1-D marginals."""
    return _Presort([x, y], n_threads, background=(0,) if _grid_eligible(x, y) else None)


def _joint_knn(x, y, k, n_threads, sort):
    """k-th neighbour max-norm distance of every row in the joint space of x and y, the
    point itself excluded. For 1-D x and y, on a grid of marginal-quantile cells (no tree to
    build; ``sort`` gives both sort orders); otherwise, or where the grid would be slow, on a
    kd-tree. Both give the brute-force distances bit for bit."""
    n = x.shape[0]
    if _grid_eligible(x, y):
        cells = max(1, math.isqrt(n // _GRID_ROWS_PER_CELL))
        oy = sort.order(1)  # first: x's may be sorting in the background meanwhile
        eps = _ksg_cy.grid_knn2(x[:, 0], y[:, 0], sort.order(0), oy, k, cells, _GRID_WORK * (k + 1), n_threads)
        if eps is not None:
            return eps
    return _ksg_cy.KDTree(np.hstack([x, y]), _LEAFSIZE, n_threads).knn(k, n_threads=n_threads)[0]


#: the grids over 2 or 3 columns, used from this many rows. ``grid_knn_count`` (a marginal of 2 or 3
#: columns, the other of 1): about this many points per cell, abandoned for the kd-trees when its
#: probe looks at more than ``_GRID_ND_WORK * (k + 1)`` points and cell runs per query (Gaussian
#: data 150-220 at k = 3, the grid 1.6-2.5x faster than the trees at n = 1e5; columns correlated at
#: 0.99: 450-610, 0.66-1.1x; heavy tails or columns on a line: 1900-4900, 1.6-15x slower).
#: ``grid_count``: 8 points per cell, abandoned above ``_GRID_COUNT_WORK`` per query (Gaussian data
#: 100-200, 2.3-2.8x faster than the tree; columns on a line 1400-4900, 2.4-5.4x slower; Cauchy
#: columns 800-3100, 2.5-2.8x faster)
_GRID_ND_MIN_ROWS = 500  # 1.1-2.7x faster than the trees at 500 rows, 1.6-2.5x at 1000-5000
_GRID_ND_ROWS_PER_CELL = {2: 16, 3: 8}
_GRID_ND_WORK = 100.0
_GRID_COUNT_ROWS_PER_CELL = 8
_GRID_COUNT_WORK = 1200.0


def _grid_cuts(a, rows_per_cell):
    """Cut values of each column of ``a`` into about ``(n / rows_per_cell) ** (1 / d)`` slabs of
    equal counts, from the quantiles of an evenly strided sample: values of the column above
    its smallest, so that every slab holds a point."""
    n, d = a.shape
    g = max(1, round((n / rows_per_cell) ** (1.0 / d)))
    m = min(n, 32 * g)
    sample = a[np.linspace(0, n - 1, m).astype(np.intp)]
    cuts = []
    for j in range(d):
        c = np.unique(np.sort(sample[:, j])[(np.arange(1, g) * m) // g])
        cuts.append(np.ascontiguousarray(c[c > a[:, j].min()]))
    return cuts


def _grid_knn_count(x, y, k, n_threads, by_row):
    """KSG-1's joint k-th neighbour distances and the counts of the marginal with 2 or 3 columns,
    on a grid over that marginal (the other has one column): ``(eps, nx, None)`` or
    ``(eps, None, ny)`` with the other marginal's counts left to the caller, or None where the
    grid does not apply or would be slow."""
    n = x.shape[0]
    if n < _GRID_ND_MIN_ROWS or {x.shape[1], y.shape[1]} not in ({1, 2}, {1, 3}):
        return None
    grid_x = x.shape[1] > 1
    a, e = (x, y) if grid_x else (y, x)
    cuts = _grid_cuts(a, _GRID_ND_ROWS_PER_CELL[a.shape[1]])
    res = _ksg_cy.grid_knn_count(a, e[:, 0], cuts, k, _GRID_ND_WORK * (k + 1), n_threads, by_row)
    if res is None:
        return None
    eps, cnt = res
    return (eps, cnt, None) if grid_x else (eps, None, cnt)


def _count_within(a, radius, n_threads, by_row=True, order=None):
    """Points j with max-norm ``|a_j - a_i| <= radius[i]``, the point itself
    included (radius >= 0). Sort + binary search in 1-D (``order`` may give
    the sort order), a grid of slabs in 2-D and 3-D (where its probe finds it
    fast), kd-tree otherwise. With ``by_row=False`` the counts come in
    an arbitrary fixed order, which is all that the estimators' averages
    need."""
    if a.shape[1] == 1:
        col = a[:, 0]
        if order is None:
            order = np.argsort(col)
        return _ksg_cy.count_sorted(np.ascontiguousarray(col[order]), order, radius, n_threads, by_row)
    if a.shape[1] <= 3 and a.shape[0] >= _GRID_ND_MIN_ROWS:
        cuts = _grid_cuts(a, _GRID_COUNT_ROWS_PER_CELL)
        counts = _ksg_cy.grid_count(a, radius, cuts, _GRID_COUNT_WORK, n_threads, by_row)
        if counts is not None:
            return counts
    return _ksg_cy.KDTree(a, _COUNT_LEAFSIZE, n_threads).count(radius, n_threads, by_row)


def _strict(eps):
    """Radius for 'strictly closer than eps': the largest double below eps.
    For eps == 0 (tied points) this is 0, so the tied points are counted --
    the same convention as scikit-learn's ``np.nextafter(eps, 0)``."""
    return np.nextafter(eps, 0.0)


#: what the tie warning advises, as measured by ``benchmarks/ties.py`` (README, "Ties"): without
#: jitter KSG goes far below zero on repeated points (-1.8 nat for two censored Gaussians with true
#: MI 0.153 at n=2000); 'mixed' was within +0.013..+0.025 of it at n=500..10000, jitter-KSG +0.05..+0.06
#: and not improving with n; on discrete data 'mixed' and 'discrete' converge, 'mixed' with an upward
#: small-n bias where values repeat fewer than k + 1 times (+0.30 nat for independent 8x8 at n=100,
#: Miller-Madow 'discrete' +0.13).
_TIE_ADVICE = ("Use method='mixed' (Gao et al. 2017) for data with repeated values, or method='discrete' when "
               "both variables are discrete; jitter=True breaks the ties but is biased on discrete-continuous "
               "mixtures (see the README's section on ties).")
_ROSS_TIE_ADVICE = "Use jitter=True to break ties, or a discrete estimator if x is discrete."


def _warn_ties(tied, n, what, advice=_TIE_ADVICE):
    if tied:
        warnings.warn(f"{tied} of {n} points have a zero k-th neighbour distance (tied points); {what} "
                      f"assumes continuous data. {advice}", RuntimeWarning, stacklevel=3)


def setup(arrays, names, *, k, standardize, jitter, n_bootstrap, subsample, rng, n_jobs, unit, k_limit=True):
    """Validate and prepare the inputs of a nearest-neighbour estimator.

    Returns ``(arrays, ctx)``: the standardised, jittered float64 arrays, and a dict with
    ``n``, ``k``, ``n_threads``, ``n_bootstrap``, ``m`` (subsample size), ``amplitude``
    (jitter), ``rng`` (the Generator) and ``data_unit`` (with ``standardize=False`` the arrays
    are the input's divided by this power of two; see ``_prepare``). ``k_limit=False`` leaves the check of k to the
    caller (the Ross estimator bounds it by the class sizes).
    """
    standardize = check_bool(standardize, "standardize")
    arrays = [check_continuous(a, name) for a, name in zip(arrays, names)]
    check_same_length(**dict(zip(names, arrays)))
    n = arrays[0].shape[0]
    k = _check_k(k, n) if k_limit else check_int(k, "k", low=1)
    n_threads, n_bootstrap, m, why = check_common(unit, n_jobs, n_bootstrap, subsample, n, k + 1, "it must exceed k",
                                               partition=True)
    amplitude = _jitter_amplitude(jitter)
    gen = check_rng(rng)
    arrays, data_unit = _prepare(arrays, names, standardize, amplitude, gen, n_threads, with_unit=True)
    return arrays, {"n": n, "k": k, "n_threads": n_threads, "n_bootstrap": n_bootstrap, "m": m, "why": why,
                    "amplitude": amplitude, "rng": gen, "data_unit": data_unit}
