"""The publishing workflow and CI use the README's make targets, not commands of their own."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_pages_workflow_builds_with_make_book_and_publishes_the_built_site():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "publish.yml").read_text())
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as True
    assert on["push"]["branches"] == ["main"]
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    runs = [s["run"] for s in steps if "run" in s]
    assert any(r.startswith("make book") for r in runs), runs
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-pages-artifact")]
    assert uploads and uploads[0]["with"]["path"] == "_build/html"
    assert any(str(s.get("uses", "")).startswith("actions/deploy-pages") for s in steps)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme[: readme.index("\n## ")], "the README must lead with make test"
    assert "\nmake test\n" in ci


def test_the_bibliography_parses_and_every_key_is_unique():
    """A merge that drops a closing brace breaks the whole site build (sphinxcontrib-bibtex stops at
    the first syntax error); catch it here, with the entry named, minutes before the build."""
    import re

    from pybtex.database import parse_string

    text = (ROOT / "book" / "references.bib").read_text(encoding="utf-8")
    keys = re.findall(r"^@\w+\{([^,\s]+),", text, flags=re.M)
    assert len(keys) == len(set(keys)), sorted(k for k in set(keys) if keys.count(k) > 1)
    for entry in re.split(r"\n(?=@)", text.strip()):  # each entry alone, so an error names it
        if entry.startswith("@"):
            parse_string(entry, "bibtex")
    assert len(parse_string(text, "bibtex").entries) == len(keys)
