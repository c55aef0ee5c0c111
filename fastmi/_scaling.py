"""Scale-safe standardisation over the whole float64 range.

Squaring a value above ~1e154 overflows and squaring one below ~1e-154 underflows, so a plain
``(a - a.mean()) / a.std()`` breaks for data near either end of the range. Here each column is
first divided by a power of two near its largest magnitude -- exact in binary floating point, so
nothing is lost and data that differ by a power-of-two factor give bit-identical results -- and
only then centred and scaled. Every estimator that standardises goes through these functions.
"""
from __future__ import annotations

import numpy as np


def power_of_two_scale(a, axis=0):
    """Powers of two ``p`` (per column for ``axis=0``, one number for ``axis=None``) with
    ``max|a| / p`` in [0.5, 1), 1 where ``a`` is all zero. Dividing by them is exact (unless
    the data span more than ~1000 binades, when the smallest values lose bits)."""
    if axis == 0 and a.ndim == 2 and a.shape[0] > 0:
        # column by column: NumPy reduces a tall, narrow C-ordered array along axis 0 ~10x slower
        big = np.array([np.max(np.abs(c)) for c in a.T])
    else:
        big = np.max(np.abs(a), axis=axis)
    _, e = np.frexp(big)  # max|a| = m * 2**e, m in [0.5, 1); e = 0 for 0
    # 2**1024 overflows: within a factor 2 of the float64 maximum, |a| / 2**1023 < 2 instead
    return np.ldexp(1.0, np.minimum(e, 1023))


_TINY = np.finfo(np.float64).tiny  # the smallest normal float64


def _owner(name, columns):
    """The argument name(s) of ``columns``: ``name`` is one name or one per column."""
    if isinstance(name, str):
        return name
    return ", ".join(dict.fromkeys(name[c] for c in columns))


def check_span(b, name):
    """Refuse data that, divided by their power-of-two scale (``b``), fall below the normal
    float64 range: they span more binades than float64 holds, and would lose bits. ``name`` is
    the argument's name, or (2-D ``b``) a list of one name per column."""
    with np.errstate(invalid="ignore"):
        lost = (b != 0.0) & (np.abs(b) < _TINY)
    if lost.any():
        name = _owner(name, np.flatnonzero(lost.reshape(len(b), -1).any(axis=0)))
        raise ValueError(f"{name} spans too many orders of magnitude to be standardised in float64 (its "
                         "smallest non-zero values would lose precision next to its largest); rescale or "
                         "transform it (e.g. take logs)")


def prescale_columns(a, name):
    """``a`` with each column divided by its power-of-two scale (exact; every value then below 2
    in magnitude), for estimators invariant under per-column scaling; ``ValueError`` naming
    ``name`` where that would lose precision (see :func:`check_span`)."""
    b = np.ascontiguousarray(a / power_of_two_scale(a, axis=0))
    check_span(b, name)
    return b


def standardize_columns(a, name, ddof=0):
    """``(loc, scale, z)`` with ``z = (a - loc) / scale`` of mean 0 and std 1 per column,
    computed scale first, then centre, so that no step over- or underflows.

    ``loc`` and ``scale`` are the column means and standard deviations in the input's units
    (``scale`` may be inf only where the spread itself exceeds the float64 range, which is
    refused). Raises ``ValueError`` naming ``name`` (one name, or one per column) for a column
    of zero spread or one whose standardised values are not finite.
    """
    a = np.asarray(a, dtype=np.float64)
    p = power_of_two_scale(a, axis=0)
    b = a / p
    check_span(b, name)
    m = b.mean(axis=0)
    s = b.std(axis=0, ddof=ddof)
    bad = np.flatnonzero(~(s > 0.0))
    if bad.size:
        raise ValueError(f"{_owner(name, bad)} has column(s) {bad.tolist()} of zero spread at float64 precision "
                         "(constant, or values that differ only below the rounding of their magnitude)")
    with np.errstate(over="ignore"):
        loc, scale = m * p, s * p
    z = (b - m) / s
    ok = np.isfinite(z).all(axis=0) & np.isfinite(loc) & np.isfinite(scale)
    if not ok.all():
        raise ValueError(f"{_owner(name, np.flatnonzero(~ok))} cannot be standardised within the float64 range (its spread overflows); "
                         "rescale it")
    return loc, scale, z
