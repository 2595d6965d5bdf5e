"""Argument checks shared by every module of the library (private).

Every public function validates its arguments at the boundary and raises an error that names the
argument and what it expected, so a reader's typo fails loudly where it was made.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping

import torch


def check_int(value: object, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int in ``[minimum, maximum]``; a 1-element integer tensor is accepted.

    Raises:
        TypeError: if ``value`` is not an integer (bools are refused); the message names ``name``.
        ValueError: if it lies outside the range; the message names ``name``.
    """
    if (
        isinstance(value, torch.Tensor)
        and value.numel() == 1
        and not value.is_floating_point()
        and not value.is_complex()
        and value.dtype != torch.bool
    ):
        value = int(value.item())
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an int <= {maximum}, got {value}")
    return value


def check_float(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_min: bool = False,
    strict_max: bool = False,
) -> float:
    """Return ``value`` as a finite float in range (``strict_*`` exclude the bound itself).

    Raises:
        TypeError: if ``value`` is not a real number (bools are refused); the message names ``name``.
        ValueError: if it is not finite or out of range; the message names ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None and (value < minimum or (strict_min and value == minimum)):
        raise ValueError(f"{name} must be {'>' if strict_min else '>='} {minimum:g}, got {value}")
    if maximum is not None and (value > maximum or (strict_max and value == maximum)):
        raise ValueError(f"{name} must be {'<' if strict_max else '<='} {maximum:g}, got {value}")
    return value


def check_bool(value: object, name: str) -> bool:
    """Return ``value`` after checking it is a bool (1 and 0 are refused: a typo, not a choice)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")
    return value


def check_fields(obj: object, checks: Mapping[str, Callable[[object, str], object]]) -> None:
    """Validate a dataclass's fields in place, the way every config of the library does it.

    Each ``check(value, name)`` (e.g. ``check_int`` with its bounds bound by a lambda) returns the
    value to keep — an int for a 1-element integer tensor, a float for an int — which replaces the
    field, in frozen dataclasses too. The first failing check raises, naming its field.
    """
    for name, check in checks.items():
        object.__setattr__(obj, name, check(getattr(obj, name), name))


def check_str(value: object, name: str, *, optional: bool = False) -> str | None:
    """Return ``value`` after checking it is a str (or None, when ``optional``); the error names ``name``."""
    if not (isinstance(value, str) or (optional and value is None)):
        raise TypeError(f"{name} must be a str{' or None' if optional else ''}, got {type(value).__name__} {value!r}")
    return value


def check_choice(value: object, name: str, choices: Iterable[str]) -> str:
    """Return ``value`` after checking it is one of the strings in ``choices`` (listed in the error)."""
    choices = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, one of {choices}, got {type(value).__name__} {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_tensor(value: object, name: str, *, floating: bool = False) -> torch.Tensor:
    """Return ``value`` after checking it is a tensor (floating-point when asked); errors name ``name``."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    return value


def check_labels(
    labels: object, name: str, batch: int, n_classes: int | None = None, allow_null: bool = True
) -> torch.Tensor:
    """Check class labels: an integer tensor of shape ``(batch,)`` with values in range.

    With ``allow_null`` the label ``n_classes`` (the null label of classifier-free guidance) is allowed.
    """
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be an integer torch.Tensor of class labels, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class labels, got dtype {labels.dtype}")
    if labels.shape != (batch,):
        raise ValueError(f"{name} must have shape ({batch},) to match the batch, got {tuple(labels.shape)}")
    if n_classes is not None and labels.numel():
        top = n_classes if allow_null else n_classes - 1
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi > top:
            raise ValueError(
                f"{name} must hold labels in [0, {top}]"
                f"{' (the last is the null label)' if allow_null else ''}, got values in [{lo}, {hi}]"
            )
    return labels.long()


def check_token_ids(idx: object, vocab_size: int, name: str = "idx") -> torch.Tensor:
    """Check token ids: an integer ``(batch, time)`` tensor, at least one token long, ids in ``0..vocab_size-1``."""
    if not isinstance(idx, torch.Tensor) or idx.dim() != 2:
        shape = tuple(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__
        raise TypeError(f"{name} must be a (batch, time) tensor of token ids, got {shape}")
    if idx.dtype.is_floating_point or idx.dtype.is_complex or idx.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer token ids, got dtype {idx.dtype}")
    if idx.size(1) == 0:
        raise ValueError(f"{name} must hold at least one token per sequence, got shape {tuple(idx.shape)}")
    if idx.numel() and bool(((idx < 0) | (idx >= vocab_size)).any()):
        bad = idx[(idx < 0) | (idx >= vocab_size)][0].item()
        raise ValueError(f"{name} holds the unknown token id {bad}; valid ids are 0..{vocab_size - 1}")
    return idx.long()
