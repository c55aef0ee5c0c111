"""GMM-MI as a differentiable PyTorch loss: the MI of a Gaussian mixture fitted to the batch,
with gradients through the fit (implicit differentiation of EM's fixed point) and through the
Monte-Carlo integral (reparameterised draws, common random numbers across calls).

This module imports PyTorch; ``fastmi.neural`` imports it on first access to
``DifferentiableGMMMI`` only, so ``import fastmi`` stays torch-free."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..gmm._mixture import Mixture, fit_em, initial_mixture
from .._validation import check_choice, check_float, check_int, check_rng
from ..exceptions import ConvergenceWarning
from ._torch import require_torch

torch = require_torch("DifferentiableGMMMI")
_LOG_2PI = math.log(2.0 * math.pi)
#: components whose weight falls below this are dropped (as GMMMI's threshold_components)
_MIN_WEIGHT = 1e-5


# --------------------------------------------------------------------------- mixture algebra
def _log_gauss(P, means, chol):
    """log N(P | means_k, L_k L_k^T) for points P (m, d): array (K, m)."""
    diff = (P[None] - means[:, None]).transpose(1, 2)  # (K, d, m)
    sol = torch.linalg.solve_triangular(chol, diff, upper=False)
    logdet = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    return -0.5 * ((sol * sol).sum(1) + logdet[:, None] + P.shape[1] * _LOG_2PI)


def _log_mixture(P, weights, means, chol):
    """log q(P) of the mixture, (m,)."""
    return torch.logsumexp(torch.log(weights)[:, None] + _log_gauss(P, means, chol), dim=0)


def _em_step(Z, weights, means, covs, reg):
    """One EM step (E then M) on the rows of Z (b, d): the map whose fixed point is the fit."""
    chol = torch.linalg.cholesky(covs)
    resp = torch.softmax(torch.log(weights)[:, None] + _log_gauss(Z, means, chol), dim=0)  # (K, b)
    nk = resp.sum(1)
    new_means = resp @ Z / nk[:, None]
    diff = Z[None] - new_means[:, None]  # (K, b, d)
    new_covs = torch.einsum("kb,kbi,kbj->kij", resp, diff, diff) / nk[:, None, None]
    eye = torch.eye(Z.shape[1], dtype=Z.dtype, device=Z.device)
    return nk / Z.shape[0], new_means, new_covs + reg * eye


def _pack(weights, means, covs):
    return torch.cat([weights.reshape(-1), means.reshape(-1), covs.reshape(-1)])


def _unpack(theta, K, d):
    w, m = theta[:K], theta[K:K + K * d].reshape(K, d)
    return w, m, theta[K + K * d:].reshape(K, d, d)


def _gaussian_mi(cov, dx):
    """MI between the first dx and the other coordinates of N(., cov), in nats."""
    return 0.5 * (torch.logdet(cov[:dx, :dx]) + torch.logdet(cov[dx:, dx:]) - torch.logdet(cov))


def _marginal(means, covs, cols):
    return means[:, cols], covs[:, cols][:, :, cols]


def _mixture_mi(weights, means, covs, dx, eps):
    """MI of the mixture by stratified, reparameterised Monte Carlo: ``eps`` (m, d) standard
    normal draws map to m points of every component. The moment-matched Gaussian's log ratio,
    whose expectation is its closed-form MI, is the control variate. Returns (MI, its MC error)."""
    K, d = means.shape
    chol = torch.linalg.cholesky(covs)
    P = (means[:, None] + torch.einsum("kij,mj->kmi", chol, eps)).reshape(-1, d)  # (K m, d)
    xs, ys = slice(0, dx), slice(dx, d)
    parts = [(means, chol)]
    for cols in (xs, ys):
        mu, cv = _marginal(means, covs, cols)
        parts.append((mu, torch.linalg.cholesky(cv)))
    f = (_log_mixture(P, weights, *parts[0]) - _log_mixture(P[:, xs], weights, *parts[1])
         - _log_mixture(P[:, ys], weights, *parts[2])).reshape(K, -1)
    # the moment-matched Gaussian: same mean and covariance as the mixture
    mu_bar = weights @ means
    centred = means - mu_bar
    cov_bar = torch.einsum("k,kij->ij", weights, covs) + torch.einsum("k,ki,kj->ij", weights, centred, centred)
    one = weights.new_ones(1)
    g = _log_mixture(P, one, mu_bar[None], torch.linalg.cholesky(cov_bar)[None])
    for cols in (xs, ys):
        g = g - _log_mixture(P[:, cols], one, mu_bar[None, cols],
                             torch.linalg.cholesky(cov_bar[cols, cols])[None])
    g = g.reshape(K, -1)
    # the control-variate coefficient is differentiated too: the loss is then a smooth function of
    # the batch whose gradient is exact (a detached coefficient leaves out (mean g - E g) d beta)
    wk = weights[:, None] / f.shape[1]
    fm, gm = (wk * f).sum(), (wk * g).sum()
    var_g = (wk * (g - gm) ** 2).sum()
    beta = (wk * (f - fm) * (g - gm)).sum() / var_g if float(var_g.detach()) > 1e-12 else var_g.new_zeros(())
    h = f - beta * g
    est = (weights * h.mean(1)).sum() + beta * _gaussian_mi(cov_bar, dx)
    with torch.no_grad():  # stratified over components: the variance of a weighted sum of K means
        se = torch.sqrt((weights ** 2 * h.var(1, correction=0)).sum() / f.shape[1])
    return est, float(se)


class DifferentiableGMMMI(torch.nn.Module):
    """The mutual information of a Gaussian mixture fitted to a batch, as a differentiable loss.

    ``forward(x, y)`` standardises each column of the batch, fits a ``n_components``-component
    full-covariance Gaussian mixture to the rows of (x, y) by EM, and returns its MI in nats as a
    0-d tensor that carries gradients with respect to x and y (and so to whatever produced them):
    maximise it to make a representation informative about a target, or add it as a penalty to
    make an encoder forget a nuisance variable.

    How the gradient is computed:

    - **K = 1**: the closed form 0.5 (log|C_xx| + log|C_yy| - log|C|) of the batch's correlation
      matrix C, differentiated exactly. No EM and no sampling.
    - **K > 1**: EM runs to its fixed point without gradient (float64, warm-started from the
      previous call so that the components keep their identity across training steps). One EM
      step from the fixed point carries the gradient with respect to the data, and a backward
      hook adds the fixed point's own dependence on the data (implicit differentiation: a solve
      with I - J^T, J the p x p Jacobian of the EM step in the p = K (1 + d + d^2) parameters;
      exact however slowly EM converges, where a truncated Neumann series is not). The MI integral is
      a stratified Monte-Carlo average over ``mc_samples`` reparameterised draws, ``mu_k + L_k
      eps``, with the same ``eps`` on every call (common random numbers: the loss is a smooth,
      deterministic function of the batch; ``resample()`` draws new ones), and the moment-matched
      Gaussian as control variate, as in :class:`fastmi.GMMMI`.

    Parameters
    ----------
    n_components : int or 'auto', default=1
        Components of the mixture. 'auto' chooses K once, outside the gradient, with
        :class:`fastmi.GMMMI`'s search on the first batch; ``reset()`` chooses again.
    mc_samples : int, default=4096
        Monte-Carlo points of the MI integral (split evenly over the components); unused at K = 1.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance (in standardised units).
    tol : float, default=1e-9
        EM stops when the mean log-likelihood per row changes by less than ``tol``.
    max_iter : int, default=1000
        Upper bound on EM iterations per call (a warning when reached).
    gradient : {'implicit', 'one_step'}, default='implicit'
        'implicit' differentiates the fixed point exactly. 'one_step' keeps the gradient of one
        EM step from the fixed point only: cheaper (no Jacobian), but it ignores how the fixed
        point moves with the data, which matters when the components overlap.
    n_init : int, default=1
        k-means++ starts of the first fit (and whenever no warm start exists); the highest
        likelihood wins.
    rng : None, int, SeedSequence or Generator
        Seeds the k-means++ starts, the K search and the Monte-Carlo draws.

    Attributes
    ----------
    n_components_ : int or None
        K in use (None until the first call with ``n_components='auto'``).
    n_active_ : int or None
        Components in the last call's fit: below ``n_components_`` once a component has emptied
        (weight under 1e-5) and been dropped; ``reset()`` starts again from ``n_components``.
    n_iter_, converged_ : int, bool
        EM iterations of the last call, and whether they reached ``tol``.
    mc_error_ : float
        Standard error of the last call's Monte-Carlo integral (0 at K = 1).

    Notes
    -----
    **Bias at batch size b.** The MI of a mixture fitted to b rows is biased upwards. At K = 1 the
    bias is exactly :func:`fastmi._wishart.gaussian_mi_bias`, about dx dy / (2 b) nats. At K > 1 it
    grows with the number of free parameters; measured on independent Gaussian pairs (1-D x and y,
    100 batches, ``python benchmarks/bench_dgmm.py --bias``): K = 1: 0.0019 nats at b = 256 and
    0.0001 at b = 4096; K = 3: 0.0036 and 0.0003; K = 8: 0.009 and 0.0009. A training signal
    needs no correction (the bias hardly depends on the parameters), but report MI on a larger
    held-out sample with :class:`fastmi.GMMMI`, which gives an error bar.

    **Cost per call.** K = 1: one d x d covariance and three log-determinants, O(b d^2), about
    1 ms for forward + backward at b = 4096. K > 1: EM to the fixed point (fastmi's compiled EM,
    warm-started; O(b K d^2) per iteration), one differentiable EM step, the p x p Jacobian of
    that step (p batched vector-Jacobian products, p = K (1 + d + d^2)) and a p x p solve in the
    backward pass, and the Monte-Carlo integral, O(mc_samples K d^2). Measured (1-D x and y, one
    torch thread, 2 shared cores, ``benchmarks/bench_dgmm.py``): K = 3: 10 ms at b = 256 and 43 ms
    at b = 4096; K = 8: 12 ms and 130 ms. Small tensors run best on one torch thread
    (``torch.set_num_threads(1)``); on a busy machine torch's thread pool can stall a step for
    tenths of a second.

    Works on any device the inputs live on (CPU or CUDA; the warm start and the draws follow
    them) and in float32 or float64; the fixed point is found in float64 either way.

    Examples
    --------
    >>> import torch
    >>> from fastmi.neural import DifferentiableGMMMI
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(2000, 1, generator=g, dtype=torch.float64, requires_grad=True)
    >>> y = 0.8 * x.detach() + 0.6 * torch.randn(2000, 1, generator=g, dtype=torch.float64)
    >>> loss = DifferentiableGMMMI(n_components=1)
    >>> mi = loss(x, y)           # about -0.5 log(1 - 0.8^2) = 0.51 nats
    >>> round(mi.item(), 1)
    0.5
    >>> mi.backward()             # gradients flow to whatever produced x and y
    >>> x.grad.shape
    torch.Size([2000, 1])
