"""Checkers for the exercises of the chapter on packing and the minibatch (Part I, after mode collapse).

``from genai_lib.exercises import packing as ex``; ``ex.solution("check_...")`` prints an answer on
request. The data are ``grid25``: 25 equally likely modes. Numbers are accepted to 3 significant figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from genai_lib.exercises._common import Solutions, matches, number, report

__all__ = ["check_pack", "check_dstar_kept_mode", "check_packed_tv", "solution"]

_SOLUTIONS = Solutions("genai_lib.exercises.packing")


def solution(name: str) -> None:
    """Print the answer of the exercise that checker ``name`` checks, with a short explanation."""
    _SOLUTIONS.show(name)


def _reference_pack(x: torch.Tensor, m: int) -> torch.Tensor:
    return x.reshape(x.shape[0] // m, m * x.shape[1])


def check_pack(fn: Callable[[torch.Tensor, int], torch.Tensor]) -> bool:
    """``fn(x, m)`` must turn ``x`` of shape ``(N, d)`` into packs of shape ``(N / m, m·d)``, pack ``j``
    holding rows ``j·m, ..., j·m + m − 1`` in order, differentiably."""
    if not callable(fn):
        raise TypeError(f"fn must be a function pack(x, m), got {type(fn).__name__}")
    gen = torch.Generator().manual_seed(0)
    for n, d, m in ((12, 2, 3), (8, 2, 4), (10, 3, 2), (6, 2, 1)):
        x = torch.randn(n, d, generator=gen).requires_grad_(True)
        try:
            got = fn(x, m)
        except Exception as err:  # the reader's code failing is an answer, not a bug
            return report(False, f"pack(x, {m}) on x of shape ({n}, {d}) raised {type(err).__name__}: {err}")
        want = _reference_pack(x.detach(), m)
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(want.shape):
            return report(
                False,
                f"pack(x, {m}) on x of shape ({n}, {d}) must have one row per pack and m·d columns; "
                f"got {tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}.",
            )
        if not torch.allclose(got.detach(), want):
            strided = x.detach().reshape(m, n // m, d).transpose(0, 1).reshape(n // m, m * d)
            if torch.allclose(got.detach(), strided):
                return report(
                    False,
                    "your packs take every (N/m)-th row; a pack must hold m consecutive rows, "
                    "rows j·m to j·m + m − 1 (the trainer's batches are in blocks).",
                )
            if torch.allclose(got.detach().sort(dim=1).values, want.sort(dim=1).values):
                return report(
                    False, "the right samples are in each pack, but not in order: keep each row's coordinates together."
                )
            return report(False, "pack j must be the concatenation of rows j·m, j·m + 1, ..., j·m + m − 1.")
        if not got.requires_grad:
            return report(
                False, "the right values, but no gradient flows back to x: avoid .detach(), .numpy() or .tolist()."
            )
        weight = torch.randn(want.shape, generator=gen)
        (grad,) = torch.autograd.grad((got * weight).sum(), x)
        if not torch.allclose(grad, weight.reshape(n, d)):
            return report(False, "the values are right but the gradient reaching x is not: is some row used twice?")
    return report(True, "consecutive rows, concatenated: a reshape, so every packed sample gets its gradient.")


def check_dstar_kept_mode(answer: Any) -> bool:
    """The optimal per-sample discriminator ``D*(x)`` on one of the 20 modes a generator keeps, when it
    draws the 20 equally and the data draw all 25 equally."""
    value = number(answer)
    truth = (1 / 25) / (1 / 25 + 1 / 20)
    if matches(value, truth):
        return report(True, "4/9 ≈ 0.444: barely below ½ on every kept mode, however many modes are missing.")
    if matches(value, 0.5):
        return report(
            False, "½ would mean p_data = p_g there; the generator puts more mass on each kept mode than the data do."
        )
    if matches(value, 1.0) or matches(value, 0.0):
        return report(
            False,
            "that is D* on a missing mode (or where there are no data); on a kept mode both densities are positive.",
        )
    if matches(value, 20 / 25) or matches(value, 25 / 45):
        return report(
            False, "D* = p_data / (p_data + p_g): put the data's density in the numerator, both in the denominator."
        )
    return report(
        False, f"{value:.4g} is not it: use D*(x) = p_data(x) / (p_data(x) + p_g(x)) with the weights of one mode."
    )


def check_packed_tv(answer: Any, dropped: int = 5, m: int = 4) -> bool:
    """The total variation between packs of ``m`` real and ``m`` generated samples, when the generator
    draws the data's distribution restricted to all but ``dropped`` of the 25 modes."""
    value = number(answer)
    eps = dropped / 25
    truth = 1 - (1 - eps) ** m
    if matches(value, truth):
        return report(True, f"1 − (1 − ε)^m with ε = {eps:g}: packing amplifies the gap the discriminator can detect.")
    if matches(value, eps):
        return report(
            False,
            "that is the distance between single samples (m = 1); a pack reveals the dropped modes "
            "if any of its m samples lands there.",
        )
    if matches(value, m * eps):
        return report(
            False,
            "m·ε is only the first-order approximation (and exceeds 1 for large m); compute the probability exactly.",
        )
    if matches(value, (1 - eps) ** m) or matches(value, eps**m):
        return report(
            False,
            "close: which event separates the two pack distributions, and what is its probability under the data?",
        )
    return report(
        False, f"{value:.4g} is not it: find the set of packs with the largest probability gap (Eq. eq-pack-tv)."
    )


# -- the solutions, printed on request ------------------------------------------------------------


@_SOLUTIONS.add("check_pack")
def _() -> tuple[str, str]:
    return (
        "def pack(x, m): return x.reshape(x.shape[0] // m, m * x.shape[1])",
        "A (N, d) tensor is stored row after row, so reshaping it to (N/m, m·d) puts rows j·m, ..., j·m + m − 1 "
        "side by side in row j. A reshape is differentiable: each packed entry's gradient goes back to the "
        "entry it came from. genai_lib.gan.packing.pack does the same, keeping leading (member) dimensions.",
    )


@_SOLUTIONS.add("check_dstar_kept_mode")
def _() -> tuple[str, str]:
    return (
        "D* = (1/25) / (1/25 + 1/20) = 4/9 ≈ 0.444",
        "Near a kept mode both densities are the same Gaussian shape, with weights 1/25 (data) and 1/20 "
        "(generator), so their ratio is constant and D* = p_data / (p_data + p_g) = 4/9. The discriminator is "
        "nearly ½ wherever the generator's samples are, and 1 only on the five missing modes, where no "
        "generated sample is to feel it.",
    )


@_SOLUTIONS.add("check_packed_tv")
def _() -> tuple[str, str]:
    return (
        "1 − (1 − 0.2)^4 = 1 − 0.4096 = 0.5904",
        "Let A be the five dropped modes, ε = P(A) = 0.2. A generated pack never has a sample in A; a real pack "
        "has one with probability 1 − (1 − ε)^m. Outside that event the real packs' density is (1 − ε)^m times "
        "the generated packs', so the largest gap is on that event: TV = 1 − (1 − ε)^m = 0.59 for m = 4, against "
        "ε = 0.2 for single samples.",
    )
