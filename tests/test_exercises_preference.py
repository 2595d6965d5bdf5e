"""The preference-optimisation chapter's exercise checkers accept right answers and give hints, never the answer,
for wrong ones."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from genai_lib.exercises import llms as ex


def run(capsys, check, *args, **kwargs):
    ok = check(*args, **kwargs)
    return ok, capsys.readouterr().out


def test_dpo_loss(capsys):
    right = lambda pw, pl, rw, rl, b: -F.logsigmoid(b * ((pw - rw) - (pl - rl))).mean()
    assert run(capsys, ex.check_dpo_loss, right)[0]
    softplus = lambda pw, pl, rw, rl, b: F.softplus(-b * ((pw - rw) - (pl - rl))).mean()
    assert run(capsys, ex.check_dpo_loss, softplus)[0]
    unstable = lambda pw, pl, rw, rl, b: -torch.log(torch.sigmoid(b * ((pw - rw) - (pl - rl)))).mean()
    ok, out = run(capsys, ex.check_dpo_loss, unstable)
    assert not ok and "logsigmoid" in out
    no_beta = lambda pw, pl, rw, rl, b: -F.logsigmoid((pw - rw) - (pl - rl)).mean()
    ok, out = run(capsys, ex.check_dpo_loss, no_beta)
    assert not ok and "β" in out
    swapped = lambda pw, pl, rw, rl, b: -F.logsigmoid(b * ((pl - rl) - (pw - rw))).mean()
    ok, out = run(capsys, ex.check_dpo_loss, swapped)
    assert not ok and "swapped" in out
    summed = lambda pw, pl, rw, rl, b: -F.logsigmoid(b * ((pw - rw) - (pl - rl))).sum()
    ok, out = run(capsys, ex.check_dpo_loss, summed)
    assert not ok and "mean" in out
    ok, out = run(capsys, ex.check_dpo_loss, lambda *a: 1 / 0)
    assert not ok and "ZeroDivisionError" in out
    with pytest.raises(TypeError):
        ex.check_dpo_loss(3)


def test_optimal_policy(capsys):
    kw = dict(ref=[0.5, 0.3, 0.2], reward=[0, 1, 2], beta=0.5)
    w = [0.5, 0.3 * math.exp(2), 0.2 * math.exp(4)]
    truth = w[2] / sum(w)
    assert run(capsys, ex.check_optimal_policy, truth, **kw)[0]
    assert run(capsys, ex.check_optimal_policy, round(truth, 3), **kw)[0]
    for wrong, hint in ((0.2, "reference's probability"), (w[2], "normalised"), (0.5, "not it")):
        ok, out = run(capsys, ex.check_optimal_policy, wrong, **kw)
        assert not ok and hint in out and f"{truth:.3f}" not in out
    with pytest.raises(ValueError, match="beta"):
        ex.check_optimal_policy(0.5, ref=[0.5, 0.5], reward=[0, 1], beta=0)


def test_beta_effect(capsys):
    assert run(capsys, ex.check_beta_effect, "b")[0]
    for letter in "acd":
        ok, out = run(capsys, ex.check_beta_effect, letter)
        assert not ok and out.startswith("✘")


def test_best_of_n_kl(capsys):
    truth = math.log(16) - 15 / 16
    assert run(capsys, ex.check_best_of_n_kl, truth, n=16)[0]
    assert run(capsys, ex.check_best_of_n_kl, 1.835, n=16)[0]
    for wrong, hint in ((math.log(16), "subtract"), (4 - 15 / 16, "nats"), (2.5, "not it")):
        ok, out = run(capsys, ex.check_best_of_n_kl, wrong, n=16)
        assert not ok and hint in out and "1.83" not in out
    with pytest.raises(ValueError, match="n must"):
        ex.check_best_of_n_kl(1.0, n=0)
