"""Faithfulness of attributions: deletion, insertion and ROAD curves (Rong et al., 2022),
their AUC and a random-ordering control, and the model-randomisation sanity check (Adebayo
et al., 2018), for any attribution method (an array of attributions, a callable that returns
them, or a Captum attribution object) and any model (a NumPy callable, a callable of torch
tensors or a ``torch.nn.Module``)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._result import _jsonable
from .._validation import check_choice, check_float, check_int, check_rng
from ._functional import _as_output, _is_module, _module_device, _module_dtype, model_outputs


# ----------------------------------------------------------------------------- models of tensors
def _find_module(f):
    """A torch module that the callable ``f`` closes over (bound method, partial, closure cell
    or referenced global), or None: its parameters give the device and dtype of the inputs."""
    import functools

    seen = set()
    todo = [f]
    while todo:
        g = todo.pop()
        if id(g) in seen:
            continue
        seen.add(id(g))
        if _is_module(g):
            return g
        if isinstance(g, functools.partial):
            todo.extend([g.func, *g.args, *g.keywords.values()])
            continue
        self_ = getattr(g, "__self__", None)
        if self_ is not None:
            todo.append(self_)
        for cell in getattr(g, "__closure__", None) or ():
            try:
                todo.append(cell.cell_contents)
            except ValueError:  # an empty cell
                pass
        code, glob = getattr(g, "__code__", None), getattr(g, "__globals__", None)
        if code is not None and glob is not None:
            todo.extend(glob[n] for n in code.co_names if n in glob)
    return None


class _TensorModel:
    """A callable of torch tensors seen as a NumPy callable: float64 arrays in, float64 arrays
    out, with the inputs cast to ``dtype`` on ``device`` and no gradients."""

    def __init__(self, f, dtype, device):
        self.f, self.dtype, self.device = f, dtype, device

    def to_tensor(self, a):
        import torch

        return torch.as_tensor(np.asarray(a), dtype=self.dtype, device=self.device)

    def __call__(self, z):
        import torch

        with torch.no_grad():
            out = self.f(self.to_tensor(z))
        return out.detach().cpu().double().numpy() if hasattr(out, "detach") else np.asarray(out, dtype=np.float64)


def _resolve_model(f, x, inputs):
    """``f`` as something :func:`model_outputs` can call: a module as it is, a NumPy callable
    as it is, a callable of tensors wrapped in :class:`_TensorModel` (dtype and device from
    the tensor ``x``, or from the module the callable uses, else float32 on the CPU)."""
    check_choice(inputs, "inputs", {"auto", "numpy", "torch"})
    if not callable(f):
        raise ValueError(f"f must be callable or a torch.nn.Module, got {type(f).__name__}")
    if _is_module(f) or inputs == "numpy":
        return f
    import sys

    torch = sys.modules.get("torch")
    if inputs == "auto":
        if torch is None:
            return f
        if not torch.is_tensor(x):
            probe = np.asarray(x[:1], dtype=np.float64)
            try:
                out = f(probe)
            except Exception:  # a model of tensors rejects arrays: try it with a tensor below
                out = None
            if out is not None and not torch.is_tensor(out):
                return f
    from ..neural._torch import require_torch

    torch = require_torch("faithfulness with a model of tensors")
    mod = _find_module(f)
    if torch.is_tensor(x) and x.is_floating_point():
        dtype, dev = x.dtype, x.device
    elif mod is not None:
        dtype, dev = _module_dtype(mod), _module_device(mod)
    else:
        dtype, dev = torch.float32, torch.device("cpu")
    return _TensorModel(f, dtype, dev)


def _model_tensor(model, x):
    """``x`` as a tensor in the model's dtype and on its device."""
    if isinstance(model, _TensorModel):
        return model.to_tensor(x)
    import torch

    return torch.as_tensor(np.asarray(x), dtype=_module_dtype(model), device=_module_device(model))


def _as_numpy(a):
    return a.detach().cpu().double().numpy() if hasattr(a, "detach") else np.asarray(a, dtype=np.float64)


