"""Pre-training a GPT on a text: the recipe and the evaluation.

The recipe (:class:`TrainConfig`) is the one the book's chapters use: random windows of
``block_size + 1`` tokens (the input and, shifted by one, the targets), AdamW (Loshchilov & Hutter
2019) with weight decay on the matrices only, gradient clipping, and a learning rate that warms
up linearly and then follows a cosine down to ``min_lr``. :class:`GPTTrainer` is its
:class:`genai_lib.training.Trainer` (``trainer.fit(steps)`` as for every family) and
:func:`train_gpt` runs it for ``config.steps`` steps; :func:`evaluate` measures the mean
cross-entropy on fixed validation windows, so two runs are compared on the same text.

Losses are in nats per token. Per *character* is what compares tokenizers fairly: a tokenizer
with longer tokens has higher loss per token but predicts more text with each one. Over a text
of ``N_tok`` tokens and ``N_char`` characters::

    nats/char = (nats/token) · N_tok / N_char,   bits/char = (nats/char) / ln 2,
    perplexity = exp(nats/token)                                                   (1)

The command line that trains a GPT on a text file lives in :mod:`genai_lib.llm.cli`; it keeps its
historical name, so ``python -m genai_lib.llm.train --text FILE --steps N ...`` runs it (alone or
under ``torchrun``).
"""

from __future__ import annotations

import dataclasses
import numbers
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from genai_lib import distributed
from genai_lib._checks import check_fields, check_float, check_int
from genai_lib.llm.model import GPT
from genai_lib.training import History, Trainer, cosine_schedule

__all__ = [
    "TrainConfig",
    "TrainResult",
    "GPTTrainer",
    "lr_at",
    "make_optimizer",
    "get_batch",
    "evaluate",
    "train_gpt",
]


@dataclass
class TrainConfig:
    """The training recipe. Defaults: the book's 2-core CPU settings for the 0.8 M-parameter GPT.

    Attributes:
        steps: optimisation steps (the budget :func:`train_gpt` trains for, and the length of
            the learning-rate schedule).
        batch_size: windows per micro-batch. One update sees ``batch_size * grad_accum``
            windows per process, and ``batch_size * grad_accum * world_size`` in all (the global
            batch) when :class:`GPTTrainer` runs on several ranks (:mod:`genai_lib.distributed`).
        grad_accum: micro-batches whose gradients are summed before each update (>= 1): one
            process with ``grad_accum=N`` takes the same steps as N ranks with ``grad_accum=1``.
        lr: peak learning rate, reached after ``warmup_steps``.
        min_lr: the learning rate at the last step.
        warmup_steps: linear warm-up from ``lr / warmup_steps``; clipped to ``steps``.
        weight_decay: AdamW decay on weight matrices and embeddings (not biases or LayerNorms).
        beta1, beta2: AdamW's moment decay rates (0.99 rather than 0.999: small models on
            small batches like a shorter memory).
        grad_clip: clip the gradient's global norm to this (0 = off).
        seed: seeds the batch sampler (the model's initialisation is the caller's).
        eval_every: evaluate on the validation windows every this many steps (0 = only at the end).
        eval_windows: how many fixed validation windows :func:`train_gpt` evaluates on.
    """

    steps: int = 2000
    batch_size: int = 12
    grad_accum: int = 1
    lr: float = 3e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    seed: int = 0
    eval_every: int = 0
    eval_windows: int = 200

    def __post_init__(self) -> None:
        count = lambda minimum: lambda v, n: check_int(v, n, minimum=minimum)  # noqa: E731
        rate = lambda v, n: check_float(v, n, minimum=0.0)  # noqa: E731
        beta = lambda v, n: check_float(v, n, minimum=0.0, maximum=1.0, strict_max=True)  # noqa: E731
        check_fields(
            self,
            {
                "steps": count(1),
                "batch_size": count(1),
                "grad_accum": count(1),
                "lr": lambda v, n: check_float(v, n, minimum=0.0, strict_min=True),
                "min_lr": rate,
                "warmup_steps": count(0),
                "weight_decay": rate,
                "beta1": beta,
                "beta2": beta,
                "grad_clip": rate,
                "seed": count(0),
                "eval_every": count(0),
                "eval_windows": count(1),
            },
        )
        if self.min_lr > self.lr:
            raise ValueError(f"min_lr must be <= lr={self.lr}, got {self.min_lr}")


