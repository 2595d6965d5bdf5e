"""Training a denoiser: Ho et al. (2020)'s Algorithm 1 on the book's step-budgeted loop.

:class:`DiffusionTrainer` owns what one training run needs — the model, the schedule, the data
(and labels), an AdamW optimiser, an :class:`~genai_lib.ema.EMA` of the weights and a
private random generator — and :meth:`DiffusionTrainer.fit` runs ``steps`` updates through
:func:`genai_lib.training.fit`. Each update is Algorithm 1: draw a batch x_0 (with replacement),
drop labels to ∅ with probability ``label_dropout`` for classifier-free guidance (Ho & Salimans
2022), draw t ~ U{0..T-1} and ε ~ N(0, I), and take a gradient step on ‖ε - ε_θ(x_t, t)‖².

All randomness comes from the trainer's own ``torch.Generator`` (seeded by ``config.seed``), so a
run repeats bit for bit and the global random state is left alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from genai_lib._checks import check_float, check_int, check_labels, check_tensor
from genai_lib.ema import EMA
from genai_lib.diffusion.guidance import drop_labels
from genai_lib.diffusion.losses import epsilon_loss
from genai_lib.diffusion.schedule import NoiseSchedule
from genai_lib.training import History, fit, load_checkpoint, rng_from_text, rng_to_text, save_checkpoint

__all__ = ["TrainerConfig", "DiffusionTrainer"]


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


class DiffusionTrainer:
    """Train a denoiser with the ε-prediction loss and keep an EMA of its weights.

    Args:
        model: the denoiser (e.g. :class:`~genai_lib.diffusion.denoisers.MLPDenoiser`); trained in place.
        schedule: the forward process.
        data: the training set, a float tensor ``(N, ...)``; moved to ``device`` once.
        labels: int64 labels ``(N,)`` for a class-conditional model (which must have ``null_class``).
        config: a :class:`TrainerConfig` (default settings if None).
        device: where to train; default: where ``model``'s parameters are.

    Attributes:
        model, ema (``ema.model`` is the model to sample from; also :attr:`ema_model`), optimizer,
        history (a :class:`~genai_lib.training.History` of ``loss``), step (finished steps).

    Raises:
        TypeError / ValueError: for a bad argument, naming it.
    """

    def __init__(self, model: nn.Module, schedule: NoiseSchedule, data: torch.Tensor,
                 labels: torch.Tensor | None = None, config: TrainerConfig | None = None, *,
                 device: torch.device | str | None = None) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
        config = TrainerConfig() if config is None else config
        if not isinstance(config, TrainerConfig):
            raise TypeError(f"config must be a TrainerConfig, got {type(config).__name__}")
        check_tensor(data, "data", floating=True)
        if data.dim() < 2 or data.shape[0] < 1:
            raise ValueError(f"data must have shape (N, ...) with N >= 1, got {tuple(data.shape)}")
        if device is None:
            device = next(iter(model.parameters()), torch.empty(0)).device
        self.device = torch.device(device)
        if labels is not None:
            labels = check_labels(labels, "labels", data.shape[0])
            null = getattr(model, "null_class", None)
            if null is None:
                raise ValueError("labels were given, but the model is not class-conditional "
                                 "(it needs num_classes set, i.e. a null_class)")
            labels = check_labels(labels, "labels", data.shape[0], null, allow_null=False).to(self.device)
        self.model = model.to(self.device)
        self.schedule, self.config = schedule, config
        self.data = data.to(self.device)
        self.labels = labels
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.ema = EMA(model, config.ema_decay, warmup=True)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.history = History()
        self.step = 0

    @property
    def ema_model(self) -> nn.Module:
        """The EMA-averaged copy of the model: sample from this one."""
        return self.ema.model

    def train_step(self, step: int | None = None) -> torch.Tensor:
        """One update of Algorithm 1 (Ho et al. 2020) on a fresh batch; returns the loss (0-d tensor)."""
        cfg, gen = self.config, self.generator
        self.model.train()
        idx = torch.randint(0, self.data.shape[0], (cfg.batch_size,), generator=gen).to(self.device)
        x0 = self.data[idx]
        cond = None
        if self.labels is not None:
            cond = drop_labels(self.labels[idx], cfg.label_dropout, self.model.null_class, gen)
        loss = epsilon_loss(self.model, self.schedule, x0, cond, generator=gen)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.ema.update(self.model)
        self.step += 1
        return loss.detach()

    def fit(self, steps: int, *, progress: bool = True, callback: Callable[[int, dict[str, float]], None] | None = None,
            log_every: int = 10, desc: str = "train") -> History:
        """Train until ``steps`` updates have been made in total, and return the loss History.

        ``steps`` is the total budget, as in :func:`genai_lib.training.fit`: a fresh trainer makes
        ``steps`` updates; calling ``fit`` again with a larger number continues where it stopped
        (so ``fit(500)``, look at samples, ``fit(1000)`` makes 1000 updates in all, exactly as one
        ``fit(1000)`` would). ``callback(step, {"loss": ...})`` runs after every update.

        Raises:
            ValueError: if ``steps`` is smaller than the updates already made.
        """
        steps = check_int(steps, "steps", minimum=1)
        if steps < self.step:
            raise ValueError(f"steps is the total budget and this trainer has already made {self.step} "
                             f"updates; pass steps >= {self.step}, got {steps}")
        if steps == self.step:
            return self.history
        return fit(self.train_step, steps, start_step=self.step, history=self.history, progress=progress,
                   desc=desc, log_every=log_every, callback=callback)

    # -- checkpoints (safetensors + JSON; nothing pickled) ------------------------------------------

    def _modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {"model": self.model, "ema": self.ema.model, "optimizer": self.optimizer}

    def _config(self) -> dict[str, object]:
        model_config = getattr(self.model, "config", None)
        return {"trainer": asdict(self.config), "schedule": self.schedule.to_dict(),
                "model": asdict(model_config) if model_config is not None else None}

    def save(self, directory: str | os.PathLike) -> Path:
        """Save weights, EMA weights, optimiser, history, generator state and configs to ``directory``."""
        extra = {"generator": rng_to_text(self.generator), "ema_updates": self.ema.num_updates}
        return save_checkpoint(directory, self._modules(), step=self.step, config=self._config(),
                               history=self.history, extra=extra)

    def load(self, directory: str | os.PathLike) -> int:
        """Restore a :meth:`save` checkpoint into this trainer (same model and config); return its step.

        Raises:
            ValueError: if the checkpoint was written with a different trainer/schedule/model config.
        """
        meta = load_checkpoint(directory, self._modules(), map_location=self.device, restore_rng=False)
        if meta["config"] != json.loads(json.dumps(self._config())):
            raise ValueError(f"the checkpoint in {str(directory)!r} was written with config {meta['config']}, "
                             f"not {self._config()}")
        rng_from_text(self.generator, meta["extra"]["generator"])
        self.ema.num_updates = int(meta["extra"]["ema_updates"])
        self.history = meta["history"] or History()
        self.step = int(meta["step"])
        return self.step
