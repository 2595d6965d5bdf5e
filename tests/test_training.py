"""Tests for genai_lib.training: the step-budgeted loop, History and safetensors checkpoints."""

from __future__ import annotations

import json
import math
import pickle
from dataclasses import asdict, dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genai_lib import training
from genai_lib.training import Checkpointer, History, fit, load_checkpoint, save_checkpoint

# -- a tiny regression problem; data are drawn from the global torch RNG inside step_fn --------


def make_run(seed: int = 0):
    torch.manual_seed(seed)
    model = nn.Linear(4, 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    true_w = torch.arange(1.0, 5.0).unsqueeze(1)

    def step_fn(step: int) -> torch.Tensor:
        x = torch.randn(16, 4)
        y = x @ true_w + 0.1 * torch.randn(16, 1)
        loss = F.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return model, opt, step_fn


def interrupt_at(step_fn, at: int):
    def wrapped(step: int):
        if step == at:
            raise KeyboardInterrupt
        return step_fn(step)

    return wrapped


@dataclass
class Config:
    lr: float = 1e-2
    hidden: int = 8
    name: str = "tiny"


class FakeBar:
    """Stands in for tqdm and records what fit shows."""

    instances: list[FakeBar] = []

    def __init__(self, *args, **kwargs):
        self.kwargs, self.postfixes, self.n, self.closed = kwargs, [], kwargs.get("initial", 0), False
        FakeBar.instances.append(self)

    def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):
        self.postfixes.append(dict(ordered_dict or {}, **kwargs))

    def update(self, n=1):
        self.n += n

    def close(self):
        self.closed = True


# -- the key property: an interrupted and resumed run equals the uninterrupted one -----------


@pytest.mark.parametrize("every", [1, 5])
def test_resume_after_interrupt_is_bit_identical(tmp_path, every):
    model, opt, step_fn = make_run()
    reference = fit(step_fn, 40, progress=False)
    ref_weight, ref_bias = model.weight.detach().clone(), model.bias.detach().clone()
    ref_exp_avg = opt.state[model.weight]["exp_avg"].clone()

    model, opt, step_fn = make_run()
    ckpt = Checkpointer(tmp_path, {"model": model, "optimizer": opt}, Config(), every=every)
    with pytest.raises(KeyboardInterrupt):
        fit(interrupt_at(step_fn, 23), 40, progress=False, checkpoint=ckpt)

    torch.manual_seed(12345)  # a fresh process: different weights and RNG state until restore
    model, opt, step_fn = make_run(seed=99)
    ckpt = Checkpointer(tmp_path, {"model": model, "optimizer": opt}, Config(), every=every)
    start, history = ckpt.restore()
    assert start == (23 if every == 1 else 20)  # every=1: no finished step is lost
    assert history.steps == list(range(start))
    history = fit(step_fn, 40, start_step=start, history=history, progress=False, checkpoint=ckpt)

    assert torch.equal(model.weight, ref_weight) and torch.equal(model.bias, ref_bias)
    assert torch.equal(opt.state[model.weight]["exp_avg"], ref_exp_avg)
    assert history.steps == list(range(40))
    assert history.values["loss"] == reference.values["loss"]  # exact float equality
    assert ckpt.restore()[0] == 40  # the final step is always saved


def test_restore_without_checkpoint_starts_fresh(tmp_path):
    model = nn.Linear(2, 1)
    start, history = Checkpointer(tmp_path / "none", {"model": model}, every=3).restore()
    assert start == 0 and len(history) == 0 and isinstance(history, History)


def test_restore_refuses_a_checkpoint_with_another_config(tmp_path):
    model = nn.Linear(2, 1)
    Checkpointer(tmp_path, {"model": model}, Config(lr=0.1), every=1).save(3)
    with pytest.raises(ValueError, match="config"):
        Checkpointer(tmp_path, {"model": model}, Config(lr=0.2), every=1).restore()


def test_checkpoint_every_overrides_checkpointer_every(tmp_path, monkeypatch):
    model, opt, step_fn = make_run()
    ckpt = Checkpointer(tmp_path, {"model": model, "optimizer": opt}, every=100)
    saved = []
    monkeypatch.setattr(ckpt, "save", lambda step, history=None: saved.append(step))
    fit(step_fn, 10, progress=False, checkpoint=ckpt, checkpoint_every=4)
    assert saved == [4, 8, 10]


