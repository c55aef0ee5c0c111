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
    env["FASTMI_PREBUILT"] = "0"  # these tests watch the kernels compile
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
    assert not [p for p in PACKAGE.rglob("*.nb[ic]") if "_prebuilt" not in p.parts]  # shipped at build time


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


def test_empty_cache_is_seeded_from_the_build_time_copy(tmp_path):
    """The files compiled at build time fill an empty cache folder, never overwrite one, and only
    the .nbi/.nbc files are taken."""
    from fastmi.gmm._kernels import _cache

    prebuilt = tmp_path / "prebuilt"
    prebuilt.mkdir()
    (prebuilt / "_em.f-1.py311.nbi").write_bytes(b"index")
    (prebuilt / "_em.f-1.py311.1.nbc").write_bytes(b"code")
    (prebuilt / "notes.txt").write_text("not a cache file")
    empty = tmp_path / "cache"
    empty.mkdir()
    _cache._seed_from_prebuilt(empty, prebuilt)
    assert sorted(p.name for p in empty.iterdir()) == ["_em.f-1.py311.1.nbc", "_em.f-1.py311.nbi"]
    assert (empty / "_em.f-1.py311.1.nbc").read_bytes() == b"code"
    used = tmp_path / "used"
    used.mkdir()
    (used / "_mc.g-2.py311.nbi").write_bytes(b"mine")
    _cache._seed_from_prebuilt(used, prebuilt)  # a cache in use is left alone
    assert [p.name for p in used.iterdir()] == ["_mc.g-2.py311.nbi"]
    _cache._seed_from_prebuilt(empty, tmp_path / "missing")  # no shipped copy: nothing happens
    assert _cache.prebuilt_name("abc", "0.1") == "kernels-abc-numba0.1"


@pytest.mark.slow
def test_warmup_command_compiles_into_the_user_cache(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), FASTMI_PREBUILT="0")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-m", "fastmi._cli", "warmup"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    cache = tmp_path / "numba" / "fastmi"
    assert f"cached in {cache}" in proc.stdout
    assert len(list(cache.glob("kernels-*/*.nbi"))) >= 20
