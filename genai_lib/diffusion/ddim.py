"""DDIM: fewer, larger, optionally deterministic steps through the same trained model (Song et al. 2021).

Song et al. (2021) replace the Markov forward chain by a non-Markovian family with the *same*
marginals q(x_t | x_0), so a model trained with the DDPM loss serves all of them. Its reverse
update from step t to an earlier step s (their Eq. 12, in our ᾱ notation) is

    x_s = √ᾱ_s x̂_0  +  √(1 - ᾱ_s - σ_t²) ε̂  +  σ_t z,      z ~ N(0, I),
    σ_t = η √((1 - ᾱ_s) / (1 - ᾱ_t)) √(1 - ᾱ_t / ᾱ_s)          (their Eq. 16),

with x̂_0 from ε̂ as in DDPM. η = 0 makes sampling deterministic (DDIM proper: a fixed map from noise
to data, which is what makes noise interpolation meaningful); η = 1 with every step recovers DDPM.
The visited steps are evenly spaced, ``t_i = i · ⌊T / n⌋`` for ``i = n-1, ..., 0`` (diffusers'
default "leading" spacing), and the step after ``t = 0`` uses ᾱ = 1 (``set_alpha_to_one=True``).
This is diffusers' ``DDIMScheduler.step`` with ``clip_sample=False``, same operations, same order.
"""

from __future__ import annotations

import torch

from genai_lib._checks import check_float, check_int, check_tensor
from genai_lib.diffusion.sampling import Sampler, StepOutput, draw_noise
from genai_lib.diffusion.schedule import NoiseSchedule

__all__ = ["DDIMSampler", "ddim_timesteps", "slerp"]


def ddim_timesteps(num_train_steps: int, num_inference_steps: int) -> torch.Tensor:
    """The DDIM sub-sequence τ (Song et al. 2021, §4.2), evenly spaced with "leading" spacing.

    Returns int64 ``[(n-1) k, ..., k, 0]`` with ``k = num_train_steps // n``, as diffusers'
    ``DDIMScheduler.set_timesteps(n)`` builds it (``timestep_spacing="leading"``, ``steps_offset=0``).

    Raises:
        ValueError: if ``num_inference_steps`` is not in ``[1, num_train_steps]``.
    """
    num_train_steps = check_int(num_train_steps, "num_train_steps", minimum=1)
    n = check_int(num_inference_steps, "num_inference_steps", minimum=1)
    if n > num_train_steps:
        raise ValueError(f"num_inference_steps must be <= the schedule's num_steps={num_train_steps}, got {n}")
    ratio = num_train_steps // n
    return torch.arange(n - 1, -1, -1, dtype=torch.long) * ratio


def slerp(z0: torch.Tensor, z1: torch.Tensor, alpha: float) -> torch.Tensor:
    """Spherical interpolation between two noise tensors (Shoemake 1985; used for DDIM by Song et al. 2021, §5.3).

    Returns ``(sin((1-α)θ) z0 + sin(αθ) z1) / sin θ`` with θ the angle between the flattened
    ``z0`` and ``z1``. Unlike the straight line, whose midpoint is about √2 times too short for a
    high-dimensional Gaussian sample, the path keeps the norm of typical noise, so every point on
    it is a plausible x_T for a deterministic (η = 0) DDIM decode. Falls back to the straight line
    when the two are (nearly) parallel.

    Raises:
        TypeError / ValueError: if the tensors are not floating point, differ in shape, or
            ``alpha`` is not a finite number.
    """
    check_tensor(z0, "z0", floating=True)
    check_tensor(z1, "z1", floating=True)
    if z0.shape != z1.shape:
        raise ValueError(f"z1 must have the shape of z0 {tuple(z0.shape)}, got {tuple(z1.shape)}")
    alpha = check_float(alpha, "alpha")
    cos = ((z0 * z1).sum() / (z0.norm() * z1.norm())).clamp(-1.0, 1.0)
    theta = torch.arccos(cos)
    if float(theta.sin()) < 1e-6:
        return (1 - alpha) * z0 + alpha * z1
    return (torch.sin((1 - alpha) * theta) * z0 + torch.sin(alpha * theta) * z1) / torch.sin(theta)


