"""The image trainers' commands under torchrun (issue 17): two gloo ranks make the updates of one process
accumulating the same global batch (GAN, DDPM, flow matching), a resumed two-rank run repeats the
uninterrupted one, and rank 0 alone prints and writes the files of one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import safetensors.torch
import torch

from genai_lib import distributed
from genai_lib.diffusion import cli as diffusion_cli
from genai_lib.gan import cli as gan_cli

# Tiny networks and a few steps: the claim is about the arithmetic, not the models. The GAN uses WGAN-GP
# (its interpolation weights are drawn for the global batch and sharded too), two critic steps and an EMA.
COMMON = ["--steps", "8", "--batch-size", "4", "--hidden", "16", "--n-samples", "200", "--device", "cpu", "--quiet"]
COMMANDS = {
    "gan": ("genai_lib.gan.train", [*COMMON, "--depth", "2", "--z-dim", "4", "--loss", "wgan_gp", "--d-steps", "2",
                                    "--ema-decay", "0.9", "--lr", "3e-3"]),
    "ddpm": ("genai_lib.diffusion.train", [*COMMON, "--depth", "1", "--timesteps", "50", "--lr", "3e-3"]),
    "flow": ("genai_lib.diffusion.train", [*COMMON, "--depth", "1", "--objective", "flow", "--lr", "3e-3"]),
}  # fmt: skip
LOSS = {"gan": "g_loss", "ddpm": "loss", "flow": "loss"}
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
FILES = {"model.safetensors", "config.json", "metrics.json"}


def _train(cwd, kind, launcher, *extra):
    module, args = COMMANDS[kind]
    proc = subprocess.run(
        [*launcher, "-m", module, *args, *extra],
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


def _metrics(directory):
    return json.loads((directory / "metrics.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Per trainer, one uninterrupted 2-rank run and one process with --grad-accum 2 (same seed, global batch 8)."""
    cwd = tmp_path_factory.mktemp("image_ddp")
    stdout = {}
    for kind in COMMANDS:
        stdout[kind, "two"] = _train(cwd, kind, TORCHRUN, "--out", f"{kind}-two")
        stdout[kind, "one"] = _train(cwd, kind, [sys.executable], "--grad-accum", "2", "--out", f"{kind}-one")
    return cwd, stdout


CLIS = {"gan": gan_cli, "ddpm": diffusion_cli, "flow": diffusion_cli}


@pytest.mark.parametrize("kind", list(COMMANDS))
def test_two_ranks_match_one_process_accumulating_the_same_global_batch(runs, monkeypatch, kind):
    cwd, _ = runs
    two, one = _weights(cwd / f"{kind}-two"), _weights(cwd / f"{kind}-one")
    assert two.keys() == one.keys()
    for name in one:
        assert torch.allclose(two[name], one[name], atol=1e-5), name
    m2, m1 = _metrics(cwd / f"{kind}-two"), _metrics(cwd / f"{kind}-one")
    assert (m2["world_size"], m1["world_size"], m2["global_batch"], m1["global_batch"]) == (2, 1, 8, 8)
    loss = LOSS[kind]
    assert m2["history"]["values"][loss] == pytest.approx(m1["history"]["values"][loss], abs=1e-5)
    # ... and training moved the weights: a one-process run on the first half of each global batch alone
    # (--batch-size 4, no accumulation) ends elsewhere, so both halves of every batch were used.
    monkeypatch.chdir(cwd)
    CLIS[kind].main([*COMMANDS[kind][1], "--out", f"{kind}-half"])
    other = _weights(cwd / f"{kind}-half")
    assert max((other[n] - one[n]).abs().max().item() for n in one) > 1e-4


def test_the_gan_average_follows_the_same_updates_on_every_rank(runs):
    cwd, _ = runs
    two, one = _weights(cwd / "gan-two"), _weights(cwd / "gan-one")
    ema = [n for n in two if n.startswith("generator_ema.")]
    assert ema and all(torch.allclose(two[n], one[n], atol=1e-5) for n in ema)
    # The average lags the generator it follows.
    assert any(not torch.allclose(two[n], two[n.replace("generator_ema.", "generator.")]) for n in ema)


