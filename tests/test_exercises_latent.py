"""The latent chapter's checkers: right answers pass, each named mistake gets its hint, bad kinds raise."""

from __future__ import annotations

import pytest
import torch

from genai_lib.exercises import latent as lx


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


def test_check_gaussian_kl(capsys) -> None:
    right(capsys, lx.check_gaussian_kl, lambda m, lv: 0.5 * (m**2 + lv.exp() - lv - 1).sum(dim=1))
    wrong(capsys, lx.check_gaussian_kl, lambda m, lv: 0.5 * (m**2 + lv.exp() - lv - 1), "sum over the d dimensions")
    wrong(capsys, lx.check_gaussian_kl, lambda m, lv: 0.5 * (m**2 + lv.exp() - lv - 1).sum(1).mean(), "batch mean")
    wrong(capsys, lx.check_gaussian_kl, lambda m, lv: (m**2 + lv.exp() - lv - 1).sum(dim=1), "factor")
    wrong(capsys, lx.check_gaussian_kl, lambda m, lv: 0.5 * (m**2 + (lv / 2).exp() - lv / 2 - 1).sum(1), "variance")
    wrong(capsys, lx.check_gaussian_kl, lambda m, lv: 0.5 * (m**2 + lv.exp() - lv).sum(dim=1), "constant term")
    wrong(capsys, lx.check_gaussian_kl, lambda m, lv: -0.5 * (m**2 + lv.exp() - lv - 1).sum(dim=1), "sign")
    wrong(capsys, lx.check_gaussian_kl, lambda m, lv: (m**2).sum(dim=1), "derive it")
    wrong(capsys, lx.check_gaussian_kl, lambda m: m, "raised TypeError")
    with pytest.raises(TypeError, match="fn"):
        lx.check_gaussian_kl(1.0)


def test_check_kl_value(capsys) -> None:
    right(capsys, lx.check_kl_value, 0.818)
    right(capsys, lx.check_kl_value, torch.tensor(0.81815))
    wrong(capsys, lx.check_kl_value, 0.82, "3 significant figures")
    wrong(capsys, lx.check_kl_value, 1.636, "factor")
    wrong(capsys, lx.check_kl_value, 0.5966, "variance")
    wrong(capsys, lx.check_kl_value, -0.3, "never negative")
    wrong(capsys, lx.check_kl_value, 3.0, "per-dimension term")
    with pytest.raises(TypeError, match="answer"):
        lx.check_kl_value("0.818")


def test_check_reparameterise(capsys) -> None:
    right(capsys, lx.check_reparameterise, lambda m, lv, e: m + torch.exp(0.5 * lv) * e)
    wrong(capsys, lx.check_reparameterise, lambda m, lv, e: m + torch.exp(lv) * e, "standard deviation")
    wrong(capsys, lx.check_reparameterise, lambda m, lv, e: m + lv * e, "log of the variance")
    wrong(capsys, lx.check_reparameterise, lambda m, lv, e: (m + torch.exp(0.5 * lv) * e).detach(), "no gradient")
    wrong(capsys, lx.check_reparameterise, lambda m, lv, e: m.detach() + torch.exp(0.5 * lv) * e, "reach both")
    wrong(capsys, lx.check_reparameterise, lambda m, lv, e: e, "shift and scale")
    wrong(capsys, lx.check_reparameterise, lambda m, lv, e: m[:1], "mean's shape")
    with pytest.raises(TypeError, match="fn"):
        lx.check_reparameterise(None)


def test_check_prior_hole_reason(capsys) -> None:
    right(capsys, lx.check_prior_hole_reason, "b")
    right(capsys, lx.check_prior_hole_reason, "(B)")
    for letter in "acd":
        ok, _ = call(capsys, lx.check_prior_hole_reason, letter)
        assert ok is False
    with pytest.raises(ValueError, match="answer"):
        lx.check_prior_hole_reason("e")


def test_solutions_exist_for_every_checker(capsys) -> None:
    for name in ("check_gaussian_kl", "check_kl_value", "check_reparameterise", "check_prior_hole_reason"):
        lx.solution(name)
        assert "Answer:" in capsys.readouterr().out
    with pytest.raises(ValueError, match="name"):
        lx.solution("check_nothing")
