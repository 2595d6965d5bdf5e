"""Training a denoiser: Ho et al. (2020)'s Algorithm 1 on the book's step-budgeted loop.

:class:`DiffusionTrainer` is a :class:`genai_lib.training.Trainer`: the base owns the step count,
the History, the private random generator, the :class:`~genai_lib.ema.EMA` of the weights and the
checkpoints, and ``fit(steps)`` trains until ``steps`` updates are done in total; this module
supplies the model, the schedule, the data (and labels), an AdamW optimiser and the update.
Each update is Algorithm 1: draw a batch x_0 (with replacement),
drop labels to ∅ with probability ``label_dropout`` for classifier-free guidance (Ho & Salimans
2022), draw t ~ U{0..T-1} and ε ~ N(0, I), and take a gradient step on ‖ε - ε_θ(x_t, t)‖².

All randomness comes from the trainer's own ``torch.Generator`` (``trainer.rng``) (seeded by ``config.seed``), so a
run repeats bit for bit and the global random state is left alone.

Several processes (``torchrun``) or accumulated micro-batches (``grad_accum``) make the same updates
as one process on the whole global batch: every rank draws the global batch's indices, label drops,
t and ε from its identically seeded ``rng`` and trains on its shard of them
(:meth:`genai_lib.training.Trainer.update`), so N ranks equal one process with ``grad_accum=N``.
``python -m genai_lib.diffusion.train`` is the command line (:mod:`genai_lib.diffusion.cli`).
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass

import torch
from torch import nn

from genai_lib import distributed, module_device
from genai_lib._checks import check_float, check_int, check_labels, check_tensor
from genai_lib.diffusion.guidance import drop_labels
from genai_lib.diffusion.losses import epsilon_loss
from genai_lib.diffusion.sampling import draw_noise
from genai_lib.diffusion.schedule import NoiseSchedule
from genai_lib.ema import EMA
from genai_lib.training import Trainer

__all__ = ["TrainerConfig", "BatchTrainer", "DiffusionTrainer"]


@dataclass
class TrainerConfig:
    """Settings of a :class:`DiffusionTrainer` run.

    Attributes:
        batch_size: samples per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        ema_decay: decay of the weight average sampled from (with warm-up, see :mod:`~genai_lib.ema`).
        label_dropout: probability of replacing a label by ∅ (only with labels); 0.1 as in Ho & Salimans.
        grad_clip: clip the gradient norm to this value (None: no clipping).
        seed: seeds the trainer's generator (batches, label dropout, t and ε).
    """

    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    ema_decay: float = 0.999
    label_dropout: float = 0.1
    grad_clip: float | None = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_int(self.batch_size, "batch_size", minimum=1)
        check_float(self.lr, "lr", minimum=0.0, strict_min=True)
        check_float(self.weight_decay, "weight_decay", minimum=0.0)
        if check_float(self.ema_decay, "ema_decay", minimum=0.0) >= 1:
            raise ValueError(f"ema_decay must be < 1, got {self.ema_decay}")
        check_float(self.label_dropout, "label_dropout", minimum=0.0, maximum=1.0)
        if self.grad_clip is not None:
            check_float(self.grad_clip, "grad_clip", minimum=0.0, strict_min=True)
        check_int(self.seed, "seed", minimum=0, maximum=2**63 - 1)


class BatchTrainer(Trainer):
    """What the diffusion and flow-matching trainers share; a subclass supplies :meth:`draw` and
    :meth:`objective`.

    The data (and labels) moved to the device once, AdamW, the EMA of the weights (with warm-up),
    gradient clipping, and each update's batch: indices drawn with replacement from :attr:`rng`,
    then labels dropped to ∅ with probability ``label_dropout`` for classifier-free guidance (Ho &
    Salimans 2022). The subclass's :meth:`draw` draws the rest (t, the noise) from :attr:`rng` too,
    for the whole global batch, and :meth:`objective` is the loss on (a shard of) it.
    """

    def _setup(
        self,
        model: nn.Module,
        data: torch.Tensor,
        labels: torch.Tensor | None,
        config: TrainerConfig | None,
        device: torch.device | str | None,
        ranks: distributed.Ranks | None = None,
        grad_accum: int = 1,
    ) -> None:
        config = TrainerConfig() if config is None else config
        if not isinstance(config, TrainerConfig):
            raise TypeError(f"config must be a TrainerConfig, got {type(config).__name__}")
        check_tensor(data, "data", floating=True)
        if data.dim() < 2 or data.shape[0] < 1:
            raise ValueError(f"data must have shape (N, ...) with N >= 1, got {tuple(data.shape)}")
        if device is None:
            device = module_device(model) if ranks is None else ranks.device
        self.device = torch.device(device)
        if labels is not None:
            labels = check_labels(labels, "labels", data.shape[0])
            null = getattr(model, "null_label", None)
            if null is None:
                raise ValueError(
                    "labels were given, but the model is not class-conditional "
                    "(it needs n_classes set, i.e. a null_label)"
                )
            labels = check_labels(labels, "labels", data.shape[0], null, allow_null=False).to(self.device)
        self.model = model.to(self.device)
        self.config = config
        self.data = data.to(self.device)
        self.labels = labels
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        ema = EMA(model, config.ema_decay, warmup=True)
        super().__init__(seed=config.seed, ema=ema, ranks=ranks, grad_accum=grad_accum)

    def draw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The objective's random numbers for the batch ``x``, ``(t, noise)``, drawn from :attr:`rng`
        in the order the objective's own function draws them."""
        raise NotImplementedError

    def objective(
        self, model: nn.Module, x: torch.Tensor, labels: torch.Tensor | None, t: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        """The loss of ``model`` on the batch ``x`` (labels already dropped) at the drawn ``t`` and ``noise``."""
        raise NotImplementedError

    def loss(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """The objective on one batch ``x`` (labels already dropped), its random draws from :attr:`rng`."""
        return self.objective(self.model, x, labels, *self.draw(x))

    def train_step(self, step: int | None = None) -> float:
        """One update on a fresh global batch (:meth:`~genai_lib.training.Trainer.update`); returns its mean loss."""
        cfg, gen = self.config, self.rng
        self.model.train()
        rows = self.global_rows(cfg.batch_size)
        idx = torch.randint(0, self.data.shape[0], (rows,), generator=gen).to(self.device)
        x = self.data[idx]
        labels = None
        if self.labels is not None:
            labels = drop_labels(self.labels[idx], cfg.label_dropout, self.model.null_label, gen)
        t, noise = self.draw(x)
        batch, loss_fn = (x, t, noise), self._objective_without_labels
        if labels is not None:
            batch, loss_fn = (x, t, noise, labels), self._objective_with_labels
        loss = self.update(self.model, self.optimizer, batch, loss_fn, grad_clip=cfg.grad_clip or 0.0)
        self.ema.update(self.model)
        return loss

    def _objective_without_labels(
        self, model: nn.Module, x: torch.Tensor, t: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        return self.objective(model, x, None, t, noise)

    def _objective_with_labels(
        self, model: nn.Module, x: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        return self.objective(model, x, labels, t, noise)

    def modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        """The model, its average and the optimiser, by name, for :meth:`save` and :meth:`load`."""
        return {"model": self.model, "ema": self.ema.model, "optimizer": self.optimizer}


class DiffusionTrainer(BatchTrainer):
    """Train a denoiser with the ε-prediction loss and keep an EMA of its weights.

    Args:
        model: the denoiser (e.g. :class:`~genai_lib.diffusion.denoisers.MLPDenoiser`); trained in place.
        schedule: the forward process.
        data: the training set, a float tensor ``(N, ...)``; moved to ``device`` once.
        labels: int64 labels ``(N,)`` for a class-conditional model (which must have ``null_label``).
        config: a :class:`TrainerConfig` (default settings if None); ``batch_size`` rows per
            micro-batch and rank.
        device: where to train; default: ``ranks.device`` when given, else where ``model``'s parameters are.
        ranks: this process's place among torchrun's ranks (:func:`genai_lib.distributed.setup`);
            default one process.
        grad_accum: micro-batches accumulated per update; one process with ``grad_accum=N``
            makes the updates of N ranks.

    Attributes:
        model, optimizer, ema (``ema_model`` is the averaged copy to sample from), and from
        :class:`~genai_lib.training.Trainer`: history (``loss``), step (finished steps), rng.

    Raises:
        TypeError / ValueError: for a bad argument, naming it.
    """

    desc = "train"

    def __init__(
        self,
        model: nn.Module,
        schedule: NoiseSchedule,
        data: torch.Tensor,
        labels: torch.Tensor | None = None,
        config: TrainerConfig | None = None,
        *,
        device: torch.device | str | None = None,
        ranks: distributed.Ranks | None = None,
        grad_accum: int = 1,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
        self.schedule = schedule
        self._setup(model, data, labels, config, device, ranks, grad_accum)

    def draw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """t ~ U{0..T-1} (first) and ε ~ N(0, I) (second), as
        :func:`~genai_lib.diffusion.losses.epsilon_loss` draws them."""
        gen = self.rng
        t = torch.randint(0, self.schedule.num_steps, (x.shape[0],), generator=gen, device=gen.device)
        return t, draw_noise(x.shape, gen, x.device, x.dtype)

    def objective(
        self, model: nn.Module, x: torch.Tensor, labels: torch.Tensor | None, t: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        """Algorithm 1 of Ho et al. (2020) on the batch: ‖ε - ε_θ(x_t, t)‖² at the drawn t and ε."""
        return epsilon_loss(model, self.schedule, x, labels, t=t, noise=noise)

    # -- checkpoints (see genai_lib.training.Trainer.save) ---------------------------------------

    def checkpoint_config(self) -> dict[str, object]:
        """Trainer, schedule and model configs: a checkpoint loads only into a trainer built alike."""
        model_config = getattr(self.model, "config", None)
        return {
            "trainer": asdict(self.config),
            "schedule": self.schedule.to_dict(),
            "model": asdict(model_config) if model_config is not None else None,
        }


if __name__ == "__main__":  # the command line (see genai_lib.diffusion.cli)
    from genai_lib.diffusion.cli import main

    main(sys.argv[1:])
