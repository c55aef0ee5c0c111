"""Permutation tests of independence (and conditional independence) with any registered
estimator, and the Benjamini-Hochberg procedure for many of them."""
from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass, field

import numpy as np

from . import _registry
from ._api import conditional_mutual_info, mutual_info
from ._config import resolve_n_jobs, thread_map
from ._copula import normal_scores
from ._result import MIResult
from ._streams import root_seed
from ._validation import check_choice, check_int, check_labels

#: rows per stratum of z that the conditional test aims for (Runge 2018 uses a few tens)
ROWS_PER_STRATUM = 50

#: KSG's test statistic when the user leaves k alone, on normal scores: the large k = n //
#: TEST_K_DIVISOR (between TEST_K_MIN and TEST_K_MAX) and the small k = TEST_K_MIN, combined by
#: the smaller of their permutation p-values. KSG's variance falls with k, and a test needs a
#: small variance more than a small bias, but a large k averages fine local structure away (a
#: fast sine), which k = 3 sees; chosen on the tuning families of benchmarks/power_table.py
#: (docs/guide/significance.rst has the tuning and held-out tables)
TEST_K_DIVISOR = 10
TEST_K_MIN = 3
TEST_K_MAX = 100


@dataclass
class PermutationTestResult:
    """The outcome of :func:`permutation_test`, in the naming of scipy's ``PermutationTestResult``.

    Attributes
    ----------
    statistic : MIResult
        The estimate on the data, with the estimator's settings (and error bar).
    pvalue : float
        ``(1 + #{null >= observed}) / (1 + n_permutations)`` (Phipson & Smyth 2010): never 0, and
        exact in level for any number of permutations.
    null_distribution : ndarray of shape (n_permutations,)
        The test statistic on each permuted data set: the estimate, in ``statistic.unit``, or,
        for method='ksg' without ``k``, ``-log(min p)`` of the two k (see ``observed``).
    observed : float
        The value compared with the null, computed as the null's are: the estimator's
        full-sample estimate (``statistic.mi`` where that is the full-sample estimate), or, for
        method='ksg' without ``k`` (see ``diagnostics["test_statistic"]``), ``-log`` of the
        smaller of the permutation p-values of KSG on normal scores at its two k.
    n_permutations : int
    scheme : str
        What was permuted.
    diagnostics : dict
        ``"test_statistic"`` where the statistic permuted is not the user's estimate: its
        ``method``, ``k`` (a list), ``normal_scores``, ``combined`` ('min-p', or None for one
        k), ``why``, and the MI at each k on the data (``observed_mi``) and on every permuted
        data set (``null_mi``, n_permutations x len(k)).
    """

    statistic: MIResult
    pvalue: float
    null_distribution: np.ndarray
    observed: float
    n_permutations: int
    scheme: str
    diagnostics: dict = field(default_factory=dict)

    def __repr__(self):
        return (f"PermutationTestResult(statistic={self.statistic!r}, pvalue={self.pvalue:.4g}, "
                f"n_permutations={self.n_permutations})")


def check_n_permutations(n_permutations, name="n_permutations"):
    """An int >= 1 (bools and floats refused), as an int."""
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, numbers.Integral):
        raise ValueError(f"{name} must be an int >= 1, got {n_permutations!r}")
    return check_int(n_permutations, name, low=1)


def strata_of(z, n_strata=None):
    """Integer stratum codes of the rows of z: z's own values where it has at most ``n_strata``
    distinct rows (discrete z), else the product of per-coordinate quantile bins, about
    ``n_strata`` cells in all (default: n / ROWS_PER_STRATUM, at least 1)."""
    z = np.asarray(z)
    z = z.reshape(len(z), -1)
    n, dz = z.shape
    if n_strata is None:
        n_strata = max(1, n // ROWS_PER_STRATUM)
    values, codes = np.unique(z, axis=0, return_inverse=True)
    if len(values) <= n_strata:
        return codes.ravel(), f"x permuted within the {len(values)} distinct values of z"
    per_dim = max(1, int(np.floor(n_strata ** (1.0 / dz) + 1e-9)))
    codes = np.zeros(n, dtype=np.int64)
    for c in range(dz):
        order = np.argsort(z[:, c], kind="stable")
        bins = np.empty(n, dtype=np.int64)
        bins[order] = np.arange(n) * per_dim // n
        codes = codes * per_dim + bins
    return codes, (f"x permuted within {per_dim ** dz} strata of z (quantile bins, {per_dim} per coordinate, "
                   f"about {n // per_dim ** dz} rows each)")


def _permutation(rng, n, strata):
    if strata is None:
        return rng.permutation(n)
    idx = np.arange(n)
    order = np.argsort(strata, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(strata[order])) + 1)
    for g in groups:
        idx[g] = g[rng.permutation(g.size)]
    return idx


