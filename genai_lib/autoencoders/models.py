"""Autoencoders and variational autoencoders on small images (Kingma & Welling 2014; Rezende et al. 2014).

* :class:`AutoencoderConfig` — the sizes both models share: the data shape, the latent dimension,
  the width and depth of the two MLPs, and the decoder's fixed standard deviation σ (the VAE's
  Gaussian likelihood p(x | z) = N(x; D(z), σ² I));
* :class:`Autoencoder` — a deterministic encoder z = E(x) and decoder x̂ = D(z), trained to reconstruct;
* :class:`VAE` — an encoder that returns the mean and log-variance of a diagonal Gaussian
  q(z | x) = N(μ(x), diag σ²(x)), :meth:`VAE.reparameterise` (z = μ + σ ⊙ ε, Kingma & Welling 2014,
  Sec. 2.4), the same decoder, and :meth:`VAE.sample` from the prior p(z) = N(0, I).

Both flatten any ``data_shape`` (8×8 digits are ``(1, 8, 8)``) and decode through tanh, so that
reconstructions lie in the data's range [-1, 1]. The loss is in :mod:`~genai_lib.autoencoders.elbo`,
training in :mod:`~genai_lib.autoencoders.train`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from genai_lib._checks import check_float, check_int, check_tensor

__all__ = ["AutoencoderConfig", "Autoencoder", "VAE", "VAEOutput"]


@dataclass
class AutoencoderConfig:
    """Sizes of an :class:`Autoencoder` or :class:`VAE`.

    Attributes:
        data_shape: the shape of one sample, e.g. ``(1, 8, 8)`` for the 8×8 digits.
        latent_dim: the dimension d of the code z.
        hidden: units in each hidden layer of the encoder and of the decoder.
        depth: hidden layers in each of the two MLPs (at least 1).
        decoder_std: σ of the VAE's likelihood N(x; D(z), σ² I), in data units (unused by the autoencoder).
    """

    data_shape: tuple[int, ...] = (1, 8, 8)
    latent_dim: int = 8
    hidden: int = 256
    depth: int = 2
    decoder_std: float = 0.25

    def __post_init__(self) -> None:
        if not isinstance(self.data_shape, (tuple, list)) or not self.data_shape:
            raise TypeError(f"data_shape must be a non-empty tuple of ints, got {self.data_shape!r}")
        self.data_shape = tuple(check_int(s, "data_shape", minimum=1) for s in self.data_shape)
        check_int(self.latent_dim, "latent_dim", minimum=1)
        check_int(self.hidden, "hidden", minimum=1)
        check_int(self.depth, "depth", minimum=1)
        check_float(self.decoder_std, "decoder_std", minimum=0.0, strict_min=True)

    @property
    def data_dim(self) -> int:
        """The number of values in one sample (64 for an 8×8 digit)."""
        return math.prod(self.data_shape)


def _mlp(n_in: int, hidden: int, depth: int, n_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(n_in if i == 0 else hidden, hidden), nn.SiLU()]
    layers.append(nn.Linear(hidden, n_out))
    return nn.Sequential(*layers)


def _config(config: AutoencoderConfig | None, kwargs: dict) -> AutoencoderConfig:
    if config is None:
        return AutoencoderConfig(**kwargs)
    if not isinstance(config, AutoencoderConfig):
        raise TypeError(f"config must be an AutoencoderConfig, got {type(config).__name__}")
    if kwargs:
        raise TypeError("pass either config or keyword sizes, not both")
    return config


class _Codec(nn.Module):
    """What both models share: the config, the decoder, and the checks on x and z."""

    def __init__(self, config: AutoencoderConfig, enc_out: int) -> None:
        super().__init__()
        self.config = config
        self.encoder = _mlp(config.data_dim, config.hidden, config.depth, enc_out)
        self.decoder = _mlp(config.latent_dim, config.hidden, config.depth, config.data_dim)

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", floating=True)
        if tuple(x.shape[1:]) != self.config.data_shape or x.dim() < 2:
            shape = ", ".join(map(str, self.config.data_shape))
            raise ValueError(f"x must have shape (B, {shape}), got {tuple(x.shape)}")
        return x.reshape(x.shape[0], -1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """x̂ = D(z) ``(B, *data_shape)`` in [-1, 1] for codes ``z`` ``(B, latent_dim)`` (the VAE's mean of p(x | z))."""
        check_tensor(z, "z", floating=True)
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"z must have shape (B, {self.config.latent_dim}), got {tuple(z.shape)}")
        return torch.tanh(self.decoder(z)).reshape(z.shape[0], *self.config.data_shape)


