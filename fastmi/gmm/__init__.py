"""GMM-MI (Piras et al. 2023): Gaussian mixtures fitted by EM, K chosen by cross-validation,
the fit bootstrapped, and the MI of every fit integrated by Monte Carlo.

Modules: ``_estimator`` (the public :class:`GMMMI`), ``_mixture`` (parameters, EM fits,
initialisations), ``_select`` (choosing K), ``_bootstrap`` (the bootstrap loop),
``_montecarlo`` (MC integrals with a control variate), ``_pointwise`` (per-row PMI), ``_xp`` (the same loop on an array
namespace, for CuPy), ``_backend`` and ``_kernels`` (Numba).
"""
from ._estimator import (GMMMI, UPSTREAM_PROCEDURE, gmm_categorical_conditional_mutual_info,
                         gmm_categorical_mutual_info,
                         gmm_conditional_mutual_info, gmm_mutual_info, load_model)
from ._pointwise import PointwiseMI

__all__ = ["GMMMI", "PointwiseMI", "UPSTREAM_PROCEDURE", "gmm_categorical_conditional_mutual_info", "gmm_categorical_mutual_info",
           "gmm_conditional_mutual_info", "gmm_mutual_info", "load_model"]
