"""Torch modules of the local-global maps (imports torch: loaded only on first use)."""
from __future__ import annotations

import math

import torch
from torch import nn


class PositionMLP(nn.Module):
    """g_k(x): one small MLP per position (batched weights), or one shared by every position
    (``shared=True``); (B, K, C) -> (B, K, E)."""

    def __init__(self, n_positions, c, hidden, embed_dim, shared=False):
        super().__init__()
        k = 1 if shared else n_positions
        self.w1 = nn.Parameter(torch.randn(k, c, hidden) / math.sqrt(c))
        self.b1 = nn.Parameter(torch.zeros(k, hidden))
        self.w2 = nn.Parameter(torch.randn(k, hidden, embed_dim) / math.sqrt(hidden))
        self.b2 = nn.Parameter(torch.zeros(k, embed_dim))
        self.wl = nn.Parameter(torch.zeros(k, c, embed_dim))  # a linear skip: linear dependence is learnt fast
        self.shared = shared

    def forward(self, x):
        k = x.shape[1]
        w1, b1, w2, b2, wl = (p.expand(k, *p.shape[1:]) if self.shared else p
                              for p in (self.w1, self.b1, self.w2, self.b2, self.wl))
        h = torch.relu(torch.einsum("bkc,kch->bkh", x, w1) + b1)
        return torch.einsum("bkh,khe->bke", h, w2) + b2 + torch.einsum("bkc,kce->bke", x, wl)


class LocalGlobalCritic(nn.Module):
    """s[j, k, i] = g_k(x_jk) . h(y_i): every local feature against every global vector."""

    def __init__(self, n_positions, c, d, hidden, embed_dim, shared):
        super().__init__()
        self.g = PositionMLP(n_positions, c, hidden, embed_dim, shared)
        self.h = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, embed_dim))
        self.hl = nn.Linear(d, embed_dim, bias=False)

    def forward(self, x, y):
        return torch.einsum("jke,ie->jki", self.g(x), self.h(y) + self.hl(y))


def pointwise_infonce(s, negatives):
    """(B, K) InfoNCE terms from the (B, K, B) scores s[j, k, i]: for the global vector y_i,
    the positive is x_ik and the negatives are x_jk (same position) or every x_jl."""
    b, k, _ = s.shape
    idx = torch.arange(b, device=s.device)
    pos = s[idx, :, idx]  # (B, K): s[i, k, i]
    if negatives == "same_position":
        return pos - torch.logsumexp(s, dim=0).T + math.log(b)
    lse = torch.logsumexp(s.reshape(b * k, b), dim=0)  # over every (j, l), for each i
    return pos - lse[:, None] + math.log(b * k)
