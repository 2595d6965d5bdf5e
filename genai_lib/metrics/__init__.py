"""Measuring generative models, shared by every part of the book (they take tensors, never models).

* :mod:`~genai_lib.metrics.modes` — :func:`mode_metrics` on Gaussian-mixture toy data: modes
  covered and the share of high-quality samples (VEEGAN / PacGAN's measure);
* :mod:`~genai_lib.metrics.frechet` — :func:`frechet_distance` between feature sets (FID's formula);
* :mod:`~genai_lib.metrics.classifier` — the small digit classifier, trained deterministically on
  first use and cached in-process (never downloaded);
* :mod:`~genai_lib.metrics.digits` — :func:`digits_fd` with its floor and Gaussian-fit reference
  points, class histograms and entropy, mean confidence, class accuracy, :func:`digits_report`;
* :mod:`~genai_lib.metrics.precision_recall` — :func:`precision_recall`: realism and variety of
  samples, measured apart (Kynkäänniemi et al.);
* :mod:`~genai_lib.metrics.memorisation` — :func:`memorisation`: are samples closer to the training
  set than held-out data is (copies), or as far (generalisation)?

Importing this package trains nothing and changes no global state.
"""

from __future__ import annotations

from genai_lib.metrics.classifier import (
    ClassifierConfig,
    DigitsClassifier,
    digits_classifier,
    digits_split,
    heldout_accuracy,
    train_digits_classifier,
)
from genai_lib.metrics.digits import (
    EVAL_SIZE,
    DigitsReport,
    class_accuracy,
    class_entropy,
    class_histogram,
    classify_digits,
    digits_fd,
    digits_fd_floor,
    digits_features,
    digits_report,
    entropy,
    gaussian_fit_fd,
    gaussian_fit_samples,
    mean_confidence,
    reference_stats,
    to_8x8,
)
from genai_lib.metrics.frechet import FeatureStats, feature_stats, frechet_distance
from genai_lib.metrics.memorisation import Memorisation, memorisation, nearest_neighbours
from genai_lib.metrics.modes import ModeMetrics, mode_metrics
from genai_lib.metrics.precision_recall import PrecisionRecall, precision_recall

__all__ = [
    "memorisation",
    "Memorisation",
    "nearest_neighbours",
    "precision_recall",
    "PrecisionRecall",
    "mode_metrics",
    "ModeMetrics",
    "frechet_distance",
    "feature_stats",
    "FeatureStats",
    "ClassifierConfig",
    "DigitsClassifier",
    "digits_split",
    "train_digits_classifier",
    "digits_classifier",
    "heldout_accuracy",
    "EVAL_SIZE",
    "digits_features",
    "reference_stats",
    "digits_fd",
    "digits_fd_floor",
    "gaussian_fit_samples",
    "gaussian_fit_fd",
    "classify_digits",
    "class_histogram",
    "entropy",
    "class_entropy",
    "mean_confidence",
    "class_accuracy",
    "DigitsReport",
    "digits_report",
    "to_8x8",
]
