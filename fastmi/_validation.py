"""Input checks shared by every public entry point (run once, at the boundary)."""
from __future__ import annotations

import numbers
import warnings

import numpy as np


def constant_columns(arr):
    """Boolean mask of the columns of a 2-D array that hold one value. Column by column: NumPy
    reduces a tall, narrow C-ordered array along axis 0 ~10x slower."""
    return np.array([c.max() == c.min() for c in arr.T], dtype=bool)


def check_array(a, name, *, ensure_2d=True, allow_constant=False, min_samples=2):
    """Return ``a`` as a C-contiguous float64 array of shape (n, d).

    Accepts lists, NumPy arrays and pandas Series/DataFrames. A 1-D input
    becomes one column. Raises ``ValueError`` naming ``name`` for a
    non-numeric dtype, more than two dimensions, NaN or inf, too few samples,
    or (unless ``allow_constant``) a constant column.
    """
    if hasattr(a, "to_numpy"):  # pandas without importing it
        a = a.to_numpy()
    try:
        arr = np.asarray(a)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be converted to an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError(f"{name} must be 1-D or 2-D, got a scalar")
    if arr.ndim > 2:
        raise ValueError(f"{name} must be 1-D or 2-D (samples x features), got {arr.ndim}-D array of shape {arr.shape}")
    if arr.ndim == 1 and ensure_2d:
        arr = arr[:, None]
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if arr.shape[0] == 0 or (arr.ndim == 2 and arr.shape[1] == 0):
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if arr.shape[0] < min_samples:
        raise ValueError(f"{name} has {arr.shape[0]} samples; at least {min_samples} are needed")
    if not np.isfinite(arr).all():
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    if not allow_constant and arr.ndim == 2:
        const = np.flatnonzero(constant_columns(arr))
        if const.size:
            raise ValueError(f"{name} has constant column(s) {const.tolist()}; MI with a constant is 0 "
                             "and mixture/nearest-neighbour fits are undefined")
    return arr


def check_continuous(a, name):
    """float64 C-contiguous (n, d) array; ValueError for degenerate data."""
    arr = check_array(a, name, allow_constant=True)
    const = constant_columns(arr)
    if const.all():
        raise ValueError(f"all {arr.shape[0]} points of {name} are identical; "
                         "mutual information with a constant is 0 and nearest-neighbour estimates are undefined")
    const = np.flatnonzero(const)
    if const.size:
        raise ValueError(f"{name} has constant column(s) {const.tolist()}; drop them "
                         "(a constant carries no information and breaks the standardisation and the neighbour search)")
    return arr


def check_same_length(**arrays):
    """Raise ``ValueError`` unless every array has the same number of rows."""
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise ValueError(f"inputs must have the same number of samples: {desc}")


def as_column(v, what):
    """``v`` (array-like, Series, or one-column 2-D) as a 1-D array; ValueError naming ``what``
    otherwise."""
    if hasattr(v, "to_numpy"):
        v = v.to_numpy()
    arr = np.asarray(v)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {arr.shape}")
    return arr