"""

    def __init__(self, n_components=1, *, mc_samples=4096, reg_covar=1e-6, tol=1e-9, max_iter=1000,
                 gradient="implicit", n_init=1, rng=None):
        super().__init__()
        if n_components != "auto":
            check_int(n_components, "n_components", low=1)
        self.n_components = n_components
        self.mc_samples = check_int(mc_samples, "mc_samples", low=2)
        self.reg_covar = check_float(reg_covar, "reg_covar", low=0.0)
        self.tol = check_float(tol, "tol", low=0.0)
        self.max_iter = check_int(max_iter, "max_iter", low=1)
        self.gradient = check_choice(gradient, "gradient", {"implicit", "one_step"})
        self.n_init = check_int(n_init, "n_init", low=1)
        self._gen = check_rng(rng)
        self.reset()

    def reset(self):
        """Forget the warm start, the selected K and the Monte-Carlo draws: the next call
        fits from a fresh initialisation and draws new points."""
        self._mixture = None
        self._eps = None
        self.n_components_ = None if self.n_components == "auto" else self.n_components
        self.n_iter_, self.converged_, self.mc_error_ = 0, True, 0.0
        self.n_active_ = self.n_components_

    def resample(self):
        """Draw new Monte-Carlo points at the next call (the fit's warm start is kept)."""
        self._eps = None

    def extra_repr(self):
        return f"n_components={self.n_components!r}, mc_samples={self.mc_samples}"

    # -------------------------------------------------------------- forward
    def forward(self, x, y):
        """MI (nats) of the mixture fitted to the rows of (x, y): a 0-d tensor with gradient.

        Parameters
        ----------
        x : torch.Tensor of shape (b,) or (b, dx)
        y : torch.Tensor of shape (b,) or (b, dy)
            Same batch size, dtype (float32 or float64) and device.
        """
        x, y = _as_columns(x, "x"), _as_columns(y, "y")
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x and y must have the same batch size, got {x.shape[0]} and {y.shape[0]}")
        if x.dtype != y.dtype or x.device != y.device:
            raise ValueError(f"x and y must share dtype and device, got {x.dtype}/{x.device} and "
                             f"{y.dtype}/{y.device}")
        data = torch.cat([x, y], dim=1)
        b, d = data.shape
        if b < d + 2:
            raise ValueError(f"a batch of {b} rows cannot fit a {d}-D Gaussian: at least {d + 2} are needed")
        if not bool(torch.isfinite(data).all()):
            raise ValueError("x and y must be finite (no NaN or inf)")
        std = data.std(dim=0, correction=0)
        if bool((std == 0).any()):
            raise ValueError(f"column(s) {torch.nonzero(std == 0).flatten().tolist()} of (x, y) are constant "
                             "in this batch: their MI with anything is 0 and a mixture has no density there")
        # MI is invariant to the scale and shift of each column; standardising keeps EM's
        # numbers near 1 whatever the units (the gradient passes through it)
        Z = (data - data.mean(0)) / std
        dx = x.shape[1]
        K = self._components(Z, dx)
        if K == 1:
            eye = torch.eye(d, dtype=Z.dtype, device=Z.device)
            self.mc_error_, self.n_active_ = 0.0, 1
            return _gaussian_mi(Z.T @ Z / b + self.reg_covar * eye, dx)
        w, m, c = self._fit(Z, K)
        return self._integrate(w, m, c, dx)

    def _components(self, Z, dx):
        if self.n_components_ is None:  # chosen outside the gradient, once, by GMM-MI's own search
            from ..gmm import GMMMI

            arr = Z.detach().cpu().double().numpy()
            est = GMMMI(copula=False, n_bootstrap=0, check_fit=False, reg_covar=self.reg_covar,
                        rng=int(self._gen.integers(2**63)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                est.fit(arr[:, :dx], arr[:, dx:])
            self.n_components_ = int(est.n_components_)
        return self.n_components_

    def _fit(self, Z, K):
        """The converged EM parameters, with the implicit gradient of the fixed point."""
        d = Z.shape[1]
        mix = self._converge(np.ascontiguousarray(Z.detach().cpu().double().numpy()), K)
        K = self.n_active_ = mix.n_components
        star = torch.from_numpy(np.concatenate([mix.weights, mix.means.ravel(), mix.covariances.ravel()]))
        star = star.to(dtype=Z.dtype, device=Z.device)
        # one EM step from the fixed point carries the gradient with respect to the data ...
        out = _pack(*_em_step(Z, *_unpack(star, K, d), self.reg_covar))
        if self.gradient == "implicit" and out.requires_grad:
            # ... and the hook adds the fixed point's own dependence on the data: with J the
            # Jacobian of the step in the parameters, dL/dZ = dL/dtheta (I - J)^-1 dT/dZ. EM's
            # rate is J's spectral radius, near 1 for overlapping components, so (I - J^T) is
            # solved exactly rather than summed as a Neumann series
            with torch.enable_grad():
                t0 = star.clone().requires_grad_(True)
                t1 = _pack(*_em_step(Z.detach(), *_unpack(t0, K, d), self.reg_covar))
            out.register_hook(_FixedPointGrad(t1, t0, Z.numel() * K * d))
        return _unpack(out, K, d)

    def _converge(self, Zn, K):
        """EM to its fixed point without gradient (fastmi's compiled EM, float64), warm-started
        from the last call's fit so that the components keep their identity across steps."""
        warm = self._mixture is not None and self._mixture.means.shape[1] == Zn.shape[1]
        starts = [self._mixture] if warm else []
        starts += [None] * (self.n_init if not warm else 0)
        best, best_info = None, None
        for start in starts:
            if start is None:
                start = initial_mixture(Zn, K, "kmeans++", self._gen, max(self.reg_covar, 1e-6))
            mix, info = fit_em(Zn, start, self.tol, self.reg_covar, self.max_iter)
            if info.ok and (best is None or info.lower_bound > best_info.lower_bound):
                best, best_info = mix, info
        if best is None and warm:  # the warm start collapsed on this batch: start afresh
            self._mixture = None
            return self._converge(Zn, K)
        if best is None:
            raise FloatingPointError(f"EM with {K} components failed on this batch (a component collapsed); "
                                     "use fewer components, a larger batch or a larger reg_covar")
        keep = best.weights >= _MIN_WEIGHT
        if not keep.all():  # an emptied component has no covariance to differentiate: it is dropped
            best = Mixture(best.weights[keep] / best.weights[keep].sum(), best.means[keep], best.covariances[keep])
        self._mixture, self.n_iter_, self.converged_ = best, best_info.n_iter, best_info.converged
        if not best_info.converged:
            warnings.warn(f"EM did not reach tol={self.tol:g} in max_iter={self.max_iter} iterations: the "
                          "gradient is that of a fit short of its fixed point", ConvergenceWarning, stacklevel=4)
        return best

    def _integrate(self, w, m, c, dx):
        K, d = m.shape
        per = -(-self.mc_samples // K)
        if self._eps is None or self._eps.shape != (per, d):
            self._eps = torch.from_numpy(self._gen.standard_normal((per, d)))
        est, self.mc_error_ = _mixture_mi(w, m, c, dx, self._eps.to(m.dtype).to(m.device))
        return est


class _FixedPointGrad:
    """Backward hook on the parameters out of the differentiable step: maps their gradient g
    to (I - J^T)^-1 g, J computed once (on the first backward through this graph)."""

    def __init__(self, t1, t0, graph_size):
        self.t1, self.t0, self.graph_size, self.system = t1, t0, graph_size, None

    def __call__(self, g):
        if g is None:
            return None
        if self.system is None:
            J = _step_jacobian(self.t1, self.t0, self.graph_size)
            self.system = torch.eye(g.numel(), dtype=g.dtype, device=g.device) - J.T
        return torch.linalg.solve(self.system, g)


def _step_jacobian(t1, t0, graph_size, budget=2 ** 25):
    """J = d t1 / d t0 (p x p) by batched vector-Jacobian products, in chunks of rows: each row
    replays the step's graph of about ``graph_size`` numbers (b K d^2), so a chunk holds at most
    ``budget`` of them."""
    p = t0.numel()
    eye = torch.eye(p, dtype=t1.dtype, device=t1.device)
    rows = max(1, budget // max(1, graph_size))
    return torch.cat([torch.autograd.grad(t1, t0, eye[i:i + rows], retain_graph=True, is_grads_batched=True)[0]
                      for i in range(0, p, rows)])


def _as_columns(a, name):
    if not isinstance(a, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(a).__name__}")
    if a.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} must be float32 or float64, got {a.dtype}")
    if a.ndim == 1:
        return a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (b,) or (b, d), got {tuple(a.shape)}")
    return a