@pytest.mark.parametrize("kind", ["gan", "ddpm"])
def test_rank_zero_alone_prints_and_writes_the_files_of_one_process(runs, kind):
    cwd, stdout = runs
    assert {p.name for p in (cwd / f"{kind}-two").iterdir()} == {p.name for p in (cwd / f"{kind}-one").iterdir()}
    assert {p.name for p in (cwd / f"{kind}-two").iterdir()} == FILES
    module = COMMANDS[kind][0]
    assert stdout[kind, "two"].count(f"{module}:") == 1 and stdout[kind, "two"].count("wrote") == 1
    config = json.loads((cwd / f"{kind}-two" / "config.json").read_text())["config"]
    assert config["world_size"] == 2 and "grad_accum" not in config


@pytest.mark.parametrize("kind", ["gan", "ddpm"])
def test_rank_one_trains_but_writes_nothing(tmp_path, monkeypatch, capsys, kind):
    cli = CLIS[kind]
    # Rank 1 of 2, simulated in this process: the collectives replaced by what they return alone.
    monkeypatch.setattr(distributed, "from_env", lambda device: distributed.Ranks(1, 2, 1, torch.device("cpu")))
    monkeypatch.setattr(distributed, "average_gradients", lambda params, ranks: None)
    monkeypatch.setattr(distributed, "mean_over_ranks", lambda value, ranks: float(value))
    monkeypatch.setattr(distributed, "teardown", lambda: None)
    monkeypatch.chdir(tmp_path)
    assert cli.main([*COMMANDS[kind][1], "--out", "rank1", "--checkpoint-every", "4"]) == {}
    assert not (tmp_path / "rank1").exists() and capsys.readouterr().out == ""


@pytest.mark.parametrize("kind", ["gan", "ddpm"])
def test_a_resumed_two_rank_run_repeats_the_uninterrupted_one(runs, monkeypatch, capsys, kind):
    cwd, _ = runs
    out = f"{kind}-resumed"
    stopped = _train(cwd, kind, TORCHRUN, "--out", out, "--until", "3")
    assert "stopped after 3 of 8 steps" in stopped and not (cwd / out / "model.safetensors").exists()
    assert "resuming at step 3" in _train(cwd, kind, TORCHRUN, "--out", out, "--resume")
    resumed, full = _weights(cwd / out), _weights(cwd / f"{kind}-two")
    assert resumed.keys() == full.keys() and all(torch.equal(resumed[n], full[n]) for n in full)
    assert _metrics(cwd / out)["history"] == _metrics(cwd / f"{kind}-two")["history"]
    # The 2-rank state does not resume in one process (another global batch).
    cli = CLIS[kind]
    monkeypatch.chdir(cwd)
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*COMMANDS[kind][1], "--out", out, "--resume"])
    assert exit_info.value.code == 2 and "--resume" in capsys.readouterr().err


@pytest.mark.parametrize("cli", [gan_cli, diffusion_cli])
@pytest.mark.parametrize(
    "extra,name",
    [
        (["--grad-accum", "0"], "--grad-accum"),
        (["--batch-size", "0"], "--batch-size"),
        (["--until", "0"], "--until"),
        (["--until", "9"], "--until"),
        (["--checkpoint-every", "-1"], "--checkpoint-every"),
        (["--data", "nowhere.txt"], "--data"),
        (["--resume", "--out", "{nowhere}"], "--resume"),
    ],
)
def test_bad_arguments_name_the_argument(tmp_path, capsys, cli, extra, name):
    extra = [a.format(nowhere=tmp_path / "nowhere") for a in extra]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*COMMON, *extra])
    assert exit_info.value.code == 2 and name in capsys.readouterr().err


def test_members_cannot_be_sharded():
    from genai_lib.data import toy2d
    from genai_lib.gan import GANConfig, GANTrainer, MLPDiscriminator, MLPGenerator

    G, D = MLPGenerator(z_dim=2, hidden=8, depth=1, members=2), MLPDiscriminator(hidden=8, depth=1, members=2)
    with pytest.raises(ValueError, match="members"):
        GANTrainer(G, D, toy2d("moons", 50), config=GANConfig(batch_size=8, snapshot_samples=8), grad_accum=2)


