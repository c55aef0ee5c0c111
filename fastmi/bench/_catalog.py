"""Distributions by name: the presets, the hard suite and ``'kind:key=value'`` specs.

This module sits above both :mod:`._distributions` and :mod:`._hard`, so that the
dependencies point one way (the hard families build on the basic distributions).
"""
from __future__ import annotations

from ._distributions import KINDS, PRESETS, Distribution
from ._hard import HARD_SUITE

__all__ = ["get_distribution", "list_distributions"]


def _parse_value(text):
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(low)
    except ValueError:
        pass
    try:
        return float(low)
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a number or true/false") from None


def get_distribution(spec):
    """Build a distribution from a preset name or a ``'kind:key=value,...'`` string.

    Parameters
    ----------
    spec : str or Distribution
        A name in ``PRESETS`` (e.g. 'gaussian', 'mixture3', 'categorical') or in
        ``HARD_SUITE`` (e.g. 'spiral_gaussian_2x2'), or a kind in
        ``KINDS`` with keyword arguments, e.g. ``'gaussian:rho=0.9,dx=2'``,
        ``'student_t:nu=5,rho=0.3'``, ``'uniform_noise:a=2'``, ``'gamma_exp:alpha=0.5'``.
        A Distribution is returned unchanged.

    Returns
    -------
    Distribution
    """
    if isinstance(spec, Distribution):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"a distribution must be a name, a 'kind:key=value' string or a Distribution, "
                         f"got {spec!r}")
    if spec in PRESETS:
        return PRESETS[spec]()
    if spec in HARD_SUITE:
        return HARD_SUITE[spec]()
    kind, _, rest = spec.partition(":")
    if kind not in KINDS:
        raise ValueError(f"unknown distribution {spec!r}; presets: {sorted(PRESETS)} and the hard suite "
                         f"(fastmi.bench.HARD_SUITE); "
                         f"kinds for 'kind:key=value': {sorted(KINDS)}")
    kwargs = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, val = item.partition("=")
        if not eq:
            raise ValueError(f"{spec!r}: expected key=value, got {item!r}")
        kwargs[key.strip()] = _parse_value(val)
    try:
        return KINDS[kind](**kwargs, name=spec)
    except TypeError as exc:
        raise ValueError(f"{spec!r}: {exc}") from None


def list_distributions():
    """Names of the presets (see ``PRESETS``)."""
    return list(PRESETS)
