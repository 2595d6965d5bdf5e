"""Checkers for the chapters' exercises: one module per part, one ``check_...`` function per exercise.

Each checker takes the reader's answer, prints what is right or wrong about it, and returns ``True``
only when the answer is correct. They never raise on a wrong answer (a wrong answer is not a bug),
only on an answer of the wrong kind.
"""

from genai_lib.exercises import diffusion
from genai_lib.exercises import gans
from genai_lib.exercises import intro
from genai_lib.exercises import llms

__all__ = ["intro", "gans", "diffusion", "llms"]
