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
           "check_perplexity", "check_initial_loss", "check_tokens_seen",
           "check_lora_parameters", "check_lora_break_even", "check_lora_merge",
           "check_nucleus_size", "check_tempered_probability", "check_kv_cache_bytes", "check_positions_processed",
           "check_gpt_parameters", "check_untied_extra", "check_block_forward", "check_swap_positions"]


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


# -- chapter 5: decoding ------------------------------------------------------------------------

NUCLEUS_PROBS = (0.5, 0.2, 0.15, 0.1, 0.05)


def check_nucleus_size(answer: Any, probs: tuple[float, ...] = NUCLEUS_PROBS, p: float = 0.8) -> bool:
    """Exercise: how many tokens top-p keeps: the smallest top set whose probability reaches ``p``."""
    value = _number(answer)
    ranked = sorted(probs, reverse=True)
    total, truth = 0.0, 0
    while total < p - 1e-12 and truth < len(ranked):
        total += ranked[truth]
        truth += 1
    if value == truth:
        return _report(True, f"{truth} tokens: the top {truth} hold {total:.2f} >= {p}, the top {truth - 1} only "
                             f"{total - ranked[truth - 1]:.2f}.")
    if value == truth - 1:
        return _report(False, f"the top {truth - 1} hold only {total - ranked[truth - 1]:.2f} < {p}: the nucleus must "
                              f"reach p, so it takes one more token.")
    if 0 < value <= len(ranked) and value == int(value):
        return _report(False, f"the top {int(value)} hold {sum(ranked[:int(value)]):.2f}; take the smallest set that reaches {p}.")
    return _report(False, f"{value:g} is not a number of tokens between 1 and {len(ranked)}.")


def check_tempered_probability(answer: Any, logits: tuple[float, ...] = (2.0, 1.0, 0.0), temperature: float = 0.5) -> bool:
    """Exercise: the probability of the first token under softmax(logits / temperature)."""
    value = _number(answer)
    softmax = lambda z: [math.exp(v - max(z)) / sum(math.exp(u - max(z)) for u in z) for v in z]  # noqa: E731
    truth = softmax([z / temperature for z in logits])[0]
    if math.isclose(value, truth, rel_tol=1e-3):
        return _report(True, f"{truth:.3f}: dividing by τ = {temperature} stretches the gaps between the logits, "
                             f"so the top token gains.")
    if math.isclose(value, softmax(list(logits))[0], rel_tol=1e-3):
        return _report(False, "that is the probability at τ = 1; divide the logits by τ before the softmax.")
    if math.isclose(value, softmax([z * temperature for z in logits])[0], rel_tol=1e-3):
        return _report(False, "that multiplies the logits by τ; the temperature divides them.")
    return _report(False, f"{value:g} is not softmax(z / τ)₁ for z = {logits}, τ = {temperature}.")


def check_kv_cache_bytes(answer: Any, *, n_layer: int, n_embd: int, n_tokens: int, bytes_per_value: int = 4) -> bool:
    """Exercise: the memory of a KV cache for one sequence: 2 × n_layer × n_tokens × n_embd values."""
    value = _number(answer)
    truth = 2 * n_layer * n_tokens * n_embd * bytes_per_value
    if value == truth:
        return _report(True, f"{truth:,} bytes ({truth / 2**20:.1f} MiB): keys and values, every layer, every position.")
    if value == truth // 2:
        return _report(False, "that holds only the keys (or only the values); the cache keeps both.")
    if value == truth // n_layer:
        return _report(False, f"that is one layer; every one of the {n_layer} layers keeps its own keys and values.")
    if value == truth // bytes_per_value:
        return _report(False, f"that is the number of values; each takes {bytes_per_value} bytes.")
    return _report(False, f"{value:,.0f} is not 2 × layers × tokens × width × bytes per value.")


