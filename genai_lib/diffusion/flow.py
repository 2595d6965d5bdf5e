"""Flow matching: learn the velocity of a straight path from noise to data (Lipman et al. 2023; Liu et al. 2023).

Pair a noise x_0 ~ N(0, I) with a data point x_1 and join them by the straight line

    x_t = (1 - t) x_0 + t x_1,   t ∈ [0, 1],                      (the linear / rectified-flow path)

along which a particle moves at the constant velocity d x_t / dt = x_1 - x_0. Conditional flow
matching (Lipman et al. 2023, Eq. 9 with σ_min = 0; Liu et al. 2023, Eq. 1) regresses a network on
that velocity at a random time:

    L_CFM(θ) = E_{t ~ U[0, 1], x_0, x_1} ‖v_θ(x_t, t) - (x_1 - x_0)‖².

Its minimiser is the *marginal* field v(x, t) = E[x_1 - x_0 | x_t = x] (the conditional mean is the
least-squares predictor), whose flow carries N(0, I) at t = 0 to the data at t = 1 (Lipman et al.,
Theorem 1); sampling solves that ODE (:mod:`genai_lib.diffusion.ode`). The book's time runs from
noise (0) to data (1); diffusers' σ = 1 - t runs the other way (see :mod:`~genai_lib.diffusion.ode`).

* :class:`VelocityMLP` — the book's :class:`~genai_lib.diffusion.MLPDenoiser`, same layers and
  parameters, told a real time t ∈ [0, 1] (embedded as 1000 t, the DDPM models' range of steps);
* :func:`linear_path` and :func:`flow_matching_loss` — the path and the objective above;
* :class:`FlowTrainer` — the objective on the book's :class:`~genai_lib.training.Trainer`
  (``fit(steps)``, EMA, ``save``/``load``) with the DDPM trainer's :class:`TrainerConfig`, so that the
  two are trained with the same recipe; ``sample`` solves the ODE with the EMA weights.
"""

from __future__ import annotations

from dataclasses import asdict

import torch
import torch.nn.functional as F
from torch import nn

from genai_lib import distributed
from genai_lib._checks import check_int, check_labels, check_tensor
from genai_lib.diffusion.denoisers import MLPDenoiser
from genai_lib.diffusion.ode import EulerSampler, HeunSampler, ODESampler
from genai_lib.diffusion.sampling import draw_noise
from genai_lib.diffusion.train import BatchTrainer, TrainerConfig

__all__ = ["TIME_SCALE", "VelocityMLP", "linear_path", "flow_matching_loss", "FlowTrainer", "SAMPLERS"]

#: Times t ∈ [0, 1] enter the sinusoidal embedding as TIME_SCALE · t, the range of the DDPM models' steps.
TIME_SCALE = 1000.0
#: The ODE samplers by name, for :meth:`FlowTrainer.sample`.
SAMPLERS: dict[str, type[ODESampler]] = {"euler": EulerSampler, "heun": HeunSampler}


def _check_times(t: object, batch: int, device: torch.device) -> torch.Tensor:
    """``t`` as a float32 ``(B,)`` tensor of times in [0, 1] (a float or a 0-d tensor is broadcast)."""
    if isinstance(t, torch.Tensor):
        if not t.is_floating_point():
            raise TypeError(f"t must hold real times in [0, 1] (a float tensor), got dtype {t.dtype}")
        if t.dim() == 0:
            t = t.expand(batch)
        if t.shape != (batch,):
            raise ValueError(f"t must have shape ({batch},) (one time per sample) or be a scalar, got {tuple(t.shape)}")
    elif isinstance(t, (int, float)) and not isinstance(t, bool):
        t = torch.full((batch,), float(t))
    else:
        raise TypeError(f"t must be a float or a float tensor of times in [0, 1], got {type(t).__name__}")
    if not torch.isfinite(t).all() or (t < 0).any() or (t > 1).any():
        raise ValueError("t must hold times in [0, 1] (0 = noise, 1 = data)")
    return t.to(device=device, dtype=torch.float32)


