"""The scrubber: a plotly figure with one frame per step, a slider and a play button.

Every explorer in the book is a call to :func:`scrubber`. It takes a sequence of *frames* — the
state of something at successive steps (training steps, denoising steps, layers) — and returns a
:class:`plotly.graph_objects.Figure` whose frames are baked into the figure itself, so scrubbing
works in JupyterLab, in Colab and in the static site with no kernel behind it.

A frame is either one array or a mapping ``{name: array}`` of named *layers* drawn on top of each
other (a heatmap of a discriminator with real and generated points on it, say). Each layer has a
kind, inferred from its shape unless ``kinds`` says otherwise:

=========== ========================== ===================================================
kind        shape                      drawn as
=========== ========================== ===================================================
``points``  ``(N, 2)``                 a scatter of N points in the plane
``line``    ``(N, 2)``                 N points joined in order (a curve, a trajectory)
``arrows``  ``(N, 4)``: x, y, dx, dy   N arrows: line segments with an arrowhead at the tip
``heatmap`` ``(H, W)``                 a colour map over ``extent`` (x from left to right,
                                       y from bottom to top)
``image``   ``(H, W)``, ``(N, H, W)``  one greyscale image, or a grid of N of them;
            or ``(N, C, H, W)``        C = 1 (greyscale) or 3 (RGB)
=========== ========================== ===================================================

``(N, 2)`` arrays are inferred as points, ``(N, 4)`` as arrows and every other 2-, 3- or 4-D
array as an image; a heatmap must be asked for. Images are expected in ``value_range``
(the book's convention is [-1, 1]) and are stored as 8-bit values so that long scrubbers stay
small in the page.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from genai_lib._checks import check_float, check_int, check_str
from genai_lib.viz.theme import PALETTE, SEQUENTIAL, TEMPLATE

ArrayLike = Any  # numpy array, torch tensor, or nested sequence
Frame = ArrayLike | Mapping[str, ArrayLike]

LAYER_KINDS = ("points", "line", "arrows", "heatmap", "image")
_CONTROLS_HEIGHT = 175  # pixels below the plot for the axis title, play/pause and the slider
_PAD = 255  # uint8 value reserved for the gutter between tiled images
_IMAGE_SCALE = [[0.0, "#000000"], [254 / 255, "#ffffff"], [254.5 / 255, "#d0d7de"], [1.0, "#d0d7de"]]


def _to_numpy(x: ArrayLike, where: str) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, on any device
        x = x.detach().float().cpu().numpy()
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{where} must be an array of numbers, got {type(x).__name__}") from err
    return arr


def _infer_kind(arr: np.ndarray, where: str) -> str:
    if arr.ndim == 2 and arr.shape[1] == 2:
        return "points"
    if arr.ndim == 2 and arr.shape[1] == 4:
        return "arrows"
    if arr.ndim in (2, 3, 4):
        return "image"
    raise ValueError(f"{where} has shape {arr.shape}; expected (N, 2) points, (N, 4) arrows or a 2-4-D image")


def _check_shape(arr: np.ndarray, kind: str, where: str) -> None:
    ok = {
        "points": arr.ndim == 2 and arr.shape[1] == 2,
        "line": arr.ndim == 2 and arr.shape[1] == 2,
        "arrows": arr.ndim == 2 and arr.shape[1] == 4,
        "heatmap": arr.ndim == 2,
        "image": arr.ndim in (2, 3) or (arr.ndim == 4 and arr.shape[1] in (1, 3)),
    }[kind]
    if not ok:
        expected = {
            "points": "(N, 2)",
            "line": "(N, 2)",
            "arrows": "(N, 4)",
            "heatmap": "(H, W)",
            "image": "(H, W), (N, H, W) or (N, C, H, W) with C in {1, 3}",
        }[kind]
        raise ValueError(f"{where} is a {kind!r} layer and must have shape {expected}, got {arr.shape}")


def tile_images(images: np.ndarray, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """Arrange ``(N, C, H, W)`` images into one ``(C, rows*(H+pad)-pad, cols*(W+pad)-pad)`` grid.

    Gutter pixels are NaN so that callers can colour them apart from the images.
    """
    n, c, h, w = images.shape
    if ncols is not None and (isinstance(ncols, bool) or not isinstance(ncols, int) or ncols <= 0):
        raise ValueError(f"ncols must be a positive int or None, got {ncols!r}")
    cols = ncols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((c, rows * (h + pad) - pad, cols * (w + pad) - pad), np.nan)
    for i in range(n):
        r, q = divmod(i, cols)
        grid[:, r * (h + pad) : r * (h + pad) + h, q * (w + pad) : q * (w + pad) + w] = images[i]
    return grid


def _image_layer(arr: np.ndarray, value_range: tuple[float, float], ncols: int | None) -> dict:
    if arr.ndim == 2:
        arr = arr[None, None]
    elif arr.ndim == 3:
        arr = arr[:, None]
    grid = tile_images(arr, ncols)
    lo, hi = value_range
    scaled = np.clip((grid - lo) / (hi - lo), 0.0, 1.0)
    if grid.shape[0] == 3:  # RGB: go.Image wants (H, W, 3) in 0..255
        rgb = np.where(np.isnan(scaled), 1.0, scaled).transpose(1, 2, 0)
        return dict(type="image", z=np.round(rgb * 255).astype(np.uint8), hoverinfo="skip")
    z = np.where(np.isnan(scaled[0]), _PAD, np.round(scaled[0] * 254)).astype(np.uint8)
    return dict(
        type="heatmap",
        z=z,
        zmin=0,
        zmax=255,
        colorscale=_IMAGE_SCALE,
        showscale=False,
        hoverinfo="skip",
        xaxis="x",
        yaxis="y",
    )


def _trace(kind: str, name: str, arr: np.ndarray, colour: str, opts: dict) -> dict:
    """One plotly trace (as a dict) for one layer of one frame."""
    if kind in ("points", "line"):
        look = (
            dict(mode="markers", marker=dict(color=colour, size=opts["marker_size"], opacity=0.75))
            if kind == "points"
            else dict(mode="lines", line=dict(color=colour, width=2))
        )
        return dict(type="scatter", name=name, x=arr[:, 0].astype(np.float32), y=arr[:, 1].astype(np.float32)) | look
    if kind == "arrows":
        # Each arrow is a segment (x, y) -> (x + dx, y + dy); a NaN point breaks the line between
        # arrows. The tip carries an arrowhead marker turned along the segment (angleref="previous"),
        # so that the direction is visible; the base's marker has size 0.
        n = arr.shape[0]
        xs = np.full(3 * n, np.nan, dtype=np.float32)
        ys = np.full(3 * n, np.nan, dtype=np.float32)
        xs[0::3], xs[1::3] = arr[:, 0], arr[:, 0] + arr[:, 2]
        ys[0::3], ys[1::3] = arr[:, 1], arr[:, 1] + arr[:, 3]
        return dict(
            type="scatter",
            mode="lines+markers",
            name=name,
            x=xs,
            y=ys,
            line=dict(color=colour, width=1.2),
            marker=dict(
                color=colour, symbol="arrow", angleref="previous", size=np.tile(np.float32([0, 7, 0]), n), line_width=0
            ),
            connectgaps=False,
            hoverinfo="skip",
        )
    if kind == "heatmap":
        x0, x1, y0, y1 = opts["extent"]
        h, w = arr.shape
        return dict(
            type="heatmap",
            name=name,
            z=arr.astype(np.float32),
            x=np.linspace(x0, x1, w, dtype=np.float32),
            y=np.linspace(y0, y1, h, dtype=np.float32),
            zmin=opts["zrange"][0],
            zmax=opts["zrange"][1],
            colorscale=opts["colorscale"],
            colorbar=dict(title=dict(text=name), thickness=12),
            hovertemplate="x=%{x:.2f}<br>y=%{y:.2f}<br>" + name + "=%{z:.3f}<extra></extra>",
        )
    return _image_layer(arr, opts["value_range"], opts["ncols"]) | {"name": name}


def _normalise(frames: Sequence[Frame], kinds: Mapping[str, str] | str | None) -> tuple[list[dict], dict]:
    """Turn every frame into ``{layer name: array}`` and fix one kind per layer."""
    if isinstance(frames, (str, bytes, Mapping)) or not hasattr(frames, "__len__"):
        raise TypeError("frames must be a sequence of frames (arrays or {name: array} mappings)")
    if len(frames) == 0:
        raise ValueError("frames must contain at least one frame")
    layers: list[dict] = []
    names: list[str] | None = None
    for i, frame in enumerate(frames):
        named = dict(frame) if isinstance(frame, Mapping) else {"": frame}
        if names is None:
            names = list(named)
        elif list(named) != names:
            raise ValueError(
                f"frames[{i}] has layers {list(named)}, but frames[0] has {names}: every frame needs the same layers"
            )
        layers.append({k: _to_numpy(v, f"frames[{i}][{k!r}]" if k else f"frames[{i}]") for k, v in named.items()})
    assert names is not None
    if isinstance(kinds, str):
        kinds = {name: kinds for name in names}
    kinds = dict(kinds or {})
    unknown = set(kinds) - set(names)
    if unknown:
        raise ValueError(f"kinds names layers {sorted(unknown)} that the frames do not have ({names})")
    resolved = {}
    for name in names:
        kind = kinds.get(name) or _infer_kind(layers[0][name], f"frames[0][{name!r}]")
        if kind not in LAYER_KINDS:
            raise ValueError(f"kinds[{name!r}]={kind!r}; expected one of {LAYER_KINDS}")
        for i, frame in enumerate(layers):
            _check_shape(frame[name], kind, f"frames[{i}][{name!r}]" if name else f"frames[{i}]")
        resolved[name] = kind
    return layers, resolved


def _merge(base: dict, extra: Mapping[str, Any]) -> dict:
    """``base`` updated with ``extra``, recursing into nested dicts (``marker``, ``line``)."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, Mapping) else value
    return out


