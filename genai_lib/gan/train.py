"""The GAN trainer: alternating discriminator and generator steps, with the snapshots explorers scrub.

One generator step of :class:`GANTrainer` is Algorithm 1 of Goodfellow et al. (2014), with the
``k = d_steps`` inner discriminator updates of that algorithm (Gulrajani et al. 2017 use the same
loop for WGAN-GP):

1. ``d_steps`` times: draw a real batch ``x`` and a generated batch ``x̃ = G(z)``, and take one Adam
   step on ``loss.d_loss(D(x), D(x̃)) + loss.penalty(D, x, x̃)``;
2. draw ``z`` and take one Adam step on ``loss.g_loss(D(G(z)))`` (the discriminator frozen).

:class:`GANTrainer` is a :class:`genai_lib.training.Trainer` (the base owns the step count, the
History, the random generator, the EMA and the checkpoints): :meth:`GANTrainer.fit` trains until
``steps`` generator steps are done in total, returns the History like every trainer and, every
``snapshot_every`` generator steps, appends a :class:`GANSnapshot` to ``trainer.snapshots``:

* ``samples`` — ``G(z)`` on a latent batch fixed when the trainer is built (so frames compare);
* for 2-D data, ``d_grid`` — the discriminator's ``D(x)`` (``loss.prob`` of its raw output: a
  probability for the logistic losses, the critic value for WGAN) on a ``grid_size²`` grid over
  ``extent``, exactly what the heatmap shows;
* for 2-D data, ``arrows`` — at each sample ``x_i``, ``-∂ℓ_G(D(x_i))/∂x_i``, the direction the
  generator's own loss pushes that sample (GAN Lab's arrows), from the same ``loss.g_loss``;
* for 2-D data with ``config.manifold_lines`` set, ``manifold`` — the generator's image of a grid of
  latent lines (GAN Lab's manifold, Kahng et al. 2018).

``fit(..., dissect=[s, ...])`` also takes the update from step ``s`` to ``s + 1`` apart, as GAN
Lab's separate discriminator and generator steps do: three snapshots, before the update, after its
discriminator step(s) and after its generator step, kept in ``trainer.dissections[s]``.

A snapshot draws no random numbers, so taking snapshots (dissections included) never changes the
training run.

With ``config.ema_decay`` set, an exponential moving average of the generator's weights
(:mod:`genai_lib.ema`) follows every generator step; snapshots then sample from the average
(:attr:`GANTrainer.ema_model`), while training itself never reads it.

Models with ``members = K > 1`` (:class:`~genai_lib.gan.MLPGenerator` and
:class:`~genai_lib.gan.MLPDiscriminator`) train ``K`` GANs at once: every batch, and the fixed
snapshot batch, is split into ``K`` consecutive blocks, block ``k`` for member ``k``, and each
member's gradient is that of the mean loss over its own block, as in a run of its own (the
logged losses average the members). A snapshot's
``d_grid`` then holds every member's map, shape ``(K, grid_size, grid_size)``;
:meth:`GANTrainer.member_snapshots` and ``frames(member=k)`` give one member's run.

All the trainer's random numbers come from its own CPU ``torch.Generator`` (``trainer.rng``, seeded
by ``config.seed``); :meth:`GANTrainer.save` stores its state with the weights and optimisers, so a
run resumed with :meth:`GANTrainer.load` continues exactly as the uninterrupted run would have.

Several processes (``torchrun``) and accumulated micro-batches (``grad_accum``) go through
:meth:`genai_lib.training.Trainer.update`, once for every discriminator step and once for the
generator step: every rank draws the global batch's indices, latents and WGAN-GP's interpolation
weights from its identically seeded ``rng`` and computes the loss on its shard; the two players'
gradients are averaged over the ranks by one all-reduce after the backward passes
(:func:`genai_lib.distributed.average_gradients`), not by DistributedDataParallel, whose hooks
expect one forward pass per backward and every parameter trained: the discriminator step scores
real and generated batches (and R1 differentiates D twice), and the generator step runs the frozen
discriminator. Every rank then takes the same steps, so the EMA of the generator is the same on
all of them, and N ranks make the updates of one process with ``grad_accum=N``. A generator with
BatchNorm (the DCGAN-style :class:`~genai_lib.gan.ConvGenerator`) normalises each micro-batch with its own
statistics in both cases; its running averages, used only in eval mode, are each rank's own
(rank 0's are saved). ``python -m genai_lib.gan.train`` is the command line (:mod:`genai_lib.gan.cli`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from genai_lib import distributed, module_device
from genai_lib._checks import check_int
from genai_lib.ema import EMA
from genai_lib.gan.config import GANConfig
from genai_lib.gan.snapshots import (
    PHASES,
    GANSnapshot,
    grid_polyline,
    heatmap_grid,
    latent_grid,
    member_snapshot,
    snapshot_frames,
)
from genai_lib.training import History, Trainer, cosine_schedule

__all__ = ["GANTrainer"]


def _set_requires_grad(params: list[nn.Parameter], flag: bool) -> None:
    for p in params:
        p.requires_grad_(flag)


def _check_players(
    generator: nn.Module, discriminator: nn.Module, data: object, labels: object, config: GANConfig
) -> tuple[torch.device, int]:
    """Check that the two players, the data and the labels fit together; return the device and ``members``."""
    for name, module in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(module, nn.Module) or not any(True for _ in module.parameters()):
            raise TypeError(f"{name} must be an nn.Module with parameters, got {type(module).__name__}")
    for attr in ("z_dim", "n_classes", "sample_latent"):
        if not hasattr(generator, attr):
            raise TypeError(f"generator must have a {attr!r} attribute, like the generators in genai_lib.gan.models")
    device = module_device(generator)
    if module_device(discriminator) != device:
        raise ValueError(
            f"discriminator must be on the generator's device {device}, got {module_device(discriminator)}"
        )
    n_classes = generator.n_classes
    if getattr(discriminator, "n_classes", None) != n_classes:
        raise ValueError(
            f"discriminator.n_classes must equal generator.n_classes={n_classes}, "
            f"got {getattr(discriminator, 'n_classes', None)}"
        )
    if not isinstance(data, torch.Tensor) or not data.is_floating_point() or data.ndim < 2 or len(data) < 1:
        raise TypeError(f"data must be a float tensor of shape (N, *sample_shape), got {data!r:.80}")
    if n_classes is None and labels is not None:
        raise ValueError("labels must be None: the generator is unconditional (n_classes=None)")
    if n_classes is not None:
        if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64 or labels.shape != (len(data),):
            raise ValueError(
                f"labels must be an int64 tensor of shape ({len(data)},) for a conditional "
                f"generator, got {labels!r:.80}"
            )
        if labels.min() < 0 or labels.max() >= n_classes:
            raise ValueError(f"labels must lie in 0..{n_classes - 1}")

    members = getattr(generator, "members", 1)
    if getattr(discriminator, "members", 1) != members:
        raise ValueError(
            f"discriminator.members must equal generator.members={members}, got {getattr(discriminator, 'members', 1)}"
        )
    for name in ("batch_size", "snapshot_samples"):
        if getattr(config, name) % members:
            raise ValueError(
                f"config.{name} must be a multiple of members={members} (one equal block "
                f"per member), got {getattr(config, name)}"
            )
    rows = getattr(discriminator, "rows_multiple", 1)  # packing and minibatch-std group rows
    for name in ("batch_size", "snapshot_samples"):
        if getattr(config, name) % (members * rows):
            raise ValueError(
                f"config.{name} must be a multiple of members * discriminator.rows_multiple = {members * rows} "
                f"(every member's batch splits into whole packs or groups), got {getattr(config, name)}"
            )

    return device, members


class GANTrainer(Trainer):
    """Train ``generator`` against ``discriminator`` on ``data`` (see the module docstring).

    Args:
        generator: a generator of :mod:`genai_lib.gan.models` (or any module with ``z_dim``,
            ``n_classes``, ``sample_latent`` and ``forward(z, labels)``).
        discriminator: a module ``D(x, labels) -> (N,)`` raw scores, on the generator's device.
        data: real samples, a float tensor ``(N, *sample_shape)`` matching the generator's output;
            moved to the generator's device.
        labels: int64 class labels ``(N,)``, required exactly when the generator is conditional.
        config: a :class:`GANConfig`; ``batch_size`` rows per micro-batch and rank.
        ranks: this process's place among torchrun's ranks (:func:`genai_lib.distributed.setup`;
            the players must be on ``ranks.device``); default one process.
        grad_accum: micro-batches accumulated per discriminator and generator update; one
            process with ``grad_accum=N`` makes the updates of N ranks. Several ranks or micro-batches
            need models with ``members = 1`` (a shard would cut the members' blocks).

    Attributes:
        loss: the :class:`~genai_lib.gan.losses.GANLoss` in use.
        history: every logged step so far (``d_loss``, ``penalty``, ``g_loss``, ``d_real``, ``d_fake``, ``lr_g``).
        snapshots: every snapshot so far.
        dissections: ``{s: (before, after D, after G)}``, the snapshots of every dissected update so far.
        step: generator steps completed.
        fixed_z, fixed_labels: the latent batch (and labels) every snapshot draws.
        ema: the :class:`~genai_lib.ema.EMA` of the generator's weights, or ``None``;
            :attr:`ema_model` is the generator to sample from (the average, else ``generator``).
        rng: the trainer's random generator (batches, latents, interpolation weights).
        members: how many GANs train at once (the models' ``members``; 1 for ordinary models).
        extent, grid_x, grid_y, grid: the 2-D heatmap grid (``None`` for other data).
        manifold_z: the latents of the latent grid (``None`` unless 2-D data and ``config.manifold_lines``).
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        data: torch.Tensor,
        labels: torch.Tensor | None = None,
        config: GANConfig | None = None,
        *,
        ranks: distributed.Ranks | None = None,
        grad_accum: int = 1,
    ) -> None:
        config = GANConfig() if config is None else config
        if not isinstance(config, GANConfig):
            raise TypeError(f"config must be a GANConfig, got {type(config).__name__}")
        self.device, self.members = _check_players(generator, discriminator, data, labels, config)
        n_classes = generator.n_classes
        self.generator, self.discriminator, self.config = generator, discriminator, config
        self.loss = config.make_loss()
        self.data = data.detach().to(self.device, torch.float32)
        self.labels = None if labels is None else labels.to(self.device)
        snap_seed = int(np.random.SeedSequence([config.seed, 1]).generate_state(1)[0])
        self.fixed_z = generator.sample_latent(
            config.snapshot_samples, generator=torch.Generator().manual_seed(snap_seed)
        )
        self.fixed_labels = (
            None if n_classes is None else (torch.arange(config.snapshot_samples) % n_classes).to(self.device)
        )
        with torch.no_grad():
            was = generator.training
            generator.eval()
            n_probe = 2 if self.members == 1 else self.members  # one row per member
            probe = generator(self.fixed_z[:n_probe], None if n_classes is None else self.fixed_labels[:n_probe])
            generator.train(was)
        if probe.shape[1:] != self.data.shape[1:]:
            raise ValueError(
                f"data must hold samples of the generator's shape {tuple(probe.shape[1:])}, "
                f"got {tuple(self.data.shape[1:])}"
            )

        # The fused Adam kernel updates every parameter in one call: the same update rule, several
        # times faster than torch's per-parameter loop on the CPU, where small GANs spend much of a
        # step in the optimiser. Devices without the kernel get the default implementation.
        fused = True if self.device.type in ("cpu", "cuda") else None
        self.opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_g, betas=config.betas, fused=fused)
        self.opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=config.betas, fused=fused)
        self._d_params = list(discriminator.parameters())  # frozen and thawed around every generator step
        ema = None if config.ema_decay is None else EMA(generator, config.ema_decay)
        super().__init__(seed=config.seed, ema=ema, ranks=ranks, grad_accum=grad_accum)
        if self.members > 1 and (self.grad_accum > 1 or self.ranks.distributed):
            raise ValueError(
                f"grad_accum={self.grad_accum} on {self.ranks.world_size} rank(s) needs models with members=1: "
                f"a shard of the batch would cut the {self.members} members' blocks"
            )
        self.snapshots: list[GANSnapshot] = []
        self.dissections: dict[int, tuple[GANSnapshot, GANSnapshot, GANSnapshot]] = {}
        self._total, self._schedule, self._d_steps, self._snapshot_every = 0, 0, 1, None  # set by fit
        self._dissect: frozenset[int] = frozenset()

        self.extent = self.grid_x = self.grid_y = self.grid = None
        if self.data.ndim == 2 and self.data.shape[1] == 2 and n_classes is None:
            self.extent, self.grid_x, self.grid_y, self.grid = heatmap_grid(
                self.data, config.grid_size, config.grid_extent
            )
        self.manifold_z = None
        if self.grid is not None and config.manifold_lines is not None:
            self.manifold_z = latent_grid(generator.z_dim, config.manifold_lines, config.manifold_span).to(self.device)

    # -- one update -----------------------------------------------------------------------------

    def _real_batch(self, rows: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        rows = self.config.batch_size if rows is None else rows
        idx = torch.randint(len(self.data), (rows,), generator=self.rng).to(self.device)
        return self.data[idx], None if self.labels is None else self.labels[idx]

    def _fake_labels(self, rows: int | None = None) -> torch.Tensor | None:
        """Labels for the generator step, drawn from the data's label distribution."""
        if self.labels is None:
            return None
        return self._real_batch(rows)[1]

    @staticmethod
    def _pack(*tensors: torch.Tensor | None) -> tuple[tuple[torch.Tensor, ...], list[bool]]:
        """The tensors that are not None (for :meth:`update` to shard), and which ones were."""
        return tuple(t for t in tensors if t is not None), [t is not None for t in tensors]

    @staticmethod
    def _unpack(given: Sequence[torch.Tensor], present: list[bool]) -> list[torch.Tensor | None]:
        parts = iter(given)
        return [next(parts) if here else None for here in present]

    def _d_update(self) -> tuple[float, float, float, float]:
        """One discriminator step on a fresh global batch; returns its mean ``d_loss``, ``penalty``,
        ``d_real`` and ``d_fake``."""
        G, loss, cfg = self.generator, self.loss, self.config
        rows = self.global_rows(cfg.batch_size)
        real, labels = self._real_batch(rows)
        z = G.sample_latent(rows, generator=self.rng)
        noise = loss.penalty_noise(real, generator=self.rng)  # WGAN-GP's ε, for the whole global batch
        batch, present = self._pack(real, z, labels, noise)
        stats: list[torch.Tensor] = []

        def d_objective(D: nn.Module, *micro: torch.Tensor) -> torch.Tensor:
            real, z, labels, noise = self._unpack(micro, present)
            with torch.no_grad():
                fake = G(z, labels)
            if loss.penalises_real:
                # R1 differentiates D at the real batch: score it once, with gradients on, for the
                # loss and the penalty both.
                real = real.detach().requires_grad_(True)
                real_out, fake_out = D(real, labels), D(fake, labels)
                penalty = loss.penalty(D, real, fake, labels, generator=self.rng, noise=noise, real_out=real_out)
            else:
                if self.members == 1:
                    # One pass over both batches: exact, because D scores each sample on its own.
                    both_labels = None if labels is None else torch.cat([labels, labels])
                    out = D(torch.cat([real, fake]), both_labels)
                    real_out, fake_out = out[: len(real)], out[len(real) :]
                else:  # each batch splits into the members' blocks on its own
                    real_out, fake_out = D(real, labels), D(fake, labels)
                penalty = loss.penalty(D, real, fake, labels, generator=self.rng, noise=noise)
            d_loss = loss.d_loss(real_out, fake_out)
            with torch.no_grad():
                stats.append(torch.stack([d_loss, penalty, loss.prob(real_out).mean(), loss.prob(fake_out).mean()]))
            # With K members the losses are means over all K blocks; times K, each member's gradient is
            # exactly that of its own block's mean, as in a run of its own.
            return (d_loss + penalty) * self.members

        self.update(self.discriminator, self.opt_d, batch, d_objective)
        means = (sum(stats) / len(stats)).tolist()
        return tuple(distributed.mean_over_ranks(v, self.ranks) for v in means)

    def _g_update(self) -> float:
        """One generator step on a fresh global batch of latents (the discriminator frozen); returns its mean loss."""
        G, D = self.generator, self.discriminator
        rows = self.global_rows(self.config.batch_size)
        labels = self._fake_labels(rows)
        z = G.sample_latent(rows, generator=self.rng)
        batch, present = self._pack(z, labels)
        losses: list[torch.Tensor] = []

        def g_objective(G: nn.Module, *micro: torch.Tensor) -> torch.Tensor:
            z, labels = self._unpack(micro, present)
            g_loss = self.loss.g_loss(D(G(z, labels), labels))
            losses.append(g_loss.detach())
            return g_loss * self.members

        _set_requires_grad(self._d_params, False)  # D is the fixed opponent here; skip its weight gradients
        try:
            self.update(G, self.opt_g, batch, g_objective)
        finally:
            _set_requires_grad(self._d_params, True)
        if self.ema is not None:
            self.ema.update(G)
        return distributed.mean_over_ranks(float(sum(losses) / len(losses)), self.ranks)

    def _set_lr(self, step: int, total: int) -> float:
        cfg = self.config
        ratio = 1.0 if cfg.lr_decay == "constant" else cosine_schedule(step, total, 1.0, min_lr=cfg.final_lr_ratio)
        for opt, lr in ((self.opt_g, cfg.lr_g), (self.opt_d, cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * ratio
        return cfg.lr_g * ratio

    def train_step(self, step: int, total: int | None = None, d_steps: int | None = None) -> dict[str, float]:
        """One generator step preceded by ``d_steps`` discriminator steps; returns the logged scalars.

        ``d_loss``, ``penalty``, ``d_real`` and ``d_fake`` are means over the ``d_steps`` updates;
        ``d_real`` and ``d_fake`` are ``loss.prob`` of the outputs (mean ``D(x)`` for the logistic
        losses, mean critic value for WGAN). ``step`` of ``total`` sets the learning rate.
        ``total`` and ``d_steps`` default to those of the current :meth:`fit` call.
        """
        total = self._schedule if total is None else total
        d_steps = self._d_steps if d_steps is None else d_steps
        lr = self._set_lr(step, total)
        dissect = step in self._dissect  # snapshots draw no random numbers: the update is the same
        before = self.snapshot() if dissect else None
        d_stats = np.mean([self._d_update() for _ in range(d_steps)], axis=0)
        after_d = self.snapshot() if dissect else None
        g_loss = self._g_update()
        if dissect:
            after_g = self.snapshot()
            after_g.step = step + 1
            for snap, phase in zip((before, after_d, after_g), PHASES):
                snap.phase = phase
            self.dissections[step] = (before, after_d, after_g)
        d_loss, penalty, d_real, d_fake = (float(v) for v in d_stats)
        return {"d_loss": d_loss, "penalty": penalty, "g_loss": g_loss, "d_real": d_real, "d_fake": d_fake, "lr_g": lr}

    # -- what the explorers draw ----------------------------------------------------------------

    @property
    def model(self) -> nn.Module:
        """The network trained to sample from: the generator (:attr:`ema_model` is its average, if kept)."""
        return self.generator

    def discriminator_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``loss.prob(D(x))`` without gradients: ``D(x)`` for logistic losses, ``f(x)`` for WGAN."""
        with torch.no_grad():
            return self.loss.prob(self.discriminator(x.to(self.device)))

    def generator_arrows(self, samples: torch.Tensor) -> torch.Tensor:
        """Rows ``(x, dx)`` with ``dx = -∂ℓ_G(D(x_i))/∂x_i``: how the generator's loss pushes each sample.

        ``ℓ_G`` is ``loss.g_loss`` summed over samples, so each row is that sample's own gradient
        (the discriminator scores samples independently). For 2-D samples the rows are
        ``(x, y, dx, dy)``, the layout of the scrubber's ``arrows`` layer.
        """
        x = samples.detach().to(self.device).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.loss.g_loss(self.discriminator(x), reduction="sum"), x)
        return torch.cat([x.detach(), -grad], dim=1)

    def snapshot(self) -> GANSnapshot:
        """Record the current state (see :class:`GANSnapshot`); draws no random numbers."""
        G = self.ema_model
        was = G.training
        G.eval()
        try:
            with torch.no_grad():
                samples = G(self.fixed_z, self.fixed_labels)
        finally:
            G.train(was)
        snap = GANSnapshot(step=self.step, samples=samples.detach().cpu().clone())
        if self.grid is not None:
            size, k = self.config.grid_size, self.members
            grid = self.grid if k == 1 else self.grid.repeat(k, 1)  # every member sees the whole grid
            snap.d_grid = self.discriminator_prob(grid).reshape(*((k,) if k > 1 else ()), size, size).cpu()
            snap.arrows = self.generator_arrows(samples).cpu()
            snap.extent = self.extent
            if self.manifold_z is not None:
                snap.manifold = self._manifold(G)
        return snap

    def _manifold(self, G: nn.Module) -> torch.Tensor:
        """The generator's image of the latent grid as a polyline (every member's, one per block)."""
        k = self.members
        z = self.manifold_z if k == 1 else self.manifold_z.repeat(k, 1)  # every member maps the whole grid
        was = G.training
        G.eval()
        try:
            with torch.no_grad():
                images = G(z, None).detach().cpu().reshape(k, len(self.manifold_z), -1)
        finally:
            G.train(was)
        lines = torch.stack([grid_polyline(block, self.config.manifold_lines) for block in images])
        return lines[0] if k == 1 else lines

    def dissected_snapshots(self) -> list[GANSnapshot]:
        """Every dissected update's three snapshots (before, after D, after G), in step order, as one list."""
        return [snap for step in sorted(self.dissections) for snap in self.dissections[step]]

    def member_snapshots(self, k: int) -> list[GANSnapshot]:
        """Member ``k``'s run (models with ``members > 1``): every snapshot cut down to its block and map."""
        if self.members == 1:
            raise ValueError("member_snapshots needs models with members > 1; use trainer.snapshots")
        k = check_int(k, "k", minimum=0, maximum=self.members - 1)
        return [member_snapshot(s, k, self.members) for s in self.snapshots]

    def frames(
        self,
        real: torch.Tensor | None = None,
        *,
        arrow_length: float | None = None,
        member: int | None = None,
        dissections: bool = False,
    ) -> list[dict[str, Any]]:
        """The snapshots as frames for :func:`genai_lib.viz.scrubber` (2-D data only).

        Each frame is ``{"D(x)": d_grid, ["real": real,] ["latent grid": manifold,] "generated": samples,
        "gradient": arrows}`` (pass ``kinds={"D(x)": "heatmap", "latent grid": "line"}`` and
        ``extent=trainer.extent`` to the scrubber; the latent grid is there with ``config.manifold_lines``).
        Arrows are scaled by one factor for all frames, so that the longest arrow of the run has length
        ``arrow_length`` (default: 8% of the grid's width) and lengths compare across steps. With
        ``members > 1``, ``member=k`` (required) picks the run to draw. ``dissections=True`` gives the
        frames of the dissected updates instead, three per update in step order (before, after D, after G).
        """
        if self.grid is None:
            raise ValueError("frames needs 2-D unconditional data; use snapshot.samples for images")
        if self.members > 1 and member is None:
            raise ValueError(f"member is required: this trainer runs {self.members} GANs at once")
        if self.members == 1 and member is not None:
            raise ValueError("member must be None: this trainer runs one GAN")
        if not isinstance(dissections, bool):
            raise TypeError(f"dissections must be a bool, got {type(dissections).__name__}")
        snapshots = self.dissected_snapshots() if dissections else self.snapshots
        if not snapshots:
            raise ValueError(
                "no dissected updates yet: call fit(..., dissect=[step, ...]) first"
                if dissections
                else "no snapshots yet: call fit(..., snapshot_every=...) first"
            )
        if member is not None:
            member = check_int(member, "member", minimum=0, maximum=self.members - 1)
            snapshots = [member_snapshot(s, member, self.members) for s in snapshots]
        if arrow_length is None:
            arrow_length = 0.08 * (self.extent[1] - self.extent[0])
        return snapshot_frames(snapshots, real, arrow_length=arrow_length)

    # -- the run --------------------------------------------------------------------------------

    def fit(
        self,
        steps: int,
        *,
        d_steps: int = 1,
        snapshot_every: int | None = None,
        dissect: Sequence[int] = (),
        progress: bool = True,
        callback: Callable[[int, dict[str, float]], None] | None = None,
        schedule_steps: int | None = None,
    ) -> History:
        """Train until ``steps`` generator steps are done in total; return the :attr:`history`.

        As for every :class:`~genai_lib.training.Trainer`, ``steps`` is the total budget: a second
        call continues from :attr:`step` (the cosine decay is laid out over the ``steps`` of the
        current call), and ``steps`` equal to :attr:`step` does nothing.

        Args:
            steps: total generator steps, at least :attr:`step`.
            d_steps: discriminator (critic) updates before each generator update.
            snapshot_every: record a snapshot in :attr:`snapshots` before training (at step 0),
                every this many generator steps and after the last; ``None`` records none.
            dissect: steps ``s`` whose update (from ``s`` to ``s + 1`` generator steps done) is
                taken apart into :attr:`dissections`: a snapshot before it, after its
                ``d_steps`` discriminator updates and after its generator update. The run is the
                same with or without it.
            progress: show a tqdm progress bar with the current losses.
            callback: ``callback(step, scalars)`` after every generator step.
            schedule_steps: the length of the cosine decay (default ``steps``); a run stopped
                early to be resumed passes its full length, so both halves follow one schedule.

        Returns:
            the trainer's :attr:`history`; the snapshots are in :attr:`snapshots`.
        """
        d_steps = check_int(d_steps, "d_steps", minimum=1)
        if snapshot_every is not None:
            snapshot_every = check_int(snapshot_every, "snapshot_every", minimum=1)
        if isinstance(dissect, (str, bytes)) or not isinstance(dissect, Sequence):
            raise TypeError(f"dissect must be a sequence of steps, got {type(dissect).__name__}")
        dissect = frozenset(check_int(s, f"dissect[{i}]", minimum=0, maximum=steps - 1) for i, s in enumerate(dissect))
        if schedule_steps is not None:
            schedule_steps = check_int(schedule_steps, "schedule_steps", minimum=1)
            if isinstance(steps, int) and schedule_steps < steps:
                raise ValueError(f"schedule_steps must be >= steps={steps}, got {schedule_steps}")
        self._total, self._d_steps, self._snapshot_every, self._dissect = steps, d_steps, snapshot_every, dissect
        self._schedule = steps if schedule_steps is None else schedule_steps
        return super().fit(steps, progress=progress, callback=callback, desc=f"GAN ({self.loss.name})")

    def _take(self, step: int) -> None:
        if self._snapshot_every is not None and (not self.snapshots or self.snapshots[-1].step != step):
            self.snapshots.append(self.snapshot())

    def on_fit_start(self, steps: int) -> None:
        """Take the step-0 snapshot of a fresh run."""
        if self.step == 0:
            self._take(0)

    def on_step_end(self, step: int, scalars: dict[str, float]) -> None:
        """Take a snapshot every ``snapshot_every`` generator steps and after the last."""
        done = step + 1
        if self._snapshot_every is not None and (done % self._snapshot_every == 0 or done == self._total):
            self._take(done)

    # -- checkpoints (see genai_lib.training.Trainer.save: snapshots, figure data, are not saved) --

    def modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        """Both players, their optimisers and the weight average, named, for :meth:`save` and :meth:`load`."""
        named = {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "opt_g": self.opt_g,
            "opt_d": self.opt_d,
        }
        if self.ema is not None:
            named["generator_ema"] = self.ema.model
        return named


if __name__ == "__main__":  # the command line (see genai_lib.gan.cli)
    from genai_lib.gan.cli import main

    main(sys.argv[1:])
