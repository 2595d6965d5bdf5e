"""Scaled dot-product attention, the causal mask, and multi-head causal self-attention.

Attention (Vaswani et al. 2017, eq. 1) mixes the values ``V`` of all positions with weights that
say how well each position's key ``K`` matches the current query ``Q``::

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k + M) V                                   (1)

``d_k`` is the key dimension and ``M`` a mask that is 0 where attending is allowed and -∞ where
it is not. Dividing by √d_k keeps the scores' variance near 1 whatever the head size (a dot
product of d_k unit-variance terms has variance d_k), so the softmax does not saturate; a larger
divisor acts like a higher softmax temperature and spreads the weights.

:func:`attention` computes eq. (1) step by step and returns the weights, which the attention-map
explorer draws. :class:`CausalSelfAttention` is the multi-head layer of the GPT; in training it
calls torch's fused ``scaled_dot_product_attention``, which computes the same thing without
storing the ``T × T`` weight matrix, and switches to :func:`attention` only when weights are asked
for. The tests check that the two paths agree.

Two options of the layer come from later models (both off by default, which is GPT-2's layer):
``n_kv_head < n_head`` is grouped-query attention (Ainslie et al. 2023): the heads are split into
``n_kv_head`` groups and each group shares one key and one value head, so the KV cache is
``n_head / n_kv_head`` times smaller; and ``rope=(cos, sin)`` in ``forward`` rotates queries and
keys by their positions (RoPE, :mod:`genai_lib.llm.positions`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from genai_lib.llm.kv_cache import LayerKVCache
from genai_lib.llm.positions import apply_rope

__all__ = ["causal_mask", "attention", "CausalSelfAttention"]


def causal_mask(t_q: int, t_k: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Return the ``(t_q, t_k)`` boolean mask, True where a query may attend to a key.

    The queries are the *last* ``t_q`` of ``t_k`` positions (with a KV cache, the new tokens
    after ``t_k - t_q`` cached ones), so query ``i`` sees keys ``0 .. i + t_k - t_q``: never the
    future. For ``t_q == t_k`` this is the usual lower-triangular matrix.
    """
    if t_q > t_k:
        raise ValueError(f"t_q must be <= t_k (queries are the last positions), got t_q={t_q}, t_k={t_k}")
    rows = torch.arange(t_q, device=device).unsqueeze(1) + (t_k - t_q)
    cols = torch.arange(t_k, device=device).unsqueeze(0)
    return cols <= rows


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention from scratch, eq. (1) of Vaswani et al. (2017).

    Args:
        q: queries ``(..., T_q, d_k)``.
        k: keys ``(..., T_k, d_k)``.
        v: values ``(..., T_k, d_v)``.
        causal: mask the future, :func:`causal_mask` (queries are the last ``T_q`` positions).
        mask: an extra mask broadcastable to ``(..., T_q, T_k)``: boolean (True = may attend) or
            float (added to the scores), as in ``torch.nn.functional.scaled_dot_product_attention``.
        scale: the factor on the scores; default ``1 / sqrt(d_k)``.

    Returns:
        ``(output, weights)``: output ``(..., T_q, d_v)`` and the attention weights
        ``(..., T_q, T_k)``, each row a probability distribution over the keys.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or t.dim() < 2:
            raise TypeError(f"{name} must be a tensor of shape (..., T, d), got {type(t).__name__}")
    if q.size(-1) != k.size(-1):
        raise ValueError(f"q and k must share the last dimension d_k, got {q.size(-1)} and {k.size(-1)}")
    if k.size(-2) != v.size(-2):
        raise ValueError(f"k and v must have the same number of positions, got {k.size(-2)} and {v.size(-2)}")
    t_q, t_k = q.size(-2), k.size(-2)
    scale = 1.0 / math.sqrt(q.size(-1)) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., T_q, T_k): how well query i matches key j
    if causal:
        scores = scores.masked_fill(~causal_mask(t_q, t_k, q.device), float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    weights = torch.softmax(scores, dim=-1)  # exp(-inf) = 0: masked keys get no weight
    return weights @ v, weights


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention (Vaswani et al. 2017, section 3.2.2), GPT-2's layout.

    One linear map ``c_attn`` makes queries, keys and values for all heads at once; each head
    attends in its own ``head_dim = n_embd / n_head`` subspace, so heads can track different
    relations (the previous token, the speaker's name, the matching bracket) at the cost of one.
    ``c_proj`` mixes the heads' outputs back into the residual stream.

    Args:
        n_embd: width of the residual stream.
        n_head: number of heads; must divide ``n_embd``.
        dropout: dropout on the attention weights and on the output.
        bias: biases in the two linear maps (GPT-2 has them).
        n_kv_head: key/value heads (grouped-query attention, Ainslie et al. 2023); must divide
            ``n_head``. None (or ``n_head``) is multi-head attention; 1 is multi-query attention.
            ``c_attn`` then makes ``n_embd`` query columns and ``n_kv_head * head_dim`` columns
            each of keys and values.
    """

    def __init__(
        self, n_embd: int, n_head: int, *, dropout: float = 0.0, bias: bool = True, n_kv_head: int | None = None
    ) -> None:
        super().__init__()
        if n_embd % n_head != 0:
            raise ValueError(f"n_embd must be divisible by n_head, got n_embd={n_embd}, n_head={n_head}")
        n_kv_head = n_head if n_kv_head is None else n_kv_head
        if isinstance(n_kv_head, bool) or not isinstance(n_kv_head, int) or n_kv_head < 1 or n_head % n_kv_head:
            raise ValueError(f"n_kv_head must be a positive divisor of n_head={n_head}, got {n_kv_head!r}")
        self.n_head, self.n_embd, self.head_dim = n_head, n_embd, n_embd // n_head
        self.n_kv_head, self.kv_dim = n_kv_head, n_kv_head * (n_embd // n_head)
        self.dropout = dropout
        self.c_attn = nn.Linear(n_embd, n_embd + 2 * self.kv_dim, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        cache: LayerKVCache | None = None,
        need_weights: bool = False,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend over ``x`` ``(B, T, n_embd)``; return ``(y, weights)``.

        ``weights`` is ``(B, n_head, T, T_k)`` when ``need_weights`` (computed by :func:`attention`),
        else None (computed by the fused kernel). With ``cache``, ``x`` holds only the new
        positions, and their keys and values are appended to the cache before attending. With
        ``rope``, the ``(T, head_dim)`` cosines and sines of the new positions
        (:func:`~genai_lib.llm.positions.rope_angles`), queries and keys are rotated before the
        keys are cached.
        """
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split([self.n_embd, self.kv_dim, self.kv_dim], dim=2)
        # (B, T, C) -> (B, n_head, T, head_dim): the heads become a batch dimension.
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        k, v = (t.view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2) for t in (k, v))
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if cache is not None:
            k, v = cache.append(k, v)  # the cache holds n_kv_head heads: that is GQA's saving
        if self.n_kv_head != self.n_head:  # every query head of a group reads its group's key and value
            group = self.n_head // self.n_kv_head
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        t_k = k.size(2)
        weights = None
        if need_weights:
            y, weights = attention(q, k, v, causal=True)
            if self.training and self.dropout > 0:
                y = F.dropout(weights, self.dropout) @ v
        else:
            # The fused kernel's is_causal aligns the mask to the top-left corner, which is right
            # only when queries and keys are the same positions; one new query after a cache
            # sees every cached key, and any other shape gets the explicit mask.
            mask = None if T == t_k or T == 1 else causal_mask(T, t_k, x.device)
            y = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=mask,
                is_causal=(T == t_k and T > 1),
                dropout_p=self.dropout if self.training else 0.0,
            )
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # re-assemble the heads side by side
        return self.resid_dropout(self.c_proj(y)), weights
