"""The result object every estimator returns."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

_LN2 = math.log(2.0)


@dataclass
class MIResult:
    """A mutual-information estimate with its uncertainty.

    Attributes
    ----------
    mi : float
        The estimate (mean of the bootstrap replicates when there are any).
    std : float
        Standard deviation (ddof=1) of the replicates, combined in quadrature with any error
        they share (see ``from_replicates``); NaN without replicates.
    samples : ndarray of shape (n_replicates,)
        The replicates themselves (empty when no bootstrap was run).
    unit : {'nat', 'bit'}
        Unit of ``mi``, ``std`` and ``samples``.
    method : str
        Estimator that produced the result.
    n_components : int or dict or None
        Number of mixture components (GMM-MI); a dict per class for the
        categorical variant; None for non-mixture estimators.
    diagnostics : dict
        Estimator-specific details (CV curve, convergence flags, warnings...).
    """

    mi: float
    std: float = math.nan
    samples: np.ndarray = field(default_factory=lambda: np.empty(0))
    unit: str = "nat"
    method: str = "gmm"
    n_components: object = None
    diagnostics: dict = field(default_factory=dict)

    def __post_init__(self):
        self.samples = np.asarray(self.samples, dtype=np.float64).ravel()
        self.mi = float(self.mi)
        self.std = float(self.std)

    @classmethod
    def from_replicates(cls, values, *, point=None, unit="nat", shared_error=0.0, **kwargs):
        """Build a result from replicates given in nats; ``point`` is used without replicates.

        ``shared_error`` is an error common to every replicate (such as the Monte-Carlo error
        of integrals over common random numbers): the spread of the replicates cannot show
        it, so it is added to their standard deviation in quadrature.
        """
        values = np.asarray(values, dtype=np.float64).ravel()
        scale = 1.0 / _LN2 if unit == "bit" else 1.0
        if values.size:
            mi = float(values.mean())
            std = math.hypot(float(values.std(ddof=1)), shared_error) if values.size > 1 else math.nan
        else:
            mi, std = float(point), math.nan
        return cls(mi=mi * scale, std=std * scale, samples=values * scale, unit=unit, **kwargs)

    def ci(self, level=0.95, method="percentile"):
        """Confidence interval at ``level``.

        ``method='percentile'`` uses the quantiles of the replicates;
        ``method='normal'`` uses ``mi +- z * std``.
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must lie in (0, 1), got {level!r}")
        if self.samples.size < 2:
            raise ValueError("ci() needs bootstrap replicates; run with n_bootstrap >= 2")
        if method == "percentile":
            lo, hi = np.quantile(self.samples, [(1 - level) / 2, (1 + level) / 2])
            return float(lo), float(hi)
        if method == "normal":
            from scipy.stats import norm

            z = norm.ppf((1 + level) / 2)
            return self.mi - z * self.std, self.mi + z * self.std
        raise ValueError(f"method must be 'percentile' or 'normal', got {method!r}")

    def to(self, unit):
        """The same result expressed in ``unit`` ('nat' or 'bit')."""
        if unit not in ("nat", "bit"):
            raise ValueError(f"unit must be 'nat' or 'bit', got {unit!r}")
        if unit == self.unit:
            return self
        f = _LN2 if self.unit == "bit" else 1.0 / _LN2
        return MIResult(self.mi * f, self.std * f, self.samples * f, unit, self.method,
                        self.n_components, self.diagnostics)

    def to_dict(self):
        """A JSON-serialisable dict of the result."""
        return {
            "mi": self.mi,
            "std": None if math.isnan(self.std) else self.std,
            "unit": self.unit,
            "method": self.method,
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
        return f"MIResult(mi={self.mi:.6g} ± {self.std:.2g} {self.unit}, method={self.method!r})"


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
