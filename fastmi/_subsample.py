"""Error bars by subsampling without replacement, shared by the nearest-neighbour and
plug-in estimators, and the parameter text their docstrings share."""
from __future__ import annotations

import math
import numbers

import numpy as np

from ._config import resolve_n_jobs
from ._result import MIResult, resampling_info, unit_scale
from ._validation import check_int, check_unit

#: replicates drawn by the subsample scheme when asked for by ``subsample=`` (or where the data
#: are too few for partitions): the error bar costs about ten point estimates
DEFAULT_REPLICATES = 20
#: the partition scheme (the nearest-neighbour default): at least this many disjoint pieces in
#: all, so the reported std has about 1/sqrt(2 * 63) = 9 % relative spread
PARTITION_PIECES = 64
#: and pieces of at least this many rows (k-NN estimates on fewer rows vary less per row than
#: on n: 0.58x the full-size std at 31 rows, d = 3; see benchmarks/calibration_knn.py)
PARTITION_MIN_ROWS = 250


class Partition:
    """The default error-bar plan of the nearest-neighbour estimators: ``repeats`` random
    partitions of the rows into ``pieces`` disjoint pieces of ``size`` rows (``sizes`` per
    stratum), the rows left over by ``n // pieces`` left out of that partition."""

    def __init__(self, pieces, repeats, sizes):
        self.pieces, self.repeats, self.sizes = pieces, repeats, list(sizes)

    @property
    def size(self):
        return int(sum(self.sizes))