def _checked_range(value: Any, name: str) -> tuple[float, float]:
    """``value`` as a finite ``(low, high)`` pair with ``high > low``, or a ValueError naming ``name``."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high) of numbers, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"{name} must be (low, high) with finite high > low, got {value!r}")
    return lo, hi


def _checked_extent(extent: Any) -> tuple[float, float, float, float] | None:
    """``extent`` as four finite floats ``(x0, x1, y0, y1)``, or None; a ValueError naming it otherwise."""
    if extent is None:
        return None
    try:
        box = tuple(float(v) for v in extent)
    except (TypeError, ValueError):
        box = ()
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise ValueError(f"extent must be four finite numbers (x0, x1, y0, y1), got {extent!r}")
    return box


def _checked_labels(labels: Sequence[Any] | None, n: int) -> list[str]:
    """The slider's label of every frame, as distinct strings (``0, 1, 2, ...`` by default)."""
    labels = [str(label) for label in (range(n) if labels is None else labels)]
    if len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries but there are {n} frames")
    if len(set(labels)) != n:
        raise ValueError("labels must be distinct: the slider uses them to name the frames")
    return labels


def _checked_styles(styles: Mapping[str, Mapping[str, Any]] | None, kind_of: dict[str, str]) -> dict:
    """``styles`` as a dict of per-layer plotly properties, every key a layer of the frames."""
    styles = dict(styles or {})
    for name, style in styles.items():
        if not isinstance(style, Mapping):
            raise TypeError(
                f"styles[{name!r}] must be a mapping of plotly trace properties, got {type(style).__name__}"
            )
    unknown = set(styles) - set(kind_of)
    if unknown:
        raise ValueError(f"styles names layers {sorted(unknown)} that the frames do not have ({list(kind_of)})")
    return styles


