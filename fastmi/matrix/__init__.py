"""Mutual-information matrices with error bars: ``_compute`` seeds and schedules the pair
estimates (threads, processes or Dask), ``_container`` holds the result and its exports."""
from ._compute import mi_matrix
from ._container import MIMatrix

__all__ = ["MIMatrix", "mi_matrix"]
