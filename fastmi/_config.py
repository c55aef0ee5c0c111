"""Process-wide settings read from the environment."""
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

#: Cache compiled Numba kernels on disk (set FASTMI_NUMBA_CACHE=0 to disable).
NUMBA_CACHE = os.environ.get("FASTMI_NUMBA_CACHE", "1").lower() in {"1", "true", "yes"}


def resolve_n_jobs(n_jobs):
    """Number of worker threads: None or -1 means every available core."""
    if n_jobs is None or n_jobs == -1:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive int, -1 or None, got {n_jobs!r}")
    return n_jobs


class _SerialMap:
    n_jobs = 1

    def __call__(self, fn, items):
        return [fn(it) for it in items]


class _PoolMap:
    def __init__(self, pool, n_jobs):
        self.pool, self.n_jobs = pool, n_jobs

    def __call__(self, fn, items):
        return list(self.pool.map(fn, items))


@contextmanager
def thread_map(n_jobs):
    """Yield an ordered ``map`` running on ``n_jobs`` threads (the kernels release the GIL)."""
    if n_jobs == 1:
        yield _SerialMap()
        return
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        yield _PoolMap(pool, n_jobs)
