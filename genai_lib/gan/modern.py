"""The modern GAN's ingredients, on 8 × 8 digits: hinge loss, spectral normalisation, TTUR, augmentation.

* :class:`Hinge` — the hinge loss (Lim & Ye 2017; the loss of SNGAN, Miyato et al. 2018, and
  BigGAN): the discriminator minimises ``E max(0, 1 - D(x)) + E max(0, 1 + D(G(z)))`` and the
  generator ``-E D(G(z))``. A :class:`~genai_lib.gan.losses.GANLoss`, so it fits the book's trainer too.
* :class:`SpectralNorm` / :func:`spectral_normalise` — divide a layer's weight, as a matrix with one row
  per output unit, by its largest singular value, estimated by power iteration (Miyato et al. 2018, Alg. 1).
* :class:`Digits8Generator` / :class:`Digits8Discriminator` — small DCGAN-style convnets for
  ``1 × 8 × 8`` digits (the baseline of the chapter's ablation).
* :class:`ModernConfig` and :func:`train_modern` — a compact trainer whose switches turn each
  ingredient on: the loss, spectral normalisation, the two learning rates (TTUR, Heusel et al.
  2017) and differentiable augmentation (:mod:`genai_lib.gan.augment`).

The trainer is deliberately separate from :class:`~genai_lib.gan.GANTrainer`: it adds augmentation
inside both players' losses, which the book's general trainer does not do, and stays short
enough to read in one sitting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from genai_lib._checks import check_bool, check_choice, check_float, check_int
from genai_lib.ema import EMA
from genai_lib.gan.augment import POLICIES, diff_augment
from genai_lib.gan.losses import GANLoss, _check_out, _reduce

__all__ = [
    "Hinge",
    "hinge",
    "SpectralNorm",
    "spectral_normalise",
    "largest_singular_value",
    "Digits8Generator",
    "Digits8Discriminator",
    "ModernConfig",
    "ModernRun",
    "train_modern",
]


@dataclass(frozen=True)
class Hinge(GANLoss):
    """The hinge loss (Lim & Ye 2017; Miyato et al. 2018, Eq. 17).

    ``d_loss = E max(0, 1 - D(x)) + E max(0, 1 + D(G(z)))``: a real sample scored above 1, or a fake
    one below -1, costs nothing and sends no gradient, so the discriminator stops pushing samples it
    already classifies with a margin (a support-vector-machine margin rather than ever-growing logits).
    ``g_loss = -E D(G(z))``: the generator raises the score of its samples, with a gradient that
    never saturates.
    """

    name = "hinge"
    logistic = False

    def d_loss(self, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
        real_out, fake_out = _check_out(real_out, "real_out"), _check_out(fake_out, "fake_out")
        return F.relu(1 - real_out).mean() + F.relu(1 + fake_out).mean()

    def g_loss(self, fake_out: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
        return _reduce(-_check_out(fake_out, "fake_out"), reduction)


def hinge() -> Hinge:
    """The hinge loss, :class:`Hinge`."""
    return Hinge()


def largest_singular_value(weight: torch.Tensor) -> float:
    """``σ(W)``, the exact largest singular value of ``weight`` reshaped to ``(out, -1)`` (by SVD)."""
    return float(torch.linalg.matrix_norm(weight.detach().reshape(weight.shape[0], -1).double(), ord=2))


class SpectralNorm(nn.Module):
    """A parametrization ``W ↦ W / σ̂(W)`` with ``σ̂`` from power iteration (Miyato et al. 2018, Alg. 1).

    ``W`` is read as a matrix ``(out, in·k·k)``. The vectors ``u`` (and ``v``) persist between calls,
    so one iteration per training step suffices: the weight moves little per step and ``u`` tracks
    its top singular vector. In eval mode no iteration runs (the estimate is frozen), as in
    :func:`torch.nn.utils.parametrizations.spectral_norm`. Then
    ``σ̂ = uᵀ W v`` with ``v = normalise(Wᵀu)``, ``u = normalise(W v)``.

    Args:
        weight: the weight it will normalise (sets the sizes of ``u`` and ``v``).
        n_power_iterations: iterations per training-mode call (default 1, as in the paper).
        eps: added to norms before dividing.
    """

    def __init__(self, weight: torch.Tensor, n_power_iterations: int = 1, eps: float = 1e-12) -> None:
        super().__init__()
        self.n_power_iterations = check_int(n_power_iterations, "n_power_iterations", minimum=1)
        self.eps = check_float(eps, "eps", minimum=0.0, strict_min=True)
        matrix = weight.detach().reshape(weight.shape[0], -1)
        u = F.normalize(torch.randn(matrix.shape[0], dtype=weight.dtype), dim=0, eps=self.eps)
        self.register_buffer("_u", u.to(weight.device))
        self.register_buffer("_v", F.normalize(matrix.T @ self._u, dim=0, eps=self.eps))
        self._power_iteration(matrix, 15)  # start from a good estimate, as torch does

    @torch.no_grad()
    def _power_iteration(self, matrix: torch.Tensor, steps: int) -> None:
        for _ in range(steps):
            self._v.copy_(F.normalize(matrix.T @ self._u, dim=0, eps=self.eps))
            self._u.copy_(F.normalize(matrix @ self._v, dim=0, eps=self.eps))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        matrix = weight.reshape(weight.shape[0], -1)
        if self.training:
            self._power_iteration(matrix.detach(), self.n_power_iterations)
        # u and v are constants for autograd (clones: the buffers change in place next call)
        sigma = self._u.clone() @ matrix @ self._v.clone()
        return weight / sigma


def spectral_normalise(module: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Register :class:`SpectralNorm` on ``module.weight`` (a Linear or a convolution) and return ``module``."""
    if not isinstance(module, nn.Module) or not isinstance(getattr(module, "weight", None), torch.Tensor):
        raise TypeError(f"module must be an nn.Module with a weight, got {type(module).__name__}")
    parametrize.register_parametrization(module, "weight", SpectralNorm(module.weight, n_power_iterations))
    return module


