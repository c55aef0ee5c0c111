"""JSON from files that others wrote: parsed with a bounded size and nesting depth, finite
numbers only, and every failure a ValueError (never a RecursionError or OverflowError)."""
from __future__ import annotations

import json

#: Deepest nesting of objects and arrays accepted by default (fastmi writes at most 5).
MAX_JSON_DEPTH = 32


def _refuse_constant(name):
    raise ValueError(f"non-finite number {name} is not allowed")


def json_depth(obj):
    """Nesting depth of a parsed JSON value (a scalar is 0), walked without recursion."""
    deepest, stack = 0, [(obj, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        if isinstance(v, list):
            deepest = max(deepest, depth + 1)
            stack.extend((c, depth + 1) for c in v)
    return deepest


def loads_bounded(text, what, max_depth=MAX_JSON_DEPTH):
    """``json.loads(text)`` with NaN/Infinity refused and nesting at most ``max_depth``;
    raises ``ValueError`` naming ``what`` on anything else."""
    try:
        obj = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(f"{what} is not valid JSON (nested deeper than {max_depth})") from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"{what} is not valid JSON ({exc})") from None
    depth = json_depth(obj)
    if depth > max_depth:
        raise ValueError(f"{what} is nested {depth} deep, deeper than the limit {max_depth}")
    return obj
