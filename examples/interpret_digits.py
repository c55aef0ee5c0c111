"""
Explanations of a CNN trained on scikit-learn's digits, beside Captum's
=======================================================================

Explanations of a small CNN trained on scikit-learn's digits, side by side with Captum.

A 2-conv CNN is trained on 70 % of ``load_digits`` (1797 8 x 8 images, bundled with
scikit-learn: no download); explanations of ``--n-explain`` test images (the class the CNN
predicts) are scored on deletion and insertion (baseline 0, lower / higher is better) and on
ROAD (noisy linear imputation; MoRF lower, LeRF higher is better), beside a random ordering:

* functional information (``functional_fisher(batch=True)``), 'cov_fi' with the class
  covariance of the training images and 'fi' (its diagonal), on the CNN's softmax;
* the local-global MI map (``local_global_map``) between the conv2 positions (8 x 8, one per
  pixel) and fc1, per image;
* FLINT on fc1 (its defaults): the functional information of the interpreter's probability
  through the CNN, g(Phi(fc1(x)));
* Captum's IntegratedGradients, InputXGradient and Saliency (when captum is installed).

It prints the table (Markdown), the model-randomisation check (Spearman rank correlation after
re-initialising fc2 then fc1) for each gradient method, and saves one figure. CPU, one thread.
Needs ``pip install "fastmi[torch,plot,compare]"``.

    python examples/interpret_digits.py --out interpret_digits.png
"""
import argparse
import os
import time

import numpy as np
import torch
from torch import nn

from fastmi.interpret import (FLINT, collect_activations, estimate_covariance, faithfulness, fidelity,
                              functional_fisher, local_global_map, randomisation_check, to_positions)


def digits_split(seed):
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(0.3 * len(y)))
    return X[perm[n_test:]], y[perm[n_test:]], X[perm[:n_test]], y[perm[:n_test]]


