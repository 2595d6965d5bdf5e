"""Generative adversarial networks: models, losses and the trainer of Part I.

One module per concept:

* :mod:`~genai_lib.gan.models` — :class:`MLPGenerator` / :class:`MLPDiscriminator` for the 2-D toy
  sets, :class:`ConvGenerator` / :class:`ConvDiscriminator` (DCGAN-style, optionally
  class-conditional) for 16 × 16 digits;
* :mod:`~genai_lib.gan.packing` — :func:`pack` (PacGAN) and :class:`MinibatchStd` (ProGAN), the two ways
  a discriminator can see several samples at once (``MLPDiscriminator(pack=..., minibatch_std=...)``);
* :mod:`~genai_lib.gan.losses` — :func:`minimax`, :func:`nonsaturating`, :func:`wgan_gp`, :func:`r1`,
  all :class:`GANLoss` objects with ``d_loss``, ``g_loss`` and ``penalty``;
* :mod:`~genai_lib.ema` (shared with diffusion) — :class:`EMA`, the exponential moving average of the generator's
  weights that the trainer samples from when ``GANConfig(ema_decay=...)`` is set;
* :mod:`~genai_lib.gan.config` — :class:`GANConfig`, everything that defines a run but the models and data;
* :mod:`~genai_lib.gan.snapshots` — :class:`GANSnapshot`, what the explorers scrub, and the frames drawn from
  a run's snapshots;
* :mod:`~genai_lib.gan.train` — :class:`GANTrainer`; ``trainer.fit(steps=..., d_steps=..., snapshot_every=...)``
  returns the history and keeps in ``trainer.snapshots`` the :class:`GANSnapshot` list the explorers scrub.

The modern GAN (the last chapter of Part I, on 8 × 8 digits), each ingredient in its own module:

* :mod:`~genai_lib.gan.modern` — :class:`Hinge`, :class:`SpectralNorm` / :func:`spectral_normalise`,
  :class:`Digits8Generator` / :class:`Digits8Discriminator`, :class:`ModernConfig` and :func:`train_modern`
  (TTUR through ``lr_g`` / ``lr_d``);
* :mod:`~genai_lib.gan.augment` — :func:`diff_augment` (DiffAugment), :func:`ada_overfitting` and
  :func:`ada_update` (ADA's controller);
* :mod:`~genai_lib.gan.style` — :class:`MappingNetwork`, :class:`ModulatedConv2d`, :class:`StyleGenerator`,
  :func:`truncate`.

The mode-coverage metrics live in :mod:`genai_lib.metrics`, shared with the other parts.
"""

from genai_lib._lazy import lazy_exports
from genai_lib.ema import EMA, ema_update
from genai_lib.gan.augment import ada_overfitting, ada_update, diff_augment
from genai_lib.gan.config import GANConfig
from genai_lib.gan.losses import (
    LOSS_NAMES,
    R1,
    WGANGP,
    GANLoss,
    Minimax,
    NonSaturating,
    gradient_penalty,
    interpolate,
    make_loss,
    minimax,
    nonsaturating,
    r1,
    wgan_gp,
)
from genai_lib.gan.models import ConvDiscriminator, ConvGenerator, MLPDiscriminator, MLPGenerator
from genai_lib.gan.modern import (
    Digits8Discriminator,
    Digits8Generator,
    Hinge,
    ModernConfig,
    ModernRun,
    SpectralNorm,
    hinge,
    spectral_normalise,
    train_modern,
)
from genai_lib.gan.packing import MinibatchStd, Pack, minibatch_std, pack
from genai_lib.gan.snapshots import GANSnapshot
from genai_lib.gan.style import MappingNetwork, ModulatedConv2d, StyleGenerator, truncate

__all__ = [
    "MLPGenerator",
    "MLPDiscriminator",
    "ConvGenerator",
    "ConvDiscriminator",
    "pack",
    "Pack",
    "minibatch_std",
    "MinibatchStd",
    "GANLoss",
    "Minimax",
    "NonSaturating",
    "WGANGP",
    "R1",
    "minimax",
    "nonsaturating",
    "wgan_gp",
    "r1",
    "make_loss",
    "LOSS_NAMES",
    "gradient_penalty",
    "interpolate",
    "EMA",
    "ema_update",
    "GANConfig",
    "GANSnapshot",
    "GANTrainer",
    "Hinge",
    "hinge",
    "SpectralNorm",
    "spectral_normalise",
    "Digits8Generator",
    "Digits8Discriminator",
    "ModernConfig",
    "ModernRun",
    "train_modern",
    "diff_augment",
    "ada_overfitting",
    "ada_update",
    "MappingNetwork",
    "ModulatedConv2d",
    "StyleGenerator",
    "truncate",
]


# The trainer is imported on first use, so that ``python -m genai_lib.gan.train`` (the command line)
# runs the module once, not once as part of the package and again as ``__main__``.
_LAZY = {"GANTrainer": "train"}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
