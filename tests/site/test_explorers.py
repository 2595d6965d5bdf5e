"""The in-page explorers (book/_explorers/explorers.js): without a kernel and with every request off
the site blocked, typing into each explorer redraws its figure, and the figure's numbers are the
torch model's (genai_lib), computed here in Python on the same text and settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from genai_lib import llm
from genai_lib.llm import load_tokenizer, token_spans
from genai_lib.llm.pretrained import load_pretrained

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
EXPLORER_PAGES = {
    "attention": "book/llms/attention.html",
    "decoding": "book/llms/decoding.html",
    "lens": "book/llms/gpt.html",
    "tokens": "book/llms/tokens.html",
}
SCRIPT = "_static/explorers/explorers.js"
TOL = 1e-4


@pytest.fixture(scope="module")
def model_and_tok():
    return load_pretrained()


def _ready(record, name: str):
    """The explorer's box, after its first figure is drawn."""
    page = record.page
    box = page.wait_for_selector(f".genai-explorer[data-explorer={name}]", timeout=30_000)
    page.wait_for_function("b => b.dataset.state !== 'loading'", arg=box, timeout=120_000)
    assert box.get_attribute("data-state") == "ready", box.inner_text()
    assert not record.blocked, f"the explorer asked for resources outside the site: {record.blocked}"
    assert not record.page_errors and not record.console_errors, (record.page_errors, record.console_errors)
    return box


def _set(record, box, values: dict) -> dict:
    """Type / move the controls to `values` (name -> value) and wait for the figure that shows them."""
    page = record.page
    for name, value in values.items():
        control = box.query_selector(f"[name='{name}']")
        if control.evaluate("e => e.tagName") == "TEXTAREA":
            control.fill("")
            control.type(value, delay=5)  # key by key, as a reader types
        else:
            control.evaluate(
                "(e, v) => { e.value = v; e.dispatchEvent(new Event('input', {bubbles: true})); }", str(value)
            )
    page.wait_for_function(
        "([b, want]) => { const v = JSON.parse(b.dataset.values || '{}');"
        " return Object.entries(want).every(([k, x]) => String(v[k]) === String(x)); }",
        arg=[box, values],
        timeout=60_000,
    )
    gd = box.query_selector(".genai-explorer-figure")
    return record.page.evaluate("gd => ({data: gd.data, title: gd.layout.title.text})", gd)


def test_only_the_explorer_pages_load_the_explorers(site):
    with_script = sorted(
        str(p.relative_to(site)) for p in site.rglob("*.html") if SCRIPT.split("/")[-1] in p.read_text()
    )
    assert with_script == sorted(EXPLORER_PAGES.values()), with_script
    explorers = ("explorers.js", "ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm", "shakespeare-char.onnx")
    for name in explorers + ("shakespeare-char.json", "shakespeare-bpe.json"):
        assert (site / "_static" / "explorers" / name).is_file(), name


def test_attention_explorer_draws_the_typed_sentence(open_page, model_and_tok):
    model, tok = model_and_tok
    record = open_page(EXPLORER_PAGES["attention"])
    box = _ready(record, "attention")
    before = _set(record, box, {})["data"][0]["z"]
    sentence = "ROMEO:\nWhat light through yonder 🤔 breaks?"
    settings = {"sentence": sentence, "layer": 3, "head": 2, "position": 12}
    fig = _set(record, box, settings)
    ids = torch.tensor([tok.encode(sentence)[-model.config.block_size :]])
    want = model.attention_maps(ids)[2, 0, 1].numpy()
    got = np.array(fig["data"][0]["z"], dtype=float)
    assert got.shape == want.shape and got.shape != np.array(before).shape
    assert np.abs(got - want).max() <= TOL
    top = sorted(fig["data"][2]["x"])
    assert top == sorted(np.argsort(-want[12], kind="stable")[:3].tolist())
    assert fig["title"] == f"Layer 3, head 2: what {sentence[12]!r} attends to"


