"""The GPT training command under torchrun (issue 17): two gloo ranks take the same steps as one process
accumulating the same global batch, a resumed two-rank run repeats the uninterrupted one, and rank 0
alone prints and writes files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import safetensors.torch
import torch

from genai_lib import distributed
from genai_lib.llm import cli

TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n"
) * 20
# A tiny GPT and a few dozen steps: the claim is about the arithmetic, not the model.
ARGS = [
    "--steps", "12", "--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "16",
    "--batch-size", "4", "--warmup-steps", "3", "--eval-windows", "4", "--device", "cpu", "--quiet",
]  # fmt: skip
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
FILES = {"model.safetensors", "config.json", "tokenizer.json", "metrics.json"}


def _train(cwd, launcher, *extra):
    proc = subprocess.run(
        [*launcher, "-m", "genai_lib.llm.train", "--text", "text.txt", *ARGS, *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _weights(directory):
    return safetensors.torch.load_file(str(directory / "model.safetensors"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One uninterrupted 2-rank run and one process with --grad-accum 2, on the same seed and global batch."""
    cwd = tmp_path_factory.mktemp("llm_ddp")
    (cwd / "text.txt").write_text(TEXT, encoding="utf-8")
    stdout = {
        "two": _train(cwd, TORCHRUN, "--out", "two"),
        "one": _train(cwd, [sys.executable], "--grad-accum", "2", "--out", "one"),
    }
    return cwd, stdout


def test_two_ranks_match_one_process_accumulating_the_same_global_batch(runs):
    cwd, _ = runs
    two, one = _weights(cwd / "two"), _weights(cwd / "one")
    assert two.keys() == one.keys()
    for name in one:
        assert torch.allclose(two[name], one[name], atol=1e-5), name
    m2, m1 = (json.loads((cwd / d / "metrics.json").read_text()) for d in ("two", "one"))
    assert (m2["world_size"], m1["world_size"], m2["global_batch"], m1["global_batch"]) == (2, 1, 8, 8)
    assert m2["history"]["values"]["loss"] == pytest.approx(m1["history"]["values"]["loss"], abs=1e-5)
    assert m2["val_loss_nats_per_char"] == pytest.approx(m1["val_loss_nats_per_char"], abs=1e-5)
    # Each rank saw its own half of every global batch; their mean is the global loss.
    ranks = torch.tensor(m2["shard_losses"]["ranks"])
    assert ranks.shape == (2, 12) and not torch.allclose(ranks[0], ranks[1], atol=1e-4)
    assert torch.allclose(ranks.mean(0), torch.tensor(m1["history"]["values"]["loss"]), atol=1e-5)
    # ... and training moved the weights, so the comparison is not between two untouched models.
    assert m2["history"]["values"]["loss"][-1] < m2["history"]["values"]["loss"][0] - 0.3


def test_rank_zero_alone_prints_and_writes_the_files_of_one_process(runs, tmp_path, monkeypatch, capsys):
    cwd, stdout = runs
    assert {p.name for p in (cwd / "two").iterdir()} == {p.name for p in (cwd / "one").iterdir()} == FILES
    assert stdout["two"].count("validation loss") == 1 and stdout["two"].count("genai_lib.llm.train:") == 1
    # Rank 1 of 2 (simulated in this process: collectives replaced by what they return alone) trains on
    # its shard but prints and writes nothing.
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    monkeypatch.setattr(cli, "_ranks", lambda device: distributed.Ranks(1, 2, 1, torch.device("cpu")))
    monkeypatch.setattr(distributed, "wrap", lambda model, ranks: model)
    monkeypatch.setattr(distributed, "mean_over_ranks", lambda value, ranks: float(value))
    monkeypatch.setattr(distributed, "gather_over_ranks", lambda values, ranks: [list(values)] * 2)
    monkeypatch.setattr(distributed, "teardown", lambda: None)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--text", "text.txt", *ARGS, "--out", "rank1", "--checkpoint-every", "4"]) == {}
    assert not (tmp_path / "rank1").exists() and capsys.readouterr().out == ""


def test_a_resumed_two_rank_run_repeats_the_uninterrupted_one(runs, monkeypatch, capsys):
    cwd, _ = runs
    stopped = _train(cwd, TORCHRUN, "--out", "resumed", "--until", "5")
    assert "stopped after 5 of 12 steps" in stopped and not (cwd / "resumed" / "model.safetensors").exists()
    assert "resuming at step 5" in _train(cwd, TORCHRUN, "--out", "resumed", "--resume")
    resumed, full = _weights(cwd / "resumed"), _weights(cwd / "two")
    assert all(torch.equal(resumed[name], full[name]) for name in full)
    m_full, m_resumed = (json.loads((cwd / d / "metrics.json").read_text()) for d in ("two", "resumed"))
    assert m_resumed["history"] == m_full["history"]
    # The 2-rank state does not resume in one process with half the global batch.
    monkeypatch.chdir(cwd)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--text", "text.txt", *ARGS, "--out", "resumed", "--resume"])
    assert exit_info.value.code == 2 and "--resume" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra,name",
    [
        (["--grad-accum", "0"], "--grad-accum"),
        (["--until", "0"], "--until"),
        (["--until", "13"], "--until"),
        (["--checkpoint-every", "-1"], "--checkpoint-every"),
        (["--resume", "--out", "{nowhere}"], "--resume"),
    ],
)
def test_bad_distributed_arguments_name_the_argument(tmp_path, capsys, extra, name):
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    extra = [a.format(nowhere=tmp_path / "nowhere") for a in extra]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--text", str(tmp_path / "text.txt"), *ARGS, *extra])
    assert exit_info.value.code == 2 and name in capsys.readouterr().err
