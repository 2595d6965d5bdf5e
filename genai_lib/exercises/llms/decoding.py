"""Checkers of Chapter 5, decoding (book/llms/decoding.md): nucleus sampling, temperature, the KV cache's
memory and work, sampling cold.

Each ``check_...`` prints ✔ or ✘ with a hint and returns ``True`` only for a right answer; its worked
answer follows it, printed on request by :func:`genai_lib.exercises.llms.solution`.
"""

from __future__ import annotations

import math
from typing import Any

from genai_lib.exercises._common import NEAR, ask, count_hint, matches, near, number, report
from genai_lib.exercises.llms._solutions import SOLUTIONS

__all__ = [
    "check_nucleus_size",
    "check_tempered_probability",
    "check_kv_cache_bytes",
    "check_positions_processed",
    "check_cache_valid",
    "check_cold_sampling",
]


NUCLEUS_PROBS = (0.5, 0.2, 0.15, 0.1, 0.05)


def _nucleus(probs: tuple[float, ...], p: float) -> int:
    ranked = sorted(probs, reverse=True)
    total, size = 0.0, 0
    while total < p - 1e-12 and size < len(ranked):
        total += ranked[size]
        size += 1
    return size


def check_nucleus_size(answer: Any, probs: tuple[float, ...] = NUCLEUS_PROBS, p: float = 0.8) -> bool:
    """Exercise: how many tokens top-p keeps: the smallest top set whose probability reaches ``p``."""
    value = number(answer)
    ranked = sorted(probs, reverse=True)
    truth = _nucleus(probs, p)
    if value == truth:
        return report(
            True,
            f"{truth} tokens: the top {truth} hold {sum(ranked[:truth]):.2f} ≥ {p}, the top "
            f"{truth - 1} only {sum(ranked[: truth - 1]):.2f}.",
        )
    if 0 < value <= len(ranked) and value == int(value):
        v = int(value)
        held = sum(ranked[:v])
        if held < p - 1e-12:
            return report(False, f"the top {v} hold only {held:.2f} < {p}: the nucleus must reach p.")
        return report(
            False,
            f"the top {v} hold {held:.2f} ≥ {p}, but a smaller set already reaches p: top-p keeps "
            "the *smallest* such set.",
        )
    return report(False, f"{value:g} is not a number of tokens between 1 and {len(ranked)}.")


def _softmax(z: list[float]) -> list[float]:
    top = max(z)
    exps = [math.exp(v - top) for v in z]
    return [e / sum(exps) for e in exps]


def check_tempered_probability(
    answer: Any, logits: tuple[float, ...] = (2.0, 1.0, 0.0), temperature: float = 0.5
) -> bool:
    """Exercise: the probability of the first token under softmax(logits / temperature)."""
    value = number(answer)
    truth = _softmax([z / temperature for z in logits])[0]
    if matches(value, truth):
        return report(
            True,
            f"{truth:.3f}: dividing by τ = {temperature} stretches the gaps between the logits, "
            "so the top token gains.",
        )
    if matches(value, _softmax(list(logits))[0]):
        return report(False, "that is the probability at τ = 1; apply the temperature to the logits first.")
    if matches(value, _softmax([z * temperature for z in logits])[0]):
        return report(False, "that multiplies the logits by τ; the temperature divides them.")
    if matches(value, logits[0] / temperature / sum(z / temperature for z in logits)):
        return report(False, "a softmax exponentiates the logits before normalising them.")
    if near(value, truth):
        return report(False, NEAR)
    return report(
        False,
        f"{value:g} is not it: divide each logit by τ, then take the softmax, Eq. "
        "(eq-dec-temperature); the first token's share is what is asked.",
    )


def check_kv_cache_bytes(answer: Any, *, n_layer: int, n_embd: int, n_tokens: int, bytes_per_value: int = 4) -> bool:
    """Exercise: the memory of a KV cache for one sequence: 2 × n_layer × n_tokens × n_embd values."""
    value = number(answer)
    truth = 2 * n_layer * n_tokens * n_embd * bytes_per_value
    if value == truth:
        return report(True, f"{truth:,} bytes ({truth / 2**20:.1f} MiB): keys and values, every layer, every position.")
    if value == truth // 2:
        return report(False, "that holds only the keys (or only the values); the cache keeps both.")
    if value == truth // n_layer:
        return report(False, f"that is one layer; every one of the {n_layer} layers keeps its own keys and values.")
    if value == truth // bytes_per_value:
        return report(False, "that is the number of values; the question asks for bytes (32-bit floats).")
    if value == truth * 8:
        return report(False, "that is in bits; the question asks for bytes.")
    if matches(value, truth / 2**20) or matches(value, truth / 1e6):
        return report(False, "that is in MiB or MB; the question asks for bytes.")
    hint = count_hint(value, truth)
    if hint:
        return report(False, hint)
    return report(
        False,
        f"{value:,.0f} is not it: what does each layer store for each position, and how many "
        "bytes does each number take?",
    )


