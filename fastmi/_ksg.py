"""Nearest-neighbour and closed-form MI estimators: the KSG family.

Public entry points (reached through :func:`fastmi.mutual_info` and
:func:`fastmi.conditional_mutual_info`):

* :func:`ksg_mutual_info` -- Kraskov, Stoegbauer & Grassberger (2004),
  algorithms 1 and 2;
* :func:`mixed_mutual_info` -- Gao, Kannan, Oh & Viswanath (2017), for
  mixtures of discrete and continuous data;
* :func:`categorical_ksg_mutual_info` -- Ross (2014), continuous x against
  category labels (what scikit-learn's ``mutual_info_classif`` uses);
* :func:`ksg_conditional_mutual_info` -- Frenzel & Pompe (2007), I(X;Y|Z);
* :func:`discrete_mutual_info` -- plug-in estimator, Miller-Madow corrected;
* :func:`gaussian_mutual_info` -- closed form under joint Gaussianity.

Inputs are validated once here; the neighbour searches and counts run in
the Cython kernels of :mod:`fastmi._ksg_cy` (kd-tree k-NN and range counts,
sort + binary search for one-dimensional marginals, OpenMP over query
points). With ``n_jobs > 1`` on large inputs, the sorts of one-dimensional
marginals also run in a helper thread alongside the k-NN search.
Randomness (jitter, subsamples) is drawn here from ``rng``; the kernels are
deterministic and give identical results for any ``n_jobs``.

All distances are max-norm (Chebyshev) distances.
"""
from __future__ import annotations

import math
import numbers
import threading
import warnings

import numpy as np
from scipy.special import digamma

from . import _ksg_cy
from ._config import resolve_n_jobs
from ._result import MIResult
from ._validation import (
    check_array,
    check_choice,
    check_float,
    check_int,
    check_labels,
    check_rng,
    check_same_length,
)

__all__ = [
    "categorical_ksg_mutual_info",
    "discrete_mutual_info",
    "gaussian_mutual_info",
    "ksg_conditional_mutual_info",
    "ksg_mutual_info",
    "mixed_mutual_info",
]

_LN2 = math.log(2.0)
# kd-tree leaf sizes: k-NN searches are best with small leaves, range
# counts with larger ones (their leaf scans are branch-free)
_LEAFSIZE = 8
_COUNT_LEAFSIZE = 16
_DEFAULT_JITTER = 1e-10

_COMMON_PARAMS = """\
    n_bootstrap : int, default=0
        Number of subsample replicates used for the error bar (see Notes);
        0 gives the point estimate only.
    subsample : int or float, optional
        Size of each replicate: an int number of rows, or a fraction of n in
        (0, 1). Default n // 2.
    rng : None, int, SeedSequence or Generator
        Seed for the subsample draws (and the jitter where there is one),
        with ``np.random.default_rng`` semantics.
    n_jobs : int, optional
        Threads for the kernels; None or -1 uses every core. The result does
        not depend on it.
    unit : {'nat', 'bit'}, default='nat'"""

_RESAMPLING_NOTES = """\
    Error bars come from subsampling *without* replacement (a delete-d
    jackknife): each of the ``n_bootstrap`` replicates is the same estimator
    run on ``m`` rows drawn without replacement (``m = n // 2`` by default).
    The ordinary bootstrap is not used because resampling *with* replacement
    duplicates rows, and duplicated rows are ties at distance zero: they
    collapse the k-th neighbour distances and bias nearest-neighbour
    estimates upwards. A replicate on m rows varies more than the estimate
    on n rows, so the replicates are rescaled by ``sqrt(m / (n - m))`` (the
    delete-d jackknife variance factor; it is 1 for half samples) and
    centred on the full-data estimate: ``MIResult.mi`` is the full-data
    estimate, ``MIResult.std`` the standard error and ``MIResult.samples``
    the rescaled replicates (the raw ones are in
    ``diagnostics['resampling']['raw']``)."""


def _doc(func):
    func.__doc__ = func.__doc__.replace("{common}", _COMMON_PARAMS).replace("{resampling}", _RESAMPLING_NOTES)
    return func


# --------------------------------------------------------------------------
# validation and preparation
# --------------------------------------------------------------------------
def _continuous(a, name):
    """float64 C-contiguous (n, d) array; ValueError for degenerate data."""
    arr = check_array(a, name, allow_constant=True)
    if (arr == arr[0]).all():
        raise ValueError(f"all {arr.shape[0]} points of {name} are identical; "
                         "mutual information with a constant is 0 and nearest-neighbour estimates are undefined")
    const = np.flatnonzero(arr.max(axis=0) == arr.min(axis=0))
    if const.size:
        raise ValueError(f"{name} has constant column(s) {const.tolist()}; drop them "
                         "(a constant carries no information and breaks the standardisation and the neighbour search)")
    return arr


