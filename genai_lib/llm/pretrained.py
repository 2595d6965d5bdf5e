"""The book's pre-trained Shakespeare GPT: a small checkpoint shipped inside the package.

The decoding and fine-tuning chapters need a model trained for longer than a chapter's two-minute
budget allows. This module ships one, made by the library's own recipe and nothing else: the
pre-training chapter's 0.8 M-parameter GPT (4 layers, 4 heads, 128 wide, context 64 characters,
character tokenizer) trained by ``python -m genai_lib.llm.train`` on the first 90 % of
:func:`genai_lib.data.load_shakespeare` for :data:`STEPS` steps. The last 10 % is the
validation text; the tokenizer saw only the training text.

Regenerate it (and print the validation loss it reached) with::

    python -m genai_lib.llm.pretrained            # writes genai_lib/llm/weights/shakespeare-char/
    python -m genai_lib.llm.pretrained --out DIR  # anywhere else

The command writes the corpus to a temporary file and runs the training command line on it with
:data:`TRAIN_ARGS`, so the checkpoint is exactly what ``python -m genai_lib.llm.train`` produces.
Training is seeded; on a CPU with one thread the result is reproducible on the same machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

from genai_lib.llm.model import GPT
from genai_lib.llm.tokenizers import BPETokenizer, CharTokenizer

__all__ = ["WEIGHTS_DIR", "STEPS", "TRAIN_ARGS", "load_pretrained", "pretrained_metrics", "main"]

#: Where the shipped checkpoints live (inside the installed package).
WEIGHTS_DIR = Path(__file__).parent / "weights"
#: Training steps of the shipped checkpoint (the pre-training chapter trains for 1,500).
STEPS = 6000
#: The training command line's arguments that made the shipped checkpoint (plus ``--text`` and ``--out``).
TRAIN_ARGS = (
    "--steps",
    str(STEPS),
    "--n-layer",
    "4",
    "--n-head",
    "4",
    "--n-embd",
    "128",
    "--block-size",
    "64",
    "--batch-size",
    "12",
    "--lr",
    "3e-3",
    "--min-lr",
    "1e-4",
    "--warmup-steps",
    "100",
    "--seed",
    "0",
    "--tokenizer",
    "char",
    "--activation",
    "gelu_tanh",
    "--eval-every",
    "500",
    "--eval-windows",
    "400",
    "--device",
    "cpu",
    "--quiet",
)
_NAMES = ("shakespeare-char",)


def _directory(name: str) -> Path:
    if name not in _NAMES:
        raise ValueError(f"name must be one of {_NAMES}, got {name!r}")
    path = WEIGHTS_DIR / name
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"the checkpoint {name!r} is missing from {path}; regenerate it with `python -m genai_lib.llm.pretrained`"
        )
    return path


def load_pretrained(
    name: str = "shakespeare-char", map_location: str | torch.device = "cpu"
) -> tuple[GPT, CharTokenizer | BPETokenizer]:
    """Return ``(model, tokenizer)`` of a shipped checkpoint, the model in eval mode.

    Reads only files inside the package: no network. ``name`` is ``"shakespeare-char"``.
    """
    from genai_lib.llm.sample import load_model  # imported here: sample is a command-line module

    return load_model(_directory(name), map_location=map_location)


def pretrained_metrics(name: str = "shakespeare-char") -> dict:
    """The ``metrics.json`` the training command wrote for a shipped checkpoint (validation loss, steps ...).

    The per-step history is dropped to keep the shipped file small; the validation history is kept.
    """
    return json.loads((_directory(name) / "metrics.json").read_text())


def main(argv: Sequence[str] | None = None) -> dict:
    """Regenerate the shipped Shakespeare checkpoint; return its metrics."""
    parser = argparse.ArgumentParser(
        prog="python -m genai_lib.llm.pretrained", description="Regenerate the book's pre-trained Shakespeare GPT."
    )
    parser.add_argument("--out", default=str(WEIGHTS_DIR / "shakespeare-char"), help="output directory")
    args = parser.parse_args(argv)
    from genai_lib.data import load_shakespeare
    from genai_lib.llm import cli

    torch.set_num_threads(1)  # the recipe's numbers were measured single-threaded; also makes runs repeatable
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "shakespeare.txt"
        corpus.write_text(load_shakespeare(), encoding="utf-8")
        metrics = cli.main(["--text", str(corpus), "--out", args.out, *TRAIN_ARGS])
    out = Path(args.out)
    metrics["text"] = "genai_lib.data.load_shakespeare()"
    metrics["command"] = "python -m genai_lib.llm.pretrained"
    metrics.pop("history", None)  # 6,000 training losses: not needed to use the model
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    print(f"shakespeare-char: validation loss {metrics['val_loss_nats_per_char']:.4f} nats/char after {STEPS} steps")
    return metrics


if __name__ == "__main__":
    main(sys.argv[1:])
