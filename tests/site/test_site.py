"""Browser tests of the built site: headless Chromium, served from localhost, network cut off.

Every page loads without errors and without a single request leaving the site; every scrubber
draws, and dragging its slider, pressing play or using the keyboard changes the frame shown;
equations render; launch and download buttons point at the page's .ipynb; search works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"


def _pages() -> list[str]:
    if not SITE.exists():
        return []
    pages = ["search.html", "genindex.html"]
    pages += sorted(str(p.relative_to(SITE)) for p in (SITE / "book").rglob("*.html"))
    return pages


def _notebook_pages() -> list[str]:
    """Pages of the table of contents whose source is a paired notebook (launch buttons, figures)."""
    text = (ROOT / "_toc.yml").read_text()
    files = re.findall(r"^\s*(?:root|-\s*file):\s*(\S+)", text, re.M)
    return [f"{f}.html" for f in files if (ROOT / f).with_suffix(".ipynb").exists()]


PAGES = _pages()
NOTEBOOK_PAGES = _notebook_pages()


def test_the_site_has_every_notebook_page(site):
    for page in NOTEBOOK_PAGES:
        assert (site / page).exists(), f"{page} was not built"


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_without_errors_and_without_leaving_the_site(open_page, path):
    record = open_page(path)
    record.page.wait_for_timeout(300)
    assert not record.blocked, f"{path} asked for resources outside the site: {record.blocked}"
    assert not record.failed, f"{path} had failed requests: {record.failed}"
    assert not record.page_errors, f"{path} raised JavaScript errors: {record.page_errors}"
    assert not record.console_errors, f"{path} logged console errors: {record.console_errors}"


def test_no_cdn_reference_in_the_built_site(site):
    cdn = re.compile(r"(cdn\.plot\.ly|cdn\.jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com|mathjax@)")
    offenders = []
    for f in list(site.rglob("*.html")) + list((site / "_static").rglob("*.js")):
        if "mathjax" in f.parts:  # MathJax's own files name their home page in comments
            continue
        for match in re.finditer(r"<script[^>]*src=\"([^\"]+)\"", f.read_text(errors="replace")):
            if cdn.search(match.group(1)) or match.group(1).startswith(("http://", "https://", "//")):
                offenders.append(f"{f.relative_to(site)}: {match.group(1)}")
    assert not offenders, offenders


def _figures(page) -> list:
    return page.query_selector_all(".genai-figure .plotly-graph-div")


def _active(page, handle) -> int:
    return page.evaluate("gd => (gd.layout.sliders && gd.layout.sliders[0].active) || 0", handle)


def _n_frames(page, handle) -> int:
    return page.evaluate("gd => (gd._transitionData && gd._transitionData._frames || []).length", handle)


@pytest.mark.parametrize("path", NOTEBOOK_PAGES)
def test_every_figure_draws(open_page, path):
    record = open_page(path)
    figures = _figures(record.page)
    html = (SITE / path).read_text()
    assert len(figures) == html.count('class="genai-figure"'), "some figures did not get a plot div"
    labels = record.page.eval_on_selector_all(".genai-figure", "els => els.map(e => e.getAttribute('aria-label'))")
    assert all(label and len(label) > 20 for label in labels), f"a figure lacks alt text saying what to see: {labels}"
    for gd in figures:
        gd.scroll_into_view_if_needed()
        record.page.wait_for_function("gd => gd.querySelector('.main-svg') !== null", arg=gd, timeout=20_000)


def _scrubbers(record) -> list:
    out = []
    for gd in _figures(record.page):
        gd.scroll_into_view_if_needed()
        record.page.wait_for_function("gd => gd.querySelector('.main-svg') !== null", arg=gd, timeout=20_000)
        if record.page.evaluate("gd => !!(gd.layout.sliders && gd.layout.sliders.length)", gd):
            out.append(gd)
    return out


SCRUBBER_PAGES = [p for p in NOTEBOOK_PAGES if (SITE / p).exists() and "genai-figure" in (SITE / p).read_text()]


@pytest.mark.parametrize("path", SCRUBBER_PAGES)
def test_dragging_a_slider_changes_the_frame(open_page, path):
    record = open_page(path)
    page = record.page
    scrubbers = _scrubbers(record)
    assert scrubbers, f"{path} has figures but no scrubber"
    for gd in scrubbers:
        n = _n_frames(page, gd)
        assert n >= 2, "a scrubber needs at least two frames"
        assert _active(page, gd) == 0
        before = gd.screenshot()
        rail = gd.query_selector(".slider-rail-rect").bounding_box()
        grip = gd.query_selector(".slider-grip-rect").bounding_box()
        page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
        page.mouse.down()
        page.mouse.move(rail["x"] + rail["width"] - 2, grip["y"] + grip["height"] / 2, steps=8)
        page.mouse.up()
        page.wait_for_timeout(400)
        assert _active(page, gd) == n - 1, "dragging the grip to the end should select the last frame"
        assert gd.screenshot() != before, "the picture did not change when the slider moved"


@pytest.mark.parametrize("path", SCRUBBER_PAGES)
def test_keyboard_and_play_button_move_the_frame(open_page, path):
    record = open_page(path)
    page = record.page
    gd = _scrubbers(record)[0]
    n = _n_frames(page, gd)
    gd.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(200)
    assert _active(page, gd) == 1, "→ should move to the next frame"
    page.keyboard.press("End")
    page.wait_for_timeout(200)
    assert _active(page, gd) == n - 1
    page.keyboard.press("Home")
    page.wait_for_timeout(200)
    assert _active(page, gd) == 0
    before = gd.screenshot()
    gd.query_selector_all(".updatemenu-button")[0].click()  # ▶ (play)
    page.wait_for_function("gd => gd.layout.sliders[0].active > 0", arg=gd, timeout=10_000)
    page.wait_for_timeout(300)
    assert gd.screenshot() != before


def test_equations_render(open_page):
    record = open_page("book/intro.html")
    page = record.page
    page.wait_for_function("document.querySelectorAll('mjx-container').length > 5", timeout=20_000)
    assert page.query_selector_all("mjx-merror") == [], "MathJax reported an error in an equation"
    numbered = page.query_selector_all("div.math.notranslate span.eqno")
    assert len(numbered) >= 4, "the intro's numbered equations are missing"


@pytest.mark.parametrize("path", NOTEBOOK_PAGES)
def test_launch_and_download_buttons_point_to_the_notebook(open_page, path, base_url):
    record = open_page(path)
    ipynb = path.replace(".html", ".ipynb")
    hrefs = record.page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    colab = [h for h in hrefs if "colab.research.google.com/github/" in h]
    binder = [h for h in hrefs if "/v2/gh/" in h]
    assert colab and all(h.endswith("/" + ipynb) for h in colab), colab
    assert binder and all(h.endswith("/" + ipynb) for h in binder), binder
    downloads = [h for h in hrefs if h.endswith(".ipynb") and "_sources" in h]
    assert downloads, "no download link for the .ipynb"
    response = record.page.request.get(f"{base_url}/{Path(path).parent.as_posix()}/{downloads[0]}")
    assert response.ok and b'"cells"' in response.body()


def test_search_finds_a_term_from_a_chapter(open_page):
    record = open_page("search.html?q=Shakespeare")
    page = record.page
    page.wait_for_selector("#search-results ul.search li", timeout=20_000)
    results = page.inner_text("#search-results")
    assert "Introduction" in results


@pytest.mark.parametrize("path", NOTEBOOK_PAGES)
def test_compute_badge_shows_the_measured_cost(open_page, path):
    import json

    record = json.loads((ROOT / "book" / "compute.json").read_text())[path.replace(".html", ".md")]["cpu"]
    badge = open_page(path).page.inner_text(".compute-badge")
    assert f"CPU: {record['seconds']:.0f} s" in badge and f"{record['peak_mb']:,} MB" in badge, badge


def test_the_root_page_redirects_to_the_introduction(open_page):
    record = open_page("index.html")
    record.page.wait_for_url("**/book/intro.html", timeout=20_000)
    assert "Introduction" in record.page.title()
