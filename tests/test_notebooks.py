"""The notebooks' conventions: every chapter is a MyST .md paired with an .ipynb whose cells match,
starts with the standard first cell, sits in the table of contents, and stores no outputs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


def _paired_markdown() -> list[Path]:
    out = []
    for md in sorted(BOOK.rglob("*.md")):
        if "_build" in md.parts or ".ipynb_checkpoints" in md.parts:
            continue
        if md.read_text(encoding="utf-8").startswith("---\njupytext:"):
            out.append(md)
    return out


NOTEBOOKS = _paired_markdown()
IDS = [str(p.relative_to(ROOT)) for p in NOTEBOOKS]


def _cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source, tuple(c.metadata.get("tags", ()))) for c in nb.cells]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no paired MyST notebooks found under book/"


@pytest.mark.parametrize("md", NOTEBOOKS, ids=IDS)
def test_pair_has_identical_cells(md: Path):
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run `make sync`"
    a, b = _cells(jupytext.read(md)), _cells(jupytext.read(ipynb))
    assert len(a) == len(b), f"{md.name} has {len(a)} cells, {ipynb.name} {len(b)}: run `make sync`"
    for i, (x, y) in enumerate(zip(a, b)):
        assert x == y, f"cell {i} differs between {md.name} and {ipynb.name}: run `make sync`"


@pytest.mark.parametrize("md", NOTEBOOKS, ids=IDS)
def test_pair_metadata_agrees(md: Path):
    a, b = jupytext.read(md), jupytext.read(md.with_suffix(".ipynb"))
    assert a.metadata.get("kernelspec") == b.metadata.get("kernelspec")


@pytest.mark.parametrize("md", NOTEBOOKS, ids=IDS)
def test_committed_ipynb_stores_no_outputs(md: Path):
    """Outputs come from executing the current code (the build and nbval), never from the repository."""
    nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    stored = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not stored, f"cells {stored} of {md.with_suffix('.ipynb').name} store outputs; clear them"


def _repository_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["repository"]["url"]


@pytest.mark.parametrize("md", NOTEBOOKS, ids=IDS)
def test_first_code_cell_is_the_standard_setup(md: Path):
    nb = jupytext.read(md)
    first = next(c for c in nb.cells if c.cell_type == "code").source
    assert '"google.colab" in sys.modules' in first, "first cell must install genai_lib inside Colab only"
    assert f"git+{_repository_url()}" in first, "the Colab install must point at _config.yml's repository.url"
    for needed in ("seed_everything(", "get_device()", "viz.init_notebook()", "print("):
        assert needed in first, f"first code cell lacks {needed}"
    # The seed comes from GENAI_SEED, so that `make robust` and a reader can rerun with another one.
    assert re.search(r"^SEED = genai_lib\.env_seed\(\)", first, re.M), "first cell must set SEED = genai_lib.env_seed()"


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc.get("parts", []))
    walk(toc.get("chapters", []))
    return files


def test_every_notebook_is_in_the_toc_and_every_toc_entry_exists():
    files = _toc_files()
    for f in files:
        assert (ROOT / f).with_suffix(".md").exists(), f"_toc.yml lists {f}, which does not exist"
    listed = {str((ROOT / f).with_suffix(".md")) for f in files}
    missing = [str(md.relative_to(ROOT)) for md in NOTEBOOKS if str(md) not in listed]
    assert not missing, f"notebooks missing from _toc.yml: {missing}"


@pytest.mark.parametrize("md", NOTEBOOKS, ids=IDS)
def test_claims_are_asserted_in_hidden_cells(md: Path):
    """Every chapter checks what it says in hidden cells that nbval runs, about what its visible cells
    computed: at least three asserts that read a name the page's visible code assigns, and no assert
    that cannot fail (a test made of constants only)."""
    nb = jupytext.read(md)
    code = [c for c in nb.cells if c.cell_type == "code"]
    hidden = [c for c in code if "remove-cell" in c.metadata.get("tags", ())]
    visible_names = set()
    for cell in code:
        if cell not in hidden:
            tree = ast.parse(_python(cell.source))
            visible_names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    about_the_page = 0
    for cell in hidden:
        for node in ast.walk(ast.parse(_python(cell.source))):
            if isinstance(node, ast.Assert):
                names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
                assert names or any(isinstance(n, ast.Call) for n in ast.walk(node.test)), (
                    f"an assert that cannot fail: assert {ast.unparse(node.test)}"
                )
                about_the_page += bool(names & visible_names)
    assert about_the_page >= 3, f"only {about_the_page} hidden asserts check what the page's visible cells computed"


def _python(source: str) -> str:
    """A cell's source without IPython's magics and shell escapes, for ast."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


