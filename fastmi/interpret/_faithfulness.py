"""Faithfulness of attributions: deletion and insertion curves, their AUC, and a
random-ordering control, for any attribution method (an array of attributions or a callable
that returns them, e.g. fastmi's or Captum's)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._result import _jsonable
from .._validation import check_int, check_rng
from ._functional import _as_output, model_outputs


def _auc(fractions, curve):
    """Trapezoidal area under ``curve`` over ``fractions`` (in [0, 1]), per row."""
    return np.trapezoid(curve, fractions, axis=-1)


def _prepare(f, x, attributions, target, baseline):
    x = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"x must be a batch of shape (n_samples, ...), got {x.shape}")
    if callable(attributions):
        attributions = attributions(x)
    a = np.asarray(attributions.detach().cpu().numpy() if hasattr(attributions, "detach") else attributions,
                   dtype=np.float64)
    n, shape = x.shape[0], x.shape[1:]
    if a.shape == x.shape:
        unit_axes = 0  # one unit per feature
    elif len(shape) == 3 and a.shape == (n, *shape[1:]):
        unit_axes = 1  # channel-summed map: a unit is a pixel, all channels
    else:
        raise ValueError(f"attributions must have x's shape {x.shape} (or {(n, *shape[1:])} for images), got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("attributions contain NaN or infinite values")
    try:
        b = np.broadcast_to(np.asarray(baseline, dtype=np.float64), shape).copy()
    except (TypeError, ValueError):
        raise ValueError(f"baseline must be a number or an array broadcastable to one input {shape}") from None
    out = model_outputs(f, x)
    if out.ndim == 2 and out.shape[1] > 1:
        tgt = np.argmax(out, axis=1) if target is None else np.broadcast_to(np.asarray(target), (n,))
    else:
        tgt = np.zeros(n, dtype=int)
    return x, a.reshape(n, -1), unit_axes, b, tgt


def _curves(f, x, order, unit_axes, baseline, tgt, n_steps, insertion):
    """Scores of f (target column) as the first k units of ``order`` are removed (deletion) or
    inserted into the baseline (insertion), k over n_steps + 1 evenly spaced fractions."""
    n, shape = x.shape[0], x.shape[1:]
    n_units = order.shape[1]
    ks = np.round(np.linspace(0, n_units, n_steps + 1)).astype(int)
    rank = np.empty_like(order)
    rank[np.arange(n)[:, None], order] = np.arange(n_units)  # rank[i, u]: position of unit u in i's order
    if unit_axes:
        c = shape[0]
        rank_full = np.broadcast_to(rank.reshape(n, 1, *shape[1:]), (n, c, *shape[1:])).reshape(n, -1)
    else:
        rank_full = rank
    xf, bf = x.reshape(n, -1), baseline.reshape(1, -1)
    batch = np.empty((len(ks), n, xf.shape[1]))
    for s, k in enumerate(ks):
        moved = rank_full < k
        if insertion:
            batch[s] = np.where(moved, xf, bf)
        else:
            batch[s] = np.where(moved, bf, xf)
    out = model_outputs(f, batch.reshape(len(ks) * n, *shape))
    if out.ndim == 2 and out.shape[1] > 1:
        scores = out.reshape(len(ks), n, -1)[:, np.arange(n), tgt]
    else:
        scores = _as_output(out, None).reshape(len(ks), n)
    return ks / n_units, scores.T


@dataclass
class Faithfulness:
    """Deletion and insertion curves of an attribution, with a random-ordering control.

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
    diagnostics: dict = field(default_factory=dict)

    def to_dict(self):
        return _jsonable({k: getattr(self, k) for k in ("deletion_auc", "insertion_auc", "random_deletion_auc",
                                                          "random_insertion_auc", "random_deletion_std",
                                                          "random_insertion_std", "diagnostics")})

    def __repr__(self):
        return (f"Faithfulness(deletion_auc={self.deletion_auc:.4g} (random {self.random_deletion_auc:.4g}), "
                f"insertion_auc={self.insertion_auc:.4g} (random {self.random_insertion_auc:.4g}))")


