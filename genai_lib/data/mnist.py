"""MNIST and Fashion-MNIST from local IDX files, with an explicit, opt-in download.

:func:`load_mnist` never reaches the network unless it is called with ``download=True``, and it
never substitutes another data set for the one asked for. It looks for the four IDX files
(``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each plain or gzipped) in, in order:

1. ``root`` and ``root/MNIST/raw`` or ``root/FashionMNIST/raw`` when ``root`` is given;
2. otherwise, for Fashion-MNIST, ``/usr/share/datasets/fashion-mnist``, where Debian's package
   ``dataset-fashion-mnist`` installs the gzipped files (``apt-get install dataset-fashion-mnist``);
3. otherwise torchvision's layout under the cache folder ``~/.cache/genai_lib``
   (``MNIST/raw`` or ``FashionMNIST/raw``), which is where ``download=True`` puts them.

:func:`read_idx` parses one IDX file with NumPy (LeCun's format: two zero bytes, a type code, the
number of dimensions, then each dimension as a big-endian 32-bit integer, then the data).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

from genai_lib._checks import check_choice

__all__ = ["load_mnist", "read_idx", "DEBIAN_FASHION_MNIST_DIR", "CACHE_DIR_NAME"]

DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
CACHE_DIR_NAME = "genai_lib"  # the cache folder is ~/.cache/genai_lib

_KINDS = ("digits", "fashion")
_SPLITS = ("train", "test")
_TORCHVISION_FOLDER = {"digits": "MNIST", "fashion": "FashionMNIST"}
_FILE_PREFIX = {"train": "train", "test": "t10k"}
_SIDE = 28

# IDX type codes (third magic byte) and the big-endian NumPy dtypes they stand for.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Parse one IDX file (optionally gzipped) into a NumPy array.

    Implements LeCun's IDX format: bytes 0-1 are zero, byte 2 is the element type (0x08 unsigned
    byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), byte 3 the number
    of dimensions ``d``; then ``d`` big-endian uint32 sizes, then the data in C order. Files whose
    name ends in ``.gz`` are decompressed first.

    Returns:
        An array of the stored shape, in native byte order.

    Raises:
        ValueError: if the magic number is wrong or the data length does not match the sizes; the
            message names the file.
    """
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: IDX header promises {ndim} dimensions but the file is {len(raw)} bytes")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: IDX shape {shape} needs {expected} data bytes, found {len(raw) - header}")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _cache_dir() -> Path:
    """Return ``~/.cache/genai_lib`` (resolved when called, so tests can move ``HOME``)."""
    return Path.home() / ".cache" / CACHE_DIR_NAME


def _candidate_dirs(kind: str, root: Path | None) -> list[Path]:
    """List the folders searched for ``kind``'s IDX files, in order (see the module docstring)."""
    folder = _TORCHVISION_FOLDER[kind]
    if root is not None:
        return [root, root / folder / "raw"]
    dirs = [DEBIAN_FASHION_MNIST_DIR] if kind == "fashion" else []
    return dirs + [_cache_dir() / folder / "raw"]


def _find_file(directory: Path, stem: str) -> Path | None:
    """Return ``directory/stem`` or ``directory/stem.gz``, whichever exists first, else None."""
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def _find_split(dirs: list[Path], split: str) -> tuple[Path, Path] | None:
    """Return the (images, labels) files of ``split`` from the first folder that has both."""
    prefix = _FILE_PREFIX[split]
    for directory in dirs:
        images = _find_file(directory, f"{prefix}-images-idx3-ubyte")
        labels = _find_file(directory, f"{prefix}-labels-idx1-ubyte")
        if images is not None and labels is not None:
            return images, labels
    return None


