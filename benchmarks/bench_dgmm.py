"""DifferentiableGMMMI: time per forward + backward at batch 256 and 4096, K = 1, 3, 8 (CPU, one
torch thread, 1-D x and y), and its bias on independent Gaussian pairs.

    pytest benchmarks/bench_dgmm.py --benchmark-only
    python benchmarks/bench_dgmm.py [--bias] [--device cuda]

Each timed call is one training step's loss: a new batch from the same distribution (so EM
warm-starts from the previous batch's fit, as in training), forward, then backward to the inputs.
"""
import argparse
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch") if __name__ != "__main__" else __import__("torch")

BATCHES = (256, 4096)
COMPONENTS = (1, 3, 8)


def _batches(b, n_batches, seed=0, dtype=None, device=None):
    """Bimodal, dependent (x, y) batches: every K has structure to fit."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_batches):
        s = rng.integers(0, 3, b)
        x = rng.standard_normal(b) + 2.5 * s
        y = np.where(s == 1, -0.7, 0.6) * x + 0.6 * rng.standard_normal(b) + s
        out.append(tuple(torch.tensor(v[:, None], dtype=dtype or torch.float64, device=device) for v in (x, y)))
    return out


def _step(loss, batch):
    x = batch[0].clone().requires_grad_(True)
    loss(x, batch[1]).backward()
    return x.grad


@pytest.mark.parametrize("b", BATCHES)
@pytest.mark.parametrize("K", COMPONENTS)
def test_forward_backward(benchmark, b, K):
    from fastmi.neural import DifferentiableGMMMI

    torch.set_num_threads(1)
    loss = DifferentiableGMMMI(K, rng=0)
    batches = _batches(b, 20)
    _step(loss, batches[0])  # the first call fits from k-means++; later ones warm-start
    it = iter(range(10 ** 9))
    benchmark(lambda: _step(loss, batches[next(it) % len(batches)]))


def bias(n_batches=100, seed=0):
    """Mean MI over independent Gaussian batches (truth 0): the bias at each (b, K)."""
    from fastmi.neural import DifferentiableGMMMI

    rng = np.random.default_rng(seed)
    rows = []
    for b in BATCHES:
        for K in COMPONENTS:
            loss = DifferentiableGMMMI(K, rng=seed)
            vals = []
            for _ in range(n_batches):
                x, y = (torch.tensor(rng.standard_normal((b, 1))) for _ in range(2))
                with torch.no_grad():
                    vals.append(float(loss(x, y)))
            vals = np.asarray(vals)
            rows.append((b, K, vals.mean(), vals.std(ddof=1) / np.sqrt(n_batches)))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default=None)
    p.add_argument("--bias", action="store_true", help="also measure the bias on independent pairs")
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args(argv)
    from fastmi.neural import DifferentiableGMMMI

    torch.set_num_threads(1)
    for b in BATCHES:
        for K in COMPONENTS:
            loss = DifferentiableGMMMI(K, rng=0)
            batches = _batches(b, args.repeats + 1, device=args.device)
            _step(loss, batches[0])
            t0 = time.perf_counter()
            for batch in batches[1:]:
                _step(loss, batch)
            ms = 1e3 * (time.perf_counter() - t0) / args.repeats
            print(f"b={b:5d} K={K}: {ms:7.2f} ms per forward+backward (last call: {loss.n_active_} components, {loss.n_iter_} EM iterations)")
    if args.bias:
        for b, K, m, se in bias():
            print(f"bias b={b:5d} K={K}: {m:+.4f} +- {se:.4f} nat")


if __name__ == "__main__":
    main()
