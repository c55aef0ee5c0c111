"""The bootstrap loop (batched EM, log-sum-exp, Monte-Carlo MI) written once against an
array namespace ``xp``: NumPy runs it in the tests, CuPy runs it on GPUs.

Replicates are processed in lockstep as batched arrays, shape (B, n, K); each replicate's
convergence is tracked on its own and a converged replicate's parameters stop changing.
It follows the same arithmetic as the Numba kernels (E-step on the current parameters,
then M-step, then the tolerance test), so both agree to rounding.
"""
import math

import numpy as np

from ._bootstrap import BootstrapOutput, _resample_indices
from ._montecarlo import control_variate_estimate, mi_terms

LOG_2PI = math.log(2.0 * math.pi)


def logsumexp(xp, a, axis):
    """log(sum(exp(a), axis)) with the maximum factored out; -inf where every entry is -inf."""
    amax = xp.max(a, axis=axis, keepdims=True)
    amax = xp.where(xp.isfinite(amax), amax, 0.0)
    total = xp.sum(xp.exp(a - amax), axis=axis)
    safe = xp.log(xp.where(total > 0, total, 1.0))  # no log(0) warning: the empty case is set below
    return xp.where(total > 0, xp.squeeze(amax, axis=axis) + safe, -xp.inf)


def precision_factors(xp, covariances):
    """(cholesky L, P = L^-1, log|P|) for covariances of shape (..., d, d)."""
    L = xp.linalg.cholesky(covariances)
    eye = xp.broadcast_to(xp.eye(covariances.shape[-1]), covariances.shape)
    P = xp.linalg.solve(L, eye)  # batched triangular inverse
    log_det = -xp.sum(xp.log(xp.diagonal(L, axis1=-2, axis2=-1)), axis=-1)
    return L, P, log_det


def log_weighted_prob(xp, X, log_w, means, P, log_det):
    """log w_k + log N(x | mean_k, cov_k): X (B, n, d), params (B, K, ...) -> (B, n, K)."""
    d = X.shape[-1]
    diff = X[:, :, None, :] - means[:, None, :, :]  # (B, n, K, d)
    y = xp.einsum("bkac,bnkc->bnka", P, diff)
    return (log_w + log_det)[:, None, :] - 0.5 * (d * LOG_2PI + xp.sum(y * y, axis=-1))


def em_fit(xp, X, weights, means, covariances, tol, reg_covar, max_iter, valid=None):
    """Batched EM from the given parameters. X (B, n, d); ``valid`` (B, n) masks padding rows.

    Returns (weights, means, covariances, n_iter, converged, lower_bound, ok) as xp arrays.
    """
    B, n, d = X.shape
    if valid is None:
        valid = xp.ones((B, n), dtype=bool)
    wv = valid.astype(X.dtype)
    count = xp.sum(wv, axis=1)
    if means.shape[1] == 1:
        return gaussian_fit(xp, X, wv, count, reg_covar)
    eps10 = 10.0 * float(xp.finfo(xp.float64).eps)
    eye = xp.eye(d)
    active = xp.ones(B, dtype=bool)
    ok = xp.ones(B, dtype=bool)
    n_iter = xp.zeros(B, dtype=xp.int64)
    converged = xp.zeros(B, dtype=bool)
    lower_bound = xp.full(B, -xp.inf)
    for _ in range(max_iter):
        # a non-SPD covariance stops its replicate (the Numba kernel's EM_NOT_SPD)
        diag_ok = xp.all(xp.linalg.eigvalsh(covariances) > 0, axis=-1).all(axis=-1)
        bad = active & ~diag_ok
        ok &= ~bad
        active &= ~bad
        safe = xp.where(active[:, None, None, None], covariances, eye)
        _, P, log_det = precision_factors(xp, safe)
        lp = log_weighted_prob(xp, X, xp.log(weights), means, P, log_det)
        lse = logsumexp(xp, lp, axis=2)
        ll = xp.sum(xp.where(valid, lse, 0.0), axis=1) / count
        finite = xp.isfinite(ll)
        ok &= ~(active & ~finite)
        active &= finite
        resp = xp.exp(lp - lse[:, :, None]) * wv[:, :, None]
        nk = xp.sum(resp, axis=1) + eps10  # (B, K)
        new_w = nk / count[:, None]
        new_w = new_w / xp.sum(new_w, axis=1, keepdims=True)
        new_m = xp.einsum("bnk,bnd->bkd", resp, X) / nk[:, :, None]
        diff = X[:, :, None, :] - new_m[:, None, :, :]
        new_c = xp.einsum("bnk,bnkd,bnke->bkde", resp, diff, diff) / nk[:, :, None, None] + reg_covar * eye
        upd = active
        weights = xp.where(upd[:, None], new_w, weights)
        means = xp.where(upd[:, None, None], new_m, means)
        covariances = xp.where(upd[:, None, None, None], new_c, covariances)
        change = ll - lower_bound
        lower_bound = xp.where(upd, ll, lower_bound)
        n_iter = n_iter + upd
        done = upd & (xp.abs(change) < tol)
        converged |= done
        active &= ~done
        if not bool(xp.any(active)):
            break
    return weights, means, covariances, n_iter, converged, lower_bound, ok


