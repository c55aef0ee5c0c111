"""Nearest-neighbour estimators for data that is not purely continuous: Gao, Kannan, Oh &
Viswanath (2017) for discrete-continuous mixtures, and Ross (2014) for continuous x
against category labels."""
from __future__ import annotations

import math

import numpy as np
from scipy.special import digamma

from .. import _ksg_cy
from .._subsample import Partition, _doc, check_common, partition_plan, subsampled_result
from .._validation import (check_bool, check_class_labels, check_conditioning, check_continuous, check_int, check_rng,
                           check_same_length)
from ._common import (_LEAFSIZE, _ROSS_TIE_ADVICE, _Presort, _count_within, _jitter_amplitude, _mean_digamma,
                      _prepare, _strict, _warn_ties, setup)


_MIN_CLASS_SIZE_DOC = """\
    min_class_size : int or None, default=None
        None: a class with fewer than two samples is an error. An int
        (>= 2): the samples of classes with fewer than ``min_class_size``
        samples are dropped first, with a RuntimeWarning giving the numbers
        of samples and classes dropped (``diagnostics['n_dropped']``)."""


def _doc_classes(func):
    func.__doc__ = func.__doc__.replace("{min_class_size}", _MIN_CLASS_SIZE_DOC)
    return func


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


def _ross_cmi_counts(x, z, codes, k, n_threads=1, by_row=False):
    """Quantities of the conditional Ross estimator: ``(radius, k_used, m_xz, n_cz, n_z)``.

    ``radius`` is each point's distance to its ``k_used``-th nearest neighbour among the
    points of its own class in the (x, z) space (``k_used = min(k, n_c - 1)``); within
    ``nextafter(radius, 0)`` (see :func:`_strict`), ``m_xz`` counts the points of all
    classes in (x, z), ``n_cz`` the points of its own class in z, and ``n_z`` the points of
    all classes in z, the point itself included each time. A z with no columns (degenerate)
    gives ``n_cz = n_c`` and ``n_z = n``. Counts come in an arbitrary fixed order, or in the
    rows' order with ``by_row`` (for per-point terms).
    """
    n = x.shape[0]
    xz = np.ascontiguousarray(np.hstack([x, z]))
    radius = np.empty(n)
    k_used = np.empty(n, dtype=np.intp)
    members = [np.flatnonzero(codes == c) for c in range(int(codes.max()) + 1)]
    for idx in members:
        kc = min(k, idx.size - 1)
        r, _ = _ksg_cy.KDTree(np.ascontiguousarray(xz[idx]), _LEAFSIZE, n_threads).knn(kc, n_threads=n_threads)
        radius[idx] = r
        k_used[idx] = kc
    r = _strict(radius)
    m_xz = _count_within(xz, r, n_threads, by_row=by_row)
    if z.shape[1] == 0:
        return radius, k_used, m_xz, np.bincount(codes)[codes], np.full(n, n, dtype=np.intp)
    parts = [_count_within(np.ascontiguousarray(z[idx]), np.ascontiguousarray(r[idx]), n_threads, by_row=by_row)
             for idx in members]
    if by_row:
        n_cz = np.empty(n, dtype=np.intp)
        for idx, counts in zip(members, parts):
            n_cz[idx] = counts
    else:
        n_cz = np.concatenate(parts)
    return radius, k_used, m_xz, n_cz, _count_within(z, r, n_threads, by_row=by_row)


def _ross_cmi_value(x, z, codes, k, n_threads):
    radius, k_used, m_xz, n_cz, n_z = _ross_cmi_counts(x, z, codes, k, n_threads)
    cmi = _mean_digamma(k_used) - _mean_digamma(m_xz) - _mean_digamma(n_cz) + _mean_digamma(n_z)
    return float(cmi), int(np.count_nonzero(radius == 0.0))


