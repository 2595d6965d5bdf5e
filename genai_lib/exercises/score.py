"""Checkers for the exercises of the chapter on scores, SDEs and the probability-flow ODE (Part II, after DDIM).

``from genai_lib.exercises import score as ex``; ``ex.solution("check_...")`` prints an answer on request.
Notation as in the chapter: x_t = √ᾱ x_0 + √(1 - ᾱ) ε, the score is ∇ log p_t.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from genai_lib.exercises._common import Solutions, ask, report

__all__ = ["check_eps_from_score", "check_langevin_step", "check_v_target", "check_few_steps_reason", "solution"]

_SOLUTIONS = Solutions("genai_lib.exercises.score")


def solution(name: str) -> None:
    """Print the answer of the exercise that checker ``name`` checks, with a short explanation."""
    _SOLUTIONS.show(name)


def _callable(fn: object, signature: str) -> None:
    if not callable(fn):
        raise TypeError(f"fn must be a function {signature}, got {type(fn).__name__}")


def _run(fn: Callable[..., Any], args: tuple, shown: str) -> tuple[bool, Any]:
    try:
        return True, fn(*args)
    except Exception as err:  # the reader's code failing is an answer, not a bug
        return False, report(False, f"{shown} raised {type(err).__name__}: {err}")


def _close(a: Any, b: torch.Tensor) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a.float(), b, atol=1e-5, rtol=1e-4)


def _data(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(6, 2, generator=gen), torch.randn(6, 2, generator=gen)


# -- Tweedie: ε̂ from the score ---------------------------------------------------------------------------


def check_eps_from_score(fn: Callable[..., Any]) -> bool:
    """``fn(score, abar)`` returns the noise prediction ε̂ equivalent to the score ∇ log p_t at ᾱ = ``abar``
    (a float in (0, 1))."""
    _callable(fn, "fn(score, abar) -> eps")
    score, _ = _data(21)
    for abar in (0.9, 0.5, 0.04):
        ok, out = _run(fn, (score.clone(), abar), f"fn(score, {abar})")
        if not ok:
            return False
        if not isinstance(out, torch.Tensor) or out.shape != score.shape:
            return report(False, f"fn must return a tensor of the score's shape {tuple(score.shape)}.")
        s = math.sqrt(1 - abar)
        if _close(out, -s * score):
            continue
        if _close(out, s * score):
            return report(
                False, "the size is right but not the sign: the score points towards the data, the noise away."
            )
        if _close(out, -(1 - abar) * score):
            return report(
                False, "the factor is a variance; ε has unit variance, so the factor is a standard deviation."
            )
        if _close(out, -math.sqrt(abar) * score) or _close(out, -score / s):
            return report(False, "check which factor multiplies ε in x_t, and write E[x_t - √ᾱ x_0 | x_t] two ways.")
        return report(False, f"wrong at ᾱ = {abar}: write ∇ log q(x_t | x_0) in terms of ε and average over x_0.")
    return report(True, "ε̂ = -√(1 - ᾱ) ∇ log p_t: an ε-network is a score network in other units (Tweedie).")


# -- one Langevin step -----------------------------------------------------------------------------------


def check_langevin_step(fn: Callable[..., Any]) -> bool:
    """``fn(x, score, step_size, z)`` returns one unadjusted Langevin step with the given noise ``z``."""
    _callable(fn, "fn(x, score, step_size, z) -> x_next")
    x, score = _data(22)
    z = torch.randn(6, 2, generator=torch.Generator().manual_seed(23))
    delta = 0.05
    ok, out = _run(fn, (x.clone(), score.clone(), delta, z.clone()), "fn(x, score, step_size, z)")
    if not ok:
        return False
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        return report(False, f"fn must return the new points, a tensor of x's shape {tuple(x.shape)}.")
    if _close(out, x + delta * score + math.sqrt(2 * delta) * z):
        return report(True, "x + δ ∇log p + √(2δ) z: the drift climbs the density, the noise keeps it from collapsing.")
    if _close(out, x + delta * score + math.sqrt(delta) * z):
        return report(False, "the noise is too small by √2: with it the chain samples a sharper density than p.")
    if _close(out, x + delta * score + delta * z):
        return report(False, "the noise must scale with the square root of the step, as a Brownian increment does.")
    if _close(out, x - delta * score + math.sqrt(2 * delta) * z):
        return report(False, "the drift goes the wrong way: the score points uphill in log p.")
    if _close(out, x + delta * score):
        return report(False, "without noise this is gradient ascent: every point climbs to a mode and stops.")
    return report(False, "compare with the update: the drift term, then the noise term and its scale.")


# -- the v target ----------------------------------------------------------------------------------------


def check_v_target(fn: Callable[..., Any]) -> bool:
    """``fn(x0, eps, abar)`` returns Salimans & Ho's v-prediction target at ᾱ = ``abar`` (a float)."""
    _callable(fn, "fn(x0, eps, abar) -> v")
    x0, eps = _data(24)
    for abar in (0.8, 0.3):
        ok, out = _run(fn, (x0.clone(), eps.clone(), abar), f"fn(x0, eps, {abar})")
        if not ok:
            return False
        if not isinstance(out, torch.Tensor) or out.shape != x0.shape:
            return report(False, f"fn must return a tensor of x0's shape {tuple(x0.shape)}.")
        a, s = math.sqrt(abar), math.sqrt(1 - abar)
        if _close(out, a * eps - s * x0):
            continue
        if _close(out, s * x0 - a * eps):
            return report(False, "right terms, opposite sign: v is dx_t/dφ with x_t = cos φ x0 + sin φ ε.")
        if _close(out, a * x0 - s * eps) or _close(out, s * eps - a * x0):
            return report(False, "ε and x0 have swapped coefficients: differentiate cos φ x0 + sin φ ε in φ.")
        if _close(out, abar * eps - (1 - abar) * x0):
            return report(False, "the coefficients are √ᾱ and √(1 - ᾱ), the cos and sin of φ, not their squares.")
        return report(False, f"wrong at ᾱ = {abar}: write x_t = cos φ x0 + sin φ ε and differentiate in φ.")
    return report(True, "v = √ᾱ ε - √(1 - ᾱ) x0, the velocity of x_t round the circle (cos φ, sin φ).")


