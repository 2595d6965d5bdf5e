"""Checkers of Chapter 3, the transformer and GPT (book/llms/gpt.md): the parameter count, the pre-
LayerNorm block, what position embeddings are for.

Each ``check_...`` prints ✔ or ✘ with a hint and returns ``True`` only for a right answer; its worked
answer follows it, printed on request by :func:`genai_lib.exercises.llms.solution`.
"""

from __future__ import annotations

import math
from typing import Any

from genai_lib.exercises._common import ask, count_hint, number, report
from genai_lib.exercises.llms._solutions import SOLUTIONS

__all__ = [
    "check_gpt_parameters",
    "check_untied_extra",
    "check_block_forward",
    "check_swap_positions",
    "check_pre_ln",
    "check_no_positions",
]


def _gpt_parameter_count(vocab_size: int, block_size: int, n_layer: int, n_embd: int) -> int:
    """Eq. (eq-gpt-params): V d + T d + L (12 d² + 13 d) + 2 d (biases included, tied output layer)."""
    d = n_embd
    return vocab_size * d + block_size * d + n_layer * (12 * d * d + 13 * d) + 2 * d


def check_gpt_parameters(answer: Any, *, vocab_size: int, block_size: int, n_layer: int, n_embd: int) -> bool:
    """Exercise: the parameter count of a GPT-2-layout model (biases, tied output layer), Eq. (eq-gpt-params)."""
    value = number(answer)
    V, T, L, d = vocab_size, block_size, n_layer, n_embd
    truth = _gpt_parameter_count(V, T, L, d)
    if value == truth:
        return report(True, f"{truth:,} = V·d + T·d + L(12d² + 13d) + 2d.")
    if value == truth + V * d:
        return report(False, "the output layer is tied to the token embedding: that matrix is counted once.")
    if value == truth - T * d:
        return report(False, "the position embedding is missing.")
    if value == truth - 2 * d:
        return report(False, "the final LayerNorm (a gain and a bias) is missing.")
    if value in (V * d + T * d + 12 * L * d * d, 12 * L * d * d, truth - L * 13 * d):
        return report(
            False,
            "that counts the weight matrices only; the biases and the LayerNorms' gains and biases are parameters too.",
        )
    if value == V * d + T * d + L * (8 * d * d + 9 * d) + 2 * d:
        return report(False, "the MLP is 4d wide: its two matrices are d × 4d and 4d × d.")
    hint = count_hint(value, truth)
    if hint:
        return report(False, hint)
    return report(
        False,
        f"{value:,.0f} is not it: go through Eq. (eq-gpt-params) term by term — the two "
        "embeddings, per block the attention, the MLP and two LayerNorms, and the final LayerNorm.",
    )


def check_untied_extra(answer: Any, *, vocab_size: int, n_embd: int) -> bool:
    """Exercise: the parameters an untied output layer (no bias) would add: one more V × d matrix."""
    value = number(answer)
    truth = vocab_size * n_embd
    if value == truth:
        return report(True, f"{truth:,}: a second {vocab_size} × {n_embd} matrix.")
    if value == truth + vocab_size:
        return report(False, "GPT-2's output layer has no bias; count the matrix only.")
    if value == 2 * truth:
        return report(False, "the embedding is there already; untying adds only the output layer's own matrix.")
    if value in (n_embd * n_embd, vocab_size, n_embd):
        return report(False, "the output layer maps the width d to one score per vocabulary entry: what shape is it?")
    return report(False, f"{value:,.0f} is not it: what are the input and the output sizes of the output layer?")


