"""Copula normalisation: each column mapped through its empirical CDF to standard normal scores.

Mutual information is invariant under strictly increasing maps of each coordinate, so estimators
may work on the normal scores instead of the data. Independent variables become exactly (up to
ties) a product of standard Gaussians there, whatever their marginals.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata


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
    ranks = rankdata(a, method="average", axis=0)
    return ndtri(ranks / (n + 1.0))