def _gan(batch_size, grad_accum):
    from genai_lib.data import toy2d
    from genai_lib.gan import GANConfig, GANTrainer, MLPDiscriminator, MLPGenerator

    torch.manual_seed(0)
    G, D = MLPGenerator(z_dim=4, hidden=16, depth=2), MLPDiscriminator(hidden=16, depth=2)
    config = GANConfig(loss="wgan_gp", batch_size=batch_size, snapshot_samples=8, lr_g=3e-3, lr_d=3e-3, ema_decay=0.9)
    trainer = GANTrainer(G, D, toy2d("moons", 200, seed=1), config=config, grad_accum=grad_accum)
    trainer.fit(6, d_steps=2, progress=False)
    return {**{f"G.{k}": v for k, v in G.state_dict().items()}, **{f"D.{k}": v for k, v in D.state_dict().items()}}


def _denoiser(batch_size, grad_accum, objective):
    from genai_lib.data import toy2d
    from genai_lib.diffusion import DiffusionTrainer, MLPDenoiser, NoiseSchedule, TrainerConfig
    from genai_lib.diffusion.flow import FlowTrainer, VelocityMLP

    torch.manual_seed(0)
    data, config = toy2d("moons", 200, seed=1), TrainerConfig(batch_size=batch_size, lr=3e-3)
    labels = (data[:, 0] > 0.5).long()  # class-conditional: the label drops are sharded too
    if objective == "ddpm":
        model = MLPDenoiser(data_shape=(2,), hidden=16, depth=1, n_classes=2)
        trainer = DiffusionTrainer(model, NoiseSchedule(num_steps=50), data, labels, config, grad_accum=grad_accum)
    else:
        model = VelocityMLP(data_shape=(2,), hidden=16, depth=1, n_classes=2)
        trainer = FlowTrainer(model, data, labels, config, grad_accum=grad_accum)
    trainer.fit(6, progress=False)
    return dict(model.state_dict())


@pytest.mark.parametrize("train", [_gan, lambda b, k: _denoiser(b, k, "ddpm"), lambda b, k: _denoiser(b, k, "flow")])
def test_accumulating_micro_batches_equals_the_whole_batch_in_one_process(train):
    # One process: 2 micro-batches of 4 rows (noise, steps, latents and penalties of the 8-row batch, halved)
    # make the updates of one 8-row batch, to float rounding; a 4-row batch alone does not.
    whole, parts, half = train(8, 1), train(4, 2), train(4, 1)
    assert all(torch.allclose(whole[n], parts[n], atol=1e-5) for n in whole)
    assert max((half[n] - whole[n]).abs().max().item() for n in whole) > 1e-4


def test_the_launch_module_imports_no_family():
    import ast
    from pathlib import Path

    import genai_lib.launch

    tree = ast.parse(Path(genai_lib.launch.__file__).read_text())
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {m.split(".")[1] for m in names if m.startswith("genai_lib.")} & {"gan", "diffusion", "llm"}


def test_penalty_noise_is_what_the_penalty_would_draw():
    from genai_lib.gan.losses import interpolate, nonsaturating, r1, wgan_gp

    real, fake = torch.randn(6, 2), torch.randn(6, 2)
    eps = wgan_gp().penalty_noise(real, generator=torch.Generator().manual_seed(3))
    assert eps.shape == (6, 1)
    drawn = interpolate(real, fake, generator=torch.Generator().manual_seed(3))
    assert torch.equal(interpolate(real, fake, eps=eps), drawn)
    assert nonsaturating().penalty_noise(real) is None and r1().penalty_noise(real) is None
    with pytest.raises(ValueError, match="eps"):
        interpolate(real, fake, eps=torch.zeros(5, 1))


def test_average_gradients_does_nothing_on_one_process():
    layer = torch.nn.Linear(3, 2)
    layer(torch.randn(4, 3)).sum().backward()
    before = [p.grad.clone() for p in layer.parameters()]
    distributed.average_gradients(list(layer.parameters()), distributed.single("cpu"))
    assert all(torch.equal(p.grad, g) for p, g in zip(layer.parameters(), before))
