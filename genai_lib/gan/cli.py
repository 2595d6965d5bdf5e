"""The command line that trains a GAN: ``python -m genai_lib.gan.train``.

::

    python -m genai_lib.gan.train --steps N [--data moons --loss nonsaturating --z-dim 16 --hidden 128
        --depth 3 --d-steps 1 --batch-size 256 --lr 1e-3 --seed 0 --device cpu --out DIR]

trains the book's MLP generator against its MLP discriminator (:mod:`genai_lib.gan.models`) on a
2-D toy set, the 8×8 digits (flattened) or a ``.npy`` array, with :class:`~genai_lib.gan.GANTrainer`
(Adam for both players, ``--d-steps`` discriminator steps per generator step, the learning rates
decayed by a cosine over ``--steps``), and writes to ``DIR`` both players' weights and the
generator's average (``model.safetensors`` + ``config.json``) and ``metrics.json``.

On several processes or GPUs the same command runs under ``torchrun``::

    torchrun --standalone --nproc_per_node=N -m genai_lib.gan.train --steps N ...

as every training command does (:mod:`genai_lib.launch`): each process trains on its shard of every
global batch, rank 0 alone prints and writes ``DIR``, one process with ``--grad-accum N`` makes the
same updates as N processes, and ``--checkpoint-every`` / ``--until`` / ``--resume`` stop and
continue a run exactly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from genai_lib import distributed, launch, seed_everything
from genai_lib.gan.config import GANConfig
from genai_lib.gan.losses import LOSS_NAMES
from genai_lib.gan.models import MLPDiscriminator, MLPGenerator
from genai_lib.gan.train import GANTrainer

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m genai_lib.gan.train",
        description="Train an MLP GAN on a 2-D toy set, the 8x8 digits or a .npy array, and write its weights.",
    )
    launch.add_arguments(p, batch_size=GANConfig.batch_size, lr=GANConfig.lr_g, out="checkpoints/gan")
    p.add_argument("--loss", choices=LOSS_NAMES, default="nonsaturating")
    p.add_argument("--penalty-weight", type=float, default=None, help="WGAN-GP's lambda or R1's gamma")
    p.add_argument("--d-steps", type=int, default=1, help="discriminator steps per generator step")
    p.add_argument("--z-dim", type=int, default=16)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--ema-decay", type=float, default=None, help="keep an average of the generator's weights")
    return p


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the metrics it wrote
    (``{}`` on ranks other than 0; see :func:`genai_lib.launch.run`). Bad arguments exit with status 2
    and a message that names the argument."""
    parser = _parser()
    args = parser.parse_args(argv)
    launch.check_arguments(parser, args)
    if args.d_steps < 1:
        parser.error(f"--d-steps must be >= 1, got {args.d_steps}")
    try:
        config = GANConfig(
            loss=args.loss,
            penalty_weight=args.penalty_weight,
            batch_size=args.batch_size,
            lr_g=args.lr,
            lr_d=args.lr,
            seed=args.seed,
            snapshot_samples=args.batch_size,
            ema_decay=args.ema_decay,
        )
    except (TypeError, ValueError) as err:
        launch.config_error(parser, err)
    try:
        ranks = distributed.from_env(args.device)
    except (TypeError, ValueError) as err:
        parser.error(f"--device: {err}")
    data = launch.load_data(parser, args).flatten(1)
    seed_everything(args.seed)  # every rank starts from the same weights
    try:
        G = MLPGenerator(z_dim=args.z_dim, hidden=args.hidden, depth=args.depth, out_dim=data.shape[1])
        D = MLPDiscriminator(in_dim=data.shape[1], hidden=args.hidden, depth=args.depth)
    except (TypeError, ValueError) as err:
        launch.config_error(parser, err)
    trainer = GANTrainer(G.to(ranks.device), D.to(ranks.device), data, config=config, ranks=ranks,
                         grad_accum=args.grad_accum)  # fmt: skip
    params = sum(p.numel() for p in G.parameters()) + sum(p.numel() for p in D.parameters())
    return launch.run(
        parser,
        args,
        trainer,
        command="genai_lib.gan.train",
        summary=f"{args.data}: {len(data):,} samples of {data.shape[1]} numbers, {args.loss} loss, "
        f"{params:,} parameters",
        fit=lambda target, callback: trainer.fit(
            target,
            d_steps=args.d_steps,
            progress=trainer.ranks.is_main and not args.quiet,
            callback=callback,
            schedule_steps=args.steps,
        ),  # fmt: skip
        loss_name="g_loss",
    )


if __name__ == "__main__":
    main(sys.argv[1:])
