"""The step-budgeted training loop, the :class:`Trainer` every family builds on, and checkpoints.

A run is a budget of ``steps`` optimisation steps, never a wall-clock budget, so results do not
depend on how busy the machine is. Two ways to train:

* :func:`fit` — the caller owns model and optimiser and wraps one update in ``step_fn(step) ->
  loss``; :func:`fit` calls it until ``steps`` steps are done, records the losses in a
  :class:`History`, and (with a :class:`Checkpointer`) saves everything needed to resume.
* :class:`Trainer` — the base class of the families' trainers (``GANTrainer``,
  ``DiffusionTrainer``, ``GPTTrainer``). It owns the step count, the :class:`History`, a private
  CPU ``torch.Generator`` (:attr:`Trainer.rng`), an optional :class:`~genai_lib.ema.EMA` and
  :meth:`~Trainer.save` / :meth:`~Trainer.load`; a family supplies only its update,
  :meth:`Trainer.train_step`. ``trainer.fit(steps)`` means the same everywhere: train until
  ``steps`` steps are done *in total*, and return the :class:`History`.

A checkpoint is a directory (:func:`save_checkpoint`)::

    model.safetensors   the modules' weights (safetensors: tensors only)
    config.json         {"format": 2, "step", "config", "extra"}, readable by anyone
    trainer_state.pt    optimiser state dicts, RNG states, step, history, EMA counter --
                        absent from a model-only checkpoint

``trainer_state.pt`` is written by ``torch.save`` and read by ``torch.load(weights_only=True)``,
whose restricted unpickler accepts only tensors and plain containers (dicts, lists, tuples,
numbers, strings), never arbitrary objects. A resumed run repeats the uninterrupted one bit for
bit. Checkpoints of the previous format (``optimizer.json``, ``optimizer.safetensors``,
``rng.safetensors``) still load model-only; loading their trainer state raises a ValueError that
says so.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import numbers
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.torch
import torch
from tqdm.auto import tqdm

from genai_lib import distributed
from genai_lib._checks import check_float, check_int
from genai_lib.ema import EMA

__all__ = [
    "History",
    "fit",
    "cosine_schedule",
    "progress_bar",
    "PROGRESS_INTERVAL_S",
    "Trainer",
    "save_checkpoint",
    "load_checkpoint",
    "Checkpointer",
    "CHECKPOINT_FORMAT",
]

# A progress bar redraws at most once a second. In a kernel, tqdm.auto draws an ipywidget and each
# redraw is one message on the kernel's IOPub socket; at tqdm's default (every 0.1 s) a minute and a
# half of training sends ~1,000 of them, more on a slower or busier machine. A client that reads
# IOPub only after the cell's reply (nbval does) leaves them queued, and once the ZeroMQ queues are
# full the kernel's PUB socket silently drops the rest -- the cell's last outputs and its "idle"
# status among them -- and the client waits for messages that never come (nbval's "Timeout ...
# waiting for output"). tests/test_training.py counts the messages a bar sends from a real kernel.
PROGRESS_INTERVAL_S = 1.0


def progress_bar(iterable=None, **kwargs) -> tqdm:
    """A ``tqdm.auto`` bar that redraws at most every :data:`PROGRESS_INTERVAL_S` seconds.

    Takes tqdm's arguments (``total``, ``desc``, ``disable``, ``leave`` ...); ``mininterval``
    may be raised, not lowered. With ``GENAI_PROGRESS=0`` in the environment no bar is shown: the
    book's build sets it, because a recorded bar is a widget the static site cannot run, and the
    page would show its first frame, "0/3000", under a run that finished.
    """
    interval = max(float(kwargs.pop("mininterval", PROGRESS_INTERVAL_S)), PROGRESS_INTERVAL_S)
    if os.environ.get("GENAI_PROGRESS") == "0":
        kwargs["disable"] = True
    return tqdm(iterable, mininterval=interval, **kwargs)


Stateful = torch.nn.Module | torch.optim.Optimizer
#: The checkpoint format :func:`save_checkpoint` writes (``config.json``'s ``"format"``).
CHECKPOINT_FORMAT = 2
STATE_FILE = "trainer_state.pt"
#: A full checkpoint's files, in the order they are moved into place (``config.json`` last).
FILES = ("model.safetensors", STATE_FILE, "config.json")
#: A model-only checkpoint's files.
MODEL_FILES = ("model.safetensors", "config.json")
#: Files only the previous format (format 1) wrote: its optimiser and RNG states.
LEGACY_FILES = ("optimizer.json", "optimizer.safetensors", "rng.safetensors")


@dataclass
class History:
    """Scalars logged during training: ``values[name][i]`` was recorded at step ``steps[i]``."""

    steps: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.steps)

    def append(self, step: int, scalars: Mapping[str, float]) -> None:
        """Record one step's scalars; every step must log the same names."""
        if self.steps and set(scalars) != set(self.values):
            raise ValueError(f"step {step} logged {sorted(scalars)}, earlier steps logged {sorted(self.values)}")
        self.steps.append(int(step))
        for name, value in scalars.items():
            self.values.setdefault(name, []).append(float(value))

    def last(self) -> dict[str, float]:
        """Return the most recent step's scalars, e.g. ``history.last()["loss"]``."""
        if not self.steps:
            raise IndexError("History is empty: no step has been recorded yet")
        return {name: vals[-1] for name, vals in self.values.items()}

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable copy: ``{"steps": [...], "values": {name: [...]}}``."""
        return {"steps": list(self.steps), "values": {k: list(v) for k, v in self.values.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        """Rebuild a History from :meth:`to_dict`'s output."""
        steps = [int(s) for s in data["steps"]]
        values = {str(k): [float(x) for x in v] for k, v in data["values"].items()}
        if any(len(v) != len(steps) for v in values.values()):
            raise ValueError("data['values'] must hold one value per entry of data['steps']")
        return cls(steps, values)

    def as_arrays(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Return ``(steps, {name: values})`` as NumPy arrays, ready to plot."""
        return np.asarray(self.steps, dtype=np.int64), {
            k: np.asarray(v, dtype=np.float64) for k, v in self.values.items()
        }


def _scalars(out: Any, step: int) -> dict[str, float]:
    """Turn step_fn's return value (loss or dict of scalars) into finite Python floats."""
    items = out.items() if isinstance(out, Mapping) else [("loss", out)]
    scalars = {}
    for name, value in items:
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.detach().item()
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"step_fn must return a float, a 1-element tensor or a dict of them; "
                f"got {type(value).__name__} for {name!r} at step {step}"
            )
        if not math.isfinite(value):
            raise FloatingPointError(f"non-finite {name}={value} at step {step}")
        scalars[str(name)] = float(value)
    return scalars


