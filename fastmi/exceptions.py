"""Warnings raised by fastmi."""


class ConvergenceWarning(UserWarning):
    """An iterative fit (EM, component search) stopped before converging."""
