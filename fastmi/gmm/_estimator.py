"""GMM-MI (Piras et al. 2023): the public estimator and its functional form."""
from __future__ import annotations

import math
import warnings

import numpy as np

from .._config import resolve_n_jobs, thread_map
from .._copula import normal_scores, normal_scores_against
from .._result import MIResult, resampling_info, unit_scale
from .._scaling import standardize_columns
from .._streams import Stream, Streams
from .._wishart import gaussian_mi_bias
from .._validation import (check_array, check_bool, check_choice, check_class_labels, check_conditioning, check_float,
                           check_int, check_rng, check_same_length, check_unit)
from ..exceptions import ConvergenceWarning, DegenerateFitWarning, MisfitWarning
from ._backend import BACKENDS, get_namespace
from . import _misfit
from ._bootstrap import bootstrap_categorical, bootstrap_continuous
from ._mixture import INITS, affine_params, fit_em, initial_mixture
from ._pointwise import PointwiseMI, categorical_pmi, continuous_pmi
from ._montecarlo import (MC_AUTO_FALLBACK, LeadingDraws, MCDraws, PairedMC, mc_categorical_mi, mc_log_ratio,
                          mi_terms, stack)
from ._select import SEARCHES, EMSettings, select_n_components

_BOOTSTRAP = ("rows resampled with replacement, EM refitted warm-started at the selected K, and the "
              "quantity of each refitted mixture integrated by Monte Carlo over common random numbers")
#: The options that restore upstream GMM-MI's procedure (and fastmi's before the faster
#: defaults): fresh initialisations at every K (3 of them), EM to tol 1e-5 everywhere, bootstrap
#: refits started from the selected cross-validation fit, 1e5 MC samples per integral, and the
#: paper's error bar (bootstrap spread and MC error; no misfit term, no k-NN check). The
#: initialisation is not among them: upstream's is ``init='random_resp'`` (see ``GMMMI.upstream``).
UPSTREAM_PROCEDURE = {"search": "fresh", "n_init": 3, "tol": 1e-5, "search_tol": None, "bootstrap_tol": None,
                      "bootstrap_start": "selected", "mc_samples": 100_000, "uncertainty": "bootstrap",
                      "check_fit": False, "copula": False, "retry": False, "bias_correction": False}
# the model file format lives in _persist.py; these names stay importable from here
from ._persist import MODEL_FORMAT, MODEL_VERSION, READABLE_VERSIONS as _READABLE_VERSIONS  # noqa: E402,F401



