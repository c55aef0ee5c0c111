"""Gaussian-copula mutual information (Ince et al. 2017): each coordinate is replaced by its
normal scores (:func:`fastmi._copula.normal_scores`), and the MI is that of a Gaussian with the
covariance of the scores. Continuous, categorical-y and conditional forms."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ._copula import normal_scores
from ._subsample import _doc, check_common, subsampled_result
from ._validation import (check_bool, check_class_labels, check_conditioning, check_continuous, check_rng,
                          check_same_length)
from ._wishart import half_logdet_bias


#: smallest subsample: the ranks of fewer rows are too often exactly concordant (infinite GCMI)
_MIN_SUBSAMPLE = 10


def _gauss_entropy(u, bias_correct):
    """Entropy of a Gaussian with the sample covariance (ddof=1) of the columns of ``u``, up to
    the additive constant ``d/2 * log(2 pi e)`` (it cancels in every MI below); with
    ``bias_correct`` the Wishart bias of ``log det`` is removed (Ince et al. 2017, as in the
    ``gcmi`` reference code): ``- d/2 * log(2 / (n - 1)) - sum_i psi((n - i) / 2) / 2``."""
    n, d = u.shape
    c = u - u.mean(axis=0)
    cov = (c.T @ c) / (n - 1)
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return -math.inf
    # a column explained by the others up to rounding (1 - R^2 < 1e-12): singular, not a huge finite value
    if np.any(np.diag(chol) ** 2 < 1e-12 * np.diag(cov)):
        return -math.inf
    h = float(np.sum(np.log(np.diag(chol))))  # 0.5 log det
    if bias_correct:
        h -= half_logdet_bias(n, d)
    return h


def _finite_mi(value, what):
    if math.isnan(value):
        raise ValueError(f"the normal scores of {what} have a singular covariance (a column is a function of the "
                         "others, or constant); drop the redundant columns")
    return value


def _gcmi_value(x, y, bias_correct):
    u, v = normal_scores(x), normal_scores(y)
    hx, hy, hxy = _gauss_entropy(u, bias_correct), _gauss_entropy(v, bias_correct), \
        _gauss_entropy(np.hstack([u, v]), bias_correct)
    with np.errstate(invalid="ignore"):
        return float(hx + hy - hxy) if math.isfinite(hx) and math.isfinite(hy) else math.nan


def _gcmi_categorical_value(x, codes, bias_correct):
    u = normal_scores(x)
    n = codes.size
    h = _gauss_entropy(u, bias_correct)
    for c in range(int(codes.max()) + 1):
        rows = codes == c
        h -= np.count_nonzero(rows) / n * _gauss_entropy(u[rows], bias_correct)
    return float(h)


def _gccmi_value(x, y, z, bias_correct):
    u, v, w = normal_scores(x), normal_scores(y), normal_scores(z)
    hz = _gauss_entropy(w, bias_correct)
    if not math.isfinite(hz):
        return math.nan
    return float(_gauss_entropy(np.hstack([u, w]), bias_correct) + _gauss_entropy(np.hstack([v, w]), bias_correct)
                 - _gauss_entropy(np.hstack([u, v, w]), bias_correct) - hz)


def _check_pair(x, y):
    x, y = check_continuous(x, "x"), check_continuous(y, "y")
    check_same_length(x=x, y=y)
    return x, y


_LOWER_BOUND = """\
    GCMI is a lower bound on the MI, not an estimate of it: among all
    distributions with the given marginals and the covariance of the normal
    scores, the Gaussian copula has the least MI, so any other dependence
    (non-monotone, heteroscedastic, tail dependence) is partly or wholly
    missed. For y = x**2 + noise with symmetric x the normal scores are
    uncorrelated and GCMI is about 0, however large the true MI (see
    Examples). It is exact for a Gaussian copula (any monotone transform of
    each coordinate of a Gaussian), cheap (a sort per column and a
    covariance), and robust to outliers and marginal shape. Ties share their
    average rank."""


@_doc
def gcmi_mutual_info(x, y, *, bias_correct=True, n_bootstrap=None, subsample=None, rng=None, n_jobs=None,
                     unit="nat"):
    """Gaussian-copula lower bound on I(X; Y) (Ince et al. 2017).

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, dx)
    y : array-like of shape (n_samples,) or (n_samples, dy)
        Continuous samples.
    bias_correct : bool, default=True
        Remove the Wishart sampling bias of each Gaussian entropy term (see
        Notes); False gives the plain plug-in value.
{common}

    Returns
    -------
    MIResult
        ``method`` is 'gcmi'.

    Notes
    -----
    Each column is mapped to normal scores ``Phi^-1(rank / (n + 1))``, and
    ``I = H(u) + H(v) - H(u, v)`` with H the entropy of a Gaussian with the
    sample covariance of the scores u of x and v of y (for scalars
    ``-0.5 * log(1 - r^2)``, r the correlation of the scores). With
    ``bias_correct`` every term ``0.5 * log det C`` of a d-dimensional block
    has ``d/2 * log(2 / (n - 1)) + sum_i psi((n - i) / 2) / 2``
    (i = 1..d) subtracted, the expected bias of the log determinant of a
    sample covariance (Wishart) matrix.