def check_positions_processed(answer: Any, *, prompt_len: int, new_tokens: int, use_cache: bool) -> bool:
    """Exercise: positions the model runs through to write ``new_tokens`` after a prompt (no sliding window)."""
    value = number(answer)
    without = new_tokens * prompt_len + new_tokens * (new_tokens - 1) // 2
    with_cache = prompt_len + new_tokens - 1
    truth = with_cache if use_cache else without
    if value == truth:
        how = (
            "the prompt once, then one new position per step"
            if use_cache
            else "every step reruns the whole text so far: P + (P + 1) + ... + (P + N - 1)"
        )
        return report(True, f"{truth:,} positions: {how}.")
    if value == (without if use_cache else with_cache):
        return report(False, "that is the count for the other case (with the cache swapped for without).")
    if not use_cache and value == new_tokens * (prompt_len + new_tokens):
        return report(False, "the text grows by one token per step: not every step runs the full final length.")
    if not use_cache and value == new_tokens * prompt_len + new_tokens * (new_tokens + 1) // 2:
        return report(False, "off by one step: the first step runs only the prompt, before any new token exists.")
    if use_cache and value in (prompt_len + new_tokens, new_tokens):
        return report(
            False,
            "off by one, or the prompt forgotten: the first step runs the prompt; what does each "
            "later step run, and how many later steps are there?",
        )
    hint = count_hint(value, truth)
    if hint:
        return report(False, hint)
    return report(
        False, f"{value:,.0f} is not it; count the positions each of the {new_tokens} steps runs, and add them up."
    )


_CACHE_VALID = {
    "a": "the cache is an approximation that trades a little accuracy for speed",
    "b": "the weights are frozen during generation, which is enough",
    "c": "the queries of past positions can be reused for the new token",
    "d": "under the causal mask, appending a token never changes the keys and values of earlier positions",
}


def check_cache_valid(answer: Any) -> bool:
    """Multiple choice: why may a model cache the keys and values of past positions while it generates?
    Answer with a letter, e.g. ``check_cache_valid("b")``."""
    return ask(
        answer,
        _CACHE_VALID,
        "d",
        "a past position attends only to positions before it, Eq. (eq-dec-causal), so its keys and values are "
        "the same whatever comes after: the cache gives the same tokens, faster.",
        {
            "a": "the chapter generated the same tokens with and without the cache: re-read Eq. "
            "(eq-dec-causal) for why it is exact.",
            "b": "frozen weights are not enough: re-read Eq. (eq-dec-causal) — what would a past position's "
            "keys depend on if attention could see the future?",
            "c": "the cache holds keys and values, not queries: re-read Eq. (eq-dec-cost) — what does the "
            "new token's query attend to?",
        },
    )


def _texts(texts: Any, name: str) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
        raise TypeError(f"{name} must be a list of generated texts (str), got {type(texts).__name__}")
    if len(texts) < 2 or min(len(t) for t in texts) < 200:
        raise ValueError(f"{name} must hold at least 2 texts of at least 200 characters (the chapter's 4 of 300)")
    return list(texts)


#: The mean repeated 8-gram fraction of the chapter's four 300-character samples: 0.71 greedy, 0.33-0.40 at
#: τ = 0.1, 0.009-0.015 at τ = 0.5 (seeds 0, 1, 2). The bounds leave a wide margin on both sides.
_COLD_MIN, _WARM_MAX = 0.2, 0.1


