"""Checkers for the exercises of Part III, large language models (book/llms/)."""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Mapping
from typing import Any

from genai_lib.llm.tokenizers import BPETokenizer, CharTokenizer

__all__ = ["check_byte_count", "check_first_merge", "check_smallest_vocabulary", "check_nats_per_char",
           "check_causal_mask", "check_attention_parameters", "check_temperature", "check_newline_head",
           "check_perplexity", "check_initial_loss", "check_tokens_seen"]


def _report(ok: bool, message: str) -> bool:
    print(("✔ correct: " if ok else "✘ not yet: ") + message)
    return ok


def _number(answer: Any, name: str = "answer") -> float:
    if hasattr(answer, "item") and callable(answer.item):  # a 0-d tensor or numpy scalar
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(answer).__name__}")
    return float(answer)


# -- chapter 1: text as tokens ------------------------------------------------------------------

BYTE_COUNT_TEXT = "Ay, marry — 'tis so"
FIRST_MERGE_TEXT = "to be or not to be"


def check_byte_count(answer: Any, text: str = BYTE_COUNT_TEXT) -> bool:
    """Exercise: the number of tokens the 256-id byte vocabulary (no merges) needs for ``text``."""
    value = _number(answer)
    truth = len(text.encode("utf-8"))
    if value == truth:
        return _report(True, f"{truth} tokens: one per UTF-8 byte.")
    if value == len(text):
        wide = [ch for ch in text if len(ch.encode("utf-8")) > 1]
        return _report(False, f"{len(text)} is the number of characters; {wide} take more than one byte each.")
    return _report(False, f"{value:g} is not the number of UTF-8 bytes of {text!r}; "
                          f"count one per ASCII character and 3 for the em dash.")


def _as_byte(x: Any, name: str) -> int:
    if isinstance(x, str):
        b = x.encode("utf-8")
        if len(b) != 1:
            raise ValueError(f"{name} must be a single one-byte character, got {x!r}")
        return b[0]
    if isinstance(x, bytes) and len(x) == 1:
        return x[0]
    if isinstance(x, numbers.Integral) and not isinstance(x, bool) and 0 <= x < 256:
        return int(x)
    raise TypeError(f"{name} must be a one-character str, a 1-byte bytes or a byte value 0..255, got {x!r}")


def check_first_merge(answer: Any, text: str = FIRST_MERGE_TEXT) -> bool:
    """Exercise: the first merge byte-level BPE learns on ``text`` as one chunk, as a pair ``(a, b)``."""
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise TypeError(f"answer must be a pair (a, b) such as ('x', 'y'), got {answer!r}")
    pair = (_as_byte(answer[0], "answer[0]"), _as_byte(answer[1], "answer[1]"))
    tok = BPETokenizer(pattern=None).train(text, 257)
    (truth,) = list(tok.merges)
    show = lambda p: tuple(bytes([v]).decode("utf-8") for v in p)  # noqa: E731
    if pair == truth:
        return _report(True, f"{show(truth)}: one of four pairs that occur twice, and the smallest as bytes.")
    data = text.encode("utf-8")
    counts = Counter(zip(data, data[1:]))
    top = max(counts.values())
    if counts.get(pair, 0) == top:
        return _report(False, f"{show(pair)} does occur {top} times, but so do others; the tie goes to the "
                              f"smallest pair of byte values.")
    return _report(False, f"{show(pair)} occurs {counts.get(pair, 0)} time(s); the most frequent pairs occur {top} times.")


def check_smallest_vocabulary(answer: Any, tokenizers: Mapping[int, Any], text: str, target: float = 2.5) -> bool:
    """Exercise: the smallest vocabulary size in ``tokenizers`` reaching ``target`` bytes per token on ``text``."""
    value = _number(answer)
    if not isinstance(tokenizers, Mapping) or not tokenizers:
        raise TypeError("tokenizers must be the non-empty dict {vocabulary size: tokenizer} of the chapter")
    n_bytes = len(text.encode("utf-8"))
    bpt = {v: n_bytes / len(tok.encode(text)) for v, tok in sorted(tokenizers.items())}
    reaching = [v for v, b in bpt.items() if b >= target]
    if not reaching:
        return _report(False, f"no tokenizer here reaches {target} bytes per token")
    truth = min(reaching)
    if value == truth:
        return _report(True, f"V = {truth} reaches {bpt[truth]:.2f} bytes per token.")
    if value in bpt:
        return _report(False, f"V = {value:g} gives {bpt[int(value)]:.2f} bytes per token"
                              + (f", below {target}." if bpt[int(value)] < target else ", but a smaller size also reaches it."))
    return _report(False, f"{value:g} is not one of the vocabulary sizes {list(bpt)}.")


