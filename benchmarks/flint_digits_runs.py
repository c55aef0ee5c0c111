"""FLINT at its defaults on a frozen network's hidden layer, and every one of its training runs.

Data: ``digits``, the digits CNN's fc1 (tests/_digits.py, examples/interpret_digits.py's split;
"te" = the held-out test images); ``cancer``, a seeded MLP (30-32-16-2) on scikit-learn's breast
cancer, its second hidden layer, a seeded 70/30 split. ``--inner``: fit on 80 % of the training
rows, "te" = the other 20 % (no test rows used: for tuning). Printed: the fitted FLINT's training
and "te" fidelity; then, per run (``--chosen-only`` skips this), its warm-up, objective, live
attributes and training/"te" fidelity with the jointly trained head, with the head's group-lasso
refit at head_sparsity 0.01, 0.003, 0 (nz: attributes with non-zero weight; val: the refit on
80 % of the training rows scored on the rest, Phi having seen them), and with the relaxed refit
(the 0.01 fit's support refitted at head_sparsity 0 or 0.001). Usage (CPU, one thread):

    PYTHONPATH=. python benchmarks/flint_digits_runs.py --J 10 [--data cancer --seed 0] [--inner] [--chosen-only]
        [--kw key=value ...]
"""
import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.special import softmax

import fastmi.interpret._flint as F
from fastmi.interpret import FLINT, collect_activations, fidelity

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def cancer(seed):
    """MLP on breast cancer: (h_tr, X_tr, f_tr, h_te, f_te, test accuracy)."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    g = np.random.default_rng(seed)
    perm = g.permutation(len(y))
    tr, te = perm[: int(0.7 * len(y))], perm[int(0.7 * len(y)):]
    mu, sd = X[tr].mean(0), X[tr].std(0)
    X = ((X - mu) / sd).astype(np.float32)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(30, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16), torch.nn.ReLU(),
                                  torch.nn.Linear(16, 2))
        opt = torch.optim.Adam(net.parameters(), lr=1e-2, weight_decay=1e-4)
        Xt, yt = torch.from_numpy(X[tr]), torch.from_numpy(y[tr])
        for _ in range(300):
            loss = torch.nn.functional.cross_entropy(net(Xt), yt)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        h = net[:4](torch.from_numpy(X)).numpy()
        f = net(torch.from_numpy(X)).numpy()
    return h[tr], X[tr], f[tr], h[te], f[te], float((f[te].argmax(1) == y[te]).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--J", type=int, default=10)
    ap.add_argument("--rng", type=int, default=0)
    ap.add_argument("--kw", nargs="*", default=[])
    ap.add_argument("--data", default="digits", choices=["digits", "cancer"])
    ap.add_argument("--seed", type=int, default=0, help="data seed (cancer: split and MLP)")
    ap.add_argument("--chosen-only", action="store_true", help="only the fitted FLINT's figures, not every run's")
    ap.add_argument("--inner", action="store_true",
                    help="fit on 80 %% of the training rows and score on the other 20 %% (no test rows used)")
    args = ap.parse_args()
    kw = {k: eval(v) for k, v in (s.split("=", 1) for s in args.kw)}
    torch.set_num_threads(1)
    if args.data == "cancer":
        h_tr, X_tr, f_tr, h_te, f_te, acc = cancer(args.seed)
    else:
        from _digits import digits_cnn

        net, X_tr, y_tr, X_te, y_te, acc = digits_cnn(0)
        h_tr = collect_activations(net, X_tr, {"fc1": "relu3"})["fc1"]
        h_te = collect_activations(net, X_te, {"fc1": "relu3"})["fc1"]
        with torch.no_grad():
            f_tr, f_te = net(torch.from_numpy(X_tr)).numpy(), net(torch.from_numpy(X_te)).numpy()
    print(f"data {args.data} seed {args.seed}: test accuracy {acc:.3f}", flush=True)
    if args.inner:
        perm = np.random.default_rng(1).permutation(len(h_tr))
        a, b = perm[: int(0.8 * len(perm))], perm[int(0.8 * len(perm)):]
        h_tr, X_tr, f_tr, h_te, f_te = h_tr[a], X_tr[a], f_tr[a], h_tr[b], f_tr[b]
        print(f"inner split: fit on {len(a)} training rows, 'te' = the other {len(b)}", flush=True)
    runs, orig = [], F._train

    def rec(*a, **k):
        out = orig(*a, **k)
        runs.append((a[-1] if len(a) > 13 else k.get("warmup", 0.0), copy.deepcopy(out[:3]), out[-1]))
        return out

    F._train = rec
    t = time.perf_counter()
    fl = FLINT(args.J, rng=args.rng, **kw).fit(h_tr, X_tr, f_tr)
    dt = time.perf_counter() - t
    print(f"J={args.J} kw={kw} fit {dt:.0f}s: chosen train fid {fl.fidelity_:.4f} held-out "
          f"{fidelity(fl.predict_logits(h_te), f_te):.4f} live {int(fl.live_attributes_.sum())} "
          f"collapsed {fl.runs_collapsed_} warmed {fl.runs_warmed_up_} objective {fl.objective_:.4f}", flush=True)
    if args.chosen_only:
        return
    Htr = torch.from_numpy(((h_tr - fl._h_mean) / fl._h_std).astype(np.float32))
    Hte = torch.from_numpy(((h_te - fl._h_mean) / fl._h_std).astype(np.float32))
    P = softmax(f_tr, axis=1)
    perm = np.random.default_rng(0).permutation(len(h_tr))
    fit_i, val_i = perm[: int(0.8 * len(perm))], perm[int(0.8 * len(perm)):]
    for i, (w, (phi, head, dec), obj) in enumerate(runs):
        with torch.no_grad():
            A, Ae = phi(Htr).double().numpy(), phi(Hte).double().numpy()
            gj, gje = head(phi(Htr)).numpy(), head(phi(Hte)).numpy()
        W0, b0 = head.weight.detach().double().numpy(), head.bias.detach().double().numpy()
        live = int(F._live(A).sum())
        line = (f"  run {i} warmup {w} obj {obj:.4f} live {live} joint: tr {fidelity(gj, f_tr):.4f} "
                f"te {fidelity(gje, f_te):.4f}")
        for lam in (0.01, 0.003, 0.0):
            W, b = F._sparse_head(A, P, lam, W0, b0)
            Wv, bv = F._sparse_head(A[fit_i], P[fit_i], lam, W0, b0)
            Wc, Ae_ = W - W.mean(0), Ae
            line += (f" | lam {lam}: tr {fidelity(A @ Wc.T + b, f_tr):.4f} te {fidelity(Ae_ @ Wc.T + b, f_te):.4f}"
                     f" val {fidelity(A[val_i] @ (Wv - Wv.mean(0)).T + bv, f_tr[val_i]):.4f}"
                     f" nz {int((np.linalg.norm(W, axis=0) > 0).sum())}")
            if lam == 0.01:  # relaxed: the support of the lam fit, refit there with a smaller lam
                s = np.linalg.norm(W, axis=0) > 0
                for lam2 in (0.0, 0.001):
                    W2 = np.zeros_like(W)
                    W2[:, s], b2 = F._sparse_head(A[:, s], P, lam2, W[:, s], b)
                    line += (f" | relax {lam2}: tr {fidelity(A @ W2.T + b2, f_tr):.4f} "
                             f"te {fidelity(Ae @ W2.T + b2, f_te):.4f}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