def _check_k(k, n):
    k = check_int(k, "k", low=1)
    if k >= n:
        raise ValueError(f"k={k} must be smaller than the number of samples n={n}")
    return k


def _check_common(unit, n_jobs, n_bootstrap):
    check_choice(unit, "unit", {"nat", "bit"})
    n_threads = resolve_n_jobs(n_jobs)
    n_bootstrap = check_int(n_bootstrap, "n_bootstrap", low=0)
    return n_threads, n_bootstrap


def _jitter_amplitude(jitter):
    if jitter is None:
        return 0.0
    if isinstance(jitter, (bool, np.bool_)):
        return _DEFAULT_JITTER if jitter else 0.0
    return check_float(jitter, "jitter", low=0.0)


def _prepare(arrays, names, standardize, amplitude, rng):
    """Standardise each column (mean 0, std 1) and add the seeded jitter."""
    out = []
    for a, name in zip(arrays, names):
        if standardize:
            with np.errstate(over="ignore", invalid="ignore"):
                mean, std = a.mean(axis=0), a.std(axis=0, ddof=1)
                a = (a - mean) / std
            if not (np.isfinite(mean).all() and np.isfinite(std).all() and np.isfinite(a).all()):
                raise ValueError(f"{name} overflows when standardised (values near the float64 limit); rescale it")
        if amplitude > 0.0:
            scale = amplitude * np.maximum(1.0, np.abs(a).mean(axis=0))
            a = a + scale * rng.standard_normal(a.shape)
        out.append(np.ascontiguousarray(a, dtype=np.float64))
    return out


def _subsample_size(subsample, n, low, what):
    if subsample is None:
        m = n // 2
    elif isinstance(subsample, numbers.Integral) and not isinstance(subsample, bool):
        m = int(subsample)
    elif isinstance(subsample, numbers.Real) and not isinstance(subsample, bool):
        f = float(subsample)
        if not 0.0 < f < 1.0:
            raise ValueError(f"a fractional subsample must lie in (0, 1), got {subsample!r}")
        m = int(round(f * n))
    else:
        raise ValueError(f"subsample must be None, an int or a fraction in (0, 1), got {subsample!r}")
    if not low <= m < n:
        raise ValueError(f"subsample size must satisfy {low} <= m < n={n} ({what}), got m={m}")
    return m


# --------------------------------------------------------------------------
# kernels' Python-side helpers
# --------------------------------------------------------------------------
def _mean_digamma(counts):
    """Mean of digamma(counts) over positive integer counts (exact per value,
    summed in a fixed order, so independent of threads)."""
    b = np.bincount(counts)
    v = np.flatnonzero(b)
    return float(np.dot(b[v], digamma(v.astype(np.float64)))) / counts.size


def _mean_log(counts):
    b = np.bincount(counts)
    v = np.flatnonzero(b)
    return float(np.dot(b[v], np.log(v.astype(np.float64)))) / counts.size


class _Presort:
    """Sort orders of the one-dimensional arrays among ``arrays``, computed in
    a helper thread while the caller runs the neighbour search (NumPy's sort
    releases the GIL), when ``n_threads > 1`` and the arrays are large;
    otherwise computed on demand. ``order(i)`` returns the order of
    ``arrays[i]`` (None unless it has one column)."""

    _MIN_ROWS = 1 << 16

    def __init__(self, arrays, n_threads):
        self._arrays = arrays
        self._orders = [None] * len(arrays)
        self._error = None
        self._thread = None
        if n_threads > 1 and arrays[0].shape[0] >= self._MIN_ROWS:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _run(self):
        try:
            for i, a in enumerate(self._arrays):
                if a.shape[1] == 1:
                    self._orders[i] = np.argsort(a[:, 0])
        except BaseException as exc:  # re-raised in the caller's thread
            self._error = exc

    def order(self, i):
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            if self._error is not None:
                raise self._error
        if self._orders[i] is None and self._arrays[i].shape[1] == 1:
            self._orders[i] = np.argsort(self._arrays[i][:, 0])
        return self._orders[i]


def _count_within(a, radius, n_threads, by_row=True, order=None):
    """Points j with max-norm ``|a_j - a_i| <= radius[i]``, the point itself
    included (radius >= 0). Sort + binary search in 1-D (``order`` may give
    the sort order), kd-tree above. With ``by_row=False`` the counts come in
    an arbitrary fixed order, which is all that the estimators' averages
    need."""
    if a.shape[1] == 1:
        col = a[:, 0]
        if order is None:
            order = np.argsort(col)
        return _ksg_cy.count_sorted(np.ascontiguousarray(col[order]), order, radius, n_threads, by_row)
    return _ksg_cy.KDTree(a, _COUNT_LEAFSIZE, n_threads).count(radius, n_threads, by_row)


