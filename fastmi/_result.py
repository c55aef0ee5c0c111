"""The result object every estimator returns."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_unit

_LN2 = math.log(2.0)


def unit_scale(unit):
    """The factor that turns nats into ``unit`` ('nat' or 'bit')."""
    return 1.0 / _LN2 if unit == "bit" else 1.0


#: what ``diagnostics['resampling']['scheme']`` can be
SCHEMES = {
    "bootstrap": "rows resampled with replacement and the estimator rerun on each replicate",
    "subsample": "rows subsampled without replacement, replicates rescaled to the full-sample spread",
    "partition": "rows split at random into disjoint pieces, the spread of the piece estimates rescaled to the "
                 "full sample size (Holmes & Nemenman 2019)",
    "none": "no replicates: the result has no error bar (std is NaN)",
    "held-out batches": "a trained critic evaluated on disjoint held-out batches (neural bounds); std is the "
                        "standard error of the batch mean",
}


def resampling_info(scheme, point, n_replicates, **details):
    """The ``diagnostics['resampling']`` record every result carries: the ``scheme`` that
    made ``std`` and ``samples`` (a key of :data:`SCHEMES`), what ``mi`` is (``point``), and
    the number of replicates, plus scheme-specific ``details``."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown resampling scheme {scheme!r}")
    return {"scheme": scheme, "point": point, "n_replicates": int(n_replicates), **details}


