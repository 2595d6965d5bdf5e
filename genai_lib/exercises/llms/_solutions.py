"""The worked answers of Part III's exercises, one registry for its six chapters.

Every chapter module registers its solutions here (``@SOLUTIONS.add("check_...")``), so that
:func:`solution` finds any checker's answer by name, whichever chapter it belongs to.
"""

from __future__ import annotations

from genai_lib.exercises._common import Solutions

__all__ = ["SOLUTIONS", "solution"]

SOLUTIONS = Solutions("genai_lib.exercises.llms")


def solution(name: str) -> None:
    """Print the answer of the exercise that checker ``name`` checks, with a short explanation.

    ``name`` is the checker's name, e.g. ``solution("check_perplexity")``; a wrong name raises a
    ValueError that lists the valid names.
    """
    SOLUTIONS.show(name)
