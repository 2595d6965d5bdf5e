"""LoRA: low-rank adapters for fine-tuning (Hu et al. 2021).

Full fine-tuning updates every weight matrix ``W₀`` (``d_out × d_in``). LoRA freezes ``W₀`` and
learns a low-rank change instead::

    h = W₀ x + (α / r) · B A x,      A: r × d_in,  B: d_out × r,  r ≪ min(d_in, d_out)       (1)

so each adapted matrix trains ``r (d_in + d_out)`` numbers instead of ``d_in d_out``. ``A`` starts
random and ``B`` at zero, so at step 0 the adapted model *is* the pre-trained one (eq. (1) adds
exactly 0). ``α / r`` keeps the size of the update comparable when ``r`` changes, so the learning
rate need not be retuned. After training, ``W = W₀ + (α / r) B A`` is one ordinary matrix again:
:func:`merge_lora` folds the adapters in, and the merged model costs nothing extra to run.

A low-rank change of the matrices cannot teach the model a token that pre-training never saw: that
token's embedding row (which, with weight tying, is also its output row) was never trained, and
adapters do not touch it. :func:`adapt_token_rows` makes just those rows trainable, as a zero-initialised
change ``ΔE`` of the chosen rows of the frozen table ``E₀``::

    E = E₀ + S ΔE,     S: vocab_size × k selects the k chosen ids,  ΔE: k × d, zero at the start   (2)

so the model again starts exactly at the pre-trained one, and ``k d`` numbers train.
:func:`merge_lora` folds (2) into the table as well.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from genai_lib._checks import check_float, check_int

__all__ = [
    "LoRALinear",
    "TokenRows",
    "apply_lora",
    "adapt_token_rows",
    "merge_lora",
    "lora_parameters",
    "DEFAULT_TARGETS",
]

# The GPT's four projections: queries/keys/values, attention output, MLP in, MLP out.
DEFAULT_TARGETS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


class LoRALinear(nn.Module):
    """An ``nn.Linear`` with a frozen weight plus a trainable low-rank update, eq. (1).

    Args:
        base: the linear map to adapt; its parameters are frozen.
        r: the rank of the update (>= 1).
        alpha: the scale numerator; the update is multiplied by ``alpha / r``.
        dropout: dropout on the adapter's input (Hu et al. use none; it can help on tiny data).
    """

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be an nn.Linear, got {type(base).__name__}")
        r = check_int(r, "r", minimum=1)
        alpha = check_float(alpha, "alpha", minimum=0.0, strict_min=True)
        dropout = check_float(dropout, "dropout", minimum=0.0, maximum=1.0, strict_max=True)
        self.base, self.r, self.alpha = base, r, alpha
        self.scaling = self.alpha / self.r
        for p in base.parameters():
            p.requires_grad_(False)
        w = base.weight
        self.lora_A = nn.Parameter(torch.empty(self.r, base.in_features, device=w.device, dtype=w.dtype))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, self.r, device=w.device, dtype=w.dtype))
        # A as nn.Linear initialises its weight (the choice of the reference implementation);
        # B = 0 makes the update B A exactly zero at the start.
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def delta_weight(self) -> torch.Tensor:
        """The update ``(α / r) B A``, the same shape as the base weight."""
        return self.scaling * (self.lora_B @ self.lora_A)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Two thin matmuls (x A^T, then B^T) instead of forming B A: cheaper when r is small. The scale
        # multiplies the small d_out × r matrix B, not the (batch, time, d_out) output.
        return self.base(x) + (self.dropout(x) @ self.lora_A.T) @ (self.lora_B * self.scaling).T

    def merged(self) -> nn.Linear:
        """Return a plain ``nn.Linear`` with weight ``W₀ + (α / r) B A`` (and the base bias)."""
        base = self.base
        out = nn.Linear(
            base.in_features,
            base.out_features,
            bias=base.bias is not None,
            device=base.weight.device,
            dtype=base.weight.dtype,
        )
        with torch.no_grad():
            out.weight.copy_(base.weight + self.delta_weight())
            if base.bias is not None:
                out.bias.copy_(base.bias)
        return out

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}"


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


def apply_lora(
    model: nn.Module, r: int = 8, alpha: float = 16.0, dropout: float = 0.0, targets: Sequence[str] = DEFAULT_TARGETS
) -> nn.Module:
    """Wrap every ``nn.Linear`` whose name ends with one of ``targets`` in a :class:`LoRALinear`,
    freeze every other parameter, and return ``model`` (changed in place).

    Afterwards only the adapters train: pass ``(p for p in model.parameters() if p.requires_grad)``
    (or :func:`lora_parameters`) to the optimiser. Embeddings, LayerNorms and biases stay frozen,
    as in Hu et al. (2021).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if isinstance(targets, str) or not all(isinstance(t, str) for t in targets):
        raise TypeError(
            f"targets must be a sequence of module-name suffixes such as {DEFAULT_TARGETS}, got {targets!r}"
        )
    if any(isinstance(m, LoRALinear) for m in model.modules()):
        raise ValueError("model already holds LoRA adapters; merge_lora(model) first to add new ones")
    chosen = [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and any(name == t or name.endswith("." + t) for t in targets)
    ]
    if not chosen:
        raise ValueError(f"targets={tuple(targets)} match no nn.Linear in the model")
    for p in model.parameters():
        p.requires_grad_(False)
    for name in chosen:
        _replace(model, name, LoRALinear(model.get_submodule(name), r=r, alpha=alpha, dropout=dropout))
    return model


