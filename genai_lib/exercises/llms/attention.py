"""Checkers of Chapter 2, attention (book/llms/attention.md): the causal mask, the attention layer's
parameters, the 1/√d temperature, the heads of the trained model.

Each ``check_...`` prints ✔ or ✘ with a hint and returns ``True`` only for a right answer; its worked
answer follows it, printed on request by :func:`genai_lib.exercises.llms.solution`.
"""

from __future__ import annotations

import math
from typing import Any

from genai_lib.exercises._common import ask, count_hint, matches, number, report
from genai_lib.exercises.llms._solutions import SOLUTIONS
from genai_lib.llm.tokenizers import CharTokenizer

__all__ = [
    "check_causal_mask",
    "check_attention_parameters",
    "check_temperature",
    "check_newline_head",
    "check_unscaled_entropy",
    "check_mask_training",
]


def check_causal_mask(answer: Any, size: int = 5) -> bool:
    """Exercise: the ``(size, size)`` boolean causal mask, True where query i may attend to key j."""
    import torch

    if not isinstance(answer, torch.Tensor):
        raise TypeError(f"answer must be a torch.Tensor, got {type(answer).__name__}")
    if tuple(answer.shape) != (size, size):
        return report(False, f"expected shape ({size}, {size}), got {tuple(answer.shape)}")
    if answer.dtype != torch.bool:
        return report(False, f"expected a boolean tensor (True = may attend), got dtype {answer.dtype}")
    truth = torch.ones(size, size, dtype=torch.bool).tril()
    if torch.equal(answer, truth):
        return report(True, "the lower triangle with its diagonal: each position sees itself and the past.")
    if torch.equal(answer, ~truth):
        return report(
            False, "that is the set of positions to block (the future); the question asks where attending is allowed."
        )
    if torch.equal(answer, truth.T):
        return report(False, "that lets every query see the future; rows are queries, columns keys.")
    if torch.equal(answer, torch.ones(size, size, dtype=torch.bool).tril(-1)):
        return report(False, "the diagonal is missing: a position may attend to itself.")
    return report(
        False,
        "not the causal mask: rows are queries i, columns keys j. Which keys may a query see "
        "without seeing the future?",
    )


