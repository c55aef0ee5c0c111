"""The estimator registry: the one place that says which estimators exist and what each
supports.

:func:`fastmi.mutual_info`, :func:`fastmi.conditional_mutual_info`, :func:`fastmi.mi_matrix`,
the command line and :mod:`fastmi.bench` all read it. Adding an estimator is one module plus
one :func:`register` call below; its callables are imported on first use, so listing the
methods imports none of them.
"""
from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field

from ._validation import check_choice


@dataclass(frozen=True)
class Method:
    """One registered estimator.

    Attributes
    ----------
    name : str
        The ``method=`` name.
    module : str
        Module holding the callables (imported on first use).
    mi : str or None
        Function for I(X; Y) with continuous (or, for discrete methods, symbolic) y:
        ``fn(x, y, **kwargs) -> MIResult``; None for a method that offers only entropy
        and/or KL divergence.
    categorical : str or None
        Function for continuous x against category labels y, if supported.
    conditional : str or None
        Function for I(X; Y | Z), ``fn(x, y, z, **kwargs)``, if supported.
    categorical_conditional : str or None
        Function for I(X; Y | Z) with continuous x and z against category labels y,
        ``fn(x, labels, z, **kwargs)``, if supported.
    entropy : str or None
        Function for the differential entropy H(X), ``fn(x, **kwargs) -> MIResult``
        (``quantity='entropy'``), if supported.
    kl : str or None
        Function for the KL divergence D(P || Q) from samples of P and Q,
        ``fn(p_samples, q_samples, **kwargs) -> MIResult`` (``quantity='kl'``), if supported.
    data : {'continuous', 'mixed', 'discrete'}
        The data the method is meant for: continuous, discrete-continuous mixtures, or
        discrete symbols (labels of any type).
    point : str
        What ``MIResult.mi`` holds.
    error_bars : str
        How ``MIResult.std`` is made by default ('bootstrap', 'partition', 'subsample' or 'none').
    cheap : bool
        A pair takes milliseconds (the MI matrix batches many pairs per task).
    defaults : dict
        Keyword arguments the method name fixes in its ``mi`` function (``ksg2`` is KSG
        with ``variant=2``).
    extra : str or None
        The optional dependency group it needs (``pip install "fastmi[extra]"``).
    requires : tuple of str
        Modules that must be importable for it to run.
    benchmark : bool
        Run by ``fastmi bench`` and :func:`fastmi.bench.fastmi_estimators` by default.
    summary : str
        One line for listings.
    """

    name: str
    module: str
    mi: str | None = None
    categorical: str | None = None
    conditional: str | None = None
    categorical_conditional: str | None = None
    entropy: str | None = None
    kl: str | None = None
    data: str = "continuous"
    point: str = "full-sample estimate"
    error_bars: str = "subsample"
    cheap: bool = True
    defaults: dict = field(default_factory=dict)
    extra: str | None = None
    requires: tuple = ()
    benchmark: bool = False
    summary: str = ""

    @property
    def available(self):
        return all(importlib.util.find_spec(m) is not None for m in self.requires)

    def function(self, kind="mi"):
        """The callable for ``kind`` ('mi', 'categorical', 'conditional',
        'categorical_conditional', 'entropy' or 'kl'), with the method's fixed keyword
        arguments applied to its 'mi' function."""
        if not self.available:
            raise ImportError(f"method={self.name!r} needs {', '.join(self.requires)}: "
                              f'pip install "fastmi[{self.extra}]"')
        name = getattr(self, kind)
        fn = getattr(importlib.import_module(self.module), name)
        if kind != "mi" or not self.defaults:
            return fn
        fixed = dict(self.defaults)

        def with_defaults(*args, **kwargs):
            for k, v in fixed.items():
                if k in kwargs and kwargs[k] != v:
                    raise ValueError(f"method={self.name!r} fixes {k}={v!r}; got {k}={kwargs[k]!r}")
                kwargs[k] = v
            return fn(*args, **kwargs)

        return with_defaults

    def parameters(self, kind="mi"):
        """Names of the keyword parameters the ``kind`` function accepts."""
        import inspect

        fn = getattr(importlib.import_module(self.module), getattr(self, kind))
        return {p.name for p in inspect.signature(fn).parameters.values()
                if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)} - set(self.defaults if kind == "mi" else ())

    def as_dict(self):
        return {
            "name": self.name,
            "summary": self.summary,
            "data": self.data,
            "mi": self.mi is not None,
            "categorical_y": self.categorical is not None,
            "conditional": self.conditional is not None,
            "categorical_conditional": self.categorical_conditional is not None,
            "entropy": self.entropy is not None,
            "kl": self.kl is not None,
            "point": self.point,
            "error_bars": self.error_bars,
            "available": self.available,
            "install": None if self.extra is None else f'pip install "fastmi[{self.extra}]"',
        }


_METHODS: dict[str, Method] = {}


def register(method):
    """Add ``method`` (a :class:`Method`) to the registry; names are unique."""
    if method.name in _METHODS:
        raise ValueError(f"method {method.name!r} is already registered")
    _METHODS[method.name] = method
    return method


def names(kind="mi"):
    """Registered method names supporting ``kind`` ('mi', 'categorical', 'conditional',
    'categorical_conditional', 'entropy' or 'kl'). The default, 'mi', leaves out the methods
    that estimate only entropies or KL divergences."""
    return [m.name for m in _METHODS.values() if getattr(m, kind) is not None]


def benchmarked():
    """The methods a benchmark runs when none are named."""
    return [m.name for m in _METHODS.values() if m.benchmark]


