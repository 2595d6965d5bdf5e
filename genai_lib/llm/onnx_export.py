"""The book's pre-trained GPT as an ONNX model, for the explorers that run in the reader's browser.

The rendered site has no kernel, so its live explorers (the attention map of a typed sentence, the
logit lens, the decoding rules) run the model in the page with ONNX Runtime Web. This module writes
what they load:

* ``<name>.onnx``: one forward pass of :class:`ExplorerGPT` on token ids ``(1, T)``, ``T`` from 1
  to ``block_size``, with three outputs: ``logits`` ``(T, vocab_size)`` (as ``model(idx)``),
  ``attention`` ``(n_layer, n_head, T, T)`` (as :func:`~genai_lib.llm.attention_maps`) and ``lens``
  ``(n_layer + 1, T, vocab_size)`` (as :func:`~genai_lib.llm.logit_lens`, the "logit lens" of
  nostalgebraist 2020);
* ``<name>.json``: the character tokenizer (its characters, in id order, and byte fallback), so that
  the page's JavaScript encodes text exactly as :meth:`CharTokenizer.encode` does, plus the model's
  shape (``block_size``, ``n_layer``, ``n_head``, ``vocab_size``);
* ``shakespeare-bpe.json`` (:func:`export_bpe_tokenizer`): the tokens chapter's byte-level BPE, trained
  as the chapter trains it (the first 90 % of the Shakespeare text, 8,192 ids, Sennrich et al. 2016),
  in :meth:`BPETokenizer.save`'s format; the page replays its first ``vocab_size - 256`` merges for
  each smaller vocabulary, as :meth:`BPETokenizer.truncated` does.

Export with ``python -m genai_lib.llm.onnx_export --out DIR``; the book's Sphinx extension
(``book/_ext/book_assets.py``) does it at every HTML build. Needs the ``onnx`` package (the book's
extras); ``tests/test_onnx_export.py`` checks the exported model against torch with ``onnxruntime``.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from genai_lib.llm.model import GPT
from genai_lib.llm.tokenizers import BPETokenizer, CharTokenizer

__all__ = [
    "ExplorerGPT",
    "OUTPUTS",
    "BPE_VOCAB",
    "export_bpe_tokenizer",
    "export_explorer_model",
    "tokenizer_spec",
    "main",
]

#: The exported model's outputs, in order.
OUTPUTS = ("logits", "attention", "lens")
OPSET = 17
#: The tokens chapter's largest BPE vocabulary and the share of the text it trains on (its TRAIN_FRACTION).
BPE_VOCAB = 8192
BPE_TRAIN_FRACTION = 0.9


class ExplorerGPT(nn.Module):
    """A :class:`~genai_lib.llm.GPT` whose forward pass returns what the explorers draw.

    ``forward(idx)`` with ``idx`` ``(1, T)`` returns ``(logits, attention, lens)``:
    ``logits`` ``(T, V)`` the next-token logits; ``attention`` ``(L, H, T, T)`` every head's weights
    (row ``i`` is query position ``i``); ``lens`` ``(L + 1, T, V)`` the residual stream before the
    first block and after each block, read out through the final LayerNorm and the output layer.
    ``lens[-1]`` equals ``logits``.
    """

    def __init__(self, model: GPT) -> None:
        super().__init__()
        if not isinstance(model, GPT):
            raise TypeError(f"model must be a genai_lib.llm.GPT, got {type(model).__name__}")
        if model.config.positions != "learned":
            raise ValueError(f"model must use learned positions (the shipped GPT does), got {model.config.positions!r}")
        self.model = model

    def forward(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        stream: list[torch.Tensor] = []
        h, maps = self.model._hidden(idx, need_weights=True, stream=stream)
        logits = self.model.lm_head(h)[0]
        attention = torch.stack(maps)[:, 0]
        lens = self.model.lm_head(self.model.transformer.ln_f(torch.stack(stream)))[:, 0]
        return logits, attention, lens


def tokenizer_spec(tok: CharTokenizer, model: GPT) -> dict:
    """What the page's JavaScript needs to encode text as ``tok`` does and to size its figures."""
    if not isinstance(tok, CharTokenizer):
        raise TypeError(f"tok must be a CharTokenizer (the explorers' JavaScript encodes characters), got {tok!r}")
    if tok.vocab_size != model.config.vocab_size:
        raise ValueError(f"tok has {tok.vocab_size} ids but the model {model.config.vocab_size}")
    c = model.config
    return {
        "chars": list(tok.chars),
        "byte_fallback": tok.byte_fallback,
        "vocab_size": c.vocab_size,
        "block_size": c.block_size,
        "n_layer": c.n_layer,
        "n_head": c.n_head,
        "outputs": list(OUTPUTS),
    }


