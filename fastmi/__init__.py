"""fastmi: fast mutual-information estimators with honest error bars.

Layout: :mod:`fastmi.gmm` (GMM-MI), :mod:`fastmi.knn` (the KSG family), ``fastmi._plugin``
(discrete and Gaussian plug-in estimators), :mod:`fastmi.matrix` (MI matrices, local or on
Dask), :mod:`fastmi.interpret` (MIG and other interpretability tools) and :mod:`fastmi.bench`
(benchmark distributions and runner). Every estimator is registered in ``fastmi._registry``;
:func:`list_methods` shows them.
"""
from importlib.metadata import PackageNotFoundError, version

try:  # the compiled kd-tree first, so that an unbuilt source folder gets a clear message
    from . import _ksg_cy  # noqa: F401
except ImportError:
    import os as _os

    raise ImportError(
        f"fastmi's compiled extension fastmi._ksg_cy is not built in {_os.path.dirname(__file__)}. "
        "This is a source folder: Python imports it instead of an installed fastmi when run from the clone's "
        "root. Run Python from another folder to use the installed fastmi, or build this folder in place with "
        "pip install -e . (or python setup.py build_ext --inplace)") from None

from ._api import conditional_mutual_info, entropy, kl_divergence, mutual_info
from ._permutation import PermutationTestResult, benjamini_hochberg, permutation_test
from ._plot import plot_bootstrap, plot_cv, plot_fit, plot_mi_matrix, plot_pmi_profile
from ._registry import list_methods
from ._result import MIResult
from .exceptions import ConvergenceWarning, DegenerateFitWarning, FitWarning, MisfitWarning
from .gmm import GMMMI, PointwiseMI, load_model
from .interpret import MIGResult, factor_entropy, mig
from .matrix import MIMatrix, mi_matrix


def __getattr__(name):
    # fastmi.bench is a subpackage loaded on first use, so that `import fastmi` stays light
    if name == "bench":
        import importlib

        return importlib.import_module("fastmi.bench")
    raise AttributeError(f"module 'fastmi' has no attribute {name!r}")


try:
    __version__ = version("fastmi")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["ConvergenceWarning", "DegenerateFitWarning", "FitWarning", "GMMMI", "MisfitWarning", "MIGResult", "MIMatrix",
           "MIResult", "PermutationTestResult", "PointwiseMI", "__version__", "benjamini_hochberg",
           "conditional_mutual_info", "entropy", "factor_entropy", "kl_divergence", "list_methods", "load_model",
           "mi_matrix", "mig", "mutual_info", "permutation_test", "plot_bootstrap", "plot_cv", "plot_fit", "plot_mi_matrix",
           "plot_pmi_profile"]
