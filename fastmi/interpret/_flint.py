"""A post-hoc FLINT interpreter (Parekh, Mozharovskyi & d'Alche-Buc, NeurIPS 2021) for a frozen
predictor f (optional: torch).

An attribute network Phi reads hidden layers of f and outputs J non-negative attributes; a
linear interpreter g = h o Phi is trained to reproduce f's output (output fidelity), a decoder
reconstructs the input from Phi (input fidelity), with L1 sparsity of Phi and the entropy-based
conciseness/diversity term, optionally with a concept prior (near-binary, decorrelated, group-sparse
attributes and a linear decoder); after training, the linear interpreter is refitted with group
sparsity. ``fidelity`` and ``conciseness`` are plain NumPy functions. User guide: docs/guide/neural.rst."""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp, softmax

from .._config import resolve_n_jobs
from .._validation import check_float, check_int, check_rng
from ..neural._torch import require_torch, resolve_device, seeded, torch_seed

_WHAT = "FLINT"
_AUTO_WARMUP = 0.3  # warmup='auto': the warm-up of a run trained again after a collapse


def _to_numpy(a, name):
    arr = np.asarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim < 1:
        raise ValueError(f"{name} must have a leading sample axis, got shape {arr.shape}")
    arr = np.asarray(arr, dtype=np.float64).reshape(arr.shape[0], -1)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _stack_hidden(hidden):
    """Hidden layers (an array, a list/tuple of arrays or a dict from collect_activations),
    flattened per sample and concatenated: (n_samples, n_hidden_features)."""
    if isinstance(hidden, dict):
        parts = [_to_numpy(hidden[k], f"hidden[{k!r}]") for k in sorted(hidden)]
    elif isinstance(hidden, (list, tuple)):
        parts = [_to_numpy(h, f"hidden[{i}]") for i, h in enumerate(hidden)]
    else:
        parts = [_to_numpy(hidden, "hidden")]
    if not parts:
        raise ValueError("hidden must hold at least one layer")
    n = parts[0].shape[0]
    if any(p.shape[0] != n for p in parts):
        raise ValueError(f"hidden layers disagree on n_samples: {[p.shape[0] for p in parts]}")
    return np.concatenate(parts, axis=1)


def fidelity(g_logits, f_logits):
    """Share of samples where the interpreter and the predictor agree: mean[argmax g = argmax f].

    Parameters
    ----------
    g_logits, f_logits : array-like of shape (n_samples, n_classes)

    Returns
    -------
    float
    """
    g, f = np.asarray(g_logits), np.asarray(f_logits)
    if g.ndim != 2 or g.shape != f.shape:
        raise ValueError(f"g_logits and f_logits must have the same shape (n_samples, n_classes); "
                         f"got {g.shape} and {f.shape}")
    return float(np.mean(np.argmax(g, axis=1) == np.argmax(f, axis=1)))


def conciseness(relevance, t=10.0):
    """CNS(t) = mean_x #{j : r_j(x) > 1/t}: the mean number of attributes whose local relevance
    exceeds 1/t (lower: more concise explanations).

    Parameters
    ----------
    relevance : array-like of shape (n_samples, n_attributes)
        Local relevances in [-1, 1] (:meth:`FLINT.local_relevance`).
    t : float or array-like of float, default=10.0
        Threshold parameter(s), t >= 1.

    Returns
    -------
    float or ndarray
        One value per t.
    """
    r = np.asarray(relevance, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"relevance must have shape (n_samples, n_attributes), got {r.shape}")
    ts = np.asarray(t, dtype=np.float64)
    if not (np.isfinite(ts).all() and (ts >= 1).all()):
        raise ValueError(f"t must be >= 1, got {t!r}")
    out = (r[None] > (1.0 / ts.reshape(-1))[:, None, None]).sum(axis=2).mean(axis=1)
    return float(out[0]) if ts.ndim == 0 else out


def _centered_linear(n_in, n_out):
    """A linear layer whose weights and bias are centred over the outputs (the classes)."""
    torch = require_torch(_WHAT)

    class CenteredLinear(torch.nn.Linear):
        def forward(self, a):
            w = self.weight - self.weight.mean(0, keepdim=True)
            return torch.nn.functional.linear(a, w, self.bias - self.bias.mean())

    return CenteredLinear(n_in, n_out)


