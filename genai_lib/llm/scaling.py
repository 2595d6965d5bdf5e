"""Loss against compute: the training FLOPs of a GPT and a fitted power law (Kaplan et al. 2020).

Training a model of ``N`` parameters (embeddings excluded) on ``D`` tokens costs about::

    C ≈ 6 N D  FLOPs                                                                     (1)

(2 per parameter per token for the forward pass, 4 for the backward; Kaplan et al. 2020, section
2.1). Over a range of sizes, the loss a model reaches falls as a power of the compute::

    L(C) ≈ a · C^b,   b < 0,   i.e.   log L = log a + b log C                              (2)

:func:`fit_power_law` fits eq. (2) by least squares on the logarithms; ``b`` is the slope of the
line on a log-log plot. At the tiny scales of a CPU notebook the fitted exponent describes those
points only; Kaplan et al. measured ``b ≈ −0.05`` over seven orders of magnitude.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = ["non_embedding_params", "training_flops", "fit_power_law"]


def non_embedding_params(model: torch.nn.Module) -> int:
    """Parameters outside the token and position embeddings (and the tied output layer): Kaplan's ``N``."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    skip = ("wte", "wpe", "lm_head")
    return sum(p.numel() for n, p in model.named_parameters() if not any(s in n for s in skip))


def training_flops(n_params: int, tokens: int) -> float:
    """Eq. (1): ``6 · n_params · tokens``."""
    for name, value in (("n_params", n_params), ("tokens", tokens)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return 6.0 * n_params * tokens


def fit_power_law(compute: Sequence[float], loss: Sequence[float]) -> tuple[float, float]:
    """Fit eq. (2), ``loss ≈ a · compute^b``, by least squares in log-log space; return ``(a, b)``."""
    c = [float(v) for v in compute]
    y = [float(v) for v in loss]
    if len(c) != len(y) or len(c) < 2:
        raise ValueError(f"compute and loss must have the same length >= 2, got {len(c)} and {len(y)}")
    if min(c) <= 0 or min(y) <= 0:
        raise ValueError("compute and loss must be positive (the fit is on their logarithms)")
    if len(set(c)) < 2:
        raise ValueError("compute must hold at least two different values")
    lx, ly = [math.log(v) for v in c], [math.log(v) for v in y]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    b = sum((u - mx) * (w - my) for u, w in zip(lx, ly)) / sum((u - mx) ** 2 for u in lx)
    return math.exp(my - b * mx), b
