"""The networks ε_θ(x_t, t[, c]) that predict the noise: an MLP for small data, a U-Net for images.

Both follow the package's model protocol: ``model(x_t, t)`` predicts the noise in ``x_t`` at
steps ``t`` (int64, shape ``(B,)``); a class-conditional model (``n_classes`` set) also takes
``model(x_t, t, labels)`` with labels in ``0..n_classes-1``, and reads a missing ``labels`` — or the
label ``n_classes`` — as the *null label* ∅ that classifier-free guidance needs (Ho & Salimans
2022). Time enters through a sinusoidal embedding and a small MLP (Ho et al. 2020, Appendix B);
the class through a learned embedding added to it.

* :class:`MLPDenoiser` flattens any input shape (2-D points, 8×8 digits) and runs residual MLP
  blocks, each told the time/class embedding. It is the CPU workhorse of the book.
* :class:`UNetDenoiser` is the convolutional design of Ho et al. (2020) in miniature (after
  Ronneberger et al. 2015): residual conv blocks with GroupNorm and the embedding added per block,
  a down path that halves the resolution, self-attention at the lowest resolution, and an up
  path joined to the down path by skip connections.

Both zero-initialise their output layer, so an untrained model predicts ε̂ = 0 and the loss starts at 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genai_lib._checks import check_float, check_int, check_labels, check_tensor
from genai_lib.diffusion.embeddings import SinusoidalEmbedding

__all__ = ["MLPDenoiserConfig", "MLPDenoiser", "UNetConfig", "UNetDenoiser"]


class _Conditioning(nn.Module):
    """Time (and optional class) → one embedding vector per sample."""

    def __init__(self, time_dim: int, emb_dim: int, n_classes: int | None) -> None:
        super().__init__()
        self.time = nn.Sequential(
            SinusoidalEmbedding(time_dim), nn.Linear(time_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        self.n_classes = n_classes
        # One extra row: index n_classes is the null label ∅ (label dropout, Ho & Salimans 2022).
        self.label = nn.Embedding(n_classes + 1, emb_dim) if n_classes is not None else None

    def forward(self, x: torch.Tensor, t: object, labels: torch.Tensor | None) -> torch.Tensor:
        batch = x.shape[0]
        if isinstance(t, torch.Tensor):
            if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
                raise TypeError(f"t must hold integer steps, got dtype {t.dtype}")
            if t.dim() == 0:
                t = t.expand(batch)
            if t.shape != (batch,):
                raise ValueError(
                    f"t must have shape ({batch},) (one step per sample) or be a scalar, got {tuple(t.shape)}"
                )
        else:
            t = torch.full((batch,), check_int(t, "t", minimum=0), dtype=torch.long, device=x.device)
        emb = self.time(t.to(x.device))
        if self.label is None:
            if labels is not None:
                raise ValueError("labels were given, but this denoiser is unconditional (n_classes=None)")
            return emb
        if labels is None:
            labels = torch.full((batch,), self.n_classes, dtype=torch.long, device=x.device)
        labels = check_labels(labels, "labels", batch, self.n_classes)
        return emb + self.label(labels.to(x.device))


def _check_common(n_classes: object, dropout: object, time_dim: object) -> None:
    if n_classes is not None:
        check_int(n_classes, "n_classes", minimum=1)
    check_float(dropout, "dropout", minimum=0.0, maximum=1.0)
    if check_int(time_dim, "time_dim", minimum=2) % 2:
        raise ValueError(f"time_dim must be even, got {time_dim}")


def _resolve_config(config_cls: type, config: object, kwargs: dict[str, object]) -> Any:
    """The model's config: ``config`` itself, or a ``config_cls`` built from ``kwargs`` (never both)."""
    if config is None:
        return config_cls(**kwargs)
    if kwargs:
        raise TypeError("pass either a config or keyword arguments, not both")
    if not isinstance(config, config_cls):
        raise TypeError(f"config must be of type {config_cls.__name__}, got {type(config).__name__}")
    return config


# -- the MLP -------------------------------------------------------------------------------------


@dataclass
class MLPDenoiserConfig:
    """Configuration of :class:`MLPDenoiser`.

    Attributes:
        data_shape: the shape of one sample, e.g. ``(2,)`` for 2-D points, ``(1, 8, 8)`` for digits.
        hidden: width of the residual blocks.
        depth: number of residual blocks.
        time_dim: width of the sinusoidal time features (even).
        emb_dim: width of the time/class embedding each block receives.
        n_classes: number of classes for a class-conditional model, or None.
        dropout: dropout inside each block.
    """

    data_shape: tuple[int, ...] = (2,)
    hidden: int = 256
    depth: int = 3
    time_dim: int = 64
    emb_dim: int = 128
    n_classes: int | None = None
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.data_shape, list):
            self.data_shape = tuple(self.data_shape)
        if not isinstance(self.data_shape, tuple) or not self.data_shape:
            raise TypeError(f"data_shape must be a non-empty tuple of ints, got {self.data_shape!r}")
        for i, s in enumerate(self.data_shape):
            check_int(s, f"data_shape[{i}]", minimum=1)
        check_int(self.hidden, "hidden", minimum=1)
        check_int(self.depth, "depth", minimum=0)
        check_int(self.emb_dim, "emb_dim", minimum=1)
        _check_common(self.n_classes, self.dropout, self.time_dim)


