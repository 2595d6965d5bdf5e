"""The instruction-tuning chapter's exercise checkers accept right answers and give hints, never the answer,
for wrong ones."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genai_lib.exercises import llms as ex


def run(capsys, check, *args, **kwargs):
    ok = check(*args, **kwargs)
    return ok, capsys.readouterr().out


def test_answer_targets(capsys):
    kw = dict(instruction="Repeat: to be", reply="to be")
    ok, out = run(capsys, ex.check_answer_targets, 6, **kw)
    assert ok and out.startswith("✔")
    for wrong, hint in ((5, "stop"), (7, "<|assistant|>"), (len("Repeat: to be") + 5 + 2, "every target")):
        ok, out = run(capsys, ex.check_answer_targets, wrong, **kw)
        assert not ok and hint in out and "6" not in out


def test_sft_loss(capsys):
    right = lambda logits, y, mask: F.cross_entropy(logits.transpose(1, 2), y.clamp(min=0), reduction="none")[
        mask
    ].mean()  # noqa: E731
    assert run(capsys, ex.check_sft_loss, right)[0]
    unmasked = lambda logits, y, mask: F.cross_entropy(logits.transpose(1, 2), y, ignore_index=-1)  # noqa: E731
    ok, out = run(capsys, ex.check_sft_loss, unmasked)
    assert not ok and "every real target" in out
    diluted = lambda logits, y, mask: (
        F.cross_entropy(logits.transpose(1, 2), y.clamp(min=0), reduction="none") * mask
    ).mean()  # noqa: E731
    ok, out = run(capsys, ex.check_sft_loss, diluted)
    assert not ok and "mask's count" in out
    ok, out = run(capsys, ex.check_sft_loss, lambda *a: 1 / 0)
    assert not ok and "ZeroDivisionError" in out
    with pytest.raises(TypeError):
        ex.check_sft_loss(3)


def test_special_tokens(capsys):
    assert run(capsys, ex.check_special_tokens, "a")[0]
    for letter in "bcd":
        ok, out = run(capsys, ex.check_special_tokens, letter)
        assert not ok and out.startswith("✘")


def test_mean_init_logit(capsys):
    logits = [1.0, -2.0, 4.5, 0.5]
    assert run(capsys, ex.check_mean_init_logit, 1.0, logits=logits)[0]
    assert run(capsys, ex.check_mean_init_logit, torch.tensor(1.0), logits=torch.tensor(logits))[0]
    ok, out = run(capsys, ex.check_mean_init_logit, 4.5, logits=logits)
    assert not ok and "linear" in out
    ok, out = run(capsys, ex.check_mean_init_logit, 0, logits=logits)
    assert not ok and "not zero" in out
