"""Nearest-neighbour MI estimators: KSG (Kraskov et al. 2004) and its conditional form
(Frenzel & Pompe 2007) in ``_ksg``; the mixed (Gao et al. 2017) and categorical (Ross 2014)
estimators in ``_mixed``; the Kozachenko-Leonenko entropy and Wang-Kulkarni-Verdu KL
divergence in ``_entropy``; shared preparation and counts in ``_common``. The neighbour
searches run in the Cython extension :mod:`fastmi._ksg_cy`."""
from ._entropy import knn_entropy, knn_kl_divergence
from ._ksg import ksg_conditional_mutual_info, ksg_mutual_info
from ._mixed import categorical_ksg_conditional_mutual_info, categorical_ksg_mutual_info, mixed_mutual_info

__all__ = ["categorical_ksg_conditional_mutual_info", "categorical_ksg_mutual_info", "ksg_conditional_mutual_info",
           "knn_entropy", "knn_kl_divergence", "ksg_mutual_info", "mixed_mutual_info"]
