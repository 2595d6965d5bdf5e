"""Where a token is: sinusoidal position encodings and rotary position embeddings (RoPE).

A transformer's attention is blind to order (permute the keys and the output permutes alike), so
the position must be put in. The GPT-2 way is a *learned* table, one vector per position up to
``block_size``, added to the token embedding: it has no row for position ``block_size``, so the
model cannot even be run on a longer text. Two fixed alternatives:

**Sinusoidal** (Vaswani et al. 2017, section 3.5): add the vector with components::

    PE(p, 2i) = sin(p / 10000^(2i/d)),   PE(p, 2i+1) = cos(p / 10000^(2i/d))          (1)

defined for every position ``p``, so a longer text runs, but at positions the model never saw.

**Rotary** (RoPE, Su et al. 2021): add nothing to the embedding; instead rotate every query and
key inside attention, pair of coordinates by pair, by an angle proportional to the position::

    θ_i = base^(-2i/d),   (x_a, x_b) ↦ (x_a cos pθ_i − x_b sin pθ_i,  x_b cos pθ_i + x_a sin pθ_i)   (2)

Rotations preserve dot products up to the difference of angles, so ``q_m · k_n`` depends on the
positions only through the offset ``m − n`` (eq. 3 of the chapter): attention sees *relative*
positions, the same at position 5 as at position 500.

The pairs here are coordinates ``(a, a + d/2)`` (the "rotate half" layout of GPT-NeoX and Llama
in ``transformers``), not neighbours ``(2i, 2i+1)`` as in the paper: a fixed permutation of the
coordinates, the same function once the weights are permuted, and the layout the test checks
against ``transformers``' ``apply_rotary_pos_emb``.
"""

from __future__ import annotations

import torch

from genai_lib._checks import check_float, check_int

__all__ = ["POSITIONS", "sinusoidal_positions", "rope_angles", "rotate_half", "apply_rope"]

#: How a GPT puts positions in (``GPTConfig.positions``).
POSITIONS = ("learned", "sinusoidal", "rope")


def sinusoidal_positions(
    n_positions: int, dim: int, *, base: float = 10000.0, offset: int = 0, device: torch.device | str | None = None
) -> torch.Tensor:
    """Eq. (1): the ``(n_positions, dim)`` sinusoidal encodings of positions ``offset .. offset + n - 1``.

    Even columns hold sines, odd columns cosines, of the frequencies ``base^(-2i/dim)``.
    """
    n_positions = check_int(n_positions, "n_positions", minimum=0)
    dim = check_int(dim, "dim", minimum=2)
    if dim % 2:
        raise ValueError(f"dim must be even, got {dim}")
    base = check_float(base, "base", minimum=1.0, strict_min=True)
    offset = check_int(offset, "offset", minimum=0)
    p = torch.arange(offset, offset + n_positions, device=device, dtype=torch.float32).unsqueeze(1)
    freq = base ** (-torch.arange(0, dim, 2, device=device, dtype=torch.float32) / dim)
    pe = torch.zeros(n_positions, dim, device=device)
    pe[:, 0::2] = torch.sin(p * freq)
    pe[:, 1::2] = torch.cos(p * freq)
    return pe


def rope_angles(
    positions: torch.Tensor | int, head_dim: int, *, base: float = 10000.0, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The cosines and sines of eq. (2), ``(T, head_dim)`` each, for ``positions`` (a 1-D tensor or a count).

    Column ``a`` and column ``a + head_dim/2`` share the angle ``p · base^(-2a/head_dim)``.
    """
    head_dim = check_int(head_dim, "head_dim", minimum=2)
    if head_dim % 2:
        raise ValueError(f"head_dim must be even for RoPE (coordinates rotate in pairs), got {head_dim}")
    base = check_float(base, "base", minimum=1.0, strict_min=True)
    if isinstance(positions, int) and not isinstance(positions, bool):
        positions = torch.arange(check_int(positions, "positions", minimum=0), device=device)
    if not isinstance(positions, torch.Tensor) or positions.dim() != 1:
        raise TypeError(f"positions must be an int or a 1-D tensor, got {type(positions).__name__}")
    inv_freq = base ** (-torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float32) / head_dim)
    angles = positions.float().unsqueeze(1) * inv_freq  # (T, head_dim / 2)
    angles = torch.cat([angles, angles], dim=1)  # (T, head_dim): pair (a, a + d/2) shares an angle
    return angles.cos(), angles.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``(x_1, x_2) ↦ (−x_2, x_1)`` on the two halves of the last dimension: a 90° turn of every pair."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x`` ``(..., T, head_dim)`` by the angles of :func:`rope_angles`, eq. (2).

    ``x cos + rotate_half(x) sin`` is the 2×2 rotation of every coordinate pair, written without
    building the rotation matrices.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a tensor (..., T, head_dim), got {type(x).__name__}")
    if cos.shape != sin.shape or x.shape[-2:] != cos.shape:
        raise ValueError(f"cos and sin must have shape (T, head_dim) = {tuple(x.shape[-2:])}, got {tuple(cos.shape)}")
    return x * cos.to(x.dtype) + rotate_half(x) * sin.to(x.dtype)
