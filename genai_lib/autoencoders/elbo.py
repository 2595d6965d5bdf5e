"""The evidence lower bound (ELBO) of a VAE, and its β-weighted loss (Kingma & Welling 2014; Higgins et al. 2017).

For any distribution q(z | x), Jensen's inequality gives a lower bound on the log-likelihood:

    log p(x) ≥ E_{q(z|x)}[log p(x | z)] - KL(q(z | x) ‖ p(z)) = ELBO(x),

with equality when q(z | x) is the true posterior p(z | x) (the gap is KL(q(z | x) ‖ p(z | x))).
With the VAE of :mod:`~genai_lib.autoencoders.models` both terms are cheap:

* the reconstruction term, for p(x | z) = N(x; D(z), σ² I) over D values (:func:`gaussian_nll`):
  -log p(x | z) = ‖x - D(z)‖² / (2σ²) + (D/2) log(2πσ²), estimated with one z ~ q(z | x);
* the KL term, for q = N(μ, diag σ_q²) and p(z) = N(0, I), in closed form (:func:`gaussian_kl`):
  KL = ½ Σ_j (μ_j² + σ_q,j² - log σ_q,j² - 1).

:func:`vae_loss` returns the mean over a batch of -log p(x | z) + β · KL: the negative ELBO at
β = 1, the β-VAE objective otherwise (Higgins et al. 2017). All values are in nats per sample.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from genai_lib._checks import check_float, check_tensor

__all__ = ["gaussian_kl", "gaussian_nll", "ELBOTerms", "vae_loss", "elbo"]


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, diag exp(logvar)) ‖ N(0, I)) per sample, ``(B,)``, summed over the latent dimensions.

    ½ Σ_j (μ_j² + σ_j² - log σ_j² - 1) (Kingma & Welling 2014, Appendix B).

    Raises:
        ValueError: if ``mean`` and ``logvar`` differ in shape or are not ``(B, d)``.
    """
    check_tensor(mean, "mean", floating=True)
    check_tensor(logvar, "logvar", floating=True)
    if mean.shape != logvar.shape or mean.dim() != 2:
        raise ValueError(
            f"mean and logvar must share a shape (B, d), got {tuple(mean.shape)} and {tuple(logvar.shape)}"
        )
    return 0.5 * (mean.pow(2) + logvar.exp() - logvar - 1).sum(dim=1)


def gaussian_nll(x: torch.Tensor, recon: torch.Tensor, std: float) -> torch.Tensor:
    """-log N(x; recon, std² I) per sample, ``(B,)``: ‖x - recon‖² / (2 std²) + (D/2) log(2π std²).

    Raises:
        ValueError: if ``x`` and ``recon`` differ in shape, or ``std`` is not positive.
    """
    check_tensor(x, "x", floating=True)
    check_tensor(recon, "recon", floating=True)
    if x.shape != recon.shape or x.dim() < 2:
        raise ValueError(f"recon must have x's shape {tuple(x.shape)} (a batch), got {tuple(recon.shape)}")
    std = check_float(std, "std", minimum=0.0, strict_min=True)
    sq = (x - recon).pow(2).reshape(x.shape[0], -1).sum(dim=1)
    dim = sq.new_tensor(x[0].numel())
    return sq / (2 * std**2) + 0.5 * dim * math.log(2 * math.pi * std**2)


class ELBOTerms(NamedTuple):
    """Batch means of one VAE pass: the loss to minimise, its two terms (nats per sample), and the pixels' MSE."""

    loss: torch.Tensor
    nll: torch.Tensor
    kl: torch.Tensor
    mse: torch.Tensor


def vae_loss(
    model: torch.nn.Module, x: torch.Tensor, beta: float = 1.0, generator: torch.Generator | None = None
) -> ELBOTerms:
    """The β-VAE loss on a batch: mean of -log p(x | z) + β · KL(q(z | x) ‖ p(z)), one z per sample.

    At ``beta = 1`` the loss is the negative ELBO (Kingma & Welling 2014, Eq. 10); larger β weighs
    the KL more and trades reconstruction for codes closer to the prior (Higgins et al. 2017, Eq. 4).

    Args:
        model: a :class:`~genai_lib.autoencoders.VAE` (its ``config.decoder_std`` is the likelihood's σ).
        x: a batch ``(B, *data_shape)``.
        beta: the KL's weight, > 0.
        generator: draws the ε of the reparameterisation.

    Returns:
        :class:`ELBOTerms`: ``loss`` (differentiable), ``nll``, ``kl`` and ``mse`` (per value).
    """
    beta = check_float(beta, "beta", minimum=0.0, strict_min=True)
    out = model(x, generator)
    nll = gaussian_nll(x, out.recon, model.config.decoder_std).mean()
    kl = gaussian_kl(out.mean, out.logvar).mean()
    mse = (x - out.recon).pow(2).mean()
    return ELBOTerms(nll + beta * kl, nll, kl, mse)


@torch.no_grad()
def elbo(
    model: torch.nn.Module, x: torch.Tensor, n_draws: int = 1, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A Monte-Carlo estimate of ELBO(x) = E_q[log p(x | z)] - KL(q ‖ p) per sample, ``(B,)``, in nats.

    Averages the reconstruction term over ``n_draws`` draws of z ~ q(z | x); the KL is exact.
    A lower bound on log p(x) (in expectation over the draws).
    """
    if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 1:
        raise ValueError(f"n_draws must be an int >= 1, got {n_draws!r}")
    mean, logvar = model.encode(x)
    nll = torch.stack(
        [
            gaussian_nll(x, model.decode(model.reparameterise(mean, logvar, generator)), model.config.decoder_std)
            for _ in range(n_draws)
        ]
    ).mean(dim=0)
    return -(nll + gaussian_kl(mean, logvar))
