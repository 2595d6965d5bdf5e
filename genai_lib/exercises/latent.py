"""Checkers for the exercises of the autoencoders-and-latent-flow chapter (Part II, after flow matching).

``from genai_lib.exercises import latent as ex``; ``ex.solution("check_...")`` prints an answer on request.
The VAE's encoder returns the mean μ and the log-variance log σ² of q(z | x) = N(μ, diag σ²); the prior is N(0, I).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from genai_lib.exercises._common import NEAR, Solutions, ask, matches, near, number, report

__all__ = ["check_gaussian_kl", "check_kl_value", "check_reparameterise", "check_prior_hole_reason", "solution"]

_SOLUTIONS = Solutions("genai_lib.exercises.latent")


def solution(name: str) -> None:
    """Print the answer of the exercise that checker ``name`` checks, with a short explanation."""
    _SOLUTIONS.show(name)


def _close(a: Any, b: torch.Tensor) -> bool:
    return (
        isinstance(a, torch.Tensor)
        and a.shape == b.shape
        and torch.allclose(a.double(), b.double(), atol=1e-5, rtol=1e-4)
    )


def _kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return 0.5 * (mean.pow(2) + logvar.exp() - logvar - 1).sum(dim=1)


# -- the KL term -------------------------------------------------------------------------------------


def check_gaussian_kl(fn: Callable[..., Any]) -> bool:
    """``fn(mean, logvar)`` returns KL(N(mean, diag exp(logvar)) ‖ N(0, I)) per sample, a ``(B,)`` tensor,
    for ``mean`` and ``logvar`` of shape ``(B, d)`` (Eq. eq-vae-kl)."""
    if not callable(fn):
        raise TypeError(f"fn must be a function fn(mean, logvar) -> KL per sample, got {type(fn).__name__}")
    gen = torch.Generator().manual_seed(3)
    mean, logvar = torch.randn(6, 4, generator=gen), 0.8 * torch.randn(6, 4, generator=gen)
    truth = _kl(mean, logvar)
    try:
        out = fn(mean.clone(), logvar.clone())
    except Exception as err:  # the reader's code failing is an answer, not a bug
        return report(False, f"fn(mean, logvar) raised {type(err).__name__}: {err}")
    if not isinstance(out, torch.Tensor):
        return report(False, "fn must return a tensor: one KL per sample, shape (B,).")
    if out.shape == mean.shape and _close(out.sum(dim=1), truth):
        return report(False, "each dimension's term is right; the KL of a sample is their sum over the d dimensions.")
    if out.dim() == 0 and _close(out.reshape(1), truth.mean().reshape(1)):
        return report(False, "that is the batch mean: return one KL per sample, shape (B,).")
    if out.shape != truth.shape:
        return report(False, f"fn must return one KL per sample, shape {tuple(truth.shape)}; got {tuple(out.shape)}.")
    if _close(out, truth):
        return report(True, "½ Σ (μ² + σ² − log σ² − 1): zero only for μ = 0, σ = 1, the prior itself.")
    if _close(out, 2 * truth):
        return report(False, "twice the KL: check the factor in front of the sum.")
    if _close(out, 0.5 * (mean.pow(2) + (0.5 * logvar).exp() - 0.5 * logvar - 1).sum(dim=1)):
        return report(False, "logvar is log σ², the log of the variance: σ² = exp(logvar), not exp(logvar / 2).")
    if _close(out, 0.5 * (mean.pow(2) + logvar.exp() - logvar).sum(dim=1)):
        return report(
            False, "close: the KL of the prior with itself must be 0; one constant term per dimension is missing."
        )
    if _close(out, -truth):
        return report(False, "the sign is wrong: a KL divergence is never negative.")
    return report(
        False, "not the KL of a diagonal Gaussian from N(0, I): derive it from Eq. (eq-vae-kl) one dimension at a time."
    )


def check_kl_value(answer: Any) -> bool:
    """The KL in nats of q = N(1, 0.5²) (mean 1, standard deviation 0.5) from p = N(0, 1), in one dimension."""
    value = number(answer)
    truth = 0.5 * (1 + 0.25 - math.log(0.25) - 1)
    if matches(value, truth):
        return report(True, "½ (μ² + σ² − log σ² − 1) with μ = 1, σ² = 0.25.")
    if near(value, truth):
        return report(False, NEAR)
    if matches(value, 2 * truth):
        return report(False, "twice the KL: check the factor ½.")
    if matches(value, 0.5 * (1 + 0.5 - math.log(0.5) - 1)):
        return report(False, "the formula takes the variance σ² = 0.25, not the standard deviation 0.5.")
    if value < 0:
        return report(False, "a KL divergence is never negative.")
    return report(
        False, "use the per-dimension term of Eq. (eq-vae-kl): ½ (μ² + σ² − log σ² − 1), log the natural log."
    )


# -- the reparameterisation trick -------------------------------------------------------------------


def check_reparameterise(fn: Callable[..., Any]) -> bool:
    """``fn(mean, logvar, eps)`` returns z = mean + σ ⊙ eps with σ = exp(logvar / 2), differentiable in ``mean``
    and ``logvar`` (Eq. eq-vae-reparam); ``eps`` is a given draw of N(0, I) of the same shape."""
    if not callable(fn):
        raise TypeError(f"fn must be a function fn(mean, logvar, eps) -> z, got {type(fn).__name__}")
    gen = torch.Generator().manual_seed(4)
    mean = torch.randn(5, 3, generator=gen).requires_grad_(True)
    logvar = (0.5 * torch.randn(5, 3, generator=gen)).requires_grad_(True)
    eps = torch.randn(5, 3, generator=gen)
    try:
        z = fn(mean, logvar, eps.clone())
    except Exception as err:  # the reader's code failing is an answer, not a bug
        return report(False, f"fn(mean, logvar, eps) raised {type(err).__name__}: {err}")
    with torch.no_grad():
        truth = mean + torch.exp(0.5 * logvar) * eps
        if not isinstance(z, torch.Tensor) or z.shape != truth.shape:
            return report(False, f"fn must return z, a tensor of mean's shape {tuple(mean.shape)}.")
        if not _close(z.detach(), truth):
            if _close(z.detach(), mean + torch.exp(logvar) * eps):
                return report(False, "exp(logvar) is the variance σ²; scale eps by the standard deviation σ.")
            if _close(z.detach(), mean + logvar * eps):
                return report(False, "logvar is the log of the variance: turn it into σ before scaling eps.")
            return report(False, "z must be a draw of N(mean, σ²) built from the given eps: shift and scale it.")
    if not z.requires_grad:
        return report(
            False,
            "z has the right values but no gradient: build it from mean and logvar with tensor "
            "operations, so that backpropagation reaches the encoder.",
        )
    g_mean, g_logvar = torch.autograd.grad(z.sum(), (mean, logvar), allow_unused=True)
    if g_mean is None or g_logvar is None:
        return report(False, "z has the right values but gradients do not reach both mean and logvar.")
    if not (_close(g_mean, torch.ones_like(g_mean)) and _close(g_logvar, 0.5 * torch.exp(0.5 * logvar.detach()) * eps)):
        return report(False, "z has the right values but its gradients are not those of mean + exp(logvar / 2) · eps.")
    return report(True, "the randomness is all in eps, so z is a differentiable function of mean and logvar.")


# -- conceptual ----------------------------------------------------------------------------------------

_HOLE_OPTIONS = {
    "a": "the decoder is too small to draw sharp digits",
    "b": "the codes of the training digits do not fill N(0, I): prior draws land where the decoder saw no codes, "
    "and the flow learns where the codes are",
    "c": "the flow adds noise to the codes, which the decoder removes",
    "d": "the flow model has more parameters than the decoder",
}


def check_prior_hole_reason(answer: Any) -> bool:
    """Why do codes from the latent flow decode to better digits than codes from the prior N(0, I), through the
    *same* decoder? One letter among a–d."""
    return ask(
        answer,
        _HOLE_OPTIONS,
        "b",
        "the decoder only learned the region the aggregate posterior q(z) covers; the flow samples q(z), the prior "
        "does not.",
        {
            "a": "both rows go through the same decoder: what differs is only where the codes come from.",
            "c": "the flow's ODE is deterministic from its starting noise; compare where its codes land with where "
            "the prior's do.",
            "d": "parameters are not the point: compare the distribution of codes each sampler produces with the "
            "codes the decoder was trained on.",
        },
    )


@_SOLUTIONS.add("check_gaussian_kl")
def _() -> tuple[str, str]:
    return (
        "def gaussian_kl(mean, logvar):\n    return 0.5 * (mean**2 + logvar.exp() - logvar - 1).sum(dim=1)",
        "For one dimension, KL(N(μ, σ²) ‖ N(0, 1)) = ½ (μ² + σ² − log σ² − 1); the dimensions of a diagonal "
        "Gaussian are independent, so their KLs add.",
    )


@_SOLUTIONS.add("check_kl_value")
def _() -> tuple[str, str]:
    return (
        f"{0.5 * (0.25 - math.log(0.25)):.4f} nats",
        "½ (1 + 0.25 − ln 0.25 − 1) = ½ (0.25 + 1.3863) ≈ 0.818.",
    )


@_SOLUTIONS.add("check_reparameterise")
def _() -> tuple[str, str]:
    return (
        "def reparameterise(mean, logvar, eps):\n    return mean + torch.exp(0.5 * logvar) * eps",
        "σ = exp(½ log σ²). The draw is a deterministic, differentiable function of (mean, logvar) and of the "
        "parameter-free noise eps, so ∂z/∂mean = 1 and ∂z/∂logvar = ½ σ eps.",
    )


@_SOLUTIONS.add("check_prior_hole_reason")
def _() -> tuple[str, str]:
    return (
        "b",
        "The KL term pulls each q(z | x) towards N(0, I) but, with a finite β and few data, the aggregate "
        "posterior q(z) = E_x q(z | x) does not equal the prior: it has holes and denser regions. The decoder "
        "was only ever trained on codes from q(z); the latent flow is trained on those codes and samples q(z).",
    )
