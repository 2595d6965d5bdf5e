"""GAN losses: the minimax game, its non-saturating variant, WGAN-GP and R1, with one small surface.

Every loss is a :class:`GANLoss` with three methods, so the trainer and the chapters can swap them:

* ``d_loss(real_out, fake_out)`` — what the discriminator minimises, written on its raw outputs
  (logits, or critic values for WGAN) on a real and a generated batch;
* ``g_loss(fake_out)`` — what the generator minimises;
* ``penalty(discriminator, real, fake, labels)`` — a regulariser added to ``d_loss`` that needs the
  discriminator itself (zero for the plain losses).

``prob(out)`` turns a raw output into the quantity the chapter plots as ``D(x)``: the probability
``sigmoid(logit)`` for the logistic losses, the critic value itself for WGAN.

Notation: the discriminator returns a logit ``l(x)`` and ``D(x) = σ(l(x))``, so
``log D = -softplus(-l)`` and ``log(1 - D) = -softplus(l)``; writing the losses with ``softplus`` is
exact and never takes the log of 0.

* :func:`minimax` — Goodfellow et al. (2014), eq. 1: ``min_G max_D E log D(x) + E log(1 - D(G(z)))``.
  The generator minimises ``E log(1 - D(G(z)))``, whose gradient vanishes where ``D`` confidently
  rejects the fakes (it *saturates*): kept for the chapter's gradient plot.
* :func:`nonsaturating` — the same discriminator; the generator maximises ``E log D(G(z))`` instead
  (Goodfellow et al. 2014, §3): same fixed point, strong gradients early in training.
* :func:`wgan_gp` — Gulrajani et al. (2017), Algorithm 1: a critic ``f`` estimates the Wasserstein-1
  distance, ``E f(G(z)) - E f(x)``, with the 1-Lipschitz constraint enforced softly by
  ``λ E (‖∇f(x̂)‖ - 1)²`` on random interpolates ``x̂`` between real and generated samples.
* :func:`r1` — Mescheder et al. (2018), eq. 9: the non-saturating loss plus ``γ/2 E ‖∇D(x)‖²`` on
  real data. Chosen as the book's third loss because it is the other gradient penalty: WGAN-GP
  pushes gradient norms towards 1 *between* the distributions, R1 pushes them towards 0 *on* the
  data, which is what makes the game converge locally instead of circling the equilibrium
  (Mescheder et al. show WGAN-GP and the unregularised GAN need not converge on their Dirac-GAN
  example, while R1 does). Circling around the equilibrium is exactly the mode hopping the
  toy-set explorers show, and R1 is the regulariser of StyleGAN and most GANs since.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

__all__ = [
    "GANLoss",
    "Minimax",
    "NonSaturating",
    "WGANGP",
    "R1",
    "minimax",
    "nonsaturating",
    "wgan_gp",
    "r1",
    "make_loss",
    "LOSS_NAMES",
    "gradient_penalty",
    "interpolate",
]

Discriminator = Callable[..., torch.Tensor]
_REDUCTIONS = ("mean", "sum", "none")


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_out(out: object, name: str) -> torch.Tensor:
    if not isinstance(out, torch.Tensor) or not out.is_floating_point():
        raise TypeError(f"{name} must be a float tensor of raw discriminator outputs, got {type(out).__name__}")
    if out.ndim != 1:
        raise ValueError(f"{name} must have shape (N,), one output per sample, got {tuple(out.shape)}")
    return out


def _check_weight(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float >= 0, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite float >= 0, got {value}")
    return float(value)


def gradient_penalty(
    discriminator: Discriminator,
    x: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    target: float = 1.0,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Return ``E_x (‖∇_x D(x)‖₂ - target)²``, differentiable in the discriminator's parameters.

    With ``target=1`` on interpolates this is the penalty of WGAN-GP (Gulrajani et al. 2017, eq. 3);
    with ``target=0`` on real data it is R1's ``E ‖∇D(x)‖²`` (Mescheder et al. 2018, eq. 9), computed
    as a sum of squares so that no square root is differentiated at 0. The per-sample gradients come
    from one backward pass of ``D(x).sum()``, which is exact because ``D(x_i)`` depends on ``x_i``
    alone (no batch normalisation in the discriminator). ``create_graph=True`` keeps the graph so
    that the penalty itself can be minimised ("double backprop").

    ``out``, when given, is ``discriminator(x, labels)`` already computed on an ``x`` that requires
    gradients (the trainer's R1 step scores the real batch that way once, for the loss and the
    penalty both); otherwise the function runs that forward pass itself on a detached copy of ``x``.
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a float tensor, got {type(x).__name__}")
    target = _check_weight(target, "target")
    if out is None:
        x = x.detach().requires_grad_(True)
        out = discriminator(x, labels)
    elif not x.requires_grad or not isinstance(out, torch.Tensor) or out.shape != x.shape[:1]:
        raise ValueError("out must be discriminator(x) of shape (N,), computed on an x that requires grad")
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    sq_norm = grad.flatten(1).pow(2).sum(dim=1)
    if target == 0.0:
        return sq_norm.mean()
    return (sq_norm.add(1e-12).sqrt() - target).pow(2).mean()


def _draw_eps(real: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand((real.shape[0],) + (1,) * (real.ndim - 1), generator=generator)


def interpolate(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    eps: torch.Tensor | None = None,
) -> torch.Tensor:
    """Return ``x̂ = ε x + (1 - ε) x̃`` with one ``ε ~ U[0, 1]`` per sample (Gulrajani et al. 2017, Alg. 1).

    ``ε`` is drawn on the CPU with ``generator`` (the global RNG when ``None``) and moved to the
    data's device, so a seed gives the same points on every device; ``eps``, shape ``(N, 1, ...)``,
    gives it instead (a trainer draws it for the whole global batch and passes each shard its rows).
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    if eps is None:
        eps = _draw_eps(real, generator)
    elif not isinstance(eps, torch.Tensor) or eps.shape != (real.shape[0],) + (1,) * (real.ndim - 1):
        raise ValueError(f"eps must be a tensor of shape ({real.shape[0]}, 1, ...) like real's, got {eps!r:.80}")
    eps = eps.to(real.device, real.dtype)
    return eps * real.detach() + (1 - eps) * fake.detach()


