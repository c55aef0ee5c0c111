"""Functional-information attribution (Gat, Calderon, Reichart & Hazan, ICML 2022).

For a positive model output f (a target-class probability) and the Gaussian mu = N(x, Sigma)
around an input x, the Gaussian log-Sobolev inequality bounds the functional entropy,

    Ent_mu(f) = E[f log f] - E[f] log E[f] <= 1/2 E_mu[grad f^T Sigma grad f / f],

with equality when f = exp(a . x). The per-feature terms FI_i = 1/2 E_mu[(Sigma grad f)_i d_i f / f]
sum to the bound and say how much each feature (or group) contributes to the decision. The
expectation is a Monte-Carlo mean over z = x + L eps, L L^T = Sigma = spread * S. Works on NumPy
callables (central finite differences) without torch; a ``torch.nn.Module`` is differentiated
with autograd (torch imported on first use). User guide: docs/guide/neural.rst."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._result import _jsonable
from .._validation import check_choice, check_float, check_int, check_rng

_METHODS = ("cov_fi", "fi", "smoothgrad", "smoothgrad_sq", "vargrad")
_CHUNK = 4096  # rows per call of the model


def _is_module(f):
    """True when ``f`` is a torch.nn.Module (without importing torch when it is not loaded)."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(f, torch.nn.Module)


def _module_dtype(model):
    for p in model.parameters():
        return p.dtype
    import torch

    return torch.float32


def _module_device(model):
    for p in model.parameters():
        return p.device
    import torch

    return torch.device("cpu")


def _as_output(out, target, name="f"):
    """The (m,) target column of a model output of shape (m,) or (m, n_classes)."""
    out = np.asarray(out, dtype=np.float64)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim == 1:
        return out
    if out.ndim != 2:
        raise ValueError(f"{name} must return shape (m,) or (m, n_classes), got {out.shape}")
    return out[:, target]


def model_outputs(f, z, *, batch_size=_CHUNK):
    """Outputs of ``f`` (a NumPy callable or a torch module, no gradients) on the batch ``z``,
    as a float64 array of shape (m,) or (m, n_classes)."""
    z = np.asarray(z)
    outs = []
    if _is_module(f):
        import torch

        from ..neural._torch import frozen_eval

        dtype, dev = _module_dtype(f), _module_device(f)
        with frozen_eval(f, freeze=False), torch.no_grad():
            for s in range(0, z.shape[0], batch_size):
                zt = torch.as_tensor(z[s:s + batch_size], dtype=dtype, device=dev)
                outs.append(f(zt).detach().cpu().double().numpy())
    else:
        for s in range(0, z.shape[0], batch_size):
            outs.append(np.asarray(f(z[s:s + batch_size]), dtype=np.float64))
    out = np.concatenate(outs)
    if out.shape[0] != z.shape[0]:
        raise ValueError(f"f returned {out.shape[0]} rows for a batch of {z.shape[0]} inputs")
    return out