def fit(
    step_fn: Callable[[int], float | torch.Tensor | Mapping[str, float]],
    steps: int,
    *,
    start_step: int = 0,
    history: History | None = None,
    progress: bool = True,
    desc: str = "train",
    log_every: int = 1,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    checkpoint: Checkpointer | None = None,
    checkpoint_every: int | None = None,
) -> History:
    """Run ``step_fn(step)`` for ``step = start_step, ..., steps - 1`` and return the History.

    ``steps`` is the total budget, so resuming means passing the ``start_step`` and ``history``
    that :meth:`Checkpointer.restore` returns (a given ``history`` is extended in place).
    ``step_fn`` returns the loss (float or 0-dim tensor) or a dict of named scalars; a non-finite
    value raises FloatingPointError naming the step. The progress bar's postfix shows the live
    values every ``log_every`` steps; ``callback(step, scalars)`` runs after each step. With
    ``checkpoint``, state is saved every ``checkpoint_every`` steps (default ``checkpoint.every``)
    and after the last step, as ``step = finished steps``, which is where a resumed run starts.
    """
    if not callable(step_fn):
        raise TypeError(f"step_fn must be callable, got {type(step_fn).__name__}")
    steps = check_int(steps, "steps", minimum=1)
    start_step = check_int(start_step, "start_step", minimum=0)
    if start_step > steps:
        raise ValueError(f"start_step must be <= steps={steps}, got {start_step}")
    log_every = check_int(log_every, "log_every", minimum=1)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    if checkpoint is not None and not isinstance(checkpoint, Checkpointer):
        raise TypeError(f"checkpoint must be a Checkpointer or None, got {type(checkpoint).__name__}")
    if checkpoint_every is not None:
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every", minimum=1)
        if checkpoint is None:
            raise ValueError("checkpoint_every needs a checkpoint=Checkpointer(...) to save with")
    every = checkpoint_every or (checkpoint.every if checkpoint is not None else 0)
    history = History() if history is None else history
    if history.steps and history.steps[-1] >= start_step:
        raise ValueError(
            f"history already holds step {history.steps[-1]}; start_step must be after it, got {start_step}"
        )

    bar = progress_bar(total=steps, initial=start_step, desc=desc, disable=not progress, dynamic_ncols=True)
    try:
        for step in range(start_step, steps):
            scalars = _scalars(step_fn(step), step)
            history.append(step, scalars)
            if step % log_every == 0 or step == steps - 1:
                bar.set_postfix({k: f"{v:.4g}" for k, v in scalars.items()}, refresh=False)
            bar.update(1)
            if callback is not None:
                callback(step, scalars)
            done = step + 1  # finished steps = where a resumed run starts
            if checkpoint is not None and (done % every == 0 or done == steps):
                checkpoint.save(done, history)
    finally:  # no save on interruption: step_fn may have stopped half-way through an update
        bar.close()
    return history


