"""What every part's checkers share: the ✔/✘ report, reading a number, comparing at the precision a
question asks for, and the ``solution(name)`` look-up.

A checker never prints the expected value after a wrong answer: it says what is wrong and which
quantity to revisit. The answer is printed only by ``solution(name)``, on request.
"""

from __future__ import annotations

import math
import numbers
import textwrap
from collections.abc import Callable, Mapping
from typing import Any

#: Significant figures a numeric answer must agree to, unless the checker says otherwise.
SIG_FIGS = 3


def report(ok: bool, message: str) -> bool:
    """Print ``message`` after ✔ or ✘ and return ``ok``."""
    print(("✔ correct: " if ok else "✘ not yet: ") + message)
    return ok


def number(answer: Any, name: str = "answer") -> float:
    """A Python or NumPy number, or a one-element tensor or array, as a float; anything else is a TypeError."""
    if hasattr(answer, "numel") and callable(answer.numel) and answer.numel() != 1:
        raise TypeError(f"{name} must be a single number, got a tensor of shape {tuple(answer.shape)}")
    if hasattr(answer, "size") and hasattr(answer, "shape") and not callable(answer.size) and answer.size != 1:
        raise TypeError(f"{name} must be a single number, got an array of shape {tuple(answer.shape)}")
    if hasattr(answer, "item") and callable(answer.item):  # a tensor, a NumPy scalar or array
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(answer).__name__}")
    value = float(answer)
    if math.isnan(value):
        raise TypeError(f"{name} must be a number, got nan")
    return value


def _half_unit(x: float, sig: int) -> float:
    """Half a unit in the ``sig``-th significant figure of ``x`` (0 for x = 0)."""
    if x == 0 or math.isinf(x):
        return 0.0
    return 0.5 * 10.0 ** (math.floor(math.log10(abs(x))) - sig + 1)


def matches(value: float, truth: float, *, sig: int = SIG_FIGS, rel: float = 0.0, abs_tol: float = 0.0) -> bool:
    """Whether ``value`` is ``truth`` to ``sig`` significant figures (or within ``rel`` / ``abs_tol``, if looser):
    within half a unit of the ``sig``-th significant figure of ``truth``."""
    if math.isinf(value):
        return False
    unit = _half_unit(truth, sig) if sig else 0.0
    tol = max(unit * (1 + 1e-9), rel * abs(truth), abs_tol)
    return abs(value - truth) <= tol + 1e-12 * abs(truth)


def count_hint(value: float, truth: int) -> str | None:
    """For a count: a rounded right answer gets told to give the exact count (``None`` otherwise)."""
    if value != truth and matches(value, truth):
        return "close — that looks like a rounded count; the question asks for the exact number."
    return None


def near(value: float, truth: float) -> bool:
    """Right to two significant figures (but, when called after :func:`matches`, not to three)."""
    return matches(value, truth, sig=2)


NEAR = (
    "close, but not to 3 significant figures: did you round an intermediate result, or read a value "
    "off a plot? Compute it to at least 3 significant figures."
)


def share(value: float) -> float:
    """A share given as a percentage (above 1.5) as a fraction."""
    return value / 100 if value > 1.5 else value


def choice(answer: Any, options: Mapping[str, str], name: str = "answer") -> str:
    """The letter of a multiple-choice answer ("b", "B", "(b)" or "b)"), checked against ``options``."""
    if not isinstance(answer, str):
        raise TypeError(f"{name} must be one letter among {sorted(options)} as a str, got {type(answer).__name__}")
    letter = answer.strip().strip("()").strip().lower()
    if letter not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {answer!r}")
    return letter


def ask(answer: Any, options: Mapping[str, str], right: str, why: str, hints: Mapping[str, str]) -> bool:
    """Check a multiple-choice ``answer`` (a letter of ``options``): ✔ with ``why`` for the ``right`` letter, ✘
    with the wrong letter's own hint (what to re-read, never the answer) for the others."""
    if set(hints) != set(options) - {right}:
        raise ValueError("hints must name every wrong letter of options once")
    letter = choice(answer, options)
    return report(True, why) if letter == right else report(False, hints[letter])


class Solutions:
    """The worked answers of one part, keyed by the checker's name (``"check_..."``)."""

    def __init__(self, part: str) -> None:
        self.part = part
        self._entries: dict[str, Callable[[], tuple[str, str]]] = {}

    def add(self, name: str) -> Callable[[Callable[[], tuple[str, str]]], Callable[[], tuple[str, str]]]:
        """Register a function returning ``(answer, explanation)`` as the solution of checker ``name``."""

        def register(fn: Callable[[], tuple[str, str]]) -> Callable[[], tuple[str, str]]:
            self._entries[name] = fn
            return fn

        return register

    @property
    def names(self) -> list[str]:
        return sorted(self._entries)

    def text(self, name: Any) -> str:
        """The printed solution of checker ``name``."""
        if not isinstance(name, str):
            raise TypeError(
                f"name must be a checker's name as a str, such as {self.names[0]!r}, got {type(name).__name__}"
            )
        if name not in self._entries:
            raise ValueError(
                f"name must be the name of one of {self.part}'s checkers, got {name!r}; "
                f"valid names: {', '.join(self.names)}"
            )
        answer, explanation = self._entries[name]()
        body = textwrap.fill(" ".join(explanation.split()), width=100)
        return f"Solution of {name}:\n\nAnswer: {answer}\n\n{body}"

    def show(self, name: Any) -> None:
        print(self.text(name))
