"""GMMMI model files: one schema, written by :func:`save_model`, validated in full by
:func:`load_model_file` before any of it is used.

A model file is an .npz archive (a zip of .npy members, never pickled) holding a JSON header
and float64 arrays. Reading it is bounded before it starts: the file size, every member's
uncompressed size (read from the zip directory, before anything is decompressed), the header's
size and nesting depth, and the numbers that set the cost of using the model (components,
dimensions, classes, Monte Carlo samples) all have limits, which a caller who trusts a file can
raise (:class:`LoadLimits`, keyword arguments of ``GMMMI.load``). Then every field is checked:
shapes against ``dims`` and the number of components, weights and class priors positive and
summing to 1, covariances symmetric and positive definite (the kernels' own Cholesky factor),
class lists against the mixtures. Any failure is a ValueError naming the field.

The SHA-256 in the header detects damage (a flipped bit, a truncated copy), not forgery: anyone
can recompute it. What stops a forged file from doing harm is the validation: it can at worst
make a model that gives a wrong number.

Adding a header field is one line in ``_HEADER_FIELDS`` (with a default for older files).
"""
from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import zipfile
from dataclasses import dataclass, fields

import numpy as np

from .._jsonsafe import MAX_JSON_DEPTH, loads_bounded
from .._result import _jsonable
from .._streams import Streams
from ._mixture import Mixture

MODEL_FORMAT = "fastmi.GMMMI"
MODEL_VERSION = 1
READABLE_VERSIONS = (1,)
# the header's "arrays_sha256" (a SHA-256 of the arrays) was added within version 1: files written
# before it still load (unchecked); older readers ignore the key

_NPY_MAGIC = b"\x93NUMPY"
_WEIGHT_SUM_TOL = 1e-9  # |sum - 1| allowed for weights and class priors (EM's are exact to ~1e-15)
_SYMMETRY_TOL = 1e-10  # |S - S^T| relative to the diagonal scale
#: smallest eigenvalue allowed relative to the largest, per covariance (a rank-deficient one is below)
_MIN_EIGEN_RATIO = 1e-13
#: largest |mean| or variance allowed in the standardised space the mixtures live in
_MAX_STANDARDISED = 1e12


@dataclass(frozen=True)
class LoadLimits:
    """Limits on what loading a model file may cost; raise one to load a larger trusted file.

    Attributes
    ----------
    max_file_bytes : int
        Size of the file and total uncompressed size of its members (default 64 MiB).
    max_header_bytes : int
        Uncompressed size of the JSON header member (default 1 MiB).
    max_json_depth : int
        Nesting depth of the header's JSON (default 32).
    max_components : int
        Components of each mixture (default 1000).
    max_dimensions : int
        Total dimension of the model, the sum of ``dims`` (default 100).
    max_classes : int
        Classes of a categorical model (default 10000).
    max_mc_samples : int
        The header's ``params.mc_samples`` (default 10**7).
    """

    max_file_bytes: int = 64 * 2**20
    max_header_bytes: int = 2**20
    max_json_depth: int = MAX_JSON_DEPTH
    max_components: int = 1000
    max_dimensions: int = 100
    max_classes: int = 10_000
    max_mc_samples: int = 10**7

    @classmethod
    def from_kwargs(cls, **kwargs):
        from .._validation import check_int

        names = {f.name for f in fields(cls)}
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError(f"unknown load limit {k!r}; the limits are {', '.join(sorted(names))}")
            check_int(v, k, low=1)
        return cls(**kwargs)


class _Bad(Exception):
    """A field that fails its check: (field, why)."""

    def __init__(self, field, why):
        super().__init__(field, why)
        self.field, self.why = field, why


