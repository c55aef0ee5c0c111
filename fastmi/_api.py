"""Functional entry points: one call, any estimator."""
from __future__ import annotations

import numpy as np

from . import _registry
from ._validation import check_choice


def mutual_info(x, y, *, method="gmm", y_type="continuous", clip=False, **kwargs):
    """Estimate the mutual information I(X; Y) from paired samples.

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, dx)
        Continuous samples of X.
    y : array-like of shape (n_samples,) or (n_samples, dy)
        Samples of Y: continuous, or category labels of any type when
        ``y_type='categorical'``.
    method : {'gmm', 'ksg', 'ksg2', 'mixed', 'discrete', 'gaussian', 'gcmi'}, default='gmm'
        Estimator. 'gmm' is GMM-MI (Piras et al. 2023); 'ksg'/'ksg2' are
        Kraskov et al. (2004) algorithms 1 and 2; 'mixed' is Gao et al.
        (2017) for mixed discrete-continuous data; 'discrete' is the plug-in
        estimator with Miller-Madow correction; 'gaussian' is the closed form
        under a joint-Gaussian assumption; 'gcmi' is the Gaussian-copula
        lower bound (Ince et al. 2017).
    y_type : {'continuous', 'categorical'}, default='continuous'
        With 'categorical', 'gmm' fits one mixture per class (empirical class
        prior) and 'ksg' uses Ross (2014).
    clip : bool, default=False
        Clip ``mi`` and the replicates (``samples``) at 0, as scikit-learn's
        ``mutual_info_regression``/``mutual_info_classif`` do, for drop-in use.
        ``std`` is left as estimated, and ``diagnostics['clipped']`` records
        whether the estimate was clipped, its unclipped value and the number
        of replicates clipped. Off by default: see Notes.
    **kwargs
        Passed to the estimator (``rng``, ``n_jobs``, ``unit``, ``n_bootstrap``
        and the method's own parameters).

    Returns
    -------
    MIResult
        The estimate, its bootstrap std and replicates, and diagnostics.

    Notes
    -----
    Estimates are not clipped at zero by default. MI is non-negative, but an
    unbiased-ish estimator of a small MI must return negative values for some
    samples; clipping them (as scikit-learn does) biases the estimate, its
    averages over data sets and its error bars upwards, and hides the very
    fluctuations that say "indistinguishable from 0". Use ``clip=True`` only
    to reproduce scikit-learn's convention.

    Examples
    --------
    >>> import numpy as np, fastmi
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(2000); y = 0.6 * x + 0.8 * rng.standard_normal(2000)
    >>> r = fastmi.mutual_info(x, y, n_bootstrap=10, rng=0)   # doctest: +SKIP
    """
    check_choice(y_type, "y_type", {"continuous", "categorical"})
    if not isinstance(clip, (bool, np.bool_)):
        raise ValueError(f"clip must be True or False, got {clip!r}")
    kind = "categorical" if y_type == "categorical" else "mi"
    result = _registry.get(method, kind).function(kind)(x, y, **kwargs)
    return _clip(result) if clip else result


def _clip(result):
    """``result`` with ``mi`` and ``samples`` clipped at 0 (``std`` unchanged), recorded in
    ``diagnostics['clipped']``."""
    result.diagnostics["clipped"] = {"mi": bool(result.mi < 0.0), "unclipped_mi": result.mi,
                                     "n_replicates_clipped": int(np.count_nonzero(result.samples < 0.0))}
    result.mi = max(result.mi, 0.0)
    result.samples = np.maximum(result.samples, 0.0)
    return result


def conditional_mutual_info(x, y, z, *, method="gmm", y_type="continuous", **kwargs):
    """Estimate the conditional mutual information I(X; Y | Z).

    Parameters
    ----------
    x, y, z : array-like of shape (n_samples,) or (n_samples, d)
        Samples: continuous, or discrete symbols for ``method='discrete'``;
        y may hold category labels of any type with ``y_type='categorical'``.
    method : str, default='gmm'
        'gmm' integrates a joint mixture fit over (x, y, z); 'ksg' is the
        Frenzel & Pompe (2007) nearest-neighbour estimator; 'discrete' is the
        plug-in estimate ``H(X,Z) + H(Y,Z) - H(X,Y,Z) - H(Z)`` (Miller-Madow
        corrected by default). ``fastmi.list_methods()`` shows which methods
        support conditioning.
    y_type : {'continuous', 'categorical'}, default='continuous'
        With 'categorical', y holds class labels: 'gmm' fits one mixture per
        class over (z, x) and computes ``I(Y; X, Z) - I(Y; Z)`` with the
        z-marginals of the same mixtures; 'ksg' is a Ross (2014) estimator
        made conditional as Frenzel & Pompe made KSG conditional. A
        single-valued z gives I(X; Y), with a warning.
    **kwargs
        Passed to the estimator.

    Returns
    -------
    MIResult
        ``quantity`` is 'cmi'.
    """
    check_choice(y_type, "y_type", {"continuous", "categorical"})
    kind = "categorical_conditional" if y_type == "categorical" else "conditional"
    return _registry.get(method, kind).function(kind)(x, y, z, **kwargs)


def entropy(x, *, method="knn", **kwargs):
    """Estimate the differential entropy H(X) from samples.

    Parameters
    ----------
    x : array-like of shape (n_samples,) or (n_samples, d)
        Continuous samples of X.
    method : str, default='knn'
        A registered method with entropy support (``fastmi.list_methods()``, column
        ``entropy``). 'knn' is the Kozachenko-Leonenko estimator
        (:func:`fastmi.knn.knn_entropy`).
    **kwargs
        Passed to the estimator (``k``, ``metric``, ``rng``, ``n_jobs``, ``unit``,
        ``n_bootstrap``, ...).

    Returns
    -------
    MIResult
        ``quantity`` is 'entropy'; ``mi`` holds H.

    Examples
    --------
    >>> import numpy as np, fastmi
    >>> x = np.random.default_rng(0).standard_normal((5000, 2))
    >>> r = fastmi.entropy(x, k=3, rng=0)        # truth: log(2 pi e) = 2.838 nat
    >>> r.quantity, r.method
    ('entropy', 'knn')
    """
    return _registry.get(method, "entropy").function("entropy")(x, **kwargs)


def kl_divergence(p_samples, q_samples, *, method="knn", **kwargs):
    """Estimate the Kullback-Leibler divergence D(P || Q) from samples of P and of Q.

    Parameters
    ----------
    p_samples : array-like of shape (n, d)
        Samples of P.
    q_samples : array-like of shape (m, d)
        Samples of Q, with the same number of columns.
    method : str, default='knn'
        A registered method with KL support (``fastmi.list_methods()``, column ``kl``).
        'knn' is the Wang-Kulkarni-Verdu estimator (:func:`fastmi.knn.knn_kl_divergence`).
    **kwargs
        Passed to the estimator.

    Returns
    -------
    MIResult
        ``quantity`` is 'kl'; ``mi`` holds D(P || Q).
    """
    return _registry.get(method, "kl").function("kl")(p_samples, q_samples, **kwargs)