def finite_difference_grad(f, z, *, target=None, step=None):
    """Central finite-difference gradient of the target output of the NumPy callable ``f``.

    Parameters
    ----------
    f : callable
        Maps a batch of shape (m, *shape) to outputs (m,) or (m, n_classes).
    z : ndarray of shape (m, *shape)
    target : int or None
        Output column (2-D outputs).
    step : float or None
        Step h; default eps**(1/3) * max(1, |z_i|) per coordinate.

    Returns
    -------
    ndarray of shape (m, *shape)
        (f(z + h e_i) - f(z - h e_i)) / (2 h) for every coordinate i.
    """
    z = np.asarray(z, dtype=np.float64)
    m, shape = z.shape[0], z.shape[1:]
    flat = z.reshape(m, -1)
    d = flat.shape[1]
    h = (np.finfo(np.float64).eps ** (1 / 3) * np.maximum(1.0, np.abs(flat)) if step is None
         else np.full_like(flat, check_float(step, "step", low=0.0, low_inclusive=False)))
    # make h exactly representable so that (z + h) - (z - h) == 2h
    h = (flat + h) - flat
    grad = np.empty_like(flat)
    rows = max(1, _CHUNK // (2 * d))
    eye = np.eye(d)
    for s in range(0, m, rows):
        zs, hs = flat[s:s + rows], h[s:s + rows]
        k = zs.shape[0]
        shift = hs[:, None, :] * eye  # (k, d, d): row i moves coordinate i
        plus = (zs[:, None, :] + shift).reshape(k * d, *shape)
        minus = (zs[:, None, :] - shift).reshape(k * d, *shape)
        fp = _as_output(model_outputs(f, plus), target).reshape(k, d)
        fm = _as_output(model_outputs(f, minus), target).reshape(k, d)
        grad[s:s + k] = (fp - fm) / (2 * hs)
    return grad.reshape(z.shape)


def _log_prob_module(model, output):
    """A callable whose output is log f, or None when ``model`` returns f itself.

    ``output='auto'``: a ``nn.Sequential`` ending in ``nn.Softmax`` is differentiated as the
    log-softmax of its body (exact, and free of the float32 underflow of softmax far from
    the decision boundary); one ending in ``nn.LogSoftmax`` already returns log f."""
    from torch import nn

    if output == "log_prob":
        return model
    if output == "auto" and isinstance(model, nn.Sequential) and len(model) > 0:
        last = model[-1]
        if isinstance(last, nn.LogSoftmax):
            return model
        if isinstance(last, nn.Softmax) and len(model) > 1:
            import torch

            dim = 1 if last.dim is None else last.dim
            body = model[:-1]
            return lambda z: torch.log_softmax(body(z), dim)
    return None


def _returns_log(f, output):
    """True when the outputs of ``f`` are log f: ``output='log_prob'``, or a torch
    ``nn.Sequential`` ending in ``nn.LogSoftmax`` under 'auto'."""
    if output == "log_prob":
        return True
    if output == "auto" and _is_module(f):
        from torch import nn

        return isinstance(f, nn.Sequential) and len(f) > 0 and isinstance(f[-1], nn.LogSoftmax)
    return False


def _select(out, targets, name="f"):
    """The per-row target column of a torch output of shape (m,) or (m, n_classes)."""
    if out.ndim == 2 and out.shape[1] == 1:
        return out[:, 0]
    if out.ndim == 1:
        return out
    if out.ndim != 2:
        raise ValueError(f"{name} must return shape (m,) or (m, n_classes), got {tuple(out.shape)}")
    return out.gather(1, targets[:, None])[:, 0]


_SAVED_BYTES = 2 ** 23  # activations kept for the backward per chunk: cache-sized, see below
_PROBE_ROWS = 128


def _torch_values_grads(model, z, targets, output="auto", rows=None):
    """By autograd at every row of ``z`` (``targets``: one output column per row): the values
    and gradients of log f with ``True`` when the model's log f is available (see
    :func:`_log_prob_module`), else those of f with ``False``.

    ``rows=None``: the first chunk (128 rows; fewer for inputs of over 2^11 values) measures
    the bytes per row that the forward keeps for the backward, and the next chunks keep about
    8 MiB. Chunks sized by the input alone (2^18 / d rows: 4096 on 8 x 8 images) kept ~60 MB
    of activations on a digits CNN and ran ~1.3x slower than cache-sized ones, while an MLP
    wants chunks as large as possible (Python overhead per chunk). Only the gradient w.r.t.
    the input is taken (``autograd.grad``, parameters frozen): no weight gradients."""
    import torch

    from ..neural._torch import frozen_eval

    dtype, dev = _module_dtype(model), _module_device(model)
    n = z.shape[0]
    vals, grads = np.empty(n), np.empty(z.shape)
    with frozen_eval(model):
        log_model = _log_prob_module(model, output)
        net = model if log_model is None else log_model
        tg = torch.as_tensor(np.asarray(targets, dtype=np.int64), device=dev)
        d = int(np.prod(z.shape[1:]))
        s, step = 0, (min(n, _PROBE_ROWS, max(16, 2 ** 18 // max(1, d))) if rows is None else rows)
        while s < n:
            e = min(n, s + step)
            zt = torch.as_tensor(z[s:e], dtype=dtype, device=dev).requires_grad_(True)
            if rows is None and s == 0 and e < n:
                saved = [0]

                def pack(t, k=e - s):
                    if t.dim() and t.shape[0] == k:  # per-row tensors, not the weights
                        saved[0] += t.numel() * t.element_size()
                    return t

                with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                    out = _select(net(zt), tg[s:e])
                step = int(np.clip(_SAVED_BYTES * (e - s) // max(1, saved[0]), 16, 2 ** 16))
            else:
                out = _select(net(zt), tg[s:e])
            (g,) = torch.autograd.grad(out.sum(), zt)
            vals[s:e] = out.detach().cpu().double().numpy()
            grads[s:e] = g.detach().cpu().double().numpy()
            s = e
    return vals, grads, log_model is not None


def _sqrt_psd(c):
    """A square root L (L L^T = c) of a symmetric PSD matrix, via eigh (singular c allowed)."""
    w, v = np.linalg.eigh(0.5 * (c + c.T))
    if w.min() < -1e-8 * max(1.0, abs(w.max())):
        raise ValueError(f"cov must be positive semi-definite; smallest eigenvalue {w.min():.3g}")
    return v * np.sqrt(np.clip(w, 0.0, None))


_FACTORS: dict = {}  # digest of S -> its square root; eigh of a d x d S dominated repeated calls
_MAX_FACTORS = 16


def _cached_sqrt(S):
    """:func:`_sqrt_psd` of ``S``, kept for the next calls with the same matrix."""
    import hashlib

    key = (S.shape, hashlib.blake2b(np.ascontiguousarray(S).tobytes(), digest_size=16).digest())
    L = _FACTORS.get(key)
    if L is None:
        L = _sqrt_psd(S)
        L.setflags(write=False)
        if len(_FACTORS) >= _MAX_FACTORS:
            _FACTORS.pop(next(iter(_FACTORS)))
        _FACTORS[key] = L
    return L


def estimate_covariance(X, y=None, *, shrinkage="ledoit_wolf"):
    """Data covariance S for :func:`functional_fisher`, optionally one per class.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Inputs; trailing axes (images: C, H, W) are flattened.
    y : array-like of shape (n_samples,), optional
        Class labels: a covariance per class (class-conditional S).
    shrinkage : 'ledoit_wolf', float in [0, 1] or None, default='ledoit_wolf'
        Shrink towards (tr S / d) I: by the Ledoit-Wolf coefficient, by the given weight,
        or not at all (None or 0).

    Returns
    -------
    ndarray of shape (d, d), or dict of label to ndarray
        The (shrunk) covariance with ``1/n`` normalisation; a dict ``{label: cov}`` when ``y``
        is given.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim < 2 or X.shape[0] < 2:
        raise ValueError(f"X must have shape (n_samples >= 2, n_features...), got {X.shape}")
    X = X.reshape(X.shape[0], -1)
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinite values")
    if not (shrinkage is None or shrinkage == "ledoit_wolf"):
        check_float(shrinkage, "shrinkage", low=0.0)
        if shrinkage > 1:
            raise ValueError(f"shrinkage must be 'ledoit_wolf', None or in [0, 1], got {shrinkage}")
    if y is not None:
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
        out = {}
        for label in np.unique(y):
            rows = X[y == label]
            if rows.shape[0] < 2:
                raise ValueError(f"class {label!r} has {rows.shape[0]} sample(s); at least 2 are needed")
            out[label.item() if hasattr(label, "item") else label] = _shrunk_cov(rows, shrinkage)
        return out
    return _shrunk_cov(X, shrinkage)


def _shrunk_cov(X, shrinkage):
    n, d = X.shape
    Xc = X - X.mean(axis=0)
    emp = Xc.T @ Xc / n
    mu = np.trace(emp) / d
    if shrinkage == "ledoit_wolf":
        # Ledoit & Wolf (2004), "A well-conditioned estimator for large-dimensional covariance matrices"
        X2 = Xc ** 2
        beta_ = np.sum(X2.T @ X2) / n - np.sum(emp ** 2)
        beta = beta_ / (d * n)
        delta = np.sum((emp - mu * np.eye(d)) ** 2) / d
        a = 0.0 if delta == 0 else min(beta, delta) / delta
    else:
        a = 0.0 if shrinkage is None else float(shrinkage)
    return (1 - a) * emp + a * mu * np.eye(d)


@dataclass
class FunctionalInformation:
    """Functional-information (or gradient-based) attributions of one input or of a batch.

    Attributes
    ----------
    attributions : ndarray
        One value per feature, in the input's shape (per group, shape (n_groups,), when
        ``groups`` was given); with ``batch=True`` one such row per input, shape (m, ...).
        For 'cov_fi' and 'fi' in nats of functional entropy.
    total : float or ndarray of shape (m,)
        Their sum; for 'cov_fi' / 'fi' the log-Sobolev upper bound on ``entropy``.
    entropy : float or ndarray of shape (m,)
        Monte-Carlo plug-in estimate of Ent_mu(f) from the same samples (biased low for few
        samples).
    map : ndarray or None
        Images (inputs with 3 axes, channels first): attributions summed over channels, shape
        (H, W) (or (m, H, W)); None otherwise.
    group_labels : ndarray or None
        The group of each entry of ``attributions`` (sorted labels).
    method : str
    target : int, ndarray of shape (m,) or None
        The output column explained.
    f_x : float or ndarray of shape (m,)
        f(x) at the input itself.
    diagnostics : dict
        n_samples, spread, gradient source, whether log f was differentiated, mean of f over
        mu.
    """

    attributions: np.ndarray
    total: float
    entropy: float
    map: np.ndarray | None
    group_labels: np.ndarray | None
    method: str
    target: int | None
    f_x: float
    diagnostics: dict = field(default_factory=dict)

    def to_dict(self):
        return _jsonable({"attributions": self.attributions, "total": self.total, "entropy": self.entropy,
                          "method": self.method, "target": self.target, "f_x": self.f_x,
                          "diagnostics": self.diagnostics})

    def __repr__(self):
        if np.ndim(self.total):
            return (f"FunctionalInformation(method={self.method!r}, batch of {np.size(self.total)}, "
                    f"shape={self.attributions.shape})")
        return (f"FunctionalInformation(method={self.method!r}, total={self.total:.4g}, entropy={self.entropy:.4g}, "
                f"shape={self.attributions.shape})")


def _resolve_cov(cov, target, d):
    if isinstance(cov, dict):
        if target not in cov:
            raise ValueError(f"cov is class-conditional but has no entry for target {target!r}; keys {list(cov)}")
        cov = cov[target]
    if cov is None:
        return np.eye(d)
    c = np.asarray(cov, dtype=np.float64)
    if c.ndim == 0:
        c = np.full(d, float(c))
    if c.ndim == 1:
        if c.shape != (d,):
            raise ValueError(f"a diagonal cov must have {d} entries, got {c.shape}")
        c = np.diag(c)
    if c.shape != (d, d):
        raise ValueError(f"cov must have shape ({d}, {d}) for an input with {d} features, got {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("cov contains NaN or infinite values")
    return c


def _as_targets(target, m, n_out):
    """One int target per input (None: left to the argmax); accepts ints, NumPy integers, and
    integer arrays or tensors of one or ``m`` entries."""
    if target is None:
        return None
    t = target.detach().cpu().numpy() if hasattr(target, "detach") else target
    t = np.asarray(t)
    if t.dtype.kind not in "iu":
        raise ValueError(f"target must be an integer (or integers, one per input), got {target!r}")
    if t.ndim > 1 or t.size not in (1, m):
        raise ValueError(f"target must be one integer or {m} integers (one per input), got shape {t.shape}")
    t = np.broadcast_to(t.reshape(-1), (m,)).astype(np.int64)
    if (t < 0).any():
        raise ValueError(f"target must be >= 0, got {t.min()}")
    if n_out is not None and (t >= n_out).any():
        raise ValueError(f"target must be < n_outputs={n_out}, got {t.max()}")
    return t


def functional_fisher(f, x, *, target=None, grad=None, cov=None, spread=0.15, n_samples=100, groups=None,
                      method="cov_fi", batch=False, output="auto", rng=None):
    """Functional-information attribution of one input, or of a batch (Gat et al., 2022).

    Parameters
    ----------
    f : callable or torch.nn.Module
        The model: maps a batch of shape ``(m, *x.shape)`` to positive outputs of shape (m,) or
        (m, n_classes), e.g. class probabilities (wrap a logit model as
        ``nn.Sequential(model, nn.Softmax(-1))``: its log-softmax is then differentiated,
        see ``output``).
    x : array-like or tensor
        One input (a vector, or an image of shape (C, H, W)); with ``batch=True`` a batch of
        inputs of shape ``(m, *input_shape)``.
    target : int, integer array or tensor, or None
        The output column explained (2-D outputs); with ``batch=True`` one per input or one
        for all. Default: the argmax of f(x).
    grad : callable, optional
        ``grad(z)`` -> gradient of the target output at each row of the batch ``z``, shape
        ``(m, *input_shape)`` (of log f when ``output='log_prob'``). With ``batch=True`` it is
        called once per input, on that input's samples. Default: torch autograd for a
        module, central finite differences for a NumPy callable (2 d model calls per
        sample).
    cov : array-like of shape (d, d) or (d,), dict, or None
        The data covariance S (d = the input's size), a diagonal, or a dict ``{class: S}``
        from :func:`estimate_covariance` (the entry of each input's target is used). None:
        the identity. Its square root is computed once per matrix and kept for later calls.
    spread : float, default=0.15
        mu = N(x, spread * S).
    n_samples : int, default=100
        Monte-Carlo samples from mu, per input.
    groups : array-like of int with the input's shape, optional
        A group label per feature: attributions are summed per group.
    method : {'cov_fi', 'fi', 'smoothgrad', 'smoothgrad_sq', 'vargrad'}, default='cov_fi'
        'cov_fi': FI_i = 1/2 E[(Sigma grad f)_i d_i f / f] with Sigma = spread * S.
        'fi': the same with the diagonal of S (mu has independent coordinates).
        'smoothgrad': E[grad f]; 'smoothgrad_sq': E[(grad f)^2]; 'vargrad': Var[grad f],
        all under mu = N(x, spread * S) (baselines; ``entropy`` is still reported).
    batch : bool, default=False
        Explain every row of ``x``: one result whose ``attributions`` have shape
        ``(m, *input_shape)`` and whose ``total``, ``entropy``, ``f_x`` and ``target`` have shape
        (m,). The model runs on all the inputs' samples together. Row j equals the
        single-input call on ``x[j]`` when the single calls share one Generator in order
        (``g = np.random.default_rng(seed)``; ``[functional_fisher(f, xj, rng=g) for xj in x]``).
    output : {'auto', 'prob', 'log_prob'}, default='auto'
        What ``f`` returns. 'prob': f itself. 'log_prob': log f (e.g. a module ending in
        ``nn.LogSoftmax``, or a NumPy callable returning log-probabilities): the terms are
        computed as 1/2 E[f (Sigma grad log f)_i d_i log f], which does not underflow where f
        does. 'auto': 'log_prob' for a torch ``nn.Sequential`` ending in ``nn.LogSoftmax``,
        the log-softmax of the body for one ending in ``nn.Softmax``, else 'prob'.
    rng : None, int, SeedSequence or Generator
        Source of the Monte-Carlo samples (SPEC 7).

    Returns
    -------
    FunctionalInformation

    Notes
    -----
    For 'cov_fi' and 'fi', ``total`` = 1/2 E[grad f^T Sigma grad f / f] >= Ent_mu(f) (the
    Gaussian log-Sobolev inequality; equality for f = exp(a . x)); both are in nats and scale
    with f. A feature the model does not read gets exactly 0 with 'fi' and with 'cov_fi'.
    ``entropy`` is computed as E[f (log f - log E f)], which avoids the cancellation of
    E[f log f] - E[f] log E[f] when f is nearly constant.

    References
    ----------
    .. [1] I. Gat, N. Calderon, R. Reichart and T. Hazan, "A Functional Information
       Perspective on Model Interpretation", ICML 2022.
    """
    check_choice(method, "method", set(_METHODS))
    check_choice(output, "output", {"auto", "prob", "log_prob"})
    spread = check_float(spread, "spread", low=0.0, low_inclusive=False)
    n_samples = check_int(n_samples, "n_samples", low=2)
    if not isinstance(batch, (bool, np.bool_)):
        raise ValueError(f"batch must be True or False, got {batch!r}")
    X = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    if not batch:
        X = X[None]
    if X.ndim < 2 or X.shape[0] < 1 or X[0].size < 1:
        raise ValueError(f"x must be a non-empty batch of shape (m, *input_shape) with batch=True, got {X.shape}"
                         if batch else "x must be a non-empty finite array (one input)")
    if not np.isfinite(X).all():
        raise ValueError("x must be finite (no NaN or infinite values)")
    if grad is not None and not callable(grad):
        raise ValueError(f"grad must be callable or None, got {type(grad).__name__}")
    if not (callable(f) or _is_module(f)):
        raise ValueError(f"f must be callable or a torch.nn.Module, got {type(f).__name__}")
    gen = check_rng(rng)
    m, shape = X.shape[0], X.shape[1:]
    d = int(np.prod(shape))
    out_x = model_outputs(f, X)
    multi = out_x.ndim == 2 and out_x.shape[1] > 1
    if multi:
        targets = _as_targets(target, m, out_x.shape[1])
        if targets is None:
            targets = np.argmax(out_x, axis=1)
        f_x = out_x[np.arange(m), targets]
        tgt_out = targets
        cov_keys = [int(t) for t in targets]
    else:
        targets = _as_targets(target, m, None)
        f_x = _as_output(out_x, None)
        tgt_out = np.zeros(m, dtype=np.int64)  # the only column
        cov_keys = [None] * m if targets is None else [int(t) for t in targets]
    log_out = _returns_log(f, output)
    if log_out:
        f_x = np.exp(f_x)
    # Sigma's square root once per distinct target (class-conditional S) and matrix
    factors = {}
    for key in set(cov_keys) if isinstance(cov, dict) else [None]:
        S = _resolve_cov(cov, key, d)
        if method == "fi":
            S = np.diag(np.diag(S))
        factors[key] = (S, _cached_sqrt(S))
    # inputs sharing a covariance factor, each group sampled and transformed in one stacked
    # product (per-slice BLAS calls: bitwise those of the single calls); one draw of m n d
    # normals is the stream of m single calls in order
    keys = cov_keys if isinstance(cov, dict) else [None] * m
    members = {}
    for j, key in enumerate(keys):
        members.setdefault(key, []).append(j)
    members = {key: np.array(idx) for key, idx in members.items()}
    eps = gen.standard_normal((m, n_samples, d))
    z = np.empty((m, n_samples, d))
    for key, idx in members.items():
        z[idx] = X[idx].reshape(-1, 1, d) + np.sqrt(spread) * (eps[idx] @ factors[key][1].T)
    del eps
    zs = z.reshape(m * n_samples, *shape)
    row_t = np.repeat(tgt_out, n_samples)
    if grad is not None:
        vals = model_outputs(f, zs)
        vals = vals[np.arange(m * n_samples), row_t] if multi else _as_output(vals, None)
        g = np.concatenate([np.asarray(grad(z[j].reshape(n_samples, *shape)), dtype=np.float64) for j in range(m)])
        source = "user"
    elif _is_module(f):
        vals, g, log_grad = _torch_values_grads(f, zs, row_t, output)
        source = "autograd of log f" if log_grad and not log_out else "autograd"
        log_out = log_out or log_grad
    else:
        vals = model_outputs(f, zs)
        vals = vals[np.arange(m * n_samples), row_t] if multi else _as_output(vals, None)
        g = np.empty((m * n_samples, *shape))
        for t in np.unique(row_t):
            sel = row_t == t
            g[sel] = finite_difference_grad(f, zs[sel], target=int(t) if multi else None)
        source = "finite_differences"
    if g.shape != (m * n_samples, *shape):
        raise ValueError(f"the gradient has shape {g.shape}, expected {(m * n_samples, *shape)}")
    g = g.reshape(m, n_samples, d)
    vals = vals.reshape(m, n_samples)
    if log_out:
        if np.isnan(vals).any() or np.isposinf(vals).any():
            raise ValueError("log f must be finite or -inf on the samples")
        logf, glog = vals, g
    else:
        fi_method = method in ("cov_fi", "fi")
        if fi_method and ((vals < 0).any() or np.isnan(vals).any()):
            raise ValueError("f must be positive on the samples (use class probabilities, not logits)")
        zero = vals == 0
        if fi_method and zero.any():
            raise ValueError(f"f must be positive on the samples, but it underflows to 0 on {int(zero.sum())} of "
                             f"{zero.size}: give log-probabilities (output='log_prob', e.g. a model ending in "
                             "nn.LogSoftmax), or nn.Sequential(net, nn.Softmax(-1)), whose log-softmax is used")
        with np.errstate(divide="ignore", invalid="ignore"):
            logf = np.log(vals)
            glog = np.where(zero[..., None], 0.0, g / vals[..., None])
    fz = np.exp(logf)
    att = np.empty((m, d))
    if method in ("cov_fi", "fi"):
        # 1/2 E[f (Sigma grad log f)_i d_i log f] = 1/2 E[(Sigma grad f)_i d_i f / f]
        for key, idx in members.items():
            gl = glog[idx]
            att[idx] = 0.5 * np.mean(fz[idx, :, None] * (gl @ (spread * factors[key][0])) * gl, axis=1)
    else:
        gf = glog * fz[..., None] if log_out else g
        if method == "smoothgrad":
            att[:] = gf.mean(axis=1)
        elif method == "smoothgrad_sq":
            att[:] = np.mean(gf ** 2, axis=1)
        else:
            att[:] = gf.var(axis=1)
    # E[f (log f - log E f)]; f = 0 contributes 0; NaN for an input with NaN or no finite log f
    live = np.isfinite(logf)
    ok = ~np.isnan(logf).any(axis=1) & live.any(axis=1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        top = np.where(ok, logf.max(axis=1), 0.0)
        log_mean = top + np.log(np.mean(np.exp(logf - top[:, None]), axis=1))  # log E f, no underflow
        terms = np.where(live, fz * (logf - log_mean[:, None]), 0.0)
    entropy = np.where(ok, terms.mean(axis=1), np.nan)
    mean_f = fz.mean(axis=1)
    att = att.reshape(m, *shape)
    image_map = att.sum(axis=1) if len(shape) == 3 else None
    labels = None
    if groups is not None:
        grp = np.asarray(groups)
        if grp.shape != shape or grp.dtype.kind not in "iub":
            raise ValueError(f"groups must be integer labels with x's shape {shape}, got {grp.dtype} {grp.shape}")
        labels, inv = np.unique(grp.ravel(), return_inverse=True)
        att = np.stack([np.bincount(inv, weights=a.ravel(), minlength=labels.size) for a in att])
    total = att.reshape(m, -1).sum(axis=1)
    diag = {"n_samples": n_samples, "spread": spread, "gradient": source, "log_f": bool(log_out)}
    tout = tgt_out if multi else targets
    if batch:
        diag["mean_f"] = mean_f
        return FunctionalInformation(att, total, entropy, image_map, labels, method,
                                     None if tout is None else tout.copy(), f_x, diag)
    diag["mean_f"] = float(mean_f[0])
    return FunctionalInformation(att[0], float(total[0]), float(entropy[0]),
                                 None if image_map is None else image_map[0], labels, method,
                                 None if tout is None else int(tout[0]), float(f_x[0]), diag)
