"""The key-value cache: why generating token t+1 need not recompute tokens 1..t.

In a causal transformer the keys and values of position i depend only on tokens 1..i, so they do
not change when a new token is appended. Generating without a cache recomputes all of them at
every step: O(T) work per layer per new token for the projections and MLPs, O(T²) in total for a
T-token continuation. With a cache each step computes the query, key and value of the *new*
token only, appends key and value to the cache, and attends over the cached ones.

The buffers are allocated once, at full size (``max_len`` positions), and filled in place, so a
step costs no reallocation. They are meant for inference under ``torch.no_grad()``: writing into
a buffer in place would break autograd's record of earlier steps.
"""

from __future__ import annotations

import torch

__all__ = ["LayerKVCache", "KVCache"]


class LayerKVCache:
    """Keys and values of one attention layer, shape ``(batch, n_head, max_len, head_dim)``."""

    def __init__(
        self,
        batch_size: int,
        n_head: int,
        max_len: int,
        head_dim: int,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        shape = (batch_size, n_head, max_len, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0  # positions filled so far

    @property
    def max_len(self) -> int:
        return self.k.size(2)

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the new positions' ``k`` and ``v`` (``(B, n_head, T_new, head_dim)``) and return
        the keys and values of every position so far, ``(B, n_head, length, head_dim)``."""
        start, end = self.length, self.length + k.size(2)
        if end > self.max_len:
            raise ValueError(
                f"the KV cache holds {self.max_len} positions; cannot append {k.size(2)} to the {start} already there"
            )
        if k.shape[:2] != self.k.shape[:2] or k.size(3) != self.k.size(3):
            raise ValueError(
                f"k has shape {tuple(k.shape)}; this cache holds (batch, n_head, *, head_dim) = "
                f"{tuple(self.k.shape[:2])} and {self.k.size(3)}"
            )
        self.k[:, :, start:end] = k
        self.v[:, :, start:end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]


class KVCache:
    """One :class:`LayerKVCache` per transformer block; ``len(cache)`` is the positions filled.

    Args:
        n_layer, n_head, head_dim: the model's shape (``GPT.new_cache`` fills them in).
        batch_size: sequences generated side by side.
        max_len: the most positions the cache can hold (the model's ``block_size``).
    """

    def __init__(
        self,
        n_layer: int,
        batch_size: int,
        n_head: int,
        max_len: int,
        head_dim: int,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.layers = [
            LayerKVCache(batch_size, n_head, max_len, head_dim, device=device, dtype=dtype) for _ in range(n_layer)
        ]

    def __len__(self) -> int:
        return self.layers[0].length

    def __getitem__(self, layer: int) -> LayerKVCache:
        return self.layers[layer]

    @property
    def max_len(self) -> int:
        return self.layers[0].max_len

    @property
    def nbytes(self) -> int:
        """Memory the buffers hold: 2 (keys and values) × n_layer × batch × n_head × max_len × head_dim values."""
        return sum(layer.k.nbytes + layer.v.nbytes for layer in self.layers)

    def reset(self) -> None:
        """Forget every position (the buffers are kept and overwritten)."""
        for layer in self.layers:
            layer.length = 0