class GMMMI:
    """Mutual information from Gaussian-mixture fits (GMM-MI, Piras et al. 2023).

    A Gaussian mixture is fitted by EM to the joint samples, its number of components
    chosen by cross-validated likelihood; the fit is bootstrapped, and the MI of each
    fitted mixture is integrated by Monte Carlo with the analytic marginals. The
    result is the mean and the standard deviation of the bootstrap replicates.

    Parameters
    ----------
    n_components : 'auto' or int, default='auto'
        Number of mixture components; 'auto' selects it by ``metric``.
    n_init : 'auto' or int, default='auto'
        Starts per K. With ``search='fresh'``, fresh initialisations, each computed once from
        the full data with its own seed and starting the fit in every fold ('auto': 3, as
        upstream). With ``search='split'``, the split start plus ``n_init - 1`` fresh ones
        ('auto': 1, the split start alone; 3 fresh ones when ``n_components`` is an int, as
        there is no smaller fit to split).
    n_folds : int, default=2
        Cross-validation folds (``metric='cv'``).
    max_components : int, default=50
        Largest K tried when ``n_components='auto'``.
    tol : float, default=1e-4
        EM stops when the mean log-likelihood per sample changes by less than ``tol`` (the
        full-data fit; the search and the bootstrap refits scale it, see ``search_tol`` and
        ``bootstrap_tol``; upstream: 1e-5 everywhere).
    reg_covar : float, default=1e-15
        Added to the diagonal of every covariance in the M-step (standardised units).
    max_iter : int, default=10000
        EM iteration cap; reaching it raises a ``ConvergenceWarning``.
    threshold_components : float, default=1e-5
        Minimal score improvement that counts when increasing K.
    patience : int, default=1
        Stop the search after this many consecutive K without improvement.
    metric : {'cv', 'aic', 'bic'}, default='cv'
        Held-out log-likelihood, or an information criterion on full-data fits.
    n_bootstrap : int, default=50
        Bootstrap replicates; 0 gives one fit on all the data and no std.
    mc_samples : 'auto' or int, default='auto'
        Monte-Carlo samples per MI integral. An int: every replicate's integral uses that
        many common draws (upstream GMM-MI uses 100000). 'auto': each replicate is integrated
        over 8192 common draws, and their shared MC offset is removed by integrating the
        full-data fit over as many independent draws as needed (up to 2**20) for the MC error
        of the mean to fall below 0.25 x the bootstrap spread (or 1e-4 nat); see Notes. Where
        'auto' does not apply (``n_bootstrap=0``, categorical ``y``, the 'numpy'/'cupy'
        backends, entropy and KL) it means 100000.
    init : {'kmeans++', 'random_resp', 'kmeans', 'random', 'minmax'}, default='kmeans++'
        Initialisation. 'random_resp' (random responsibilities then an M-step) is
        upstream GMM-MI's default, kept for parity.
    unit : {'nat', 'bit'}, default='nat'
    uncertainty : {'misfit', 'bootstrap'}, default='misfit'
        What ``std`` covers. 'bootstrap' (GMM-MI's paper): the spread of the bootstrap
        replicates and the Monte-Carlo error. 'misfit' adds, in quadrature, the mixture's
        resubstitution gap: the full-data fit's MI minus its log ratio averaged over the
        data (zero for a well-specified model; of the order of the MI's bias when the
        mixture misrepresents the dependence). See Notes.
    check_fit : bool, default=True
        Compare a k-NN (KSG) estimate on the data with the same estimate on as many points
        drawn from the fitted mixture; a difference beyond both estimates' errors sets
        ``diagnostics['misfit']`` and raises a :class:`~fastmi.MisfitWarning`: the mixture
        misses (or invents) dependence, and the error bar does not cover it. Costs two k-NN
        estimates (on at most 50 000 rows).
    y_type : {'continuous', 'categorical'}, default='continuous'
        With 'categorical', ``y`` holds class labels of any type; one mixture is
        fitted to x (to (z, x) when conditioning) in each class and the empirical
        class prior is used.
    min_class_size : int or None, default=None
        Categorical only. None: a class too small to fit is an error. An int (>= 2):
        the samples of classes with fewer than ``min_class_size`` samples are dropped
        first, with a RuntimeWarning giving the numbers of samples and classes dropped.
    rng : None, int, SeedSequence or Generator
        Source of all randomness (folds, initialisations, bootstrap, MC).
    n_jobs : int or None, default=None
        Threads for the fits and the bootstrap; None uses every core. Results are
        bit-identical for any value.
    backend : {'auto', 'numba', 'numpy', 'cupy'}, default='auto'
        Where the bootstrap loop (EM refits and MC integrals) runs: 'auto' and 'numba'
        use the compiled CPU kernels; 'cupy' runs the array-namespace implementation on a
        GPU (component selection stays on the CPU); 'numpy' runs that same implementation
        on the CPU, as a reference.
    search : {'split', 'fresh'}, default='split'
        How the component search starts each K. 'split': in each fold, from that fold's
        fit at K - 1 with its component of largest weight x principal variance split in
        two along its principal axis (the mixture's mean and covariance kept), so EM starts
        near where the previous K left off. 'fresh': ``n_init`` new initialisations at every
        K (upstream GMM-MI's procedure).
    search_tol : 'auto', float or None, default='auto'
        EM tolerance of the component search's fits: 'auto' is 3 x ``tol`` (3e-4 by
        default), None is ``tol``.
    bootstrap_tol : 'auto', float or None, default='auto'
        EM tolerance of the bootstrap refits: 'auto' is 10 x ``tol`` (1e-3 by default,
        scikit-learn's GaussianMixture default), None is ``tol``.
    bootstrap_start : {'full', 'selected'}, default='full'
        Where the bootstrap refits start: the full-data fit, or the selected fold fit that
        started it (upstream).
    copula : {'auto', True, False}, default='auto'
        Fit in copula space (each column mapped to normal scores through its empirical CDF;
        MI is unchanged). 'auto': there when one Gaussian (per class) fits there better than
        two, else in the data's own space.
    retry : bool, default=True
        Refit a fit that fails ``check_fit``: in the data's space after copula space, then
        with a harder search (one more fresh start per K, the search at ``tol``).
    bias_correction : {True, False, 'gaussian'}, default=True
        Remove the bias a fit shows on independent data. K = 1: the exact finite-sample bias
        of one fitted Gaussian (Wishart). K > 1 (continuous y, no z, with the bootstrap):
        where the estimate is within 3 std of 0, the mean MI of the bootstrap at K on
        ``N_NULL`` = 6 copies of the data with y's rows permuted, subtracted if the estimate
        lies within that null distribution (its error added to ``std``). 'gaussian': the
        K = 1 correction only (the previous release). ``diagnostics['bias_correction']`` says
        what was done.

    Attributes
    ----------
    n_components_ : int or dict
        Selected K (a dict per class for the categorical variant).
    weights_, means_, covariances_ : ndarray or dict
        Parameters of the mixture fitted to all the data, in the input's units
        (dicts per class for the categorical variant). Columns are x, then y, then z.
    dims_ : dict
        Number of columns of x, y (and z).
    cv_ : dict
        The component search: score per K and per initialisation, EM iterations,
        convergence and failure flags.

    Notes
    -----
    Columns are standardised before fitting (MI is invariant to it), so ``reg_covar``
    acts in standard units. Each bootstrap replicate draws its resampling indices from
    its own child of one ``SeedSequence`` (a PCG64 stream, stepped inside the kernels), and
    EM sees each distinct resampled row once, weighted by its count. A one-component fit
    is computed in closed form (EM's first M-step reaches its fixed point) and reports one
    iteration. The MC integrals of all replicates use common random numbers (one set of
    normal and uniform draws mapped through each fitted mixture) and the moment-matched
    Gaussian as a control variate (exact for K = 1).
    Common draws shift all replicates alike rather than widening their spread, so the
    reported ``std`` adds the mean MC standard error to the replicates' standard deviation
    in quadrature; both parts are in ``diagnostics`` ('bootstrap_std', 'mc_shared_error').
    For the categorical variant the bootstrap resamples rows, so the class proportions
    vary between replicates like they would between data sets; each replicate uses its
    own empirical prior.

    The bootstrap cannot see misspecification: when no mixture of the selected size
    describes the data, every replicate errs alike. The MI of a mixture q is the mean of
    its log ratio r = log q(x, y) - log q(x) - log q(y) under q; the mean of r over the
    rows q was fitted to estimates its mean under the data. The two agree for a
    well-specified mixture (exactly for one Gaussian) and part when q misrepresents the
    dependence; with ``uncertainty='misfit'`` their difference for the full-data fit
    (``diagnostics['misfit_error']``) is added to ``std`` in quadrature. A mixture that
    misses dependence altogether can pass that test; ``check_fit`` catches it by comparing
    the data with a sample of the mixture through a k-NN estimator
    (``diagnostics['misfit_check']``). On the hard benchmark families (spirals, waves,
    heavy tails; ``benchmarks/calibration_gmm.py``) the truth lies within ±1 std in 71 % of
    the unflagged runs and within ±2 std in 94 %; the paper's bootstrap std alone covers
    it in 40 % and 68 %.

    With ``mc_samples='auto'`` the common draws are few (8192): over common draws the MC
    errors of similar mixtures nearly cancel in their differences, so the replicates'
    spread needs few, but the offset they share does not. The full-data fit is integrated
    over the same draws, draw by draw, and over independent ones until the MC error of
    the mean is below 0.25 x the bootstrap spread (up to 2**20 draws); every replicate is
    shifted by the difference of the two. The reported MC error combines the standard
    error of the per-draw difference between the replicates' mean and the full-data fit
    with that of the independent integral (``diagnostics['mc_auto']``).

    :meth:`upstream` (or the options ``fastmi.gmm.UPSTREAM_PROCEDURE``) restores upstream
    GMM-MI's procedure: fresh initialisations at every K, EM to 1e-5 everywhere, bootstrap
    from the selected fit, 1e5 MC samples per integral, and the paper's error bar.

    References
    ----------
    .. [1] D. Piras, H. V. Peiris, A. Pontzen, L. Lucie-Smith, N. Guo and B. Nord,
       "A robust estimator of mutual information for deep learning interpretability",
       Mach. Learn.: Sci. Technol. 4 025006 (2023).
    """

    def __init__(self, n_components="auto", *, n_init="auto", n_folds=2, max_components=50, tol=1e-4,
                 reg_covar=1e-15, max_iter=10_000, threshold_components=1e-5, patience=1, metric="cv",
                 n_bootstrap=50, mc_samples="auto", init="kmeans++", unit="nat", uncertainty="misfit",
                 check_fit=True, y_type="continuous", min_class_size=None, rng=None, n_jobs=None, backend="auto",
                 search="split", search_tol="auto", bootstrap_tol="auto", bootstrap_start="full", copula="auto",
                 retry=True, bias_correction=True):
        self.n_components = n_components
        self.n_init = n_init
        self.n_folds = n_folds
        self.max_components = max_components
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.threshold_components = threshold_components
        self.patience = patience
        self.metric = metric
        self.n_bootstrap = n_bootstrap
        self.mc_samples = mc_samples
        self.init = init
        self.unit = unit
        self.uncertainty = uncertainty
        self.check_fit = check_fit
        self.y_type = y_type
        self.min_class_size = min_class_size
        self.rng = rng
        self.n_jobs = n_jobs
        self.backend = backend
        self.search = search
        self.search_tol = search_tol
        self.bootstrap_tol = bootstrap_tol
        self.bootstrap_start = bootstrap_start
        self.copula = copula
        self.retry = retry
        self.bias_correction = bias_correction

    @classmethod
    def upstream(cls, **kwargs):
        """A GMMMI that runs upstream GMM-MI's procedure: ``UPSTREAM_PROCEDURE`` and upstream's
        initialisation ``init='random_resp'``; ``kwargs`` (any constructor parameter) override.

        Returns
        -------
        GMMMI
            Unfitted; ``GMMMI.upstream(init='kmeans++')`` is fastmi's behaviour before the
            faster defaults (split search, 'auto' MC samples, looser EM tolerances).
        """
        return cls(**{**UPSTREAM_PROCEDURE, "init": "random_resp", **kwargs})

    # ------------------------------------------------------------------ parameters
    def get_params(self):
        """The constructor parameters as a dict (``rng`` included)."""
        import inspect

        return {k: getattr(self, k) for k in inspect.signature(type(self).__init__).parameters if k != "self"}

    def _check_params(self):
        if not (self.n_components == "auto" or (isinstance(self.n_components, (int, np.integer))
                                                 and not isinstance(self.n_components, bool))):
            raise ValueError(f"n_components must be 'auto' or a positive int, got {self.n_components!r}")
        if self.n_components != "auto":
            check_int(self.n_components, "n_components", low=1)
        if not (isinstance(self.n_init, str) and self.n_init == "auto"):
            if isinstance(self.n_init, str):
                raise ValueError(f"n_init must be 'auto' or an int >= 1, got {self.n_init!r}")
            check_int(self.n_init, "n_init", low=1)
        check_int(self.n_folds, "n_folds", low=2)
        check_int(self.max_components, "max_components", low=1)
        check_float(self.tol, "tol", low=0.0)
        check_float(self.reg_covar, "reg_covar", low=0.0)
        check_int(self.max_iter, "max_iter", low=1)
        check_float(self.threshold_components, "threshold_components", low=0.0)
        check_int(self.patience, "patience", low=1)
        check_choice(self.metric, "metric", {"cv", "aic", "bic"})
        check_int(self.n_bootstrap, "n_bootstrap", low=0)
        if not (isinstance(self.mc_samples, str) and self.mc_samples == "auto"):
            if isinstance(self.mc_samples, str):
                raise ValueError(f"mc_samples must be 'auto' or an int >= 2, got {self.mc_samples!r}")
            check_int(self.mc_samples, "mc_samples", low=2)
        check_choice(self.init, "init", set(INITS))
        check_unit(self.unit)
        check_choice(self.uncertainty, "uncertainty", {"misfit", "bootstrap"})
        check_bool(self.check_fit, "check_fit")
        check_choice(self.y_type, "y_type", {"continuous", "categorical"})
        if self.min_class_size is not None:
            if self.y_type != "categorical":
                raise ValueError("min_class_size applies to y_type='categorical' only")
            check_int(self.min_class_size, "min_class_size", low=2)
        check_choice(self.backend, "backend", set(BACKENDS))
        check_choice(self.search, "search", set(SEARCHES))
        for name in ("search_tol", "bootstrap_tol"):
            if getattr(self, name) is not None and not (isinstance(getattr(self, name), str)
                                                        and getattr(self, name) == "auto"):
                check_float(getattr(self, name), name, low=0.0)
        check_choice(self.bootstrap_start, "bootstrap_start", {"full", "selected"})
        if not (self.copula == "auto" or isinstance(self.copula, (bool, np.bool_))):
            raise ValueError(f"copula must be True, False or 'auto', got {self.copula!r}")
        check_bool(self.retry, "retry")
        if not (self.bias_correction == "gaussian" or isinstance(self.bias_correction, (bool, np.bool_))):
            raise ValueError(f"bias_correction must be True, False or 'gaussian', got {self.bias_correction!r}")
        if self.backend == "cupy":
            get_namespace("cupy")  # a clear ImportError now rather than after the fit
        return resolve_n_jobs(self.n_jobs)

    #: 'auto' tolerances of the search and the bootstrap refits, as multiples of ``tol``
    _AUTO_TOL = {"search": 3.0, "bootstrap": 10.0}

    def _em(self, stage="fit"):
        """EM settings of the full-data fit ('fit'), the component search ('search') or the
        bootstrap refits ('bootstrap'): their own tolerances, where set."""
        tol = {"fit": None, "search": self.search_tol, "bootstrap": self.bootstrap_tol}[stage]
        if isinstance(tol, str):  # 'auto'
            tol = self._AUTO_TOL[stage] * float(self.tol)
        return EMSettings(float(self.tol if tol is None else tol), float(self.reg_covar), int(self.max_iter))

    def _n_init(self):
        if isinstance(self.n_init, str):  # 'auto': the split start is the search's main start
            # a fixed K has no K - 1 fit to split: fresh starts, as upstream
            return 1 if self.search == "split" and self.n_components == "auto" else 3
        return int(self.n_init)

    # ------------------------------------------------------------------ fitting
    def fit(self, x, y, z=None):
        """Select the number of components and fit the mixture(s).

        Parameters
        ----------
        x : array-like of shape (n_samples,) or (n_samples, dx)
        y : array-like of shape (n_samples,) or (n_samples, dy)
            Continuous, or class labels when ``y_type='categorical'``.
        z : array-like of shape (n_samples,) or (n_samples, dz), optional
            Conditioning variable: ``estimate`` then returns I(X; Y | Z). Constant
            columns of z are dropped with a warning, and a single-valued z gives
            I(X; Y) (with a warning).

        Returns
        -------
        self
        """
        n_jobs = self._check_params()
        x = check_array(x, "x")
        if self.y_type == "categorical":
            codes, classes, counts, keep = check_class_labels(y, "y", min_count=2,
                                                              min_class_size=self.min_class_size)
            # z first: the leading coordinates of a draw from a class mixture over (z, x) are
            # a draw from its z-marginal, so I(Y; Z) is integrated over the same points
            arrays = {"x": x} if z is None else {"z": check_conditioning(z, "z"), "x": x}
            if keep is not None:
                check_same_length(y=keep, **arrays)
                arrays = {k: np.ascontiguousarray(v[keep]) for k, v in arrays.items()}
            check_same_length(y=codes, **arrays)
            if z is not None and arrays["z"].shape[1] == 0:
                del arrays["z"]  # degenerate z (warned): I(X; Y | Z) = I(X; Y)
            data = np.hstack(list(arrays.values()))
            self.classes_ = classes
            self.dims_ = {k: v.shape[1] for k, v in arrays.items()}
            self.n_dropped_ = 0 if keep is None else int(keep.size - np.count_nonzero(keep))
        else:
            y = check_array(y, "y")
            arrays = {"x": x, "y": y}
            if z is not None:
                arrays["z"] = check_conditioning(z, "z")
            check_same_length(**arrays)
            if z is not None and arrays["z"].shape[1] == 0:
                del arrays["z"]  # degenerate z (warned): I(X; Y | Z) = I(X; Y)
            data = np.hstack(list(arrays.values()))
            self.dims_ = {k: v.shape[1] for k, v in arrays.items()}
        self.conditional_ = z is not None
        if _collinear(standardize_columns(data, self._column_names())[2]):
            # a Gaussian mixture has no density on a lower-dimensional subspace: EM would only crawl
            # towards a singular fit (and MI between linearly dependent x and y is infinite). Checked
            # here, in the data's own space and before any stage, so that no copula-space fit hides it
            self._raise_collinear()
        self._raw = data
        self.n_samples_ = int(data.shape[0])
        self._streams = Streams(np.random.SeedSequence(check_rng(self.rng).integers(0, 2**63, size=4).tolist()))
        if self.y_type == "categorical":
            self._codes = codes
            self.class_prior_ = counts / counts.sum()
        self._attempts = []
        self._stages = self._ladder()
        self._fit_stage(0, n_jobs)
        self._emit_warnings()
        return self

    def _ladder(self):
        """The fits ``fit`` and the retries of ``estimate`` go through, in order: (space, harder).

        ``copula='auto'`` starts in copula space, kept only where one Gaussian (per class) fits
        there; then the data's own space; and, when ``retry``, the same with a harder search."""
        spaces = {True: ["copula"], False: ["data"], "auto": ["copula", "data"]}[self.copula]
        if self.copula == "auto" and self.n_components != "auto":
            spaces = ["data"]  # a fixed K speaks of the mixture in the data's space
        stages = [(sp, False) for sp in spaces]
        if self.retry:
            stages.append((spaces[-1], True))
        return stages

    def _fit_stage(self, stage, n_jobs):
        """Standardise the data in the stage's space, select K and fit; a copula stage of
        ``copula='auto'`` that needs more than one component gives way to the next stage."""
        space, harder = self._stages[stage]
        probe = self.copula == "auto" and space == "copula" and self.n_components == "auto"
        data = normal_scores(self._raw) if space == "copula" else self._raw
        self.stage_, self.space_ = stage, space
        # scale first, then centre: no overflow or underflow anywhere in the float64 range
        self.loc_, self.scale_, self._data = standardize_columns(data, self._column_names())
        self._data = np.ascontiguousarray(self._data)
        # (the data's own space was checked by fit)
        if space == "copula" and _collinear(self._data):
            if stage + 1 < len(self._stages):
                # equal ranks (a monotone relation, or too few rows to tell): the data's space decides
                self._attempts.append({"space": space, "harder": harder, "n_components": None,
                                       "outcome": "columns linearly dependent in copula space"})
                return self._fit_stage(stage + 1, n_jobs)
            self._raise_collinear()
        self._warnings = []
        #: what went wrong in the fit (also warned); copied into every result's diagnostics['flags']
        self.fit_flags_ = {"max_components_reached": False, "search_not_converged": 0, "refit_failed": False,
                           "refit_not_converged": False, "search_suspicious": 0}
        opts = {"max_k": 2 if probe else None, "harder": harder}
        with thread_map(n_jobs) as pmap:
            if self.y_type == "categorical":
                codes, classes = self._codes, self.classes_
                fits = [self._select(self._data[codes == c], c, pmap, name=f"class {label!r}", **opts)
                        for c, label in enumerate(classes.tolist())]
                self._warm = [f[0] for f in fits]
                ks = [w.n_components for w in self._warm]
            else:
                self._warm, record = self._select(self._data, 0, pmap, name="data", **opts)
                ks = [self._warm.n_components]
            gave_way = probe and max(ks) > 1
            if not gave_way and self.y_type == "categorical":
                self.cv_ = {str(cl): f[1] for cl, f in zip(classes.tolist(), fits)}
                self._final = [self._refit(self._data[codes == c], w) for c, w in enumerate(self._warm)]
                self.n_components_ = {cl: k for cl, k in zip(classes.tolist(), ks)}
            elif not gave_way:
                self.cv_ = record
                self._final = self._refit(self._data, self._warm)
                self.n_components_ = ks[0]
        if gave_way:  # a non-Gaussian copula: fit in the data's space instead
            self._attempts.append({"space": space, "harder": harder, "n_components": ks,
                                   "outcome": "more than one component needed in copula space"})
            return self._fit_stage(stage + 1, n_jobs)
        self._set_public_params()
        self.bootstrap_params_ = None
        self._twin = None

    def _column_names(self):
        """The argument name (x, y, z) of every column of the joint data, in order."""
        return [k for k, v in self.dims_.items() for _ in range(v)]

    def _raise_collinear(self):
        raise ValueError(f"the columns of ({', '.join(self.dims_)}) are linearly dependent (e.g. a duplicated "
                         "or collinear column); drop the redundant column(s)")

    def _select(self, X, part, pmap, name, max_k=None, harder=False):
        """Run the component search on X (standardised); returns (warm start, record).
        ``max_k`` caps K; ``harder`` adds a fresh start per K and searches at ``tol``."""
        n, d = X.shape
        if self.metric == "cv" and self.n_folds > n:
            raise ValueError(f"n_folds={self.n_folds} exceeds the {n} samples of {name}; every fold needs a sample")
        n_train = n - math.ceil(n / self.n_folds) if self.metric == "cv" else n
        per_k = d + 1  # points that make one full covariance non-singular
        if self.n_components == "auto":
            cap = min(self.max_components, n_train // per_k, max_k or self.max_components)
            if cap < 1:
                raise ValueError(f"{name} has {n} samples: too few for a {d}-D Gaussian fit with "
                                 f"{self.n_folds} folds (need a training fold of at least {per_k})")
            candidates = list(range(1, cap + 1))
        else:
            if n_train < self.n_components * per_k:
                raise ValueError(f"{name} has {n} samples: too few for {self.n_components} components in "
                                 f"{d}-D with {self.n_folds} folds (need at least {self.n_components * per_k} "
                                 "samples per training fold)")
            candidates = [int(self.n_components)]
        K, warm, record = select_n_components(
            X, candidates=candidates, n_init=self._n_init() + harder, n_folds=self.n_folds, init=self.init,
            em=self._em("fit" if harder else "search"),
            threshold=self.threshold_components, patience=self.patience, metric=self.metric,
            streams=self._streams, part=part, pmap=pmap, search=self.search)
        if K is None:
            raise ValueError(f"every EM fit on {name} failed (singular covariances); the data may be degenerate")
        record["selected"] = K
        record["selection"] = "fixed" if self.n_components != "auto" else self.metric
        # a fit from an initialisation that converges within two iterations barely left its start
        # (e.g. the near-symmetric stall of random responsibilities)
        suspicious = [[it <= 2 and k > 1 and c for it, c in zip(its, cs)]
                      for k, its, cs in zip(record["k"], record["n_iter"], record["converged"])]
        record["suspicious"] = suspicious
        at_k = next((s for k, s in zip(record["k"], suspicious) if k == K), [])
        self.fit_flags_["search_suspicious"] += sum(at_k)
        if at_k and all(at_k):  # one good start is enough: warn when every fit at the selected K stalled
            self._warnings.append((DegenerateFitWarning,
                                   f"every EM fit with the selected K={K} on {name} stopped after at most two "
                                   "iterations from its start: check the fit (plot_fit, plot_cv), or try "
                                   "init='kmeans++' or a smaller tol"))
        if self.n_components == "auto" and not record["stopped_by_patience"] and max_k is None:
            self.fit_flags_["max_components_reached"] = True
            self._warnings.append((ConvergenceWarning,
                                   f"component search on {name} reached max_components={candidates[-1]} "
                                   "without the score levelling off; increase max_components"))
        n_unconv = sum(ok and not c for cs, oks in zip(record["converged"], record["ok"]) for c, ok in zip(cs, oks))
        if n_unconv > 0:
            self.fit_flags_["search_not_converged"] += n_unconv
            self._warnings.append((ConvergenceWarning,
                                   f"{n_unconv} EM fit(s) in the component search on {name} did not converge "
                                   f"in max_iter={self.max_iter} iterations"))
        return warm, record

    def _refit(self, X, warm):
        m, info = fit_em(X, warm, self.tol, self.reg_covar, self.max_iter)
        if not info.ok:  # keep the warm start rather than a broken fit
            self.fit_flags_["refit_failed"] = True
            self._warnings.append((DegenerateFitWarning, "the full-data refit failed; using the selected warm start"))
            return warm.copy()
        if not info.converged:
            self.fit_flags_["refit_not_converged"] = True
            self._warnings.append((ConvergenceWarning, "the full-data EM fit did not converge"))
        return m

    def _set_public_params(self):
        def orig(mix):
            return mix.affine(self.loc_, self.scale_)

        if self.y_type == "categorical":
            mixes = {cl: orig(m) for cl, m in zip(self.classes_.tolist(), self._final)}
            self.weights_ = {k: m.weights for k, m in mixes.items()}
            self.means_ = {k: m.means for k, m in mixes.items()}
            self.covariances_ = {k: m.covariances for k, m in mixes.items()}
        else:
            m = orig(self._final)
            self.weights_, self.means_, self.covariances_ = m.weights, m.means, m.covariances

    def _emit_warnings(self):
        for cat, msg in self._warnings:
            warnings.warn(msg, cat, stacklevel=3)
        self._warnings = []

    # ------------------------------------------------------------------ estimation
    def _check_fitted(self):
        if not hasattr(self, "_final"):
            raise ValueError("this GMMMI is not fitted yet: call fit(x, y) first")

    def _groups(self):
        dims = list(self.dims_.values())
        edges = np.cumsum([0] + dims)
        return [list(range(edges[i], edges[i + 1])) for i in range(len(dims))]

    def _draws(self, stream, *index):
        n = MC_AUTO_FALLBACK if isinstance(self.mc_samples, str) else self.mc_samples
        return MCDraws(self._streams(stream, *index), n, len(self.loc_))

    def _bootstrap_draws(self):
        """The MI integrals' draws for the bootstrap: the paired scheme of mc_samples='auto' where
        it applies (continuous y, compiled backend), else ``_draws``."""
        if (isinstance(self.mc_samples, str) and self.y_type == "continuous"
                and self.backend not in ("numpy", "cupy")):
            return PairedMC(self._streams(Stream.MC_DRAWS), self._streams(Stream.MC_REFERENCE_DRAWS),
                            len(self.loc_), mi_terms(self._groups()))
        return self._draws(Stream.MC_DRAWS)

    def _categorical_z_term(self, weights, prior, means, covs, comp_class, draws):
        """I(Y; Z) of stacked class mixtures over (z, x), from their z-marginals, integrated
        over the leading z coordinates of ``draws`` -- the z parts of the very points that
        integrate I(Y; Z, X) (z comes first, so the Cholesky factor's leading block is the
        marginal's). Zeros when there is no z."""
        dz = self.dims_.get("z", 0)
        if dz == 0:
            return np.zeros(weights.shape[0]), np.zeros(weights.shape[0])
        return mc_categorical_mi(weights, prior, np.ascontiguousarray(means[..., :dz]),
                                 np.ascontiguousarray(covs[..., :dz, :dz]), comp_class, LeadingDraws(draws, dz))

    def _point_estimate(self):
        """MI (or CMI) in nats of the full-data fit, and its MC standard error."""
        draws = self._draws(Stream.MC_DRAWS)
        if self.y_type == "categorical":
            params = self._full_params()
            v, se = mc_categorical_mi(*params, draws)
            vz, sez = self._categorical_z_term(*params, draws)
            v, se = v - vz, se + sez
        else:
            v, se = mc_log_ratio(*self._full_params(), mi_terms(self._groups()), draws)
        return float(v[0]), float(se[0])

    def _run_bootstrap(self, B, seed_of, draws, n_jobs):
        categorical = self.y_type == "categorical"
        start = self._warm if self.bootstrap_start == "selected" else self._final
        data = (self._data, self._codes, start) if categorical else (self._data, start, self._groups())
        if self.backend in ("numpy", "cupy"):
            from . import _xp

            fn = _xp.bootstrap_categorical if categorical else _xp.bootstrap_continuous
            return fn(get_namespace(self.backend), *data, B, seed_of, self._em("bootstrap"), draws)
        with thread_map(n_jobs) as pmap:
            if categorical:
                return bootstrap_categorical(*data, B, seed_of, self._em("bootstrap"), draws, pmap)
            return bootstrap_continuous(*data, B, seed_of, self._em("bootstrap"), draws, pmap,
                                        reference=self._final)

    def estimate(self):
        """Bootstrap the fit and integrate the MI of every replicate.

        Re-runnable without refitting (e.g. after changing ``n_bootstrap`` or
        ``mc_samples``); the same ``rng`` gives the same result.

        Returns
        -------
        MIResult
            ``mi`` is the mean of the replicates and ``std`` their standard deviation
            (ddof=1); with ``n_bootstrap=0``, the MI of the full-data fit.
            ``diagnostics['fit']`` says in which space the mixture was fitted and which
            attempts came before it.

        Notes
        -----
        With ``retry=True``, a fit that fails the goodness-of-fit check (``check_fit``) is
        refitted from the next stage of the search (the data's own space after copula space,
        then a harder search: one more fresh start per K and the search at ``tol``) and
        estimated again; the model keeps the last fit. A result is flagged only when the
        last stage is flagged too.
        """
        self._check_fitted()
        n_jobs = self._check_params()
        while True:
            res = self._estimate_once(n_jobs)
            stage = getattr(self, "stage_", 0)
            if not (res.diagnostics.get("misfit") and hasattr(self, "_raw") and stage + 1 < len(self._stages)):
                break
            self._attempts.append({"space": self.space_, "harder": self._stages[stage][1],
                                   "n_components": self.n_components_, "outcome": "failed the fit check",
                                   "mi": res.mi, "std": res.std})
            self._warnings = []  # the check's warning is for the fit that is being replaced
            self._fit_stage(stage + 1, n_jobs)
        res.diagnostics["fit"] = {"space": getattr(self, "space_", "data"), "stage": getattr(self, "stage_", 0),
                                  "attempts": list(getattr(self, "_attempts", []))}
        self._emit_warnings()
        return res

    def _estimate_once(self, n_jobs):
        B = int(self.n_bootstrap)
        if B > 0 and not hasattr(self, "_data"):
            raise ValueError("this model was loaded without its data: use n_bootstrap=0 to integrate the saved "
                             "fit, or fit it to data again")
        diag = {"n_components": self.n_components_, "cv": self.cv_}
        if hasattr(self, "_data"):
            diag["n_samples"] = int(self._data.shape[0])
        if B == 0:
            value, se = self._point_estimate()
            self.bootstrap_params_ = None
            diag["mc_stderr"] = [se]
            diag["flags"] = dict(getattr(self, "fit_flags_", {}))
            if hasattr(self, "_data"):
                self._misfit_diagnostics(diag, value, math.nan, n_jobs)
            return self._result([], value - self._bias_shift(diag), diag)

        def seed_of(b):
            return self._streams(Stream.BOOTSTRAP, b)

        draws = self._bootstrap_draws()
        out = self._run_bootstrap(B, seed_of, draws, n_jobs)
        if self.y_type == "categorical" and "z" in self.dims_:
            W, prior, M, C, comp_class = out.params
            safe = out.ok[:, None, None, None]
            vz, sez = self._categorical_z_term(W, prior, M, np.where(safe, C, np.eye(C.shape[-1])), comp_class, draws)
            out.values, out.stderr = out.values - vz, out.stderr + sez
            out.ok = out.ok & np.isfinite(out.values)
        failed = int(B - out.ok.sum())
        diag["bootstrap"] = {
            "n_iter": out.n_iter.tolist(),
            "converged": out.converged.tolist(),
            # every refit starts from a fit to (nearly) the same data, so stopping within two
            # iterations is what it should do: no refit is suspicious (see fit_flags_ for the search)
            "suspicious": np.zeros(out.n_iter.shape, dtype=bool).tolist(),
            "failed": failed,
        }
        diag["mc_stderr"] = out.stderr[out.ok].tolist()
        if failed == B:
            raise RuntimeError(f"all {B} bootstrap fits failed (singular covariances)")
        flags = dict(getattr(self, "fit_flags_", {}))
        # bootstrap refits start from the selected fit, so stopping within two iterations is expected there
        flags.update(bootstrap_failed=failed, bootstrap_not_converged=int((~out.converged[out.ok]).sum()))
        diag["flags"] = flags
        if failed:
            self._warnings.append((DegenerateFitWarning, f"{failed} of {B} bootstrap fits failed (singular covariances) "
                                                   "and were left out; see diagnostics['bootstrap']"))
        n_unconv = int((~out.converged[out.ok]).sum())
        if n_unconv:
            self._warnings.append((ConvergenceWarning, f"{n_unconv} bootstrap EM fit(s) did not converge in "
                                                       f"max_iter={self.max_iter} iterations"))
        values = out.values[out.ok]
        mc_error = float(np.mean(out.stderr[out.ok])) if out.shared_error is None else float(out.shared_error)
        if out.mc:
            diag["mc_auto"] = out.mc
        # the full-data fit's MI: the 'auto' MC's reference integral, else one more integral
        full_mi = out.mc["reference_value"] if "reference_value" in (out.mc or {}) else self._point_estimate()[0]
        diag["bootstrap_std"] = float(values.std(ddof=1)) if values.size > 1 else math.nan
        diag["mc_shared_error"] = mc_error
        gap = self._misfit_diagnostics(diag, full_mi, diag["bootstrap_std"], n_jobs, mc_error)
        shared = math.hypot(mc_error, gap) if self.uncertainty == "misfit" else mc_error
        self.bootstrap_params_ = tuple(a[out.ok] if a.ndim and a.shape[0] == B else a for a in out.params)
        values = values - 2.0 * self._bias_shift(diag)  # a replicate is biased like a fit of a fit
        if values.size > 1 and values.mean() < self.NULL_GATE * math.hypot(values.std(ddof=1), shared):
            null, null_se = self._null_shift(diag, values.mean(), n_jobs)
            values, shared = values - null, math.hypot(shared, null_se)
        return self._result(values, None, diag, shared)

    #: the null bias correction (K > 1): permuted data sets, and the z = mi / std below which it runs
    N_NULL = 6
    NULL_GATE = 3.0

    def _null_shift(self, diag, estimate, n_jobs):
        """The MI that the bootstrap at the selected K finds in the data with y's rows permuted:
        the bias of a mixture with K > 1 fitted to independent variables (its components tilt
        to fit non-Gaussian marginals; see the docs' "GMM-MI near zero"). Each of ``N_NULL``
        permuted data sets is fitted at K from a k-means++ start, then refitted to one resample
        of itself, like a replicate. Under independence the permuted data are distributed as
        the data, so this is the replicates' bias there. Dependent data are biased otherwise
        (subtracting it everywhere made the calibration suite's MAE 0.050 against 0.035), so
        ``_estimate_once`` asks for it only when the ``estimate`` is within ``NULL_GATE`` std of
        0, and it is applied only when the estimate lies within the null distribution too
        (below its mean plus two of its standard deviations): data indistinguishable from
        independent ones. Returns the mean null MI and its standard error, or (0, 0) where it is
        not applied (recorded in ``diag``) or does not apply (nothing recorded): one component
        (corrected exactly by ``_bias_shift``), copula space (where K > 1 is never kept),
        categorical y, conditional MI, ``bias_correction`` other than True, or a loaded model
        without its data."""
        K = self.n_components_
        if not (self.bias_correction is True or self.bias_correction is np.True_) or not (
                self.y_type == "continuous" and "z" not in self.dims_ and K != 1
                and getattr(self, "space_", "data") == "data" and hasattr(self, "_data")):
            return 0.0, 0.0
        X, dx = self._data, self.dims_["x"]
        n = X.shape[0]
        em, groups = self._em("bootstrap"), self._groups()
        draws = self._draws(Stream.MC_DRAWS)

        def one(j):
            g = np.random.default_rng(self._streams(Stream.NULL_FIT, j))
            Xp = X.copy()
            Xp[:, dx:] = X[g.permutation(n), dx:]
            fit, info = fit_em(Xp, initial_mixture(Xp, K, "kmeans++", g, em.reg_covar), em.tol, em.reg_covar,
                               em.max_iter)
            if not info.ok:
                return math.nan
            seed = np.random.SeedSequence(int(g.integers(2**63)))
            out = bootstrap_continuous(Xp, fit, groups, 1, lambda b: seed, em, draws,
                                       lambda f, runs: [f(r) for r in runs])
            return float(out.values[0]) if out.ok[0] else math.nan

        with thread_map(n_jobs) as pmap:
            nulls = np.array(list(pmap(one, range(self.N_NULL))))
        nulls = nulls[np.isfinite(nulls)]
        if nulls.size < 2:
            return 0.0, 0.0
        bias, spread = float(nulls.mean()), float(nulls.std(ddof=1))
        applied = estimate <= bias + 2.0 * spread
        diag["bias_correction"] = {"kind": f"permutation null at K={K}", "bias": bias if applied else 0.0,
                                   "applied": bool(applied), "null_mi": nulls.tolist()}
        return (bias, spread / math.sqrt(nulls.size)) if applied else (0.0, 0.0)

    def _bias_shift(self, diag):
        """The finite-sample bias of the MI (or CMI) of one fitted Gaussian, which is known exactly
        (``gaussian_mi_bias``); 0, and nothing recorded, where it does not apply (K > 1,
        categorical y, ``bias_correction=False``, or a model loaded from a file that does not
        record its sample size)."""
        n = getattr(self, "n_samples_", None)
        if not (self.bias_correction and self.y_type == "continuous" and self.n_components_ == 1 and n):
            return 0.0
        d = self.dims_
        bias = gaussian_mi_bias(n, d["x"], d["y"], d.get("z", 0))
        diag["bias_correction"] = {"kind": "one Gaussian (Wishart)", "bias": bias}
        return bias

    # ------------------------------------------------------------------ misspecification
    def _full_params(self):
        """The full-data fit(s), stacked like the bootstrap's ``out.params`` (one replicate)."""
        if self.y_type != "categorical":
            return stack([self._final])
        comp_class = np.concatenate([np.full(m.n_components, c) for c, m in enumerate(self._final)])
        W, M, C = (np.concatenate([getattr(m, p) for m in self._final])[None]
                   for p in ("weights", "means", "covariances"))
        return W, self.class_prior_[None], M, C, comp_class

    def _misfit_diagnostics(self, diag, full_mi, bootstrap_std, n_jobs, mc_error=0.0):
        """Record the full-data fit's resubstitution gap (its MI ``full_mi`` minus its log ratio
        averaged over the data) and run the k-NN check (``check_fit``); returns the gap."""
        if self.y_type == "categorical":
            W, prior, M, C, comp_class = self._full_params()
            resub = _misfit.resubstitution_categorical_mi(self._data, self._codes, W[0], prior[0], M[0], C[0],
                                                          comp_class, self.dims_.get("z", 0))
        else:
            W, M, C = (a[0] for a in self._full_params())
            resub = _misfit.resubstitution_mi(self._data, mi_terms(self._groups()), W, M, C)
        gap = float(full_mi - resub)
        diag["resubstitution_gap"] = gap
        diag["misfit_error"] = abs(gap) if self.uncertainty == "misfit" else 0.0
        error_bar = math.hypot(bootstrap_std, mc_error, diag["misfit_error"]) if math.isfinite(bootstrap_std) \
            else abs(gap)
        check = self._knn_check(error_bar, n_jobs)
        diag["misfit_check"] = check
        diag["misfit"] = bool(check.get("misfit", False))
        diag["flags"]["misfit"] = diag["misfit"]
        if diag["misfit"]:
            unit = unit_scale(self.unit)
            self._warnings.append((MisfitWarning, (
                f"the fitted mixture (K={self.n_components_}) fails the goodness-of-fit check: a k-NN estimate on the "
                f"data gives {check['knn_data'] * unit:.4g} {self.unit}, on a sample of the mixture "
                f"{check['knn_model'] * unit:.4g}; the difference exceeds {_misfit.MISFIT_SIGMAS:g} combined "
                "standard errors, so the mixture misrepresents the dependence and the reported std does not cover "
                "it. Check the fit (plot_fit), or compare with method='ksg'")))
        return abs(gap)

    def _knn_check(self, error_bar, n_jobs):
        if not self.check_fit:
            return {"run": False, "why": "check_fit=False"}
        rng = np.random.default_rng(self._streams(Stream.MISFIT_DRAWS))
        X = self._data
        if X.shape[0] > _misfit.CHECK_ROWS:
            keep = np.sort(rng.choice(X.shape[0], _misfit.CHECK_ROWS, replace=False))
        else:
            keep = np.arange(X.shape[0])
        data = np.ascontiguousarray(X[keep])
        if self.y_type == "categorical":
            codes = self._codes[keep]
            counts = np.bincount(codes, minlength=len(self._final))
            model = np.concatenate([_misfit.sample_mixture(rng, c, m.weights, m.means, m.factors()[0])
                                    for c, m in zip(counts, self._final)])
            model_codes = np.repeat(np.arange(counts.size), counts)
            first = self._first_stage_rows(rng, keep.size, codes, model_codes)
            dz = self.dims_.get("z", 0)
            if dz:  # z leads the columns of the class mixtures
                def parts(a, c):
                    return np.ascontiguousarray(a[:, dz:]), np.ascontiguousarray(a[:, :dz]), c
                return self._run_knn_check("categorical_cmi", parts(data, codes), parts(model, model_codes),
                                           error_bar, n_jobs, first)
            return self._run_knn_check("categorical", (data, codes), (model, model_codes), error_bar, n_jobs, first)
        model = _misfit.sample_mixture(rng, keep.size, self._final.weights, self._final.means,
                                       self._final.factors()[0])
        groups = self._groups()

        def split(a):
            return [np.ascontiguousarray(a[:, g]) for g in groups]

        kind = "cmi" if len(groups) == 3 else "mi"
        return self._run_knn_check(kind, split(data), split(model), error_bar, n_jobs,
                                   self._first_stage_rows(rng, keep.size))

    @staticmethod
    def _first_stage_rows(rng, n, *codes):
        """A random half of the rows for the check's first stage; None (decide on all the rows)
        for small samples, or where a class would have fewer than two rows in the half."""
        if n < 400:
            return None
        rows = np.sort(rng.permutation(n)[: n // 2])
        if any(np.bincount(c[rows], minlength=c.max() + 1).min() < 2 for c in codes):
            return None
        return rows

    @staticmethod
    def _run_knn_check(kind, data, model, error_bar, n_jobs, first):
        with thread_map(min(n_jobs, 2)) as pmap:
            return _misfit.knn_check(kind, data, model, error_bar, n_jobs, pmap, first)

    def _result(self, values, point, diag, shared_error=0.0):
        cmi = getattr(self, "conditional_", "z" in self.dims_)
        if self.y_type == "categorical":
            method = "gmm-categorical-cmi" if cmi else "gmm-categorical"
            if self.min_class_size is not None:
                diag["n_dropped"] = getattr(self, "n_dropped_", 0)
        else:
            method = "gmm-cmi" if cmi else "gmm"
        return MIResult.from_replicates(values, point=point, unit=self.unit, method=method, shared_error=shared_error,
                                        n_components=self.n_components_, diagnostics=diag,
                                        quantity="cmi" if cmi else "mi", description=_BOOTSTRAP)

    def fit_estimate(self, x, y, z=None):
        """``fit(x, y, z)`` then ``estimate()``."""
        return self.fit(x, y, z).estimate()

    # ------------------------------------------------------------------ other functionals
    def _data_space_twin(self):
        """Entropies and KL divergences, unlike MI, change under the copula map: for a fit in
        copula space they come from a twin fitted to the same data in the data's own space (and
        bootstrapped, when this model was)."""
        if getattr(self, "_twin", None) is None:
            if not hasattr(self, "_raw"):
                raise ValueError("this model was fitted in copula space and loaded without its data; entropy and KL "
                                 "need a fit in the data's space: fit GMMMI(copula=False) to the data")
            parts = dict(zip(self.dims_, np.split(self._raw, np.cumsum(list(self.dims_.values()))[:-1], axis=1)))
            twin = GMMMI(**{**self.get_params(), "copula": False, "check_fit": False})
            twin.fit(parts["x"], parts["y"], parts.get("z"))
            if self.bootstrap_params_ is not None:
                twin.estimate()
            self._twin = twin
        return self._twin

    def _models_in_units(self):
        """Stacked joint mixtures in the input's units: the bootstrap fits if any, else the full-data fit."""
        self._check_fitted()
        if self.y_type == "categorical":
            raise ValueError("entropy and KL are defined for continuous x and y only")
        if getattr(self, "space_", "data") == "copula":
            return self._data_space_twin()._models_in_units()
        W, M, C = self.bootstrap_params_ if getattr(self, "bootstrap_params_", None) else stack([self._final])
        return (W, *affine_params(M, C, self.loc_, self.scale_))

    def _mc_over_models(self, terms, quantity, *stream):
        values, stderr = mc_log_ratio(*self._models_in_units(), terms, self._draws(*stream))
        if len(values) == 1:
            return MIResult.from_replicates([], point=values[0], unit=self.unit, method="gmm", quantity=quantity)
        return MIResult.from_replicates(values, unit=self.unit, method="gmm", shared_error=float(np.mean(stderr)),
                                        quantity=quantity, description=_BOOTSTRAP)

    def entropy(self):
        """Differential entropies of the fitted marginals, in the input's units.

        Uses the bootstrap fits of the last ``estimate()`` when there are any (giving a std),
        otherwise the full-data fit.

        Returns
        -------
        dict
            ``{'x': MIResult, 'y': MIResult}`` (and 'z' when conditioning): ``mi`` holds the
            entropy H and ``quantity`` is 'entropy'.
        """
        groups = dict(zip(self.dims_, self._groups()))
        return {name: self._mc_over_models([(-1.0, g, g)], "entropy", Stream.ENTROPY_DRAWS, i)
                for i, (name, g) in enumerate(groups.items())}

    def kl_divergence(self, direction="forward"):
        """KL divergence between the fitted marginals of x and y (requires dx == dy).

        Uses the bootstrap fits of the last ``estimate()`` when there are any (giving a std),
        otherwise the full-data fit.

        Parameters
        ----------
        direction : {'forward', 'reverse'}, default='forward'
            'forward' gives KL(p_x || p_y), 'reverse' gives KL(p_y || p_x), both evaluated
            in the input's units.

        Returns
        -------
        MIResult
            ``mi`` holds the divergence and ``quantity`` is 'kl'.
        """
        check_choice(direction, "direction", {"forward", "reverse"})
        self._check_fitted()
        gx, gy = self._groups()[:2]
        if len(gx) != len(gy):
            raise ValueError(f"KL between marginals needs x and y of equal dimension, got {len(gx)} and {len(gy)}")
        p, q = (gx, gy) if direction == "forward" else (gy, gx)
        return self._mc_over_models([(1.0, p, p), (-1.0, p, q)], "kl", Stream.KL_DRAWS, direction == "reverse")

    def pointwise_mi(self, x=None, y=None, z=None):
        """Pointwise mutual information of each row under the fitted mixture(s).

        For row (x, y): log q(x, y) - log q(x) - log q(y); for class labels y = c:
        log q(x | c) - log q(x); with z, the conditional forms (log q(x, y | z) - log q(x | z)
        - log q(y | z), and log q(x | c, z) - log q(x | z)). The mean over samples of the
        joint distribution is the MI, so rows with large values are those that carry the
        information, and the histogram of the values is the PMI profile (:func:`fastmi.plot_pmi_profile`).

        Parameters
        ----------
        x, y, z : array-like, optional
            Rows to evaluate, in the units (and class labels) the model was fitted with; by
            default the rows it was fitted to. A model fitted in copula space maps new rows to
            normal scores through the empirical CDFs of the data it was fitted to (so it needs
            them: not a model loaded from a file).

        Returns
        -------
        PointwiseMI
            ``values`` averaged over the bootstrap fits of the last ``estimate()`` (or the
            full-data fit when there are none) and ``std``, their spread, in the model's unit.
            Unlike the estimate, the values are not bias-corrected.
        """
        self._check_fitted()
        Z, codes = self._pointwise_rows(x, y, z)
        categorical = self.y_type == "categorical"
        boot = getattr(self, "bootstrap_params_", None)
        params = boot if boot else self._full_params()
        n_fits = params[0].shape[0]
        terms = None if categorical else mi_terms(self._groups())
        vals = np.empty((n_fits, Z.shape[0]))
        for b in range(n_fits):
            if categorical:
                W, prior, M, C, comp_class = params
                vals[b] = categorical_pmi(Z, codes, W[b], prior[b], M[b], C[b], comp_class, self.dims_.get("z", 0))
            else:
                vals[b] = continuous_pmi(Z, terms, *(a[b] for a in params))
        vals *= unit_scale(self.unit)
        std = vals.std(axis=0, ddof=1) if n_fits > 1 else np.full(Z.shape[0], np.nan)
        return PointwiseMI(vals.mean(axis=0), std, unit=self.unit, n_fits=int(n_fits),
                           space=getattr(self, "space_", "data"))

    def _pointwise_rows(self, x, y, z):
        """Rows for ``pointwise_mi`` in the fit's standardised units (and their class codes)."""
        if x is None and y is None and z is None:
            if not hasattr(self, "_data"):
                raise ValueError("this model was loaded without its data: pass the rows to evaluate, "
                                 "pointwise_mi(x, y)")
            return self._data, getattr(self, "_codes", None)
        if x is None or y is None:
            raise ValueError("pass both x and y (or neither, for the rows the model was fitted to)")
        if self.conditional_ != (z is not None):
            raise ValueError("this model was fitted with z: pass z too" if self.conditional_ else
                             "this model was fitted without z: z must be None")
        arrays = {"x": check_array(x, "x", allow_constant=True, min_samples=1)}
        codes = None
        if self.y_type == "categorical":
            labels = np.asarray(y)
            if labels.ndim != 1:
                raise ValueError(f"y must be a 1-D array of class labels, got shape {labels.shape}")
            codes = np.searchsorted(self.classes_, labels)
            known = (codes < self.classes_.size) & (self.classes_[np.minimum(codes, self.classes_.size - 1)] == labels)
            if not known.all():
                bad = labels[~known][:3].tolist()
                raise ValueError(f"y has labels the model was not fitted with: {bad} (classes: "
                                 f"{self.classes_.tolist()})")
            check_same_length(x=arrays["x"], y=labels)
        else:
            arrays["y"] = check_array(y, "y", allow_constant=True, min_samples=1)
        if z is not None:
            arrays["z"] = check_array(z, "z", allow_constant=True, min_samples=1)
        check_same_length(**arrays)
        for name, a in arrays.items():
            if a.shape[1] != self.dims_[name]:
                raise ValueError(f"{name} has {a.shape[1]} column(s); the model was fitted with {self.dims_[name]}")
        data = np.hstack([arrays[k] for k in self.dims_])
        if getattr(self, "space_", "data") == "copula":
            if not hasattr(self, "_raw"):
                raise ValueError("this model was fitted in copula space and loaded without its data: new rows "
                                 "cannot be mapped to normal scores; fit GMMMI(copula=False) to evaluate them")
            data = normal_scores_against(self._raw, data)
        return np.ascontiguousarray(data / self.scale_ - self.loc_ / self.scale_), codes

    # ------------------------------------------------------------------ persistence
    def save(self, path):
        """Save the fitted model to ``path`` (.npz: arrays plus a versioned JSON header).

        The file holds the parameters, the standardisation, the selection record and
        the seed; not the data. A loaded model can integrate its MI (``n_bootstrap=0``)
        or be refitted to data warm-started from the saved parameters.
        """
        from ._persist import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path, **limits):
        """Load a model written by ``save``, validating every field before any is used.

        Parameters
        ----------
        path : str or path-like
            An .npz file written by :meth:`save`. It is read without pickle, so loading
            executes nothing from the file.
        **limits : int
            Raise a limit to load a larger file you trust: ``max_file_bytes`` (64 MiB),
            ``max_header_bytes`` (1 MiB), ``max_json_depth`` (32), ``max_components``
            (1000 per mixture), ``max_dimensions`` (100), ``max_classes`` (10000),
            ``max_mc_samples`` (10**7).

        Returns
        -------
        GMMMI
            The fitted model, without its data: ``estimate()`` needs ``n_bootstrap=0``
            (or a new ``fit``).

        Raises
        ------
        ValueError
            For any file that is not a valid model (damaged, edited, or over a limit), with
            a message naming the field. The header's SHA-256 detects damage, not forgery;
            the validation is what keeps a forged file to, at worst, a wrong number.
        """
        from ._persist import LoadLimits, load_model_file

        return load_model_file(cls, path, LoadLimits.from_kwargs(**limits))


def _collinear(data):
    """Whether the (standardised) columns of ``data`` are linearly dependent."""
    return data.shape[1] > 1 and np.linalg.eigvalsh(np.corrcoef(data, rowvar=False))[0] < 1e-10


def load_model(path, **limits):
    """Load a fitted ``GMMMI`` saved with ``GMMMI.save``.

    Parameters
    ----------
    path : str or path-like
        The .npz file.
    **limits : int
        Limits on the file's size and cost; see :meth:`GMMMI.load`.

    Returns
    -------
    GMMMI
        See :meth:`GMMMI.load`.
    """
    return GMMMI.load(path, **limits)


def gmm_mutual_info(x, y, **kwargs):
    """Functional form of ``GMMMI(**kwargs).fit_estimate(x, y)``."""
    return GMMMI(**kwargs).fit_estimate(x, y)


def _function_of_z(x, z):
    """True when every column of x is an affine function of z (to rounding): then x carries
    nothing beyond z, and I(X; Y | Z) = 0 exactly, whatever y."""
    x, z = check_array(x, "x", allow_constant=True), check_conditioning(z, "z")
    if z.shape[1] == 0 or z.shape[0] != x.shape[0]:
        return False
    design = np.column_stack([np.ones(len(z)), (z - z.mean(0)) / z.std(0)])
    xs = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1.0)
    resid = xs - design @ np.linalg.lstsq(design, xs, rcond=None)[0]
    return bool(np.all(np.mean(resid ** 2, axis=0) < 1e-20))


def _zero_given_z(kwargs, method):
    warnings.warn("x is an affine function of z, so I(X; Y | Z) = 0 exactly; no mixture was fitted",
                  DegenerateFitWarning, stacklevel=3)
    res = MIResult(mi=0.0, std=0.0, unit=kwargs.get("unit", "nat"), method=method, quantity="cmi",
                   diagnostics={"exact": "x is an affine function of z: I(X; Y | Z) = 0",
                                "resampling": resampling_info("none", "exact value", 0)})
    return res


def gmm_conditional_mutual_info(x, y, z, **kwargs):
    """I(X; Y | Z) from one joint mixture fit over (x, y, z). When x (or y) is an affine
    function of z, the answer is 0 exactly and no mixture is fitted (with a warning)."""
    if kwargs.get("y_type", "continuous") != "continuous":
        raise ValueError("conditional GMM-MI needs continuous x, y and z")
    if _function_of_z(x, z) or _function_of_z(y, z):
        return _zero_given_z(kwargs, "gmm-cmi")
    return GMMMI(**kwargs).fit_estimate(x, y, z)


def gmm_categorical_mutual_info(x, labels, **kwargs):
    """I(X; C) for continuous x and category labels: one mixture per class, empirical prior."""
    return GMMMI(y_type="categorical", **kwargs).fit_estimate(x, labels)


def gmm_categorical_conditional_mutual_info(x, labels, z, **kwargs):
    """I(X; C | Z) for continuous x and z and category labels.

    One mixture per class is fitted to (z, x) (empirical class prior), and
    ``I(X; C | Z) = I(C; X, Z) - I(C; Z)``: the second term uses the z-marginals of the same
    class mixtures (exact marginalisation of Gaussian mixtures), integrated by Monte Carlo
    over the z coordinates of the same draws as the first, so that the two integrals share
    their sampling noise. The result is the bootstrap mean, as for every GMM-MI result; its
    MC error adds the two integrals' standard errors (an upper bound). Constant columns of z
    are dropped with a warning; a single-valued z gives I(X; C), with a warning. When x is an
    affine function of z (z equal to x, say), the answer is 0 exactly and no mixture is
    fitted (with a warning).
    """
    if _function_of_z(x, z):
        return _zero_given_z(kwargs, "gmm-categorical-cmi")
    return GMMMI(y_type="categorical", **kwargs).fit_estimate(x, labels, z)


def _signature_of_gmmmi(*data):
    """The signature of a functional form: the data, then GMMMI's parameters (keyword-only)."""
    import inspect

    params = [inspect.Parameter(d, inspect.Parameter.POSITIONAL_OR_KEYWORD) for d in data]
    params += [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
               for p in inspect.signature(GMMMI.__init__).parameters.values() if p.name != "self"]
    return inspect.Signature(params)


gmm_mutual_info.__signature__ = _signature_of_gmmmi("x", "y")
gmm_categorical_mutual_info.__signature__ = _signature_of_gmmmi("x", "labels")
gmm_conditional_mutual_info.__signature__ = _signature_of_gmmmi("x", "y", "z")
gmm_categorical_conditional_mutual_info.__signature__ = _signature_of_gmmmi("x", "labels", "z")