def _entropy(p):
    return -(p * p.clamp_min(1e-12).log()).sum(-1)


class _Terms:
    """FLINT's loss, with the concept prior's terms where their weights are non-zero."""

    def __init__(self, w_in, w_l1, w_cd, cd_scale, w_gr, w_dc, null=False):
        self.w_in, self.w_l1, self.w_cd, self.cd_scale, self.w_gr, self.w_dc = w_in, w_l1, w_cd, cd_scale, w_gr, w_dc
        self.null = null

    def __call__(self, a, g, p, x_hat, x, ramp=1.0):
        """Total loss, and the output-fidelity, input-fidelity, L1 and L_cd terms; ``ramp``
        scales the sparsity, conciseness and prior terms (the warm-up)."""
        torch = require_torch(_WHAT)
        l_of = -(p * torch.log_softmax(g, dim=1)).sum(1).mean()
        l_if = ((x_hat - x) ** 2).mean()
        l_l1 = a.abs().sum(1).mean()
        a_cd = self.cd_scale * a.abs()
        a_x = torch.nn.functional.pad(a_cd, (0, 1), value=self.cd_scale) if self.null else a_cd
        l_cd = _entropy(torch.softmax(a_x, dim=1)).mean() - _entropy(torch.softmax(a_cd.mean(0), dim=0))
        loss = l_of + self.w_in * l_if + ramp * (self.w_l1 * l_l1 + self.w_cd * l_cd)
        if self.w_gr > 0:
            loss = loss + ramp * self.w_gr * torch.sqrt((a ** 2).mean(0) + 1e-8).sum()
        J = a.shape[1]
        if self.w_dc > 0 and J > 1:
            A = a - a.mean(0)
            cov = A.T @ A / A.shape[0]
            d = torch.diagonal(cov)
            # eps: an attribute switched off (variance 0) counts as uncorrelated
            corr = cov / torch.sqrt(d[:, None] * d[None, :] + 1e-6)
            off = corr - torch.diag(torch.diagonal(corr))
            loss = loss + ramp * self.w_dc * (off ** 2).sum() / (J * (J - 1))
        return loss, (l_of, l_if, l_l1, l_cd)


def _train(Ht, Xt, Pt, J, width, concepts, terms, noise, n_steps, lr, bs, gen, dev, warmup=0.0):
    """One training run from a fresh initialisation (torch's global generator, seeded by the
    caller). Returns (phi, head, decoder, history, objective), the objective being the loss on
    all rows without gate noise."""
    torch = require_torch(_WHAT)
    from torch import nn

    n = Ht.shape[0]
    out_act = nn.Sigmoid() if concepts else nn.ReLU()
    phi = nn.Sequential(nn.Linear(Ht.shape[1], width), nn.ReLU(), nn.Linear(width, J), out_act).to(dev)
    head = _centered_linear(J, Pt.shape[1]).to(dev)
    if concepts:
        dec = nn.Linear(J, Xt.shape[1]).to(dev)
    else:
        dec = nn.Sequential(nn.Linear(J, width), nn.ReLU(), nn.Linear(width, Xt.shape[1])).to(dev)
    opt = torch.optim.Adam([*phi.parameters(), *head.parameters(), *dec.parameters()], lr=lr)
    history = np.empty((n_steps, 5))
    n_warm = int(round(warmup * n_steps))
    for step in range(n_steps):
        idx = torch.from_numpy(gen.choice(n, bs, replace=False) if bs < n else np.arange(n)).to(dev)
        if noise > 0:
            z = phi[:3](Ht[idx])
            a = torch.sigmoid(z + noise * torch.randn_like(z))
        else:
            a = phi(Ht[idx])
        # warm-up: the sparsity terms ramp up from 0, so that the attributes first learn the
        # decision instead of collapsing to constants before the fidelity term has a gradient
        ramp = min(1.0, (step + 1) / n_warm) if n_warm else 1.0
        loss, parts = terms(a, head(a), Pt[idx], dec(a), Xt[idx], ramp)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history[step] = [float(v.detach()) for v in (loss, *parts)]
    with torch.no_grad():
        a = phi(Ht)
        objective = float(terms(a, head(a), Pt, dec(a), Xt)[0])
    return phi, head, dec, history, objective


