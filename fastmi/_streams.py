"""Named addresses of the random streams an estimate draws from.

Every stream of one fit is ``SeedSequence(root.entropy, spawn_key=root.spawn_key + key)``
where ``key`` starts with a distinct :class:`Stream` tag, so no two uses can share a stream
whatever their indices, and a stream does not depend on the order in which others are used
(results are identical for any thread count or schedule).
"""
from __future__ import annotations

import enum
import numbers

import numpy as np


class Stream(enum.IntEnum):
    """First element of every stream key; the rest of the key is listed per member."""

    #: (part,): the fold permutation of the component search on one part of the data
    #: (0 for the joint data, the class index for a class-conditional mixture)
    CV_FOLDS = 1
    #: (part, K, i): the i-th initialisation at K components
    INIT = 2
    #: (b,): the row resampling of bootstrap replicate b
    BOOTSTRAP = 3
    #: (): the common random numbers of the MI (or CMI) integrals
    MC_DRAWS = 4
    #: (i,): the draws of the entropy integral of marginal i
    ENTROPY_DRAWS = 5
    #: (direction,): the draws of a KL integral (0 forward, 1 reverse)
    KL_DRAWS = 6
    #: (): the reference integral's draws under mc_samples='auto' (see gmm._montecarlo.PairedMC)
    MC_REFERENCE_DRAWS = 7
    #: (): the sample drawn from the fitted model for the goodness-of-fit check
    MISFIT_DRAWS = 8
    #: (j,): null fit j of the bias correction: the permutation of y's rows, the start and the
    #: resampling (see GMMMI._null_shift)
    NULL_FIT = 9


class Streams:
    """The streams of one fit, addressed by name: ``streams(Stream.BOOTSTRAP, b)``."""

    def __init__(self, root):
        self.root = root

    def __call__(self, stream, *index):
        key = (int(Stream(stream)),) + tuple(int(i) for i in index)
        return np.random.SeedSequence(self.root.entropy, spawn_key=tuple(self.root.spawn_key) + key)


def pair_seed(entropy, spawn_key, i, j):
    """The stream of entry (i, j) of an MI matrix: ``spawn_key + (i, j)`` under the matrix's
    root (a root of its own, so it shares no address with an estimator's streams)."""
    return np.random.SeedSequence(entropy, spawn_key=tuple(spawn_key) + (int(i), int(j)))


def root_seed(rng):
    """The root ``SeedSequence`` of a matrix run or a permutation test (``np.random.default_rng`` inputs).

    An int ``s`` gives ``SeedSequence(s)`` and a SeedSequence is used as it is, so
    the seed of every pair can be written down by the user; a Generator (or a bit
    generator) contributes 128 bits drawn from it; None draws fresh OS entropy.
    """
    if rng is None:
        return np.random.SeedSequence()
    if isinstance(rng, np.random.SeedSequence):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)):
        try:
            return np.random.SeedSequence(int(rng))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"rng must be a non-negative int, got {rng!r}: {exc}") from None
    if isinstance(rng, np.random.BitGenerator):
        rng = np.random.Generator(rng)
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(rng.integers(0, 2**63, size=2).tolist())
    raise ValueError(f"rng must be None, an int, a SeedSequence or a Generator, got {type(rng).__name__}")
