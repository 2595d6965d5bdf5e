"""The training objective: predict the noise that was added (Ho et al. 2020, Eq. 14, "L_simple").

The variational bound on -log p_θ(x_0) splits into one KL term per step; with the reverse mean
parametrised through a noise prediction ε_θ, each term is a weighted squared error between ε and
ε_θ(√ᾱ_t x_0 + √(1-ᾱ_t) ε, t) (Ho et al. 2020, Eq. 12). Dropping the weights and sampling t
uniformly gives the simple loss every diffusion model here trains with:

    L_simple(θ) = E_{t ~ U{0..T-1}, x_0, ε ~ N(0, I)} ‖ε - ε_θ(√ᾱ_t x_0 + √(1 - ᾱ_t) ε, t)‖².
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from genai_lib._checks import check_labels, check_tensor
from genai_lib.diffusion.sampling import draw_noise
from genai_lib.diffusion.schedule import NoiseSchedule, check_timesteps

__all__ = ["epsilon_loss"]


def epsilon_loss(
    model: Callable[..., torch.Tensor],
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    generator: torch.Generator | None = None,
    t: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Monte-Carlo estimate of L_simple on a batch (Ho et al. 2020, Eq. 14; Alg. 1).

    Args:
        model: the denoiser ε_θ, called as ``model(x_t, t)`` or ``model(x_t, t, labels)``.
        schedule: the forward process.
        x0: a batch of clean data ``(B, ...)``.
        labels: optional int64 labels ``(B,)`` (already label-dropped for classifier-free guidance).
        generator: draws t (uniform over ``0..T-1``, first) and ε (second), on the generator's device.
        t, noise: fix the step(s) or the noise instead of drawing them (for demonstrations and tests).

    Returns:
        The mean squared error over the batch and all dimensions, a 0-d tensor.

    Raises:
        TypeError / ValueError: for mismatched shapes or out-of-range steps, naming the argument.
    """
    check_tensor(x0, "x0", floating=True)
    if x0.dim() < 2:
        raise ValueError(f"x0 must be a batch of shape (B, ...), got {tuple(x0.shape)}")
    batch = x0.shape[0]
    if t is None:
        device = generator.device if generator is not None else x0.device
        t = torch.randint(0, schedule.num_steps, (batch,), generator=generator, device=device)
    else:
        t = check_timesteps(t, schedule.num_steps, batch)
        if t.dim() == 0:
            t = t.expand(batch)
    t = t.to(x0.device)
    if noise is None:
        noise = draw_noise(x0.shape, generator, x0.device, x0.dtype)
    elif not isinstance(noise, torch.Tensor) or noise.shape != x0.shape:
        raise ValueError(
            f"noise must be a tensor of x0's shape {tuple(x0.shape)}, "
            f"got {tuple(noise.shape) if isinstance(noise, torch.Tensor) else type(noise).__name__}"
        )
    x_t = schedule.add_noise(x0, noise, t)
    if labels is None:
        eps = model(x_t, t)
    else:
        eps = model(x_t, t, check_labels(labels, "labels", batch).to(x0.device))
    if eps.shape != noise.shape:
        raise ValueError(f"model returned shape {tuple(eps.shape)}, expected x0's shape {tuple(x0.shape)}")
    return F.mse_loss(eps, noise)
