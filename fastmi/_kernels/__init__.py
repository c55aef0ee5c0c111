"""Numba kernels: small, named for what they compute, free of validation."""
