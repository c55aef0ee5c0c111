"""EM for full-covariance Gaussian mixtures: fused E-step, closed-form M-step, the fit loop.

Shapes: X (n, d) C-contiguous float64; weights (K,); means (K, d); covariances (K, d, d).
All log densities are in nats. Fast-math is limited to the two flags below (ARITH, REDUCE):
log-sum-exp must see -inf.

The E-step works on blocks of ``BLOCK`` samples held feature-major (Xt, shape (d, n)), so
every inner loop runs over contiguous samples with scalar per-component constants; a
sample-at-a-time loop spends more on indexing than on arithmetic. Inner loops index 1-D
views (``lp[k]``, ``x[i0:i0 + m]``) by the loop counter alone: an offset or 2-D index in
the loop body costs Numba's wraparound handling per element and runs ~3x slower.
"""
import math

import numba
import numpy as np

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from ._cache import NUMBA_CACHE
from ._linalg import LOG_2PI, _precision_cholesky


@intrinsic
def _bits_of(typingctx, x):
    """The IEEE-754 bits of a float64 as an int64 (a register move, no memory)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _float_of(typingctx, b):
    """The float64 whose IEEE-754 bits are the int64 ``b``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen

BLOCK = 256

# Two fast-math flags, and no others (infinities and NaN keep their meaning, which
# log-sum-exp and EM rely on): "contract" lets a*b + c become one fused multiply-add, and
# "reassoc", only in the kernels that sum over samples, lets LLVM reorder those sums into
# vector partial sums (a strictly ordered sum is one chain of dependent additions, ~4x
# slower). Both are fixed at compile time: results never depend on threads or on how work
# is split.
ARITH = {"contract"}
REDUCE = {"reassoc", "contract"}

# EM status codes returned by _em_fit
EM_OK = 0
EM_NOT_SPD = 1  # a covariance lost positive definiteness (a component collapsed)
EM_NAN = 2  # the likelihood became NaN


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=ARITH)
def _block_log_prob(Xt, rows, i0, m, log_w, means, prec_chol, log_det, k0, K, lp, acc, ya):
    """lp[k, :m] = log w + log N(x | mean, cov) of samples i0..i0+m-1, components k0..k0+K-1.

    The point of sample i is ``Xt[rows, i]`` (len(rows) = d). ``prec_chol`` holds the
    lower-triangular P with cov^-1 = P^T P and ``log_det`` = log|P|.
    """
    d = rows.shape[0]
    # one-pass forms for d = 1 and 2 (the marginals and joint of scalar x and y): the
    # general loop's arithmetic without its passes over ya and acc
    if d == 1:
        x0 = Xt[rows[0]][i0:i0 + m]
        for k in range(K):
            kk = k0 + k
            p00, mu0 = prec_chol[kk, 0, 0], means[kk, 0]
            c = log_w[kk] + log_det[kk] - 0.5 * LOG_2PI
            out = lp[k]
            for i in range(m):
                y0 = p00 * (x0[i] - mu0)
                out[i] = c - 0.5 * (y0 * y0)
        return
    if d == 2:
        x0 = Xt[rows[0]][i0:i0 + m]
        x1 = Xt[rows[1]][i0:i0 + m]
        for k in range(K):
            kk = k0 + k
            p00, p10, p11 = prec_chol[kk, 0, 0], prec_chol[kk, 1, 0], prec_chol[kk, 1, 1]
            mu0, mu1 = means[kk, 0], means[kk, 1]
            c = log_w[kk] + log_det[kk] - 0.5 * 2 * LOG_2PI
            out = lp[k]
            for i in range(m):
                d0 = x0[i] - mu0
                y0 = p00 * d0
                y1 = p10 * d0 + p11 * (x1[i] - mu1)
                out[i] = c - 0.5 * (y0 * y0 + y1 * y1)
        return
    for k in range(K):
        kk = k0 + k
        for i in range(m):
            acc[i] = 0.0
        for a in range(d):
            for i in range(m):
                ya[i] = 0.0
            for b in range(a + 1):
                p = prec_chol[kk, a, b]
                mu = means[kk, b]
                xb = Xt[rows[b]][i0:i0 + m]
                for i in range(m):
                    ya[i] += p * (xb[i] - mu)
            for i in range(m):
                acc[i] += ya[i] * ya[i]
        c = log_w[kk] + log_det[kk] - 0.5 * d * LOG_2PI
        out = lp[k]
        for i in range(m):
            out[i] = c - 0.5 * acc[i]