def check_labels(y, name="y", *, min_count=2, min_classes=2):
    """Encode arbitrary category labels as integer codes.

    Returns ``(codes, classes, counts)``; raises ``ValueError`` for a 2-D
    input, missing labels, fewer than ``min_classes`` classes (a single class
    is an error by default), or a class with fewer than ``min_count`` samples.
    """
    arr = as_column(y, f"categorical {name}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"categorical {name} contains NaN or infinite labels")
    if arr.dtype.kind == "O" and any(v is None or (isinstance(v, float) and v != v) for v in arr):
        raise ValueError(f"categorical {name} contains missing labels (None or NaN)")
    try:
        classes, codes, counts = np.unique(arr, return_inverse=True, return_counts=True)
    except TypeError as exc:
        raise ValueError(f"categorical {name} has labels that cannot be compared: {exc}") from None
    if classes.size < min_classes:
        raise ValueError(f"categorical {name} has a single class {classes.tolist()}; MI is 0 and undefined to fit")
    small = classes[counts < min_count]
    if small.size:
        raise ValueError(f"categorical {name}: class(es) {small.tolist()} have fewer than {min_count} samples")
    return codes.astype(np.intp), classes, counts


def check_class_labels(y, name="y", *, min_count=2, min_class_size=None):
    """:func:`check_labels`, optionally dropping the samples of small classes first.

    With ``min_class_size=None`` this is ``check_labels(y, name, min_count=min_count)``: a
    class with fewer than ``min_count`` samples is an error. With an int
    (``>= min_count``), the samples of classes with fewer than ``min_class_size`` samples
    are dropped with a ``RuntimeWarning`` that counts them, and the rest are re-encoded.

    Returns ``(codes, classes, counts, keep)``: ``keep`` is the boolean mask of the rows
    kept (None when nothing was dropped), to apply to the other inputs.
    """
    if min_class_size is None:
        return (*check_labels(y, name, min_count=min_count), None)
    min_class_size = check_int(min_class_size, "min_class_size", low=min_count)
    codes, classes, counts = check_labels(y, name, min_count=1)
    small = counts < min_class_size
    if not small.any():
        return codes, classes, counts, None
    keep = ~small[codes]
    if np.count_nonzero(~small) < 2:
        raise ValueError(f"categorical {name}: fewer than two classes have min_class_size={min_class_size} "
                         f"or more samples (class sizes {dict(zip(classes.tolist(), counts.tolist()))})")
    dropped = classes[small].tolist()
    shown = dropped if len(dropped) <= 10 else dropped[:10] + ["..."]
    warnings.warn(f"min_class_size={min_class_size}: dropped {int(np.count_nonzero(~keep))} sample(s) of "
                  f"{len(dropped)} class(es) with fewer samples than that: {shown}", RuntimeWarning, stacklevel=3)
    remap = np.cumsum(~small) - 1
    return remap[codes[keep]].astype(np.intp), classes[~small], counts[~small], keep


def check_conditioning(z, name="z"):
    """The conditioning variable as a float64 (n, d) array without its constant columns.

    Conditioning on a constant changes nothing, so constant columns are dropped with a
    ``RuntimeWarning``; when every column is constant (a single-valued Z) the result has
    zero columns and the warning says that the estimate is the unconditional I(X; Y).
    """
    arr = check_array(z, name, allow_constant=True)
    const = constant_columns(arr)
    if const.all():
        warnings.warn(f"{name} is degenerate (it takes a single value): conditioning on a constant changes "
                      f"nothing, so the estimate is the unconditional I(X; Y)", RuntimeWarning, stacklevel=3)
    elif const.any():
        warnings.warn(f"{name} has constant column(s) {np.flatnonzero(const).tolist()}: they carry no information "
                      "and are dropped", RuntimeWarning, stacklevel=3)
    return np.ascontiguousarray(arr[:, ~const])


def check_int(value, name, *, low=None, allow_none=False):
    """Validate an integer parameter (bools rejected)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return value


def check_bool(value, name):
    """Validate a flag: True or False (NumPy bools too), not a truthy string or number."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_float(value, name, *, low=None, low_inclusive=True):
    """Validate a real parameter."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    value = float(value)
    if low is not None and (value < low or (value == low and not low_inclusive)):
        raise ValueError(f"{name} must be {'>=' if low_inclusive else '>'} {low}, got {value}")
    return value


def check_choice(value, name, choices):
    """Validate a string option."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_unit(unit):
    """Raise ``ValueError`` unless ``unit`` is 'nat' or 'bit'."""
    check_choice(unit, "unit", {"nat", "bit"})
    return unit


def check_rng(rng):
    """``np.random.default_rng`` semantics (SPEC 7): None, int, SeedSequence or Generator."""
    try:
        return np.random.default_rng(rng)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"rng must be None, an int, a SeedSequence or a Generator: {exc}") from None
