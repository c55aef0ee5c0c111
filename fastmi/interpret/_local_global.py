"""Local-global MI maps and the per-position information bottleneck (optional: torch).

``local_global_map`` estimates, for every position k of an early layer, the InfoNCE bound on
I(x_k; y) between the local features x_ik and the sample's global representation y_i of a
late layer; ``bottleneck_map`` measures the information a frozen downstream head *needs* from
each position; ``representation_decomposition`` sets them side by side (total, decision and
redundant information). User guide: docs/guide/neural.rst."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from .._config import resolve_n_jobs
from .._result import _jsonable, unit_scale
from .._validation import check_choice, check_float, check_int, check_rng, check_unit
from ..neural._torch import frozen_eval, require_torch, resolve_device, seeded, standardize, torch_seed

_WHAT = "the local-global maps"


def _check_local(local, name="local"):
    arr = np.asarray(local.detach().cpu().numpy() if hasattr(local, "detach") else local)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 3:
        raise ValueError(f"{name} must have shape (n_samples, n_positions, n_channels), got {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if arr.shape[0] < 16 or arr.shape[1] < 1 or arr.shape[2] < 1:
        raise ValueError(f"{name} of shape {arr.shape} is too small (too few: at least 16 samples are needed)")
    return arr


def _check_global(global_, n):
    arr = np.asarray(global_.detach().cpu().numpy() if hasattr(global_, "detach") else global_)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"global_ must be numeric, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ValueError(f"global_ must have shape (n_samples={n}, n_features), got {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError("global_ contains NaN or infinite values")
    return arr


@dataclass
class LocalGlobalMap:
    """Per-position InfoNCE between local features and the global representation.

    Attributes
    ----------
    map : ndarray of shape (n_samples, n_positions)
        The pointwise InfoNCE term of every sample and position (rows used for training
        are optimistic: ``held_out`` marks the others).
    summary : ndarray of shape (n_positions,)
        Mean of ``map`` over the held-out rows: the InfoNCE bound on I(x_k; y) per position.
    std : ndarray of shape (n_positions,)
        Standard error of ``summary`` from the held-out batches.
    held_out : ndarray of bool, shape (n_samples,)
    cap : float
        log(eval batch size) (same_position) or log(batch x positions) (all_positions):
        no entry of ``summary`` can exceed it.
    unit : str
    diagnostics : dict
    """

    map: np.ndarray
    summary: np.ndarray
    std: np.ndarray
    held_out: np.ndarray
    cap: float
    unit: str = "nat"
    diagnostics: dict = field(default_factory=dict)

    def to(self, unit):
        """The same map in ``unit`` ('nat' or 'bit')."""
        check_unit(unit)
        f = unit_scale(unit) / unit_scale(self.unit)
        return LocalGlobalMap(self.map * f, self.summary * f, self.std * f, self.held_out, self.cap * f, unit,
                              self.diagnostics)

    def to_dict(self):
        return _jsonable({"summary": self.summary, "std": self.std, "cap": self.cap, "unit": self.unit,
                          "diagnostics": self.diagnostics})

    def __repr__(self):
        vals = ", ".join(f"{v:.3g}" for v in self.summary[:8]) + (", ..." if self.summary.size > 8 else "")
        return f"LocalGlobalMap(n={self.map.shape[0]}, positions={self.map.shape[1]}, summary=[{vals}] {self.unit})"


def local_global_map(local, global_, *, critic="position", negatives="same_position", hidden=32, embed_dim=16,
                     batch_size=128, lr=3e-3, weight_decay=1e-2, max_epochs=300, patience=20, test_size=0.3,
                     device=None, rng=None, n_jobs=None, unit="nat"):
    """Per-position MI map between local features and a global representation (InfoNCE).

    Parameters
    ----------
    local : array-like or tensor of shape (n_samples, n_positions, n_channels)
        Local features x_ik (e.g. a convolutional layer's (N, C, H, W) output reshaped by
        :func:`to_positions`).
    global_ : array-like or tensor of shape (n_samples, n_features)
        The global representation y_i of each sample (a late layer).
    critic : {'position', 'shared'}, default='position'
        'position': f_k(x, y) = g_k(x) . h(y) with one small MLP g_k per position (the
        critic is conditioned on the position). 'shared': one g for every position; it
        cannot tell positions apart and recovers only a fraction of the information when
        positions relate differently to y.
    negatives : {'same_position', 'all_positions'}, default='same_position'
        For the global vector y_i, the negatives are the other samples' features at the
        same position (the bound on I(x_k; y), capped at log B), or every sample's features
        at every position (capped at log(B K)).
    hidden, embed_dim : int
        Width of the hidden layers and of the embeddings (each embedding also has a linear
        skip from the input).
    weight_decay : float, default=1e-2
        Adam weight decay: keeps the critics of uninformative positions near 0.
    batch_size, lr, max_epochs, patience, test_size, device, rng, n_jobs, unit
        As for :func:`fastmi.neural.infonce_mutual_info`; the loss is the mean over
        positions of the per-position InfoNCE bounds.

    Returns
    -------
    LocalGlobalMap
        ``map`` (n_samples, n_positions), ``summary`` (n_positions,) and its ``std``.

    Notes
    -----
    Each channel of ``local`` (over samples and positions) and of ``global_`` is
    standardised. The estimate is a lower bound per position; see Poole et al. (2019) for
    the InfoNCE bound and its log B cap.
    """
    torch = require_torch(_WHAT)
    x = _check_local(local)
    y = _check_global(global_, x.shape[0])
    check_choice(critic, "critic", {"position", "shared"})
    check_choice(negatives, "negatives", {"same_position", "all_positions"})
    for name, v, low in (("hidden", hidden, 1), ("embed_dim", embed_dim, 1), ("batch_size", batch_size, 2),
                         ("max_epochs", max_epochs, 1), ("patience", patience, 1)):
        check_int(v, name, low=low)
    check_float(lr, "lr", low=0.0, low_inclusive=False)
    check_float(weight_decay, "weight_decay", low=0.0)
    check_float(test_size, "test_size", low=0.0, low_inclusive=False)
    if not test_size < 1.0:
        raise ValueError(f"test_size must lie in (0, 1), got {test_size!r}")
    check_unit(unit)
    n_threads = 1 if n_jobs is None else resolve_n_jobs(n_jobs)
    from ._lg_nets import LocalGlobalCritic, pointwise_infonce

    dev = resolve_device(device)
    gen = check_rng(rng)
    n, k, c = x.shape
    xs = standardize(x, (0, 1))[0].astype(np.float32)
    ys = standardize(y, 0)[0].astype(np.float32)
    perm = gen.permutation(n)
    n_test = min(max(4, int(round(test_size * n))), n - 4)
    test, train = perm[:n_test], perm[n_test:]
    b = min(batch_size, n_test // 2)
    nb = n_test // b
    test_batches = test[: nb * b].reshape(nb, b)
    seed = torch_seed(gen)
    with seeded(seed, dev, n_threads):
        X, Y = torch.from_numpy(xs).to(dev), torch.from_numpy(ys).to(dev)
        model = LocalGlobalCritic(k, c, y.shape[1], hidden, embed_dim, shared=critic == "shared").to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        tb = min(batch_size, train.size)
        train_t, test_t = torch.from_numpy(train), torch.from_numpy(test_batches).to(dev)

        def held_out_terms():
            model.eval()
            with torch.no_grad():
                out = torch.stack([pointwise_infonce(model(X[idx], Y[idx]), negatives) for idx in test_t])
            model.train()
            return out.cpu().numpy().astype(np.float64)  # (n_batches, b, K)

        best, best_state, best_epoch, wait, epoch = -math.inf, None, 0, 0, 0
        for epoch in range(1, max_epochs + 1):
            order = train_t[torch.randperm(train.size)]
            for s in range(max(1, train.size // tb)):
                idx = order[s * tb:(s + 1) * tb].to(dev)
                loss = -pointwise_infonce(model(X[idx], Y[idx]), negatives).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            score = float(held_out_terms().mean())
            if score > best + 1e-4:
                best, best_epoch, wait, best_state = score, epoch, 0, copy.deepcopy(model.state_dict())
            else:
                wait += 1
                if wait >= patience:
                    break
        model.load_state_dict(best_state)
        terms = held_out_terms()
        # the map over every row: the training rows in batches of the same size b
        full = np.full((n, k), np.nan)
        full[test_batches.ravel()] = terms.reshape(-1, k)
        rest = np.setdiff1d(np.arange(n), test_batches.ravel())
        rest = rest[gen.permutation(rest.size)]
        model.eval()
        with torch.no_grad():
            for s in range(0, rest.size, b):
                idx = rest[s:s + b]
                if idx.size < 2:  # a last batch of one row: evaluate it with the previous rows
                    idx = rest[-b:]
                full[idx] = pointwise_infonce(model(X[idx], Y[idx]), negatives).cpu().numpy()
    scale = unit_scale(unit)
    per_batch = terms.mean(axis=1)  # (n_batches, K)
    summary = per_batch.mean(axis=0)
    std = per_batch.std(axis=0, ddof=1) / math.sqrt(nb) if nb > 1 else np.full(k, np.nan)
    held = np.zeros(n, dtype=bool)
    held[test_batches.ravel()] = True
    cap = math.log(b) if negatives == "same_position" else math.log(b * k)
    diagnostics = {"critic": critic, "negatives": negatives, "eval_batch_size": b, "n_batches": nb,
                   "n_train": int(train.size), "epochs": epoch, "best_epoch": best_epoch, "device": str(dev),
                   "batch_values": per_batch * scale}
    return LocalGlobalMap(full * scale, summary * scale, std * scale, held, cap * scale, unit, diagnostics)


# ----------------------------------------------------------------------------- the bottleneck
def bottleneck_capacity(alpha, x_std):
    """Capacity (nats) of x' = alpha eps + (1 - alpha) x~ per position: the KL divergence
    from N((1 - alpha) x~, alpha^2 I) to N(0, I), summed over the last (channel) axis.

    ``0.5 * sum_c [alpha^2 + (1 - alpha)^2 x~_c^2 - 1 - 2 log alpha]``; ``alpha`` broadcasts
    against ``x_std[..., 0]``. It is 0 at alpha = 1 (pure noise) and grows without bound as
    alpha -> 0."""
    a = np.asarray(alpha, dtype=np.float64)[..., None]
    x = np.asarray(x_std, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return 0.5 * (a ** 2 + (1 - a) ** 2 * x ** 2 - 1 - 2 * np.log(a)).sum(axis=-1)


@dataclass
class BottleneckMap:
    """The per-position information bottleneck on a frozen head.

    Attributes
    ----------
    alpha : ndarray of shape (n_samples, n_positions)
        The noise fraction of every sample and position (1: the position is replaced by
        noise; 0: it passes untouched); constant over samples for ``alpha='per_position'``.
    capacity : ndarray of shape (n_samples, n_positions)
        Capacity of each position in bits: the information the head may draw from it.
    summary : ndarray of shape (n_positions,)
        Mean capacity per position, in bits.
    total : float
        Sum of ``summary``: bits per sample through the bottleneck.
    task_loss : float
        The head's loss with the bottleneck in place.
    beta : float
    mode : str
    diagnostics : dict
    """

    alpha: np.ndarray
    capacity: np.ndarray
    summary: np.ndarray
    total: float
    task_loss: float
    beta: float
    mode: str
    diagnostics: dict = field(default_factory=dict)

    def __repr__(self):
        vals = ", ".join(f"{v:.3g}" for v in self.summary[:8]) + (", ..." if self.summary.size > 8 else "")
        return f"BottleneckMap(beta={self.beta:g}, mode={self.mode!r}, total={self.total:.4g} bit, summary=[{vals}])"


def bottleneck_map(head, local, labels, beta, *, alpha="per_position", loss="cross_entropy", n_steps=300, lr=0.05,
                   batch_size=None, hidden=16, device=None, rng=None, n_jobs=None):
    """Per-position information bottleneck on a frozen downstream head.

    Parameters
    ----------
    head : torch.nn.Module
        The frozen part of the network after the local layer: it maps a float32 tensor of
        shape (B, n_positions, n_channels) to the task's output (logits for
        ``loss='cross_entropy'``). Its parameters are not trained (their ``requires_grad``
        flags are restored afterwards).
    local : array-like or tensor of shape (n_samples, n_positions, n_channels)
    labels : array-like of shape (n_samples,)
        Integer class labels (cross entropy) or targets (``loss='mse'``).
    beta : float
        Weight of the capacity term, in nats of task loss per nat of capacity (>= 0).
    alpha : {'per_position', 'per_sample', 'readout'}, default='per_position'
        'per_position': one alpha per position, shared by every sample; 'per_sample': one
        per sample and position, each optimised (as in per-image attribution); 'readout': a
        small network predicts alpha from each position's features (amortised).
    loss : {'cross_entropy', 'mse'}, default='cross_entropy'
    n_steps : int, default=300
        Adam steps.
    lr : float, default=0.05
    batch_size : int or None
        Rows per step (None: every row).
    hidden : int, default=16
        Width of the readout network.
    device, rng, n_jobs
        As for :func:`local_global_map`.

    Returns
    -------
    BottleneckMap
        alpha, the capacity map in bits and its per-position mean.

    Notes
    -----
    Each feature is standardised per position and channel, x~ = (x - mu) / sigma; the head
    sees sigma x' + mu with x' = alpha eps + (1 - alpha) x~, eps ~ N(0, I), alpha in
    [0, 1]. The loss is task loss + beta * mean_i sum_k capacity_ik, with the capacity of
    :func:`bottleneck_capacity` (nats; reported in bits). Positions the head does not use
    are driven to alpha = 1 (capacity 0).
    """
    torch = require_torch(_WHAT)
    from torch import nn

    if not isinstance(head, nn.Module):
        raise ValueError(f"head must be a torch.nn.Module, got {type(head).__name__}")
    x = _check_local(local)
    n, k, c = x.shape
    check_float(beta, "beta", low=0.0)
    check_choice(alpha, "alpha", {"per_position", "per_sample", "readout"})
    check_choice(loss, "loss", {"cross_entropy", "mse"})
    check_int(n_steps, "n_steps", low=1)
    check_float(lr, "lr", low=0.0, low_inclusive=False)
    check_int(hidden, "hidden", low=1)
    bs = n if batch_size is None else min(check_int(batch_size, "batch_size", low=1), n)
    lab = np.asarray(labels.detach().cpu().numpy() if hasattr(labels, "detach") else labels)
    if lab.shape[0] != n:
        raise ValueError(f"labels must have {n} entries (one per sample), got {lab.shape[0]}")
    n_threads = 1 if n_jobs is None else resolve_n_jobs(n_jobs)
    dev = resolve_device(device)
    gen = check_rng(rng)
    xt_np, mu, sigma = standardize(x, 0)
    seed = torch_seed(gen)
    with frozen_eval(head):
        with seeded(seed, dev, n_threads):
            Xt = torch.from_numpy(xt_np.astype(np.float32)).to(dev)
            MU = torch.from_numpy(mu.astype(np.float32)).to(dev)
            SIG = torch.from_numpy(sigma.astype(np.float32)).to(dev)
            if loss == "cross_entropy":
                T = torch.from_numpy(lab.astype(np.int64)).to(dev)
                task = nn.functional.cross_entropy
            else:
                T = torch.from_numpy(lab.astype(np.float32)).to(dev)
                task = nn.functional.mse_loss
            if alpha == "per_position":
                theta = nn.Parameter(torch.zeros(k, device=dev))
                params = [theta]

                def logit(idx):
                    return theta.expand(idx.numel(), k)
            elif alpha == "per_sample":
                theta = nn.Parameter(torch.zeros(n, k, device=dev))
                params = [theta]

                def logit(idx):
                    return theta[idx]
            else:
                net = nn.Sequential(nn.Linear(c, hidden), nn.ReLU(), nn.Linear(hidden, 1)).to(dev)
                bias = nn.Parameter(torch.zeros(k, device=dev))
                params = [*net.parameters(), bias]

                def logit(idx):
                    return net(Xt[idx]).squeeze(-1) + bias
            opt = torch.optim.Adam(params, lr=lr)

            def capacity(lg, xt):
                a = torch.sigmoid(lg)
                log_a = nn.functional.logsigmoid(lg)
                return 0.5 * (a[..., None] ** 2 + (1 - a[..., None]) ** 2 * xt ** 2 - 1 - 2 * log_a[..., None]).sum(-1)

            for _ in range(n_steps):
                idx = torch.from_numpy(gen.choice(n, bs, replace=False) if bs < n else np.arange(n)).to(dev)
                lg = logit(idx)
                a = torch.sigmoid(lg)[..., None]
                xt = Xt[idx]
                noisy = a * torch.randn_like(xt) + (1 - a) * xt
                out = head(noisy * SIG + MU)
                obj = task(out, T[idx]) + beta * capacity(lg, xt).sum(-1).mean()
                opt.zero_grad()
                obj.backward()
                opt.step()
            with torch.no_grad():
                idx = torch.arange(n, device=dev)
                lg = logit(idx)
                a = torch.sigmoid(lg)
                cap = capacity(lg, Xt).cpu().numpy().astype(np.float64)
                noisy = a[..., None] * torch.randn_like(Xt) + (1 - a[..., None]) * Xt
                task_loss = float(task(head(noisy * SIG + MU), T))
                alpha_np = a.cpu().numpy().astype(np.float64)
    bits = cap / math.log(2)
    summary = bits.mean(axis=0)
    return BottleneckMap(alpha_np, bits, summary, float(summary.sum()), task_loss, float(beta), alpha,
                         {"n_steps": n_steps, "lr": lr, "loss": loss, "device": str(dev)})


@dataclass
class Decomposition:
    """Total, decision and redundant information per position, in bits.

    ``total`` is the local-global InfoNCE map, ``decision`` the bottleneck capacity map on
    the head, ``redundant = total - decision`` (information the representation holds that
    the decision does not need; negative where the lower bound falls below the capacity).
    Each is (n_samples, n_positions); ``summary`` holds their per-position means (the
    total's over held-out rows)."""

    total: np.ndarray
    decision: np.ndarray
    redundant: np.ndarray
    summary: dict
    local_global: LocalGlobalMap
    bottleneck: BottleneckMap


def representation_decomposition(local, global_, head, labels, beta, *, alpha="per_position", rng=None, device=None,
                                 map_kwargs=None, bottleneck_kwargs=None):
    """The total (local-global), decision (bottleneck) and redundant information maps.

    Parameters
    ----------
    local, global_
        As for :func:`local_global_map`.
    head, labels, beta, alpha
        As for :func:`bottleneck_map`.
    rng, device
        Shared by both estimates (independent streams of ``rng``).
    map_kwargs, bottleneck_kwargs : dict, optional
        Further options of :func:`local_global_map` and :func:`bottleneck_map`.

    Returns
    -------
    Decomposition
    """
    root = np.random.SeedSequence(rng) if not isinstance(rng, np.random.Generator) else \
        np.random.SeedSequence(rng.integers(0, 2**63, size=2).tolist())
    s1, s2 = root.spawn(2)
    lg = local_global_map(local, global_, rng=np.random.default_rng(s1), device=device, unit="bit",
                          **(map_kwargs or {}))
    bn = bottleneck_map(head, local, labels, beta, alpha=alpha, rng=np.random.default_rng(s2), device=device,
                        **(bottleneck_kwargs or {}))
    total = lg.map
    redundant = total - bn.capacity
    summary = {"total": lg.summary, "decision": bn.summary, "redundant": lg.summary - bn.summary}
    return Decomposition(total, bn.capacity, redundant, summary, lg, bn)
