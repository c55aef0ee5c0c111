"""Interpretability tools built on the MI estimators: disentanglement summaries of MI
matrices (MIG, the most informative factor of each latent)."""
from ._mig import MIGResult, factor_entropy, mig, most_informative

__all__ = ["MIGResult", "factor_entropy", "mig", "most_informative"]