@dataclass
class TrainResult:
    """What :func:`train_gpt` returns.

    Attributes:
        history: per step, ``"loss"`` (training, nats/token) and ``"lr"``.
        val_history: ``"val_loss"`` (nats/token) at each evaluation, by finished steps.
        seconds: wall time of the training steps (evaluations excluded).
        tokens_per_second: training tokens processed per second of ``seconds``.
    """

    history: History
    val_history: History = field(default_factory=History)
    seconds: float = 0.0
    tokens_per_second: float = 0.0


def lr_at(step: int, config: TrainConfig) -> float:
    """The recipe's learning rate at ``step``: :func:`genai_lib.training.cosine_schedule` over
    ``config.steps`` updates, warming up for ``config.warmup_steps`` from ``lr / warmup_steps`` to
    ``config.lr`` and then following a cosine down to ``config.min_lr``.

    The warm-up keeps Adam's first, badly estimated steps small; the cosine spends most of the
    budget at a high rate and anneals at the end, when lower noise lowers the loss.
    """
    return cosine_schedule(step, config.steps, config.lr, warmup=config.warmup_steps, min_lr=config.min_lr)


def make_optimizer(
    model: torch.nn.Module, config: TrainConfig, lr_scale: Mapping[str, float] | None = None
) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; weight decay only on tensors with >= 2 dimensions.

    Decay pulls weights towards zero; on matrices and embeddings that acts as a regulariser, but
    on biases and LayerNorm gains it would only fight the scale the model needs.

    ``lr_scale`` maps a part of a parameter's name to a factor on the learning rate of every
    trainable parameter whose name contains it (the first key that matches wins), e.g.
    ``{"lora_rows": 2.0}``; each group keeps its factor as ``group["lr_scale"]``, which
    :func:`train_gpt` applies to the schedule's rate at every step.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("model has no trainable parameters")
    if lr_scale is not None and not isinstance(lr_scale, Mapping):
        raise TypeError(
            f"lr_scale must be a mapping such as {{'lora_rows': 2.0}} or None, got {type(lr_scale).__name__}"
        )
    scales = dict(lr_scale or {})
    for key, factor in scales.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"lr_scale keys must be non-empty parts of parameter names, got {key!r}")
        check_float(factor, f"lr_scale[{key!r}]", minimum=0.0, strict_min=True)
        if not any(key in n for n, _ in named):
            raise ValueError(f"lr_scale key {key!r} matches no trainable parameter of the model")
    groups: dict[tuple[bool, float], list[torch.nn.Parameter]] = {}
    for n, p in named:
        factor = next((float(f) for k, f in scales.items() if k in n), 1.0)
        groups.setdefault((p.dim() >= 2, factor), []).append(p)
    # The fused kernel updates every tensor of a group in one call instead of a dozen small ops per
    # tensor: the same AdamW (up to rounding), and for the book's 0.8 M-parameter GPT on a CPU about a
    # tenth of a training step saved. Where torch has no fused kernel, the default implementation runs.
    fused = all(p.device.type in ("cpu", "cuda") and p.dtype in (torch.float32, torch.float64) for _, p in named)
    return torch.optim.AdamW(
        [
            {"params": ps, "weight_decay": config.weight_decay if decay else 0.0, "lr_scale": factor}
            for (decay, factor), ps in sorted(groups.items(), key=lambda kv: (not kv[0][0], kv[0][1]))
        ],
        lr=config.lr,
        betas=(config.beta1, config.beta2),
        fused=fused or None,
    )