class DDIMSampler(Sampler):
    """DDIM sampling in ``num_inference_steps`` steps with noise level ``eta`` (Song et al. 2021, Eqs. 12, 16).

    Args:
        schedule: the :class:`~genai_lib.diffusion.schedule.NoiseSchedule` the model was trained with.
        num_inference_steps: n, how many of the T steps to visit (1 ≤ n ≤ T).
        eta: η ≥ 0; 0 is deterministic DDIM, 1 is DDPM-like noise.
        clip_sample: if given, clamp x̂_0 to ``[-clip_sample, clip_sample]`` (diffusers'
            ``clip_sample=True``; the direction term keeps the unclipped ε̂, as there). ``None``: no clipping.

    Attributes:
        timesteps: int64, the n visited steps, noisiest first (:func:`ddim_timesteps`).

    Raises:
        ValueError: if ``num_inference_steps`` exceeds ``schedule.num_steps`` or ``eta`` is negative.
    """

    def __init__(
        self, schedule: NoiseSchedule, num_inference_steps: int = 50, eta: float = 0.0, clip_sample: float | None = None
    ) -> None:
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
        self.schedule = schedule
        self.timesteps = ddim_timesteps(schedule.num_steps, num_inference_steps)
        self.num_inference_steps = int(num_inference_steps)
        self.eta = check_float(eta, "eta", minimum=0.0)
        self.clip_sample = (
            None if clip_sample is None else check_float(clip_sample, "clip_sample", minimum=0.0, strict_min=True)
        )
        self.step_ratio = schedule.num_steps // self.num_inference_steps
        self._one = torch.tensor(1.0)

    def __repr__(self) -> str:
        return (
            f"DDIMSampler(schedule={self.schedule!r}, num_inference_steps={self.num_inference_steps}, "
            f"eta={self.eta}, clip_sample={self.clip_sample})"
        )

    def step(
        self, eps: torch.Tensor, t: int, x_t: torch.Tensor, generator: torch.Generator | None = None
    ) -> StepOutput:
        """One DDIM step from ``t`` to ``t - ⌊T/n⌋`` (Song et al. 2021, Eq. 12 with σ_t of Eq. 16).

        Args:
            eps: the model's noise prediction ε̂ at ``(x_t, t)``, the shape of ``x_t``.
            t: the current step, an int in ``[0, T)`` (normally one of ``timesteps``).
            x_t: the current noisy batch.
            generator: draws z when ``eta > 0`` (nothing is drawn when ``eta == 0``).

        Returns:
            :class:`~genai_lib.diffusion.sampling.StepOutput` with ``prev_sample`` = x_s and ``pred_x0`` = x̂_0.

        Raises:
            TypeError / ValueError: as :meth:`DDPMSampler.step`, naming the argument.
        """
        t = self._check_step_args(eps, t, x_t, generator)
        prev_t = t - self.step_ratio
        abar_t = self.schedule.alphas_cumprod[t]
        abar_prev = self.schedule.alphas_cumprod[prev_t] if prev_t >= 0 else self._one
        beta_prod_t = 1 - abar_t

        pred_x0 = (x_t - beta_prod_t**0.5 * eps) / abar_t**0.5  # Ho et al. Eq. 15
        if self.clip_sample is not None:
            pred_x0 = pred_x0.clamp(-self.clip_sample, self.clip_sample)

        variance = ((1 - abar_prev) / beta_prod_t) * (1 - abar_t / abar_prev)  # σ_t² / η², Eq. 16
        std = self.eta * variance**0.5
        direction = (1 - abar_prev - std**2) ** 0.5 * eps  # "direction pointing to x_t", Eq. 12
        prev = abar_prev**0.5 * pred_x0 + direction
        if self.eta > 0:
            prev = prev + std * draw_noise(eps.shape, generator, eps.device, eps.dtype)
        return StepOutput(prev_sample=prev, pred_x0=pred_x0)