def gaussian_fit(xp, X, wv, count, reg_covar):
    """One-component EM in closed form (its first M-step is the fixed point), as ``em_fit``
    returns it: the weighted mean and covariance, and the log-likelihood there."""
    B, n, d = X.shape
    mean = xp.einsum("bn,bnd->bd", wv, X) / count[:, None]
    diff = X - mean[:, None, :]
    S = xp.einsum("bn,bnd,bne->bde", wv, diff, diff) / count[:, None, None]
    eye = xp.eye(d)
    cov = S + reg_covar * eye
    ok = xp.all(xp.linalg.eigvalsh(cov) > 0, axis=-1)
    safe = xp.where(ok[:, None, None], cov, eye)
    _, P, log_det = precision_factors(xp, safe)
    trace = xp.einsum("bac,bce,bae->b", P, S, P)  # tr(P S P^T), cov^-1 = P^T P
    ll = log_det - 0.5 * (d * LOG_2PI + trace)
    ok &= xp.isfinite(ll)
    return (xp.ones((B, 1)), mean[:, None, :], cov[:, None], xp.ones(B, dtype=xp.int64), ok,
            xp.where(ok, ll, -xp.inf), ok)


def _draw(xp, z, u, weights, means, L):
    """Points x = mean[c] + L[c] z of each mixture b (z of shape (D, m)), c picked by inverting
    its weights' CDF at u; returns (points (B, m, D), components (B, m))."""
    B, K = weights.shape
    cum = xp.cumsum(weights, axis=1)
    comp = xp.sum(u[None, :, None] >= cum[:, None, :K - 1], axis=2) if K > 1 else xp.zeros((B, u.shape[0]), int)
    bidx = xp.arange(B)[:, None]
    return means[bidx, comp] + xp.einsum("bmac,cm->bma", L[bidx, comp], z), comp


def _marginal_logpdf(xp, pts, weights, means, covariances, cols_eval, cols_param):
    sub_c = covariances[:, :, cols_param][:, :, :, cols_param]
    _, P, log_det = precision_factors(xp, sub_c)
    lp = log_weighted_prob(xp, pts[:, :, cols_eval], xp.log(weights), means[:, :, cols_param], P, log_det)
    return logsumexp(xp, lp, axis=2)


def moment_match(xp, weights, means, covariances):
    """Mean (B, D) and covariance (B, D, D) of each stacked mixture."""
    mean = xp.einsum("bk,bkd->bd", weights, means)
    dev = means - mean[:, None, :]
    cov = xp.einsum("bk,bkde->bde", weights, covariances + dev[:, :, :, None] * dev[:, :, None, :])
    return mean, cov


def gaussian_term_expectation(xp, mean, cov, terms):
    """E[sum_t coef_t log N(x[eval_t]; mean[param_t], cov[param_t, param_t])] for x with the
    given mean and covariance (any law: the log density of a Gaussian is quadratic)."""
    out = xp.zeros(mean.shape[0])
    for coef, e, p in terms:
        e, p = list(e), list(p)
        S = cov[:, p][:, :, p]
        S_inv = xp.linalg.inv(S)
        logdet = 2.0 * xp.sum(xp.log(xp.diagonal(xp.linalg.cholesky(S), axis1=-2, axis2=-1)), axis=-1)
        trace = xp.einsum("bij,bji->b", S_inv, cov[:, e][:, :, e])
        dm = mean[:, e] - mean[:, p]
        quad = xp.einsum("bi,bij,bj->b", dm, S_inv, dm)
        out = out - 0.5 * coef * (len(p) * LOG_2PI + logdet + trace + quad)
    return out