# -- the loop -------------------------------------------------------------------------------


def test_history_has_one_entry_per_step_and_round_trips():
    history = fit(lambda step: 1.0 / (step + 1), 7, progress=False)
    assert len(history) == 7 and history.steps == list(range(7))
    assert history.last() == {"loss": 1.0 / 7}
    again = History.from_dict(json.loads(json.dumps(history.to_dict())))
    assert again == history
    steps, values = history.as_arrays()
    assert steps.tolist() == list(range(7)) and values["loss"].shape == (7,)


def test_dict_of_scalars_and_tensors_are_recorded():
    def step_fn(step):
        loss_d = torch.tensor(float(step), requires_grad=True) * 2
        return {"loss_d": loss_d, "loss_g": float(step) + 0.5}

    history = fit(step_fn, 3, progress=False)
    assert history.values == {"loss_d": [0.0, 2.0, 4.0], "loss_g": [0.5, 1.5, 2.5]}
    assert all(type(v) is float for v in history.values["loss_d"])


def test_start_step_continues_and_step_fn_sees_each_step_once():
    seen = []
    history = fit(lambda s: seen.append(s) or 0.0, 5, progress=False)
    history = fit(lambda s: seen.append(s) or 0.0, 8, start_step=5, history=history, progress=False)
    assert seen == list(range(8)) and history.steps == list(range(8))
    assert len(fit(lambda s: 0.0, 8, start_step=8, progress=False)) == 0  # nothing left to do


def test_callback_gets_step_and_scalars():
    calls = []
    fit(lambda s: float(s), 3, progress=False, callback=lambda step, logs: calls.append((step, logs)))
    assert calls == [(0, {"loss": 0.0}), (1, {"loss": 1.0}), (2, {"loss": 2.0})]


def test_progress_bar_postfix_shows_live_loss(monkeypatch):
    FakeBar.instances.clear()
    monkeypatch.setattr(training, "tqdm", FakeBar)
    fit(lambda s: 0.25 * s, 7, progress=True, desc="gan", log_every=3)
    (bar,) = FakeBar.instances
    assert bar.kwargs["total"] == 7 and bar.kwargs["desc"] == "gan" and bar.n == 7 and bar.closed
    assert bar.postfixes == [{"loss": "0"}, {"loss": "0.75"}, {"loss": "1.5"}]  # steps 0, 3, 6


def test_real_tqdm_postfix_contains_loss(monkeypatch):
    bars = []

    class Recording(training.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(training, "tqdm", Recording)
    fit(lambda s: 0.125, 3, progress=True)
    assert "loss=0.125" in bars[0].postfix


def test_same_seed_same_history():
    runs = [fit(make_run(seed=7)[2], 15, progress=False) for _ in range(2)]
    assert runs[0] == runs[1]
    assert fit(make_run(seed=8)[2], 15, progress=False) != runs[0]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {"loss_g": torch.tensor(float("-inf"))}])
def test_non_finite_loss_raises_naming_the_step(bad):
    history = History()
    with pytest.raises(FloatingPointError, match="step 3"):
        fit(lambda s: bad if s == 3 else 1.0, 10, history=history, progress=False)
    assert len(history) == 3


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(steps=0), ValueError, "steps"),
        (dict(steps=-5), ValueError, "steps"),
        (dict(steps=2.5), TypeError, "steps"),
        (dict(steps=True), TypeError, "steps"),
        (dict(steps=10, start_step=11), ValueError, "start_step"),
        (dict(steps=10, start_step=-1), ValueError, "start_step"),
        (dict(step_fn=None), TypeError, "step_fn"),
        (dict(log_every=0), ValueError, "log_every"),
        (dict(checkpoint_every=0), ValueError, "checkpoint_every"),
        (dict(checkpoint_every=5), ValueError, "checkpoint_every"),  # without a checkpoint
        (dict(checkpoint="dir"), TypeError, "checkpoint"),
        (dict(callback=3), TypeError, "callback"),
        (dict(history=History([0, 1], {"loss": [1.0, 1.0]}), start_step=1), ValueError, "start_step"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs, error, name, tmp_path):
    kwargs = {"step_fn": lambda s: 0.0, "steps": 10, "progress": False, **kwargs}
    if kwargs.get("checkpoint_every") == 0:
        kwargs["checkpoint"] = Checkpointer(tmp_path, {"m": nn.Linear(1, 1)}, every=1)
    with pytest.raises(error, match=name):
        fit(**kwargs)


