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

        dtype, dev = _module_dtype(f), _module_device(f)
        was_training = f.training
        f.eval()
        try:
            with torch.no_grad():
                for s in range(0, z.shape[0], batch_size):
                    zt = torch.as_tensor(z[s:s + batch_size], dtype=dtype, device=dev)
                    outs.append(f(zt).detach().cpu().double().numpy())
        finally:
            f.train(was_training)
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


def _torch_values_grads(model, z, target, batch_size=256):
    import torch

    dtype, dev = _module_dtype(model), _module_device(model)
    vals, grads = [], []
    flags = [p.requires_grad for p in model.parameters()]
    was_training = model.training
    model.eval()
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        for s in range(0, z.shape[0], batch_size):
            zt = torch.as_tensor(z[s:s + batch_size], dtype=dtype, device=dev).requires_grad_(True)
            out = model(zt)
            if out.ndim == 2 and out.shape[1] == 1:
                out = out[:, 0]
            if out.ndim == 2:
                out = out[:, target]
            elif out.ndim != 1:
                raise ValueError(f"f must return shape (m,) or (m, n_classes), got {tuple(out.shape)}")
            (g,) = torch.autograd.grad(out.sum(), zt)
            vals.append(out.detach().cpu().double().numpy())
            grads.append(g.detach().cpu().double().numpy())
    finally:
        for p, fl in zip(model.parameters(), flags):
            p.requires_grad_(fl)
        model.train(was_training)
    return np.concatenate(vals), np.concatenate(grads)


