"""Build the Cython kernels in csrc/ as fastmi.<name>.

Then compile the Numba GMM kernels ahead of time: a subprocess runs ``fastmi warmup`` on the
built package with an empty Numba cache, and the cache files are shipped in
``fastmi/gmm/_kernels/_prebuilt/``; at run time an empty user cache is seeded from them
(``fastmi/gmm/_kernels/_cache.py``), so a first run skips the ~15 s of compilation.

Environment switches:
  FASTMI_BOUNDSCHECK=1   compile with Cython bounds and wraparound checks (for debugging the kernels).
  FASTMI_NO_OPENMP=1     force a serial build.
  FASTMI_NO_AOT=1        skip the ahead-of-time compilation of the Numba kernels.
"""
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

import numpy as np
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

_PRECOMPILE = """
import numba
from fastmi.gmm._kernels import _cache
from fastmi.gmm._warmup import warm_up
warm_up()
print(_cache.CACHE_DIR)
print(_cache.prebuilt_name(_cache.DIGEST, numba.__version__))
"""


def _openmp_flags():
    """Return (compile, link) flags if the C compiler accepts -fopenmp, else ([], [])."""
    if os.environ.get("FASTMI_NO_OPENMP") == "1" or sys.platform == "win32":
        return [], []
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        cc = "cc"
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.c")
        with open(path, "w") as f:
            f.write(src)
        try:
            ok = subprocess.run([cc, "-fopenmp", path, "-o", os.path.join(tmp, "probe")],
                                capture_output=True).returncode == 0
        except OSError:
            ok = False
    return (["-fopenmp"], ["-fopenmp"]) if ok else ([], [])


def _extensions():
    sources = sorted(glob.glob(os.path.join("csrc", "*.pyx")))
    if not sources:
        return []
    from Cython.Build import cythonize

    checks = os.environ.get("FASTMI_BOUNDSCHECK") == "1"
    cflags, lflags = _openmp_flags()
    exts = [
        Extension(
            "fastmi." + os.path.splitext(os.path.basename(src))[0],
            [src],
            include_dirs=[np.get_include()],
            # no fused multiply-adds: Euclidean sums must round as SciPy's cdist rounds them
            extra_compile_args=["-O3", "-ffp-contract=off"] + cflags,
            extra_link_args=lflags,
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        )
        for src in sources
    ]
    return cythonize(
        exts,
        compiler_directives={
            "language_level": 3,
            "boundscheck": checks,
            "wraparound": checks,
            "cdivision": True,
            "initializedcheck": checks,
        },
        compile_time_env={"FASTMI_OPENMP": bool(cflags)},
    )


def _precompile_kernels(root):
    """Compile the Numba kernels of the fastmi package under ``root`` into its ``_prebuilt``
    folder; a failure only costs the speed-up, so it warns and goes on."""
    root = os.path.abspath(root)
    target = os.path.join(root, "fastmi", "gmm", "_kernels", "_prebuilt")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=tmp, FASTMI_NUMBA_CACHE="1",
                   PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        try:
            proc = subprocess.run([sys.executable, "-c", _PRECOMPILE], env=env, cwd=tmp, capture_output=True,
                                  text=True, timeout=1200)
        except (OSError, subprocess.TimeoutExpired) as exc:
            print(f"fastmi: ahead-of-time compilation of the GMM kernels skipped: {exc}", file=sys.stderr)
            return
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
            print(f"fastmi: ahead-of-time compilation of the GMM kernels failed ({tail}); they will compile on "
                  "first use", file=sys.stderr)
            return
        cache_dir, name = proc.stdout.split()[-2:]
        shutil.rmtree(target, ignore_errors=True)  # only this build's cache is shipped
        shutil.copytree(cache_dir, os.path.join(target, name))


class BuildExtThenKernels(build_ext):
    """Build the Cython extensions, then compile the Numba kernels ahead of time."""

    def run(self):
        super().run()
        if os.environ.get("FASTMI_NO_AOT") != "1":
            # in place (and in setuptools' editable mode) the package is the source tree itself
            in_place = self.inplace or getattr(self, "editable_mode", False)
            _precompile_kernels(os.getcwd() if in_place else self.build_lib)


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExtThenKernels})