def arrays_sha256(arrays):
    """SHA-256 of the model's arrays (all but the header): names, dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for name in sorted(k for k in arrays if k != "header"):
        a = np.asarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------- writing
def save_model(est, path):
    """Write a fitted GMMMI to ``path`` (see ``GMMMI.save``)."""
    est._check_fitted()
    params = {k: v for k, v in est.get_params().items() if k != "rng"}  # the seed is stored as entropy
    header = {"format": MODEL_FORMAT, "version": MODEL_VERSION, "params": params}
    for f in _HEADER_FIELDS:
        header[f.key] = f.write(est)
    arrays = {"loc": est.loc_, "scale": est.scale_}
    for stage, mixes in (("final", est._final), ("warm", est._warm)):
        for c, m in enumerate(mixes if isinstance(mixes, list) else [mixes]):
            for p in ("weights", "means", "covariances"):
                arrays[f"{stage}_{c}_{p}"] = getattr(m, p)
    if est.y_type == "categorical":
        arrays["class_prior"] = est.class_prior_
    header["arrays_sha256"] = arrays_sha256(arrays)
    arrays["header"] = np.array(json.dumps(_jsonable(header)))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


# --------------------------------------------------------------------------- header schema
def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check_params(value, ctx):
    if not isinstance(value, dict):
        raise _Bad("params", "not a JSON object")
    allowed = set(inspect.signature(ctx["cls"].__init__).parameters) - {"self", "rng"}
    for k in value:
        if k not in allowed:
            raise _Bad(f"params.{k}", "no such parameter")
    mc = value.get("mc_samples", "auto")
    if _is_int(mc) and mc > ctx["limits"].max_mc_samples:
        raise _Bad("params.mc_samples", f"{mc} exceeds the limit {ctx['limits'].max_mc_samples} "
                                        "(raise it with max_mc_samples=... if you trust the file)")
    nj = value.get("n_jobs")
    if nj is not None and not (_is_int(nj) and (nj == -1 or 1 <= nj <= 4096)):
        raise _Bad("params.n_jobs", f"{nj!r} is not None, -1 or an int in [1, 4096]")
    est = ctx["cls"](**value)
    try:
        est._check_params()
    except (ValueError, TypeError) as exc:
        raise _Bad("params", str(exc)) from None
    ctx["est"] = est
    return value


def _check_dims(value, ctx):
    y_type = ctx["est"].y_type
    if not isinstance(value, dict):
        raise _Bad("dims", "not a JSON object")
    orders = ([["x", "y"], ["x", "y", "z"]] if y_type == "continuous" else [["x"], ["z", "x"]])
    if list(value) not in orders:
        raise _Bad("dims", f"keys {list(value)} are not those of a {y_type} model "
                           f"({' or '.join(map(str, orders))})")
    for k, v in value.items():
        if not _is_int(v) or v < 1:
            raise _Bad(f"dims.{k}", f"{v!r} is not a positive int")
    d = sum(value.values())
    if d > ctx["limits"].max_dimensions:
        raise _Bad("dims", f"total dimension {d} exceeds the limit {ctx['limits'].max_dimensions} "
                           "(raise it with max_dimensions=... if you trust the file)")
    ctx["d"] = d
    return dict(value)


def _check_conditional(value, ctx):
    if not isinstance(value, bool):
        raise _Bad("conditional", f"{value!r} is not true or false")
    if "z" in ctx["dims"] and not value:
        raise _Bad("conditional", "false, but dims has z")
    return value


def _check_cv(value, ctx):
    if not isinstance(value, dict):
        raise _Bad("cv", "not a JSON object")
    return value


def _check_seed_entropy(value, ctx):
    if not (isinstance(value, list) and 1 <= len(value) <= 16
            and all(_is_int(e) and 0 <= e < 2**128 for e in value)):
        raise _Bad("seed_entropy", "not a list of 1 to 16 ints in [0, 2**128)")
    return value


def _check_classes(value, ctx):
    if ctx["est"].y_type != "categorical":
        if value is not None:
            raise _Bad("classes", "given for a continuous model")
        return None
    if not isinstance(value, list) or len(value) < 2:
        raise _Bad("classes", "not a list of at least two labels")
    if len(value) > ctx["limits"].max_classes:
        raise _Bad("classes", f"{len(value)} classes exceed the limit {ctx['limits'].max_classes} "
                              "(raise it with max_classes=... if you trust the file)")
    kinds = {type(v) for v in value}
    if len(kinds) != 1 or kinds.pop() not in (str, int, float, bool):
        raise _Bad("classes", "labels are not all strings, all ints, all floats or all booleans")
    if len(set(value)) != len(value):
        raise _Bad("classes", "labels repeat")
    return value


def _check_sha(value, ctx):
    if value is not None and not (isinstance(value, str) and len(value) == 64
                                  and all(c in "0123456789abcdef" for c in value)):
        raise _Bad("arrays_sha256", "not 64 lower-case hex digits")
    return value


def _check_space(value, ctx):
    if value not in ("data", "copula"):
        raise _Bad("space", f"{value!r} is not 'data' or 'copula'")
    return value


def _check_n_samples(value, ctx):
    if value is not None and not (_is_int(value) and 2 <= value <= 2**53):
        raise _Bad("n_samples", f"{value!r} is not null or an int >= 2")
    return value


_REQUIRED = object()


@dataclass(frozen=True)
class _Field:
    """One header field: its key, the estimator attribute it restores (None: used otherwise),
    how ``save`` writes it, its check (value, ctx) -> value, and its value in older files."""

    key: str
    attr: str | None
    write: object
    check: object
    default: object = _REQUIRED


# checked in this order; a check may read what earlier ones put in ctx ("est", "d", ...)
_HEADER_FIELDS = (
    _Field("dims", "dims_", lambda est: est.dims_, _check_dims),
    _Field("conditional", "conditional_", lambda est: bool(getattr(est, "conditional_", "z" in est.dims_)),
           _check_conditional, default=None),  # None: "z" in dims (files written before the key)
    _Field("cv", "cv_", lambda est: est.cv_, _check_cv),
    _Field("seed_entropy", None, lambda est: [int(e) for e in np.atleast_1d(est._streams.root.entropy)],
           _check_seed_entropy),
    _Field("classes", None, lambda est: None if est.y_type != "categorical" else est.classes_.tolist(),
           _check_classes, default=None),
    # the space the mixtures were fitted in, and the sample size that the one-Gaussian bias
    # correction needs; older files: the data's space, no correction
    _Field("space", "space_", lambda est: est.space_, _check_space, default="data"),
    _Field("n_samples", "n_samples_", lambda est: est.n_samples_, _check_n_samples, default=None),
)


def _check_header(header, ctx):
    if header.get("format") != MODEL_FORMAT:
        raise ValueError(f"{ctx['path']} is not a fastmi GMMMI model (format {header.get('format')!r})")
    if header.get("version") not in READABLE_VERSIONS or not _is_int(header.get("version")):
        raise ValueError(f"{ctx['path']} has model version {header.get('version')!r}; this fastmi reads versions "
                         f"{', '.join(map(str, READABLE_VERSIONS))}")
    if "params" not in header:
        raise _Bad("params", "missing")
    _check_params(header["params"], ctx)
    values = {}
    for f in _HEADER_FIELDS:
        if f.key in header:
            v = header[f.key]
        elif f.default is _REQUIRED:
            raise _Bad(f.key, "missing")
        else:
            v = f.default
        if f.key == "conditional" and v is None:
            v = "z" in ctx["dims"]
        values[f.key] = ctx[f.key] = f.check(v, ctx)
    _check_sha(header.get("arrays_sha256"), ctx)
    return values


# --------------------------------------------------------------------------- arrays
def _expected_shapes(ctx, npy_shapes):
    """The member shapes a model with this header must have; K is read from each weights array."""
    n_mix = 1 if ctx["est"].y_type == "continuous" else len(ctx["classes"])
    d, limit = ctx["d"], ctx["limits"].max_components
    want = {"loc": (d,), "scale": (d,)}
    for stage in ("final", "warm"):
        for c in range(n_mix):
            name = f"{stage}_{c}_weights"
            shape = npy_shapes.get(name)
            if shape is None:
                raise _Bad(name, "missing" + (" (its classes list has more entries than there are mixtures)"
                                              if ctx["est"].y_type == "categorical" else ""))
            if len(shape) != 1 or shape[0] < 1:
                raise _Bad(name, f"shape {shape} is not (K,) with K >= 1")
            K = shape[0]
            if K > limit:
                raise _Bad(name, f"K={K} components exceed the limit {limit} "
                                 "(raise it with max_components=... if you trust the file)")
            want[name] = (K,)
            want[f"{stage}_{c}_means"] = (K, d)
            want[f"{stage}_{c}_covariances"] = (K, d, d)
    if ctx["est"].y_type == "categorical":
        want["class_prior"] = (n_mix,)
    for name in npy_shapes:
        if name not in want:
            hint = (ctx["est"].y_type == "categorical"
                    and name.split("_")[-1] in ("weights", "means", "covariances"))
            raise _Bad(name, "not an array of this model" + (" (its classes list has fewer entries)" if hint else ""))
    for name, shape in want.items():
        if name not in npy_shapes:
            raise _Bad(name, "missing" + (" (its classes list has more entries than there are mixtures)"
                                          if "_" in name and name != "class_prior" else ""))
        if tuple(npy_shapes[name]) != shape:
            raise _Bad(name, f"shape {tuple(npy_shapes[name])} does not match dims and K (expected {shape})")
    return want


def _check_simplex(name, a):
    if not np.all(a > 0.0):
        raise _Bad(name, "has entries that are not positive")
    if abs(math.fsum(a.tolist()) - 1.0) > _WEIGHT_SUM_TOL:
        raise _Bad(name, f"sums to {math.fsum(a.tolist())!r}, not 1")


def _check_mixture(prefix, w, m, S):
    _check_simplex(f"{prefix}_weights", w)
    if np.max(np.abs(m)) > _MAX_STANDARDISED:
        raise _Bad(f"{prefix}_means", f"|mean| above {_MAX_STANDARDISED:g} (in standardised units)")
    diag = np.diagonal(S, axis1=1, axis2=2)
    if not np.all(diag > 0.0) or np.max(diag) > _MAX_STANDARDISED:
        raise _Bad(f"{prefix}_covariances", f"variances not in (0, {_MAX_STANDARDISED:g}] (standardised units)")
    scale = np.sqrt(diag[:, :, None] * diag[:, None, :])
    if np.max(np.abs(S - np.swapaxes(S, 1, 2)) / scale) > _SYMMETRY_TOL:
        raise _Bad(f"{prefix}_covariances", "not symmetric")
    mix = Mixture(w, m, S)
    try:
        mix.factors()  # the kernels' own Cholesky factor
    except FloatingPointError as exc:
        raise _Bad(f"{prefix}_covariances", f"not positive definite ({exc})") from None
    eig = np.linalg.eigvalsh(S)
    if not np.all(eig[:, 0] > _MIN_EIGEN_RATIO * eig[:, -1]):
        k = int(np.argmin(eig[:, 0] / eig[:, -1]))
        raise _Bad(f"{prefix}_covariances", f"component {k} is (numerically) singular: eigenvalues "
                                            f"{eig[k, 0]:.3g} .. {eig[k, -1]:.3g}")
    return mix


# --------------------------------------------------------------------------- reading
def _damaged(path, exc):
    return ValueError(f"{path} is not a readable fastmi model file (truncated or damaged: "
                      f"{type(exc).__name__}: {exc})")


def _read_npy_header(fp, name, limits):
    """(shape, fortran_order, dtype) of an .npy member, from its few header bytes."""
    version = np.lib.format.read_magic(fp)
    read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in read:
        raise ValueError(f"member {name!r}: unsupported .npy version {version}")
    return read[version](fp, max_header_size=10_000)


def _open_archive(path, limits):
    """The open zip of a model file, its size and its members' sizes (from the zip directory,
    before anything is decompressed) checked against ``limits``."""
    size = os.path.getsize(path)
    if size > limits.max_file_bytes:
        raise ValueError(f"{path} is {size} bytes, above the limit {limits.max_file_bytes} "
                         "(raise it with max_file_bytes=... if you trust the file)")
    with open(path, "rb") as f:
        head = f.read(len(_NPY_MAGIC))
    if head == _NPY_MAGIC:
        raise ValueError(f"{path} is not a fastmi model file (a bare array, not an .npz archive)")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a fastmi model file: not an .npz archive, or it holds pickled data, "
                         "which is never loaded")
    try:
        zf = zipfile.ZipFile(path)
    except Exception as exc:  # whatever a damaged zip directory makes zipfile raise
        raise _damaged(path, exc) from None
    try:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            raise ValueError(f"{path} is not a valid fastmi model: member names repeat")
        if len(infos) > 6 * limits.max_classes + 8:
            raise ValueError(f"{path} is not a valid fastmi model: {len(infos)} archive members")
        total = 0
        for i in infos:
            if not i.filename.endswith(".npy"):
                raise ValueError(f"{path} is not a valid fastmi model: member {i.filename!r} is not an .npy array")
            total += i.file_size
            if i.filename == "header.npy" and i.file_size > limits.max_header_bytes:
                raise ValueError(f"{path} is not a valid fastmi model: header: {i.file_size} bytes, above the "
                                 f"limit {limits.max_header_bytes} (raise it with max_header_bytes=...)")
        if total > limits.max_file_bytes:
            raise ValueError(f"{path} is not a valid fastmi model: its members hold {total} bytes uncompressed, "
                             f"above the limit {limits.max_file_bytes} (raise it with max_file_bytes=... "
                             "if you trust the file)")
        if "header.npy" not in names:
            raise ValueError(f"{path} is not a fastmi model file (no header)")
    except BaseException:
        zf.close()
        raise
    return zf


def _npy_headers(path, zf):
    """{name: (shape, fortran, dtype)} of every member, from its .npy header alone."""
    out = {}
    for i in zf.infolist():
        name = i.filename[:-4]
        with zf.open(i) as fp:
            shape, fortran, dtype = _read_npy_header(fp, name, None)
        if dtype.hasobject:
            raise ValueError(f"{path} holds an object array (pickled data) in {name!r}, which is never loaded")
        if name == "header":
            if shape != () or dtype.kind != "U":
                raise ValueError(f"{path} is not a fastmi model file (no header)")
        elif dtype.kind != "f" or dtype.itemsize != 8:
            raise ValueError(f"{path} is damaged: array {name!r} is not finite floating point (dtype {dtype})")
        if math.prod(shape) * dtype.itemsize > i.file_size:
            raise ValueError(f"{path} is not a valid fastmi model: {name}: shape {shape} needs more bytes "
                             "than its member holds")
        out[name] = (tuple(shape), fortran, dtype)
    return out


def _read_array(zf, name, npy):
    """The array of member ``name``: exactly the bytes its header declares, then end of member
    (where zipfile checks the CRC)."""
    shape, fortran, dtype = npy
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    with zf.open(name + ".npy") as fp:
        _read_npy_header(fp, name, None)
        data = fp.read(nbytes)
        if len(data) != nbytes or fp.read(1) != b"":
            raise ValueError(f"member {name!r} does not hold the {nbytes} data bytes its header declares")
    return np.frombuffer(data, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")


def _guarded(path, fn, *args):
    """``fn(*args)``, any parser failure on damaged bytes turned into a ValueError."""
    try:
        return fn(*args)
    except ValueError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise _damaged(path, exc) from None
    except Exception as exc:  # whatever a damaged file makes the zip and .npy parsers raise
        raise _damaged(path, exc) from None


def load_model_file(cls, path, limits=None):
    """The GMMMI saved in ``path``, every field checked (see the module docstring)."""
    limits = LoadLimits() if limits is None else limits
    with _open_archive(path, limits) as zf:
        npy = _guarded(path, _npy_headers, path, zf)
        header_text = str(_guarded(path, _read_array, zf, "header", npy.pop("header")))
        header = loads_bounded(header_text, f"{path} has a damaged header: the header", limits.max_json_depth)
        if not isinstance(header, dict):
            raise ValueError(f"{path} has a damaged header (not a JSON object)")
        ctx = {"cls": cls, "limits": limits, "path": path}
        try:
            values = _check_header(header, ctx)
            _expected_shapes(ctx, {k: v[0] for k, v in npy.items()})
        except _Bad as bad:
            raise ValueError(f"{path} is not a valid fastmi model: {bad.field}: {bad.why}") from None
        # only now, every size known and bounded, the arrays are decompressed
        arrays = {name: _guarded(path, _read_array, zf, name, v) for name, v in npy.items()}
    try:
        if header.get("arrays_sha256") is not None and header["arrays_sha256"] != arrays_sha256(arrays):
            raise ValueError(f"{path} is damaged or was edited: its arrays do not match the SHA-256 in its header")
        for name, a in arrays.items():
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{path} is damaged: array {name!r} is not finite floating point (dtype {a.dtype})")
        arrays = {k: np.ascontiguousarray(a, dtype=np.float64) for k, a in arrays.items()}
        if not np.all(arrays["scale"] > 0.0):
            raise _Bad("scale", "has entries that are not positive")
        n_mix = 1 if ctx["est"].y_type == "continuous" else len(values["classes"])
        mixes = {stage: [_check_mixture(f"{stage}_{c}", *(arrays[f"{stage}_{c}_{p}"]
                                                           for p in ("weights", "means", "covariances")))
                         for c in range(n_mix)] for stage in ("final", "warm")}
        if ctx["est"].y_type == "categorical":
            _check_simplex("class_prior", arrays["class_prior"])
    except _Bad as bad:
        raise ValueError(f"{path} is not a valid fastmi model: {bad.field}: {bad.why}") from None
    return _build(ctx["est"], values, arrays, mixes)


def _build(est, values, arrays, mixes):
    for f in _HEADER_FIELDS:
        if f.attr is not None:
            setattr(est, f.attr, values[f.key])
    est.loc_, est.scale_ = arrays["loc"], arrays["scale"]
    est.stage_, est._stages, est._attempts = 0, [(est.space_, False)], []
    est._streams = Streams(np.random.SeedSequence(values["seed_entropy"]))
    est._warnings = []
    if est.y_type == "categorical":
        est._final, est._warm = mixes["final"], mixes["warm"]
        est.classes_ = np.array(values["classes"])
        est.class_prior_ = arrays["class_prior"]
        est.n_components_ = {cl: m.n_components for cl, m in zip(values["classes"], est._warm)}
    else:
        est._final, est._warm = mixes["final"][0], mixes["warm"][0]
        est.n_components_ = est._warm.n_components
    est._set_public_params()
    est.bootstrap_params_ = None
    return est