def _strict(eps):
    """Radius for 'strictly closer than eps': the largest double below eps.
    For eps == 0 (tied points) this is 0, so the tied points are counted --
    the same convention as scikit-learn's ``np.nextafter(eps, 0)``."""
    return np.nextafter(eps, 0.0)


def _ksg_counts(x, y, k, variant=1, n_threads=1, by_row=True):
    """Exact KSG quantities.

    Returns ``(eps, nx, ny)``. Variant 1: ``eps`` (n,) is the k-th neighbour
    distance in the joint space and ``nx``/``ny`` count the other points
    strictly closer than it in each marginal (see :func:`_strict` for
    eps == 0). Variant 2: ``eps`` (n, 2) holds each point's marginal extents
    of its k-neighbour set (ties in the joint distance broken by row index)
    and the counts are of other points at distance <= those extents.
    ``by_row=False`` leaves the counts in an arbitrary order.
    """
    dx = x.shape[1]
    xy = np.hstack([x, y])
    sort = _Presort([x, y], n_threads)
    tree = _ksg_cy.KDTree(xy, _LEAFSIZE, n_threads)
    if variant == 1:
        eps, _ = tree.knn(k, n_threads=n_threads)
        rx = ry = _strict(eps)
    else:
        eps = tree.knn(k, groups=[0, dx, xy.shape[1]], tiebreak=True, n_threads=n_threads)[1]
        rx, ry = np.ascontiguousarray(eps[:, 0]), np.ascontiguousarray(eps[:, 1])
    return (eps,
            _count_within(x, rx, n_threads, by_row, sort.order(0)) - 1,
            _count_within(y, ry, n_threads, by_row, sort.order(1)) - 1)


def _ksg_value(x, y, k, variant, n_threads):
    eps, nx, ny = _ksg_counts(x, y, k, variant, n_threads, by_row=False)
    n = x.shape[0]
    if variant == 1:
        mi = digamma(k) + digamma(n) - _mean_digamma(nx + 1) - _mean_digamma(ny + 1)
        tied = int(np.count_nonzero(eps == 0.0))
    else:
        mi = digamma(k) - 1.0 / k + digamma(n) - _mean_digamma(nx) - _mean_digamma(ny)
        tied = int(np.count_nonzero((eps == 0.0).any(axis=1)))
    return float(mi), tied


def _mixed_counts(x, y, k, n_threads=1, by_row=True):
    """Gao et al. (2017) quantities: ``(rho, ktilde, nx, ny)``.

    ``rho`` is the k-th neighbour distance in the joint space. Where
    rho > 0, ``ktilde`` is k and ``nx``/``ny`` count the points strictly
    closer than rho in each marginal; where rho == 0 (the point is repeated
    at least k times), ``ktilde`` counts the copies of the point in the
    joint space and ``nx``/``ny`` its copies in each marginal. Every count
    includes the point itself.
    """
    xy = np.hstack([x, y])
    sort = _Presort([x, y], n_threads)
    tree = _ksg_cy.KDTree(xy, _LEAFSIZE, n_threads)
    rho, _ = tree.knn(k, n_threads=n_threads)
    ktilde = np.full(rho.shape[0], k, dtype=np.intp)
    zero = rho == 0.0
    if zero.any():
        copies = tree.count(np.where(zero, 0.0, -1.0), n_threads)
        ktilde[zero] = copies[zero]
    r = _strict(rho)
    return (rho, ktilde, _count_within(x, r, n_threads, by_row, sort.order(0)),
            _count_within(y, r, n_threads, by_row, sort.order(1)))


def _mixed_value(x, y, k, n_threads):
    _, ktilde, nx, ny = _mixed_counts(x, y, k, n_threads, by_row=False)
    n = x.shape[0]
    return _mean_digamma(ktilde) + math.log(n) - _mean_digamma(nx) - _mean_digamma(ny)


def _ross_counts(x, codes, k, n_threads=1, by_row=True):
    """Ross (2014) quantities: ``(radius, k_used, m)``.

    For each point, ``radius`` is the distance to its ``k_used``-th nearest
    neighbour among the points of its own class (``k_used = min(k, n_c - 1)``)
    and ``m`` counts the points of *all* classes strictly closer than that,
    the point itself included (scikit-learn's convention, also for radius 0).
    """
    n = x.shape[0]
    radius = np.empty(n)
    k_used = np.empty(n, dtype=np.intp)
    for c in range(int(codes.max()) + 1):
        idx = np.flatnonzero(codes == c)
        kc = min(k, idx.size - 1)
        r, _ = _ksg_cy.KDTree(np.ascontiguousarray(x[idx]), _LEAFSIZE, n_threads).knn(kc, n_threads=n_threads)
        radius[idx] = r
        k_used[idx] = kc
    return radius, k_used, _count_within(x, _strict(radius), n_threads, by_row)


