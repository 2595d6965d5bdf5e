"""Live explorers for a running kernel, built on ipywidgets.

The static :func:`~genai_lib.viz.scrubber` bakes every frame into the page; that is what the site
shows. When a kernel runs, a live explorer can do what a page cannot: compute the figure for
settings nobody pre-computed (a new seed, a different learning rate, a sentence the reader types).

* :func:`live` redraws ``make_figure(**values)`` whenever a control changes;
* :func:`live_scrubber` is the live twin of the scrubber: frames are computed on demand by
  ``compute(i)`` (and remembered), with the same slider and play button.

Both return an ``ipywidgets`` box; display it as the last expression of a cell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from genai_lib.viz.scrubber import _CONTROLS_HEIGHT, Frame, scrubber

_AXIS_ROOM = 60  # pixels below a live figure's plot for tick labels and the axis title


def _control(name: str, spec: Any) -> widgets.ValueWidget:
    """Turn a control spec into a widget: a widget as is, (lo, hi[, step]) a slider, a list a dropdown."""
    if isinstance(spec, widgets.ValueWidget):
        return spec
    numbers = isinstance(spec, tuple) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec)
    if numbers and spec and not 2 <= len(spec) <= 3:
        raise ValueError(f"control {name!r}: a tuple of numbers is a range (low, high[, step]), got {spec}")
    if numbers and spec:
        lo, hi = spec[0], spec[1]
        step = spec[2] if len(spec) == 3 else None
        if not hi > lo:
            raise ValueError(f"control {name!r}: a range (low, high[, step]) needs high > low, got {spec}")
        if step is not None and not 0 < step <= hi - lo:
            raise ValueError(f"control {name!r}: a range's step must be in (0, high - low], got {spec}")
        if all(isinstance(v, int) and not isinstance(v, bool) for v in spec):
            return widgets.IntSlider(
                value=lo, min=lo, max=hi, step=step or 1, description=name, continuous_update=False
            )
        return widgets.FloatSlider(
            value=lo, min=lo, max=hi, step=step or (hi - lo) / 100, description=name, continuous_update=False
        )
    if isinstance(spec, (list, tuple)) and spec:
        return widgets.Dropdown(options=list(spec), description=name)
    raise TypeError(
        f"control {name!r} must be an ipywidgets widget, a (low, high[, step]) tuple or a non-empty list of options"
    )


_SLIDER_MIN_WIDTH = "320px"  # a slider narrower than this jumps from end to end when dragged


def _control_row(boxes: Sequence[widgets.Widget]) -> widgets.HBox:
    """Lay controls out in a row that wraps: text boxes take a whole line, sliders keep their width.

    A plain HBox squeezes every control into one line, and a text box beside a slider left the
    slider a few pixels wide in a 1400-pixel JupyterLab window.
    """
    for w in boxes:
        if isinstance(w, (widgets.Text, widgets.Textarea)):
            w.layout.flex = "1 1 100%"
            w.layout.width = "auto"
        elif isinstance(w, (widgets.IntSlider, widgets.FloatSlider, widgets.SelectionSlider)):
            w.layout.min_width = _SLIDER_MIN_WIDTH
    return widgets.HBox(list(boxes), layout=widgets.Layout(flex_flow="row wrap", align_items="center"))


def live(make_figure: Callable[..., Any], **controls: Any) -> widgets.VBox:
    """Show ``make_figure(**values)`` and redraw it whenever one of ``controls`` changes.

    Args:
        make_figure: returns something displayable (a plotly figure, usually) for the control values.
        **controls: one per keyword argument of ``make_figure``: an ipywidgets widget, a
            ``(low, high[, step])`` tuple (a slider) or a list of options (a dropdown).

    Returns:
        An ``ipywidgets.VBox`` with the controls above the figure.
    """
    if not callable(make_figure):
        raise TypeError("make_figure must be callable")
    if not controls:
        raise ValueError("live() needs at least one control (a keyword argument)")
    boxes = {name: _control(name, spec) for name, spec in controls.items()}
    for name, w in boxes.items():
        if isinstance(w, widgets.Text) and "\n" in w.value:
            raise ValueError(
                f"control {name!r}: a widgets.Text shows one line and drops the line breaks of "
                f"{w.value[:30]!r}... at the reader's first edit; use widgets.Textarea"
            )
    out = widgets.Output()

    def redraw(_change: Any = None) -> None:
        values = {name: w.value for name, w in boxes.items()}
        out.clear_output(wait=True)
        with out:
            display(make_figure(**values))

    for w in boxes.values():
        w.observe(redraw, names="value")
    redraw()
    return widgets.VBox([_control_row(list(boxes.values())), out])


def live_scrubber(
    compute: Callable[[int], Frame],
    n_frames: int,
    labels: Sequence[Any] | None = None,
    *,
    interval_ms: int = 300,
    **scrubber_kwargs: Any,
) -> widgets.VBox:
    """The kernel-side twin of :func:`~genai_lib.viz.scrubber`: frames computed on demand.

    Args:
        compute: returns frame ``i`` (an array or a ``{name: array}`` mapping, as for the scrubber).
            Each frame is computed once and remembered.
        n_frames: how many frames there are.
        labels: a label per frame (default ``0 .. n_frames-1``).
        interval_ms: milliseconds between frames when playing.
        **scrubber_kwargs: passed on to :func:`~genai_lib.viz.scrubber` (title, kinds, extent, ...).

    Returns:
        An ``ipywidgets.VBox``: a play button and a slider above the figure of the current frame.
    """
    if not callable(compute):
        raise TypeError("compute must be callable: compute(i) returns frame i")
    if isinstance(n_frames, bool) or not isinstance(n_frames, int) or n_frames <= 0:
        raise ValueError(f"n_frames must be a positive int, got {n_frames!r}")
    if isinstance(interval_ms, bool) or not isinstance(interval_ms, int) or interval_ms <= 0:
        raise ValueError(f"interval_ms must be a positive int, got {interval_ms!r}")
    labels = list(range(n_frames)) if labels is None else list(labels)
    if len(labels) != n_frames:
        raise ValueError(f"labels has {len(labels)} entries but n_frames is {n_frames}")
    cache: dict[int, Frame] = {}
    slider = widgets.IntSlider(
        value=0, min=0, max=n_frames - 1, description=scrubber_kwargs.get("slider_label", "step")
    )
    play = widgets.Play(value=0, min=0, max=n_frames - 1, interval=interval_ms)
    widgets.jslink((play, "value"), (slider, "value"))
    caption = widgets.Label()

    def frame_figure(i: int) -> Any:
        if i not in cache:
            cache[i] = compute(i)
        fig = scrubber([cache[i]], [labels[i]], **scrubber_kwargs)
        # The widgets above are the controls. Assign, not update_layout(sliders=[]): an update with
        # an empty list leaves plotly's slider and buttons in place.
        fig.layout.sliders = ()
        fig.layout.updatemenus = ()
        # Give back the room kept for them below the plot, keeping enough for an axis title.
        fig.layout.height -= _CONTROLS_HEIGHT - _AXIS_ROOM
        fig.layout.margin.b = _AXIS_ROOM
        return fig

    out = widgets.Output()

    def redraw(_change: Any = None) -> None:
        i = slider.value
        caption.value = f"{scrubber_kwargs.get('slider_label', 'step')} = {labels[i]}"
        out.clear_output(wait=True)
        with out:
            display(frame_figure(i))

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([play, slider, caption]), out])


__all__ = ["live", "live_scrubber"]
