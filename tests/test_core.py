"""Tests of the package root: get_device, seed_everything, and what ``import genai_lib`` must not do."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import genai_lib
from genai_lib import get_device, seed_everything

ENV = "GENAI_DEVICE"


# -- get_device --------------------------------------------------------------------------------


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)


@pytest.fixture
def no_accelerators(monkeypatch):
    """Pretend this machine has neither CUDA nor MPS, whatever it really has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(genai_lib, "_mps_available", lambda: False)


def test_get_device_is_cpu_on_this_machine(no_env):
    if torch.cuda.is_available() or genai_lib._mps_available():
        pytest.skip("this machine has an accelerator")
    device = get_device()
    assert isinstance(device, torch.device)
    assert device == torch.device("cpu")


def test_get_device_returns_cpu_without_accelerators(no_env, no_accelerators):
    assert get_device() == torch.device("cpu")


def test_get_device_order_is_cuda_then_mps_then_cpu(no_env, monkeypatch):
    cuda, mps = {"on": True}, {"on": True}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda["on"])
    monkeypatch.setattr(genai_lib, "_mps_available", lambda: mps["on"])
    assert get_device() == torch.device("cuda")  # both: CUDA wins
    cuda["on"] = False
    assert get_device() == torch.device("mps")  # MPS next
    mps["on"] = False
    assert get_device() == torch.device("cpu")  # then the CPU
    cuda["on"] = True
    assert get_device() == torch.device("cuda")  # CUDA without MPS


def test_mps_available_is_a_bool():
    assert isinstance(genai_lib._mps_available(), bool)


def test_env_var_is_honoured(monkeypatch):
    monkeypatch.setenv(ENV, "cpu")
    # Even with a GPU present, the environment variable decides.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(genai_lib, "_mps_available", lambda: True)
    assert get_device() == torch.device("cpu")


def test_env_var_is_stripped(monkeypatch, no_accelerators):
    monkeypatch.setenv(ENV, "  cpu \n")
    assert get_device() == torch.device("cpu")


def test_empty_env_var_is_ignored(monkeypatch, no_accelerators):
    monkeypatch.setenv(ENV, "")
    assert get_device() == torch.device("cpu")


def test_prefer_beats_env_var(monkeypatch, no_accelerators):
    monkeypatch.setenv(ENV, "not a device")  # would raise if it were read
    assert get_device("cpu") == torch.device("cpu")
    assert get_device(prefer="cpu") == torch.device("cpu")


def test_prefer_with_index(no_env, no_accelerators):
    assert get_device("cpu:0") == torch.device("cpu:0")


def test_prefer_cuda_when_unavailable_names_prefer(no_env, no_accelerators):
    with pytest.raises(ValueError, match=r"prefer='cuda'.*CUDA"):
        get_device("cuda")
    with pytest.raises(ValueError, match=r"prefer='cuda:0'"):
        get_device("cuda:0")


def test_env_cuda_when_unavailable_names_env_var(monkeypatch, no_accelerators):
    monkeypatch.setenv(ENV, "cuda")
    with pytest.raises(ValueError, match=r"GENAI_DEVICE='cuda'.*CUDA") as info:
        get_device()
    assert "prefer" not in str(info.value)


def test_mps_when_unavailable(no_env, no_accelerators, monkeypatch):
    with pytest.raises(ValueError, match=r"prefer='mps'.*MPS"):
        get_device("mps")
    monkeypatch.setenv(ENV, "mps")
    with pytest.raises(ValueError, match=r"GENAI_DEVICE='mps'"):
        get_device()


def test_mps_when_available(no_env, monkeypatch):
    monkeypatch.setattr(genai_lib, "_mps_available", lambda: True)
    assert get_device("mps") == torch.device("mps")


