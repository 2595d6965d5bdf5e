"""Checkers for the chapters' exercises: one module per part, one ``check_...`` function per exercise.

Each checker takes the reader's answer, prints what is right or wrong about it, and returns ``True``
only when the answer is correct. After a wrong answer it gives a hint — what is wrong, which quantity
to revisit — and never the expected value. They never raise on a wrong answer (a wrong answer is not
a bug), only on an answer of the wrong kind (a ``TypeError`` naming the argument).

Numbers are accepted to 3 significant figures (a looser tolerance where a checker says so); counts
and steps must be exact. A multiple-choice checker takes the letter as a str, e.g. ``"b"``.

The answer is printed only on request, by the part's ``solution`` with the checker's name::

    from genai_lib.exercises import diffusion as ex
    ex.check_half_signal_step(259)          # ✘ and a hint
    ex.solution("check_half_signal_step")   # the answer and a short explanation

A name that is not one of the part's checkers raises a ``ValueError`` listing the valid names.
"""

from genai_lib.exercises import (
    architecture,
    diffusion,
    distributed,
    flow,
    gans,
    intro,
    latent,
    llms,
    modern_gan,
    packing,
    score,
)

__all__ = [
    "intro",
    "gans",
    "packing",
    "modern_gan",
    "diffusion",
    "score",
    "flow",
    "latent",
    "llms",
    "architecture",
    "distributed",
]