def _to_tensors(
    images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale uint8 ``(N, 28, 28)`` images to float32 ``(N, 1, 28, 28)`` in [-1, 1]; labels to int64."""
    images = torch.as_tensor(np.asarray(images, dtype=np.uint8))
    labels = torch.as_tensor(np.asarray(labels)).to(torch.int64)
    return images.to(torch.float32).div(127.5).sub(1.0).unsqueeze(1).contiguous(), labels


def _load_files(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Read and check one split's IDX pair."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (_SIDE, _SIDE):
        raise ValueError(
            f"{images_path}: expected uint8 images of shape (N, 28, 28), got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(
            f"{labels_path}: expected {len(images)} labels to match {images_path}, got shape {labels.shape}"
        )
    return _to_tensors(images, labels)


def _download(kind: str, split: str, target: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Download with torchvision's dataset class into ``target`` and return the split."""
    try:
        from torchvision import datasets
    except ImportError as err:
        raise ModuleNotFoundError(
            "load_mnist(download=True) uses torchvision to download the data: pip install torchvision",
            name="torchvision",
        ) from err
    dataset_class = getattr(datasets, _TORCHVISION_FOLDER[kind])
    target.mkdir(parents=True, exist_ok=True)
    dataset = dataset_class(root=str(target), train=(split == "train"), download=True)
    return _to_tensors(dataset.data.numpy(), dataset.targets.numpy())


def _missing_message(kind: str, split: str, dirs: list[Path], root: Path | None) -> str:
    """Explain where the files were looked for and every way to get them."""
    name = "Fashion-MNIST" if kind == "fashion" else "MNIST"
    prefix = _FILE_PREFIX[split]
    lines = [
        f"{name} {split} split not found: looked for {prefix}-images-idx3-ubyte[.gz] and "
        f"{prefix}-labels-idx1-ubyte[.gz] in {', '.join(str(d) for d in dirs)}.",
    ]
    if root is not None and not root.exists():
        lines.append(f"root={str(root)!r} does not exist.")
    lines.append("To get the data, do one of:")
    if kind == "fashion":
        lines.append(
            f"  * apt-get install dataset-fashion-mnist  (Debian/Ubuntu; installs to {DEBIAN_FASHION_MNIST_DIR})"
        )
    lines.append(
        f"  * pip install torchvision, then call load_mnist({kind!r}, {split!r}, download=True)  "
        f"(downloads into {_cache_dir()})"
    )
    lines.append("  * pass root= a folder holding the four IDX files (gzipped or not)")
    return "\n".join(lines)


def load_mnist(
    kind: str = "digits",
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return MNIST or Fashion-MNIST images in ``[-1, 1]`` with their labels, offline by default.

    Implements the local-first lookup of this module's docstring: IDX files in ``root`` (or its
    torchvision-style ``MNIST/raw`` / ``FashionMNIST/raw`` sub-folder), else Debian's
    ``/usr/share/datasets/fashion-mnist`` for Fashion-MNIST, else ``~/.cache/genai_lib``;
    only with ``download=True`` does it fall back to torchvision's downloader (into ``root`` if
    given, else ``~/.cache/genai_lib``). Pixels ``p`` in 0..255 become ``p / 127.5 - 1``.

    Args:
        kind: ``"digits"`` (MNIST) or ``"fashion"`` (Fashion-MNIST).
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        root: a folder holding the IDX files, or ``None`` for the default places.
        download: allow a download through torchvision when no local files are found.

    Returns:
        ``(images, labels)``: float32 ``(N, 1, 28, 28)`` images in ``[-1, 1]`` and int64 ``(N,)``
        labels in 0..9.

    Raises:
        TypeError: if ``kind`` or ``split`` is not a str, ``root`` not a path or ``download``
            not a bool.
        ValueError: if ``kind``/``split`` is not one of the allowed values, ``root`` is an existing
            file rather than a folder, or a found file is not valid IDX data.
        FileNotFoundError: if the files are absent and ``download`` is False; the message says
            how to get them.
        ModuleNotFoundError: if ``download=True`` is needed but torchvision is not installed.
    """
    kind = check_choice(kind, "kind", _KINDS)
    split = check_choice(split, "split", _SPLITS)
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a str, an os.PathLike folder or None, got {type(root).__name__} {root!r}")
    if not isinstance(download, bool):
        raise TypeError(f"download must be a bool, got {type(download).__name__} {download!r}")
    root_path = None if root is None else Path(root).expanduser()
    if root_path is not None and root_path.exists() and not root_path.is_dir():
        raise ValueError(f"root must be a folder holding the IDX files, got the file {str(root_path)!r}")
    dirs = _candidate_dirs(kind, root_path)
    found = _find_split(dirs, split)
    if found is not None:
        return _load_files(*found)
    if download:
        return _download(kind, split, root_path if root_path is not None else _cache_dir())
    raise FileNotFoundError(_missing_message(kind, split, dirs, root_path))
