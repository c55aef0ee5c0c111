"""Nearest-neighbour differential entropy (Kozachenko & Leonenko 1987) and KL divergence
(Wang, Kulkarni & Verdu 2009), on the kd-tree of :mod:`fastmi._ksg_cy` with the max-norm
or the Euclidean norm."""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.special import digamma, gammaln

from .. import _ksg_cy
from .._subsample import Partition, _doc, check_common, partition_plan, subsampled_result
from .._validation import check_choice, check_continuous, check_rng
from ._common import _LEAFSIZE, _check_k, _jitter_amplitude, _prepare, setup

_METRICS = ("max", "euclidean")


def _log_unit_ball(d, metric):
    """log of the volume of the unit ball (radius 1) of the norm in d dimensions: the cube
    [-1, 1]^d for the max-norm, pi^(d/2) / Gamma(d/2 + 1) for the Euclidean norm."""
    if metric == "max":
        return d * math.log(2.0)
    return 0.5 * d * math.log(math.pi) - float(gammaln(0.5 * d + 1.0))


def _tree(x, metric, n_threads):
    """The kd-tree of x. Euclidean searches in d >= 3 visit many more nodes than max-norm
    ones (the ball reaches further along the axes than the cube of equal volume), and
    larger leaves halve their time at d = 5-10 (measured; the result does not depend on it)."""
    leafsize = _LEAFSIZE if metric == "max" or x.shape[1] <= 2 else 4 * _LEAFSIZE
    return _ksg_cy.KDTree(x, leafsize, n_threads, metric=metric)


def _entropy_distances(x, k, metric, n_threads):
    """Distance from every row of x to its k-th nearest other row, by row."""
    return _tree(x, metric, n_threads).knn(k, n_threads=n_threads)[0]


def _kl_distances(x, y, k, metric, n_threads):
    """``(rho, nu)``: for every row of x, the distance to its k-th nearest other row of x and
    to its k-th nearest row of y, by row of x."""
    tree_x = _tree(x, metric, n_threads)
    rho = tree_x.knn(k, n_threads=n_threads)[0]
    # query y's tree in x's tree order: consecutive queries are near each other in space
    order = tree_x.indices
    nu = np.empty_like(rho)
    nu[order] = _tree(y, metric, n_threads).query(
        np.ascontiguousarray(x[order]), k, n_threads)
    return rho, nu


def _entropy_value(x, k, metric, n_threads):
    n, d = x.shape
    eps = _entropy_distances(x, k, metric, n_threads)
    with np.errstate(divide="ignore"):
        mean_log = float(np.mean(np.log(eps)))
    h = digamma(n) - digamma(k) + _log_unit_ball(d, metric) + d * mean_log
    return float(h), int(np.count_nonzero(eps == 0.0))


def _kl_value(x, y, k, metric, n_threads):
    (n, d), m = x.shape, y.shape[0]
    rho, nu = _kl_distances(x, y, k, metric, n_threads)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_log = float(np.mean(np.log(nu) - np.log(rho)))
    kl = d * mean_log + math.log(m / (n - 1))
    return float(kl), int(np.count_nonzero((rho == 0.0) | (nu == 0.0)))


def _warn_zero(n_zero, n, what):
    if n_zero:
        warnings.warn(f"{n_zero} of {n} points have a zero k-th neighbour distance (tied points), so the {what} "
                      "estimate is infinite or undefined; it assumes continuous data. Use jitter=True to break "
                      "ties.", RuntimeWarning, stacklevel=3)


