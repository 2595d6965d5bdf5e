"""An exponential moving average of the weights: the model diffusion samples are drawn from.

Ho et al. (2020, Appendix B) sample from an EMA of the parameters (decay 0.9999); it averages out
the noise of the last optimisation steps and gives visibly cleaner samples for the same training
budget. Here θ_ema ← d_n θ_ema + (1 - d_n) θ after every step, with the warm-up
d_n = min(decay, (1 + n) / (10 + n)) (as diffusers' ``EMAModel``), so that in a short CPU run the
average is not dominated by the random initial weights.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from genai_lib.diffusion._checks import check_float

__all__ = ["EMA"]


class EMA:
    """Keep ``self.model``, an exponential moving average of another module's weights.

    Args:
        model: the module being trained; it is deep-copied (frozen, in eval mode).
        decay: the long-run decay d, in ``[0, 1)``.
        warmup: use d_n = min(decay, (1 + n)/(10 + n)) for the n-th update; ``False`` uses ``decay`` always.

    Raises:
        TypeError / ValueError: for a ``model`` that is not an ``nn.Module`` or ``decay`` outside ``[0, 1)``.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = True) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        self.decay = check_float(decay, "decay", minimum=0.0)
        if self.decay >= 1:
            raise ValueError(f"decay must be < 1, got {self.decay}")
        self.warmup = bool(warmup)
        self.num_updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        """The decay the next :meth:`update` will use."""
        n = self.num_updates
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Blend ``model``'s parameters into the average (buffers are copied as they are)."""
        d = self.current_decay()
        ema_params = dict(self.model.named_parameters())
        for name, param in model.named_parameters():
            ema_params[name].lerp_(param.detach(), 1.0 - d)
        ema_buffers = dict(self.model.named_buffers())
        for name, buf in model.named_buffers():
            ema_buffers[name].copy_(buf)
        self.num_updates += 1
