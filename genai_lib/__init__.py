"""genai_lib — the companion library of *An interactive textbook of generative AI*.

The package root holds the two functions every notebook calls first:

* :func:`get_device` picks where tensors live (``cuda``, then ``mps``, then ``cpu``; the
  environment variable ``GENAI_DEVICE`` overrides the choice);
* :func:`seed_everything` makes a run repeatable, and :func:`env_seed` reads the seed a notebook
  should use (the environment variable ``GENAI_SEED``, default 0), so that any chapter can be rerun
  with another seed without editing it (``GENAI_SEED=1 make test``, ``make robust``).

Everything else lives in one module per concept: :mod:`genai_lib.data` (offline data sets),
:mod:`genai_lib.training` (the step-budgeted training loop and checkpoints) and
:mod:`genai_lib.viz` (the scrubber every explorer uses).

Importing the package performs no network I/O and changes no global state (seeds, threads,
plotting defaults): those happen only when a function is called.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__version__ = "0.1.0"

__all__ = ["get_device", "module_device", "seed_everything", "env_seed", "__version__"]

_DEVICE_ENV = "GENAI_DEVICE"
_SEED_ENV = "GENAI_SEED"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def module_device(module: object, default: torch.device | str | None = None) -> torch.device:
    """Where a module's weights live: the device of its first parameter, else of its first buffer.

    The one rule every family uses to put inputs and random draws beside a model.

    Args:
        module: an ``nn.Module`` (anything else, e.g. a plain function used as a denoiser, has no
            weights and gets ``default``).
        default: the device for a module without weights, or a non-module (the CPU if None).
    """
    if isinstance(module, torch.nn.Module):
        for tensor in module.parameters():
            return tensor.device
        for tensor in module.buffers():
            return tensor.device
    return torch.device(default) if default is not None else torch.device("cpu")


def get_device(prefer: str | None = None) -> torch.device:
    """Return the device a notebook should compute on.

    The order is: ``prefer`` if given, else the environment variable ``GENAI_DEVICE`` if set,
    else ``cuda`` when a CUDA GPU is present, then Apple's ``mps``, then ``cpu``.

    Args:
        prefer: an explicit device string such as ``"cpu"``, ``"cuda"`` or ``"cuda:1"``.

    Returns:
        A :class:`torch.device`.

    Raises:
        ValueError: if ``prefer`` (or ``GENAI_DEVICE``) is not a device string torch understands,
            or names a device that is not available on this machine.
    """
    source = "prefer"
    choice = prefer
    if choice is None and os.environ.get(_DEVICE_ENV):
        choice, source = os.environ[_DEVICE_ENV], _DEVICE_ENV
    if choice is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if not isinstance(choice, str):
        raise TypeError(f"{source} must be a device string such as 'cpu' or 'cuda', got {type(choice).__name__}")
    try:
        device = torch.device(choice.strip())
    except RuntimeError as err:
        raise ValueError(f"{source}={choice!r} is not a torch device string (try 'cpu', 'cuda' or 'mps')") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{source}={choice!r} asks for CUDA, but no CUDA GPU is available here")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"{source}={choice!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not _mps_available():
        raise ValueError(f"{source}={choice!r} asks for MPS, but MPS is not available here")
    if device.type not in {"cpu", "cuda", "mps"}:
        raise ValueError(f"{source}={choice!r}: expected a 'cpu', 'cuda' or 'mps' device")
    return device


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and torch's random number generators with one integer.

    Called with the same seed, the same code gives the same CPU results bit for bit: torch's
    CPU kernels are deterministic for a fixed thread count, and cuDNN is asked for deterministic
    algorithms (``torch.backends.cudnn.deterministic``) so that GPU runs repeat too, as far as
    the hardware allows.

    Args:
        seed: a non-negative integer below 2**32.

    Returns:
        A CPU :class:`torch.Generator` seeded with ``seed``, for code that prefers an explicit
        generator to the global one.

    Raises:
        TypeError: if ``seed`` is not an integer.
        ValueError: if ``seed`` is negative or too large for NumPy.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA / MPS device too
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def env_seed(default: int = 0) -> int:
    """The seed a notebook runs with: the environment variable ``GENAI_SEED``, else ``default``.

    Every chapter starts with ``SEED = genai_lib.env_seed()``, so ``GENAI_SEED=2 make test`` (or
    ``make robust``) reruns the whole book with other random draws, and a chapter's hidden checks
    must hold for any seed, not only for the one its figures were drawn with.

    Args:
        default: the seed when ``GENAI_SEED`` is unset or empty.

    Returns:
        A seed in ``[0, 2**32)``, ready for :func:`seed_everything`.

    Raises:
        ValueError: if ``GENAI_SEED`` is not a non-negative integer below 2**32.
        TypeError: if ``default`` is not an integer.
    """
    if isinstance(default, bool) or not isinstance(default, int):
        raise TypeError(f"default must be an int, got {type(default).__name__}")
    text = os.environ.get(_SEED_ENV, "").strip()
    if not text:
        return default
    try:
        seed = int(text)
    except ValueError:
        raise ValueError(f"{_SEED_ENV} must be a non-negative integer, got {text!r}") from None
    if not 0 <= seed < 2**32:
        raise ValueError(f"{_SEED_ENV} must be in [0, 2**32), got {seed}")
    return seed


# The layers below the families only. The families (gan, diffusion, llm) and the exercise checkers,
# which import them, are imported where they are used (`from genai_lib import gan`), so that importing
# the package stays cheap and no import points upwards.
from genai_lib import data, training, viz  # noqa: E402  (sub-packages need the helpers above)

__all__ += ["data", "training", "viz"]
