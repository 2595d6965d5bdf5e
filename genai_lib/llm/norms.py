"""RMSNorm (Zhang & Sennrich 2019): LayerNorm without the mean.

LayerNorm (Ba et al. 2016) centres and scales each vector ``x`` of width ``d``::

    LN(x) = γ ⊙ (x − μ) / sqrt(σ² + ε) + β,   μ = mean(x),  σ² = mean((x − μ)²)          (1)

RMSNorm drops the centring and the shift β and divides by the root mean square::

    RMS(x) = γ ⊙ x / sqrt(mean(x²) + ε)                                                  (2)

Zhang & Sennrich found the re-centring contributes little: the re-scaling is what makes training
stable, and (2) is one reduction instead of two. Llama, Mistral and most recent models use it.
"""

from __future__ import annotations

import torch
from torch import nn

from genai_lib._checks import check_float, check_int

__all__ = ["NORMS", "RMSNorm", "make_norm"]

#: The normalisations a GPT block can use (``GPTConfig.norm``).
NORMS = ("layernorm", "rmsnorm")


class RMSNorm(nn.Module):
    """Eq. (2) over the last dimension, with a learned gain ``weight`` (initialised to 1)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.dim = check_int(dim, "dim", minimum=1)
        self.eps = check_float(eps, "eps", minimum=0.0, strict_min=True)
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` ``(..., dim)`` to unit root mean square, then scale by ``weight``."""
        if x.size(-1) != self.dim:
            raise ValueError(f"x must end in dim={self.dim}, got shape {tuple(x.shape)}")
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}"


def make_norm(kind: str, dim: int, *, bias: bool = True) -> nn.Module:
    """``"layernorm"`` → ``nn.LayerNorm(dim, bias=bias)`` (GPT-2's), ``"rmsnorm"`` → :class:`RMSNorm`."""
    if kind == "layernorm":
        return nn.LayerNorm(dim, bias=bias)
    if kind == "rmsnorm":
        return RMSNorm(dim)
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")
