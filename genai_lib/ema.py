"""An exponential moving average (EMA) of a network's weights: the model both families sample from.

Training never settles exactly: a GAN's generator answers each step's discriminator, a denoiser
follows each minibatch's noise. Averaging the iterates smooths that wandering out, and the average
samples better than the last iterate for the same training. GANs report samples from it (Karras et
al. 2018; Yazıcı et al. 2019, "The unusual effectiveness of averaging in GAN training"), and so do
diffusion models (Ho et al. 2020, Appendix B, with decay 0.9999)::

    θ_ema ← d θ_ema + (1 − d) θ        after every optimisation step,

with ``d`` close to 1, so that ``θ_ema`` averages roughly the last ``1 / (1 − d)`` steps. The
average is a separate, frozen copy of the network used only for sampling; training never reads it.

With ``warmup`` the n-th update uses ``d_n = min(decay, (1 + n) / (10 + n))`` (as diffusers'
``EMAModel``), so that in a short run the average is not dominated by the random initial weights.

Buffers (batch normalisation's running statistics) are not averaged but copied from the trained
network at every update: they are statistics of activations, not parameters.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from genai_lib._checks import check_float

__all__ = ["EMA", "ema_update"]


def _check_decay(decay: object) -> float:
    return check_float(decay, "decay", minimum=0.0, maximum=1.0, strict_max=True)


@torch.no_grad()
def ema_update(average: nn.Module, model: nn.Module, decay: float) -> None:
    """One EMA step in place: ``θ_avg ← decay · θ_avg + (1 − decay) · θ`` for every parameter; buffers copied.

    Args:
        average: the averaged copy (same architecture as ``model``).
        model: the network being trained.
        decay: ``d`` in [0, 1); 0 copies ``model`` exactly.

    Raises:
        ValueError: if the two modules do not have the same parameter and buffer shapes.
    """
    decay = _check_decay(decay)
    avg_p, new_p = list(average.parameters()), list(model.parameters())
    avg_b, new_b = list(average.buffers()), list(model.buffers())
    pairs, buffers = list(zip(avg_p, new_p)), list(zip(avg_b, new_b))
    if len(avg_p) != len(new_p) or len(avg_b) != len(new_b) or any(a.shape != m.shape for a, m in pairs + buffers):
        raise ValueError("average must be a copy of model: their parameters and buffers differ in number or shape")
    for avg, new in pairs:
        avg.lerp_(new.detach(), 1.0 - decay)
    for avg, new in buffers:
        avg.copy_(new)


class EMA:
    """An averaged copy of ``model`` (see the module docstring), kept in eval mode without gradients.

    Args:
        model: the network to follow (its current weights start the average); it is deep-copied.
        decay: the long-run decay ``d`` in [0, 1); the average spans about ``1 / (1 − d)`` updates.
        warmup: use ``d_n = min(decay, (1 + n) / (10 + n))`` for the n-th update; ``False`` uses
            ``decay`` from the first update on.

    Attributes:
        model: the averaged copy; sample from it.
        decay, warmup: as given.
        num_updates: how many times :meth:`update` has run.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = False) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        self.decay = _check_decay(decay)
        self.warmup = bool(warmup)
        self.num_updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        """The decay the next :meth:`update` will use."""
        n = self.num_updates
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    def update(self, model: nn.Module) -> None:
        """Move the average one step towards ``model``'s current weights (:func:`ema_update`)."""
        ema_update(self.model, model, self.current_decay())
        self.num_updates += 1

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights, for saving beside the trained ones."""
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore averaged weights saved with :meth:`state_dict`."""
        self.model.load_state_dict(state)