def test_cuda_index_out_of_range(no_env, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert get_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(ValueError, match=r"prefer='cuda:2'.*2 CUDA device"):
        get_device("cuda:2")


@pytest.mark.parametrize("bad", ["garbage", "", "   ", "cuda:x", "gpu", "cpu cpu"])
def test_garbage_device_string(bad, no_env, no_accelerators):
    with pytest.raises(ValueError, match="prefer"):
        get_device(bad)


@pytest.mark.parametrize("bad", ["garbage", "gpu"])
def test_garbage_env_var(bad, monkeypatch, no_accelerators):
    monkeypatch.setenv(ENV, bad)
    with pytest.raises(ValueError, match="GENAI_DEVICE"):
        get_device()


@pytest.mark.parametrize("other", ["meta", "xla"])
def test_device_types_the_book_does_not_use(other, no_env, no_accelerators):
    with pytest.raises(ValueError, match=r"prefer=.*'cpu', 'cuda' or 'mps'"):
        get_device(other)


@pytest.mark.parametrize("bad", [0, 1.0, True, torch.device("cpu"), ["cpu"], b"cpu"])
def test_non_string_prefer_is_a_type_error(bad, no_env):
    with pytest.raises(TypeError, match="prefer"):
        get_device(bad)


# -- seed_everything ---------------------------------------------------------------------------


def _draws() -> dict:
    """Draws from every RNG seed_everything seeds, plus a tiny training step on the CPU."""
    out = {
        "random": [random.random() for _ in range(5)] + [random.randint(0, 10**9)],
        "numpy": np.random.rand(5).tolist() + np.random.randint(0, 10**9, size=3).tolist(),
        "randn": torch.randn(4, 3),
        "randint": torch.randint(0, 10**6, (5,)),
    }
    model = nn.Linear(5, 3)
    out["init"] = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(8, 5)
    loss = model(x).pow(2).mean()
    loss.backward()
    opt.step()
    out["loss"] = loss.detach().clone()
    out["after_step"] = [p.detach().clone() for p in model.parameters()]
    out["dropout"] = nn.functional.dropout(torch.ones(32), p=0.5, training=True)
    return out


def _same(a: dict, b: dict) -> bool:
    def eq(x, y):
        if isinstance(x, torch.Tensor):
            # Bit-identical, not merely close.
            return x.dtype == y.dtype and torch.equal(x, y)
        if isinstance(x, list):
            return len(x) == len(y) and all(eq(u, v) for u, v in zip(x, y))
        return x == y

    return a.keys() == b.keys() and all(eq(a[k], b[k]) for k in a)


def test_same_seed_gives_bit_identical_draws():
    seed_everything(1234)
    first = _draws()
    seed_everything(1234)
    second = _draws()
    assert _same(first, second)
    # Checked per source too, so that a failure says which RNG is not seeded.
    for key in first:
        assert _same({key: first[key]}, {key: second[key]}), key


def test_different_seeds_give_different_draws():
    seed_everything(0)
    a = _draws()
    seed_everything(1)
    b = _draws()
    for key in ("random", "numpy", "randn", "randint", "init", "after_step"):
        assert not _same({key: a[key]}, {key: b[key]}), f"{key} did not change with the seed"


def test_returns_a_seeded_cpu_generator():
    g = seed_everything(7)
    assert isinstance(g, torch.Generator)
    assert g.device == torch.device("cpu")
    assert g.initial_seed() == 7
    expected = torch.randn(6, generator=torch.Generator().manual_seed(7))
    assert torch.equal(torch.randn(6, generator=g), expected)


def test_returned_generator_is_independent_of_the_global_one():
    seed_everything(3)
    reference = torch.randn(4)
    g = seed_everything(3)
    torch.randn(100, generator=g)  # drawing from g must not move the global stream
    assert torch.equal(torch.randn(4), reference)


def test_seed_everything_seeds_torch_initial_seed():
    seed_everything(42)
    assert torch.initial_seed() == 42


def test_seed_everything_asks_cudnn_for_determinism():
    seed_everything(0)
    assert torch.backends.cudnn.deterministic is True
    assert torch.backends.cudnn.benchmark is False


@pytest.mark.parametrize("ok", [0, 1, 2**32 - 1, np.int64(5), np.uint32(9)])
def test_accepted_seeds(ok):
    g = seed_everything(ok)
    assert g.initial_seed() == int(ok)


@pytest.mark.parametrize(
    "bad, error",
    [
        (True, TypeError),
        (False, TypeError),
        (np.bool_(True), TypeError),
        (1.0, TypeError),
        (1.5, TypeError),
        ("3", TypeError),
        (None, TypeError),
        (torch.tensor(3), TypeError),
        (-1, ValueError),
        (2**32, ValueError),
        (np.int64(-5), ValueError),
        (10**30, ValueError),
    ],
)
def test_bad_seeds_are_refused_by_name(bad, error):
    state = random.getstate()
    with pytest.raises(error, match=r"\bseed\b"):
        seed_everything(bad)
    assert random.getstate() == state  # refused before anything was seeded


# -- importing the package ---------------------------------------------------------------------


def _run(code: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


NO_NETWORK_PRELUDE = """
import socket

attempts = []

def _blocked(*args, **kwargs):
    attempts.append(args[1:2] or args[:1])
    raise OSError("network access is disabled in this test")

socket.socket.connect = _blocked
socket.socket.connect_ex = _blocked
socket.socket.sendto = _blocked
socket.create_connection = _blocked
socket.getaddrinfo = _blocked
"""


def test_import_needs_no_network():
    code = (
        NO_NETWORK_PRELUDE
        + """
import genai_lib
import genai_lib.data, genai_lib.exercises, genai_lib.training, genai_lib.viz
# An attempt that the package caught and swallowed still counts.
assert not attempts, f"import genai_lib tried the network: {attempts}"
print("ok", genai_lib.__version__)
"""
    )
    assert _run(code).stdout.startswith("ok ")


def test_import_changes_no_global_state():
    code = """
import json, os, random, sys
import numpy as np
import torch
import plotly.io as pio

def snapshot():
    return {
        "torch threads": torch.get_num_threads(),
        "torch interop threads": torch.get_num_interop_threads(),
        "torch rng": torch.random.get_rng_state().numpy().tobytes().hex(),
        "torch initial_seed": torch.initial_seed(),
        "torch default dtype": str(torch.get_default_dtype()),
        "torch deterministic": torch.are_deterministic_algorithms_enabled(),
        "torch grad enabled": torch.is_grad_enabled(),
        "cudnn deterministic": torch.backends.cudnn.deterministic,
        "cudnn benchmark": torch.backends.cudnn.benchmark,
        "numpy rng": repr(np.random.get_state()),
        "numpy errstate": np.geterr(),
        "numpy printoptions": repr(np.get_printoptions()),
        "random": repr(random.getstate()),
        "plotly renderer": pio.renderers.default,
        "plotly renderers": sorted(pio.renderers),
        "plotly template": pio.templates.default,
        "plotly templates": sorted(pio.templates),
        "environ": dict(os.environ),
    }

before = snapshot()
import genai_lib
after = snapshot()
changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
print(json.dumps(sorted(changed)))
"""
    changed = json.loads(_run(code).stdout.strip().splitlines()[-1])
    assert changed == [], f"import genai_lib changed global state: {changed}"


def test_public_names():
    for name in ("get_device", "seed_everything", "__version__", "data", "training", "viz"):
        assert name in genai_lib.__all__
        assert hasattr(genai_lib, name)
    for fn in (get_device, seed_everything):
        assert fn.__doc__ and "Raises" in fn.__doc__


# -- env_seed ----------------------------------------------------------------------------------


def test_env_seed_defaults_when_unset(monkeypatch):
    monkeypatch.delenv("GENAI_SEED", raising=False)
    assert genai_lib.env_seed() == 0
    assert genai_lib.env_seed(default=7) == 7
    monkeypatch.setenv("GENAI_SEED", "  ")
    assert genai_lib.env_seed(default=3) == 3


@pytest.mark.parametrize("text, seed", [("1", 1), ("2", 2), (" 42 ", 42), ("4294967295", 2**32 - 1)])
def test_env_seed_reads_the_environment(monkeypatch, text, seed):
    monkeypatch.setenv("GENAI_SEED", text)
    assert genai_lib.env_seed() == seed
    assert genai_lib.env_seed(default=9) == seed


@pytest.mark.parametrize("text", ["one", "1.5", "-1", "4294967296", "0x10"])
def test_env_seed_names_the_variable_when_it_is_not_a_seed(monkeypatch, text):
    monkeypatch.setenv("GENAI_SEED", text)
    with pytest.raises(ValueError, match="GENAI_SEED"):
        genai_lib.env_seed()


@pytest.mark.parametrize("bad", [1.0, "0", True, None])
def test_env_seed_default_must_be_an_int(monkeypatch, bad):
    monkeypatch.delenv("GENAI_SEED", raising=False)
    with pytest.raises(TypeError, match="default"):
        genai_lib.env_seed(bad)


def test_import_loads_only_the_layers_below_the_families():
    """Layers point down: the package root imports data, training and viz, never a family or the
    exercise checkers (which import the families)."""
    code = """
import sys
import genai_lib
loaded = sorted(m for m in sys.modules if m.startswith("genai_lib."))
upward = [m for m in loaded if m.split(".")[1] in ("gan", "diffusion", "llm", "autoencoders", "exercises")]
assert not upward, upward
from genai_lib.exercises import llms
print("ok")
"""
    assert _run(code).stdout.startswith("ok")


# -- argument checks (genai_lib._checks): every config validates through them ------------------


def test_check_bool_refuses_ints_naming_the_argument():
    from genai_lib._checks import check_bool

    assert check_bool(True, "flag") is True and check_bool(False, "flag") is False
    for bad in (1, 0, "yes", None):
        with pytest.raises(TypeError, match="flag must be a bool"):
            check_bool(bad, "flag")


def test_check_fields_normalises_frozen_dataclass_fields_and_names_the_first_bad_one():
    import dataclasses

    from genai_lib._checks import check_fields, check_float, check_int

    @dataclasses.dataclass(frozen=True)
    class Config:
        steps: object = 3
        rate: object = 1

        def __post_init__(self):
            check_fields(self, {"steps": lambda v, n: check_int(v, n, minimum=1), "rate": check_float})

    c = Config(steps=torch.tensor(5), rate=2)
    assert c.steps == 5 and type(c.steps) is int and c.rate == 2.0 and type(c.rate) is float
    with pytest.raises(ValueError, match="steps must be an int >= 1, got 0"):
        Config(steps=0, rate="x")  # checked in order: steps first
    with pytest.raises(TypeError, match="rate must be a float"):
        Config(rate="x")


def test_configs_raise_type_errors_for_types_and_value_errors_for_values():
    """One rule across the families' configs: a wrong type is a TypeError, a wrong value a ValueError,
    and both name the field."""
    from genai_lib.diffusion import NoiseSchedule
    from genai_lib.llm import GPTConfig

    with pytest.raises(TypeError, match="dropout"):
        GPTConfig(vocab_size=10, dropout="0.1")
    with pytest.raises(ValueError, match="dropout"):
        GPTConfig(vocab_size=10, dropout=1.0)
    with pytest.raises(TypeError, match="bias"):
        GPTConfig(vocab_size=10, bias=1)
    with pytest.raises(TypeError, match="n_layer"):
        GPTConfig(vocab_size=10, n_layer=2.0)
    with pytest.raises(TypeError, match="kind"):
        NoiseSchedule(kind=1)
    with pytest.raises(ValueError, match="kind"):
        NoiseSchedule(kind="sigmoid")
    assert type(NoiseSchedule("linear", torch.tensor(10)).num_steps) is int


def test_module_device_reads_parameters_then_buffers_then_the_default():
    assert genai_lib.module_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    bn_like = torch.nn.Module()
    bn_like.register_buffer("running", torch.zeros(3))
    assert genai_lib.module_device(bn_like) == torch.device("cpu")
    assert genai_lib.module_device(torch.nn.Identity(), default="meta") == torch.device("meta")
    assert genai_lib.module_device(lambda x: x) == torch.device("cpu")
    meta = torch.nn.Linear(2, 2, device="meta")
    assert genai_lib.module_device(meta) == torch.device("meta")


def test_imports_point_down_the_layers():
    """README's rule, read from the source: the layers below the families never import a family or
    the exercises, and no family imports another."""
    import ast

    families = {"gan", "diffusion", "llm", "autoencoders"}
    below = {"data", "ema", "training", "metrics", "viz", "_checks", "distributed"}
    package = Path(genai_lib.__file__).parent
    for path in package.rglob("*.py"):
        layer = path.relative_to(package).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if not name.startswith("genai_lib."):
                    continue
                target = name.split(".")[1]
                if layer in below:
                    assert target not in families | {"exercises"}, f"{path.name} ({layer}) imports {name}"
                if layer in families:
                    assert target not in (families - {layer}) | {"exercises"}, f"{path.name} ({layer}) imports {name}"


# -- lazily exported names: the trainers' modules run as commands once -------------------------


@pytest.mark.parametrize("package", ["genai_lib.llm", "genai_lib.gan", "genai_lib.diffusion"])
def test_every_exported_name_is_listed_and_resolves(package):
    """``dir()`` (and so autodoc and tab completion) lists the lazily imported names too."""
    module = __import__(package, fromlist=["__all__"])
    assert not [name for name in module.__all__ if name not in dir(module)]
    for name in module.__all__:
        assert getattr(module, name) is not None
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018


@pytest.mark.parametrize("family", ["llm", "gan", "diffusion"])
def test_training_commands_do_not_import_their_module_twice(family):
    # With a package that imported its trainer, `python -m` would execute the module a second time as
    # __main__ and runpy would warn; -W error turns that warning into a failure.
    proc = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-m", f"genai_lib.{family}.train", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: python -m genai_lib" in proc.stdout
    assert "found in sys.modules" not in proc.stderr
