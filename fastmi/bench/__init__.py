"""Benchmarks for MI estimators: distributions with a known MI and a runner.

Distributions (each with ``sample(n, rng) -> (x, y)``, the true ``mi`` in nats, ``name``,
``params``, ``y_type``, ``dx``/``dy``, ``mi_method`` and ``mi_stderr``):

- :class:`Gaussian` (any dimensions and covariance; closed form),
- :class:`StudentT` (multivariate t; closed form),
- :class:`GammaExponential` (Piras et al. 2023 toy; closed form),
- :class:`AdditiveUniform` (uniform signal plus uniform noise; closed form),
- :class:`GaussianMixture` (reference Monte Carlo, cached on disk and in memory),
- :class:`ClassConditionalGaussian` (categorical y; quadrature for 1-D x, else reference MC),
- :class:`Transformed` (monotone maps of any of them; MI unchanged),
- :class:`Mapped` with :class:`Spiral` / :class:`Wave` (smooth bijections of all of x or y; MI
  unchanged), and the hard families of Czyż et al. (2023) in ``HARD_SUITE``.

:func:`calibration` (``fastmi bench --calibration``) measures whether estimators' error bars
are honest: the coverage of ±1 and ±2 reported std over many (distribution, seed) cases.

``get_distribution('mixture3')`` or ``get_distribution('gaussian:rho=0.9,dx=2')`` builds
presets and parametrised kinds. :func:`run` runs estimators (any callables, or
:func:`fastmi_estimators`) on identical samples and returns a tidy table;
:func:`summarize`, :func:`to_markdown`, :func:`write_table` and :func:`plot` digest it;
:func:`main` is the ``fastmi bench`` command line (:func:`register_cli` adds it to a
sub-parser set).
"""
from ._cache import cache_dir, clear_memory_cache
from ._calibration import CALIBRATION_COLUMNS, calibration, calibration_suite, plot_calibration, summarize_calibration
from ._cli import main, register_cli, run_cli
from ._catalog import get_distribution, list_distributions
from ._distributions import (
    KINDS,
    PRESETS,
    TRANSFORMS,
    AdditiveUniform,
    ClassConditionalGaussian,
    Distribution,
    GammaExponential,
    Gaussian,
    GaussianMixture,
    StudentT,
    Transformed,
    additive_uniform_mi,
    student_t_mi,
)
from ._hard import HARD_SUITE, Mapped, Spiral, VectorMap, Wave, hard_suite
from ._runner import COLUMNS, Unsupported, fastmi_estimators, plot, run, summarize, to_markdown, write_table

__all__ = ["AdditiveUniform", "CALIBRATION_COLUMNS", "COLUMNS", "HARD_SUITE", "Mapped", "Spiral", "VectorMap", "Wave",
           "calibration", "calibration_suite", "hard_suite", "plot_calibration", "summarize_calibration", "ClassConditionalGaussian", "Distribution", "GammaExponential", "Gaussian",
           "GaussianMixture", "KINDS", "PRESETS", "StudentT", "TRANSFORMS", "Transformed", "Unsupported",
           "additive_uniform_mi", "cache_dir", "clear_memory_cache", "fastmi_estimators", "get_distribution",
           "list_distributions", "main", "plot", "register_cli", "run", "run_cli", "student_t_mi", "summarize",
           "to_markdown", "write_table"]
