"""Optional progress bars (tqdm), shown by default only in a terminal."""
from __future__ import annotations

import sys
import warnings


class _NoBar:
    """Stands in for a tqdm bar when none is shown."""

    def update(self, n=1):
        pass

    def set_postfix_str(self, s):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _stream_is_tty(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def progress_bar(total, progress=None, *, desc=None, unit="it"):
    """A progress bar over ``total`` items, or a silent stand-in.

    Parameters
    ----------
    total : int
        Number of items.
    progress : bool or None, default=None
        True shows a bar, False never does, None shows one only when standard
        error is a terminal. Without tqdm installed there is never a bar, and
        no error; True then warns that tqdm is missing.
    desc, unit : str
        Passed to tqdm.

    Returns
    -------
    tqdm.tqdm or a no-op object with ``update``, ``set_postfix_str`` and ``close``.
    """
    explicit = progress is True
    if progress is None:
        progress = _stream_is_tty(sys.stderr)
    elif not isinstance(progress, bool):
        raise ValueError(f"progress must be True, False or None, got {progress!r}")
    if not progress:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if explicit:  # asked for a bar that cannot be drawn: say so rather than show nothing
            warnings.warn("progress=True needs tqdm, which is not installed (pip install tqdm): no progress bar",
                          UserWarning, stacklevel=3)
        return _NoBar()
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True)
