"""The checkers of the modern-GAN chapter accept right answers and reject common wrong ones, with hints."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genai_lib.exercises import modern_gan as ex


def test_hinge_loss(capsys):
    assert ex.check_hinge_loss(0.3 + 0.6)
    assert not ex.check_hinge_loss(0.3)  # one term only
    assert not ex.check_hinge_loss((0.1 + 0.8 + 2.0) / 3 + (0.5 - 1.0 + 1.3) / 3)  # no clipping
    out = capsys.readouterr().out
    assert "0.9" not in out.split("✘")[-1]  # a hint, never the answer
    with pytest.raises(TypeError):
        ex.check_hinge_loss("0.9")


def _sigma(w, steps):
    u = torch.ones(w.shape[0])
    for _ in range(steps):
        v = F.normalize(w.T @ u, dim=0)
        u = F.normalize(w @ v, dim=0)
    return float(u @ w @ v)


def test_power_iteration():
    assert ex.check_power_iteration(_sigma)
    assert not ex.check_power_iteration(lambda w, steps: float(w.norm()))
    assert not ex.check_power_iteration(lambda w, steps: _sigma(w, steps) ** 2)
    assert not ex.check_power_iteration(lambda w, steps: 1 / 0)
    with pytest.raises(TypeError):
        ex.check_power_iteration(3)


def test_multiple_choice_and_solutions(capsys):
    assert ex.check_augment_both("b") and not ex.check_augment_both("d")
    assert ex.check_truncation_trade("(a)") and not ex.check_truncation_trade("b")
    for name in ("check_hinge_loss", "check_power_iteration", "check_augment_both", "check_truncation_trade"):
        ex.solution(name)
    assert "Answer: 0.9" in capsys.readouterr().out
    with pytest.raises(ValueError, match="valid names"):
        ex.solution("check_nothing")