def _as_ids(ids: Sequence[int] | torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(ids, torch.Tensor):
        ids = torch.as_tensor(np.asarray(ids, dtype=np.int64))
    if ids.dim() != 1 or ids.dtype.is_floating_point:
        raise TypeError(f"{name} must be a 1-D sequence of token ids, got shape {tuple(ids.shape)} and {ids.dtype}")
    return ids.long()


def get_batch(
    ids: torch.Tensor, block_size: int, batch_size: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``batch_size`` random windows from ``ids``; return inputs and targets ``(B, block_size)``.

    The targets are the inputs shifted by one: at every position the model learns to predict the
    next token, so one window trains ``block_size`` predictions at once.
    """
    if len(ids) < block_size + 1:
        raise ValueError(f"ids holds {len(ids)} tokens; a window needs block_size + 1 = {block_size + 1}")
    starts = torch.randint(len(ids) - block_size, (batch_size,), generator=generator)
    windows = ids[starts.unsqueeze(1) + torch.arange(block_size + 1)]
    return windows[:, :-1], windows[:, 1:]


@torch.no_grad()
def evaluate(
    model: GPT, ids: Sequence[int] | torch.Tensor, *, max_windows: int | None = None, batch_size: int = 32
) -> float:
    """Return the mean cross-entropy (nats per token) of ``model`` on ``ids``.

    ``ids`` is cut into consecutive windows of ``block_size`` predictions (each window's first
    token predicted from nothing but the model's start). With ``max_windows`` an evenly spaced,
    fixed subset of the full windows is used, so repeated evaluations see the same text; with
    None every token after the first is predicted once, the tail included.
    """
    ids = _as_ids(ids, "ids")
    if len(ids) < 2:
        raise ValueError(f"ids must hold at least 2 tokens to predict one, got {len(ids)}")
    if max_windows is not None and (
        isinstance(max_windows, bool) or not isinstance(max_windows, numbers.Integral) or max_windows < 1
    ):
        raise ValueError(f"max_windows must be an int >= 1 or None, got {max_windows!r}")
    block = model.config.block_size
    device = model.lm_head.weight.device
    n_full = (len(ids) - 1) // block
    starts = torch.arange(n_full) * block
    tail = None if n_full * block == len(ids) - 1 else n_full * block
    if max_windows is not None and n_full > max_windows:  # a fixed, evenly spaced subset
        starts, tail = starts[torch.linspace(0, n_full - 1, max_windows).round().long().unique()], None
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        batches = [starts[i : i + batch_size] for i in range(0, len(starts), batch_size)]
        windows = [ids[b.unsqueeze(1) + torch.arange(block + 1)] for b in batches]
        if tail is not None:
            windows.append(ids[tail:].unsqueeze(0))
        for w in windows:
            w = w.to(device)
            logits, _ = model(w[:, :-1])
            nll = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.size(-1)), w[:, 1:].reshape(-1), reduction="sum"
            )
            total, count = total + nll.item(), count + w[:, 1:].numel()
    finally:
        model.train(was_training)
    return total / count


def _next_token_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return model(x, y)[1]


class GPTTrainer(Trainer):
    """Pre-train (or fine-tune) a :class:`GPT` with the book's recipe, as a :class:`~genai_lib.training.Trainer`.

    Each update draws a global batch of ``config.batch_size * config.grad_accum * world_size``
    random windows from ``train_ids`` with :attr:`rng` (seeded by ``config.seed``), sets the
    learning rate :func:`lr_at` (the schedule spans ``config.steps``), and takes one AdamW step
    (:func:`make_optimizer`) on the mean next-token cross-entropy over that batch, its gradient
    clipped to ``config.grad_clip``. ``fit(steps)`` trains until ``steps`` updates are done in
    total (at most ``config.steps``) and returns the History of ``"loss"`` (the global batch's
    mean) and ``"lr"``. The model's initialisation, and dropout's random numbers, are the caller's.

    On several ranks (``ranks`` from :func:`genai_lib.distributed.setup` under ``torchrun``) the
    model is wrapped in DistributedDataParallel. Every rank draws the *same* global batch from its
    own, identically seeded :attr:`rng` and keeps its shard (:func:`genai_lib.distributed.shard`),
    so the windows, and hence the updates, are those of one process with ``grad_accum`` multiplied
    by the number of ranks; DDP averages the gradients before the (identical) clipping and AdamW
    step on every rank. Only the main rank evaluates; the caller saves on the main rank only.

    Args:
        model: the GPT, trained in place on its own device. Only parameters with
            ``requires_grad`` train, so a model prepared by :func:`~genai_lib.llm.lora.apply_lora`
            trains its adapters only.
        train_ids: the training tokens, a 1-D sequence of ids.
        config: a :class:`TrainConfig`.
        val_ids: validation tokens; with them the loss on ``config.eval_windows`` fixed windows
            is recorded in :attr:`val_history` (on the main rank) every ``config.eval_every``
            steps and after the last step of every :meth:`fit`.
        lr_scale: per-parameter learning-rate factors (see :func:`make_optimizer`).
        ranks: this process's place among the ranks (default: a single process); ``model``
            must already be on ``ranks.device``.

    Attributes:
        model (the GPT itself, never the DDP wrapper), optimizer, config, ranks, val_history,
        shard_losses (this rank's own mean loss at each update this trainer made, before the
        average over ranks that :attr:`history` records), eval_seconds (time spent evaluating),
        and from the base: step, history, rng.
    """

    desc = "pre-train"

    def __init__(
        self,
        model: GPT,
        train_ids: Sequence[int] | torch.Tensor,
        config: TrainConfig,
        *,
        val_ids: Sequence[int] | torch.Tensor | None = None,
        lr_scale: Mapping[str, float] | None = None,
        ranks: distributed.Ranks | None = None,
    ) -> None:
        if not isinstance(model, GPT):
            raise TypeError(f"model must be a GPT, got {type(model).__name__}")
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        train_ids = _as_ids(train_ids, "train_ids")
        block = model.config.block_size
        if len(train_ids) < block + 1:
            raise ValueError(f"train_ids holds {len(train_ids)} tokens; it needs more than block_size={block}")
        if val_ids is not None:
            val_ids = _as_ids(val_ids, "val_ids")
            if len(val_ids) < 2:
                raise ValueError(f"val_ids must hold at least 2 tokens, got {len(val_ids)}")
        self.model, self.config, self.train_ids, self.val_ids = model, config, train_ids, val_ids
        self.device = model.lm_head.weight.device
        super().__init__(seed=config.seed, ranks=ranks)  # checks ranks; config.grad_accum is the recipe's
        self._net = distributed.wrap(model, self.ranks)  # the model itself on one process
        self.optimizer = make_optimizer(model, config, lr_scale)
        self.val_history = History()
        self.shard_losses: list[float] = []
        self.eval_seconds = 0.0
        self._target = 0

    def train_step(self, step: int) -> dict[str, float | torch.Tensor]:
        """Update number ``step`` of the recipe; returns ``{"loss": ..., "lr": ...}``."""
        config, ranks = self.config, self.ranks
        lr = lr_at(step, config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        rows = config.batch_size * config.grad_accum * ranks.world_size  # the global batch
        x, y = get_batch(self.train_ids, self.model.config.block_size, rows, self.rng)
        batch = (distributed.shard(x, ranks).to(self.device), distributed.shard(y, ranks).to(self.device))
        loss = distributed.train_step(
            self._net, self.optimizer, batch, _next_token_loss, config.grad_accum, grad_clip=config.grad_clip
        )
        self.shard_losses.append(loss)
        return {"loss": distributed.mean_over_ranks(loss, ranks), "lr": lr}

    def fit(
        self,
        steps: int | None = None,
        *,
        progress: bool = True,
        callback: Callable[[int, dict[str, float]], None] | None = None,
        log_every: int | None = None,
        desc: str | None = None,
    ) -> History:
        """Train until ``steps`` updates are done in total (default and at most ``config.steps``);
        return the History."""
        steps = self.config.steps if steps is None else steps
        if isinstance(steps, numbers.Integral) and not isinstance(steps, bool) and steps > self.config.steps:
            raise ValueError(
                f"steps must be <= config.steps={self.config.steps}, the length of the learning-rate "
                f"schedule; got {steps}"
            )
        self._target = steps
        return super().fit(steps, progress=progress, callback=callback, log_every=log_every, desc=desc)

    def on_fit_start(self, steps: int) -> None:
        self.model.train()

    def on_step_end(self, step: int, scalars: dict[str, float]) -> None:
        """Evaluate on the validation windows every ``config.eval_every`` steps and after the last."""
        done, config = step + 1, self.config
        if not self.ranks.is_main:
            return
        if self.val_ids is not None and (done == self._target or (config.eval_every and done % config.eval_every == 0)):
            t = time.perf_counter()
            self.val_history.append(
                done, {"val_loss": evaluate(self.model, self.val_ids, max_windows=config.eval_windows)}
            )
            self.model.train()
            self.eval_seconds += time.perf_counter() - t

    def checkpoint_config(self) -> dict[str, Any]:
        """The recipe and the model's config (:meth:`save` adds the ranks' number on several ranks): a
        checkpoint loads only into a trainer built alike, whose global batch is the same."""
        return {"train": dataclasses.asdict(self.config), "model": dataclasses.asdict(self.model.config)}

    def extra_state(self) -> dict[str, Any]:
        """The validation history, so that a resumed run's record is the uninterrupted one's."""
        return {"val_history": self.val_history.to_dict()}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        self.val_history = History.from_dict(state["val_history"]) if "val_history" in state else History()

    def modules(self) -> dict[str, torch.nn.Module | torch.optim.Optimizer]:
        """The model and its optimiser, for :meth:`save` and :meth:`load`."""
        return {"model": self.model, "optimizer": self.optimizer}


def train_gpt(
    model: GPT,
    train_ids: Sequence[int] | torch.Tensor,
    config: TrainConfig,
    *,
    val_ids: Sequence[int] | torch.Tensor | None = None,
    progress: bool = True,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    lr_scale: Mapping[str, float] | None = None,
) -> TrainResult:
    """Train ``model`` (in place, on its own device) on ``train_ids`` for ``config.steps`` steps.

    A :class:`GPTTrainer` run to ``config.steps``, timed. Only parameters with ``requires_grad``
    train, so a model prepared by :func:`~genai_lib.llm.lora.apply_lora` trains its adapters only.
    ``callback(step, scalars)`` runs after every step (draw samples there for a scrubber).
    ``lr_scale`` scales the learning rate of some parameters (see :func:`make_optimizer`). With
    ``val_ids`` the loss on ``config.eval_windows`` fixed windows is recorded every
    ``config.eval_every`` steps and after the last one.
    """
    trainer = GPTTrainer(model, train_ids, config, val_ids=val_ids, lr_scale=lr_scale)
    start = time.perf_counter()
    history = trainer.fit(config.steps, progress=progress, callback=callback)
    seconds = time.perf_counter() - start - trainer.eval_seconds
    tokens = config.steps * config.batch_size * config.grad_accum * model.config.block_size
    return TrainResult(history, trainer.val_history, seconds, tokens / max(seconds, 1e-9))


if __name__ == "__main__":  # the command line, under its historical name (see genai_lib.llm.cli)
    from genai_lib.llm.cli import main

    main(sys.argv[1:])
