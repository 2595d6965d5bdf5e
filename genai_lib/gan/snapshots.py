"""What the GAN explorers draw: snapshots of a run, the grid of the 2-D heatmap, and scrubber frames.

A :class:`GANSnapshot` is the state of a run after some generator steps, on the CPU: the samples
of a latent batch fixed for the whole run (so frames compare) and, for 2-D data, the
discriminator's map on a grid (:func:`heatmap_grid`) and the arrows showing where the generator's
loss pushes each sample, and, when asked, the image of a grid of latent lines (GAN Lab's
"manifold", Kahng et al. 2018): :func:`latent_grid` lays the lines out in a plane of the latent
space and :func:`grid_polyline` joins their images into one polyline. :func:`snapshot_frames`
turns a list of snapshots into the frames of :func:`genai_lib.viz.scrubber`; :func:`member_snapshot`
cuts one run out of a snapshot of ``K`` GANs trained at once. Nothing here draws random numbers or
touches a model: the trainer (:class:`~genai_lib.gan.GANTrainer`) takes the snapshots, these
functions only lay them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from genai_lib._checks import check_float, check_int

__all__ = ["GANSnapshot", "grid_polyline", "heatmap_grid", "latent_grid", "member_snapshot", "snapshot_frames"]

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
        manifold: for 2-D data with ``config.manifold_lines`` set, the generator's image of the latent
            grid (:func:`latent_grid`) as one polyline with NaN rows between lines (:func:`grid_polyline`),
            shape ``(L, 2)``; with ``K > 1`` members, shape ``(K, L, 2)``.
        phase: ``""`` for the snapshots of :attr:`GANTrainer.snapshots`; in a dissected update
            (``fit(..., dissect=...)``) one of :data:`PHASES`: before the update, after its
            discriminator step(s), after its generator step.
    """

    step: int
    samples: torch.Tensor
    d_grid: torch.Tensor | None = None
    arrows: torch.Tensor | None = None
    extent: Extent | None = None
    manifold: torch.Tensor | None = None
    phase: str = ""


#: The three snapshots of a dissected update, in order (see :meth:`GANTrainer.fit`'s ``dissect``).
PHASES = ("before", "after D", "after G")


def latent_grid(z_dim: int, lines: int, span: float = 2.5, points: int | None = None) -> torch.Tensor:
    """A square grid of lines in the plane of the first two latent coordinates, ``z = (u, v, 0, ..., 0)``.

    The grid has ``lines`` horizontal and ``lines`` vertical lines over ``[-span, span]²``, each
    sampled at ``points`` points (default ``4 (lines - 1) + 1``: every crossing and three points
    between neighbours, so that a curved image stays smooth). Returns ``(2 · lines · points, z_dim)``
    latents: the horizontal lines (``v`` fixed, ``u`` rising) one after the other, then the vertical
    ones; :func:`grid_polyline` joins their images. GAN Lab (Kahng et al. 2018) draws this grid's
    image under the generator, the "manifold" that the generator bends onto the data.
    """
    z_dim = check_int(z_dim, "z_dim", minimum=2)
    lines = check_int(lines, "lines", minimum=2)
    span = check_float(span, "span", minimum=0.0, strict_min=True)
    points = 4 * (lines - 1) + 1 if points is None else check_int(points, "points", minimum=2)
    across = torch.linspace(-span, span, lines)
    along = torch.linspace(-span, span, points)
    rows = torch.stack(torch.meshgrid(across, along, indexing="ij")[::-1], dim=-1)  # rows[i, j] = (u_j, v_i)
    cols = rows.flip(-1)  # cols[i, j] = (u_i, v_j)
    z = torch.zeros(2 * lines * points, z_dim)
    z[:, :2] = torch.cat([rows, cols]).reshape(-1, 2)
    return z


def grid_polyline(images: torch.Tensor, lines: int) -> torch.Tensor:
    """The images ``(2 · lines · points, 2)`` of :func:`latent_grid`'s latents as one polyline.

    Each of the ``2 · lines`` lines is followed by a NaN row, so that a plotted line breaks between
    them: shape ``(2 · lines · (points + 1), 2)``.
    """
    lines = check_int(lines, "lines", minimum=2)
    if not isinstance(images, torch.Tensor) or images.ndim != 2 or len(images) % (2 * lines):
        raise ValueError(f"images must be a tensor (2 * lines * points, dim) with lines={lines}, got {images!r:.80}")
    per_line = images.reshape(2 * lines, -1, images.shape[1])
    gap = torch.full((2 * lines, 1, images.shape[1]), float("nan"), dtype=images.dtype, device=images.device)
    return torch.cat([per_line, gap], dim=1).reshape(-1, images.shape[1])


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
        manifold=None if snapshot.manifold is None else snapshot.manifold[k],
        phase=snapshot.phase,
    )


def snapshot_frames(
    snapshots: list[GANSnapshot], real: torch.Tensor | None = None, *, arrow_length: float
) -> list[dict[str, Any]]:
    """One 2-D run's snapshots as frames ``{"D(x)", ["real",] ["latent grid",] "generated", "gradient"}``.

    The frames are those of :func:`genai_lib.viz.scrubber` (pass ``kinds={"D(x)": "heatmap",
    "latent grid": "line"}``); the latent grid is there when the snapshots hold a ``manifold``. The
    arrows of every frame are scaled by one factor, so that the longest arrow of the run has length
    ``arrow_length`` and lengths compare across steps.
    """
    arrow_length = check_float(arrow_length, "arrow_length", minimum=0.0, strict_min=True)
    longest = max(float(s.arrows[:, 2:].norm(dim=1).max()) for s in snapshots)
    scale = arrow_length / longest if longest > 0 else 0.0
    frames = []
    for s in snapshots:
        frame: dict[str, Any] = {"D(x)": s.d_grid}
        if real is not None:
            frame["real"] = real
        if s.manifold is not None:
            frame["latent grid"] = s.manifold
        arrows = s.arrows.clone()
        arrows[:, 2:] *= scale
        frame |= {"generated": s.samples, "gradient": arrows}
        frames.append(frame)
    return frames
