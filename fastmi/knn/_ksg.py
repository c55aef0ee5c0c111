"""Kraskov-Stoegbauer-Grassberger (2004) algorithms 1 and 2, and the Frenzel-Pompe (2007)
conditional estimator built on the same counts."""
from __future__ import annotations

import math

import numpy as np
from scipy.special import digamma

from .. import _ksg_cy
from .._subsample import _doc, subsampled_result
from .._validation import check_conditioning
from ._common import (_GRID_MIN_ROWS, _GRID_ROWS_PER_CELL, _GRID_WORK, _LEAFSIZE, _Presort, _count_within,
                      _grid_eligible, _grid_knn_count, _joint_knn, _joint_presort, _mean_digamma, _strict, _warn_ties,
                      setup)


def _ksg_counts(x, y, k, variant=1, n_threads=1, by_row=True, sort=None):
    """Exact KSG quantities.

    Returns ``(eps, nx, ny)``. Variant 1: ``eps`` (n,) is the k-th neighbour
    distance in the joint space and ``nx``/``ny`` count the other points
    strictly closer than it in each marginal (see :func:`_strict` for
    eps == 0). Variant 2: ``eps`` (n, 2) holds each point's marginal extents
    of its k-neighbour set (ties in the joint distance broken by row index)
    and the counts are of other points at distance <= those extents.
    ``by_row=False`` leaves the counts in an arbitrary order. ``sort`` may give the
    :class:`_Presort` of (x, y) (variant 1's, from :func:`_joint_presort`).
    """
    if variant == 1:
        sort = _joint_presort(x, y, n_threads) if sort is None else sort
        grid = _grid_knn_count(x, y, k, n_threads, by_row)
        if grid is not None:
            eps, nx, ny = grid
            r = _strict(eps)
            if nx is None:
                nx = _count_within(x, r, n_threads, by_row, sort.order(0)) - 1
            else:
                ny = _count_within(y, r, n_threads, by_row, sort.order(1)) - 1
            return eps, nx, ny
        eps = _joint_knn(x, y, k, n_threads, sort)
        rx = ry = _strict(eps)
    else:
        sort = _Presort([x, y], n_threads)
        xy = np.hstack([x, y])
        tree = _ksg_cy.KDTree(xy, _LEAFSIZE, n_threads)
        eps = tree.knn(k, groups=[0, x.shape[1], xy.shape[1]], tiebreak=True, n_threads=n_threads)[1]
        rx, ry = np.ascontiguousarray(eps[:, 0]), np.ascontiguousarray(eps[:, 1])
    return (eps,
            _count_within(x, rx, n_threads, by_row, sort.order(0)) - 1,
            _count_within(y, ry, n_threads, by_row, sort.order(1)) - 1)