class Autoencoder(_Codec):
    """A deterministic autoencoder: z = E(x) ∈ R^d, x̂ = D(z); trained on ‖x - x̂‖² alone.

    Built as ``Autoencoder(AutoencoderConfig(...))`` or ``Autoencoder(latent_dim=8, hidden=256)``.
    Nothing in its loss says where in R^d the codes should lie, so N(0, I) is not a distribution of
    codes it can decode: that is what the :class:`VAE` adds.
    """

    def __init__(self, config: AutoencoderConfig | None = None, **kwargs) -> None:
        super().__init__(_config(config, kwargs), _config(config, kwargs).latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code z = E(x), ``(B, latent_dim)``, of ``x`` ``(B, *data_shape)``."""
        return self.encoder(self._flat(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction D(E(x)), shaped like ``x``."""
        return self.decode(self.encode(x))


class VAEOutput(NamedTuple):
    """One pass of a :class:`VAE`: the reconstruction D(z), the code z drawn from q(z | x), and q's parameters."""

    recon: torch.Tensor
    z: torch.Tensor
    mean: torch.Tensor
    logvar: torch.Tensor


class VAE(_Codec):
    """A variational autoencoder with a diagonal-Gaussian encoder and a fixed-σ Gaussian decoder.

    Encoder: x ↦ (μ(x), log σ²(x)), the parameters of q(z | x) = N(μ, diag σ²) (Kingma & Welling
    2014, Sec. 3, "Example: variational auto-encoder"). Decoder: z ↦ D(z), the mean of
    p(x | z) = N(D(z), s² I) with s = ``decoder_std``. Prior: p(z) = N(0, I). Built like :class:`Autoencoder`.
    """

    def __init__(self, config: AutoencoderConfig | None = None, **kwargs) -> None:
        config = _config(config, kwargs)
        super().__init__(config, 2 * config.latent_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, logvar)`` of q(z | x), each ``(B, latent_dim)``, for ``x`` ``(B, *data_shape)``."""
        mean, logvar = self.encoder(self._flat(x)).chunk(2, dim=1)
        return mean, logvar

    @staticmethod
    def reparameterise(
        mean: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """z = μ + exp(½ log σ²) ⊙ ε with ε ~ N(0, I): a draw from N(μ, diag σ²) that gradients flow through.

        The randomness is in ε alone, so z is a differentiable function of ``mean`` and ``logvar``
        (the reparameterisation trick, Kingma & Welling 2014, Eq. 4 and Sec. 2.4). ``generator``
        draws ε (on its own device; the result moves to ``mean``'s).

        Raises:
            ValueError: if ``mean`` and ``logvar`` differ in shape.
        """
        check_tensor(mean, "mean", floating=True)
        check_tensor(logvar, "logvar", floating=True)
        if mean.shape != logvar.shape:
            raise ValueError(f"logvar must have mean's shape {tuple(mean.shape)}, got {tuple(logvar.shape)}")
        device = generator.device if generator is not None else mean.device
        eps = torch.randn(mean.shape, generator=generator, device=device, dtype=mean.dtype).to(mean.device)
        return mean + torch.exp(0.5 * logvar) * eps

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> VAEOutput:
        """Encode ``x``, draw z from q(z | x) by :meth:`reparameterise`, decode: a :class:`VAEOutput`."""
        mean, logvar = self.encode(x)
        z = self.reparameterise(mean, logvar, generator)
        return VAEOutput(self.decode(z), z, mean, logvar)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode ``n`` codes drawn from the prior N(0, I): ``(n, *data_shape)`` (the decoder's means)."""
        n = check_int(n, "n", minimum=1)
        device = next(self.parameters()).device
        z = torch.randn(
            n, self.config.latent_dim, generator=generator, device=generator.device if generator is not None else device
        )
        return self.decode(z.to(device))
