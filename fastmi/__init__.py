"""fastmi: fast mutual-information estimators with honest error bars."""
from importlib.metadata import PackageNotFoundError, version

from ._api import conditional_mutual_info, mutual_info
from ._estimators import GMMMI, load_model
from ._result import MIResult
from ._matrix import MIGResult, MIMatrix, factor_entropy, mi_matrix, mig
from ._plot import plot_bootstrap, plot_cv, plot_fit, plot_mi_matrix



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

__all__ = ["GMMMI", "MIResult", "conditional_mutual_info", "load_model", "mutual_info", "__version__"]
__all__ += ["MIGResult", "MIMatrix", "factor_entropy", "mi_matrix", "mig", "plot_bootstrap", "plot_cv", "plot_fit",
            "plot_mi_matrix"]
