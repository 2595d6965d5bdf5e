"""StyleGAN's generator at the scale of 8 × 8 digits: a mapping network, modulated convolutions, truncation.

Karras et al. (2019, StyleGAN) stop feeding the latent ``z`` into the first layer. A **mapping
network** ``f`` turns ``z`` into an intermediate latent ``w = f(z)``, and the synthesis network
starts from a learned constant; ``w`` enters every layer as a *style*, a per-input-channel scale.
StyleGAN2 (Karras et al. 2020, §2.2) applies the style to the convolution's *weights* — a
**modulated convolution** — and then **demodulates**: it rescales each output channel's weights so
that unit-variance inputs give unit-variance outputs, which replaces the instance normalisation
that caused StyleGAN's "droplet" artefacts:

* modulation (Eq. 1): ``w'_{ijk} = s_i · w_{ijk}`` (input channel ``i``, output channel ``j``, tap ``k``);
* demodulation (Eq. 3): ``w''_{ijk} = w'_{ijk} / sqrt(Σ_{i,k} w'_{ijk}² + ε)``.

Because ``w`` is a learned, less entangled space, averaging in it is meaningful: the **truncation
trick** (Karras et al. 2019, §3.2; Brock et al. 2019 truncated ``z`` instead) draws
``w' = w̄ + ψ (w - w̄)`` with ``w̄`` the average ``w``: ``ψ = 1`` leaves samples alone, ``ψ < 1``
pulls them towards the "average digit", trading variety (recall) for typicality (precision).

This module keeps what fits a CPU and 64 pixels: no noise inputs, no style mixing, no progressive
growing or skip/residual architectures, no path-length regularisation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genai_lib._checks import check_bool, check_float, check_int

__all__ = ["MappingNetwork", "ModulatedConv2d", "StyleGenerator", "truncate", "pixel_norm"]


def pixel_norm(z: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each row of ``z`` to unit root-mean-square (Karras et al. 2018, Eq. in §4.2), as StyleGAN does to ``z``."""
    return z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + eps)


def truncate(w: torch.Tensor, w_avg: torch.Tensor, psi: float) -> torch.Tensor:
    """The truncation trick ``w̄ + ψ (w - w̄)`` (Karras et al. 2019, §3.2).

    ``ψ = 1`` is the identity, ``ψ = 0`` gives ``w̄`` for every sample, ``0 < ψ < 1`` pulls towards it.
    """
    if not isinstance(w, torch.Tensor) or not isinstance(w_avg, torch.Tensor):
        raise TypeError("w and w_avg must be tensors")
    if w_avg.shape != w.shape[-1:]:
        raise ValueError(f"w_avg must have shape ({w.shape[-1]},), got {tuple(w_avg.shape)}")
    psi = check_float(psi, "psi")
    # torch.lerp is exact at both ends: psi = 1 returns w, psi = 0 returns w_avg, bit for bit
    return torch.lerp(w_avg.expand_as(w), w, psi)


class MappingNetwork(nn.Module):
    """``f: z ↦ w``: pixel-normalise ``z``, then ``depth`` linear layers with LeakyReLU(0.2) (Karras et al. 2019, §2).

    StyleGAN uses 8 layers of 512 units; 2 of ``w_dim`` are plenty for 64 pixels.
    """

    def __init__(self, z_dim: int = 32, w_dim: int = 32, depth: int = 2) -> None:
        super().__init__()
        self.z_dim, self.w_dim = check_int(z_dim, "z_dim", minimum=1), check_int(w_dim, "w_dim", minimum=1)
        self.depth = check_int(depth, "depth", minimum=1)
        layers: list[nn.Module] = []
        width = self.z_dim
        for _ in range(self.depth):
            layers += [nn.Linear(width, self.w_dim), nn.LeakyReLU(0.2)]
            width = self.w_dim
        self.net = nn.Sequential(*layers)
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                # He initialisation for LeakyReLU keeps w at about the scale of the normalised z
                # (torch's default would shrink it ~3x per layer, and nearly constant styles collapse the GAN)
                nn.init.kaiming_normal_(layer.weight, a=0.2)
                nn.init.zeros_(layer.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map ``(N, z_dim)`` latents to ``(N, w_dim)`` intermediate latents."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (N, {self.z_dim}), got {tuple(z.shape)}")
        return self.net(pixel_norm(z))