def export_explorer_model(out: str | Path, name: str = "shakespeare-char") -> list[Path]:
    """Write ``<name>.onnx`` and ``<name>.json`` of a shipped checkpoint into ``out``; return their paths.

    The ONNX graph takes int64 ids ``(1, T)``, any ``T`` from 1 to ``block_size``: the exporter traces
    one input, and the dimension ``T`` is marked dynamic.
    """
    from genai_lib.llm.pretrained import load_pretrained

    if not isinstance(out, (str, Path)):
        raise TypeError(f"out must be a path, got {type(out).__name__}")
    model, tok = load_pretrained(name)
    spec = tokenizer_spec(tok, model)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    onnx_path, json_path = out / f"{name}.onnx", out / f"{name}.json"
    wrapper = ExplorerGPT(model).eval()
    idx = torch.zeros(1, model.config.block_size // 2, dtype=torch.long)
    with warnings.catch_warnings():
        # The tracer notes the Python numbers it freezes: the head size and the causal mask's shape
        # test, both the same for every input length.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # torch's notice that this exporter will go
        torch.onnx.export(
            wrapper,
            (idx,),
            str(onnx_path),
            input_names=["ids"],
            output_names=list(OUTPUTS),
            dynamic_axes={
                "ids": {1: "T"},
                "logits": {0: "T"},
                "attention": {2: "T", 3: "T"},
                "lens": {1: "T"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    json_path.write_text(json.dumps(spec, ensure_ascii=False))
    return [onnx_path, json_path]


def export_bpe_tokenizer(out: str | Path, vocab_size: int = BPE_VOCAB) -> Path:
    """Train the tokens chapter's BPE tokenizer and write it to ``out/shakespeare-bpe.json``; return the path.

    Trained exactly as the chapter does: :meth:`BPETokenizer.train` on the first 90 % of
    :func:`genai_lib.data.load_shakespeare` (greedy and deterministic, so it is the chapter's
    tokenizer). Training takes seconds, so a file written earlier for the same text, size and
    tokenizer code is kept (its ``key`` says what it was made from).
    """
    import hashlib

    from genai_lib.data import load_shakespeare
    from genai_lib.llm import tokenizers

    if not isinstance(out, (str, Path)):
        raise TypeError(f"out must be a path, got {type(out).__name__}")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size <= 256:
        raise ValueError(f"vocab_size must be an int above 256, got {vocab_size!r}")
    text = load_shakespeare()
    train_text = text[: int(BPE_TRAIN_FRACTION * len(text))]
    key = hashlib.sha256(
        Path(tokenizers.__file__).read_bytes() + train_text.encode("utf-8") + str(vocab_size).encode()
    ).hexdigest()[:16]
    path = Path(out) / "shakespeare-bpe.json"
    if path.is_file() and json.loads(path.read_text(encoding="utf-8")).get("key") == key:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    data = BPETokenizer().train(train_text, vocab_size).to_dict()
    data["key"] = key
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def main(argv: Sequence[str] | None = None) -> list[Path]:
    """Command line: ``python -m genai_lib.llm.onnx_export --out DIR``."""
    parser = argparse.ArgumentParser(
        prog="python -m genai_lib.llm.onnx_export", description="Export the book's GPT for the in-page explorers."
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--name", default="shakespeare-char", help="the shipped checkpoint")
    parser.add_argument("--bpe-vocab", type=int, default=BPE_VOCAB, help="the BPE tokenizer's vocabulary size")
    args = parser.parse_args(argv)
    paths = export_explorer_model(args.out, args.name) + [export_bpe_tokenizer(args.out, args.bpe_vocab)]
    for p in paths:
        print(f"{p} ({p.stat().st_size / 1e6:.1f} MB)")
    return paths


if __name__ == "__main__":
    main(sys.argv[1:])
