"""genai_lib.distributed: N ranks under torchrun (gloo, CPU) take the same steps as one process that
accumulates the same global batch in N micro-batches."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from genai_lib import distributed

TRAIN = textwrap.dedent("""
    import sys
    import torch
    import torch.nn.functional as F
    from genai_lib import distributed

    out, grad_accum = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(1)
    ranks = distributed.setup("cpu")
    torch.manual_seed(0)                                   # the same initial weights on every rank
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    ddp = distributed.wrap(model, ranks)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)   # scale-sensitive, unlike Adam
    data = torch.Generator().manual_seed(1)                # the same global batches on every rank
    losses = []
    for step in range(6):
        x = torch.randn(8, 6, generator=data)
        y = torch.randint(0, 3, (8,), generator=data)
        batch = (distributed.shard(x, ranks), distributed.shard(y, ranks))
        loss = distributed.train_step(ddp, opt, batch, lambda m, a, b: F.cross_entropy(m(a), b), grad_accum)
        losses.append(distributed.mean_over_ranks(loss, ranks))
    if ranks.is_main:
        torch.save({"weights": model.state_dict(), "losses": losses, "world": ranks.world_size}, out)
    distributed.teardown()
""")


def _run(tmp_path, name, launcher, grad_accum):
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    out = tmp_path / f"{name}.pt"
    proc = subprocess.run(
        [*launcher, str(script), str(out), str(grad_accum)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(out, weights_only=True)


def test_two_ranks_under_torchrun_match_one_process_accumulating_the_same_batch(tmp_path):
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    two = _run(tmp_path, "ddp", torchrun, grad_accum=1)
    one = _run(tmp_path, "accum", [sys.executable], grad_accum=2)
    assert (two["world"], one["world"]) == (2, 1)
    for name, w in one["weights"].items():
        assert torch.allclose(two["weights"][name], w, atol=1e-6), name
    assert torch.allclose(torch.tensor(two["losses"]), torch.tensor(one["losses"]), atol=1e-6)
    # ... and training moved the weights (the comparison is not between two untouched models).
    torch.manual_seed(0)
    initial = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).state_dict()
    assert not torch.allclose(initial["0.weight"], one["weights"]["0.weight"], atol=1e-3)


def test_accumulating_equals_the_whole_batch_in_one_process():
    torch.manual_seed(0)
    models = [torch.nn.Linear(4, 2) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    opts = [torch.optim.SGD(m.parameters(), lr=0.1) for m in models]
    x, y = torch.randn(12, 4), torch.randn(12, 2)
    loss = lambda m, a, b: (m(a) - b).pow(2).mean()  # noqa: E731
    whole = distributed.train_step(models[0], opts[0], (x, y), loss, grad_accum=1)
    parts = distributed.train_step(models[1], opts[1], (x, y), loss, grad_accum=3)
    assert whole == pytest.approx(parts, abs=1e-6)
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_single_process_without_torchrun(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    ranks = distributed.setup("cpu")
    assert (ranks.rank, ranks.world_size, ranks.is_main, ranks.distributed) == (0, 1, True, False)
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model, ranks) is model
    assert torch.equal(distributed.shard(torch.arange(6), ranks), torch.arange(6))
    assert distributed.mean_over_ranks(2.5, ranks) == 2.5


def test_shards_are_equal_and_cover_the_batch():
    batch = torch.arange(12)
    parts = [distributed.shard(batch, distributed.Ranks(r, 3, r, torch.device("cpu"))) for r in range(3)]
    assert torch.equal(torch.cat(parts), batch) and {len(p) for p in parts} == {4}
    with pytest.raises(ValueError, match="share equally"):
        distributed.shard(torch.arange(10), distributed.Ranks(0, 3, 0, torch.device("cpu")))


def test_bad_arguments_are_named(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ValueError, match="WORLD_SIZE"):
        distributed.setup("cpu")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ValueError, match="RANK"):
        distributed.setup("cpu")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    with pytest.raises(ValueError, match="device"):
        distributed.setup("mps")
    model, opt = torch.nn.Linear(2, 1), None
    with pytest.raises(ValueError, match="grad_accum"):
        distributed.train_step(model, opt, (torch.zeros(5, 2),), lambda m, a: m(a).mean(), grad_accum=2)
    with pytest.raises(ValueError, match="grad_accum"):
        distributed.train_step(model, opt, (torch.zeros(4, 2),), lambda m, a: m(a).mean(), grad_accum=0)
