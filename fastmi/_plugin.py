"""Plug-in estimators: the discrete (Miller-Madow corrected) and the closed-form Gaussian MI."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ._scaling import prescale_columns
from ._subsample import _doc, check_common, subsampled_result
from ._validation import check_array, check_bool, check_continuous, check_labels, check_rng, check_same_length

def _discrete_codes(a, name, single="error"):
    """Integer codes of the symbols of ``a``: labels of any type in 1-D, or
    rows of a numeric 2-D array. A single-valued ``a`` is an error, or with
    ``single='allow'`` gives all-zero codes."""
    if hasattr(a, "to_numpy"):
        a = a.to_numpy()
    arr = np.asarray(a)
    if arr.ndim == 2 and arr.shape[1] > 1:
        arr = check_array(arr, name, allow_constant=True)
        _, codes = np.unique(arr, axis=0, return_inverse=True)
        codes = codes.ravel().astype(np.intp)
        if codes.max() == 0 and single == "error":
            raise ValueError(f"{name} takes a single value; its mutual information with anything is 0")
        return codes
    codes, _, _ = check_labels(arr, name, min_count=1, min_classes=1 if single == "allow" else 2)
    return codes


def _discrete_value(cx, cy, miller_madow):
    n = cx.size
    cx = np.unique(cx, return_inverse=True)[1].ravel()
    cy = np.unique(cy, return_inverse=True)[1].ravel()
    _, cxy = np.unique(cx.astype(np.int64) * (int(cy.max()) + 1) + cy, return_counts=True)
    cx = np.bincount(cx)
    cy = np.bincount(cy)

    mi = _entropy_of_counts(cx) + _entropy_of_counts(cy) - _entropy_of_counts(cxy)
    if miller_madow:
        # H_MM = H_plugin + (m - 1) / (2n), m = number of occupied cells
        mi += ((np.count_nonzero(cx) - 1) + (np.count_nonzero(cy) - 1) - (cxy.size - 1)) / (2.0 * n)
    return mi


@_doc
def discrete_mutual_info(x, y, *, miller_madow=True, n_bootstrap=None, subsample=None, rng=None,
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
    miller_madow = check_bool(miller_madow, "miller_madow")
    _, n_bootstrap, m, why = check_common(unit, n_jobs, n_bootstrap, subsample, n, 2, "at least two rows")
    gen = check_rng(rng)
    point = _discrete_value(cx, cy, miller_madow)
    unique = [name for name, c in (("x", cx), ("y", cy)) if np.unique(c).size == n]
    if unique:
        warnings.warn(f"every symbol of {' and '.join(unique)} occurs once (continuous data?): the plug-in estimate "
                      "is then about log(n) whatever the dependence; use a continuous estimator",
                      RuntimeWarning, stacklevel=3)
    diagnostics = {"n_samples": n, "miller_madow": bool(miller_madow),
                   "n_symbols": (int(cx.max()) + 1, int(cy.max()) + 1)}
    return subsampled_result(lambda a, b: _discrete_value(a, b, miller_madow), [cx, cy], point,
                             n_bootstrap=n_bootstrap, m=m, why=why, rng=gen, unit=unit, method="discrete",
                             diagnostics=diagnostics)


def _joint_codes(*codes):
    """Codes of the tuples (codes[0][i], codes[1][i], ...)."""
    return np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)[1].ravel()


def _entropy_of_counts(counts):
    """Plug-in entropy (nats) of a table of counts, summed correctly rounded (``math.fsum``: no
    BLAS call, whose threads' spinning slows the OpenMP kernels that follow)."""
    n = int(counts.sum())
    counts = counts[counts > 0].astype(np.float64)
    return math.log(n) - math.fsum(counts * np.log(counts)) / n


def _plugin_entropy(codes, miller_madow):
    """Plug-in entropy (nats) of integer codes; Miller-Madow adds (m - 1) / (2n), m the
    number of occupied cells."""
    counts = np.bincount(codes)
    h = _entropy_of_counts(counts)
    return h + (np.count_nonzero(counts) - 1) / (2.0 * codes.size) if miller_madow else h


def _discrete_cmi_value(cx, cy, cz, miller_madow):
    if cx.min() == cx.max() or cy.min() == cy.max():
        return 0.0
    if cz.min() == cz.max():
        return _discrete_value(cx, cy, miller_madow)

    def h(*codes):
        return _plugin_entropy(_joint_codes(*codes), miller_madow)

    return h(cx, cz) + h(cy, cz) - h(cx, cy, cz) - h(cz)


@_doc
def discrete_conditional_mutual_info(x, y, z, *, miller_madow=True, n_bootstrap=None, subsample=None, rng=None,
                                     n_jobs=None, unit="nat"):
    """Plug-in estimate of I(X; Y | Z) for discrete X, Y and Z.

    Parameters
    ----------
    x, y, z : array-like of shape (n_samples,) or (n_samples, d)
        Symbols: 1-D labels of any comparable type, or numeric 2-D arrays
        whose rows are the symbols. A single-valued x or y gives 0 and a
        single-valued z gives I(X; Y), each with a RuntimeWarning.
    miller_madow : bool, default=True
        Add the Miller-Madow bias correction (m - 1) / (2n) to each entropy,
        m being the number of occupied cells: the CMI gains
        ``(m_xz + m_yz - m_xyz - m_z) / (2n)``.
{common}

    Returns
    -------
    MIResult
        ``method`` is 'discrete-cmi' and ``quantity`` is 'cmi'.

    Notes
    -----
    ``I = H(X, Z) + H(Y, Z) - H(X, Y, Z) - H(Z)`` with empirical
    frequencies. With a constant z this is exactly the plug-in I(X; Y)
    (Miller-Madow included); with a constant x or y it is exactly 0.
    ``n_jobs`` is accepted for a uniform signature; this estimator is not
    threaded.

{resampling}
    """
    cx = _discrete_codes(x, "x", single="allow")
    cy = _discrete_codes(y, "y", single="allow")
    cz = _discrete_codes(z, "z", single="allow")
    check_same_length(x=cx, y=cy, z=cz)
    n = cx.size
    for name, c in (("x", cx), ("y", cy)):
        if c.max() == 0:
            warnings.warn(f"{name} takes a single value: its conditional mutual information with anything is 0",
                          RuntimeWarning, stacklevel=3)
    if cz.max() == 0:
        warnings.warn("z is degenerate (it takes a single value): conditioning on a constant changes nothing, so "
                      "the estimate is the unconditional I(X; Y)", RuntimeWarning, stacklevel=3)
    miller_madow = check_bool(miller_madow, "miller_madow")
    _, n_bootstrap, m, why = check_common(unit, n_jobs, n_bootstrap, subsample, n, 2, "at least two rows")
    gen = check_rng(rng)
    point = _discrete_cmi_value(cx, cy, cz, miller_madow)
    diagnostics = {"n_samples": n, "miller_madow": bool(miller_madow),
                   "n_symbols": (int(cx.max()) + 1, int(cy.max()) + 1, int(cz.max()) + 1)}
    return subsampled_result(lambda a, b, c: _discrete_cmi_value(a, b, c, miller_madow), [cx, cy, cz], point,
                             n_bootstrap=n_bootstrap, m=m, why=why, rng=gen, unit=unit, method="discrete-cmi",
                             diagnostics=diagnostics, quantity="cmi")


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
def gaussian_mutual_info(x, y, *, n_bootstrap=None, subsample=None, rng=None, n_jobs=None, unit="nat"):
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
    x = check_continuous(x, "x")
    y = check_continuous(y, "y")
    check_same_length(x=x, y=y)
    # correlations are invariant under per-column scaling: scaling by powers of two first (exact)
    # keeps the covariance sums from over- or underflowing anywhere in the float64 range
    x, y = prescale_columns(x, "x"), prescale_columns(y, "y")
    n = x.shape[0]
    d = x.shape[1] + y.shape[1]
    if n <= d:
        raise ValueError(f"the Gaussian estimate needs more samples ({n}) than dimensions ({d})")
    _, n_bootstrap, m, why = check_common(unit, n_jobs, n_bootstrap, subsample, n, d + 1,
                                          "it must exceed the dimension")
    gen = check_rng(rng)
    point = _gaussian_value(x, y)
    if point == math.inf:
        warnings.warn("the joint correlation matrix of (x, y) is singular (y is a linear function of x): "
                      "the Gaussian MI is infinite", RuntimeWarning, stacklevel=3)
    diagnostics = {"n_samples": n, "dims": (x.shape[1], y.shape[1])}
    return subsampled_result(_gaussian_value, [x, y], point, n_bootstrap=n_bootstrap, m=m, why=why, rng=gen, unit=unit,
                             method="gaussian", diagnostics=diagnostics)
