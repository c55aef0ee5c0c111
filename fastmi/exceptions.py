"""Warnings raised by fastmi.

Every warning about a fit is a :class:`FitWarning`, so that
``warnings.simplefilter("error", fastmi.FitWarning)`` turns all of them into errors; each is
also recorded in ``MIResult.diagnostics['flags']``.
"""


class FitWarning(UserWarning):
    """A fit (EM, the component search, a bootstrap replicate) did something to check."""


class ConvergenceWarning(FitWarning):
    """An iterative fit (EM, component search) stopped before converging."""


class DegenerateFitWarning(FitWarning, RuntimeWarning):
    """A fit failed (singular covariances) and was left out or replaced, or looks suspicious
    (EM with several components stopping after at most two iterations)."""


class MisfitWarning(FitWarning):
    """The fitted mixture fails a goodness-of-fit check: the MI it implies disagrees with what
    a nonparametric (k-NN) estimator sees in the data, beyond both estimates' errors, so the
    mixture misses (or invents) dependence and the reported error bar does not cover it."""


class CollapseWarning(FitWarning):
    """An interpreter (FLINT) collapsed: its attributes are constant over the data, or its
    output fidelity is below the threshold, so its explanations describe no decision."""
