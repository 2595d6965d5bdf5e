"""Names a package exports but imports only on first use (private).

A package whose ``__init__`` imported its trainer module could not run that module as a command
(``python -m genai_lib.gan.train``): Python would execute it twice, once as part of the package and once as
``__main__``, and warn. :func:`lazy_exports` gives the package a module-level ``__getattr__`` that imports
the named module when one of its names is first read, and a ``__dir__`` that lists them, so that
``dir()``, tab completion and the API reference see every exported name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, lazy: Mapping[str, str], namespace: Mapping[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for ``package``.

    Args:
        package: the package's name (its ``__name__``).
        lazy: exported name -> the submodule of ``package`` that defines it.
        namespace: the package's ``globals()``, listed by ``__dir__`` with the lazy names.
    """

    def __getattr__(name: str) -> Any:
        if name in lazy:
            return getattr(importlib.import_module(f"{package}.{lazy[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(lazy))

    return __getattr__, __dir__