class VelocityMLP(MLPDenoiser):
    """v_θ(x, t[, c]): the book's residual MLP (:class:`~genai_lib.diffusion.MLPDenoiser`) as a velocity field.

    Same config, layers and parameter count as the DDPM chapter's denoiser (so a comparison between
    the two objectives compares objectives, not networks); only the time input differs: a real
    t ∈ [0, 1], embedded as ``TIME_SCALE · t``. Built as ``VelocityMLP(MLPDenoiserConfig(...))`` or
    ``VelocityMLP(data_shape=(2,), hidden=128, ...)``; its output layer starts at zero (v = 0).
    """

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The velocity at ``x`` ``(B, *data_shape)`` and times ``t`` ``(B,)`` in [0, 1], for ``labels`` if given.

        Raises:
            TypeError / ValueError: for a mis-shaped ``x``, ``t`` or ``labels``, or times outside [0, 1].
        """
        check_tensor(x, "x", floating=True)
        if tuple(x.shape[1:]) != self.config.data_shape:
            raise ValueError(
                f"x must have shape (B, {', '.join(map(str, self.config.data_shape))}), got {tuple(x.shape)}"
            )
        batch = x.shape[0]
        emb = self.cond.time(TIME_SCALE * _check_times(t, batch, x.device))
        if self.cond.label is None:
            if labels is not None:
                raise ValueError("labels were given, but this model is unconditional (n_classes=None)")
        else:
            if labels is None:
                labels = torch.full((batch,), self.config.n_classes, dtype=torch.long, device=x.device)
            emb = emb + self.cond.label(check_labels(labels, "labels", batch, self.config.n_classes).to(x.device))
        h = self.inp(x.reshape(batch, self.dim))
        for block in self.blocks:
            h = block(h, emb)
        return self.out(F.silu(self.out_norm(h))).reshape(x.shape)


def linear_path(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 - t) x_0 + t x_1, with ``t`` ``(B,)`` broadcast over each sample (Liu et al. 2023, Eq. 1).

    Raises:
        ValueError: if ``x0`` and ``x1`` differ in shape or ``t`` is not ``(B,)``.
    """
    check_tensor(x0, "x0", floating=True)
    check_tensor(x1, "x1", floating=True)
    if x0.shape != x1.shape:
        raise ValueError(f"x1 must have the shape of x0 {tuple(x0.shape)}, got {tuple(x1.shape)}")
    check_tensor(t, "t", floating=True)
    if t.shape != (x0.shape[0],):
        raise ValueError(f"t must have shape ({x0.shape[0]},), one time per sample, got {tuple(t.shape)}")
    t = t.to(x0.dtype).reshape(-1, *([1] * (x0.dim() - 1)))
    return (1 - t) * x0 + t * x1


