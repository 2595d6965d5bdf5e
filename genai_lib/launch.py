"""What the image trainers' command lines share: the training options, the data, and the run.

``python -m genai_lib.gan.train`` and ``python -m genai_lib.diffusion.train`` (:mod:`genai_lib.gan.cli`,
:mod:`genai_lib.diffusion.cli`) take the options of the GPT command (:mod:`genai_lib.llm.cli`) and
run the same way, alone or under ``torchrun``::

    torchrun --standalone --nproc_per_node=N -m genai_lib.diffusion.train --data moons --steps 2000

Every process draws the same global batch of ``--batch-size × --grad-accum × N`` rows and trains on
its shard (:meth:`genai_lib.training.Trainer.update`: gloo on the CPU, NCCL on CUDA, one GPU per
process); rank 0 alone prints and writes ``--out``: the networks' weights (``model.safetensors``
with ``config.json`` beside them, :func:`genai_lib.training.save_checkpoint`) and ``metrics.json``,
the same files as one process. One process with ``--grad-accum N`` makes the updates of N processes.
``--checkpoint-every`` saves the trainer state to ``OUT/trainer``, ``--until S`` stops after step S
(saving it), and ``--resume`` continues from it exactly, under the same launch.

* :func:`add_arguments` adds the shared options to a parser, :func:`load_data` reads ``--data``;
* :func:`config_error` turns a config's error (``batch_size must ...``) into the flag's (``--batch-size must ...``);
* :func:`run` trains a built :class:`~genai_lib.training.Trainer` to ``--steps`` and writes the files.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genai_lib import distributed
from genai_lib.data.toy2d import TOY2D_NAMES, toy2d
from genai_lib.training import Trainer, save_checkpoint

__all__ = ["add_arguments", "config_error", "load_data", "run", "DATA_NAMES"]

#: ``--data`` names: the 2-D toy sets and scikit-learn's 8×8 digits (flattened to 64 numbers).
DATA_NAMES: tuple[str, ...] = (*TOY2D_NAMES, "digits")


def add_arguments(parser: argparse.ArgumentParser, *, batch_size: int, lr: float, out: str) -> None:
    """Add the options every training command takes (those of ``genai_lib.llm.train``): ``--data``,
    ``--n-samples``, ``--steps``, ``--batch-size``, ``--grad-accum``, ``--lr``, ``--seed``,
    ``--device``, ``--out``, ``--checkpoint-every``, ``--until``, ``--resume`` and ``--quiet``."""
    if not isinstance(parser, argparse.ArgumentParser):
        raise TypeError(f"parser must be an argparse.ArgumentParser, got {type(parser).__name__}")
    parser.add_argument(
        "--data",
        default="moons",
        help=f"a 2-D toy set or digits ({', '.join(DATA_NAMES)}), or a .npy file of float samples (N, ...)",
    )
    parser.add_argument("--n-samples", type=int, default=4096, help="points drawn from a toy set")
    parser.add_argument("--steps", type=int, required=True, help="optimisation steps")
    parser.add_argument("--batch-size", type=int, default=batch_size, help="samples per micro-batch and process")
    parser.add_argument(
        "--grad-accum",
        type=int,
        default=1,
        help="micro-batches accumulated per step; the global batch is batch-size x grad-accum x processes",
    )
    parser.add_argument("--lr", type=float, default=lr, help="learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    parser.add_argument("--out", default=out, help="output directory")
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        help="save the trainer state (weights, optimisers, random generator, history) to OUT/trainer "
        "every N steps and at the end, to --resume from (0 = never)",
    )
    parser.add_argument(
        "--until",
        type=int,
        default=None,
        help="stop after this many of the --steps steps, saving OUT/trainer (continue with --resume)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run saved in OUT/trainer (the same arguments: it repeats the uninterrupted run)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def config_error(parser: argparse.ArgumentParser, err: Exception) -> None:
    """Exit with status 2 and ``err``'s message, its first ``field_name must`` named as the flag ``--field-name``."""
    parser.error(
        re.sub(r"\b([a-z]+(?:_[a-z0-9]+)*) must", lambda m: "--" + m[1].replace("_", "-") + " must", str(err), count=1)
    )


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Check the shared options that no config checks; exit with status 2 naming the flag."""
    for flag, value, minimum in (("--steps", args.steps, 1), ("--grad-accum", args.grad_accum, 1)):
        if value < minimum:
            parser.error(f"{flag} must be >= {minimum}, got {value}")
    if args.n_samples < 1:
        parser.error(f"--n-samples must be >= 1, got {args.n_samples}")
    if args.checkpoint_every < 0:
        parser.error(f"--checkpoint-every must be >= 0, got {args.checkpoint_every}")
    if args.until is not None and not 1 <= args.until <= args.steps:
        parser.error(f"--until must be in [1, --steps={args.steps}], got {args.until}")


def load_data(parser: argparse.ArgumentParser, args: argparse.Namespace) -> torch.Tensor:
    """The training samples ``--data`` names, float32 ``(N, ...)``: ``--n-samples`` points of a toy
    set (drawn with ``--seed``), the 1,797 digits flattened to ``(N, 64)`` in ``[-1, 1]``, or a
    ``.npy`` file's array. Exits with status 2 naming ``--data`` when it cannot."""
    name = args.data
    if name in TOY2D_NAMES:
        return toy2d(name, args.n_samples, seed=args.seed)
    if name == "digits":
        from genai_lib.data.digits import load_digits

        return load_digits(8)[0].flatten(1)
    path = Path(name)
    if path.suffix != ".npy" or not path.is_file():
        parser.error(f"--data must be one of {', '.join(DATA_NAMES)} or a .npy file, got {name!r}")
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as err:
        parser.error(f"--data {name!r} is not a readable .npy array: {err}")
    if array.ndim < 2 or len(array) < 1 or not np.issubdtype(array.dtype, np.number):
        parser.error(f"--data {name!r} must hold numbers of shape (N, ...) with N >= 1, got {array.shape}")
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def resume(parser: argparse.ArgumentParser, args: argparse.Namespace, trainer: Trainer) -> Path:
    """Return the trainer-state folder ``OUT/trainer``; with ``--resume``, load ``trainer`` from it first.

    Every rank reads the same files (one machine, or a file system they share). A missing or
    mismatched state is a command-line error that names ``--resume``.
    """
    state_dir = Path(args.out) / "trainer"
    if args.resume:
        if not (state_dir / "config.json").is_file():
            parser.error(
                f"--resume: {str(state_dir)!r} holds no trainer state (save one with --checkpoint-every or --until)"
            )
        try:
            trainer.load(state_dir)
        except ValueError as err:
            parser.error(f"--resume: {err}")
    return state_dir


