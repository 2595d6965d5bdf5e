"""What every sampler shares: the reverse-process loop, and the record of it the explorers read.

A sampler (:class:`~genai_lib.diffusion.ddpm.DDPMSampler`, :class:`~genai_lib.diffusion.ddim.DDIMSampler`)
defines ``timesteps`` (the steps it visits, from noisy to clean) and ``step(eps, t, x_t)`` (one
update x_t → x_prev, Ho et al. 2020 Alg. 2 or Song et al. 2021 Eq. 12). This base class supplies the
loop around them, once, for all samplers:

* :meth:`Sampler.iter_steps` yields a :class:`SamplerState` after every step — x_t, the guided
  noise prediction ε̂, the predicted clean sample x̂_0 and the next state — for live widgets;
* :meth:`Sampler.sample` runs that iterator to the end and returns x_0, or with
  ``return_trajectory=True`` a :class:`Trajectory` holding every intermediate state. The static
  scrubbers, the live explorers and the quality measurements all go through this one loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from genai_lib import module_device
from genai_lib._checks import check_float, check_int, check_labels, check_tensor
from genai_lib.diffusion.guidance import guided_eps
from genai_lib.diffusion.schedule import NoiseSchedule
from genai_lib.training import progress_bar

__all__ = ["StepOutput", "SamplerState", "Trajectory", "Sampler", "draw_noise"]

Denoiser = Callable[..., torch.Tensor]


@dataclass
class StepOutput:
    """The result of one sampler step: ``prev_sample`` (x at the next, less noisy step) and
    ``pred_x0`` (x̂_0, the clean sample the step aimed at, Ho et al. 2020 Eq. 15)."""

    prev_sample: torch.Tensor
    pred_x0: torch.Tensor


@dataclass
class SamplerState:
    """One step of the reverse process as :meth:`Sampler.iter_steps` yields it.

    ``index`` counts steps from 0; ``t`` is the diffusion step visited; ``x_t`` the input of the
    step, ``eps`` the (guided) noise prediction ε̂ used, ``pred_x0`` the predicted clean sample
    x̂_0 and ``prev_sample`` the output (the next step's ``x_t``).
    """

    index: int
    t: int
    x_t: torch.Tensor
    eps: torch.Tensor
    pred_x0: torch.Tensor
    prev_sample: torch.Tensor


@dataclass
class Trajectory:
    """Every intermediate state of one sampling run, on the CPU, for explorers and figures.

    Attributes:
        timesteps: int64 ``(S,)``, the diffusion steps visited, noisiest first.
        x: ``(S + 1, B, ...)``: ``x[0]`` is the starting noise x_T, ``x[i + 1]`` the state after
            step ``i``; ``x[-1]`` is the sample.
        pred_x0: ``(S, B, ...)``, x̂_0 predicted at step ``i`` (Ho et al. 2020, Eq. 15).
        eps: ``(S, B, ...)``, the (guided) noise prediction ε̂ at step ``i``.

    Memory is about ``3 S`` batches: 1000 steps of 16 8×8 digits take 12 MB, of 1000 digits 0.8 GB.
    """

    timesteps: torch.Tensor
    x: torch.Tensor
    pred_x0: torch.Tensor
    eps: torch.Tensor

    @property
    def final(self) -> torch.Tensor:
        """The final sample x_0 (``x[-1]``)."""
        return self.x[-1]

    def __len__(self) -> int:
        return int(self.timesteps.numel())


def draw_noise(
    shape: Sequence[int],
    generator: torch.Generator | None,
    device: torch.device | str,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """N(0, I) noise of ``shape`` on ``device``, drawn as diffusers' ``randn_tensor`` draws it.

    With a ``generator`` the numbers are drawn on the generator's device and then moved, so a
    CPU generator gives the same noise whether the model runs on the CPU or a GPU.

    Raises:
        TypeError: if ``generator`` is neither None nor a ``torch.Generator``.
    """
    if generator is None:
        return torch.randn(tuple(shape), device=device, dtype=dtype)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return torch.randn(tuple(shape), generator=generator, device=generator.device, dtype=dtype).to(device)


class Sampler:
    """Base class of the samplers: subclasses set ``schedule`` and ``timesteps`` and define :meth:`step`."""

    schedule: NoiseSchedule
    timesteps: torch.Tensor

    def step(
        self, eps: torch.Tensor, t: int, x_t: torch.Tensor, generator: torch.Generator | None = None
    ) -> StepOutput:  # pragma: no cover - abstract
        """One reverse step x_t → x_prev; see the subclasses."""
        raise NotImplementedError

    def _check_step_args(self, eps: object, t: object, x_t: object, generator: object) -> int:
        check_tensor(eps, "eps", floating=True)
        check_tensor(x_t, "x_t", floating=True)
        if eps.shape != x_t.shape:
            raise ValueError(f"eps must have the shape of x_t {tuple(x_t.shape)}, got {tuple(eps.shape)}")
        if isinstance(t, torch.Tensor) and t.numel() != 1:
            raise ValueError(f"t must be a single step (an int) for step(); got a tensor of shape {tuple(t.shape)}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        return check_int(t, "t", minimum=0, maximum=self.schedule.num_steps - 1)

    def iter_steps(
        self,
        model: Denoiser,
        shape: Sequence[int],
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
        guidance_scale: float = 0.0,
        *,
        x_T: torch.Tensor | None = None,
        progress: bool = False,
    ) -> Iterator[SamplerState]:
        """Run the reverse process from x_T and yield a :class:`SamplerState` after every step.

        Arguments as :meth:`sample`; they are checked when this is called, before the first step.
        The model is put in eval mode while the iterator runs (restored when it is exhausted or
        closed) and called under ``torch.no_grad()``.
        """
        shape = self._check_shape(shape)
        w = check_float(guidance_scale, "guidance_scale", minimum=0.0)
        if w > 0 and labels is None:
            raise ValueError(f"guidance_scale={w} needs labels (the classes to guide towards); pass labels or use 0")
        if x_T is not None:
            check_tensor(x_T, "x_T", floating=True)
            if tuple(x_T.shape) != shape:
                raise ValueError(f"x_T must have shape {shape} (the shape argument), got {tuple(x_T.shape)}")
        device = module_device(model, default=x_T.device if x_T is not None else None)
        if labels is not None:
            labels = check_labels(labels, "labels", shape[0]).to(device)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        if not callable(model):
            raise TypeError(f"model must be callable as model(x_t, t[, labels]), got {type(model).__name__}")
        x = x_T.to(device, copy=True) if x_T is not None else draw_noise(shape, generator, device)
        return self._loop(model, x, labels, w, generator, progress)

    @torch.no_grad()  # as a decorator, no_grad is on only while the generator runs, not between yields
    def _loop(
        self,
        model: Denoiser,
        x: torch.Tensor,
        labels: torch.Tensor | None,
        w: float,
        generator: torch.Generator | None,
        progress: bool,
    ) -> Iterator[SamplerState]:
        was_training = model.training if isinstance(model, torch.nn.Module) else False
        if was_training:
            model.eval()
        try:
            steps = self.timesteps.tolist()
            for index, t in enumerate(progress_bar(steps, desc="sample", disable=not progress, leave=False)):
                t_batch = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
                eps = guided_eps(model, x, t_batch, labels, w)
                out = self.step(eps, t, x, generator=generator)
                yield SamplerState(index, t, x, eps, out.pred_x0, out.prev_sample)
                x = out.prev_sample
        finally:
            if was_training:
                model.train()

    def sample(
        self,
        model: Denoiser,
        shape: Sequence[int],
        generator: torch.Generator | None = None,
        return_trajectory: bool = False,
        labels: torch.Tensor | None = None,
        guidance_scale: float = 0.0,
        *,
        x_T: torch.Tensor | None = None,
        progress: bool = False,
    ) -> torch.Tensor | Trajectory:
        """Draw samples by running the reverse process from x_T ~ N(0, I) through ``timesteps``.

        Args:
            model: the denoiser ε_θ: ``model(x_t, t)`` or, with ``labels``, ``model(x_t, t, labels)``,
                with ``t`` an int64 tensor of shape ``(B,)``.
            shape: ``(B, ...)``, the shape of the batch to draw.
            generator: draws x_T and every step's noise, in the order diffusers' pipelines draw
                them; pass a seeded ``torch.Generator`` for a repeatable run.
            return_trajectory: return a :class:`Trajectory` with every x_t, x̂_0 and ε̂ instead of
                only the final sample.
            labels: int64 class labels of shape ``(B,)`` for a class-conditional denoiser.
            guidance_scale: w of classifier-free guidance (Ho & Salimans 2022, Eq. 6); 0 = none.
                diffusers' ``guidance_scale`` is 1 + w (see :mod:`genai_lib.diffusion.guidance`).
            x_T: the starting noise instead of a fresh draw (e.g. to interpolate between two
                noises with DDIM). It is copied to the model's device (a plain callable runs
                where ``x_T`` is), so a CPU ``x_T`` gives the same start on any device.
            progress: show a progress bar over the steps.

        Returns:
            The sample x_0 (on the model's device), or a :class:`Trajectory` (on the CPU).

        Raises:
            TypeError / ValueError: for a bad ``shape``, ``labels``, ``guidance_scale``, ``x_T`` or
                ``generator``, naming the argument.
        """
        if not isinstance(return_trajectory, bool):
            raise TypeError(f"return_trajectory must be a bool, got {type(return_trajectory).__name__}")
        states = self.iter_steps(model, shape, generator, labels, guidance_scale, x_T=x_T, progress=progress)
        if not return_trajectory:
            x = None
            for state in states:
                x = state.prev_sample
            return x
        xs: list[torch.Tensor] = []
        x0s, epss, ts = [], [], []
        for state in states:
            if not xs:
                xs.append(state.x_t.detach().cpu())
            xs.append(state.prev_sample.detach().cpu())
            x0s.append(state.pred_x0.detach().cpu())
            epss.append(state.eps.detach().cpu())
            ts.append(state.t)
        return Trajectory(torch.tensor(ts, dtype=torch.long), torch.stack(xs), torch.stack(x0s), torch.stack(epss))

    @staticmethod
    def _check_shape(shape: object) -> tuple[int, ...]:
        if isinstance(shape, torch.Size):
            shape = tuple(shape)
        if not isinstance(shape, (tuple, list)) or not shape:
            raise TypeError(f"shape must be a non-empty tuple of ints such as (16, 1, 8, 8), got {shape!r}")
        return tuple(check_int(s, f"shape[{i}]", minimum=1) for i, s in enumerate(shape))
