"""ODE samplers: integrate a learned velocity field dx/dt = v_θ(x, t) from noise (t = 0) to data (t = 1).

A flow-matching model (:mod:`genai_lib.diffusion.flow`) learns a velocity field whose flow carries
N(0, I) at t = 0 to the data at t = 1 (Lipman et al. 2023; Liu et al. 2023). Sampling is solving
the ordinary differential equation

    dx/dt = v_θ(x, t),    x(0) ~ N(0, I),    sample = x(1),

on a grid 0 = t_0 < t_1 < ... < t_N = 1 with steps h_i = t_{i+1} - t_i:

* :class:`EulerSampler` — x_{i+1} = x_i + h_i v_θ(x_i, t_i): first order, one network call per step;
* :class:`HeunSampler` — Heun's method (the explicit trapezoidal rule), the second-order sampler of
  Karras et al. (2022, EDM, Alg. 1 without noise injection):

      d_i = v_θ(x_i, t_i),   x̃ = x_i + h_i d_i,   x_{i+1} = x_i + h_i (d_i + v_θ(x̃, t_{i+1})) / 2,

  two calls per step. EDM takes a plain Euler step on the last interval because its σ = 0 end is
  singular; a velocity field is defined at t = 1 too, so here every step is a Heun step unless
  ``euler_last=True`` (EDM's and diffusers' choice, 2 N - 1 calls).

Time convention: the book follows Lipman et al. and Liu et al.: **t = 0 is noise, t = 1 is data**,
x_t = (1 - t) x_0 + t x_1 with x_0 ~ N(0, I) the noise and x_1 the data. diffusers' flow-matching
schedulers (``FlowMatchEulerDiscreteScheduler``, ``FlowMatchHeunDiscreteScheduler``) run the other
way: σ = 1 - t (σ = 1 is noise) and their model predicts noise - data = -v. Their steps are these
steps in that change of variables (``tests/test_flow.py`` checks it number for number).

The samplers share the surface of :class:`~genai_lib.diffusion.sampling.Sampler`: ``step``,
``iter_steps`` (one state per step, for live explorers) and ``sample`` (the final x_1, or a
:class:`ODETrajectory` holding every state, for the static scrubbers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from genai_lib import module_device
from genai_lib._checks import check_bool, check_int, check_labels, check_tensor
from genai_lib.diffusion.sampling import draw_noise
from genai_lib.training import progress_bar

__all__ = ["ode_times", "ODEStepOutput", "ODEState", "ODETrajectory", "ODESampler", "EulerSampler", "HeunSampler"]

VelocityField = Callable[..., torch.Tensor]


def ode_times(num_steps: int) -> torch.Tensor:
    """The uniform grid ``t_i = i / N``, i = 0..N, float32 ``(N + 1,)``: from noise (0) to data (1)."""
    n = check_int(num_steps, "num_steps", minimum=1)
    return torch.linspace(0.0, 1.0, n + 1, dtype=torch.float64).float()


def _check_times(times: object) -> torch.Tensor:
    check_tensor(times, "times", floating=True)
    if times.dim() != 1 or times.numel() < 2:
        raise ValueError(f"times must be a 1-D tensor of at least 2 times, got shape {tuple(times.shape)}")
    if not torch.isfinite(times).all() or not (times[1:] > times[:-1]).all():
        raise ValueError("times must be finite and strictly increasing (from noise, t = 0, towards data, t = 1)")
    return times.detach().to("cpu", torch.float32)


@dataclass
class ODEStepOutput:
    """One solver step: ``prev_sample`` (x at the next time, the name diffusers uses), ``velocity`` (the
    slope the step used: d_i for Euler, (d_i + d̃)/2 for Heun) and ``pred_x1`` (x_i + (1 - t_i) d_i, the
    data point a straight path at the current slope reaches at t = 1)."""

    prev_sample: torch.Tensor
    velocity: torch.Tensor
    pred_x1: torch.Tensor


@dataclass
class ODEState:
    """One step as :meth:`ODESampler.iter_steps` yields it: step ``index``, times ``t`` → ``t_next``,
    the input ``x_t``, the step's ``velocity`` and ``pred_x1``, and its output ``prev_sample``."""

    index: int
    t: float
    t_next: float
    x_t: torch.Tensor
    velocity: torch.Tensor
    pred_x1: torch.Tensor
    prev_sample: torch.Tensor


