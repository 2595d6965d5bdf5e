"""The 1,797 handwritten digits bundled with scikit-learn: a tiny, offline image data set.

:func:`load_digits` wraps :func:`sklearn.datasets.load_digits` (the UCI "optical recognition of
handwritten digits" test set, 8 × 8 images with 17 grey levels, shipped inside scikit-learn so no
download is needed). scikit-learn is imported only when the function is called.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["load_digits", "digits_split", "SPLITS", "HELDOUT_PER_CLASS"]

_SIZES = (8, 16)
_MAX_PIXEL = 16.0
SPLITS = ("all", "train", "held_out")
HELDOUT_PER_CLASS = 80


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Read scikit-learn's bundled digits once: ``(1797, 64)`` pixels in 0..16 and labels."""
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as err:
        raise ModuleNotFoundError(
            "load_digits needs scikit-learn, which bundles the data: pip install scikit-learn", name="sklearn"
        ) from err
    bunch = sklearn_load_digits()
    pixels = np.asarray(bunch.data, dtype=np.float32)
    labels = np.asarray(bunch.target, dtype=np.int64)
    pixels.setflags(write=False)
    labels.setflags(write=False)
    return pixels, labels


@functools.lru_cache(maxsize=1)
def _split_indices() -> tuple[torch.Tensor, torch.Tensor]:
    _, labels = _digits_arrays()
    labels = torch.from_numpy(labels.copy())
    gen = torch.Generator().manual_seed(0)
    held = []
    for c in range(10):
        idx = (labels == c).nonzero().flatten()
        held.append(idx[torch.randperm(len(idx), generator=gen)][:HELDOUT_PER_CLASS])
    heldout = torch.cat(held).sort().values
    mask = torch.ones(len(labels), dtype=torch.bool)
    mask[heldout] = False
    return mask.nonzero().flatten(), heldout


def digits_split() -> tuple[torch.Tensor, torch.Tensor]:
    """The book's one fixed split of the 1,797 digits: ``(train_idx, heldout_idx)``, sorted int64.

    Held out: the first ``HELDOUT_PER_CLASS`` = 80 digits of each class in a permutation drawn
    with ``torch.Generator().manual_seed(0)`` (800 digits, class-balanced); training: the other 997.
    Models are judged on digits they never saw: generative models train on ``split="train"``,
    and floors, precision/recall, memorisation checks and the classifier's accuracy use the
    held-out digits. Fresh tensors each call.
    """
    train, heldout = _split_indices()
    return train.clone(), heldout.clone()


def load_digits(size: int = 8, split: str = "all") -> tuple[torch.Tensor, torch.Tensor]:
    """Return scikit-learn's handwritten digits as images in ``[-1, 1]`` and their labels.

    Implements the scaling ``x / 8 - 1`` that maps the original grey levels 0..16 to ``[-1, 1]``
    and, for ``size=16``, a bilinear upsampling (``F.interpolate(..., mode="bilinear",
    align_corners=False)``) clamped back to ``[-1, 1]``.

    Args:
        size: side of the returned images, 8 (the original) or 16.
        split: ``"all"`` (the 1,797 digits), ``"train"`` (997) or ``"held_out"`` (800), the fixed
            split of :func:`digits_split`, in the data set's order.

    Returns:
        ``(images, labels)``: float32 images of shape ``(N, 1, size, size)`` and int64 labels
        of shape ``(N,)`` with values 0..9. Fresh tensors each call (safe to modify).

    Raises:
        TypeError: if ``size`` is not an int or ``split`` not a str.
        ValueError: if ``size`` is not 8 or 16, or ``split`` is not one of :data:`SPLITS`.
        ModuleNotFoundError: if scikit-learn is not installed.
    """
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size must be the int 8 or 16, got {type(size).__name__} {size!r}")
    if size not in _SIZES:
        raise ValueError(f"size must be 8 or 16, got {size}")
    if not isinstance(split, str):
        raise TypeError(f"split must be a str, one of {SPLITS}, got {type(split).__name__}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    pixels, labels = _digits_arrays()
    if split != "all":
        rows = _split_indices()[0 if split == "train" else 1].numpy()
        pixels, labels = pixels[rows], labels[rows]
    images = torch.tensor(pixels).reshape(-1, 1, 8, 8) / (_MAX_PIXEL / 2) - 1.0
    if size == 16:
        images = F.interpolate(images, size=(16, 16), mode="bilinear", align_corners=False)
        images = images.clamp(-1.0, 1.0)
    return images.contiguous(), torch.tensor(labels)