@_doc
def mixed_mutual_info(x, y, *, k=3, standardize=True, n_bootstrap=None, subsample=None, rng=None,
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
    (x, y), c = setup([x, y], "xy", k=k, standardize=standardize, jitter=False, n_bootstrap=n_bootstrap,
                      subsample=subsample, rng=rng, n_jobs=n_jobs, unit=unit)
    k, n_threads = c["k"], c["n_threads"]
    point = _mixed_value(x, y, k, n_threads)
    diagnostics = {"k": k, "n_samples": c["n"], "standardize": bool(standardize), "n_threads": n_threads}
    return subsampled_result(lambda a, b, threads=n_threads: _mixed_value(a, b, k, threads), [x, y], point,
                             n_workers=n_threads, n_bootstrap=c["n_bootstrap"], m=c["m"], why=c["why"], rng=c["rng"], unit=unit,
                             method="mixed", diagnostics=diagnostics)


@_doc_classes
@_doc
def categorical_ksg_mutual_info(x, labels, *, k=3, standardize=True, jitter=False, min_class_size=None,
                                n_bootstrap=None, subsample=None, rng=None, n_jobs=None, unit="nat"):
    """Ross (2014) nearest-neighbour estimate of I(X; C) for continuous X and categorical C.

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, dx)
        Continuous samples.
    labels : array-like of shape (n_samples,)
        Category labels of any comparable type; every class needs at least
        two samples (see ``min_class_size``).
    k : int, default=3
        Number of neighbours within a class; a class of n_c samples uses
        ``min(k, n_c - 1)``.
    standardize : bool, default=True
        Scale every column of x to mean 0 and standard deviation 1.
    jitter : bool or float, default=False
        Seeded tie-breaking noise, as in :func:`ksg_mutual_info`.
{min_class_size}
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
    (x,), codes, c = _categorical_setup([check_continuous(x, "x")], labels, k=k, standardize=standardize, jitter=jitter,
                                        min_class_size=min_class_size, n_bootstrap=n_bootstrap, subsample=subsample,
                                        rng=rng, n_jobs=n_jobs, unit=unit)
    k, n_threads = c["k"], c["n_threads"]
    point, tied = _ross_value(x, codes, k, n_threads)
    _warn_ties(tied, c["n"], "the Ross estimator", _ROSS_TIE_ADVICE)
    diagnostics = {**c["diagnostics"], "n_tied": tied}
    return subsampled_result(lambda a, b, threads=n_threads: _ross_value(a, b, k, threads)[0], [x, codes], point,
                             n_workers=n_threads, n_bootstrap=c["n_bootstrap"], m=c["m"], why=c["why"], rng=c["rng"], unit=unit,
                             method="ksg-ross", diagnostics=diagnostics, strata=c["strata"])


def _categorical_setup(arrays, labels, *, k, standardize, jitter, min_class_size, n_bootstrap, subsample, rng,
                       n_jobs, unit, names="x"):
    """Validate and prepare the inputs of a Ross-type estimator: the continuous ``arrays``
    (checked by the caller: ``check_continuous``, or ``check_conditioning`` for z) and the
    class ``labels``. Drops the rows
    of small classes when ``min_class_size`` says so, checks k against the class sizes, sets
    up per-class subsampling strata, standardises and jitters. Returns ``(arrays, codes,
    ctx)``."""
    standardize = check_bool(standardize, "standardize")
    codes, classes, counts, keep = check_class_labels(labels, "labels", min_count=2, min_class_size=min_class_size)
    n_dropped = 0
    if keep is not None:
        check_same_length(labels=keep, **dict(zip(names, arrays)))
        n_dropped = int(keep.size - np.count_nonzero(keep))
        arrays = [np.ascontiguousarray(a[keep]) for a in arrays]
    check_same_length(labels=codes, **dict(zip(names, arrays)))
    n = codes.size
    k = check_int(k, "k", low=1)
    if k >= counts.max():
        raise ValueError(f"k={k} must be smaller than the size of the largest class ({int(counts.max())})")
    n_threads, n_bootstrap, m, why = check_common(unit, n_jobs, n_bootstrap, subsample, n, 2 * classes.size,
                                                  "it needs two rows per class", partition=True)
    amplitude = _jitter_amplitude(jitter)
    strata = None
    if isinstance(m, Partition):
        # every piece keeps the class proportions, with two rows of each class and k + 1 of the largest
        low = [max(2, k + 1) if c == counts.max() else 2 for c in counts]
        m = partition_plan([(int(c), lo) for c, lo in zip(counts, low)])
        if m is None:
            n_bootstrap, m, why = check_common(unit, n_jobs, None, None, n, 2 * classes.size,
                                               "it needs two rows per class")[1:]
        else:
            n_bootstrap = m.pieces * m.repeats
            strata = [(np.flatnonzero(codes == c), None) for c in range(classes.size)]
    if n_bootstrap and strata is None:
        members = [np.flatnonzero(codes == c) for c in range(classes.size)]
        sizes = [min(s.size, max(2, int(round(s.size * m / n)))) for s in members]
        m = int(sum(sizes))
        if m >= n:
            raise ValueError(f"subsample size m={m} leaves nothing out of n={n} after keeping two rows per class")
        strata = list(zip(members, sizes))
    gen = check_rng(rng)
    arrays = _prepare(arrays, names, standardize, amplitude, gen, n_threads)
    diagnostics = {"k": k, "n_samples": n, "classes": classes.tolist(), "class_counts": counts.tolist(),
                   "standardize": bool(standardize), "jitter": amplitude, "n_threads": n_threads}
    if min_class_size is not None:
        diagnostics["min_class_size"] = int(min_class_size)
        diagnostics["n_dropped"] = n_dropped
    return arrays, codes, {"n": n, "k": k, "n_threads": n_threads, "n_bootstrap": n_bootstrap, "m": m, "why": why,
                           "rng": gen, "strata": strata, "diagnostics": diagnostics}


@_doc_classes
@_doc
def categorical_ksg_conditional_mutual_info(x, labels, z, *, k=3, standardize=True, jitter=False,
                                            min_class_size=None, n_bootstrap=None, subsample=None, rng=None,
                                            n_jobs=None, unit="nat"):
    """Nearest-neighbour estimate of I(X; C | Z) for continuous X and Z and categorical C.

    The Ross (2014) estimator made conditional the way Frenzel and Pompe (2007)
    made KSG conditional: one neighbourhood radius per point, counted in the
    subspaces that the entropy decomposition needs.

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, dx)
        Continuous samples.
    labels : array-like of shape (n_samples,)
        Category labels of any comparable type; every class needs at least
        two samples (see ``min_class_size``).
    z : array-like of shape (n_samples,) or (n_samples, dz)
        Continuous conditioning samples. Constant columns are dropped with a
        RuntimeWarning; a single-valued z gives I(X; C) (with a warning).
    k : int, default=3
        Number of neighbours within a class; a class of n_c samples uses
        ``min(k, n_c - 1)``.
    standardize : bool, default=True
        Scale every column of x and z to mean 0 and standard deviation 1.
    jitter : bool or float, default=False
        Seeded tie-breaking noise, as in :func:`ksg_mutual_info`.
{min_class_size}
{common}

    Returns
    -------
    MIResult
        ``method`` is 'ksg-ross-cmi' and ``quantity`` is 'cmi'.

    Notes
    -----
    For each point i of class c, d_i is the max-norm distance in the (x, z)
    space to its k-th nearest neighbour among the points of class c. Within
    d_i (strictly, as in :func:`categorical_ksg_mutual_info`; the point
    itself included), m_i counts the points of all classes in (x, z),
    n_cz,i the points of class c in z, and n_z,i the points of all classes
    in z. Then ``I = <psi(k)> - <psi(m)> - <psi(n_cz)> + <psi(n_z)>``.

    Why this form: with C coded as a coordinate whose distance between
    different classes is infinite, the k nearest neighbours of i in the
    joint (x, c, z) space are its k nearest neighbours within class c, at
    max-norm distance d_i, and the (x, z), (c, z) and z subspaces of the
    Frenzel-Pompe estimator hold exactly the points counted by m_i, n_cz,i
    and n_z,i. Using one radius per point in all four terms lets the
    leading biases of the entropy estimates cancel, as in KSG. The
    alternative, the difference of two Ross estimates I(C; X, Z) - I(C; Z),
    uses different radii in the two terms and keeps their biases. When z
    carries no information about anything (a single value), n_cz = n_c and
    n_z = n and the estimate is exactly the Ross estimate of I(X; C).

    Replicates subsample every class at the same rate (at least two rows per
    class), so the class proportions are fixed.