def mc_log_ratio(xp, weights, means, covariances, terms, draws, chunk=1 << 14):
    """Batched MC of sum_t coef_t log p_t(x[eval_cols]) (see ``fastmi.gmm._montecarlo.mc_log_ratio``)."""
    g_mean, g_cov = moment_match(xp, weights, means, covariances)
    expected = gaussian_term_expectation(xp, g_mean, g_cov, terms)
    B = weights.shape[0]
    if weights.shape[1] == 1:
        return expected, xp.zeros(B)
    L, _, _ = precision_factors(xp, covariances)
    ones = xp.ones((B, 1))
    sums = xp.zeros((B, 5))
    for z_host, u_host in draws:
        for s in range(0, z_host.shape[1], chunk):
            z = xp.asarray(z_host[:, s:s + chunk])
            u = xp.asarray(u_host[s:s + chunk])
            pts, _ = _draw(xp, z, u, weights, means, L)
            f = xp.zeros(pts.shape[:2])
            g = xp.zeros(pts.shape[:2])
            for coef, e, p in terms:
                e, p = list(e), list(p)
                f = f + coef * _marginal_logpdf(xp, pts, weights, means, covariances, e, p)
                g = g + coef * _marginal_logpdf(xp, pts, ones, g_mean[:, None, :], g_cov[:, None], e, p)
            sums = sums + xp.stack([xp.sum(f, 1), xp.sum(f * f, 1), xp.sum(g, 1), xp.sum(g * g, 1),
                                    xp.sum(f * g, 1)], axis=1)
    return control_variate_estimate(xp, sums, expected, draws.n_samples)


def mc_categorical_mi(xp, weights_within, prior, means, covariances, comp_class, draws, chunk=1 << 14):
    """Batched MC of I(X; C) for stacked class-conditional mixtures (see ``fastmi.gmm._montecarlo``)."""
    comp_class = xp.asarray(comp_class)
    w_joint = prior[:, comp_class] * weights_within
    w_joint = w_joint / xp.sum(w_joint, axis=1, keepdims=True)
    L, P, log_det = precision_factors(xp, covariances)
    B = weights_within.shape[0]
    total = xp.zeros(B)
    total_sq = xp.zeros(B)
    n = 0
    for z_host, u_host in draws:
        for s in range(0, z_host.shape[1], chunk):
            z = xp.asarray(z_host[:, s:s + chunk])
            u = xp.asarray(u_host[s:s + chunk])
            pts, comp = _draw(xp, z, u, w_joint, means, L)
            lp = log_weighted_prob(xp, pts, xp.zeros_like(w_joint), means, P, log_det)  # log N only
            log_px = logsumexp(xp, lp + xp.log(w_joint)[:, None, :], axis=2)
            same = comp_class[comp][:, :, None] == comp_class[None, None, :]
            lc = xp.where(same, lp + xp.log(weights_within)[:, None, :], -xp.inf)
            f = logsumexp(xp, lc, axis=2) - log_px
            total = total + xp.sum(f, axis=1)
            total_sq = total_sq + xp.sum(f * f, axis=1)
            n += z.shape[1]
    mean = total / n
    return mean, xp.sqrt(xp.maximum(total_sq / n - mean * mean, 0.0) / n)


def _host(xp, a):
    return a.get() if hasattr(a, "get") else a


HOST_BUDGET = 1 << 30  # bytes the lockstep EM may hold at once on the CPU (NumPy)