def cosine_schedule(step: int, total: int, lr: float, *, warmup: int = 0, min_lr: float = 0.0) -> float:
    """The learning rate at ``step`` of ``total``: a linear warm-up, then a cosine down to a floor.

    With ``W = min(warmup, total)`` warm-up steps and ``D = total - W`` decay steps::

        lr_t = lr (t + 1) / W                                                   for t < W
        lr_t = min_lr + (lr - min_lr) (1 + cos(π min(1, (t - W) / max(1, D - 1)))) / 2   otherwise

    so the rate climbs to ``lr`` at step ``W - 1``, is ``lr`` again at the first decay step and
    ``min_lr`` at the last one, ``total - 1``. The warm-up keeps the first updates small while an
    adaptive optimiser's moment estimates are still poor (Liu et al. 2020); the cosine (Loshchilov &
    Hutter 2017, SGDR without restarts) spends most of the budget near the peak and anneals at the
    end, where a lower rate, hence less gradient noise, lowers the loss.

    Args:
        step: the update, ``0 <= step < total``.
        total: the length of the schedule in updates, >= 1.
        lr: the peak rate, > 0.
        warmup: warm-up updates, >= 0 (0: start at the peak); clipped to ``total``.
        min_lr: the floor reached at the last step, ``0 <= min_lr <= lr``.

    Returns:
        The learning rate, a float.

    Raises:
        TypeError, ValueError: for an argument outside the ranges above (the message names it).
    """
    total = check_int(total, "total", minimum=1)
    step = check_int(step, "step", minimum=0, maximum=total - 1)
    warmup = check_int(warmup, "warmup", minimum=0)
    lr = check_float(lr, "lr", minimum=0.0, strict_min=True)
    min_lr = check_float(min_lr, "min_lr", minimum=0.0, maximum=lr)
    warmup = min(warmup, total)
    if step < warmup:
        return lr * (step + 1) / warmup
    decay_steps = total - warmup
    progress = (step - warmup) / max(1, decay_steps - 1)
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


# -- checkpoints ------------------------------------------------------------------------------


def _check_modules(modules: Any) -> dict[str, Stateful]:
    if not isinstance(modules, Mapping) or not modules:
        raise TypeError("modules must be a non-empty mapping such as {'model': model, 'optimizer': opt}")
    for name, obj in modules.items():
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"modules keys must be non-empty names without '.', got {name!r}")
        if not isinstance(obj, (torch.nn.Module, torch.optim.Optimizer)):
            raise TypeError(f"modules[{name!r}] must be an nn.Module or an Optimizer, got {type(obj).__name__}")
    return dict(modules)


