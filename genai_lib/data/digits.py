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

__all__ = ["load_digits"]

_SIZES = (8, 16)
_MAX_PIXEL = 16.0


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


def load_digits(size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Return scikit-learn's 1,797 handwritten digits as images in ``[-1, 1]`` and their labels.

    Implements the scaling ``x / 8 - 1`` that maps the original grey levels 0..16 to ``[-1, 1]``
    and, for ``size=16``, a bilinear upsampling (``F.interpolate(..., mode="bilinear",
    align_corners=False)``) clamped back to ``[-1, 1]``.

    Args:
        size: side of the returned images, 8 (the original) or 16.

    Returns:
        ``(images, labels)``: float32 images of shape ``(1797, 1, size, size)`` and int64 labels
        of shape ``(1797,)`` with values 0..9. Fresh tensors each call (safe to modify).

    Raises:
        TypeError: if ``size`` is not an int.
        ValueError: if ``size`` is not 8 or 16.
        ModuleNotFoundError: if scikit-learn is not installed.
    """
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size must be the int 8 or 16, got {type(size).__name__} {size!r}")
    if size not in _SIZES:
        raise ValueError(f"size must be 8 or 16, got {size}")
    pixels, labels = _digits_arrays()
    images = torch.tensor(pixels).reshape(-1, 1, 8, 8) / (_MAX_PIXEL / 2) - 1.0
    if size == 16:
        images = F.interpolate(images, size=(16, 16), mode="bilinear", align_corners=False)
        images = images.clamp(-1.0, 1.0)
    return images.contiguous(), torch.tensor(labels)
