"""Improved precision and recall of generated samples (Kynkäänniemi et al. 2019).

A Fréchet distance folds two failures into one number: samples that look wrong, and variety that
is missing. Precision and recall separate them. Each is measured in a feature space (for digits,
:func:`genai_lib.metrics.digits_features`):

* around every real feature vector draw a ball reaching its ``k``-th nearest real neighbour; their
  union estimates where real data lives. **Precision** is the share of generated vectors inside
  that union — are the samples realistic?
* swap the roles — balls around the generated vectors — and **recall** is the share of *real*
  vectors inside their union: how much of the real variety do the samples reach?
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from genai_lib._checks import check_int
from genai_lib.metrics.modes import _as_points  # (n, d) array or tensor -> finite float64 tensor

__all__ = ["precision_recall", "PrecisionRecall"]


class PrecisionRecall(NamedTuple):
    """The two shares, each in [0, 1]."""

    precision: float
    recall: float


def _radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Each vector's distance to its k-th nearest neighbour in the same set (itself excluded)."""
    return torch.cdist(x, x).kthvalue(k + 1, dim=1).values


def precision_recall(real: object, fake: object, k: int = 5) -> PrecisionRecall:
    """Improved precision and recall of ``fake`` feature vectors against ``real`` ones.

    Args:
        real: ``(n, d)`` features of real data (a tensor or a NumPy array).
        fake: ``(m, d)`` features of generated samples, the same ``d``.
        k: the neighbour that sets each ball's radius (the paper uses 3; more smooths the estimate).
            Each set needs more than ``k`` vectors.

    Returns:
        :class:`PrecisionRecall` ``(precision, recall)``.
    """
    real, fake = _as_points(real, "real"), _as_points(fake, "fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"real and fake must have the same feature size, got {real.shape[1]} and {fake.shape[1]}")
    k = check_int(k, "k", minimum=1)
    for name, x in (("real", real), ("fake", fake)):
        if len(x) <= k:
            raise ValueError(f"{name} holds {len(x)} vectors; k={k} needs at least {k + 1}")
    dist = torch.cdist(real, fake)  # (n, m)
    precision = (dist <= _radii(real, k)[:, None]).any(dim=0).double().mean()
    recall = (dist <= _radii(fake, k)[None, :]).any(dim=1).double().mean()
    return PrecisionRecall(float(precision), float(recall))