# exp and log on blocks, written so that LLVM vectorises them (libm's are scalar calls)
_LN2_HI = 6.93147180369123816490e-01  # trailing zero bits: n * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_SHIFTER = 6755399441055744.0  # 1.5 * 2**52: x + _SHIFTER rounds x to an integer held in the low bits
_SHIFTER_BITS = 0x4338000000000000
_EXP_FLOOR = -708.0  # exp(-708) ~ 3e-308 is still a normal number


_EXP_TABLE = np.exp2(np.arange(32) / 32.0)  # 2^(j/32), j = 0..31
_INV_LN2_32 = 32.0 / math.log(2.0)
_LN2_32_HI = _LN2_HI / 32.0  # still with trailing zero bits: n * _LN2_32_HI is exact for |n| < 2^20
_LN2_32_LO = _LN2_LO / 32.0


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, inline="always")
def _exp_shifted_sum(v, shift, m, total):
    """v[:m] <- exp(v[:m] - shift[:m]) and total[:m] += that, for v <= shift, to about 2 ulp;
    arguments below -708 (and NaN) give exp(-708).

    exp(x) = 2^k 2^(j/32) exp(r) with n = round(32 x / ln 2) = 32 k + j and |r| <= ln(2) / 64:
    a 32-entry table and a degree-6 polynomial (truncation below 1e-17), 2^k built from its
    exponent bits. Arithmetic, bit casts and a table gather: LLVM vectorises all of it.
    """
    table = _EXP_TABLE
    for i in range(m):
        x = v[i] - shift[i]
        x = x if x > _EXP_FLOOR else _EXP_FLOOR
        t = x * _INV_LN2_32 + _SHIFTER
        n = t - _SHIFTER
        r = (x - n * _LN2_32_HI) - n * _LN2_32_LO
        p = 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        ni = _bits_of(t) - _SHIFTER_BITS
        e = table[ni & 31] * p * _float_of(((ni >> 5) + 1023) << 52)
        v[i] = e
        total[i] += e