def _heatmap_zrange(layers: list[dict], kind_of: dict[str, str]) -> tuple[float, float]:
    """The colour range of the heatmaps: their finite minimum and maximum over every frame."""
    values = np.concatenate([f[k].ravel() for f in layers for k, v in kind_of.items() if v == "heatmap"])
    values = values[np.isfinite(values)]
    return (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)


def _padded_range(lo: float, hi: float) -> list[float]:
    span = hi - lo if hi > lo else 1.0
    return [lo - 0.05 * span, hi + 0.05 * span]


def _axes(
    layers: list[dict],
    kind_of: dict[str, str],
    extent: tuple[float, float, float, float] | None,
    xaxis_title: str | None,
    yaxis_title: str | None,
) -> dict[str, Any]:
    """The layout's axes: fixed over all frames for plane layers, hidden for images only."""
    plane = [k for k, v in kind_of.items() if v != "image"]
    if not plane:
        return dict(
            xaxis=dict(visible=False, constrain="domain"),
            yaxis=dict(visible=False, autorange="reversed", scaleanchor="x", scaleratio=1),
            plot_bgcolor="white",
        )
    # Fix the axes over all frames so that the picture does not jump while scrubbing.
    if extent is not None:
        xr, yr = [extent[0], extent[1]], [extent[2], extent[3]]
    else:
        pts = np.concatenate(
            [
                f[k][:, :2] if kind_of[k] != "arrows" else np.concatenate([f[k][:, :2], f[k][:, :2] + f[k][:, 2:]])
                for f in layers
                for k in plane
            ]
        )
        finite = pts[np.isfinite(pts).all(axis=1)]
        if len(finite) == 0:  # no point in any frame: show the book's usual [-1, 1] square
            finite = np.array([[-1.0, -1.0], [1.0, 1.0]])
        xr = _padded_range(float(finite[:, 0].min()), float(finite[:, 0].max()))
        yr = _padded_range(float(finite[:, 1].min()), float(finite[:, 1].max()))
    return dict(
        xaxis=dict(range=xr, title=dict(text=xaxis_title or ""), constrain="domain"),
        yaxis=dict(range=yr, title=dict(text=yaxis_title or ""), scaleanchor="x", scaleratio=1),
    )


