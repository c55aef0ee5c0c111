"""Checks of a command's outputs before it does any work: the folders exist and are writable,
figures have an image format matplotlib writes, and matplotlib is installed when a figure is asked for."""
from __future__ import annotations

import importlib.util
import os


def check_matplotlib():
    """An ImportError naming the extra when matplotlib is not installed."""
    check_extra("matplotlib", "plots need matplotlib: pip install 'fastmi[plot]'")


def check_extra(module, message):
    """An ImportError with ``message`` when ``module`` (an optional dependency) is not installed."""
    if importlib.util.find_spec(module) is None:
        raise ImportError(message)


def check_output_paths(paths, *, figures=()):
    """Check, before any work, that every output path can be written: its folder exists and is a
    writable folder, and a figure's extension is an image format matplotlib writes. ``paths`` are
    ``(option, path)`` pairs (``path`` None when the option is not given); ``figures`` names the
    options that save figures, which also need matplotlib."""
    given = [(opt, path) for opt, path in paths if path]
    if any(opt in figures for opt, _ in given):
        check_matplotlib()
    for opt, path in given:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise ValueError(f"{opt} {path}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise ValueError(f"{opt} {path}: the folder {folder} is not writable")
        if os.path.isdir(path):
            raise ValueError(f"{opt} {path} is a folder; give a file name")
        if opt in figures:
            from matplotlib.backend_bases import FigureCanvasBase

            ext = os.path.splitext(path)[1].lower().lstrip(".")
            formats = FigureCanvasBase.get_supported_filetypes()
            if ext not in formats:
                raise ValueError(f"{opt} {path}: unknown image format {ext!r}; use one of "
                                 f"{', '.join('.' + f for f in sorted(formats))}")