@pytest.mark.parametrize("md", NOTEBOOKS, ids=IDS)
def test_claims_are_not_gated_on_one_seed_or_one_device(md: Path):
    """A claim holds for every seed and machine (README, "The rule for claims"): no cell skips its
    checks unless the seed is 0 or the device a CPU."""
    gate = re.compile(r"^\s*(if|elif)\b.*(\bSEED\s*==|device\.type\s*==\s*[\"']cpu[\"'])")
    for i, cell in enumerate(jupytext.read(md).cells):
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            assert not gate.search(line), f"cell {i} gates on one seed or the CPU: {line.strip()}"


_GLUE_USE = re.compile(r"\{glue(?::\w+)?\}`([^`:]+)(?::[^`]*)?`|^```\{glue(?::\w+)?\}\s+([^\s:]+)", re.M)
_GLUE_DEF = re.compile(r"\bglue\(\s*(f?)([\"'])(.+?)\2")


@pytest.mark.parametrize("md", NOTEBOOKS, ids=IDS)
def test_every_glued_number_in_the_prose_is_glued_by_the_page(md: Path):
    """A {glue:text}`name` in the prose names a value that a code cell of the same page glues.

    Names built in a loop (``viz.glue(f"fd_{k}", ...)``) match any text in place of each ``{...}``;
    where a cell glues a name held in a variable, every quoted word of that cell counts as a name.
    The site build (-W) checks the same with the executed notebook; this catches it in a second.
    """
    nb = jupytext.read(md)
    used = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            used |= {a or b for a, b in _GLUE_USE.findall(cell.source)}
    patterns = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            for is_f, _, name in _GLUE_DEF.findall(cell.source):
                if is_f:
                    parts = re.split(r"\{[^}]*\}", name)
                    patterns.append(re.compile(".+".join(re.escape(p) for p in parts) + r"\Z"))
                else:
                    patterns.append(re.compile(re.escape(name) + r"\Z"))
            if re.search(r"\bglue\(\s*[A-Za-z_]", cell.source):
                patterns += [re.compile(re.escape(w) + r"\Z") for w in re.findall(r"[\"'](\w+)[\"']", cell.source)]
    missing = sorted(n for n in used if not any(p.match(n) for p in patterns))
    assert not missing, f"the prose uses glue names no code cell of {md.name} glues: {missing}"


_BACKTICK_PROSE_DIRECTIVE = re.compile(r"^`{3,}\{(exercise|solution|admonition|note|tip|warning|important)\}", re.M)


@pytest.mark.parametrize("md", NOTEBOOKS, ids=IDS)
def test_prose_directives_use_colon_fences(md: Path):
    """Exercises, solutions and admonitions are written ``:::{exercise}``, not in backtick fences.

    Jupyter and Colab do not know MyST: a backtick fence shows its content as a code block (raw
    LaTeX in monospace), a colon fence as Markdown with its equations rendered. The site is the same.
    """
    found = [
        m.group(0)
        for cell in jupytext.read(md).cells
        if cell.cell_type == "markdown"
        for m in _BACKTICK_PROSE_DIRECTIVE.finditer(cell.source)
    ]
    assert found == [], f"{md.name}: write these as colon fences (:::{{name}} ... :::): {found}"
