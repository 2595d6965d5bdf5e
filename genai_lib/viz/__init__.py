"""Figures for the book: one template, one palette, and the scrubber every explorer uses.

* :func:`scrubber` — a plotly figure with frames, a slider and a play button (works without a kernel);
* :func:`live`, :func:`live_scrubber` — ipywidgets controls for a running kernel;
* :func:`glue` — hands one run's numbers to the page's prose (myst-nb's ``{glue:text}`` role);
* :func:`init_notebook` — makes plotly figures display in JupyterLab, Colab and the static site;
* :data:`PALETTE`, :data:`TEMPLATE` — the colour-blind-safe palette and the shared plotly template.
"""

from genai_lib.viz.glue import glue
from genai_lib.viz.live import live, live_scrubber
from genai_lib.viz.render import BookRenderer, figure_html, init_notebook
from genai_lib.viz.scrubber import LAYER_KINDS, scrubber, tile_images
from genai_lib.viz.theme import DIVERGING, PALETTE, SEQUENTIAL, TEMPLATE

__all__ = [
    "scrubber",
    "tile_images",
    "LAYER_KINDS",
    "glue",
    "live",
    "live_scrubber",
    "init_notebook",
    "figure_html",
    "BookRenderer",
    "PALETTE",
    "TEMPLATE",
    "SEQUENTIAL",
    "DIVERGING",
]
