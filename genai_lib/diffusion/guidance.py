"""Classifier-free guidance (Ho & Salimans 2022): one network, two predictions, one knob.

A conditional denoiser ε_θ(x_t, t, c) is trained with its label replaced by a *null* class ∅ a
fraction of the time (:func:`drop_labels`), so the same network also learns the unconditional
ε_θ(x_t, t, ∅). At sampling time the two are combined (Ho & Salimans 2022, Eq. 6):

    ε̃_θ(x_t, t, c) = (1 + w) ε_θ(x_t, t, c) - w ε_θ(x_t, t, ∅),

which moves the prediction further along the direction "towards c, away from no label". w = 0 is
the plain conditional model; larger w trades diversity for samples that look more like class c.

The convention differs from diffusers' by one: its ``guidance_scale`` s weights the conditional
prediction as ε(∅) + s (ε(c) − ε(∅)), so s = 1 + w. This library's ``guidance_scale`` is Ho &
Salimans' w (0 = no guidance); diffusers' default of 7.5 is w = 6.5 here.

The model protocol of this package: ``model(x_t, t)`` is the unconditional prediction (for a
conditional denoiser, the null label) and ``model(x_t, t, labels)`` the conditional one, with ``t``
an int64 tensor of shape ``(B,)`` and ``labels`` an int64 tensor of labels of shape ``(B,)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from genai_lib._checks import check_float, check_int, check_labels, check_tensor

__all__ = ["guided_eps", "drop_labels"]

Denoiser = Callable[..., torch.Tensor]


def guided_eps(
    model: Denoiser, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None, guidance_scale: float = 0.0
) -> torch.Tensor:
    """Return the classifier-free-guided noise prediction ε̃ (Ho & Salimans 2022, Eq. 6).

    Args:
        model: a denoiser following the protocol above.
        x_t: the noisy batch, shape ``(B, ...)``.
        t: int64 timesteps, shape ``(B,)``.
        labels: class labels of shape ``(B,)``, or ``None`` for the unconditional prediction.
        guidance_scale: w ≥ 0. With ``w = 0`` the model is called once; otherwise twice
            (conditional and null), which doubles the cost of a step.

    Raises:
        ValueError: if ``guidance_scale`` is negative, or positive without ``labels`` to guide towards.
    """
    w = check_float(guidance_scale, "guidance_scale", minimum=0.0)
    if labels is None:
        if w > 0:
            raise ValueError(f"guidance_scale={w} needs labels (the classes to guide towards); pass labels or use 0")
        return model(x_t, t)
    eps_cond = model(x_t, t, labels)
    if w == 0:
        return eps_cond
    eps_null = model(x_t, t)
    return (1 + w) * eps_cond - w * eps_null


def drop_labels(
    labels: torch.Tensor, p: float, null_label: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Replace each label by ``null_label`` with probability ``p`` (label dropout; Ho & Salimans 2022, Alg. 1).

    Training on these labels teaches one network both ε(x, t, c) and ε(x, t, ∅), which
    :func:`guided_eps` needs. Ho & Salimans use p = 0.1 or 0.2.

    Args:
        labels: int64 labels of shape ``(B,)``.
        p: the drop probability in ``[0, 1]``.
        null_label: the index of the null label (for the denoisers here, ``n_classes``).
        generator: draws the coin flips (on the CPU) for repeatable runs.

    Returns:
        A new tensor; ``labels`` is not modified.
    """
    check_tensor(labels, "labels")
    labels = check_labels(labels, "labels", labels.shape[0] if labels.dim() == 1 else -1)
    p = check_float(p, "p", minimum=0.0, maximum=1.0)
    null_label = check_int(null_label, "null_label", minimum=0)
    if p == 0:
        return labels.clone()
    drop = torch.rand(labels.shape, generator=generator, device=generator.device if generator else "cpu")
    return torch.where(drop.to(labels.device) < p, torch.full_like(labels, null_label), labels)