def _controls(labels: list[str], slider_label: str, frame_ms: int) -> dict[str, Any]:
    """Play/pause buttons and the slider, one step per frame label."""
    frame_args = dict(mode="immediate", frame=dict(duration=frame_ms, redraw=True), transition=dict(duration=0))
    jump = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    # Controls sit below the plot: a row with play/pause, then the slider under it (on one row the
    # buttons would cover the slider's grip whenever the plot area is narrow).
    buttons = dict(
        type="buttons",
        direction="left",
        x=0.0,
        y=0.0,
        xanchor="left",
        yanchor="top",
        pad=dict(t=50),
        showactive=False,
        buttons=[
            dict(label="▶ play", method="animate", args=[None, frame_args | dict(fromcurrent=True)]),
            dict(label="❚❚ pause", method="animate", args=[[None], jump]),
        ],
    )
    slider = dict(
        active=0,
        x=0.0,
        len=1.0,
        y=0.0,
        yanchor="top",
        pad=dict(t=95),
        currentvalue=dict(prefix=f"{slider_label} = ", visible=True, xanchor="right"),
        steps=[dict(label=label, method="animate", args=[[label], jump]) for label in labels],
    )
    return dict(updatemenus=[buttons], sliders=[slider])


def scrubber(
    frames: Sequence[Frame],
    labels: Sequence[Any] | None = None,
    *,
    kinds: Mapping[str, str] | str | None = None,
    title: str = "",
    slider_label: str = "step",
    extent: tuple[float, float, float, float] | None = None,
    value_range: tuple[float, float] = (-1.0, 1.0),
    zrange: tuple[float, float] | None = None,
    colorscale: str | list = SEQUENTIAL,
    ncols: int | None = None,
    xaxis_title: str | None = None,
    yaxis_title: str | None = None,
    marker_size: float = 4.0,
    styles: Mapping[str, Mapping[str, Any]] | None = None,
    height: int = 400,
    width: int | None = None,
    frame_ms: int = 120,
    alt: str | None = None,
) -> go.Figure:
    """Build a scrubbable plotly figure: one frame per entry of ``frames``, a slider and play/pause.

    Args:
        frames: the states to scrub through; each is an array or a mapping ``{name: array}`` of
            layers (see the module docstring for the shapes). Every frame has the same layers.
        labels: one label per frame shown on the slider (default ``0, 1, 2, ...``).
        kinds: a layer kind for every layer (one string) or per layer name; inferred when omitted.
        title: the figure title; state the finding ("the generator covers all 8 modes").
        slider_label: what the slider moves through ("step", "t", "layer").
        extent: ``(x0, x1, y0, y1)`` that heatmap layers cover; required when there is a heatmap.
        value_range: the range images are expected in (mapped to black .. white).
        zrange: fixed colour range for heatmaps (default: min and max over all frames).
        colorscale: plotly colour scale for heatmaps.
        ncols: columns in an image grid (default: a square-ish grid).
        xaxis_title, yaxis_title: axis titles (with units) for plane layers.
        marker_size: point size for ``points`` layers.
        styles: extra plotly trace properties per layer name, e.g.
            ``{"mode centres": {"marker": {"symbol": "x", "size": 10, "color": "black"}}}``.
        height: height in pixels of the plot itself; the title and the controls below it add
            their own room, so the figure is taller.
        width: figure width in pixels (``None`` fills the page).
        frame_ms: milliseconds per frame when playing.
        alt: a sentence saying what the figure shows, used as its accessible label in the page.

    Returns:
        A :class:`plotly.graph_objects.Figure` with ``len(frames)`` frames.

    Raises:
        TypeError: if ``frames`` is not a sequence of arrays or mappings, or an argument has the
            wrong type (a title that is not a str, a ``height`` that is not an int, ...).
        ValueError: if the frames are empty, their layers differ, a shape does not fit its kind,
            ``labels`` has the wrong length or repeats a label, a number is out of range
            (``value_range``, ``zrange``, ``extent``, ``ncols``, ``marker_size``, ``height``,
            ``width``, ``frame_ms``), ``styles`` names an unknown layer, or a heatmap has no
            ``extent``. Every argument is checked before any trace is built, and the error names it.
    """
    layers, kind_of = _normalise(frames, kinds)
    labels = _checked_labels(labels, len(layers))
    value_range = _checked_range(value_range, "value_range")
    zrange = None if zrange is None else _checked_range(zrange, "zrange")
    extent = _checked_extent(extent)
    if "heatmap" in kind_of.values():
        if extent is None:
            raise ValueError("extent=(x0, x1, y0, y1) is required when a layer is a heatmap")
        if zrange is None:
            zrange = _heatmap_zrange(layers, kind_of)
    styles = _checked_styles(styles, kind_of)
    if ncols is not None:
        ncols = check_int(ncols, "ncols", minimum=1)
    check_float(marker_size, "marker_size", minimum=0.0, strict_min=True)
    height = check_int(height, "height", minimum=1)
    if width is not None:
        width = check_int(width, "width", minimum=1)
    frame_ms = check_int(frame_ms, "frame_ms", minimum=1)
    if not isinstance(colorscale, (str, list, tuple)):
        raise TypeError(
            f"colorscale must be a plotly colour scale: a name (str) or a list of [position, colour] pairs, "
            f"got {type(colorscale).__name__}"
        )
    check_str(title, "title")
    check_str(slider_label, "slider_label")
    for value, name in ((xaxis_title, "xaxis_title"), (yaxis_title, "yaxis_title"), (alt, "alt")):
        check_str(value, name, optional=True)

    colours = itertools.cycle(PALETTE[1:] + PALETTE[:1])  # more layers than colours: start again
    colour_of = {name: ("#222222" if kind == "arrows" else next(colours)) for name, kind in kind_of.items()}
    opts = dict(
        extent=extent,
        zrange=zrange,
        colorscale=colorscale,
        value_range=value_range,
        ncols=ncols,
        marker_size=marker_size,
    )

    def traces(frame: dict) -> list[dict]:
        return [_merge(_trace(kind_of[k], k, frame[k], colour_of[k], opts), styles.get(k, {})) for k in kind_of]

    fig = go.Figure(data=traces(layers[0]))
    fig.frames = [go.Frame(data=traces(frame), name=label) for frame, label in zip(layers, labels)]

    top = 60 if title else 25
    layout: dict[str, Any] = dict(
        template=TEMPLATE,
        height=height + top + _CONTROLS_HEIGHT,
        width=width,
        showlegend=sum(v != "image" for v in kind_of.values()) > 1,
    )
    if title:
        layout["title"] = dict(text=title, x=0.02, xanchor="left")
    if alt:
        layout["meta"] = dict(alt=alt)
    layout |= _axes(layers, kind_of, extent, xaxis_title, yaxis_title)
    if len(labels) > 1:  # one frame is a still picture: no slider to drag, nothing to play
        layout |= _controls(labels, slider_label, frame_ms)
    layout["margin"] = dict(t=top, b=_CONTROLS_HEIGHT)
    fig.update_layout(**layout)
    return fig
