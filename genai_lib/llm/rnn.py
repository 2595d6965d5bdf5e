"""An LSTM language model (Hochreiter & Schmidhuber 1997), the architecture transformers replaced.

The same task as the GPT (predict the next token at every position) with recurrence instead of
attention: a hidden state ``h_t = LSTM(h_{t-1}, x_t)`` carries everything the model knows about
the text so far, and position ``t`` cannot be computed before position ``t − 1`` has been. The
GPT computes every position of a window at once; that parallelism, not a better inductive bias,
is the usual account of why transformers won (Vaswani et al. 2017, section 4). The chapter "The
architecture lab" measures both sides at one budget.

:class:`LSTMLanguageModel` has the GPT's surface where :func:`genai_lib.llm.train.evaluate` needs
it (``forward(idx, targets) -> (logits, loss)``, ``config.block_size``, ``lm_head``), and
:func:`train_lstm` trains it with the GPT's recipe (:class:`~genai_lib.llm.train.TrainConfig`:
the same windows, AdamW, clipping and schedule), so the comparison changes the architecture only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genai_lib._checks import check_fields, check_int, check_token_ids
from genai_lib.training import History

__all__ = ["LSTMConfig", "LSTMLanguageModel", "train_lstm"]


@dataclass
class LSTMConfig:
    """Sizes of an :class:`LSTMLanguageModel`.

    Attributes:
        vocab_size: number of token ids.
        block_size: the training window (the LSTM itself runs on any length).
        n_layer: stacked LSTM layers.
        n_embd: the embedding and hidden width.
    """

    vocab_size: int
    block_size: int = 64
    n_layer: int = 1
    n_embd: int = 128

    def __post_init__(self) -> None:
        size = lambda value, name: check_int(value, name, minimum=1)  # noqa: E731
        check_fields(self, {k: size for k in ("vocab_size", "block_size", "n_layer", "n_embd")})


class LSTMLanguageModel(nn.Module):
    """Embedding → ``n_layer`` LSTM layers → output layer tied to the embedding (as in the GPT)."""

    def __init__(self, config: LSTMConfig) -> None:
        super().__init__()
        if not isinstance(config, LSTMConfig):
            raise TypeError(f"config must be an LSTMConfig, got {type(config).__name__}")
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.lstm = nn.LSTM(config.n_embd, config.n_embd, num_layers=config.n_layer, batch_first=True)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        nn.init.normal_(self.lm_head.weight, std=0.02)
        self.wte.weight = self.lm_head.weight

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(logits, loss)`` for ``idx`` ``(B, T)``, as :meth:`GPT.forward <genai_lib.llm.GPT.forward>`."""
        idx = check_token_ids(idx, self.config.vocab_size)
        h, _ = self.lstm(self.wte(idx))
        logits = self.lm_head(h)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1).long(), ignore_index=-1)
        return logits, loss

    def num_params(self) -> int:
        """The number of parameters, the tied embedding counted once."""
        return sum(p.numel() for p in self.parameters())


def train_lstm(
    model: LSTMLanguageModel,
    train_ids: Sequence[int] | torch.Tensor,
    config,  # noqa: ANN001 - a genai_lib.llm.TrainConfig (imported lazily: train imports the GPT)
    *,
    progress: bool = False,
) -> tuple[History, float]:
    """Train ``model`` in place with the GPT's recipe for ``config.steps`` steps.

    Returns the History of ``"loss"`` and the wall time of the steps in seconds. The windows are
    drawn exactly as :class:`~genai_lib.llm.train.GPTTrainer` draws them (same seed, same
    generator), so a GPT and an LSTM trained with one config see the same text in the same order.
    """
    from genai_lib.llm.train import TrainConfig, get_batch, lr_at, make_optimizer

    if not isinstance(model, LSTMLanguageModel):
        raise TypeError(f"model must be an LSTMLanguageModel, got {type(model).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    ids = torch.as_tensor(train_ids, dtype=torch.long)
    device = model.lm_head.weight.device
    opt = make_optimizer(model, config)
    rng = torch.Generator().manual_seed(config.seed)
    history = History()
    model.train()
    steps = range(config.steps)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="LSTM")
    start = time.perf_counter()
    for step in steps:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, config) * group["lr_scale"]
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for _ in range(config.grad_accum):
            x, y = get_batch(ids, model.config.block_size, config.batch_size, rng)
            loss = model(x.to(device), y.to(device))[1] / config.grad_accum
            loss.backward()
            total += loss.item()
        if config.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        history.append(step, {"loss": total})
    return history, time.perf_counter() - start
