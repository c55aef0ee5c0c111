"""Numba kernels: small, named for what they compute, free of validation.

Their compiled code is cached in a user cache folder keyed by a digest of these sources
(see ``_cache``); nothing is written into the package.
"""
from . import _cache

_cache.install()
_cache.announce_compilation()
