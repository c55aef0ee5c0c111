"""Functional information per input: ``functional_fisher(batch=True)`` against a loop of
single-input calls, at m = 100 inputs (digits-sized CNN, 1 x 8 x 8 inputs, 100 samples per
input, class-conditional Ledoit-Wolf covariance). Side by side in one run; ratios of the
median of ``--repeat`` runs. Threads as the environment sets them (OMP_NUM_THREADS...) unless --threads.

    python benchmarks/bench_functional_batch.py [--model cnn|mlp] [--m 100] [--repeat 3] [--threads 1]
"""
import argparse
import time

import numpy as np


def _cnn():
    import torch
    from torch import nn

    torch.manual_seed(0)
    # the shape of the digits CNN of examples/interpret_digits.py
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 16, 64), nn.ReLU(), nn.Linear(64, 10)).eval()
    return nn.Sequential(net, nn.Softmax(-1))


def _mlp():
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(30, 32), nn.ReLU(), nn.Linear(32, 2)).eval()  # breast-cancer sized
    return nn.Sequential(net, nn.Softmax(-1))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("cnn", "mlp"), default="cnn",
                   help="cnn: the digits CNN on 1 x 8 x 8 inputs; mlp: 30 -> 32 -> 2 on 30 features")
    p.add_argument("--m", type=int, default=100)
    p.add_argument("--n-samples", type=int, default=100)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    args = p.parse_args(argv)
    import torch

    from fastmi.interpret import _functional, estimate_covariance, functional_fisher

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{args.model}: m={args.m}, n_samples={args.n_samples}, torch threads {torch.get_num_threads()}")
    model, shape, k = (_cnn(), (1, 8, 8), 10) if args.model == "cnn" else (_mlp(), (30,), 2)
    rng = np.random.default_rng(0)
    data = rng.random((600, *shape))
    cov = estimate_covariance(data, np.arange(600) % k)
    X = rng.random((args.m, *shape))
    kw = dict(cov=cov, n_samples=args.n_samples)

    def loop_uncached():  # the factor recomputed on every call, as before the cache
        g = np.random.default_rng(1)
        out = []
        for x in X:
            _functional._FACTORS.clear()
            out.append(functional_fisher(model, x, rng=g, **kw).attributions)
        return np.array(out)

    def loop():
        g = np.random.default_rng(1)
        return np.array([functional_fisher(model, x, rng=g, **kw).attributions for x in X])

    def batch():
        return functional_fisher(model, X, batch=True, rng=1, **kw).attributions

    times = {}
    results = {}
    for name, fn in (("loop, factor per call", loop_uncached), ("loop, cached factor", loop), ("batch=True", batch)):
        ts = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            results[name] = fn()
            ts.append(time.perf_counter() - t0)
        times[name] = float(np.median(ts))
    ref = results["loop, factor per call"]
    for name, t in times.items():
        err = np.abs(results[name] - ref).max() / np.abs(ref).max()
        print(f"{name:24s} {1e3 * t / args.m:8.2f} ms per input   speed-up vs first row "
              f"{times['loop, factor per call'] / t:5.1f}x   max rel. difference {err:.1e}")


if __name__ == "__main__":
    main()
