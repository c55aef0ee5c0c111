"""Peak memory of a large bootstrap: n_bootstrap=200, mc_samples=1e6 (N=1e4, gamma-exponential).

    python benchmarks/bench_memory.py                  # prints peak RSS of a fresh process
    python -m pytest benchmarks/bench_memory.py --benchmark-only

Peak resident memory is read with ``resource.getrusage`` in a fresh interpreter, so it counts
NumPy, Numba and interpreter memory alike (tracemalloc would miss Numba's allocations). The
target is < 1 GB: each thread resamples one replicate at a time (an O(n) count array, no
index arrays) and the MC draws are either cached (<= 64 MiB) or regenerated chunk by chunk.
"""
import json
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, resource, time
import numpy as np
import fastmi
rng = np.random.default_rng(0)
x = rng.gamma(1.0, 1.0, 10_000)
y = rng.exponential(1.0 / x)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
r = fastmi.mutual_info(np.log(x), np.log(y), n_bootstrap=200, mc_samples=1_000_000, rng=0)
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "after_import_mb": base / 1024, "seconds": time.perf_counter() - t,
                  "mi": r.mi, "std": r.std, "replicates": len(r.samples)}))
"""


def measure():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.benchmark(group="memory")
def test_peak_memory_large_bootstrap(benchmark):
    result = benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(result)


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
