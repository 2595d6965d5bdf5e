"""The architecture lab's checkers: right answers pass, named mistakes get their hint, bad kinds raise."""

from __future__ import annotations

import pytest
import torch

from genai_lib.exercises import architecture as ax


def _run(capsys, check, arg) -> tuple[bool, str]:
    ok = check(arg)
    return ok, capsys.readouterr().out


def _rope(x, positions, base):
    d = x.size(-1)
    theta = positions[:, None].float() * base ** (-torch.arange(0, d, 2) / d)
    cos, sin = theta.cos(), theta.sin()
    a, b = x[..., : d // 2], x[..., d // 2 :]
    return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1)


def test_check_rope(capsys):
    assert _run(capsys, ax.check_rope, _rope)[0] is True
    ok, out = _run(capsys, ax.check_rope, lambda x, p, b: _rope(x, torch.arange(x.size(-2)), b))
    assert not ok and "positions you are given" in out
    ok, out = _run(capsys, ax.check_rope, lambda x, p, b: 2 * _rope(x, p, b))
    assert not ok and "length" in out
    ok, out = _run(capsys, ax.check_rope, lambda x, p, b: _rope(x, 2 * p, b))
    assert not ok and "angles" in out
    ok, out = _run(capsys, ax.check_rope, lambda x, p, b: 1 / 0)
    assert not ok and "ZeroDivisionError" in out
    with pytest.raises(TypeError, match="my_rope"):
        ax.check_rope(3)


def test_check_gqa_cache_bytes(capsys):
    assert _run(capsys, ax.check_gqa_cache_bytes, 536870912)[0] is True
    ok, out = _run(capsys, ax.check_gqa_cache_bytes, 4 * 536870912)
    assert not ok and "multi-head" in out
    ok, out = _run(capsys, ax.check_gqa_cache_bytes, 2 * 536870912)
    assert not ok and "2 bytes" in out
    assert "536870912" not in out
    with pytest.raises(TypeError):
        ax.check_gqa_cache_bytes("big")


def test_check_swiglu_and_reason(capsys):
    assert _run(capsys, ax.check_swiglu_hidden, 2048)[0] is True
    assert "three matrices" in _run(capsys, ax.check_swiglu_hidden, 3072)[1]
    assert _run(capsys, ax.check_extrapolation_reason, "b")[0] is True
    ok, out = _run(capsys, ax.check_extrapolation_reason, "d")
    assert not ok and "rotates" in out
    ax.solution("check_rope")
    assert "def my_rope" in capsys.readouterr().out
