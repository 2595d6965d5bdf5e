"""Does a model copy its training set? Nearest training neighbours of samples against held-out data.

FD, precision and recall compare a model's samples with real data, and a model that reproduces its
training images exactly scores perfectly on all three. What tells a memoriser from a model that
generalises is *how close* each sample is to the nearest image it was trained on, measured against
the same distance for real images the model never saw (the held-out split): a sample drawn from the
data distribution is, typically, as far from its nearest training image as a held-out image is from
its own. A copy is much closer. (Compare the nearest-neighbour checks of Carlini et al. 2023,
"Extracting training data from diffusion models", and the "data-copying" test of Meehan et al. 2020.)

:func:`memorisation` takes points (flattened pixels, or classifier features from
:func:`~genai_lib.metrics.digits_features`) and returns the distances and two summaries: the share of
samples closer to the training set than all but ``quantile`` of the held-out images ("near copies";
about ``quantile`` for a model that generalises, near 1 for a copier) and the ratio of the median
distances (about 1, or below 1 when samples crowd the training images).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from genai_lib.metrics.modes import _as_points

__all__ = ["Memorisation", "memorisation", "nearest_neighbours"]


class Memorisation(NamedTuple):
    """What :func:`memorisation` measures (distances are Euclidean, in the points' units)."""

    sample_distance: torch.Tensor  # (n,) each sample's distance to its nearest training point
    nearest: torch.Tensor  # (n,) the index of that training point (to show the pairs)
    held_out_distance: torch.Tensor  # (m,) each held-out point's distance to its nearest training point
    threshold: float  # the `quantile` of held_out_distance: closer than this is a near copy
    copy_share: float  # share of samples closer to the training set than `threshold`
    held_out_share: float  # the same share among held-out points (about `quantile`)
    median_ratio: float  # median(sample_distance) / median(held_out_distance)


def nearest_neighbours(
    points: torch.Tensor, reference: torch.Tensor, chunk: int = 1024
) -> tuple[torch.Tensor, torch.Tensor]:
    """Distance to, and index of, each point's nearest row of ``reference`` (exact, in chunks)."""
    distances, indices = [], []
    for start in range(0, len(points), chunk):
        d = torch.cdist(points[start : start + chunk], reference)
        value, index = d.min(dim=1)
        distances.append(value)
        indices.append(index)
    return torch.cat(distances), torch.cat(indices)


def memorisation(
    samples: torch.Tensor | np.ndarray,
    train: torch.Tensor | np.ndarray,
    held_out: torch.Tensor | np.ndarray,
    quantile: float = 0.05,
) -> Memorisation:
    """Compare samples' nearest-training-point distances with held-out data's.

    Args:
        samples: the model's samples as points, shape ``(n, d)``.
        train: the points the model was trained on, ``(N, d)``.
        held_out: real points the model never saw, ``(m, d)``, from the same distribution as ``train``.
        quantile: in (0, 1): the share of held-out points that count as "near" the training set;
            the threshold is that quantile of their distances.

    Returns:
        A :class:`Memorisation`. A model that generalises has ``copy_share`` near ``quantile`` and
        ``median_ratio`` near or above 1; one that copies its training set has ``copy_share`` near 1.

    Raises:
        TypeError: if an input is not a tensor or array, or ``quantile`` not a number.
        ValueError: if an input is not a finite ``(n, d)`` array, the widths differ, or ``quantile``
            is not in (0, 1).
    """
    samples = _as_points(samples, "samples")
    train = _as_points(train, "train")
    held_out = _as_points(held_out, "held_out")
    if not samples.shape[1] == train.shape[1] == held_out.shape[1]:
        raise ValueError(
            f"samples, train and held_out must have the same width, got "
            f"{samples.shape[1]}, {train.shape[1]} and {held_out.shape[1]}"
        )
    if isinstance(quantile, bool) or not isinstance(quantile, (int, float)):
        raise TypeError(f"quantile must be a float in (0, 1), got {type(quantile).__name__}")
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    sample_distance, nearest = nearest_neighbours(samples, train)
    held_out_distance, _ = nearest_neighbours(held_out, train)
    threshold = float(torch.quantile(held_out_distance, quantile))
    return Memorisation(
        sample_distance=sample_distance.float(),
        nearest=nearest,
        held_out_distance=held_out_distance.float(),
        threshold=threshold,
        copy_share=float((sample_distance < threshold).double().mean()),
        held_out_share=float((held_out_distance < threshold).double().mean()),
        median_ratio=float(sample_distance.median() / held_out_distance.median().clamp_min(1e-12)),
    )
