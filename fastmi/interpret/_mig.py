"""Disentanglement summaries of MI matrices: the Mutual Information Gap (Chen et al. 2018),
the entropies that normalise it, and the most informative factor of each latent."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._result import _jsonable, unit_scale
from .._validation import as_column, check_int, check_labels, check_unit


def factor_entropy(v, *, bins=20, discrete="auto", unit="nat"):
    """Entropy of a factor, as used to normalise the MIG.

    Parameters
    ----------
    v : array-like of shape (n_samples,)
        Samples of the factor.
    bins : int, default=20
        Continuous factors are discretised into this many equal-width bins over
        their range (the choice of Locatello et al.'s disentanglement_lib).
    discrete : {'auto', True, False}, default='auto'
        True: the empirical (plug-in) entropy of the factor's values. False: the
        plug-in entropy of its ``bins``-bin histogram. 'auto': discrete when the
        factor takes at most ``bins`` distinct values.
    unit : {'nat', 'bit'}

    Returns
    -------
    float
    """
    check_int(bins, "bins", low=2)
    check_unit(unit)
    if discrete not in ("auto", True, False):
        raise ValueError(f"discrete must be 'auto', True or False, got {discrete!r}")
    arr = as_column(v, "a factor")
    if arr.dtype.kind in "biuf":
        if not np.isfinite(arr).all():
            raise ValueError("factor contains NaN or infinite values")
        values, counts = np.unique(arr, return_counts=True)
        if discrete is False or (discrete == "auto" and values.size > bins):
            counts, _ = np.histogram(arr.astype(np.float64), bins=bins)
    else:  # labels of any type: always discrete
        if discrete is False:
            raise ValueError("a non-numeric factor cannot be binned; use discrete=True or 'auto'")
        _, _, counts = check_labels(arr, "factor", min_count=1)
    p = counts[counts > 0] / counts.sum()
    h = float(-(p * np.log(p)).sum())
    return h * unit_scale(unit)


@dataclass
class MIGResult:
    """The Mutual Information Gap and its ingredients.

    Attributes
    ----------
    mig : float
        Mean over factors of the normalised gap.
    std : float
        Standard deviation of ``samples`` (NaN without replicates).
    gaps : ndarray of shape (n_factors,)
        (I(z_top; v_k) - I(z_second; v_k)) / H(v_k) for each factor k.
    top, second : list of str
        The most and second most informative latent of each factor.
    entropies : ndarray of shape (n_factors,)
        H(v_k), in ``unit``.
    factor_names : list of str
    samples : ndarray
        MIG recomputed from the r-th replicate of every entry, for each r present in
        all entries. The entries are bootstrapped independently, so this propagates
        their uncertainty but ignores correlations between entries.
    unit : str
    """

    mig: float
    std: float
    gaps: np.ndarray
    top: list
    second: list
    entropies: np.ndarray
    factor_names: list
    samples: np.ndarray
    unit: str = "nat"

    def to_dict(self):
        return _jsonable({"mig": self.mig, "std": self.std, "gaps": self.gaps, "top": self.top,
                          "second": self.second, "entropies": self.entropies, "factors": self.factor_names,
                          "samples": self.samples, "unit": self.unit})

    def __float__(self):
        return self.mig

    def __repr__(self):
        return f"MIGResult(mig={self.mig:.4g} ± {self.std:.2g}, factors={self.factor_names})"


def _is_mi_matrix(m):
    """Whether ``m`` is an :class:`fastmi.MIMatrix` (recognised by its attributes: the matrix
    package builds on this one, not the other way round, so it is not imported here)."""
    return all(hasattr(m, a) for a in ("values", "stds", "samples", "row_names", "col_names", "symmetric"))


def _gaps(values, entropies):
    """Per-factor normalised gaps of a (latents x factors) array."""
    srt = -np.sort(-values, axis=0)
    return (srt[0] - srt[1]) / entropies


def mig(m, factors=None, *, entropies=None, bins=20, discrete="auto"):
    """Mutual Information Gap (Chen et al. 2018) of a latents x factors MI matrix.

    For each factor v_k, the latents are sorted by I(z_j; v_k); the gap is the
    difference between the largest and the second largest, divided by the factor's
    entropy H(v_k); the MIG is the mean of the gaps over the factors. It is 1 when
    every factor is captured entirely by one latent and nothing by the others, and
    0 when the top two latents know equally much.

    Parameters
    ----------
    m : MIMatrix or array-like of shape (n_latents, n_factors)
        Rows are the latents, columns the factors (``mi_matrix(latents, factors)``).
        A plain array is taken in the unit of ``entropies``.
    factors : array-like of shape (n_samples, n_factors), optional
        Samples of the factors, from which H(v_k) is computed by
        :func:`factor_entropy` (``bins``, ``discrete``).
    entropies : array-like of shape (n_factors,), optional
        H(v_k) given directly, in the matrix's unit. Exactly one of ``factors`` and
        ``entropies`` is required.
    bins : int, default=20
        Bins for continuous factors (see Notes).
    discrete : {'auto', True, False}, default='auto'
        See :func:`factor_entropy`.

    Returns
    -------
    MIGResult

    Notes
    -----
    Chen et al. define the MIG for discrete factors, normalised by their entropy:
    this is what ``factors`` computes for a discrete factor (at most ``bins``
    distinct values by default). A continuous factor has no finite discrete entropy;
    it is normalised by the entropy of its ``bins``-bin equal-width histogram
    (disentanglement_lib's convention, 20 bins), which grows like log(bins). The MI
    in the numerator is the estimator's continuous MI, not a binned one, so for a
    continuous factor a gap can exceed 1 when a latent resolves the factor finer
    than the bins do; pass ``entropies`` to normalise by another value. Compare MIG
    values only at the same normalisation.

    References
    ----------
    .. [1] R. T. Q. Chen, X. Li, R. Grosse and D. Duvenaud, "Isolating sources of
       disentanglement in variational autoencoders", NeurIPS 2018.
    """
    if _is_mi_matrix(m):
        if m.symmetric:
            raise ValueError("the MIG needs a latents x factors matrix (mi_matrix(latents, factors)), "
                             "not the symmetric all-pairs matrix")
        values, unit, names, samples = m.values, m.unit, list(m.col_names), m.samples
        latent_names = list(m.row_names)
    else:
        values = np.asarray(m, dtype=np.float64)
        if values.ndim != 2:
            raise ValueError(f"m must be an MIMatrix or a 2-D array (latents x factors), got shape {values.shape}")
        unit, names, samples = "nat", [f"b{k}" for k in range(values.shape[1])], None
        latent_names = [f"a{k}" for k in range(values.shape[0])]
    n_lat, n_fac = values.shape
    if n_lat < 2:
        raise ValueError(f"the MIG needs at least 2 latents (rows), got {n_lat}")
    if np.isnan(values).any():
        raise ValueError("the matrix has NaN entries (failed pairs); the MIG is undefined")
    if (factors is None) == (entropies is None):
        raise ValueError("pass exactly one of factors= (samples, to compute their entropies) and entropies=")
    if entropies is not None:
        h = np.asarray(entropies, dtype=np.float64).ravel()
        if h.size != n_fac:
            raise ValueError(f"entropies has {h.size} values for {n_fac} factors")
    else:
        if hasattr(factors, "to_numpy"):
            fac = factors.to_numpy()
        else:
            fac = np.asarray(factors)
        if fac.ndim == 1:
            fac = fac[:, None]
        if fac.ndim != 2 or fac.shape[1] != n_fac:
            raise ValueError(f"factors must have shape (n_samples, {n_fac}), got {fac.shape}")
        h = np.array([factor_entropy(fac[:, k], bins=bins, discrete=discrete, unit=unit) for k in range(n_fac)])
    if not (np.isfinite(h).all() and (h > 0).all()):
        raise ValueError(f"factor entropies must be positive and finite, got {h.tolist()}")
    gaps = _gaps(values, h)
    order = np.argsort(-values, axis=0, kind="stable")
    rep = np.empty(0)
    if samples is not None and samples.shape[2] > 0:
        complete = ~np.isnan(samples).any(axis=(0, 1))
        s = samples[:, :, complete]
        if s.shape[2] > 0:
            rep = np.array([_gaps(s[:, :, r], h).mean() for r in range(s.shape[2])])
    std = float(rep.std(ddof=1)) if rep.size > 1 else math.nan
    return MIGResult(mig=float(gaps.mean()), std=std, gaps=gaps, top=[latent_names[k] for k in order[0]],
                     second=[latent_names[k] for k in order[1]], entropies=h, factor_names=names, samples=rep,
                     unit=unit)


def most_informative(m):
    """For every row variable (latent) of ``m``, the column variable (parameter) it knows most about.

    Parameters
    ----------
    m : MIMatrix
        A latents x factors matrix (``mi_matrix(latents, factors)``).

    Returns
    -------
    list of dict
        One dict per row with keys ``row``, ``col`` (the most informative column),
        ``mi``, ``std``, ``runner_up``, ``runner_up_mi``, ``gap`` (mi minus the
        runner-up's) and ``gap_std`` (the two stds added in quadrature; the
        entries are independent estimates). NaN entries are skipped; ``col`` is
        None for a row without any estimate.
    """
    out = []
    for i, name in enumerate(m.row_names):
        v = m.values[i]
        order = [int(k) for k in np.argsort(-np.where(np.isnan(v), -np.inf, v), kind="stable")
                 if not np.isnan(v[k])]
        rec = {"row": name, "col": None, "mi": math.nan, "std": math.nan, "runner_up": None,
               "runner_up_mi": math.nan, "gap": math.nan, "gap_std": math.nan}
        if order:
            j = order[0]
            rec.update(col=m.col_names[j], mi=float(v[j]), std=float(m.stds[i, j]))
            if len(order) > 1:
                k = order[1]
                rec.update(runner_up=m.col_names[k], runner_up_mi=float(v[k]), gap=float(v[j] - v[k]),
                           gap_std=float(math.hypot(m.stds[i, j], m.stds[i, k])))
        out.append(rec)
    return out
