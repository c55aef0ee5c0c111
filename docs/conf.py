"""Sphinx configuration of the fastmi documentation.

Build: ``pip install -e ".[docs]"`` then ``python -m sphinx -W -b html docs build/html``.
The API reference (``api.rst``) is written here, at configuration time, from the ``__all__``
of each public module, so a function added to ``fastmi.__all__`` appears without editing the
docs. The gallery runs ``examples/*.py`` with ``FASTMI_EXAMPLE_SMALL=1`` (smaller networks and
data, so the build stays in minutes on 2 cores); ``-D plot_gallery=0`` skips running them.
"""
import importlib
import inspect
import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if os.path.isdir(os.path.join(ROOT, "fastmi")) and ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # an editable install or PYTHONPATH=. gives the same package

os.environ.setdefault("FASTMI_EXAMPLE_SMALL", "1")  # read by the example scripts
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")

import fastmi  # noqa: E402

project = "fastmi"
author = "the fastmi developers"
copyright = "the fastmi developers"
release = fastmi.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/*.examples", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "auto_examples/*.codeobj.json"]
html_theme = "alabaster"
html_static_path = []
html_theme_options = {"description": "Fast mutual-information estimators with honest error bars",
                      "fixed_sidebar": True, "page_width": "1100px", "sidebar_width": "230px"}
default_role = "code"

autosummary_generate = True
autodoc_default_options = {"members": False, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

intersphinx_mapping = {}  # offline builds: no inventories are fetched

doctest_global_setup = "import numpy as np\nimport fastmi\n"

sphinx_gallery_conf = {
    "examples_dirs": os.path.join(ROOT, "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py$",      # run every example: each figure is rendered
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "abort_on_example_error": True,
    "show_memory": False,
}

# ----------------------------------------------------------------------------- the API reference
API_MODULES = [
    ("fastmi", "Estimating MI, results, plots", "The functions and classes of ``import fastmi``."),
    ("fastmi.gmm", "GMM-MI (fastmi.gmm)", "The Gaussian-mixture estimator and its functional forms."),
    ("fastmi.knn", "k-NN estimators (fastmi.knn)", "KSG, Ross, Gao et al., Frenzel-Pompe, "
                                                   "Kozachenko-Leonenko and Wang-Kulkarni-Verdu."),
    ("fastmi.matrix", "MI matrices (fastmi.matrix)", "Pairwise tables, local or on Dask."),
    ("fastmi.interpret", "Interpretability (fastmi.interpret)", "MIG, local-global maps, functional "
                                                                "information, FLINT, faithfulness."),
    ("fastmi.neural", "Neural bounds (fastmi.neural, torch extra)", "InfoNCE, NWJ, MINE and CLUB."),
    ("fastmi.bench", "Benchmarks (fastmi.bench)", "Distributions with known MI and the runners."),
]


def _public_callables(modname, seen):
    """Classes and functions in ``modname.__all__`` not already documented under an earlier
    module (``fastmi.GMMMI`` is ``fastmi.gmm.GMMMI``: one page, under ``fastmi``)."""
    mod = importlib.import_module(modname)
    names = []
    for name in getattr(mod, "__all__", []):
        obj = getattr(mod, name, None)
        if name.startswith("_") or obj is None or id(obj) in seen:
            continue
        if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
            seen.add(id(obj))
            names.append(name)
    return sorted(names, key=lambda n: (not inspect.isclass(getattr(mod, n)), n.lower()))


def write_api_page(path=os.path.join(HERE, "api.rst")):
    """Write api.rst: one autosummary table per public module, from its ``__all__``."""
    out = [".. This file is written by docs/conf.py from each module's __all__; do not edit.", "",
           "API reference", "=============", "",
           "Every public class and function, from its docstring. Each module's ``__all__`` is the list: a",
           "function exported there appears here.", ""]
    seen = set()
    for modname, title, blurb in API_MODULES:
        names = _public_callables(modname, seen)
        if not names:
            continue
        out += [title, "-" * len(title), "", blurb, "", f".. currentmodule:: {modname}", "",
                ".. autosummary::", "   :toctree: generated/", "   :nosignatures:", ""]
        out += [f"   {n}" for n in names] + [""]
    text = "\n".join(out)
    old = open(path).read() if os.path.exists(path) else None
    if text != old:  # rewrite only on change, so Sphinx does not rebuild it needlessly
        with open(path, "w") as f:
            f.write(text)


write_api_page()
