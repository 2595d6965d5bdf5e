"""Checkers for the exercises of the introduction (chapter 0).

Each ``check_...`` prints ✔ or ✘ with a hint and returns ``True`` only for a right answer; a wrong
answer gets a hint, never the expected value. ``solution(name)`` prints the answer and why, where
``name`` is the checker's name: ``solution("check_signal_fraction")``. Numbers are accepted to 3
significant figures.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

from genai_lib.exercises._common import NEAR, Solutions, choice, matches, near, number, report

__all__ = [
    "check_signal_fraction",
    "check_vocabulary_size",
    "check_ring_centres",
    "check_chain_rule",
    "check_trigram_bits",
    "solution",
    "linear_alpha_bar",
]

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
        return report(
            False, "that is ᾱ_t itself, a share of the *power*; the image's amplitude is scaled by its square root."
        )
    if matches(value, 1 - abar) or matches(value, math.sqrt(1 - abar)):
        return report(False, "that is the noise's share; the question asks for the clean image's coefficient.")
    if matches(value, math.sqrt(linear_alpha_bar(t + 1))) or matches(value, math.sqrt(linear_alpha_bar(t - 1))):
        return report(
            False, f"off by one step: ᾱ_{t} multiplies (1 − β_s) for s = 1..{t}, and alpha_bar[0] is ᾱ_0 = 1."
        )
    if near(value, truth):
        return report(False, NEAR)
    return report(
        False,
        f"{value:.4g} is not √ᾱ_{t}. Revisit how ᾱ_t is built from the β_s, and which power of it scales the image.",
    )


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
        return report(
            False, f"{value:g} is too few: did you lower-case the text or drop punctuation, spaces or newlines?"
        )
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
        return report(
            False,
            f"every centre should lie at distance {radius:g} from the origin; yours lie at "
            f"{[round(r, 3) for r in radii.tolist()]}",
        )
    k = torch.arange(8, dtype=torch.float64)
    truth = radius * torch.stack([torch.cos(2 * math.pi * k / 8), torch.sin(2 * math.pi * k / 8)], dim=1)
    if torch.allclose(answer, truth, atol=1e-3):
        return report(True, "eight centres, 45° apart, starting on the positive x axis.")
    if torch.cdist(answer, truth).min(dim=1).values.max() < 1e-3:
        return report(True, "the right eight centres (in a different order, which does not matter for a mixture).")
    in_degrees = radius * torch.stack([torch.cos(k * 45.0), torch.sin(k * 45.0)], dim=1)  # 45k fed as radians
    if torch.cdist(answer, in_degrees).min(dim=1).values.max() < 1e-3:
        return report(False, "the angles were taken in degrees; torch.cos and torch.sin take radians.")
    return report(
        False,
        "the radius is right but the angles are not: they should be 2πk/8 for k = 0..7, "
        "in radians (torch.cos takes radians).",
    )


_CHAIN_RULE = {
    "a": "text is a Markov chain: each character depends only on the one before it",
    "b": "the chain rule of probability writes any distribution over texts exactly as a product of "
    "next-token conditionals",
    "c": "a transformer's attention makes the product of conditionals equal to p(x_1, ..., x_n)",
    "d": "the model stores its training text, so predicting the next token reproduces it",
}


def check_chain_rule(answer: Any) -> bool:
    """Multiple choice: why is a model that predicts the next token a *full* generative model of text?

    (a) text is a Markov chain; (b) the chain rule factorises any distribution over texts exactly;
    (c) attention makes the product exact; (d) the model stores its training text.
    Answer with a letter, e.g. ``check_chain_rule("a")``.
    """
    letter = choice(answer, _CHAIN_RULE)
    if letter == "b":
        return report(
            True,
            "p(x_1..x_n) = ∏ p(x_i | x_1..x_(i-1)) holds for every distribution, with no "
            "assumption: modelling the conditionals is modelling the text. How much context a "
            "model uses decides how *well* it does, not whether the factorisation holds.",
        )
    hints = {
        "a": "the one-character model is Shannon's approximation, not an exact property of text: re-read what "
        "Eq. (eq-intro-chain) conditions on, and how much the held-out cost drops with more context.",
        "c": "Eq. (eq-intro-chain) is stated before any network appears: re-read what it assumes about the model "
        "that computes the conditionals.",
        "d": "the chapter scores its models on held-out text they never saw: re-read what the product of "
        "conditionals in Eq. (eq-intro-chain) is equal to.",
    }
    return report(False, hints[letter])


@functools.lru_cache(maxsize=8)
def _ngram_bits(text: str, context: int, *, held_out: bool = True) -> float:
    """Bits per character of an add-one-smoothed model conditioned on ``context`` previous characters, fitted
    on the first 90 % of ``text`` and scored on the last 10 % (or on the first 90 % if not ``held_out``)."""
    import numpy as np

    vocab = sorted(set(text))
    size = len(vocab)
    ids = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    ids = np.searchsorted(np.array([ord(c) for c in vocab], dtype=np.uint32), ids).astype(np.int64)
    split = int(0.9 * len(ids))

    def codes(seq: Any) -> Any:  # one integer per window of context + 1 characters
        n = len(seq) - context
        code = np.zeros(n, dtype=np.int64)
        for k in range(context + 1):
            code = code * size + seq[k : k + n]
        return code

    train = ids[:split]
    counts = np.bincount(codes(train), minlength=size ** (context + 1)).reshape(-1, size) + 1
    logp = np.log2(counts) - np.log2(counts.sum(axis=1, keepdims=True))
    scored = codes(ids[split:] if held_out else train)
    return float(-logp.reshape(-1)[scored].mean())


_TRIGRAM_TOL = 0.06  # bits: other reasonable smoothings (add-0.01 to add-1) land within it


def check_trigram_bits(answer: Any, text: str) -> bool:
    """Change-and-run: the held-out bits per character of the chapter's model with *two* characters of context
    (add-one smoothing, fitted on the first 90 % of ``text``, scored on the last 10 %), measured by the reader."""
    if not isinstance(text, str):
        raise TypeError(f"text must be the chapter's text as a str, got {type(text).__name__}")
    value = number(answer)
    truth = _ngram_bits(text, 2)
    if abs(value - truth) <= _TRIGRAM_TOL:
        return report(
            True,
            f"{value:.2f} bits per character, {_ngram_bits(text, 1) - value:.2f} fewer than with "
            "one character of context: more context helps, on text the model never saw.",
        )
    bigram, unigram = _ngram_bits(text, 1), _ngram_bits(text, 0)
    if abs(value - math.log(2) * truth) <= _TRIGRAM_TOL:
        return report(False, "that looks like nats (natural log); the chapter counts bits: use np.log2.")
    if abs(value - _ngram_bits(text, 2, held_out=False)) <= 0.02:
        return report(
            False,
            "that is the cost on the text the counts came from: score the held-out 10 % "
            "(ids[split:]), as the chapter does.",
        )
    if abs(value - bigram) <= 0.02:
        return report(
            False,
            "that is the cost with *one* character of context, the chapter's number: count "
            "triples (two characters, then the next one) instead of pairs.",
        )
    if abs(value - unigram) <= 0.02:
        return report(False, "that is the cost without context; condition on the two previous characters.")
    if value >= bigram:
        return report(
            False,
            f"{value:.2f} bits is no better than one character of context: check that each "
            "held-out triple indexes the counts of its own two previous characters.",
        )
    return report(
        False,
        f"{value:.2f} bits is not what the two-character model measures: count triples on the "
        "first 90 %, add one to every count, normalise over the last character, and average "
        "−log2 p over the held-out triples.",
    )


def solution(name: str) -> None:
    """Print the answer of the exercise that checker ``name`` checks, with a short explanation.

    ``name`` is the checker's name, e.g. ``solution("check_signal_fraction")``; a wrong name raises a
    ValueError that lists the valid names.
    """
    _SOLUTIONS.show(name)


@_SOLUTIONS.add("check_signal_fraction")
def _() -> tuple[str, str]:
    truth = math.sqrt(linear_alpha_bar(500))
    return (
        f"√ᾱ_500 ≈ {truth:.3f}, i.e. alpha_bar[500].sqrt()",
        f"ᾱ_t multiplies (1 − β_s) for s = 1..t, and x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε, so the image keeps "
        f"√ᾱ_t of its amplitude. Halfway through the process about {100 * truth:.0f} % of it remains, and "
        f"the noise carries √(1 − ᾱ_500) ≈ {math.sqrt(1 - truth**2):.2f}.",
    )


@_SOLUTIONS.add("check_vocabulary_size")
def _() -> tuple[str, str]:
    return (
        "len(set(text))",
        "A set keeps each character once. Upper- and lower-case letters, digits, punctuation, the space "
        "and the newline all count: each is one output of a character-level model.",
    )


@_SOLUTIONS.add("check_ring_centres")
def _() -> tuple[str, str]:
    return (
        "k = torch.arange(8); angles = 2 * math.pi * k / 8; "
        "answer = 2 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)",
        "A point at angle θ on a circle of radius r is (r cos θ, r sin θ); eight angles 45° apart, starting "
        "at 0, give the ring's centres, the same as data.mode_centres('ring8').",
    )


@_SOLUTIONS.add("check_chain_rule")
def _() -> tuple[str, str]:
    return (
        f"(b) {_CHAIN_RULE['b']}",
        "p(x_1, ..., x_n) = p(x_1) p(x_2 | x_1) ... p(x_n | x_1, ..., x_(n-1)) is an identity of probability, "
        "true for every distribution over texts. A model of the conditionals is therefore a model of whole "
        "texts, and sampling one token after another draws from it. The one-character model is an "
        "approximation of those conditionals (it forgets all but the last character), not a property of "
        "text; a transformer computes better conditionals, but the factorisation needs no network at all.",
    )


@_SOLUTIONS.add("check_trigram_bits")
def _() -> tuple[str, str]:
    return (
        "c3 = np.bincount((ids[:split - 2] * V + ids[1:split - 1]) * V + ids[2:split], "
        "minlength=V ** 3).reshape(V, V, V) + 1; p3 = c3 / c3.sum(axis=2, keepdims=True); "
        "h = ids[split:]; -np.log2(p3[h[:-2], h[1:-1], h[2:]]).mean()   # about 2.98 bits",
        "Two characters of context bring the held-out cost from about 3.6 to about 3.0 bits per character, "
        "another 0.6 bits saved. The data and the split are fixed, so the number is the same on every "
        "machine and for every seed. The gain shrinks with each extra character, because the counts "
        "spread over V^(k+1) contexts that the training text fills ever more thinly: a transformer "
        "shares what it learns across contexts instead of counting each one separately.",
    )
