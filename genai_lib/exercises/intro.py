"""Checkers for the exercises of the introduction (chapter 0)."""

from __future__ import annotations

import math
from typing import Any

import torch


def _report(ok: bool, message: str) -> bool:
    print(("✔ correct: " if ok else "✘ not yet: ") + message)
    return ok


def linear_alpha_bar(t: int, num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> float:
    """ᾱ_t = ∏_{s=1}^{t} (1 − β_s) for Ho et al. (2020)'s linear schedule β_1..β_T, with ᾱ_0 = 1."""
    betas = torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)
    return float(torch.prod(1 - betas[:t]))


def check_signal_fraction(answer: Any, t: int = 500) -> bool:
    """Exercise 0.1: the coefficient √ᾱ_t of the clean image in x_t at step ``t`` (linear schedule, T = 1000)."""
    if isinstance(answer, torch.Tensor):
        answer = answer.item()
    if not isinstance(answer, (int, float)) or isinstance(answer, bool):
        raise TypeError(f"answer must be a number, got {type(answer).__name__}")
    truth = math.sqrt(linear_alpha_bar(t))
    if math.isclose(answer, truth, rel_tol=1e-3):
        return _report(True, f"√ᾱ_{t} = {truth:.4f}: about {100 * truth:.1f}% of the image's amplitude is left.")
    if math.isclose(answer, truth**2, rel_tol=1e-3):
        return _report(False, "that is ᾱ_t itself; the image is scaled by its square root.")
    if math.isclose(answer, 1 - truth**2, rel_tol=1e-3) or math.isclose(answer, math.sqrt(1 - truth**2), rel_tol=1e-3):
        return _report(False, "that is the noise's share; the question asks for the clean image's coefficient.")
    return _report(False, f"{answer:.4g} is not √ᾱ_{t}. Multiply (1 − β_s) for s = 1..{t}, then take the square root.")


def check_vocabulary_size(answer: Any, text: str) -> bool:
    """Exercise 0.2: the number of distinct characters in ``text``."""
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise TypeError(f"answer must be an int, got {type(answer).__name__}")
    truth = len(set(text))
    if answer == truth:
        return _report(True, f"{truth} distinct characters: a character-level model has {truth} outputs.")
    if answer == len(text):
        return _report(False, "that is the length of the text; count each distinct character once (set()).")
    hint = "too few: did you lower-case the text or drop punctuation and newlines?" if answer < truth else "too many"
    return _report(False, f"{answer} is {hint}")


def check_ring_centres(answer: Any, radius: float = 2.0) -> bool:
    """Exercise 0.3: the 8 centres of ``ring8`` as an (8, 2) tensor, at angles 2πk/8 on a circle of ``radius``."""
    if not isinstance(answer, torch.Tensor):
        raise TypeError(f"answer must be a torch.Tensor of shape (8, 2), got {type(answer).__name__}")
    if tuple(answer.shape) != (8, 2):
        return _report(False, f"expected shape (8, 2) — eight (x, y) rows — got {tuple(answer.shape)}")
    answer = answer.double()
    radii = answer.norm(dim=1)
    if not torch.allclose(radii, torch.full_like(radii, radius), atol=1e-4):
        return _report(False, f"every centre should lie at distance {radius} from the origin; yours lie at {radii.tolist()}")
    k = torch.arange(8, dtype=torch.float64)
    truth = radius * torch.stack([torch.cos(2 * math.pi * k / 8), torch.sin(2 * math.pi * k / 8)], dim=1)
    if torch.allclose(answer, truth, atol=1e-4):
        return _report(True, "eight centres, 45° apart, starting on the positive x axis.")
    if torch.cdist(answer, truth).min(dim=1).values.max() < 1e-4:
        return _report(True, "the right eight centres (in a different order, which does not matter for a mixture).")
    return _report(False, "the radius is right but the angles are not multiples of 45° starting at 0.")