# --------------------------------------------------------------------------
# public estimators
# --------------------------------------------------------------------------
@_doc
def knn_entropy(x, *, k=3, metric="max", jitter=False, n_bootstrap=None, subsample=None, rng=None,
                n_jobs=None, unit="nat"):
    """Kozachenko-Leonenko k-nearest-neighbour estimate of the differential entropy H(X).

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, d)
        Continuous samples; int and float32 input is converted to float64.
        The data are not rescaled: entropy depends on the scale.
    k : int, default=3
        Number of neighbours, ``1 <= k < n_samples``.
    metric : {'max', 'euclidean'}, default='max'
        Norm of the neighbour distances (max-norm as in KSG, or Euclidean).
        Both estimate the same H; their biases at finite n differ.
    jitter : bool or float, default=False
        Add ``amplitude * max(1, mean|column|) * N(0, 1)`` noise, drawn from
        ``rng``, to every column; True means amplitude 1e-10. Tied points
        have a zero neighbour distance and make the estimate -inf (a
        RuntimeWarning says so); jitter breaks the ties.
{common}

    Returns
    -------
    MIResult
        ``quantity`` is 'entropy' and ``method`` 'knn'; ``mi`` holds H in
        ``unit``. ``diagnostics`` holds k, n, d, the metric, the number of
        points with a zero neighbour distance and the resampling details.

    Notes
    -----
    With eps_i the distance (in the chosen norm) from point i to its k-th
    nearest neighbour among the other n - 1 points,
    ``H = psi(n) - psi(k) + log c_d + (d / n) sum_i log eps_i``, where c_d is
    the volume of the norm's unit ball (radius 1): 2**d for the max-norm,
    pi**(d/2) / Gamma(d/2 + 1) for the Euclidean norm. With the max-norm this
    is Kraskov et al.'s eq. (20), whose eps is twice our radius and c_d = 1.

    The estimator is consistent for any d, but at a fixed n its bias grows
    with d and depends on the density's shape. Measured at n = 1e4, k = 3,
    d = 10 (mean of 10 seeds): +0.06 nat (max-norm) and +0.02 (Euclidean)
    for a Gaussian with scales 0.7 to 1.4; about +1 nat for a strongly
    anisotropic Gaussian (covariance condition number 135); +1.8 and +1.5
    nat for a uniform box, whose faces make the neighbour distances too
    large (a boundary bias that decays like n**(-1/d); +0.05 nat in d = 3 at
    n = 2e4). Rescaling or whitening the data changes the bias, not the
    entropy it estimates (add back log|det| of the linear map).

{resampling}

    References
    ----------
    .. [1] L. F. Kozachenko and N. N. Leonenko, "Sample estimate of the
           entropy of a random vector", Probl. Inf. Transm. 23, 95-101 (1987).
    .. [2] A. Kraskov, H. Stoegbauer and P. Grassberger, "Estimating mutual
           information", Phys. Rev. E 69, 066138 (2004), eq. (20).

    Examples
    --------
    >>> import numpy as np
    >>> from fastmi.knn import knn_entropy
    >>> x = np.random.default_rng(0).standard_normal(20000)
    >>> r = knn_entropy(x, k=3, rng=0)
    >>> truth = 0.5 * np.log(2 * np.pi * np.e)      # 1.419 nat
    >>> bool(abs(r.mi - truth) < 0.03), r.quantity
    (True, 'entropy')
    """
    check_choice(metric, "metric", set(_METRICS))
    (x,), c = setup([x], "x", k=k, standardize=False, jitter=jitter, n_bootstrap=n_bootstrap,
                    subsample=subsample, rng=rng, n_jobs=n_jobs, unit=unit)
    k, n_threads = c["k"], c["n_threads"]
    # x comes in units of a power of two near its largest magnitude (no over- or underflow in the
    # distances); H(x) = H(x / u) + d log u
    shift = x.shape[1] * math.log(c["data_unit"])
    point, n_zero = _entropy_value(x, k, metric, n_threads)
    point += shift
    _warn_zero(n_zero, c["n"], "entropy")
    diagnostics = {"k": k, "n_samples": c["n"], "dim": x.shape[1], "metric": metric, "jitter": c["amplitude"],
                   "n_tied": n_zero, "n_threads": n_threads}
    return subsampled_result(lambda a, threads=n_threads: _entropy_value(a, k, metric, threads)[0] + shift, [x],
                             point, n_workers=n_threads, n_bootstrap=c["n_bootstrap"], m=c["m"], why=c["why"],
                             rng=c["rng"], unit=unit,
                             method="knn", diagnostics=diagnostics, quantity="entropy")


