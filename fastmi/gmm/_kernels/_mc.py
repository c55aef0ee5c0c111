"""Monte-Carlo integrals of log-density ratios of a fitted Gaussian mixture.

Randomness comes from Python: standard normals ``z`` held feature-major (D, m), and
uniforms ``u`` (m,) in ascending order (see ``fastmi.gmm._montecarlo.MCDraws``). A sample's component
is the smallest c with u < cum_weights[c]; with sorted u, component c owns one contiguous
run of samples, found by binary search, so x = mean[c] + L[c] z is drawn with constant
parameters over each run. Every needed log density is evaluated in the same pass over a
block of samples, so no (samples x components) array larger than a block is built.
"""
import numba
import numpy as np

from ._cache import NUMBA_CACHE
from ._em import ARITH, BLOCK, _block_exp_sum, _block_log_prob, _dot, _log_positive, _sum


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _component_bounds(u, cum_weights, bounds):
    """bounds[c] = number of samples whose component is <= c: #{u < cum_weights[c]} for the
    ascending ``u``, and all of them for the last component (whatever rounding left in the CDF)."""
    K = cum_weights.shape[0]
    for c in range(K - 1):
        bounds[c] = np.searchsorted(u, cum_weights[c])
    bounds[K - 1] = u.shape[0]


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=ARITH)
def _draw_block(z, i0, m, bounds, means, chol, pts):
    """pts[:, i] = means[c] + chol[c] @ z[:, i0 + i], c the component owning sample i0 + i."""
    D = z.shape[0]
    lo = i0
    for c in range(bounds.shape[0]):
        hi = min(bounds[c], i0 + m)
        if hi <= lo:
            continue
        r = hi - lo
        if D == 2:
            z0, z1 = z[0][lo:hi], z[1][lo:hi]
            p0, p1 = pts[0][lo - i0:hi - i0], pts[1][lo - i0:hi - i0]
            mu0, mu1 = means[c, 0], means[c, 1]
            l00, l10, l11 = chol[c, 0, 0], chol[c, 1, 0], chol[c, 1, 1]
            for i in range(r):
                p0[i] = mu0 + l00 * z0[i]
                p1[i] = mu1 + l10 * z0[i] + l11 * z1[i]
        else:
            for a in range(D):
                out = pts[a][lo - i0:hi - i0]
                mu = means[c, a]
                for i in range(r):
                    out[i] = mu
                for b in range(a + 1):
                    lab = chol[c, a, b]
                    zb = z[b][lo:hi]
                    for i in range(r):
                        out[i] += lab * zb[i]
        lo = hi


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=ARITH)
def _block_quadratic(pts, m, center, A, h, c0, u, g):
    """g[i] = c0 + h . v - v^T A v / 2 with v = pts[:, i] - center (A symmetric)."""
    D = pts.shape[0]
    for i in range(m):
        g[i] = c0
    for a in range(D):
        ca, ha = center[a], h[a]
        pa, ua = pts[a], u[a]
        for i in range(m):
            ua[i] = pa[i] - ca
            g[i] += ha * ua[i]
    for a in range(D):
        ua = u[a]
        for b in range(a + 1):
            q = -0.5 * A[a, b] if a == b else -A[a, b]
            ub = u[b]
            for i in range(m):
                g[i] += q * ua[i] * ub[i]


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=ARITH, inline="always")
def _block_log_ratio(z, i0, m, bounds, means, chol, term_cols, term_dims, term_coef, term_log_w, term_means,
                     term_prec_chol, term_log_det, cv_center, cv_A, cv_h, cv_c0, pts, v, lp, acc, ya, vmax, ssum,
                     num, den, f, g):
    """f[i] and g[i] (see ``_mc_log_ratio_moments``) for the m samples i0 .. i0+m-1 of ``z``;
    the other arrays are work space of one block."""
    T = term_cols.shape[0]
    K = bounds.shape[0]
    i00 = np.int64(0)  # not a literal 0: every caller of _block_log_prob shares one compiled signature
    _draw_block(z, i0, m, bounds, means, chol, pts)
    for i in range(m):
        f[i] = 0.0
        num[i] = 1.0
        den[i] = 1.0
    for t in range(T):
        _block_log_prob(pts, term_cols[t, :term_dims[t]], i00, m, term_log_w, term_means, term_prec_chol,
                        term_log_det, t * K, K, lp, acc, ya)
        _block_exp_sum(lp, K, m, vmax, ssum)
        if term_coef[t] > 0:
            for i in range(m):
                f[i] += vmax[i]
                num[i] *= ssum[i]
        else:
            for i in range(m):
                f[i] -= vmax[i]
                den[i] *= ssum[i]
    for i in range(m):
        num[i] /= den[i]
    _log_positive(num, f, f, m)
    _block_quadratic(pts, m, cv_center, cv_A, cv_h, cv_c0, v, g)


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=ARITH)
def _mc_log_ratio_moments(z, bounds, means, chol, term_cols, term_dims, term_coef,
                          term_log_w, term_means, term_prec_chol, term_log_det,
                          cv_center, cv_A, cv_h, cv_c0, sums):
    """Moments over samples of  f(x) = sum_t coef_t log p_t(x[cols_t])  and of the control
    variate g(x) = sum_t coef_t log N_t(x[cols_t]), added to ``sums`` as
    [sum f, sum f^2, sum g, sum g^2, sum f g].

    Term t of f is a K-component mixture over the columns ``term_cols[t, :term_dims[t]]`` of
    the sampled point, with coef_t = +1 or -1; its parameters are rows t*K .. t*K+K-1 of
    ``term_log_w`` (T*K,), ``term_means`` (T*K, dmax), ``term_prec_chol`` (T*K, dmax, dmax),
    ``term_log_det`` (T*K,). Each term's log-sum-exp is vmax_t + log(ssum_t), so f takes one
    log per sample: sum_t coef_t vmax_t + log(prod of ssum_t over coef +1 / those over -1).
    g, a sum of Gaussian log densities, is a quadratic in x: ``cv_c0 + cv_h . v - v^T cv_A v / 2``
    with v = x - ``cv_center``. MI is f = log p(x,y) - log p(x) - log p(y); conditional MI,
    entropies and KL are other signed sums of marginal log densities.
    """
    D, n = z.shape
    K = bounds.shape[0]
    pts, v, lp = np.empty((D, BLOCK)), np.empty((D, BLOCK)), np.empty((K, BLOCK))
    acc, ya, vmax, ssum, num, den = (np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK),
                                     np.empty(BLOCK), np.empty(BLOCK))
    f = np.empty(BLOCK)
    g = np.empty(BLOCK)
    for i0 in range(0, n, BLOCK):
        m = min(BLOCK, n - i0)
        _block_log_ratio(z, i0, m, bounds, means, chol, term_cols, term_dims, term_coef, term_log_w, term_means,
                         term_prec_chol, term_log_det, cv_center, cv_A, cv_h, cv_c0, pts, v, lp, acc, ya, vmax,
                         ssum, num, den, f, g)
        sums[0] += _sum(f, m)
        sums[1] += _dot(f, f, m)
        sums[2] += _sum(g, m)
        sums[3] += _dot(g, g, m)
        sums[4] += _dot(f, g, m)


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=ARITH)
def _mc_categorical_moments(z, bounds, means, chol, prec_chol, log_det, comp_class,
                            log_w_joint, log_w_within):
    """Sum and sum of squares of log p(x | c) - log p(x) for x ~ p(x | c), c ~ p(c).

    The class-conditional mixtures are stacked into one mixture of J components:
    ``comp_class[j]`` is the class of component j, ``log_w_within[j]`` its log weight
    within the class and ``log_w_joint[j] = log p(c) + log_w_within[j]`` (whose CDF gave
    ``bounds``).
    """
    D, n = z.shape
    J = means.shape[0]
    rows = np.arange(D)
    i00 = np.int64(0)  # not a literal 0 (see _mc_log_ratio_moments)
    pts = np.empty((D, BLOCK))
    lp = np.empty((J, BLOCK))
    lc = np.empty((J, BLOCK))
    acc = np.empty(BLOCK)
    ya = np.empty(BLOCK)
    vmax_x = np.empty(BLOCK)
    vmax_c = np.empty(BLOCK)
    ssum_x = np.empty(BLOCK)
    ssum_c = np.empty(BLOCK)
    f = np.empty(BLOCK)
    total = 0.0
    total_sq = 0.0
    for i0 in range(0, n, BLOCK):
        m = min(BLOCK, n - i0)
        _draw_block(z, i0, m, bounds, means, chol, pts)
        _block_log_prob(pts, rows, i00, m, log_w_joint, means, prec_chol, log_det, i00, J, lp, acc, ya)
        lo = i0
        for j in range(J):
            shift = log_w_within[j] - log_w_joint[j]
            lpj, lcj = lp[j], lc[j]
            for i in range(m):
                lcj[i] = -np.inf
            # the sample's class is fixed over each component's run
            for c in range(bounds.shape[0]):
                hi = min(bounds[c], i0 + m)
                if hi > lo and comp_class[c] == comp_class[j]:
                    for i in range(lo - i0, hi - i0):
                        lcj[i] = lpj[i] + shift
                lo = max(lo, hi)
            lo = i0
        _block_exp_sum(lp, J, m, vmax_x, ssum_x)
        _block_exp_sum(lc, J, m, vmax_c, ssum_c)
        for i in range(m):
            f[i] = vmax_c[i] - vmax_x[i]
            ssum_c[i] /= ssum_x[i]
        _log_positive(ssum_c, f, f, m)
        total += _sum(f, m)
        total_sq += _dot(f, f, m)
    return total, total_sq


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=ARITH)
def _mc_log_ratio_values(z, bounds, means, chol, term_cols, term_dims, term_coef,
                         term_log_w, term_means, term_prec_chol, term_log_det,
                         cv_center, cv_A, cv_h, cv_c0, f_out, g_out):
    """The per-sample values f(x_i) and g(x_i) whose moments ``_mc_log_ratio_moments``
    sums (same arguments, same arithmetic), written to ``f_out`` and ``g_out`` (n,): for
    integrals that compare several mixtures sample by sample over common draws."""
    D, n = z.shape
    K = bounds.shape[0]
    pts, v, lp = np.empty((D, BLOCK)), np.empty((D, BLOCK)), np.empty((K, BLOCK))
    acc, ya, vmax, ssum, num, den = (np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK),
                                     np.empty(BLOCK), np.empty(BLOCK))
    for i0 in range(0, n, BLOCK):
        m = min(BLOCK, n - i0)
        _block_log_ratio(z, i0, m, bounds, means, chol, term_cols, term_dims, term_coef, term_log_w, term_means,
                         term_prec_chol, term_log_det, cv_center, cv_A, cv_h, cv_c0, pts, v, lp, acc, ya, vmax,
                         ssum, num, den, f_out[i0:i0 + m], g_out[i0:i0 + m])
