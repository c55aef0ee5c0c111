"""Neural MI bounds with learned critics (optional: ``pip install "fastmi[torch]"``).

InfoNCE, NWJ and MINE lower bounds and the CLUB upper bound, for x and y of any dimension.
PyTorch is imported on the first call, never by ``import fastmi``; without it the functions
raise an ImportError naming the ``torch`` extra.
"""
from ._bounds import club_mutual_info, infonce_mutual_info, mine_mutual_info, nwj_mutual_info

__all__ = ["club_mutual_info", "infonce_mutual_info", "mine_mutual_info", "nwj_mutual_info"]
