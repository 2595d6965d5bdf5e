"""Numbers in the prose come from the run that built the page: ``glue`` hands them to the site.

A chapter computes a figure (a loss, an FD, a coverage count) and calls ``glue("name", value)``;
its prose then says ``{glue:text}`name:.2f``` and the built site shows *this* run's value. Text and
run agree by construction, on every machine and for every seed, which an asserted constant cannot.

This writes the same output that myst-nb's own ``myst_nb.glue(name, value, display=False)`` writes
(``tests/test_viz.py`` checks that myst-nb reads it back), without importing myst-nb, which a reader's
Colab or laptop need not have. Unlike it, it turns NumPy and torch scalars into Python numbers first,
so that a format spec (``:.3f``) works on them (myst-nb parses the stored text back with
``ast.literal_eval``, which ``np.float64(0.5)`` defeats), and quotes strings, so that formatted text
such as ``1,000`` is pasted as written, not parsed into a tuple.
In a running notebook the glued value is invisible (its MIME type has no renderer), except in
Colab: Colab does not render MyST, so its reader sees the role ``{glue:text}`name``` where the site
shows the number, and ``glue`` prints ``glue: name = value`` beside the cell that computed it.
"""

from __future__ import annotations

import ast
import numbers
import sys
from typing import Any

import numpy as np
import torch

# The MIME-type prefix myst-nb uses for glued values that are not displayed (``display=False``).
GLUE_PREFIX = "application/papermill.record/"

__all__ = ["glue", "glue_bundle"]


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"value must be a scalar, got a tensor of shape {tuple(value.shape)}")
        return value.item()
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"value must be a scalar, got an array of shape {value.shape}")
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def glue_bundle(name: str, value: Any, fmt: str | None = None) -> tuple[dict, dict]:
    """The display data and metadata that :func:`glue` shows (``(data, metadata)``).

    Args:
        name: the key the prose refers to (``{glue:text}`name```); a non-empty string without
            spaces or colons.
        value: a number (Python, NumPy or a one-element tensor) or a string.
        fmt: an optional format spec applied here (``".1f"``, ``","``); without it the prose may
            give one (``{glue:text}`name:.1f```).

    Raises:
        TypeError: if ``name`` or ``fmt`` is not a string, or ``value`` is neither a number nor a
            string.
        ValueError: if ``name`` is empty or contains a space or a colon, or ``value`` has more than
            one element.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if not name or any(c.isspace() or c == ":" for c in name):
        raise ValueError(f"name must be a non-empty key without spaces or colons, got {name!r}")
    if fmt is not None and not isinstance(fmt, str):
        raise TypeError(f"fmt must be a str or None, got {type(fmt).__name__}")
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        raise TypeError(f"value must be a real number or a str, got {type(value).__name__}")
    if fmt is not None:
        value = format(value, fmt)
    # myst-nb reads the text back with ast.literal_eval: a number's repr comes back as the number (so
    # the prose may add a format spec); text is stored quoted, so that "1,000" does not come back as
    # the tuple (1, 0) nor "25/25" as anything but itself.
    text = repr(value)
    data = {GLUE_PREFIX + "text/plain": text}
    metadata = {"scrapbook": {"name": name, "mime_prefix": GLUE_PREFIX}}
    return data, metadata


def glue(name: str, value: Any, fmt: str | None = None) -> None:
    """Record ``value`` under ``name`` for the prose of the page (myst-nb's ``glue`` roles).

    See :func:`glue_bundle` for the arguments. Nothing is shown in the notebook, except in Colab,
    which cannot render the role: there the value is printed as ``glue: name = value``.
    """
    from IPython.display import display

    data, metadata = glue_bundle(name, value, fmt)
    display(data, raw=True, metadata=metadata)
    if "google.colab" in sys.modules:
        print(f"glue: {name} = {ast.literal_eval(data[GLUE_PREFIX + 'text/plain'])}")
