"""Reading tables of samples for the command line: CSV, NPY, NPZ and Parquet.

Every problem with the input (a missing file, an unknown column, non-numeric
data, NaN) is raised as ``FileNotFoundError`` or ``ValueError`` with a message
that names the file and the column, so the command line can print one line.
"""
from __future__ import annotations

import csv
import fnmatch
import io
import os
import re

import numpy as np

_MISSING = {"", "na", "nan", "n/a", "null", "none", "-nan", "+nan"}
_SLICE = re.compile(r"^(-?\d*):(-?\d*)$")
FORMATS = ("CSV (.csv, .tsv, .txt)", "NPY (.npy)", "NPZ (.npz)", "Parquet (.parquet, .pq; needs pyarrow)")


class Table:
    """Named columns read from a file.

    Attributes
    ----------
    path : str
    names : list of str
        Column names in file order.
    groups : dict
        Names that stand for several columns (a 2-D array ``z`` in an NPZ file
        gives columns ``z[0]``, ``z[1]``, ... and the group ``z``).
    """

    def __init__(self, path, columns, *, groups=None, where=None):
        self.path = str(path)
        self._columns = columns  # name -> 1-D ndarray (numeric, or str/object labels)
        self.names = list(columns)
        self.groups = groups or {}
        self._where = where or (lambda k: f"row {k}")  # how to point at row k in messages

    @property
    def label(self):
        return os.path.basename(self.path)

    # ---------------------------------------------------------------- selecting columns
    def select(self, spec, option="--cols"):
        """Column names for a selection ``spec``: comma-separated tokens, each a column
        name, a group name, a glob pattern (``z*``), a 0-based index (``3``, ``-1``), a
        slice of indices (``0:4``, end excluded) or a range of names (``z0:z9``, both
        ends included). Names are matched before indices."""
        if spec is None or not str(spec).strip():
            raise ValueError(f"{option} is empty; give column names or indices, e.g. {option} a,b")
        out = []
        for token in (t.strip() for t in str(spec).split(",")):
            if not token:
                raise ValueError(f"{option} {spec!r} has an empty column name")
            out.extend(self._resolve(token, option))
        seen, unique = set(), []
        for name in out:
            if name not in seen:
                seen.add(name)
                unique.append(name)
        return unique

    def _resolve(self, token, option):
        if token in self._columns:
            return [token]
        if token in self.groups:
            return list(self.groups[token])
        if any(c in token for c in "*?"):
            hits = [n for n in self.names if fnmatch.fnmatchcase(n, token)]
            if not hits:
                raise ValueError(f"no column of {self.label} matches {token!r} ({option}); {self._listing()}")
            return hits
        try:
            k = int(token)
        except ValueError:
            pass
        else:
            if -len(self.names) <= k < len(self.names):
                return [self.names[k]]
            raise ValueError(f"column index {k} ({option}) is out of range: {self.label} has "
                             f"{len(self.names)} columns")
        start, sep, stop = token.partition(":")
        if sep and (start in self._columns or not start) and (stop in self._columns or not stop) \
                and (start or stop):  # a range of names, both ends included (like pandas .loc)
            i0 = self.names.index(start) if start else 0
            i1 = self.names.index(stop) if stop else len(self.names) - 1
            hits = self.names[i0:i1 + 1]
            if not hits:
                raise ValueError(f"column range {token!r} ({option}) selects no column of {self.label}")
            return hits
        m = _SLICE.match(token)
        if m:
            lo = int(m.group(1)) if m.group(1) else None
            hi = int(m.group(2)) if m.group(2) else None
            hits = self.names[lo:hi]
            if not hits:
                raise ValueError(f"column slice {token!r} ({option}) selects no column of {self.label}")
            return hits
        raise ValueError(f"unknown column {token!r} ({option}) in {self.label}; {self._listing()}")

    def _listing(self):
        shown = self.names[:20]
        more = f", ... ({len(self.names)} in all)" if len(self.names) > 20 else ""
        return "columns are: " + ", ".join(shown) + more

    # ---------------------------------------------------------------- values
    def column(self, name):
        """The raw values of one column (numeric or labels)."""
        return self._columns[name]

    def numeric(self, names):
        """The columns ``names`` as a float64 array of shape (n, len(names)).

        Raises ``ValueError`` for a non-numeric column, missing values, NaN or inf,
        or columns of different lengths.
        """
        cols = [self._numeric_column(n) for n in names]
        lengths = {len(c) for c in cols}
        if len(lengths) > 1:
            raise ValueError(f"columns {names} of {self.label} have different lengths {sorted(lengths)}")
        return np.column_stack(cols) if cols else np.empty((0, 0))

    def labels(self, names):
        """The columns ``names`` as they are (labels of any type), shape (n, len(names))."""
        cols = []
        for n in names:
            col = self._columns[n]
            if col.dtype.kind in "OUS":
                bad = np.flatnonzero([_is_missing(v) for v in col])
                if bad.size:
                    raise ValueError(f"column {n!r} of {self.label} has {bad.size} missing value(s) "
                                     f"(first on {self._where(int(bad[0]))})")
            elif col.dtype.kind == "f" and not np.isfinite(col).all():
                bad = np.flatnonzero(~np.isfinite(col))
                raise ValueError(f"column {n!r} of {self.label} has {bad.size} NaN or infinite value(s) "
                                 f"(first on {self._where(int(bad[0]))})")
            cols.append(col)
        lengths = {len(c) for c in cols}
        if len(lengths) > 1:
            raise ValueError(f"columns {names} of {self.label} have different lengths {sorted(lengths)}")
        return np.column_stack(cols) if len(cols) > 1 else cols[0][:, None]

    def _numeric_column(self, name):
        col = self._columns[name]
        if col.dtype.kind in "OUS":
            values = np.empty(len(col))
            for k, v in enumerate(col):
                if _is_missing(v):
                    values[k] = np.nan
                    continue
                try:
                    values[k] = float(v)
                except (TypeError, ValueError):
                    raise ValueError(f"column {name!r} of {self.label} is not numeric ({str(v)!r} on "
                                     f"{self._where(k)})") from None
            col = values
        elif col.dtype.kind == "b":
            col = col.astype(np.float64)
        elif col.dtype.kind not in "iuf":
            raise ValueError(f"column {name!r} of {self.label} is not numeric (dtype {col.dtype})")
        col = np.asarray(col, dtype=np.float64)
        bad = ~np.isfinite(col)
        if bad.any():
            idx = np.flatnonzero(bad)
            kind = "missing or NaN" if np.isnan(col[idx]).all() else "missing, NaN or infinite"
            raise ValueError(f"column {name!r} of {self.label} has {idx.size} {kind} value(s) "
                             f"(first on {self._where(int(idx[0]))})")
        return col


