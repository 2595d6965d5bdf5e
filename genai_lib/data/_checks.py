"""Argument checks shared by the data modules (private)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable


def check_int(value: object, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer (not a bool) in range.

    Raises:
        TypeError: if ``value`` is not an integer; the message names ``name``.
        ValueError: if it lies outside ``[minimum, maximum]``; the message names ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_float(value: object, name: str, *, minimum: float = 0.0) -> float:
    """Return ``value`` as a finite ``float`` no smaller than ``minimum``.

    Raises:
        TypeError: if ``value`` is not a real number (bools are refused); the message names ``name``.
        ValueError: if it is not finite or is below ``minimum``; the message names ``name``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value}")
    return value


def check_choice(value: object, name: str, choices: Iterable[str]) -> str:
    """Return ``value`` after checking it is one of the strings in ``choices``.

    Raises:
        TypeError: if ``value`` is not a ``str``; the message names ``name``.
        ValueError: if it is not one of ``choices``; the message names ``name`` and lists them.
    """
    choices = tuple(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, one of {choices}, got {type(value).__name__} {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value
