"""
GMM-MI as a training objective
==============================

:class:`fastmi.neural.DifferentiableGMMMI` returns the MI of a Gaussian mixture fitted to a batch,
with gradients through the fit. Two uses, both on CPU in seconds:

1. **Maximise MI.** A 5-D Gaussian input X and a target t = u^2 + 0.3 e that depends on one
   direction u = w . X, non-monotonically (so the correlation of t with any projection is zero
   in expectation). A unit vector a is learned to maximise I(a . X; t); the run reports the absolute
   cosine of a and w, and the time per step, against InfoNCE with a learned critic as the objective on the same
   batches.
2. **Penalise MI.** A linear encoder z = a . X is trained to predict y = X_0 + X_1 (squared error)
   while an MI penalty with a nuisance s = X_1^2 + 0.3 e pushes it to forget s. The nuisance is
   uncorrelated with every projection of X, so a correlation penalty cannot see it; the mixture's
   MI can. Forgetting s means dropping X_1, which costs squared error: the run reports both, on
   held-out data (I(z; s) by ``fastmi.mutual_info``), with and without the penalty.

Needs ``pip install "fastmi[torch,plot]"``::

    python examples/mi_training.py --out mi_training.png

``FASTMI_EXAMPLE_SMALL=1`` (as in the documentation's gallery) runs fewer steps.
"""
import argparse
import os
import time

import numpy as np
import torch

import fastmi
from fastmi.neural import DifferentiableGMMMI

SMALL = os.environ.get("FASTMI_EXAMPLE_SMALL") == "1"  # the docs' gallery: a quick, smaller run
# small tensors: one thread is faster, and on a busy machine torch's pool stalls for ~0.5 s a step
torch.set_num_threads(1)
DIM = 5


def make_task(seed=0, n=20_000):
    """(X, t, w): inputs, the target t = (w . X)^2 + 0.3 noise, and the informative unit direction w."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(DIM)
    w /= np.linalg.norm(w)
    X = rng.standard_normal((n, DIM))
    t = (X @ w) ** 2 + 0.3 * rng.standard_normal(n)
    return torch.tensor(X), torch.tensor(t[:, None]), w


class _Critic(torch.nn.Module):
    """InfoNCE's critic: an MLP scoring every (p_i, t_j) pair of the batch."""

    def __init__(self, hidden=32):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(2, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))

    def forward(self, p, t):
        b = p.shape[0]
        pairs = torch.cat([p[:, None].expand(b, b, 1), t[None].expand(b, b, 1)], dim=-1)
        s = self.net(pairs)[..., 0]  # s[i, j] = f(p_i, t_j)
        return (s.diagonal() - torch.logsumexp(s, dim=1)).mean() + np.log(b)  # InfoNCE lower bound


def learn_projection(task, objective="gmm", n_steps=300, batch=512, n_components=3, seed=0):
    """Learn a unit vector a maximising I(a . X; t) by Adam; returns |cos(a, w)| per step and the
    time per step. ``objective`` is 'gmm' (DifferentiableGMMMI) or 'infonce' (a learned critic)."""
    X, t, w = task
    gen = torch.Generator().manual_seed(seed)
    a = torch.nn.Parameter(torch.randn(DIM, generator=gen, dtype=X.dtype))
    params = [a]
    if objective == "gmm":
        mi_of = DifferentiableGMMMI(n_components, rng=seed)
    else:
        torch.manual_seed(seed)
        mi_of = _Critic().to(X.dtype)
        params += list(mi_of.parameters())
    opt = torch.optim.Adam(params, lr=0.05 if objective == "gmm" else 0.01)
    rng = np.random.default_rng(seed)
    cos, t0 = [], time.perf_counter()
    for _ in range(n_steps):
        idx = torch.from_numpy(rng.choice(X.shape[0], batch, replace=False))
        p = X[idx] @ (a / a.norm())
        mi = mi_of(p[:, None], t[idx])
        opt.zero_grad()
        (-mi).backward()
        opt.step()
        cos.append(abs(float(a.detach() @ torch.tensor(w)) / float(a.detach().norm())))
    return {"objective": objective, "abs_cos": cos[-1], "cos_trace": cos,
            "ms_per_step": 1e3 * (time.perf_counter() - t0) / n_steps, "mi": float(mi.detach())}


