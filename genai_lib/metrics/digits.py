"""How good are generated digits? Fréchet distance, class histogram, entropy and confidence.

All measurements look through the reference classifier of :mod:`genai_lib.metrics.classifier`:

* **digits FD** (:func:`digits_fd`) — the Fréchet distance (:mod:`genai_lib.metrics.frechet`)
  between the classifier's 32 penultimate features of the generated digits and of the real digits
  of its training split (997 digits): FID's recipe (Heusel et al. 2017) with a judge that fits 8×8.
  Two reference points, computed the same way, give the number a scale:

  - the **floor** (:func:`digits_fd_floor`): the 800 held-out real digits — what a perfect
    generator would score with 800 samples (it is not 0: finite samples and a judge that has seen
    the reference digits but not these);
  - the **Gaussian fit** (:func:`gaussian_fit_fd`): 800 samples of a Gaussian with the pixels'
    mean and covariance — what "right first and second moments, no structure" scores.

  FD is biased upwards for small samples, so compare at equal sample sizes: 800 generated digits
  match both references.
* **class histogram** (:func:`class_histogram`) and its **entropy** in nats (:func:`class_entropy`;
  ln 10 ≈ 2.303 when all ten digits are equally common) — does the generator make every digit?
* **mean confidence** (:func:`mean_confidence`) — the mean top softmax probability: do the samples
  look like *some* digit, clearly?
* **class accuracy** (:func:`class_accuracy`) — the share classified as the requested label
  (for class-conditional models and guidance).

Samples are 8×8 digits in [-1, 1] (the scale of :func:`genai_lib.data.load_digits`) shaped
``(N, 1, 8, 8)``, ``(N, 8, 8)`` or ``(N, 64)``. 16×16 digits are read at 8×8 through the
least-squares inverse of :func:`~genai_lib.data.load_digits`'s bilinear upsampling (:func:`to_8x8`),
which returns real 16×16 digits exactly to their 8×8 originals. (Averaging 2×2 blocks would blur
them a second time: real digits would then score an FD of about 55, worse than the Gaussian fit.)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from genai_lib.data import load_digits
from genai_lib.metrics.classifier import digits_classifier, digits_split
from genai_lib.metrics.frechet import FeatureStats, feature_stats, frechet_distance

__all__ = [
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
    "EVAL_SIZE",
    "to_8x8",
]

EVAL_SIZE = 800  # the held-out set's size: the sample size at which the reference points are computed


@functools.lru_cache(maxsize=1)
def _upsampling_pinv() -> torch.Tensor:
    """The pseudo-inverse ``(64, 256)`` of load_digits(16)'s upsampling, a linear map U: R^64 -> R^256."""
    basis = torch.eye(64, dtype=torch.float64).reshape(64, 1, 8, 8)
    up = F.interpolate(basis, size=(16, 16), mode="bilinear", align_corners=False).reshape(64, 256).T
    return torch.linalg.pinv(up).to(torch.float32)


