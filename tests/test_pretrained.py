"""The pre-trained Shakespeare GPT shipped in the package (genai_lib.llm.pretrained)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from genai_lib import data, llm, training
from genai_lib.llm import pretrained

ROOT = Path(__file__).resolve().parents[1]
CKPT = pretrained.WEIGHTS_DIR / "shakespeare-char"


def test_checkpoint_is_small_enough_to_ship():
    files = sorted(p.name for p in CKPT.iterdir())
    # a model-only checkpoint (genai_lib.training.save_checkpoint(..., model_only=True)): no trainer
    # state, plus the LLM's own tokenizer and metrics
    assert files == ["config.json", "metrics.json", "model.safetensors", "tokenizer.json"], files
    assert json.loads((CKPT / "config.json").read_text())["format"] == training.CHECKPOINT_FORMAT
    total = sum(p.stat().st_size for p in pretrained.WEIGHTS_DIR.rglob("*") if p.is_file())
    assert total <= 10 * 2**20, total  # the limit for the whole book's shipped weights


def test_load_pretrained_gives_the_documented_model():
    model, tok = pretrained.load_pretrained()
    c = model.config
    assert (c.n_layer, c.n_head, c.n_embd, c.block_size, c.vocab_size) == (4, 4, 128, 64, 332)
    assert not model.training
    assert isinstance(tok, llm.CharTokenizer) and tok.vocab_size == 332
    metrics = pretrained.pretrained_metrics()
    assert metrics["steps"] == pretrained.STEPS
    assert metrics["command"] == "python -m genai_lib.llm.pretrained"
    # better than the pre-training chapter's 1,500-step model (1.82-1.83 nats/char)
    assert metrics["val_loss_nats_per_char"] < 1.75, metrics["val_loss_nats_per_char"]


def test_shipped_metrics_are_the_shipped_weights_metrics():
    """Re-measure the validation loss on the same fixed windows: the metrics describe these weights."""
    model, tok = pretrained.load_pretrained()
    text = data.load_shakespeare()
    val_ids = torch.tensor(tok.encode(text[int(0.9 * len(text)) :]))
    metrics = pretrained.pretrained_metrics()
    again = llm.evaluate(model, val_ids, max_windows=metrics["eval_windows"])
    assert again == pytest.approx(metrics["val_loss_nats_per_token"], abs=1e-4)


def test_tokenizer_is_the_training_texts():
    """The tokenizer was trained on the first 90 % only, so it equals one trained the same way here."""
    _, tok = pretrained.load_pretrained()
    text = data.load_shakespeare()
    assert tok.to_dict() == llm.CharTokenizer().train(text[: int(0.9 * len(text))]).to_dict()


def test_bad_name_is_named():
    with pytest.raises(ValueError, match="name"):
        pretrained.load_pretrained("gpt-5")


def test_wheel_ships_the_weights(tmp_path):
    """A non-editable install (Colab, pip install git+...) must include the checkpoint files."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("genai_lib-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ("config.json", "metrics.json", "model.safetensors", "tokenizer.json"):
        assert f"genai_lib/llm/weights/shakespeare-char/{f}" in names, f
    for name in ("digits8", "digits8-cond", "grid25"):  # the diffusion chapters' denoisers
        for f in ("config.json", "model.safetensors"):
            assert f"genai_lib/diffusion/weights/{name}/{f}" in names, (name, f)
