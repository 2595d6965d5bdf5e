"""SwiGLU, the gated feed-forward layer of Llama and PaLM (Shazeer 2020).

GPT-2's MLP is ``W_2 GELU(W_1 x)`` with a hidden width of ``4d``. A gated linear unit multiplies
two projections of the input, one passed through a non-linearity that acts as a soft gate::

    SwiGLU(x) = W_2 ( SiLU(W_g x) ⊙ W_u x ),   SiLU(z) = z · σ(z)                            (1)

It has *three* matrices instead of two, so to keep the parameter count of the ``4d`` MLP the
hidden width is cut to two thirds: ``3 · d · h = 2 · d · 4d`` gives ``h = 8d/3`` (Shazeer 2020,
section 2). Shazeer found the gated variants train to a lower loss at equal parameters and
compute; he offers no explanation ("we attribute their success ... to divine benevolence").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genai_lib._checks import check_float, check_int

__all__ = ["swiglu_hidden", "SwiGLU"]


def swiglu_hidden(n_embd: int, multiple_of: int = 1) -> int:
    """The hidden width ``8 n_embd / 3`` (rounded up to ``multiple_of``) that matches a 4× MLP's parameters."""
    n_embd = check_int(n_embd, "n_embd", minimum=1)
    multiple_of = check_int(multiple_of, "multiple_of", minimum=1)
    h = round(8 * n_embd / 3)
    return multiple_of * -(-h // multiple_of)


class SwiGLU(nn.Module):
    """Eq. (1): ``c_proj(silu(c_gate(x)) * c_fc(x))``, hidden width :func:`swiglu_hidden` unless given.

    The names follow the GPT's :class:`~genai_lib.llm.model.MLP` (``c_fc`` up, ``c_proj`` down,
    so GPT-2's scaled initialisation of ``c_proj`` applies) plus the gate ``c_gate``.
    """

    def __init__(self, n_embd: int, hidden: int | None = None, *, bias: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        n_embd = check_int(n_embd, "n_embd", minimum=1)
        hidden = swiglu_hidden(n_embd) if hidden is None else check_int(hidden, "hidden", minimum=1)
        dropout = check_float(dropout, "dropout", minimum=0.0, maximum=1.0, strict_max=True)
        self.c_gate = nn.Linear(n_embd, hidden, bias=bias)
        self.c_fc = nn.Linear(n_embd, hidden, bias=bias)
        self.c_proj = nn.Linear(hidden, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(..., n_embd)`` to ``(..., n_embd)``, each position independently."""
        return self.dropout(self.c_proj(F.silu(self.c_gate(x)) * self.c_fc(x)))
