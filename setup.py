"""Build the Cython kernels in csrc/ as fastmi.<name>.

Environment switches:
  FASTMI_BOUNDSCHECK=1   compile with Cython bounds and wraparound checks (for debugging the kernels).
  FASTMI_NO_OPENMP=1     force a serial build.
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


setup(ext_modules=_extensions())
