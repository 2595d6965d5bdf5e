"""Special tokens and a chat template: how an instruction and its answer become one token sequence.

A base language model continues text. To make it *answer*, supervised fine-tuning (SFT) trains it
on conversations laid out by a fixed **chat template** (Ouyang et al. 2022; the ChatML layout of
OpenAI's chat models is one such template). The book's template is::

    <|user|> instruction <|assistant|> answer <|end|>

where ``<|user|>``, ``<|assistant|>`` and ``<|end|>`` are **special tokens**: ids of their own,
appended after the base tokenizer's vocabulary. Two properties make them safe markers:

* plain text never produces a special id — :meth:`ChatTokenizer.encode` is the base tokenizer's
  ``encode``, so a user who types ``"<|end|>"`` gets the seven ordinary characters, not the marker
  (the prompt-injection guard of real chat tokenizers);
* the model's embedding table and (tied) output layer grow by one row per special token
  (:func:`add_token_rows`), and every old row is copied unchanged, so the old tokens' logits are
  exactly those of the base model.

:func:`answer_mask` says which targets belong to the answer — the tokens after ``<|assistant|>``
up to and including ``<|end|>`` — which is what SFT trains on (:mod:`genai_lib.llm.instruct`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from genai_lib.llm.model import GPT, GPTConfig
from genai_lib.llm.tokenizers import BPETokenizer, CharTokenizer, _check_ids, _check_text

__all__ = ["SPECIAL_TOKENS", "ChatTokenizer", "answer_mask", "add_token_rows"]

#: The special tokens of the book's chat template, in the order of their ids.
SPECIAL_TOKENS = ("<|user|>", "<|assistant|>", "<|end|>")


class ChatTokenizer:
    """A base tokenizer plus special tokens, and the chat template built from them.

    Ids ``0 .. base.vocab_size - 1`` are the base tokenizer's; the special tokens follow in the
    order given (``<|user|>`` is ``base.vocab_size``, and so on). :meth:`encode` never returns a
    special id; :meth:`decode` writes special ids as their names.

    Args:
        base: a :class:`~genai_lib.llm.tokenizers.CharTokenizer` or
            :class:`~genai_lib.llm.tokenizers.BPETokenizer`.
        special: the names of the special tokens; must hold ``<|user|>``, ``<|assistant|>`` and
            ``<|end|>`` (default :data:`SPECIAL_TOKENS`).
    """

    def __init__(self, base: CharTokenizer | BPETokenizer, special: Sequence[str] = SPECIAL_TOKENS) -> None:
        if not isinstance(base, (CharTokenizer, BPETokenizer)):
            raise TypeError(f"base must be a CharTokenizer or BPETokenizer, got {type(base).__name__}")
        if isinstance(special, str) or not all(isinstance(s, str) and s for s in special):
            raise TypeError("special must be a sequence of non-empty strings")
        special = tuple(special)
        if len(set(special)) != len(special):
            raise ValueError(f"special must not repeat a token, got {special}")
        missing = [s for s in SPECIAL_TOKENS if s not in special]
        if missing:
            raise ValueError(f"special must include {missing} (the chat template uses them)")
        self.base = base
        self.special = special
        self.special_ids = {s: base.vocab_size + k for k, s in enumerate(special)}
        self.user_id = self.special_ids["<|user|>"]
        self.assistant_id = self.special_ids["<|assistant|>"]
        self.end_id = self.special_ids["<|end|>"]

    @property
    def base_vocab_size(self) -> int:
        """The number of ordinary (non-special) ids."""
        return self.base.vocab_size

    @property
    def vocab_size(self) -> int:
        """Ordinary ids plus one per special token."""
        return self.base.vocab_size + len(self.special)

    def is_special(self, token_id: int) -> bool:
        """True for the id of a special token."""
        return self.base.vocab_size <= int(token_id) < self.vocab_size

    def encode(self, text: str) -> list[int]:
        """The ids of plain ``text`` — never a special id, whatever the text says."""
        return self.base.encode(_check_text(text))

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """The text of ``ids``, special ids written as their names (``"<|end|>"``)."""
        ids = _check_ids(ids, self.vocab_size)
        parts, run = [], []
        for i in ids:
            if self.is_special(i):
                if run:
                    parts.append(self.base.decode(run))
                    run = []
                parts.append(self.special[i - self.base.vocab_size])
            else:
                run.append(i)
        if run:
            parts.append(self.base.decode(run))
        return "".join(parts)

    def prompt_ids(self, instruction: str) -> list[int]:
        """``<|user|> instruction <|assistant|>``: what the model is given to answer."""
        return [self.user_id, *self.encode(instruction), self.assistant_id]

    def encode_chat(self, instruction: str, answer: str) -> list[int]:
        """``<|user|> instruction <|assistant|> answer <|end|>``: one training example."""
        return [*self.prompt_ids(instruction), *self.encode(answer), self.end_id]

    def decode_chat(self, ids: Sequence[int] | torch.Tensor) -> tuple[str, str | None]:
        """Read ``(instruction, answer)`` back from :meth:`encode_chat`'s ids.

        ``answer`` is the text between ``<|assistant|>`` and the first ``<|end|>`` after it (to the
        end of ``ids`` if there is none), or None when there is no ``<|assistant|>``.
        """
        ids = _check_ids(ids, self.vocab_size)
        if not ids or ids[0] != self.user_id:
            raise ValueError("ids must start with the <|user|> token")
        if self.assistant_id not in ids:
            return self.decode(ids[1:]), None
        a = ids.index(self.assistant_id)
        return self.decode(ids[1:a]), self.answer_text(ids[a + 1 :])

    def answer_text(self, generated: Sequence[int] | torch.Tensor) -> str:
        """The text of generated ids up to (not including) the first ``<|end|>`` or other special token."""
        generated = _check_ids(generated, self.vocab_size, "generated")
        stop = next((k for k, i in enumerate(generated) if self.is_special(i)), len(generated))
        return self.base.decode(generated[:stop])

    def __repr__(self) -> str:
        return f"ChatTokenizer(base={self.base!r}, special={self.special})"


def answer_mask(ids: Sequence[int] | torch.Tensor, tokenizer: ChatTokenizer) -> torch.Tensor:
    """Which *targets* of a chat sequence SFT trains on: a bool tensor of ``len(ids) - 1``.

    A model reads ``ids[:-1]`` and predicts ``ids[1:]``; position ``t`` of the mask is True when the
    target ``ids[t + 1]`` is part of an answer: after an ``<|assistant|>`` token, up to and including
    the ``<|end|>`` that closes it. The instruction, the special tokens that open each turn and
    anything after ``<|end|>`` (padding) are False.
    """
    if not isinstance(tokenizer, ChatTokenizer):
        raise TypeError(f"tokenizer must be a ChatTokenizer, got {type(tokenizer).__name__}")
    ids = _check_ids(ids, tokenizer.vocab_size)
    if len(ids) < 2:
        raise ValueError(f"ids must hold at least 2 tokens (an input and a target), got {len(ids)}")
    mask, inside = [], False
    for i in ids:
        mask.append(inside)  # the mask of token i as a target (the first token is never one)
        if i == tokenizer.assistant_id:
            inside = True
        elif i == tokenizer.end_id or i == tokenizer.user_id:
            inside = False
    return torch.tensor(mask[1:], dtype=torch.bool)


def add_token_rows(model: GPT, n_new: int, init: str = "mean", generator: torch.Generator | None = None) -> GPT:
    """Return a copy of ``model`` whose vocabulary has ``n_new`` more tokens (new ids at the end).

    Every old row of the (tied) embedding and output table is copied unchanged, so the logits of
    the old tokens are exactly the old model's; only the softmax now also counts the new tokens.
    ``init="mean"`` sets each new row to the mean of the old rows (Hewitt 2021): the new tokens then
    start with an average logit, neither dominating nor impossible. ``init="normal"`` draws them as
    :class:`~genai_lib.llm.model.GPT` initialises a fresh table (N(0, 0.02²)).
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a GPT, got {type(model).__name__}")
    if isinstance(n_new, bool) or not isinstance(n_new, int) or n_new < 1:
        raise ValueError(f"n_new must be an int >= 1, got {n_new!r}")
    if init not in ("mean", "normal"):
        raise ValueError(f"init must be 'mean' or 'normal', got {init!r}")
    if any(not isinstance(m, (nn.Embedding, nn.Linear)) for m in (model.transformer.wte, model.lm_head)):
        raise ValueError("model holds adapters on its token table; merge them (llm.merge_lora) first")
    old = model.lm_head.weight
    config = GPTConfig(**{**vars(model.config), "vocab_size": model.config.vocab_size + n_new})
    new = GPT(config).to(device=old.device, dtype=old.dtype)
    state = {k: v for k, v in model.state_dict().items() if k not in ("transformer.wte.weight", "lm_head.weight")}
    new.load_state_dict(state, strict=False)
    with torch.no_grad():
        table = new.lm_head.weight  # tied: also the embedding
        table[: old.size(0)] = old
        if init == "mean":
            table[old.size(0) :] = old.mean(dim=0)
        else:
            table[old.size(0) :] = torch.randn(n_new, old.size(1), generator=generator, device=old.device) * 0.02
    new.train(model.training)
    return new
