"""Lazy access to PyTorch: the neural estimators and the interpretability maps import it on
first use, so that ``import fastmi`` never does."""
from __future__ import annotations

import contextlib
import importlib

import numpy as np


INSTALL = 'pip install "fastmi[torch]"'


def require_torch(what="the neural estimators"):
    """The ``torch`` module; ImportError naming the extra when it is missing."""
    try:
        return importlib.import_module("torch")
    except ImportError:
        raise ImportError(f"{what} need PyTorch: {INSTALL}") from None


def resolve_device(device):
    """``device`` as a ``torch.device``: None means CPU (CUDA only when asked for)."""
    torch = require_torch()
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be None, 'cpu', 'cuda' or 'cuda:N', got {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}: this PyTorch has no CUDA device (torch {torch.__version__})")
    return dev


def torch_seed(gen):
    """A 63-bit torch seed drawn from the NumPy Generator ``gen``."""
    return int(gen.integers(0, 2**63 - 1))


@contextlib.contextmanager
def seeded(seed, device, n_threads=None):
    """Run the block with torch's global generators forked and seeded with ``seed`` (restored
    afterwards), with ``n_threads`` intra-op threads (restored afterwards)."""
    torch = require_torch()
    devices = [device.index or 0] if device.type == "cuda" else []
    old_threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        try:
            if n_threads is not None:
                torch.set_num_threads(int(n_threads))
            yield
        finally:
            torch.set_num_threads(old_threads)


def standardize(a, axis=0, name=None):
    """``a`` standardised to mean 0 and std 1 over ``axis`` (constant slices are left
    centred); returns ``(standardised, mean, std)``, the statistics with ``keepdims``."""
    # scale first (by a power of two near the largest magnitude: exact), then centre, so that
    # neither the mean nor the squares over- or underflow anywhere in the float64 range
    a = np.asarray(a, dtype=np.float64)
    _, e = np.frexp(np.max(np.abs(a), axis=axis, keepdims=True))
    p = np.ldexp(1.0, np.minimum(e, 1023))
    b = a / p
    if name is not None:  # refuse data whose small values would lose bits next to the large ones
        from .._scaling import check_span

        check_span(b, name)
    mean = b.mean(axis=axis, keepdims=True)
    std = b.std(axis=axis, keepdims=True)
    std[std == 0] = 1.0
    with np.errstate(over="ignore"):
        return (b - mean) / std, mean * p, std * p


@contextlib.contextmanager
def frozen_eval(model, *, freeze=True):
    """Run the block with every submodule of ``model`` in eval mode (and, with ``freeze``,
    every parameter's ``requires_grad`` off), then restore each submodule's own ``training``
    flag and each parameter's own ``requires_grad``.

    ``model.train(was_training)`` is not enough: it sets the flag of every submodule to the
    wrapper's, so an eval-mode network inside ``nn.Sequential(net, nn.Softmax(-1))`` would come
    back with its dropout and batch-norm updates switched on."""
    modes = [(m, m.training) for m in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()] if freeze else []
    # only what changes is written (eval() only when a submodule trains): nn.Module.__setattr__
    # is slow Python, and rewriting every flag of an eval, frozen model twice per call cost
    # about 0.2 ms, a tenth of a functional_fisher call on a small CNN
    try:
        if any(mode for _, mode in modes):
            model.eval()
        for p, flag in flags:
            if flag:
                p.requires_grad_(False)
        yield model
    finally:
        for m, mode in modes:
            if m.training != mode:
                m.training = mode
        for p, flag in flags:
            if p.requires_grad != flag:
                p.requires_grad_(flag)