{resampling}

    References
    ----------
    .. [1] B. C. Ross, "Mutual information between discrete and continuous
           data sets", PLoS ONE 9(2), e87357 (2014).
    .. [2] S. Frenzel and B. Pompe, "Partial mutual information for coupling
           analysis of multivariate time series", Phys. Rev. Lett. 99,
           204101 (2007).
    """
    x = check_continuous(x, "x")
    z = check_conditioning(z, "z")
    (x, z), codes, c = _categorical_setup([x, z], labels, k=k, standardize=standardize, jitter=jitter,
                                          min_class_size=min_class_size, n_bootstrap=n_bootstrap,
                                          subsample=subsample, rng=rng, n_jobs=n_jobs, unit=unit, names="xz")
    k, n_threads = c["k"], c["n_threads"]
    point, tied = _ross_cmi_value(x, z, codes, k, n_threads)
    _warn_ties(tied, c["n"], "the Ross estimator", _ROSS_TIE_ADVICE)
    diagnostics = {**c["diagnostics"], "n_tied": tied, "dims_z": int(z.shape[1])}
    return subsampled_result(lambda a, b, d, threads=n_threads: _ross_cmi_value(a, b, d, k, threads)[0], [x, z, codes],
                             point, n_workers=n_threads, n_bootstrap=c["n_bootstrap"], m=c["m"], why=c["why"], rng=c["rng"], unit=unit,
                             method="ksg-ross-cmi", diagnostics=diagnostics, strata=c["strata"], quantity="cmi")
