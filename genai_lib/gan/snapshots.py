"""What the GAN explorers draw: snapshots of a run, the grid of the 2-D heatmap, and scrubber frames.

A :class:`GANSnapshot` is the state of a run after some generator steps, on the CPU: the samples
of a latent batch fixed for the whole run (so frames compare) and, for 2-D data, the
discriminator's map on a grid (:func:`heatmap_grid`) and the arrows showing where the generator's
loss pushes each sample. :func:`snapshot_frames` turns a list of them into the frames of
:func:`genai_lib.viz.scrubber`; :func:`member_snapshot` cuts one run out of a snapshot of ``K``
GANs trained at once. Nothing here draws random numbers or touches a model: the trainer
(:class:`~genai_lib.gan.GANTrainer`) takes the snapshots, these functions only lay them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from genai_lib._checks import check_float

__all__ = ["GANSnapshot", "heatmap_grid", "member_snapshot", "snapshot_frames"]

Extent = tuple[float, float, float, float]


@dataclass
class GANSnapshot:
    """The state of a GAN after ``step`` generator steps, as the explorers draw it (CPU tensors).

    Attributes:
        step: generator steps completed (0 = before training).
        samples: ``G(z)`` for the trainer's fixed latent batch, shape ``(snapshot_samples, *sample_shape)``
            (from the weight average :attr:`GANTrainer.ema_model` when ``config.ema_decay`` is set).
        d_grid: for 2-D data, ``loss.prob(D(x))`` on the grid, shape ``(grid_size, grid_size)``; row ``i``
            is ``y = grid_y[i]``, column ``j`` is ``x = grid_x[j]`` (the layout of a plotly heatmap).
            With ``K > 1`` members, every member's map: shape ``(K, grid_size, grid_size)``.
        arrows: for 2-D data, rows ``(x, y, dx, dy)`` with ``(dx, dy) = -∂ℓ_G/∂x`` at each sample.
        extent: ``(x0, x1, y0, y1)`` the grid covers, for 2-D data.
    """

    step: int
    samples: torch.Tensor
    d_grid: torch.Tensor | None = None
    arrows: torch.Tensor | None = None
    extent: Extent | None = None


def heatmap_grid(
    data: torch.Tensor, grid_size: int, extent: Extent | None = None
) -> tuple[Extent, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The points where the discriminator's 2-D map is evaluated: ``(extent, grid_x, grid_y, grid)``.

    ``extent`` defaults to the bounding box of ``data`` ``(N, 2)`` padded by a quarter of its larger
    side. ``grid`` has ``grid_size²`` rows ``(x, y)``, row-major with row ``i`` at ``y = grid_y[i]``,
    the layout of a plotly heatmap.
    """
    if extent is None:
        lo, hi = data.min(0).values.tolist(), data.max(0).values.tolist()
        pad = 0.25 * max(hi[0] - lo[0], hi[1] - lo[1], 1e-3)
        extent = (lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad)
    x0, x1, y0, y1 = extent
    grid_x = torch.linspace(x0, x1, grid_size)
    grid_y = torch.linspace(y0, y1, grid_size)
    yy, xx = torch.meshgrid(grid_y, grid_x, indexing="ij")  # row i is y_i, as plotly draws
    return extent, grid_x, grid_y, torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def member_snapshot(snapshot: GANSnapshot, k: int, members: int) -> GANSnapshot:
    """Member ``k``'s part of a snapshot of ``members`` GANs trained at once: its block of samples and its map.

    The fixed batch splits into ``members`` consecutive equal blocks, block ``k`` for member ``k``.
    """
    n = len(snapshot.samples) // members
    block = slice(k * n, (k + 1) * n)
    return GANSnapshot(
        step=snapshot.step,
        samples=snapshot.samples[block],
        d_grid=None if snapshot.d_grid is None else snapshot.d_grid[k],
        arrows=None if snapshot.arrows is None else snapshot.arrows[block],
        extent=snapshot.extent,
    )


def snapshot_frames(
    snapshots: list[GANSnapshot], real: torch.Tensor | None = None, *, arrow_length: float
) -> list[dict[str, Any]]:
    """One 2-D run's snapshots as frames ``{"D(x)", ["real",] "generated", "gradient"}`` for the scrubber.

    The arrows of every frame are scaled by one factor, so that the longest arrow of the run has
    length ``arrow_length`` and lengths compare across steps.
    """
    arrow_length = check_float(arrow_length, "arrow_length", minimum=0.0, strict_min=True)
    longest = max(float(s.arrows[:, 2:].norm(dim=1).max()) for s in snapshots)
    scale = arrow_length / longest if longest > 0 else 0.0
    frames = []
    for s in snapshots:
        frame: dict[str, Any] = {"D(x)": s.d_grid}
        if real is not None:
            frame["real"] = real
        arrows = s.arrows.clone()
        arrows[:, 2:] *= scale
        frame |= {"generated": s.samples, "gradient": arrows}
        frames.append(frame)
    return frames
