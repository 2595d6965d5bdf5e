"""The GAN trainer's learning-rate schedule: a cosine decay over the run (Loshchilov & Hutter 2017)."""

from __future__ import annotations

import math

from genai_lib._checks import check_int

__all__ = ["cosine_lr"]


def cosine_lr(step: int, total: int, lr: float, final_ratio: float = 0.0) -> float:
    """The cosine-decayed learning rate at ``step`` of ``total`` (Loshchilov & Hutter 2017, no restarts).

    ``lr_t = lr (r + (1 - r) (1 + cos(π t / (T - 1))) / 2)``: ``lr`` at ``t = 0``, ``r lr`` at the last step.
    """
    step, total = check_int(step, "step", minimum=0), check_int(total, "total", minimum=1)
    if step >= total:
        raise ValueError(f"step must be < total={total}, got {step}")
    progress = step / (total - 1) if total > 1 else 0.0
    return lr * (final_ratio + (1.0 - final_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))
