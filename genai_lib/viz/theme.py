"""The book's one plotly template and its colour-blind-safe palette.

The palette is Okabe & Ito's (2008) eight colours, chosen so that readers with the common forms of
colour-vision deficiency can still tell every series apart. Nothing is registered globally:
figures opt in with ``layout.template = TEMPLATE`` (the scrubber does this for you).
"""

from __future__ import annotations

import plotly.graph_objects as go

#: Okabe–Ito palette: black, orange, sky blue, bluish green, yellow, blue, vermillion, reddish purple.
PALETTE: tuple[str, ...] = (
    "#000000",
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
)

#: Sequential colour scale for heatmaps of probabilities or densities (perceptually uniform, CVD-safe).
SEQUENTIAL = "Viridis"
#: Diverging colour scale for signed quantities (blue below zero, red above), CVD-safe.
DIVERGING = "RdBu_r"

TEMPLATE = go.layout.Template(
    layout=go.Layout(
        colorway=list(PALETTE[1:]) + [PALETTE[0]],  # orange first: black reads as "data" elsewhere
        font=dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size=13),
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin=dict(l=50, r=20, t=60, b=40),
        xaxis=dict(showgrid=True, gridcolor="#eeeeee", zeroline=False, linecolor="#444", ticks="outside"),
        yaxis=dict(showgrid=True, gridcolor="#eeeeee", zeroline=False, linecolor="#444", ticks="outside"),
        legend=dict(bgcolor="rgba(255,255,255,0.8)"),
        hoverlabel=dict(namelength=-1),
    )
)
