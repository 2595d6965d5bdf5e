"""The configuration of a GAN run: :class:`GANConfig`, everything but the models and the data.

It validates every field when it is built (through :mod:`genai_lib._checks`), so a bad value fails
with the field's name before any training starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from genai_lib._checks import check_float, check_int
from genai_lib.gan.losses import LOSS_NAMES, GANLoss, make_loss

__all__ = ["GANConfig", "LR_DECAYS"]

#: The learning-rate decays :class:`GANConfig` accepts (``lr_decay``).
LR_DECAYS = ("cosine", "constant")


@dataclass
class GANConfig:
    """Everything that defines a GAN training run, apart from the models and the data.

    Attributes:
        loss: one of :data:`~genai_lib.gan.losses.LOSS_NAMES` (``"nonsaturating"``, ``"minimax"``,
            ``"wgan_gp"``, ``"r1"``).
        penalty_weight: ``λ`` of ``wgan_gp`` or ``γ`` of ``r1``; ``None`` takes the loss's default
            (10 and 1). Must be ``None`` for losses without a penalty.
        batch_size: real and generated samples per update.
        lr_g, lr_d: Adam learning rates of the generator and the discriminator.
        betas: Adam's ``(β1, β2)``; ``(0.5, 0.9)`` as in WGAN-GP (Gulrajani et al. 2017) — a low
            ``β1`` keeps momentum from carrying a player past a moving opponent.
        lr_decay: ``"cosine"`` (from the learning rate at step 0 down to ``final_lr_ratio`` times it
            at the last step of the run) or ``"constant"``.
        final_lr_ratio: where the cosine decay ends, as a fraction of the initial rate.
        seed: seed of the trainer's own CPU random generator (batches, latents, interpolation
            weights); the fixed snapshot latents use a seed derived from it.
        snapshot_samples: size of the fixed latent batch drawn in every snapshot.
        grid_size: the 2-D heatmap is evaluated on ``grid_size × grid_size`` points.
        grid_extent: ``(x0, x1, y0, y1)`` of the heatmap; ``None`` takes the data's bounding box
            padded by a quarter of its larger side.
        ema_decay: ``β`` of an exponential moving average of the generator's weights
            (:mod:`genai_lib.ema`), updated after every generator step; snapshots then sample
            from the average. ``None`` (the default) keeps no average.
        manifold_lines: for 2-D data, every snapshot also maps a grid of ``manifold_lines`` ×
            ``manifold_lines`` latent lines through the generator (:func:`~genai_lib.gan.snapshots.latent_grid`,
            GAN Lab's "manifold"); ``None`` (the default) does not.
        manifold_span: the latent grid covers ``[-manifold_span, manifold_span]²`` of the first two
            latent coordinates (the others held at 0).
    """

    loss: str = "nonsaturating"
    penalty_weight: float | None = None
    batch_size: int = 256
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.9)
    lr_decay: str = "cosine"
    final_lr_ratio: float = 0.0
    seed: int = 0
    snapshot_samples: int = 512
    grid_size: int = 64
    grid_extent: tuple[float, float, float, float] | None = None
    ema_decay: float | None = None
    manifold_lines: int | None = None
    manifold_span: float = 2.5

    def __post_init__(self) -> None:
        if not isinstance(self.loss, str) or self.loss not in LOSS_NAMES:
            raise ValueError(f"loss must be one of {LOSS_NAMES}, got {self.loss!r}")
        make_loss(self.loss, self.penalty_weight)  # validates penalty_weight against the loss
        self.batch_size = check_int(self.batch_size, "batch_size", minimum=1)
        self.lr_g = check_float(self.lr_g, "lr_g", minimum=0.0, strict_min=True)
        self.lr_d = check_float(self.lr_d, "lr_d", minimum=0.0, strict_min=True)
        if not isinstance(self.betas, Sequence) or len(self.betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2) in [0, 1), got {self.betas!r}")
        self.betas = tuple(
            check_float(b, f"betas[{i}]", minimum=0.0, maximum=1.0, strict_max=True) for i, b in enumerate(self.betas)
        )
        if self.lr_decay not in LR_DECAYS:
            raise ValueError(f"lr_decay must be one of {LR_DECAYS}, got {self.lr_decay!r}")
        self.final_lr_ratio = check_float(self.final_lr_ratio, "final_lr_ratio", minimum=0.0, maximum=1.0)
        self.seed = check_int(self.seed, "seed", minimum=0)
        self.snapshot_samples = check_int(self.snapshot_samples, "snapshot_samples", minimum=1)
        self.grid_size = check_int(self.grid_size, "grid_size", minimum=2)
        if self.grid_extent is not None:
            if not isinstance(self.grid_extent, Sequence) or len(self.grid_extent) != 4:
                raise ValueError(f"grid_extent must be (x0, x1, y0, y1) or None, got {self.grid_extent!r}")
            x0, x1, y0, y1 = (check_float(v, f"grid_extent[{i}]") for i, v in enumerate(self.grid_extent))
            if not (x1 > x0 and y1 > y0):
                raise ValueError(f"grid_extent must have x1 > x0 and y1 > y0, got {self.grid_extent!r}")
            self.grid_extent = (x0, x1, y0, y1)
        if self.ema_decay is not None:
            self.ema_decay = check_float(self.ema_decay, "ema_decay", minimum=0.0, maximum=1.0, strict_max=True)
        if self.manifold_lines is not None:
            self.manifold_lines = check_int(self.manifold_lines, "manifold_lines", minimum=2)
        self.manifold_span = check_float(self.manifold_span, "manifold_span", minimum=0.0, strict_min=True)

    def make_loss(self) -> GANLoss:
        """The :class:`~genai_lib.gan.losses.GANLoss` this config names."""
        return make_loss(self.loss, self.penalty_weight)
