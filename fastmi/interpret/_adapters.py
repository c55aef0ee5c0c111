"""Pull local and global tensors out of a torch model with forward hooks, and draw maps over
input images (torch and matplotlib are imported on first use)."""
from __future__ import annotations

import numpy as np

from ..neural._torch import frozen_eval, require_torch, resolve_device


def collect_activations(model, inputs, layers, *, batch_size=256, device=None):
    """Run ``model`` on ``inputs`` and return the outputs of the named layers.

    Parameters
    ----------
    model : torch.nn.Module
    inputs : array-like or tensor of shape (n_samples, ...)
    layers : dict of str to str
        ``{key: layer name}``, the layer names as in ``model.named_modules()`` (e.g.
        ``{"local": "conv2", "global": "fc1"}``).
    batch_size : int, default=256
    device : None or str
        Where to run (None: CPU).

    Returns
    -------
    dict of str to ndarray
        The float32 outputs of each layer, concatenated over batches, in their own shapes
        (use :func:`to_positions` on a (N, C, H, W) layer for ``local_global_map``).
    """
    torch = require_torch("collect_activations")
    if not isinstance(layers, dict) or not layers:
        raise ValueError("layers must be a non-empty dict {key: layer name}")
    modules = dict(model.named_modules())
    missing = [v for v in layers.values() if v not in modules]
    if missing:
        raise ValueError(f"no layer(s) {missing} in the model; its layers are {sorted(k for k in modules if k)}")
    dev = resolve_device(device)
    store = {key: [] for key in layers}
    handles = [modules[name].register_forward_hook(
        lambda mod, inp, out, key=key: store[key].append(out.detach().float().cpu())) for key, name in layers.items()]
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    data = (inputs if torch.is_tensor(inputs) else torch.as_tensor(np.asarray(inputs))).to(dtype)  # the model's dtype
    try:
        with frozen_eval(model, freeze=False), torch.no_grad():
            for s in range(0, data.shape[0], batch_size):
                model(data[s:s + batch_size].to(dev))
    finally:
        for h in handles:
            h.remove()
    return {key: torch.cat(v).numpy() for key, v in store.items()}


def to_positions(a):
    """(N, C, H, W) feature maps as (N, H*W, C) local features, and the grid shape (H, W);
    (N, C, L) sequences as (N, L, C) and (L,); (N, K, C) arrays are returned as they are."""
    a = np.asarray(a)
    if a.ndim == 4:
        n, c, h, w = a.shape
        return np.ascontiguousarray(a.reshape(n, c, h * w).transpose(0, 2, 1)), (h, w)
    if a.ndim == 3:
        return a, (a.shape[1],)
    raise ValueError(f"expected (N, C, H, W) or (N, C, L) activations, got shape {a.shape}")


def plot_map(image, values, *, shape=None, ax=None, alpha=0.5, cmap="magma", colorbar=True, title=None):
    """Draw a per-position map as a heatmap over an input image.

    Parameters
    ----------
    image : array-like of shape (H, W) or (H, W, 3)
    values : array-like of shape (K,) or (h, w)
        One value per position (a row of ``LocalGlobalMap.map``, a capacity map...);
        a flat map is reshaped to ``shape``.
    shape : tuple (h, w), optional
        The position grid (from :func:`to_positions`); default: square.
    ax : matplotlib Axes, optional
    alpha : float, default=0.5
        Opacity of the heatmap.

    Returns
    -------
    matplotlib Axes
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError('plot_map needs matplotlib: pip install "fastmi[plot]"') from None
    img = np.asarray(image, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        if shape is None:
            side = int(round(np.sqrt(v.size)))
            if side * side != v.size:
                raise ValueError(f"{v.size} positions are not a square grid; give shape=(h, w)")
            shape = (side, side)
        v = v.reshape(shape)
    h, w = img.shape[:2]
    rows = (np.arange(h) * v.shape[0]) // h
    cols = (np.arange(w) * v.shape[1]) // w
    up = v[rows][:, cols]  # nearest-neighbour upsampling to the image grid
    if ax is None:
        ax = plt.figure().add_subplot()
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    im = ax.imshow(up, cmap=cmap, alpha=alpha)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
