"""Neural MI timings (torch extra): one InfoNCE estimate (d = 20, N = 1e4) and one
local-global map (N = 512, K = 64 positions). CPU, one torch thread unless --n-jobs.

    python benchmarks/bench_neural.py [--device cuda] [--n-jobs 4]
"""
import argparse
import time

import numpy as np


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default=None)
    p.add_argument("--n-jobs", type=int, default=None)
    args = p.parse_args(argv)
    from fastmi.bench import Gaussian
    from fastmi.interpret import local_global_map
    from fastmi.neural import infonce_mutual_info

    g = Gaussian(0.3, dx=20)
    x, y = g.sample(10_000, rng=0)
    t0 = time.perf_counter()
    r = infonce_mutual_info(x, y, rng=0, device=args.device, n_jobs=args.n_jobs)
    t1 = time.perf_counter()
    print(f"infonce d=20 N=10000: {t1 - t0:.2f} s, {r.diagnostics['epochs']} epochs; "
          f"estimate {r.mi:.3f} +- {r.std:.3f} nat (truth {g.mi:.3f}, cap {r.diagnostics['cap']:.2f})")

    rng = np.random.default_rng(0)
    n, k, c = 512, 64, 8
    local = rng.standard_normal((n, k, c))
    glob = local[:, :4].reshape(n, -1) @ rng.standard_normal((4 * c, 16)) / 4 + 0.5 * rng.standard_normal((n, 16))
    t0 = time.perf_counter()
    m = local_global_map(local, glob, rng=0, device=args.device, n_jobs=args.n_jobs)
    t1 = time.perf_counter()
    print(f"local_global_map N=512 K=64 C=8: {t1 - t0:.2f} s, {m.diagnostics['epochs']} epochs; "
          f"informative positions {m.summary[:4].round(2)}, others max {m.summary[4:].max():.3f} nat")


if __name__ == "__main__":
    main()