def check_attention_parameters(answer: Any, *, n_embd: int, n_head: int, bias: bool = True) -> bool:
    """Exercise: the parameter count of one multi-head self-attention layer (GPT-2 layout)."""
    value = number(answer)
    weights = 4 * n_embd * n_embd
    truth = weights + (4 * n_embd if bias else 0)
    if value == truth:
        return report(True, f"{truth:,}: 4·{n_embd}² weights + 4·{n_embd} biases, whatever the number of heads.")
    if bias and value == weights:
        return report(False, "that counts the weights only; W_qkv and W_O also have biases.")
    if value in (n_head * truth, n_head * weights):
        return report(
            False,
            f"the heads share the {n_embd}-wide maps, each using a {n_embd // n_head}-wide slice; "
            "more heads do not mean more parameters.",
        )
    if value in (3 * n_embd * n_embd + 3 * n_embd, 3 * n_embd * n_embd):
        return report(False, "that is Q, K and V only; the output projection W_O has parameters too.")
    if value in (4 * n_embd * (n_embd // n_head) + 4 * n_embd, 4 * n_embd * (n_embd // n_head)):
        return report(False, "that is one head's share of the maps; the layer has all of them.")
    hint = count_hint(value, truth)
    if hint:
        return report(False, hint)
    return report(
        False,
        f"{value:,.0f} is not it: count W_Q, W_K, W_V and W_O of Eq. (eq-att-multihead) and their "
        "biases; what shape does each have?",
    )


def check_temperature(answer: Any, d: int = 16) -> bool:
    """Exercise: the softmax temperature that scaled dot-product attention applies to raw scores, √d."""
    value = number(answer)
    truth = math.sqrt(d)
    if matches(value, truth):
        return report(True, f"τ = √{d} = {truth:g}: the raw scores' standard deviation.")
    if matches(value, 1 / truth):
        return report(False, "that is the factor the scores are *multiplied* by; a temperature τ divides them.")
    if matches(value, d):
        return report(False, f"d = {d} is the raw scores' variance; the temperature is a scale.")
    return report(
        False,
        f"{value:g} is not it: by Eq. (eq-att-variance), what is the raw scores' standard "
        "deviation, and what does dividing the scores by it amount to?",
    )


def _newline_share(model: Any, tokenizer: CharTokenizer, windows: Any) -> Any:
    import torch

    maps = model.attention_maps(windows).cpu()  # (layer, window, head, T, T)
    newline = torch.tensor([[tokenizer.decode([i]) == "\n" for i in row] for row in windows.tolist()])
    return (maps * newline[None, :, None, None, :]).sum(-1)[..., 8:].mean(dim=(1, 3))  # (layer, head)


def check_newline_head(answer: Any, model: Any, tokenizer: CharTokenizer, windows: Any) -> bool:
    """Exercise: the ``(layer, head)``, counted from 1, that puts the most attention on line breaks."""
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise TypeError(f"answer must be a pair (layer, head) counted from 1, got {answer!r}")
    layer, head = (int(number(v, "answer")) for v in answer)
    share = _newline_share(model, tokenizer, windows)
    n_layer, n_head = share.shape
    best = divmod(int(share.argmax()), n_head)
    truth = (best[0] + 1, best[1] + 1)
    if (layer, head) == truth:
        return report(
            True, f"layer {layer}, head {head} puts {share[best].item():.0%} of its attention on line breaks."
        )
    if (layer + 1, head + 1) == truth:
        return report(False, "count layers and heads from 1, not 0.")
    if (head, layer) == truth:
        return report(False, "the pair is (layer, head), in that order.")
    if not (1 <= layer <= n_layer and 1 <= head <= n_head):
        return report(False, f"the model has layers 1..{n_layer} and heads 1..{n_head}.")
    return report(
        False,
        f"layer {layer}, head {head} puts {share[layer - 1, head - 1].item():.0%} on line breaks; "
        "another head puts more.",
    )


def _first_layer_entropies(model: Any, windows: Any) -> tuple[float, float]:
    """Mean entropy (nats) of the first layer's attention rows on ``windows``: with and without 1/√d."""
    import torch

    from genai_lib.llm.attention import attention

    block = model.transformer.h[0]
    n_head, n_embd = block.attn.n_head, block.attn.n_embd
    with torch.no_grad():
        T = windows.size(1)
        x = model.transformer.wte(windows) + model.transformer.wpe(torch.arange(T, device=windows.device))
        q, k, v = block.attn.c_attn(block.ln_1(x)).split(n_embd, dim=2)
        q, k, v = (t.view(t.size(0), T, n_head, n_embd // n_head).transpose(1, 2) for t in (q, k, v))
        out = []
        for scale in (None, 1.0):
            w = attention(q, k, v, causal=True, scale=scale)[1]
            out.append(float(-(w * w.clamp_min(1e-30).log()).sum(-1).mean()))
    return out[0], out[1]


def check_unscaled_entropy(answer: Any, model: Any, windows: Any) -> bool:
    """Change-and-run: ``answer`` = (scaled, unscaled), the mean entropy in nats of the first layer's attention
    rows on ``windows``, with the 1/√d of Eq. (eq-att-sdpa) and without it (``scale=1.0``)."""
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise TypeError(f"answer must be a pair (scaled, unscaled) of mean entropies, got {answer!r}")
    scaled, unscaled = (number(v, "answer") for v in answer)
    if not hasattr(model, "transformer"):
        raise TypeError(f"model must be the chapter's trained GPT, got {type(model).__name__}")
    true_scaled, true_unscaled = _first_layer_entropies(model, windows)
    ok_s, ok_u = matches(scaled, true_scaled), matches(unscaled, true_unscaled)
    if ok_s and ok_u:
        return report(
            True,
            f"{true_scaled:.3g} nats with the scale, {true_unscaled:.3g} without: without 1/√d the scores are "
            "√d times larger, a softmax at temperature 1/√d, and every row gets sharper.",
        )
    if matches(scaled, true_unscaled) and matches(unscaled, true_scaled):
        return report(False, "the two numbers are swapped: the pair is (with the scale, without it).")
    if ok_s:
        return report(
            False,
            "the scaled entropy is right; for the other, call attention with scale=1.0 on the same queries and keys.",
        )
    if ok_u:
        return report(False, "the unscaled entropy is right; for the other, leave scale at its default, 1/√d.")
    return report(
        False,
        "neither number matches: use the first block's ln_1 and c_attn on the embeddings wte + wpe, split into "
        "heads, and average -Σ w log w over every row (causal rows included) of every head and window.",
    )


_MASK_TRAINING = {
    "a": "it gives every future position exactly zero weight, so each position's output depends only on the "
    "tokens up to it, and each is an honest next-token prediction",
    "b": "it makes attention cheaper: T scores per window instead of T²",
    "c": "it halves the number of attention parameters",
    "d": "it stops gradients from flowing into past positions",
}


def check_mask_training(answer: Any) -> bool:
    """Multiple choice: why can a GPT be trained on all T next-token predictions of a window at once?
    Answer with a letter, e.g. ``check_mask_training("b")``."""
    return ask(
        answer,
        _MASK_TRAINING,
        "a",
        "with the future masked out, Eq. (eq-att-mask), position i sees tokens 1..i only, so its prediction of "
        "token i + 1 cannot peek: one forward pass gives T honest predictions.",
        {
            "b": "re-read Eq. (eq-att-mask): the masked scores are still computed, then set to −∞ before the softmax.",
            "c": "the mask has no parameters and changes none: re-read Eq. (eq-att-multihead)'s count.",
            "d": "the mask removes the weights on *future* keys: re-read Eq. (eq-att-mask) — which "
            "positions can a query still read, and learn from?",
        },
    )


# -- the solutions, printed on request ------------------------------------------------------------


@SOLUTIONS.add("check_unscaled_entropy")
def _() -> tuple[str, str]:
    return (
        "block = model.transformer.h[0]; x = model.transformer.wte(windows) + model.transformer.wpe(torch.arange(T)); "
        "q, k, v = block.attn.c_attn(block.ln_1(x)).split(N_EMBD, dim=2); split heads; "
        "w = llm.attention(q, k, v, causal=True, scale=s)[1] for s = None and 1.0; "
        "entropy = -(w * w.clamp_min(1e-30).log()).sum(-1).mean()",
        "Dropping 1/√d multiplies every score by √d: a softmax at temperature 1/√d. For any row whose scores are "
        "not all equal, a lower temperature means a lower entropy — the weights pile onto the best-matching key. "
        "A trained model learned its queries and keys with the scale in place; without it, its heads look "
        "more decided than they are, and in training the gradients through a near one-hot softmax vanish.",
    )


@SOLUTIONS.add("check_causal_mask")
def _() -> tuple[str, str]:
    return (
        "torch.ones(5, 5, dtype=torch.bool).tril()",
        "Query i may see keys j ≤ i: the lower triangle, diagonal included. triu(diagonal=1) is its complement, "
        "the positions to block.",
    )


@SOLUTIONS.add("check_attention_parameters")
def _() -> tuple[str, str]:
    return (
        f"4·96² + 4·96 = {4 * 96**2 + 4 * 96:,}",
        "W_Q, W_K and W_V together are one 96 × 288 matrix plus 288 biases; W_O is 96 × 96 plus 96 biases. The "
        "number of heads does not enter: each head uses a slice of the same maps. Confirm with "
        "sum(p.numel() for p in model.transformer.h[0].attn.parameters()).",
    )


@SOLUTIONS.add("check_temperature")
def _() -> tuple[str, str]:
    return (
        "τ = √16 = 4",
        "The raw scores of a head of size d have standard deviation √d, Eq. (eq-att-variance); dividing them by "
        "√d is a softmax at temperature √d.",
    )


@SOLUTIONS.add("check_newline_head")
def _() -> tuple[str, str]:
    return (
        "layer, head = divmod(int(on_newlines.argmax()), N_HEAD); answer = (layer + 1, head + 1)",
        "Average each head's attention on line-break keys over the held-out windows and take the largest; the "
        "page prints the head of its own run. Retrain with another seed and it may be a different head: which "
        "head learns it is an accident of initialisation, that some head learns it is not.",
    )


@SOLUTIONS.add("check_mask_training")
def _() -> tuple[str, str]:
    return (
        f"(a) {_MASK_TRAINING['a']}",
        "The causal mask sets the scores of future keys to −∞, so their softmax weights are exactly 0 and "
        "position i's output depends on tokens 1..i only. Its prediction of token i + 1 is then the same as "
        "if the window ended at i: one forward pass trains all T predictions at once. The T² scores are "
        "still computed (half of them thrown away), and past positions receive gradients as usual.",
    )