def train_cnn(X, y, seed, epochs=8):
    torch.manual_seed(seed)
    net = nn.Sequential()
    for name, mod in (("conv1", nn.Conv2d(1, 8, 3, padding=1)), ("relu1", nn.ReLU()),
                      ("conv2", nn.Conv2d(8, 16, 3, padding=1)), ("relu2", nn.ReLU()), ("pool", nn.MaxPool2d(2)),
                      ("flat", nn.Flatten()), ("fc1", nn.Linear(16 * 16, 64)), ("relu3", nn.ReLU()),
                      ("drop", nn.Dropout(0.2)), ("fc2", nn.Linear(64, 10))):
        net.add_module(name, mod)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(yt), generator=g).split(64):
            loss = nn.functional.cross_entropy(net(Xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


class Interpreter(nn.Module):
    """FLINT's g(Phi(fc1(x))) as a module of the image: the CNN up to fc1's ReLU, FLINT's
    standardisation of fc1, its attribute network and its linear head."""

    def __init__(self, net, flint):
        super().__init__()
        self.body = net[:8]  # conv1 ... relu3
        self.register_buffer("mean", torch.as_tensor(flint._h_mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(flint._h_std, dtype=torch.float32))
        self.phi, self.head = flint._phi, flint._head

    def forward(self, x):
        return self.head(self.phi((self.body(x) - self.mean) / self.std))


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    p.add_argument("--out", default="interpret_digits.png")
    p.add_argument("--n-explain", type=int, default=100)
    p.add_argument("--n-attributes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true", help="tiny settings, to check that the script runs")
    args = p.parse_args()
    # the documentation's gallery runs every example small (docs/conf.py sets the variable)
    args.smoke = args.smoke or os.environ.get("FASTMI_EXAMPLE_SMALL") == "1"
    if args.smoke:
        args.n_explain = 8
    t0 = time.perf_counter()
    torch.set_num_threads(1)
    X_tr, y_tr, X_te, y_te = digits_split(args.seed)
    net = train_cnn(X_tr, y_tr, args.seed, epochs=1 if args.smoke else 8)
    with torch.no_grad():
        acc = float((net(torch.from_numpy(X_te)).argmax(1).numpy() == y_te).mean())
    print(f"CNN test accuracy {acc:.3f} ({time.perf_counter() - t0:.0f} s)")
    prob = nn.Sequential(net, nn.Softmax(-1))
    Xe = X_te[:args.n_explain]
    tgt = prob(torch.from_numpy(Xe)).argmax(1)
    methods, seconds = {}, {}

    def timed(name, fn):
        t = time.perf_counter()
        methods[name] = np.asarray(fn(), dtype=np.float64).reshape(len(Xe), 8, 8)
        seconds[name] = time.perf_counter() - t

    cov = estimate_covariance(X_tr, y_tr)
    timed("FI cov_fi (class covariance)",
          lambda: functional_fisher(prob, Xe, cov=cov, batch=True, rng=args.seed).map)
    timed("FI fi (diagonal)",
          lambda: functional_fisher(prob, Xe, cov=cov, method="fi", batch=True, rng=args.seed).map)
    # the sampling-based baselines of Gat et al. (2022), under the same mu = N(x, 0.15 S)
    timed("SmoothGrad^2 (same mu)",
          lambda: functional_fisher(prob, Xe, cov=cov, method="smoothgrad_sq", batch=True, rng=args.seed).map)
    timed("VarGrad (same mu)",
          lambda: functional_fisher(prob, Xe, cov=cov, method="vargrad", batch=True, rng=args.seed).map)

    # local-global map: conv2 positions (one per pixel) against fc1, on every image
    X_all = np.concatenate([X_tr, X_te])
    acts = collect_activations(net, X_all, {"local": "relu2", "global": "relu3"})
    local, _ = to_positions(acts["local"])
    t = time.perf_counter()
    lg = local_global_map(local, acts["global"], max_epochs=2 if args.smoke else 40, rng=args.seed)
    methods["local-global map"] = lg.map[len(X_tr):len(X_tr) + len(Xe)].reshape(len(Xe), 8, 8)
    seconds["local-global map"] = time.perf_counter() - t

    # FLINT on fc1 at its defaults; held-out fidelity on the test images
    h_tr = collect_activations(net, X_tr, {"fc1": "relu3"})["fc1"]
    h_te = collect_activations(net, X_te, {"fc1": "relu3"})["fc1"]
    with torch.no_grad():
        f_tr, f_te = net(torch.from_numpy(X_tr)).numpy(), net(torch.from_numpy(X_te)).numpy()
    t = time.perf_counter()
    smoke = {"n_init": 1, "n_steps": 20} if args.smoke else {}  # otherwise FLINT's defaults
    fl = FLINT(args.n_attributes, rng=args.seed, **smoke).fit(h_tr, X_tr, f_tr)
    flint_fid = fidelity(fl.predict_logits(h_te), f_te)
    g_prob = nn.Sequential(Interpreter(net, fl), nn.Softmax(-1))
    methods["FLINT (FI of g)"] = functional_fisher(g_prob, Xe, target=tgt, cov=cov, batch=True, rng=args.seed).map
    seconds["FLINT (FI of g)"] = time.perf_counter() - t
    print(f"FLINT J={args.n_attributes}: held-out fidelity {flint_fid:.3f}, "
          f"{int(fl.live_attributes_.sum())} live attributes")

    try:
        from captum.attr import InputXGradient, IntegratedGradients, Saliency
    except ImportError:
        print("captum is not installed: its methods are left out (pip install captum)")
        captum = {}
    else:
        captum = {"Captum IntegratedGradients": IntegratedGradients, "Captum InputXGradient": InputXGradient,
                  "Captum Saliency": Saliency}
        xt = torch.from_numpy(Xe)
        for name, cls in captum.items():
            timed(name, lambda cls=cls: cls(net).attribute(xt.clone(), target=tgt).detach().numpy())
    methods["random"] = np.random.default_rng(args.seed).random((len(Xe), 8, 8))
    seconds["random"] = 0.0

    rows = []
    for name, maps in methods.items():
        r = faithfulness(prob, Xe, maps[:, None], target=tgt.numpy(), n_random=0, road=True, rng=args.seed)
        rows.append((name, r.deletion_auc, r.insertion_auc, r.road_morf_auc, r.road_lerf_auc, seconds[name]))
    print(f"\n{len(Xe)} test images, target = the CNN's prediction; AUC over the share of pixels moved")
    print("| method | deletion (lower) | insertion (higher) | ROAD MoRF (lower) | ROAD LeRF (higher) | seconds |")
    print("|---|---|---|---|---|---|")
    for name, *vals, sec in rows:
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | {sec:.1f} |")

    # model randomisation (Adebayo et al.): fc2, then fc1 re-initialised
    def fi_attr(model, x, target):
        pm = nn.Sequential(model, nn.Softmax(-1))
        return functional_fisher(pm, x, target=target, cov=cov, batch=True, n_samples=32, rng=args.seed).attributions

    checks = {"FI cov_fi": fi_attr}
    if captum:
        checks.update({k.replace("Captum ", ""): v for k, v in captum.items()})
    print("\nrandomisation check: mean Spearman correlation of |attributions| after re-initialising")
    for name, attr in checks.items():
        rc = randomisation_check(net, Xe, attr, layers=["fc2", "fc1"], rng=args.seed)
        print(f"  {name:22s} " + ", ".join(f"{layer}: {m:.2f}" for layer, m in zip(rc.layers, rc.mean)))

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure")
        return
    names = [n for n in methods if n != "random"]
    fig, axes = plt.subplots(4, len(names) + 1, figsize=(1.6 * (len(names) + 1), 6.8))
    for i in range(4):
        axes[i, 0].imshow(Xe[i, 0], cmap="gray")
        axes[i, 0].set_title(f"pred {int(tgt[i])}", fontsize=8)
        for j, name in enumerate(names):
            axes[i, j + 1].imshow(methods[name][i], cmap="magma")
            if i == 0:
                axes[i, j + 1].set_title(name.replace(" (", "\n("), fontsize=7)
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"\nsaved {args.out} ({time.perf_counter() - t0:.0f} s in all)")


if __name__ == "__main__":
    main()