class ModulatedConv2d(nn.Module):
    """A convolution whose weights each sample's style scales per input channel (StyleGAN2, Eqs. 1–3).

    ``style = affine(w) + 1`` (one scale per input channel; the affine layer's bias starts at zero,
    so at initialisation styles scatter around 1, as StyleGAN2's bias initialisation of 1 does).
    The modulated, demodulated weights differ per sample, so the batch runs as one grouped
    convolution with ``N`` groups (Karras et al. 2020, App. B).

    Args:
        in_channels, out_channels, kernel_size: as for :class:`torch.nn.Conv2d` (odd kernel, "same" padding).
        w_dim: size of the intermediate latent ``w``.
        demodulate: rescale each output channel's weights to unit norm (Eq. 3); ``False`` for the
            output ("toRGB") layer, as in StyleGAN2.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, demodulate: bool = True
    ) -> None:
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.out_channels = check_int(out_channels, "out_channels", minimum=1)
        self.kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (same padding), got {kernel_size}")
        self.demodulate = check_bool(demodulate, "demodulate")
        fan_in = self.in_channels * self.kernel_size**2
        # He initialisation of the base weight, so that unmodulated, undemodulated outputs keep the scale
        self.weight = nn.Parameter(
            torch.randn(self.out_channels, self.in_channels, self.kernel_size, self.kernel_size) / math.sqrt(fan_in)
        )
        self.bias = nn.Parameter(torch.zeros(self.out_channels))
        self.affine = nn.Linear(check_int(w_dim, "w_dim", minimum=1), self.in_channels)
        nn.init.normal_(self.affine.weight, std=1 / math.sqrt(w_dim))  # styles vary by ~ rms(w) around 1
        nn.init.zeros_(self.affine.bias)  # styles start around 1 (the +1 in modulated_weight), varying with w

    def modulated_weight(self, w: torch.Tensor) -> torch.Tensor:
        """The per-sample weights ``(N, out, in, k, k)`` for styles from ``w`` ``(N, w_dim)``."""
        style = self.affine(w) + 1.0  # (N, in)
        weight = self.weight[None] * style[:, None, :, None, None]  # Eq. 1
        if self.demodulate:  # Eq. 3
            weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        return weight

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Convolve ``x`` ``(N, in, H, W)`` with each sample's own modulated weights; returns ``(N, out, H, W)``."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        if w.ndim != 2 or w.shape[0] != x.shape[0]:
            raise ValueError(f"w must have shape ({x.shape[0]}, w_dim), got {tuple(w.shape)}")
        n, _, h, wd = x.shape
        weight = self.modulated_weight(w).reshape(n * self.out_channels, self.in_channels, *self.weight.shape[2:])
        out = F.conv2d(x.reshape(1, n * self.in_channels, h, wd), weight, padding=self.kernel_size // 2, groups=n)
        return out.reshape(n, self.out_channels, h, wd) + self.bias[None, :, None, None]


class StyleGenerator(nn.Module):
    """A StyleGAN2-style generator for ``1 × 8 × 8`` digits.

    ``w = f(z)``; a learned constant ``c × 4 × 4`` → modulated 3 × 3 conv → upsample ×2 → two
    modulated 3 × 3 convs at 8 × 8 (LeakyReLU(0.2) after each) → modulated 1 × 1 "toRGB" without
    demodulation → tanh. Every layer reads the same ``w``. In training mode each forward pass
    moves ``w_avg`` towards the batch's mean ``w`` (decay ``w_avg_decay``), the ``w̄`` of
    :func:`truncate`.

    Args:
        z_dim, w_dim: latent sizes.
        channels: feature maps per layer.
        mapping_depth: layers of the mapping network.
        w_avg_decay: decay of the running average of ``w``.
    """

    def __init__(
        self, z_dim: int = 32, w_dim: int = 32, channels: int = 32, mapping_depth: int = 2, w_avg_decay: float = 0.99
    ) -> None:
        super().__init__()
        self.z_dim, self.channels = check_int(z_dim, "z_dim", minimum=1), check_int(channels, "channels", minimum=1)
        self.w_avg_decay = check_float(w_avg_decay, "w_avg_decay", minimum=0.0, maximum=1.0, strict_max=True)
        c = self.channels
        self.mapping = MappingNetwork(self.z_dim, w_dim, mapping_depth)
        self.const = nn.Parameter(torch.randn(1, c, 4, 4))
        self.conv4 = ModulatedConv2d(c, c, 3, w_dim)
        self.conv8a = ModulatedConv2d(c, c, 3, w_dim)
        self.conv8b = ModulatedConv2d(c, c, 3, w_dim)
        self.to_image = ModulatedConv2d(c, 1, 1, w_dim, demodulate=False)
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def synthesis(self, w: torch.Tensor) -> torch.Tensor:
        """Images ``(N, 1, 8, 8)`` from intermediate latents ``w`` ``(N, w_dim)``."""
        x = self.const.expand(len(w), -1, -1, -1)
        x = F.leaky_relu(self.conv4(x, w), 0.2)
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = F.leaky_relu(self.conv8a(x, w), 0.2)
        x = F.leaky_relu(self.conv8b(x, w), 0.2)
        return torch.tanh(self.to_image(x, w))

    def forward(self, z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        """Map ``z`` ``(N, z_dim)`` to images ``(N, 1, 8, 8)``, truncated towards ``w_avg`` by ``psi``."""
        w = self.mapping(z)
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.mean(dim=0), 1 - self.w_avg_decay)
        if psi != 1.0:
            w = truncate(w, self.w_avg, psi)
        return self.synthesis(w)
