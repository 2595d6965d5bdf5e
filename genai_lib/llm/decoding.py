"""Decoding: turning the model's next-token logits into the next token.

Given logits ``z`` over the vocabulary, the next token is drawn from::

    p_i = exp(z_i / τ) / Σ_j exp(z_j / τ)                                          (1)

restricted to a set of allowed tokens and renormalised. The temperature ``τ`` sharpens (τ < 1)
or flattens (τ > 1) the distribution; τ → 0 is greedy decoding (always the arg max). The allowed
set is either every token, the ``k`` most probable (top-k; Fan et al. 2018), or the smallest set
of most probable tokens whose probabilities add up to at least ``p`` (top-p, nucleus sampling;
Holtzman et al. 2020). Filters set the logits of disallowed tokens to -∞, so (1) gives them
probability 0. Temperature is applied first, so top-p's set depends on τ, as in GPT-2's sampler.

Two cures for repetition act on the logits before (1), given the tokens written so far:
:func:`repetition_penalty` (Keskar et al. 2019) makes every token that already occurs less likely,
and :func:`ban_repeated_ngrams` (Paulus et al. 2018) forbids any token that would complete an
``n``-gram already in the text. :func:`repeated_ngram_fraction` measures how repetitive a text is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from genai_lib._checks import check_float, check_int

__all__ = [
    "check_sampling_args",
    "top_k_filter",
    "top_p_filter",
    "next_token_probs",
    "sample_next_token",
    "check_repetition_args",
    "repetition_penalty",
    "ban_repeated_ngrams",
    "repeated_ngram_fraction",
]


def check_sampling_args(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise TypeError/ValueError naming the argument if a decoding setting is out of range:
    ``temperature`` >= 0 (0 = greedy), ``top_k`` an int >= 1 or None, ``top_p`` in (0, 1] or None."""
    check_float(temperature, "temperature", minimum=0.0)
    if top_k is not None:
        check_int(top_k, "top_k", minimum=1)
    if top_p is not None:
        check_float(top_p, "top_p", minimum=0.0, maximum=1.0, strict_min=True)


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row (ties with the k-th are kept too); -∞ elsewhere."""
    check_sampling_args(1.0, k, None)
    k = min(int(k), logits.size(-1))
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep, in each row, the smallest set of most probable tokens whose total probability is
    at least ``p`` (Holtzman et al. 2020); -∞ elsewhere. The most probable token always stays."""
    check_sampling_args(1.0, None, p)
    if p >= 1.0:
        return logits  # everything is kept; skip the sort (and its rounding)
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_before = torch.cumsum(probs, dim=-1) - probs  # probability of the tokens ranked above
    drop_sorted = mass_before >= p  # the set already reached p without this token
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def next_token_probs(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> torch.Tensor:
    """Return the distribution (1) the next token is drawn from, ``(..., vocab_size)``.

    ``temperature=0`` gives the greedy distribution: probability 1 on the arg max.
    """
    check_sampling_args(temperature, top_k, top_p)
    if temperature == 0:
        return torch.zeros_like(logits).scatter(-1, logits.argmax(-1, keepdim=True), 1.0)
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return torch.softmax(logits, dim=-1)


def sample_next_token(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token per row of ``logits`` ``(B, vocab_size)``; return ids ``(B, 1)``.

    Greedy (``temperature=0``) takes the arg max and draws no random numbers.
    """
    if temperature == 0:
        check_sampling_args(temperature, top_k, top_p)
        return logits.argmax(-1, keepdim=True)
    probs = next_token_probs(logits, temperature, top_k, top_p)
    return torch.multinomial(probs, num_samples=1, generator=generator)


# -- repetition ---------------------------------------------------------------------------------


def check_repetition_args(penalty: float, ngram_size: int | None) -> None:
    """Raise TypeError/ValueError naming the argument if a repetition setting is out of range:
    ``repetition_penalty`` >= 1 (1 = no penalty), ``no_repeat_ngram_size`` an int >= 1 or None."""
    check_float(penalty, "repetition_penalty", minimum=1.0)
    if ngram_size is not None:
        check_int(ngram_size, "no_repeat_ngram_size", minimum=1)


def _check_previous(logits: torch.Tensor, previous: torch.Tensor) -> None:
    if not isinstance(previous, torch.Tensor) or previous.dim() != 2 or previous.size(0) != logits.size(0):
        shape = tuple(previous.shape) if isinstance(previous, torch.Tensor) else type(previous).__name__
        raise ValueError(
            f"previous must be a (batch, time) tensor of token ids with batch = {logits.size(0)} "
            f"(the rows of logits), got {shape}"
        )


def repetition_penalty(logits: torch.Tensor, previous: torch.Tensor, penalty: float) -> torch.Tensor:
    """Make every token that occurs in ``previous`` less likely (CTRL; Keskar et al. 2019).

    A positive logit is divided by ``penalty``, a negative one multiplied by it, so the token's
    score falls either way; each token is penalised once however often it occurred.

    Args:
        logits: ``(B, vocab_size)`` next-token logits.
        previous: ``(B, T)`` the token ids so far (prompt and generated text).
        penalty: θ >= 1; 1 changes nothing, CTRL used 1.2.
    """
    check_repetition_args(penalty, None)
    _check_previous(logits, previous)
    if penalty == 1 or previous.size(1) == 0:
        return logits
    previous = previous.long()
    score = logits.gather(-1, previous)
    score = torch.where(score < 0, score * penalty, score / penalty)
    return logits.scatter(-1, previous, score)


def ban_repeated_ngrams(logits: torch.Tensor, previous: torch.Tensor, n: int) -> torch.Tensor:
    """Forbid every token that would complete an ``n``-gram already in ``previous`` (Paulus et al. 2018).

    The last ``n - 1`` tokens of each row are matched against every earlier ``n - 1`` tokens; the
    token that followed each match gets logit -∞. With ``n = 1`` every token seen is banned.

    Args:
        logits: ``(B, vocab_size)`` next-token logits.
        previous: ``(B, T)`` the token ids so far.
        n: the n-gram size (>= 1).
    """
    check_repetition_args(1.0, n)
    _check_previous(logits, previous)
    T = previous.size(1)
    if T < n:
        return logits
    previous = previous.long()
    grams = previous.unfold(1, n, 1)  # (B, T - n + 1, n): every n-gram so far
    if n == 1:
        banned = torch.ones(grams.shape[:2], dtype=torch.bool, device=previous.device)
    else:
        tail = previous[:, T - n + 1 :]  # the n - 1 tokens a new token would extend
        banned = (grams[:, :, :-1] == tail[:, None, :]).all(-1)  # (B, T - n + 1): n-grams that start like the tail
    # Count, for each token id, the matches it would complete (an add, not a plain scatter: the same
    # id can follow both a match and a non-match, and only "any match" should count).
    hits = torch.zeros(logits.shape, dtype=torch.long, device=logits.device)
    hits.scatter_add_(-1, grams[:, :, -1], banned.long())
    return logits.masked_fill(hits > 0, float("-inf"))


def repeated_ngram_fraction(tokens: Sequence[Any] | str, n: int) -> float:
    """The fraction of the ``n``-grams of ``tokens`` that already occurred earlier in it.

    0 for a text that never repeats itself at length ``n``; near 1 for a text caught in a loop.
    ``tokens`` is a string (its characters) or a sequence of token ids. A text with no n-gram
    (shorter than ``n``) gives 0.
    """
    check_repetition_args(1.0, n)
    if isinstance(tokens, torch.Tensor):
        if tokens.dim() != 1:
            raise ValueError(f"tokens must be one sequence (a 1-D tensor), got shape {tuple(tokens.shape)}")
        tokens = tokens.tolist()
    if not isinstance(tokens, (str, Sequence)):
        raise TypeError(f"tokens must be a string or a sequence of token ids, got {type(tokens).__name__}")
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    seen: set[tuple] = set()
    repeats = 0
    for g in grams:
        repeats += g in seen
        seen.add(g)
    return repeats / len(grams)
