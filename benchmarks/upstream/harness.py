"""fastmi-side driver for upstream gmm-mi: builds the venv, runs run_upstream.py in a subprocess.

Used by tests/test_parity_upstream.py and benchmarks/bench_gmm.py. Never imports upstream code.

Results are cached under ``.venv-upstream/results-cache/`` keyed by a hash of the data, the
options and the pinned requirements (upstream is deterministic given its inputs: its seeds
are fixed internally), so rebuilding the venv clears the cache. ``use_cache=False`` for timing.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = Path(os.environ.get("FASTMI_UPSTREAM_VENV", ROOT / ".venv-upstream"))
MAKE_VENV = HERE / "make_venv.sh"
RUNNER = HERE / "run_upstream.py"
REQUIREMENTS = HERE / "requirements-upstream.txt"
ONE_THREAD = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                               "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")}


class UpstreamUnavailable(RuntimeError):
    """The upstream venv could not be built (typically: no network to reach PyPI)."""


def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv(timeout: float = 600) -> Path:
    """Build .venv-upstream if needed (make_venv.sh is idempotent); return its python."""
    try:
        proc = subprocess.run(["bash", str(MAKE_VENV)], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "FASTMI_UPSTREAM_VENV": str(VENV)})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UpstreamUnavailable(f"make_venv.sh did not complete: {exc}") from exc
    if proc.returncode != 0 or not venv_python().exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise UpstreamUnavailable(f"make_venv.sh failed (rc={proc.returncode}):\n{tail}")
    return venv_python()


def _key(x, y, options) -> str:
    h = hashlib.sha256()
    for a in (x, y):
        a = np.ascontiguousarray(a, dtype=np.float64)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update(json.dumps(options, sort_keys=True).encode())
    h.update(REQUIREMENTS.read_bytes())
    h.update(RUNNER.read_bytes())
    return h.hexdigest()[:32]


def run_upstream(x, y, options: dict | None = None, *, use_cache: bool = True,
                 timeout: float = 1800) -> dict:
    """Run upstream's EstimateMI (defaults + ``options``) on (x, y); return run_upstream.py's JSON.

    The subprocess gets one BLAS/OpenMP thread. Raises RuntimeError if the runner fails.
    """
    options = dict(options or {})
    cache_dir = VENV / "results-cache"
    key = _key(x, y, options)
    cached = cache_dir / f"{key}.json"
    if use_cache and cached.exists():
        res = json.loads(cached.read_text())
        res["cached"] = True
        return res
    py = venv_python()
    if not py.exists():
        raise UpstreamUnavailable(f"{py} missing: run benchmarks/upstream/make_venv.sh")
    with tempfile.TemporaryDirectory(prefix="fastmi-upstream-") as tmp:
        inp, out = Path(tmp) / "in.npz", Path(tmp) / "out.json"
        np.savez(inp, x=np.asarray(x, dtype=np.float64), y=np.asarray(y, dtype=np.float64),
                 options=np.array(json.dumps(options)))
        env = {**os.environ, **ONE_THREAD, "TQDM_DISABLE": "1"}
        env.pop("PYTHONPATH", None)  # keep fastmi's environment out of the upstream venv
        proc = subprocess.run([str(py), str(RUNNER), str(inp), str(out)], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=tmp)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"run_upstream.py failed (rc={proc.returncode}):\n{proc.stderr[-3000:]}")
        res = json.loads(out.read_text())
    if use_cache:
        cache_dir.mkdir(exist_ok=True)
        tmp_file = cache_dir / f".{key}.{os.getpid()}.tmp"
        tmp_file.write_text(json.dumps(res, indent=1))
        os.replace(tmp_file, cached)
    res["cached"] = False
    return res


def run_many(jobs: dict, *, max_workers: int = 2, **kwargs) -> dict:
    """Run several ``name -> (x, y, options)`` jobs concurrently (each one single-threaded)."""
    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        futs = {name: pool.submit(run_upstream, x, y, opts, **kwargs) for name, (x, y, opts) in jobs.items()}
        return {name: f.result() for name, f in futs.items()}


if __name__ == "__main__":  # tiny smoke test: python benchmarks/upstream/harness.py
    sys.path.insert(0, str(HERE))
    import cases

    ensure_venv()
    print(json.dumps(run_upstream(*cases.make("readme_gaussian", 200, 0)), indent=1))