@dataclass
class ODETrajectory:
    """Every state of one solve, on the CPU.

    Attributes:
        times: float32 ``(S + 1,)``, the grid, 0 (noise) first.
        x: ``(S + 1, B, ...)``: ``x[0]`` the starting noise, ``x[i + 1]`` the state after step ``i``.
        velocity: ``(S, B, ...)``, the slope each step used.
        pred_x1: ``(S, B, ...)``, the straight-line guess of the data point at each step.
        nfe: network calls spent.
    """

    times: torch.Tensor
    x: torch.Tensor
    velocity: torch.Tensor
    pred_x1: torch.Tensor
    nfe: int

    @property
    def final(self) -> torch.Tensor:
        """The sample x(1) (``x[-1]``)."""
        return self.x[-1]

    def __len__(self) -> int:
        return int(self.times.numel()) - 1


class ODESampler:
    """Base of the ODE samplers: a time grid, :meth:`step`, and the loop around it.

    Args:
        num_steps: N, the number of solver steps on the uniform grid :func:`ode_times`; or
        times: the grid itself, strictly increasing (e.g. ``1 - sigmas`` of a diffusers schedule).

    Attributes:
        times: float32 ``(N + 1,)``; ``nfe``: the network calls one solve costs.
    """

    calls_per_step = 1

    def __init__(self, num_steps: int | None = None, *, times: torch.Tensor | None = None) -> None:
        if (num_steps is None) == (times is None):
            raise ValueError("pass exactly one of num_steps (a uniform grid on [0, 1]) and times (a grid of your own)")
        self.times = ode_times(num_steps) if times is None else _check_times(times)

    @property
    def num_steps(self) -> int:
        return int(self.times.numel()) - 1

    @property
    def nfe(self) -> int:
        """Network calls per solve (number of function evaluations)."""
        return self.calls_per_step * self.num_steps

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_steps={self.num_steps}, nfe={self.nfe})"

    def step(
        self, velocity_fn: Callable[[torch.Tensor, float], torch.Tensor], x: torch.Tensor, t: float, t_next: float
    ) -> ODEStepOutput:  # pragma: no cover - abstract
        """One step x(t) → x(t_next); ``velocity_fn(x, t)`` evaluates the field (see the subclasses)."""
        raise NotImplementedError

    @staticmethod
    def _check_step_args(velocity_fn: object, x: object, t: object, t_next: object) -> tuple[float, float]:
        if not callable(velocity_fn):
            raise TypeError(f"velocity_fn must be callable as velocity_fn(x, t), got {type(velocity_fn).__name__}")
        check_tensor(x, "x", floating=True)
        t, t_next = float(t), float(t_next)  # type: ignore[arg-type]
        if not t_next > t:
            raise ValueError(f"t_next must be later than t (towards the data), got t={t}, t_next={t_next}")
        return t, t_next

    def iter_steps(
        self,
        model: VelocityField,
        shape: Sequence[int],
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
        *,
        x0: torch.Tensor | None = None,
        progress: bool = False,
    ) -> Iterator[ODEState]:
        """Solve from x(0) and yield an :class:`ODEState` after every step (arguments as :meth:`sample`)."""
        if isinstance(shape, torch.Size):
            shape = tuple(shape)
        if not isinstance(shape, (tuple, list)) or not shape:
            raise TypeError(f"shape must be a non-empty tuple of ints such as (16, 1, 8, 8), got {shape!r}")
        shape = tuple(check_int(s, f"shape[{i}]", minimum=1) for i, s in enumerate(shape))
        if not callable(model):
            raise TypeError(f"model must be callable as model(x_t, t[, labels]), got {type(model).__name__}")
        if x0 is not None:
            check_tensor(x0, "x0", floating=True)
            if tuple(x0.shape) != shape:
                raise ValueError(f"x0 must have shape {shape} (the shape argument), got {tuple(x0.shape)}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        device = module_device(model, default=x0.device if x0 is not None else None)
        if labels is not None:
            labels = check_labels(labels, "labels", shape[0]).to(device)
        check_bool(progress, "progress")
        x = x0.to(device, copy=True) if x0 is not None else draw_noise(shape, generator, device)
        return self._loop(model, x, labels, progress)

    @torch.no_grad()
    def _loop(
        self, model: VelocityField, x: torch.Tensor, labels: torch.Tensor | None, progress: bool
    ) -> Iterator[ODEState]:
        was_training = model.training if isinstance(model, torch.nn.Module) else False
        if was_training:
            model.eval()

        def velocity_fn(x_: torch.Tensor, t_: float) -> torch.Tensor:
            t_batch = torch.full((x_.shape[0],), t_, dtype=torch.float32, device=x_.device)
            return model(x_, t_batch) if labels is None else model(x_, t_batch, labels)

        try:
            grid = self.times.tolist()
            for i in progress_bar(range(self.num_steps), desc="sample", disable=not progress, leave=False):
                out = self.step(velocity_fn, x, grid[i], grid[i + 1])
                yield ODEState(i, grid[i], grid[i + 1], x, out.velocity, out.pred_x1, out.prev_sample)
                x = out.prev_sample
        finally:
            if was_training:
                model.train()

    def sample(
        self,
        model: VelocityField,
        shape: Sequence[int],
        generator: torch.Generator | None = None,
        return_trajectory: bool = False,
        labels: torch.Tensor | None = None,
        *,
        x0: torch.Tensor | None = None,
        progress: bool = False,
    ) -> torch.Tensor | ODETrajectory:
        """Draw samples by solving dx/dt = v_θ(x, t) from x(0) ~ N(0, I) to t = 1.

        Args:
            model: the velocity field, ``model(x, t)`` or ``model(x, t, labels)`` with ``t`` a float32
                tensor ``(B,)`` of times in [0, 1] (e.g. :class:`~genai_lib.diffusion.flow.VelocityMLP`).
            shape: ``(B, ...)``, the batch to draw.
            generator: draws the starting noise (nothing else is random: the solve is deterministic).
            return_trajectory: return an :class:`ODETrajectory` instead of only x(1).
            labels: int64 labels ``(B,)`` for a class-conditional field.
            x0: the starting noise instead of a fresh draw (copied to the model's device).
            progress: show a progress bar over the steps.

        Returns:
            x(1) on the model's device, or an :class:`ODETrajectory` on the CPU.

        Raises:
            TypeError / ValueError: for a bad argument, naming it.
        """
        check_bool(return_trajectory, "return_trajectory")
        states = self.iter_steps(model, shape, generator, labels, x0=x0, progress=progress)
        if not return_trajectory:
            x = None
            for state in states:
                x = state.prev_sample
            return x
        xs, vs, x1s = [], [], []
        for state in states:
            if not xs:
                xs.append(state.x_t.detach().cpu())
            xs.append(state.prev_sample.detach().cpu())
            vs.append(state.velocity.detach().cpu())
            x1s.append(state.pred_x1.detach().cpu())
        return ODETrajectory(self.times.clone(), torch.stack(xs), torch.stack(vs), torch.stack(x1s), self.nfe)


class EulerSampler(ODESampler):
    """Euler's method on dx/dt = v_θ(x, t): x_{i+1} = x_i + h_i v_θ(x_i, t_i), one call per step.

    Exact when the field is constant along each path (straight paths at constant speed), which is
    what rectified flow aims for (Liu et al. 2023); its error is O(h) otherwise.
    """

    calls_per_step = 1

    def step(
        self, velocity_fn: Callable[[torch.Tensor, float], torch.Tensor], x: torch.Tensor, t: float, t_next: float
    ) -> ODEStepOutput:
        """One Euler step from ``t`` to ``t_next`` (both in [0, 1], ``t_next > t``)."""
        t, t_next = self._check_step_args(velocity_fn, x, t, t_next)
        d = velocity_fn(x, t)
        return ODEStepOutput(prev_sample=x + (t_next - t) * d, velocity=d, pred_x1=x + (1.0 - t) * d)


class HeunSampler(ODESampler):
    """Heun's second-order method (Karras et al. 2022, Alg. 1 with S_churn = 0), two calls per step.

    Args:
        num_steps, times: the grid, as :class:`ODESampler`.
        euler_last: take a plain Euler step on the last interval, as EDM and diffusers'
            ``FlowMatchHeunDiscreteScheduler`` do (``nfe = 2 N - 1``); default: Heun throughout (``2 N``).
    """

    def __init__(
        self, num_steps: int | None = None, *, times: torch.Tensor | None = None, euler_last: bool = False
    ) -> None:
        super().__init__(num_steps, times=times)
        self.euler_last = check_bool(euler_last, "euler_last")

    @property
    def nfe(self) -> int:
        return 2 * self.num_steps - (1 if self.euler_last else 0)

    def step(
        self, velocity_fn: Callable[[torch.Tensor, float], torch.Tensor], x: torch.Tensor, t: float, t_next: float
    ) -> ODEStepOutput:
        """One Heun step from ``t`` to ``t_next``: an Euler predictor, then the trapezoidal corrector."""
        t, t_next = self._check_step_args(velocity_fn, x, t, t_next)
        h = t_next - t
        d = velocity_fn(x, t)
        pred_x1 = x + (1.0 - t) * d
        x_euler = x + h * d
        if self.euler_last and t_next >= float(self.times[-1]):
            return ODEStepOutput(prev_sample=x_euler, velocity=d, pred_x1=pred_x1)
        d_next = velocity_fn(x_euler, t_next)
        slope = 0.5 * (d + d_next)
        return ODEStepOutput(prev_sample=x + h * slope, velocity=slope, pred_x1=pred_x1)
