"""The ONNX model the site's explorers run (genai_lib.llm.onnx_export) computes what the torch model does."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime
import pytest
import torch

from genai_lib.llm import CharTokenizer
from genai_lib.llm.onnx_export import OUTPUTS, ExplorerGPT, export_explorer_model, main, tokenizer_spec
from genai_lib.llm.pretrained import load_pretrained

TEXTS = [
    "a",
    "KING LEAR:\nNothing will come of nothing: speak again.",
    "Ay 🤔 me — naïve",  # outside the vocabulary: byte-fallback ids
    "x" * 64,  # a full context
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("explorers")
    onnx_path, json_path = export_explorer_model(out)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return session, json.loads(json_path.read_text())


@pytest.mark.parametrize("text", TEXTS)
def test_onnx_agrees_with_torch(exported, text):
    session, _ = exported
    model, tok = load_pretrained()
    idx = torch.tensor([tok.encode(text)[-model.config.block_size :]])
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"ids": idx.numpy()})))
    assert tuple(got) == OUTPUTS
    with torch.no_grad():
        expected = {
            "logits": model(idx)[0][0],
            "attention": model.attention_maps(idx)[:, 0],
            "lens": model.logit_lens(idx)[:, 0],
        }
    for name, want in expected.items():
        assert got[name].shape == tuple(want.shape), name
        assert np.abs(got[name] - want.numpy()).max() <= 1e-4, name
    assert np.allclose(got["attention"].sum(-1), 1, atol=1e-5)


def _encode_like_the_page(spec: dict, text: str) -> list[int]:
    """The explorers' JavaScript encoder (book/_explorers/explorers.js), step for step."""
    index = {ch: i for i, ch in enumerate(spec["chars"])}
    ids: list[int] = []
    for ch in text:
        if ch in index:
            ids.append(index[ch])
        else:
            ids.extend(len(spec["chars"]) + b for b in ch.encode("utf-8"))
    return ids


def test_the_exported_tokenizer_encodes_as_the_library_does(exported):
    _, spec = exported
    model, tok = load_pretrained()
    assert spec["block_size"] == model.config.block_size and spec["vocab_size"] == tok.vocab_size
    assert (spec["n_layer"], spec["n_head"]) == (model.config.n_layer, model.config.n_head)
    for text in TEXTS + ["日本語\n\t~`", ""]:
        assert _encode_like_the_page(spec, text) == tok.encode(text)


def test_export_rejects_bad_arguments(tmp_path):
    model, tok = load_pretrained()
    with pytest.raises(TypeError, match="model"):
        ExplorerGPT("not a model")
    with pytest.raises(TypeError, match="tok"):
        tokenizer_spec("abc", model)
    with pytest.raises(ValueError, match="tok"):
        tokenizer_spec(CharTokenizer("abc"), model)
    with pytest.raises(TypeError, match="out"):
        export_explorer_model(3)
    with pytest.raises(ValueError, match="name"):
        export_explorer_model(tmp_path, "no-such-model")


def test_command_line_writes_both_files(tmp_path, capsys):
    paths = main(["--out", str(tmp_path), "--bpe-vocab", "260"])
    assert [p.name for p in paths] == ["shakespeare-char.onnx", "shakespeare-char.json", "shakespeare-bpe.json"]
    assert all(p.stat().st_size > 0 for p in paths) and "MB" in capsys.readouterr().out


def test_bpe_export_is_the_chapters_training_and_is_kept_when_unchanged(tmp_path):
    from genai_lib.data import load_shakespeare
    from genai_lib.llm import BPETokenizer, load_tokenizer
    from genai_lib.llm.onnx_export import export_bpe_tokenizer

    path = export_bpe_tokenizer(tmp_path, vocab_size=300)
    text = load_shakespeare()
    direct = BPETokenizer().train(text[: int(0.9 * len(text))], 300)
    exported = load_tokenizer(path)
    assert exported.merges == direct.merges and exported.pattern == direct.pattern
    stamp = path.stat().st_mtime_ns
    assert export_bpe_tokenizer(tmp_path, vocab_size=300) == path and path.stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="vocab_size"):
        export_bpe_tokenizer(tmp_path, vocab_size=256)
    with pytest.raises(TypeError, match="out"):
        export_bpe_tokenizer(None)
