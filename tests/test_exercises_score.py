"""The score chapter's checkers: right answers pass, each named mistake gets its hint, bad kinds raise."""

from __future__ import annotations

import math

import pytest

from genai_lib.diffusion import score as sc
from genai_lib.exercises import score as sx


def right(capsys, check, *args) -> None:
    ok = check(*args)
    out = capsys.readouterr().out
    assert ok is True and out.startswith("✔"), out


def wrong(capsys, check, arg, hint: str) -> None:
    ok = check(arg)
    out = capsys.readouterr().out
    assert ok is False and out.startswith("✘"), out
    assert hint in out, (hint, out)


def test_check_eps_from_score(capsys) -> None:
    right(capsys, sx.check_eps_from_score, lambda s, a: -((1 - a) ** 0.5) * s)
    right(capsys, sx.check_eps_from_score, lambda s, a: sc.from_eps(-((1 - a) ** 0.5) * s, "eps", s, a))
    wrong(capsys, sx.check_eps_from_score, lambda s, a: (1 - a) ** 0.5 * s, "sign")
    wrong(capsys, sx.check_eps_from_score, lambda s, a: -(1 - a) * s, "variance")
    wrong(capsys, sx.check_eps_from_score, lambda s, a: -(a**0.5) * s, "which factor")
    wrong(capsys, sx.check_eps_from_score, lambda s, a: s * 0, "wrong at")
    wrong(capsys, sx.check_eps_from_score, lambda s: s, "raised TypeError")
    wrong(capsys, sx.check_eps_from_score, lambda s, a: s[0], "shape")
    with pytest.raises(TypeError, match="fn"):
        sx.check_eps_from_score(1)


def test_check_langevin_step(capsys) -> None:
    right(capsys, sx.check_langevin_step, lambda x, s, d, z: x + d * s + math.sqrt(2 * d) * z)
    wrong(capsys, sx.check_langevin_step, lambda x, s, d, z: x + d * s + math.sqrt(d) * z, "√2")
    wrong(capsys, sx.check_langevin_step, lambda x, s, d, z: x + d * s + d * z, "square root")
    wrong(capsys, sx.check_langevin_step, lambda x, s, d, z: x - d * s + math.sqrt(2 * d) * z, "wrong way")
    wrong(capsys, sx.check_langevin_step, lambda x, s, d, z: x + d * s, "gradient ascent")
    wrong(capsys, sx.check_langevin_step, lambda x, s, d, z: x, "compare")
    with pytest.raises(TypeError, match="fn"):
        sx.check_langevin_step("x")


def test_check_v_target(capsys) -> None:
    right(capsys, sx.check_v_target, lambda x0, e, a: sc.v_target(x0, e, a))
    wrong(capsys, sx.check_v_target, lambda x0, e, a: (1 - a) ** 0.5 * x0 - a**0.5 * e, "opposite sign")
    wrong(capsys, sx.check_v_target, lambda x0, e, a: a**0.5 * x0 - (1 - a) ** 0.5 * e, "swapped")
    wrong(capsys, sx.check_v_target, lambda x0, e, a: a * e - (1 - a) * x0, "squares")
    wrong(capsys, sx.check_v_target, lambda x0, e, a: e, "wrong at")


def test_check_few_steps_reason(capsys) -> None:
    right(capsys, sx.check_few_steps_reason, "b")
    for letter in "acd":
        assert sx.check_few_steps_reason(letter) is False
    capsys.readouterr()
    with pytest.raises((TypeError, ValueError)):
        sx.check_few_steps_reason("z")


def test_solutions(capsys) -> None:
    for name in ("check_eps_from_score", "check_langevin_step", "check_v_target", "check_few_steps_reason"):
        sx.solution(name)
        out = capsys.readouterr().out
        assert out.startswith(f"Solution of {name}:") and "Answer: " in out, out
        assert len(out.split("\n\n")[-1]) > 80, out  # an explanation, not only the answer
    with pytest.raises(ValueError, match="check_v_target"):
        sx.solution("check_nothing")


def test_no_checker_prints_the_answer_after_a_wrong_one(capsys) -> None:
    sx.check_v_target(lambda x0, e, a: e)
    sx.check_eps_from_score(lambda s, a: s * 0)
    out = capsys.readouterr().out
    assert "√ᾱ ε - √(1 - ᾱ) x0" not in out and "-√(1 - ᾱ) ∇" not in out
