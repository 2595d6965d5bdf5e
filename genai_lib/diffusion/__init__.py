"""Diffusion models (Part II of the book), one module per concept.

* :mod:`~genai_lib.diffusion.schedule` — the forward process: :class:`NoiseSchedule` (linear or
  cosine β_t, ᾱ_t, ``add_noise`` = q(x_t | x_0), SNR);
* :mod:`~genai_lib.diffusion.ddpm` — ancestral sampling, :class:`DDPMSampler` (Ho et al. 2020);
* :mod:`~genai_lib.diffusion.ddim` — :class:`DDIMSampler` (Song et al. 2021) and :func:`slerp` between noises;
* :mod:`~genai_lib.diffusion.sampling` — the loop both samplers share and the :class:`Trajectory`
  the explorers read;
* :mod:`~genai_lib.diffusion.guidance` — classifier-free guidance and label dropout (Ho & Salimans 2022);
* :mod:`~genai_lib.diffusion.embeddings` — sinusoidal time embeddings;
* :mod:`~genai_lib.diffusion.denoisers` — :class:`MLPDenoiser` and :class:`UNetDenoiser`;
* :mod:`~genai_lib.diffusion.losses` — :func:`epsilon_loss`, the ε-prediction objective;
* :mod:`~genai_lib.ema` (shared with the GANs) — :class:`EMA` of the weights;
* :mod:`~genai_lib.diffusion.train` — :class:`DiffusionTrainer` with ``fit(steps=...)``;
* :mod:`~genai_lib.diffusion.flow` — flow matching (Lipman et al. 2023; Liu et al. 2023):
  :class:`VelocityMLP`, :func:`flow_matching_loss`, :class:`FlowTrainer`;
* :mod:`~genai_lib.diffusion.ode` — ODE samplers for a velocity field, :class:`EulerSampler` and
  :class:`HeunSampler` (Karras et al. 2022);
* :mod:`~genai_lib.diffusion.score` — scores and the continuous-time view (Song et al. 2021): the exact
  score of a noised :class:`GaussianMixture`, ε/x₀/v/score conversions, Langevin dynamics, the reverse SDE,
  the probability-flow ODE, and DDIM (η = 0) as Euler in σ (:func:`euler_sigma_step`);
* :mod:`~genai_lib.diffusion.flow_pretrained` — the flow-matching digit model ``"digits8-flow"``,
  trained with the recipe and budget of ``"digits8"``;
* :mod:`~genai_lib.diffusion.pretrained` — :func:`~genai_lib.diffusion.pretrained.load_pretrained`, the
  book's trained denoisers shipped in the package (``"digits8"``, ``"digits8-cond"``, ``"grid25"``)
  and the recipes that made them.

Samplers share the surface of diffusers' schedulers (``step``) and agree with them number for
number (see ``tests/test_diffusion.py``). Importing this package trains nothing and changes no
global state.
"""

from __future__ import annotations

from genai_lib._lazy import lazy_exports
from genai_lib.diffusion.ddim import DDIMSampler, ddim_timesteps, slerp
from genai_lib.diffusion.ddpm import DDPMSampler
from genai_lib.diffusion.denoisers import MLPDenoiser, MLPDenoiserConfig, UNetConfig, UNetDenoiser
from genai_lib.diffusion.embeddings import SinusoidalEmbedding, sinusoidal_embedding
from genai_lib.diffusion.guidance import drop_labels, guided_eps
from genai_lib.diffusion.losses import epsilon_loss
from genai_lib.diffusion.ode import EulerSampler, HeunSampler, ODESampler, ODEState, ODETrajectory, ode_times
from genai_lib.diffusion.sampling import Sampler, SamplerState, StepOutput, Trajectory, draw_noise
from genai_lib.diffusion.schedule import SCHEDULE_KINDS, NoiseSchedule
from genai_lib.diffusion.score import (
    PREDICTION_KINDS,
    GaussianMixture,
    convert_prediction,
    euler_sigma_step,
    from_eps,
    implied_weight,
    langevin_sample,
    langevin_step,
    pf_ode_step,
    reverse_sde_step,
    sigma_from_abar,
    to_eps,
    v_target,
)
from genai_lib.ema import EMA

__all__ = [
    "NoiseSchedule",
    "SCHEDULE_KINDS",
    "DDPMSampler",
    "DDIMSampler",
    "ddim_timesteps",
    "slerp",
    "Sampler",
    "SamplerState",
    "StepOutput",
    "Trajectory",
    "draw_noise",
    "guided_eps",
    "drop_labels",
    "sinusoidal_embedding",
    "SinusoidalEmbedding",
    "MLPDenoiser",
    "MLPDenoiserConfig",
    "UNetDenoiser",
    "UNetConfig",
    "epsilon_loss",
    "EMA",
    "DiffusionTrainer",
    "TrainerConfig",
    "VelocityMLP",
    "linear_path",
    "flow_matching_loss",
    "FlowTrainer",
    "ODESampler",
    "EulerSampler",
    "HeunSampler",
    "ODEState",
    "ODETrajectory",
    "ode_times",
    "GaussianMixture",
    "PREDICTION_KINDS",
    "to_eps",
    "from_eps",
    "convert_prediction",
    "v_target",
    "implied_weight",
    "langevin_step",
    "langevin_sample",
    "reverse_sde_step",
    "pf_ode_step",
    "sigma_from_abar",
    "euler_sigma_step",
]


# The trainers (and flow matching, whose trainer shares theirs) are imported on first use, so that
# ``python -m genai_lib.diffusion.train`` (the command line) runs that module once, not once as part of
# the package and again as ``__main__``.
_LAZY = {
    "DiffusionTrainer": "train",
    "TrainerConfig": "train",
    "FlowTrainer": "flow",
    "VelocityMLP": "flow",
    "flow_matching_loss": "flow",
    "linear_path": "flow",
}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