def lockstep_batch(xp, n, d, K, most=64):
    """How many replicates to fit in lockstep: EM's largest temporaries are a few (n, K, d)
    arrays per replicate, about 8 n (3 K d + 2 K + d) bytes, and a batch uses at most half
    of the device's free memory (``HOST_BUDGET`` for NumPy). At least 1, at most ``most``."""
    if hasattr(xp, "cuda"):
        budget = xp.cuda.runtime.memGetInfo()[0] // 2
    else:
        budget = HOST_BUDGET
    per_replicate = 8 * n * (3 * K * d + 2 * K + d)
    return int(max(1, min(most, budget // per_replicate)))


def bootstrap_continuous(xp, X, warm, groups, n_boot, seed_of, em, draws, batch=None):
    """``fastmi.gmm._bootstrap.bootstrap_continuous`` on the array namespace ``xp``; ``batch``
    replicates at a time (default: ``lockstep_batch``)."""
    n = X.shape[0]
    terms = mi_terms(groups)
    batch = batch or lockstep_batch(xp, n, X.shape[1], warm.n_components)
    outs = []
    for s in range(0, n_boot, batch):
        e = min(s + batch, n_boot)
        idx = _resample_indices(seed_of, s, e, n)
        Xb = xp.asarray(X[idx])
        rep = e - s
        W, M, C = (xp.asarray(np.repeat(a[None], rep, axis=0)) for a in (warm.weights, warm.means, warm.covariances))
        W, M, C, it, conv, _, ok = em_fit(xp, Xb, W, M, C, em.tol, em.reg_covar, em.max_iter)
        safe_c = xp.where(ok[:, None, None, None], C, xp.eye(C.shape[-1]))
        v, se = mc_log_ratio(xp, W, M, safe_c, terms, draws)
        outs.append([_host(xp, a) for a in (v, se, it, conv, ok, W, M, C)])
    v, se, it, conv, ok, W, M, C = (np.concatenate(parts) for parts in zip(*outs))
    ok = ok & np.isfinite(v)
    return BootstrapOutput(v, se, it[:, None], conv[:, None], ok, (W, M, C))


def bootstrap_categorical(xp, X, codes, warms, n_boot, seed_of, em, draws, batch=None):
    """``fastmi.gmm._bootstrap.bootstrap_categorical`` on the array namespace ``xp``; ``batch``
    replicates at a time (default: ``lockstep_batch`` for the largest class mixture)."""
    n, d = X.shape
    n_classes = len(warms)
    comp_class = np.concatenate([np.full(w.n_components, c, dtype=np.int64) for c, w in enumerate(warms)])
    batch = batch or lockstep_batch(xp, n, d, max(w.n_components for w in warms))
    outs = []
    for s in range(0, n_boot, batch):
        e = min(s + batch, n_boot)
        idx = _resample_indices(seed_of, s, e, n)
        cls = codes[idx]
        prior = np.stack([np.bincount(c, minlength=n_classes) / n for c in cls])
        parts = {"W": [], "M": [], "C": [], "it": [], "conv": [], "ok": []}
        for c, warm in enumerate(warms):
            sel = [row[cl == c] for row, cl in zip(idx, cls)]
            width = max(max(len(r) for r in sel), 1)
            padded = np.zeros((e - s, width), dtype=np.int64)
            valid = np.zeros((e - s, width), dtype=bool)
            for i, r in enumerate(sel):
                padded[i, : len(r)] = r
                valid[i, : len(r)] = True
            W, M, C = (xp.asarray(np.repeat(a[None], e - s, axis=0))
                       for a in (warm.weights, warm.means, warm.covariances))
            W, M, C, it, conv, _, ok = em_fit(xp, xp.asarray(X[padded]), W, M, C, em.tol, em.reg_covar,
                                              em.max_iter, valid=xp.asarray(valid))
            for k, v in zip(("W", "M", "C", "it", "conv", "ok"), (W, M, C, it, conv, ok)):
                parts[k].append(v)
        W, M, C = (xp.concatenate(parts[k], axis=1) for k in ("W", "M", "C"))
        ok = xp.all(xp.stack(parts["ok"], axis=1), axis=1)
        safe_c = xp.where(ok[:, None, None, None], C, xp.eye(d))
        v, se = mc_categorical_mi(xp, W, xp.asarray(prior), M, safe_c, comp_class, draws)
        outs.append([_host(xp, a) for a in (v, se, xp.stack(parts["it"], axis=1), xp.stack(parts["conv"], axis=1),
                                             ok, W, xp.asarray(prior), M, C)])
    v, se, it, conv, ok, W, prior, M, C = (np.concatenate(p) for p in zip(*outs))
    ok = ok & np.isfinite(v)
    return BootstrapOutput(v, se, it, conv, ok, (W, prior, M, C, comp_class))
