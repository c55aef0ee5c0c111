"""Where the kernels' compiled code is cached: a user cache folder, never the installed package.

Numba's ``cache=True`` writes next to the sources by default. A cache locator placed first in
Numba's list claims the files of this folder (and nothing else, so the user's own Numba
caching is untouched) and puts their cache in

    $NUMBA_CACHE_DIR/fastmi/kernels-<digest>          when NUMBA_CACHE_DIR is set, else
    $XDG_CACHE_HOME/fastmi/numba/kernels-<digest>     (XDG_CACHE_HOME defaults to ~/.cache)

where <digest> hashes every kernel source. Numba checks a cached function against its own
file only, not against the files it inlines from (``_bootstrap.py`` inlines ``_em.py``), so
an edited kernel gets a new folder rather than running stale code. For the same reason a
file's stamp is the digest, not its mtime: a reinstall of the same sources reuses the cache.

``FASTMI_NUMBA_CACHE=0`` disables caching; so does a cache folder that cannot be written.

Ahead-of-time compilation: ``setup.py`` compiles every kernel when fastmi is built (on the
machine that installs it) and ships the cache files in ``_prebuilt/``. An empty cache folder
is filled from there on first import, so a fresh node or container skips the compilation.
The copy is used only when the kernel digest and the Numba version match; Numba itself
recompiles any entry made for another CPU. ``FASTMI_PREBUILT=0`` ignores the shipped copy.
Nothing is ever written into the package at run time.
"""
import hashlib
import os
import sys
import tempfile
from pathlib import Path

import numba
from numba.core import caching, config, event

from ..._config import NUMBA_CACHE as _WANTED

KERNEL_DIR = Path(__file__).resolve().parent


def _digest():
    h = hashlib.sha1()
    for p in sorted(KERNEL_DIR.glob("*.py")):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def cache_root():
    """The folder that holds fastmi's kernel caches (not created here)."""
    if config.CACHE_DIR:
        return Path(config.CACHE_DIR) / "fastmi"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "fastmi" / "numba"


def _writable(path):
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
        return True
    except OSError:
        return False


def prebuilt_name(digest, numba_version):
    """The folder under ``_prebuilt/`` that holds the build-time cache of these sources."""
    return f"kernels-{digest}-numba{numba_version}"


def _seed_from_prebuilt(cache_dir, prebuilt):
    """Copy the build-time cache files into an empty cache folder (never overwriting)."""
    if not prebuilt.is_dir() or any(cache_dir.glob("*.nbi")):
        return
    for src in prebuilt.iterdir():
        if src.suffix in (".nbi", ".nbc"):
            tmp = cache_dir / f".{src.name}.{os.getpid()}.tmp"
            try:
                tmp.write_bytes(src.read_bytes())
                os.replace(tmp, cache_dir / src.name)  # atomic: a concurrent reader sees all or nothing
            except OSError:
                tmp.unlink(missing_ok=True)
                return


DIGEST = _digest()
CACHE_DIR = cache_root() / f"kernels-{DIGEST}"
PREBUILT = KERNEL_DIR / "_prebuilt" / prebuilt_name(DIGEST, numba.__version__)
#: Whether the kernels are compiled with ``cache=True`` (into CACHE_DIR).
NUMBA_CACHE = bool(_WANTED) and _writable(CACHE_DIR)
if NUMBA_CACHE and os.environ.get("FASTMI_PREBUILT", "1").lower() not in {"0", "false", "no"}:
    _seed_from_prebuilt(CACHE_DIR, PREBUILT)
#: True when caching is on but nothing is cached yet: the first GMM call compiles.
COLD = NUMBA_CACHE and not any(CACHE_DIR.glob("*.nbi"))


class KernelCacheLocator(caching._CacheLocator):
    """Numba cache locator for the kernel files: caches them in CACHE_DIR."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno

    def ensure_cache_path(self):
        pass  # checked once, when NUMBA_CACHE was computed

    def get_cache_path(self):
        return str(CACHE_DIR)

    def get_source_stamp(self):
        return DIGEST

    def get_disambiguator(self):
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        if not NUMBA_CACHE:
            return None
        try:
            if Path(py_file).resolve().parent != KERNEL_DIR:
                return None
        except OSError:
            return None
        return cls(py_func, py_file)


def install():
    """Put the locator first in Numba's list (once)."""
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # renamed in Numba 0.60-ish
    classes = impl._locator_classes
    if not any(c.__name__ == KernelCacheLocator.__name__ and c.__module__ == __name__ for c in classes):
        classes.insert(0, KernelCacheLocator)


FIRST_RUN_SECONDS = 15  # measured: a first ``fastmi demo`` on 2 cores


class _FirstCompileNote(event.Listener):
    """Says once, when a kernel is compiled for want of a cached copy, that a first run compiles."""

    done = False

    def on_start(self, ev):
        if self.done:
            return
        disp = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
        if getattr(getattr(disp, "py_func", None), "__module__", "").startswith(__package__ + "."):
            self.done = True
            print(f"fastmi: compiling the GMM kernels on first use (~{FIRST_RUN_SECONDS} s, once); "
                  f"cached in {CACHE_DIR}", file=sys.stderr, flush=True)

    def on_end(self, ev):
        pass


def announce_compilation():
    """While the cache is cold, print a one-line note at the first kernel compilation."""
    if COLD:
        event.register("numba:compile", _FirstCompileNote())
