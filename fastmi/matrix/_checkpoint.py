"""Checkpoints of MI-matrix runs: every finished entry is recorded durably as it completes,
so that a rerun with the same arguments computes only the missing entries.

Format (version 1): a text file of JSON lines, written append-only.

* Line 1, the header: ``{"format": "fastmi.checkpoint", "version": 1, "fingerprint": {...},
  "sha256": ...}``. The fingerprint names the run: a SHA-256 of the data (a, and b when given),
  method, y_type, unit, the estimator keyword arguments, the root seed (entropy and spawn key),
  the row and column names and whether the matrix is symmetric. ``sha256`` is the hash of the
  fingerprint's canonical JSON; every entry line carries its first 16 hex digits as ``run``.
* One line per finished entry: ``{"run", "i", "j", "result", "error", "sha256"}`` where
  ``result`` is the :class:`MIResult` in an exact encoding (floats as ``float.hex``, arrays as
  dtype + shape + base64 bytes, tuples kept apart from lists), ``error`` is the message of a
  pair that failed under ``on_error='nan'``, and ``sha256`` hashes the rest of the line.

Every line is written with one ``os.write`` then ``os.fsync``; the header is written to a
temporary file and renamed into place. A last line without its newline is a record torn by a
kill mid-write: it is discarded (and cut off before appending). Anything else that does not
parse or check is refused with a ValueError; nothing in the file is ever executed (JSON only,
arrays rebuilt with ``np.frombuffer`` from numeric dtypes, never pickle).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os

import numpy as np

from .._jsonsafe import loads_bounded
from .._result import MIResult

#: deepest JSON nesting read from a checkpoint (the encoding doubles a result's depth, which is < 20)
_MAX_DEPTH = 100

FORMAT = "fastmi.checkpoint"
VERSION = 1
_ARRAY_KINDS = "biufcSU"  # numeric, bool, bytes and str arrays; never object


# --------------------------------------------------------------------------- exact JSON encoding
def encode(obj):
    """``obj`` as JSON-able data that :func:`decode` turns back into an identical object.

    Scalars other than ints, bools, str and None, and every container, become a one-key
    dict whose key says the type; floats are written with ``float.hex`` (exact, NaN and inf
    included). Raises TypeError for anything else.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int) and type(obj) is int:
        return obj
    if type(obj) is float:
        return {"f": obj.hex()}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"cannot record an array of dtype {obj.dtype}")
        return {"a": [obj.dtype.str, list(obj.shape), base64.b64encode(np.ascontiguousarray(obj).tobytes()).decode()]}
    if isinstance(obj, np.generic):
        if obj.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"cannot record a scalar of dtype {obj.dtype}")
        return {"s": [obj.dtype.str, base64.b64encode(np.asarray(obj).tobytes()).decode()]}
    if isinstance(obj, list):
        return {"l": [encode(v) for v in obj]}
    if isinstance(obj, tuple):
        return {"t": [encode(v) for v in obj]}
    if isinstance(obj, dict):
        return {"d": [[encode(k), encode(v)] for k, v in obj.items()]}
    raise TypeError(f"cannot record a {type(obj).__name__}")


def _dtype(s):
    dt = np.dtype(str(s))
    if dt.kind not in _ARRAY_KINDS or dt.hasobject:
        raise ValueError(f"dtype {s!r} is not allowed")
    return dt