def check_positions_processed(answer: Any, *, prompt_len: int, new_tokens: int, use_cache: bool) -> bool:
    """Exercise: positions the model runs through to write ``new_tokens`` after a prompt (no sliding window)."""
    value = _number(answer)
    without = new_tokens * prompt_len + new_tokens * (new_tokens - 1) // 2
    with_cache = prompt_len + new_tokens - 1
    truth = with_cache if use_cache else without
    if value == truth:
        how = ("the prompt once, then one new position per step" if use_cache
               else "every step reruns the whole text so far: P + (P + 1) + ... + (P + N - 1)")
        return _report(True, f"{truth:,} positions: {how}.")
    if value == (without if use_cache else with_cache):
        return _report(False, "that is the count for the other case (with the cache swapped for without).")
    if not use_cache and value == new_tokens * (prompt_len + new_tokens):
        return _report(False, "step i runs P + i positions (i = 0 .. N - 1), not P + N every time; sum them.")
    if use_cache and value in (prompt_len + new_tokens, new_tokens):
        return _report(False, "the first step runs the prompt (P positions), each later step one position: P + N - 1.")
    return _report(False, f"{value:,.0f} is not it; count the positions each of the {new_tokens} steps runs.")


# -- chapter 3: the transformer and GPT -------------------------------------------------------------

def _gpt_parameter_count(vocab_size: int, block_size: int, n_layer: int, n_embd: int) -> int:
    """Eq. (eq-gpt-params): V d + T d + L (12 d² + 13 d) + 2 d (biases included, tied output layer)."""
    d = n_embd
    return vocab_size * d + block_size * d + n_layer * (12 * d * d + 13 * d) + 2 * d


def check_gpt_parameters(answer: Any, *, vocab_size: int, block_size: int, n_layer: int, n_embd: int) -> bool:
    """Exercise: the parameter count of a GPT-2-layout model (biases, tied output layer), Eq. (eq-gpt-params)."""
    value = _number(answer)
    V, T, L, d = vocab_size, block_size, n_layer, n_embd
    truth = _gpt_parameter_count(V, T, L, d)
    if value == truth:
        return _report(True, f"{truth:,} = V·d + T·d + L(12d² + 13d) + 2d.")
    if value == truth + V * d:
        return _report(False, "the output layer is tied to the token embedding: count V·d once, not twice.")
    if value == truth - T * d:
        return _report(False, f"the position embedding (T·d = {T * d:,}) is missing.")
    if value == truth - 2 * d:
        return _report(False, "the final LayerNorm (a gain and a bias of size d) is missing.")
    if value in (V * d + T * d + 12 * L * d * d, 12 * L * d * d, truth - L * 13 * d):
        return _report(False, "that counts the weight matrices only; add the biases (9d per block) and the "
                              "LayerNorms (4d per block, 2d at the top).")
    if value == V * d + T * d + L * (8 * d * d + 9 * d) + 2 * d:
        return _report(False, "the MLP is 4d wide: its two matrices hold 8d², not 4d².")
    return _report(False, f"{value:,.0f} is not it: add V·d, T·d, per block 4d² + 4d (attention), 8d² + 5d (MLP) "
                          f"and 4d (two LayerNorms), and 2d for the final LayerNorm.")