def check_nats_per_char(answer: Any, tokenizer: BPETokenizer | CharTokenizer, text: str, *,
                        nats_per_token: float) -> bool:
    """Exercise: convert a loss in nats per token to nats per character on ``text`` (Eq. eq-tok-per-char)."""
    value = _number(answer)
    n_tok, n_char = len(tokenizer.encode(text)), len(text)
    truth = nats_per_token * n_tok / n_char
    if math.isclose(value, truth, rel_tol=1e-3):
        return _report(True, f"{truth:.3f} nats per character = {truth / math.log(2):.3f} bits per character.")
    if math.isclose(value, nats_per_token, rel_tol=1e-3):
        return _report(False, "that is the loss per token; multiply by tokens per character (N_tok / N_char).")
    if math.isclose(value, nats_per_token * n_char / n_tok, rel_tol=1e-3):
        return _report(False, "the ratio is upside down: a token covers more than one character, so per "
                              "character the loss is smaller.")
    if math.isclose(value, truth / math.log(2), rel_tol=1e-3):
        return _report(False, "that is in bits; the question asks for nats.")
    return _report(False, f"{value:g} is not nats/token × N_tok / N_char = {nats_per_token} × {n_tok} / {n_char}.")


# -- chapter 2: attention -----------------------------------------------------------------------

def check_causal_mask(answer: Any, size: int = 5) -> bool:
    """Exercise: the ``(size, size)`` boolean causal mask, True where query i may attend to key j."""
    import torch

    if not isinstance(answer, torch.Tensor):
        raise TypeError(f"answer must be a torch.Tensor, got {type(answer).__name__}")
    if tuple(answer.shape) != (size, size):
        return _report(False, f"expected shape ({size}, {size}), got {tuple(answer.shape)}")
    if answer.dtype != torch.bool:
        return _report(False, f"expected a boolean tensor (True = may attend), got dtype {answer.dtype}")
    truth = torch.ones(size, size, dtype=torch.bool).tril()
    if torch.equal(answer, truth):
        return _report(True, "the lower triangle with its diagonal: each position sees itself and the past.")
    if torch.equal(answer, ~truth):
        return _report(False, "that is the set of positions to block (the future); the question asks where attending is allowed.")
    if torch.equal(answer, truth.T):
        return _report(False, "that lets every query see the future (the upper triangle); rows are queries, columns keys.")
    if torch.equal(answer, torch.ones(size, size, dtype=torch.bool).tril(-1)):
        return _report(False, "the diagonal is missing: a position may attend to itself.")
    return _report(False, "not the causal mask: query i (row) may attend to key j (column) exactly when j <= i.")


def check_attention_parameters(answer: Any, *, n_embd: int, n_head: int, bias: bool = True) -> bool:
    """Exercise: the parameter count of one multi-head self-attention layer (GPT-2 layout)."""
    value = _number(answer)
    weights = 4 * n_embd * n_embd
    truth = weights + (4 * n_embd if bias else 0)
    if value == truth:
        return _report(True, f"{truth:,}: 4·{n_embd}² weights + 4·{n_embd} biases, whatever the number of heads.")
    if value == weights:
        return _report(False, f"{weights:,} counts the weights only; W_qkv and W_O also have biases (3·{n_embd} + {n_embd}).")
    if value in (n_head * truth, n_head * weights):
        return _report(False, f"the heads share the {n_embd}-wide maps, each using a {n_embd // n_head}-wide slice; "
                              f"more heads do not mean more parameters.")
    if value in (3 * n_embd * n_embd + 3 * n_embd, 3 * n_embd * n_embd):
        return _report(False, "that is Q, K and V only; the output projection W_O adds n_embd² + n_embd.")
    return _report(False, f"{value:,.0f} is not it: count W_Q, W_K, W_V and W_O ({n_embd}×{n_embd} each) and their biases.")


def check_temperature(answer: Any, d: int = 16) -> bool:
    """Exercise: the softmax temperature that scaled dot-product attention applies to raw scores, √d."""
    value = _number(answer)
    truth = math.sqrt(d)
    if math.isclose(value, truth, rel_tol=1e-3):
        return _report(True, f"τ = √{d} = {truth:g}: the raw scores' standard deviation.")
    if math.isclose(value, 1 / truth, rel_tol=1e-3):
        return _report(False, f"1/√d is the factor applied to the scores; dividing by τ = √d is the same thing, so τ = {truth:g}.")
    if math.isclose(value, d, rel_tol=1e-3):
        return _report(False, f"d = {d} is the raw scores' variance; the scale is its square root.")
    return _report(False, f"{value:g} is not it: by Eq. (eq-att-variance) the raw scores have standard deviation √d.")