def _ksg1_batch(x, y, k, sort, n_threads):
    """``batch`` for the partition error bar of KSG-1 on 1-D x and y: the values of all the pieces
    of a partition from one kernel call (``ksg1_pieces``: the grid k-NN and the counts of every
    piece, a piece per thread, no GIL), with each piece's sort orders read off ``sort``'s. The
    counts are those of :func:`_ksg_counts` on the piece, and the values are formed as in
    :func:`_ksg_value`, so they are the per-piece values bit for bit. None (the pieces one by
    one) where pieces are too small for the grid or some piece's probe finds it slow."""
    def batch(pieces, repeats):
        s = pieces[0].size
        if s < _GRID_MIN_ROWS or any(p.size != s for p in pieces):
            return None
        per = len(pieces) // repeats
        cells = max(1, math.isqrt(s // _GRID_ROWS_PER_CELL))
        values = []
        for r in range(repeats):
            piece_of = np.full(x.shape[0], -1, dtype=np.intp)
            for j in range(per):
                piece_of[pieces[r * per + j]] = j
            counts = _ksg_cy.ksg1_pieces(x[:, 0], y[:, 0], sort.order(0), sort.order(1), piece_of, per, s, k, cells,
                                         _GRID_WORK * (k + 1), n_threads)
            if counts is None:
                return None
            values += [digamma(k) + digamma(s) - _mean_digamma(a + 1) - _mean_digamma(b + 1) for a, b in zip(*counts)]
        return values

    return batch


def _ksg_value(x, y, k, variant, n_threads, sort=None):
    eps, nx, ny = _ksg_counts(x, y, k, variant, n_threads, by_row=False, sort=sort)
    n = x.shape[0]
    if variant == 1:
        mi = digamma(k) + digamma(n) - _mean_digamma(nx + 1) - _mean_digamma(ny + 1)
        tied = int(np.count_nonzero(eps == 0.0))
    else:
        mi = digamma(k) - 1.0 / k + digamma(n) - _mean_digamma(nx) - _mean_digamma(ny)
        tied = int(np.count_nonzero((eps == 0.0).any(axis=1)))
    return float(mi), tied


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
# public estimators
# --------------------------------------------------------------------------
@_doc
def ksg_mutual_info(x, y, *, variant=1, k=3, standardize=True, jitter=False, n_bootstrap=None,
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

    Perfectly dependent variables (y a one-to-one function of x), whose MI
    is infinite, give a finite value. In algorithm 1 the k - 1 points
    strictly inside a point's joint k-th neighbour distance are inside it in
    each marginal too, so n_x, n_y >= k - 1 and the estimate never exceeds
    ``psi(n) - psi(k)``; y = x (without ties) attains it. Read a value near
    that bound, which grows like ``log(n)``, as "as dependent as n samples
    can show".

{resampling}

    References
    ----------
    .. [1] A. Kraskov, H. Stoegbauer and P. Grassberger, "Estimating mutual
           information", Phys. Rev. E 69, 066138 (2004).

    Examples
    --------
    >>> import numpy as np
    >>> from fastmi.knn import ksg_mutual_info
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(5000); y = 0.6 * x + 0.8 * rng.standard_normal(5000)
    >>> r = ksg_mutual_info(x, y, k=3)
    >>> truth = -0.5 * np.log(1 - 0.6 ** 2)      # 0.223 nat
    >>> bool(abs(r.mi - truth) < 0.05), r.method
    (True, 'ksg')
    """
    if variant not in (1, 2) or isinstance(variant, bool):
        raise ValueError(f"variant must be 1 or 2, got {variant!r}")
    (x, y), c = setup([x, y], "xy", k=k, standardize=standardize, jitter=jitter, n_bootstrap=n_bootstrap,
                      subsample=subsample, rng=rng, n_jobs=n_jobs, unit=unit)
    k, n_threads = c["k"], c["n_threads"]
    sort = _joint_presort(x, y, n_threads) if variant == 1 else None
    point, tied = _ksg_value(x, y, k, variant, n_threads, sort)
    _warn_ties(tied, c["n"], "KSG")
    diagnostics = {"k": k, "n_samples": c["n"], "variant": variant, "standardize": bool(standardize),
                   "jitter": c["amplitude"], "n_tied": tied, "n_threads": n_threads}
    batch = _ksg1_batch(x, y, k, sort, n_threads) if variant == 1 and _grid_eligible(x, y) else None
    return subsampled_result(lambda a, b, threads=n_threads: _ksg_value(a, b, k, variant, threads)[0], [x, y],
                             point, n_workers=n_threads, n_bootstrap=c["n_bootstrap"], m=c["m"], why=c["why"], rng=c["rng"], unit=unit,
                             method="ksg" if variant == 1 else "ksg2", diagnostics=diagnostics, batch=batch)


@_doc
def ksg_conditional_mutual_info(x, y, z, *, k=3, standardize=True, jitter=False, n_bootstrap=None,
                                subsample=None, rng=None, n_jobs=None, unit="nat"):
    """Frenzel-Pompe k-nearest-neighbour estimate of I(X; Y | Z).

    Parameters
    ----------
    x, y, z : array-like of shape (n_samples,) or (n_samples, d)
        Continuous samples. Constant columns of z are dropped with a warning;
        a single-valued z gives the KSG estimate of I(X; Y) (with a warning).
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
    z = check_conditioning(z, "z")
    if z.shape[1] == 0:  # a single-valued z (warned): I(X; Y | Z) = I(X; Y)
        r = ksg_mutual_info(x, y, k=k, standardize=standardize, jitter=jitter, n_bootstrap=n_bootstrap,
                            subsample=subsample, rng=rng, n_jobs=n_jobs, unit=unit)
        r.method, r.quantity = "ksg-cmi", "cmi"
        r.diagnostics["degenerate_z"] = True
        return r
    (x, y, z), c = setup([x, y, z], "xyz", k=k, standardize=standardize, jitter=jitter, n_bootstrap=n_bootstrap,
                         subsample=subsample, rng=rng, n_jobs=n_jobs, unit=unit)
    k, n_threads = c["k"], c["n_threads"]
    point, tied = _cmi_value(x, y, z, k, n_threads)
    _warn_ties(tied, c["n"], "KSG")
    diagnostics = {"k": k, "n_samples": c["n"], "standardize": bool(standardize), "jitter": c["amplitude"],
                   "n_tied": tied, "n_threads": n_threads}
    return subsampled_result(lambda a, b, d, threads=n_threads: _cmi_value(a, b, d, k, threads)[0], [x, y, z],
                             point, n_workers=n_threads, n_bootstrap=c["n_bootstrap"], m=c["m"], why=c["why"], rng=c["rng"], unit=unit,
                             method="ksg-cmi", diagnostics=diagnostics, quantity="cmi")


