"""Variational MI bounds with a learned critic: InfoNCE, NWJ, MINE (lower bounds) and CLUB
(an upper bound), trained with early stopping and evaluated on held-out batches.

PyTorch is imported on first call, never at import (``import fastmi`` stays torch-free)."""
from __future__ import annotations

import copy
import math
import warnings

import numpy as np

from .._config import resolve_n_jobs
from .._result import MIResult, resampling_info, unit_scale
from .._validation import check_continuous, check_float, check_int, check_rng, check_same_length, check_unit
from ._torch import require_torch, resolve_device, seeded, standardize, torch_seed

_MIN_SAMPLES = 16
_POINT = "mean over held-out batches"

_COMMON_DOC = """
    x : array-like of shape (n_samples,) or (n_samples, dx)
    y : array-like of shape (n_samples,) or (n_samples, dy)
        Continuous samples; each column is standardised before training.
    hidden : int, default=64
        Width of the hidden layers.
    n_layers : int, default=1
        Number of hidden layers.
    batch_size : int, default=256
        Rows per training batch, and per held-out evaluation batch (fewer when the held-out
        set is small: at least two held-out batches are always formed).
    lr : float or None, default=None
        Adam learning rate; None is 1e-2 for the bilinear critic (zero-initialised, linear
        in its parameters) and 1e-3 for the others.
    weight_decay : float, default=0.0
        Adam weight decay.
    max_epochs : int, default=300
        Upper bound on passes over the training rows.
    patience : int, default=20
        Stop when the held-out objective has not improved for this many epochs; the
        parameters of the best epoch are kept.
    test_size : float, default=0.3
        Fraction of the rows held out: they choose the stopping epoch and give the
        estimate (so the selection favours the estimate slightly; keep it large).
    device : None, str or torch.device, default=None
        Where to train: None is the CPU; 'cuda' needs a PyTorch built with CUDA.
    rng : None, int, SeedSequence or Generator
        Seeds the split, the batches and torch's initialisation (through a forked torch
        generator, so torch's global state is left as it was). On the CPU a seed gives the
        same result on every run.
    n_jobs : int or None, default=None
        Torch intra-op threads during the call, restored afterwards; -1 is every core. None
        is one thread: small critics gain nothing from more, and torch's thread pool can
        stall for tens of milliseconds per step on a busy machine.
    unit : {'nat', 'bit'}, default='nat'"""

_RESULT_DOC = """
    Returns
    -------
    MIResult
        ``mi`` is the mean of the bound over disjoint held-out batches; ``std`` is the
        standard error of that mean (std of the batch values over sqrt(number of batches));
        ``samples`` are the batch values shrunk around ``mi`` to the same spread
        (``mi + (v - mean(v)) / sqrt(n_batches)``). ``diagnostics['resampling']['scheme']``
        is 'held-out batches'; ``diagnostics`` also holds ``bound`` ('lower' or 'upper'),
        ``batch_values`` (raw, in ``unit``), ``eval_batch_size``, ``n_train``, ``n_test``,
        ``epochs``, ``best_epoch``, ``stopped_early``, ``history`` (held-out objective per
        epoch), ``critic`` and ``device``."""


def _doc(fn):
    fn.__doc__ = fn.__doc__.replace("{common}", _COMMON_DOC).replace("{result}", _RESULT_DOC)
    return fn


def _check_inputs(x, y, batch_size, lr, weight_decay, max_epochs, patience, test_size, hidden, n_layers, unit, n_jobs):
    x = check_continuous(x, "x")
    y = check_continuous(y, "y")
    check_same_length(x=x, y=y)
    n = x.shape[0]
    check_unit(unit)
    n_threads = 1 if n_jobs is None else resolve_n_jobs(n_jobs)
    check_int(batch_size, "batch_size", low=2)
    check_int(max_epochs, "max_epochs", low=1)
    check_int(patience, "patience", low=1)
    check_int(hidden, "hidden", low=1)
    check_int(n_layers, "n_layers", low=0)
    if lr is not None:
        check_float(lr, "lr", low=0.0, low_inclusive=False)
    check_float(weight_decay, "weight_decay", low=0.0)
    check_float(test_size, "test_size", low=0.0, low_inclusive=False)
    if not test_size < 1.0:
        raise ValueError(f"test_size must lie in (0, 1), got {test_size!r}")
    if n < _MIN_SAMPLES:
        raise ValueError(f"the neural estimators need at least {_MIN_SAMPLES} samples (too few: n={n})")
    return x, y, n_threads


