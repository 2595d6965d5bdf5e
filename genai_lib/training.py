"""The step-budgeted training loop and safetensors checkpoints every chapter trains with.

A run is a budget of ``steps`` optimisation steps, never a wall-clock budget, so results do not
depend on how busy the machine is. The caller owns model and optimiser and wraps one update in
``step_fn(step) -> loss``; :func:`fit` calls it ``steps`` times, records the losses in a
:class:`History`, and (with a :class:`Checkpointer`) saves everything needed to resume: weights,
optimiser state, history and the torch RNG state. A resumed run repeats the uninterrupted one
bit for bit. Checkpoints hold only ``.safetensors`` and ``.json`` files: no pickle anywhere.
"""

from __future__ import annotations

import base64
import dataclasses
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

from genai_lib._checks import check_int

__all__ = ["History", "fit", "progress_bar", "PROGRESS_INTERVAL_S", "save_checkpoint", "load_checkpoint", "Checkpointer", "rng_to_text", "rng_from_text"]

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
    may be raised, not lowered.
    """
    interval = max(float(kwargs.pop("mininterval", PROGRESS_INTERVAL_S)), PROGRESS_INTERVAL_S)
    return tqdm(iterable, mininterval=interval, **kwargs)


Stateful = torch.nn.Module | torch.optim.Optimizer
FILES = ("model.safetensors", "optimizer.safetensors", "optimizer.json", "rng.safetensors", "config.json")


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
        return np.asarray(self.steps, dtype=np.int64), {k: np.asarray(v, dtype=np.float64) for k, v in self.values.items()}




def _scalars(out: Any, step: int) -> dict[str, float]:
    """Turn step_fn's return value (loss or dict of scalars) into finite Python floats."""
    items = out.items() if isinstance(out, Mapping) else [("loss", out)]
    scalars = {}
    for name, value in items:
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.detach().item()
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"step_fn must return a float, a 1-element tensor or a dict of them; "
                            f"got {type(value).__name__} for {name!r} at step {step}")
        if not math.isfinite(value):
            raise FloatingPointError(f"non-finite {name}={value} at step {step}")
        scalars[str(name)] = float(value)
    return scalars


def fit(step_fn: Callable[[int], float | torch.Tensor | Mapping[str, float]], steps: int, *,
        start_step: int = 0, history: History | None = None, progress: bool = True, desc: str = "train",
        log_every: int = 1, callback: Callable[[int, dict[str, float]], None] | None = None,
        checkpoint: Checkpointer | None = None, checkpoint_every: int | None = None) -> History:
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
        raise ValueError(f"history already holds step {history.steps[-1]}; start_step must be after it, got {start_step}")

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


# -- checkpoints ------------------------------------------------------------------------------

def _encode(obj: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Losslessly split a nested state (e.g. ``optimizer.state_dict()``) into JSON + tensors."""
    if isinstance(obj, torch.Tensor):
        if key in tensors:
            raise ValueError(f"two tensors in the optimizer state map to the key {key!r}")
        tensors[key] = obj.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": key}
    if isinstance(obj, (tuple, list)):
        items = [_encode(v, f"{key}.{i}", tensors) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if isinstance(obj, Mapping):
        if not all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in obj):
            raise TypeError(f"state keys under {key!r} must be str or int, got {list(obj)}")
        return {"__dict__": [[k, _encode(v, f"{key}.{k}", tensors)] for k, v in obj.items()]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot checkpoint {type(obj).__name__} found under {key!r}")


def _decode(obj: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverse of :func:`_encode`."""
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
        return {k: _decode(v, tensors) for k, v in obj["__dict__"]}
    return obj


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


def rng_to_text(generator: torch.Generator) -> str:
    """A ``torch.Generator``'s state as text, for a checkpoint's JSON ``extra`` (see :func:`rng_from_text`)."""
    return base64.b64encode(generator.get_state().numpy().tobytes()).decode()


def rng_from_text(generator: torch.Generator, text: str) -> None:
    """Put the state :func:`rng_to_text` wrote back into ``generator``: it then draws what the saved one would have."""
    generator.set_state(torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8))