def check_block_forward(answer: Any) -> bool:
    """Exercise: ``answer(b, x)`` computes the pre-LayerNorm block ``x + attn(ln_1(x))``, then ``+ mlp(ln_2(.))``."""
    import torch

    from genai_lib.llm.model import Block, GPTConfig

    if not callable(answer):
        raise TypeError(f"answer must be a function my_block(b, x), got {type(answer).__name__}")
    gen = torch.Generator().manual_seed(0)
    block = Block(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=16)).eval()
    with torch.no_grad():
        for p in block.parameters():  # LayerNorm gains and biases away from (1, 0), so mistakes show
            p.copy_(0.3 * torch.randn(p.shape, generator=gen) + (1.0 if p.dim() == 1 and p.numel() == 16 else 0.0))
        x = 2.0 * torch.randn(2, 8, 16, generator=gen) + 0.5
        truth = block(x)[0]
        try:
            out = answer(block, x.clone())
        except Exception as err:  # the reader's code: report, do not crash
            return report(False, f"my_block(b, x) raised {type(err).__name__}: {err}")
        if isinstance(out, tuple):
            return report(False, "return the updated stream x only (a tensor), not a tuple.")
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            return report(False, f"my_block must return a tensor of the input's shape {tuple(x.shape)}.")
        if torch.allclose(out, truth, atol=1e-5):
            return report(True, "x + attn(ln_1(x)), then x + mlp(ln_2(x)): the pre-LN block.")
        attn = lambda h: block.attn(h)[0]  # noqa: E731
        x1 = x + attn(block.ln_1(x))
        post = block.ln_1(x + attn(x))
        post = block.ln_2(post + block.mlp(post))
        if torch.allclose(out, post, atol=1e-5):
            return report(
                False,
                "that is the post-LN block of the original transformer; GPT-2 normalises each "
                "branch's input and never the stream itself.",
            )
        if torch.allclose(out, block.mlp(block.ln_2(x1)), atol=1e-5) or torch.allclose(out, x1, atol=1e-5):
            return report(
                False,
                "the MLP branch's output is *added* to the stream (a residual connection), "
                "as the attention branch's is.",
            )
        if torch.allclose(out, x + attn(x) + block.mlp(x + attn(x)), atol=1e-5):
            return report(False, "the LayerNorms are missing: each branch reads a normalised copy of the stream.")
        if torch.allclose(out, x + attn(block.ln_1(x)) + block.mlp(block.ln_2(x)), atol=1e-5):
            return report(False, "the MLP reads the stream *after* the attention output was added.")
        if torch.allclose(out, x1 + block.mlp(block.ln_1(x1)), atol=1e-5):
            return report(False, "each branch has its own LayerNorm: the MLP's is ln_2.")
    return report(
        False,
        "not the pre-LN block: two residual branches in turn, attention then MLP, each reading "
        "its own LayerNorm of the stream and adding its output back to it.",
    )


def check_swap_positions(answer: Any, *, swap: tuple[int, int] = (0, 1), length: int = 6) -> bool:
    """Exercise: which outputs of one causal block *without* position embeddings can change when two tokens swap."""
    if isinstance(answer, (str, bytes)) or not hasattr(answer, "__iter__"):
        raise TypeError(f"answer must be a set of positions such as {{0, 1}}, got {answer!r}")
    positions = {int(number(v, "answer")) for v in answer}
    i, j = sorted(swap)
    if not 0 <= i < j < length:
        raise ValueError(f"swap must be two different positions in 0..{length - 1}, got {swap!r}")
    truth = set(range(i, j + 1))  # before i nothing changes; from j on the own token and the set are the same
    if positions == truth:
        return report(
            True,
            f"{sorted(truth)}: between the swapped positions the set of tokens seen (or the own "
            f"token) differs; before {i} nothing changed, and from {j + 1} on the own token and "
            "the set of earlier tokens are the same.",
        )
    if positions == {i, j}:  # j > i + 1 here, else this would be the truth
        return report(False, "the positions between the swapped ones can change too: what do they see now?")
    if positions >= set(range(i, length)):
        return report(
            False,
            f"after position {j}, the own token and the *set* of earlier tokens are "
            "unchanged, and attention without positions sees only the set.",
        )
    if positions and min(positions) < i:
        return report(False, f"a causal block's output at a position before {i} cannot see the swap at all.")
    return report(
        False,
        f"{sorted(positions)} is not it: position p's output depends on its own token and on the "
        "set of tokens at positions <= p. Which positions see a different token or set?",
    )


_PRE_LN = {
    "a": "it saves parameters: one LayerNorm per block instead of two",
    "b": "it is what the original transformer of Vaswani et al. did",
    "c": "it lets the MLP mix information across positions",
    "d": "the residual stream stays a plain sum of the sub-layers' outputs, with an identity path for the gradient",
}


def check_pre_ln(answer: Any) -> bool:
    """Multiple choice: why does the book's GPT put LayerNorm inside each branch (pre-LN)?
    Answer with a letter, e.g. ``check_pre_ln("b")``."""
    return ask(
        answer,
        _PRE_LN,
        "d",
        "with LayerNorm inside the branch, x + f(LN(x)) leaves the stream a sum, Eq. (eq-gpt-stream): every "
        "sub-layer adds to it, nothing rescales it, and the gradient has a path straight to the embeddings.",
        {
            "a": "a pre-LN block has two LayerNorms, as a post-LN block does: re-read 'The block: "
            "LayerNorm, attention, MLP'.",
            "b": "the original transformer normalised *after* the sum (post-LN): re-read 'The block: "
            "LayerNorm, attention, MLP' for what the move to pre-LN changes.",
            "c": "re-read Eq. (eq-gpt-mlp): the MLP works on each position alone, wherever the LayerNorm "
            "sits; only attention mixes positions.",
        },
    )


#: The rise of the held-out loss when the shipped model loses its position embeddings: 1.647 -> 3.376 nats per
#: character on the chapter's 64 windows (1.624 -> 3.373 on 256): the checkpoint is fixed, so every reader
#: measures the same to rounding, whatever the seed; other window counts move it by a few hundredths.
_NO_POSITIONS_RISE = (1.4, 2.1)