class GANLoss:
    """The surface every loss shares (see the module docstring); subclasses set ``name``."""

    name: ClassVar[str] = "loss"
    #: whether the discriminator's raw output is a logit (``D = sigmoid(out)``) or a critic value.
    logistic: ClassVar[bool] = True
    #: whether ``penalty`` differentiates the discriminator at the real batch (R1): the trainer then
    #: scores that batch with gradients on and passes the output as ``real_out``, saving a forward pass.
    penalises_real: ClassVar[bool] = False

    def d_loss(self, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
        """The logistic discriminator loss ``-E log D(x) - E log(1 - D(G(z)))`` (Goodfellow et al. 2014, eq. 1).

        Its minimiser over all functions is ``D*(x) = p_data(x) / (p_data(x) + p_g(x))``.
        """
        real_out, fake_out = _check_out(real_out, "real_out"), _check_out(fake_out, "fake_out")
        return F.softplus(-real_out).mean() + F.softplus(fake_out).mean()

    def g_loss(self, fake_out: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
        """What the generator minimises, on the discriminator's raw outputs for generated samples.

        ``reduction="sum"`` or ``"none"`` give per-sample terms: the trainer's gradient arrows are
        ``-∂/∂x_i`` of the sum, the push each generated sample feels on its own.
        """
        raise NotImplementedError

    def penalty(
        self,
        discriminator: Discriminator,
        real: torch.Tensor,
        fake: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """A regulariser added to the discriminator's loss; zero unless the loss defines one.

        ``noise``: the random numbers :meth:`penalty_noise` drew for this batch (None: draw them
        from ``generator``)."""
        return real.new_zeros(())

    def penalty_noise(self, real: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """The random numbers :meth:`penalty` draws for the batch ``real`` (one row per sample), drawn
        from ``generator`` as :meth:`penalty` would draw them; None for a penalty that draws none."""
        return None

    def prob(self, out: torch.Tensor) -> torch.Tensor:
        """Map raw outputs to what the chapters plot as ``D(x)``: ``sigmoid`` for logistic losses."""
        return torch.sigmoid(out) if self.logistic else out


@dataclass(frozen=True)
class Minimax(GANLoss):
    """The saturating generator loss ``E log(1 - D(G(z))) = -E softplus(l)`` (Goodfellow et al. 2014, eq. 1).

    Its derivative in the logit is ``-σ(l) = -D``: it vanishes as ``D(G(z)) → 0``, i.e. exactly when
    the discriminator wins and the generator most needs a signal.
    """

    name = "minimax"

    def g_loss(self, fake_out: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
        return _reduce(-F.softplus(_check_out(fake_out, "fake_out")), reduction)


@dataclass(frozen=True)
class NonSaturating(GANLoss):
    """The non-saturating generator loss ``-E log D(G(z)) = E softplus(-l)`` (Goodfellow et al. 2014, §3).

    Its derivative in the logit is ``-(1 - D)``: close to ``-1`` when the discriminator rejects the
    fakes, so the generator learns fastest where it is worst.
    """

    name = "nonsaturating"

    def g_loss(self, fake_out: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
        return _reduce(F.softplus(-_check_out(fake_out, "fake_out")), reduction)


@dataclass(frozen=True)
class WGANGP(GANLoss):
    """The Wasserstein critic loss with gradient penalty (Gulrajani et al. 2017, eq. 3 and Algorithm 1).

    Critic: ``E f(G(z)) - E f(x) + λ E (‖∇f(x̂)‖ - 1)²``; generator: ``-E f(G(z))``.

    Args:
        gp_weight: ``λ`` (the paper uses 10; the book's toy runs use 0.1, see the chapter).
    """

    gp_weight: float = 10.0
    name: ClassVar[str] = "wgan_gp"
    logistic: ClassVar[bool] = False

    def __post_init__(self) -> None:
        _check_weight(self.gp_weight, "gp_weight")

    def d_loss(self, real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
        """``E f(G(z)) - E f(x)``: the negative of the critic's Wasserstein-1 estimate."""
        real_out, fake_out = _check_out(real_out, "real_out"), _check_out(fake_out, "fake_out")
        return fake_out.mean() - real_out.mean()

    def g_loss(self, fake_out: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
        return _reduce(-_check_out(fake_out, "fake_out"), reduction)

    def penalty(
        self,
        discriminator: Discriminator,
        real: torch.Tensor,
        fake: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``λ E (‖∇f(x̂)‖₂ - 1)²`` on ``x̂ = ε x + (1 - ε) x̃`` (see :func:`interpolate`; ``noise`` is ε)."""
        if self.gp_weight == 0:
            return real.new_zeros(())
        points = interpolate(real, fake, generator=generator, eps=noise)
        return self.gp_weight * gradient_penalty(discriminator, points, labels, target=1.0)

    def penalty_noise(self, real: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """The interpolation weights ε of :meth:`penalty`, shape ``(N, 1, ...)`` (None when λ = 0)."""
        return None if self.gp_weight == 0 else _draw_eps(real, generator)


@dataclass(frozen=True)
class R1(NonSaturating):
    """The non-saturating loss with the R1 penalty ``γ/2 E_x ‖∇D(x)‖²`` on real data (Mescheder et al. 2018).

    The penalty is on the logit's gradient, as in the paper and StyleGAN.

    Args:
        gamma: ``γ``; the paper's toy and image runs use values from 0.1 to 10.
    """

    gamma: float = 1.0
    name: ClassVar[str] = "r1"
    penalises_real: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _check_weight(self.gamma, "gamma")

    def penalty(
        self,
        discriminator: Discriminator,
        real: torch.Tensor,
        fake: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
        real_out: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``γ/2 E_x ‖∇_x l(x)‖²`` over the real batch (``fake``, ``generator`` and ``noise`` are unused).

        ``real_out``: the discriminator's output on ``real``, computed with ``real.requires_grad``
        on, to differentiate instead of scoring the batch again (see :func:`gradient_penalty`).
        """
        if self.gamma == 0:
            return real.new_zeros(())
        return 0.5 * self.gamma * gradient_penalty(discriminator, real, labels, target=0.0, out=real_out)


def minimax() -> Minimax:
    """The original, saturating loss of Goodfellow et al. (2014), eq. 1 (see :class:`Minimax`)."""
    return Minimax()


def nonsaturating() -> NonSaturating:
    """The non-saturating loss of Goodfellow et al. (2014), §3 (see :class:`NonSaturating`)."""
    return NonSaturating()


def wgan_gp(gp_weight: float = 10.0) -> WGANGP:
    """WGAN-GP with penalty weight ``λ = gp_weight`` (Gulrajani et al. 2017; see :class:`WGANGP`)."""
    return WGANGP(gp_weight)


def r1(gamma: float = 1.0) -> R1:
    """The non-saturating loss with R1 penalty weight ``γ`` (Mescheder et al. 2018; see :class:`R1`)."""
    return R1(gamma)


_FACTORIES: dict[str, Callable[..., GANLoss]] = {
    "minimax": minimax,
    "nonsaturating": nonsaturating,
    "wgan_gp": wgan_gp,
    "r1": r1,
}
LOSS_NAMES: tuple[str, ...] = tuple(_FACTORIES)


def make_loss(name: str, weight: float | None = None) -> GANLoss:
    """Build a loss by name: one of :data:`LOSS_NAMES`.

    Args:
        name: ``"minimax"``, ``"nonsaturating"``, ``"wgan_gp"`` or ``"r1"``.
        weight: the penalty weight (``λ`` for ``wgan_gp``, ``γ`` for ``r1``); ``None`` takes the
            default. Must be ``None`` for the losses without a penalty.
    """
    if not isinstance(name, str) or name not in _FACTORIES:
        raise ValueError(f"loss must be one of {LOSS_NAMES}, got {name!r}")
    if weight is None:
        return _FACTORIES[name]()
    if name in ("minimax", "nonsaturating"):
        raise ValueError(f"penalty_weight must be None for loss={name!r}, which has no penalty; got {weight!r}")
    return _FACTORIES[name](_check_weight(weight, "penalty_weight"))
