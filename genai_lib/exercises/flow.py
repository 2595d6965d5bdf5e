"""Checkers for the exercises of the flow-matching chapter (Part II, after guidance).

``from genai_lib.exercises import flow as ex``; ``ex.solution("check_...")`` prints an answer on request.
Time runs as in the book's flow chapter: t = 0 is noise x_0, t = 1 is data x_1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from genai_lib.diffusion.ode import HeunSampler
from genai_lib.exercises._common import Solutions, ask, report

__all__ = ["check_path_and_target", "check_heun_step", "check_one_step_samples", "check_marginal_reason", "solution"]

_SOLUTIONS = Solutions("genai_lib.exercises.flow")


def solution(name: str) -> None:
    """Print the answer of the exercise that checker ``name`` checks, with a short explanation."""
    _SOLUTIONS.show(name)


def _call(fn: Callable[..., Any], args: tuple, shown: str) -> tuple[bool, Any]:
    """Run the reader's function; on an exception, report it (a wrong answer, not a bug)."""
    try:
        return True, fn(*args)
    except Exception as err:  # the reader's code failing is an answer, not a bug
        return False, report(False, f"{shown} raised {type(err).__name__}: {err}")


def _close(a: Any, b: torch.Tensor) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a.float(), b, atol=1e-5, rtol=1e-4)


# -- the path and its velocity ---------------------------------------------------------------------


def check_path_and_target(fn: Callable[..., Any]) -> bool:
    """``fn(x0, x1, t)`` returns ``(x_t, u)``: the point on the straight path at times ``t`` ``(B,)`` and the
    regression target, x_t = (1 - t) x_0 + t x_1 and u = x_1 - x_0 (Eq. eq-flow-path, eq-flow-target)."""
    if not callable(fn):
        raise TypeError(f"fn must be a function fn(x0, x1, t) -> (x_t, u), got {type(fn).__name__}")
    gen = torch.Generator().manual_seed(11)
    x0, x1 = torch.randn(5, 1, 4, 4, generator=gen), torch.randn(5, 1, 4, 4, generator=gen)
    t = torch.tensor([0.0, 0.2, 0.5, 0.9, 1.0])
    tb = t.reshape(-1, 1, 1, 1)
    x_t, u = (1 - tb) * x0 + tb * x1, x1 - x0
    try:
        out = fn(x0.clone(), x1.clone(), t.clone())
    except Exception as err:  # the reader's code failing is an answer, not a bug
        hint = ""
        if "size of tensor" in str(err) or "broadcast" in str(err):
            hint = " t has one entry per sample: reshape it to (B, 1, 1, 1) so that it broadcasts over the pixels."
        return report(False, f"fn(x0, x1, t) raised {type(err).__name__}: {err}.{hint}")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        return report(False, "fn must return two tensors, (x_t, u): the point on the path and the target velocity.")
    got_x, got_u = out
    if not isinstance(got_x, torch.Tensor) or got_x.shape != x0.shape:
        return report(
            False,
            f"x_t must be a tensor of x0's shape {tuple(x0.shape)}: t has one entry per sample; reshape it to "
            "(B, 1, 1, 1) so that it broadcasts over each sample's pixels.",
        )
    if not _close(got_x, x_t):
        if _close(got_x, tb * x0 + (1 - tb) * x1):
            return report(False, "x_t runs the wrong way: at t = 0 it must be the noise x0 and at t = 1 the data x1.")
        return report(False, "x_t is not on the straight line between x0 and x1 at time t: check its two weights.")
    if not _close(got_u, u):
        if _close(got_u, -u):
            return report(False, "x_t is right; the velocity has the wrong sign: the path moves from x0 towards x1.")
        if isinstance(got_u, torch.Tensor) and got_u.shape == u.shape and torch.allclose(got_u[2], u[2], atol=1e-5):
            return report(
                False, "x_t is right; the velocity must not depend on t: differentiate x_t with respect to t."
            )
        return report(False, "x_t is right; the target is not d x_t / dt: differentiate the path with respect to t.")
    return report(True, "x_t = (1 − t) x0 + t x1 and its velocity x1 − x0, the same at every t: a straight path.")


# -- Heun's step -----------------------------------------------------------------------------------


def _test_field(x: torch.Tensor, t: float) -> torch.Tensor:
    return torch.sin(2 * x) * (1 + t) - 0.5 * x * t


def check_heun_step(fn: Callable[..., Any]) -> bool:
    """``fn(v, x, t, t_next)`` returns x at ``t_next`` after one Heun step (Eq. eq-flow-heun), where ``v(x, t)``
    evaluates the field at a float time ``t``. Exactly two calls of ``v`` are allowed."""
    if not callable(fn):
        raise TypeError(f"fn must be a function fn(v, x, t, t_next), got {type(fn).__name__}")
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(5))
    calls: list[tuple[torch.Tensor, float]] = []

    def v(x_: torch.Tensor, t_: float) -> torch.Tensor:
        calls.append((x_.detach().clone(), float(t_)))
        return _test_field(x_, float(t_))

    t, t_next = 0.25, 0.75
    truth = HeunSampler(times=torch.tensor([t, t_next])).step(_test_field, x, t, t_next).prev_sample
    ran, out = _call(fn, (v, x.clone(), t, t_next), "fn(v, x, 0.25, 0.75)")
    if not ran:
        return out
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        return report(False, f"fn must return the new x, a tensor of x's shape {tuple(x.shape)}.")
    if _close(out, truth):
        if len(calls) != 2:
            return report(False, f"the result is right but v was called {len(calls)} times; Heun needs exactly two.")
        return report(True, "an Euler predictor, then the average of the slopes at both ends: second order.")
    h = t_next - t
    d = _test_field(x, t)
    if _close(out, x + h * d):
        return report(False, "that is an Euler step: Heun also evaluates v at the predicted point and averages.")
    if _close(out, x + h * 0.5 * (d + _test_field(x, t_next))):
        return report(False, "the second slope must be taken at the Euler prediction x + h·v(x, t), not at x.")
    if _close(out, x + h * _test_field(x + h * d, t_next)):
        return report(False, "use the average of the two slopes, not the second alone.")
    if _close(out, x + h * 0.5 * (d + _test_field(x + h * d, t))):
        return report(False, "the second slope is taken at the later time t_next.")
    return report(False, "the result differs from Heun's step: predictor x + h·v(x, t), then the trapezoid.")