def decode(obj):
    """The inverse of :func:`encode`; raises ValueError on anything it would not write."""
    if obj is None or isinstance(obj, (bool, str)) or type(obj) is int:
        return obj
    if not (isinstance(obj, dict) and len(obj) == 1):
        raise ValueError(f"unexpected value {str(obj)[:60]!r}")
    (tag, v), = obj.items()
    if tag == "f":
        try:
            return float.fromhex(v)
        except (OverflowError, TypeError) as exc:  # '0x1p+99999' overflows
            raise ValueError(f"bad float {str(v)[:30]!r} ({exc})") from None
    if tag == "a":
        dt, shape, data = v
        shape = tuple(int(n) for n in shape)
        arr = np.frombuffer(base64.b64decode(data, validate=True), dtype=_dtype(dt))
        return arr.reshape(shape).copy()
    if tag == "s":
        dt, data = v
        return np.frombuffer(base64.b64decode(data, validate=True), dtype=_dtype(dt))[0]
    if tag == "l":
        return [decode(x) for x in v]
    if tag == "t":
        return tuple(decode(x) for x in v)
    if tag == "d":
        return {decode(k): decode(x) for k, x in v}
    raise ValueError(f"unknown tag {tag!r}")


def encode_result(r):
    return encode({"mi": r.mi, "std": r.std, "samples": r.samples, "unit": r.unit, "method": r.method,
                   "n_components": r.n_components, "diagnostics": r.diagnostics, "quantity": r.quantity})


def decode_result(d):
    d = decode(d)
    if not isinstance(d, dict) or not isinstance(d.get("samples"), np.ndarray):
        raise ValueError("not a result record")
    return MIResult(**d)


def _canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _sha(obj):
    return hashlib.sha256(_canonical(obj).encode()).hexdigest()


# --------------------------------------------------------------------------- fingerprint
def data_hash(arr):
    """SHA-256 of an input array: dtype, shape and contents (object label arrays by their
    elements' type and str)."""
    h = hashlib.sha256()
    if arr is None:
        return None
    h.update(f"{arr.dtype.str}|{arr.shape}|".encode())
    if arr.dtype.hasobject:
        for v in arr.ravel(order="C"):
            h.update(f"{type(v).__name__}:{v!s}\x00".encode())
    else:
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _kwargs_record(kwargs):
    out = {}
    for k, v in sorted(kwargs.items()):
        try:
            out[k] = encode(v)
        except TypeError:
            out[k] = {"repr": repr(v)}
    return out


def fingerprint(A, B, *, method, y_type, unit, kwargs, entropy, spawn_key, names_a, names_b, symmetric):
    ent = [int(e) for e in np.atleast_1d(entropy)] if np.ndim(entropy) else int(entropy)
    return {"a": data_hash(A), "b": data_hash(B), "method": method, "y_type": y_type, "unit": unit,
            "kwargs": _kwargs_record(kwargs), "entropy": ent, "spawn_key": [int(k) for k in spawn_key],
            "names_a": list(names_a), "names_b": list(names_b), "symmetric": bool(symmetric)}


_WHAT = {"a": "the data a", "b": "the data b", "method": "method", "y_type": "y_type", "unit": "unit",
         "kwargs": "the estimator keyword arguments", "entropy": "the root seed (rng)",
         "spawn_key": "the root seed's spawn key (rng)", "names_a": "the row names",
         "names_b": "the column names", "symmetric": "b given or not (symmetric matrix)"}