def _sqrt_psd(c):
    """A square root L (L L^T = c) of a symmetric PSD matrix, via eigh (singular c allowed)."""
    w, v = np.linalg.eigh(0.5 * (c + c.T))
    if w.min() < -1e-8 * max(1.0, abs(w.max())):
        raise ValueError(f"cov must be positive semi-definite; smallest eigenvalue {w.min():.3g}")
    return v * np.sqrt(np.clip(w, 0.0, None))


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
    """Functional-information (or gradient-based) attributions of one input.

    Attributes
    ----------
    attributions : ndarray
        One value per feature, in the input's shape (per group, shape (n_groups,), when
        ``groups`` was given). For 'cov_fi' and 'fi' in nats of functional entropy.
    total : float
        Their sum; for 'cov_fi' / 'fi' the log-Sobolev upper bound on ``entropy``.
    entropy : float
        Monte-Carlo plug-in estimate of Ent_mu(f) from the same samples (biased low for few
        samples).
    map : ndarray or None
        Images (inputs with 3 axes, channels first): attributions summed over channels, shape
        (H, W); None otherwise.
    group_labels : ndarray or None
        The group of each entry of ``attributions`` (sorted labels).
    method : str
    target : int or None
        The output column explained.
    f_x : float
        f(x) at the input itself.
    diagnostics : dict
        n_samples, spread, gradient source, mean of f over mu.
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


def functional_fisher(f, x, *, target=None, grad=None, cov=None, spread=0.15, n_samples=100, groups=None,
                      method="cov_fi", rng=None):
    """Functional-information attribution of one input (Gat et al., 2022).

    Parameters
    ----------
    f : callable or torch.nn.Module
        The model: maps a batch of shape ``(m, *x.shape)`` to positive outputs of shape (m,) or
        (m, n_classes), e.g. class probabilities (wrap a logit model as
        ``nn.Sequential(model, nn.Softmax(-1))``).
    x : array-like
        One input (a vector, or an image of shape (C, H, W)).
    target : int or None
        The output column explained (2-D outputs); default: the argmax of f(x).
    grad : callable, optional
        ``grad(z)`` -> gradient of the target output at each row of the batch ``z``, shape
        ``(m, *x.shape)``. Default: torch autograd for a module, central finite differences for a
        NumPy callable (2 d model calls per sample).
    cov : array-like of shape (d, d) or (d,), dict, or None
        The data covariance S (d = x.size), a diagonal, or a dict ``{class: S}`` from
        :func:`estimate_covariance` (the entry of ``target`` is used). None: the identity.
    spread : float, default=0.15
        mu = N(x, spread * S).
    n_samples : int, default=100
        Monte-Carlo samples from mu.
    groups : array-like of int with x's shape, optional
        A group label per feature: attributions are summed per group.
    method : {'cov_fi', 'fi', 'smoothgrad', 'smoothgrad_sq', 'vargrad'}, default='cov_fi'
        'cov_fi': FI_i = 1/2 E[(Sigma grad f)_i d_i f / f] with Sigma = spread * S.
        'fi': the same with the diagonal of S (mu has independent coordinates).
        'smoothgrad': E[grad f]; 'smoothgrad_sq': E[(grad f)^2]; 'vargrad': Var[grad f],
        all under mu = N(x, spread * S) (baselines; ``entropy`` is still reported).
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

    References
    ----------
    .. [1] I. Gat, N. Calderon, R. Reichart and T. Hazan, "A Functional Information
       Perspective on Model Interpretation", ICML 2022.
    """
    check_choice(method, "method", set(_METHODS))
    spread = check_float(spread, "spread", low=0.0, low_inclusive=False)
    n_samples = check_int(n_samples, "n_samples", low=2)
    x = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    if x.size < 1 or not np.isfinite(x).all():
        raise ValueError("x must be a non-empty finite array (one input)")
    if grad is not None and not callable(grad):
        raise ValueError(f"grad must be callable or None, got {type(grad).__name__}")
    if not (callable(f) or _is_module(f)):
        raise ValueError(f"f must be callable or a torch.nn.Module, got {type(f).__name__}")
    gen = check_rng(rng)
    shape, d = x.shape, x.size
    out_x = model_outputs(f, x[None])
    if out_x.ndim == 2 and out_x.shape[1] > 1:
        if target is None:
            target = int(np.argmax(out_x[0]))
        target = check_int(target, "target", low=0)
        if target >= out_x.shape[1]:
            raise ValueError(f"target must be < n_outputs={out_x.shape[1]}, got {target}")
    elif target is not None:
        target = check_int(target, "target", low=0)
    f_x = float(_as_output(out_x, target)[0])
    S = _resolve_cov(cov, target, d)
    if method == "fi":
        S = np.diag(np.diag(S))
    sigma = spread * S
    L = _sqrt_psd(sigma)
    eps = gen.standard_normal((n_samples, d))
    z = (x.reshape(1, d) + eps @ L.T).reshape(n_samples, *shape)
    if grad is not None:
        vals = _as_output(model_outputs(f, z), target)
        g = np.asarray(grad(z), dtype=np.float64)
        source = "user"
    elif _is_module(f):
        vals, g = _torch_values_grads(f, z, target)
        source = "autograd"
    else:
        vals = _as_output(model_outputs(f, z), target)
        g = finite_difference_grad(f, z, target=target)
        source = "finite_differences"
    if g.shape != (n_samples, *shape):
        raise ValueError(f"the gradient has shape {g.shape}, expected {(n_samples, *shape)}")
    g = g.reshape(n_samples, d)
    if method in ("cov_fi", "fi"):
        if not (vals > 0).all():
            raise ValueError("f must be positive on the samples (use class probabilities, not logits)")
        att = 0.5 * np.mean((g @ sigma) * g / vals[:, None], axis=0)
    elif method == "smoothgrad":
        att = g.mean(axis=0)
    elif method == "smoothgrad_sq":
        att = np.mean(g ** 2, axis=0)
    else:
        att = g.var(axis=0)
    if (vals > 0).all():
        mean_f = vals.mean()
        entropy = float(np.mean(vals * np.log(vals)) - mean_f * np.log(mean_f))
    else:
        entropy = float("nan")
    att = att.reshape(shape)
    image_map = att.sum(axis=0) if len(shape) == 3 else None
    labels = None
    if groups is not None:
        grp = np.asarray(groups)
        if grp.shape != shape or grp.dtype.kind not in "iub":
            raise ValueError(f"groups must be integer labels with x's shape {shape}, got {grp.dtype} {grp.shape}")
        labels, inv = np.unique(grp.ravel(), return_inverse=True)
        att = np.bincount(inv, weights=att.ravel(), minlength=labels.size)
    return FunctionalInformation(att, float(att.sum()), entropy, image_map, labels, method, target, f_x,
                                 {"n_samples": n_samples, "spread": spread, "gradient": source,
                                  "mean_f": float(vals.mean())})