def _to_json_config(config: Any) -> dict[str, Any] | None:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    if config is not None and not isinstance(config, Mapping):
        raise TypeError(f"config must be a dataclass instance, a dict or None, got {type(config).__name__}")
    return None if config is None else json.loads(json.dumps(dict(config)))  # tuples -> lists, as on disk


def _write_atomically(directory: Path, payloads: dict[str, bytes]) -> None:
    """Write every payload to a temporary file first, then move them into place in order.

    An interrupted save therefore leaves the previous checkpoint intact (``config.json``, moved
    last, still names the previous step).
    """
    temps: dict[str, str] = {}
    try:
        for fname, data in payloads.items():
            fd, temps[fname] = tempfile.mkstemp(dir=directory, prefix=f".{fname}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for fname in payloads:
            os.replace(temps.pop(fname), directory / fname)
    finally:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)


def save_checkpoint(
    directory: str | os.PathLike,
    modules: Mapping[str, Stateful],
    *,
    step: int,
    config: Any = None,
    history: History | None = None,
    extra: dict | None = None,
    state: Mapping[str, Any] | None = None,
    model_only: bool = False,
) -> Path:
    """Save modules, optimisers, RNG states and metadata to ``directory``; return its path.

    Files (see the module docstring): ``model.safetensors`` (module states, keys
    ``"{name}.{param}"``), ``config.json`` (``format``, ``step``, ``config``, ``extra``: JSON) and
    ``trainer_state.pt`` (``torch.save`` of ``{"step", "optimizers": {name: state_dict}, "rng":
    {"torch": ..., "cuda": [...]}, "history", "state"}``), where ``state`` holds a trainer's own
    tensors and numbers, e.g. its generator's state. With ``model_only`` only the first two are
    written (``modules`` then holds no optimiser, and ``history`` and ``state`` are None); a
    ``trainer_state.pt`` left by an earlier save is removed. Files are written to temporary files
    first and then moved into place, ``config.json`` last.
    """
    modules, step = _check_modules(modules), check_int(step, "step", minimum=0)
    if not isinstance(model_only, bool):
        raise TypeError(f"model_only must be a bool, got {type(model_only).__name__}")
    optimizers = {n: o for n, o in modules.items() if isinstance(o, torch.optim.Optimizer)}
    if model_only and (optimizers or history is not None or state is not None):
        raise ValueError(
            "model_only=True saves weights only: modules must hold no optimizer "
            f"(got {sorted(optimizers)}) and history and state must be None"
        )
    if state is not None and not isinstance(state, Mapping):
        raise TypeError(f"state must be a dict of tensors and numbers or None, got {type(state).__name__}")
    meta = {"format": CHECKPOINT_FORMAT, "step": step, "config": _to_json_config(config), "extra": extra}
    try:
        config_bytes = json.dumps(meta, indent=2, allow_nan=False).encode()
    except (TypeError, ValueError) as err:
        raise TypeError(f"config and extra must be JSON-serialisable: {err}") from err
    weights = {
        f"{name}.{key}": tensor.detach().to("cpu", copy=True).contiguous()  # copies: tied weights share memory
        for name, obj in modules.items()
        if name not in optimizers
        for key, tensor in obj.state_dict().items()
    }
    payloads = {"model.safetensors": safetensors.torch.save(weights, {"step": str(step)})}
    if not model_only:
        rng: dict[str, Any] = {
            "torch": torch.get_rng_state(),
            "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        }
        trainer_state = {
            "format": CHECKPOINT_FORMAT,
            "step": step,
            "optimizers": {n: o.state_dict() for n, o in optimizers.items()},
            "rng": rng,
            "history": None if history is None else history.to_dict(),
            "state": dict(state or {}),
        }
        buffer = io.BytesIO()
        torch.save(trainer_state, buffer)
        payloads[STATE_FILE] = buffer.getvalue()
    payloads["config.json"] = config_bytes
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _write_atomically(directory, payloads)
    if model_only:
        (directory / STATE_FILE).unlink(missing_ok=True)  # stale trainer state of another step
    return directory


def _read_weights(path: Path, step: int, device: str) -> dict[str, torch.Tensor]:
    with safetensors.safe_open(str(path), framework="pt", device=device) as f:
        if (f.metadata() or {}).get("step") != str(step):
            raise ValueError(f"{path} is not from step {step} (an interrupted save?); the checkpoint is inconsistent")
        return {k: f.get_tensor(k) for k in f.keys()}


def _read_trainer_state(directory: Path, step: int) -> dict[str, Any]:
    path = directory / STATE_FILE
    if not path.is_file():
        if any((directory / f).is_file() for f in LEGACY_FILES):
            raise ValueError(
                f"directory={str(directory)!r} holds a checkpoint in the previous format (format 1: "
                f"optimizer.json, optimizer.safetensors and rng.safetensors, without {STATE_FILE}); its weights "
                f"still load model-only (e.g. GPT.load), but its optimiser and RNG state cannot be resumed: "
                f"retrain, or load the weights and save again"
            )
        raise ValueError(
            f"directory={str(directory)!r} holds a model-only checkpoint (model.safetensors and "
            f"config.json, no {STATE_FILE}): it has weights but no trainer state to resume"
        )
    # weights_only: the restricted unpickler, which rebuilds tensors and plain containers only
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if saved.get("step") != step:
        raise ValueError(f"{path} is not from step {step} (an interrupted save?); the checkpoint is inconsistent")
    return saved


def load_checkpoint(
    directory: str | os.PathLike,
    modules: Mapping[str, Stateful],
    *,
    map_location: str | torch.device = "cpu",
    restore_rng: bool = True,
    model_only: bool = False,
) -> dict[str, Any]:
    """Load a :func:`save_checkpoint` checkpoint into ``modules`` in place and return its metadata.

    Loading is strict: keys missing from the checkpoint or unexpected by the modules raise a
    ValueError naming them, before any state is changed. Module tensors are read onto
    ``map_location``; optimiser tensors onto the CPU (``load_state_dict`` moves them next to the
    parameters). With ``restore_rng`` the global torch (and CUDA) RNG state is restored too.
    With ``model_only`` only ``model.safetensors`` and ``config.json`` are read (``modules`` then
    holds no optimiser): that loads model-only checkpoints and those of the previous format.
    Returns ``{"step": int, "config": dict | None, "history": History | None, "extra": ...,
    "state": dict}`` (``history`` None and ``state`` empty when ``model_only``).
    """
    modules, directory = _check_modules(modules), Path(directory)
    try:
        device = str(torch.device(map_location))
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"map_location must be a device such as 'cpu' or 'cuda:0', got {map_location!r}") from err
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"directory={str(directory)!r} holds no checkpoint (config.json is missing)")
    optimizers = {n for n, o in modules.items() if isinstance(o, torch.optim.Optimizer)}
    if model_only and optimizers:
        raise ValueError(f"model_only=True loads weights only, but modules holds optimizers {sorted(optimizers)}")
    meta = json.loads((directory / "config.json").read_text())
    step = meta["step"]
    weights = _read_weights(directory / "model.safetensors", step, device)
    saved = {"optimizers": {}, "history": None, "state": {}} if model_only else _read_trainer_state(directory, step)
    states: dict[str, dict] = {}
    expected: set[str] = {f"{name}.*" for name in saved["optimizers"]} | set(weights)
    wanted: set[str] = set()
    for name, obj in modules.items():
        if name in optimizers:
            wanted.add(f"{name}.*")
            if name in saved["optimizers"]:
                states[name] = saved["optimizers"][name]
        else:
            keys = obj.state_dict().keys()
            wanted |= {f"{name}.{k}" for k in keys}
            states[name] = {k: weights[f"{name}.{k}"] for k in keys if f"{name}.{k}" in weights}
    missing, unexpected = sorted(wanted - expected), sorted(expected - wanted)
    if missing or unexpected:
        raise ValueError(
            f"checkpoint in {str(directory)!r} does not match modules: "
            f"missing keys {missing}, unexpected keys {unexpected} ('name.*' = a whole optimiser)"
        )
    for name, obj in modules.items():
        obj.load_state_dict(states[name])
    if restore_rng and not model_only:
        torch.set_rng_state(saved["rng"]["torch"])
        cuda = saved["rng"]["cuda"]
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    history = None if saved["history"] is None else History.from_dict(saved["history"])
    return {
        "step": step,
        "config": meta["config"],
        "history": history,
        "extra": meta.get("extra"),
        "state": saved["state"],
    }


