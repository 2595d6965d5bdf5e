"""Checkers for the exercises of "The architecture lab" (Part III, after pre-training).

``from genai_lib.exercises import architecture as ex``; ``ex.solution("check_...")`` prints an answer on request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from genai_lib.exercises._common import Solutions, ask, matches, number, report
from genai_lib.llm.positions import apply_rope, rope_angles

__all__ = ["check_rope", "check_gqa_cache_bytes", "check_swiglu_hidden", "check_extrapolation_reason", "solution"]

_SOLUTIONS = Solutions("genai_lib.exercises.architecture")


def solution(name: str) -> None:
    """Print the answer of the exercise that checker ``name`` checks, with a short explanation."""
    _SOLUTIONS.show(name)


# -- RoPE ------------------------------------------------------------------------------------------


def check_rope(my_rope: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> bool:
    """``my_rope(x, positions, base)`` must rotate ``x`` ``(..., T, d)`` as eq. (eq-arch-rope): coordinate
    pairs ``(a, a + d/2)`` turned by ``positions[t] · base^(-2a/d)``."""
    if not callable(my_rope):
        raise TypeError(f"my_rope must be a function my_rope(x, positions, base), got {type(my_rope).__name__}")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 9, 8, generator=g)
    pos = torch.arange(5, 14)
    truth = apply_rope(x, *rope_angles(pos, 8, base=100.0))
    try:
        out = my_rope(x.clone(), pos, 100.0)
    except Exception as err:  # the reader's code failing is an answer, not a bug
        return report(False, f"my_rope(x, positions, base) raised {type(err).__name__}: {err}")
    if not isinstance(out, torch.Tensor) or out.shape != x.shape:
        return report(False, f"return a tensor of the input's shape {tuple(x.shape)}.")
    if torch.allclose(out, truth, atol=1e-4):
        return report(
            True, "every pair is rotated by its position's angle; lengths are kept, and q·k depends on m − n."
        )
    if not torch.allclose(out.norm(dim=-1), x.norm(dim=-1), atol=1e-3):
        return report(
            False, "a rotation keeps every vector's length, and yours changes it: check the signs of the sines."
        )
    inter = torch.cat([x[..., 0::2], x[..., 1::2]], dim=-1)  # the paper's neighbour pairs, permuted to halves
    if torch.allclose(
        torch.cat([out[..., 0::2], out[..., 1::2]], dim=-1),
        apply_rope(inter, *rope_angles(pos, 8, base=100.0)),
        atol=1e-4,
    ):
        return report(False, "you rotate neighbouring pairs (2i, 2i+1); this book pairs coordinate a with a + d/2.")
    if torch.allclose(out, apply_rope(x, *rope_angles(torch.arange(9), 8, base=100.0)), atol=1e-4):
        return report(False, "use the positions you are given, not 0 .. T−1.")
    return report(False, "the angles are off: pair a turns by position × base^(−2a/d), with a = 0 .. d/2 − 1.")


# -- GQA's cache -------------------------------------------------------------------------------------


def check_gqa_cache_bytes(answer: Any) -> bool:
    """The KV cache in bytes of a model with 32 layers, 32 query heads, 8 key/value heads, head size 128, one
    sequence of 4096 tokens, in 16-bit floats (the shape of Llama-3-8B)."""
    value = number(answer)
    truth = 2 * 32 * 8 * 128 * 4096 * 2
    if matches(value, truth):
        return report(
            True, "keys and values, for every layer, key/value head, position and coordinate, 2 bytes each: 0.5 GiB."
        )
    if matches(value, truth * 4):
        return report(False, "that is the cache of full multi-head attention: how many heads does GQA cache?")
    if matches(value, truth / 2):
        return report(False, "the cache holds two tensors per layer.")
    if matches(value, truth * 2):
        return report(False, "16-bit floats take 2 bytes, not 4.")
    return report(False, "multiply 2 (K and V) × layers × key/value heads × positions × head size × bytes per value.")


# -- SwiGLU's width ------------------------------------------------------------------------------------


def check_swiglu_hidden(answer: Any) -> bool:
    """The hidden width of a bias-free SwiGLU with as many parameters as a bias-free 4× GELU MLP at ``n_embd = 768``."""
    value = number(answer)
    if value == 2048:
        return report(True, "3 · 768 · h = 2 · 768 · 3072 gives h = 2048 = 8 · 768 / 3.")
    if value == 3072:
        return report(False, "that is the GELU MLP's width; SwiGLU has three matrices instead of two.")
    if value == 1024:
        return report(False, "count the matrices again: gate, up and down, each n_embd × h.")
    return report(False, "set 3 · n_embd · h (gate, up, down) equal to 2 · n_embd · 4 n_embd and solve for h.")


# -- conceptual ------------------------------------------------------------------------------------------

_EXTRAPOLATION = {
    "a": "RoPE has more parameters than a learned table, so it generalises better",
    "b": "with RoPE every score q·k depends on the positions only through the offset m − n, so a query past "
    "block_size meets the same offsets it was trained on for its nearby keys",
    "c": "RoPE's angles are random, so the model learns to ignore positions",
    "d": "RoPE adds its vectors to the token embedding, like sinusoidal positions, but with larger amplitude",
}


def check_extrapolation_reason(answer: Any) -> bool:
    """Multiple choice: why can a RoPE model read past ``block_size`` when a sinusoidal one degrades?
    Answer with a letter, e.g. ``check_extrapolation_reason("a")``."""
    return ask(
        answer,
        _EXTRAPOLATION,
        "b",
        "a rotation by mθ then nθ leaves q·k a function of (m − n)θ: nothing in the attention knows the absolute "
        "position, so near offsets look as they did in training (far offsets, larger than block_size, never did).",
        {
            "a": "RoPE has no parameters at all: count them in the chapter's parameter table.",
            "c": "the angles are fixed, p · base^(−2a/d); re-read eq. (eq-arch-rope).",
            "d": "RoPE adds nothing to the embeddings; it rotates queries and keys inside attention.",
        },
    )


@_SOLUTIONS.add("check_rope")
def _() -> tuple[str, str]:
    return (
        "def my_rope(x, positions, base):\n    d = x.size(-1)\n"
        "    theta = positions[:, None].float() * base ** (-torch.arange(0, d, 2) / d)\n"
        "    cos, sin = theta.cos(), theta.sin()\n    a, b = x[..., : d // 2], x[..., d // 2 :]\n"
        "    return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)",
        "Each pair (a, a + d/2) is a point in a plane turned by its own angle; the angle grows with the position "
        "at a rate that falls geometrically with a.",
    )


@_SOLUTIONS.add("check_gqa_cache_bytes")
def _() -> tuple[str, str]:
    return ("536870912 (0.5 GiB)", "2 × 32 × 8 × 128 × 4096 × 2 bytes; with 32 key/value heads it would be 2 GiB.")


@_SOLUTIONS.add("check_swiglu_hidden")
def _() -> tuple[str, str]:
    return ("2048", "Three n_embd × h matrices against two n_embd × 4 n_embd ones: h = 8 n_embd / 3 = 2048.")


@_SOLUTIONS.add("check_extrapolation_reason")
def _() -> tuple[str, str]:
    return (f"(b) {_EXTRAPOLATION['b']}", "See the derivation of the relative-position property in the chapter.")