def _is_missing(v):
    if v is None:
        return True
    if isinstance(v, float):
        return v != v
    if isinstance(v, (str, bytes)):
        s = v.decode() if isinstance(v, bytes) else v
        return s.strip().lower() in _MISSING
    return False


# --------------------------------------------------------------------------- readers
def read_table(path):
    """Read a table of samples from ``path`` (format from the extension).

    CSV/TSV/TXT: delimited text with an optional header row (a first row that is
    not all numbers is the header; a leading '#' is allowed, as ``np.savetxt``
    writes it), delimiter guessed among ',', ';', tab and whitespace. NPY: a 1-D or
    2-D array (columns named '0', '1', ...) or a structured array (its field
    names). NPZ: 1-D arrays are columns named by their key; a 2-D array ``z`` gives
    columns ``z[0]``, ``z[1]``, ... selectable together as ``z``. Parquet: needs
    pyarrow.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a directory, not a data file")
    ext = os.path.splitext(path)[1].lower()
    if ext in (".csv", ".tsv", ".txt", ".dat"):
        return _read_text(path, delimiter="\t" if ext == ".tsv" else None)
    if ext == ".npy":
        return _read_npy(path)
    if ext == ".npz":
        return _read_npz(path)
    if ext in (".parquet", ".pq"):
        return _read_parquet(path)
    raise ValueError(f"unsupported file type {ext or '(no extension)'!r} for {path}; use " + ", ".join(FORMATS))


def _guess_delimiter(line):
    counts = {d: line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    if counts[best]:
        return best
    return " " if len(line.split()) > 1 else ","


def _is_number(s):
    try:
        float(s)
    except ValueError:
        return False
    return True


def _read_text(path, delimiter=None):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a UTF-8 text file; CSV input must be text") from None
    numbered = [(k + 1, ln) for k, ln in enumerate(text.splitlines()) if ln.strip()]
    if not numbered:
        raise ValueError(f"{path} is empty")
    header_line = None
    if numbered[0][1].lstrip().startswith("#"):  # np.savetxt(..., header=...) style
        header_line = numbered[0][1].lstrip()[1:].strip()
        numbered = numbered[1:]
    numbered = [(k, ln) for k, ln in numbered if not ln.lstrip().startswith("#")]
    if delimiter is None:
        delimiter = _guess_delimiter(header_line if header_line is not None else
                                     numbered[0][1] if numbered else "")

    def split(line):
        if delimiter == " ":
            return line.split()
        return next(csv.reader(io.StringIO(line), delimiter=delimiter, skipinitialspace=True), [])

    if header_line is not None:
        header, body = [h.strip() for h in split(header_line)], numbered
    elif not numbered:
        raise ValueError(f"{path} is empty")
    else:
        row0 = [h.strip() for h in split(numbered[0][1])]
        if all(_is_number(v) for v in row0 if v):  # a first row of numbers is data
            header, body = [str(k) for k in range(len(row0))], numbered
        else:
            header, body = row0, numbered[1:]
    if not body:
        raise ValueError(f"{path} has a header but no data rows")
    empty = [k for k, h in enumerate(header) if not h]
    if empty:  # a name of '' would silently become the column's index, which may be another column's name
        raise ValueError(f"{path}: the header row has an empty name for column {empty[0]} (0-based) of "
                         f"{len(header)}; name every column, or drop the header row to use 0, 1, ...")
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise ValueError(f"{path} has duplicate column names {dup}")
    rows, line_of = [], []
    if delimiter == " ":
        parsed = (ln.split() for _, ln in body)
    else:
        parsed = csv.reader(io.StringIO("\n".join(ln for _, ln in body)), delimiter=delimiter,
                            skipinitialspace=True)
    for (no, _), fields in zip(body, parsed):
        fields = [v.strip() for v in fields]
        if len(fields) != len(header):
            raise ValueError(f"{path} line {no} has {len(fields)} fields, expected {len(header)}")
        rows.append(fields)
        line_of.append(no)
    cols = {}
    for c, name in enumerate(header):
        raw = [r[c] for r in rows]
        try:
            cols[name] = np.array(raw, dtype=np.float64)
        except ValueError:
            cols[name] = np.array(raw, dtype=object)
    return Table(path, cols, where=lambda k: f"line {line_of[k]}")


def _array_columns(arr, prefix, path):
    """Columns of one stored array: {name: 1-D array}, and the group of names."""
    if arr.dtype.names:  # structured array
        if arr.ndim != 1:
            raise ValueError(f"{path}: structured array {prefix or ''} must be 1-D, got shape {arr.shape}")
        return {(f"{prefix}.{n}" if prefix else n): np.asarray(arr[n]) for n in arr.dtype.names}, None
    if arr.ndim == 0:
        raise ValueError(f"{path}: {prefix or 'the array'} is a scalar, not a column of samples")
    if arr.ndim == 1:
        return {prefix or "0": arr}, None
    if arr.ndim == 2:
        if prefix:
            cols = {f"{prefix}[{k}]": arr[:, k] for k in range(arr.shape[1])}
            return cols, list(cols)
        return {str(k): arr[:, k] for k in range(arr.shape[1])}, None
    raise ValueError(f"{path}: {prefix or 'the array'} has {arr.ndim} dimensions (shape {arr.shape}); "
                     "expected 1-D or 2-D (samples x columns)")


def _load_npy(path, **kw):
    try:
        return np.load(path, allow_pickle=False, **kw)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise ValueError(f"{path} holds Python objects; fastmi reads numeric or string arrays only "
                             "(no pickles)") from None
        raise ValueError(f"{path} is not a valid NumPy file: {exc}") from None
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path} is not a valid NumPy file: {exc}") from None


def _read_npy(path):
    arr = _load_npy(path)
    cols, _ = _array_columns(arr, None, path)
    return Table(path, cols, where=lambda k: f"row {k}")


def _read_npz(path):
    f = _load_npy(path)
    cols, groups = {}, {}
    try:
        for key in f.files:
            try:
                arr = f[key]
            except ValueError:
                raise ValueError(f"{path}: array {key!r} holds Python objects; fastmi reads numeric or string "
                                 "arrays only (no pickles)") from None
            c, g = _array_columns(arr, key, path)
            cols.update(c)
            if g:
                groups[key] = g
    finally:
        f.close()
    if not cols:
        raise ValueError(f"{path} holds no arrays")
    return Table(path, cols, groups=groups, where=lambda k: f"row {k}")


def _read_parquet(path):
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("reading Parquet files needs pyarrow: pip install pyarrow") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        raise ValueError(f"{path} could not be read as Parquet: {exc}") from None
    cols = {}
    for name, col in zip(table.column_names, table.columns):
        arr = col.to_numpy(zero_copy_only=False)
        if arr.dtype.kind not in "biuf" and arr.dtype != object:
            arr = arr.astype(object)
        cols[str(name)] = arr
    return Table(path, cols, where=lambda k: f"row {k}")