def _ross_value(x, codes, k, n_threads):
    radius, k_used, m = _ross_counts(x, codes, k, n_threads, by_row=False)
    n = x.shape[0]
    class_n = np.bincount(codes)[codes]
    mi = digamma(n) + _mean_digamma(k_used) - _mean_digamma(class_n) - _mean_digamma(m)
    return float(mi), int(np.count_nonzero(radius == 0.0))


def _cmi_counts(x, y, z, k, n_threads=1, by_row=True):
    """Frenzel & Pompe (2007) quantities: ``(eps, nxz, nyz, nz)``, the k-th
    neighbour distance in (x, y, z) and the numbers of other points strictly
    closer than it in the (x, z), (y, z) and z subspaces."""
    sort = _Presort([z], n_threads)
    tree = _ksg_cy.KDTree(np.hstack([x, y, z]), _LEAFSIZE, n_threads)
    eps, _ = tree.knn(k, n_threads=n_threads)
    r = _strict(eps)
    return (eps,
            _count_within(np.hstack([x, z]), r, n_threads, by_row) - 1,
            _count_within(np.hstack([y, z]), r, n_threads, by_row) - 1,
            _count_within(z, r, n_threads, by_row, sort.order(0)) - 1)


def _cmi_value(x, y, z, k, n_threads):
    eps, nxz, nyz, nz = _cmi_counts(x, y, z, k, n_threads, by_row=False)
    cmi = digamma(k) - _mean_digamma(nxz + 1) - _mean_digamma(nyz + 1) + _mean_digamma(nz + 1)
    return float(cmi), int(np.count_nonzero(eps == 0.0))


# --------------------------------------------------------------------------
# replicates and results
# --------------------------------------------------------------------------
def _subsample_indices(rng, n, m, strata=None):
    if strata is None:
        return np.sort(rng.choice(n, m, replace=False))
    parts = [np.sort(rng.choice(s, ms, replace=False)) for s, ms in strata]
    return np.sort(np.concatenate(parts))


def _replicates(value, arrays, point, n_bootstrap, m, rng, strata=None):
    """Run ``value`` on ``n_bootstrap`` subsamples of ``m`` rows (drawn
    without replacement) and rescale them around ``point`` (see Notes of the
    public functions). Returns ``(adjusted, info)``."""
    n = arrays[0].shape[0]
    raw = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        idx = _subsample_indices(rng, n, m, strata)
        raw[b] = value(*[a[idx] for a in arrays])
    factor = math.sqrt(m / (n - m))
    adjusted = point + factor * (raw - raw.mean())
    info = {"scheme": "subsample without replacement (delete-d jackknife)", "size": m,
            "n_replicates": n_bootstrap, "scale": factor, "raw": raw}
    return adjusted, info


def _result(point, adjusted, unit, method, diagnostics):
    s = 1.0 / _LN2 if unit == "bit" else 1.0
    adjusted = np.asarray(adjusted, dtype=np.float64)
    std = float(np.std(adjusted, ddof=1)) if adjusted.size > 1 else math.nan
    return MIResult(mi=point * s, std=std * s, samples=adjusted * s, unit=unit, method=method,
                    diagnostics=diagnostics)


def _warn_ties(tied, n, what):
    if tied:
        warnings.warn(f"{tied} of {n} points have a zero k-th neighbour distance (tied points); {what} "
                      "assumes continuous data. Use jitter=True to break ties, or method='mixed' for data with "
                      "discrete components.", RuntimeWarning, stacklevel=3)


