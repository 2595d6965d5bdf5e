"""Looking inside a trained GPT: its attention maps, its residual stream and the logit lens.

Each function takes a :class:`~genai_lib.llm.GPT` and a batch of token ids ``idx`` ``(B, T)``,
runs the model's own forward pass (:meth:`GPT._hidden`, so what is shown is what the model
computes) in eval mode and without gradients, and returns the model to the mode it was in. The
model exposes them as methods too: ``model.attention_maps(idx)`` is ``attention_maps(model, idx)``.

* :func:`attention_maps` — how much every position attends to every earlier one, per layer and head;
* :func:`residual_stream` — the vector every position carries, before and after every block;
* :func:`logit_lens` — the next-token logits read out of that stream after every block
  (nostalgebraist 2020): what the model would predict if the remaining blocks added nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch

from genai_lib._checks import check_token_ids

if TYPE_CHECKING:
    from genai_lib.llm.model import GPT

__all__ = ["attention_maps", "residual_stream", "logit_lens"]


@contextmanager
def _eval_mode(model: GPT) -> Iterator[None]:
    """Run the body in eval mode (no dropout), then restore the model's mode."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@torch.no_grad()
def attention_maps(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """Return every head's attention weights on ``idx``: ``(n_layer, B, n_head, T, T)``.

    Entry ``[l, b, h, i, j]`` is how much position ``i`` attends to position ``j`` in head
    ``h`` of layer ``l``; each row sums to 1 and is 0 above the diagonal (the causal mask).
    Computed by the explicit :func:`~genai_lib.llm.attention.attention`, in eval mode.
    """
    idx = check_token_ids(idx, model.config.vocab_size)
    with _eval_mode(model):
        _, maps = model._hidden(idx, need_weights=True)
    return torch.stack(maps)


@torch.no_grad()
def residual_stream(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """Return the residual stream on ``idx`` before and after every block: ``(n_layer + 1, B, T, n_embd)``.

    Entry ``[0]`` is the embedding ``wte(idx) + wpe(pos)``; entry ``[l]`` is the stream after
    block ``l``, so entry ``[n_layer]`` is what the final LayerNorm and the output layer read.
    Computed in eval mode (no dropout).
    """
    idx = check_token_ids(idx, model.config.vocab_size)
    stream: list[torch.Tensor] = []
    with _eval_mode(model):
        model._hidden(idx, stream=stream)
    return torch.stack(stream)


@torch.no_grad()
def logit_lens(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """Return the next-token logits read from the residual stream after every block:
    ``(n_layer + 1, B, T, vocab_size)``.

    Each entry applies the model's own final LayerNorm and output layer to
    :func:`residual_stream`'s entry — what the model would predict if the remaining blocks
    added nothing (the "logit lens", nostalgebraist 2020). The last entry equals
    ``model(idx)``'s logits.
    """
    return model.lm_head(model.transformer.ln_f(residual_stream(model, idx)))
