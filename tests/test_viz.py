"""Tests of genai_lib.viz: the scrubber, its HTML rendering, the notebook renderer and the live explorers."""

from __future__ import annotations

import contextlib
import html
import json
import re
import sys
import types
from html.parser import HTMLParser
from importlib.metadata import entry_points
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch

from genai_lib import viz
from genai_lib.viz import (
    LAYER_KINDS,
    PALETTE,
    TEMPLATE,
    BookRenderer,
    figure_html,
    init_notebook,
    live,
    live_scrubber,
    scrubber,
    tile_images,
)
from genai_lib.viz import render as render_module
from genai_lib.viz.render import RENDERER_NAME, SiteMimePlugin

# genai_lib.viz.live the module (the package's attribute of that name is the function).
live_module = sys.modules["genai_lib.viz.live"]

RNG = np.random.default_rng(0)
PLOTLY_JSON = "application/vnd.plotly.v1+json"


def points(n: int = 6, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
    return RNG.normal(shift, scale, size=(n, 2))


def as_array(value) -> np.ndarray:
    """A trace property as a numpy array, whether plotly holds it as an array or a tuple."""
    return np.asarray(value)


# -- scrubber: frames, slider, traces ----------------------------------------------------------


def test_one_frame_per_input_and_slider_labels():
    frames = [points() for _ in range(5)]
    labels = [0, 10, 20, 30, 40]
    fig = scrubber(frames, labels, slider_label="training step")
    assert isinstance(fig, go.Figure)
    assert len(fig.frames) == 5
    assert [f.name for f in fig.frames] == ["0", "10", "20", "30", "40"]
    (slider,) = fig.layout.sliders
    assert [s.label for s in slider.steps] == ["0", "10", "20", "30", "40"]
    # Each step jumps to the frame of the same name, and the slider starts on the first one.
    assert [list(s.args[0]) for s in slider.steps] == [["0"], ["10"], ["20"], ["30"], ["40"]]
    assert all(s.method == "animate" for s in slider.steps)
    assert slider.active == 0
    assert slider.currentvalue.prefix.startswith("training step")
    # The figure shows frame 0 before anyone touches the slider.
    np.testing.assert_array_equal(as_array(fig.data[0].x), frames[0][:, 0].astype(np.float32))


def test_default_labels_are_frame_indices():
    fig = scrubber([points() for _ in range(3)])
    assert [f.name for f in fig.frames] == ["0", "1", "2"]
    assert [s.label for s in fig.layout.sliders[0].steps] == ["0", "1", "2"]


def test_play_and_pause_buttons_animate():
    fig = scrubber([points() for _ in range(3)], frame_ms=250)
    (menu,) = fig.layout.updatemenus
    play, pause = menu.buttons
    assert play.method == pause.method == "animate"
    assert play.args[0] is None  # all frames
    assert play.args[1]["frame"]["duration"] == 250
    assert play.args[1]["fromcurrent"] is True
    assert list(pause.args[0]) == [None]  # plotly's idiom for "stop"


def test_each_frame_holds_its_own_data():
    frames = [points(4, shift=i) for i in range(4)]
    fig = scrubber(frames)
    for frame, data in zip(fig.frames, frames):
        (trace,) = frame.data
        np.testing.assert_array_equal(as_array(trace.x), data[:, 0].astype(np.float32))
        np.testing.assert_array_equal(as_array(trace.y), data[:, 1].astype(np.float32))


def test_frames_may_be_a_stacked_array():
    fig = scrubber(RNG.normal(size=(3, 5, 2)))
    assert len(fig.frames) == 3


def all_kinds_frame(i: int) -> dict:
    return {
        "density": RNG.random((6, 8)) + i,
        "data": points(5),
        "path": points(7),
        "field": RNG.normal(size=(4, 4)),
    }


def test_trace_types_per_layer_kind():
    frames = [all_kinds_frame(i) for i in range(3)]
    kinds = {"density": "heatmap", "path": "line"}  # points and arrows are inferred from the shapes
    fig = scrubber(frames, kinds=kinds, extent=(-3, 3, -2, 2))
    expected = [
        ("density", "heatmap", None),
        ("data", "scatter", "markers"),
        ("path", "scatter", "lines"),
        ("field", "scatter", "lines+markers"),
    ]
    for traces in [fig.data] + [f.data for f in fig.frames]:
        assert len(traces) == 4
        got = [(t.name, t.type, getattr(t, "mode", None)) for t in traces]
        assert got == expected
    assert fig.layout.showlegend is True  # several plane layers: the legend names them


def test_single_plane_layer_has_no_legend():
    assert scrubber([points()]).layout.showlegend is False


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_every_layer_kind_draws_its_trace(kind):
    """Each kind the scrubber accepts draws a layer of its own type; anything else is refused by name."""
    rng = np.random.default_rng(0)
    arrays = {
        "points": rng.normal(size=(5, 2)),
        "line": rng.normal(size=(5, 2)),
        "arrows": rng.normal(size=(5, 4)),
        "heatmap": rng.normal(size=(4, 6)),
        "image": rng.uniform(-1, 1, size=(2, 1, 8, 8)),
    }
    extent = (0, 1, 0, 1) if kind == "heatmap" else None
    fig = scrubber([{"layer": arrays[kind]}], kinds=kind, extent=extent)
    trace = fig.data[0]
    expected = {
        "points": ("scatter", "markers"),
        "line": ("scatter", "lines"),
        "arrows": ("scatter", "lines+markers"),
        "heatmap": ("heatmap", None),
    }
    if kind in expected:
        assert (trace.type, getattr(trace, "mode", None)) == expected[kind]
    else:
        assert trace.type in {"image", "heatmap"}
    with pytest.raises(ValueError, match="kinds"):
        scrubber([{"layer": arrays[kind]}], kinds={"layer": kind + "s?"}, extent=extent)


def test_kinds_as_one_string_applies_to_every_layer():
    fig = scrubber([{"a": points(), "b": points()}], kinds="line")
    assert [t.mode for t in fig.data] == ["lines", "lines"]


def test_layers_get_distinct_palette_colours():
    fig = scrubber([{"a": points(), "b": points(), "c": points()}])
    colours = [t.marker.color for t in fig.data]
    assert len(set(colours)) == 3
    assert set(colours) <= set(PALETTE)


def test_more_layers_than_palette_colours():
    frame = {f"class {i}": points(3) for i in range(len(PALETTE) + 3)}
    fig = scrubber([frame])
    assert len(fig.data) == len(frame)
    assert all(t.marker.color in PALETTE for t in fig.data)


def test_layout_uses_the_book_template_and_alt():
    fig = scrubber([points()], title="The points drift right", alt="Six points drifting right")
    assert fig.layout.template.layout.colorway == TEMPLATE.layout.colorway
    assert fig.layout.title.text == "The points drift right"
    assert fig.layout.meta["alt"] == "Six points drifting right"


def test_axis_titles_and_size():
    fig = scrubber([points()], xaxis_title="x₁ (units)", yaxis_title="x₂ (units)", height=300, width=400)
    assert fig.layout.xaxis.title.text == "x₁ (units)"
    assert fig.layout.yaxis.title.text == "x₂ (units)"
    # `height` is the plot's own height; the title's and the controls' room come on top of it.
    assert fig.layout.height - fig.layout.margin.t - fig.layout.margin.b == 300
    assert fig.layout.width == 400
    with pytest.raises(ValueError, match="height"):
        scrubber([points()], height=0)


# -- scrubber: axes ----------------------------------------------------------------------------


def test_axis_ranges_are_fixed_and_cover_every_frame():
    frames = [points(20, scale=s, shift=m) for s, m in [(0.1, 0.0), (1.0, 5.0), (3.0, -4.0)]]
    fig = scrubber(frames)
    xr, yr = list(fig.layout.xaxis.range), list(fig.layout.yaxis.range)
    stacked = np.concatenate(frames)
    lo, hi = stacked.min(axis=0), stacked.max(axis=0)
    assert xr[0] <= lo[0] and xr[1] >= hi[0]
    assert yr[0] <= lo[1] and yr[1] >= hi[1]
    # A small margin, not a loose box: at most 10 % of the span on each side.
    span = hi - lo
    assert xr[0] >= lo[0] - 0.1 * span[0] and xr[1] <= hi[0] + 0.1 * span[0]
    assert yr[0] >= lo[1] - 0.1 * span[1] and yr[1] <= hi[1] + 0.1 * span[1]
    # Frames carry data only, so the axes stay put while scrubbing.
    for frame in fig.frames:
        assert frame.layout is None or (frame.layout.xaxis.range is None and frame.layout.yaxis.range is None)
    assert fig.layout.xaxis.autorange in (None, False)
    assert fig.layout.yaxis.scaleanchor == "x"  # equal aspect: circles look like circles


def test_axis_ranges_include_arrow_tips():
    arrows = np.array([[0.0, 0.0, 10.0, -5.0], [1.0, 1.0, 0.0, 0.0]])
    fig = scrubber([arrows])
    xr, yr = fig.layout.xaxis.range, fig.layout.yaxis.range
    assert xr[0] <= 0.0 and xr[1] >= 10.0
    assert yr[0] <= -5.0 and yr[1] >= 1.0


def test_axis_ranges_ignore_nan_points():
    a = np.array([[0.0, 0.0], [np.nan, 1e6], [1.0, 1.0]])
    fig = scrubber([a])
    assert fig.layout.xaxis.range[1] < 2 and fig.layout.yaxis.range[1] < 2


def test_axis_ranges_with_empty_or_all_nan_layers():
    # Some frames without points are fine ...
    fig = scrubber([np.zeros((0, 2)), np.array([[2.0, 3.0], [4.0, 5.0]])], kinds="points")
    assert fig.layout.xaxis.range[0] <= 2.0 <= 4.0 <= fig.layout.xaxis.range[1]
    # ... and so are frames with no finite point at all: the axes get a usable default.
    for frames in ([np.zeros((0, 2))], [np.full((3, 2), np.nan)]):
        fig = scrubber(frames, kinds="points")
        xr, yr = fig.layout.xaxis.range, fig.layout.yaxis.range
        assert all(np.isfinite(xr)) and all(np.isfinite(yr)) and xr[1] > xr[0] and yr[1] > yr[0]


def test_degenerate_points_get_a_nonzero_range():
    fig = scrubber([np.ones((4, 2))])
    xr = fig.layout.xaxis.range
    assert xr[0] < 1.0 < xr[1]


def test_extent_fixes_the_axes():
    fig = scrubber([points()], extent=(-2, 2, -1, 3))
    assert list(fig.layout.xaxis.range) == [-2, 2]
    assert list(fig.layout.yaxis.range) == [-1, 3]


# -- scrubber: images --------------------------------------------------------------------------


def test_greyscale_images_are_tiled_and_quantised():
    images = np.linspace(-1, 1, 5 * 4 * 6).reshape(5, 4, 6)
    fig = scrubber([images, -images])
    (trace,) = fig.data
    assert trace.type == "heatmap"
    z = as_array(trace.z)
    assert z.dtype == np.uint8
    # 5 images -> ceil(sqrt(5)) = 3 columns, 2 rows, with 1-pixel gutters.
    assert z.shape == (2 * 4 + 1, 3 * 6 + 2)
    # Image pixels fill 0..254 (value_range mapped to black..white); the gutter is 255.
    assert (z[4, :] == 255).all() and (z[:, 6] == 255).all() and (z[:, 13] == 255).all()
    assert (z[5:, 14:] == 255).all()  # the sixth cell of the grid is empty
    np.testing.assert_array_equal(z[:4, :6], np.round((images[0] + 1) / 2 * 254).astype(np.uint8))
    assert z[0, 0] == 0 and z[:4, :6].max() < 255
    assert trace.zmin == 0 and trace.zmax == 255 and trace.showscale is False
    # Images have no axes to read and are drawn top row first.
    assert fig.layout.xaxis.visible is False
    assert fig.layout.yaxis.autorange == "reversed"
    # The next frame is quantised the same way.
    np.testing.assert_array_equal(as_array(fig.frames[1].data[0].z)[:4, :6], np.round((1 - images[0]) / 2 * 254))


def test_image_value_range_and_clipping():
    image = np.array([[0.0, 0.5, 1.0, 2.0, -1.0]])
    z = as_array(scrubber([image], value_range=(0, 1)).data[0].z)
    np.testing.assert_array_equal(z, [[0, 127, 254, 254, 0]])


def test_gutter_colour_differs_from_white():
    fig = scrubber([np.ones((4, 3, 3))])
    scale = fig.data[0].colorscale
    assert scale[-1][1].lower() != "#ffffff"  # 255: the gutter
    assert any(abs(stop - 254 / 255) < 1e-9 and colour.lower() == "#ffffff" for stop, colour in scale)


def test_ncols_sets_the_grid():
    z = as_array(scrubber([np.zeros((6, 2, 2))], ncols=6).data[0].z)
    assert z.shape == (2, 6 * 3 - 1)
    z = as_array(scrubber([np.zeros((6, 2, 2))], ncols=2).data[0].z)
    assert z.shape == (3 * 3 - 1, 2 * 3 - 1)


def test_single_image_and_channel_first_greyscale():
    assert as_array(scrubber([np.zeros((7, 5))]).data[0].z).shape == (7, 5)
    assert as_array(scrubber([np.zeros((4, 1, 7, 5))]).data[0].z).shape == (2 * 7 + 1, 2 * 5 + 1)


def test_rgb_images_use_go_image():
    images = np.full((2, 3, 4, 4), -1.0)
    images[0, 0] = 1.0  # the first image is pure red
    fig = scrubber([images])
    (trace,) = fig.data
    assert trace.type == "image"
    z = as_array(trace.z)
    assert z.dtype == np.uint8 and z.shape == (4, 9, 3)
    np.testing.assert_array_equal(z[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(z[0, 5], [0, 0, 0])
    np.testing.assert_array_equal(z[:, 4], np.full((4, 3), 255))  # white gutter


def test_tile_images_directly():
    images = np.arange(3 * 2 * 2 * 2, dtype=float).reshape(3, 2, 2, 2)
    grid = tile_images(images, ncols=2)
    assert grid.shape == (2, 5, 5)
    np.testing.assert_array_equal(grid[:, :2, :2], images[0])
    np.testing.assert_array_equal(grid[:, :2, 3:], images[1])
    np.testing.assert_array_equal(grid[:, 3:, :2], images[2])
    assert np.isnan(grid[:, 2, :]).all() and np.isnan(grid[:, 3:, 3:]).all()
    assert tile_images(images, pad=0).shape == (2, 4, 4)


# -- scrubber: heatmaps ------------------------------------------------------------------------


def test_heatmap_needs_extent():
    with pytest.raises(ValueError, match="extent"):
        scrubber([np.zeros((3, 3))], kinds="heatmap")


@pytest.mark.parametrize("extent", [(0, 1, 0), (0, 1, 0, "a"), 5, (0, 1, 0, np.nan)])
def test_bad_extent(extent):
    with pytest.raises(ValueError, match="extent"):
        scrubber([np.zeros((3, 3))], kinds="heatmap", extent=extent)


def test_heatmap_grid_follows_extent_and_zrange_defaults_to_global_range():
    frames = [np.full((3, 5), 2.0), np.linspace(-4, 7, 15).reshape(3, 5), np.full((3, 5), 0.5)]
    frames[2][1, 1] = np.nan  # a hole is not a value
    fig = scrubber(frames, kinds="heatmap", extent=(-1, 1, 10, 20), colorscale="RdBu_r")
    for trace in [fig.data[0]] + [f.data[0] for f in fig.frames]:
        assert (trace.zmin, trace.zmax) == (-4.0, 7.0)  # the same colours mean the same values in every frame
        assert trace.colorscale is not None
    trace = fig.data[0]
    np.testing.assert_allclose(as_array(trace.x), np.linspace(-1, 1, 5), rtol=1e-6)
    np.testing.assert_allclose(as_array(trace.y), np.linspace(10, 20, 3), rtol=1e-6)
    np.testing.assert_array_equal(as_array(fig.frames[1].data[0].z), frames[1].astype(np.float32))


def test_explicit_zrange():
    fig = scrubber([np.zeros((2, 2))], kinds="heatmap", extent=(0, 1, 0, 1), zrange=(-1, 1))
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-1, 1)


def test_all_nan_heatmap_gets_a_finite_zrange():
    fig = scrubber([np.full((2, 2), np.nan)], kinds="heatmap", extent=(0, 1, 0, 1))
    assert np.isfinite(fig.data[0].zmin) and np.isfinite(fig.data[0].zmax)


@pytest.mark.parametrize("zrange", [(1, 0), (1, 1), (0,), "ab", (0, np.inf)])
def test_bad_zrange(zrange):
    with pytest.raises(ValueError, match="zrange"):
        scrubber([np.zeros((2, 2))], kinds="heatmap", extent=(0, 1, 0, 1), zrange=zrange)


# -- scrubber: arrows --------------------------------------------------------------------------


def test_arrows_are_segments_with_nan_breaks_and_tips():
    arrows = np.array([[0.0, 1.0, 2.0, 3.0], [-1.0, -2.0, 0.5, 0.25], [5.0, 5.0, -1.0, 0.0]])
    fig = scrubber([arrows])
    (trace,) = fig.data
    x, y = as_array(trace.x), as_array(trace.y)
    assert x.shape == y.shape == (9,)
    np.testing.assert_array_equal(x[0::3], arrows[:, 0])
    np.testing.assert_array_equal(y[0::3], arrows[:, 1])
    np.testing.assert_array_equal(x[1::3], arrows[:, 0] + arrows[:, 2])
    np.testing.assert_array_equal(y[1::3], arrows[:, 1] + arrows[:, 3])
    assert np.isnan(x[2::3]).all() and np.isnan(y[2::3]).all()
    assert trace.connectgaps is False
    # A marker at each tip (turned along the segment) shows the direction; bases get none.
    assert "markers" in trace.mode and trace.marker.symbol == "arrow" and trace.marker.angleref == "previous"
    sizes = as_array(trace.marker.size)
    assert (sizes[1::3] > 0).all() and (sizes[0::3] == 0).all()


# -- scrubber: styles and inputs ---------------------------------------------------------------


def test_styles_merge_nested_properties():
    frames = [{"samples": points(), "centres": points(3)} for _ in range(2)]
    styles = {"centres": {"marker": {"symbol": "x", "size": 10}, "opacity": 0.5}}
    fig = scrubber(frames, styles=styles, marker_size=3)
    for traces in [fig.data] + [f.data for f in fig.frames]:
        samples, centres = traces
        assert centres.marker.symbol == "x" and centres.marker.size == 10 and centres.opacity == 0.5
        assert centres.marker.color in PALETTE  # untouched keys survive the merge
        assert centres.marker.opacity == 0.75
        assert samples.marker.symbol is None and samples.marker.size == 3
    assert styles == {"centres": {"marker": {"symbol": "x", "size": 10}, "opacity": 0.5}}  # not mutated


def test_unknown_style_name():
    with pytest.raises(ValueError, match=r"styles.*'nope'"):
        scrubber([{"a": points()}], styles={"nope": {"opacity": 0.5}})


def test_style_that_is_not_a_mapping():
    with pytest.raises(TypeError, match=r"styles\['a'\]"):
        scrubber([{"a": points()}], styles={"a": 0.5})


def test_torch_tensors_are_accepted():
    t = torch.randn(5, 2, requires_grad=True)
    fig_t = scrubber([t, t * 2])
    fig_n = scrubber([t.detach().numpy(), (t * 2).detach().numpy()])
    assert fig_t.to_json() == fig_n.to_json()
    images = torch.rand(4, 1, 3, 3, dtype=torch.float64) * 2 - 1
    np.testing.assert_array_equal(
        as_array(scrubber([images]).data[0].z), as_array(scrubber([images.numpy()]).data[0].z)
    )
    heat = torch.rand(3, 3, dtype=torch.bfloat16)
    assert scrubber([{"p": heat}], kinds="heatmap", extent=(0, 1, 0, 1)).data[0].type == "heatmap"


def test_nested_lists_are_accepted():
    fig = scrubber([[[0, 0], [1, 1]], [[1, 0], [0, 1]]])
    assert len(fig.frames) == 2 and fig.data[0].mode == "markers"


# -- scrubber: errors --------------------------------------------------------------------------


@pytest.mark.parametrize("frames", [[], (), np.zeros((0, 3, 2))])
def test_empty_frames(frames):
    with pytest.raises(ValueError, match="frames"):
        scrubber(frames)


@pytest.mark.parametrize("frames", [{"a": np.zeros((2, 2))}, "frames", b"xy", (points() for _ in range(2)), 3])
def test_frames_must_be_a_sequence(frames):
    with pytest.raises(TypeError, match="frames"):
        scrubber(frames)


def test_frames_of_non_numbers():
    with pytest.raises(TypeError, match=r"frames\[1\]"):
        scrubber([points(), "abc"])


def test_layers_must_match_across_frames():
    with pytest.raises(ValueError, match=r"frames\[2\].*\['a', 'c'\]"):
        scrubber([{"a": points(), "b": points()}, {"a": points(), "b": points()}, {"a": points(), "c": points()}])
    with pytest.raises(ValueError, match=r"frames\[1\]"):
        scrubber([{"a": points()}, points()])


def test_wrong_shape_for_declared_kind_names_the_frame():
    with pytest.raises(ValueError, match=r"frames\[2\]\['p'\].*'points'.*\(N, 2\)"):
        scrubber([{"p": points()}, {"p": points()}, {"p": np.zeros((4, 3))}], kinds={"p": "points"})
    with pytest.raises(ValueError, match=r"frames\[1\].*'arrows'"):
        scrubber([np.zeros((3, 4)), np.zeros((3, 2))])  # inferred from frame 0
    with pytest.raises(ValueError, match=r"frames\[0\].*'heatmap'"):
        scrubber([np.zeros((2, 3, 3))], kinds="heatmap", extent=(0, 1, 0, 1))
    with pytest.raises(ValueError, match=r"frames\[0\].*'image'"):
        scrubber([np.zeros((2, 2, 3, 3))])  # C = 2 is neither greyscale nor RGB
    with pytest.raises(ValueError, match=r"frames\[0\].*shape \(3,\)"):
        scrubber([np.zeros(3)])


def test_bad_kinds():
    with pytest.raises(ValueError, match="kinds"):
        scrubber([points()], kinds="scatter")
    with pytest.raises(ValueError, match=r"kinds.*'b'"):
        scrubber([{"a": points()}], kinds={"b": "points"})


def test_labels_length_must_match():
    with pytest.raises(ValueError, match=r"labels has 2 entries but there are 3 frames"):
        scrubber([points()] * 3, labels=[1, 2])


def test_labels_must_be_distinct():
    with pytest.raises(ValueError, match="labels must be distinct"):
        scrubber([points()] * 3, labels=[1, 2, 1])
    with pytest.raises(ValueError, match="labels must be distinct"):
        scrubber([points()] * 2, labels=[1, "1"])  # the slider shows both as "1"


@pytest.mark.parametrize("value_range", [(1, -1), (0, 0), (0,), (0, 1, 2), 1.0, None, (0, np.nan), ("a", "b")])
def test_bad_value_range(value_range):
    with pytest.raises(ValueError, match="value_range"):
        scrubber([np.zeros((4, 4))], value_range=value_range)


@pytest.mark.parametrize(("ncols", "error"), [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_bad_ncols(ncols, error):
    with pytest.raises(error, match="ncols"):
        scrubber([np.zeros((4, 4, 4))], ncols=ncols)


@pytest.mark.parametrize(
    ("frame_ms", "error"), [(0, ValueError), (-5, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_bad_frame_ms(frame_ms, error):
    with pytest.raises(error, match="frame_ms"):
        scrubber([points()], frame_ms=frame_ms)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        (dict(height=0), ValueError),
        (dict(height=300.0), TypeError),
        (dict(width=0), ValueError),
        (dict(width="400"), TypeError),
        (dict(marker_size=0), ValueError),
        (dict(marker_size="big"), TypeError),
        (dict(title=None), TypeError),
        (dict(slider_label=3), TypeError),
        (dict(xaxis_title=1), TypeError),
        (dict(yaxis_title=["y"]), TypeError),
        (dict(alt=False), TypeError),
        (dict(colorscale=None), TypeError),
    ],
)
def test_every_argument_is_checked_before_the_traces(kwargs, error, monkeypatch):
    """A bad argument fails naming itself, before any trace is built (no figure work is wasted)."""
    module = sys.modules["genai_lib.viz.scrubber"]  # the module (genai_lib.viz.scrubber is the function)

    def no_traces(*args, **kw):
        raise AssertionError("a trace was built before the arguments were checked")

    monkeypatch.setattr(module, "_trace", no_traces)
    (name,) = kwargs
    with pytest.raises(error, match=name):
        scrubber([points()], **kwargs)


# -- figure_html -------------------------------------------------------------------------------


class _Elements(HTMLParser):
    """Collects start tags with their attributes and the text of every <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def parse(fragment: str) -> _Elements:
    parser = _Elements()
    parser.feed(fragment)
    parser.close()
    return parser


def embedded_figure(fragment: str) -> dict:
    """The figure JSON the fragment's script hands to Plotly.newPlot."""
    (script,) = parse(fragment).scripts
    start = script.index("var fig = ") + len("var fig = ")
    fig, _ = json.JSONDecoder().raw_decode(script[start:])
    return fig


def small_scrubber(title: str = "", alt: str | None = None, n: int = 3) -> go.Figure:
    frames = [np.array([[0.0, 0.0], [1.0, float(i)]]) for i in range(n)]
    return scrubber(frames, title=title, alt=alt)


def test_figure_html_loads_nothing_from_the_network():
    fragment = figure_html(small_scrubber())
    lowered = fragment.lower()
    assert "cdn" not in lowered
    assert "https://" not in lowered and "http://" not in lowered
    elements = parse(fragment)
    scripts = [attrs for tag, attrs in elements.tags if tag == "script"]
    assert len(scripts) == 1 and "src" not in scripts[0]
    assert "plotly.min.js" not in lowered
    assert len(fragment) < 20_000  # the data and a short script, no bundled plotly.js


def test_figure_html_is_deterministic():
    a = figure_html(small_scrubber("same"))
    b = figure_html(small_scrubber("same"))
    assert a == b
    c = figure_html(small_scrubber("different"))
    assert c != a
    ids = [re.search(r'<div id="([^"]+)"', h).group(1) for h in (a, c)]
    assert ids[0] != ids[1] and all(i.startswith("genai-fig-") for i in ids)


def test_figure_html_draws_into_its_own_div():
    fig = small_scrubber()
    fragment = figure_html(fig)
    elements = parse(fragment)
    (div,) = [attrs for tag, attrs in elements.tags if tag == "div" and "id" in attrs]
    assert json.dumps(div["id"]) in elements.scripts[0]
    assert div["tabindex"] == "0"  # focusable, so ←/→ reach it
    assert "Plotly.newPlot" in elements.scripts[0]
    assert "ArrowRight" in elements.scripts[0] and "ArrowLeft" in elements.scripts[0]
    assert f"height:{fig.layout.height}px" in div["style"]


def test_figure_html_custom_div_id():
    fragment = figure_html(small_scrubber(), div_id="my-figure")
    assert '<div id="my-figure"' in fragment
    for bad in ['x" onmouseover="alert(1)', "", "1abc", "a b", 5]:
        with pytest.raises(ValueError, match="div_id"):
            figure_html(small_scrubber(), div_id=bad)


def test_figure_html_alt_becomes_an_escaped_aria_label():
    alt = 'The "generator" <covers> all 8 modes & more'
    fragment = figure_html(small_scrubber(alt=alt))
    assert f'aria-label="{html.escape(alt)}"' in fragment
    (wrapper, *_) = parse(fragment).tags
    assert wrapper[0] == "div" and wrapper[1]["role"] == "figure"
    assert wrapper[1]["aria-label"] == alt  # what a screen reader gets, once the HTML is parsed
    assert "aria-label" not in figure_html(small_scrubber())


def test_figure_html_cannot_be_broken_out_of():
    attack = "</script><script>alert(1)</script><!--<script>"
    fig = small_scrubber(title=attack, alt="fine")
    fig.frames[0].name = attack  # in frame names too
    fragment = figure_html(fig)
    assert fragment.count("</script>") == 1 and fragment.endswith("</script></div>")
    assert "<script>alert" not in fragment and "<!--" not in fragment
    elements = parse(fragment)
    assert [tag for tag, _ in elements.tags].count("script") == 1
    # The title still reaches plotly.js intact.
    assert embedded_figure(fragment)["layout"]["title"]["text"] == attack


def test_figure_html_adds_frames_when_present():
    fig = small_scrubber(n=4)
    fragment = figure_html(fig)
    assert "Plotly.addFrames" in fragment
    embedded = embedded_figure(fragment)
    assert [f["name"] for f in embedded["frames"]] == ["0", "1", "2", "3"]
    assert embedded["layout"]["sliders"][0]["steps"][3]["args"][0] == ["3"]
    still = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    assert not embedded_figure(figure_html(still)).get("frames")


def test_figure_html_accepts_a_dict_and_refuses_other_things():
    fig = small_scrubber()
    assert figure_html(fig.to_dict()) == figure_html(fig)
    for bad in ["<div>", [1, 2], {"layout": {}}, None]:
        with pytest.raises(TypeError, match="fig"):
            figure_html(bad)


# -- BookRenderer, init_notebook, SiteMimePlugin -----------------------------------------------


@contextlib.contextmanager
def _renderer_restored():
    """Restore plotly's default renderer and registry, whatever the body does."""
    default = pio.renderers.default
    had_ours = RENDERER_NAME in pio.renderers
    try:
        yield
    finally:
        pio.renderers.default = default
        if not had_ours and RENDERER_NAME in pio.renderers:
            # Not `del pio.renderers[...]`: plotly's RenderersConfig.__delitem__ reads an attribute it
            # never sets (plotly 7.1) and raises after deleting.
            pio.renderers._renderers.pop(RENDERER_NAME)


@pytest.fixture
def plotly_renderer():
    with _renderer_restored():
        yield


def test_book_renderer_emits_json_and_html():
    fig = small_scrubber(alt="three frames")
    bundle = BookRenderer().to_mimebundle(fig.to_dict())
    assert set(bundle) == {PLOTLY_JSON, "text/html"}
    assert bundle[PLOTLY_JSON] == json.loads(pio.to_json(fig))
    assert bundle["text/html"] == figure_html(fig)


def test_init_notebook_makes_figures_show_both_mime_types(plotly_renderer, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert init_notebook() == RENDERER_NAME
    assert pio.renderers.default == RENDERER_NAME
    assert isinstance(pio.renderers[RENDERER_NAME], BookRenderer)
    fig = small_scrubber(alt="three frames")
    bundle = fig._repr_mimebundle_()
    assert PLOTLY_JSON in bundle and "text/html" in bundle
    assert bundle[PLOTLY_JSON]["frames"][2]["name"] == "2"
    assert 'aria-label="three frames"' in bundle["text/html"]
    assert "Plotly.newPlot" in bundle["text/html"] and "cdn" not in bundle["text/html"].lower()
    # Calling it twice is harmless.
    assert init_notebook() == RENDERER_NAME


def test_init_notebook_in_colab(plotly_renderer, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert render_module.in_colab()
    assert init_notebook() == "colab"
    assert pio.renderers.default == "colab"


def test_renderer_fixture_restores_state():
    """What the renderer tests' fixture does: plotly's renderer is put back, whatever the body did."""
    before = (pio.renderers.default, RENDERER_NAME in pio.renderers)
    with _renderer_restored():
        pio.renderers.default = "json"
        init_notebook()  # registers the book's renderer and makes it the default
        assert RENDERER_NAME in pio.renderers
    assert (pio.renderers.default, RENDERER_NAME in pio.renderers) == before


@pytest.mark.parametrize("inline", [False, True])
def test_site_mime_plugin_drops_only_the_plotly_json_and_widget_views(inline):
    for dropped in [PLOTLY_JSON, "application/vnd.jupyter.widget-view+json"]:
        data = types.SimpleNamespace(mime_type=dropped, content={"model_id": "x"})
        assert SiteMimePlugin.handle_mime(None, data, inline) == []
    for other in ["text/html", "text/plain", "image/png", "application/javascript"]:
        assert SiteMimePlugin.handle_mime(None, types.SimpleNamespace(mime_type=other, content=""), inline) is None
    assert tuple(SiteMimePlugin.mime_priority_overrides) == ()


def test_site_mime_plugin_is_registered_for_myst_nb():
    (ep,) = [ep for ep in entry_points(group="myst_nb.mime_renderers") if ep.name == "genai_plotly"]
    assert ep.load() is SiteMimePlugin


# -- live explorers ----------------------------------------------------------------------------


@pytest.fixture
def shown(monkeypatch):
    """Record every display() a live explorer makes, with the Output widget it was made inside."""
    calls: list[tuple[widgets.Output | None, object]] = []
    active: list[widgets.Output] = []
    enter, leave = widgets.Output.__enter__, widgets.Output.__exit__

    def tracked_enter(self):
        active.append(self)
        return enter(self)

    def tracked_exit(self, *exc):
        active.pop()
        return leave(self, *exc)

    monkeypatch.setattr(widgets.Output, "__enter__", tracked_enter)
    monkeypatch.setattr(widgets.Output, "__exit__", tracked_exit)
    monkeypatch.setattr(live_module, "display", lambda obj: calls.append((active[-1] if active else None, obj)))
    return calls


def test_live_builds_controls_and_redraws(shown):
    seen = []

    def make_figure(n, scale, colour):
        seen.append((n, scale, colour))
        return f"figure {n} {scale} {colour}"

    box = live(make_figure, n=(1, 10), scale=(0.5, 2.0, 0.5), colour=["red", "blue"])
    assert isinstance(box, widgets.VBox)
    controls, out = box.children
    assert isinstance(out, widgets.Output)
    n, scale, colour = controls.children
    assert isinstance(n, widgets.IntSlider) and (n.min, n.max, n.step, n.value) == (1, 10, 1, 1)
    assert isinstance(scale, widgets.FloatSlider) and (scale.min, scale.max, scale.step) == (0.5, 2.0, 0.5)
    assert isinstance(colour, widgets.Dropdown) and list(colour.options) == ["red", "blue"]
    assert [c.description for c in controls.children] == ["n", "scale", "colour"]
    assert seen == [(1, 0.5, "red")] and shown == [(out, "figure 1 0.5 red")]
    n.value = 7
    assert seen[-1] == (7, 0.5, "red") and shown[-1] == (out, "figure 7 0.5 red")
    colour.value = "blue"
    assert seen[-1] == (7, 0.5, "blue") and len(seen) == 3 and len(shown) == 3


def test_live_accepts_widgets(shown):
    toggle = widgets.Checkbox(value=True, description="on")
    box = live(lambda on: f"on={on}", on=toggle)
    assert box.children[0].children[0] is toggle
    toggle.value = False
    assert shown[-1][1] == "on=False"


def test_live_bad_arguments():
    with pytest.raises(TypeError, match="make_figure"):
        live("not callable", n=(0, 1))
    with pytest.raises(ValueError, match="at least one control"):
        live(lambda: None)
    with pytest.raises(TypeError, match="control 'n'"):
        live(lambda n: None, n=5)
    with pytest.raises(TypeError, match="control 'n'"):
        live(lambda n: None, n=[])
    with pytest.raises(TypeError, match="control 'n'"):
        live(lambda n: None, n={"a": 1})
    for spec in [(3, 1), (1, 1), (0, 1, 2, 3), (0,), (0, 10, 0), (0, 10, -1), (0.0, 1.0, 5.0), (0.0, float("nan"))]:
        with pytest.raises(ValueError, match="control 'n'"):
            live(lambda n: None, n=spec)


def test_live_scrubber_computes_each_frame_once(shown):
    calls = []

    def compute(i):
        calls.append(i)
        return np.array([[0.0, 0.0], [float(i), 1.0]])

    box = live_scrubber(compute, 5, labels=[f"t={t}" for t in range(5)], title="A point moving right")
    controls, out = box.children
    play, slider, caption = controls.children
    assert isinstance(play, widgets.Play) and isinstance(slider, widgets.IntSlider)
    assert (slider.min, slider.max, play.max) == (0, 4, 4)
    assert calls == [0]
    assert len(shown) == 1 and shown[0][0] is out
    assert caption.value == "step = t=0"

    slider.value = 3
    assert calls == [0, 3]
    where, fig = shown[-1]
    assert where is out and isinstance(fig, go.Figure)
    assert [f.name for f in fig.frames] == ["t=3"]
    assert fig.layout.title.text == "A point moving right"
    assert not fig.layout.sliders and not fig.layout.updatemenus  # the widgets are the controls
    # no room kept below the plot for controls it does not have: just the axis title's
    assert fig.layout.margin.b == 60 and fig.layout.height - fig.layout.margin.t - 60 == 400
    np.testing.assert_array_equal(as_array(fig.data[0].x), [0.0, 3.0])
    assert caption.value == "step = t=3"

    slider.value = 0
    slider.value = 3
    assert calls == [0, 3]  # remembered, not recomputed
    assert len(shown) == 4  # but redrawn every time


def test_live_scrubber_passes_scrubber_arguments(shown):
    box = live_scrubber(lambda i: np.zeros((2, 3, 3)), 2, slider_label="layer", kinds="image", alt="two images")
    slider = box.children[0].children[1]
    assert slider.description == "layer"
    assert shown[-1][1].layout.meta["alt"] == "two images"


def test_live_scrubber_bad_arguments():
    frame = lambda i: np.zeros((2, 2))  # noqa: E731
    with pytest.raises(TypeError, match="compute"):
        live_scrubber("nope", 3)
    for n in [0, -1, True, 2.0, "3"]:
        with pytest.raises(ValueError, match="n_frames"):
            live_scrubber(frame, n)
    with pytest.raises(ValueError, match="labels"):
        live_scrubber(frame, 3, labels=["a", "b"])
    for interval in [0, -10, 1.5, True]:
        with pytest.raises(ValueError, match="interval_ms"):
            live_scrubber(frame, 3, interval_ms=interval)


# -- theme -------------------------------------------------------------------------------------


def test_public_names():
    for name in viz.__all__:
        assert hasattr(viz, name), name


# -- rendering in a real browser (optional: needs playwright and a Chromium) -------------------


def _chromium():
    """playwright's sync API and a Chromium to launch (a system one, else playwright's own)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    for path in ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/usr/bin/chromium-browser"):
        if Path(path).exists():
            return sync_api, path
    return sync_api, None


def test_figures_render_in_a_browser():
    sync_api, chromium = _chromium()
    plotly_js = Path(pio.__file__).parent.parent / "package_data" / "plotly.min.js"
    moving = small_scrubber(alt="a point moving up", n=4)
    arrows = scrubber([RNG.normal(size=(5, 4)) for _ in range(2)])
    attack = small_scrubber(title="</script><script>window.__pwned = 1</script><!--<script>")
    body = "".join(
        [figure_html(moving), figure_html(arrows), figure_html(attack), figure_html(moving)]  # `moving` twice
    )
    page_html = f"<html><head><script>{plotly_js.read_text()}</script></head><body>{body}</body></html>"
    with sync_api.sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        except Exception as err:  # pragma: no cover - depends on the machine
            pytest.skip(f"Chromium did not start: {err}")
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: errors.append("dialog: " + d.message))
            page.set_content(page_html)
            page.wait_for_function(
                "document.querySelectorAll('.plotly-graph-div[data-genai-drawn] .main-svg').length >= 4 &&"
                " Array.from(document.querySelectorAll('.plotly-graph-div')).every(d => d._transitionData"
                " && d._transitionData._frames && d._transitionData._frames.length)",
                timeout=10_000,
            )
            assert errors == []
            assert page.evaluate("window.__pwned") is None
            divs = page.query_selector_all(".plotly-graph-div")
            assert len(divs) == 4
            # The same figure twice on one page: both copies are drawn.
            assert all(d.get_attribute("data-genai-drawn") == "1" for d in divs)
            assert divs[0].get_attribute("id") == divs[3].get_attribute("id")
            # Arrows have heads: one marker per arrow tip.
            tips = page.evaluate(
                "Array.from(document.querySelectorAll('.plotly-graph-div')[1].querySelectorAll('.scatterlayer .point'))"
                ".filter(p => p.getBoundingClientRect().width > 1).length"
            )
            assert tips == 5
            # Keyboard scrubbing on the first figure.
            active = "document.querySelectorAll('.plotly-graph-div')[0].layout.sliders[0].active"
            divs[0].focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function(f"{active} === 1", timeout=5_000)
            page.keyboard.press("End")
            page.wait_for_function(f"{active} === 3", timeout=5_000)
            page.keyboard.press("ArrowRight")  # clamped at the last frame
            page.keyboard.press("Home")
            page.wait_for_function(f"{active} === 0", timeout=5_000)
            assert page.evaluate("document.querySelectorAll('.plotly-graph-div')[3].layout.sliders[0].active") == 0
            assert page.get_attribute(".genai-figure", "aria-label") == "a point moving up"
            assert errors == []
        finally:
            browser.close()


# -- glue -------------------------------------------------------------------------------------


def _myst_reads(name, value, fmt=None, spec=""):
    """What the site shows for {glue:text}`name:spec`, read back by myst-nb's own code."""
    import nbformat
    from myst_nb.core.variables import format_plain_text
    from myst_nb.ext.glue import extract_glue_data_cell

    from genai_lib.viz.glue import glue_bundle

    data, metadata = glue_bundle(name, value, fmt)
    out = nbformat.v4.new_output("display_data", data=data, metadata=metadata)
    cell = nbformat.v4.new_code_cell("glue(...)", outputs=[out])
    ((key, output),) = extract_glue_data_cell(cell)
    assert key == name
    assert cell.outputs == []  # nothing visible in the page where the value was glued
    return format_plain_text(output["data"]["text/plain"], spec)


@pytest.mark.parametrize(
    "value",
    [0.2641, np.float64(0.2641), np.float32(0.25), torch.tensor(0.2641), torch.tensor([0.2641]), np.array(0.2641)],
)
def test_glue_numbers_take_a_format_spec_in_the_prose(value):
    expected = format(float(np.asarray(value.item() if hasattr(value, "item") else value)), ".3f")
    assert _myst_reads("loss", value, spec=".3f") == expected


def test_glue_ints_strings_and_preformatted_values():
    assert _myst_reads("modes", np.int64(25), spec="d") == "25"
    assert _myst_reads("modes", 25) == "25"
    assert _myst_reads("ratio", "25/25") == "25/25"
    assert _myst_reads("word", "collapsed") == "collapsed"  # no quotes
    assert _myst_reads("share", 0.5238, fmt=".0%") == "52%"
    assert _myst_reads("big", 844032, fmt=",") == "844,032"
    assert _myst_reads("step", np.int64(1000), fmt=",") == "1,000"  # not the tuple (1, 0)
    assert _myst_reads("pair", "1, 2") == "1, 2"
    assert _myst_reads("quote", "it's") == "it's"


def test_glue_displays_through_ipython(monkeypatch):
    from genai_lib import viz

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append((a, k)))
    viz.glue("fd", 7.91)
    ((args, kwargs),) = shown
    assert kwargs["raw"] is True
    assert kwargs["metadata"]["scrapbook"]["name"] == "fd"
    assert list(args[0].values()) == ["7.91"]
    viz.glue("step", 1500, fmt=",")
    assert list(shown[-1][0][0].values()) == ["'1,500'"]


def test_glue_prints_the_value_only_in_colab(monkeypatch, capsys):
    """Colab shows the MyST role as written, so its reader is given the number beside the cell."""
    import types

    from genai_lib import viz

    monkeypatch.setattr("IPython.display.display", lambda *a, **k: None)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    viz.glue("step", 1500, fmt=",")
    assert capsys.readouterr().out == ""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    viz.glue("step", 1500, fmt=",")
    viz.glue("fd", np.float64(7.91))
    assert capsys.readouterr().out == "glue: step = 1,500\nglue: fd = 7.91\n"


def test_init_notebook_tells_a_colab_reader_how_to_read_the_markup(monkeypatch, capsys):
    import types

    import plotly.io as pio

    from genai_lib import viz

    default = pio.renderers.default
    try:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
        viz.init_notebook()
        assert capsys.readouterr().out == ""
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
        assert viz.init_notebook() == "colab"
        assert "glue: name = value" in capsys.readouterr().out
    finally:
        pio.renderers.default = default


@pytest.mark.parametrize("name", ["", "two words", "a:b"])
def test_glue_refuses_names_the_roles_cannot_address(name):
    from genai_lib.viz.glue import glue_bundle

    with pytest.raises(ValueError, match="name"):
        glue_bundle(name, 1.0)


@pytest.mark.parametrize(
    "value, error",
    [(torch.ones(2), ValueError), (np.ones(3), ValueError), ([1, 2], TypeError), (None, TypeError), (True, TypeError)],
)
def test_glue_refuses_values_that_are_not_one_number_or_text(value, error):
    from genai_lib.viz.glue import glue_bundle

    with pytest.raises(error, match="value"):
        glue_bundle("x", value)


def test_glue_argument_types_are_named():
    from genai_lib.viz.glue import glue_bundle

    with pytest.raises(TypeError, match="name"):
        glue_bundle(3, 1.0)
    with pytest.raises(TypeError, match="fmt"):
        glue_bundle("x", 1.0, fmt=2)


def test_live_controls_wrap_and_text_boxes_take_a_whole_line(shown):
    """A text box beside sliders used to leave them a few pixels wide (one non-wrapping HBox)."""
    text = widgets.Text(value="KING LEAR", layout=widgets.Layout(width="70%"))
    box = live(
        lambda text, layer, temperature: f"{text} {layer} {temperature}",
        text=text,
        layer=(1, 4),
        temperature=(0.1, 2.0),
    )
    controls = box.children[0]
    assert controls.layout.flex_flow == "row wrap"
    assert text.layout.flex == "1 1 100%" and text.layout.width == "auto"
    for slider in controls.children[1:]:
        assert slider.layout.min_width == "320px"


def test_live_refuses_a_one_line_text_box_holding_line_breaks(shown):
    with pytest.raises(ValueError, match="'text'.*Textarea"):
        live(lambda text: text, text=widgets.Text(value="KING LEAR:\nNothing"))
    box = live(lambda text: text, text=widgets.Textarea(value="KING LEAR:\nNothing"))
    assert box.children[0].children[0].value == "KING LEAR:\nNothing"
    live(lambda text: text, text=widgets.Text(value="one line"))  # a one-line prompt is fine in a Text


def test_a_single_frame_scrubber_is_a_still_picture_without_controls():
    import torch

    from genai_lib import viz

    still = viz.scrubber([torch.zeros(4, 8, 8)], ncols=4, value_range=(-1, 1))
    assert not still.layout.sliders and not still.layout.updatemenus
    moving = viz.scrubber([torch.zeros(4, 8, 8), torch.ones(4, 8, 8)], ncols=4, value_range=(-1, 1))
    assert len(moving.layout.sliders) == 1 and len(moving.layout.sliders[0].steps) == 2