# --------------------------------------------------------------------------
# public estimators
# --------------------------------------------------------------------------
@_doc
def ksg_mutual_info(x, y, *, variant=1, k=3, standardize=True, jitter=False, n_bootstrap=0,
                    subsample=None, rng=None, n_jobs=None, unit="nat"):
    """Kraskov-Stoegbauer-Grassberger k-nearest-neighbour estimate of I(X; Y).

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, dx)
    y : array-like of shape (n_samples,) or (n_samples, dy)
        Continuous samples; int and float32 input is converted to float64.
    variant : {1, 2}, default=1
        Algorithm 1 (counts strictly inside the joint k-th neighbour
        distance) or algorithm 2 (counts within each marginal's extent of the
        k-neighbour set).
    k : int, default=3
        Number of neighbours, ``1 <= k < n_samples``.
    standardize : bool, default=True
        Scale every column to mean 0 and standard deviation 1 first. The
        max-norm mixes columns, so unscaled columns of very different spread
        let one variable dominate the neighbour search.
    jitter : bool or float, default=False
        Add ``amplitude * max(1, mean|column|) * N(0, 1)`` noise, drawn from
        ``rng``, to every column after standardisation; True means
        amplitude 1e-10 (scikit-learn's choice). KSG assumes continuous data:
        tied points have a zero neighbour distance. Jitter breaks ties at a
        scale far below the data's resolution; without it, tied points are
        counted as described in Notes and a RuntimeWarning is issued.
{common}

    Returns
    -------
    MIResult
        ``method`` is 'ksg' or 'ksg2'; ``diagnostics`` holds k, n, the
        number of points with a zero neighbour distance and the resampling
        details.

    Notes
    -----
    Algorithm 1: with eps_i the max-norm distance from point i to its k-th
    nearest neighbour in the joint space, and n_x,i, n_y,i the numbers of
    other points strictly closer than eps_i in each marginal,
    ``I = psi(k) + psi(n) - <psi(n_x + 1) + psi(n_y + 1)>``. Counting
    "strictly closer" means within ``nextafter(eps_i, 0)``, which is also
    scikit-learn's rule; when eps_i = 0 (ties) the tied points are counted.

    Algorithm 2: with eps_x,i and eps_y,i the largest marginal distances from
    point i to its k neighbours (ties in the joint distance broken by row
    order) and n_x,i, n_y,i the numbers of other points within those,
    ``I = psi(k) - 1/k + psi(n) - <psi(n_x) + psi(n_y)>``.

    The estimate is not clipped at zero (scikit-learn clips): independent
    variables give small negative values, and clipping them would bias
    averages and error bars upwards.

{resampling}

    References
    ----------
    .. [1] A. Kraskov, H. Stoegbauer and P. Grassberger, "Estimating mutual
           information", Phys. Rev. E 69, 066138 (2004).

    Examples
    --------
    >>> import numpy as np
    >>> from fastmi._ksg import ksg_mutual_info
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(5000); y = 0.6 * x + 0.8 * rng.standard_normal(5000)
    >>> r = ksg_mutual_info(x, y, k=3)
    >>> truth = -0.5 * np.log(1 - 0.6 ** 2)      # 0.223 nat
    >>> bool(abs(r.mi - truth) < 0.05), r.method
    (True, 'ksg')
    """
    if variant not in (1, 2) or isinstance(variant, bool):
        raise ValueError(f"variant must be 1 or 2, got {variant!r}")
    x = _continuous(x, "x")
    y = _continuous(y, "y")
    check_same_length(x=x, y=y)
    n = x.shape[0]
    k = _check_k(k, n)
    n_threads, n_bootstrap = _check_common(unit, n_jobs, n_bootstrap)
    amplitude = _jitter_amplitude(jitter)
    m = _subsample_size(subsample, n, k + 1, "it must exceed k") if n_bootstrap else None
    gen = check_rng(rng)
    x, y = _prepare([x, y], "xy", standardize, amplitude, gen)

    point, tied = _ksg_value(x, y, k, variant, n_threads)
    _warn_ties(tied, n, "KSG")
    diagnostics = {"k": k, "n_samples": n, "variant": variant, "standardize": bool(standardize),
                   "jitter": amplitude, "n_tied": tied, "n_threads": n_threads}
    adjusted = np.empty(0)
    if n_bootstrap:
        adjusted, diagnostics["resampling"] = _replicates(
            lambda a, b: _ksg_value(a, b, k, variant, n_threads)[0], [x, y], point, n_bootstrap, m, gen)
    return _result(point, adjusted, unit, "ksg" if variant == 1 else "ksg2", diagnostics)