# -- why few steps work ----------------------------------------------------------------------------------

_FEW_STEPS_OPTIONS = {
    "a": "DDIM uses a higher-order solver than DDPM.",
    "b": "In y = x/√ᾱ against σ, most of the path is nearly a straight line, so Euler's error there is small.",
    "c": "The network was trained with fewer steps.",
    "d": "Adding noise at each step corrects the error.",
}


def check_few_steps_reason(answer: Any) -> bool:
    """Multiple choice: why can DDIM (η = 0) sample well with 10-50 large steps? Answer a letter as a str."""
    return ask(
        answer,
        _FEW_STEPS_OPTIONS,
        "b",
        "at large σ, ε̂ barely changes along the path, dy/dσ is nearly constant, and Euler is exact for a constant "
        "slope; the curvature is near the data, where the σ grid is fine.",
        {
            "a": "DDIM with η = 0 is Euler's method, first order: compare its update with an Euler step in σ.",
            "c": "the same network, trained with T = 1000 steps, serves every step count.",
            "d": "η = 0 adds no noise at all.",
        },
    )


@_SOLUTIONS.add("check_eps_from_score")
def _sol_eps() -> tuple[str, str]:
    return (
        "def eps_from_score(score, abar): return -(1 - abar) ** 0.5 * score",
        "∇ log q(x_t | x_0) = -(x_t - √ᾱ x_0)/(1 - ᾱ) = -ε/√(1 - ᾱ). The marginal score is the posterior mean of "
        "this conditional score, so ∇ log p_t = -E[ε | x_t]/√(1 - ᾱ).",
    )


@_SOLUTIONS.add("check_langevin_step")
def _sol_langevin() -> tuple[str, str]:
    return (
        "def step(x, score, step_size, z): return x + step_size * score + (2 * step_size) ** 0.5 * z",
        "The Euler–Maruyama step of dx = ∇log p dt + √2 dW, whose stationary density is p: the drift δ ∇log p "
        "climbs the density and the noise √(2δ) z, a Brownian increment over time δ, keeps it spread out.",
    )


@_SOLUTIONS.add("check_v_target")
def _sol_v() -> tuple[str, str]:
    return (
        "def v(x0, eps, abar): return abar ** 0.5 * eps - (1 - abar) ** 0.5 * x0",
        "With √ᾱ = cos φ and √(1 - ᾱ) = sin φ, x_t = cos φ x0 + sin φ ε and dx_t/dφ = cos φ ε - sin φ x0.",
    )


@_SOLUTIONS.add("check_few_steps_reason")
def _sol_few() -> tuple[str, str]:
    return (
        "b",
        "DDIM (η = 0) is Euler on dy/dσ = ε̂; at large σ, ε̂ ≈ y/σ and the path is a ray through 0, near the data "
        "it is a straight line into the chosen cluster, and only the middle of the path bends.",
    )
