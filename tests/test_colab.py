"""The Colab bootstrap: each notebook's first cell installs genai_lib inside Colab, and only there.

The full test needs no network: a fresh virtual environment sees the book's installed packages
(torch, plotly, ...) but not genai_lib; with ``google.colab`` simulated in ``sys.modules`` and the
install source pointed at this checkout, the first cell must install genai_lib, after which the
whole introduction runs."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
import types
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parent.parent
INTRO = ROOT / "book" / "intro.md"


def _code_cells(md: Path) -> list[str]:
    return [c.source for c in jupytext.read(md).cells if c.cell_type == "code"]


def _bootstrap(md: Path) -> str:
    """The Colab block of the first cell: everything before its first blank line."""
    return _code_cells(md)[0].split("\n\n", 1)[0]


def test_bootstrap_does_nothing_outside_colab(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(_bootstrap(INTRO), {})
    assert calls == []


def test_bootstrap_installs_from_the_repository_inside_colab(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **k: calls.append((cmd, k)))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.delenv("GENAI_LIB_SOURCE", raising=False)
    exec(_bootstrap(INTRO), {})
    ((cmd, kwargs),) = calls
    assert cmd[:5] == [sys.executable, "-m", "pip", "install", "-q"]
    assert cmd[5].startswith("git+https://github.com/") and kwargs.get("check") is True


SIMULATION = textwrap.dedent(
    """
    import sys, types, importlib.util, json, pathlib
    assert importlib.util.find_spec("genai_lib") is None, "genai_lib must not be installed before the bootstrap"
    google = types.ModuleType("google"); colab = types.ModuleType("google.colab"); google.colab = colab
    sys.modules.update({"google": google, "google.colab": colab})
    cells = json.loads(pathlib.Path(sys.argv[1]).read_text())
    namespace = {}
    exec(cells[0], namespace)  # the bootstrap: pip-installs genai_lib, then imports it
    for source in cells[1:]:
        exec(source, namespace)
    import genai_lib, plotly.io as pio
    assert pio.renderers.default == "colab", pio.renderers.default
    print("ran", len(cells), "cells with genai_lib from", genai_lib.__file__)
    """
)


def test_notebook_runs_in_simulated_colab_after_the_bootstrap_installs_genai_lib(tmp_path):
    venv = tmp_path / "colab-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    # The simulated Colab has the book's dependencies preinstalled (as Colab has torch, plotly, ...):
    # point it at this environment's site-packages; use this environment's setuptools to build.
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "book_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(py), "-m", "pip", "uninstall", "-q", "-y", "setuptools"], check=True)
    cells = tmp_path / "cells.json"
    import json

    cells.write_text(json.dumps(_code_cells(INTRO)))
    env = dict(
        os.environ,
        GENAI_LIB_SOURCE=str(ROOT),
        PIP_NO_INDEX="1",
        PIP_NO_BUILD_ISOLATION="false",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        GENAI_DEVICE="cpu",
    )
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [str(py), "-c", SIMULATION, str(cells)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "ran" in result.stdout and str(venv) in result.stdout
