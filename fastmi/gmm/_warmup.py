"""Compile every GMM kernel ahead of use, by small fits of each kind.

``fastmi warmup`` runs it on a node or in a container image so that the first real job finds
the kernels compiled; ``setup.py`` runs it at build time and ships the result (see
``_kernels/_cache.py``).
"""
from __future__ import annotations

import time
import warnings

import numpy as np


def warm_up():
    """Compile and cache the GMM kernels; returns the seconds it took."""
    from ._estimator import GMMMI
    from ._mixture import INITS

    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(400)
    y = x + rng.standard_normal(400)
    z = y + rng.standard_normal(400)
    fast = dict(n_bootstrap=2, mc_samples=1000, rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n_jobs in (1, 2):
            est = GMMMI(max_components=3, n_jobs=n_jobs, **fast).fit(x, y)
            est.estimate()
            est.entropy()
            est.kl_divergence()
        # mc_samples='auto' (the default): the per-draw MC kernel and the reference integral
        GMMMI(n_components=2, n_bootstrap=2, rng=0).fit(x, y).estimate()  # K > 1: MC draws are needed
        GMMMI(max_components=3, search="fresh", **fast).fit(x, y).estimate()
        GMMMI(max_components=2, **fast).fit(x, y, z).estimate()
        GMMMI(y_type="categorical", max_components=2, **fast).fit(np.c_[x, y], x > 0).estimate()
        for init in INITS:
            GMMMI(n_components=2, init=init, **fast).fit(x, y).estimate()
        GMMMI(metric="bic", max_components=2, **fast).fit(x, y)
    return time.perf_counter() - t0