def _call_attribution(attributions, model, x, tgt, attribute_kwargs):
    """Run a Captum attribution object (anything with ``.attribute``) or a callable on the
    batch ``x`` (a tensor when the model takes tensors), passing the targets where accepted."""
    import inspect

    tensors = isinstance(model, _TensorModel) or _is_module(model)
    kwargs = dict(attribute_kwargs or {})
    if hasattr(attributions, "attribute") and callable(attributions.attribute):
        if not tensors:
            raise ValueError("a Captum attribution needs a torch model: pass the module (or a callable of "
                             "tensors) as f")
        import torch

        xt = _model_tensor(model, x)
        return attributions.attribute(xt, target=torch.as_tensor(tgt, device=xt.device), **kwargs)
    xin = _model_tensor(model, x) if tensors else x
    try:
        params = inspect.signature(attributions).parameters
    except (TypeError, ValueError):
        params = {}
    if "target" in params:
        kwargs["target"] = _model_tensor(model, tgt).long() if tensors else tgt
    return attributions(xin, **kwargs)


def _auc(fractions, curve):
    """Trapezoidal area under ``curve`` over ``fractions`` (in [0, 1]), per row."""
    return np.trapezoid(curve, fractions, axis=-1)


def _prepare(f, x, attributions, target, baseline, inputs="auto", attribute_kwargs=None):
    model = _resolve_model(f, x, inputs)
    x = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"x must be a batch of shape (n_samples, ...), got {x.shape}")
    n, shape = x.shape[0], x.shape[1:]
    try:
        b = np.broadcast_to(np.asarray(baseline, dtype=np.float64), shape).copy()
    except (TypeError, ValueError):
        raise ValueError(f"baseline must be a number or an array broadcastable to one input {shape}") from None
    out = model_outputs(model, x)
    if out.ndim == 2 and out.shape[1] > 1:
        if target is None:
            tgt = np.argmax(out, axis=1)
        else:
            t = np.asarray(_as_numpy(target) if hasattr(target, "detach") else target)
            if t.dtype.kind == "f" and np.all(t == np.round(t)):
                t = t.astype(np.int64)
            if t.dtype.kind not in "iu" or t.size not in (1, n):
                raise ValueError(f"target must be an integer or {n} integers (one per sample), got {target!r}")
            tgt = np.broadcast_to(t.reshape(-1), (n,)).astype(np.int64)
            if (tgt < 0).any() or (tgt >= out.shape[1]).any():
                raise ValueError(f"target must lie in [0, {out.shape[1]}), got {tgt.min()}..{tgt.max()}")
    else:
        tgt = np.zeros(n, dtype=int)
    if callable(attributions) or hasattr(attributions, "attribute"):
        attributions = _call_attribution(attributions, model, x, tgt, attribute_kwargs)
    a = _as_numpy(attributions)
    if a.shape == x.shape:
        unit_axes = 0  # one unit per feature
    elif len(shape) == 3 and a.shape == (n, *shape[1:]):
        unit_axes = 1  # channel-summed map: a unit is a pixel, all channels
    else:
        raise ValueError(f"attributions must have x's shape {x.shape} (or {(n, *shape[1:])} for images), got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("attributions contain NaN or infinite values")
    return model, x, a.reshape(n, -1), unit_axes, b, tgt


def _scores(model, batch, n, tgt):
    """Target outputs of ``model`` on ``batch`` of shape (n_steps, n, ...) -> (n_steps, n)."""
    n_steps = batch.shape[0]
    out = model_outputs(model, batch.reshape(n_steps * n, *batch.shape[2:]))
    if out.ndim == 2 and out.shape[1] > 1:
        return out.reshape(n_steps, n, -1)[:, np.arange(n), tgt]
    return _as_output(out, None).reshape(n_steps, n)


def _ranks(order):
    """rank[i, u]: the position of unit u in sample i's ``order``."""
    n, n_units = order.shape
    rank = np.empty_like(order)
    rank[np.arange(n)[:, None], order] = np.arange(n_units)
    return rank


def _per_feature(rank, shape, unit_axes):
    """Unit ranks broadcast to every feature (all channels of a pixel share its rank)."""
    n = rank.shape[0]
    if unit_axes:
        c = shape[0]
        return np.broadcast_to(rank.reshape(n, 1, *shape[1:]), (n, c, *shape[1:])).reshape(n, -1)
    return rank


def _curves(model, x, order, unit_axes, baseline, tgt, n_steps, insertion):
    """Scores of the model (target column) as the first k units of ``order`` are removed
    (deletion) or inserted into the baseline (insertion), k over n_steps + 1 evenly spaced
    fractions."""
    n, shape = x.shape[0], x.shape[1:]
    n_units = order.shape[1]
    ks = np.round(np.linspace(0, n_units, n_steps + 1)).astype(int)
    rank_full = _per_feature(_ranks(order), shape, unit_axes)
    xf, bf = x.reshape(n, -1), baseline.reshape(1, -1)
    batch = np.empty((len(ks), n, xf.shape[1]))
    for s, k in enumerate(ks):
        moved = rank_full < k
        if insertion:
            batch[s] = np.where(moved, xf, bf)
        else:
            batch[s] = np.where(moved, bf, xf)
    scores = _scores(model, batch.reshape(len(ks), n, *shape), n, tgt)
    return ks / n_units, scores.T


# ----------------------------------------------------------------------------- ROAD
_DIRECT, _DIAGONAL = 1.0 / 6.0, 1.0 / 12.0  # neighbour weights of the noisy linear imputation


def _grid_neighbours(h, w):
    """For each pixel of an h x w grid, its 8 neighbours inside the grid with the imputation
    weights (1/6 for the 4 direct ones, 1/12 for the diagonals), normalised to sum to 1:
    arrays (rows, cols, weights) of a sparse row-stochastic matrix W."""
    rows, cols, vals = [], [], []
    idx = np.arange(h * w).reshape(h, w)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di == 0 and dj == 0:
                continue
            wt = _DIAGONAL if di and dj else _DIRECT
            src = idx[max(0, -di):h - max(0, di), max(0, -dj):w - max(0, dj)]
            dst = idx[max(0, di):h - max(0, -di) or None, max(0, dj):w - max(0, -dj) or None]
            rows.append(src.ravel())
            cols.append(dst.ravel())
            vals.append(np.full(src.size, wt))
    rows, cols, vals = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    vals = vals / np.bincount(rows, weights=vals, minlength=h * w)[rows]
    return rows, cols, vals


def impute_linear(image, removed, *, noise=0.0, rng=None):
    """Noisy linear imputation of the removed pixels of an image (ROAD, Rong et al. 2022).

    Each removed pixel is set to the weighted mean of its 8 neighbours (weights 1/6 for the
    direct and 1/12 for the diagonal neighbours, renormalised at the border), kept pixels fixed:
    one sparse linear system per image, solved for all channels at once; then Gaussian noise
    of standard deviation ``noise`` is added to the imputed values.

    Parameters
    ----------
    image : array-like of shape (C, H, W) or (H, W)
    removed : array-like of bool of shape (H, W)
        True where the pixel (all its channels) is removed.
    noise : float, default=0.0
    rng : None, int, SeedSequence or Generator

    Returns
    -------
    ndarray
        The image with the removed pixels imputed (the kept pixels unchanged). If every pixel
        is removed there is nothing to impute from, and the result is 0 plus noise.
    """
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    img = np.asarray(image, dtype=np.float64)
    flat2d = img.ndim == 2
    if flat2d:
        img = img[None]
    if img.ndim != 3:
        raise ValueError(f"image must have shape (C, H, W) or (H, W), got {np.shape(image)}")
    c, h, w = img.shape
    mask = np.asarray(removed, dtype=bool)
    if mask.shape != (h, w):
        raise ValueError(f"removed must have shape {(h, w)}, got {mask.shape}")
    noise = check_float(noise, "noise", low=0.0)
    out = img.reshape(c, h * w).copy()
    r = np.flatnonzero(mask.ravel())
    if r.size:
        if r.size == h * w:
            out[:] = 0.0
        else:
            rows, cols, vals = _grid_neighbours(h, w)
            W = sparse.csr_matrix((vals, (rows, cols)), shape=(h * w, h * w))
            keep = np.flatnonzero(~mask.ravel())
            A = sparse.identity(r.size, format="csc") - W[r][:, r].tocsc()
            rhs = W[r][:, keep] @ out[:, keep].T  # (r, C)
            sol = spsolve(A, rhs)
            out[:, r] = np.asarray(sol).reshape(r.size, c).T
        if noise > 0:
            out[:, r] += noise * check_rng(rng).standard_normal((c, r.size))
    out = out.reshape(c, h, w)
    return out[0] if flat2d else out


def _gaussian_imputer(reference):
    """Conditional-mean imputation of removed features under N(mean, cov) of ``reference``
    (Ledoit-Wolf shrunk): the linear imputation of ROAD for feature vectors."""
    from ._functional import estimate_covariance

    ref = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    mu, cov = ref.mean(axis=0), estimate_covariance(ref)

    def impute(v, removed):
        out = v.copy()
        r, k = np.flatnonzero(removed), np.flatnonzero(~removed)
        if r.size == 0:
            return out
        if k.size == 0:
            out[r] = mu[r]
            return out
        coef = np.linalg.solve(cov[np.ix_(k, k)], cov[np.ix_(k, r)])  # (k, r)
        out[r] = mu[r] + (v[k] - mu[k]) @ coef
        return out

    return impute


def _road_batch(x, rank, unit_axes, ks, lerf, noise, reference, gen):
    """Inputs with the top (MoRF) or bottom (LeRF) k units removed and imputed, for every k:
    shape (len(ks), n, ...)."""
    n, shape = x.shape[0], x.shape[1:]
    n_units = rank.shape[1]
    image = len(shape) in (2, 3)
    scale = noise * float(x.std())
    impute = None if image else _gaussian_imputer(x if reference is None else reference)
    out = np.empty((len(ks), n, *shape))
    for s, k in enumerate(ks):
        removed = rank >= n_units - k if lerf else rank < k
        for i in range(n):
            if image:
                out[s, i] = impute_linear(x[i], removed[i].reshape(shape[-2:]), noise=scale, rng=gen)
            else:
                v = impute(x[i].ravel(), removed[i])
                r = removed[i]
                if scale > 0:
                    v[r] += scale * gen.standard_normal(int(r.sum()))
                out[s, i] = v.reshape(shape)
    return out


def road_curve(f, x, attributions, *, order="morf", fractions=None, target=None, noise=0.01, reference=None,
               inputs="auto", attribute_kwargs=None, rng=None):
    """ROAD curve (remove and debias; Rong et al., ICML 2022): the target output as a growing
    share of the features is removed and imputed by noisy linear imputation.

    Removing features by setting them to a baseline leaks the removal pattern (its shape alone
    tells the class); ROAD imputes each removed feature from its neighbours instead, so what
    the model sees after removal is close to the data. Images ((C, H, W) or (H, W) inputs):
    each removed pixel is the weighted mean of its 8 neighbours (:func:`impute_linear`).
    Feature vectors: the removed features are set to their conditional mean given the kept
    ones under a Gaussian fitted to ``reference``.

    Parameters
    ----------
    f, x, attributions, target
        As for :func:`deletion_curve`.
    order : {'morf', 'lerf'}, default='morf'
        Remove the most relevant first (MoRF: a faithful attribution makes the curve fall
        fast, low AUC) or the least relevant first (LeRF: the curve stays high).
    fractions : array-like in [0, 1), optional
        Shares removed; default 0, 0.1, ..., 0.9.
    noise : float, default=0.01
        Standard deviation of the imputation noise, in units of the standard deviation of x.
    reference : array-like of shape (n_ref, n_features), optional
        Data for the Gaussian of the vector imputation (default: x).
    inputs, attribute_kwargs
        As for :func:`faithfulness`.
    rng : None, int, SeedSequence or Generator
        Source of the imputation noise.

    Returns
    -------
    fractions : ndarray
    curves : ndarray of shape (n_samples, len(fractions))
    """
    check_choice(order, "order", {"morf", "lerf"})
    noise = check_float(noise, "noise", low=0.0)
    fr = np.linspace(0.0, 0.9, 10) if fractions is None else np.asarray(fractions, dtype=np.float64).ravel()
    if fr.size < 1 or not np.all((fr >= 0) & (fr <= 1)):
        raise ValueError(f"fractions must lie in [0, 1], got {fractions!r}")
    gen = check_rng(rng)
    model, x, a, unit_axes, _, tgt = _prepare(f, x, attributions, target, 0.0, inputs, attribute_kwargs)
    return _road(model, x, a, unit_axes, tgt, fr, order == "lerf", noise, reference, gen)


def _road(model, x, a, unit_axes, tgt, fr, lerf, noise, reference, gen):
    shape = x.shape[1:]
    if len(shape) == 3 and not unit_axes:  # ROAD removes whole pixels: rank them by their channel sum
        a = a.reshape(x.shape[0], shape[0], -1).sum(axis=1)
        unit_axes = 1
    n_units = a.shape[1]
    ks = np.round(fr * n_units).astype(int)
    rank = _ranks(np.argsort(-a, axis=1, kind="stable"))
    batch = _road_batch(x, rank, unit_axes, ks, lerf, noise, reference, gen)
    return fr, _scores(model, batch, x.shape[0], tgt).T


@dataclass
class Faithfulness:
    """Deletion, insertion (and ROAD) curves of an attribution, with a random-ordering control.

    Attributes
    ----------
    fractions : ndarray of shape (n_steps + 1,)
        Share of the features (pixels, for channel-summed image maps) removed or inserted.
    deletion, insertion : ndarray of shape (n_samples, n_steps + 1)
        The target output as the most-attributed features are replaced by the baseline
        (deletion) or put back into the baseline (insertion).
    deletion_auc, insertion_auc : float
        Mean area under the curves (deletion: lower is better; insertion: higher is better).
    random_deletion_auc, random_insertion_auc : float
        The same for random orderings (the control); nan when ``n_random=0``.
    random_deletion_std, random_insertion_std : float
        Spread of the control's mean AUC over its random orderings.
    road_fractions : ndarray or None
        Shares removed in the ROAD curves (``road=True``).
    road_morf, road_lerf : ndarray of shape (n_samples, len(road_fractions)) or None
        ROAD curves, most relevant first (lower is better) and least relevant first (higher
        is better).
    road_morf_auc, road_lerf_auc : float
        Their mean area over ``road_fractions`` (nan without ROAD).
    random_road_auc : float
        ROAD AUC of random orderings (the MoRF and LeRF controls coincide); nan without ROAD
        or ``n_random=0``.
    diagnostics : dict
    """

    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray
    deletion_auc: float
    insertion_auc: float
    random_deletion_auc: float
    random_insertion_auc: float
    random_deletion_std: float
    random_insertion_std: float
    road_fractions: np.ndarray | None = None
    road_morf: np.ndarray | None = None
    road_lerf: np.ndarray | None = None
    road_morf_auc: float = float("nan")
    road_lerf_auc: float = float("nan")
    random_road_auc: float = float("nan")
    diagnostics: dict = field(default_factory=dict)

    def to_dict(self):
        return _jsonable({k: getattr(self, k) for k in ("deletion_auc", "insertion_auc", "random_deletion_auc",
                                                          "random_insertion_auc", "random_deletion_std",
                                                          "random_insertion_std", "road_morf_auc", "road_lerf_auc",
                                                          "random_road_auc", "diagnostics")})

    def __repr__(self):
        road = (f", road_morf_auc={self.road_morf_auc:.4g}, road_lerf_auc={self.road_lerf_auc:.4g}"
                if self.road_morf is not None else "")
        return (f"Faithfulness(deletion_auc={self.deletion_auc:.4g} (random {self.random_deletion_auc:.4g}), "
                f"insertion_auc={self.insertion_auc:.4g} (random {self.random_insertion_auc:.4g}){road})")


def deletion_curve(f, x, attributions, *, target=None, baseline=0.0, n_steps=20, inputs="auto", attribute_kwargs=None):
    """Deletion curve: the target output as features are replaced by ``baseline`` in order of
    decreasing attribution.

    Parameters
    ----------
    f : callable or torch.nn.Module
        Batch (m, ...) -> outputs (m,) or (m, n_classes) (probabilities, as a rule): a NumPy
        callable, a callable of torch tensors, or a module.
    x : array-like or tensor of shape (n_samples, ...)
    attributions : array-like, tensor, callable or Captum attribution
        Same shape as ``x`` (or (n, H, W) for images (n, C, H, W): whole pixels are moved), a
        callable ``attributions(x)`` returning them (given ``target=`` too when it takes that
        argument; tensors when the model takes tensors), or an object with an ``attribute``
        method (Captum's ``IntegratedGradients(model)``...), called as
        ``attribute(x, target=..., **attribute_kwargs)``.
    target : int, array of int or None
        Output column per sample; default: the argmax of f(x).
    baseline : float or array-like broadcastable to one input, default=0.0
        The value a removed feature takes (0, the data mean, a blurred image...).
    n_steps : int, default=20
    inputs, attribute_kwargs
        As for :func:`faithfulness`.

    Returns
    -------
    fractions : ndarray of shape (n_steps + 1,)
    curves : ndarray of shape (n_samples, n_steps + 1)
    """
    check_int(n_steps, "n_steps", low=1)
    model, x, a, unit_axes, b, tgt = _prepare(f, x, attributions, target, baseline, inputs, attribute_kwargs)
    return _curves(model, x, np.argsort(-a, axis=1, kind="stable"), unit_axes, b, tgt, n_steps, False)


def insertion_curve(f, x, attributions, *, target=None, baseline=0.0, n_steps=20, inputs="auto",
                    attribute_kwargs=None):
    """Insertion curve: the target output as features of ``x`` are put into the baseline in
    order of decreasing attribution. Parameters and returns as :func:`deletion_curve`."""
    check_int(n_steps, "n_steps", low=1)
    model, x, a, unit_axes, b, tgt = _prepare(f, x, attributions, target, baseline, inputs, attribute_kwargs)
    return _curves(model, x, np.argsort(-a, axis=1, kind="stable"), unit_axes, b, tgt, n_steps, True)


def faithfulness(f, x, attributions, *, target=None, baseline=0.0, n_steps=20, n_random=5, road=False,
                 road_fractions=None, road_noise=0.01, road_reference=None, inputs="auto", attribute_kwargs=None,
                 rng=None):
    """Deletion, insertion (and ROAD) AUCs of an attribution method, beside a random-ordering
    control.

    Parameters
    ----------
    f, x, attributions, target, baseline, n_steps
        As for :func:`deletion_curve`. ``f`` may take NumPy arrays, torch tensors (a module or
        any callable of tensors: the inputs are cast to the dtype and device of ``x`` when it
        is a tensor, else of the module the callable uses, else float32 on the CPU) and may
        return either.
    n_random : int, default=5
        Random orderings per sample for the control (0: no control).
    road : bool, default=False
        Also compute the ROAD curves (:func:`road_curve`), MoRF and LeRF.
    road_fractions, road_noise, road_reference
        ``fractions``, ``noise`` and ``reference`` of :func:`road_curve`.
    inputs : {'auto', 'numpy', 'torch'}, default='auto'
        What ``f`` takes; 'auto' passes tensors to a module, and to a callable that returns a
        tensor or rejects a NumPy batch.
    attribute_kwargs : dict, optional
        Extra keyword arguments of a Captum attribution's ``attribute`` (or of a callable).
    rng : None, int, SeedSequence or Generator
        Source of the random orderings and of the ROAD noise (SPEC 7).

    Returns
    -------
    Faithfulness

    Notes
    -----
    Attributions are ranked by their signed value (largest first); pass ``np.abs(a)`` to rank
    by magnitude. A faithful attribution has a deletion AUC below the random control's and an
    insertion AUC above it; under ROAD, a MoRF AUC below and a LeRF AUC above the control's.
    A module's submodules keep their own ``training`` flags (see :func:`model_outputs`).
    """
    check_int(n_steps, "n_steps", low=1)
    n_random = check_int(n_random, "n_random", low=0)
    if not isinstance(road, (bool, np.bool_)):
        raise ValueError(f"road must be True or False, got {road!r}")
    road_noise = check_float(road_noise, "road_noise", low=0.0)
    gen = check_rng(rng)
    model, x, a, unit_axes, b, tgt = _prepare(f, x, attributions, target, baseline, inputs, attribute_kwargs)
    order = np.argsort(-a, axis=1, kind="stable")
    fr, dele = _curves(model, x, order, unit_axes, b, tgt, n_steps, False)
    _, ins = _curves(model, x, order, unit_axes, b, tgt, n_steps, True)
    rd, ri = [], []
    perms = [np.argsort(gen.random(a.shape), axis=1) for _ in range(n_random)]
    for perm in perms:
        rd.append(_auc(fr, _curves(model, x, perm, unit_axes, b, tgt, n_steps, False)[1]).mean())
        ri.append(_auc(fr, _curves(model, x, perm, unit_axes, b, tgt, n_steps, True)[1]).mean())
    nan = float("nan")
    extra = {}
    if road:
        rfr = np.linspace(0.0, 0.9, 10) if road_fractions is None else np.asarray(road_fractions, float).ravel()
        if rfr.size < 2 or not np.all((rfr >= 0) & (rfr <= 1)):
            raise ValueError(f"road_fractions must hold at least 2 values in [0, 1], got {road_fractions!r}")
        _, morf = _road(model, x, a, unit_axes, tgt, rfr, False, road_noise, road_reference, gen)
        _, lerf = _road(model, x, a, unit_axes, tgt, rfr, True, road_noise, road_reference, gen)
        # the random control of ROAD: one random ordering per sample (MoRF of -perm rank = random)
        rr = [_auc(rfr, _road(model, x, gen.random(a.shape), unit_axes, tgt, rfr, False, road_noise,
                              road_reference, gen)[1]).mean() for _ in range(min(n_random, 1))]
        extra = {"road_fractions": rfr, "road_morf": morf, "road_lerf": lerf,
                 "road_morf_auc": float(_auc(rfr, morf).mean()), "road_lerf_auc": float(_auc(rfr, lerf).mean()),
                 "random_road_auc": float(np.mean(rr)) if rr else nan}
    return Faithfulness(fr, dele, ins, float(_auc(fr, dele).mean()), float(_auc(fr, ins).mean()),
                        float(np.mean(rd)) if rd else nan, float(np.mean(ri)) if ri else nan,
                        float(np.std(rd)) if rd else nan, float(np.std(ri)) if ri else nan,
                        **extra,
                        diagnostics={"n_samples": x.shape[0], "n_steps": n_steps, "n_random": n_random,
                                     "units": "pixels" if unit_axes else "features", "road": bool(road)})


# ----------------------------------------------------------------------------- randomisation check
@dataclass
class RandomisationCheck:
    """Model-randomisation sanity check (Adebayo et al., 2018).

    Attributes
    ----------
    layers : list of str
        The cascade: entry l names the layer re-initialised at step l; every layer before it
        (nearer the output) stays re-initialised.
    spearman : ndarray of shape (n_layers, n_samples)
        Spearman rank correlation between each sample's original attributions and those of
        the model with layers[: l + 1] re-initialised (of the absolute values when
        ``absolute=True``).
    mean : ndarray of shape (n_layers,)
        Its mean over the samples: near 0 for an attribution that depends on the model, near
        1 for one that does not (which fails the check).
    diagnostics : dict
    """

    layers: list
    spearman: np.ndarray
    mean: np.ndarray
    diagnostics: dict = field(default_factory=dict)

    def to_dict(self):
        return _jsonable({"layers": self.layers, "mean": self.mean, "diagnostics": self.diagnostics})


def _rank_rows(a):
    from scipy.stats import rankdata

    return rankdata(a, axis=1)


def spearman_rows(a, b):
    """Spearman rank correlation of each row of ``a`` with the same row of ``b`` (ties get
    average ranks; a constant row gives nan)."""
    ra, rb = _rank_rows(np.asarray(a, float)), _rank_rows(np.asarray(b, float))
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    den = np.sqrt((ra ** 2).sum(axis=1) * (rb ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (ra * rb).sum(axis=1) / np.where(den > 0, den, 1.0), np.nan)


def randomisation_check(model, x, attribute, *, layers=None, target=None, absolute=True, attribute_kwargs=None,
                        rng=None):
    """Model-randomisation sanity check of an attribution method (Adebayo et al., NeurIPS 2018).

    The layers of a copy of ``model`` are re-initialised one after the other from the output
    down (a cascade), and the attributions recomputed after each step. An attribution that
    explains the model must change: its Spearman rank correlation with the original falls
    towards 0. One that stays correlated (an edge detector, the input itself) does not depend
    on what the model learned.

    Parameters
    ----------
    model : torch.nn.Module
        Left unchanged (a deep copy is randomised).
    x : array-like or tensor of shape (n_samples, ...)
    attribute : callable or Captum attribution class
        ``attribute(model, x, target)`` -> attributions with x's shape (x a tensor in the
        model's dtype, target a long tensor), or a class such as ``captum.attr.Saliency``,
        instantiated on each model and called as ``cls(model).attribute(x, target=target,
        **attribute_kwargs)``.
    layers : list of str, optional
        Names (as in ``model.named_modules()``) of the layers to re-initialise, in cascade
        order. Default: every module with parameters of its own, from the last to the first.
    target : int, array of int or None
        Explained class per sample; default: the original model's argmax (kept for the
        randomised models).
    absolute : bool, default=True
        Correlate absolute attributions (as Adebayo et al. do for most methods).
    attribute_kwargs : dict, optional
    rng : None, int, SeedSequence or Generator
        Seeds the re-initialisation.

    Returns
    -------
    RandomisationCheck
    """
    import copy

    from ..neural._torch import frozen_eval, require_torch, seeded, torch_seed

    torch = require_torch("randomisation_check")
    if not _is_module(model):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(attribute):
        raise ValueError("attribute must be callable (model, x, target) or a Captum attribution class")
    gen = check_rng(rng)
    modules = dict(model.named_modules())
    if layers is None:
        layers = [name for name, mod in model.named_modules() if any(True for _ in mod.parameters(recurse=False))][::-1]
    else:
        layers = list(layers)
        missing = [name for name in layers if name not in modules]
        if missing:
            raise ValueError(f"layers {missing} are not in the model; its layers are {sorted(k for k in modules if k)}")
    if not layers:
        raise ValueError("the model has no layer with parameters to re-initialise")
    xt = _model_tensor(model, x.detach().cpu().numpy() if hasattr(x, "detach") else x)
    n = xt.shape[0]
    with frozen_eval(model, freeze=False), torch.no_grad():
        out = model(xt)
    if target is None:
        tgt = out.argmax(dim=1) if out.ndim == 2 and out.shape[1] > 1 else torch.zeros(n, dtype=torch.long)
    else:
        tgt = torch.as_tensor(np.broadcast_to(np.asarray(_as_numpy(target), dtype=np.int64), (n,)).copy())
    tgt = tgt.to(xt.device)
    kwargs = dict(attribute_kwargs or {})

    def attributions(net):
        if isinstance(attribute, type):
            a = attribute(net).attribute(xt.clone(), target=tgt, **kwargs)
        else:
            a = attribute(net, xt.clone(), tgt, **kwargs)
        a = _as_numpy(a).reshape(n, -1)
        return np.abs(a) if absolute else a

    net = copy.deepcopy(model)
    with frozen_eval(net, freeze=False):
        base = attributions(net)
        rho = np.empty((len(layers), n))
        with seeded(torch_seed(gen), xt.device):
            net_modules = dict(net.named_modules())
            for step, name in enumerate(layers):
                mod = net_modules[name]
                if hasattr(mod, "reset_parameters"):
                    mod.reset_parameters()
                else:
                    with torch.no_grad():
                        for p in mod.parameters(recurse=False):
                            p.normal_(0.0, 0.1)
                rho[step] = spearman_rows(base, attributions(net))
    return RandomisationCheck(layers, rho, np.nanmean(rho, axis=1),
                              {"n_samples": n, "absolute": bool(absolute)})