def to_8x8(images: torch.Tensor) -> torch.Tensor:
    """Least-squares 8×8 digits ``(N, 1, 8, 8)`` of 16×16 images ``(N, 1, 16, 16)``.

    :func:`~genai_lib.data.load_digits` makes 16×16 digits by bilinear upsampling, a full-rank
    linear map U; ``U⁺ x`` is the 8×8 image whose upsampling is closest to ``x`` (exact for real
    digits, up to float rounding).
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1:] != (1, 16, 16):
        raise ValueError(
            f"images must be a tensor shaped (N, 1, 16, 16), got "
            f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}"
        )
    x = images.detach().to("cpu", torch.float32).reshape(len(images), 256)
    return (x @ _upsampling_pinv().T).reshape(-1, 1, 8, 8)


def _as_digits(samples: object, name: str = "samples") -> torch.Tensor:
    """Return ``samples`` as a float32 CPU tensor ``(N, 64)``; 16×16 images are read at 8×8 by :func:`to_8x8`."""
    if isinstance(samples, np.ndarray):
        samples = torch.from_numpy(samples)
    if not isinstance(samples, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or NumPy array of digits, got {type(samples).__name__}")
    x = samples.detach().to("cpu", torch.float32)
    if x.dim() == 2 and x.shape[1] in (64, 256):
        side = int(math.isqrt(x.shape[1]))
        x = x.reshape(-1, 1, side, side)
    elif x.dim() == 3 and x.shape[1:] in ((8, 8), (16, 16)):
        x = x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1:] not in ((1, 8, 8), (1, 16, 16)) or x.shape[0] < 1:
        raise ValueError(
            f"{name} must be digits shaped (N, 1, 8, 8), (N, 8, 8), (N, 64) or the 16×16 "
            f"equivalents, got {tuple(samples.shape)}"
        )
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} must be finite (it holds NaN or inf)")
    if x.shape[-1] == 16:
        x = to_8x8(x)
    return x.reshape(x.shape[0], 64)


def digits_features(samples: torch.Tensor | np.ndarray) -> np.ndarray:
    """The reference classifier's penultimate features of ``samples``: float64 ``(N, 32)``."""
    x = _as_digits(samples)
    with torch.no_grad():
        return digits_classifier().features(x).double().numpy()


def _real_digits(indices: torch.Tensor) -> torch.Tensor:
    images, _ = load_digits(8)
    return images[indices]


@functools.lru_cache(maxsize=1)
def reference_stats() -> FeatureStats:
    """Mean and covariance of the features of the classifier's 997 training digits: FD's reference."""
    train_idx, _ = digits_split()
    return feature_stats(digits_features(_real_digits(train_idx)))


def _stats(reference: object) -> FeatureStats:
    if reference is None:
        return reference_stats()
    if isinstance(reference, FeatureStats):
        return reference
    return feature_stats(digits_features(_as_digits(reference, "reference")))


def digits_fd(
    samples: torch.Tensor | np.ndarray, reference: FeatureStats | torch.Tensor | np.ndarray | None = None
) -> float:
    """The digits FD: Fréchet distance between classifier features of ``samples`` and ``reference``.

    Args:
        samples: generated digits (at least 2; use :data:`EVAL_SIZE` = 800 to compare with the
            floor and the Gaussian fit, which are computed at that size).
        reference: ``None`` for the real training-split digits (:func:`reference_stats`), other
            digits to compare with, or precomputed :class:`~genai_lib.metrics.frechet.FeatureStats`.

    Returns:
        The squared Fréchet distance (lower is better; see :func:`digits_fd_floor` and
        :func:`gaussian_fit_fd` for the scale).
    """
    return frechet_distance(feature_stats(digits_features(samples)), _stats(reference))


@functools.lru_cache(maxsize=1)
def digits_fd_floor() -> float:
    """The floor: digits FD of the 800 held-out real digits (what a perfect generator scores at n = 800)."""
    _, heldout = digits_split()
    return digits_fd(_real_digits(heldout))


def gaussian_fit_samples(n: int = EVAL_SIZE, seed: int = 0) -> torch.Tensor:
    """``n`` digits drawn from N(μ, Σ), the Gaussian fitted to the training digits' 64 pixels.

    Drawn as μ + V diag(√λ) z with Σ = V diag(λ) Vᵀ (z from a generator seeded ``seed``), which works
    although Σ is singular (the corner pixels never vary). Not clipped to [-1, 1].

    Returns:
        Float32 images ``(n, 1, 8, 8)``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    train_idx, _ = digits_split()
    pixels = _real_digits(train_idx).reshape(-1, 64).double()
    mu, cov = pixels.mean(dim=0), torch.cov(pixels.T)
    w, v = torch.linalg.eigh(cov)
    z = torch.randn(n, 64, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (mu + (z * w.clamp(min=0).sqrt()) @ v.T).float().reshape(n, 1, 8, 8)


@functools.lru_cache(maxsize=8)
def gaussian_fit_fd(n: int = EVAL_SIZE, seed: int = 0) -> float:
    """The digits FD of :func:`gaussian_fit_samples` ``(n, seed)``: the "moments right, no structure" reference."""
    return digits_fd(gaussian_fit_samples(n, seed))


def classify_digits(samples: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Class probabilities ``(N, 10)`` from the reference classifier (softmax of its logits)."""
    x = _as_digits(samples)
    with torch.no_grad():
        return digits_classifier()(x).softmax(dim=1)


