"""The command line that pre-trains a GPT on a text file: ``python -m genai_lib.llm.train``.

::

    python -m genai_lib.llm.train --text FILE --steps N [--n-layer 4 --n-head 4 --n-embd 128
        --block-size 64 --batch-size 12 --lr 3e-3 --seed 0 --device cpu --out DIR]

splits the file 90/10 by position (the validation text is the file's last tenth, never seen in
training, tokenizer included), trains with the recipe of :mod:`genai_lib.llm.train`
(:class:`~genai_lib.llm.train.GPTTrainer`), and writes to ``DIR`` the model
(``model.safetensors`` + ``config.json``, see :meth:`GPT.save`), ``tokenizer.json`` and
``metrics.json`` with the validation loss in nats per character.

On several processes or GPUs the same command runs under ``torchrun``::

    torchrun --standalone --nproc_per_node=N -m genai_lib.llm.train --text FILE --steps N ...

Every process draws the same global batch of ``--batch-size × N × --grad-accum`` windows and trains
on its shard with DistributedDataParallel (:mod:`genai_lib.distributed`: gloo on the CPU, NCCL on
CUDA, one GPU per process); rank 0 alone prints, evaluates and writes ``DIR``, the same files as one
process. One process with ``--grad-accum N`` takes the same steps as N processes. ``--checkpoint-every``
saves the trainer state to ``DIR/trainer``, ``--until S`` stops after step S (saving it), and
``--resume`` continues from it exactly, under the same launch.

The command keeps the module name ``genai_lib.llm.train`` (whose ``__main__`` block calls
:func:`main`); ``python -m genai_lib.llm.cli`` is the same command.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from genai_lib import distributed, launch, seed_everything
from genai_lib.llm.model import GPT, GPTConfig
from genai_lib.llm.tokenizers import BPETokenizer, CharTokenizer
from genai_lib.llm.train import GPTTrainer, TrainConfig, evaluate

__all__ = ["main"]


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
    p.add_argument("--batch-size", type=int, default=12, help="windows per micro-batch and process")
    p.add_argument(
        "--grad-accum",
        type=int,
        default=1,
        help="micro-batches accumulated per step; the global batch is batch-size x grad-accum x processes",
    )
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    p.add_argument("--min-lr", type=float, default=1e-4, help="final learning rate of the cosine")
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument(
        "--activation",
        choices=("gelu", "gelu_tanh"),
        default="gelu",
        help="the MLP's GELU: exact (default) or GPT-2's tanh approximation",
    )
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
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        help="save the trainer state (weights, optimiser, random generator, history) to OUT/trainer "
        "every N steps and at the end, to --resume from (0 = never)",
    )
    p.add_argument(
        "--until",
        type=int,
        default=None,
        help="stop after this many of the --steps steps, saving OUT/trainer (continue with --resume)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run saved in OUT/trainer (the same arguments: it repeats the uninterrupted run)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _ranks(device: str | None) -> distributed.Ranks:
    """This process's place: torchrun's ranks (gloo on the CPU, NCCL on CUDA), or one process."""
    return distributed.from_env(device)


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the metrics it wrote.

    Under ``torchrun`` every process runs this function: each trains on its shard of every global
    batch (:class:`~genai_lib.llm.train.GPTTrainer` with :mod:`genai_lib.distributed`), and rank 0
    alone prints, evaluates and writes files; the other ranks return ``{}``. A run stopped by
    ``--until`` returns ``{"steps_done": ..., "checkpoint": ...}``.

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
            activation=args.activation,
        )
        recipe = TrainConfig(
            steps=args.steps,
            batch_size=args.batch_size,
            grad_accum=args.grad_accum,
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
    if args.checkpoint_every < 0:
        parser.error(f"--checkpoint-every must be >= 0, got {args.checkpoint_every}")
    if args.until is not None and not 1 <= args.until <= args.steps:
        parser.error(f"--until must be in [1, --steps={args.steps}], got {args.until}")
    try:
        ranks = _ranks(args.device)
    except (TypeError, ValueError) as err:
        parser.error(f"--device: {err}")
    device, main_rank = ranks.device, ranks.is_main
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

    seed_everything(args.seed)  # every rank starts from the same weights (DDP also broadcasts rank 0's)
    config = dataclasses.replace(config, vocab_size=tokenizer.vocab_size)
    model = GPT(config).to(device)
    counts = model.parameter_counts()
    trainer = GPTTrainer(model, train_ids, recipe, val_ids=val_ids if args.eval_every else None, ranks=ranks)
    out = Path(args.out)
    state_dir = launch.resume(parser, args, trainer)
    global_batch = args.batch_size * args.grad_accum * ranks.world_size
    if main_rank:
        print(
            f"genai_lib.llm.train: {path.name}: {len(train_text):,} train / {len(val_text):,} validation characters, "
            f"{args.tokenizer} tokenizer ({tokenizer.vocab_size} ids), {counts['total']:,} parameters, device {device}"
            + (
                f", {ranks.world_size} processes ({'nccl' if device.type == 'cuda' else 'gloo'})"
                if ranks.distributed
                else ""
            )
            + f", global batch {global_batch}"
            + (f", resuming at step {trainer.step}" if args.resume else ""),
            flush=True,
        )
    target = args.steps if args.until is None else args.until

    def save_every(step: int, scalars: dict[str, float]) -> None:
        done = step + 1
        if main_rank and args.checkpoint_every and done % args.checkpoint_every == 0 and done < target:
            trainer.save(state_dir)

    first = trainer.step
    start = time.perf_counter()
    eval_before = trainer.eval_seconds
    trainer.fit(target, progress=main_rank and not args.quiet, callback=save_every)
    seconds = time.perf_counter() - start - (trainer.eval_seconds - eval_before)
    steps_run = trainer.step - first
    shard_losses = distributed.gather_over_ranks(trainer.shard_losses, ranks)  # a collective: every rank
    if main_rank and (args.checkpoint_every or args.until is not None):
        trainer.save(state_dir)
    if args.until is not None and args.until < args.steps:
        if main_rank:
            print(f"stopped after {trainer.step} of {args.steps} steps; wrote {state_dir}/ (continue with --resume)")
        distributed.teardown()
        return {"steps_done": trainer.step, "checkpoint": str(state_dir)} if main_rank else {}
    if not main_rank:
        distributed.teardown()
        return {}

    t = time.perf_counter()
    val_nats_per_token = evaluate(model, val_ids, max_windows=args.eval_windows)  # default: every token
    eval_seconds = time.perf_counter() - t
    nats_per_char = val_nats_per_token * len(val_ids) / len(val_text)  # eq. (1)
    history = trainer.history
    last = history.values["loss"][-min(50, len(history)) :]
    tokens_per_second = steps_run * global_batch * args.block_size / max(seconds, 1e-9)
    metrics = {
        "val_loss_nats_per_char": nats_per_char,
        "val_bits_per_char": nats_per_char / math.log(2),
        "val_loss_nats_per_token": val_nats_per_token,
        "val_perplexity_per_token": math.exp(val_nats_per_token),
        "train_loss_last50_nats_per_token": sum(last) / len(last),
        "steps": args.steps,
        "train_seconds": seconds,
        "seconds_per_step": seconds / max(steps_run, 1),
        "eval_seconds": eval_seconds,
        "tokens_per_second": tokens_per_second,
        "world_size": ranks.world_size,
        "global_batch": global_batch,
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
        "history": history.to_dict(),
        "val_history": trainer.val_history.to_dict(),
        "shard_losses": {"first_step": first, "ranks": shard_losses},
    }
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
        f"{args.steps} steps, {seconds:.1f} s, {tokens_per_second:,.0f} tokens/s; wrote {out}/",
        flush=True,
    )
    distributed.teardown()
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
