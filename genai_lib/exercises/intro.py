"""Checkers for the exercises of the introduction (chapter 0).

Each ``check_...`` prints ✔ or ✘ with a hint and returns ``True`` only for a right answer; a wrong
answer gets a hint, never the expected value. ``solution(name)`` prints the answer and why, where
``name`` is the checker's name: ``solution("check_signal_fraction")``. Numbers are accepted to 3
significant figures.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from genai_lib.exercises._common import NEAR, Solutions, matches, near, number, report

__all__ = ["check_signal_fraction", "check_vocabulary_size", "check_ring_centres", "solution", "linear_alpha_bar"]

_SOLUTIONS = Solutions("genai_lib.exercises.intro")


def linear_alpha_bar(t: int, num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> float:
    """ᾱ_t = ∏_{s=1}^{t} (1 − β_s) for Ho et al. (2020)'s linear schedule β_1..β_T, with ᾱ_0 = 1."""
    betas = torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)
    return float(torch.prod(1 - betas[:t]))


def check_signal_fraction(answer: Any, t: int = 500) -> bool:
    """Exercise 0.1: the coefficient √ᾱ_t of the clean image in x_t at step ``t`` (linear schedule, T = 1000)."""
    value = number(answer)
    abar = linear_alpha_bar(t)
    truth = math.sqrt(abar)
    if matches(value, truth):
        return report(True, f"√ᾱ_{t} = {truth:.4f}: about {100 * truth:.1f}% of the image's amplitude is left.")
    if matches(value, abar):
        return report(False, "that is ᾱ_t itself, a share of the *power*; the image's amplitude is scaled by "
                             "its square root.")
    if matches(value, 1 - abar) or matches(value, math.sqrt(1 - abar)):
        return report(False, "that is the noise's share; the question asks for the clean image's coefficient.")
    if matches(value, math.sqrt(linear_alpha_bar(t + 1))) or matches(value, math.sqrt(linear_alpha_bar(t - 1))):
        return report(False, f"off by one step: ᾱ_{t} multiplies (1 − β_s) for s = 1..{t}, and alpha_bar[0] "
                             "is ᾱ_0 = 1.")
    if near(value, truth):
        return report(False, NEAR)
    return report(False, f"{value:.4g} is not √ᾱ_{t}. Revisit how ᾱ_t is built from the β_s, and which power "
                          "of it scales the image.")


def check_vocabulary_size(answer: Any, text: str) -> bool:
    """Exercise 0.2: the number of distinct characters in ``text``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be the chapter's text as a str, got {type(text).__name__}")
    value = number(answer)
    truth = len(set(text))
    if value == truth:
        return report(True, f"{truth} distinct characters: a character-level model has {truth} outputs.")
    if value == len(text):
        return report(False, "that is the length of the text; count each distinct character once (set()).")
    if value == len(set(text.lower())):
        return report(False, "too few: upper- and lower-case letters are different characters.")
    if value == len(set(text) - {"\n"}) or value == len(set(text) - {" ", "\n"}):
        return report(False, "too few: the space and the newline are characters too.")
    if value < truth:
        return report(False, f"{value:g} is too few: did you lower-case the text or drop punctuation, spaces "
                             "or newlines?")
    return report(False, f"{value:g} is too many: count each distinct character once, over the whole text.")


def check_ring_centres(answer: Any, radius: float = 2.0) -> bool:
    """Exercise 0.3: the 8 centres of ``ring8`` as an (8, 2) tensor, at angles 2πk/8 on a circle of ``radius``."""
    if not isinstance(answer, torch.Tensor):
        raise TypeError(f"answer must be a torch.Tensor of shape (8, 2), got {type(answer).__name__}")
    if tuple(answer.shape) != (8, 2):
        return report(False, f"expected shape (8, 2) — eight (x, y) rows — got {tuple(answer.shape)}")
    answer = answer.detach().double().cpu()
    radii = answer.norm(dim=1)
    if not torch.allclose(radii, torch.full_like(radii, radius), atol=1e-3):
        return report(False, f"every centre should lie at distance {radius:g} from the origin; yours lie at "
                             f"{[round(r, 3) for r in radii.tolist()]}")
    k = torch.arange(8, dtype=torch.float64)
    truth = radius * torch.stack([torch.cos(2 * math.pi * k / 8), torch.sin(2 * math.pi * k / 8)], dim=1)
    if torch.allclose(answer, truth, atol=1e-3):
        return report(True, "eight centres, 45° apart, starting on the positive x axis.")
    if torch.cdist(answer, truth).min(dim=1).values.max() < 1e-3:
        return report(True, "the right eight centres (in a different order, which does not matter for a mixture).")
    in_degrees = radius * torch.stack([torch.cos(k * 45.0), torch.sin(k * 45.0)], dim=1)  # 45k fed as radians
    if torch.cdist(answer, in_degrees).min(dim=1).values.max() < 1e-3:
        return report(False, "the angles were taken in degrees; torch.cos and torch.sin take radians.")
    return report(False, "the radius is right but the angles are not: they should be 2πk/8 for k = 0..7, "
                         "in radians (torch.cos takes radians).")


def solution(name: str) -> None:
    """Print the answer of the exercise that checker ``name`` checks, with a short explanation.

    ``name`` is the checker's name, e.g. ``solution("check_signal_fraction")``; a wrong name raises a
    ValueError that lists the valid names.
    """
    _SOLUTIONS.show(name)


@_SOLUTIONS.add("check_signal_fraction")
def _() -> tuple[str, str]:
    truth = math.sqrt(linear_alpha_bar(500))
    return (f"√ᾱ_500 ≈ {truth:.3f}, i.e. alpha_bar[500].sqrt()",
            f"ᾱ_t multiplies (1 − β_s) for s = 1..t, and x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, so the image keeps "
            f"√ᾱ_t of its amplitude. Halfway through the process about {100 * truth:.0f} % of it remains, and "
            f"the noise carries √(1 − ᾱ_500) ≈ {math.sqrt(1 - truth ** 2):.2f}.")


@_SOLUTIONS.add("check_vocabulary_size")
def _() -> tuple[str, str]:
    return ("len(set(text))",
            "A set keeps each character once. Upper- and lower-case letters, digits, punctuation, the space "
            "and the newline all count: each is one output of a character-level model.")


@_SOLUTIONS.add("check_ring_centres")
def _() -> tuple[str, str]:
    return ("k = torch.arange(8); angles = 2 * math.pi * k / 8; "
            "answer = 2 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)",
            "A point at angle θ on a circle of radius r is (r cos θ, r sin θ); eight angles 45° apart, starting "
            "at 0, give the ring's centres, the same as data.mode_centres('ring8').")