_SQRT_HALF_BITS = 0x3FE6A09E667F3BCD  # bits of sqrt(1/2)


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, inline="always")
def _log_positive(v, add, out, m):
    """out[:m] = add[:m] + log(v[:m]) for positive normal v, to about 1 ulp, in a loop LLVM vectorises.

    v = 2^e * r with r in [sqrt(1/2), sqrt(2)), log r = 2 atanh(f), f = (r - 1) / (r + 1),
    |f| < 0.172, by its odd series to f^23 (truncation below 1e-17).
    """
    for i in range(m):
        # integer-only range reduction (no branch, no int-to-float conversion: both block
        # vectorisation): shifting the bits by those of sqrt(1/2) puts r in [sqrt(1/2), sqrt(2))
        b = _bits_of(v[i]) - _SQRT_HALF_BITS
        k = b >> 52
        r = _float_of(b - (k << 52) + _SQRT_HALF_BITS)
        e = _float_of(_SHIFTER_BITS + k) - _SHIFTER
        f = (r - 1.0) / (r + 1.0)
        s = f * f
        q = 1.0 / 23.0
        q = q * s + 1.0 / 21.0
        q = q * s + 1.0 / 19.0
        q = q * s + 1.0 / 17.0
        q = q * s + 1.0 / 15.0
        q = q * s + 1.0 / 13.0
        q = q * s + 1.0 / 11.0
        q = q * s + 1.0 / 9.0
        q = q * s + 1.0 / 7.0
        q = q * s + 1.0 / 5.0
        q = q * s + 1.0 / 3.0
        out[i] = add[i] + (e * _LN2_HI + (e * _LN2_LO + (2.0 * f + 2.0 * f * s * q)))


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=ARITH)
def _block_exp_sum(lp, K, m, vmax, ssum):
    """vmax[i] = max_k lp[k, i]; lp[:K, :m] <- exp(lp - vmax) and ssum[i] = sum_k of those, so
    that log sum_k exp(lp[k, i]) = vmax[i] + log(ssum[i]) with 1 <= ssum[i] <= K.

    Where every entry of a column is -inf, the column becomes 0 and ssum 1 (vmax stays
    -inf). A single component costs no exp.
    """
    v0 = lp[0]
    for i in range(m):
        vmax[i] = v0[i]
    for k in range(1, K):
        vk = lp[k]
        for i in range(m):
            vmax[i] = max(vmax[i], vk[i])
    n_empty = 0
    for i in range(m):
        n_empty += vmax[i] == -np.inf
    if K == 1:
        for i in range(m):
            ssum[i] = 1.0
            v0[i] = 1.0
    else:
        for i in range(m):
            ssum[i] = 0.0
        for k in range(K):
            _exp_shifted_sum(lp[k], vmax, m, ssum)
    if n_empty:
        for i in range(m):
            if vmax[i] == -np.inf:
                for k in range(K):
                    lp[k, i] = 0.0
                ssum[i] = 1.0


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=ARITH)
def _block_logsumexp(lp, K, m, lse, vmax, ssum):
    """lse[i] = log sum_k exp(lp[k, i]), -inf where every entry is -inf; lp, vmax and ssum
    are left as ``_block_exp_sum`` leaves them."""
    _block_exp_sum(lp, K, m, vmax, ssum)
    if K == 1:
        for i in range(m):
            lse[i] = vmax[i]
    else:
        _log_positive(ssum, vmax, lse, m)


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=REDUCE)
def _dot(a, b, m):
    """sum(a[:m] * b[:m])."""
    t = 0.0
    for i in range(m):
        t += a[i] * b[i]
    return t


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=REDUCE)
def _sum(a, m):
    """sum(a[:m])."""
    t = 0.0
    for i in range(m):
        t += a[i]
    return t


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=REDUCE)
def _stats_2d(Xt, i0, m, e, inv_sum, center, nk, s1, s2):
    """The E-step's statistics for d = 2 in one pass per component: six running sums, each
    in its own register, instead of a pass (and a memory round trip) per statistic."""
    x0 = Xt[0][i0:i0 + m]
    x1 = Xt[1][i0:i0 + m]
    for k in range(e.shape[0]):
        c0, c1 = center[k, 0], center[k, 1]
        ek = e[k]
        t_n = t_0 = t_1 = t_00 = t_10 = t_11 = 0.0
        for i in range(m):
            r = ek[i] * inv_sum[i]
            a = x0[i] - c0
            b = x1[i] - c1
            ra = r * a
            rb = r * b
            t_n += r
            t_0 += ra
            t_1 += rb
            t_00 += ra * a
            t_10 += rb * a
            t_11 += rb * b
        nk[k] += t_n
        s1[k, 0] += t_0
        s1[k, 1] += t_1
        s2[k, 0, 0] += t_00
        s2[k, 1, 0] += t_10
        s2[k, 1, 1] += t_11


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=ARITH)
def _e_step(Xt, sw, log_w, means, prec_chol, log_det, center, nk, s1, s2):
    """Fused E-step: log-prob -> log-sum-exp -> responsibilities -> sufficient statistics.

    Accumulates, for each component k, nk = sum w_i r_ik, s1 = sum w_i r_ik (x_i - c_k) and
    the lower triangle of s2 = sum w_i r_ik (x_i - c_k)(x_i - c_k)^T, where c_k = ``center[k]``
    (the current mean: shifting keeps the one-pass covariance free of cancellation) and w_i
    = ``sw[i]`` is the sample's multiplicity (a bootstrap count; ones give plain EM, exactly).
    ``Xt`` is the data feature-major, shape (d, n). Returns the weighted total log-likelihood.
    """
    d, n = Xt.shape
    K = means.shape[0]
    nk[:] = 0.0
    s1[:] = 0.0
    s2[:] = 0.0
    rows = np.arange(d)
    k0 = np.int64(0)  # not a literal 0: every caller of _block_log_prob shares one compiled signature
    lp = np.empty((K, BLOCK))
    acc = np.empty(BLOCK)
    ya = np.empty(BLOCK)
    lse = np.empty(BLOCK)
    vmax = np.empty(BLOCK)
    xc = np.empty((d, BLOCK))
    total = 0.0
    for i0 in range(0, n, BLOCK):
        m = min(BLOCK, n - i0)
        _block_log_prob(Xt, rows, i0, m, log_w, means, prec_chol, log_det, k0, K, lp, acc, ya)
        _block_logsumexp(lp, K, m, lse, vmax, acc)
        swb = sw[i0:i0 + m]
        total += _dot(swb, lse, m)
        for i in range(m):
            acc[i] = swb[i] / acc[i]  # weighted responsibilities: the shifted exponentials times w over their sum
        if d == 2:
            _stats_2d(Xt, i0, m, lp, acc, center, nk, s1, s2)
            continue
        for k in range(K):
            r = lp[k]
            for i in range(m):
                r[i] *= acc[i]
            nk[k] += _sum(r, m)
            for a in range(d):
                ck = center[k, a]
                xa = Xt[a][i0:i0 + m]
                xca = xc[a]
                for i in range(m):
                    xca[i] = xa[i] - ck
                s1[k, a] += _dot(r, xca, m)
            for a in range(d):
                xca = xc[a]
                for i in range(m):
                    ya[i] = r[i] * xca[i]
                for b in range(a + 1):
                    s2[k, a, b] += _dot(ya, xc[b], m)
    return total


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _m_step(nk, s1, s2, center, n, reg_covar, weights, means, covariances):
    """Closed-form M-step from the shifted sufficient statistics of ``_e_step``."""
    K, d = means.shape
    eps10 = 10.0 * np.finfo(np.float64).eps
    wsum = 0.0
    for k in range(K):
        nkk = nk[k] + eps10
        weights[k] = nkk / n
        wsum += weights[k]
        for a in range(d):
            means[k, a] = center[k, a] + s1[k, a] / nkk
        for a in range(d):
            da = s1[k, a] / nkk
            for b in range(a + 1):
                c = s2[k, a, b] / nkk - da * (s1[k, b] / nkk)
                covariances[k, a, b] = c
                covariances[k, b, a] = c
            covariances[k, a, a] += reg_covar
    for k in range(K):
        weights[k] /= wsum