def _null_settings(method, kind, kwargs):
    """kwargs for the null (and observed) estimates: no error bar and no fit check, where the
    estimator has those options (a permutation test needs neither)."""
    # the method's own parameter list: the signature of ``function(kind)`` is a bare wrapper
    # (*args, **kwargs) for methods with fixed settings such as ksg, which hid n_bootstrap
    params = set(_registry.get(method, kind).parameters(kind))
    if method == "gmm":  # its functional forms hand **kwargs to GMMMI
        from .gmm import GMMMI

        params |= set(inspect.signature(GMMMI).parameters)
    out = dict(kwargs)
    for name, value in (("n_bootstrap", 0), ("check_fit", False)):
        if name in params:
            out[name] = value
    return out


#: first element of the stream keys a test adds under its root: (TAG, 0) the statistic,
#: (TAG, 1, i) permutation i, (TAG, 2, i) its estimate; no estimator addresses these
TAG = 0x5045524D


def child_seed(root, *key):
    return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (TAG,) + key)


def power_k(n):
    """The k of KSG's test statistic at n rows (see TEST_K_DIVISOR)."""
    return int(min(TEST_K_MAX, max(TEST_K_MIN, n // TEST_K_DIVISOR)))


def power_statistic(method, y_type, z, kwargs, n):
    """What the test permutes when it is not the user's estimate: for method='ksg' with
    continuous y, no z and no k given, KSG on each coordinate's normal scores (MI, and so the
    null hypothesis, is unchanged by these monotone maps) at ``k = 3`` and ``k = power_k(n)``,
    combined by the smaller of their permutation p-values (see :func:`min_p`). Returns the dict
    recorded as ``diagnostics["test_statistic"]``, or None (the user's estimate is tested)."""
    if method != "ksg" or y_type != "continuous" or z is not None or "k" in kwargs:
        return None
    ks = sorted({TEST_K_MIN, power_k(n)})
    return {"method": "ksg", "k": ks, "normal_scores": True,
            "combined": "min-p" if len(ks) > 1 else None,
            "why": "k not given: the statistic permuted is KSG on normal scores at a small and a large k, whose "
                   "smaller permutation p-value is the statistic (more power than the estimate's k = 3 alone, "
                   "without losing its power against fine structure); statistic keeps the user's settings"}


def min_p(values):
    """The min-p combination of several statistics over the same permutations (Westfall &
    Young 1993). ``values`` (1 + n_permutations, S): row 0 the data, the others the permuted
    data sets. Each column's permutation p-value of every row among all the rows (ties
    counted against it) is taken, and the smallest over the columns; returned as
    ``-log(min p)``, per row, so that larger means more dependent. The rows are exchangeable
    under the null, so comparing row 0 with the others gives an exact test."""
    m = values.shape[0]
    p = np.empty_like(values)
    for s in range(values.shape[1]):
        col = values[:, s]
        p[:, s] = (m - np.searchsorted(np.sort(col), col, side="left")) / m
    return -np.log(p.min(axis=1))


def test_statistic(statistic, stat_seed, x, y, z, *, method, y_type, unit, kwargs, root, n_permutations, n_jobs,
                   strata):
    """Compare the estimate on the data with the estimates on ``n_permutations`` data sets with
    the rows of x permuted (within ``strata``). The estimate is ``statistic`` (the user's, drawn
    from ``stat_seed``) unless :func:`power_statistic` names another, which is then computed on
    the data and on every permuted data set alike (several k combined by :func:`min_p`; the
    per-k values are added to ``about``). Permutation i is drawn from
    ``child_seed(root, 1, i)`` and estimated with ``child_seed(root, 2, i)``, in order of i, so
    the result is identical for any ``n_jobs``. Returns ``(pvalue, null, observed, about)``,
    ``about`` the dict of :func:`power_statistic` or None."""
    kind = ("categorical" if y_type == "categorical" else "mi") if z is None else \
        ("categorical_conditional" if y_type == "categorical" else "conditional")
    settings = _null_settings(method, kind, kwargs)
    x = np.asarray(x)
    n = x.shape[0]
    about = power_statistic(method, y_type, z, kwargs, n)
    if about is not None:
        # ranks commute with permuting rows: the scores of x[idx] are the rows idx of x's scores
        x, y = normal_scores(np.asarray(x, dtype=np.float64)), normal_scores(np.asarray(y, dtype=np.float64))

    def estimate(xs, seed):
        if about is not None:
            return [mutual_info(xs, y, method=method, unit=unit, rng=seed, n_jobs=1, **{**settings, "k": k}).mi
                    for k in about["k"]]
        if z is None:
            return mutual_info(xs, y, method=method, y_type=y_type, unit=unit, rng=seed, n_jobs=1, **settings).mi
        return conditional_mutual_info(xs, y, z, method=method, y_type=y_type, unit=unit, rng=seed, n_jobs=1,
                                       **settings).mi

    def one(i):
        idx = _permutation(np.random.default_rng(child_seed(root, 1, i)), n, strata)
        return estimate(x[idx], child_seed(root, 2, i))

    with thread_map(n_jobs) as pmap:
        null = np.array(list(pmap(one, range(n_permutations))), dtype=np.float64)
    if about is not None:
        values = np.vstack([np.array(estimate(x, stat_seed), dtype=np.float64)[None], null.reshape(n_permutations, -1)])
        about = {**about, "observed_mi": values[0].tolist(), "null_mi": values[1:].tolist()}
        combined = min_p(values) if values.shape[1] > 1 else values[:, 0]
        observed, null = float(combined[0]), combined[1:]
    else:
        full_sample = statistic.diagnostics.get("resampling", {}).get("point") == "full-sample estimate"
        observed = float(statistic.mi if full_sample else estimate(x, stat_seed))
    pvalue = (1.0 + np.count_nonzero(null >= observed)) / (1.0 + n_permutations)
    return float(pvalue), null, observed, about


def permutation_test(x, y, *, method="ksg", n_permutations=199, rng=None, z=None, y_type="continuous",
                     unit="nat", n_jobs=None, n_strata=None, **kwargs):
    """Permutation test of independence of x and y (or of x and y given z) with an MI estimator.

    The rows of x are permuted ``n_permutations`` times, which keeps both marginals and
    destroys their dependence; the estimate on the data is compared with the estimates on the
    permuted data. With ``z``, x is permuted within strata of z only (bins of z, or its values
    when z is discrete: the "local permutation" of Runge 2018), which keeps the dependence of
    x on z and destroys the part of its dependence on y that z does not explain.

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, dx)
    y : array-like of shape (n_samples,) or (n_samples, dy)
        Continuous, or class labels with ``y_type='categorical'``.
    method : str, default='ksg'
        Any estimator of :func:`fastmi.list_methods` that supports the form asked for. For
        'ksg' with continuous y, no z and no ``k`` in ``kwargs``, the test permutes KSG on
        each coordinate's normal scores at k = 3 and ``k = min(100, max(3, n // 10))`` (MI is
        unchanged by these monotone maps), and its statistic is the smaller of the two
        permutation p-values (min-p; ``observed`` and ``null_distribution`` are then
        ``-log(min p)``, the per-k MIs in ``diagnostics["test_statistic"]``). The large k has
        far less variance, the small one sees fine local structure (a fast sine) that the large
        one averages away; see docs/guide/significance.rst for the power of each.
        ``statistic`` stays KSG at k = 3 with its error bar; pass ``k`` to test the estimate itself.
    n_permutations : int, default=199
        Permutations (>= 1). The smallest attainable p-value is ``1 / (1 + n_permutations)``.
    rng : None, int, SeedSequence or Generator
        Root of all randomness: the statistic, every permutation and every null estimate
        draw from its own child stream, so the result is identical for any ``n_jobs``.
    z : array-like of shape (n_samples,) or (n_samples, dz), optional
        Conditioning variable: the test is then of I(X; Y | Z) = 0.
    y_type : {'continuous', 'categorical'}, default='continuous'
    unit : {'nat', 'bit'}, default='nat'
    n_jobs : int or None, default=None
        Threads over the permutations (None: every core); each null estimate runs on one.
    n_strata : int, optional
        With z: the number of strata aimed for (default n / 50).
    **kwargs
        Passed to the estimator. The statistic uses them as given (with its error bar); the
        null estimates, and the observed value they are compared with, skip error bars and
        GMM-MI's fit check (``n_bootstrap=0``, ``check_fit=False``), which a test does not need.

    Returns
    -------
    PermutationTestResult
        ``statistic``, ``pvalue``, ``null_distribution``, ``observed``, ``scheme``, and
        ``diagnostics["test_statistic"]`` where the statistic permuted is not the estimate.

    Examples
    --------
    >>> import numpy as np, fastmi
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(500)
    >>> res = fastmi.permutation_test(x, x + rng.standard_normal(500), n_permutations=99, rng=0)
    >>> res.pvalue
    0.01
    """
    n_permutations = check_n_permutations(n_permutations)
    check_choice(y_type, "y_type", {"continuous", "categorical"})
    n_jobs = resolve_n_jobs(n_jobs)
    if z is None and n_strata is not None:
        raise ValueError("n_strata sets the strata of z for the conditional test: pass z as well")
    if n_strata is not None:
        n_strata = check_int(n_strata, "n_strata", low=1)
    if y_type == "categorical":
        check_labels(y, "y")  # here, so that the message names this function's argument
    root = root_seed(rng)
    stat_seed = child_seed(root, 0)
    if z is None:
        statistic = mutual_info(x, y, method=method, y_type=y_type, unit=unit, rng=stat_seed, n_jobs=n_jobs, **kwargs)
        strata, scheme = None, "rows of x permuted"
    else:
        statistic = conditional_mutual_info(x, y, z, method=method, y_type=y_type, unit=unit, rng=stat_seed,
                                            n_jobs=n_jobs, **kwargs)
        strata, scheme = strata_of(z, n_strata)
    pvalue, null, observed, about = test_statistic(
        statistic, stat_seed, x, y, z, method=method, y_type=y_type, unit=unit, kwargs=kwargs, root=root,
        n_permutations=n_permutations, n_jobs=n_jobs, strata=strata)
    diagnostics = {} if about is None else {"test_statistic": about}
    return PermutationTestResult(statistic=statistic, pvalue=pvalue, null_distribution=null, observed=observed,
                                 n_permutations=n_permutations, scheme=scheme, diagnostics=diagnostics)


def benjamini_hochberg(pvalues, alpha=0.05):
    """The Benjamini-Hochberg step-up procedure at false-discovery rate ``alpha``.

    Parameters
    ----------
    pvalues : array-like
        Any shape; NaN entries are not tested (never rejected, not counted in m).
    alpha : float, default=0.05

    Returns
    -------
    ndarray of bool, the shape of ``pvalues``
        True for the rejected hypotheses: with the m finite p-values sorted, the largest i
        with p_(i) <= i alpha / m, and every p-value up to p_(i).
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    flat = p.ravel()
    ok = np.flatnonzero(np.isfinite(flat))
    mask = np.zeros(flat.shape, dtype=bool)
    m = ok.size
    if m:
        order = ok[np.argsort(flat[ok], kind="stable")]
        below = flat[order] <= alpha * np.arange(1, m + 1) / m
        if below.any():
            mask[order[: np.flatnonzero(below)[-1] + 1]] = True
    return mask.reshape(p.shape)
