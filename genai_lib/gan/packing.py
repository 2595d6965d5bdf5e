"""Letting the discriminator see a batch: packing (PacGAN) and the minibatch standard deviation (ProGAN).

A discriminator that scores one sample at a time cannot tell a generator that draws well from 5 of
25 modes from one that draws well from all 25: every sample it sees is, on its own, a good sample.
Two classic fixes let it look at several samples together:

* **packing** (Lin et al. 2018, PacGAN): :func:`pack` concatenates ``m`` samples of the same kind
  (all real or all generated) into one input of width ``m·d``, and the discriminator scores the
  pack. A pack of generated samples that keep landing on the same few modes looks unlike a pack of
  real ones, whose members fall on different modes.
* **the minibatch standard deviation** (Karras et al. 2018, ProGAN, §3): :class:`MinibatchStd`
  appends to every row of a hidden layer one extra feature, the standard deviation of the features
  over a group of rows, averaged over the features. A collapsed generator's group has a small
  standard deviation, and the layers after it can read that.

Both are options of :class:`~genai_lib.gan.MLPDiscriminator` (``pack=m``, ``minibatch_std=g``), so
:class:`~genai_lib.gan.GANTrainer` trains them unchanged. Both group *consecutive* rows, and the
trainer's batches are all real or all generated, so a group never mixes the two as long as the
batch size is a multiple of the group (the trainer checks it).
"""

from __future__ import annotations

import torch
from torch import nn

from genai_lib._checks import check_float, check_int

__all__ = ["pack", "Pack", "MinibatchStd", "minibatch_std"]


def _check_rows(x: object, name: str, min_dim: int = 2) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"{name} must be a float tensor, got {type(x).__name__}")
    if x.ndim < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dimensions (..., N, d), got shape {tuple(x.shape)}")
    return x


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN's packing (Lin et al. 2018, §3): ``(..., N, d) -> (..., N / m, m·d)``.

    Pack ``j`` is the concatenation of rows ``j·m, j·m + 1, ..., j·m + m - 1`` (consecutive rows go
    together, in order). It is a reshape, so gradients flow back to every packed sample unchanged.
    Leading dimensions (the members of an ensemble) are kept.

    Raises:
        TypeError: if ``x`` is not a float tensor.
        ValueError: if ``x`` has fewer than 2 dimensions or ``N`` is not a multiple of ``m``.
    """
    x = _check_rows(x, "x")
    m = check_int(m, "m", minimum=1)
    n, d = x.shape[-2], x.shape[-1]
    if n % m:
        raise ValueError(f"x must have a multiple of m={m} rows to pack, got {n}")
    return x.reshape(*x.shape[:-2], n // m, m * d)


class Pack(nn.Module):
    """:func:`pack` as a layer: ``(..., N, d) -> (..., N / m, m·d)``, ``m`` consecutive rows per pack.

    Args:
        m: samples (rows) per pack.
    """

    def __init__(self, m: int) -> None:
        super().__init__()
        self.m = check_int(m, "m", minimum=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pack consecutive rows of ``x``."""
        return pack(x, self.m)

    def extra_repr(self) -> str:
        return f"m={self.m}"


def minibatch_std(h: torch.Tensor, group: int, eps: float = 1e-8) -> torch.Tensor:
    """ProGAN's minibatch standard deviation (Karras et al. 2018, §3): ``(..., N, C) -> (..., N, C + 1)``.

    Rows are split into consecutive groups of ``group``; within each group, every feature's standard
    deviation over the rows is computed (population form, ``sqrt(var + eps)``), the ``C`` values are
    averaged into one number, and that number is appended as a last feature to every row of the
    group.

    Raises:
        TypeError: if ``h`` is not a float tensor.
        ValueError: if ``group < 2``, or the number of rows is not a multiple of ``group``.
    """
    h = _check_rows(h, "h")
    group = check_int(group, "group", minimum=2)
    eps = check_float(eps, "eps", minimum=0.0)
    n, c = h.shape[-2], h.shape[-1]
    if n % group:
        raise ValueError(f"h must have a multiple of group={group} rows, got {n}")
    grouped = h.reshape(*h.shape[:-2], n // group, group, c)
    # the variance written out: torch's var over a non-last dimension is many times slower on the CPU
    centred = grouped - grouped.mean(dim=-2, keepdim=True)
    std = (centred.square().mean(dim=-2) + eps).sqrt().mean(dim=-1, keepdim=True)  # (..., n/g, 1)
    feature = std.unsqueeze(-2).expand(*grouped.shape[:-1], 1).reshape(*h.shape[:-1], 1)
    return torch.cat([h, feature], dim=-1)


class MinibatchStd(nn.Module):
    """:func:`minibatch_std` as a layer: appends one feature, the group's mean standard deviation.

    Args:
        group: rows per group (4 in ProGAN).
    """

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = check_int(group, "group", minimum=2)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``(..., N, C) -> (..., N, C + 1)``."""
        return minibatch_std(h, self.group)

    def extra_repr(self) -> str:
        return f"group={self.group}"