@_doc
def mixed_mutual_info(x, y, *, k=3, standardize=True, n_bootstrap=0, subsample=None, rng=None,
                      n_jobs=None, unit="nat"):
    """Gao-Kannan-Oh-Viswanath estimate of I(X; Y) for discrete-continuous mixtures.

    X and Y may each be continuous, discrete (numerically coded), or a mixture
    of both (e.g. zero-inflated data): repeated values are information here,
    not a nuisance, so there is no jitter.

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, dx)
    y : array-like of shape (n_samples,) or (n_samples, dy)
        Numeric samples; discrete values must be coded as numbers.
    k : int, default=3
        Number of neighbours, ``1 <= k < n_samples``.
    standardize : bool, default=True
        Scale every column to mean 0 and standard deviation 1 (ties survive).
{common}

    Returns
    -------
    MIResult
        ``method`` is 'mixed'.

    Notes
    -----
    For each point, rho_i is the max-norm distance to its k-th nearest
    neighbour in the joint space. If rho_i > 0, k~_i = k and n_x,i, n_y,i
    count the points strictly closer than rho_i in each marginal; if
    rho_i = 0 (a point repeated at least k + 1 times), k~_i, n_x,i and n_y,i
    count the copies of the point in the joint space and in each marginal.
    All counts include the point itself, and
    ``I = < psi(k~) + log n - psi(n_x) - psi(n_y) >``.

    This is the form of the authors' reference implementation (digamma of
    the marginal counts); the paper's display writes ``log(n_x + 1)``,
    which carries an O(1/k) bias in continuous regions. On continuous data
    the estimate equals KSG algorithm 1 up to ``log n - psi(n)`` (< 1/n);
    on purely discrete data it is a digamma-smoothed plug-in estimate.

{resampling}

    References
    ----------
    .. [1] W. Gao, S. Kannan, S. Oh and P. Viswanath, "Estimating mutual
           information for discrete-continuous mixtures", NeurIPS 2017.
    """
    x = _continuous(x, "x")
    y = _continuous(y, "y")
    check_same_length(x=x, y=y)
    n = x.shape[0]
    k = _check_k(k, n)
    n_threads, n_bootstrap = _check_common(unit, n_jobs, n_bootstrap)
    m = _subsample_size(subsample, n, k + 1, "it must exceed k") if n_bootstrap else None
    gen = check_rng(rng)
    x, y = _prepare([x, y], "xy", standardize, 0.0, gen)

    point = _mixed_value(x, y, k, n_threads)
    diagnostics = {"k": k, "n_samples": n, "standardize": bool(standardize), "n_threads": n_threads}
    adjusted = np.empty(0)
    if n_bootstrap:
        adjusted, diagnostics["resampling"] = _replicates(
            lambda a, b: _mixed_value(a, b, k, n_threads), [x, y], point, n_bootstrap, m, gen)
    return _result(point, adjusted, unit, "mixed", diagnostics)


@_doc
def categorical_ksg_mutual_info(x, labels, *, k=3, standardize=True, jitter=False, n_bootstrap=0,
                                subsample=None, rng=None, n_jobs=None, unit="nat"):
    """Ross (2014) nearest-neighbour estimate of I(X; C) for continuous X and categorical C.

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, dx)
        Continuous samples.
    labels : array-like of shape (n_samples,)
        Category labels of any comparable type; every class needs at least
        two samples.
    k : int, default=3
        Number of neighbours within a class; a class of n_c samples uses
        ``min(k, n_c - 1)``.
    standardize : bool, default=True
        Scale every column of x to mean 0 and standard deviation 1.
    jitter : bool or float, default=False
        Seeded tie-breaking noise, as in :func:`ksg_mutual_info`.
{common}

    Returns
    -------
    MIResult
        ``method`` is 'ksg-ross'.

    Notes
    -----
    For each point i of class c, d_i is the max-norm distance to its k-th
    nearest neighbour among the n_c points of class c, and m_i counts the
    points of the whole sample strictly closer than d_i, i itself included
    (within ``nextafter(d_i, 0)``; tied points count when d_i = 0). Then
    ``I = psi(n) + <psi(k)> - <psi(n_c)> - <psi(m)>``. On one-dimensional x
    this is exactly the core of scikit-learn's ``mutual_info_classif``
    without its added noise (for d > 1 we use the max-norm, scikit-learn
    the Euclidean norm).

    Replicates subsample every class at the same rate (at least two rows per
    class), so the class proportions are fixed.

{resampling}

    References
    ----------
    .. [1] B. C. Ross, "Mutual information between discrete and continuous
           data sets", PLoS ONE 9(2), e87357 (2014).
    """
    x = _continuous(x, "x")
    codes, classes, counts = check_labels(labels, "labels", min_count=2)
    check_same_length(x=x, labels=codes)
    n = x.shape[0]
    k = check_int(k, "k", low=1)
    if k >= counts.max():
        raise ValueError(f"k={k} must be smaller than the size of the largest class ({int(counts.max())})")
    n_threads, n_bootstrap = _check_common(unit, n_jobs, n_bootstrap)
    amplitude = _jitter_amplitude(jitter)
    strata = None
    m = None
    if n_bootstrap:
        m = _subsample_size(subsample, n, 2 * classes.size, "it needs two rows per class")
        members = [np.flatnonzero(codes == c) for c in range(classes.size)]
        sizes = [min(s.size, max(2, int(round(s.size * m / n)))) for s in members]
        m = int(sum(sizes))
        if m >= n:
            raise ValueError(f"subsample size m={m} leaves nothing out of n={n} after keeping two rows per class")
        strata = list(zip(members, sizes))
    gen = check_rng(rng)
    (x,) = _prepare([x], "x", standardize, amplitude, gen)

    point, tied = _ross_value(x, codes, k, n_threads)
    _warn_ties(tied, n, "the Ross estimator")
    diagnostics = {"k": k, "n_samples": n, "classes": classes.tolist(), "class_counts": counts.tolist(),
                   "standardize": bool(standardize), "jitter": amplitude, "n_tied": tied, "n_threads": n_threads}
    adjusted = np.empty(0)
    if n_bootstrap:
        adjusted, diagnostics["resampling"] = _replicates(
            lambda a, c: _ross_value(a, c, k, n_threads)[0], [x, codes], point, n_bootstrap, m, gen, strata)
    return _result(point, adjusted, unit, "ksg-ross", diagnostics)