def _em_fit(X, weights, means, covariances, tol, reg_covar, max_iter):
    """Run EM in place from the given parameters.

    Each iteration is an E-step on the current parameters then an M-step. Stops when the
    mean log-likelihood per sample changes by less than ``tol``, or after ``max_iter``
    iterations. Returns ``(n_iter, converged, lower_bound, status)``: ``lower_bound`` is the
    mean log-likelihood of the last E-step, ``status`` is EM_OK, EM_NOT_SPD or EM_NAN.
    (A Python wrapper: one compiled EM, ``_em_fit_t``, serves every caller.)
    """
    return _em_fit_t(np.ascontiguousarray(X.T), np.ones(X.shape[0]), weights, means, covariances, tol, reg_covar,
                     max_iter)


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _em_fit_t(Xt, sw, weights, means, covariances, tol, reg_covar, max_iter):
    """``_em_fit`` on feature-major data Xt of shape (d, n), sample i counted ``sw[i]`` times.

    With one component the first M-step already lands on EM's fixed point (the sample mean
    and covariance), so that fit is computed directly by ``_gaussian_fit_t``: one iteration.
    """
    d, n_rows = Xt.shape
    K = means.shape[0]
    if K == 1:
        return _gaussian_fit_t(Xt, sw, weights, means, covariances, reg_covar)
    n = _sum(sw, n_rows)
    chol = np.zeros((K, d, d))
    prec_chol = np.zeros((K, d, d))
    log_det = np.empty(K)
    log_w = np.empty(K)
    center = np.empty((K, d))
    nk = np.empty(K)
    s1 = np.empty((K, d))
    s2 = np.empty((K, d, d))
    lower_bound = -np.inf
    for it in range(1, max_iter + 1):
        if _precision_cholesky(covariances, chol, prec_chol, log_det) >= 0:
            return it, False, lower_bound, EM_NOT_SPD
        for k in range(K):
            log_w[k] = math.log(weights[k])
        for k in range(K):
            for a in range(d):
                center[k, a] = means[k, a]
        ll = _e_step(Xt, sw, log_w, means, prec_chol, log_det, center, nk, s1, s2) / n
        if not math.isfinite(ll):
            return it, False, lower_bound, EM_NAN
        _m_step(nk, s1, s2, center, n, reg_covar, weights, means, covariances)
        change = ll - lower_bound
        lower_bound = ll
        if abs(change) < tol:
            return it, True, lower_bound, EM_OK
    return max_iter, False, lower_bound, EM_OK


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE, fastmath=ARITH)
def _gaussian_fit_t(Xt, sw, weights, means, covariances, reg_covar):
    """One-component EM fit in closed form: the weighted sample mean and covariance (plus
    ``reg_covar`` on the diagonal) and the mean log-likelihood there,
    -(d log 2 pi + log|cov| + tr(cov^-1 S)) / 2 with S the unregularised sample covariance.
    Returns ``_em_fit_t``'s tuple with one iteration.
    """
    d, n_rows = Xt.shape
    n = _sum(sw, n_rows)
    for a in range(d):
        means[0, a] = _dot(sw, Xt[a], n_rows) / n
    xc = np.empty((d, n_rows))
    for a in range(d):
        mu = means[0, a]
        xa, xca = Xt[a], xc[a]
        for i in range(n_rows):
            xca[i] = xa[i] - mu
    wx = np.empty(n_rows)
    for a in range(d):
        xca = xc[a]
        for i in range(n_rows):
            wx[i] = sw[i] * xca[i]
        for b in range(a + 1):
            c = _dot(wx, xc[b], n_rows) / n
            covariances[0, a, b] = c
            covariances[0, b, a] = c
    weights[0] = 1.0
    chol = np.zeros((1, d, d))
    prec_chol = np.zeros((1, d, d))
    log_det = np.empty(1)
    for a in range(d):
        covariances[0, a, a] += reg_covar
    if _precision_cholesky(covariances, chol, prec_chol, log_det) >= 0:
        return 1, False, -np.inf, EM_NOT_SPD
    trace = 0.0  # tr(P S P^T) with S = cov - reg I and cov^-1 = P^T P (P lower triangular)
    for a in range(d):
        for c in range(a + 1):
            for e in range(a + 1):
                s_ce = covariances[0, c, e] - (reg_covar if c == e else 0.0)
                trace += prec_chol[0, a, c] * s_ce * prec_chol[0, a, e]
    ll = log_det[0] - 0.5 * (d * LOG_2PI + trace)
    if not math.isfinite(ll):
        return 1, False, -np.inf, EM_NAN
    return 1, True, ll, EM_OK


def _mean_log_likelihood(X, weights, means, covariances):
    """Mean log-likelihood per sample of X under the mixture; NaN if a covariance is not SPD.

    (Python glue around two compiled kernels: compiling it would re-optimise the whole
    E-step once more, for no speed.)
    """
    n, d = X.shape
    K = means.shape[0]
    chol = np.zeros((K, d, d))
    prec_chol = np.zeros((K, d, d))
    log_det = np.empty(K)
    if _precision_cholesky(covariances, chol, prec_chol, log_det) >= 0:
        return np.nan
    # the E-step's statistics are a few percent of its cost; one kernel serves both
    total = _e_step(np.ascontiguousarray(X.T), np.ones(n), _log(weights), means, prec_chol, log_det, means,
                    np.empty(K), np.empty((K, d)), np.empty((K, d, d)))
    return total / n


@numba.njit(nogil=True, error_model="numpy", cache=NUMBA_CACHE)
def _log(a):
    """np.log(a), as compiled code computes it (libm's log; NumPy's own may differ in the last bit)."""
    return np.log(a)