def deletion_curve(f, x, attributions, *, target=None, baseline=0.0, n_steps=20):
    """Deletion curve: the target output as features are replaced by ``baseline`` in order of
    decreasing attribution.

    Parameters
    ----------
    f : callable or torch.nn.Module
        Batch (m, ...) -> outputs (m,) or (m, n_classes) (probabilities, as a rule).
    x : array-like of shape (n_samples, ...)
    attributions : array-like or callable
        Same shape as ``x`` (or (n, H, W) for images (n, C, H, W): whole pixels are moved), or
        a callable ``attributions(x)`` returning them (any method: fastmi's, Captum's...).
    target : int, array of int or None
        Output column per sample; default: the argmax of f(x).
    baseline : float or array-like broadcastable to one input, default=0.0
        The value a removed feature takes (0, the data mean, a blurred image...).
    n_steps : int, default=20

    Returns
    -------
    fractions : ndarray of shape (n_steps + 1,)
    curves : ndarray of shape (n_samples, n_steps + 1)
    """
    check_int(n_steps, "n_steps", low=1)
    x, a, unit_axes, b, tgt = _prepare(f, x, attributions, target, baseline)
    return _curves(f, x, np.argsort(-a, axis=1, kind="stable"), unit_axes, b, tgt, n_steps, False)


def insertion_curve(f, x, attributions, *, target=None, baseline=0.0, n_steps=20):
    """Insertion curve: the target output as features of ``x`` are put into the baseline in
    order of decreasing attribution. Parameters and returns as :func:`deletion_curve`."""
    check_int(n_steps, "n_steps", low=1)
    x, a, unit_axes, b, tgt = _prepare(f, x, attributions, target, baseline)
    return _curves(f, x, np.argsort(-a, axis=1, kind="stable"), unit_axes, b, tgt, n_steps, True)


def faithfulness(f, x, attributions, *, target=None, baseline=0.0, n_steps=20, n_random=5, rng=None):
    """Deletion and insertion AUCs of an attribution method, beside a random-ordering control.

    Parameters
    ----------
    f, x, attributions, target, baseline, n_steps
        As for :func:`deletion_curve`.
    n_random : int, default=5
        Random orderings per sample for the control (0: no control).
    rng : None, int, SeedSequence or Generator
        Source of the random orderings (SPEC 7).

    Returns
    -------
    Faithfulness

    Notes
    -----
    Attributions are ranked by their signed value (largest first); pass ``np.abs(a)`` to rank
    by magnitude. A faithful attribution has a deletion AUC below the random control's and an
    insertion AUC above it.
    """
    check_int(n_steps, "n_steps", low=1)
    n_random = check_int(n_random, "n_random", low=0)
    gen = check_rng(rng)
    x, a, unit_axes, b, tgt = _prepare(f, x, attributions, target, baseline)
    order = np.argsort(-a, axis=1, kind="stable")
    fr, dele = _curves(f, x, order, unit_axes, b, tgt, n_steps, False)
    _, ins = _curves(f, x, order, unit_axes, b, tgt, n_steps, True)
    rd, ri = [], []
    for _ in range(n_random):
        perm = np.argsort(gen.random(a.shape), axis=1)
        rd.append(_auc(fr, _curves(f, x, perm, unit_axes, b, tgt, n_steps, False)[1]).mean())
        ri.append(_auc(fr, _curves(f, x, perm, unit_axes, b, tgt, n_steps, True)[1]).mean())
    nan = float("nan")
    return Faithfulness(fr, dele, ins, float(_auc(fr, dele).mean()), float(_auc(fr, ins).mean()),
                        float(np.mean(rd)) if rd else nan, float(np.mean(ri)) if ri else nan,
                        float(np.std(rd)) if rd else nan, float(np.std(ri)) if ri else nan,
                        {"n_samples": x.shape[0], "n_steps": n_steps, "n_random": n_random,
                         "units": "pixels" if unit_axes else "features"})