class Digits8Generator(nn.Module):
    """A DCGAN-style generator for ``1 × 8 × 8`` digits in ``[-1, 1]``.

    ``z`` → linear → ``2c × 4 × 4`` → transposed conv (``4 → 8``) → ``c × 8 × 8`` → 3 × 3 conv →
    tanh, with batch normalisation and ReLU between (Radford et al. 2016).
    """

    def __init__(self, z_dim: int = 32, channels: int = 32) -> None:
        super().__init__()
        self.z_dim, self.channels = check_int(z_dim, "z_dim", minimum=1), check_int(channels, "channels", minimum=1)
        c = self.channels
        self.net = nn.Sequential(
            nn.Linear(self.z_dim, 2 * c * 16, bias=False),
            nn.Unflatten(1, (2 * c, 4, 4)),
            nn.BatchNorm2d(2 * c),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False),  # 4 -> 8
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.Conv2d(c, 1, 3, 1, 1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map ``z`` of shape ``(N, z_dim)`` to images ``(N, 1, 8, 8)``."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (N, {self.z_dim}), got {tuple(z.shape)}")
        return self.net(z)


class Digits8Discriminator(nn.Module):
    """A convolutional discriminator for ``1 × 8 × 8`` digits, returning one raw score per image.

    3 × 3 conv (``c``, 8 × 8) → strided 4 × 4 conv (``2c``, 4 × 4) → linear, LeakyReLU(0.2) between,
    no normalisation. ``spectral_norm=True`` wraps every layer in :class:`SpectralNorm`.
    """

    def __init__(self, channels: int = 32, spectral_norm: bool = False) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.spectral_norm = check_bool(spectral_norm, "spectral_norm")
        c = self.channels
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, 4, 2, 1),  # 8 -> 4
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(2 * c * 16, 1),
        )
        if self.spectral_norm:
            for module in self.net:
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    spectral_normalise(module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score images ``(N, 1, 8, 8)``; returns shape ``(N,)``."""
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 8, 8):
            raise ValueError(f"x must have shape (N, 1, 8, 8), got {tuple(x.shape)}")
        return self.net(x).squeeze(1)


@dataclass
class ModernConfig:
    """What a run of :func:`train_modern` is, besides its networks and data.

    Args:
        loss: ``"hinge"`` (:class:`Hinge`) or ``"nonsaturating"`` (the DCGAN baseline's).
        lr_g, lr_d: Adam learning rates of the generator and the discriminator; unequal rates are
            TTUR (Heusel et al. 2017), commonly ``lr_d`` several times ``lr_g``.
        betas: Adam's ``(β1, β2)`` for both players.
        batch: real and generated images per update.
        augment: DiffAugment policy (names from :data:`~genai_lib.gan.augment.POLICIES`); empty for none.
        augment_p: the probability each transformation is applied (1 for DiffAugment; ADA adapts it).
        ema_decay: decay of the generator's weight average, which :func:`train_modern` samples from.
    """

    loss: str = "hinge"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    batch: int = 64
    augment: tuple[str, ...] = field(default_factory=tuple)
    augment_p: float = 1.0
    ema_decay: float = 0.99

    def __post_init__(self) -> None:
        check_choice(self.loss, "loss", ("hinge", "nonsaturating"))
        self.lr_g = check_float(self.lr_g, "lr_g", minimum=0.0, strict_min=True)
        self.lr_d = check_float(self.lr_d, "lr_d", minimum=0.0, strict_min=True)
        if not (isinstance(self.betas, tuple) and len(self.betas) == 2):
            raise TypeError(f"betas must be a tuple (beta1, beta2), got {self.betas!r}")
        for b in self.betas:
            check_float(b, "betas", minimum=0.0, maximum=1.0, strict_max=True)
        self.batch = check_int(self.batch, "batch", minimum=2)
        self.augment = tuple(self.augment)
        for name in self.augment:
            if name not in POLICIES:
                raise ValueError(f"augment entries must be among {POLICIES}, got {name!r}")
        self.augment_p = check_float(self.augment_p, "augment_p", minimum=0.0, maximum=1.0)
        self.ema_decay = check_float(self.ema_decay, "ema_decay", minimum=0.0, maximum=1.0, strict_max=True)


@dataclass
class ModernRun:
    """What :func:`train_modern` returns: the trained generator, its weight average and the history."""

    generator: nn.Module
    ema_model: nn.Module
    d_loss: list[float]
    g_loss: list[float]
    real_score: list[float]  # mean raw D output on the (augmented) real batch, per step
    seconds: float


def _loss(name: str) -> GANLoss:
    from genai_lib.gan.losses import nonsaturating

    return Hinge() if name == "hinge" else nonsaturating()


def train_modern(
    generator: nn.Module,
    discriminator: nn.Module,
    data: torch.Tensor,
    config: ModernConfig,
    steps: int,
    *,
    seed: int = 0,
) -> ModernRun:
    """Train ``generator`` against ``discriminator`` on ``data`` for ``steps`` alternating updates.

    Each step: one discriminator update on a random real batch and a fresh fake batch, then one
    generator update; when ``config.augment`` is set, both updates score ``T(x)`` and ``T(G(z))``
    with independent draws of the same policy (DiffAugment, Zhao et al. 2020, Eqs. 2–3). Every
    random number (batches, latents, augmentations) comes from one CPU generator seeded with
    ``seed``, so runs are reproducible and can run side by side in threads.

    Args:
        generator: maps ``(N, generator.z_dim)`` latents to images shaped like ``data``'s rows.
        discriminator: maps images to raw scores ``(N,)``.
        data: the training images ``(M, 1, H, W)`` in ``[-1, 1]``.
        config: a :class:`ModernConfig`.
        steps: generator updates.
        seed: seed of the run's random generator.

    Returns:
        A :class:`ModernRun`.
    """
    if not isinstance(config, ModernConfig):
        raise TypeError(f"config must be a ModernConfig, got {type(config).__name__}")
    if not isinstance(data, torch.Tensor) or data.ndim != 4:
        raise TypeError(f"data must be an image tensor (M, C, H, W), got {getattr(data, 'shape', type(data).__name__)}")
    steps = check_int(steps, "steps", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    device = next(generator.parameters()).device
    rng = torch.Generator().manual_seed(seed)
    loss = _loss(config.loss)
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_g, betas=config.betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=config.betas)
    ema = EMA(generator, decay=config.ema_decay)

    def aug(x: torch.Tensor) -> torch.Tensor:
        if not config.augment:
            return x
        return diff_augment(x, config.augment, p=config.augment_p, generator=rng)

    history: dict[str, list[float]] = {"d": [], "g": [], "real": []}
    start = time.perf_counter()
    generator.train(), discriminator.train()
    for _ in range(steps):
        real = data[torch.randint(len(data), (config.batch,), generator=rng)].to(device)
        z = torch.randn(config.batch, generator.z_dim, generator=rng).to(device)
        with torch.no_grad():
            fake = generator(z)
        # one pass over real and fake together (the discriminator has no batch statistics)
        real_out, fake_out = discriminator(torch.cat([aug(real), aug(fake)])).split(config.batch)
        d_loss = loss.d_loss(real_out, fake_out)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()

        z = torch.randn(config.batch, generator.z_dim, generator=rng).to(device)
        g_loss = loss.g_loss(discriminator(aug(generator(z))))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        ema.update(generator)
        history["d"].append(float(d_loss.detach()))
        history["g"].append(float(g_loss.detach()))
        history["real"].append(float(real_out.detach().mean()))
    return ModernRun(
        generator=generator,
        ema_model=ema.model,
        d_loss=history["d"],
        g_loss=history["g"],
        real_score=history["real"],
        seconds=time.perf_counter() - start,
    )
