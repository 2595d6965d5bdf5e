"""How the book's plotly figures reach the reader: in a kernel, in Colab, and in the static site.

A notebook kernel run by a headless executor (nbclient, which Jupyter Book and nbval use) makes
plotly emit only ``application/vnd.plotly.v1+json``, which JupyterLab understands but a static
HTML page does not. :func:`init_notebook` installs a renderer that emits *both*:

* ``application/vnd.plotly.v1+json`` for JupyterLab and VS Code, which draw it natively;
* ``text/html`` with a ``<div>`` and a short script that calls ``Plotly.newPlot`` — for the
  static site, where plotly.js is served by the site itself (never a CDN), and for any front end
  that renders HTML. The script also makes the figure keyboard-scrubbable: focus it with Tab and
  use ←/→ (Home/End) to move between frames.

Inside Colab the renderer defers to plotly's own ``"colab"`` renderer, which Colab displays.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import sys
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.io.base_renderers import MimetypeRenderer

RENDERER_NAME = "genai_book"
_HTML_ID = re.compile(r"[A-Za-z][A-Za-z0-9_:.-]*")

_SCRIPT = """(function () {
  // The div just before this script; its id is only a fallback, because the same figure shown
  // twice on one page gives two divs with one id (the id is a hash of the figure).
  var here = document.currentScript;
  var gd = here && here.previousElementSibling;
  if (!gd || gd.id !== %(div_id)s) { gd = document.getElementById(%(div_id)s); }
  if (!gd || gd.getAttribute("data-genai-drawn")) { return; }
  if (typeof window.Plotly === "undefined") {
    gd.innerHTML = "<p class='genai-plotly-missing'>This interactive figure needs plotly.js, which this page did not load. Run the notebook in JupyterLab, or read it on the book's site.</p>";
    return;
  }
  gd.setAttribute("data-genai-drawn", "1");
  // A title wider than the figure (a narrow column, a phone) is wrapped onto more lines at word
  // boundaries, and the top margin grows to hold them, instead of running off the edge.
  function fitTitle(gd) {
    var el = gd.querySelector(".gtitle"), title = gd.layout.title;
    var text = title && (typeof title === "string" ? title : title.text);
    if (!el || !text || text.indexOf("<br") >= 0) { return; }
    var room = gd.clientWidth - 30, width = el.getBBox().width;
    if (!(width > room) || room <= 0) { return; }
    var per = Math.floor(room / (width / text.length)), lines = [], line = "";  // characters that fit a line
    text.split(" ").forEach(function (word) {
      if (line && (line + " " + word).length > per) { lines.push(line); line = word; }
      else { line = line ? line + " " + word : word; }
    });
    lines.push(line);
    var top = gd._fullLayout.margin.t + 22 * (lines.length - 1);
    return window.Plotly.relayout(gd, {"title.text": lines.join("<br>"), "margin.t": top});
  }
  var fig = %(figure)s;
  var config = {responsive: true, displaylogo: false};
  window.Plotly.newPlot(gd, fig.data, fig.layout, config).then(function () {
    return fitTitle(gd);
  }).then(function () {
    if (!fig.frames || !fig.frames.length) { return; }
    return window.Plotly.addFrames(gd, fig.frames).then(function () {
      var names = fig.frames.map(function (f) { return f.name; });
      gd.addEventListener("keydown", function (ev) {
        var slider = gd.layout.sliders && gd.layout.sliders[0];
        var i = slider && slider.active ? slider.active : 0;
        var next = {ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: names.length - 1}[ev.key];
        if (next === undefined) { return; }
        ev.preventDefault();
        next = Math.max(0, Math.min(names.length - 1, next));
        window.Plotly.animate(gd, [names[next]], {mode: "immediate", frame: {duration: 0, redraw: true}, transition: {duration: 0}});
        window.Plotly.relayout(gd, {"sliders[0].active": next});
      });
    });
  });
})();"""


def _as_dict(fig: go.Figure | dict) -> dict:
    if isinstance(fig, go.Figure):
        return fig.to_plotly_json()
    if isinstance(fig, dict) and "data" in fig:
        return fig
    raise TypeError(f"fig must be a plotly Figure or a figure dict, got {type(fig).__name__}")


def figure_html(fig: go.Figure | dict, *, div_id: str | None = None) -> str:
    """Return an HTML fragment that draws ``fig`` with a plotly.js already loaded by the page.

    The fragment holds no plotly.js and references no CDN. Its ``id`` is derived from the
    figure's content (so the same figure gives the same HTML), and the layout's ``meta.alt``, when
    present (see :func:`genai_lib.viz.scrubber`), becomes the figure's accessible label.

    Args:
        fig: a plotly figure or its dict form.
        div_id: the HTML id of the figure's ``<div>`` (default: a hash of the figure).

    Returns:
        An HTML string.

    Raises:
        TypeError: if ``fig`` is neither a figure nor a figure dict.
        ValueError: if ``div_id`` is not a plain HTML id.
    """
    payload = pio.to_json(_as_dict(fig), validate=False)
    if div_id is None:
        div_id = "genai-fig-" + hashlib.sha1(payload.encode()).hexdigest()[:12]
    elif not isinstance(div_id, str) or not _HTML_ID.fullmatch(div_id):
        raise ValueError(
            f"div_id must be an HTML id (a letter, then letters, digits, '-', '_', ':' or '.'), got {div_id!r}"
        )
    layout = json.loads(payload).get("layout", {})
    alt = (layout.get("meta") or {}).get("alt") if isinstance(layout.get("meta"), dict) else None
    height = layout.get("height") or 450
    label = f' aria-label="{html.escape(str(alt))}"' if alt else ""
    script = _SCRIPT % {"div_id": json.dumps(div_id), "figure": payload.replace("</", "<\\/")}
    return (
        f'<div class="genai-figure" role="figure"{label}>'
        f'<div id="{div_id}" class="plotly-graph-div" tabindex="0" style="height:{int(height)}px; width:100%;"></div>'
        f'<script type="text/javascript">{script}</script></div>'
    )


class BookRenderer(MimetypeRenderer):
    """A plotly renderer emitting the plotly JSON mime type and a self-drawing HTML fragment."""

    def to_mimebundle(self, fig_dict: dict) -> dict[str, Any]:
        return {
            "application/vnd.plotly.v1+json": json.loads(pio.to_json(fig_dict, validate=False)),
            "text/html": figure_html(fig_dict),
        }


# What a Colab reader is told once, by init_notebook: Colab renders Markdown and LaTeX but not MyST.
COLAB_NOTE = (
    "Reading in Colab: the text is written in MyST for the book's site. Equations render here; "
    "cross-references ({eq}, {ref}) and citations ({footcite}) show their labels, and a number the text "
    "quotes as {glue:text}`name` is printed by the cell that computes it, as 'glue: name = value'."
)


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules


def init_notebook() -> str:
    """Make plotly figures display everywhere the book is read; call once, in a notebook's first cell.

    Registers :class:`BookRenderer` as plotly's renderer ``"genai_book"`` and makes it the default
    (or plotly's ``"colab"`` renderer inside Colab). This changes plotly's global default renderer,
    which is why it is a function you call and not something ``import genai_lib`` does.

    Returns:
        The name of the renderer now in use.
    """
    pio.renderers[RENDERER_NAME] = BookRenderer()
    pio.renderers.default = "colab" if in_colab() else RENDERER_NAME
    if in_colab():
        print(COLAB_NOTE)
    return pio.renderers.default


class SiteMimePlugin:
    """A myst-nb mime-renderer plugin (entry point ``myst_nb.mime_renderers``) for the book's site.

    * A figure shown through :class:`BookRenderer` carries its data twice: as plotly JSON for
      JupyterLab and as the HTML fragment the site shows. Jupyter Book 1 renders every mime type
      of an output and warns about the JSON one it does not know; this plugin drops that twin.
    * ipywidgets outputs (live explorers, progress bars) need a running kernel; in the static site
      they would be empty boxes driven by scripts from a CDN, so the site drops them too (the
      static scrubbers are the site's explorers, and ``_config.yml`` loads no widget scripts).

    Any other mime type is left to myst-nb.
    """

    mime_priority_overrides: tuple = ()
    DROPPED = ("application/vnd.plotly.v1+json", "application/vnd.jupyter.widget-view+json")

    @staticmethod
    def handle_mime(renderer: Any, data: Any, inline: bool) -> list | None:
        if data.mime_type in SiteMimePlugin.DROPPED:
            return []
        return None
