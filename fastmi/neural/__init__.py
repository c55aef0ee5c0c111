"""Neural MI (optional: ``pip install "fastmi[torch]"``).

InfoNCE, NWJ and MINE lower bounds and the CLUB upper bound, for x and y of any dimension; and
:class:`DifferentiableGMMMI`, GMM-MI as a differentiable training loss. PyTorch is imported on
the first call (or the first access to ``DifferentiableGMMMI``), never by ``import fastmi``;
without it these raise an ImportError naming the ``torch`` extra.
"""
from ._bounds import club_mutual_info, infonce_mutual_info, mine_mutual_info, nwj_mutual_info

__all__ = ["DifferentiableGMMMI", "club_mutual_info", "infonce_mutual_info", "mine_mutual_info",
           "nwj_mutual_info"]


def __getattr__(name):
    if name == "DifferentiableGMMMI":  # a torch.nn.Module subclass: defining it imports torch
        from ._dgmm import DifferentiableGMMMI

        return DifferentiableGMMMI
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + ["DifferentiableGMMMI"])