def check_untied_extra(answer: Any, *, vocab_size: int, n_embd: int) -> bool:
    """Exercise: the parameters an untied output layer (no bias) would add: one more V × d matrix."""
    value = _number(answer)
    truth = vocab_size * n_embd
    if value == truth:
        return _report(True, f"{truth:,}: a second {vocab_size} × {n_embd} matrix.")
    if value == truth + vocab_size:
        return _report(False, "GPT-2's output layer has no bias; count the matrix only.")
    if value == 2 * truth:
        return _report(False, "the embedding is there already; untying adds only the output layer's own matrix.")
    if value in (n_embd * n_embd, vocab_size):
        return _report(False, "the output layer maps the width d to one score per token: V × d.")
    return _report(False, f"{value:,.0f} is not it: the output layer is a vocab_size × n_embd matrix.")


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
            return _report(False, f"my_block(b, x) raised {type(err).__name__}: {err}")
        if isinstance(out, tuple):
            return _report(False, "return the updated stream x only (a tensor), not a tuple.")
        if not isinstance(out, torch.Tensor) or out.shape != x.shape:
            return _report(False, f"my_block must return a tensor of the input's shape {tuple(x.shape)}.")
        if torch.allclose(out, truth, atol=1e-5):
            return _report(True, "x + attn(ln_1(x)), then x + mlp(ln_2(x)): the pre-LN block.")
        a = block.attn(x)[0]
        post = block.ln_2(block.ln_1(x + a) + block.mlp(block.ln_1(x + a)))
        if torch.allclose(out, post, atol=1e-5):
            return _report(False, "that is the post-LN block of the original transformer; GPT-2 normalises the "
                                  "branch's input, x + f(LN(x)), and never the stream itself.")
        x1 = x + block.attn(block.ln_1(x))[0]
        if torch.allclose(out, block.mlp(block.ln_2(x1)), atol=1e-5) or torch.allclose(out, x1, atol=1e-5):
            return _report(False, "the MLP's output is *added* to the stream: return x + mlp(ln_2(x)).")
        if torch.allclose(out, x + block.attn(x)[0] + block.mlp(x + block.attn(x)[0]), atol=1e-5):
            return _report(False, "the LayerNorms are missing: each branch reads ln_1(x) / ln_2(x).")
        if torch.allclose(out, x + block.attn(block.ln_1(x))[0] + block.mlp(block.ln_2(x)), atol=1e-5):
            return _report(False, "the MLP reads the stream *after* the attention output was added.")
    return _report(False, "not the pre-LN block: x = x + b.attn(b.ln_1(x))[0], then return x + b.mlp(b.ln_2(x)).")


def check_swap_positions(answer: Any, *, swap: tuple[int, int] = (0, 1), length: int = 6) -> bool:
    """Exercise: which outputs of one causal block *without* position embeddings can change when two tokens swap."""
    if isinstance(answer, (str, bytes)) or not hasattr(answer, "__iter__"):
        raise TypeError(f"answer must be a set of positions such as {{0, 1}}, got {answer!r}")
    positions = {int(_number(v, "answer")) for v in answer}
    i, j = sorted(swap)
    if not 0 <= i < j < length:
        raise ValueError(f"swap must be two different positions in 0..{length - 1}, got {swap!r}")
    truth = set(range(i, j + 1))  # before i nothing changes; from j on the own token and the set are the same
    if positions == truth:
        return _report(True, f"{sorted(truth)}: between the swapped positions the set of tokens seen (or the own "
                             f"token) differs; before {i} nothing changed, and from {j + 1} on the own token and "
                             f"the set of earlier tokens are the same.")
    if positions == {i, j}:  # j > i + 1 here, else this would be the truth
        return _report(False, f"the positions between them also change: they now see the token from {j} instead "
                              f"of the one from {i}.")
    if positions >= set(range(i, length)):
        return _report(False, f"from position {j + 1} on, the own token and the *set* of earlier tokens are "
                              f"unchanged, and attention without positions sees only the set.")
    return _report(False, f"{sorted(positions)} is not it: position p's output depends on its own token and on the "
                          f"set of tokens at positions <= p.")


# -- chapter 6: fine-tuning ---------------------------------------------------------------------

def _lora_shapes(config: Any) -> list[tuple[int, int]]:
    """(d_in, d_out) of the four matrices LoRA adapts in each block of a GPT with ``config``."""
    d = config.n_embd
    return [(d, 3 * d), (d, d), (d, 4 * d), (4 * d, d)] * config.n_layer