def _live(A, atol=1e-4, rtol=1e-3):
    """Attributes that vary over the rows of ``A`` (n, J): std above atol and above rtol times
    the largest attribute std."""
    std = A.std(axis=0)
    return std > max(atol, rtol * std.max())


def _sparse_head(A, P, lam, W, b, max_iter=5000, rtol=1e-10):
    """The linear interpreter refitted on fixed attributes A (n, J): the minimiser of
    CE(P, softmax(A W^T + b)) + lam * rms(A) * sum_j ||W[:, j]||_2 over class-centred (W, b),
    by accelerated proximal gradient (FISTA, backtracking, restarted when the objective rises),
    started from (W, b). Returns (W, b)."""
    n = A.shape[0]
    # one scale for all attributes: per-attribute scales would make weights on near-dead
    # attributes cheap, and local relevance counts any contribution in a sample with no other
    scale = lam * np.sqrt((A ** 2).mean())

    def smooth(W, b):
        Z = A @ W.T + b
        logq = Z - logsumexp(Z, axis=1, keepdims=True)
        R = (np.exp(logq) - P) / n  # rows sum to 0: the gradients stay class-centred
        return -(P * logq).sum() / n, R.T @ A, R.sum(0)

    def penalty(W):
        return scale * float(np.linalg.norm(W, axis=0).sum())

    def prox(W, step):
        norm = np.linalg.norm(W, axis=0)
        return W * np.maximum(0.0, 1.0 - step * scale / np.where(norm > 0, norm, 1.0))

    W, b = W - W.mean(0), b - b.mean()
    obj = smooth(W, b)[0] + penalty(W)
    Wy, by, t, L = W, b, 1.0, 1.0
    for _ in range(max_iter):
        fy, gW, gb = smooth(Wy, by)
        while True:
            Wn, bn = prox(Wy - gW / L, 1.0 / L), by - gb / L
            dW, db = Wn - Wy, bn - by
            fn = smooth(Wn, bn)[0]
            if fn <= fy + (gW * dW).sum() + gb @ db + 0.5 * L * ((dW ** 2).sum() + db @ db) + 1e-15:
                break
            L *= 2.0
        obj_n = fn + penalty(Wn)
        if obj_n > obj:  # the momentum overshot: restart from the last iterate
            Wy, by, t = W, b, 1.0
            continue
        t_n = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        Wy, by = Wn + (t - 1.0) / t_n * (Wn - W), bn + (t - 1.0) / t_n * (bn - b)
        done = obj - obj_n <= rtol * max(1.0, abs(obj_n))
        W, b, obj, t, L = Wn, bn, obj_n, t_n, 0.9 * L
        if done:
            break
    return W, b