def test_decoding_explorer_follows_the_text_and_the_rules(open_page, model_and_tok):
    model, tok = model_and_tok
    record = open_page(EXPLORER_PAGES["decoding"])
    box = _ready(record, "decoding")
    before = _set(record, box, {})["data"][0]["y"]
    for text, temperature, top_k, top_p in [("ROMEO:\nWhat light", 0.7, 0, 0.8), ("To be, or not to b", 1.5, 5, 1)]:
        fig = _set(record, box, {"text": text, "temperature": temperature, "top_k": top_k, "top_p": top_p})
        with torch.no_grad():
            z = model(torch.tensor([tok.encode(text)]))[0][0, -1]
        p = torch.softmax(z, -1)
        q = llm.next_token_probs(z, temperature, top_k or None, top_p)
        ranked = p.argsort(descending=True)[:24]
        assert np.abs(np.array(fig["data"][0]["y"]) - p[ranked].numpy()).max() <= TOL
        assert np.abs(np.array(fig["data"][1]["y"]) - q[ranked].numpy()).max() <= TOL
        shown = [{" ": "·", "\n": "↵"}.get(tok.decode([i]), tok.decode([i])) for i in ranked.tolist()]
        assert fig["data"][0]["x"] == shown
        kept = int((q > 0).sum())
        assert fig["title"].startswith(f"{kept} character")
        assert fig["data"][0]["y"] != before


def test_logit_lens_explorer_reads_the_typed_text(open_page, model_and_tok):
    model, tok = model_and_tok
    record = open_page(EXPLORER_PAGES["lens"])
    box = _ready(record, "lens")
    before = _set(record, box, {})["data"][0]["z"]
    text = "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo? ✓"
    for stage, k in [("after block 2", 2), ("embedding only", 0)]:
        fig = _set(record, box, {"passage": text, "read_out": stage})
        ids = tok.encode(text)[-model.config.block_size - 1 :]
        p = torch.softmax(model.logit_lens(torch.tensor([ids[:-1]]))[k, 0], -1)
        want = p[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].numpy()
        rows = fig["data"][0]["z"][::-1]  # the heatmap's rows run bottom to top
        got = np.array([v for r in rows for v in r if v is not None], dtype=float)
        assert got.shape == want.shape and np.abs(got - want).max() <= TOL
        assert fig["title"] == f"Read out {stage}"
    assert fig["data"][0]["z"] != before


def test_token_viewer_tokenizes_the_typed_text_as_python_does(open_page, site):
    bpe = load_tokenizer(site / "_static" / "explorers" / "shakespeare-bpe.json")
    record = open_page(EXPLORER_PAGES["tokens"])
    box = _ready(record, "tokens")
    assert not any(".mjs" in url or ".wasm" in url for url in record.requested), "the token viewer runs no model"
    before = _set(record, box, {})["data"][0]["z"]
    texts = [
        "def f(x_1):\n    return x_1**2  # ok",
        "Ⅻ ½ ٣٤ don't I'll we've  \n\n  end 🤔",  # Python's \w, \d and \s in the split pattern
        "naïve café e\u0301 ﬁ\u00a0!",
    ]
    for vocab in (8192, 1024, 256):
        for text in texts:
            fig = _set(record, box, {"text": text, "vocab_size": vocab})
            tok = bpe.truncated(vocab)
            spans = token_spans(tok, text)
            want = []
            for k, (i, a, b) in enumerate(spans):
                want += [f"token {k + 1} of {len(spans)}: id {i} = {tok.token_bytes(i)!r}"] * (b - a)
            got = [h for row in fig["data"][0]["customdata"][::-1] for h in row if h]
            assert got == want, (vocab, text)
            assert fig["title"] == f"Your text with {vocab} token ids"
    assert fig["data"][0]["z"] != before


@pytest.mark.parametrize("name", sorted(EXPLORER_PAGES))
def test_an_explorer_whose_model_cannot_load_says_so(browser, base_url, name):
    context = browser.new_context()
    try:
        page = context.new_page()
        context.route(re.compile(r".*\.(onnx|json)$"), lambda route: route.abort())
        page.goto(f"{base_url}/{EXPLORER_PAGES[name]}", wait_until="load")
        box = page.wait_for_selector(f".genai-explorer[data-explorer={name}]", timeout=30_000)
        page.wait_for_function("b => b.dataset.state !== 'loading'", arg=box, timeout=120_000)
        assert box.get_attribute("data-state") == "error"
        assert box.query_selector(".genai-explorer-figure") is None
        message = box.query_selector("[role=alert]").inner_text()
        assert "could not be loaded" in message
    finally:
        context.close()


def test_the_exported_spec_is_the_shipped_tokenizer(site, model_and_tok):
    _, tok = model_and_tok
    spec = json.loads((site / "_static" / "explorers" / "shakespeare-char.json").read_text())
    assert spec["chars"] == tok.chars and spec["byte_fallback"] == tok.byte_fallback
