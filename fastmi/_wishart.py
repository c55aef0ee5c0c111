"""The finite-sample bias of Gaussian entropies and MI fitted by sample covariances (Wishart
sampling): shared by GCMI's optional correction and GMM-MI's one-component correction."""
from __future__ import annotations

import math

import numpy as np
from scipy.special import digamma


def half_logdet_bias(n, d):
    """E[1/2 log det S] - 1/2 log det Sigma for the sample covariance S (ddof=1) of n Gaussian
    rows in d dimensions: 1/2 sum_{i=1..d} [psi((n - i) / 2) + log(2 / (n - 1))], whatever
    Sigma (Ince et al. 2017)."""
    i = np.arange(1, d + 1)
    return 0.5 * float(np.sum(digamma((n - i) / 2.0) + math.log(2.0 / (n - 1.0))))


def gaussian_mi_bias(n, dx, dy, dz=0):
    """Expected plug-in MI (dz = 0) or CMI of one Gaussian fitted to n rows, minus the truth.

    The plug-in MI is a sum of Gaussian entropies, each biased by ``half_logdet_bias``
    whatever the covariance (the factor between ddof 0 and 1 cancels), so the bias is exact
    and independent of the true MI: about dx dy / (2 n) for MI.
    """
    def b(d):
        return half_logdet_bias(n, d)

    if dz == 0:
        return b(dx) + b(dy) - b(dx + dy)
    return b(dx + dz) + b(dy + dz) - b(dx + dy + dz) - b(dz)
