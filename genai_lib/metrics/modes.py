"""Mode coverage and sample quality on Gaussian-mixture toy data (``ring8``, ``grid25``).

The measure of the mode-collapse literature (Srivastava et al. 2017, VEEGAN; Lin et al. 2018,
PacGAN): a generated point is *high quality* when it lies within ``threshold = 3`` standard
deviations of the nearest mixture centre, and a mode is *covered* when enough high-quality points
fall to it. For reference, real samples of a 2-D isotropic Gaussian fall within 3 σ with probability
1 - e^{-9/2} ≈ 98.9 %, so a perfect generator scores about 0.989, not 1.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import numpy as np
import torch

__all__ = ["ModeMetrics", "mode_metrics"]


@dataclass(frozen=True)
class ModeMetrics:
    """What :func:`mode_metrics` measures.

    Attributes:
        num_modes: number of mixture centres.
        modes_covered: modes with at least one high-quality sample.
        modes_well_covered: modes with at least ``min_count`` high-quality samples.
        high_quality_share: fraction of all samples within ``threshold · std`` of their nearest centre.
        counts: high-quality samples per mode, in the order of ``centres``.
        num_samples, min_count, threshold: the inputs, for the record.
    """

    num_modes: int
    modes_covered: int
    modes_well_covered: int
    high_quality_share: float
    counts: tuple[int, ...]
    num_samples: int
    min_count: int
    threshold: float

    def as_dict(self) -> dict[str, object]:
        """The fields as a plain dict (e.g. for a table)."""
        return asdict(self)


def _as_points(value: object, name: str) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or NumPy array of shape (n, d), got {type(value).__name__}")
    if value.dim() != 2 or value.shape[0] < 1:
        raise ValueError(f"{name} must have shape (n, d) with n >= 1, got {tuple(value.shape)}")
    value = value.detach().to("cpu", torch.float64)
    if not torch.isfinite(value).all():
        raise ValueError(f"{name} must be finite (it holds NaN or inf)")
    return value


def mode_metrics(
    samples: torch.Tensor | np.ndarray,
    centres: torch.Tensor | np.ndarray,
    std: float,
    *,
    threshold: float = 3.0,
    min_count: int = 20,
) -> ModeMetrics:
    """Count covered modes and the share of high-quality samples (Srivastava et al. 2017; Lin et al. 2018).

    Each sample is assigned to its nearest centre (Euclidean); it is high quality when that
    distance is at most ``threshold * std``.

    Args:
        samples: generated points, shape ``(n, d)``.
        centres: the mixture centres, shape ``(k, d)`` (e.g. ``genai_lib.data.mode_centres("grid25")``).
        std: the mixtures' standard deviation (e.g. ``genai_lib.data.mode_std("grid25")``), > 0.
        threshold: the radius in standard deviations (3 in the papers).
        min_count: the high-quality samples a mode needs to count as well covered (20 here).

    Returns:
        A :class:`ModeMetrics`.

    Raises:
        TypeError / ValueError: for mis-shaped inputs, dimensions that differ, or non-positive
            ``std`` / ``threshold`` / ``min_count``, naming the argument.
    """
    samples = _as_points(samples, "samples")
    centres = _as_points(centres, "centres")
    if samples.shape[1] != centres.shape[1]:
        raise ValueError(
            f"samples and centres must have the same dimension, got {samples.shape[1]} and {centres.shape[1]}"
        )
    for name, value in (("std", std), ("threshold", threshold)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if isinstance(min_count, bool) or not isinstance(min_count, numbers.Integral) or min_count < 1:
        raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")
    dist = torch.cdist(samples, centres)  # (n, k)
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= threshold * float(std)
    counts = torch.bincount(nearest[good], minlength=centres.shape[0])
    return ModeMetrics(
        num_modes=int(centres.shape[0]),
        modes_covered=int((counts >= 1).sum()),
        modes_well_covered=int((counts >= min_count).sum()),
        high_quality_share=float(good.double().mean()),
        counts=tuple(int(c) for c in counts),
        num_samples=int(samples.shape[0]),
        min_count=int(min_count),
        threshold=float(threshold),
    )
