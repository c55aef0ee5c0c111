"""Functional information per input: ``functional_fisher(batch=True)`` against a loop of
single-input calls, at m = 100 inputs (digits-sized CNN, 1 x 8 x 8 inputs, 100 samples per
input, class-conditional Ledoit-Wolf covariance; or a 30 -> 32 -> 2 MLP). Side by side in one
run, for every model and torch thread count given; the three variants run in interleaved
rounds (the machine may be shared), times are the median and the best of ``--repeat`` rounds.
``--profile`` adds where the time goes (forward at the inputs, forward and backward over the
samples, the rest: sampling, covariance products, NumPy and Python) and the FLOPs of the
model's forward and input-gradient backward against a float32 matmul on the same threads.

    python benchmarks/bench_functional_batch.py [--model cnn mlp] [--threads 1 2] [--m 100]
                                                [--repeat 5] [--profile]
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


def _setup(name, m):
    from fastmi.interpret import estimate_covariance

    model, shape, k = (_cnn(), (1, 8, 8), 10) if name == "cnn" else (_mlp(), (30,), 2)
    rng = np.random.default_rng(0)
    data = rng.random((600, *shape))
    cov = estimate_covariance(data, np.arange(600) % k)
    return model, cov, rng.random((m, *shape))


def _variants(model, X, kw):
    from fastmi.interpret import _functional, functional_fisher

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

    return {"loop, factor per call": loop_uncached, "loop, cached factor": loop, "batch=True": batch}


def _split(fn, m):
    """ms per input of one run of ``fn``: forward at the inputs (model_outputs), forward and
    backward over the samples (inside _torch_values_grads; backward = torch.autograd.grad),
    and the rest."""
    import torch

    from fastmi.interpret import _functional

    acc = {"outputs": 0.0, "grads": 0.0, "backward": 0.0}
    orig = (_functional.model_outputs, _functional._torch_values_grads, torch.autograd.grad)

    def timed(key, f):
        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                acc[key] += time.perf_counter() - t0
        return wrapper

    _functional.model_outputs = timed("outputs", orig[0])
    _functional._torch_values_grads = timed("grads", orig[1])
    torch.autograd.grad = timed("backward", orig[2])
    try:
        t0 = time.perf_counter()
        fn()
        total = time.perf_counter() - t0
    finally:
        _functional.model_outputs, _functional._torch_values_grads, torch.autograd.grad = orig
    fwd = acc["grads"] - acc["backward"]
    rest = total - acc["grads"] - acc["outputs"]
    return {k: 1e3 * v / m for k, v in (("total", total), ("forward at x", acc["outputs"]),
                                        ("forward, samples", fwd), ("backward, samples", acc["backward"]),
                                        ("rest", rest))}


def _flops(model, X, n_samples):
    """FLOPs per input of the forward and the input-gradient backward over its samples
    (torch.utils.flop_counter: matmuls and convolutions only), and a float32 matmul's rate."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from fastmi.interpret._functional import _log_prob_module
    from fastmi.neural._torch import frozen_eval

    z = torch.as_tensor(np.repeat(X[:1], n_samples, axis=0), dtype=torch.float32).requires_grad_(True)
    with frozen_eval(model), FlopCounterMode(display=False) as fc:
        out = (_log_prob_module(model, "auto") or model)(z)[:, 0]
        out.sum().backward()  # parameters frozen: the input's gradient only
    a = torch.randn(1024, 1024)
    torch.mm(a, a)
    t0 = time.perf_counter()
    for _ in range(10):
        torch.mm(a, a)
    rate = 10 * 2 * 1024 ** 3 / (time.perf_counter() - t0)
    return fc.get_total_flops(), rate


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", nargs="+", choices=("cnn", "mlp"), default=["cnn"],
                   help="cnn: the digits CNN on 1 x 8 x 8 inputs; mlp: 30 -> 32 -> 2 on 30 features")
    p.add_argument("--m", type=int, default=100)
    p.add_argument("--n-samples", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, nargs="+", default=[None], help="torch threads (default: torch's own)")
    p.add_argument("--profile", action="store_true", help="print the time split and the FLOP rate")
    args = p.parse_args(argv)
    import torch

    for name in args.model:
        model, cov, X = _setup(name, args.m)
        kw = dict(cov=cov, n_samples=args.n_samples)
        fns = _variants(model, X, kw)
        for threads in args.threads:
            if threads:
                torch.set_num_threads(threads)
            print(f"{name}: m={args.m}, n_samples={args.n_samples}, torch threads {torch.get_num_threads()}")
            times = {k: [] for k in fns}
            results = {}
            for k, fn in fns.items():  # warm-up
                results[k] = fn()
            for _ in range(args.repeat):
                for k, fn in fns.items():
                    t0 = time.perf_counter()
                    results[k] = fn()
                    times[k].append(time.perf_counter() - t0)
            ref_name = "loop, cached factor"
            ref = results[ref_name]
            for k, ts in times.items():
                med, best = float(np.median(ts)), float(np.min(ts))
                err = np.abs(results[k] - ref).max() / np.abs(ref).max()
                print(f"  {k:22s} {1e3 * med / args.m:7.2f} ms/input (best {1e3 * best / args.m:6.2f})   "
                      f"speed-up of batch=True: {med / np.median(times['batch=True']):5.2f}x "
                      f"(best/best {best / np.min(times['batch=True']):5.2f}x)   "
                      f"max rel. diff. vs {ref_name} {err:.1e}")
            if args.profile:
                for k in (ref_name, "batch=True"):
                    runs = [_split(fns[k], args.m) for _ in range(3)]
                    s = {c: min(r[c] for r in runs) for c in runs[0]}
                    print(f"  split of {k!r}, ms/input (best of 3 per part): "
                          + ", ".join(f"{c} {v:.3f}" for c, v in s.items()))
                flops, rate = _flops(model, X, args.n_samples)
                best = np.min(times["batch=True"]) / args.m  # seconds per input
                print(f"  model FLOPs per input (forward + input-gradient backward, {args.n_samples} samples): "
                      f"{flops / 1e6:.1f} M; float32 1024^2 matmul {rate / 1e9:.0f} GFLOP/s -> "
                      f"{1e3 * flops / rate:.3f} ms/input at matmul speed; batch=True runs at "
                      f"{flops / best / 1e9:.0f} GFLOP/s ({100 * flops / best / rate:.0f}% of it)")


if __name__ == "__main__":
    main()