# --------------------------------------------------------------------------- file
def _fsync_dir(path):
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)) or ".", os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class Checkpoint:
    """An open checkpoint: the entries already recorded, and an append-only writer."""

    def __init__(self, path, fp, *, adopt_root):
        """Open (or create) the checkpoint at ``path`` for the run ``fp``.

        With ``adopt_root`` (a run with rng=None) the root seed recorded in an existing
        checkpoint is taken over, and ``self.fingerprint`` holds it.
        """
        self.path = os.fspath(path)
        self.done = {}  # (i, j) -> (MIResult or None, error message or None)
        if os.path.exists(self.path):
            self._read(fp, adopt_root)
        else:
            self.fingerprint = fp
            self.run = _sha(fp)[:16]
            header = {"format": FORMAT, "version": VERSION, "fingerprint": fp, "sha256": _sha(fp)}
            tmp = f"{self.path}.tmp-{os.getpid()}"
            with open(tmp, "wb") as f:
                f.write((_canonical(header) + "\n").encode())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            _fsync_dir(self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def _bad(self, why):
        return ValueError(f"checkpoint {self.path}: {why}")

    def _read(self, fp, adopt_root):
        with open(self.path, "rb") as f:
            raw = f.read()
        lines = raw.split(b"\n")
        torn = lines.pop()  # the bytes after the last newline: empty, or a record torn mid-write
        if not lines:
            raise self._bad("no complete header line (empty or truncated file); delete it to start over")
        try:
            header = loads_bounded(lines[0].decode(), "the header", _MAX_DEPTH)
            ok = (isinstance(header, dict) and header.get("format") == FORMAT and isinstance(header.get("fingerprint"), dict))
        except (UnicodeDecodeError, ValueError):
            ok = False
        if not ok:
            raise self._bad("not a fastmi checkpoint (bad header)")
        if header.get("version") != VERSION:
            raise self._bad(f"checkpoint version {header.get('version')!r}; this fastmi reads version {VERSION}")
        stored = header["fingerprint"]
        if header.get("sha256") != _sha(stored):
            raise self._bad("the header does not match its checksum (corrupted or edited)")
        if adopt_root:
            fp = {**fp, "entropy": stored.get("entropy"), "spawn_key": stored.get("spawn_key")}
        differ = [k for k in _WHAT if stored.get(k) != fp.get(k)] + sorted(set(stored) - set(_WHAT))
        if differ:
            raise ValueError(f"checkpoint {self.path} was written for another run; what differs: "
                             f"{', '.join(_WHAT.get(k, k) for k in differ)}. Use another checkpoint path, or "
                             "delete this file to start over")
        self.fingerprint = stored
        self.run = _sha(stored)[:16]
        p, q = len(stored["names_a"]), len(stored["names_b"])
        for n, line in enumerate(lines[1:], start=2):
            if not line:
                continue
            try:
                rec = loads_bounded(line.decode(), "the record", _MAX_DEPTH)
                digest = rec.pop("sha256")
                if digest != _sha(rec):
                    raise ValueError("checksum mismatch")
                if rec["run"] != self.run:
                    raise ValueError("record of another run")
                i, j = rec["i"], rec["j"]
                if not (type(i) is int and type(j) is int and 0 <= i < p and 0 <= j < q
                        and (not stored["symmetric"] or i < j)):
                    raise ValueError(f"bad entry index ({i!r}, {j!r})")
                err = rec["error"]
                if err is not None and not isinstance(err, str):
                    raise ValueError("bad error field")
                result = None if rec["result"] is None else decode_result(rec["result"])
            except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
                raise self._bad(f"line {n} is corrupted ({exc}); delete the file to start over") from None
            if (i, j) in self.done and _canonical(encode_result(result) if result else None) != \
                    _canonical(encode_result(self.done[(i, j)][0]) if self.done[(i, j)][0] else None):
                raise self._bad(f"entry ({i}, {j}) is recorded twice with different results")
            self.done[(i, j)] = (result, err)
        if torn:  # cut the torn record off so that the next one starts on its own line
            with open(self.path, "r+b") as f:
                f.truncate(len(raw) - len(torn))
                f.flush()
                os.fsync(f.fileno())

    def record(self, entries):
        """Append ``(i, j, MIResult or None, error or None)`` entries (those not yet recorded)
        and make them durable (one write per line, one fsync)."""
        buf = []
        for i, j, r, err in entries:
            if (i, j) in self.done:
                continue
            rec = {"run": self.run, "i": int(i), "j": int(j),
                   "result": None if r is None else encode_result(r), "error": err}
            rec["sha256"] = _sha(rec)
            buf.append((_canonical(rec) + "\n").encode())
            self.done[(i, j)] = (r, err)
        if buf:
            for line in buf:
                _write_all(self._fd, line)
            os.fsync(self._fd)

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