def partition_plan(strata, min_rows=PARTITION_MIN_ROWS, target=PARTITION_PIECES):
    """The :class:`Partition` for strata of ``(n_rows, low)`` (each piece needs ``low`` rows
    of that stratum), or None when fewer than 2 pieces fit. Pieces are as many as fit, up to
    ``target``, with at least ``min_rows`` rows in all; ``repeats`` partitions bring the total
    to ``target`` pieces."""
    n = sum(size for size, _ in strata)
    pieces = min([target, n // max(min_rows, 1)] + [size // max(low, 1) for size, low in strata])
    if pieces < 2:
        return None
    repeats = -(-target // pieces)
    return Partition(pieces, repeats, [size // pieces for size, _ in strata])

_COMMON_PARAMS = """\
    n_bootstrap : int or None, default=None
        Number of subsample replicates used for the error bar (see Notes).
        None gives the default error bar: for the nearest-neighbour
        estimators, disjoint partitions into 64 pieces in all (at most about
        one more point estimate's cost) when n >= 500, else 20 half-size
        subsamples; for the plug-in estimators (discrete, gaussian, gcmi)
        20 half-size subsamples (about ten point estimates); none when the
        data allow neither (``diagnostics['resampling']['why']`` says why).
        An int asks for that many subsamples; 0 gives the point estimate
        only. Without replicates the result says that it
        has no error bar (``std`` is NaN and
        ``diagnostics['resampling']['scheme']`` is 'none').
    subsample : int or float, optional
        Size of each replicate: an int number of rows, or a fraction of n in
        (0, 1). Default n // 2.
    rng : None, int, SeedSequence or Generator
        Seed for the subsample draws (and the jitter where there is one),
        with ``np.random.default_rng`` semantics.
    n_jobs : int, optional
        Threads for the kernels; None or -1 uses every core. The result does
        not depend on it.
    unit : {'nat', 'bit'}, default='nat'"""

_RESAMPLING_NOTES = """\
    Error bars come from subsampling *without* replacement (a delete-d
    jackknife): each of the ``n_bootstrap`` replicates is the same estimator
    run on ``m`` rows drawn without replacement (``m = n // 2`` by default).
    The ordinary bootstrap is not used because resampling *with* replacement
    duplicates rows, and duplicated rows are ties at distance zero: they
    collapse the k-th neighbour distances and bias nearest-neighbour
    estimates upwards. A replicate on m rows varies more than the estimate
    on n rows, so the replicates are rescaled by ``sqrt(m / (n - m))`` (the
    delete-d jackknife variance factor; it is 1 for half samples) and
    centred on the full-data estimate: ``MIResult.mi`` is the full-data
    estimate (not a replicate mean), ``MIResult.std`` the standard error and
    ``MIResult.samples`` the rescaled replicates (the raw ones are in
    ``diagnostics['resampling']['raw']``).

    The nearest-neighbour estimators default instead to disjoint
    partitions (scheme 'partition', Holmes & Nemenman 2019): the rows are
    split at random into ``P`` pieces of ``s = n // P`` rows (P up to 64,
    s >= 250; strata keep their share in every piece), repeated until 64
    pieces in all; the pieces' estimates are independent, and the variance
    of the estimate scales as 1/rows, so ``std^2 = (s / n)`` times their
    pooled within-partition variance. Its relative uncertainty,
    ``diagnostics['resampling']['std_of_std']``, is
    ``1 / sqrt(2 * pieces in all - 2 * repeats)``, 9 % for 64 pieces; over
    100 data sets the mean reported std was 0.82-1.03 of the observed
    spread (``benchmarks/calibration_knn.py``)."""


def _doc(func):
    func.__doc__ = func.__doc__.replace("{common}", _COMMON_PARAMS).replace("{resampling}", _RESAMPLING_NOTES)
    return func


def check_common(unit, n_jobs, n_bootstrap, subsample, n, low, what, partition=False):
    """Validate the parameters every subsampled estimator shares.

    Returns ``(n_threads, n_bootstrap, m, why)``: m is the subsample size (None without
    replicates), which must satisfy ``low <= m < n`` (``what`` says why in the error
    message). ``n_bootstrap=None`` asks for the default, :data:`DEFAULT_REPLICATES`, when
    the data allow subsamples, and otherwise for none; ``why`` then says why there are none.
    With ``partition=True`` that default is the partition scheme where the data allow it:
    ``m`` is then a :class:`Partition` and ``n_bootstrap`` its number of pieces in all.
    """
    check_unit(unit)
    n_threads = resolve_n_jobs(n_jobs)
    why = None
    if n_bootstrap is None and subsample is None:
        plan = partition_plan([(n, low)]) if partition else None
        if plan is not None:
            return n_threads, plan.pieces * plan.repeats, plan, why
        try:
            m = _subsample_size(subsample, n, low, what)
            n_bootstrap = DEFAULT_REPLICATES
        except ValueError as exc:
            n_bootstrap, m, why = 0, None, f"no error bar by default for n={n}: {exc}"
        return n_threads, n_bootstrap, m, why
    # an explicit subsample is checked (and its replicates drawn) even with the default n_bootstrap
    n_bootstrap = DEFAULT_REPLICATES if n_bootstrap is None else check_int(n_bootstrap, "n_bootstrap", low=0)
    m = _subsample_size(subsample, n, low, what) if n_bootstrap else None
    return n_threads, n_bootstrap, m, why


def _subsample_size(subsample, n, low, what):
    if subsample is None:
        m = n // 2
    elif isinstance(subsample, numbers.Integral) and not isinstance(subsample, bool):
        m = int(subsample)
    elif isinstance(subsample, numbers.Real) and not isinstance(subsample, bool):
        f = float(subsample)
        if not 0.0 < f < 1.0:
            raise ValueError(f"a fractional subsample must lie in (0, 1), got {subsample!r}")
        m = int(round(f * n))
    else:
        raise ValueError(f"subsample must be None, an int or a fraction in (0, 1), got {subsample!r}")
    if not low <= m < n:
        raise ValueError(f"subsample size must satisfy {low} <= m < n={n} ({what}), got m={m}")
    return m


def _subsample_indices(rng, n, m, strata=None):
    if strata is None:
        return np.sort(rng.choice(n, m, replace=False))
    parts = [np.sort(rng.choice(s, ms, replace=False)) for s, ms in strata]
    return np.sort(np.concatenate(parts))


def _replicates(value, arrays, point, n_bootstrap, m, rng, strata=None):
    """Run ``value`` on ``n_bootstrap`` subsamples of ``m`` rows (drawn
    without replacement) and rescale them around ``point`` (see Notes of the
    public functions). Returns ``(adjusted, info)``."""
    n = arrays[0].shape[0]
    raw = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        idx = _subsample_indices(rng, n, m, strata)
        raw[b] = value(*[a[idx] for a in arrays])
    factor = math.sqrt(m / (n - m))
    adjusted = point + factor * (raw - raw.mean())
    info = resampling_info("subsample", "full-sample estimate", n_bootstrap,
                           description="subsamples without replacement, rescaled (delete-d jackknife)",
                           size=m, scale=factor, raw=raw)
    return adjusted, info


def _partition_replicates(value, arrays, point, plan, rng, strata=None, n_workers=1, batch=None):
    """Run ``value`` on every piece of ``plan.repeats`` random partitions (:class:`Partition`)
    and rescale the spread within each partition to the full sample size n: the pieces of one
    partition are independent estimates on ``s`` rows, and the variance of a k-NN estimate
    scales as 1/rows (Holmes & Nemenman 2019), so ``std^2 = (s / n) * pooled within-partition
    variance``. Returns ``(adjusted, info)`` with ``np.std(adjusted, ddof=1)`` that std.

    With ``n_workers > 1`` the pieces run concurrently, one kernel thread each
    (``value(..., threads=1)``): pieces are small, so one thread per piece beats several
    threads on every piece. Each piece's rows are drawn before any runs, and every kernel gives
    the same result for any thread count, so the result does not depend on ``n_workers``.
    ``batch(pieces, repeats)``, where given, computes the values of all the pieces at once (the
    same values as ``value``), or returns None to leave them to ``value``."""
    n = arrays[0].shape[0]
    if strata is None:
        strata = [(np.arange(n), plan.size)]
    members = [np.asarray(s) for s, _ in strata]
    p = plan.pieces
    pieces = []
    for r in range(plan.repeats):
        # piece j of every stratum: rows j*size .. (j+1)*size of a random order of its members
        orders = [rng.permutation(mem)[:p * size].reshape(p, size) for mem, size in zip(members, plan.sizes)]
        pieces += [np.sort(np.concatenate([o[j] for o in orders])) for j in range(p)]
    values = None if batch is None else batch(pieces, plan.repeats)
    if values is None and n_workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        # one task per worker (every n_workers-th piece): a task per piece spent a fifth of the
        # pieces' time handing tasks and the GIL between threads
        def run(chunk):
            return [value(*[a[pieces[j]] for a in arrays], threads=1) for j in chunk]

        values = [None] * len(pieces)
        chunks = [range(w, len(pieces), n_workers) for w in range(n_workers)]
        with ThreadPoolExecutor(n_workers) as pool:
            for chunk, got in zip(chunks, pool.map(run, chunks)):
                for j, v in zip(chunk, got):
                    values[j] = v
    elif values is None:
        values = [value(*[a[idx] for a in arrays]) for idx in pieces]
    raw = np.asarray(values, dtype=float).reshape(plan.repeats, p)
    dev = raw - raw.mean(axis=1, keepdims=True)
    total = dev.size
    pooled = float(np.sum(dev * dev)) / (plan.repeats * (p - 1))
    scale = plan.size / n
    factor = math.sqrt(scale * (total - 1) / (plan.repeats * (p - 1)))
    adjusted = point + factor * dev.ravel()
    info = resampling_info("partition", "full-sample estimate", total,
                           description=("disjoint partitions of the rows; spread of the pieces rescaled by "
                                        "sqrt(piece size / n) (Holmes & Nemenman 2019)"),
                           pieces=p, repeats=plan.repeats, size=plan.size, scale=math.sqrt(scale),
                           std_of_std=1.0 / math.sqrt(2.0 * plan.repeats * (p - 1)),
                           raw=raw.ravel(), std_raw=math.sqrt(pooled))
    return adjusted, info


def subsampled_result(value, arrays, point, *, n_bootstrap, m, rng, unit, method, diagnostics, strata=None,
                      quantity="mi", why=None, n_workers=1, batch=None):
    """The :class:`MIResult` of ``point`` (nats) with its subsampling error bar: ``value(*arrays)``
    recomputes the estimate on rows of ``arrays`` (``strata`` fixes the rows drawn per class);
    ``why`` explains a missing default error bar (see :func:`check_common`); ``n_workers`` runs the
    pieces of the partition scheme concurrently (``value`` then takes ``threads=``), or ``batch``
    computes them all at once (see :func:`_partition_replicates`)."""
    adjusted = np.empty(0)
    if n_bootstrap and not math.isfinite(point):  # infinite MI (y a function of x): no spread to measure
        n_bootstrap, why = 0, f"the estimate is {point}"
    if n_bootstrap and isinstance(m, Partition):
        adjusted, diagnostics["resampling"] = _partition_replicates(value, arrays, point, m, rng, strata,
                                                                           n_workers, batch)
    elif n_bootstrap:
        adjusted, diagnostics["resampling"] = _replicates(value, arrays, point, n_bootstrap, m, rng, strata)
    else:
        details = {} if why is None else {"why": why}
        diagnostics["resampling"] = resampling_info("none", "full-sample estimate", 0, **details)
    s = unit_scale(unit)
    std = float(np.std(adjusted, ddof=1)) if adjusted.size > 1 else math.nan
    return MIResult(mi=point * s, std=std * s, samples=adjusted * s, unit=unit, method=method,
                    diagnostics=diagnostics, quantity=quantity)