def class_histogram(samples: torch.Tensor | np.ndarray) -> torch.Tensor:
    """How many ``samples`` the classifier assigns to each digit: int64 counts ``(10,)``."""
    return torch.bincount(classify_digits(samples).argmax(dim=1), minlength=10)


def entropy(counts: torch.Tensor | np.ndarray) -> float:
    """Shannon entropy H = -Σ p_k ln p_k in nats of the distribution proportional to ``counts`` (0 ln 0 = 0).

    Raises:
        ValueError: if ``counts`` is not 1-D, has negative entries or sums to 0.
    """
    p = torch.as_tensor(np.asarray(counts) if isinstance(counts, np.ndarray) else counts).double()
    if p.dim() != 1 or (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"counts must be a 1-D tensor of non-negative counts with a positive sum, got {counts!r}")
    p = p / p.sum()
    nz = p[p > 0]
    return float(-(nz * nz.log()).sum())


def class_entropy(samples: torch.Tensor | np.ndarray) -> float:
    """Entropy in nats of :func:`class_histogram` (ln 10 ≈ 2.303 when every digit is equally common)."""
    return entropy(class_histogram(samples))


def mean_confidence(samples: torch.Tensor | np.ndarray) -> float:
    """The mean over ``samples`` of the classifier's top class probability (1 = unmistakable digits)."""
    return float(classify_digits(samples).max(dim=1).values.double().mean())


def class_accuracy(samples: torch.Tensor | np.ndarray, labels: torch.Tensor) -> float:
    """The share of ``samples`` classified as the digit in ``labels`` (int64 ``(N,)``), e.g. for guidance.

    Raises:
        ValueError: if ``labels`` does not hold one digit 0..9 per sample.
    """
    probs = classify_digits(samples)
    labels = torch.as_tensor(labels)
    if labels.shape != (probs.shape[0],) or labels.is_floating_point() or (labels < 0).any() or (labels > 9).any():
        raise ValueError(f"labels must be {probs.shape[0]} integer digits 0..9, got shape {tuple(labels.shape)}")
    return float((probs.argmax(dim=1) == labels.cpu()).double().mean())


@dataclass(frozen=True)
class DigitsReport:
    """All digit measurements of one sample set (see :func:`digits_report`)."""

    n: int
    fd: float
    floor: float
    gaussian_fit: float
    histogram: tuple[int, ...]
    entropy: float
    confidence: float

    def __str__(self) -> str:
        return (
            f"digits FD {self.fd:.3g} (n={self.n}; floor {self.floor:.3g}, Gaussian fit {self.gaussian_fit:.3g}) · "
            f"class entropy {self.entropy:.3f} nats (max {math.log(10):.3f}) · mean confidence {self.confidence:.3f}"
        )


def digits_report(samples: torch.Tensor | np.ndarray) -> DigitsReport:
    """Measure ``samples`` once with everything above; ``print(report)`` gives the one-line summary."""
    hist = class_histogram(samples)
    return DigitsReport(
        n=int(hist.sum()),
        fd=digits_fd(samples),
        floor=digits_fd_floor(),
        gaussian_fit=gaussian_fit_fd(),
        histogram=tuple(int(c) for c in hist),
        entropy=entropy(hist),
        confidence=mean_confidence(samples),
    )