def check_lora_parameters(answer: Any, *, r: int, config: Any) -> bool:
    """Exercise: the numbers LoRA trains at rank ``r`` on the 4 projections of every block, Σ r (d_in + d_out)."""
    value = _number(answer)
    if not all(hasattr(config, k) for k in ("n_embd", "n_layer")):
        raise TypeError(f"config must be a GPTConfig (with n_embd and n_layer), got {type(config).__name__}")
    shapes = _lora_shapes(config)
    truth = sum(r * (a + b) for a, b in shapes)
    if value == truth:
        return _report(True, f"{truth:,}: r (d_in + d_out) summed over {len(shapes)} matrices.")
    if value == sum(2 * r * config.n_embd for _ in shapes):
        return _report(False, "2 r d holds for a square d × d matrix only; W_qkv and the MLP's matrices are not "
                              "square: use r (d_in + d_out).")
    if value == sum(a * b for a, b in shapes):
        return _report(False, "that is the size of the matrices themselves (what full fine-tuning trains).")
    if value == truth // config.n_layer:
        return _report(False, f"that is one block; the model has {config.n_layer}.")
    return _report(False, f"{value:,.0f} is not it: each adapted matrix adds A (r × d_in) and B (d_out × r).")


def check_lora_break_even(answer: Any, *, d_in: int, d_out: int) -> bool:
    """Exercise: the rank at which LoRA's r (d_in + d_out) equals the matrix's d_in d_out."""
    value = _number(answer)
    truth = d_in * d_out / (d_in + d_out)
    if math.isclose(value, truth, rel_tol=1e-3) or (not truth.is_integer() and value == math.ceil(truth)):
        return _report(True, f"r = d_in d_out / (d_in + d_out) = {truth:g}.")
    if value in (min(d_in, d_out), d_in / 2, d_out / 2):
        return _report(False, f"{value:g} would be right for a square matrix of that size (r = d / 2); solve "
                              f"r (d_in + d_out) = d_in d_out for this one.")
    return _report(False, f"{value:g} is not it: solve r (d_in + d_out) = d_in d_out.")


def check_lora_merge(merge: Any) -> bool:
    """Exercise: ``merge(layer)`` returns the merged weight ``W₀ + (α / r) B A`` of a ``LoRALinear``."""
    import torch

    from genai_lib.llm.lora import LoRALinear

    if not callable(merge):
        raise TypeError(f"merge must be a function of one LoRALinear, got {type(merge).__name__}")
    gen = torch.Generator().manual_seed(0)
    base = torch.nn.Linear(6, 10)
    layer = LoRALinear(base, r=3, alpha=12.0)
    with torch.no_grad():
        layer.lora_B.copy_(torch.randn(10, 3, generator=gen))
        truth = base.weight + layer.scaling * layer.lora_B @ layer.lora_A
        got = merge(layer)
    if not isinstance(got, torch.Tensor):
        return _report(False, f"merge(layer) must return a tensor, got {type(got).__name__}")
    if tuple(got.shape) != tuple(truth.shape):
        return _report(False, f"the merged weight has the base weight's shape {tuple(truth.shape)}, got {tuple(got.shape)}")
    got = got.detach()
    if torch.allclose(got, truth, atol=1e-5):
        x = torch.randn(4, 6, generator=gen)
        same = torch.allclose(x @ got.T + base.bias, layer(x), atol=1e-5)
        return _report(same, "W₀ + (α/r) B A: the merged layer computes what the adapted one does."
                       if same else "the weight is right but does not reproduce the layer; report this as a bug.")
    with torch.no_grad():
        if torch.allclose(got, base.weight + layer.lora_B @ layer.lora_A, atol=1e-5):
            return _report(False, "the scale α / r (layer.scaling) is missing.")
        if torch.allclose(got, layer.scaling * layer.lora_B @ layer.lora_A, atol=1e-5):
            return _report(False, "that is only the update (α/r) B A; add the frozen weight W₀.")
        if torch.allclose(got, base.weight, atol=1e-5):
            return _report(False, "that is the frozen weight W₀ alone; add (α/r) B A.")
    return _report(False, "not W₀ + (α/r) B A; B (d_out × r) goes on the left of A (r × d_in).")