class _ResidualMLPBlock(nn.Module):
    """h + W₂ SiLU(W₁ SiLU(LN(h)) + W_e SiLU(e)): a pre-norm residual block told the embedding e."""

    def __init__(self, hidden: int, emb_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.fc1 = nn.Linear(hidden, hidden)
        self.emb = nn.Linear(emb_dim, hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        y = self.fc1(F.silu(self.norm(h))) + self.emb(F.silu(emb))
        return h + self.fc2(self.drop(F.silu(y)))


class MLPDenoiser(nn.Module):
    """A residual MLP noise predictor for flat or small data (2-D points, 8×8 digits).

    ``MLPDenoiser(MLPDenoiserConfig(...))`` or ``MLPDenoiser(data_shape=(2,), hidden=256, ...)``.
    Input ``(B, *data_shape)`` is flattened, projected to ``hidden``, passed through ``depth``
    residual blocks that each add a projection of the time/class embedding, and projected back.

    Attributes:
        config: the :class:`MLPDenoiserConfig`.
        null_label: the label index of ∅ (``n_classes``), or None for an unconditional model.
    """

    def __init__(self, config: MLPDenoiserConfig | None = None, **kwargs: object) -> None:
        super().__init__()
        self.config = config = _resolve_config(MLPDenoiserConfig, config, kwargs)
        dim = 1
        for s in config.data_shape:
            dim *= s
        self.dim = dim
        self.cond = _Conditioning(config.time_dim, config.emb_dim, config.n_classes)
        self.inp = nn.Linear(dim, config.hidden)
        self.blocks = nn.ModuleList(
            _ResidualMLPBlock(config.hidden, config.emb_dim, config.dropout) for _ in range(config.depth)
        )
        self.out_norm = nn.LayerNorm(config.hidden)
        self.out = nn.Linear(config.hidden, dim)
        nn.init.zeros_(self.out.weight)  # ε̂ = 0 at initialisation: the loss starts at E‖ε‖²/d = 1
        nn.init.zeros_(self.out.bias)

    @property
    def null_label(self) -> int | None:
        return self.config.n_classes

    def forward(self, x: torch.Tensor, t: torch.Tensor | int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Predict ε̂ for ``x`` of shape ``(B, *data_shape)`` at steps ``t`` ``(B,)``, optionally for ``labels``.

        Raises:
            ValueError: if ``x``'s shape is not ``(B, *data_shape)``, ``t`` or ``labels`` is mis-shaped
                or out of range, or ``labels`` is given to an unconditional model.
        """
        check_tensor(x, "x", floating=True)
        if tuple(x.shape[1:]) != self.config.data_shape:
            raise ValueError(
                f"x must have shape (B, {', '.join(map(str, self.config.data_shape))}), got {tuple(x.shape)}"
            )
        emb = self.cond(x, t, labels)
        h = self.inp(x.reshape(x.shape[0], self.dim))
        for block in self.blocks:
            h = block(h, emb)
        return self.out(F.silu(self.out_norm(h))).reshape(x.shape)


# -- the U-Net -----------------------------------------------------------------------------------


def _groups(channels: int, preferred: int = 8) -> int:
    """The largest group count ≤ ``preferred`` that divides ``channels`` (for GroupNorm)."""
    g = min(preferred, channels)
    while channels % g:
        g -= 1
    return g


@dataclass
class UNetConfig:
    """Configuration of :class:`UNetDenoiser`.

    Attributes:
        image_size: side of the square input; must be divisible by ``2 ** (len(channel_mults) - 1)``.
        in_channels: image channels (1 for digits).
        base_channels: channels at full resolution.
        channel_mults: channel multiplier per resolution level; each level after the first halves the size.
        num_res_blocks: residual blocks per level (on each path).
        time_dim: width of the sinusoidal time features (even).
        n_classes: number of classes for a class-conditional model, or None.
        dropout: dropout inside the residual blocks.
        attention: add self-attention at the lowest resolution (as Ho et al. do at 16×16).
    """

    image_size: int = 16
    in_channels: int = 1
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    time_dim: int = 64
    n_classes: int | None = None
    dropout: float = 0.0
    attention: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.channel_mults, list):
            self.channel_mults = tuple(self.channel_mults)
        if not isinstance(self.channel_mults, tuple) or not self.channel_mults:
            raise TypeError(f"channel_mults must be a non-empty tuple of ints, got {self.channel_mults!r}")
        for i, m in enumerate(self.channel_mults):
            check_int(m, f"channel_mults[{i}]", minimum=1)
        size = check_int(self.image_size, "image_size", minimum=1)
        factor = 2 ** (len(self.channel_mults) - 1)
        if size % factor:
            raise ValueError(f"image_size must be divisible by 2**(len(channel_mults)-1) = {factor}, got {size}")
        check_int(self.in_channels, "in_channels", minimum=1)
        check_int(self.base_channels, "base_channels", minimum=1)
        check_int(self.num_res_blocks, "num_res_blocks", minimum=1)
        if not isinstance(self.attention, bool):
            raise TypeError(f"attention must be a bool, got {type(self.attention).__name__}")
        _check_common(self.n_classes, self.dropout, self.time_dim)


class _ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, + embedding, GroupNorm → SiLU → dropout → conv, plus a (1×1) skip."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb_dim, c_out)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None]  # the same time/class shift at every pixel
        h = self.conv2(self.drop(F.silu(self.norm2(h))))
        return self.skip(x) + h


class _SelfAttention(nn.Module):
    """Single-head self-attention over the pixels of a feature map, with a residual connection."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(_groups(channels), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, hgt, wid = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, c, hgt * wid).transpose(2, 3).unbind(1)
        h = F.scaled_dot_product_attention(q, k, v)  # (b, hw, c)
        return x + self.proj(h.transpose(1, 2).reshape(b, c, hgt, wid))


class UNetDenoiser(nn.Module):
    """A small U-Net noise predictor for images (Ho et al. 2020, Appendix B, in miniature).

    ``UNetDenoiser(UNetConfig(...))`` or ``UNetDenoiser(image_size=16, ...)``. Input and output
    have shape ``(B, in_channels, image_size, image_size)``.

    Attributes:
        config: the :class:`UNetConfig`.
        null_label: the label index of ∅ (``n_classes``), or None for an unconditional model.
    """

    def __init__(self, config: UNetConfig | None = None, **kwargs: object) -> None:
        super().__init__()
        self.config = config = _resolve_config(UNetConfig, config, kwargs)
        chs = [config.base_channels * m for m in config.channel_mults]
        emb_dim = 4 * config.base_channels
        self.cond = _Conditioning(config.time_dim, emb_dim, config.n_classes)
        self.conv_in = nn.Conv2d(config.in_channels, chs[0], 3, padding=1)

        self.down_blocks, self.downsample = nn.ModuleList(), nn.ModuleList()
        ch = chs[0]
        for i, c in enumerate(chs):
            self.down_blocks.append(
                nn.ModuleList(
                    _ResBlock(ch if j == 0 else c, c, emb_dim, config.dropout) for j in range(config.num_res_blocks)
                )
            )
            ch = c
            last = i == len(chs) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(c, c, 3, stride=2, padding=1))

        self.mid1 = _ResBlock(ch, ch, emb_dim, config.dropout)
        self.mid_attn = _SelfAttention(ch) if config.attention else nn.Identity()
        self.mid2 = _ResBlock(ch, ch, emb_dim, config.dropout)

        self.up_blocks, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(len(chs))):
            c = chs[i]
            # The first block of a level takes the skip connection from the same level of the down path.
            self.up_blocks.append(
                nn.ModuleList(
                    _ResBlock(ch + c if j == 0 else c, c, emb_dim, config.dropout) for j in range(config.num_res_blocks)
                )
            )
            ch = c
            self.upsample.append(
                nn.Identity()
                if i == 0
                else nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c, chs[i - 1], 3, padding=1))
            )
            if i > 0:
                ch = chs[i - 1]

        self.out_norm = nn.GroupNorm(_groups(ch), ch)
        self.conv_out = nn.Conv2d(ch, config.in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    @property
    def null_label(self) -> int | None:
        return self.config.n_classes

    def forward(self, x: torch.Tensor, t: torch.Tensor | int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Predict ε̂ for images ``x`` ``(B, C, S, S)`` at steps ``t`` ``(B,)``, optionally for class labels ``labels``.

        Raises:
            ValueError: if ``x``'s shape does not match the config, or ``t``/``labels`` is mis-shaped or out of range.
        """
        check_tensor(x, "x", floating=True)
        c, s = self.config.in_channels, self.config.image_size
        if x.dim() != 4 or tuple(x.shape[1:]) != (c, s, s):
            raise ValueError(f"x must have shape (B, {c}, {s}, {s}), got {tuple(x.shape)}")
        emb = self.cond(x, t, labels)
        h = self.conv_in(x)
        skips = []
        for blocks, down in zip(self.down_blocks, self.downsample):
            for block in blocks:
                h = block(h, emb)
            skips.append(h)
            h = down(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for blocks, up in zip(self.up_blocks, self.upsample):
            h = torch.cat([h, skips.pop()], dim=1)
            for block in blocks:
                h = block(h, emb)
            h = up(h)
        return self.conv_out(F.silu(self.out_norm(h)))