def run(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    trainer: Trainer,
    *,
    command: str,
    fit: Callable[[int, Callable[[int, dict[str, float]], None]], Any],
    summary: str,
    loss_name: str = "loss",
) -> dict[str, Any]:
    """Resume (with ``--resume``), train ``trainer`` to ``--steps`` (or ``--until``), and write the files.

    Every rank calls it; ``fit(target, callback)`` runs ``trainer.fit`` to ``target`` steps. Rank 0
    alone prints (``command: summary``), saves the trainer state to ``OUT/trainer`` (with
    ``--checkpoint-every`` or ``--until``) and, at the end, the networks of ``trainer.modules()``
    to ``OUT/model.safetensors`` and ``OUT/config.json`` (model-only, the config beside the
    weights) and ``OUT/metrics.json``. Returns the metrics on rank 0, ``{}`` on the others, and
    ``{"steps_done", "checkpoint"}`` after ``--until``. Leaves the process group at the end.
    """
    ranks, main_rank = trainer.ranks, trainer.ranks.is_main
    out = Path(args.out)
    state_dir = resume(parser, args, trainer)
    global_batch = trainer.global_rows(args.batch_size)
    device = ranks.device
    if main_rank:
        backend = "nccl" if device.type == "cuda" else "gloo"
        print(
            f"{command}: {summary}, device {device}"
            + (f", {ranks.world_size} processes ({backend})" if ranks.distributed else "")
            + f", global batch {global_batch}"
            + (f", resuming at step {trainer.step}" if args.resume else ""),
            flush=True,
        )
    target = args.steps if args.until is None else args.until

    def save_every(step: int, scalars: dict[str, float]) -> None:
        done = step + 1
        if main_rank and args.checkpoint_every and done % args.checkpoint_every == 0 and done < target:
            trainer.save(state_dir)

    first, start = trainer.step, time.perf_counter()
    fit(target, save_every)
    seconds = time.perf_counter() - start
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
    history = trainer.history
    last = history.values[loss_name][-min(50, len(history)) :]
    steps_run = trainer.step - first
    metrics = {
        f"train_{loss_name}_last50": sum(last) / len(last),
        "steps": args.steps,
        "train_seconds": seconds,
        "seconds_per_step": seconds / max(steps_run, 1),
        "world_size": ranks.world_size,
        "grad_accum": args.grad_accum,
        "global_batch": global_batch,
        "device": str(device),
        "data": args.data,
        "arguments": {k: v for k, v in vars(args).items() if k not in ("resume", "until", "quiet")},
        "history": history.to_dict(),
    }
    networks = {n: m for n, m in trainer.modules().items() if isinstance(m, torch.nn.Module)}
    save_checkpoint(out, networks, step=trainer.step, config=_config(trainer, args), model_only=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    print(
        f"{loss_name} {metrics[f'train_{loss_name}_last50']:.4f} (mean of the last {len(last)} steps) after "
        f"{args.steps} steps, {seconds:.1f} s; wrote {out}/",
        flush=True,
    )
    distributed.teardown()
    return metrics


def _config(trainer: Trainer, args: argparse.Namespace) -> dict[str, Any]:
    """What ``OUT/config.json`` records beside the weights: the trainer's config and the command's data."""
    config = trainer.checkpoint_config()
    if not isinstance(config, Mapping):
        config = dataclasses.asdict(config)
    return {"trainer": dict(config), "data": args.data, "n_samples": args.n_samples, **trainer.launch_config()}
