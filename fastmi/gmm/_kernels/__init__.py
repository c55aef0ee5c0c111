"""Numba kernels: small, named for what they compute, free of validation."""
import hashlib
from pathlib import Path

from ..._config import NUMBA_CACHE


def _drop_stale_cache():
    """Clear this package's Numba cache when any kernel source changed.

    Numba invalidates a cached function only when its own file changes, not when a function
    it inlines from another file does (``_bootstrap.py`` inlines ``_em.py``), so an edited
    kernel could otherwise keep running its old compiled code.
    """
    here = Path(__file__).parent
    digest = hashlib.sha1(b"".join(p.read_bytes() for p in sorted(here.glob("*.py")))).hexdigest()
    cache = here / "__pycache__"
    stamp = cache / "fastmi-kernels.sha1"
    try:
        if stamp.read_text() == digest:
            return
    except OSError:
        pass
    try:
        for p in cache.glob("*.nb[ic]"):
            p.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest)
    except OSError:  # a read-only install: Numba then caches elsewhere, keyed by file stamps
        pass


if NUMBA_CACHE:
    _drop_stale_cache()