class Checkpointer:
    """Saves ``modules`` to ``directory`` every ``every`` steps during :func:`fit`, and resumes from it."""

    def __init__(
        self, directory: str | os.PathLike, modules: Mapping[str, Stateful], config: Any = None, *, every: int
    ) -> None:
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"directory must be a path, got {type(directory).__name__}")
        self.directory, self.modules = Path(directory), _check_modules(modules)
        self.config, self.every = config, check_int(every, "every", minimum=1)
        _to_json_config(config)  # validate now rather than at the first save

    def save(self, step: int, history: History | None = None) -> Path:
        """Save a checkpoint after ``step`` finished steps."""
        return save_checkpoint(self.directory, self.modules, step=step, config=self.config, history=history)

    def restore(self) -> tuple[int, History]:
        """Load the latest checkpoint (if any); return ``(start_step, history)`` to pass to :func:`fit`.

        Returns ``(0, History())`` when ``directory`` holds no checkpoint. Raises ValueError when the
        checkpoint was written with a different config, so a changed run never resumes a stale one.
        """
        if not (self.directory / "config.json").is_file():
            return 0, History()
        saved = json.loads((self.directory / "config.json").read_text())["config"]
        if saved != _to_json_config(self.config):
            raise ValueError(
                f"the checkpoint in {str(self.directory)!r} was written with config={saved}, "
                f"not {_to_json_config(self.config)}; delete it or choose another directory"
            )
        meta = load_checkpoint(self.directory, self.modules)
        return meta["step"], meta["history"] or History()


