"""The MI matrix result: entries with their error bars, summaries and exports."""
from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from .._permutation import benjamini_hochberg
from .._result import _jsonable
from .._streams import pair_seed
from .._validation import check_choice, check_unit


@dataclass(eq=False)
class MIMatrix:
    """A matrix of mutual-information estimates with error bars.

    Entry (i, j) is the MI between row variable i (a column of ``a``) and column
    variable j (a column of ``b``, or of ``a`` for the symmetric all-pairs matrix).

    Attributes
    ----------
    values : ndarray of shape (p, q)
        The estimates (NaN on the diagonal of a symmetric matrix and for failed pairs).
    stds : ndarray of shape (p, q)
        Their standard deviations.
    results : ndarray of object, shape (p, q)
        The full :class:`MIResult` of every entry (None where there is none).
    row_names, col_names : list of str
    symmetric : bool
        True for the all-pairs matrix of one set of columns.
    unit : {'nat', 'bit'}
    method : str
    seed_entropy, seed_spawn_key
        The root seed: entry (i, j) used ``pair_seed(i, j)``.
    estimator_params : dict
        Keyword arguments every estimate received.
    diagnostics : dict
        Scheduler, worker and task counts, wall time, and failed pairs.
    y_type : {'continuous', 'categorical'}
        What the columns of ``b`` were.
    """

    results: np.ndarray
    row_names: list
    col_names: list
    symmetric: bool = False
    unit: str = "nat"
    method: str = "gmm"
    seed_entropy: object = None
    seed_spawn_key: tuple = ()
    estimator_params: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)
    y_type: str = "continuous"

    def __post_init__(self):
        res = self.results
        self.values = np.array([[np.nan if r is None else r.mi for r in row] for row in res], dtype=np.float64)
        self.stds = np.array([[np.nan if r is None else r.std for r in row] for row in res], dtype=np.float64)
        self.values = self.values.reshape(res.shape)
        self.stds = self.stds.reshape(res.shape)

    # ---------------------------------------------------------------- access
    @property
    def shape(self):
        return self.values.shape

    def _index(self, key, names, what):
        if isinstance(key, (numbers.Integral,)) and not isinstance(key, bool):
            k = int(key)
            if not -len(names) <= k < len(names):
                raise IndexError(f"{what} index {k} out of range for {len(names)} {what}s")
            return k % len(names)
        try:
            return names.index(str(key))
        except ValueError:
            raise KeyError(f"unknown {what} {key!r}; {what}s are {names}") from None

    def __getitem__(self, key):
        """The :class:`MIResult` of entry ``(row, col)``, by index or by name."""
        if not (isinstance(key, tuple) and len(key) == 2):
            raise KeyError("index an MIMatrix with (row, col)")
        i = self._index(key[0], self.row_names, "row")
        j = self._index(key[1], self.col_names, "column")
        return self.results[i, j]

    @property
    def samples(self):
        """Replicates of every entry, shape (p, q, n_replicates), NaN-padded where an
        entry has fewer (failed bootstrap fits) or none."""
        n_rep = max((r.samples.size for r in self.results.flat if r is not None), default=0)
        out = np.full(self.shape + (n_rep,), np.nan)
        for (i, j), r in np.ndenumerate(self.results):
            if r is not None:
                out[i, j, :r.samples.size] = r.samples
        return out

    @property
    def misfit(self):
        """Boolean (p, q) array: the entries whose fit failed the goodness-of-fit check
        (``diagnostics['misfit']`` of GMM-MI results), whose error bars do not cover the misfit."""
        return np.array([r is not None and bool(r.diagnostics.get("misfit", False)) for r in self.results.flat],
                        dtype=bool).reshape(self.shape)

    @property
    def pvalues(self):
        """(p, q) permutation-test p-values of the entries (``mi_matrix(..., n_permutations=N)``);
        NaN where no test was run (no ``n_permutations``, a failed pair, the diagonal)."""
        return np.array([np.nan if r is None else r.diagnostics.get("permutation", {}).get("pvalue", np.nan)
                         for r in self.results.flat], dtype=np.float64).reshape(self.shape)

    def significant(self, alpha=0.05, correction="bh"):
        """The entries whose independence test rejects at level ``alpha``.

        Parameters
        ----------
        alpha : float, default=0.05
            The false-discovery rate ('bh') or the level ('bonferroni', 'none').
        correction : {'bh', 'bonferroni', 'none'}, default='bh'
            For the many tests of a matrix: Benjamini-Hochberg (controls the expected share of
            false discoveries among the entries called significant), Bonferroni (controls the
            chance of any false discovery), or none. A symmetric matrix counts each pair once.

        Returns
        -------
        ndarray of bool, shape (p, q)
            False where no test was run.
        """
        check_choice(correction, "correction", {"bh", "bonferroni", "none"})
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
        p = self.pvalues
        if np.isnan(p).all():
            raise ValueError("this matrix has no p-values: compute it with mi_matrix(..., n_permutations=N)")
        if self.symmetric:
            p = np.where(np.triu(np.ones(self.shape, dtype=bool), k=1), p, np.nan)
        m = int(np.isfinite(p).sum())
        if correction == "bh":
            mask = benjamini_hochberg(p, alpha)
        else:
            mask = np.isfinite(p) & (p <= (alpha / m if correction == "bonferroni" else alpha))
        return mask | mask.T if self.symmetric else mask

    def pair_seed(self, i, j):
        """The ``SeedSequence`` entry (i, j) was estimated with."""
        i = self._index(i, self.row_names, "row")
        j = self._index(j, self.col_names, "column")
        if self.symmetric and i > j:
            i, j = j, i
        return pair_seed(self.seed_entropy, self.seed_spawn_key, i, j)

    def pointwise_mi(self, row, col, a, b=None):
        """Which samples carry the information of entry (row, col): its pointwise MI.

        Refits entry (row, col) of a GMM-MI matrix with the seed and settings it was estimated
        with (so the fit, and its estimate, are the entry's own) and returns
        :meth:`fastmi.GMMMI.pointwise_mi` of the rows.

        Parameters
        ----------
        row, col : int or str
            The entry, by index or by name.
        a, b : array-like
            The data the matrix was computed from (``b=None`` for the all-pairs matrix).

        Returns
        -------
        PointwiseMI
        """
        if self.method != "gmm":
            raise ValueError(f"pointwise MI needs a GMM-MI matrix (method='gmm'); this one is {self.method!r}")
        i = self._index(row, self.row_names, "row")
        j = self._index(col, self.col_names, "column")
        A = np.asarray(a)
        B = A if b is None else np.asarray(b)
        if (b is None) != self.symmetric:
            raise ValueError("pass b for a matrix computed from (a, b), and only a for an all-pairs matrix")
        if A.ndim != 2 or A.shape[1] != len(self.row_names) or B.ndim != 2 or B.shape[1] != len(self.col_names):
            raise ValueError(f"the data must have the matrix's {len(self.row_names)} (and {len(self.col_names)}) "
                             f"columns, got a of shape {A.shape}" + ("" if b is None else f" and b of shape {B.shape}"))
        if self.symmetric and i == j:
            raise ValueError("the diagonal of an all-pairs matrix has no estimate")
        from ..gmm import GMMMI

        est = GMMMI(**self.estimator_params, y_type=self.y_type, unit=self.unit, rng=self.pair_seed(i, j))
        est.fit(A[:, min(i, j) if self.symmetric else i], B[:, max(i, j) if self.symmetric else j]).estimate()
        return est.pointwise_mi()

    def ci(self, level=0.95, method="percentile"):
        """Lower and upper confidence bounds of every entry (NaN where undefined),
        as :meth:`MIResult.ci`."""
        lo, hi = np.full(self.shape, np.nan), np.full(self.shape, np.nan)
        for (i, j), r in np.ndenumerate(self.results):
            if r is not None and r.samples.size >= 2:
                lo[i, j], hi[i, j] = r.ci(level, method)
        return lo, hi

    def _pairs(self):
        """(i, j) of every estimated pair, once per unordered pair when symmetric."""
        p, q = self.shape
        return [(i, j) for i in range(p) for j in range(q) if not (self.symmetric and j <= i)]

    def to(self, unit):
        """The same matrix in ``unit`` ('nat' or 'bit')."""
        check_unit(unit)
        res = np.empty(self.shape, dtype=object)
        for (i, j), r in np.ndenumerate(self.results):
            res[i, j] = None if r is None else r.to(unit)
        return MIMatrix(res, list(self.row_names), list(self.col_names), self.symmetric, unit, self.method,
                        self.seed_entropy, self.seed_spawn_key, dict(self.estimator_params),
                        dict(self.diagnostics), self.y_type)

    # ---------------------------------------------------------------- summaries
    def most_informative(self):
        """For every row variable (latent), the column variable it knows most about; see
        :func:`fastmi.interpret.most_informative`."""
        from ..interpret._mig import most_informative

        return most_informative(self)

    def mig(self, factors=None, **kwargs):
        """The Mutual Information Gap of this latents x factors matrix; see :func:`fastmi.mig`."""
        from ..interpret._mig import mig

        return mig(self, factors, **kwargs)

    # ---------------------------------------------------------------- export
    def to_pandas(self, kind="long"):
        """The matrix as a pandas DataFrame.

        Parameters
        ----------
        kind : {'long', 'mi', 'std'}, default='long'
            'long': one row per estimated pair (each unordered pair once when
            symmetric) with columns ``a``, ``b``, ``mi``, ``std``, ``ci_low``,
            ``ci_high`` (95 % percentile interval) and ``n_replicates``.
            'mi' / 'std': the values / stds as a table indexed by the row names,
            with the column names as columns.
        """
        check_choice(kind, "kind", {"long", "mi", "std"})
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas() needs pandas: pip install pandas") from None
        if kind != "long":
            data = self.values if kind == "mi" else self.stds
            return pd.DataFrame(data, index=pd.Index(self.row_names, name="a"),
                                columns=pd.Index(self.col_names, name="b"))
        return pd.DataFrame(self._long_rows(), columns=_LONG_COLUMNS)

    def _long_rows(self):
        lo, hi = self.ci(0.95)
        rows = []
        for i, j in self._pairs():
            r = self.results[i, j]
            rows.append((self.row_names[i], self.col_names[j], float(self.values[i, j]), float(self.stds[i, j]),
                         float(lo[i, j]), float(hi[i, j]), 0 if r is None else int(r.samples.size)))
        return rows

    def to_csv(self, path):
        """Write the long table of :meth:`to_pandas` to a CSV file (pandas not needed).
        Floats are written at full precision; missing values are empty."""
        import csv

        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(_LONG_COLUMNS)
            for row in self._long_rows():
                w.writerow(["" if isinstance(v, float) and math.isnan(v) else
                            (repr(v) if isinstance(v, float) else v) for v in row])

    def to_xarray(self):
        """The matrix as an ``xarray.Dataset`` with variables ``mi``, ``std`` (dims a, b)
        and ``samples`` (dims a, b, replicate; NaN-padded). Needs xarray."""
        try:
            import xarray as xr
        except ImportError:
            raise ImportError("to_xarray() needs xarray: pip install xarray") from None
        coords = {"a": list(self.row_names), "b": list(self.col_names)}
        samples = self.samples
        attrs = {"unit": self.unit, "method": self.method, "symmetric": int(self.symmetric),
                 "estimator_params": json.dumps(self.estimator_params)}
        return xr.Dataset({"mi": (("a", "b"), self.values), "std": (("a", "b"), self.stds),
                           "samples": (("a", "b", "replicate"), samples)},
                          coords={**coords, "replicate": np.arange(samples.shape[2])}, attrs=attrs)

    def to_dict(self, *, diagnostics=False):
        """A JSON-serialisable dict: names, values, stds, every entry's replicates
        (and each entry's diagnostics with ``diagnostics=True``)."""
        entries = []
        for i, j in self._pairs():
            r = self.results[i, j]
            e = {"a": self.row_names[i], "b": self.col_names[j]}
            if r is None:
                e.update(mi=None, std=None, samples=[])
            else:
                d = r.to_dict()
                if not diagnostics:
                    d.pop("diagnostics")
                e.update(d)
            entries.append(e)
        return _jsonable({
            "rows": list(self.row_names), "cols": list(self.col_names), "symmetric": self.symmetric,
            "unit": self.unit, "method": self.method, "values": self.values, "stds": self.stds,
            "seed_entropy": self.seed_entropy, "seed_spawn_key": list(self.seed_spawn_key),
            "estimator_params": self.estimator_params, "entries": entries, "diagnostics": self.diagnostics,
        })

    def to_json(self, **kwargs):
        """The matrix as a JSON string (see :meth:`to_dict`); NaN becomes null."""
        diagnostics = kwargs.pop("diagnostics", False)
        return json.dumps(self.to_dict(diagnostics=diagnostics), **kwargs)

    def plot(self, ax=None, **kwargs):
        """Heatmap with ± annotations; see :func:`fastmi.plot_mi_matrix`."""
        from .._plot import plot_mi_matrix

        return plot_mi_matrix(self, ax=ax, **kwargs)

    def __repr__(self):
        p, q = self.shape
        kind = "symmetric " if self.symmetric else ""
        return (f"MIMatrix({p}x{q} {kind}{self.method}, unit={self.unit!r}, rows={self.row_names}, "
                f"cols={self.col_names})")


_LONG_COLUMNS = ["a", "b", "mi", "std", "ci_low", "ci_high", "n_replicates"]