@dataclass
class MIResult:
    """An estimate (mutual information, or another information quantity) with its uncertainty.

    What the numbers mean depends on the estimator; every result says it in
    ``diagnostics['resampling']``, a dict with ``scheme`` (how ``std`` and ``samples`` were
    made), ``point`` (what ``mi`` is) and ``n_replicates``:

    ==================  ==========  ==================================  ===============================
    method              scheme      ``mi`` (``point``)                  ``std``
    ==================  ==========  ==================================  ===============================
    gmm (and its        bootstrap   mean of the bootstrap replicates    replicates' std (ddof=1),
    categorical, CMI,               (GMM-MI's paper)                    with the shared MC error and
    entropy, KL forms)                                                  (MI, CMI) the misfit error
                                                                        in quadrature
    ksg, ksg2, mixed,   partition   the full-sample estimate            spread of estimates on disjoint
    knn (k-NN                                                           pieces, rescaled by
    defaults)                                                           sqrt(piece size / n)
    ksg, ..., gcmi,     subsample   the full-sample estimate            std of the replicates rescaled
    discrete,                                                           to the full-sample spread
    gaussian                                                            (delete-d jackknife)
    infonce, nwj,       held-out    mean of the bound over disjoint     standard error of that mean
    mine, club          batches     held-out batches
    any, with           none        the full-sample estimate            NaN: no error bar
    n_bootstrap=0
    ==================  ==========  ==================================  ===============================

    Attributes
    ----------
    mi : float
        The estimate, in ``unit`` (see the table for what it is).
    std : float
        Its standard error; NaN when there are no replicates.
    samples : ndarray of shape (n_replicates,)
        The replicates: bootstrap values, or subsample values rescaled around ``mi``
        (empty without replicates).
    unit : {'nat', 'bit'}
        Unit of ``mi``, ``std`` and ``samples``.
    method : str
        Estimator that produced the result.
    n_components : int or dict or None
        Number of mixture components (GMM-MI); a dict per class for the
        categorical variant; None for non-mixture estimators.
    diagnostics : dict
        ``resampling`` (above), and estimator-specific details (CV curve, convergence
        flags, neighbour counts...).
    quantity : {'mi', 'cmi', 'entropy', 'kl'}
        What ``mi`` holds: I(X; Y), I(X; Y | Z), a differential entropy or a KL
        divergence (the field keeps its name ``mi`` for every quantity).
    """

    mi: float
    std: float = math.nan
    samples: np.ndarray = field(default_factory=lambda: np.empty(0))
    unit: str = "nat"
    method: str = "gmm"
    n_components: object = None
    diagnostics: dict = field(default_factory=dict)
    quantity: str = "mi"

    def __post_init__(self):
        self.samples = np.asarray(self.samples, dtype=np.float64).ravel()
        self.mi = float(self.mi)
        self.std = float(self.std)

    @classmethod
    def from_replicates(cls, values, *, point=None, unit="nat", shared_error=0.0, description=None, **kwargs):
        """Build a result from bootstrap replicates given in nats: ``mi`` is their mean, and
        ``point`` is used without replicates.

        ``shared_error`` is an error common to every replicate (such as the Monte-Carlo error
        of integrals over common random numbers): the spread of the replicates cannot show
        it, so it is added to their standard deviation in quadrature. ``description`` goes
        into ``diagnostics['resampling']``.
        """
        values = np.asarray(values, dtype=np.float64).ravel()
        diagnostics = kwargs.setdefault("diagnostics", {})
        if values.size:
            diagnostics["resampling"] = resampling_info("bootstrap", "bootstrap mean", values.size,
                                                        description=description, shared_error=shared_error)
        else:
            diagnostics["resampling"] = resampling_info("none", "full-sample estimate", 0)
        scale = unit_scale(unit)
        if values.size:
            mi = float(values.mean())
            std = math.hypot(float(values.std(ddof=1)), shared_error) if values.size > 1 else math.nan
        else:
            mi, std = float(point), math.nan
        return cls(mi=mi * scale, std=std * scale, samples=values * scale, unit=unit, **kwargs)

    def ci(self, level=0.95, method="percentile"):
        """Confidence interval at ``level``.

        ``method='percentile'`` uses the quantiles of the replicates, each side widened in
        quadrature by ``z * shared_error`` when the result has an error the replicates
        cannot show (``diagnostics['resampling']['shared_error']``: the Monte-Carlo error
        and, for GMM-MI, the misfit error); ``method='normal'`` uses ``mi +- z * std``.
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must lie in (0, 1), got {level!r}")
        if self.samples.size < 2:
            raise ValueError("ci() needs bootstrap replicates; run with n_bootstrap >= 2")
        if method not in ("percentile", "normal"):
            raise ValueError(f"method must be 'percentile' or 'normal', got {method!r}")
        from scipy.stats import norm

        z = norm.ppf((1 + level) / 2)
        if method == "normal":
            return self.mi - z * self.std, self.mi + z * self.std
        lo, hi = np.quantile(self.samples, [(1 - level) / 2, (1 + level) / 2])
        shared = z * (self.diagnostics.get("resampling") or {}).get("shared_error", 0.0) * unit_scale(self.unit)
        return float(self.mi - math.hypot(self.mi - lo, shared)), float(self.mi + math.hypot(hi - self.mi, shared))

    def to(self, unit):
        """The same result expressed in ``unit`` ('nat' or 'bit')."""
        check_unit(unit)
        if unit == self.unit:
            return self
        f = unit_scale(unit) / unit_scale(self.unit)
        return MIResult(self.mi * f, self.std * f, self.samples * f, unit, self.method,
                        self.n_components, self.diagnostics, self.quantity)

    def to_dict(self):
        """A JSON-serialisable dict of the result."""
        return {
            "mi": self.mi,
            "std": None if math.isnan(self.std) else self.std,
            "unit": self.unit,
            "method": self.method,
            "quantity": self.quantity,
            "n_components": _jsonable(self.n_components),
            "samples": self.samples.tolist(),
            "diagnostics": _jsonable(self.diagnostics),
        }

    def to_json(self, **kwargs):
        """The result as a JSON string."""
        return json.dumps(self.to_dict(), **kwargs)

    def __float__(self):
        return self.mi

    def __repr__(self):
        err = f"± {self.std:.2g}" if not math.isnan(self.std) else "(no error bar)"
        what = "" if self.quantity == "mi" else f", quantity={self.quantity!r}"
        flag = ", MISFIT: the fit failed its goodness-of-fit check" if self.diagnostics.get("misfit") else ""
        return f"MIResult(mi={self.mi:.6g} {err} {self.unit}, method={self.method!r}{what}{flag})"


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return None if math.isnan(v) else v
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
