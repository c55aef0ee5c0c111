"""Joint distributions with a known mutual information, for benchmarking estimators.

Every distribution has ``sample(n, rng) -> (x, y)``, the true MI in nats as ``mi``, a
``name``, its ``params``, ``y_type`` ('continuous' or 'categorical'), the dimensions
``dx``/``dy``, and says how its MI is known (``mi_method``) and how accurately
(``mi_stderr``: 0 for closed forms).

Shapes: ``x`` is ``(n,)`` when ``dx == 1`` and ``(n, dx)`` otherwise; the same for ``y``.
Categorical ``y`` is ``(n,)`` of integer class labels ``0..C-1``.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._validation import check_float, check_int, check_rng
from ._cache import cached

__all__ = ["Distribution", "Gaussian", "StudentT", "GammaExponential", "AdditiveUniform", "GaussianMixture",
           "ClassConditionalGaussian", "Transformed", "TRANSFORMS", "PRESETS", "KINDS"]

_LOG_2PI = math.log(2.0 * math.pi)
_MC_CHUNK = 200_000


class Distribution:
    """Base class: a joint law of (X, Y) whose mutual information is known.

    Subclasses implement ``_sample(n, rng) -> (x, y)`` with 2-D ``x``/``y`` and either
    ``_exact_mi()`` (closed form or quadrature) or a cached reference integral.

    Attributes
    ----------
    name : str
        Label used in benchmark tables.
    params : dict
        The parameters that define the distribution (JSON-friendly).
    y_type : {'continuous', 'categorical'}
        Type of ``y``.
    dx, dy : int
        Dimensions of ``x`` and ``y`` (``dy == 1`` for categorical ``y``).
    """

    kind = "distribution"
    y_type = "continuous"
    mi_method = "closed form"

    def __init__(self, name, params, dx, dy):
        self.name = str(name)
        self.params = params
        self.dx = int(dx)
        self.dy = int(dy)
        self._mi = None
        self._mi_stderr = 0.0

    # -- the true MI ---------------------------------------------------------------------
    @property
    def mi(self):
        """True mutual information I(X; Y) in nats."""
        if self._mi is None:
            self._mi, self._mi_stderr = self._compute_mi()
        return self._mi

    @property
    def mi_stderr(self):
        """Standard error of ``mi`` (0 for closed forms; the MC standard error otherwise)."""
        self.mi  # noqa: B018 - computes both on first use
        return self._mi_stderr

    def _compute_mi(self):
        return float(self._exact_mi()), 0.0

    def _exact_mi(self):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- sampling ------------------------------------------------------------------------
    def sample(self, n, rng=None):
        """Draw ``n`` paired samples.

        Parameters
        ----------
        n : int
            Number of samples (>= 1).
        rng : None, int, SeedSequence or Generator
            Randomness, with ``np.random.default_rng`` semantics.

        Returns
        -------
        x : ndarray of shape (n,) or (n, dx)
        y : ndarray of shape (n,) or (n, dy)
            Integer class labels when ``y_type == 'categorical'``.
        """
        n = check_int(n, "n", low=1)
        x, y = self._sample(n, check_rng(rng))
        return _squeeze(x), _squeeze(y)

    def _sample(self, n, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self):
        """One line: name, MI and how it is known."""
        err = f" ± {self.mi_stderr:.1e}" if self.mi_stderr else ""
        return f"{self.name}: MI = {self.mi:.5f}{err} nat ({self.mi_method}); y_type={self.y_type}, " \
               f"dx={self.dx}, dy={self.dy}"

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args}, name={self.name!r})"


def _squeeze(a):
    return a[:, 0] if a.ndim == 2 and a.shape[1] == 1 else a


def _fmt(v):
    return f"{v:g}" if isinstance(v, numbers.Real) else str(v)


# ---------------------------------------------------------------------------------------------
# linear algebra helpers (small d; plain NumPy)
# ---------------------------------------------------------------------------------------------
def _check_cov(cov, name, d=None):
    cov = np.array(cov, dtype=np.float64)
    if cov.ndim == 0:
        cov = cov.reshape(1, 1)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got shape {cov.shape}")
    if d is not None and cov.shape[0] != d:
        raise ValueError(f"{name} must be {d}x{d}, got shape {cov.shape}")
    if not np.all(np.isfinite(cov)) or not np.allclose(cov, cov.T, rtol=0, atol=1e-12 * np.abs(cov).max()):
        raise ValueError(f"{name} must be a finite symmetric matrix")
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} must be positive definite") from None
    return cov


def _rho_spec(rho, dx, dy, what):
    """From canonical correlations: (matrix, dy, rho as JSON-ready, name suffix for the dimensions)."""
    dy = dx if dy is None else check_int(dy, "dy", low=1)
    matrix = _block_scale(rho, dx, dy, what)
    rho = rho if np.ndim(rho) == 0 else np.asarray(rho, dtype=float).tolist()
    return matrix, dy, rho, "" if dx == dy == 1 else f"{dx}x{dy}"


def _block_scale(rho, dx, dy, what):
    """Unit-diagonal (dx+dy) matrix whose cross block is ``rho``: a scalar (rho on the
    diagonal of the cross block, i.e. x_i paired with y_i) or a (dx, dy) matrix."""
    r = np.asarray(rho, dtype=np.float64)
    if r.ndim == 0:
        r = float(check_float(float(r), "rho")) * np.eye(dx, dy)
    elif r.shape != (dx, dy):
        raise ValueError(f"rho must be a scalar or a ({dx}, {dy}) matrix, got shape {r.shape}")
    cov = np.eye(dx + dy)
    cov[:dx, dx:] = r
    cov[dx:, :dx] = r.T
    return _check_cov(cov, f"the {what} scale matrix built from rho={rho!r}")


def _logdet(a):
    sign, val = np.linalg.slogdet(a)
    return float(val)


def _gaussian_mi_from_cov(cov, dx):
    return 0.5 * (_logdet(cov[:dx, :dx]) + _logdet(cov[dx:, dx:]) - _logdet(cov))


def _log_gauss(pts, mean, chol):
    """log N(pts | mean, L L^T) for pts (m, d)."""
    z = np.linalg.solve(chol, (pts - mean).T)
    d = pts.shape[1]
    return -0.5 * (d * _LOG_2PI + np.sum(z * z, axis=0)) - np.sum(np.log(np.diag(chol)))


def _log_mixture(pts, log_w, means, chols):
    from scipy import special  # scipy.special is imported on first use: it is slow to import

    comp = np.stack([lw + _log_gauss(pts, m, c) for lw, m, c in zip(log_w, means, chols)], axis=1)
    return special.logsumexp(comp, axis=1)


def _sample_mixture(rng, n, w, means, chols):
    labels = rng.choice(len(w), size=n, p=w)
    z = rng.standard_normal((n, means.shape[1]))
    return labels, means[labels] + np.einsum("nij,nj->ni", chols[labels], z)


# ---------------------------------------------------------------------------------------------
# Gaussians and Student-t
# ---------------------------------------------------------------------------------------------
class Gaussian(Distribution):
    """Jointly Gaussian (X, Y), any dimensions and covariance.

    Parameters
    ----------
    rho : float or array-like of shape (dx, dy), optional
        Cross-correlation of unit-variance X and Y: a scalar correlates x_i with y_i
        (i < min(dx, dy)), a matrix gives the whole cross block. Give ``rho`` or ``cov``.
    dx, dy : int, default=1
        Dimensions (``dy`` defaults to ``dx`` with ``rho``, to the rest of ``cov``).
    cov : array-like of shape (dx+dy, dx+dy), optional
        Joint covariance; X is the first ``dx`` coordinates.
    name : str, optional

    Notes
    -----
    I(X; Y) = ½ (ln det Σ_xx + ln det Σ_yy − ln det Σ); with a scalar ``rho`` this is
    −(min(dx, dy) / 2) ln(1 − rho²).
    """

    kind = "gaussian"

    def __init__(self, rho=None, *, dx=1, dy=None, cov=None, name=None):
        dx = check_int(dx, "dx", low=1)
        if (rho is None) == (cov is None):
            raise ValueError("give exactly one of rho and cov")
        if cov is not None:
            cov = _check_cov(cov, "cov")
            if cov.shape[0] <= dx:
                raise ValueError(f"cov is {cov.shape[0]}x{cov.shape[0]}: no room for y after dx={dx}")
            dy_ = cov.shape[0] - dx
            if dy is not None and check_int(dy, "dy", low=1) != dy_:
                raise ValueError(f"dy={dy} does not match cov of size {cov.shape[0]} with dx={dx}")
            dy = dy_
            params = {"cov": cov.tolist(), "dx": dx}
            default = f"gaussian{dx}x{dy}(cov)"
        else:
            cov, dy, rho, dims = _rho_spec(rho, dx, dy, "Gaussian")
            params = {"rho": rho, "dx": dx, "dy": dy}
            default = f"gaussian{dims}(rho={_fmt(rho)})"
        super().__init__(name or default, params, dx, dy)
        self.cov = cov
        self._chol = np.linalg.cholesky(cov)

    def _exact_mi(self):
        return _gaussian_mi_from_cov(self.cov, self.dx)

    def _sample(self, n, rng):
        z = rng.standard_normal((n, self.dx + self.dy)) @ self._chol.T
        return z[:, :self.dx], z[:, self.dx:]


def student_t_mi(nu, dx, dy, scale):
    """MI in nats of a multivariate Student-t with ``nu`` degrees of freedom and scale matrix
    ``scale`` (X = first ``dx`` coordinates): the Gaussian term of the scale matrix plus a
    term that depends on ``nu``, ``dx`` and ``dy`` only (see :class:`StudentT`)."""
    return _gaussian_mi_from_cov(np.asarray(scale, dtype=float), dx) + _t_extra(nu, dx, dy)


def _t_extra(nu, dx, dy):
    from scipy import special

    def g(d):  # the part of h(t_d(nu, 0, I)) that does not cancel across the three entropies
        a = 0.5 * (nu + d)
        return -special.gammaln(a) + a * (special.digamma(a) - special.digamma(0.5 * nu))
    return float(special.gammaln(0.5 * nu) + g(dx) + g(dy) - g(dx + dy))


class StudentT(Distribution):
    """Multivariate Student-t (X, Y) with ``nu`` degrees of freedom.

    Drawn as (X, Y) = Z / sqrt(W / nu) with Z ~ N(0, S) and W ~ chi²(nu): the shared scale
    makes X and Y dependent even when S is the identity.

    Parameters
    ----------
    nu : float, default=3
        Degrees of freedom (> 0).
    rho : float or array-like of shape (dx, dy), default=0
        Cross block of the unit-diagonal scale matrix S (as for :class:`Gaussian`).
    dx, dy : int, default=1
    scale : array-like of shape (dx+dy, dx+dy), optional
        The scale matrix S itself (overrides ``rho``).
    name : str, optional

    Notes
    -----
    Marginals of a multivariate t are t with the same ``nu`` and the sub-blocks of S, and
    the entropy of t_d(nu, S) is ½ ln det S + ln[(nu π)^{d/2} Γ(nu/2) / Γ((nu+d)/2)]
    + (nu+d)/2 [ψ((nu+d)/2) − ψ(nu/2)]. Hence I = h(X) + h(Y) − h(X, Y) =
    ½ ln(det S_xx det S_yy / det S) + c(nu, dx, dy) with
    c = ln Γ(nu/2) + Σ_{d ∈ {dx, dy}} g(d) − g(dx + dy), where
    g(d) = −ln Γ((nu+d)/2) + (nu+d)/2 [ψ((nu+d)/2) − ψ(nu/2)] (the (nu π)^{d/2} terms
    cancel). c > 0 and c → 0 as nu → ∞. See Arellano-Valle, Contreras-Reyes & Genton (2013),
    Scand. J. Statist. 40, 42-62, and Czyż et al. (2023), "Beyond normal".
    """

    kind = "student_t"

    def __init__(self, nu=3.0, rho=0.0, *, dx=1, dy=None, scale=None, name=None):
        self.nu = check_float(nu, "nu", low=0.0, low_inclusive=False)
        dx = check_int(dx, "dx", low=1)
        if scale is not None:
            scale = _check_cov(scale, "scale")
            if scale.shape[0] <= dx:
                raise ValueError(f"scale is {scale.shape[0]}x{scale.shape[0]}: no room for y after dx={dx}")
            dy = scale.shape[0] - dx
            params = {"nu": self.nu, "scale": scale.tolist(), "dx": dx}
            default = f"student_t{dx}x{dy}(nu={_fmt(self.nu)},scale)"
        else:
            scale, dy, rho, dims = _rho_spec(rho, dx, dy, "Student-t")
            params = {"nu": self.nu, "rho": rho, "dx": dx, "dy": dy}
            default = f"student_t{dims}(nu={_fmt(self.nu)},rho={_fmt(rho)})"
        super().__init__(name or default, params, dx, dy)
        self.scale = scale
        self._chol = np.linalg.cholesky(scale)

    def _exact_mi(self):
        return student_t_mi(self.nu, self.dx, self.dy, self.scale)

    def _sample(self, n, rng):
        z = rng.standard_normal((n, self.dx + self.dy)) @ self._chol.T
        w = rng.chisquare(self.nu, n)
        t = z * np.sqrt(self.nu / w)[:, None]
        return t[:, :self.dx], t[:, self.dx:]


# ---------------------------------------------------------------------------------------------
# gamma-exponential and additive uniform noise
# ---------------------------------------------------------------------------------------------
class GammaExponential(Distribution):
    """The gamma-exponential toy of the GMM-MI paper (Piras et al. 2023).

    x ~ Gamma(alpha, 1) and y | x ~ Exponential(rate x). MI = ψ(alpha + 1) − ln(alpha);
    MI is invariant under monotone maps, so it also holds for (ln x, ln y).

    Parameters
    ----------
    alpha : float, default=1
        Gamma shape (> 0).
    log : bool, default=True
        Return (ln x, ln y) (better conditioned for mixture fits) instead of (x, y).
    name : str, optional
    """

    kind = "gamma_exp"

    def __init__(self, alpha=1.0, *, log=True, name=None):
        self.alpha = check_float(alpha, "alpha", low=0.0, low_inclusive=False)
        self.log = bool(log)
        default = f"gamma_exp(alpha={_fmt(self.alpha)}{'' if self.log else ',raw'})"
        super().__init__(name or default, {"alpha": self.alpha, "log": self.log}, 1, 1)

    def _exact_mi(self):
        from scipy import special

        return special.digamma(self.alpha + 1.0) - math.log(self.alpha)

    def _sample(self, n, rng):
        x = rng.gamma(self.alpha, 1.0, n)
        y = rng.standard_exponential(n) / x
        if self.log:
            x, y = np.log(x), np.log(y)
        return x[:, None], y[:, None]


def additive_uniform_mi(a):
    """MI in nats of X ~ U(0, 1), Y = X + N, N ~ U(0, a) independent (see :class:`AdditiveUniform`)."""
    return a / 2.0 - math.log(a) if a <= 1.0 else 1.0 / (2.0 * a)


class AdditiveUniform(Distribution):
    """Uniform signal plus uniform noise: X ~ U(0, 1), Y = X + N with N ~ U(0, a).

    Parameters
    ----------
    a : float, default=0.5
        Width of the noise (> 0).
    dim : int, default=1
        Number of independent (X_i, Y_i) pairs; x and y are then ``(n, dim)`` and the MI
        is ``dim`` times the one-pair value.
    name : str, optional

    Notes
    -----
    I(X; Y) = h(Y) − h(Y | X) = h(Y) − ln a. The density of Y is the trapezoid
    ``p(y) = |[0, 1] ∩ [y − a, y]| / a``. For a ≤ 1 it rises as y/a on [0, a], is 1 on
    [a, 1] and falls symmetrically on [1, 1 + a]; each ramp contributes
    −∫_0^a (y/a) ln(y/a) dy = a/4, so h(Y) = a/2 and I = a/2 − ln a. For a ≥ 1 the plateau
    is 1/a on [1, a] (contributing (a − 1) ln(a) / a) and each ramp y/a on [0, 1]
    contributes 1/(4a) + ln(a)/(2a), so h(Y) = 1/(2a) + ln a and I = 1/(2a). Both give
    1/2 at a = 1.
    """

    kind = "uniform_noise"

    def __init__(self, a=0.5, *, dim=1, name=None):
        self.a = check_float(a, "a", low=0.0, low_inclusive=False)
        self.dim = check_int(dim, "dim", low=1)
        dims = "" if self.dim == 1 else f"{self.dim}x{self.dim}"
        super().__init__(name or f"uniform_noise{dims}(a={_fmt(self.a)})", {"a": self.a, "dim": self.dim},
                         self.dim, self.dim)

    def _exact_mi(self):
        return self.dim * additive_uniform_mi(self.a)

    def _sample(self, n, rng):
        x = rng.uniform(size=(n, self.dim))
        return x, x + self.a * rng.uniform(size=(n, self.dim))


# ---------------------------------------------------------------------------------------------
# mixtures: MI by a long reference Monte Carlo, cached with its seed
# ---------------------------------------------------------------------------------------------
def _mc_mean(chunk_values, n_mc, seed):
    """Mean and standard error of a per-sample log-ratio drawn in fixed-size chunks."""
    rng = np.random.default_rng(seed)
    total = total2 = 0.0
    done = 0
    while done < n_mc:
        m = min(_MC_CHUNK, n_mc - done)
        v = chunk_values(rng, m)
        total += float(v.sum())
        total2 += float(np.dot(v, v))
        done += m
    mean = total / n_mc
    var = max(total2 / n_mc - mean * mean, 0.0) * n_mc / max(n_mc - 1, 1)
    return {"mi": mean, "stderr": math.sqrt(var / n_mc)}


class _ReferenceMC(Distribution):
    mi_method = "reference Monte Carlo"
    _mc_version = 1  # part of the cache key: bump when the integrand or the sampling changes

    def __init__(self, name, params, dx, dy, n_mc, mc_seed, cache):
        self.n_mc = check_int(n_mc, "n_mc", low=2)
        self.mc_seed = check_int(mc_seed, "mc_seed", low=0)
        self.cache = bool(cache)
        super().__init__(name, params, dx, dy)
        self.mi_method = f"reference Monte Carlo (n_mc={self.n_mc}, seed={self.mc_seed})"

    def _compute_mi(self):
        spec = {"kind": self.kind, **self.params, "n_mc": self.n_mc, "mc_seed": self.mc_seed,
                "mc_version": self._mc_version}
        value = cached(spec, lambda: _mc_mean(self._log_ratio, self.n_mc, self.mc_seed), disk=self.cache)
        return float(value["mi"]), float(value["stderr"])


class GaussianMixture(_ReferenceMC):
    """A Gaussian mixture over the joint (X, Y); X is the first ``dx`` coordinates.

    Parameters
    ----------
    weights : array-like of shape (K,)
        Mixture weights (positive; normalised here).
    means : array-like of shape (K, d)
    covariances : array-like of shape (K, d, d)
    dx : int, default=1
    n_mc : int, default=2_000_000
        Sample size of the reference Monte Carlo integral of the MI.
    mc_seed : int, default=0
        Seed of that integral.
    cache : bool, default=True
        Keep the reference value on disk (see ``fastmi.bench.cache_dir``) as well as in memory,
        keyed by the parameters, ``n_mc`` and ``mc_seed``.
    name : str, optional

    Notes
    -----
    The marginals of a joint mixture are mixtures of the sliced components with the same
    weights, so the MI is E[ln p(x, y) − ln p(x) − ln p(y)] under the mixture, estimated by
    ``n_mc`` draws; ``mi_stderr`` is its standard error (about 1e-3 / sqrt(n_mc / 1e6)
    per unit standard deviation of the log-ratio).
    """

    kind = "gaussian_mixture"

    def __init__(self, weights, means, covariances, *, dx=1, n_mc=2_000_000, mc_seed=0, cache=True, name=None):
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.size < 1 or not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise ValueError(f"weights must be positive, got {weights!r}")
        w = w / w.sum()
        mu = np.asarray(means, dtype=np.float64)
        if mu.ndim != 2 or mu.shape[0] != w.size:
            raise ValueError(f"means must have shape ({w.size}, d), got {mu.shape}")
        d = mu.shape[1]
        dx = check_int(dx, "dx", low=1)
        if d <= dx:
            raise ValueError(f"means have {d} coordinates: no room for y after dx={dx}")
        cov = np.asarray(covariances, dtype=np.float64)
        if cov.shape != (w.size, d, d):
            raise ValueError(f"covariances must have shape ({w.size}, {d}, {d}), got {cov.shape}")
        cov = np.stack([_check_cov(c, f"covariances[{k}]") for k, c in enumerate(cov)])
        params = {"weights": w.tolist(), "means": mu.tolist(), "covariances": cov.tolist(), "dx": dx}
        super().__init__(name or f"gaussian_mixture{dx}x{d - dx}(K={w.size})", params, dx, d - dx,
                         n_mc, mc_seed, cache)
        self.weights, self.means, self.covariances = w, mu, cov
        self._chols = np.linalg.cholesky(cov)
        s = slice(0, dx)
        t = slice(dx, d)
        self._chols_x = np.linalg.cholesky(cov[:, s, s])
        self._chols_y = np.linalg.cholesky(cov[:, t, t])

    def _sample(self, n, rng):
        _, p = _sample_mixture(rng, n, self.weights, self.means, self._chols)
        return p[:, :self.dx], p[:, self.dx:]

    def _log_ratio(self, rng, m):
        _, p = _sample_mixture(rng, m, self.weights, self.means, self._chols)
        lw = np.log(self.weights)
        dx = self.dx
        return (_log_mixture(p, lw, self.means, self._chols)
                - _log_mixture(p[:, :dx], lw, self.means[:, :dx], self._chols_x)
                - _log_mixture(p[:, dx:], lw, self.means[:, dx:], self._chols_y))


class ClassConditionalGaussian(_ReferenceMC):
    """Categorical Y with class prior ``priors`` and continuous X | Y = c ~ N(means[c], covariances[c]).

    ``y_type == 'categorical'``: ``y`` holds integer labels 0..C-1.

    Parameters
    ----------
    priors : array-like of shape (C,)
        Class probabilities (positive; normalised here).
    means : array-like of shape (C,) or (C, dx)
    covariances : array-like of shape (C,) or (C, dx, dx), optional
        Class variances (1-D X) or covariance matrices; identity when omitted.
    n_mc, mc_seed, cache
        The reference Monte Carlo used when dx > 1 (as in :class:`GaussianMixture`).
    name : str, optional

    Notes
    -----
    I(X; Y) = Σ_c p_c ∫ p(x | c) [ln p(x | c) − ln Σ_c' p_c' p(x | c')] dx. For dx = 1 this
    1-D integral is computed by adaptive quadrature (``scipy.integrate.quad``, per class over
    its mean ± 12 standard deviations widened to cover every class, absolute tolerance 1e-11):
    ``mi_stderr`` is 0. For dx > 1 it is a reference Monte Carlo: labels drawn from the
    prior, x from its class, ``n_mc`` draws with seed ``mc_seed``, cached.
    """

    kind = "class_conditional_gaussian"
    y_type = "categorical"

    def __init__(self, priors=(0.9, 0.1), means=(-1.0, 1.0), covariances=None, *, n_mc=2_000_000, mc_seed=0,
                 cache=True, name=None):
        p = np.asarray(priors, dtype=np.float64).ravel()
        if p.size < 2 or not np.all(np.isfinite(p)) or np.any(p <= 0):
            raise ValueError(f"priors must be >= 2 positive numbers, got {priors!r}")
        p = p / p.sum()
        mu = np.asarray(means, dtype=np.float64)
        if mu.ndim == 1:
            mu = mu[:, None]
        if mu.ndim != 2 or mu.shape[0] != p.size:
            raise ValueError(f"means must have shape ({p.size},) or ({p.size}, dx), got {np.shape(means)}")
        dx = mu.shape[1]
        if covariances is None:
            cov = np.broadcast_to(np.eye(dx), (p.size, dx, dx)).copy()
        else:
            cov = np.asarray(covariances, dtype=np.float64)
            if dx == 1 and cov.shape == (p.size,):
                cov = cov[:, None, None]
            if cov.shape != (p.size, dx, dx):
                raise ValueError(f"covariances must have shape ({p.size},) or ({p.size}, {dx}, {dx}), "
                                 f"got {np.shape(covariances)}")
        cov = np.stack([_check_cov(c, f"covariances[{k}]") for k, c in enumerate(cov)])
        params = {"priors": p.tolist(), "means": mu.tolist(), "covariances": cov.tolist()}
        super().__init__(name or f"categorical{dx}(C={p.size})", params, dx, 1, n_mc, mc_seed, cache)
        if dx == 1:
            self.mi_method = "quadrature"
        self.priors, self.means, self.covariances = p, mu, cov
        self._chols = np.linalg.cholesky(cov)

    def _compute_mi(self):
        if self.dx == 1:
            return self._quadrature_mi(), 0.0
        return super()._compute_mi()

    def _log_class(self, x):
        """(m, C) array of ln p_c + ln p(x | c) for x of shape (m, dx)."""
        return np.stack([math.log(pc) + _log_gauss(x, m, c) for pc, m, c in zip(self.priors, self.means,
                                                                                   self._chols)], axis=1)

    def _quadrature_mi(self):
        from scipy import special
        from scipy.integrate import quad

        sd = np.sqrt(self.covariances[:, 0, 0])
        mu = self.means[:, 0]
        lo, hi = float(np.min(mu - 12 * sd)), float(np.max(mu + 12 * sd))
        log_p = np.log(self.priors)
        total = 0.0
        for c in range(self.priors.size):
            def f(t, c=c):
                lc = self._log_class(np.array([[t]]))[0]
                return math.exp(lc[c]) * (lc[c] - special.logsumexp(lc) - log_p[c])
            val, _ = quad(f, lo, hi, points=sorted(set(mu.tolist())), limit=500, epsabs=1e-11, epsrel=1e-10)
            total += val
        return float(total)

    def _sample(self, n, rng):
        labels, x = _sample_mixture(rng, n, self.priors, self.means, self._chols)
        return x, labels.astype(np.int64)[:, None]

    def _log_ratio(self, rng, m):
        from scipy import special

        labels, x = _sample_mixture(rng, m, self.priors, self.means, self._chols)
        lc = self._log_class(x)
        # ln p(x | c) - ln p(x) = ln p(c | x) - ln p(c)
        return lc[np.arange(m), labels] - special.logsumexp(lc, axis=1) - np.log(self.priors)[labels]


# ---------------------------------------------------------------------------------------------
# monotone transforms
# ---------------------------------------------------------------------------------------------
TRANSFORMS = {
    "identity": lambda a: a,
    "exp": np.exp,
    "log": np.log,
    "cube": lambda a: a ** 3,
    "cbrt": np.cbrt,
    "arcsinh": np.arcsinh,
    "sinh": np.sinh,
    "half_cube": lambda a: np.sign(a) * np.abs(a) ** 1.5,
    "normal_cdf": lambda a: _ndtr(a),
}
"""Strictly increasing maps available by name to :class:`Transformed` ('log' needs positive input;
'half_cube' is ``sign(a)|a|^(3/2)`` and 'normal_cdf' the standard normal CDF, after Czyż et al. 2023)."""


def _ndtr(a):
    from scipy.special import ndtr

    return ndtr(a)


def _resolve_transform(f, d, what):
    if f is None:
        return ["identity"] * d, [TRANSFORMS["identity"]] * d
    items = list(f) if isinstance(f, (list, tuple)) else [f] * d
    if len(items) != d:
        raise ValueError(f"{what}: give one transform or {d} (one per coordinate), got {len(items)}")
    names, funcs = [], []
    for g in items:
        if isinstance(g, str):
            if g not in TRANSFORMS:
                raise ValueError(f"{what}: unknown transform {g!r}; choose from {sorted(TRANSFORMS)} or pass a callable")
            names.append(g)
            funcs.append(TRANSFORMS[g])
        elif callable(g):
            names.append(getattr(g, "__name__", "f"))
            funcs.append(g)
        else:
            raise ValueError(f"{what}: a transform must be a name or a callable, got {g!r}")
    return names, funcs


class _Reparametrised(Distribution):
    """``base`` seen through invertible maps of x and of y (``_map_x``, ``_map_y``): the MI is
    the base's, exactly."""

    def _init_from(self, base, name, params):
        self.base = base
        self.y_type = base.y_type
        super().__init__(name, params, base.dx, base.dy)
        self.mi_method = f"invariance: {base.mi_method} of {base.name}"

    def _compute_mi(self):
        return self.base.mi, self.base.mi_stderr

    def _sample(self, n, rng):
        x, y = self.base._sample(n, rng)
        return self._map_x(x), self._map_y(y)


class Transformed(_Reparametrised):
    """``base`` with a strictly monotone map applied to each coordinate of x and/or y.

    MI is invariant under such maps, so ``mi`` is ``base.mi``; only the estimators' task
    changes (heavier tails, skew, curvature).

    Parameters
    ----------
    base : Distribution
    fx, fy : str, callable or list of them, optional
        Map(s) for x and for y: a name from ``TRANSFORMS`` ('exp', 'log', 'cube', 'cbrt',
        'arcsinh', 'sinh', 'identity'), a callable (which must be strictly monotone;
        this is not checked), or one per coordinate. None leaves the variable alone;
        categorical y cannot be transformed.
    name : str, optional
    """

    kind = "transformed"

    def __init__(self, base, fx=None, fy=None, *, name=None):
        if not isinstance(base, Distribution):
            raise ValueError(f"base must be a fastmi.bench distribution, got {base!r}")
        if fy is not None and base.y_type == "categorical":
            raise ValueError("fy must be None for a categorical y")
        self._fx_names, self._fx = _resolve_transform(fx, base.dx, "fx")
        self._fy_names, self._fy = _resolve_transform(fy, base.dy, "fy")
        label = "/".join(_short(n) for n in (self._fx_names, self._fy_names))
        params = {"base": base.name, "fx": self._fx_names, "fy": self._fy_names}
        self._init_from(base, name or f"{label}({base.name})", params)

    def _map_x(self, x):
        return _apply(self._fx, self._fx_names, x, "x")

    def _map_y(self, y):
        return y if self.y_type == "categorical" else _apply(self._fy, self._fy_names, y, "y")


def _short(names):
    return names[0] if len(set(names)) == 1 else ",".join(names)


def _apply(funcs, names, a, what):
    with np.errstate(all="ignore"):  # reported below, by coordinate
        out = np.column_stack([np.asarray(f(a[:, j]), dtype=np.float64) for j, f in enumerate(funcs)])
    if not np.all(np.isfinite(out)):
        bad = [names[j] for j in range(out.shape[1]) if not np.all(np.isfinite(out[:, j]))]
        raise ValueError(f"transform(s) {bad} of {what} produced NaN or inf (overflow, or 'log' of a "
                         "non-positive value)")
    return out


# ---------------------------------------------------------------------------------------------
# named presets and "kind:key=value,..." specifications
# ---------------------------------------------------------------------------------------------
# a 3-component 2-D mixture (the same one as benchmarks/upstream/cases.py's MIXTURE3)
_MIXTURE3 = ([0.5, 0.3, 0.2],
             [[0.0, 0.0], [3.0, 2.0], [-2.0, 3.0]],
             [[[1.0, 0.7], [0.7, 1.0]], [[0.5, -0.2], [-0.2, 0.4]], [[0.3, 0.0], [0.0, 1.2]]])

PRESETS = {
    "gaussian": lambda: Gaussian(0.6, name="gaussian"),
    "gaussian_strong": lambda: Gaussian(0.9, name="gaussian_strong"),
    "gaussian_indep": lambda: Gaussian(0.0, name="gaussian_indep"),
    "gaussian_3x3": lambda: Gaussian(0.5, dx=3, dy=3, name="gaussian_3x3"),
    "student_t": lambda: StudentT(3.0, 0.6, name="student_t"),
    "student_t_rho0": lambda: StudentT(2.0, 0.0, name="student_t_rho0"),
    "gamma_exp": lambda: GammaExponential(1.0, name="gamma_exp"),
    "gamma_exp_raw": lambda: GammaExponential(1.0, log=False, name="gamma_exp_raw"),
    "uniform_noise": lambda: AdditiveUniform(0.5, name="uniform_noise"),
    "mixture3": lambda: GaussianMixture(*_MIXTURE3, name="mixture3"),
    "categorical": lambda: ClassConditionalGaussian([0.9, 0.1], [-1.0, 1.0], [1.0, 1.0], name="categorical"),
    "categorical_2d": lambda: ClassConditionalGaussian(
        [0.5, 0.3, 0.2], [[0.0, 0.0], [1.5, 0.0], [0.0, 2.0]], name="categorical_2d"),
    "gaussian_exp_cube": lambda: Transformed(Gaussian(0.6), "exp", "cube", name="gaussian_exp_cube"),
    "student_t_arcsinh": lambda: Transformed(StudentT(3.0, 0.6), "arcsinh", "cbrt", name="student_t_arcsinh"),
}
"""Named distributions: ``get_distribution(name)`` builds a fresh one."""

KINDS = {
    "gaussian": Gaussian,
    "student_t": StudentT,
    "gamma_exp": GammaExponential,
    "uniform_noise": AdditiveUniform,
}
"""Kinds that ``get_distribution('kind:key=value,...')`` builds from scalar parameters."""
