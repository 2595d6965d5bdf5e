"""Pre-training a GPT on a text: the recipe, the evaluation, and a command line.

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

As a command line::

    python -m genai_lib.llm.train --text FILE --steps N [--n-layer 4 --n-head 4 --n-embd 128
        --block-size 64 --batch-size 12 --lr 3e-3 --seed 0 --device cpu --out DIR]

splits the file 90/10 by position (the validation text is the file's last tenth, never seen in
training, tokenizer included), trains, and writes to ``DIR`` the model (``model.safetensors`` +
``config.json``, see :meth:`GPT.save`), ``tokenizer.json`` and ``metrics.json`` with the
validation loss in nats per character.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import numbers
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genai_lib import get_device, seed_everything
from genai_lib._checks import check_fields, check_float, check_int
from genai_lib.llm.model import GPT, GPTConfig
from genai_lib.llm.tokenizers import BPETokenizer, CharTokenizer
from genai_lib.training import History, Trainer

__all__ = [
    "TrainConfig",
    "TrainResult",
    "GPTTrainer",
    "lr_at",
    "make_optimizer",
    "get_batch",
    "evaluate",
    "train_gpt",
    "main",
]


@dataclass
class TrainConfig:
    """The training recipe. Defaults: the book's 2-core CPU settings for the 0.8 M-parameter GPT.

    Attributes:
        steps: optimisation steps (the budget :func:`train_gpt` trains for, and the length of
            the learning-rate schedule).
        batch_size: windows per step.
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
    """The learning rate at ``step``: linear warm-up, then a cosine from ``lr`` to ``min_lr``.

    The warm-up keeps Adam's first, badly estimated steps small; the cosine spends most of the
    budget at a high rate and anneals at the end, when lower noise lowers the loss.
    """
    warmup = min(config.warmup_steps, config.steps)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    decay_steps = config.steps - warmup
    progress = (step - warmup) / max(1, decay_steps - 1)
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


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


class GPTTrainer(Trainer):
    """Pre-train (or fine-tune) a :class:`GPT` with the book's recipe, as a :class:`~genai_lib.training.Trainer`.

    Each update draws ``config.batch_size`` random windows from ``train_ids`` with :attr:`rng`
    (seeded by ``config.seed``), sets the learning rate :func:`lr_at` (the schedule spans
    ``config.steps``), and takes one AdamW step (:func:`make_optimizer`) on the mean next-token
    cross-entropy, its gradient clipped to ``config.grad_clip``. ``fit(steps)`` trains until
    ``steps`` updates are done in total (at most ``config.steps``) and returns the History of
    ``"loss"`` and ``"lr"``. The model's initialisation, and dropout's random numbers, are the
    caller's.

    Args:
        model: the GPT, trained in place on its own device. Only parameters with
            ``requires_grad`` train, so a model prepared by :func:`~genai_lib.llm.lora.apply_lora`
            trains its adapters only.
        train_ids: the training tokens, a 1-D sequence of ids.
        config: a :class:`TrainConfig`.
        val_ids: validation tokens; with them the loss on ``config.eval_windows`` fixed windows
            is recorded in :attr:`val_history` every ``config.eval_every`` steps and after the
            last step of every :meth:`fit`.
        lr_scale: per-parameter learning-rate factors (see :func:`make_optimizer`).

    Attributes:
        model, optimizer, config, val_history, eval_seconds (time spent evaluating), and from
        the base: step, history, rng.
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
        self.optimizer = make_optimizer(model, config, lr_scale)
        self._params = [p for g in self.optimizer.param_groups for p in g["params"]]
        self.val_history = History()
        self.eval_seconds = 0.0
        self._target = 0
        super().__init__(seed=config.seed)

    def train_step(self, step: int) -> dict[str, float | torch.Tensor]:
        """Update number ``step`` of the recipe; returns ``{"loss": ..., "lr": ...}``."""
        config = self.config
        lr = lr_at(step, config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        x, y = get_batch(self.train_ids, self.model.config.block_size, config.batch_size, self.rng)
        _, loss = self.model(x.to(self.device), y.to(self.device))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self._params, config.grad_clip)
        self.optimizer.step()
        return {"loss": loss, "lr": lr}

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
        if self.val_ids is not None and (done == self._target or (config.eval_every and done % config.eval_every == 0)):
            t = time.perf_counter()
            self.val_history.append(
                done, {"val_loss": evaluate(self.model, self.val_ids, max_windows=config.eval_windows)}
            )
            self.model.train()
            self.eval_seconds += time.perf_counter() - t

    def checkpoint_config(self) -> dict[str, Any]:
        """The recipe and the model's config: a checkpoint loads only into a trainer built alike."""
        return {"train": dataclasses.asdict(self.config), "model": dataclasses.asdict(self.model.config)}

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
    tokens = config.steps * config.batch_size * model.config.block_size
    return TrainResult(history, trainer.val_history, seconds, tokens / max(seconds, 1e-9))


