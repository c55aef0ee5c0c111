"""Mutual-information matrices with error bars, run locally or on a Dask cluster,
and the disentanglement summaries computed from them (MIG, most informative factor)."""
from __future__ import annotations

import json
import math
import numbers
import time
import uuid
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np

from ._api import _CATEGORICAL, _MI_METHODS, mutual_info
from ._config import resolve_n_jobs
from ._progress import progress_bar
from ._result import _LN2, _jsonable
from ._validation import as_column, check_array, check_choice, check_int, check_labels, check_same_length

_CHEAP_METHODS = {"ksg", "ksg2", "mixed", "discrete", "gaussian"}
_MAX_PAIRS_PER_TASK = 256


# --------------------------------------------------------------------------- seeds
def _root_seed(rng):
    """The root ``SeedSequence`` of a matrix run (``np.random.default_rng`` inputs).

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


def _pair_seed(entropy, spawn_key, i, j):
    return np.random.SeedSequence(entropy, spawn_key=tuple(spawn_key) + (int(i), int(j)))


# --------------------------------------------------------------------------- inputs
def _column_names(obj, n_cols, prefix, names, what):
    if names is not None:
        names = [str(v) for v in names]
        if len(names) != n_cols:
            raise ValueError(f"{what} has {len(names)} names for {n_cols} columns")
    elif hasattr(obj, "columns"):  # pandas DataFrame
        names = [str(c) for c in obj.columns]
    elif getattr(obj, "name", None) is not None and n_cols == 1:  # pandas Series
        names = [str(obj.name)]
    else:
        names = [f"{prefix}{k}" for k in range(n_cols)]
    if len(set(names)) != len(names):
        dup = sorted({v for v in names if names.count(v) > 1})
        raise ValueError(f"{what} has duplicate column names {dup}")
    return names


def _as_labels(b, what):
    if hasattr(b, "to_numpy"):
        b = b.to_numpy()
    arr = np.asarray(b)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{what} must be 1-D or 2-D (samples x columns), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{what} is empty (shape {arr.shape})")
    return arr


def _prepare_inputs(a, b, method, y_type, a_names, b_names):
    a_labels = method == "discrete"
    b_labels = method == "discrete" or y_type == "categorical"
    A = _as_labels(a, "a") if a_labels else check_array(a, "a")
    names_a = _column_names(a, A.shape[1], "a" if b is not None else "x", a_names, "a")
    if b is None:
        if b_names is not None:
            raise ValueError("b_names given without b")
        if y_type == "categorical":
            raise ValueError("y_type='categorical' needs b (the categorical columns)")
        if A.shape[1] < 2:
            raise ValueError(f"a has {A.shape[1]} column; the all-pairs matrix (b=None) needs at least 2")
        B, names_b = None, names_a
    else:
        B = _as_labels(b, "b") if b_labels else check_array(b, "b")
        names_b = _column_names(b, B.shape[1], "b", b_names, "b")
        check_same_length(a=A, b=B)
    for arr, names, labels in ((A, names_a, a_labels), (B, names_b, b_labels)):
        if arr is not None and labels:
            for k, name in enumerate(names):
                check_labels(arr[:, k], f"column {name!r}", min_count=1)
    return A, B, names_a, names_b


# --------------------------------------------------------------------------- tasks
@dataclass
class _Data:
    """The arrays every task reads (scattered once to a Dask cluster)."""

    a: np.ndarray
    b: np.ndarray | None


@dataclass
class _Spec:
    """Everything a task needs besides the data: small, sent with every task."""

    method: str
    y_type: str
    unit: str
    n_jobs: int
    kwargs: dict
    entropy: object
    spawn_key: tuple
    names_a: list
    names_b: list
    on_error: str


def _run_pairs(data, pairs, spec):
    """Estimate the MI of each pair (i, j): column i of a against column j of b (or of a).

    Returns a list of ``(i, j, MIResult or None, error message or None)``.
    """
    other = data.a if data.b is None else data.b
    out = []
    for i, j in pairs:
        seed = _pair_seed(spec.entropy, spec.spawn_key, i, j)
        try:
            r = mutual_info(data.a[:, i], other[:, j], method=spec.method, y_type=spec.y_type, rng=seed,
                            unit=spec.unit, n_jobs=spec.n_jobs, **spec.kwargs)
        except Exception as exc:
            where = f"pair ({spec.names_a[i]!r}, {spec.names_b[j]!r})"
            if spec.on_error == "raise":
                if exc.args and isinstance(exc.args[0], str):
                    exc.args = (f"{where}: {exc.args[0]}",) + exc.args[1:]
                raise
            out.append((i, j, None, f"{where}: {type(exc).__name__}: {exc}"))
            continue
        out.append((i, j, r, None))
    return out


_PROCESS_DATA = None


def _set_process_data(data):
    global _PROCESS_DATA
    _PROCESS_DATA = data


def _run_pairs_in_process(pairs, spec):
    return _run_pairs(_PROCESS_DATA, pairs, spec)


def _chunks(items, size):
    return [items[k:k + size] for k in range(0, len(items), size)]


def _run_local(data, tasks, spec, n_workers, executor):
    """Run the tasks on local threads or processes; yields each task's output as it finishes."""
    if n_workers == 1:
        for t in tasks:
            yield _run_pairs(data, t, spec)
        return
    if executor == "threads":
        pool = ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="fastmi-matrix")
        submit = lambda t: pool.submit(_run_pairs, data, t, spec)  # noqa: E731
    else:
        import multiprocessing

        # spawn, not fork: forking a process whose OpenMP/Numba threads are running can deadlock
        pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_set_process_data, initargs=(data,))
        submit = lambda t: pool.submit(_run_pairs_in_process, t, spec)  # noqa: E731
    try:
        pending = {submit(t) for t in tasks}
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for fut in done:
                yield fut.result()  # re-raises a task's exception
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(client, data, tasks, spec):
    """Run the tasks on a ``dask.distributed`` client: the data are scattered once and
    every task depends on that one future; yields each task's output as it finishes."""
    try:
        from distributed import as_completed
    except ImportError:  # pragma: no cover - a Client exists, so distributed does
        raise ImportError("client= needs dask.distributed: pip install 'fastmi[dask]'") from None
    data_future = client.scatter(data, broadcast=False, hash=False)
    token = uuid.uuid4().hex[:12]
    futures = [client.submit(_run_pairs, data_future, t, spec, key=f"fastmi-mi-{token}-{k}", pure=False)
               for k, t in enumerate(tasks)]
    try:
        for fut in as_completed(futures):
            yield fut.result()  # re-raises a task's exception here
    finally:
        client.cancel(futures)
        client.cancel([data_future])


