"""Two-dimensional toy distributions, the test bench of every generative model in the book.

Each set is sampled with its own :class:`torch.Generator` seeded by ``seed``, so the same
``(name, n, seed)`` always gives the same tensor and the global random state is never touched.
Every sample is ``centre-or-curve point + std * N(0, I)``; ``std`` overrides the default noise.

The sets and their constructions:

``ring8``
    A mixture of 8 Gaussians with equal weights, centred at ``2 (cos 2πk/8, sin 2πk/8)``,
    ``k = 0..7``, standard deviation 0.02: the mode-collapse benchmark of the GAN literature
    (the ring of Metz et al.'s unrolled GANs, VEEGAN and PacGAN).
``grid25``
    A mixture of 25 Gaussians with equal weights at ``{-4, -2, 0, 2, 4}²``, standard deviation
    0.05 (the grid of VEEGAN and PacGAN).
``moons``
    Two interleaving half circles: the upper one ``(cos t, sin t)``, the lower one
    ``(1 - cos t, 1/2 - sin t)``, ``t ~ U[0, π]``, shifted by ``(-1/2, -1/4)`` to be centred;
    noise 0.05. It spans about ``[-1.5, 1.5] × [-0.75, 0.75]``.
``swissroll``
    The 2-D Swiss roll ``t (cos t, sin t) / 7`` with ``t ~ U[1.5π, 4.5π]``; noise 0.05. It
    spans about ``[-1.35, 1.8] × [-1.6, 2]`` (not centred: its mean is near ``(0.28, 0.03)``).
``checkerboard``
    Uniform over the 8 dark squares of a 4 × 4 board covering ``[-2, 2]²`` (a square
    ``[i-2, i-1] × [j-2, j-1]`` is dark when ``i + j`` is even); no noise by default.
``spiral``
    Two interleaved arms ``r (cos θ, sin θ)`` with ``θ = 3π √u``, ``u ~ U[0, 1]``, radius
    ``r = 2θ / 3π`` and the second arm turned by π; ``√u`` spreads the points evenly along the
    arc. Noise 0.05; it spans about ``[-2, 2] × [-1.7, 1.7]``.
"""

from __future__ import annotations

import math

import torch

from genai_lib._checks import check_float, check_int

__all__ = ["TOY2D_NAMES", "toy2d", "mode_centres", "mode_std"]

TOY2D_NAMES: tuple[str, ...] = ("ring8", "grid25", "moons", "swissroll", "checkerboard", "spiral")

_DEFAULT_STD: dict[str, float] = {
    "ring8": 0.02,
    "grid25": 0.05,
    "moons": 0.05,
    "swissroll": 0.05,
    "checkerboard": 0.0,
    "spiral": 0.05,
}
_MIXTURES = ("ring8", "grid25")
_F32 = torch.float32


def _check_name(name: object, valid: tuple[str, ...] = TOY2D_NAMES) -> str:
    """Return ``name`` after checking it is one of ``valid``; the error lists the valid names."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, one of {valid}, got {type(name).__name__} {name!r}")
    if name not in valid:
        raise ValueError(f"name must be one of {valid}, got {name!r}")
    return name


def mode_centres(name: str) -> torch.Tensor:
    """Return the ``(k, 2)`` float32 centres of a Gaussian-mixture toy set.

    Implements the mixture layouts: ``ring8`` has 8 centres on the circle of radius 2 (the first
    at angle 0, then counter-clockwise), ``grid25`` has 25 centres at ``{-4, -2, 0, 2, 4}²``
    (row-major, x varying slowest).

    Raises:
        ValueError: if ``name`` is not ``"ring8"`` or ``"grid25"`` (the other sets have no modes).
    """
    _check_name(name, _MIXTURES)
    if name == "ring8":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return (2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)).to(_F32)
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0], dtype=_F32)
    return torch.cartesian_prod(axis, axis)


def mode_std(name: str) -> float:
    """Return the default standard deviation of each Gaussian in a mixture toy set.

    Implements the benchmark constants: 0.02 for ``ring8``, 0.05 for ``grid25``.

    Raises:
        ValueError: if ``name`` is not ``"ring8"`` or ``"grid25"``.
    """
    return _DEFAULT_STD[_check_name(name, _MIXTURES)]


def _uniform(n: int, gen: torch.Generator, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    """Draw ``n`` float32 samples from ``U[low, high)`` with ``gen``."""
    return low + (high - low) * torch.rand(n, generator=gen, dtype=_F32)


def _curve(name: str, n: int, gen: torch.Generator) -> torch.Tensor:
    """Draw the noise-free ``(n, 2)`` points of ``name`` (see the module docstring)."""
    if name in _MIXTURES:
        centres = mode_centres(name)
        return centres[torch.randint(len(centres), (n,), generator=gen)]
    if name == "moons":
        t = _uniform(n, gen, 0.0, math.pi)
        lower = torch.randint(2, (n,), generator=gen).bool()
        x = torch.where(lower, 1.0 - t.cos(), t.cos()) - 0.5
        y = torch.where(lower, 0.5 - t.sin(), t.sin()) - 0.25
        return torch.stack([x, y], dim=1)
    if name == "swissroll":
        t = _uniform(n, gen, 1.5 * math.pi, 4.5 * math.pi)
        return torch.stack([t * t.cos(), t * t.sin()], dim=1) / 7.0
    if name == "checkerboard":
        row = torch.randint(4, (n,), generator=gen)
        col = 2 * torch.randint(2, (n,), generator=gen) + row % 2  # row + col is even
        x = row.to(_F32) - 2.0 + _uniform(n, gen)
        y = col.to(_F32) - 2.0 + _uniform(n, gen)
        return torch.stack([x, y], dim=1)
    # spiral
    theta = 3 * math.pi * _uniform(n, gen).sqrt()
    radius = 2 * theta / (3 * math.pi)
    angle = theta + math.pi * torch.randint(2, (n,), generator=gen).to(_F32)
    return torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)


def toy2d(name: str, n: int, seed: int = 0, *, std: float | None = None) -> torch.Tensor:
    """Sample ``n`` points of the 2-D toy distribution ``name`` (see the module docstring).

    Implements the six toy sets of :data:`TOY2D_NAMES`: ``point = curve(name) + std * N(0, I)``
    drawn with a private :class:`torch.Generator` seeded with ``seed`` (the global RNG is left
    alone), so equal arguments give identical tensors.

    Args:
        name: one of :data:`TOY2D_NAMES`.
        n: number of samples, a positive int.
        seed: seed of the private generator, an int in ``[0, 2**63)``.
        std: standard deviation of the Gaussian noise; ``None`` uses the set's default
            (0.02 for ``ring8``, 0.05 for ``grid25``, ``moons``, ``swissroll`` and ``spiral``,
            0 for ``checkerboard``).

    Returns:
        A float32 CPU tensor of shape ``(n, 2)``.

    Raises:
        TypeError: if ``name`` is not a str, ``n`` or ``seed`` is not an int (bools included) or
            ``std`` is not a number.
        ValueError: if ``name`` is unknown (the message lists :data:`TOY2D_NAMES`), ``n <= 0``,
            ``seed`` is out of range or ``std`` is negative or not finite.
    """
    _check_name(name)
    n = check_int(n, "n", minimum=1)
    seed = check_int(seed, "seed", minimum=0, maximum=2**63 - 1)
    noise = _DEFAULT_STD[name] if std is None else check_float(std, "std", minimum=0.0)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    points = _curve(name, n, gen)
    if noise > 0:
        points = points + noise * torch.randn(n, 2, generator=gen, dtype=_F32)
    return points.to(_F32).contiguous()
