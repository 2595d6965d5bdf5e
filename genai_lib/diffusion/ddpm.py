"""Ancestral sampling (DDPM): undo the forward process one step at a time (Ho et al. 2020, Alg. 2).

The reverse step samples the posterior of the forward process given the predicted clean sample.
With x̂_0 = (x_t - √(1 - ᾱ_t) ε̂) / √ᾱ_t (Ho et al. 2020, Eq. 15), the posterior
q(x_{t-1} | x_t, x̂_0) = N(μ̃_t, β̃_t I) has (their Eqs. 6-7)

    μ̃_t = √ᾱ_{t-1} β_t / (1 - ᾱ_t) · x̂_0  +  √α_t (1 - ᾱ_{t-1}) / (1 - ᾱ_t) · x_t,
    β̃_t = (1 - ᾱ_{t-1}) / (1 - ᾱ_t) · β_t,

and x_{t-1} = μ̃_t + √β̃_t z with z ~ N(0, I), except at the last step (t = 0), which returns μ̃_0 = x̂_0
without noise. This is diffusers' ``DDPMScheduler.step`` with ``variance_type="fixed_small"`` and
``clip_sample=False``, computed with the same operations in the same order; the tests check that
the two agree for every schedule and step.
"""

from __future__ import annotations

import torch

from genai_lib._checks import check_float
from genai_lib.diffusion.sampling import Sampler, StepOutput, draw_noise
from genai_lib.diffusion.schedule import NoiseSchedule

__all__ = ["DDPMSampler"]


class DDPMSampler(Sampler):
    """Ancestral sampling through all T steps (Ho et al. 2020, Alg. 2), σ_t² = β̃_t ("fixed_small").

    Args:
        schedule: the :class:`~genai_lib.diffusion.schedule.NoiseSchedule` the model was trained with.
        clip_sample: if given, clamp x̂_0 to ``[-clip_sample, clip_sample]`` before the update (what
            Ho et al. do for images in [-1, 1]; diffusers' ``clip_sample=True``). ``None`` (the
            default) does not clip.

    Attributes:
        timesteps: int64 ``T-1, T-2, ..., 0``, the steps :meth:`sample` visits.

    Note:
        With the cosine schedule the first step is fragile: β_{T-1} = 0.999 (the cap) leaves
        √ᾱ_{T-1} ≈ 5·10⁻⁵ at T = 1000, and the update multiplies an error e in ε̂ into an error of
        about √(1 - ᾱ_{T-1}) / √ᾱ_{T-1} · √ᾱ_{T-2} β_{T-1} / (1 - ᾱ_{T-1}) ≈ 31 e in x_{T-2}. An
        imperfect model can then diverge; for images in [-1, 1] pass ``clip_sample=1.0``, as Ho et
        al. do (and diffusers does by default). DDIM's "leading" steps never visit t = T-1.
    """

    def __init__(self, schedule: NoiseSchedule, clip_sample: float | None = None) -> None:
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
        self.schedule = schedule
        self.clip_sample = (
            None if clip_sample is None else check_float(clip_sample, "clip_sample", minimum=0.0, strict_min=True)
        )
        self.timesteps = torch.arange(schedule.num_steps - 1, -1, -1, dtype=torch.long)
        self._one = torch.tensor(1.0)

    def __repr__(self) -> str:
        return f"DDPMSampler(schedule={self.schedule!r}, clip_sample={self.clip_sample})"

    def step(
        self, eps: torch.Tensor, t: int, x_t: torch.Tensor, generator: torch.Generator | None = None
    ) -> StepOutput:
        """One ancestral step x_t → x_{t-1} (Ho et al. 2020, Eqs. 6, 7 and 15; Alg. 2 line 4).

        Args:
            eps: the model's noise prediction ε̂ at ``(x_t, t)``, the shape of ``x_t``.
            t: the current step, an int in ``[0, T)``.
            x_t: the current noisy batch.
            generator: draws the noise z (as diffusers does: on the generator's device, then moved).
                No noise is drawn at ``t = 0``.

        Returns:
            :class:`~genai_lib.diffusion.sampling.StepOutput` with ``prev_sample`` = x_{t-1} and
            ``pred_x0`` = x̂_0.

        Raises:
            TypeError / ValueError: if ``eps`` and ``x_t`` are not float tensors of one shape or
                ``t`` is not an int in range; the message names the argument.
        """
        t = self._check_step_args(eps, t, x_t, generator)
        abar_t = self.schedule.alphas_cumprod[t]
        abar_prev = self.schedule.alphas_cumprod[t - 1] if t > 0 else self._one
        beta_prod_t, beta_prod_prev = 1 - abar_t, 1 - abar_prev
        alpha_t = abar_t / abar_prev  # α_t, recomputed from ᾱ exactly as diffusers does
        beta_t = 1 - alpha_t

        pred_x0 = (x_t - beta_prod_t**0.5 * eps) / abar_t**0.5  # Eq. 15
        if self.clip_sample is not None:
            pred_x0 = pred_x0.clamp(-self.clip_sample, self.clip_sample)

        coef_x0 = abar_prev**0.5 * beta_t / beta_prod_t  # Eq. 7: μ̃_t's weight on x̂_0
        coef_xt = alpha_t**0.5 * beta_prod_prev / beta_prod_t  # ... and on x_t
        mean = coef_x0 * pred_x0 + coef_xt * x_t

        if t > 0:
            variance = torch.clamp(beta_prod_prev / beta_prod_t * beta_t, min=1e-20)  # β̃_t, Eq. 7
            z = draw_noise(eps.shape, generator, eps.device, eps.dtype)
            mean = mean + variance**0.5 * z
        return StepOutput(prev_sample=mean, pred_x0=pred_x0)