def check_no_positions(loss: Any, base_loss: Any) -> bool:
    """Change-and-run: the held-out loss (nats per character) of the book's trained GPT with its position
    embeddings left out of the stream (``loss``), next to the loss of the unchanged model (``base_loss``)."""
    value, base = number(loss, "loss"), number(base_loss, "base_loss")
    if not 1.0 < base < 2.5:
        return report(
            False,
            "base_loss is not the shipped model's held-out loss in nats per character "
            "(the chapter's base_loss): pass the unchanged model's loss second.",
        )
    rise = value - base
    low, high = _NO_POSITIONS_RISE
    if abs(rise) < 0.02:
        return report(
            False,
            "the loss did not change: did the position embeddings really leave the stream? "
            "Start from x = t.wte(inputs), without t.wpe(...).",
        )
    if rise < 0:
        return report(False, "lower than the unchanged model: are the two arguments the other way round?")
    if abs(rise - base * (1 / math.log(2) - 1)) < 0.02:
        return report(False, "that looks like the same loss in bits: both numbers should be nats per character.")
    if low <= rise <= high:
        return report(
            True,
            f"+{rise:.2f} nats per character: without positions every token sees only the bag of "
            "characters before it, and a network trained with positions is lost without them.",
        )
    if rise < low:
        return report(
            False,
            f"+{rise:.2f} nats is less than leaving the positions out costs: did you replace them "
            "by something else (one position for all, or a shuffled order) rather than drop them?",
        )
    return report(
        False,
        f"+{rise:.2f} nats is more than leaving the positions out costs: did anything else leave "
        "the stream, or were the positions reversed rather than dropped?",
    )


# -- the solutions, printed on request ------------------------------------------------------------


@SOLUTIONS.add("check_no_positions")
def _() -> tuple[str, str]:
    return (
        "copy loss_without, start from x = t.wte(inputs) (no t.wpe term), and pass its result with base_loss: "
        "about 3.38 against 1.65 nats per character",
        "Without its position embeddings the shipped model's held-out loss rises by about 1.7 nats per "
        "character (1.65 -> 3.38 on the chapter's 64 windows; the checkpoint is fixed, so the number does not "
        "depend on the seed), worse than the one-character bigram baseline. Attention alone sees the bag "
        "of earlier characters, not their order; a network trained with positions also reads every stream "
        "through weights tuned to them, so it is lost without them.",
    )


@SOLUTIONS.add("check_gpt_parameters")
def _() -> tuple[str, str]:
    return (
        f"{_gpt_parameter_count(50257, 1024, 24, 1024):,}",
        "V d = 51,463,168; T d = 1,048,576; each block 12d² + 13d = 12,596,224, times 24 is 302,309,376; the final "
        "LayerNorm 2d = 2,048. Without arithmetic: with torch.device('meta'): llm.GPT(llm.GPTConfig(vocab_size="
        "50257, block_size=1024, n_layer=24, n_head=16, n_embd=1024)).num_params().",
    )


@SOLUTIONS.add("check_untied_extra")
def _() -> tuple[str, str]:
    return (
        "config.vocab_size * config.n_embd (332 × 128 = 42,496 for the book's model)",
        "An untied output layer is one more V × d matrix. That is about 5 % more for the book's model, but "
        "50,257 × 768 = 38,597,376 (31 % more) for GPT-2 small: tying matters most for large vocabularies.",
    )


@SOLUTIONS.add("check_block_forward")
def _() -> tuple[str, str]:
    return (
        "def my_block(b, x):\n    x = x + b.attn(b.ln_1(x))[0]\n    return x + b.mlp(b.ln_2(x))",
        "Each branch reads a LayerNorm of the stream and adds its output back to it; the stream itself is never "
        "normalised. The post-LN version, x = b.ln_1(x + b.attn(x)[0]); return b.ln_2(x + b.mlp(x)), computes "
        "something else with the same weights.",
    )


@SOLUTIONS.add("check_swap_positions")
def _() -> tuple[str, str]:
    return (
        "{0, 1} for swap=(0, 1); {2, 3, 4} for swap=(2, 4)",
        "With the causal mask and no positions, position p's output depends on its own token and on the set of "
        "tokens at positions ≤ p. Positions from the first swapped one to the second see a different own token "
        "or set; after the second, own token and set are unchanged. With a second block on top, later positions "
        "can change too, through the first block's outputs at the swapped positions.",
    )


@SOLUTIONS.add("check_pre_ln")
def _() -> tuple[str, str]:
    return (
        f"(d) {_PRE_LN['d']}",
        "Pre-LN computes x + attn(LN(x)) and x + mlp(LN(x)): the stream itself is never normalised, so it is "
        "the embeddings plus every sub-layer's output, Eq. (eq-gpt-stream), and the gradient reaches every "
        "layer through the identity path. That is also what lets the logit lens read the stream at any "
        "depth. The original transformer used post-LN, LN(x + f(x)), which needs warm-up to train deep.",
    )
