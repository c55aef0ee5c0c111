"""Cold-start wall times of fastmi, each case in a fresh subprocess with empty caches.

    python benchmarks/bench_coldstart.py [--repeat 3]

Cases (median wall time of --repeat runs, each with a new empty NUMBA_CACHE_DIR and
XDG_CACHE_HOME):
  (a) demo, cold   `fastmi demo` (GMM-MI, N=10000, 50 bootstrap replicates), nothing cached
  (b) demo, warm   the same again, with the cache (a) left
  (c) KSG, cold    a first `fastmi.mutual_info(x, y, method="ksg")`, N=2000
  (d) import       `python -c "import fastmi"`

It measures whichever fastmi the interpreter imports (PYTHONPATH applies); the subprocesses
run in a temporary folder so that the current directory does not shadow it.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

DEMO = "from fastmi._cli import main; raise SystemExit(main(['demo']))"
KSG = ("import numpy as np, fastmi; rng = np.random.default_rng(0); x = rng.normal(size=2000); "
       "y = x + rng.normal(size=2000); print(fastmi.mutual_info(x, y, method='ksg', rng=0).mi)")
IMPORT = "import fastmi"
WHERE = "import fastmi; print(fastmi.__file__)"


def _run(code, env, cwd):
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{code!r} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return wall


def _fresh_env(tmp):
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = os.path.join(tmp, "numba")
    env["XDG_CACHE_HOME"] = os.path.join(tmp, "xdg")
    os.makedirs(env["NUMBA_CACHE_DIR"])
    os.makedirs(env["XDG_CACHE_HOME"])
    return env


def one_round():
    """Wall times of the four cases, each case with its own empty caches."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="fastmi-cold-") as tmp:
        env = _fresh_env(tmp)
        out["(a) demo, cold"] = _run(DEMO, env, tmp)
        out["(b) demo, warm"] = _run(DEMO, env, tmp)
    with tempfile.TemporaryDirectory(prefix="fastmi-cold-") as tmp:
        out["(c) KSG N=2000, cold"] = _run(KSG, _fresh_env(tmp), tmp)
    with tempfile.TemporaryDirectory(prefix="fastmi-cold-") as tmp:
        out["(d) import fastmi"] = _run(IMPORT, _fresh_env(tmp), tmp)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the median is shown (default 3)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        where = subprocess.run([sys.executable, "-c", WHERE], env=_fresh_env(tmp), cwd=tmp, capture_output=True,
                               text=True).stdout.strip()
    print(f"fastmi: {where}")
    print(f"python: {sys.executable}; cores: {os.cpu_count()}; repeat: {args.repeat}")
    runs = [one_round() for _ in range(args.repeat)]
    print(f"{'case':24s} {'median s':>9s}   runs")
    for case in runs[0]:
        times = [r[case] for r in runs]
        print(f"{case:24s} {statistics.median(times):9.2f}   " + " ".join(f"{t:.2f}" for t in times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
