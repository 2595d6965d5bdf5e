"""Sinusoidal time embeddings: how a denoiser is told which step t it is looking at.

One network serves all T noise levels, so it must be told t. Ho et al. (2020, Appendix B) give it
t through the Transformer's sinusoidal position embedding (Vaswani et al. 2017, §3.5): for
``dim = 2h`` features and frequencies ω_i = max_period^(-i/h), i = 0..h-1,

    emb(t) = [sin(ω_0 t), ..., sin(ω_{h-1} t), cos(ω_0 t), ..., cos(ω_{h-1} t)].

Low frequencies change slowly with t (telling far-apart steps apart), high ones quickly (telling
neighbours apart); a small MLP after it (in :mod:`genai_lib.diffusion.denoisers`) turns the
features into whatever the network needs.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genai_lib._checks import check_float, check_int, check_tensor

__all__ = ["sinusoidal_embedding", "SinusoidalEmbedding"]


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Embed steps ``t`` as ``[sin(ω_i t), cos(ω_i t)]`` with ω_i = max_period^(-i/h) (Vaswani et al. 2017, §3.5).

    Args:
        t: a tensor of shape ``(B,)`` (integer steps or real times).
        dim: the embedding width, an even int ≥ 2.
        max_period: the longest period, 10,000 as in the Transformer.

    Returns:
        A float32 tensor of shape ``(B, dim)`` on ``t``'s device.

    Raises:
        TypeError / ValueError: if ``t`` is not 1-D or ``dim`` is not an even int ≥ 2.
    """
    check_tensor(t, "t")
    if t.dim() != 1:
        raise ValueError(f"t must have shape (B,), got {tuple(t.shape)}")
    dim = check_int(dim, "dim", minimum=2)
    if dim % 2:
        raise ValueError(f"dim must be even (half sines, half cosines), got {dim}")
    max_period = check_float(max_period, "max_period", minimum=1.0, strict_min=True)
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    angles = t.to(torch.float32)[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class SinusoidalEmbedding(nn.Module):
    """:func:`sinusoidal_embedding` as a parameter-free module, for use inside ``nn.Sequential``."""

    def __init__(self, dim: int, max_period: float = 10_000.0) -> None:
        super().__init__()
        self.dim = check_int(dim, "dim", minimum=2)
        if self.dim % 2:
            raise ValueError(f"dim must be even (half sines, half cosines), got {dim}")
        self.max_period = check_float(max_period, "max_period", minimum=1.0, strict_min=True)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """Return the ``(B, dim)`` embedding of ``t`` of shape ``(B,)``."""
        return sinusoidal_embedding(t, self.dim, self.max_period)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, max_period={self.max_period:g}"