class TokenRows(nn.Module):
    """A trainable change ``ΔE`` of a few rows of a frozen embedding table, eq. (2).

    One :class:`TokenRows` is shared by the input embedding and the (tied) output layer, so both
    see the same adapted table. The parameter is called ``lora_rows`` so that it is counted with
    the adapters (``GPT.parameter_counts()["lora"]``) and a model holding it must be merged before
    it is saved.
    """

    def __init__(self, weight: nn.Parameter, ids: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("ids", ids.to(weight.device), persistent=False)
        self.lora_rows = nn.Parameter(torch.zeros(len(ids), weight.size(1), device=weight.device, dtype=weight.dtype))

    def table(self, weight: torch.Tensor) -> torch.Tensor:
        """``E₀ + S ΔE``: the frozen ``weight`` with the chosen rows changed (out of place)."""
        return weight.index_add(0, self.ids, self.lora_rows)


class _RowsAdapted(nn.Module):
    """Stands in for a layer whose weight table is adapted by a :class:`TokenRows` (``weight`` is the frozen one)."""

    def __init__(self, base: nn.Module, rows: TokenRows) -> None:
        super().__init__()
        self.base, self.rows = base, rows

    @property
    def weight(self) -> torch.Tensor:
        return self.base.weight


class _RowsEmbedding(_RowsAdapted):
    """An ``nn.Embedding`` looking up the adapted table."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return nn.functional.embedding(idx, self.rows.table(self.base.weight))


class _RowsLinear(_RowsAdapted):
    """A bias-free output ``nn.Linear`` (tied to the embedding) multiplying by the adapted table."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(h, self.rows.table(self.base.weight), self.base.bias)


def adapt_token_rows(
    model: nn.Module,
    ids: Sequence[int] | torch.Tensor,
    embedding: str = "transformer.wte",
    head: str | None = "lm_head",
) -> nn.Module:
    """Make the embedding rows of the token ``ids`` trainable, eq. (2); return ``model`` (in place).

    For tokens the pre-trained model never saw (a new domain's characters, added special tokens):
    the rest of the table stays frozen. With ``head`` the output layer named so must share the
    embedding's weight (weight tying) and sees the same adapted rows. Other parameters keep their
    ``requires_grad``, so call it after :func:`apply_lora`. :func:`merge_lora` folds the rows in.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    try:
        emb = model.get_submodule(embedding)
    except AttributeError:
        emb = None
    if not isinstance(emb, nn.Embedding):
        raise ValueError(f"embedding={embedding!r} must name an nn.Embedding of the model")
    ids = torch.as_tensor(ids if not isinstance(ids, torch.Tensor) else ids.detach().cpu())
    if ids.dim() != 1 or ids.dtype.is_floating_point or ids.dtype == torch.bool or len(ids) == 0:
        raise ValueError(f"ids must be a non-empty 1-D sequence of token ids, got {ids.tolist()!r:.80}")
    ids = ids.long()
    if ids.min() < 0 or ids.max() >= emb.num_embeddings:
        raise ValueError(f"ids must lie in [0, {emb.num_embeddings}), got values from {ids.min()} to {ids.max()}")
    if len(ids.unique()) != len(ids):
        raise ValueError("ids must not repeat a token id")
    out = None
    if head is not None:
        try:
            out = model.get_submodule(head)
        except AttributeError:
            out = None
        if not isinstance(out, nn.Linear) or out.weight is not emb.weight:
            raise ValueError(
                f"head={head!r} must name an nn.Linear that shares the embedding's weight (weight tying), or be None"
            )
    rows = TokenRows(emb.weight, ids)
    emb.weight.requires_grad_(False)
    _replace(model, embedding, _RowsEmbedding(emb, rows))
    if out is not None:
        _replace(model, head, _RowsLinear(out, rows))
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every :class:`LoRALinear` by its merged ``nn.Linear``, fold any :func:`adapt_token_rows`
    change into its table, and return ``model`` (in place).

    The merged model computes the same function with no adapters left; all its parameters are
    made trainable again, as in a freshly built model.
    """
    names = [name for name, m in model.named_modules() if isinstance(m, LoRALinear)]
    for name in names:
        _replace(model, name, model.get_submodule(name).merged())
    rows_modules = [(name, m) for name, m in model.named_modules() if isinstance(m, _RowsAdapted)]
    folded: set[int] = set()
    for name, m in rows_modules:
        if id(m.rows) not in folded:  # a tied table is changed once
            with torch.no_grad():
                m.base.weight.index_add_(0, m.rows.ids, m.rows.lora_rows)
            folded.add(id(m.rows))
        _replace(model, name, m.base)
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def lora_parameters(model: nn.Module) -> Iterator[nn.Parameter]:
    """Yield the adapters' parameters: ``lora_A`` and ``lora_B`` of every :class:`LoRALinear`, and the
    ``lora_rows`` of every :class:`TokenRows` (once, though a tied table holds it twice)."""
    for m in model.modules():  # modules() yields a shared module once
        if isinstance(m, LoRALinear):
            yield m.lora_A
            yield m.lora_B
        elif isinstance(m, TokenRows):
            yield m.lora_rows