@_doc
def ksg_conditional_mutual_info(x, y, z, *, k=3, standardize=True, jitter=False, n_bootstrap=0,
                                subsample=None, rng=None, n_jobs=None, unit="nat"):
    """Frenzel-Pompe k-nearest-neighbour estimate of I(X; Y | Z).

    Parameters
    ----------
    x, y, z : array-like of shape (n_samples,) or (n_samples, d)
        Continuous samples.
    k : int, default=3
        Number of neighbours, ``1 <= k < n_samples``.
    standardize : bool, default=True
        Scale every column to mean 0 and standard deviation 1.
    jitter : bool or float, default=False
        Seeded tie-breaking noise, as in :func:`ksg_mutual_info`.
{common}

    Returns
    -------
    MIResult
        ``method`` is 'ksg-cmi'.

    Notes
    -----
    With eps_i the max-norm distance from point i to its k-th nearest
    neighbour in the (x, y, z) space and n_xz,i, n_yz,i, n_z,i the numbers of
    other points strictly closer than eps_i in the (x, z), (y, z) and z
    subspaces, ``I = psi(k) - <psi(n_xz + 1) + psi(n_yz + 1) - psi(n_z + 1)>``.
    Ties are counted as in :func:`ksg_mutual_info`.

{resampling}

    References
    ----------
    .. [1] S. Frenzel and B. Pompe, "Partial mutual information for coupling
           analysis of multivariate time series", Phys. Rev. Lett. 99,
           204101 (2007).
    """
    x = _continuous(x, "x")
    y = _continuous(y, "y")
    z = _continuous(z, "z")
    check_same_length(x=x, y=y, z=z)
    n = x.shape[0]
    k = _check_k(k, n)
    n_threads, n_bootstrap = _check_common(unit, n_jobs, n_bootstrap)
    amplitude = _jitter_amplitude(jitter)
    m = _subsample_size(subsample, n, k + 1, "it must exceed k") if n_bootstrap else None
    gen = check_rng(rng)
    x, y, z = _prepare([x, y, z], "xyz", standardize, amplitude, gen)

    point, tied = _cmi_value(x, y, z, k, n_threads)
    _warn_ties(tied, n, "KSG")
    diagnostics = {"k": k, "n_samples": n, "standardize": bool(standardize), "jitter": amplitude,
                   "n_tied": tied, "n_threads": n_threads}
    adjusted = np.empty(0)
    if n_bootstrap:
        adjusted, diagnostics["resampling"] = _replicates(
            lambda a, b, c: _cmi_value(a, b, c, k, n_threads)[0], [x, y, z], point, n_bootstrap, m, gen)
    return _result(point, adjusted, unit, "ksg-cmi", diagnostics)


def _discrete_codes(a, name):
    """Integer codes of the symbols of ``a``: labels of any type in 1-D, or
    rows of a numeric 2-D array."""
    if hasattr(a, "to_numpy"):
        a = a.to_numpy()
    arr = np.asarray(a)
    if arr.ndim == 2 and arr.shape[1] > 1:
        arr = check_array(arr, name, allow_constant=True)
        _, codes = np.unique(arr, axis=0, return_inverse=True)
        codes = codes.ravel().astype(np.intp)
        if codes.max() == 0:
            raise ValueError(f"{name} takes a single value; its mutual information with anything is 0")
        return codes
    codes, _, _ = check_labels(arr, name, min_count=1)
    return codes


def _discrete_value(cx, cy, miller_madow):
    n = cx.size
    cx = np.unique(cx, return_inverse=True)[1].ravel()
    cy = np.unique(cy, return_inverse=True)[1].ravel()
    _, cxy = np.unique(cx.astype(np.int64) * (int(cy.max()) + 1) + cy, return_counts=True)
    cx = np.bincount(cx)
    cy = np.bincount(cy)

    def entropy(counts):
        counts = counts[counts > 0].astype(np.float64)
        return math.log(n) - float(np.dot(counts, np.log(counts))) / n

    mi = entropy(cx) + entropy(cy) - entropy(cxy)
    if miller_madow:
        # H_MM = H_plugin + (m - 1) / (2n), m = number of occupied cells
        mi += ((np.count_nonzero(cx) - 1) + (np.count_nonzero(cy) - 1) - (cxy.size - 1)) / (2.0 * n)
    return mi