{lower_bound}

    The result depends on the data only through the order of each column:
    it is bit for bit the same after any strictly increasing map of a
    column.

{resampling}

    References
    ----------
    .. [1] R. A. A. Ince, B. L. Giordano, C. Kayser, G. A. Rousselet,
           J. Gross and P. G. Schyns, "A statistical framework for
           neuroimaging data analysis based on mutual information estimated
           via a Gaussian copula", Hum. Brain Mapp. 38, 1541 (2017).

    Examples
    --------
    >>> import numpy as np
    >>> from fastmi import mutual_info
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(20000)
    >>> y = np.exp(0.6 * x + 0.8 * rng.standard_normal(20000))   # a Gaussian copula
    >>> r = mutual_info(x, y, method="gcmi", n_bootstrap=0)
    >>> bool(abs(r.mi - (-0.5 * np.log(1 - 0.36))) < 0.01)      # exact here
    True
    >>> y2 = x ** 2 + 0.1 * rng.standard_normal(20000)          # true MI about 1.7 nat
    >>> g = mutual_info(x, y2, method="gcmi", n_bootstrap=0).mi
    >>> k = mutual_info(x, y2, method="ksg", n_bootstrap=0).mi
    >>> bool(abs(g) < 0.01), bool(k > 1.3)                       # GCMI misses it entirely
    (True, True)
    """
    bias_correct = check_bool(bias_correct, "bias_correct")
    x, y = _check_pair(x, y)
    n, d = x.shape[0], x.shape[1] + y.shape[1]
    if n <= d + 1:
        raise ValueError(f"GCMI needs more samples ({n}) than dimensions plus one ({d + 1})")
    _, n_bootstrap, m, why = check_common(unit, n_jobs, n_bootstrap, subsample, n, max(d + 2, _MIN_SUBSAMPLE),
                                          f"at least {_MIN_SUBSAMPLE} rows and more than the dimension plus one")
    point = _finite_mi(_gcmi_value(x, y, bias_correct), "x or y")
    if point == math.inf:
        warnings.warn("the normal scores of (x, y) have a singular covariance (y is a monotone function of x, "
                      "column by column): the GCMI is infinite", RuntimeWarning, stacklevel=2)
    diagnostics = {"n_samples": n, "dims": (x.shape[1], y.shape[1]), "bias_correct": bias_correct,
                   "lower_bound": True}
    return subsampled_result(lambda a, b: _gcmi_value(a, b, bias_correct), [x, y], point, n_bootstrap=n_bootstrap,
                             m=m, why=why, rng=check_rng(rng), unit=unit, method="gcmi", diagnostics=diagnostics)


@_doc
def gcmi_categorical_mutual_info(x, labels, *, bias_correct=True, min_class_size=None, n_bootstrap=None, subsample=None, rng=None,
                                 n_jobs=None, unit="nat"):
    """Gaussian-copula I(X; Y) for continuous x and category labels y.

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, dx)
        Continuous samples.
    labels : array-like of shape (n_samples,)
        Category labels of any type; every class needs more than ``dx + 1``
        samples.
    bias_correct : bool, default=True
        Remove the Wishart bias of each Gaussian entropy term, with the class
        size as n in the class terms.
    min_class_size : int or None, default=None
        None: a class with fewer than ``dx + 2`` samples is an error. An int
        (>= 2): the samples of classes with fewer than ``min_class_size``
        samples are dropped first, with a RuntimeWarning
        (``diagnostics['n_dropped']``).
{common}

    Returns
    -------
    MIResult
        ``method`` is 'gcmi'.

    Notes
    -----
    x is copula-normalised over all samples (scores u), and
    ``I = H(u) - sum_c p(c) H(u | c)`` with Gaussian entropies of the
    overall and per-class sample covariances and the empirical class prior
    ``p(c) = n_c / n`` (Ince et al.'s "Gaussian model" form). Within a class
    the scores need not be Gaussian, so this is neither an upper nor a
    lower bound in general; it is exact when u is Gaussian within each
    class with one shared mean-free shape, and misses class differences
    that are not in the means or covariances. Subsamples keep the class
    proportions.

{resampling}
    """
    bias_correct = check_bool(bias_correct, "bias_correct")
    x = check_continuous(x, "x")
    codes, classes, counts, keep = check_class_labels(labels, "labels", min_class_size=min_class_size)
    n_dropped = 0
    if keep is not None:
        check_same_length(x=x, labels=keep)
        n_dropped = int(keep.size - np.count_nonzero(keep))
        x = np.ascontiguousarray(x[keep])
    check_same_length(x=x, labels=codes)
    small = classes[counts < x.shape[1] + 2]
    if small.size:
        raise ValueError(f"categorical labels: class(es) {small.tolist()} have fewer than dx + 2 = {x.shape[1] + 2} "
                         "samples, too few for a class covariance")
    n = codes.size
    _, n_bootstrap, m, why = check_common(unit, n_jobs, n_bootstrap, subsample, n, (x.shape[1] + 2) * classes.size,
                                          "every class needs more rows than dx + 1")
    strata = None
    if n_bootstrap:
        members = [np.flatnonzero(codes == c) for c in range(classes.size)]
        sizes = [min(s.size - 1, max(x.shape[1] + 2, int(round(s.size * m / n)))) for s in members]
        m = int(sum(sizes))
        strata = list(zip(members, sizes))
    point = _finite_mi(_gcmi_categorical_value(x, codes, bias_correct), "x within a class")
    diagnostics = {"n_samples": n, "dims": x.shape[1], "classes": classes.tolist(), "class_counts": counts.tolist(),
                   "bias_correct": bias_correct}
    if min_class_size is not None:
        diagnostics["min_class_size"], diagnostics["n_dropped"] = int(min_class_size), n_dropped
    return subsampled_result(lambda a, b: _gcmi_categorical_value(a, b, bias_correct), [x, codes], point,
                             n_bootstrap=n_bootstrap, m=m, why=why, rng=check_rng(rng), unit=unit, method="gcmi",
                             diagnostics=diagnostics, strata=strata)


@_doc
def gcmi_conditional_mutual_info(x, y, z, *, bias_correct=True, n_bootstrap=None, subsample=None, rng=None,
                                 n_jobs=None, unit="nat"):
    """Gaussian-copula I(X; Y | Z) for continuous x, y and z.

    Parameters
    ----------
    x, y, z : array-like of shape (n_samples,) or (n_samples, d)
        Continuous samples. Constant columns of z are dropped with a
        warning; a single-valued z gives I(X; Y).
    bias_correct : bool, default=True
        Remove the Wishart bias of each Gaussian entropy term.
{common}

    Returns
    -------
    MIResult
        ``method`` is 'gcmi', ``quantity`` 'cmi'.

    Notes
    -----
    With u, v, w the normal scores of x, y, z (each column ranked over all
    samples), ``I = H(u, w) + H(v, w) - H(u, v, w) - H(w)`` with Gaussian
    entropies of the sample covariances: the partial-correlation MI of the
    scores. It is exact for a Gaussian copula and, like the unconditional
    form, blind to dependence that a Gaussian copula cannot express.

{resampling}
    """
    bias_correct = check_bool(bias_correct, "bias_correct")
    z = check_conditioning(z, "z")
    if z.shape[1] == 0:
        with warnings.catch_warnings():
            r = gcmi_mutual_info(x, y, bias_correct=bias_correct, n_bootstrap=n_bootstrap, subsample=subsample,
                                 rng=rng, n_jobs=n_jobs, unit=unit)
        r.quantity = "cmi"
        r.diagnostics["degenerate_z"] = True
        return r
    x, y = _check_pair(x, y)
    check_same_length(x=x, y=y, z=z)
    n, d = x.shape[0], x.shape[1] + y.shape[1] + z.shape[1]
    if n <= d + 1:
        raise ValueError(f"GCMI needs more samples ({n}) than dimensions plus one ({d + 1})")
    _, n_bootstrap, m, why = check_common(unit, n_jobs, n_bootstrap, subsample, n, max(d + 2, _MIN_SUBSAMPLE),
                                          f"at least {_MIN_SUBSAMPLE} rows and more than the dimension plus one")
    point = _finite_mi(_gccmi_value(x, y, z, bias_correct), "x, y or z")
    diagnostics = {"n_samples": n, "dims": (x.shape[1], y.shape[1], z.shape[1]), "bias_correct": bias_correct}
    return subsampled_result(lambda a, b, c: _gccmi_value(a, b, c, bias_correct), [x, y, z], point,
                             n_bootstrap=n_bootstrap, m=m, why=why, rng=check_rng(rng), unit=unit, method="gcmi",
                             diagnostics=diagnostics, quantity="cmi")


gcmi_mutual_info.__doc__ = gcmi_mutual_info.__doc__.replace("{lower_bound}", _LOWER_BOUND)
