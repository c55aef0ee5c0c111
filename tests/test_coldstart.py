"""The kernels cache in a user cache folder, never in the installed package."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastmi

PACKAGE = Path(fastmi.__file__).resolve().parent
ROOT = PACKAGE.parent

# a tiny GMM fit: enough to compile and cache a few kernels
FIT = """
import numpy as np
from fastmi.gmm._mixture import Mixture, fit_em, initial_mixture
from fastmi.gmm._kernels import _cache
X = np.random.default_rng(0).normal(size=(200, 2))
start = initial_mixture(X, 2, "kmeans++", np.random.default_rng(1), 1e-6)
m, info = fit_em(X, start, 1e-4, 1e-6, 50)
assert info.ok
print(_cache.CACHE_DIR)
"""


def _package_files():
    return {p: p.stat().st_mtime_ns for p in PACKAGE.rglob("*") if p.is_file()}


def _run(tmp_path, **env_changes):
    env = dict(os.environ)
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("FASTMI_NUMBA_CACHE", None)
    env.update(env_changes)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", FIT], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


def _assert_package_untouched(before):
    after = _package_files()
    new = sorted(str(p) for p in after if p not in before and p.suffix != ".pyc")
    changed = sorted(str(p) for p in before if p in after and after[p] != before[p] and p.suffix != ".pyc")
    assert not new and not changed, (new, changed)
    assert not list(PACKAGE.rglob("*.nb[ic]"))


@pytest.mark.slow
def test_cache_goes_to_xdg_cache_home(tmp_path):
    before = _package_files()
    proc = _run(tmp_path, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    cache_dir = Path(proc.stdout.strip().splitlines()[-1])
    assert cache_dir.parent == tmp_path / "xdg" / "fastmi" / "numba"
    assert cache_dir.name.startswith("kernels-")
    assert list(cache_dir.glob("*.nbi")) and list(cache_dir.glob("*.nbc"))
    assert "compiling the GMM kernels" in proc.stderr
    _assert_package_untouched(before)
    # a second run loads the cache: no compilation note
    proc = _run(tmp_path, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    assert "compiling" not in proc.stderr


@pytest.mark.slow
def test_numba_cache_dir_is_respected(tmp_path):
    before = _package_files()
    proc = _run(tmp_path, XDG_CACHE_HOME=str(tmp_path / "xdg"), NUMBA_CACHE_DIR=str(tmp_path / "nb"))
    cache_dir = Path(proc.stdout.strip().splitlines()[-1])
    assert cache_dir.parent == tmp_path / "nb" / "fastmi"
    assert list(cache_dir.glob("*.nbi"))
    assert not (tmp_path / "xdg").exists()
    _assert_package_untouched(before)


@pytest.mark.slow
def test_caching_off(tmp_path):
    before = _package_files()
    proc = _run(tmp_path, XDG_CACHE_HOME=str(tmp_path / "xdg"), FASTMI_NUMBA_CACHE="0")
    assert not (tmp_path / "xdg").exists()
    assert "compiling" not in proc.stderr
    _assert_package_untouched(before)


@pytest.mark.slow
def test_unwritable_cache_falls_back_silently(tmp_path):
    blocker = tmp_path / "xdg"
    blocker.write_text("a file where the cache folder would go")
    before = _package_files()
    proc = _run(tmp_path, XDG_CACHE_HOME=str(blocker))
    assert "compiling" not in proc.stderr
    _assert_package_untouched(before)
