"""Copula normalisation: each column mapped through its empirical CDF to standard normal scores.

Mutual information is invariant under strictly increasing maps of each coordinate, so estimators
may work on the normal scores instead of the data. Independent variables become exactly (up to
ties) a product of standard Gaussians there, whatever their marginals.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtri  # not scipy.stats: ``import fastmi`` stays light


def normal_scores(a):
    """Map each column of ``a`` to normal scores ``Phi^-1(rank / (n + 1))``.

    Parameters
    ----------
    a : ndarray of shape (n,) or (n, d)
        Finite data; validation is the caller's.

    Returns
    -------
    ndarray of float64, same shape as ``a``
        Ranks run from 1 to n; tied values share their average rank, so equal inputs map to
        equal scores. The result depends on the data only through the order of each column,
        so it is bit-identical under any strictly increasing map of a column.
    """
    a = np.asarray(a)
    n = a.shape[0]
    flat = a.reshape(n, -1)
    ranks = np.column_stack([average_ranks(flat[:, j]) for j in range(flat.shape[1])])
    return ndtri(ranks / (n + 1.0)).reshape(a.shape)


def average_ranks(col):
    """Ranks 1..n of a 1-D array, tied values sharing the mean of their ranks."""
    n = col.shape[0]
    order = np.argsort(col, kind="stable")
    change = np.flatnonzero(col[order][1:] != col[order][:-1]) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [n]])
    ranks = np.empty(n)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def normal_scores_against(reference, a):
    """Normal scores of the rows of ``a`` (m, d) through the empirical CDFs of the columns of
    ``reference`` (n, d): a value tied with t reference values gets their average rank (so the
    reference's own rows get exactly ``normal_scores(reference)``), a value between two
    reference values the rank halfway between theirs, and values beyond the reference's range
    rank 0.5 or n + 0.5."""
    n = reference.shape[0]
    out = np.empty(a.shape)
    for j in range(a.shape[1]):
        col = np.sort(reference[:, j])
        below = np.searchsorted(col, a[:, j], side="left")
        upto = np.searchsorted(col, a[:, j], side="right")
        out[:, j] = (below + upto + 1) / 2.0
    return ndtri(out / (n + 1.0))