def test_step_fn_returning_a_non_scalar_raises():
    with pytest.raises(TypeError, match="step_fn"):
        fit(lambda s: torch.ones(3), 2, progress=False)
    with pytest.raises(ValueError, match="logged"):
        fit(lambda s: {"a": 1.0} if s == 0 else {"b": 1.0}, 2, progress=False)


# -- checkpoints ----------------------------------------------------------------------------


def trained_adam():
    model, opt, step_fn = make_run()
    fit(step_fn, 3, progress=False)
    return model, opt


def assert_same_state(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same_state(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_state(x, y)
    else:
        assert a == b and type(a) is type(b)


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.8, 0.9)),
        lambda p: torch.optim.AdamW(p, lr=1e-3, amsgrad=True),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.1),  # no per-parameter state at all
    ],
)
def test_optimizer_state_round_trips_losslessly(tmp_path, make_opt):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    opt = make_opt(model.parameters())
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(5, 3)).pow(2).mean().backward()
        opt.step()
    save_checkpoint(tmp_path, {"model": model, "opt": opt}, step=3)
    fresh_model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    fresh_opt = make_opt(fresh_model.parameters())
    load_checkpoint(tmp_path, {"model": fresh_model, "opt": fresh_opt})
    assert_same_state(model.state_dict(), fresh_model.state_dict())
    assert_same_state(opt.state_dict(), fresh_opt.state_dict())


def test_metadata_and_config_round_trip(tmp_path):
    model, opt = trained_adam()
    history = History([0, 1], {"loss": [0.5, 0.25]})
    save_checkpoint(
        tmp_path,
        {"model": model, "optimizer": opt},
        step=2,
        config=Config(),
        history=history,
        extra={"note": "hi", "fid": [1.5]},
    )
    on_disk = json.loads((tmp_path / "config.json").read_text())
    assert on_disk["config"] == asdict(Config()) and on_disk["step"] == 2
    meta = load_checkpoint(tmp_path, {"model": model, "optimizer": opt})
    assert meta == {
        "step": 2,
        "config": asdict(Config()),
        "history": history,
        "extra": {"note": "hi", "fid": [1.5]},
        "state": {},
    }


def test_rng_state_is_restored(tmp_path):
    model = nn.Linear(2, 1)
    torch.manual_seed(3)
    save_checkpoint(tmp_path, {"model": model}, step=0)
    expected = torch.rand(5)
    torch.rand(100)
    load_checkpoint(tmp_path, {"model": model})
    assert torch.equal(torch.rand(5), expected)
    torch.rand(100)
    state = torch.get_rng_state()
    load_checkpoint(tmp_path, {"model": model}, restore_rng=False)
    assert torch.equal(torch.get_rng_state(), state)


def test_tied_weights_can_be_saved(tmp_path):
    emb, head = nn.Embedding(5, 3), nn.Linear(3, 5, bias=False)
    head.weight = emb.weight
    model = nn.ModuleDict({"emb": emb, "head": head})
    save_checkpoint(tmp_path, {"model": model}, step=0)
    fresh = nn.ModuleDict({"emb": nn.Embedding(5, 3), "head": nn.Linear(3, 5, bias=False)})
    load_checkpoint(tmp_path, {"model": fresh})
    assert torch.equal(fresh.head.weight, emb.weight)


