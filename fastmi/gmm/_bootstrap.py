"""The bootstrap loop: resample rows from each replicate's own PCG64 stream, refit EM
warm-started, integrate the MI of every refitted mixture."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._kernels._bootstrap import _em_fit_resampled
from ._kernels._em import EM_OK
from ._montecarlo import PairedMC, mc_categorical_mi, mc_log_ratio, mi_terms

_WORD = (1 << 64) - 1


def pcg_state(seed):
    """The state of ``np.random.PCG64(seed)`` as four uint64 words (state high, state low,
    increment high, increment low), for the kernels that draw from it."""
    st = np.random.PCG64(seed).state["state"]
    return np.array([st["state"] >> 64, st["state"] & _WORD, st["inc"] >> 64, st["inc"] & _WORD], dtype=np.uint64)


def resample_indices(seed, n):
    """The n row indices of the bootstrap resample drawn from ``PCG64(seed)``: row
    floor(r n / 2^64) for each raw draw r, as ``_em_fit_resampled`` draws them (this is its
    NumPy twin, for the array-namespace path and the tests)."""
    if n >= 1 << 32:
        raise ValueError("resampling supports fewer than 2**32 rows")
    raw = np.random.PCG64(seed).random_raw(n)
    nn = np.uint64(n)
    # high word of the 128-bit product raw * n, from 32-bit halves (exact for n < 2^32)
    mid = ((raw & np.uint64(0xFFFFFFFF)) * nn) >> np.uint64(32)
    return (((raw >> np.uint64(32)) * nn + mid) >> np.uint64(32)).astype(np.int64)


# --------------------------------------------------------------------------- bootstrap
@dataclass
class BootstrapOutput:
    values: np.ndarray  # (B,) MI in nats, NaN where the fit failed
    stderr: np.ndarray  # (B,) MC standard errors
    n_iter: np.ndarray  # (B, n_fits) EM iterations (one fit per class for the categorical variant)
    converged: np.ndarray
    ok: np.ndarray  # (B,) every fit of the replicate succeeded
    params: tuple  # stacked fitted parameters
    shared_error: float = None  # MC error of the mean; None: the mean of ``stderr``
    mc: dict = None  # what mc_samples='auto' did


def _resample_indices(seed_of, start, stop, n):
    """Bootstrap row indices of replicates start..stop-1 (see ``resample_indices``)."""
    return np.stack([resample_indices(seed_of(b), n) for b in range(start, stop)])


def _per_thread(B, pmap):
    """Contiguous runs of replicates, one per thread."""
    return [(r[0], r[-1] + 1) for r in np.array_split(np.arange(B), min(getattr(pmap, "n_jobs", 1), B)) if r.size]


def _refit_resampled(X, codes, k_ranges, params, n_boot, seed_of, em, pmap, integrate):
    """Resample, refit and integrate every replicate: each thread takes one contiguous run of
    replicates, fits them all by one ``_em_fit_resampled`` call (each from its own PCG64
    stream), then calls ``integrate(start, stop)``. ``params`` are the stacked (B, K, ...)
    starting parameters, overwritten by the fits. Returns the per-fit diagnostics."""
    n_fits = len(k_ranges) - 1
    n_iter = np.zeros((n_boot, n_fits), dtype=np.int64)
    conv = np.zeros((n_boot, n_fits), dtype=np.bool_)
    lb = np.zeros((n_boot, n_fits))
    status = np.zeros((n_boot, n_fits), dtype=np.int64)
    class_count = np.zeros((n_boot, n_fits))
    W, M, C = params

    def work(run):
        s, e = run
        states = np.stack([pcg_state(seed_of(b)) for b in range(s, e)])
        _em_fit_resampled(X, codes, states, k_ranges, W[s:e], M[s:e], C[s:e], em.tol, em.reg_covar, em.max_iter,
                          n_iter[s:e], conv[s:e], lb[s:e], status[s:e], class_count[s:e])
        integrate(s, e, class_count[s:e])

    pmap(work, _per_thread(n_boot, pmap))
    return n_iter, conv, (status == EM_OK).all(axis=1)


def bootstrap_continuous(X, warm, groups, n_boot, seed_of, em, draws, pmap, reference=None):
    """Bootstrap MI (or CMI) of the mixture model warm-started from ``warm``.

    Replicate b resamples the n rows from its own stream ``seed_of(b)``, refits EM by
    ``_em_fit_resampled`` and integrates by ``_mc_log_ratio_batch`` over the common ``draws``;
    or, when ``draws`` is a ``PairedMC`` (mc_samples='auto'), over its few common draws, paired
    with the ``reference`` mixture (see ``PairedMC``).
    """
    n = X.shape[0]
    W, M, C = (np.repeat(a[None], n_boot, axis=0) for a in (warm.weights, warm.means, warm.covariances))
    values = np.zeros(n_boot)
    stderr = np.zeros(n_boot)
    terms = mi_terms(groups)
    paired = isinstance(draws, PairedMC)
    if paired:
        f = np.zeros((n_boot, draws.n_samples))
        g = np.zeros((n_boot, draws.n_samples))

    def integrate(s, e, _count):
        if paired:
            draws.values(W[s:e], M[s:e], C[s:e], f[s:e], g[s:e])
        else:
            values[s:e], stderr[s:e] = mc_log_ratio(W[s:e], M[s:e], C[s:e], terms, draws)

    n_iter, conv, ok = _refit_resampled(X, np.zeros(n, dtype=np.int64), np.array([0, warm.n_components]),
                                        (W, M, C), n_boot, seed_of, em, pmap, integrate)
    shared, info = None, None
    if paired:
        ref = (reference.weights, reference.means, reference.covariances)
        values, stderr, shared, info = draws.finish(W, M, C, ok, f, g, ref, pmap)
    return BootstrapOutput(values, stderr, n_iter, conv, ok & np.isfinite(values), (W, M, C), shared, info)


def bootstrap_categorical(X, codes, warms, n_boot, seed_of, em, draws, pmap):
    """Bootstrap I(X; C): replicate b resamples rows, refits each class's mixture warm-started,
    and uses its own empirical class prior."""
    n = X.shape[0]
    comp_class = np.concatenate([np.full(w.n_components, c, dtype=np.int64) for c, w in enumerate(warms)])
    k_ranges = np.concatenate([[0], np.cumsum([w.n_components for w in warms])]).astype(np.int64)
    Ww, Mm, Cc = (np.repeat(np.concatenate([getattr(w, p) for w in warms])[None], n_boot, axis=0)
                  for p in ("weights", "means", "covariances"))
    prior = np.zeros((n_boot, len(warms)))
    values = np.zeros(n_boot)
    stderr = np.zeros(n_boot)

    def integrate(s, e, class_count):
        prior[s:e] = class_count / n
        values[s:e], stderr[s:e] = mc_categorical_mi(Ww[s:e], prior[s:e], Mm[s:e], Cc[s:e], comp_class, draws)

    n_iter, conv, ok = _refit_resampled(X, codes, k_ranges, (Ww, Mm, Cc), n_boot, seed_of, em, pmap, integrate)
    return BootstrapOutput(values, stderr, n_iter, conv, ok & np.isfinite(values), (Ww, prior, Mm, Cc, comp_class))
