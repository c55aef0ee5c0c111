"""Cache for reference Monte-Carlo integrals: in memory, and on disk as small JSON files.

The directory is ``$FASTMI_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/fastmi`` or
``~/.cache/fastmi``; files go in its ``bench/`` subfolder. A key is the SHA-256 of the
canonical JSON of everything the value depends on (the distribution's parameters, the
Monte-Carlo sample size and seed, and a format version), so a change to any of them is a
different entry. Disk problems (read-only home, a corrupt file) fall back to recomputing.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

_FORMAT = 1
_MEMORY: dict = {}


def cache_dir():
    """Directory holding fastmi.bench's cached reference values (not created here).

    Returns
    -------
    pathlib.Path
        ``$FASTMI_CACHE_DIR/bench`` if that variable is set, else
        ``$XDG_CACHE_HOME/fastmi/bench`` or ``~/.cache/fastmi/bench``.
    """
    root = os.environ.get("FASTMI_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "fastmi")
    return Path(root) / "bench"


def _key(spec):
    text = json.dumps({"format": _FORMAT, **spec}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cached(spec, compute, *, disk=True):
    """Return ``compute()`` (a JSON-serialisable dict), cached under the key of ``spec``.

    Parameters
    ----------
    spec : dict
        JSON-serialisable description of everything the value depends on; it must
        contain a ``"kind"`` entry, used in the file name.
    compute : callable
        Called without arguments on a miss.
    disk : bool, default=True
        Also read and write the on-disk cache.
    """
    key = _key(spec)
    if key in _MEMORY:
        return dict(_MEMORY[key])
    path = cache_dir() / f"{spec['kind']}-{key}.json"
    if disk:
        try:
            stored = json.loads(path.read_text())
            if stored.get("key") == key:
                _MEMORY[key] = stored["value"]
                return dict(stored["value"])
        except (OSError, ValueError, KeyError, AttributeError):
            pass
    value = compute()
    _MEMORY[key] = value
    if disk:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
            with os.fdopen(fd, "w") as f:
                json.dump({"key": key, "spec": spec, "value": value}, f, indent=1)
            os.replace(tmp, path)
        except OSError:
            pass
    return dict(value)


def clear_memory_cache():
    """Forget the in-memory cache (the files on disk stay)."""
    _MEMORY.clear()