def test_mismatched_model_raises_naming_the_keys(tmp_path):
    save_checkpoint(tmp_path, {"model": nn.Linear(4, 1)}, step=0)
    other = nn.Sequential(nn.Linear(4, 1))
    before = other[0].weight.detach().clone()
    with pytest.raises(ValueError) as err:
        load_checkpoint(tmp_path, {"model": other})
    message = str(err.value)
    assert "model.0.weight" in message and "model.0.bias" in message  # missing
    assert "model.weight" in message and "model.bias" in message  # unexpected
    assert torch.equal(other[0].weight, before)  # nothing was loaded
    with pytest.raises(ValueError, match=r"opt\.\*"):
        load_checkpoint(
            tmp_path, {"model": nn.Linear(4, 1), "opt": torch.optim.SGD(nn.Linear(4, 1).parameters(), lr=1)}
        )


def test_checkpoint_files_and_safe_loading(tmp_path, monkeypatch):
    """Weights in safetensors, the config in JSON, trainer state in one trainer_state.pt read with weights_only."""
    real_load, calls = torch.load, []

    def spy_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    for target, name in [(pickle, "load"), (pickle, "loads")]:
        monkeypatch.setattr(target, name, lambda *a, **k: (_ for _ in ()).throw(AssertionError("plain pickle")))
    monkeypatch.setattr(torch, "load", spy_load)
    model, opt = trained_adam()
    gen = torch.Generator().manual_seed(5)
    save_checkpoint(
        tmp_path,
        {"model": model, "optimizer": opt},
        step=3,
        config={"lr": 0.01},
        state={"rng": gen.get_state(), "ema_updates": 3},
    )
    meta = load_checkpoint(tmp_path, {"model": model, "optimizer": opt})
    assert calls == [True]  # the restricted unpickler: tensors and plain containers only
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(training.FILES)
    on_disk = json.loads((tmp_path / "config.json").read_text())
    assert on_disk["format"] == training.CHECKPOINT_FORMAT and on_disk["step"] == 3
    assert meta["state"]["ema_updates"] == 3 and torch.equal(meta["state"]["rng"], gen.get_state())