@_doc
def knn_kl_divergence(p_samples, q_samples, *, k=3, metric="max", jitter=False, n_bootstrap=None,
                      subsample=None, rng=None, n_jobs=None, unit="nat"):
    """Wang-Kulkarni-Verdu k-nearest-neighbour estimate of the KL divergence D(P || Q).

    Parameters
    ----------
    p_samples : array-like of shape (n, d)
        Samples of P (n >= 2); a 1-D array is one column.
    q_samples : array-like of shape (m, d)
        Samples of Q, with the same number of columns d; m need not equal n.
    k : int, default=3
        Number of neighbours, ``1 <= k < n`` and ``k <= m``.
    metric : {'max', 'euclidean'}, default='max'
        Norm of the neighbour distances.
    jitter : bool or float, default=False
        Seeded tie-breaking noise, as in :func:`knn_entropy`, added to both
        samples.
{common}

    Returns
    -------
    MIResult
        ``quantity`` is 'kl' and ``method`` 'knn'; ``mi`` holds D(P || Q).

    Notes
    -----
    With rho_i the distance from p_i to its k-th nearest neighbour among the
    other n - 1 samples of P, and nu_i the distance from p_i to its k-th
    nearest sample of Q,
    ``D = (d / n) sum_i log(nu_i / rho_i) + log(m / (n - 1))``. The estimate
    is consistent, not unbiased, and can be negative; it does not depend on
    the norm's unit-ball volume, which cancels. A P-sample that coincides
    with a Q-sample (nu_i = 0) makes it -inf; tied P-samples (rho_i = 0)
    make it +inf; both together make it undefined, and it is NaN (a
    RuntimeWarning says which).

{resampling}

    Every replicate subsamples P and Q separately, both without replacement:
    ``subsample`` sizes the replicates of ``p_samples``, and those of
    ``q_samples`` are drawn at the same fraction.

    References
    ----------
    .. [1] Q. Wang, S. R. Kulkarni and S. Verdu, "Divergence estimation for
           multidimensional densities via k-nearest-neighbor distances",
           IEEE Trans. Inf. Theory 55, 2392-2405 (2009).

    Examples
    --------
    >>> import numpy as np
    >>> from fastmi.knn import knn_kl_divergence
    >>> rng = np.random.default_rng(0)
    >>> p = rng.standard_normal(20000); q = 1.0 + 2.0 * rng.standard_normal(20000)
    >>> r = knn_kl_divergence(p, q, k=3, rng=0)
    >>> truth = np.log(2.0) + (1 + 1.0) / (2 * 4.0) - 0.5     # 0.443 nat
    >>> bool(abs(r.mi - truth) < 0.03), r.quantity
    (True, 'kl')
    """
    check_choice(metric, "metric", set(_METRICS))
    x = check_continuous(p_samples, "p_samples")
    y = check_continuous(q_samples, "q_samples")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"p_samples and q_samples must have the same number of columns (dimensions), "
                         f"got {x.shape[1]} and {y.shape[1]}")
    (n, d), m = x.shape, y.shape[0]
    k = _check_k(k, n)
    if k > m:
        raise ValueError(f"k={k} must not exceed the number of q_samples m={m}")
    default = n_bootstrap is None
    n_threads, n_bootstrap, mp, why = check_common(unit, n_jobs, n_bootstrap, subsample, n, k + 1,
                                                   "it must exceed k", partition=True)
    mq = None
    plan = None
    if isinstance(mp, Partition):
        # every piece holds the same share of P and of Q: k + 1 rows of P and k of Q at least
        plan = partition_plan([(n, k + 1), (m, k)])
        if plan is None:
            n_bootstrap, mp, why = check_common(unit, n_jobs, None, None, n, k + 1, "it must exceed k")[1:]
        else:
            n_bootstrap, (mp, mq) = plan.pieces * plan.repeats, plan.sizes
    if n_bootstrap and plan is None:
        mq = int(round(m * mp / n))
        if not k <= mq < m:
            msg = (f"q_samples subsampled at the fraction {mp}/{n} of p_samples gives m={mq} rows, which must "
                   f"satisfy k={k} <= m < {m}")
            if not default:
                raise ValueError(msg)
            n_bootstrap, mp, mq, why = 0, None, None, f"no error bar by default: {msg}"
    amplitude = _jitter_amplitude(jitter)
    gen = check_rng(rng)
    x, y = _prepare([x, y], ["p_samples", "q_samples"], False, amplitude, gen)
    point, n_zero = _kl_value(x, y, k, metric, n_threads)
    if math.isnan(point):  # +inf terms (tied P-samples) and -inf terms (P on Q) together
        warnings.warn(f"{n_zero} of {n} points have a zero k-th neighbour distance: some P-samples coincide with "
                      "other P-samples (+inf) and some with Q-samples (-inf), so the KL divergence estimate is "
                      "undefined (NaN). Use jitter=True to break ties.", RuntimeWarning, stacklevel=2)
    else:
        _warn_zero(n_zero, n, "KL divergence")
    diagnostics = {"k": k, "n_samples": n, "m_samples": m, "dim": d, "metric": metric, "jitter": amplitude,
                   "n_tied": n_zero, "n_threads": n_threads}
    # both samples in one array; the replicates draw mp rows of P and mq rows of Q (strata),
    # and the sorted draw puts the P rows first
    stacked = np.concatenate([x, y])
    strata = None if not n_bootstrap else [(np.arange(n), mp), (np.arange(n, n + m), mq)]
    size = plan if plan is not None else None if mp is None else mp + mq
    result = subsampled_result(lambda s, threads=n_threads: _kl_value(s[:mp], s[mp:], k, metric, threads)[0],
                               [stacked], point, n_workers=n_threads, n_bootstrap=n_bootstrap, m=size, why=why, rng=gen,
                               unit=unit, method="knn", diagnostics=diagnostics, strata=strata, quantity="kl")
    if result.diagnostics["resampling"]["scheme"] in ("subsample", "partition"):
        result.diagnostics["resampling"]["sizes"] = {"p": mp, "q": mq}
    return result
