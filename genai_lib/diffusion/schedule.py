"""The forward (noising) process: a variance schedule β_1..β_T and the closed form q(x_t | x_0).

Ho et al. (2020) define the forward process as a Markov chain that adds a little Gaussian noise
at every step (their Eq. 2),

    q(x_t | x_{t-1}) = N(x_t; √(1 - β_t) x_{t-1}, β_t I),

and show that it can be jumped to any step in one go (their Eq. 4), with α_t = 1 - β_t and
ᾱ_t = ∏_{s ≤ t} α_s:

    q(x_t | x_0) = N(x_t; √ᾱ_t x_0, (1 - ᾱ_t) I),   i.e.   x_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε,  ε ~ N(0, I).

:class:`NoiseSchedule` holds β, α and ᾱ for the two schedules the book uses:

* ``"linear"`` — β_t evenly spaced from ``beta_start = 1e-4`` to ``beta_end = 0.02`` (Ho et al. 2020, §4);
* ``"cosine"`` — ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2), s = 0.008, discretised as
  β_t = min(1 - ᾱ(t/T)/ᾱ((t-1)/T), 0.999) (Nichol & Dhariwal 2021, Eq. 17).

Indices follow the code convention of diffusers: step ``t`` runs over ``0 .. T-1`` and the
tensors are indexed by it (the paper's t = 1..T is our ``t + 1``). The numbers are built exactly as
diffusers' ``DDPMScheduler(beta_schedule="linear")`` and ``"squaredcos_cap_v2"`` build them
(float32, the cosine betas computed in double precision first), so the two agree to the last bit;
``tests/test_diffusion.py`` checks it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from genai_lib._checks import check_choice, check_fields, check_float, check_int, check_tensor

__all__ = ["NoiseSchedule", "SCHEDULE_KINDS"]

SCHEDULE_KINDS: tuple[str, ...] = ("linear", "cosine")


def _cosine_betas(num_steps: int, max_beta: float, offset: float = 0.008) -> torch.Tensor:
    """β_t of the cosine schedule (Nichol & Dhariwal 2021, Eq. 17), in double precision, then float32."""

    def alpha_bar(u: float) -> float:
        return math.cos((u + offset) / (1 + offset) * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / num_steps) / alpha_bar(i / num_steps), max_beta) for i in range(num_steps)]
    return torch.tensor(betas, dtype=torch.float32)


def check_timesteps(t: object, num_steps: int, batch: int | None = None, name: str = "t") -> torch.Tensor:
    """Return ``t`` as an int64 tensor of shape ``()`` or ``(batch,)`` with values in ``[0, num_steps)``."""
    if isinstance(t, torch.Tensor):
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer timesteps, got dtype {t.dtype}")
        if t.dim() > 1 or (t.dim() == 1 and batch is not None and t.shape[0] != batch):
            raise ValueError(
                f"{name} must be an int, a 0-d tensor or a tensor of shape ({batch},) "
                f"(one step per sample), got shape {tuple(t.shape)}"
            )
        t = t.long()
    else:
        t = torch.tensor(check_int(t, name), dtype=torch.long)
    if t.numel():
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= num_steps:
            raise ValueError(
                f"{name} must lie in [0, {num_steps - 1}] (num_steps={num_steps}), got values in [{lo}, {hi}]"
            )
    return t


@dataclass(frozen=True)
class NoiseSchedule:
    """A variance schedule β_0..β_{T-1} with α_t = 1 - β_t and ᾱ_t = ∏_{s≤t} α_s (Ho et al. 2020, §2).

    The dataclass fields are the configuration (``dataclasses.asdict`` gives a JSON-ready dict);
    the tensors are derived from them: ``betas``, ``alphas``, ``alphas_cumprod`` (ᾱ) and
    ``alphas_cumprod_prev`` (ᾱ_{t-1}, with ᾱ_{-1} = 1), all float32 CPU tensors of length
    ``num_steps``.

    Args:
        kind: ``"linear"`` (Ho et al. 2020) or ``"cosine"`` (Nichol & Dhariwal 2021).
        num_steps: T, the number of diffusion steps (1000 in both papers).
        beta_start, beta_end: first and last β of the linear schedule (ignored by ``"cosine"``).
            The defaults are Ho et al.'s, chosen for T = 1000; with far fewer steps they leave
            signal in x_T (``alphas_cumprod[-1]`` tells you how much).
        max_beta: the cap on the cosine schedule's β (0.999 in Nichol & Dhariwal), which keeps
            the last step from being singular.

    Raises:
        ValueError / TypeError: for an unknown ``kind`` or out-of-range numbers, naming the argument.
    """

    kind: str = "cosine"
    num_steps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    max_beta: float = 0.999

    def __post_init__(self) -> None:
        beta = lambda v, n: check_float(v, n, minimum=0.0, maximum=1.0, strict_min=True)  # noqa: E731
        check_fields(
            self,
            {
                "kind": lambda v, n: check_choice(v, n, SCHEDULE_KINDS),
                "num_steps": lambda v, n: check_int(v, n, minimum=1),
                "beta_start": beta,
                "beta_end": beta,
                "max_beta": beta,
            },
        )
        start, end, cap = self.beta_start, self.beta_end, self.max_beta
        if end < start:
            raise ValueError(f"beta_end must be >= beta_start={start}, got {end}")
        if self.kind == "linear":
            betas = torch.linspace(start, end, self.num_steps, dtype=torch.float32)
        else:
            betas = _cosine_betas(self.num_steps, cap)
        alphas = 1.0 - betas
        alphas_cumprod = torch.cumprod(alphas, dim=0)
        prev = torch.cat([torch.ones(1), alphas_cumprod[:-1]])
        for name, value in [
            ("betas", betas),
            ("alphas", alphas),
            ("alphas_cumprod", alphas_cumprod),
            ("alphas_cumprod_prev", prev),
        ]:
            object.__setattr__(self, name, value)

    # betas, alphas, alphas_cumprod and alphas_cumprod_prev are set in __post_init__; they are
    # deliberately not dataclass fields, so asdict() and == see only the configuration.

    def _gather(self, values: torch.Tensor, t: object, like: torch.Tensor, name: str = "t") -> torch.Tensor:
        """``values[t]`` on ``like``'s device and dtype, shaped to broadcast over ``like`` (one t per sample)."""
        batch = like.shape[0] if like.dim() else None
        t = check_timesteps(t, self.num_steps, batch, name)
        out = values.to(device=like.device, dtype=like.dtype)[t.to(like.device)].flatten()
        return out.reshape(out.shape + (1,) * (like.dim() - 1)) if t.dim() else out.reshape(())

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        """Sample q(x_t | x_0): return x_t = √ᾱ_t x_0 + √(1 - ᾱ_t) ε (Ho et al. 2020, Eq. 4).

        Args:
            x0: clean data, shape ``(B, ...)``, floating point.
            noise: ε, the same shape as ``x0`` (draw it yourself, e.g. ``torch.randn_like(x0)``,
                so that the loss can compare the model's prediction with it).
            t: an int (one step for the whole batch) or an integer tensor of shape ``(B,)`` (one per
                sample), each in ``[0, num_steps)``.

        Raises:
            TypeError: if ``x0`` or ``noise`` is not a floating-point tensor or ``t`` is not integer.
            ValueError: if ``noise``'s shape differs from ``x0``'s or ``t`` is out of range / mis-shaped.
        """
        check_tensor(x0, "x0", floating=True)
        check_tensor(noise, "noise", floating=True)
        if noise.shape != x0.shape:
            raise ValueError(f"noise must have the shape of x0 {tuple(x0.shape)}, got {tuple(noise.shape)}")
        abar = self._gather(self.alphas_cumprod, t, x0)
        # The same operations, in the same order, as diffusers' DDPMScheduler.add_noise.
        return abar**0.5 * x0 + (1 - abar) ** 0.5 * noise

    def _abar_for(self, x_t: torch.Tensor, other: torch.Tensor, name: str, t: object) -> torch.Tensor:
        """ᾱ_t shaped for ``x_t``, after checking ``x_t`` and ``other`` (named ``name``) are float tensors alike."""
        check_tensor(x_t, "x_t", floating=True)
        check_tensor(other, name, floating=True)
        if other.shape != x_t.shape:
            raise ValueError(f"{name} must have the shape of x_t {tuple(x_t.shape)}, got {tuple(other.shape)}")
        return self._gather(self.alphas_cumprod, t, x_t)

    def predict_x0(self, x_t: torch.Tensor, eps: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        """Invert Eq. 4 for x_0: x̂_0 = (x_t - √(1 - ᾱ_t) ε̂) / √ᾱ_t (Ho et al. 2020, Eq. 15).

        This is why predicting the noise ε and predicting the clean sample x_0 are equivalent: at a
        known t each is an affine function of the other and of x_t.

        Raises:
            TypeError / ValueError: as :meth:`add_noise`, naming ``x_t``, ``eps`` or ``t``.
        """
        abar = self._abar_for(x_t, eps, "eps", t)
        return (x_t - (1 - abar) ** 0.5 * eps) / abar**0.5

    def predict_eps(self, x_t: torch.Tensor, x0: torch.Tensor, t: int | torch.Tensor) -> torch.Tensor:
        """Invert Eq. 4 for ε: ε = (x_t - √ᾱ_t x_0) / √(1 - ᾱ_t) (Ho et al. 2020, Eq. 4 rearranged).

        Raises:
            TypeError / ValueError: as :meth:`add_noise`, naming ``x_t``, ``x0`` or ``t``.
        """
        abar = self._abar_for(x_t, x0, "x0", t)
        return (x_t - abar**0.5 * x0) / (1 - abar) ** 0.5

    def snr(self, t: int | torch.Tensor | None = None) -> torch.Tensor:
        """Signal-to-noise ratio SNR(t) = ᾱ_t / (1 - ᾱ_t) (Kingma et al. 2021; Nichol & Dhariwal 2021, §3.2).

        Args:
            t: an int or integer tensor of steps in ``[0, num_steps)``; ``None`` for all T steps.

        Returns:
            A float64 tensor (the ratio spans many orders of magnitude; plot it on a log scale).
        """
        abar = self.alphas_cumprod.double()
        if t is not None:
            abar = abar[check_timesteps(t, self.num_steps)]
        return abar / (1 - abar)

    def to_dict(self) -> dict[str, object]:
        """The configuration as a JSON-ready dict (what a checkpoint stores beside the weights)."""
        return {
            "kind": self.kind,
            "num_steps": self.num_steps,
            "beta_start": self.beta_start,
            "beta_end": self.beta_end,
            "max_beta": self.max_beta,
        }
