"""Interpretability tools built on the MI estimators: disentanglement summaries of MI
matrices (MIG, the most informative factor of each latent), and local-global MI maps and
the per-position information bottleneck for neural networks (torch extra)."""
from ._adapters import collect_activations, plot_map, to_positions
from ._local_global import (BottleneckMap, Decomposition, LocalGlobalMap, bottleneck_capacity, bottleneck_map,
                            local_global_map, representation_decomposition)
from ._mig import MIGResult, factor_entropy, mig, most_informative

__all__ = ["BottleneckMap", "Decomposition", "LocalGlobalMap", "MIGResult", "bottleneck_capacity", "bottleneck_map",
           "collect_activations", "factor_entropy", "local_global_map", "mig", "most_informative", "plot_map",
           "representation_decomposition", "to_positions"]