def save_checkpoint(directory: str | os.PathLike, modules: Mapping[str, Stateful], *, step: int,
                    config: Any = None, history: History | None = None, extra: dict | None = None) -> Path:
    """Save modules, optimisers, the torch RNG state and metadata to ``directory``; return its path.

    Files: ``model.safetensors`` (module states, keys ``"{name}.{param}"``), ``optimizer.safetensors``
    + ``optimizer.json`` (optimiser tensors and structure), ``rng.safetensors`` and ``config.json``
    (``step``, ``config``, ``history``, ``extra``). All files are first written to temporary files
    and only then moved into place (config.json last), so an interrupted save leaves the previous
    checkpoint intact.
    """
    modules, step = _check_modules(modules), check_int(step, "step", minimum=0)
    meta = {"step": step, "config": _to_json_config(config),
            "history": None if history is None else history.to_dict(), "extra": extra}
    try:
        config_bytes = json.dumps(meta, indent=2, allow_nan=False).encode()
    except (TypeError, ValueError) as err:
        raise TypeError(f"config and extra must be JSON-serialisable: {err}") from err
    weights: dict[str, torch.Tensor] = {}
    optim_tensors: dict[str, torch.Tensor] = {}
    optim_json: dict[str, Any] = {}
    for name, obj in modules.items():
        if isinstance(obj, torch.optim.Optimizer):
            optim_json[name] = _encode(obj.state_dict(), name, optim_tensors)
        else:
            for key, tensor in obj.state_dict().items():  # copies: tied weights may share memory
                weights[f"{name}.{key}"] = tensor.detach().to("cpu", copy=True).contiguous()
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng.update({f"cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    tag = {"step": str(step)}
    payloads = {"model.safetensors": safetensors.torch.save(weights, tag),
                "optimizer.safetensors": safetensors.torch.save(optim_tensors, tag),
                "optimizer.json": json.dumps({"step": step, "optimizers": optim_json}).encode(),
                "rng.safetensors": safetensors.torch.save(rng, tag), "config.json": config_bytes}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    temps: dict[str, str] = {}
    try:
        for fname in FILES:
            fd, temps[fname] = tempfile.mkstemp(dir=directory, prefix=f".{fname}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(payloads[fname])
                f.flush()
                os.fsync(f.fileno())
        for fname in FILES:
            os.replace(temps.pop(fname), directory / fname)
    finally:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)
    return directory


def _read(path: Path, step: int, device: str) -> dict[str, torch.Tensor]:
    with safetensors.safe_open(str(path), framework="pt", device=device) as f:
        if (f.metadata() or {}).get("step") != str(step):
            raise ValueError(f"{path} is not from step {step} (an interrupted save?); the checkpoint is inconsistent")
        return {k: f.get_tensor(k) for k in f.keys()}


def load_checkpoint(directory: str | os.PathLike, modules: Mapping[str, Stateful], *,
                    map_location: str | torch.device = "cpu", restore_rng: bool = True) -> dict[str, Any]:
    """Load a :func:`save_checkpoint` checkpoint into ``modules`` in place and return its metadata.

    Loading is strict: keys missing from the checkpoint or unexpected by the modules raise a
    ValueError naming them, before any state is changed. Module tensors are read onto
    ``map_location``; optimiser tensors onto the CPU (``load_state_dict`` moves them next to the
    parameters). With ``restore_rng`` the torch (and CUDA) RNG state is restored too.
    Returns ``{"step": int, "config": dict | None, "history": History | None, "extra": ...}``.
    """
    modules, directory = _check_modules(modules), Path(directory)
    try:
        device = str(torch.device(map_location))
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"map_location must be a device such as 'cpu' or 'cuda:0', got {map_location!r}") from err
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"directory={str(directory)!r} holds no checkpoint (config.json is missing)")
    meta = json.loads((directory / "config.json").read_text())
    step = meta["step"]
    weights = _read(directory / "model.safetensors", step, device)
    optim_tensors = _read(directory / "optimizer.safetensors", step, "cpu")
    optim_json = json.loads((directory / "optimizer.json").read_text())
    if optim_json["step"] != step:
        raise ValueError(f"{directory / 'optimizer.json'} is not from step {step}; the checkpoint is inconsistent")
    states: dict[str, dict] = {}
    expected: set[str] = {f"{name}.*" for name in optim_json["optimizers"]} | set(weights)
    wanted: set[str] = set()
    for name, obj in modules.items():
        if isinstance(obj, torch.optim.Optimizer):
            wanted.add(f"{name}.*")
            if name in optim_json["optimizers"]:
                states[name] = _decode(optim_json["optimizers"][name], optim_tensors)
        else:
            keys = obj.state_dict().keys()
            wanted |= {f"{name}.{k}" for k in keys}
            states[name] = {k: weights[f"{name}.{k}"] for k in keys if f"{name}.{k}" in weights}
    missing, unexpected = sorted(wanted - expected), sorted(expected - wanted)
    if missing or unexpected:
        raise ValueError(f"checkpoint in {str(directory)!r} does not match modules: "
                         f"missing keys {missing}, unexpected keys {unexpected} ('name.*' = a whole optimiser)")
    rng = _read(directory / "rng.safetensors", step, "cpu")
    for name, obj in modules.items():
        obj.load_state_dict(states[name])
    if restore_rng:
        torch.set_rng_state(rng["torch"])
        cuda = [rng[f"cuda.{i}"] for i in range(len(rng) - 1)]
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    history = None if meta["history"] is None else History.from_dict(meta["history"])
    return {"step": step, "config": meta["config"], "history": history, "extra": meta["extra"]}


class Checkpointer:
    """Saves ``modules`` to ``directory`` every ``every`` steps during :func:`fit`, and resumes from it."""

    def __init__(self, directory: str | os.PathLike, modules: Mapping[str, Stateful], config: Any = None, *,
                 every: int) -> None:
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
            raise ValueError(f"the checkpoint in {str(self.directory)!r} was written with config={saved}, "
                             f"not {_to_json_config(self.config)}; delete it or choose another directory")
        meta = load_checkpoint(self.directory, self.modules)
        return meta["step"], meta["history"] or History()