class FLINT:
    """Post-hoc FLINT interpreter of a frozen classifier.

    Parameters
    ----------
    n_attributes : int
        J, the size of the attribute dictionary.
    hidden_size : int, default=64
        Width of the attribute network (and of the decoder when ``prior=None``).
    input_weight : float or None, default=None
        Weight of the input-fidelity (reconstruction) loss; None: 10.0 with the concept prior,
        0.5 without.
    conciseness_weight : float or None, default=None
        Weight of the conciseness/diversity term L_cd (0: trained without it); None: 0.5 with
        the concept prior, 0.2 without.
    conciseness_scale : float or None, default=None
        s, the factor on ``|Phi|`` inside L_cd's softmaxes (an inverse temperature); None: 5.0
        with the concept prior, 1.0 without. The prior's attributes lie in [0, 1], where
        ``softmax(|Phi|)`` is nearly flat: with s = 1, CNS with and without L_cd differed by
        <= 0.05 on the synthetic check.
    l1_weight : float or None, default=None
        Weight of the L1 sparsity of Phi; None: 0.1 with the concept prior, 1e-3 without.
    prior : {"concepts", None}, default="concepts"
        An identifiability prior on top of FLINT's four terms (see Notes). None: the plain
        post-hoc form (ReLU attributes, MLP decoder, no extra terms).
    gate_noise : float, default=1.0
        With the concept prior: std of the Gaussian noise added to the attributes' logits while
        training, which pushes the sigmoid attributes to {0, 1}.
    decorrelation_weight : float, default=1.0
        With the concept prior: weight of the mean squared off-diagonal correlation of the
        attributes over a minibatch.
    group_weight : float, default=0.3
        With the concept prior: weight of the group sparsity sum_j sqrt(mean_x Phi_j(x)^2),
        which switches off attributes the data do not need.
    head_sparsity : float, default=0.01
        lam of the interpreter's refit after training (see Notes): the linear head h is
        replaced by the minimiser of CE(softmax f, softmax h(Phi)) + lam rms(Phi)
        sum_j ||w_{:,j}||_2 on the fixed attributes, so that attributes f's output does not
        need get exactly zero weight, hence zero relevance. 0: keep the jointly trained head.
    relax_head : bool, default=True
        With ``head_sparsity > 0``: refit the head once more on the attributes the group lasso
        kept (non-zero weight), without the penalty (a relaxed group lasso). The zeros, hence
        which attributes have relevance, are those of the lasso fit; the penalty's shrinkage
        of the kept weights, which cost fidelity, is undone. False: the lasso fit itself.
    n_init : int, default=3
        Training runs from fresh initialisations; the one with the lowest final loss (on all
        rows, without gate noise) is kept.
    n_steps : int or None, default=None
        Adam steps per run; None: 3000 with the concept prior, 1500 without.
    lr : float, default=3e-3
    batch_size : int, default=256
    warmup : 'auto' or float in [0, 1], default='auto'
        Share of ``n_steps`` over which the L1, conciseness, group and decorrelation terms ramp
        up linearly from 0, so that the attributes learn the decision before sparsity can
        switch them off. 'auto': each run trains without warm-up, and a run that collapsed
        (see ``min_fidelity``) is trained again with a warm-up of 0.3. Without it the concept
        prior collapsed on the fc1 layer of a digits CNN (held-out fidelity 0.39 at J = 10,
        0.11 at J = 25, one run each); with 0.3, 0.955 and 0.954. A warm-up on every run
        changes what the prior finds where it does not collapse: on the synthetic concepts
        of the test suite, 0.3 lowered two used concepts' alignment from >= 0.99 to 0.62 and
        0.65 (data and rng 0), hence 'auto'. See docs/guide/interpretability.rst.
    min_fidelity : float in [0, 1], default=0.8
        A run whose training fidelity is below this, or whose attributes are all constant, is
        collapsed: it is kept only when every run collapsed, and then a
        :class:`~fastmi.exceptions.CollapseWarning` says what to change.
    device : None or str
        Where to train (None: CPU).
    rng : None, int, SeedSequence or Generator
        Seeds the networks' initialisations, the minibatches and the gate noise (SPEC 7).
    n_jobs : int or None
        torch intra-op threads during training (None: 1).

    Attributes
    ----------
    n_classes_ : int
    fidelity_ : float
        Output fidelity on the training rows.
    history_ : ndarray of shape (n_steps, 5)
        Total, output-fidelity, input-fidelity, L1 and L_cd losses per step, of the run kept.
    objective_ : float
        The kept run's final loss on all rows, without gate noise.
    live_attributes_ : ndarray of bool, shape (n_attributes,)
        Attributes that vary over the training rows; constant ones get zero local relevance.
    collapsed_ : bool
        Fidelity below ``min_fidelity`` or no live attribute (a CollapseWarning was raised).
    runs_collapsed_ : list of bool
        Which of the ``n_init`` runs collapsed (after the warm-up retry, with 'auto').
    runs_warmed_up_ : list of bool
        Which runs were trained again with a warm-up after a collapse (``warmup='auto'``).

    Notes
    -----
    Phi is an MLP (hidden features -> ``hidden_size`` -> J), h a linear layer (J -> n_classes)
    whose weights and bias are centred over the classes (softmax ignores a shift common to all
    classes, so without centring h can load an attribute on every class alike, which changes
    no prediction but makes the logits follow it). Hidden features and inputs are
    standardised per column. The loss is::

        CE(softmax f, softmax g) + input_weight * MSE(decoder(Phi), x)
        + l1_weight * mean |Phi|_1 + conciseness_weight * L_cd [+ prior terms],

    ``L_cd = mean_x H(softmax(s |Phi(x)|)) - H(softmax(s mean_x |Phi(x)|))``, f detached (the
    paper's term is s = 1; see ``conciseness_scale``).

    FLINT's four terms alone do not pin down *which* attributes are learnt: any invertible
    mixing of a good attribute set is as faithful, and which one training reaches depends on
    the seed. The concept prior (``prior="concepts"``, the default) makes the attributes behave
    like concept indicators, a sparse binary code of the input:

    * attributes are sigmoids of Phi's last layer, with Gaussian noise of std ``gate_noise``
      added to the logits while training (a noisy gate only carries information when it is
      saturated, so the attributes become near-binary; no noise at prediction time);
    * the decoder is linear, so the input is a sum of one vector per active attribute;
    * decorrelated attributes (``decorrelation_weight``): mixtures and splits of concepts are
      correlated with each other, independent concepts are not;
    * group sparsity (``group_weight``) switches off the attributes left over when J exceeds
      the number of concepts, instead of letting them carry mixtures;
    * L_cd's per-sample softmax gets a constant null entry of value s (an active gate): without
      it, a sample with no active attribute has the largest entropy, log J, and L_cd grows an
      attribute that fires when no concept does (a function of every concept, used ones and
      unused alike) instead of counting fewer active attributes as more concise.

    After training, h is refitted on the fixed attributes (``head_sparsity``): a convex group-
    lasso multinomial fit, solved by accelerated proximal gradient. The jointly trained head is
    not the optimum for the final attributes, and softmax cross-entropy barely constrains the
    weights of classes f gives low probability, so an attribute f does not use keeps whatever
    weights training left it; local relevance, normalised per sample, counts even a small
    one in full. The refit gives such attributes exactly zero weight. Its penalty also shrinks
    the weights it keeps, which cost fidelity: on the digits CNN's fc1, held-out 0.946 at
    J = 10 against 0.963 with the jointly trained head. With ``relax_head`` (default) the kept
    weights are refitted without the penalty (same convex CE, support fixed, Phi frozen), so
    the refit decides only which attributes carry weight. Chosen on data other than the
    digits test images (benchmarks/flint_digits_runs.py): on an inner split of the digits
    training rows (fit on 1006, scored on 252), fidelity of the kept run 0.956 -> 0.976
    (J = 10) and 0.980 -> 0.972 (J = 25); on an MLP on breast cancer (J = 10, two seeds,
    171 held-out rows) 0.977 -> 0.982 and 0.959 -> 0.988. Held-out digits test images:
    0.946 -> 0.961 (J = 10) and 0.954 -> 0.965 (J = 25). The cost is conciseness: the kept
    weights grow unevenly, and CNS(5), CNS(10) on those images rose from 1.45, 1.59 to 1.69,
    1.88 (J = 10) and from 1.25, 1.42 to 1.53, 1.83 (J = 25); on the synthetic concepts they
    stayed at the concept code's floor. ``relax_head=False`` gives the more concise, less
    faithful head. See docs/guide/interpretability.rst.

    The prior's saturated gates make g flat almost everywhere in the input, so gradient or
    finite-difference maps of g see little signal: use ``prior=None`` for those
    (examples/interpret_small_cnn.py does).

    The prior's defaults (``l1_weight`` 0.1, ``n_steps`` 3000, ``conciseness_weight`` 0.5) were
    chosen on the synthetic-concepts check of the test suite (4 binary concepts, f uses 3,
    J = 6): with L1 at 1e-3 and 1500 steps, 2 of 15 single runs on its hardest seeds aligned
    every used concept; with 0.1 and 3000, 13 of 15. With the defaults, the three used concepts
    each match an attribute at ``|corr| >= 0.99`` on 15 of 15 seeds over three data sets (FLINT's
    four terms alone: 1 of 10 over two), and the unused concept's class relevance is exactly 0
    on 15 of 15 (0.10-1.00 with the prior and the jointly trained head). On two more data
    sets, not used to choose the defaults: 9 of 10 aligned (one concept at 0.79 on the
    tenth), relevance 0 on 10 of 10 (benchmarks/bench_flint_seeds.py --data 3 4; see also
    tests/test_flint.py). Alignment on other data is likely, not guaranteed: check it where
    concepts are known.

    References
    ----------
    .. [1] J. Parekh, P. Mozharovskyi and F. d'Alche-Buc, "A Framework to Learn with
       Interpretation", NeurIPS 2021.
    """

    def __init__(self, n_attributes, *, hidden_size=64, input_weight=None, conciseness_weight=None,
                 conciseness_scale=None, l1_weight=None, prior="concepts", gate_noise=1.0,
                 decorrelation_weight=1.0, group_weight=0.3, head_sparsity=0.01, relax_head=True, n_init=3,
                 n_steps=None, lr=3e-3, batch_size=256, warmup="auto", min_fidelity=0.8, device=None, rng=None,
                 n_jobs=None):
        self.n_attributes = n_attributes
        self.hidden_size = hidden_size
        self.input_weight = input_weight
        self.conciseness_weight = conciseness_weight
        self.conciseness_scale = conciseness_scale
        self.l1_weight = l1_weight
        self.prior = prior
        self.gate_noise = gate_noise
        self.decorrelation_weight = decorrelation_weight
        self.group_weight = group_weight
        self.head_sparsity = head_sparsity
        self.relax_head = relax_head
        self.n_init = n_init
        self.n_steps = n_steps
        self.lr = lr
        self.batch_size = batch_size
        self.warmup = warmup
        self.min_fidelity = min_fidelity
        self.device = device
        self.rng = rng
        self.n_jobs = n_jobs

    def fit(self, hidden, x, f_logits):
        """Train the interpreter.

        Parameters
        ----------
        hidden : array-like, list of array-likes or dict
            Hidden-layer activations of the frozen predictor, (n_samples, ...) each (e.g. the
            output of :func:`collect_activations`); flattened and concatenated.
        x : array-like of shape (n_samples, ...)
            The inputs (reconstruction target of the decoder).
        f_logits : array-like of shape (n_samples, n_classes)
            The predictor's logits.

        Returns
        -------
        self
        """
        torch = require_torch(_WHAT)

        J = check_int(self.n_attributes, "n_attributes", low=1)
        width = check_int(self.hidden_size, "hidden_size", low=1)
        if self.prior not in ("concepts", None):
            raise ValueError(f"prior must be 'concepts' or None, got {self.prior!r}")
        concepts = self.prior == "concepts"
        w_in = check_float((10.0 if concepts else 0.5) if self.input_weight is None else self.input_weight,
                           "input_weight", low=0.0)
        w_cd = check_float((0.5 if concepts else 0.2) if self.conciseness_weight is None else self.conciseness_weight,
                           "conciseness_weight", low=0.0)
        cd_scale = (5.0 if concepts else 1.0) if self.conciseness_scale is None else self.conciseness_scale
        cd_scale = check_float(cd_scale, "conciseness_scale", low=0.0, low_inclusive=False)
        w_l1 = check_float((0.1 if concepts else 1e-3) if self.l1_weight is None else self.l1_weight, "l1_weight",
                           low=0.0)
        noise = check_float(self.gate_noise, "gate_noise", low=0.0)
        w_dc = check_float(self.decorrelation_weight, "decorrelation_weight", low=0.0)
        w_gr = check_float(self.group_weight, "group_weight", low=0.0)
        n_steps = check_int((3000 if concepts else 1500) if self.n_steps is None else self.n_steps, "n_steps", low=1)
        n_init = check_int(self.n_init, "n_init", low=1)
        lam = check_float(self.head_sparsity, "head_sparsity", low=0.0)
        if self.relax_head not in (True, False):
            raise ValueError(f"relax_head must be True or False, got {self.relax_head!r}")
        relax = bool(self.relax_head)
        lr = check_float(self.lr, "lr", low=0.0, low_inclusive=False)
        auto = isinstance(self.warmup, str) and self.warmup == "auto"
        warmup = 0.0 if auto else check_float(self.warmup, "warmup", low=0.0)
        if warmup > 1:
            raise ValueError(f"warmup must be 'auto' or lie in [0, 1] (a share of n_steps), got {self.warmup!r}")
        min_fid = check_float(self.min_fidelity, "min_fidelity", low=0.0)
        if min_fid > 1:
            raise ValueError(f"min_fidelity must lie in [0, 1], got {self.min_fidelity!r}")
        H = _stack_hidden(hidden)
        X = _to_numpy(x, "x")
        F = _to_numpy(f_logits, "f_logits")
        n = H.shape[0]
        if X.shape[0] != n or F.shape[0] != n:
            raise ValueError(f"hidden, x and f_logits must have the same n_samples; got {n}, {X.shape[0]}, "
                             f"{F.shape[0]}")
        if F.shape[1] < 2:
            raise ValueError(f"f_logits must have >= 2 classes, got shape {F.shape}")
        if n < 2:
            raise ValueError(f"at least 2 samples are needed, got {n}")
        bs = min(check_int(self.batch_size, "batch_size", low=1), n)
        n_threads = 1 if self.n_jobs is None else resolve_n_jobs(self.n_jobs)
        dev = resolve_device(self.device)
        gen = check_rng(self.rng)
        self._h_mean, self._h_std = H.mean(0), H.std(0)
        self._h_std[self._h_std == 0] = 1.0
        x_mean, x_std = X.mean(0), X.std(0)
        x_std[x_std == 0] = 1.0
        Ht = torch.from_numpy(((H - self._h_mean) / self._h_std).astype(np.float32)).to(dev)
        Xt = torch.from_numpy(((X - x_mean) / x_std).astype(np.float32)).to(dev)
        Pt = torch.softmax(torch.from_numpy(F.astype(np.float32)), dim=1).to(dev)
        K = F.shape[1]
        terms = _Terms(w_in, w_l1, w_cd, cd_scale, w_gr if concepts else 0.0, w_dc if concepts else 0.0,
                       null=concepts)
        f_arg = np.argmax(F, axis=1)
        with seeded(torch_seed(gen), dev, n_threads):
            runs = []

            def one_run(w):
                run = _train(Ht, Xt, Pt, J, width, concepts, terms, noise if concepts else 0.0, n_steps, lr, bs,
                             gen, dev, w)
                with torch.no_grad():
                    a_run = run[0](Ht)
                    fid_run = float((run[1](a_run).argmax(1).cpu().numpy() == f_arg).mean())
                return fid_run < min_fid or not _live(a_run.cpu().double().numpy()).any(), run

            self.runs_warmed_up_ = []
            for _ in range(n_init):
                bad, run = one_run(warmup)
                warmed = False
                if bad and auto:  # collapsed: train this run again, the sparsity terms ramped up over 30 %
                    bad, run = one_run(_AUTO_WARMUP)
                    warmed = True
                runs.append((bad, run))
                self.runs_warmed_up_.append(warmed)
        # a collapsed run (constant attributes, fidelity below min_fidelity) is kept only when
        # every run collapsed; among the others, the lowest objective wins
        ok = [r for bad, r in runs if not bad] or [r for _, r in runs]
        best = min(ok, key=lambda r: r[-1])
        self.runs_collapsed_ = [bad for bad, _ in runs]
        phi, head, dec, history, objective = best
        for mod in (phi, head, dec):
            mod.eval()
            for p in mod.parameters():
                p.requires_grad_(False)
        if lam > 0:
            with torch.no_grad():
                A = phi(Ht).cpu().double().numpy()
            P = softmax(F, axis=1)
            W, b = _sparse_head(A, P, lam, head.weight.cpu().double().numpy(), head.bias.cpu().double().numpy())
            keep = np.linalg.norm(W, axis=0) > 0
            if relax and keep.any():  # the group lasso's support, refitted there without the penalty
                W[:, keep], b = _sparse_head(A[:, keep], P, 0.0, W[:, keep], b)
            head.weight.copy_(torch.from_numpy(W))
            head.bias.copy_(torch.from_numpy(b))
        self._phi, self._head, self._dec, self._dev = phi, head, dec, dev
        self._train_hidden = Ht
        self.n_classes_ = K
        self.history_ = history
        self.objective_ = objective
        self.fidelity_ = fidelity(self.predict_logits(), F)
        self.live_attributes_ = _live(self.attributes())
        n_live = int(self.live_attributes_.sum())
        chance = float(np.bincount(f_arg).max() / n)
        self.collapsed_ = bool(self.fidelity_ < min_fid or n_live == 0)
        if self.collapsed_:
            import warnings

            from ..exceptions import CollapseWarning

            warnings.warn(
                f"FLINT collapsed: training fidelity {self.fidelity_:.3f} (min_fidelity {min_fid}, chance "
                f"{chance:.3f}); {n_live} of {J} attributes vary over the data; {sum(self.runs_collapsed_)} of "
                f"{n_init} runs collapsed. Try warmup=0.5, group_weight=0, a smaller l1_weight, "
                "more n_steps, or prior=None; constant attributes get zero relevance.", CollapseWarning, stacklevel=2)
        return self

    def _check_fitted(self):
        if not hasattr(self, "_phi"):
            raise RuntimeError("this FLINT instance is not fitted yet; call fit(hidden, x, f_logits) first")

    def _hidden_tensor(self, hidden):
        torch = require_torch(_WHAT)
        if hidden is None:
            return self._train_hidden
        H = _stack_hidden(hidden)
        if H.shape[1] != self._h_mean.size:
            raise ValueError(f"hidden has {H.shape[1]} features; the interpreter was fitted on {self._h_mean.size}")
        return torch.from_numpy(((H - self._h_mean) / self._h_std).astype(np.float32)).to(self._dev)

    def attributes(self, hidden=None):
        """Phi(x), the J attributes, shape (n_samples, J), for ``hidden`` (default: the
        training rows)."""
        self._check_fitted()
        torch = require_torch(_WHAT)
        with torch.no_grad():
            return self._phi(self._hidden_tensor(hidden)).cpu().double().numpy()

    def predict_logits(self, hidden=None):
        """The interpreter's logits g(x) = h(Phi(x)), shape (n_samples, n_classes)."""
        self._check_fitted()
        torch = require_torch(_WHAT)
        with torch.no_grad():
            return self._head(self._phi(self._hidden_tensor(hidden))).cpu().double().numpy()

    def _weights(self):
        w = self._head.weight.detach().cpu().double().numpy()  # (K, J)
        return w - w.mean(0)  # the weights the centred head applies

    def local_relevance(self, hidden=None):
        """``r_j(x) = Phi_j(x) w_{c,j} / max_j |Phi_j(x) w_{c,j}|``, c the interpreter's predicted
        class: shape (n_samples, J), values in [-1, 1]."""
        a = self.attributes(hidden)
        c = np.argmax(self.predict_logits(hidden), axis=1)
        # an attribute constant over the training data explains no difference between samples:
        # it acts as a bias, and gets relevance 0 (so CNS never counts it)
        contrib = a * self._weights()[c] * self.live_attributes_
        scale = np.abs(contrib).max(axis=1, keepdims=True)
        return np.divide(contrib, scale, out=np.zeros_like(contrib), where=scale > 0)

    def global_relevance(self, hidden=None):
        """Class-attribute relevance, shape (n_classes, J): the mean local relevance over the
        samples predicted as each class, each row scaled to ``max |.| = 1`` (rows of classes
        never predicted are 0)."""
        r = self.local_relevance(hidden)
        c = np.argmax(self.predict_logits(hidden), axis=1)
        G = np.zeros((self.n_classes_, r.shape[1]))
        for k in range(self.n_classes_):
            if np.any(c == k):
                G[k] = r[c == k].mean(axis=0)
        scale = np.abs(G).max(axis=1, keepdims=True)
        return np.divide(G, scale, out=np.zeros_like(G), where=scale > 0)

    def __repr__(self):
        fitted = f", fidelity_={self.fidelity_:.3f}" if hasattr(self, "fidelity_") else ""
        return f"FLINT(n_attributes={self.n_attributes}{fitted})"
