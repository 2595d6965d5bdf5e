"""The flow-matching chapter's checkers: right answers pass, each named mistake gets its hint, bad kinds raise."""

from __future__ import annotations

import pytest
import torch

from genai_lib.diffusion import EulerSampler, HeunSampler
from genai_lib.diffusion.flow_pretrained import load_flow_pretrained
from genai_lib.exercises import flow as fx

pytestmark = pytest.mark.usefixtures("one_thread")


def call(capsys, check, *args) -> tuple[bool, str]:
    ok = check(*args)
    return ok, capsys.readouterr().out


def right(capsys, check, *args) -> None:
    ok, out = call(capsys, check, *args)
    assert ok is True and out.startswith("✔"), out


def wrong(capsys, check, arg, hint: str) -> None:
    ok, out = call(capsys, check, arg)
    assert ok is False and out.startswith("✘"), out
    assert hint in out, (hint, out)


def _bt(t, x):
    return t.reshape(-1, *[1] * (x.dim() - 1))


def test_check_path_and_target(capsys) -> None:
    right(capsys, fx.check_path_and_target, lambda x0, x1, t: ((1 - _bt(t, x0)) * x0 + _bt(t, x0) * x1, x1 - x0))
    wrong(
        capsys,
        fx.check_path_and_target,
        lambda x0, x1, t: (_bt(t, x0) * x0 + (1 - _bt(t, x0)) * x1, x0 - x1),
        "wrong way",
    )
    good_x = lambda x0, x1, t: (1 - _bt(t, x0)) * x0 + _bt(t, x0) * x1  # noqa: E731
    wrong(capsys, fx.check_path_and_target, lambda x0, x1, t: (good_x(x0, x1, t), x0 - x1), "wrong sign")
    wrong(capsys, fx.check_path_and_target, lambda x0, x1, t: (good_x(x0, x1, t), x1), "differentiate")
    wrong(capsys, fx.check_path_and_target, lambda x0, x1, t: ((1 - t) * x0 + t * x1, x1 - x0), "broadcast")
    wrong(capsys, fx.check_path_and_target, lambda x0, x1, t: x0, "two tensors")
    wrong(capsys, fx.check_path_and_target, lambda x0, x1: x0, "raised TypeError")
    with pytest.raises(TypeError, match="fn"):
        fx.check_path_and_target(3)


def _heun(v, x, t, t_next):
    h = t_next - t
    d = v(x, t)
    return x + h * (d + v(x + h * d, t_next)) / 2


def test_check_heun_step(capsys) -> None:
    right(capsys, fx.check_heun_step, _heun)
    right(
        capsys,
        fx.check_heun_step,
        lambda v, x, t, tn: HeunSampler(times=torch.tensor([t, tn])).step(v, x, t, tn).prev_sample,
    )
    wrong(capsys, fx.check_heun_step, lambda v, x, t, tn: x + (tn - t) * v(x, t), "Euler step")
    wrong(capsys, fx.check_heun_step, lambda v, x, t, tn: x + (tn - t) * (v(x, t) + v(x, tn)) / 2, "prediction")
    wrong(capsys, fx.check_heun_step, lambda v, x, t, tn: x + (tn - t) * v(x + (tn - t) * v(x, t), tn), "average")
    wrong(
        capsys,
        fx.check_heun_step,
        lambda v, x, t, tn: (v(x, t), _heun(v, x, t, tn))[1],
        "called 3 times",
    )
    wrong(capsys, fx.check_heun_step, lambda v, x, t, tn: 0.0, "new x")
    with pytest.raises(TypeError, match="fn"):
        fx.check_heun_step(None)


def test_check_one_step_samples(capsys) -> None:
    flow = load_flow_pretrained()
    x = EulerSampler(1).sample(flow, (200, 1, 8, 8), torch.Generator().manual_seed(0))
    right(capsys, fx.check_one_step_samples, x)
    many = HeunSampler(4).sample(flow, (200, 1, 8, 8), torch.Generator().manual_seed(0))
    wrong(capsys, fx.check_one_step_samples, many, "EulerSampler(1)")
    wrong(capsys, fx.check_one_step_samples, x + 0.5, "average")
    wrong(capsys, fx.check_one_step_samples, x[:10], "at least 100")
    with pytest.raises(TypeError, match="samples"):
        fx.check_one_step_samples([1, 2])


def test_check_marginal_reason(capsys) -> None:
    right(capsys, fx.check_marginal_reason, "b")
    for letter, hint in (("a", "least-squares"), ("c", "never x1"), ("d", "curved")):
        wrong(capsys, fx.check_marginal_reason, letter, hint)
    with pytest.raises(ValueError):
        fx.check_marginal_reason("e")


def test_solutions(capsys) -> None:
    for name in ("check_path_and_target", "check_heun_step", "check_one_step_samples", "check_marginal_reason"):
        fx.solution(name)
        assert capsys.readouterr().out.startswith(f"Solution of {name}")
    with pytest.raises(ValueError, match="valid names"):
        fx.solution("check_nothing")
