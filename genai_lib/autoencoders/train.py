"""Training an :class:`~genai_lib.autoencoders.Autoencoder` or a :class:`~genai_lib.autoencoders.VAE`, and checkpoints.

:class:`AutoencoderTrainer` is a :class:`genai_lib.training.Trainer`: ``fit(steps)`` trains until
``steps`` updates are done in total and returns the :class:`~genai_lib.training.History`. Each update
draws a batch (with replacement) from the trainer's own generator and takes an AdamW step on

* the mean squared error ‖x - D(E(x))‖² for an autoencoder (logged as ``loss``);
* the β-VAE loss of :func:`~genai_lib.autoencoders.vae_loss` for a VAE (logged as ``loss``, ``nll``,
  ``kl`` and ``mse``), its ε drawn from the same generator.

The learning rate warms up linearly for ``warmup`` updates, then stays at ``lr`` or, with
``decay_steps`` set, follows a cosine to 0 at update ``decay_steps`` (a fixed horizon, so that
``fit(500)`` then ``fit(1000)`` makes the same updates as one ``fit(1000)``). Checkpoints are a directory holding
``model.safetensors`` and ``config.json`` (the model's config beside the weights): :func:`save_model`
and :func:`load_model`; a trainer's :meth:`~genai_lib.training.Trainer.save` adds the optimiser state.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genai_lib import module_device
from genai_lib._checks import check_float, check_int, check_tensor
from genai_lib.autoencoders.elbo import vae_loss
from genai_lib.autoencoders.models import VAE, Autoencoder, AutoencoderConfig
from genai_lib.training import Trainer, cosine_schedule, load_checkpoint, save_checkpoint

__all__ = ["AutoencoderTrainerConfig", "AutoencoderTrainer", "save_model", "load_model"]


@dataclass
class AutoencoderTrainerConfig:
    """Settings of an :class:`AutoencoderTrainer` run.

    Attributes:
        batch_size: samples per update.
        lr: the peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup: updates of linear warm-up before the cosine decay.
        decay_steps: the update at which the cosine decay of the learning rate reaches 0 (None: no decay).
        beta: the KL's weight in the VAE loss (1: the ELBO; ignored by an autoencoder).
        seed: seeds the trainer's generator (batches and the reparameterisation's ε).
    """

    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup: int = 50
    decay_steps: int | None = None
    beta: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_int(self.batch_size, "batch_size", minimum=1)
        check_float(self.lr, "lr", minimum=0.0, strict_min=True)
        check_float(self.weight_decay, "weight_decay", minimum=0.0)
        check_int(self.warmup, "warmup", minimum=0)
        if self.decay_steps is not None:
            check_int(self.decay_steps, "decay_steps", minimum=1)
        check_float(self.beta, "beta", minimum=0.0, strict_min=True)
        check_int(self.seed, "seed", minimum=0, maximum=2**63 - 1)


class AutoencoderTrainer(Trainer):
    """Train an :class:`Autoencoder` (reconstruction) or a :class:`VAE` (β-weighted negative ELBO).

    Args:
        model: the model, trained in place.
        data: the training set, a float tensor ``(N, *model.config.data_shape)``.
        config: an :class:`AutoencoderTrainerConfig` (defaults if None).
        device: where to train; default: where ``model``'s parameters are.

    Raises:
        TypeError / ValueError: for a bad argument, naming it.
    """

    desc = "autoencoder"

    def __init__(
        self,
        model: nn.Module,
        data: torch.Tensor,
        config: AutoencoderTrainerConfig | None = None,
        *,
        device: torch.device | str | None = None,
    ) -> None:
        if not isinstance(model, (Autoencoder, VAE)):
            raise TypeError(f"model must be an Autoencoder or a VAE, got {type(model).__name__}")
        config = AutoencoderTrainerConfig() if config is None else config
        if not isinstance(config, AutoencoderTrainerConfig):
            raise TypeError(f"config must be an AutoencoderTrainerConfig, got {type(config).__name__}")
        check_tensor(data, "data", floating=True)
        if data.dim() < 2 or data.shape[0] < 1 or tuple(data.shape[1:]) != model.config.data_shape:
            raise ValueError(
                f"data must have shape (N, {', '.join(map(str, model.config.data_shape))}), got {tuple(data.shape)}"
            )
        self.device = torch.device(module_device(model) if device is None else device)
        self.model = model.to(self.device)
        self.config = config
        self.data = data.to(self.device)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.desc = "VAE" if isinstance(model, VAE) else "autoencoder"
        super().__init__(seed=config.seed)

    def learning_rate(self, step: int) -> float:
        """The learning rate of update ``step``: linear warm-up, then constant or a cosine to ``decay_steps``."""
        cfg = self.config
        if cfg.decay_steps is None:
            return cfg.lr * min(1.0, (step + 1) / cfg.warmup) if cfg.warmup else cfg.lr
        return cosine_schedule(min(step, cfg.decay_steps - 1), cfg.decay_steps, cfg.lr, warmup=cfg.warmup)

    def train_step(self, step: int) -> dict[str, torch.Tensor]:
        """One update on a fresh batch; returns the loss (and, for a VAE, its terms)."""
        cfg = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(step)
        self.model.train()
        idx = torch.randint(0, self.data.shape[0], (cfg.batch_size,), generator=self.rng).to(self.device)
        x = self.data[idx]
        if isinstance(self.model, VAE):
            terms = vae_loss(self.model, x, cfg.beta, generator=self.rng)
            loss, scalars = terms.loss, {"loss": terms.loss, "nll": terms.nll, "kl": terms.kl, "mse": terms.mse}
        else:
            loss = F.mse_loss(self.model(x), x)
            scalars = {"loss": loss}
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {k: v.detach() for k, v in scalars.items()}

    def modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        """The model and its optimiser, for :meth:`save` and :meth:`load`."""
        return {"model": self.model, "optimizer": self.optimizer}

    def checkpoint_config(self) -> dict[str, object]:
        """The model's kind and config and the trainer's config: a checkpoint loads only into a trainer built alike."""
        return {"kind": _kind(self.model), "model": asdict(self.model.config), "trainer": asdict(self.config)}


def _kind(model: nn.Module) -> str:
    if isinstance(model, VAE):
        return "vae"
    if isinstance(model, Autoencoder):
        return "autoencoder"
    raise TypeError(f"model must be an Autoencoder or a VAE, got {type(model).__name__}")


def save_model(model: Autoencoder | VAE, directory: str | os.PathLike) -> Path:
    """Save ``model``'s weights (safetensors) with its kind and config beside them (``config.json``)."""
    config = {"kind": _kind(model), "model": asdict(model.config)}
    return save_checkpoint(directory, {"model": model}, step=0, config=config, model_only=True)


def load_model(directory: str | os.PathLike, map_location: str | torch.device = "cpu") -> Autoencoder | VAE:
    """Rebuild the model a :func:`save_model` (or a trainer's ``save``) wrote: config from ``config.json``,
    weights from ``model.safetensors``; nothing is unpickled. Returns it in eval mode.

    Raises:
        FileNotFoundError: if ``directory`` holds no checkpoint.
        ValueError: if the checkpoint is not an autoencoder's.
    """
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"directory={str(directory)!r} holds no checkpoint (config.json is missing)")
    saved = json.loads(path.read_text()).get("config") or {}
    kinds = {"vae": VAE, "autoencoder": Autoencoder}
    if saved.get("kind") not in kinds:
        raise ValueError(f"directory={str(directory)!r} holds no autoencoder checkpoint (kind={saved.get('kind')!r})")
    model_config = dict(saved["model"])
    model_config["data_shape"] = tuple(model_config["data_shape"])
    model = kinds[saved["kind"]](AutoencoderConfig(**model_config))
    load_checkpoint(directory, {"model": model}, map_location=map_location, restore_rng=False, model_only=True)
    return model.eval()