@_doc
def discrete_mutual_info(x, y, *, miller_madow=True, n_bootstrap=0, subsample=None, rng=None,
                         n_jobs=None, unit="nat"):
    """Plug-in estimate of I(X; Y) for discrete X and Y.

    Parameters
    ----------
    x, y : array-like of shape (n_samples,) or (n_samples, d)
        Symbols: 1-D labels of any comparable type, or numeric 2-D arrays
        whose rows are the symbols.
    miller_madow : bool, default=True
        Add the Miller-Madow bias correction (m - 1) / (2n) to each entropy,
        m being the number of occupied cells: the MI gains
        ``(m_x + m_y - m_xy - 1) / (2n)``.
{common}

    Returns
    -------
    MIResult
        ``method`` is 'discrete'.

    Notes
    -----
    ``I = H(X) + H(Y) - H(X, Y)`` with empirical frequencies. ``n_jobs`` is
    accepted for a uniform signature; this estimator is not threaded.

{resampling}
    """
    cx = _discrete_codes(x, "x")
    cy = _discrete_codes(y, "y")
    check_same_length(x=cx, y=cy)
    n = cx.size
    n_threads, n_bootstrap = _check_common(unit, n_jobs, n_bootstrap)
    m = _subsample_size(subsample, n, 2, "at least two rows") if n_bootstrap else None
    gen = check_rng(rng)
    point = _discrete_value(cx, cy, miller_madow)
    diagnostics = {"n_samples": n, "miller_madow": bool(miller_madow),
                   "n_symbols": (int(cx.max()) + 1, int(cy.max()) + 1)}
    adjusted = np.empty(0)
    if n_bootstrap:
        adjusted, diagnostics["resampling"] = _replicates(
            lambda a, b: _discrete_value(a, b, miller_madow), [cx, cy], point, n_bootstrap, m, gen)
    return _result(point, adjusted, unit, "discrete", diagnostics)


def _logdet(c):
    """log det of a small symmetric positive-definite matrix by a Cholesky
    factorisation in plain Python (no LAPACK call for tiny d); -inf when it
    is not positive definite."""
    d = c.shape[0]
    a = c.tolist()
    low = [[0.0] * d for _ in range(d)]
    out = 0.0
    for j in range(d):
        s = a[j][j] - sum(low[j][p] ** 2 for p in range(j))
        if not s > 0.0:
            return -math.inf
        low[j][j] = math.sqrt(s)
        out += math.log(s)
        for i in range(j + 1, d):
            low[i][j] = (a[i][j] - sum(low[i][p] * low[j][p] for p in range(j))) / low[j][j]
    return out


def _gaussian_value(x, y):
    dx = x.shape[1]
    corr = np.corrcoef(np.hstack([x, y]), rowvar=False)
    ldx, ldy, ld = _logdet(corr[:dx, :dx]), _logdet(corr[dx:, dx:]), _logdet(corr)
    if ldx == -math.inf or ldy == -math.inf:
        raise ValueError("x or y has linearly dependent columns; their covariance is singular")
    return 0.5 * (ldx + ldy - ld)


@_doc
def gaussian_mutual_info(x, y, *, n_bootstrap=0, subsample=None, rng=None, n_jobs=None, unit="nat"):
    """Closed-form I(X; Y) under a joint Gaussian assumption.

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, dx)
    y : array-like of shape (n_samples,) or (n_samples, dy)
{common}

    Returns
    -------
    MIResult
        ``method`` is 'gaussian'. The value is ``inf`` when the joint
        correlation matrix is singular (y a linear function of x).

    Notes
    -----
    ``I = 0.5 * (log det R_x + log det R_y - log det R)`` with R the sample
    correlation matrix of (x, y) and R_x, R_y its diagonal blocks; for
    scalars, ``-0.5 * log(1 - rho^2)``. It is exact for Gaussian data
    (a baseline, not a general estimator: non-Gaussian dependence can make
    it arbitrarily wrong in either direction). ``n_jobs`` is accepted for a
    uniform signature.

{resampling}
    """
    x = _continuous(x, "x")
    y = _continuous(y, "y")
    check_same_length(x=x, y=y)
    n = x.shape[0]
    d = x.shape[1] + y.shape[1]
    if n <= d:
        raise ValueError(f"the Gaussian estimate needs more samples ({n}) than dimensions ({d})")
    n_threads, n_bootstrap = _check_common(unit, n_jobs, n_bootstrap)
    m = _subsample_size(subsample, n, d + 1, "it must exceed the dimension") if n_bootstrap else None
    gen = check_rng(rng)
    point = _gaussian_value(x, y)
    diagnostics = {"n_samples": n, "dims": (x.shape[1], y.shape[1])}
    adjusted = np.empty(0)
    if n_bootstrap:
        adjusted, diagnostics["resampling"] = _replicates(
            _gaussian_value, [x, y], point, n_bootstrap, m, gen)
    return _result(point, adjusted, unit, "gaussian", diagnostics)