def train_encoder(penalty, n_steps=300, batch=512, seed=0):
    """A linear encoder z = a . X predicting y = X_0 + X_1, with ``penalty`` times I(z; s) added to
    its squared error; returns the held-out squared error and I(z; s) (fastmi.mutual_info)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((12_000, DIM))
    y = X[:, 0] + X[:, 1]
    s = X[:, 1] ** 2 + 0.3 * rng.standard_normal(X.shape[0])
    Xt, yt, st = torch.tensor(X[:10_000]), torch.tensor(y[:10_000]), torch.tensor(s[:10_000, None])
    gen = torch.Generator().manual_seed(seed)
    a = torch.nn.Parameter(torch.randn(DIM, generator=gen, dtype=torch.float64))
    scale = torch.nn.Parameter(torch.ones((), dtype=torch.float64))
    opt = torch.optim.Adam([a, scale], lr=0.1)
    mi_of = DifferentiableGMMMI(2, rng=seed)
    for _ in range(n_steps):
        idx = torch.from_numpy(rng.choice(10_000, batch, replace=False))
        z = Xt[idx] @ a
        loss = ((scale * z - yt[idx]) ** 2).mean()
        if penalty:
            loss = loss + penalty * mi_of(z[:, None], st[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        z = (torch.tensor(X[10_000:]) @ a).numpy()
        err = float(np.mean((float(scale) * z - y[10_000:]) ** 2))
    mi = fastmi.mutual_info(z, s[10_000:], method="gmm", rng=seed)
    return {"penalty": penalty, "mse": err, "mi_zs": mi.mi, "mi_zs_std": mi.std}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=None, help="save the figure here (PNG)")
    p.add_argument("--steps", type=int, default=100 if SMALL else 300)
    args = p.parse_args()

    task = make_task(seed=0)
    runs = [learn_projection(task, objective, n_steps=args.steps) for objective in ("gmm", "infonce")]
    for r in runs:
        print(f"{r['objective']:>8}: |cos(a, w)| = {r['abs_cos']:.3f} after {args.steps} steps, "
              f"{r['ms_per_step']:.1f} ms per step, MI {r['mi']:.3f} nat")
    encoders = [train_encoder(lam, n_steps=args.steps) for lam in (0.0, 10.0)]
    for e in encoders:
        print(f"penalty {e['penalty']:.1f}: held-out squared error {e['mse']:.3f}, "
              f"I(z; nuisance) = {e['mi_zs']:.3f} +- {e['mi_zs_std']:.3f} nat")

    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    for r in runs:
        ax1.plot(r["cos_trace"], label=f"{r['objective']} ({r['ms_per_step']:.0f} ms/step)")
    ax1.set_xlabel("step")
    ax1.set_ylabel("|cos(a, w)|")
    ax1.set_ylim(0, 1.02)
    ax1.set_title("maximising I(a . X; t)")
    ax1.legend()
    labels = [f"penalty {e['penalty']:g}" for e in encoders]
    ax2.bar(labels, [e["mi_zs"] for e in encoders], yerr=[e["mi_zs_std"] for e in encoders], color=["C0", "C2"])
    for i, e in enumerate(encoders):
        ax2.annotate(f"MSE {e['mse']:.2f}", (i, e["mi_zs"]), ha="center", va="bottom", xytext=(0, 6),
                     textcoords="offset points")
    ax2.set_ylabel("held-out I(z; nuisance) [nat]")
    ax2.set_title("penalising I(z; nuisance)")
    if args.out:
        fig.savefig(args.out, dpi=100)


if __name__ == "__main__":
    main()
