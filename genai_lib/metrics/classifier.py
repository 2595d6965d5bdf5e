"""A small digit classifier, trained deterministically in seconds, that the digit metrics look through.

The 8×8 digits have no Inception network, so the book trains its own judge: an MLP
64 → 256 → 32 → 10 (SiLU), on a fixed training split of scikit-learn's digits, with fixed seeds and
a fixed number of steps, on the CPU. Its 32 penultimate activations are the features of the
"digits FD" (:func:`genai_lib.metrics.digits.digits_fd`); its softmax gives class histograms and
confidences. It is never downloaded and never stored: :func:`digits_classifier` trains it on first
use (about 3 s on one core) and caches it for the rest of the process.

The split holds out 80 digits of every class (800 in all) with a fixed permutation; the classifier
trains on the other 997, with light Gaussian pixel noise (σ = 0.2) as augmentation so that its
features do not hinge on single pixels. Its held-out accuracy is printed by :func:`heldout_accuracy`
and asserted ≥ 97 % in the tests.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genai_lib.data import load_digits
from genai_lib.data.digits import HELDOUT_PER_CLASS, digits_split

__all__ = [
    "ClassifierConfig",
    "DigitsClassifier",
    "digits_split",
    "train_digits_classifier",
    "digits_classifier",
    "heldout_accuracy",
    "HELDOUT_PER_CLASS",
]


@dataclass(frozen=True)
class ClassifierConfig:
    """How the reference classifier is built and trained (change it and every FD changes too)."""

    hidden: int = 256
    features: int = 32
    steps: int = 1500
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    noise: float = 0.2
    seed: int = 0


class DigitsClassifier(nn.Module):
    """An MLP 64 → hidden → features → 10 with SiLU; :meth:`features` gives the penultimate activations."""

    def __init__(self, hidden: int = 256, features: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, hidden), nn.SiLU(), nn.Linear(hidden, features), nn.SiLU())
        self.head = nn.Linear(features, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations ``(N, features)`` of flattened digits ``(N, 64)`` in [-1, 1]."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, 10)`` of flattened digits ``(N, 64)``."""
        return self.head(self.body(x))


def train_digits_classifier(config: ClassifierConfig = ClassifierConfig()) -> DigitsClassifier:
    """Train a :class:`DigitsClassifier` on the training split, deterministically, on the CPU.

    Initial weights come from ``torch.manual_seed(config.seed)`` inside ``torch.random.fork_rng``
    (the global random state is restored afterwards); batches and augmentation noise from a private
    generator seeded ``config.seed + 1``. Training runs on one CPU thread (restored afterwards): the
    network is too small to gain from more, and one thread makes the weights — and so every FD — the
    same bit for bit on every machine.

    Returns:
        The trained classifier in eval mode with gradients switched off.
    """
    if not isinstance(config, ClassifierConfig):
        raise TypeError(f"config must be a ClassifierConfig, got {type(config).__name__}")
    images, labels = load_digits(8)
    x = images.reshape(-1, 64)
    train_idx, _ = digits_split()
    threads = torch.get_num_threads()
    # Grad mode on even when the first use happens inside a caller's no_grad / inference_mode block.
    with torch.inference_mode(False), torch.enable_grad():
        try:
            torch.set_num_threads(1)
            return _train(config, x, labels, train_idx)
        finally:
            torch.set_num_threads(threads)


def _train(
    config: ClassifierConfig, x: torch.Tensor, labels: torch.Tensor, train_idx: torch.Tensor
) -> DigitsClassifier:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = DigitsClassifier(config.hidden, config.features)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(config.seed + 1)
    for _ in range(config.steps):
        batch = train_idx[torch.randint(len(train_idx), (config.batch_size,), generator=gen)]
        noisy = x[batch] + config.noise * torch.randn(config.batch_size, 64, generator=gen)
        loss = F.cross_entropy(model(noisy), labels[batch])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval().requires_grad_(False)


@functools.lru_cache(maxsize=1)
def digits_classifier() -> DigitsClassifier:
    """The reference classifier: trained on first call (:func:`train_digits_classifier`), then cached."""
    return train_digits_classifier()


def heldout_accuracy() -> float:
    """The reference classifier's accuracy on the 800 held-out digits (≈ 0.99)."""
    images, labels = load_digits(8)
    _, heldout = digits_split()
    with torch.no_grad():
        pred = digits_classifier()(images.reshape(-1, 64)[heldout]).argmax(dim=1)
    return float((pred == labels[heldout]).double().mean())
