"""Differentiable augmentation for GANs trained on little data (DiffAugment, Zhao et al. 2020; ADA, Karras et al. 2020).

With 997 training digits a discriminator soon learns the training set by heart: its verdict on real
images it has seen drifts away from its verdict on real images it has not, and the generator is
then pushed towards the training images rather than the distribution. Augmenting only the real
images would not help: the discriminator would learn that translated, cut-out digits are real and
the generator would learn to draw them ("leaking"). DiffAugment's rule is to apply the *same
family* of random transformations ``T`` to everything the discriminator sees, real and fake, in
both players' updates, so the game compares ``T(x)`` with ``T(G(z))``; because every ``T`` used
here is differentiable in its input, the generator's gradient flows back through ``T``. ADA's
refinement is to apply each transformation with a probability ``p`` that a controller adjusts
from an overfitting signal; :func:`diff_augment` takes that ``p``.

The transformations, for images in ``[-1, 1]`` with background ``-1`` (the digits):

* ``"translation"`` — shift by up to ``max_shift`` pixels in each direction, filling with background;
* ``"cutout"`` — paint one square of side ``cutout`` (at a random place) with background;
* ``"brightness"`` — add ``U(-0.25, 0.25)`` to every pixel.

Each sample gets its own random parameters, drawn on the CPU from ``generator`` (the global RNG
when ``None``), so a seed gives the same augmentation on every device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from genai_lib._checks import check_float, check_int

__all__ = ["diff_augment", "ada_overfitting", "ada_update", "POLICIES"]

POLICIES = ("translation", "cutout", "brightness")
BACKGROUND = -1.0


def _rand(shape: tuple[int, ...], generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(shape, generator=generator).to(like.device, like.dtype)


def _translate(x: torch.Tensor, max_shift: int, generator: torch.Generator | None) -> torch.Tensor:
    """Shift each image by its own integer offset in ``[-max_shift, max_shift]²`` (a gather: differentiable)."""
    n, _, h, w = x.shape
    shift = torch.randint(-max_shift, max_shift + 1, (2, n), generator=generator).to(x.device)
    padded = F.pad(x, (max_shift,) * 4, value=BACKGROUND)
    rows = torch.arange(h, device=x.device)[None, :] + max_shift - shift[0][:, None]  # (n, h)
    cols = torch.arange(w, device=x.device)[None, :] + max_shift - shift[1][:, None]  # (n, w)
    idx = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, size: int, generator: torch.Generator | None) -> torch.Tensor:
    """Paint one ``size × size`` square per image with background (a mask: differentiable elsewhere)."""
    n, _, h, w = x.shape
    top = torch.randint(0, h - size + 1, (n,), generator=generator).to(x.device)
    left = torch.randint(0, w - size + 1, (n,), generator=generator).to(x.device)
    r, c = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    inside_r = (r[None, :] >= top[:, None]) & (r[None, :] < top[:, None] + size)
    inside_c = (c[None, :] >= left[:, None]) & (c[None, :] < left[:, None] + size)
    hole = (inside_r[:, :, None] & inside_c[:, None, :])[:, None]  # (n, 1, h, w)
    return torch.where(hole, torch.full_like(x, BACKGROUND), x)


def diff_augment(
    x: torch.Tensor,
    policy: Sequence[str] = ("translation", "cutout"),
    *,
    p: float = 1.0,
    max_shift: int = 1,
    cutout: int = 3,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Apply random, differentiable transformations to a batch of images ``(N, C, H, W)``.

    DiffAugment (Zhao et al. 2020, §3, Eqs. 2–3): the discriminator's loss is written on
    ``D(T(x))`` and ``D(T(G(z)))`` and the generator's on ``D(T(G(z)))``, with the same policy for
    real and fake. Each transformation in ``policy`` is applied to each image independently with
    probability ``p`` (ADA's augmentation probability, Karras et al. 2020, §3), with its own
    random parameters.

    Args:
        x: images in ``[-1, 1]``, background ``-1``.
        policy: names from :data:`POLICIES`, applied in that order.
        p: probability in ``[0, 1]`` that each transformation is applied to an image.
        max_shift: largest translation in pixels.
        cutout: side of the cut-out square in pixels.
        generator: CPU random generator for the parameters (the global one when ``None``).

    Returns:
        The augmented images, same shape; gradients flow back to ``x``.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim != 4:
        raise TypeError(f"x must be a float tensor of images (N, C, H, W), got {getattr(x, 'shape', type(x).__name__)}")
    if isinstance(policy, str):
        raise TypeError(f"policy must be a sequence of names such as ('translation', 'cutout'), got the str {policy!r}")
    for name in policy:
        if name not in POLICIES:
            raise ValueError(f"policy entries must be among {POLICIES}, got {name!r}")
    p = check_float(p, "p", minimum=0.0, maximum=1.0)
    max_shift = check_int(max_shift, "max_shift", minimum=0)
    cutout = check_int(cutout, "cutout", minimum=1, maximum=min(x.shape[-2:]))
    n = x.shape[0]
    for name in policy:
        use = (_rand((n,), generator, x) < p)[:, None, None, None]
        if name == "translation":
            y = _translate(x, max_shift, generator)
        elif name == "cutout":
            y = _cutout(x, cutout, generator)
        else:
            y = x + (_rand((n, 1, 1, 1), generator, x) - 0.5) * 0.5
        x = torch.where(use, y, x)
    return x


def ada_overfitting(real_out: torch.Tensor) -> float:
    """ADA's overfitting heuristic ``r_t = E[sign(D(x))]`` on real images (Karras et al. 2020, Eq. 1).

    0 when the discriminator is unsure about the real images, 1 when it scores every one of them as
    real: a discriminator that has memorised its training set.
    """
    if not isinstance(real_out, torch.Tensor) or real_out.ndim != 1 or not real_out.is_floating_point():
        raise TypeError(
            f"real_out must be a float tensor of raw scores (N,), got {getattr(real_out, 'shape', real_out)!r}"
        )
    return float(torch.sign(real_out.detach()).mean())


def ada_update(p: float, r_t: float, *, target: float = 0.6, step: float = 0.01) -> float:
    """One step of ADA's controller (Karras et al. 2020, §3): raise ``p`` by ``step`` when ``r_t`` is above
    ``target`` (the discriminator overfits), lower it otherwise; clipped to ``[0, 1]``."""
    p = check_float(p, "p", minimum=0.0, maximum=1.0)
    r_t = check_float(r_t, "r_t", minimum=-1.0, maximum=1.0)
    step = check_float(step, "step", minimum=0.0)
    target = check_float(target, "target", minimum=-1.0, maximum=1.0)
    return min(1.0, max(0.0, p + (step if r_t > target else -step)))