def flow_matching_loss(
    model: nn.Module,
    x1: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    generator: torch.Generator | None = None,
    t: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Monte-Carlo estimate of the conditional flow-matching loss on a batch of data ``x1``.

    L = mean ‖v_θ(x_t, t) - (x_1 - x_0)‖² with x_t = (1 - t) x_0 + t x_1, t ~ U[0, 1), x_0 ~ N(0, I)
    (Lipman et al. 2023, Eq. 23 with σ_min = 0; Liu et al. 2023, Eq. 1).

    Args:
        model: the velocity field, called as ``model(x_t, t)`` or ``model(x_t, t, labels)``.
        x1: a batch of data ``(B, ...)``.
        labels: optional int64 labels ``(B,)`` (already label-dropped for classifier-free guidance).
        generator: draws t (first) and the noise x_0 (second), on the generator's device.
        t, noise: fix the times ``(B,)`` or the noise instead of drawing them (demonstrations, tests).

    Returns:
        The mean squared error over the batch and all dimensions, a 0-d tensor.

    Raises:
        TypeError / ValueError: for mismatched shapes or times outside [0, 1], naming the argument.
    """
    check_tensor(x1, "x1", floating=True)
    if x1.dim() < 2:
        raise ValueError(f"x1 must be a batch of shape (B, ...), got {tuple(x1.shape)}")
    batch = x1.shape[0]
    if t is None:
        device = generator.device if generator is not None else x1.device
        t = torch.rand(batch, generator=generator, device=device)
    t = _check_times(t, batch, x1.device)
    if noise is None:
        noise = draw_noise(x1.shape, generator, x1.device, x1.dtype)
    elif not isinstance(noise, torch.Tensor) or noise.shape != x1.shape:
        raise ValueError(
            f"noise must be a tensor of x1's shape {tuple(x1.shape)}, "
            f"got {tuple(noise.shape) if isinstance(noise, torch.Tensor) else type(noise).__name__}"
        )
    x_t = linear_path(noise, x1, t)
    target = x1 - noise  # the conditional velocity: constant along the straight path
    v = model(x_t, t) if labels is None else model(x_t, t, check_labels(labels, "labels", batch).to(x1.device))
    if v.shape != target.shape:
        raise ValueError(f"model returned shape {tuple(v.shape)}, expected x1's shape {tuple(x1.shape)}")
    return F.mse_loss(v, target)


class FlowTrainer(BatchTrainer):
    """Train a velocity field with the flow-matching loss and keep an EMA of its weights.

    The flow-matching twin of :class:`~genai_lib.diffusion.DiffusionTrainer`: the same
    :class:`~genai_lib.diffusion.TrainerConfig` (batch size, AdamW, EMA, gradient clipping, label
    dropout, seed), the same batches-with-replacement, only the loss differs.

    Args:
        model: the velocity field (e.g. :class:`VelocityMLP`); trained in place.
        data: the training set, a float tensor ``(N, ...)``: the x_1 of the paths.
        labels: int64 labels ``(N,)`` for a class-conditional model (which must have ``null_label``).
        config: a :class:`~genai_lib.diffusion.TrainerConfig` (default settings if None).
        device: where to train; default: ``ranks.device`` when given, else where ``model``'s parameters are.
        ranks, grad_accum: several processes and accumulated micro-batches, as for
            :class:`~genai_lib.diffusion.DiffusionTrainer` (N ranks = one process with ``grad_accum=N``).

    Raises:
        TypeError / ValueError: for a bad argument, naming it.
    """

    desc = "flow"

    def __init__(
        self,
        model: nn.Module,
        data: torch.Tensor,
        labels: torch.Tensor | None = None,
        config: TrainerConfig | None = None,
        *,
        device: torch.device | str | None = None,
        ranks: distributed.Ranks | None = None,
        grad_accum: int = 1,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        self._setup(model, data, labels, config, device, ranks, grad_accum)

    def draw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """t ~ U[0, 1) (first) and x_0 ~ N(0, I) (second), as :func:`flow_matching_loss` draws them."""
        gen = self.rng
        t = torch.rand(x.shape[0], generator=gen, device=gen.device)
        return t, draw_noise(x.shape, gen, x.device, x.dtype)

    def objective(
        self, model: nn.Module, x: torch.Tensor, labels: torch.Tensor | None, t: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        """The flow-matching loss on the batch (the x_1 of the paths) at the drawn t and x_0."""
        return flow_matching_loss(model, x, labels, t=t, noise=noise)

    def sample(
        self,
        n: int,
        num_steps: int = 16,
        method: str = "heun",
        *,
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
        ema: bool = True,
    ) -> torch.Tensor:
        """Draw ``n`` samples by solving the ODE with ``method`` (``"euler"`` or ``"heun"``) in ``num_steps`` steps.

        Uses the EMA weights unless ``ema=False``. Returns ``(n, *data.shape[1:])`` on the trainer's device.
        """
        n = check_int(n, "n", minimum=1)
        if method not in SAMPLERS:
            raise ValueError(f"method must be one of {tuple(SAMPLERS)}, got {method!r}")
        model = self.ema_model if ema else self.model
        return SAMPLERS[method](num_steps).sample(model, (n, *self.data.shape[1:]), generator, labels=labels)

    def checkpoint_config(self) -> dict[str, object]:
        """Trainer and model configs, and the objective: a checkpoint loads only into a trainer built alike."""
        model_config = getattr(self.model, "config", None)
        return {
            "objective": "flow_matching",
            "trainer": asdict(self.config),
            "model": asdict(model_config) if model_config is not None else None,
        }
