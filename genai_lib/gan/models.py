"""Generators and discriminators: small MLPs for the 2-D toy sets, DCGAN-style convnets for digits.

Every generator maps a latent vector ``z ~ N(0, I)`` (and, when conditional, a class label) to a
sample and shares one small surface, so the trainer and the chapters never ask which one it is:

* ``generator.z_dim`` and ``generator.n_classes`` (``None`` when unconditional);
* ``generator.sample_latent(n, generator=...)`` draws ``z``;
* ``generator(z, labels)`` is the differentiable map ``G(z)`` used in training;
* ``generator.generate(n, labels, generator=...)`` draws samples without gradients, in eval mode.

Every discriminator returns one raw real number per input, ``discriminator(x, labels)`` of shape
``(N,)``: a logit for the logistic losses (``D(x) = sigmoid(logit)``) and the critic value ``f(x)``
for the Wasserstein loss (see :mod:`genai_lib.gan.losses`).

Two choices are shared by all discriminators here, for the same reason: the gradient penalties
(WGAN-GP, R1) need ``∂D(x_i)/∂x_i`` for each sample on its own, and the trainer's gradient arrows
are the same quantity. Batch normalisation would mix the samples of a batch (Gulrajani et al.
2017, §4, drop it from the critic for that reason), so discriminators use no normalisation; and
they use LeakyReLU, so that no region of the plane has a zero gradient to push samples with.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genai_lib import module_device
from genai_lib._checks import check_int
from genai_lib.gan.packing import MinibatchStd, Pack

__all__ = ["MLPGenerator", "MLPDiscriminator", "ConvGenerator", "ConvDiscriminator"]


def _check_classes(n_classes: object) -> int | None:
    return None if n_classes is None else check_int(n_classes, "n_classes", minimum=2)


class _MemberLinear(nn.Module):
    """``members`` independent linear layers applied at once: ``(K, B, in) -> (K, B, out)`` by one batched matmul.

    Member ``k`` is initialised exactly as a fresh ``nn.Linear(in_features, out_features)`` would be.
    """

    def __init__(self, members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        layers = [nn.Linear(in_features, out_features) for _ in range(members)]
        self.weight = nn.Parameter(torch.stack([lin.weight.detach().T for lin in layers]))  # (K, in, out)
        self.bias = nn.Parameter(torch.stack([lin.bias.detach()[None] for lin in layers]))  # (K, 1, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


def _mlp(
    width_in: int,
    hidden: int,
    depth: int,
    width_out: int,
    activation: type[nn.Module] | nn.Module,
    members: int,
    minibatch_std: int | None = None,
    pack: int = 1,
    pack_after: int = 0,
) -> nn.Sequential:
    """``depth`` hidden layers of ``hidden`` units and an output layer; ``members`` > 1 stacks that many MLPs.

    ``pack = m > 1`` puts a :class:`~genai_lib.gan.packing.Pack` layer after ``pack_after`` hidden
    layers (0: at the input); the next layer takes ``m`` times as many inputs. ``minibatch_std = g``
    puts a :class:`~genai_lib.gan.packing.MinibatchStd` layer (groups of ``g`` rows) before the last
    hidden layer, which then takes one input more.
    """
    layers: list[nn.Module] = []
    width = width_in
    for i in range(depth):
        if pack > 1 and i == pack_after:
            layers.append(Pack(pack))
            width *= pack
        if minibatch_std is not None and i == depth - 1:
            layers.append(MinibatchStd(minibatch_std))
            width += 1
        linear = nn.Linear(width, hidden) if members == 1 else _MemberLinear(members, width, hidden)
        layers += [linear, activation()]
        width = hidden
    layers.append(nn.Linear(width, width_out) if members == 1 else _MemberLinear(members, width, width_out))
    return nn.Sequential(*layers)


def _split_members(x: torch.Tensor, members: int) -> torch.Tensor:
    """``(N, d) -> (members, N / members, d)``: consecutive blocks of rows, block ``k`` for member ``k``."""
    if x.shape[0] % members:
        raise ValueError(
            f"with members={members} the batch must split into {members} equal blocks, got {x.shape[0]} rows"
        )
    return x.reshape(members, x.shape[0] // members, x.shape[1])


def _member_copy(ensemble: nn.Module, single: nn.Module, k: int) -> nn.Module:
    """Copy member ``k`` of ``ensemble.net`` into the plain MLP ``single`` (same shapes, ``members=1``)."""
    with torch.no_grad():
        for big, small in zip(ensemble.net, single.net):
            if isinstance(big, _MemberLinear):
                small.weight.copy_(big.weight[k].T)
                small.bias.copy_(big.bias[k, 0])
    return single.to(module_device(ensemble))


def _check_into(into: object, cls: type, ensemble: nn.Module) -> None:
    """``into`` must be a plain module of ``cls`` with the ensemble's shapes (as ``member`` returns)."""
    if (
        not isinstance(into, cls)
        or into.members != 1
        or [p.numel() * ensemble.members for p in into.parameters()] != [p.numel() for p in ensemble.parameters()]
    ):
        raise ValueError(f"into must be a plain {cls.__name__} returned by member(), with this module's shapes")