# -- change and run: one Euler step ---------------------------------------------------------------


def check_one_step_samples(samples: Any) -> bool:
    """Change-and-run: ``samples`` are at least 100 digits ``(N, 1, 8, 8)`` drawn with ``EulerSampler(1)`` from the
    shipped flow model. One Euler step from t = 0 lands every noise on (nearly) the same image: the mean digit."""
    if not isinstance(samples, torch.Tensor):
        raise TypeError(f"samples must be a tensor of digits (N, 1, 8, 8), got {type(samples).__name__}")
    if samples.dim() != 4 or tuple(samples.shape[1:]) != (1, 8, 8) or samples.shape[0] < 100:
        return report(False, f"pass at least 100 digits of shape (N, 1, 8, 8), got {tuple(samples.shape)}.")
    from genai_lib.data import load_digits  # the data are only needed to check

    images, _ = load_digits(8, split="train")
    x = samples.detach().float().cpu()
    spread = x.std(dim=0).mean().item()  # how different the samples are from each other, per pixel
    data_spread = images.std(dim=0).mean().item()
    off_mean = (x.mean(dim=0) - images.mean(dim=0)).abs().mean().item()
    if spread > 0.5 * data_spread:
        return report(
            False,
            "these samples differ from each other as much as real digits do: were they drawn with "
            "EulerSampler(1) (one network call) from the flow model?",
        )
    if off_mean > 0.1:
        return report(False, "the samples are alike, but their average is not the training digits' average.")
    return report(
        True,
        f"the samples barely differ (per-pixel spread {spread:.2f} against {data_spread:.2f} for real digits) "
        "and sit on the average training digit: v(x0, 0) = E[x1] − x0, so one step lands on E[x1].",
    )


# -- conceptual ------------------------------------------------------------------------------------

_MARGINAL = {
    "a": "the conditional targets x1 − x0 of all pairs through a point are equal, so there is nothing to average",
    "b": "the loss is a least-squares regression, and the least-squares predictor of the target given x_t is its "
    "conditional mean E[x1 − x0 | x_t], which is the marginal velocity",
    "c": "the network is told x1 as an input, so it can compute x1 − x0 exactly",
    "d": "because the paths are straight, the marginal flow's paths are straight too and never cross",
}


def check_marginal_reason(answer: Any) -> bool:
    """Multiple choice: why does regressing on the *conditional* target x1 − x0 train the *marginal* field?
    Answer with a letter, e.g. ``check_marginal_reason("a")``."""
    return ask(
        answer,
        _MARGINAL,
        "b",
        "the minimiser of E‖v(x_t, t) − u‖² over functions of (x_t, t) is E[u | x_t, t]; the conditional and "
        "marginal losses differ by a constant that does not depend on θ (Lipman et al. 2023, Theorem 2).",
        {
            "a": "many pairs (x0, x1) pass through the same x_t with different x1 − x0: what does a least-squares fit "
            "predict when one input has several targets?",
            "c": "look at the network's inputs in the loss: it sees x_t and t only, never x1.",
            "d": "the conditional paths are straight, but the marginal flow's are curved in general (the particle "
            "explorer shows it); what does the squared error make the network predict at a point?",
        },
    )


@_SOLUTIONS.add("check_path_and_target")
def _() -> tuple[str, str]:
    return (
        "def path_and_target(x0, x1, t):\n    tb = t.reshape(-1, *[1] * (x0.dim() - 1))\n"
        "    return (1 - tb) * x0 + tb * x1, x1 - x0",
        "The path is linear in t, so its derivative is the constant x1 − x0; t must be reshaped to broadcast.",
    )


@_SOLUTIONS.add("check_heun_step")
def _() -> tuple[str, str]:
    return (
        "def heun(v, x, t, t_next):\n    h = t_next - t\n    d = v(x, t)\n"
        "    return x + h * (d + v(x + h * d, t_next)) / 2",
        "Predict with Euler, evaluate the slope at the prediction and the later time, and step with the average "
        "of the two slopes (the trapezoidal rule): the local error is O(h³), the global O(h²).",
    )


@_SOLUTIONS.add("check_one_step_samples")
def _() -> tuple[str, str]:
    return (
        "x = diffusion.EulerSampler(1).sample(flow, (400, 1, 8, 8), torch.Generator().manual_seed(0))",
        "At t = 0, x_t = x0 is independent of x1, so the best prediction is v(x0, 0) = E[x1] − x0 and one step "
        "of length 1 gives x0 + E[x1] − x0 = E[x1]: every sample is the mean digit, a blur. That is the FD of "
        "the 1-call row of the table.",
    )


@_SOLUTIONS.add("check_marginal_reason")
def _() -> tuple[str, str]:
    return (f"(b) {_MARGINAL['b']}", "See the derivation of Eq. (eq-flow-marginal) in the chapter.")