def check_cold_sampling(cold: Any, warm: Any) -> bool:
    """Change-and-run: texts sampled at temperature 0.1 (``cold``) and at 0.5 (``warm``, the chapter's) from the
    shipped model. Measures their repeated 8-grams: as τ → 0 sampling turns into greedy decoding, loops and all."""
    from genai_lib.llm.decoding import repeated_ngram_fraction

    cold, warm = _texts(cold, "cold"), _texts(warm, "warm")
    rep = {
        name: sum(repeated_ngram_fraction(t, 8) for t in texts) / len(texts)
        for name, texts in (("cold", cold), ("warm", warm))
    }
    measured = f"repeated 8-grams: {100 * rep['cold']:.0f} % at τ = 0.1, {100 * rep['warm']:.0f} % at τ = 0.5"
    if len(set(cold)) == 1:
        return report(
            False,
            "the cold texts are all the same: that is greedy decoding (τ = 0). Sample with "
            "temperature=0.1 and a generator.",
        )
    if rep["warm"] > _COLD_MIN and rep["cold"] < _WARM_MAX:
        return report(False, f"{measured}: are the two arguments the other way round (τ = 0.1 first)?")
    if rep["warm"] > _WARM_MAX:
        return report(
            False,
            f"{measured}: the second argument should be the chapter's τ = 0.5 samples, results['τ = 0.5']['texts'].",
        )
    if rep["cold"] < _COLD_MIN:
        return report(
            False,
            f"{measured}: the cold texts hardly repeat themselves. Were they sampled at "
            "temperature=0.1, from the same prompt and length as the chapter's?",
        )
    return report(
        True,
        f"{measured}. Dividing the logits by a small τ makes the top token's probability close "
        "to 1, Eq. (eq-dec-temperature): cold sampling is almost greedy, and falls into its loops.",
    )


# -- the solutions, printed on request ------------------------------------------------------------


@SOLUTIONS.add("check_cache_valid")
def _() -> tuple[str, str]:
    return (
        f"(d) {_CACHE_VALID['d']}",
        "Under the causal mask a position's hidden states, and so its keys and values in every layer, depend only "
        "on the tokens up to it, Eq. (eq-dec-causal). Appending a token changes nothing before it, so the "
        "keys and values computed once can be kept: each new token then costs one position's work, and the "
        "generated tokens are exactly the same. A bidirectional model could not do this, frozen weights or not.",
    )


@SOLUTIONS.add("check_cold_sampling")
def _() -> tuple[str, str]:
    return (
        "cold = run(dict(temperature=0.1)); ex.check_cold_sampling(cold, results['τ = 0.5']['texts'])",
        "At τ = 0.1 about a third of the 8-grams repeat earlier ones (0.33-0.40 for seeds 0, 1 and 2), against "
        "about 1 % at τ = 0.5 and 71 % for greedy decoding. Temperature raises every probability ratio to the "
        "power 1/τ: at τ = 0.1 a token twice as likely as the next becomes about a thousand times as likely, so "
        "sampling nearly always takes the arg max and inherits greedy decoding's loops; the rare other choice "
        "is what breaks some of them.",
    )


@SOLUTIONS.add("check_nucleus_size")
def _() -> tuple[str, str]:
    return (
        f"{_nucleus(NUCLEUS_PROBS, 0.8)} tokens",
        "The top two hold 0.7 < 0.8, the top three 0.85 ≥ 0.8. Top-k with k = 3 keeps the same three here; they "
        "differ most on very peaked distributions (top-p keeps one token, top-k still k) and on very flat ones "
        "(top-p keeps many, top-k cuts plausible options).",
    )


@SOLUTIONS.add("check_tempered_probability")
def _() -> tuple[str, str]:
    return (
        f"softmax(4, 2, 0)₁ = e⁴/(e⁴ + e² + 1) ≈ {_softmax([4.0, 2.0, 0.0])[0]:.3f}",
        "Dividing the logits by τ = 0.5 doubles them "
        f"(at τ = 1 the probability is {_softmax([2.0, 1.0, 0.0])[0]:.3f}). "
        "The ratio of the first two tokens' probabilities is e^((2 − 1)/τ): e² ≈ 7.4 at τ = 0.5, the square "
        "of e ≈ 2.7 at τ = 1.",
    )


@SOLUTIONS.add("check_kv_cache_bytes")
def _() -> tuple[str, str]:
    return (
        f"2 × 12 × 1024 × 768 × 4 = {2 * 12 * 1024 * 768 * 4:,} bytes (72 MiB)",
        "Keys and values, in every layer, for every position, each a 768-wide vector of 4-byte floats. The "
        "weights take 124 M × 4 ≈ 496 MB, so about seven sequences' caches weigh as much as the model: serving "
        "many users at once, the cache dominates.",
    )


@SOLUTIONS.add("check_positions_processed")
def _() -> tuple[str, str]:
    return (
        "without the cache 500·24 + 500·499/2 = 136,750; with it 24 + 499 = 523",
        "Without the cache step i (i = 0..499) reruns the whole text so far, 24 + i positions. With it the "
        "prompt runs once and each later step runs one new position. The ratio, about 260, is far above the "
        "measured speed-up: fixed costs per step dominate when the work is this small.",
    )