def test_model_only_checkpoint(tmp_path):
    model, opt = trained_adam()
    save_checkpoint(tmp_path, {"model": model, "optimizer": opt}, step=3)  # a full one first
    save_checkpoint(tmp_path, {"model": model}, step=4, config={"n": 1}, model_only=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(training.MODEL_FILES)  # stale state removed
    fresh = nn.Linear(4, 1)
    meta = load_checkpoint(tmp_path, {"model": fresh}, model_only=True)
    assert torch.equal(fresh.weight, model.weight) and meta["step"] == 4 and meta["history"] is None
    with pytest.raises(ValueError, match="model-only"):  # no trainer state to resume
        load_checkpoint(tmp_path, {"model": fresh})
    with pytest.raises(ValueError, match="model_only"):
        save_checkpoint(tmp_path, {"model": model, "optimizer": opt}, step=4, model_only=True)
    with pytest.raises(ValueError, match="model_only"):
        load_checkpoint(tmp_path, {"model": model, "optimizer": opt}, model_only=True)


def _write_previous_format(directory, model, step=3):
    """A checkpoint as genai_lib wrote it before trainer_state.pt (format 1)."""
    import safetensors.torch

    directory.mkdir(parents=True, exist_ok=True)
    tag = {"step": str(step)}
    weights = {f"model.{k}": v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    safetensors.torch.save_file(weights, str(directory / "model.safetensors"), tag)
    safetensors.torch.save_file({}, str(directory / "optimizer.safetensors"), tag)
    (directory / "optimizer.json").write_text(json.dumps({"step": step, "optimizers": {}}))
    safetensors.torch.save_file({"torch": torch.get_rng_state()}, str(directory / "rng.safetensors"), tag)
    (directory / "config.json").write_text(
        json.dumps({"step": step, "config": {"lr": 0.01}, "history": None, "extra": None})
    )


def test_previous_format_loads_model_only_and_names_itself_otherwise(tmp_path):
    model, opt = trained_adam()
    _write_previous_format(tmp_path / "old", model)
    fresh = nn.Linear(4, 1)
    assert load_checkpoint(tmp_path / "old", {"model": fresh}, model_only=True)["step"] == 3
    assert torch.equal(fresh.weight, model.weight)
    with pytest.raises(ValueError) as err:
        load_checkpoint(tmp_path / "old", {"model": fresh, "optimizer": opt})
    message = str(err.value)
    assert str(tmp_path / "old") in message and "previous format" in message and "optimizer.json" in message


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model, opt = trained_adam()
    modules = {"model": model, "optimizer": opt}
    save_checkpoint(tmp_path, modules, step=1)
    real_fdopen, calls = training.os.fdopen, []

    def interrupting_fdopen(*args, **kwargs):  # the third file's write is interrupted
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_fdopen(*args, **kwargs)

    monkeypatch.setattr(training.os, "fdopen", interrupting_fdopen)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, modules, step=2)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(training.FILES)  # temp files removed
    assert load_checkpoint(tmp_path, modules)["step"] == 1


def test_inconsistent_checkpoint_is_detected(tmp_path, monkeypatch):
    model = nn.Linear(2, 1)
    save_checkpoint(tmp_path, {"model": model}, step=1)
    real_replace, calls = training.os.replace, []

    def interrupting_replace(*args):  # stops after moving model.safetensors into place
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_replace(*args)

    monkeypatch.setattr(training.os, "replace", interrupting_replace)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, {"model": model}, step=2)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="inconsistent"):
        load_checkpoint(tmp_path, {"model": model})


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda d: save_checkpoint(d, {}, step=0), TypeError, "modules"),
        (lambda d: save_checkpoint(d, {"m": "not a module"}, step=0), TypeError, "modules"),
        (lambda d: save_checkpoint(d, {"a.b": nn.Linear(1, 1)}, step=0), ValueError, "modules"),
        (lambda d: save_checkpoint(d, {"m": nn.Linear(1, 1)}, step=-1), ValueError, "step"),
        (lambda d: save_checkpoint(d, {"m": nn.Linear(1, 1)}, step=0, config=3), TypeError, "config"),
        (lambda d: save_checkpoint(d, {"m": nn.Linear(1, 1)}, step=0, extra={"x": object()}), TypeError, "extra"),
        (lambda d: load_checkpoint(d / "missing", {"m": nn.Linear(1, 1)}), FileNotFoundError, "directory"),
        (lambda d: load_checkpoint(d, {"m": nn.Linear(1, 1)}, map_location="gpu!"), ValueError, "map_location"),
        (lambda d: Checkpointer(d, {"m": nn.Linear(1, 1)}, every=0), ValueError, "every"),
        (lambda d: Checkpointer(d, {"m": nn.Linear(1, 1)}, config=[1], every=1), TypeError, "config"),
    ],
)
def test_checkpoint_argument_errors(tmp_path, call, error, name):
    with pytest.raises(error, match=name):
        call(tmp_path)


def test_progress_bar_never_redraws_faster_than_the_interval():
    import io

    def interval(**kwargs):
        with training.progress_bar(total=3, file=io.StringIO(), **kwargs) as bar:
            return bar.mininterval

    assert interval() == training.PROGRESS_INTERVAL_S
    assert interval(mininterval=0.01) == training.PROGRESS_INTERVAL_S
    assert interval(mininterval=5) == 5


def test_no_progress_bar_when_the_build_says_so(monkeypatch):
    """GENAI_PROGRESS=0 (set by the book's build) hides every bar, fit's included; otherwise bars show."""
    import io

    def shown(**kwargs):
        out = io.StringIO()
        with training.progress_bar(total=3, file=out, **kwargs) as bar:
            bar.update(3)
        return out.getvalue()

    monkeypatch.delenv("GENAI_PROGRESS", raising=False)
    assert "3/3" in shown()
    monkeypatch.setenv("GENAI_PROGRESS", "0")
    assert shown() == "" and shown(disable=False) == ""
    monkeypatch.setenv("GENAI_PROGRESS", "1")
    assert "3/3" in shown()