def _split(n, test_size, batch_size, gen):
    """Training rows, and the held-out rows cut into >= 2 equal evaluation batches."""
    perm = gen.permutation(n)
    n_test = min(max(4, int(round(test_size * n))), n - 4)
    test, train = perm[:n_test], perm[n_test:]
    b = min(batch_size, n_test // 2)
    n_batches = n_test // b
    return train, test[: n_batches * b].reshape(n_batches, b)


def _float32(z, name):
    """Standardised data as float32, the critics' precision; a ValueError naming ``name`` where
    overflows."""
    out = z.astype(np.float32)
    if not np.isfinite(out).all():
        raise ValueError(f"{name} is not finite once standardised and cast to float32; rescale it")
    return out


def _fit(kind, x, y, *, critic, hidden, embed_dim, n_layers, batch_size, lr, weight_decay, max_epochs, patience,
         test_size, ema, device, rng, n_threads, unit):
    torch = require_torch()
    from . import _nets

    dev = resolve_device(device)
    gen = check_rng(rng)
    n = x.shape[0]
    xs = _float32(standardize(x, name="x")[0], "x")
    ys = _float32(standardize(y, name="y")[0], "y")
    train, batches = _split(n, test_size, batch_size, gen)
    seed = torch_seed(gen)
    with seeded(seed, dev, n_threads):
        X = torch.from_numpy(xs).to(dev)
        Y = torch.from_numpy(ys).to(dev)
        if kind == "club":
            model = _nets.GaussianConditional(x.shape[1], y.shape[1], hidden, n_layers).to(dev)
            critic_name = "gaussian conditional q(y|x)"
        else:
            model = _nets.make_critic(critic, x.shape[1], y.shape[1], hidden, embed_dim, n_layers).to(dev)
            critic_name = critic if isinstance(critic, str) else type(critic).__name__
        bound = getattr(_nets, "donsker_varadhan" if kind == "mine" else kind)  # the objective on (B, B) scores
        params = list(model.parameters())
        if not params:
            raise ValueError("the critic has no trainable parameters")
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
        tb = min(batch_size, train.size)
        train_t = torch.from_numpy(train)
        test_t = torch.from_numpy(batches).to(dev)

        def evaluate():
            """The bound on each held-out batch (and, for CLUB, the held-out log-likelihood)."""
            model.eval()
            with torch.no_grad():
                vals, ll = [], []
                for idx in test_t:
                    xb, yb = X[idx], Y[idx]
                    if kind == "club":
                        logq = model.log_prob_matrix(xb, yb)
                        vals.append(float(_nets.club(logq)))
                        ll.append(float(logq.diagonal().mean()))
                    else:
                        vals.append(float(bound(model(xb, yb))))
            model.train()
            return np.array(vals), (float(np.mean(ll)) if ll else None)

        ma = None
        best, best_state, best_epoch, history, wait = -math.inf, None, 0, [], 0
        epoch = 0
        for epoch in range(1, max_epochs + 1):
            order = train_t[torch.randperm(train.size)]
            n_steps = max(1, train.size // tb)  # drop the ragged last batch: every batch has tb rows
            for s in range(n_steps):
                idx = order[s * tb:(s + 1) * tb].to(dev)
                xb, yb = X[idx], Y[idx]
                if kind == "club":
                    loss = -model.log_prob(xb, yb).mean()
                elif kind == "mine":
                    sc = model(xb, yb)
                    pos = sc.diagonal().mean()
                    lme = _nets._offdiag_logmeanexp(sc)
                    # moving average of E_q[e^f] in the gradient's denominator (Belghazi et al. 2018, sec. 3.2)
                    cur = lme.detach().exp()
                    ma = cur if ma is None else (1 - ema) * ma + ema * cur
                    loss = -(pos - torch.exp(lme) / ma)
                else:
                    loss = -bound(model(xb, yb))
                opt.zero_grad()
                loss.backward()
                opt.step()
            vals, ll = evaluate()
            score = ll if kind == "club" else float(vals.mean())
            if not math.isfinite(score):
                break
            history.append(float(vals.mean()))
            if score > best + 1e-4:
                best, best_epoch, wait = score, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                wait += 1
                if wait >= patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        vals, _ = evaluate()
    if not np.isfinite(vals).all():
        raise FloatingPointError(f"{kind}: the trained critic gives non-finite held-out values; lower lr")
    scale = unit_scale(unit)
    k = vals.size
    mi = float(vals.mean())
    std = float(vals.std(ddof=1) / math.sqrt(k))
    samples = mi + (vals - mi) / math.sqrt(k)
    b = batches.shape[1]
    diagnostics = {
        "resampling": resampling_info("held-out batches", _POINT, k, eval_batch_size=b,
                                      description="the trained critic evaluated on disjoint held-out batches; "
                                                  "std is the standard error of their mean"),
        "bound": "upper" if kind == "club" else "lower", "batch_values": vals * scale, "eval_batch_size": b, "n_train": int(train.size),
        "n_test": int(batches.size), "epochs": epoch, "best_epoch": best_epoch,
        "stopped_early": epoch < max_epochs, "history": np.array(history) * scale, "critic": critic_name,
        "device": str(dev),
    }
    if kind == "infonce":
        cap = math.log(b)
        diagnostics["cap"] = cap * scale
        diagnostics["cap_note"] = (f"InfoNCE cannot exceed log(batch size) = log({b}) = {cap:.3f} nat; "
                                   "an estimate near it says only that the MI is at least that large")
        if mi > cap - 0.5:
            warnings.warn(f"InfoNCE estimate {mi:.3f} nat is near its cap log({b}) = {cap:.3f} nat: the MI may be "
                          "larger; raise batch_size (and the number of samples)", RuntimeWarning, stacklevel=4)
    return MIResult(mi=mi * scale, std=std * scale, samples=samples * scale, unit=unit, method=kind,
                    diagnostics=diagnostics)


def _run(kind, x, y, critic="separable", hidden=64, embed_dim=32, n_layers=1, batch_size=256, lr=None,
         weight_decay=0.0, max_epochs=300, patience=20, test_size=0.3, ema=0.01, device=None, rng=None, n_jobs=None,
         unit="nat"):
    require_torch()
    x, y, n_threads = _check_inputs(x, y, batch_size, lr, weight_decay, max_epochs, patience, test_size, hidden,
                                    n_layers, unit, n_jobs)
    torch = require_torch()
    known = critic in ("separable", "bilinear", "mlp") if isinstance(critic, str) else isinstance(critic, torch.nn.Module)
    if not known:
        raise ValueError(f"critic must be 'separable', 'bilinear', 'mlp' or a torch.nn.Module, got {critic!r}")
    check_int(embed_dim, "embed_dim", low=1)
    if lr is None:
        lr = 1e-2 if critic == "bilinear" else 1e-3
    return _fit(kind, x, y, critic=critic, hidden=hidden, embed_dim=embed_dim, n_layers=n_layers,
                batch_size=batch_size, lr=lr, weight_decay=weight_decay, max_epochs=max_epochs, patience=patience,
                test_size=test_size, ema=ema, device=device, rng=rng, n_threads=n_threads, unit=unit)


@_doc
def infonce_mutual_info(x, y, *, critic="separable", hidden=64, embed_dim=32, n_layers=1, batch_size=256, lr=None,
                        weight_decay=0.0, max_epochs=300, patience=20, test_size=0.3, device=None, rng=None,
                        n_jobs=None, unit="nat"):
    """InfoNCE lower bound on I(X; Y) with a learned critic (van den Oord et al. 2018).

    Parameters
    ----------
    critic : {'separable', 'bilinear', 'mlp'} or torch.nn.Module, default='separable'
        'separable': f(x, y) = g(x) . h(y) with MLP embeddings; 'bilinear': x^T W y;
        'mlp': an MLP on the concatenated pair; or a module called as ``critic(x, y)`` on
        (B, dx) and (B, dy) float32 tensors that returns the (B, B) scores f(x_i, y_j).
    embed_dim : int, default=32
        Embedding size of the separable critic.
{common}
{result}
        ``diagnostics['cap']`` is log(eval_batch_size) in ``unit``: InfoNCE can never
        exceed it.

    Notes
    -----
    I(X; Y) >= E[ f(x_i, y_i) - log (1/B) sum_j exp f(x_i, y_j) ] over batches of B pairs,
    the other rows' y being the negatives. The bound is at most log B whatever the critic:
    it is tight for MI well below log B and saturates above (a warning is raised within
    0.5 nat of the cap). Low variance; the method of choice when MI < log B.

    References
    ----------
    .. [1] A. van den Oord, Y. Li, O. Vinyals, "Representation learning with contrastive
       predictive coding", arXiv:1807.03748 (2018).
    .. [2] B. Poole et al., "On variational bounds of mutual information", ICML 2019.
    """
    return _run("infonce", x, y, critic=critic, hidden=hidden, embed_dim=embed_dim, n_layers=n_layers,
                batch_size=batch_size, lr=lr, weight_decay=weight_decay, max_epochs=max_epochs, patience=patience,
                test_size=test_size, device=device, rng=rng, n_jobs=n_jobs, unit=unit)


@_doc
def nwj_mutual_info(x, y, *, critic="separable", hidden=64, embed_dim=32, n_layers=1, batch_size=256, lr=None,
                    weight_decay=0.0, max_epochs=300, patience=20, test_size=0.3, device=None, rng=None, n_jobs=None,
                    unit="nat"):
    """NWJ lower bound on I(X; Y) with a learned critic (Nguyen, Wainwright & Jordan 2010).

    Parameters
    ----------
    critic : {'separable', 'bilinear', 'mlp'} or torch.nn.Module, default='separable'
        As for :func:`infonce_mutual_info`.
    embed_dim : int, default=32
{common}
{result}

    Notes
    -----
    I(X; Y) >= E_p[f] - e^-1 E_{p(x)p(y)}[e^f], the product of marginals sampled by the
    off-diagonal pairs of each batch. No log B cap, but the variance grows like e^MI.

    References
    ----------
    .. [1] X. Nguyen, M. J. Wainwright, M. I. Jordan, "Estimating divergence functionals and
       the likelihood ratio by convex risk minimization", IEEE Trans. Inf. Theory (2010).
    """
    return _run("nwj", x, y, critic=critic, hidden=hidden, embed_dim=embed_dim, n_layers=n_layers,
                batch_size=batch_size, lr=lr, weight_decay=weight_decay, max_epochs=max_epochs, patience=patience,
                test_size=test_size, device=device, rng=rng, n_jobs=n_jobs, unit=unit)


@_doc
def mine_mutual_info(x, y, *, critic="separable", hidden=64, embed_dim=32, n_layers=1, batch_size=256, lr=None,
                     weight_decay=0.0, max_epochs=300, patience=20, test_size=0.3, ema=0.01, device=None, rng=None,
                     n_jobs=None, unit="nat"):
    """MINE: the Donsker-Varadhan lower bound on I(X; Y) with a learned critic (Belghazi et al. 2018).

    Parameters
    ----------
    critic : {'separable', 'bilinear', 'mlp'} or torch.nn.Module, default='separable'
        As for :func:`infonce_mutual_info`.
    embed_dim : int, default=32
    ema : float, default=0.01
        Rate of the moving average of E_q[e^f] that replaces the mini-batch value in the
        gradient's denominator (MINE's bias correction).
{common}
{result}

    Notes
    -----
    I(X; Y) >= E_p[f] - log E_{p(x)p(y)}[e^f]. The mini-batch gradient of the log term is
    biased; MINE divides the gradient of E_q[e^f] by a moving average of E_q[e^f] instead
    of the batch value. The held-out value is the plain DV bound on each batch (off-diagonal
    pairs as negatives); it is biased upward on small batches by the log of a mean.

    References
    ----------
    .. [1] M. I. Belghazi et al., "Mutual information neural estimation", ICML 2018.
    """
    check_float(ema, "ema", low=0.0, low_inclusive=False)
    if not ema <= 1.0:
        raise ValueError(f"ema must lie in (0, 1], got {ema!r}")
    return _run("mine", x, y, critic=critic, hidden=hidden, embed_dim=embed_dim, n_layers=n_layers,
                batch_size=batch_size, lr=lr, weight_decay=weight_decay, max_epochs=max_epochs, patience=patience,
                test_size=test_size, ema=ema, device=device, rng=rng, n_jobs=n_jobs, unit=unit)


@_doc
def club_mutual_info(x, y, *, hidden=64, n_layers=1, batch_size=256, lr=None, weight_decay=0.0, max_epochs=300,
                     patience=20, test_size=0.3, device=None, rng=None, n_jobs=None, unit="nat"):
    """CLUB: a contrastive log-ratio upper bound on I(X; Y) (Cheng et al. 2020).

    Parameters
    ----------
{common}
{result}

    Notes
    -----
    A Gaussian q(y | x) = N(mu(x), diag sigma^2(x)) is fitted by maximum likelihood (early
    stopping on the held-out log-likelihood), and
    I_CLUB = E_p[log q(y|x)] - E_{p(x)} E_{p(y)}[log q(y|x)]. It bounds I(X; Y) from above
    when q is close to p(y | x) (exactly so when KL(p(x,y) || q(y|x)p(x)) <=
    KL(p(x)p(y) || q(y|x)p(x))); a poor q can under- or over-shoot.

    References
    ----------
    .. [1] P. Cheng et al., "CLUB: a contrastive log-ratio upper bound of mutual
       information", ICML 2020.
    """
    return _run("club", x, y, hidden=hidden, n_layers=n_layers, batch_size=batch_size, lr=lr,
                weight_decay=weight_decay, max_epochs=max_epochs, patience=patience, test_size=test_size,
                device=device, rng=rng, n_jobs=n_jobs, unit=unit)