def check_newline_head(answer: Any, model: Any, tokenizer: CharTokenizer, windows: Any) -> bool:
    """Exercise: the ``(layer, head)``, counted from 1, that puts the most attention on line breaks."""
    import torch

    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise TypeError(f"answer must be a pair (layer, head) counted from 1, got {answer!r}")
    layer, head = (int(_number(v, "answer")) for v in answer)
    maps = model.attention_maps(windows).cpu()  # (layer, window, head, T, T)
    n_layer, _, n_head, _, _ = maps.shape
    newline = torch.tensor([[tokenizer.decode([i]) == "\n" for i in row] for row in windows.tolist()])
    share = (maps * newline[None, :, None, None, :]).sum(-1)[..., 8:].mean(dim=(1, 3))  # (layer, head)
    best = divmod(int(share.argmax()), n_head)
    truth = (best[0] + 1, best[1] + 1)
    if (layer, head) == truth:
        return _report(True, f"layer {layer}, head {head} puts {share[best].item():.0%} of its attention on line breaks.")
    if (layer + 1, head + 1) == truth:
        return _report(False, "count layers and heads from 1, not 0.")
    if not (1 <= layer <= n_layer and 1 <= head <= n_head):
        return _report(False, f"the model has layers 1..{n_layer} and heads 1..{n_head}.")
    return _report(False, f"layer {layer}, head {head} puts {share[layer - 1, head - 1].item():.0%} on line breaks; "
                          f"another head puts more.")


# -- chapter 4: pre-training --------------------------------------------------------------------

def check_perplexity(answer: Any, *, nats: float) -> bool:
    """Exercise: the perplexity ``exp(loss)`` of a model whose loss is ``nats`` per token."""
    value = _number(answer)
    truth = math.exp(nats)
    if math.isclose(value, truth, rel_tol=1e-3):
        return _report(True, f"e^{nats} = {truth:.3f}: as unsure as a fair choice among {truth:.1f} tokens.")
    if math.isclose(value, 2**nats, rel_tol=1e-3):
        return _report(False, "2^loss is the perplexity of a loss in bits; this loss is in nats, so use e^loss.")
    if math.isclose(value, nats / math.log(2), rel_tol=1e-3):
        return _report(False, "that is the loss in bits; perplexity is e^loss.")
    return _report(False, f"{value:g} is not e^{nats}.")


def check_initial_loss(answer: Any, *, vocab_size: int) -> bool:
    """Exercise: the loss of an untrained model that predicts uniformly over ``vocab_size`` tokens, ln V."""
    value = _number(answer)
    truth = math.log(vocab_size)
    if math.isclose(value, truth, rel_tol=1e-3):
        return _report(True, f"ln {vocab_size} = {truth:.3f} nats: every token gets probability 1/{vocab_size}.")
    if math.isclose(value, math.log2(vocab_size), rel_tol=1e-3):
        return _report(False, f"that is log2 {vocab_size}, the loss in bits; the loss here is in nats (ln).")
    if math.isclose(value, math.log(vocab_size + 256), rel_tol=1e-3):
        return _report(False, "that counts 256 byte-fallback ids the question's tokenizer does not have.")
    return _report(False, f"{value:g} is not it: a uniform prediction over V tokens has cross-entropy ln V.")


def check_tokens_seen(answer: Any, *, steps: int, batch_size: int, block_size: int) -> bool:
    """Exercise: how many next-token predictions training makes: steps × batch_size × block_size."""
    value = _number(answer)
    truth = steps * batch_size * block_size
    if value == truth:
        return _report(True, f"{truth:,} predictions: {steps:,} steps × {batch_size} windows × {block_size} positions.")
    if value == steps * batch_size * (block_size + 1):
        return _report(False, f"a window holds {block_size + 1} characters but gives {block_size} predictions "
                              f"(the first character has no prediction of its own).")
    if value in (steps * batch_size, steps * block_size):
        return _report(False, "every step trains on batch_size windows and every window on block_size positions: multiply all three.")
    return _report(False, f"{value:,.0f} is not steps × batch_size × block_size.")