def test_training_in_a_kernel_sends_few_iopub_messages():
    """A 4-second fit in a real Jupyter kernel (its bar is an ipywidget) redraws about once a second.

    At tqdm's default interval it sent ~30 a second; nbval reads IOPub only after a cell ends, and
    past a few thousand queued messages the kernel's PUB socket drops the rest, the cell's "idle"
    status among them (measured: 20,000 displays, 6,988 received, no idle).
    """
    from queue import Empty

    pytest.importorskip("ipywidgets")
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        code = (
            "import time\nfrom genai_lib import training\nstart = time.perf_counter()\n"
            "training.fit(lambda step: time.sleep(0.004) or 1.0, steps=1000)\n"
            "print(time.perf_counter() - start)\n"
        )
        msg_id = kc.execute(code)
        reply = kc.get_shell_msg(timeout=120)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
        counts, idle, seconds = {}, False, None
        while not idle:
            try:
                msg = kc.get_iopub_msg(timeout=10)
            except Empty:
                break
            counts[msg["msg_type"]] = counts.get(msg["msg_type"], 0) + 1
            if msg["msg_type"] == "stream":
                seconds = float(msg["content"]["text"].split()[-1])
            idle = (
                msg["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
                and msg["parent_header"].get("msg_id") == msg_id
            )
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert idle, f"the cell's idle status never arrived; messages seen: {counts}"
    assert counts.get("comm_open", 0) > 0, f"the bar was not drawn as a widget: {counts}"
    # A redraw updates three widgets (the bar, its label, its counts): 3 messages per interval, plus
    # ~7 to lay the widget out and 4 for the last draw. tqdm's default interval (0.1 s) sent 10x more.
    limit = 3 * seconds + 12  # at most one redraw a second
    assert counts.get("comm_msg", 0) <= limit, f"{seconds:.1f} s of training sent {counts}"


# -- the Trainer base: one surface for the three families ---------------------------------------


def _family_trainers():
    """A tiny GANTrainer, DiffusionTrainer and GPTTrainer, each built from seed 0."""
    from genai_lib import diffusion, gan, llm
    from genai_lib.data import toy2d

    torch.manual_seed(0)
    data = toy2d("ring8", 200, seed=1)
    g = gan.GANTrainer(
        gan.MLPGenerator(),
        gan.MLPDiscriminator(),
        data,
        config=gan.GANConfig(batch_size=16, snapshot_samples=8, grid_size=4, ema_decay=0.9, lr_decay="constant"),
    )
    d = diffusion.DiffusionTrainer(
        diffusion.MLPDenoiser(data_shape=(2,)),
        diffusion.NoiseSchedule("cosine", 20),
        data,
        config=diffusion.TrainerConfig(batch_size=16),
    )
    ids = torch.arange(300) % 7
    model = llm.GPT(llm.GPTConfig(vocab_size=7, block_size=8, n_layer=1, n_head=2, n_embd=8))
    m = llm.GPTTrainer(model, ids, llm.TrainConfig(steps=10, batch_size=4, warmup_steps=2))
    return {"gan": g, "diffusion": d, "llm": m}


def test_every_family_trains_through_the_one_trainer_surface():
    from genai_lib.diffusion import DiffusionTrainer
    from genai_lib.gan import GANTrainer
    from genai_lib.llm import GPTTrainer

    for cls in (GANTrainer, DiffusionTrainer, GPTTrainer):
        assert issubclass(cls, training.Trainer), cls
    trainers = _family_trainers()
    results = {name: t.fit(3, progress=False) for name, t in trainers.items()}
    assert {type(r) for r in results.values()} == {History}  # the same kind of result everywhere
    for name, t in trainers.items():
        assert results[name] is t.history and t.step == 3 and t.history.steps == [0, 1, 2], name
        assert isinstance(t.rng, torch.Generator) and t.rng.device.type == "cpu", name
        assert isinstance(t.ema_model, nn.Module), name
        assert t.fit(3, progress=False) is t.history and t.step == 3, name  # equal: a no-op
        with pytest.raises(ValueError, match="steps"):
            t.fit(2, progress=False)  # fewer than done
        t.fit(5, progress=False)  # continues
        assert t.step == 5 and t.history.steps == list(range(5)), name


@pytest.mark.parametrize("family", ["gan", "diffusion", "llm"])
def test_every_trainer_resumes_exactly_from_a_checkpoint(tmp_path, family):
    straight = _family_trainers()[family]
    straight.fit(6, progress=False)
    first = _family_trainers()[family]
    first.fit(3, progress=False)
    first.save(tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == sorted(training.FILES)
    first.fit(5, progress=False)  # the checkpoint stays at step 3
    resumed = _family_trainers()[family]
    assert resumed.load(tmp_path / "ckpt") == 3
    resumed.fit(6, progress=False)
    assert resumed.history.values == straight.history.values  # exact float equality
    if resumed.ema is not None:
        assert resumed.ema.num_updates == straight.ema.num_updates
    for name, module in straight.modules().items():
        if isinstance(module, nn.Module):
            for p, q in zip(module.parameters(), resumed.modules()[name].parameters()):
                assert torch.equal(p, q), name


def test_trainer_refuses_a_previous_format_checkpoint_naming_it(tmp_path):
    trainer = _family_trainers()["diffusion"]
    trainer.fit(2, progress=False)
    trainer.save(tmp_path / "old")
    (tmp_path / "old" / training.STATE_FILE).unlink()  # what format 1 left instead:
    (tmp_path / "old" / "optimizer.json").write_text("{}")
    with pytest.raises(ValueError) as err:
        _family_trainers()["diffusion"].load(tmp_path / "old")
    assert str(tmp_path / "old") in str(err.value) and "previous format" in str(err.value)
    with pytest.raises(FileNotFoundError, match="directory"):
        trainer.load(tmp_path / "missing")


def test_base_trainer_needs_a_train_step():
    with pytest.raises(NotImplementedError, match="train_step"):
        training.Trainer(seed=0).train_step(0)
    with pytest.raises(ValueError, match="seed"):
        training.Trainer(seed=-1)


# -- the learning-rate schedule ---------------------------------------------------------------


def _previous_gpt_lr(step: int, steps: int, lr: float, min_lr: float, warmup_steps: int) -> float:
    """genai_lib.llm.train.lr_at as it was before cosine_schedule existed (the reference)."""
    warmup = min(warmup_steps, steps)
    if step < warmup:
        return lr * (step + 1) / warmup
    decay_steps = steps - warmup
    progress = (step - warmup) / max(1, decay_steps - 1)
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


@pytest.mark.parametrize(
    "total,lr,min_lr,warmup",
    [
        (2000, 3e-3, 1e-4, 100),
        (200, 1e-2, 1e-4, 20),
        (7, 1e-3, 0.0, 10),
        (1, 0.5, 0.0, 0),
        (2, 1.0, 0.25, 1),
        (50, 3e-4, 3e-4, 0),
    ],
)
def test_cosine_schedule_is_bit_identical_to_the_gpt_recipe_it_replaced(total, lr, min_lr, warmup):
    got = [training.cosine_schedule(s, total, lr, warmup=warmup, min_lr=min_lr) for s in range(total)]
    assert got == [_previous_gpt_lr(s, total, lr, min_lr, warmup) for s in range(total)]


def test_cosine_schedule_shape():
    lrs = [training.cosine_schedule(s, 100, 1.0, warmup=10, min_lr=0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == lrs[10] == 1.0 and lrs[-1] == pytest.approx(0.1)
    assert all(a < b for a, b in zip(lrs[:9], lrs[1:10])) and all(a > b for a, b in zip(lrs[10:], lrs[11:]))
    assert training.cosine_schedule(50, 101, 2.0) == pytest.approx(1.0)  # half-way down a floorless cosine


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"step": 5, "total": 5}, "step"),
        ({"step": -1}, "step"),
        ({"total": 0}, "total"),
        ({"lr": 0.0}, "lr"),
        ({"warmup": -1}, "warmup"),
        ({"min_lr": 2.0}, "min_lr"),
        ({"min_lr": -0.1}, "min_lr"),
    ],
)
def test_cosine_schedule_names_a_bad_argument(kwargs, name):
    args = {"step": 0, "total": 10, "lr": 1.0} | kwargs
    with pytest.raises(ValueError, match=name):
        training.cosine_schedule(args.pop("step"), args.pop("total"), args.pop("lr"), **args)
    with pytest.raises(TypeError, match="total"):
        training.cosine_schedule(0, 10.0, 1.0)