def _check_member(k: object, members: int) -> int:
    if members == 1:
        raise ValueError("member() needs a model with members > 1; this one is a single network")
    return check_int(k, "k", minimum=0, maximum=members - 1)


class _Generator(nn.Module):
    """The surface every generator shares: latent sampling, label checks and ``generate``."""

    z_dim: int
    n_classes: int | None

    def _device(self) -> torch.device:
        return module_device(self)

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` latent vectors ``z ~ N(0, I)`` of shape ``(n, z_dim)`` on the model's device.

        ``generator`` is a CPU :class:`torch.Generator` (the global RNG when ``None``); drawing on the
        CPU and then moving makes the same seed give the same ``z`` on every device.
        """
        n = check_int(n, "n", minimum=1)
        return torch.randn(n, self.z_dim, generator=generator).to(self._device())

    def _labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """Check ``labels`` against ``n_classes`` and return them as int64 on the model's device."""
        if self.n_classes is None:
            if labels is not None:
                raise ValueError("labels must be None: this generator is unconditional (n_classes=None)")
            return None
        if labels is None:
            raise ValueError(f"labels is required: this generator is conditional on n_classes={self.n_classes} classes")
        if (
            not isinstance(labels, torch.Tensor)
            or labels.dtype not in (torch.int64, torch.int32)
            or labels.shape != (n,)
        ):
            raise TypeError(f"labels must be an int64 tensor of shape ({n},), got {labels!r:.80}")
        if labels.numel() and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise ValueError(f"labels must lie in 0..{self.n_classes - 1}")
        return labels.long().to(self._device())

    @torch.no_grad()
    def generate(
        self, n: int, labels: torch.Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Draw ``n`` samples ``G(z)``, ``z ~ N(0, I)``, without gradients and in eval mode.

        The module's train/eval mode is restored afterwards. ``labels`` (shape ``(n,)``) is required
        exactly when the generator is conditional.
        """
        z = self.sample_latent(n, generator=generator)
        was_training = self.training
        self.eval()
        try:
            return self(z, labels)
        finally:
            self.train(was_training)


class MLPGenerator(_Generator):
    """``G: R^z_dim -> R^out_dim``, an MLP with ``depth`` hidden ReLU layers of width ``hidden``.

    The generator of Goodfellow et al. (2014) in its simplest form: ReLU layers make ``G`` piecewise
    linear, so its image of the Gaussian latent is a union of (folded) linear pieces that the chapter
    can watch being bent onto the modes.

    With ``members = K > 1`` the module holds ``K`` independent generators of this shape (each
    initialised as a fresh single one would be) and runs them together with batched matrix
    products: a batch of ``N`` rows is split into ``K`` consecutive blocks of ``N / K`` rows, and
    block ``k`` goes through member ``k``. Handed to :class:`~genai_lib.gan.GANTrainer` with a
    discriminator of as many members, it trains ``K`` GANs at once, one per block of every batch;
    for small networks that costs far less than ``K`` separate runs. :meth:`member` copies one out.

    Args:
        z_dim: latent dimension (16 in the book's toy experiments).
        hidden: width of each hidden layer.
        depth: number of hidden layers.
        out_dim: dimension of a sample (2 for the toy sets).
        members: how many independent generators the module holds (default 1, a plain MLP).
    """

    def __init__(self, z_dim: int = 16, hidden: int = 128, depth: int = 3, out_dim: int = 2, members: int = 1) -> None:
        super().__init__()
        self.z_dim, self.out_dim = check_int(z_dim, "z_dim", minimum=1), check_int(out_dim, "out_dim", minimum=1)
        self.hidden, self.depth = check_int(hidden, "hidden", minimum=1), check_int(depth, "depth", minimum=1)
        self.members = check_int(members, "members", minimum=1)
        self.n_classes = None
        # no output squashing: the data are unbounded
        self.net = _mlp(self.z_dim, self.hidden, self.depth, self.out_dim, nn.ReLU, self.members)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Map ``z`` of shape ``(N, z_dim)`` to samples of shape ``(N, out_dim)`` (row blocks per member)."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (N, {self.z_dim}), got {tuple(z.shape)}")
        self._labels(labels, z.shape[0])
        if self.members == 1:
            return self.net(z)
        return self.net(_split_members(z, self.members)).reshape(z.shape[0], self.out_dim)

    def member(self, k: int, into: MLPGenerator | None = None) -> MLPGenerator:
        """A plain (``members=1``) copy of member ``k``, on this module's device; draws no random numbers.

        ``into``, a plain module from an earlier call, is overwritten and returned instead of a new
        one (no new module is built, so this is safe to call from a training thread's callback).
        """
        k = _check_member(k, self.members)
        if into is not None:
            _check_into(into, MLPGenerator, self)
            return _member_copy(self, into, k)
        with torch.random.fork_rng(devices=[]):
            single = MLPGenerator(self.z_dim, self.hidden, self.depth, self.out_dim)
        return _member_copy(self, single, k)


class MLPDiscriminator(nn.Module):
    """``D: R^in_dim -> R``, an MLP with ``depth`` hidden LeakyReLU(0.2) layers, returning one raw score.

    ``members = K > 1`` holds ``K`` independent discriminators, run on consecutive row blocks
    exactly as :class:`MLPGenerator` does (see there); :meth:`member` copies one out.

    Two options let the discriminator look at several samples at once (see
    :mod:`genai_lib.gan.packing`); both group consecutive rows of each member's block:

    * ``pack = m > 1`` (PacGAN, Lin et al. 2018): the network scores packs of ``m`` samples. With
      ``pack_after = 0`` (PacGAN's own design) the input is ``pack(x, m)``, of width ``m · in_dim``;
      with ``pack_after = j`` the first ``j`` hidden layers run on each sample alone (the same
      weights for every sample) and their features are packed. The output keeps one entry per
      row: every sample gets its pack's score, so the losses' means over rows are means over packs
      and the trainer needs no change. (A gradient penalty, which sums ``D`` over rows, then sees
      each pack's gradient ``m`` times.)
    * ``minibatch_std = g`` (ProGAN, Karras et al. 2018): a :class:`~genai_lib.gan.packing.MinibatchStd`
      layer before the last hidden layer appends the mean standard deviation of the features over
      each group of ``g`` rows (of packs, when packing too).

    Either way the batch each member sees must be a multiple of :attr:`rows_multiple`.

    Args:
        in_dim: dimension of a sample (2 for the toy sets).
        hidden: width of each hidden layer.
        depth: number of hidden layers.
        members: how many independent discriminators the module holds (default 1, a plain MLP).
        pack: samples per discriminator input (default 1: one sample at a time).
        pack_after: hidden layers run on each sample before packing (default 0: pack the inputs).
        minibatch_std: group size of a minibatch standard-deviation layer, or ``None`` (default) for none.
    """

    def __init__(
        self,
        in_dim: int = 2,
        hidden: int = 128,
        depth: int = 3,
        members: int = 1,
        pack: int = 1,
        pack_after: int = 0,
        minibatch_std: int | None = None,
    ) -> None:
        super().__init__()
        self.in_dim = check_int(in_dim, "in_dim", minimum=1)
        self.hidden, self.depth = check_int(hidden, "hidden", minimum=1), check_int(depth, "depth", minimum=1)
        self.members = check_int(members, "members", minimum=1)
        self.pack = check_int(pack, "pack", minimum=1)
        self.pack_after = check_int(pack_after, "pack_after", minimum=0, maximum=self.depth - 1)
        self.minibatch_std = None if minibatch_std is None else check_int(minibatch_std, "minibatch_std", minimum=2)
        #: every member's batch must have a multiple of this many rows
        self.rows_multiple = self.pack * (self.minibatch_std or 1)
        self.n_classes = None
        self.net = _mlp(
            self.in_dim,
            self.hidden,
            self.depth,
            1,
            lambda: nn.LeakyReLU(0.2),
            self.members,
            self.minibatch_std,
            self.pack,
            self.pack_after,
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Score ``x`` of shape ``(N, in_dim)`` (row blocks per member); returns shape ``(N,)``.

        With ``pack = m`` entry ``i`` is the score of the pack holding row ``i``.
        """
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(f"x must have shape (N, {self.in_dim}), got {tuple(x.shape)}")
        if labels is not None:
            raise ValueError("labels must be None: MLPDiscriminator is unconditional")
        h = x if self.members == 1 else _split_members(x, self.members)
        if h.shape[-2] % self.rows_multiple:
            raise ValueError(
                f"x must have a multiple of {self.rows_multiple} rows per member (pack={self.pack}, "
                f"minibatch_std={self.minibatch_std}), got {h.shape[-2]}"
            )
        out = self.net(h).squeeze(-1)  # one score per pack: (N / m,) or (K, N / (K m))
        if self.pack > 1:
            out = out.repeat_interleave(self.pack, dim=-1)
        return out.reshape(x.shape[0])

    def member(self, k: int, into: MLPDiscriminator | None = None) -> MLPDiscriminator:
        """A plain (``members=1``) copy of member ``k``, on this module's device; draws no random numbers.

        ``into``, a plain module from an earlier call, is overwritten and returned instead of a new one.
        """
        k = _check_member(k, self.members)
        if into is not None:
            _check_into(into, MLPDiscriminator, self)
            return _member_copy(self, into, k)
        with torch.random.fork_rng(devices=[]):
            single = MLPDiscriminator(
                self.in_dim,
                self.hidden,
                self.depth,
                pack=self.pack,
                pack_after=self.pack_after,
                minibatch_std=self.minibatch_std,
            )
        return _member_copy(self, single, k)


class ConvGenerator(_Generator):
    """A DCGAN-style generator (Radford et al. 2016) for ``1 × 16 × 16`` images in ``[-1, 1]``.

    ``z`` → linear → ``2c × 4 × 4`` → transposed conv → ``c × 8 × 8`` → transposed conv →
    ``1 × 16 × 16`` → tanh, with batch normalisation and ReLU between, as in DCGAN. When
    ``n_classes`` is set the generator is told the class by a one-hot vector appended to ``z``
    (the conditional GAN of Mirza & Osindero 2014).

    Args:
        z_dim: latent dimension.
        channels: ``c``, the width of the last hidden feature map (the first has ``2c``).
        n_classes: number of classes to condition on, or ``None`` for an unconditional model.
    """

    def __init__(self, z_dim: int = 32, channels: int = 64, n_classes: int | None = None) -> None:
        super().__init__()
        self.z_dim, self.channels = check_int(z_dim, "z_dim", minimum=1), check_int(channels, "channels", minimum=1)
        self.n_classes = _check_classes(n_classes)
        c = self.channels
        self.project = nn.Sequential(
            nn.Linear(self.z_dim + (self.n_classes or 0), 2 * c * 4 * 4, bias=False),
            nn.Unflatten(1, (2 * c, 4, 4)),
            nn.BatchNorm2d(2 * c),
            nn.ReLU(),
        )
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * c, c, kernel_size=4, stride=2, padding=1, bias=False),  # 4 -> 8
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.ConvTranspose2d(c, 1, kernel_size=4, stride=2, padding=1),  # 8 -> 16
            nn.Tanh(),  # images live in [-1, 1]
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Map ``z`` of shape ``(N, z_dim)`` (and labels ``(N,)``) to images ``(N, 1, 16, 16)``."""
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape (N, {self.z_dim}), got {tuple(z.shape)}")
        labels = self._labels(labels, z.shape[0])
        if labels is not None:
            z = torch.cat([z, F.one_hot(labels, self.n_classes).to(z.dtype)], dim=1)
        return self.up(self.project(z))


class ConvDiscriminator(nn.Module):
    """A DCGAN-style discriminator for ``1 × 16 × 16`` images, optionally class-conditional.

    Two strided convolutions with LeakyReLU(0.2) (``16 → 8 → 4``) give features ``φ(x)``; the score is
    ``w·φ(x) + b``. When ``n_classes`` is set, the projection discriminator of Miyato & Koyama (2018)
    adds ``embed(y)·φ(x)``: the class enters as an inner product with the features, which asks the
    discriminator whether the image looks like *that* class. No batch normalisation, so that the
    gradient penalties stay per-sample (see the module docstring).

    With ``spectral_norm=True`` every layer's weight (the class embedding's too), reshaped to a
    matrix with one row per output channel, is divided by its largest singular value, estimated by
    one power iteration per forward pass (Miyato et al. 2018). That caps how steep each layer, and
    so the discriminator, can get everywhere at once (for a strided convolution the cap holds up
    to a small factor set by how its windows overlap), where R1 and WGAN-GP only penalise the
    slope at sampled points.

    Args:
        channels: ``c``, the width of the first feature map (the second has ``2c``).
        n_classes: number of classes to condition on, or ``None``.
        spectral_norm: normalise every layer's weight by its spectral norm (default ``False``).
    """

    def __init__(self, channels: int = 64, n_classes: int | None = None, spectral_norm: bool = False) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.n_classes = _check_classes(n_classes)
        if not isinstance(spectral_norm, bool):
            raise TypeError(f"spectral_norm must be a bool, got {type(spectral_norm).__name__} {spectral_norm!r}")
        self.spectral_norm = spectral_norm
        c = self.channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c, kernel_size=4, stride=2, padding=1),  # 16 -> 8
            nn.LeakyReLU(0.2),
            nn.Conv2d(c, 2 * c, kernel_size=4, stride=2, padding=1),  # 8 -> 4
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        self.score = nn.Linear(2 * c * 4 * 4, 1)
        self.embed = nn.Embedding(self.n_classes, 2 * c * 4 * 4) if self.n_classes else None
        if spectral_norm:
            for module in list(self.modules()):
                if isinstance(module, (nn.Conv2d, nn.Linear, nn.Embedding)):
                    nn.utils.parametrizations.spectral_norm(module)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Score images ``x`` of shape ``(N, 1, 16, 16)`` (and labels ``(N,)``); returns shape ``(N,)``."""
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 16, 16):
            raise ValueError(f"x must have shape (N, 1, 16, 16), got {tuple(x.shape)}")
        if (labels is None) != (self.embed is None):
            need = "labels is required" if labels is None else "labels must be None"
            raise ValueError(f"{need}: this discriminator has n_classes={self.n_classes}")
        h = self.features(x)
        out = self.score(h).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(labels.long()) * h).sum(dim=1)
        return out
