"""Fixtures for the browser tests: the built site served from localhost, and headless Chromium
driven by Playwright with every request that leaves localhost blocked and recorded."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _chromium() -> str:
    path = os.environ.get("GENAI_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("the browser tests need Chromium: `apt-get install chromium` (or set GENAI_CHROMIUM=/path)")
    return path


@pytest.fixture(scope="session")
def site() -> Path:
    if not (SITE / "index.html").exists():
        pytest.fail(f"{SITE} has no built site: run `jupyter-book build .` first (`make test` does)")
    return SITE


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass


@pytest.fixture(scope="session")
def base_url(site: Path):
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class PageRecord:
    """A page plus what went wrong while it was open."""

    def __init__(self, page):
        self.page = page
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.blocked: list[str] = []
        self.failed: list[str] = []
        self.requested: list[str] = []


@pytest.fixture
def open_page(browser, base_url):
    """open_page("book/intro.html") -> PageRecord, with the network outside localhost cut off."""
    contexts = []

    def _open(path: str, wait_for: str | None = None) -> PageRecord:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        record = PageRecord(page)

        def route(route):
            record.requested.append(route.request.url)
            host = urlparse(route.request.url).hostname
            if host in ("127.0.0.1", "localhost") or route.request.url.startswith("data:"):
                route.continue_()
            else:
                record.blocked.append(route.request.url)
                route.abort()

        context.route("**/*", route)
        page.on("console", lambda msg: msg.type == "error" and record.console_errors.append(msg.text))
        page.on("pageerror", lambda err: record.page_errors.append(str(err)))
        page.on("requestfailed", lambda req: record.failed.append(req.url))
        page.on("response", lambda resp: resp.status >= 400 and record.failed.append(f"{resp.status} {resp.url}"))
        # "load": the whole document parsed and its inline scripts (the figures) run; then no traffic.
        page.goto(f"{base_url}/{path}", wait_until="load", timeout=120_000)
        try:  # let late requests (MathJax fonts, search index) start; blocked ones fail at once anyway
            page.wait_for_load_state("networkidle", timeout=60_000)
        except PlaywrightTimeout:
            pass
        if wait_for:
            page.wait_for_selector(wait_for, timeout=20_000)
        return record

    yield _open
    for context in contexts:
        context.close()