def _dask_threads(client):
    try:
        return max(1, int(sum(client.nthreads().values())))
    except Exception:  # pragma: no cover - unusual client objects
        return 1


# --------------------------------------------------------------------------- public entry point
def mi_matrix(a, b=None, *, method="gmm", y_type="continuous", rng=None, unit="nat", n_jobs=None, client=None,
              progress=None, executor="threads", pairs_per_task=None, on_error="raise", a_names=None,
              b_names=None, **kwargs):
    """Mutual information between every column of ``a`` and every column of ``b``.

    With ``b=None`` the matrix holds the MI between all pairs of columns of ``a``;
    it is symmetric, each unordered pair is estimated once, and the diagonal is NaN.
    Every entry is a full :class:`MIResult` (estimate, std, replicates).

    Parameters
    ----------
    a : array-like of shape (n_samples, p)
        Columns, e.g. the latent variables of a representation. A pandas DataFrame
        gives its column names to the matrix.
    b : array-like of shape (n_samples, q), optional
        Second set of columns, e.g. the physical parameters (the factors).
    method : {'gmm', 'ksg', 'ksg2', 'mixed', 'discrete', 'gaussian'}, default='gmm'
        Estimator for every pair, as in :func:`fastmi.mutual_info`.
    y_type : {'continuous', 'categorical'}, default='continuous'
        With 'categorical', the columns of ``b`` are class labels (any type).
    rng : None, int, SeedSequence or Generator
        Root of all randomness. Entry (i, j) is estimated with
        ``SeedSequence(root.entropy, spawn_key=root.spawn_key + (i, j))`` where the
        root is ``SeedSequence(rng)`` for an int, ``rng`` itself for a SeedSequence,
        and 128 bits drawn from ``rng`` for a Generator. :meth:`MIMatrix.pair_seed`
        returns it: ``fastmi.mutual_info(a[:, i], b[:, j], rng=m.pair_seed(i, j), ...)``
        reproduces entry (i, j) exactly. With ``b=None``, the pair (i, j), i < j,
        fills both (i, j) and (j, i).
    unit : {'nat', 'bit'}, default='nat'
    n_jobs : int or None, default=None
        Without ``client``: the number of local workers (None or -1: every core).
        Pairs run in parallel; when there are fewer tasks than workers, the spare
        cores go to the threads inside each estimate. With ``client``: the threads
        each task uses on its worker (default 1; the cluster's worker threads run
        the tasks in parallel; -1: all the worker machine's cores).
    client : dask.distributed.Client, optional
        Run on a Dask cluster (a ``LocalCluster``, or an HPC cluster started with
        dask-jobqueue). The data are scattered once; every task reads that copy.
    progress : bool or None, default=None
        Show a tqdm progress bar over the pairs: None shows it only when standard
        error is a terminal. Without tqdm there is no bar, and no error.
    executor : {'threads', 'processes'}, default='threads'
        Local workers (ignored with ``client``). The estimators' kernels release
        the GIL, so threads are the cheap default; processes are started with
        'spawn' and receive the data once each.
    pairs_per_task : int, optional
        Pairs estimated by one task. The default is 1 for 'gmm' (a pair is seconds
        of work) and, for the cheaper estimators, enough pairs per task to make
        about four tasks per worker thread present when the call starts (at most
        256), so that scheduling overhead stays small; on an adaptive cluster that
        is still scaling up, set it explicitly.
    on_error : {'raise', 'nan'}, default='raise'
        'raise' stops at the first failing pair and raises its exception, prefixed
        with the pair's names; 'nan' stores NaN for it and records the message in
        ``diagnostics['errors']``.
    a_names, b_names : sequence of str, optional
        Column names (default: the DataFrame's, else 'a0', 'a1', ... and 'b0', ...;
        'x0', 'x1', ... when ``b`` is None).
    **kwargs
        Passed to the estimator of every pair (``n_bootstrap``, ``mc_samples``,
        ``k``, ...), whose defaults apply: GMM-MI bootstraps 50 replicates, while
        the nearest-neighbour, discrete and Gaussian estimators give a point
        estimate without a std unless ``n_bootstrap`` is set.

    Returns
    -------
    MIMatrix

    Notes
    -----
    The numbers do not depend on the schedule: every pair's random stream is
    addressed by the pair, each estimator's results do not depend on its thread
    count, and the results are placed by index, not by completion order. A local
    run and a Dask run with the same ``rng`` agree bit for bit (on workers with the
    same CPU type and library versions).

    Examples
    --------
    >>> import numpy as np, fastmi
    >>> rng = np.random.default_rng(0)
    >>> v = rng.standard_normal((2000, 2))                       # two factors
    >>> z = np.column_stack([v[:, 0] + 0.3 * rng.standard_normal(2000), rng.standard_normal(2000)])
    >>> m = fastmi.mi_matrix(z, v, method="gaussian", n_bootstrap=10, rng=0)
    >>> m.values.shape
    (2, 2)
    """
    t0 = time.perf_counter()
    check_choice(method, "method", set(_MI_METHODS))
    check_choice(y_type, "y_type", {"continuous", "categorical"})
    if y_type == "categorical" and method not in _CATEGORICAL:
        raise ValueError(f"y_type='categorical' is supported by methods {sorted(_CATEGORICAL)}, not {method!r}")
    check_choice(unit, "unit", {"nat", "bit"})
    check_choice(executor, "executor", {"threads", "processes"})
    check_choice(on_error, "on_error", {"raise", "nan"})
    if progress is not None and not isinstance(progress, bool):
        raise ValueError(f"progress must be True, False or None, got {progress!r}")
    pairs_per_task = check_int(pairs_per_task, "pairs_per_task", low=1, allow_none=True)
    root = _root_seed(rng)
    A, B, names_a, names_b = _prepare_inputs(a, b, method, y_type, a_names, b_names)
    p = A.shape[1]
    q = p if B is None else B.shape[1]
    symmetric = B is None
    pairs = [(i, j) for i in range(p) for j in (range(i + 1, p) if symmetric else range(q))]

    if client is None:
        total = resolve_n_jobs(n_jobs)
    else:
        total = _dask_threads(client)
    if pairs_per_task is None:
        pairs_per_task = 1 if method not in _CHEAP_METHODS else \
            max(1, min(_MAX_PAIRS_PER_TASK, len(pairs) // (4 * total)))
    tasks = _chunks(pairs, pairs_per_task)
    if client is None:
        n_workers = min(total, len(tasks))
        inner = max(1, total // n_workers)
        scheduler = "serial" if n_workers == 1 else executor
    else:
        n_workers = total
        if n_jobs is not None:
            resolve_n_jobs(n_jobs)  # validate here; -1 is resolved on each worker, to its own cores
        inner = 1 if n_jobs is None else n_jobs
        scheduler = "dask"
    spec = _Spec(method=method, y_type=y_type, unit=unit, n_jobs=inner, kwargs=dict(kwargs),
                 entropy=root.entropy, spawn_key=tuple(root.spawn_key), names_a=names_a, names_b=names_b,
                 on_error=on_error)
    data = _Data(A, B)

    results = np.empty((p, q), dtype=object)
    errors = {}
    bar = progress_bar(len(pairs), progress, desc=f"MI matrix ({method})", unit="pair")
    try:
        stream = (_run_dask(client, data, tasks, spec) if client is not None
                  else _run_local(data, tasks, spec, n_workers, executor))
        for out in stream:
            for i, j, r, err in out:
                if err is not None:
                    errors[(names_a[i], names_b[j])] = err
                results[i, j] = r
                if symmetric:
                    results[j, i] = r
            bar.update(len(out))
    finally:
        bar.close()

    diagnostics = {"scheduler": scheduler, "n_workers": n_workers, "n_jobs_per_task": inner,
                   "n_pairs": len(pairs), "n_tasks": len(tasks), "pairs_per_task": pairs_per_task,
                   "seconds": time.perf_counter() - t0}
    if errors:
        diagnostics["errors"] = {f"{k[0]}|{k[1]}": v for k, v in errors.items()}
    return MIMatrix(results=results, row_names=names_a, col_names=names_b, symmetric=symmetric, unit=unit,
                    method=method, seed_entropy=root.entropy, seed_spawn_key=tuple(root.spawn_key),
                    estimator_params=_jsonable(dict(kwargs)), diagnostics=diagnostics)


# --------------------------------------------------------------------------- result
@dataclass(eq=False)
class MIMatrix:
    """A matrix of mutual-information estimates with error bars.

    Entry (i, j) is the MI between row variable i (a column of ``a``) and column
    variable j (a column of ``b``, or of ``a`` for the symmetric all-pairs matrix).

    Attributes
    ----------
    values : ndarray of shape (p, q)
        The estimates (NaN on the diagonal of a symmetric matrix and for failed pairs).
    stds : ndarray of shape (p, q)
        Their standard deviations.
    results : ndarray of object, shape (p, q)
        The full :class:`MIResult` of every entry (None where there is none).
    row_names, col_names : list of str
    symmetric : bool
        True for the all-pairs matrix of one set of columns.
    unit : {'nat', 'bit'}
    method : str
    seed_entropy, seed_spawn_key
        The root seed: entry (i, j) used ``pair_seed(i, j)``.
    estimator_params : dict
        Keyword arguments every estimate received.
    diagnostics : dict
        Scheduler, worker and task counts, wall time, and failed pairs.
    """

    results: np.ndarray
    row_names: list
    col_names: list
    symmetric: bool = False
    unit: str = "nat"
    method: str = "gmm"
    seed_entropy: object = None
    seed_spawn_key: tuple = ()
    estimator_params: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)

    def __post_init__(self):
        res = self.results
        self.values = np.array([[np.nan if r is None else r.mi for r in row] for row in res], dtype=np.float64)
        self.stds = np.array([[np.nan if r is None else r.std for r in row] for row in res], dtype=np.float64)
        self.values = self.values.reshape(res.shape)
        self.stds = self.stds.reshape(res.shape)

    # ---------------------------------------------------------------- access
    @property
    def shape(self):
        return self.values.shape

    def _index(self, key, names, what):
        if isinstance(key, (numbers.Integral,)) and not isinstance(key, bool):
            k = int(key)
            if not -len(names) <= k < len(names):
                raise IndexError(f"{what} index {k} out of range for {len(names)} {what}s")
            return k % len(names)
        try:
            return names.index(str(key))
        except ValueError:
            raise KeyError(f"unknown {what} {key!r}; {what}s are {names}") from None

    def __getitem__(self, key):
        """The :class:`MIResult` of entry ``(row, col)``, by index or by name."""
        if not (isinstance(key, tuple) and len(key) == 2):
            raise KeyError("index an MIMatrix with (row, col)")
        i = self._index(key[0], self.row_names, "row")
        j = self._index(key[1], self.col_names, "column")
        return self.results[i, j]

    @property
    def samples(self):
        """Replicates of every entry, shape (p, q, n_replicates), NaN-padded where an
        entry has fewer (failed bootstrap fits) or none."""
        n_rep = max((r.samples.size for r in self.results.flat if r is not None), default=0)
        out = np.full(self.shape + (n_rep,), np.nan)
        for (i, j), r in np.ndenumerate(self.results):
            if r is not None:
                out[i, j, :r.samples.size] = r.samples
        return out

    def pair_seed(self, i, j):
        """The ``SeedSequence`` entry (i, j) was estimated with."""
        i = self._index(i, self.row_names, "row")
        j = self._index(j, self.col_names, "column")
        if self.symmetric and i > j:
            i, j = j, i
        return _pair_seed(self.seed_entropy, self.seed_spawn_key, i, j)

    def ci(self, level=0.95, method="percentile"):
        """Lower and upper confidence bounds of every entry (NaN where undefined),
        as :meth:`MIResult.ci`."""
        lo, hi = np.full(self.shape, np.nan), np.full(self.shape, np.nan)
        for (i, j), r in np.ndenumerate(self.results):
            if r is not None and r.samples.size >= 2:
                lo[i, j], hi[i, j] = r.ci(level, method)
        return lo, hi

    def _pairs(self):
        """(i, j) of every estimated pair, once per unordered pair when symmetric."""
        p, q = self.shape
        return [(i, j) for i in range(p) for j in range(q) if not (self.symmetric and j <= i)]

    def to(self, unit):
        """The same matrix in ``unit`` ('nat' or 'bit')."""
        check_choice(unit, "unit", {"nat", "bit"})
        res = np.empty(self.shape, dtype=object)
        for (i, j), r in np.ndenumerate(self.results):
            res[i, j] = None if r is None else r.to(unit)
        return MIMatrix(res, list(self.row_names), list(self.col_names), self.symmetric, unit, self.method,
                        self.seed_entropy, self.seed_spawn_key, dict(self.estimator_params),
                        dict(self.diagnostics))

    # ---------------------------------------------------------------- summaries
    def most_informative(self):
        """For every row variable (latent), the column variable (parameter) it knows most about.

        Returns
        -------
        list of dict
            One dict per row with keys ``row``, ``col`` (the most informative column),
            ``mi``, ``std``, ``runner_up``, ``runner_up_mi``, ``gap`` (mi minus the
            runner-up's) and ``gap_std`` (the two stds added in quadrature; the
            entries are independent estimates). NaN entries are skipped; ``col`` is
            None for a row without any estimate.
        """
        out = []
        for i, name in enumerate(self.row_names):
            v = self.values[i]
            order = [int(k) for k in np.argsort(-np.where(np.isnan(v), -np.inf, v), kind="stable")
                     if not np.isnan(v[k])]
            rec = {"row": name, "col": None, "mi": math.nan, "std": math.nan, "runner_up": None,
                   "runner_up_mi": math.nan, "gap": math.nan, "gap_std": math.nan}
            if order:
                j = order[0]
                rec.update(col=self.col_names[j], mi=float(v[j]), std=float(self.stds[i, j]))
                if len(order) > 1:
                    k = order[1]
                    rec.update(runner_up=self.col_names[k], runner_up_mi=float(v[k]), gap=float(v[j] - v[k]),
                               gap_std=float(math.hypot(self.stds[i, j], self.stds[i, k])))
            out.append(rec)
        return out

    def mig(self, factors=None, **kwargs):
        """The Mutual Information Gap of this latents x factors matrix; see :func:`fastmi.mig`."""
        return mig(self, factors, **kwargs)

    # ---------------------------------------------------------------- export
    def to_pandas(self, kind="long"):
        """The matrix as a pandas DataFrame.

        Parameters
        ----------
        kind : {'long', 'mi', 'std'}, default='long'
            'long': one row per estimated pair (each unordered pair once when
            symmetric) with columns ``a``, ``b``, ``mi``, ``std``, ``ci_low``,
            ``ci_high`` (95 % percentile interval) and ``n_replicates``.
            'mi' / 'std': the values / stds as a table indexed by the row names,
            with the column names as columns.
        """
        check_choice(kind, "kind", {"long", "mi", "std"})
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas() needs pandas: pip install pandas") from None
        if kind != "long":
            data = self.values if kind == "mi" else self.stds
            return pd.DataFrame(data, index=pd.Index(self.row_names, name="a"),
                                columns=pd.Index(self.col_names, name="b"))
        return pd.DataFrame(self._long_rows(), columns=_LONG_COLUMNS)

    def _long_rows(self):
        lo, hi = self.ci(0.95)
        rows = []
        for i, j in self._pairs():
            r = self.results[i, j]
            rows.append((self.row_names[i], self.col_names[j], float(self.values[i, j]), float(self.stds[i, j]),
                         float(lo[i, j]), float(hi[i, j]), 0 if r is None else int(r.samples.size)))
        return rows

    def to_csv(self, path):
        """Write the long table of :meth:`to_pandas` to a CSV file (pandas not needed).
        Floats are written at full precision; missing values are empty."""
        import csv

        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(_LONG_COLUMNS)
            for row in self._long_rows():
                w.writerow(["" if isinstance(v, float) and math.isnan(v) else
                            (repr(v) if isinstance(v, float) else v) for v in row])

    def to_xarray(self):
        """The matrix as an ``xarray.Dataset`` with variables ``mi``, ``std`` (dims a, b)
        and ``samples`` (dims a, b, replicate; NaN-padded). Needs xarray."""
        try:
            import xarray as xr
        except ImportError:
            raise ImportError("to_xarray() needs xarray: pip install xarray") from None
        coords = {"a": list(self.row_names), "b": list(self.col_names)}
        samples = self.samples
        attrs = {"unit": self.unit, "method": self.method, "symmetric": int(self.symmetric),
                 "estimator_params": json.dumps(self.estimator_params)}
        return xr.Dataset({"mi": (("a", "b"), self.values), "std": (("a", "b"), self.stds),
                           "samples": (("a", "b", "replicate"), samples)},
                          coords={**coords, "replicate": np.arange(samples.shape[2])}, attrs=attrs)

    def to_dict(self, *, diagnostics=False):
        """A JSON-serialisable dict: names, values, stds, every entry's replicates
        (and each entry's diagnostics with ``diagnostics=True``)."""
        entries = []
        for i, j in self._pairs():
            r = self.results[i, j]
            e = {"a": self.row_names[i], "b": self.col_names[j]}
            if r is None:
                e.update(mi=None, std=None, samples=[])
            else:
                d = r.to_dict()
                if not diagnostics:
                    d.pop("diagnostics")
                e.update(d)
            entries.append(e)
        return _jsonable({
            "rows": list(self.row_names), "cols": list(self.col_names), "symmetric": self.symmetric,
            "unit": self.unit, "method": self.method, "values": self.values, "stds": self.stds,
            "seed_entropy": self.seed_entropy, "seed_spawn_key": list(self.seed_spawn_key),
            "estimator_params": self.estimator_params, "entries": entries, "diagnostics": self.diagnostics,
        })

    def to_json(self, **kwargs):
        """The matrix as a JSON string (see :meth:`to_dict`); NaN becomes null."""
        diagnostics = kwargs.pop("diagnostics", False)
        return json.dumps(self.to_dict(diagnostics=diagnostics), **kwargs)

    def plot(self, ax=None, **kwargs):
        """Heatmap with ± annotations; see :func:`fastmi.plot_mi_matrix`."""
        from ._plot import plot_mi_matrix

        return plot_mi_matrix(self, ax=ax, **kwargs)

    def __repr__(self):
        p, q = self.shape
        kind = "symmetric " if self.symmetric else ""
        return (f"MIMatrix({p}x{q} {kind}{self.method}, unit={self.unit!r}, rows={self.row_names}, "
                f"cols={self.col_names})")


_LONG_COLUMNS = ["a", "b", "mi", "std", "ci_low", "ci_high", "n_replicates"]


# --------------------------------------------------------------------------- MIG
def factor_entropy(v, *, bins=20, discrete="auto", unit="nat"):
    """Entropy of a factor, as used to normalise the MIG.

    Parameters
    ----------
    v : array-like of shape (n_samples,)
        Samples of the factor.
    bins : int, default=20
        Continuous factors are discretised into this many equal-width bins over
        their range (the choice of Locatello et al.'s disentanglement_lib).
    discrete : {'auto', True, False}, default='auto'
        True: the empirical (plug-in) entropy of the factor's values. False: the
        plug-in entropy of its ``bins``-bin histogram. 'auto': discrete when the
        factor takes at most ``bins`` distinct values.
    unit : {'nat', 'bit'}

    Returns
    -------
    float
    """
    check_int(bins, "bins", low=2)
    check_choice(unit, "unit", {"nat", "bit"})
    if discrete not in ("auto", True, False):
        raise ValueError(f"discrete must be 'auto', True or False, got {discrete!r}")
    arr = as_column(v, "a factor")
    if arr.dtype.kind in "biuf":
        if not np.isfinite(arr).all():
            raise ValueError("factor contains NaN or infinite values")
        values, counts = np.unique(arr, return_counts=True)
        if discrete is False or (discrete == "auto" and values.size > bins):
            counts, _ = np.histogram(arr.astype(np.float64), bins=bins)
    else:  # labels of any type: always discrete
        if discrete is False:
            raise ValueError("a non-numeric factor cannot be binned; use discrete=True or 'auto'")
        _, _, counts = check_labels(arr, "factor", min_count=1)
    p = counts[counts > 0] / counts.sum()
    h = float(-(p * np.log(p)).sum())
    return h / _LN2 if unit == "bit" else h


@dataclass
class MIGResult:
    """The Mutual Information Gap and its ingredients.

    Attributes
    ----------
    mig : float
        Mean over factors of the normalised gap.
    std : float
        Standard deviation of ``samples`` (NaN without replicates).
    gaps : ndarray of shape (n_factors,)
        (I(z_top; v_k) - I(z_second; v_k)) / H(v_k) for each factor k.
    top, second : list of str
        The most and second most informative latent of each factor.
    entropies : ndarray of shape (n_factors,)
        H(v_k), in ``unit``.
    factor_names : list of str
    samples : ndarray
        MIG recomputed from the r-th replicate of every entry, for each r present in
        all entries. The entries are bootstrapped independently, so this propagates
        their uncertainty but ignores correlations between entries.
    unit : str
    """

    mig: float
    std: float
    gaps: np.ndarray
    top: list
    second: list
    entropies: np.ndarray
    factor_names: list
    samples: np.ndarray
    unit: str = "nat"

    def to_dict(self):
        return _jsonable({"mig": self.mig, "std": self.std, "gaps": self.gaps, "top": self.top,
                          "second": self.second, "entropies": self.entropies, "factors": self.factor_names,
                          "samples": self.samples, "unit": self.unit})

    def __float__(self):
        return self.mig

    def __repr__(self):
        return f"MIGResult(mig={self.mig:.4g} ± {self.std:.2g}, factors={self.factor_names})"


def _gaps(values, entropies):
    """Per-factor normalised gaps of a (latents x factors) array."""
    srt = -np.sort(-values, axis=0)
    return (srt[0] - srt[1]) / entropies


def mig(m, factors=None, *, entropies=None, bins=20, discrete="auto"):
    """Mutual Information Gap (Chen et al. 2018) of a latents x factors MI matrix.

    For each factor v_k, the latents are sorted by I(z_j; v_k); the gap is the
    difference between the largest and the second largest, divided by the factor's
    entropy H(v_k); the MIG is the mean of the gaps over the factors. It is 1 when
    every factor is captured entirely by one latent and nothing by the others, and
    0 when the top two latents know equally much.

    Parameters
    ----------
    m : MIMatrix or array-like of shape (n_latents, n_factors)
        Rows are the latents, columns the factors (``mi_matrix(latents, factors)``).
        A plain array is taken in the unit of ``entropies``.
    factors : array-like of shape (n_samples, n_factors), optional
        Samples of the factors, from which H(v_k) is computed by
        :func:`factor_entropy` (``bins``, ``discrete``).
    entropies : array-like of shape (n_factors,), optional
        H(v_k) given directly, in the matrix's unit. Exactly one of ``factors`` and
        ``entropies`` is required.
    bins : int, default=20
        Bins for continuous factors (see Notes).
    discrete : {'auto', True, False}, default='auto'
        See :func:`factor_entropy`.

    Returns
    -------
    MIGResult

    Notes
    -----
    Chen et al. define the MIG for discrete factors, normalised by their entropy:
    this is what ``factors`` computes for a discrete factor (at most ``bins``
    distinct values by default). A continuous factor has no finite discrete entropy;
    it is normalised by the entropy of its ``bins``-bin equal-width histogram
    (disentanglement_lib's convention, 20 bins), which grows like log(bins). The MI
    in the numerator is the estimator's continuous MI, not a binned one, so for a
    continuous factor a gap can exceed 1 when a latent resolves the factor finer
    than the bins do; pass ``entropies`` to normalise by another value. Compare MIG
    values only at the same normalisation.

    References
    ----------
    .. [1] R. T. Q. Chen, X. Li, R. Grosse and D. Duvenaud, "Isolating sources of
       disentanglement in variational autoencoders", NeurIPS 2018.
    """
    if isinstance(m, MIMatrix):
        if m.symmetric:
            raise ValueError("the MIG needs a latents x factors matrix (mi_matrix(latents, factors)), "
                             "not the symmetric all-pairs matrix")
        values, unit, names, samples = m.values, m.unit, list(m.col_names), m.samples
        latent_names = list(m.row_names)
    else:
        values = np.asarray(m, dtype=np.float64)
        if values.ndim != 2:
            raise ValueError(f"m must be an MIMatrix or a 2-D array (latents x factors), got shape {values.shape}")
        unit, names, samples = "nat", [f"b{k}" for k in range(values.shape[1])], None
        latent_names = [f"a{k}" for k in range(values.shape[0])]
    n_lat, n_fac = values.shape
    if n_lat < 2:
        raise ValueError(f"the MIG needs at least 2 latents (rows), got {n_lat}")
    if np.isnan(values).any():
        raise ValueError("the matrix has NaN entries (failed pairs); the MIG is undefined")
    if (factors is None) == (entropies is None):
        raise ValueError("pass exactly one of factors= (samples, to compute their entropies) and entropies=")
    if entropies is not None:
        h = np.asarray(entropies, dtype=np.float64).ravel()
        if h.size != n_fac:
            raise ValueError(f"entropies has {h.size} values for {n_fac} factors")
    else:
        if hasattr(factors, "to_numpy"):
            fac = factors.to_numpy()
        else:
            fac = np.asarray(factors)
        if fac.ndim == 1:
            fac = fac[:, None]
        if fac.ndim != 2 or fac.shape[1] != n_fac:
            raise ValueError(f"factors must have shape (n_samples, {n_fac}), got {fac.shape}")
        h = np.array([factor_entropy(fac[:, k], bins=bins, discrete=discrete, unit=unit) for k in range(n_fac)])
    if not (np.isfinite(h).all() and (h > 0).all()):
        raise ValueError(f"factor entropies must be positive and finite, got {h.tolist()}")
    gaps = _gaps(values, h)
    order = np.argsort(-values, axis=0, kind="stable")
    rep = np.empty(0)
    if samples is not None and samples.shape[2] > 0:
        complete = ~np.isnan(samples).any(axis=(0, 1))
        s = samples[:, :, complete]
        if s.shape[2] > 0:
            rep = np.array([_gaps(s[:, :, r], h).mean() for r in range(s.shape[2])])
    std = float(rep.std(ddof=1)) if rep.size > 1 else math.nan
    return MIGResult(mig=float(gaps.mean()), std=std, gaps=gaps, top=[latent_names[k] for k in order[0]],
                     second=[latent_names[k] for k in order[1]], entropies=h, factor_names=names, samples=rep,
                     unit=unit)