# -- the trainer every family builds on -------------------------------------------------------


class Trainer:
    """The base of the families' trainers: step count, history, random generator, EMA, checkpoints.

    A subclass sets ``self.device`` and ``self.config`` (a dataclass), calls ``super().__init__``
    and supplies:

    * :meth:`train_step` — one update; returns the loss or a dict of named scalars. It draws all
      its random numbers from :attr:`rng`;
    * :meth:`modules` — its networks and optimisers by name, for :meth:`save` and :meth:`load`;
    * optionally :meth:`checkpoint_config` (what a checkpoint must match to be loaded; default
      ``self.config``), and the hooks :meth:`on_fit_start` and :meth:`on_step_end`.

    Several processes (``torchrun``, :mod:`genai_lib.distributed`) or accumulated micro-batches
    take one path, :meth:`update`: every rank draws the *global* batch of :meth:`global_rows` rows,
    and all its random numbers (noise, time steps, latents), from its identically seeded
    :attr:`rng`, so every rank draws the same; :meth:`update` keeps this rank's shard, accumulates
    it in ``grad_accum`` micro-batches and averages the gradients over the ranks before the step.
    N ranks therefore make the updates of one process with ``grad_accum`` multiplied by N.

    Args:
        seed: seeds :attr:`rng`.
        ema: an :class:`~genai_lib.ema.EMA` the subclass updates in :meth:`train_step`, or None.
        ranks: this process's place among the ranks (default: one process on ``self.device``);
            the subclass's modules must be on ``ranks.device``.
        grad_accum: micro-batches per update on each rank, >= 1.

    Attributes:
        step: updates done so far (the next update is number ``step``).
        history: the :class:`History` of every update's scalars.
        rng: the trainer's own CPU ``torch.Generator`` (batches, noise, latents); the global
            random state is never touched, so a run repeats bit for bit.
        ema: as given.
        ranks, grad_accum: as given.
    """

    #: the progress bar's label and how often its loss is refreshed (subclasses override)
    desc: str = "train"
    log_every: int = 10

    def __init__(
        self, *, seed: int, ema: EMA | None = None, ranks: distributed.Ranks | None = None, grad_accum: int = 1
    ) -> None:
        seed = check_int(seed, "seed", minimum=0, maximum=2**63 - 1)
        if ema is not None and not isinstance(ema, EMA):
            raise TypeError(f"ema must be a genai_lib.ema.EMA or None, got {type(ema).__name__}")
        device = torch.device(getattr(self, "device", "cpu"))
        if ranks is None:
            ranks = distributed.single(device)
        if not isinstance(ranks, distributed.Ranks):
            raise TypeError(f"ranks must be a genai_lib.distributed.Ranks or None, got {type(ranks).__name__}")
        if ranks.distributed and device != ranks.device:
            raise ValueError(f"the model must be on ranks.device={ranks.device} before training, got {device}")
        self.ranks, self.grad_accum = ranks, check_int(grad_accum, "grad_accum", minimum=1)
        self.step = 0
        self.history = History()
        self.rng = torch.Generator().manual_seed(seed)
        self.ema = ema

    # -- what a family supplies --------------------------------------------------------------------

    def train_step(self, step: int) -> float | torch.Tensor | Mapping[str, float]:
        """Make update number ``step``; return the loss or a dict of named scalars."""
        raise NotImplementedError(f"{type(self).__name__} must implement train_step(step)")

    def modules(self) -> dict[str, Stateful]:
        """The networks and optimisers to checkpoint, by name (names without '.')."""
        raise NotImplementedError(f"{type(self).__name__} must implement modules()")

    def checkpoint_config(self) -> Any:
        """The configuration a checkpoint records and :meth:`load` requires to match."""
        return self.config

    def on_fit_start(self, steps: int) -> None:
        """Called by :meth:`fit` before its first update, with the ``steps`` it trains to."""

    def on_step_end(self, step: int, scalars: dict[str, float]) -> None:
        """Called by :meth:`fit` after update ``step`` (and before the caller's callback)."""

    def extra_state(self) -> dict[str, Any]:
        """A subclass's own state to checkpoint (tensors, numbers, strings and containers of them);
        default none. :meth:`load` hands it back to :meth:`load_extra_state`."""
        return {}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned (``{}`` for a checkpoint without any)."""

    # -- the same everywhere -----------------------------------------------------------------------

    def global_rows(self, batch_size: int) -> int:
        """Rows of one update's global batch: ``batch_size`` per micro-batch, times ``grad_accum``,
        times the ranks (``batch_size`` itself for one process without accumulation)."""
        return batch_size * self.grad_accum * self.ranks.world_size

    def update(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        batch: tuple[torch.Tensor, ...],
        loss_fn: Callable[..., torch.Tensor],
        *,
        grad_clip: float = 0.0,
    ) -> float:
        """One optimiser step on the global ``batch`` (every tensor :meth:`global_rows` rows long).

        This rank keeps its shard (:func:`genai_lib.distributed.shard`), sums the gradients of
        ``loss_fn(model, *micro_batch)`` over ``grad_accum`` micro-batches, averages them over the
        ranks (:func:`genai_lib.distributed.average_gradients`; ``model`` is not wrapped in DDP),
        clips their norm to ``grad_clip`` when > 0, and steps (:func:`genai_lib.distributed.train_step`).
        For one process without accumulation that is ``zero_grad``, ``backward``, clip, ``step``.

        Returns:
            The loss averaged over the micro-batches and the ranks: the global batch's mean loss.
        """
        shards = tuple(distributed.shard(t, self.ranks) for t in batch)
        loss = distributed.train_step(
            model, optimizer, shards, loss_fn, self.grad_accum, grad_clip=grad_clip, ranks=self.ranks
        )
        return distributed.mean_over_ranks(loss, self.ranks)

    def launch_config(self) -> dict[str, int]:
        """How the global batch is made, when it is not one process's single batch: ``grad_accum``
        (if > 1) and ``world_size`` (if > 1). :meth:`save` records it beside :meth:`checkpoint_config`,
        so a checkpoint resumes only under the launch that wrote it."""
        launch = {}
        if self.grad_accum > 1:
            launch["grad_accum"] = self.grad_accum
        if self.ranks.distributed:
            launch["world_size"] = self.ranks.world_size
        return launch

    def _saved_config(self) -> Any:
        config, launch = self.checkpoint_config(), self.launch_config()
        if not launch:
            return config  # one process's checkpoints are as they always were
        return {**(_to_json_config(config) or {}), **launch}

    @property
    def ema_model(self) -> torch.nn.Module:
        """The network to sample from: the weight average when the trainer keeps one, else ``self.model``."""
        return self.model if self.ema is None else self.ema.model

    def fit(
        self,
        steps: int,
        *,
        progress: bool = True,
        callback: Callable[[int, dict[str, float]], None] | None = None,
        log_every: int | None = None,
        desc: str | None = None,
    ) -> History:
        """Train until ``steps`` updates are done in total, and return the :attr:`history`.

        ``steps`` is the total budget, as in :func:`fit`: a fresh trainer makes ``steps`` updates,
        and a second call (or a call after :meth:`load`) continues where the last one stopped, so
        ``fit(500)``, look at samples, ``fit(1000)`` makes the same 1,000 updates as one
        ``fit(1000)``. ``steps`` equal to :attr:`step` does nothing. ``callback(step, scalars)``
        runs after every update; the progress bar shows the losses every ``log_every`` steps.

        Raises:
            ValueError: if ``steps`` is smaller than the updates already made.
        """
        steps = check_int(steps, "steps", minimum=1)
        if steps < self.step:
            raise ValueError(
                f"steps is the total budget and this trainer has already made {self.step} "
                f"updates; pass steps >= {self.step}, got {steps}"
            )
        if not isinstance(progress, bool):
            raise TypeError(f"progress must be a bool, got {type(progress).__name__}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
        if steps == self.step:
            return self.history
        self.on_fit_start(steps)

        def step_fn(step: int) -> float | torch.Tensor | Mapping[str, float]:
            out = self.train_step(step)
            self.step = step + 1
            return out

        def after_step(step: int, scalars: dict[str, float]) -> None:
            self.on_step_end(step, scalars)
            if callback is not None:
                callback(step, scalars)

        fit(
            step_fn,
            steps,
            start_step=self.step,
            history=self.history,
            progress=progress,
            desc=self.desc if desc is None else desc,
            log_every=self.log_every if log_every is None else log_every,
            callback=after_step,
        )
        return self.history

    # -- checkpoints -------------------------------------------------------------------------------

    def save(self, directory: str | os.PathLike) -> Path:
        """Save the networks, optimisers, :attr:`history`, :attr:`rng`'s state, the EMA's counter and
        the config to ``directory`` (see :func:`save_checkpoint`); return its path."""
        state: dict[str, Any] = {"rng": self.rng.get_state()}
        if self.ema is not None:
            state["ema_updates"] = self.ema.num_updates
        extra = self.extra_state()
        if extra:
            state["extra"] = extra
        return save_checkpoint(
            directory,
            self.modules(),
            step=self.step,
            config=self._saved_config(),
            history=self.history,
            state=state,
        )

    def load(self, directory: str | os.PathLike) -> int:
        """Restore a :meth:`save` checkpoint into this trainer (built the same way); return its step.

        A trainer loaded from the checkpoint of step ``n`` continues exactly as the saved one would
        have. The global random state is left alone.

        Raises:
            FileNotFoundError: if ``directory`` holds no checkpoint.
            ValueError: if the checkpoint was written with another configuration, is model-only,
                or is of the previous format (the message says which).
        """
        path = Path(directory) / "config.json"
        if not path.is_file():
            raise FileNotFoundError(f"directory={str(directory)!r} holds no checkpoint (config.json is missing)")
        saved, mine = json.loads(path.read_text())["config"], _to_json_config(self._saved_config())
        if saved != mine:
            raise ValueError(f"the checkpoint in {str(directory)!r} was written with config {saved}, not {mine}")
        meta = load_checkpoint(directory, self.modules(), map_location=self.device, restore_rng=False)
        self.rng.set_state(meta["state"]["rng"])
        if self.ema is not None:
            self.ema.num_updates = int(meta["state"]["ema_updates"])
        self.history = meta["history"] or History()
        self.step = int(meta["step"])
        self.load_extra_state(meta["state"].get("extra", {}))
        return self.step
