"""The command line that trains a denoiser (DDPM) or a velocity field (flow matching):
``python -m genai_lib.diffusion.train``.

::

    python -m genai_lib.diffusion.train --steps N [--objective ddpm --data moons --hidden 256 --depth 3
        --schedule cosine --timesteps 1000 --batch-size 128 --lr 1e-3 --seed 0 --device cpu --out DIR]

trains the book's residual MLP (:class:`~genai_lib.diffusion.MLPDenoiser`, or its velocity twin
:class:`~genai_lib.diffusion.flow.VelocityMLP` with ``--objective flow``) on a 2-D toy set, the
8×8 digits (flattened) or a ``.npy`` array, with :class:`~genai_lib.diffusion.DiffusionTrainer`
(Ho et al. 2020's Algorithm 1) or :class:`~genai_lib.diffusion.flow.FlowTrainer`, and writes to
``DIR`` the network and its EMA (``model.safetensors`` + ``config.json``) and ``metrics.json``.

On several processes or GPUs the same command runs under ``torchrun``::

    torchrun --standalone --nproc_per_node=N -m genai_lib.diffusion.train --steps N ...

as every training command does (:mod:`genai_lib.launch`): each process trains on its shard of every
global batch (its rows of the batch's t and noise too), rank 0 alone prints and writes ``DIR``, one
process with ``--grad-accum N`` makes the same updates as N processes, and ``--checkpoint-every`` /
``--until`` / ``--resume`` stop and continue a run exactly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from genai_lib import distributed, launch, seed_everything
from genai_lib.diffusion.denoisers import MLPDenoiser, MLPDenoiserConfig
from genai_lib.diffusion.flow import FlowTrainer, VelocityMLP
from genai_lib.diffusion.schedule import SCHEDULE_KINDS, NoiseSchedule
from genai_lib.diffusion.train import DiffusionTrainer, TrainerConfig

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m genai_lib.diffusion.train",
        description="Train a DDPM denoiser or a flow-matching velocity field on a 2-D toy set, the 8x8 digits "
        "or a .npy array, and write its weights.",
    )
    launch.add_arguments(p, batch_size=TrainerConfig.batch_size, lr=TrainerConfig.lr, out="checkpoints/diffusion")
    p.add_argument("--objective", choices=("ddpm", "flow"), default="ddpm", help="epsilon prediction or flow matching")
    p.add_argument("--hidden", type=int, default=MLPDenoiserConfig.hidden)
    p.add_argument("--depth", type=int, default=MLPDenoiserConfig.depth)
    p.add_argument("--schedule", choices=SCHEDULE_KINDS, default="cosine", help="the noise schedule (ddpm)")
    p.add_argument("--timesteps", type=int, default=1000, help="T, the diffusion steps (ddpm)")
    p.add_argument("--ema-decay", type=float, default=TrainerConfig.ema_decay)
    p.add_argument("--grad-clip", type=float, default=1.0, help="clip the gradient norm (0 = off)")
    return p


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the metrics it wrote
    (``{}`` on ranks other than 0; see :func:`genai_lib.launch.run`). Bad arguments exit with status 2
    and a message that names the argument."""
    parser = _parser()
    args = parser.parse_args(argv)
    launch.check_arguments(parser, args)
    try:
        config = TrainerConfig(
            batch_size=args.batch_size,
            lr=args.lr,
            ema_decay=args.ema_decay,
            grad_clip=args.grad_clip or None,
            seed=args.seed,
        )
    except (TypeError, ValueError) as err:
        launch.config_error(parser, err)
    try:
        schedule = NoiseSchedule(kind=args.schedule, num_steps=args.timesteps)
    except (TypeError, ValueError) as err:
        parser.error(f"--timesteps: {err}")
    try:
        ranks = distributed.from_env(args.device)
    except (TypeError, ValueError) as err:
        parser.error(f"--device: {err}")
    data = launch.load_data(parser, args).flatten(1)
    seed_everything(args.seed)  # every rank starts from the same weights
    try:
        net = MLPDenoiserConfig(data_shape=(data.shape[1],), hidden=args.hidden, depth=args.depth)
    except (TypeError, ValueError) as err:
        launch.config_error(parser, err)
    if args.objective == "ddpm":
        model = MLPDenoiser(net).to(ranks.device)
        trainer = DiffusionTrainer(model, schedule, data, config=config, ranks=ranks, grad_accum=args.grad_accum)
    else:
        model = VelocityMLP(net).to(ranks.device)
        trainer = FlowTrainer(model, data, config=config, ranks=ranks, grad_accum=args.grad_accum)
    params = sum(p.numel() for p in model.parameters())
    return launch.run(
        parser,
        args,
        trainer,
        command="genai_lib.diffusion.train",
        summary=f"{args.data}: {len(data):,} samples of {data.shape[1]} numbers, {args.objective}, "
        f"{params:,} parameters",
        fit=lambda target, callback: trainer.fit(
            target, progress=trainer.ranks.is_main and not args.quiet, callback=callback
        ),
    )


if __name__ == "__main__":
    main(sys.argv[1:])
