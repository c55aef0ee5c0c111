"""Interpretability tools built on the MI estimators: disentanglement summaries of MI
matrices (MIG, the most informative factor of each latent), and local-global MI maps and
the per-position information bottleneck for neural networks (torch extra); functional-information
attribution, a post-hoc FLINT interpreter (torch extra) and deletion/insertion faithfulness curves."""
from ._adapters import collect_activations, plot_map, to_positions
from ._faithfulness import (Faithfulness, RandomisationCheck, deletion_curve, faithfulness, impute_linear,
                            insertion_curve, randomisation_check, road_curve, spearman_rows)
from ._flint import FLINT, conciseness, fidelity
from ._functional import FunctionalInformation, estimate_covariance, functional_fisher
from ._local_global import (BottleneckMap, Decomposition, LocalGlobalMap, bottleneck_capacity, bottleneck_map,
                            local_global_map, representation_decomposition)
from ._mig import MIGResult, factor_entropy, mig, most_informative

__all__ = ["BottleneckMap", "Decomposition", "FLINT", "Faithfulness", "FunctionalInformation", "LocalGlobalMap", "MIGResult",
           "RandomisationCheck", "impute_linear", "randomisation_check", "road_curve", "spearman_rows",
           "bottleneck_capacity", "bottleneck_map", "collect_activations", "conciseness", "deletion_curve", "estimate_covariance", "factor_entropy", "faithfulness",
           "fidelity", "functional_fisher", "insertion_curve", "local_global_map", "mig", "most_informative", "plot_map",
           "representation_decomposition", "to_positions"]