def get(name, kind="mi"):
    """The registered method ``name``; ValueError naming the choices if it is unknown or does
    not support ``kind``."""
    check_choice(name, "method", set(_METHODS))
    m = _METHODS[name]
    if getattr(m, kind) is None:
        what = {"mi": "mutual information", "categorical": "y_type='categorical'", "conditional": "conditional MI",
                "categorical_conditional": "conditional MI with y_type='categorical'", "entropy": "entropy",
                "kl": "KL divergence"}[kind]
        raise ValueError(f"{what} is supported by methods {sorted(names(kind))}, not {name!r}")
    return m


class MethodTable(list):
    """The registered methods as a list of dicts, printed as a table."""

    _COLUMNS = ("name", "data", "mi", "categorical_y", "conditional", "categorical_conditional", "entropy", "kl",
                "point", "error_bars", "available")

    def to_pandas(self):
        """The table as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(list(self))

    def __repr__(self):
        rows = [[str(r[c]) for c in self._COLUMNS] for r in self]
        widths = [max(len(c), *(len(r[k]) for r in rows)) for k, c in enumerate(self._COLUMNS)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(self._COLUMNS, widths))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
        for r in self:
            if not r["available"]:
                lines.append(f"{r['name']}: {r['install']}")
        return "\n".join(lines)


def list_methods():
    """The estimators fastmi offers (MI, and entropy / KL divergence) and what each supports.

    Returns
    -------
    MethodTable
        A list with one dict per method (keys ``name``, ``summary``, ``data``, ``mi``,
        ``categorical_y``, ``conditional``, ``categorical_conditional``, ``entropy``, ``kl``,
        ``point``, ``error_bars``, ``available``, ``install``; the capability keys are booleans:
        ``mi`` for I(X; Y), ``entropy`` for H(X) and ``kl`` for D(P || Q) through
        :func:`fastmi.mutual_info`, :func:`fastmi.entropy` and :func:`fastmi.kl_divergence`),
        printed as a table; ``.to_pandas()`` gives a
        DataFrame. A method whose optional dependency is missing is listed with
        ``available=False`` and the ``pip install`` command that enables it.

    Examples
    --------
    >>> import fastmi
    >>> [m["name"] for m in fastmi.list_methods()][:2]
    ['gmm', 'ksg']
    """
    return MethodTable(m.as_dict() for m in _METHODS.values())


# --------------------------------------------------------------------------- the estimators
_KNN = "fastmi.knn"
register(Method(
    "gmm", "fastmi.gmm", "gmm_mutual_info", categorical="gmm_categorical_mutual_info",
    conditional="gmm_conditional_mutual_info", categorical_conditional="gmm_categorical_conditional_mutual_info",
    point="bootstrap mean", error_bars="bootstrap", cheap=False, benchmark=True,
    summary="GMM-MI (Piras et al. 2023): mixture fits chosen by CV, bootstrapped, MC-integrated; entropies and "
            "KL divergences of the fitted mixtures via GMMMI.entropy / GMMMI.kl_divergence"))
register(Method(
    "ksg", _KNN, "ksg_mutual_info", categorical="categorical_ksg_mutual_info",
    conditional="ksg_conditional_mutual_info", categorical_conditional="categorical_ksg_conditional_mutual_info",
    defaults={"variant": 1}, benchmark=True, error_bars="partition",
    summary="KSG algorithm 1 (Kraskov et al. 2004); Ross (2014) for categorical y; Frenzel-Pompe CMI"))
register(Method(
    "ksg2", _KNN, "ksg_mutual_info", defaults={"variant": 2}, error_bars="partition",
    summary="KSG algorithm 2 (Kraskov et al. 2004)"))
register(Method(
    "mixed", _KNN, "mixed_mutual_info", data="mixed", error_bars="partition",
    summary="Gao, Kannan, Oh & Viswanath (2017) for mixed discrete-continuous data"))
register(Method(
    "discrete", "fastmi._plugin", "discrete_mutual_info", conditional="discrete_conditional_mutual_info",
    data="discrete", summary="plug-in MI (and CMI) of discrete symbols, Miller-Madow corrected"))
register(Method(
    "gaussian", "fastmi._plugin", "gaussian_mutual_info",
    summary="closed form under a joint-Gaussian assumption (a baseline)"))
register(Method(
    "gcmi", "fastmi._gcmi", "gcmi_mutual_info", categorical="gcmi_categorical_mutual_info",
    conditional="gcmi_conditional_mutual_info",
    summary="Gaussian-copula MI (Ince et al. 2017): Gaussian MI of normal scores; a lower bound on the MI"))
register(Method(
    "knn", _KNN, entropy="knn_entropy", kl="knn_kl_divergence", error_bars="partition",
    summary="Kozachenko-Leonenko (1987) entropy and Wang-Kulkarni-Verdu (2009) KL divergence, "
            "max-norm or Euclidean"))
_NEURAL = "fastmi.neural"
_HELD_OUT = dict(data="continuous", point="mean over held-out batches", error_bars="held-out batches", cheap=False,
                 extra="torch", requires=("torch",))
register(Method(
    "infonce", _NEURAL, "infonce_mutual_info", **_HELD_OUT,
    summary="InfoNCE lower bound with a learned critic (van den Oord et al. 2018); capped at log(batch size)"))
register(Method(
    "nwj", _NEURAL, "nwj_mutual_info", **_HELD_OUT,
    summary="NWJ lower bound with a learned critic (Nguyen, Wainwright & Jordan 2010)"))
register(Method(
    "mine", _NEURAL, "mine_mutual_info", **_HELD_OUT,
    summary="MINE: Donsker-Varadhan lower bound, moving-average gradient correction (Belghazi et al. 2018)"))
register(Method(
    "club", _NEURAL, "club_mutual_info", **_HELD_OUT,
    summary="CLUB upper bound with a Gaussian variational q(y|x) (Cheng et al. 2020)"))
