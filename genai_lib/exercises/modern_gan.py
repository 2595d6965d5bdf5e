"""Checkers for the exercises of "The modern GAN" (Part I, chapter 4): :func:`check_hinge_loss`,
:func:`check_power_iteration`, :func:`check_augment_both`, :func:`check_truncation_trade`.

Each ``check_...`` prints ✔ or ✘ with a hint and returns ``True`` only for a right answer; a wrong
answer gets a hint, never the expected value. ``solution(name)`` prints the answer and why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from genai_lib.exercises._common import NEAR, Solutions, ask, matches, near, number, report

__all__ = ["check_hinge_loss", "check_power_iteration", "check_augment_both", "check_truncation_trade", "solution"]

_SOLUTIONS = Solutions("genai_lib.exercises.modern_gan")

#: the raw discriminator outputs of the hinge-loss exercise
HINGE_REAL = (1.5, 0.2, 0.9)
HINGE_FAKE = (-0.5, -2.0, 0.3)


def solution(name: str) -> None:
    """Print the answer of the exercise that checker ``name`` checks, e.g. ``solution("check_hinge_loss")``."""
    _SOLUTIONS.show(name)


def _hinge_terms() -> tuple[float, float]:
    real = sum(max(0.0, 1 - r) for r in HINGE_REAL) / len(HINGE_REAL)
    fake = sum(max(0.0, 1 + f) for f in HINGE_FAKE) / len(HINGE_FAKE)
    return real, fake


def check_hinge_loss(answer: Any) -> bool:
    """The discriminator's hinge loss (Eq. eq-modern-hinge-d) on real outputs ``HINGE_REAL`` and fake
    outputs ``HINGE_FAKE``, to 3 significant figures."""
    value = number(answer)
    real, fake = _hinge_terms()
    truth = real + fake
    if matches(value, truth):
        return report(True, f"{real:.3f} from the real outputs + {fake:.3f} from the fake ones.")
    no_clip = sum(1 - r for r in HINGE_REAL) / 3 + sum(1 + f for f in HINGE_FAKE) / 3
    if matches(value, no_clip):
        return report(False, "outputs beyond the margin cost nothing: each term is max(0, ·), never negative.")
    if matches(value, real) or matches(value, fake):
        return report(False, "that is one of the two expectations; the loss adds the real and the fake term.")
    swapped = sum(max(0.0, 1 + r) for r in HINGE_REAL) / 3 + sum(max(0.0, 1 - f) for f in HINGE_FAKE) / 3
    if matches(value, swapped):
        return report(False, "the signs are swapped: real samples should score above +1, fakes below −1.")
    if near(value, truth):
        return report(False, NEAR)
    return report(False, "average max(0, 1 − D(x)) over the real outputs and max(0, 1 + D(G(z))) over the fakes.")


@_SOLUTIONS.add("check_hinge_loss")
def _() -> tuple[str, str]:
    real, fake = _hinge_terms()
    return (
        f"{real + fake:.4g}",
        f"Real: max(0, 1 − 1.5) = 0, max(0, 0.8) = 0.8, max(0, 0.1) = 0.1, mean {real:.4g}. Fake: max(0, 0.5) = 0.5, "
        f"max(0, −1) = 0, max(0, 1.3) = 1.3, mean {fake:.4g}. The real output 1.5 and the fake −2 lie beyond the "
        "margin and contribute neither loss nor gradient.",
    )


def check_power_iteration(fn: Callable[[torch.Tensor, int], float]) -> bool:
    """``fn(W, steps)`` estimates the largest singular value of a matrix ``W`` by ``steps`` power iterations
    (Miyato et al. 2018, Alg. 1); checked against the SVD on a few matrices, to 0.1 % after 50 steps."""
    if not callable(fn):
        raise TypeError(f"fn must be a function fn(W, steps) -> float, got {type(fn).__name__}")
    gen = torch.Generator().manual_seed(0)
    mats = [torch.randn(7, 12, generator=gen), torch.randn(20, 5, generator=gen) * 3]
    mats.append(torch.diag(torch.tensor([2.0, 1.0])))
    for w in mats:
        truth = float(torch.linalg.matrix_norm(w, ord=2))
        try:
            got = number(fn(w.clone(), 50), "fn(W, steps)")
        except TypeError as err:
            return report(False, f"return one number, σ̂ = uᵀ W v: {err}")
        except Exception as err:  # the reader's code: report, do not raise
            return report(False, f"your function raised {type(err).__name__}: {err}")
        if abs(got - truth) > 1e-3 * truth:
            frob = float(w.norm())
            if abs(got - frob) < 1e-3 * frob:
                return report(False, "that is the Frobenius norm, an upper bound; σ is the largest singular value.")
            if abs(got - truth**2) < 1e-3 * truth**2:
                return report(False, "that is σ²: ‖Wᵀ u‖ after normalising u gives σ itself, not its square.")
            return report(
                False,
                f"on a {tuple(w.shape)} matrix the estimate is off: alternate v ← Wᵀu/‖Wᵀu‖, u ← Wv/‖Wv‖, then uᵀWv.",
            )
    return report(True, "power iteration converges to the top singular pair; σ̂ = uᵀ W v.")


@_SOLUTIONS.add("check_power_iteration")
def _() -> tuple[str, str]:
    return (
        "def sigma(W, steps):\n    u = torch.randn(W.shape[0])\n    for _ in range(steps):\n"
        "        v = torch.nn.functional.normalize(W.T @ u, dim=0)\n"
        "        u = torch.nn.functional.normalize(W @ v, dim=0)\n"
        "    return float(u @ W @ v)",
        "Each pair of steps multiplies u by W Wᵀ, whose top eigenvector (the top left singular vector) grows fastest; "
        "the ratio of the two largest singular values sets how fast the others die out.",
    )


_AUG_OPTIONS = {
    "a": "it would make training slower",
    "b": "the discriminator would learn that augmented-looking images are real, and the generator would learn to "
    "draw translated, cut-out digits",
    "c": "augmentations are not differentiable, so they cannot be applied to fakes",
    "d": "nothing: augmenting only the real images works as well",
}


def check_augment_both(answer: Any) -> bool:
    """Why must the same augmentation be applied to the fakes as to the real images? A letter."""
    return ask(
        answer,
        _AUG_OPTIONS,
        "b",
        "augmenting only the real data changes the distribution the generator is asked to match: the "
        "augmentations 'leak' into the samples. Applying T to both compares T(x) with T(G(z)), which are equal "
        "in distribution exactly when x and G(z) are (for invertible-enough T).",
        {
            "a": "speed is not the issue; think about which distribution the discriminator now calls 'real'.",
            "c": "re-read the module genai_lib.gan.augment: every transformation is written to pass gradients.",
            "d": "what would the generator be rewarded for drawing if only real images were shifted and cut?",
        },
    )


@_SOLUTIONS.add("check_augment_both")
def _() -> tuple[str, str]:
    return ("b", "Zhao et al. (2020) show that augmenting only the reals makes the generator reproduce the artefacts.")


_TRUNC_OPTIONS = {
    "a": "precision rises and recall falls",
    "b": "precision falls and recall rises",
    "c": "both rise: truncation is free",
    "d": "neither changes: ψ only rescales w",
}


def check_truncation_trade(answer: Any) -> bool:
    """On a large, well-trained generator, as ψ goes from 1 to 0, what happens to precision and recall? A letter."""
    return ask(
        answer,
        _TRUNC_OPTIONS,
        "a",
        "pulling w towards w̄ keeps samples in the dense, typical part of the learned distribution (more land "
        "inside the real data's balls: precision) and removes the unusual ones (less of the real variety is "
        "reached: recall). At ψ = 0 every sample is the same digit.",
        {
            "b": "at ψ = 0 every sample is the same image: how much of the real variety can that cover?",
            "c": "look at ψ = 0 on the slider: one image, however typical, cannot cover ten digits.",
            "d": "ψ moves w towards the average w̄, which changes the images; compare the slider's frames.",
        },
    )


@_SOLUTIONS.add("check_truncation_trade")
def _() -> tuple[str, str]:
    return ("a", "Truncation trades variety for typicality (Karras et al. 2019; Brock et al. 2019).")