# -- the command line -------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m genai_lib.llm.train",
        description="Train a small GPT on a UTF-8 text file (90/10 train/validation split "
        "by position) and write a checkpoint and metrics.",
    )
    p.add_argument("--text", required=True, help="UTF-8 text file to train on")
    p.add_argument("--steps", type=int, required=True, help="optimisation steps")
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--block-size", type=int, default=64, help="context length in tokens")
    p.add_argument("--batch-size", type=int, default=12)
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    p.add_argument("--min-lr", type=float, default=1e-4, help="final learning rate of the cosine")
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    p.add_argument("--tokenizer", choices=("char", "bpe"), default="char")
    p.add_argument(
        "--vocab-size",
        type=int,
        default=None,
        help="tokenizer vocabulary size (bpe: required, >= 256; char: optional, >= 257)",
    )
    p.add_argument("--eval-every", type=int, default=0, help="evaluate every N steps (0 = only at the end)")
    p.add_argument(
        "--eval-windows",
        type=int,
        default=None,
        help="evaluate on this many fixed, evenly spaced validation windows (default: all the validation text)",
    )
    p.add_argument("--out", default="checkpoints/llm", help="output directory")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the metrics it wrote.

    Bad arguments exit with status 2 and a message that names the argument.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    # The configs check every number (genai_lib._checks); their errors name the field, which is the flag.
    try:
        config = GPTConfig(
            vocab_size=1,  # the tokenizer's, set below once it is trained
            block_size=args.block_size,
            n_layer=args.n_layer,
            n_head=args.n_head,
            n_embd=args.n_embd,
            dropout=args.dropout,
        )
        recipe = TrainConfig(
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            min_lr=args.min_lr,
            warmup_steps=args.warmup_steps,
            seed=args.seed,
            eval_every=args.eval_every,
            eval_windows=TrainConfig.eval_windows if args.eval_windows is None else args.eval_windows,
        )
    except (TypeError, ValueError) as err:
        parser.error(
            re.sub(
                r"\b([a-z]+(?:_[a-z0-9]+)*) must", lambda m: "--" + m[1].replace("_", "-") + " must", str(err), count=1
            )
        )
    if args.tokenizer == "bpe" and (args.vocab_size is None or args.vocab_size < 256):
        parser.error(f"--vocab-size must be given and >= 256 with --tokenizer bpe, got {args.vocab_size}")
    if args.tokenizer == "char" and args.vocab_size is not None and args.vocab_size < 257:
        parser.error(
            f"--vocab-size must be >= 257 (256 byte-fallback ids + 1) with --tokenizer char, got {args.vocab_size}"
        )
    try:
        device = get_device(args.device)
    except (TypeError, ValueError) as err:
        parser.error(f"--device: {err}")
    path = Path(args.text)
    if not path.is_file():
        parser.error(f"--text {str(path)!r} is not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        parser.error(f"--text {str(path)!r} is not UTF-8 text: {err}")
    if not text:
        parser.error(f"--text {str(path)!r} is empty")

    split = int(0.9 * len(text))  # by position: the validation text comes after all training text
    train_text, val_text = text[:split], text[split:]
    if not train_text or not val_text:
        parser.error(f"--text {str(path)!r} is too short to split 90/10")
    tokenizer = CharTokenizer() if args.tokenizer == "char" else BPETokenizer()
    tokenizer.train(train_text, args.vocab_size)  # on the training text only: validation stays unseen
    train_ids = torch.tensor(tokenizer.encode(train_text), dtype=torch.long)
    val_ids = torch.tensor(tokenizer.encode(val_text), dtype=torch.long)
    if len(train_ids) < args.block_size + 1:
        parser.error(
            f"--text gives {len(train_ids)} training tokens, too few for --block-size {args.block_size}; "
            f"use a longer text or a smaller --block-size"
        )
    if len(val_ids) < 2:
        parser.error(f"--text gives {len(val_ids)} validation tokens (its last 10%); use a longer text")

    seed_everything(args.seed)
    config = dataclasses.replace(config, vocab_size=tokenizer.vocab_size)
    model = GPT(config).to(device)
    counts = model.parameter_counts()
    print(
        f"genai_lib.llm.train: {path.name}: {len(train_text):,} train / {len(val_text):,} validation characters, "
        f"{args.tokenizer} tokenizer ({tokenizer.vocab_size} ids), {counts['total']:,} parameters, device {device}",
        flush=True,
    )
    result = train_gpt(model, train_ids, recipe, val_ids=val_ids if args.eval_every else None, progress=not args.quiet)

    t = time.perf_counter()
    val_nats_per_token = evaluate(model, val_ids, max_windows=args.eval_windows)  # default: every token
    eval_seconds = time.perf_counter() - t
    nats_per_char = val_nats_per_token * len(val_ids) / len(val_text)  # eq. (1)
    last = result.history.values["loss"][-min(50, len(result.history)) :]
    metrics = {
        "val_loss_nats_per_char": nats_per_char,
        "val_bits_per_char": nats_per_char / math.log(2),
        "val_loss_nats_per_token": val_nats_per_token,
        "val_perplexity_per_token": math.exp(val_nats_per_token),
        "train_loss_last50_nats_per_token": sum(last) / len(last),
        "steps": args.steps,
        "train_seconds": result.seconds,
        "eval_seconds": eval_seconds,
        "tokens_per_second": result.tokens_per_second,
        "n_train_chars": len(train_text),
        "n_val_chars": len(val_text),
        "n_train_tokens": len(train_ids),
        "n_val_tokens": len(val_ids),
        "eval_windows": args.eval_windows,
        "tokenizer": args.tokenizer,
        "vocab_size": tokenizer.vocab_size,
        "parameter_counts": counts,
        "device": str(device),
        "text": str(path),
        "model_config": dataclasses.asdict(config),
        "train_config": dataclasses.asdict(recipe),
        "history": result.history.to_dict(),
        "val_history": result.val_history.to_dict(),
    }
    out = Path(args.out)
    model.save(
        out,
        step=args.steps,
        extra={
            "tokenizer": "tokenizer.json",
            "train_config": dataclasses.asdict(recipe),
            "val_loss_nats_per_char": nats_per_char,
        },
    )
    tokenizer.save(out / "tokenizer.json")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    print(
        f"validation loss {nats_per_char:.4f} nats/char ({nats_per_char / math.log(2):.3f} bits/char) after "
        f"{args.steps} steps, {result.seconds:.1f} s, {result.tokens_per_second:,.0f} tokens/s; wrote {out}/",
        flush=True,
    )
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
