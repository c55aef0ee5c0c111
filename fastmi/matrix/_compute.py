"""Mutual-information matrices: inputs, seeding and scheduling of the pair estimates on
local threads or processes, or on a Dask cluster. The result container is in ``_container``."""
from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

from .. import _registry
from .._api import mutual_info
from .._config import resolve_n_jobs
from .._progress import progress_bar
from .._result import _jsonable
from .._streams import pair_seed, root_seed
from .._validation import check_array, check_choice, check_int, check_labels, check_same_length, check_unit
from .._permutation import check_n_permutations, test_statistic
from ._checkpoint import Checkpoint, fingerprint
from ._container import MIMatrix

_MAX_PAIRS_PER_TASK = 256


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
    """Validated arrays and names; ``method`` is the registry entry."""
    a_labels = method.data == "discrete"
    b_labels = a_labels or y_type == "categorical"
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
    n_permutations: int = 0


def _run_pairs(data, pairs, spec, stop=None):
    """Estimate the MI of each pair (i, j): column i of a against column j of b (or of a).

    Returns a list of ``(i, j, MIResult or None, error message or None)``. With ``stop`` (a
    ``threading.Event``, local threads only), the task returns early once it is set.
    """
    other = data.a if data.b is None else data.b
    out = []
    for i, j in pairs:
        if stop is not None and stop.is_set():
            break
        seed = pair_seed(spec.entropy, spec.spawn_key, i, j)
        try:
            r = mutual_info(data.a[:, i], other[:, j], method=spec.method, y_type=spec.y_type, rng=seed,
                            unit=spec.unit, n_jobs=spec.n_jobs, **spec.kwargs)
            if spec.n_permutations:
                pvalue, null, _, about = test_statistic(
                    r, seed, data.a[:, i], other[:, j], None, method=spec.method, y_type=spec.y_type, unit=spec.unit,
                    kwargs=spec.kwargs, root=seed, n_permutations=spec.n_permutations, n_jobs=spec.n_jobs,
                    strata=None)
                r.diagnostics["permutation"] = {"pvalue": pvalue, "n_permutations": spec.n_permutations,
                                                "null_mean": float(null.mean()), "null_std": float(null.std(ddof=1))
                                                if null.size > 1 else float("nan"), "scheme": "rows of x permuted"}
                if about is not None:
                    r.diagnostics["permutation"]["test_statistic"] = about
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
    stop = None
    if executor == "threads":
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="fastmi-matrix")
        submit = lambda t: pool.submit(_run_pairs, data, t, spec, stop)  # noqa: E731
    else:
        import multiprocessing

        # spawn, not fork: forking a process whose OpenMP/Numba threads are running can deadlock
        pool = ProcessPoolExecutor(max_workers=n_workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_set_process_data, initargs=(data,))
        submit = lambda t: pool.submit(_run_pairs_in_process, t, spec)  # noqa: E731
    try:
        futures = [submit(t) for t in tasks]
        order = {fut: k for k, fut in enumerate(futures)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=order.get):
                if fut.exception() is not None:
                    # the pool runs tasks in order, so the earlier ones are running or done: the
                    # error raised is the first in task order, whatever the timing
                    wait(futures[:order[fut]])
                    raise next(f.exception() for f in futures if f.done() and f.exception() is not None)
                yield fut.result()
    finally:
        # on an error, Ctrl-C or an abandoned stream: drop the queued tasks, let the running ones
        # stop after their current pair, and join the workers (none is left behind)
        if stop is not None:
            stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(client, data, tasks, spec, max_rounds=4):
    """Run the tasks on a ``dask.distributed`` client: the data are scattered once and
    every task depends on that one future; yields each task's output as it finishes.

    A worker lost mid-run costs nothing: Dask reruns its tasks elsewhere, the data are
    scattered to every worker (a surviving copy serves the restarted one), and tasks
    cancelled because every copy was lost are resubmitted on freshly scattered data
    (up to ``max_rounds`` times). Each task's output is yielded exactly once.
    """
    try:
        from distributed import as_completed
        from distributed import wait as dask_wait
    except ImportError:  # pragma: no cover - a Client exists, so distributed does
        raise ImportError("client= needs dask.distributed: pip install 'fastmi[dask]'") from None
    remaining = dict(enumerate(tasks))
    for attempt in range(max_rounds):
        data_future = client.scatter(data, broadcast=True, hash=False)
        token = uuid.uuid4().hex[:12]
        index = sorted(remaining)
        futures = [client.submit(_run_pairs, data_future, remaining[k], spec, key=f"fastmi-mi-{token}-{k}",
                                 pure=False) for k in index]
        order = {fut.key: n for n, fut in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                k = index[order[fut.key]]
                if fut.status == "cancelled" or k not in remaining:
                    continue  # lost with its data (resubmitted below), or already yielded
                if fut.status == "error":  # raise the first failure in task order, whatever the timing
                    dask_wait(futures[:order[fut.key]])
                    next(f for f in futures if f.status == "error").result()
                out = fut.result()
                del remaining[k]
                yield out
        finally:
            client.cancel(futures)
            client.cancel([data_future])
        if not remaining:
            return
    raise RuntimeError(f"{len(remaining)} MI-matrix tasks were lost with their workers {max_rounds} times; "
                       "giving up")


def _chain_first(first, stream):
    """``first`` (when not empty), then every item of ``stream``."""
    if first:
        yield first
    yield from stream


def _dask_threads(client):
    try:
        return max(1, int(sum(client.nthreads().values())))
    except Exception:  # pragma: no cover - unusual client objects
        return 1


# --------------------------------------------------------------------------- public entry point
def mi_matrix(a, b=None, *, method="gmm", y_type="continuous", rng=None, unit="nat", n_jobs=None, client=None,
              progress=None, executor="threads", pairs_per_task=None, on_error="raise", a_names=None,
              b_names=None, checkpoint=None, n_permutations=None, **kwargs):
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
    method : str, default='gmm'
        Estimator for every pair, any of :func:`fastmi.list_methods`, as in
        :func:`fastmi.mutual_info`.
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
        'raise' stops at the first failing pair (in pair order, whatever the
        schedule) and raises its exception, prefixed with the pair's names;
        'nan' stores NaN for it and records the message in
        ``diagnostics['errors']``.
    a_names, b_names : sequence of str, optional
        Column names (default: the DataFrame's, else 'a0', 'a1', ... and 'b0', ...;
        'x0', 'x1', ... when ``b`` is None).
    checkpoint : str or path-like, optional
        A file that records every finished entry durably as it completes (JSON
        lines, fsynced; see ``fastmi.matrix._checkpoint``). When the file exists,
        its entries are taken as they are and only the missing ones are computed:
        rerunning an interrupted call with the same arguments returns the matrix of
        an uninterrupted run, bit for bit. The file records a fingerprint of the run
        (hashes of ``a`` and ``b``, method, y_type, unit, ``**kwargs``, root seed,
        names) and a checkpoint of another run is refused with a ValueError that
        names what differs. With ``rng=None`` the fresh root seed is recorded, and a
        rerun with the same checkpoint continues with it. Pairs that failed under
        ``on_error='nan'`` are recorded and not retried (the same seed fails the same
        way); under ``on_error='raise'`` they are recomputed, and raise. The number
        of pairs taken from the file is ``diagnostics['checkpoint']['resumed']``.
    n_permutations : int, optional
        Also test every entry for independence with this many permutations (see
        :func:`fastmi.permutation_test`; the permutations of entry (i, j) are children of its
        seed): the p-values are :attr:`MIMatrix.pvalues`, and
        :meth:`MIMatrix.significant` applies the Benjamini-Hochberg procedure to them.
    **kwargs
        Passed to the estimator of every pair (``n_bootstrap``, ``mc_samples``,
        ``k``, ...), whose defaults apply: GMM-MI bootstraps 50 replicates, and
        the nearest-neighbour, discrete and Gaussian estimators draw 20 subsample
        replicates (``n_bootstrap=0``: point estimates without a std).

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
    check_choice(y_type, "y_type", {"continuous", "categorical"})
    estimator = _registry.get(method, "categorical" if y_type == "categorical" else "mi")
    check_unit(unit)
    check_choice(executor, "executor", {"threads", "processes"})
    check_choice(on_error, "on_error", {"raise", "nan"})
    if progress is not None and not isinstance(progress, bool):
        raise ValueError(f"progress must be True, False or None, got {progress!r}")
    pairs_per_task = check_int(pairs_per_task, "pairs_per_task", low=1, allow_none=True)
    n_permutations = 0 if n_permutations is None else check_n_permutations(n_permutations)
    root = root_seed(rng)
    A, B, names_a, names_b = _prepare_inputs(a, b, estimator, y_type, a_names, b_names)
    p = A.shape[1]
    q = p if B is None else B.shape[1]
    symmetric = B is None
    pairs = [(i, j) for i in range(p) for j in (range(i + 1, p) if symmetric else range(q))]
    ck, resumed, n_all = None, {}, len(pairs)
    if checkpoint is not None:
        fp = fingerprint(A, B, method=method, y_type=y_type, unit=unit,
                         kwargs={**kwargs, "n_permutations": n_permutations} if n_permutations else kwargs,
                         entropy=root.entropy,
                         spawn_key=root.spawn_key, names_a=names_a, names_b=names_b, symmetric=symmetric)
        ck = Checkpoint(checkpoint, fp, adopt_root=rng is None)
        root = np.random.SeedSequence(ck.fingerprint["entropy"], spawn_key=tuple(ck.fingerprint["spawn_key"]))
        # failures are taken as recorded under 'nan'; under 'raise' they are recomputed (and raise)
        resumed = {ij: v for ij, v in ck.done.items() if v[1] is None or on_error == "nan"}
        pairs = [ij for ij in pairs if ij not in resumed]

    if client is None:
        total = resolve_n_jobs(n_jobs)
    else:
        total = _dask_threads(client)
    if pairs_per_task is None:
        pairs_per_task = 1 if not estimator.cheap else \
            max(1, min(_MAX_PAIRS_PER_TASK, len(pairs) // (4 * total)))
    tasks = _chunks(pairs, pairs_per_task)
    if client is None:
        n_workers = max(1, min(total, len(tasks)))
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
                 on_error=on_error, n_permutations=n_permutations)
    data = _Data(A, B)

    results = np.empty((p, q), dtype=object)
    errors = {}
    resumed_out = [(i, j, r, err) for (i, j), (r, err) in sorted(resumed.items())]
    bar = progress_bar(len(pairs), progress, desc=f"MI matrix ({method})", unit="pair")
    try:
        stream = (() if not tasks else _run_dask(client, data, tasks, spec) if client is not None
                  else _run_local(data, tasks, spec, n_workers, executor))
        for out in _chain_first(resumed_out, stream):
            if ck is not None and out is not resumed_out:
                ck.record(out)  # durable before the entry counts as done
            for i, j, r, err in out:
                if err is not None:
                    errors[(names_a[i], names_b[j])] = err
                results[i, j] = r
                if symmetric:
                    results[j, i] = r
            if out is not resumed_out:
                bar.update(len(out))
    finally:
        bar.close()
        if ck is not None:
            ck.close()

    diagnostics = {"scheduler": scheduler, "n_workers": n_workers, "n_jobs_per_task": inner,
                   "n_pairs": n_all, "n_tasks": len(tasks), "pairs_per_task": pairs_per_task,
                   "seconds": time.perf_counter() - t0}
    if errors:
        diagnostics["errors"] = {f"{k[0]}|{k[1]}": v for k, v in errors.items()}
    if ck is not None:
        diagnostics["checkpoint"] = {"path": ck.path, "resumed": len(resumed), "computed": len(pairs),
                                     "n_pairs": n_all}
    return MIMatrix(results=results, row_names=names_a, col_names=names_b, symmetric=symmetric, unit=unit,
                    method=method, seed_entropy=root.entropy, seed_spawn_key=tuple(root.spawn_key),
                    estimator_params=_jsonable(dict(kwargs)), diagnostics=diagnostics, y_type=y_type)


