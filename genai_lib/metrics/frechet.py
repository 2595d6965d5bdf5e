"""The Fréchet distance between two sets of features, each summarised by a Gaussian.

For Gaussians N(μ₁, Σ₁) and N(μ₂, Σ₂) the squared 2-Wasserstein (Fréchet) distance is
(Dowson & Landau 1982)

    d² = ‖μ₁ - μ₂‖² + Tr(Σ₁ + Σ₂ - 2 (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}),

the formula behind FID (Heusel et al. 2017), where the features come from an Inception network.
Here any feature extractor will do (:mod:`genai_lib.metrics.digits` uses a small digit classifier).
The trace of the matrix square root is computed from the symmetric matrix Σ₁^{1/2} Σ₂ Σ₁^{1/2}
with eigen-decompositions, which is real and stable where ``scipy.linalg.sqrtm(Σ₁ Σ₂)`` can return
small imaginary parts; the tests check the two agree.

The estimate is biased upwards for small samples (the covariances are estimated from n points), so
compare distances only at equal sample sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["FeatureStats", "feature_stats", "frechet_distance"]


@dataclass(frozen=True)
class FeatureStats:
    """The mean ``mu`` ``(d,)``, covariance ``cov`` ``(d, d)`` (float64) and count ``n`` of a feature set."""

    mu: np.ndarray
    cov: np.ndarray
    n: int


def feature_stats(features: np.ndarray | torch.Tensor) -> FeatureStats:
    """Summarise ``(n, d)`` features by their mean and unbiased covariance (divisor n - 1).

    Raises:
        TypeError: if ``features`` is not an array or tensor.
        ValueError: if it is not 2-D with n ≥ 2 rows, or holds non-finite values.
    """
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().double().numpy()
    if not isinstance(features, np.ndarray):
        raise TypeError(f"features must be a NumPy array or a torch.Tensor, got {type(features).__name__}")
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"features must have shape (n, d) with n >= 2, got {features.shape}")
    if not np.isfinite(features).all():
        raise ValueError("features must be finite (the samples hold NaN or inf?)")
    return FeatureStats(
        features.mean(axis=0), np.cov(features, rowvar=False).reshape(features.shape[1], -1), int(features.shape[0])
    )


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (negative round-off clipped)."""
    w, v = np.linalg.eigh((matrix + matrix.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(a: FeatureStats | np.ndarray | torch.Tensor, b: FeatureStats | np.ndarray | torch.Tensor) -> float:
    """The Fréchet distance d² between two feature sets (Dowson & Landau 1982; Heusel et al. 2017, Eq. 6).

    Args:
        a, b: :class:`FeatureStats`, or ``(n, d)`` feature arrays/tensors (summarised with :func:`feature_stats`).

    Returns:
        d² as a float (≥ 0 up to round-off; it is the *squared* distance, as FID reports it).

    Raises:
        ValueError: if the two feature dimensions differ.
    """
    a = a if isinstance(a, FeatureStats) else feature_stats(a)
    b = b if isinstance(b, FeatureStats) else feature_stats(b)
    if a.mu.shape != b.mu.shape:
        raise ValueError(f"a and b must have the same feature dimension, got {a.mu.shape[0]} and {b.mu.shape[0]}")
    root = _psd_sqrt(a.cov)
    middle = root @ b.cov @ root
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = a.mu - b.mu
    return float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2 * tr_sqrt)
