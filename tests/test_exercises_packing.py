"""The packing chapter's checkers: right answers pass, each named mistake gets its hint, bad kinds raise."""

from __future__ import annotations

import pytest
import torch

from genai_lib.exercises import packing as px
from genai_lib.gan.packing import pack


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


def test_check_pack(capsys) -> None:
    right(capsys, px.check_pack, pack)
    right(capsys, px.check_pack, lambda x, m: torch.cat([x[i::m] for i in range(m)], dim=1))  # same values, another way
    wrong(
        capsys,
        px.check_pack,
        lambda x, m: x.reshape(m, -1, x.shape[1]).transpose(0, 1).reshape(-1, m * x.shape[1]),
        "consecutive",
    )
    wrong(
        capsys,
        px.check_pack,
        lambda x, m: x.reshape(-1, m, x.shape[1]).transpose(1, 2).reshape(-1, m * x.shape[1]),
        "not in order",
    )
    wrong(capsys, px.check_pack, lambda x, m: x.detach().reshape(-1, m * x.shape[1]), "no gradient")
    wrong(capsys, px.check_pack, lambda x, m: x.reshape(m, -1), "shape")
    wrong(capsys, px.check_pack, lambda x: x, "raised TypeError")
    with pytest.raises(TypeError, match="fn"):
        px.check_pack(3)


def test_check_dstar_kept_mode(capsys) -> None:
    right(capsys, px.check_dstar_kept_mode, 4 / 9)
    right(capsys, px.check_dstar_kept_mode, torch.tensor(0.4444))
    wrong(capsys, px.check_dstar_kept_mode, 0.5, "more mass")
    wrong(capsys, px.check_dstar_kept_mode, 1.0, "missing mode")
    wrong(capsys, px.check_dstar_kept_mode, 25 / 45, "numerator")
    wrong(capsys, px.check_dstar_kept_mode, 0.3, "p_data(x) / (p_data(x) + p_g(x))")
    with pytest.raises(TypeError):
        px.check_dstar_kept_mode("0.44")


def test_check_packed_tv(capsys) -> None:
    right(capsys, px.check_packed_tv, 1 - 0.8**4)
    right(capsys, px.check_packed_tv, 0.590)
    wrong(capsys, px.check_packed_tv, 0.2, "m = 1")
    wrong(capsys, px.check_packed_tv, 0.8, "first-order")
    wrong(capsys, px.check_packed_tv, 0.8**4, "which event")
    wrong(capsys, px.check_packed_tv, 0.7, "eq-pack-tv")


def test_solutions_print(capsys) -> None:
    for name in ("check_pack", "check_dstar_kept_mode", "check_packed_tv"):
        px.solution(name)
        assert "Answer:" in capsys.readouterr().out
    with pytest.raises(ValueError, match="valid names"):
        px.solution("check_nothing")
