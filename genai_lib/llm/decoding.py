"""Decoding: turning the model's next-token logits into the next token.

Given logits ``z`` over the vocabulary, the next token is drawn from::

    p_i = exp(z_i / τ) / Σ_j exp(z_j / τ)                                          (1)

restricted to a set of allowed tokens and renormalised. The temperature ``τ`` sharpens (τ < 1)
or flattens (τ > 1) the distribution; τ → 0 is greedy decoding (always the arg max). The allowed
set is either every token, the ``k`` most probable (top-k; Fan et al. 2018), or the smallest set
of most probable tokens whose probabilities add up to at least ``p`` (top-p, nucleus sampling;
Holtzman et al. 2020). Filters set the logits of disallowed tokens to -∞, so (1) gives them
probability 0. Temperature is applied first, so top-p's set depends on τ, as in GPT-2's sampler.
"""

from __future__ import annotations

import math
import numbers

import torch

__all__ = ["check_sampling_args", "top_k_filter", "top_p_filter", "next_token_probs", "sample_next_token"]


def check_sampling_args(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Raise TypeError/ValueError naming the argument if a decoding setting is out of range."""
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"temperature must be a float >= 0, got {type(temperature).__name__}")
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a finite float >= 0 (0 = greedy), got {temperature}")
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral):
            raise TypeError(f"top_k must be an int >= 1 or None, got {type(top_k).__name__}")
        if top_k < 1:
            raise ValueError(f"top_k must be an int >= 1 or None, got {top_k}")
    if top_p is not None:
        if isinstance(top_p, bool) or not isinstance(top_p, numbers.Real):
            raise TypeError(f"top_p must be a float in (0, 1] or None, got {type(top_p).__name__}")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1] or None, got {top_p}")


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


def next_token_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                     top_p: float | None = None) -> torch.Tensor:
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


def sample_next_token(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                      top_p: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one token per row of ``logits`` ``(B, vocab_size)``; return ids ``(B, 1)``.

    Greedy (``temperature=0``) takes the arg max and draws no random numbers.
    """
    if temperature == 0:
        check_sampling_args(temperature, top_k, top_p)
        return logits.argmax(-1, keepdim=True)
    probs = next_token_probs(logits, temperature, top_k, top_p)
    return torch.multinomial(probs, num_samples=1, generator=generator)
