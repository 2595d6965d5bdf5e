"""Scores, SDEs and the probability-flow ODE: the continuous-time view of the book's diffusion models.

The *score* of a density is ∇ₓ log p(x). Under the forward process x_t = √ᾱ x_0 + √(1 - ᾱ) ε
(Ho et al. 2020, Eq. 4), Tweedie's formula (Efron 2011) ties it to the denoisers the book trains:

    ∇ log p_t(x) = -E[ε | x_t = x] / √(1 - ᾱ_t),   E[x_0 | x_t = x] = (x + (1 - ᾱ_t) ∇ log p_t(x)) / √ᾱ_t,

so an ε-prediction network *is* a score model, up to the factor -√(1 - ᾱ_t) (Song et al. 2021, score
SDEs, App. B; Vincent 2011). This module holds

* :class:`GaussianMixture` — a mixture of isotropic Gaussians whose noised density p_t, score and
  posterior mean are known in closed form (the 2-D test bench: every formula can be checked exactly);
* the reparameterisations of one prediction as another — :func:`to_eps` / :func:`from_eps` between
  ``"eps"``, ``"x0"``, ``"v"`` (Salimans & Ho 2022, v = √ᾱ ε - √(1 - ᾱ) x_0) and ``"score"``, with
  :func:`v_target` and :func:`implied_weight` (the weight on the ε-error each prediction's MSE implies);
* :func:`langevin_step` / :func:`langevin_sample` — unadjusted Langevin dynamics x ← x + δ ∇log p + √(2δ) z;
* :func:`reverse_sde_step` and :func:`pf_ode_step` — Euler–Maruyama on the reverse-time VP SDE and Euler
  on its probability-flow ODE (Song et al. 2021, Eqs. 6 and 13), with time measured by log ᾱ;
* :func:`sigma_from_abar` and :func:`euler_sigma_step` — the ODE in Karras et al.'s (2022) variables
  σ = √((1 - ᾱ)/ᾱ), y = x/√ᾱ, where dy/dσ = ε̂ and one Euler step *is* the DDIM (η = 0) step
  (Song et al. 2021, DDIM, Eq. 14; Karras et al. 2022, §3).

ᾱ ("abar") is passed as a number or a tensor that broadcasts against the batch (a ``(B,)`` tensor is
read as one value per sample). Nothing here trains or changes global state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from genai_lib._checks import check_bool, check_choice, check_float, check_int, check_tensor

__all__ = [
    "GaussianMixture",
    "PREDICTION_KINDS",
    "to_eps",
    "from_eps",
    "convert_prediction",
    "v_target",
    "implied_weight",
    "langevin_step",
    "langevin_sample",
    "reverse_sde_step",
    "pf_ode_step",
    "sigma_from_abar",
    "euler_sigma_step",
]

#: What a denoising network can be trained to predict; each is an affine function of ε̂ at a known (x_t, ᾱ).
PREDICTION_KINDS: tuple[str, ...] = ("eps", "x0", "v", "score")

ScoreFn = Callable[[torch.Tensor], torch.Tensor]


def _abar(abar: object, like: torch.Tensor, name: str = "abar") -> torch.Tensor:
    """ᾱ as a tensor on ``like``'s device and dtype, shaped to broadcast over ``like`` (``(B,)`` → per sample)."""
    if isinstance(abar, torch.Tensor):
        if not abar.is_floating_point():
            raise TypeError(f"{name} must be a float or a floating-point tensor, got dtype {abar.dtype}")
        a = abar.to(device=like.device, dtype=like.dtype)
        if a.dim() == 1 and like.dim() > 1 and a.shape[0] == like.shape[0]:
            a = a.reshape(-1, *[1] * (like.dim() - 1))
    else:
        a = torch.tensor(check_float(abar, name), device=like.device, dtype=like.dtype)
    if not torch.isfinite(a).all() or (a <= 0).any() or (a > 1).any():
        raise ValueError(f"{name} must lie in (0, 1] (ᾱ of the forward process), got values outside it")
    return a


# -- a mixture whose noised score is exact ---------------------------------------------------------------


@dataclass(frozen=True)
class GaussianMixture:
    """p_0 = Σ_k w_k N(μ_k, s² I), and its image under the forward process, known in closed form.

    Noising x_0 ~ p_0 to x_t = √ᾱ x_0 + √(1 - ᾱ) ε keeps it a mixture with the same weights:
    p_t = Σ_k w_k N(√ᾱ μ_k, (ᾱ s² + 1 - ᾱ) I). So log p_t, its score ∇ log p_t and Tweedie's posterior
    mean E[x_0 | x_t] are exact, and the page can check a sampler against the truth with no network.

    Args:
        means: ``(K, D)`` float tensor, the centres μ_k.
        std: s > 0, the standard deviation of every component.
        weights: ``(K,)`` non-negative weights (normalised here); ``None`` for equal weights.

    Raises:
        TypeError / ValueError: for a non-tensor, a bad shape, a non-positive ``std`` or bad weights.
    """

    means: torch.Tensor
    std: float
    weights: torch.Tensor | None = field(default=None)

    def __post_init__(self) -> None:
        check_tensor(self.means, "means", floating=True)
        if self.means.dim() != 2 or self.means.shape[0] < 1:
            raise ValueError(f"means must have shape (K, D) with K >= 1, got {tuple(self.means.shape)}")
        check_float(self.std, "std", minimum=0.0, strict_min=True)
        k = self.means.shape[0]
        w = torch.full((k,), 1.0 / k) if self.weights is None else check_tensor(self.weights, "weights", floating=True)
        if w.shape != (k,) or (w < 0).any() or float(w.sum()) <= 0:
            raise ValueError(f"weights must be {k} non-negative numbers with a positive sum, got {w.tolist()}")
        object.__setattr__(self, "means", self.means.detach().to(torch.float32).cpu())
        object.__setattr__(self, "weights", (w / w.sum()).detach().to(torch.float32).cpu())

    @classmethod
    def from_toy2d(cls, name: str, std: float | None = None, scale: float = 1.0) -> GaussianMixture:
        """The mixture behind ``genai_lib.data.toy2d(name)`` (``"ring8"`` or ``"grid25"``), divided by ``scale``.

        Args:
            name: ``"ring8"`` or ``"grid25"``.
            std: the component standard deviation before scaling; ``None`` keeps the data set's own.
            scale: divide the centres and the std by this (> 0).
        """
        from genai_lib.data.toy2d import mode_centres, mode_std

        name = check_choice(name, "name", ("ring8", "grid25"))
        scale = check_float(scale, "scale", minimum=0.0, strict_min=True)
        s = mode_std(name) if std is None else check_float(std, "std", minimum=0.0, strict_min=True)
        return cls(mode_centres(name) / scale, s / scale)

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def _abar_col(self, x: torch.Tensor, abar: object) -> torch.Tensor:
        """ᾱ as a ``(B, 1)`` column after checking ``x`` is a ``(B, D)`` float batch."""
        check_tensor(x, "x", floating=True)
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (B, {self.dim}), got {tuple(x.shape)}")
        a = _abar(abar, x)
        if a.numel() == 1:
            return a.reshape(1, 1).expand(x.shape[0], 1)
        if a.numel() != x.shape[0]:
            raise ValueError(f"abar must be a number or hold one value per sample ({x.shape[0]}), got {a.numel()}")
        return a.reshape(-1, 1)

    def _components(self, x: torch.Tensor, abar: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """log(w_k N(x; √ᾱ μ_k, v I)) ``(B, K)``, x - √ᾱ μ_k ``(B, K, D)`` and v = ᾱ s² + 1 - ᾱ ``(B, 1)``."""
        a = self._abar_col(x, abar)
        var = a * self.std**2 + (1 - a)
        diff = x[:, None, :] - a.sqrt()[:, :, None] * self.means.to(x)[None]
        log_comp = (
            self.weights.to(x).log() - 0.5 * (diff**2).sum(-1) / var - 0.5 * self.dim * torch.log(2 * math.pi * var)
        )
        return log_comp, diff, var

    def log_prob(self, x: torch.Tensor, abar: float | torch.Tensor = 1.0) -> torch.Tensor:
        """log p_t(x) of the noised mixture at ᾱ (``abar = 1``: the data density), shape ``(B,)``."""
        log_comp, _, _ = self._components(x, abar)
        return torch.logsumexp(log_comp, dim=1)

    def score(self, x: torch.Tensor, abar: float | torch.Tensor = 1.0) -> torch.Tensor:
        """∇ₓ log p_t(x) = Σ_k r_k(x) (√ᾱ μ_k - x) / (ᾱ s² + 1 - ᾱ), r_k the posterior weight of component k."""
        log_comp, diff, var = self._components(x, abar)
        r = torch.softmax(log_comp, dim=1)[..., None]  # (B, K, 1): how much each component explains x
        return -(r * diff).sum(1) / var

    def eps(self, x: torch.Tensor, abar: float | torch.Tensor) -> torch.Tensor:
        """The ideal noise prediction E[ε | x_t = x] = -√(1 - ᾱ) ∇ log p_t(x) (Tweedie; what an ε-model learns)."""
        a = self._abar_col(x, abar)
        return -(1 - a).sqrt() * self.score(x, abar)

    def posterior_mean(self, x: torch.Tensor, abar: float | torch.Tensor) -> torch.Tensor:
        """Tweedie's formula E[x_0 | x_t = x] = (x + (1 - ᾱ) ∇ log p_t(x)) / √ᾱ (Efron 2011)."""
        a = self._abar_col(x, abar)
        return (x + (1 - a) * self.score(x, abar)) / a.sqrt()

    def sample(self, n: int, generator: torch.Generator | None = None, abar: float = 1.0) -> torch.Tensor:
        """``n`` draws of p_t (``abar = 1``: the data), float32 ``(n, D)``, from ``generator`` only."""
        n = check_int(n, "n", minimum=1)
        a = check_float(abar, "abar", minimum=0.0, maximum=1.0, strict_min=True)
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        x0 = self.means[k] + self.std * torch.randn(n, self.dim, generator=generator)
        return math.sqrt(a) * x0 + math.sqrt(1 - a) * torch.randn(n, self.dim, generator=generator)

    def mean(self) -> torch.Tensor:
        """E[x_0], shape ``(D,)``."""
        return self.weights @ self.means

    def covariance(self) -> torch.Tensor:
        """Cov[x_0] = s² I + Σ_k w_k (μ_k - m)(μ_k - m)ᵀ, shape ``(D, D)``."""
        c = self.means - self.mean()
        return self.std**2 * torch.eye(self.dim) + (self.weights[:, None] * c).T @ c


# -- ε, x0, v and the score are one prediction in four coordinates ---------------------------------------


def _pair(pred: object, x_t: object, abar: object, pred_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    check_tensor(pred, pred_name, floating=True)
    check_tensor(x_t, "x_t", floating=True)
    if pred.shape != x_t.shape:
        raise ValueError(f"{pred_name} must have the shape of x_t {tuple(x_t.shape)}, got {tuple(pred.shape)}")
    return _abar(abar, x_t).sqrt(), (1 - _abar(abar, x_t)).sqrt()


def to_eps(pred: torch.Tensor, kind: str, x_t: torch.Tensor, abar: float | torch.Tensor) -> torch.Tensor:
    """The ε̂ that a prediction of ``kind`` at (x_t, ᾱ) stands for; α = √ᾱ, σ = √(1 - ᾱ), so x_t = α x_0 + σ ε.

    * ``"eps"``: ε̂ itself;
    * ``"x0"``: ε̂ = (x_t - α x̂_0) / σ (Ho et al. 2020, Eq. 4 solved for ε; undefined at ᾱ = 1);
    * ``"v"``: ε̂ = α v̂ + σ x_t, from v = α ε - σ x_0 (Salimans & Ho 2022, §4) and α² + σ² = 1;
    * ``"score"``: ε̂ = -σ ŝ (Tweedie; Song et al. 2021, score SDEs).

    Raises:
        ValueError: for an unknown ``kind`` or mismatched shapes; TypeError for non-float tensors.
    """
    kind = check_choice(kind, "kind", PREDICTION_KINDS)
    a, s = _pair(pred, x_t, abar, "pred")
    if kind == "eps":
        return pred
    if kind == "x0":
        return (x_t - a * pred) / s
    if kind == "v":
        return a * pred + s * x_t
    return -s * pred


def from_eps(eps: torch.Tensor, kind: str, x_t: torch.Tensor, abar: float | torch.Tensor) -> torch.Tensor:
    """The prediction of ``kind`` equivalent to ε̂ at (x_t, ᾱ): the inverse of :func:`to_eps`.

    ``"x0"``: (x_t - σ ε̂) / α (Ho et al. 2020, Eq. 15); ``"v"``: (ε̂ - σ x_t) / α, which equals α ε̂ - σ x̂_0;
    ``"score"``: -ε̂ / σ.
    """
    kind = check_choice(kind, "kind", PREDICTION_KINDS)
    a, s = _pair(eps, x_t, abar, "eps")
    if kind == "eps":
        return eps
    if kind == "x0":
        return (x_t - s * eps) / a
    if kind == "v":
        return (eps - s * x_t) / a
    return -eps / s


def convert_prediction(
    pred: torch.Tensor, source: str, target: str, x_t: torch.Tensor, abar: float | torch.Tensor
) -> torch.Tensor:
    """Re-express a ``source`` prediction as a ``target`` one (both in :data:`PREDICTION_KINDS`), through ε."""
    return from_eps(to_eps(pred, source, x_t, abar), target, x_t, abar)


def v_target(x0: torch.Tensor, eps: torch.Tensor, abar: float | torch.Tensor) -> torch.Tensor:
    """The v-prediction target v = √ᾱ ε - √(1 - ᾱ) x_0 (Salimans & Ho 2022, §4), the velocity of x_t on the
    circle (√ᾱ, √(1 - ᾱ)) = (cos φ, sin φ): dx_t/dφ = v."""
    check_tensor(x0, "x0", floating=True)
    check_tensor(eps, "eps", floating=True)
    if eps.shape != x0.shape:
        raise ValueError(f"eps must have the shape of x0 {tuple(x0.shape)}, got {tuple(eps.shape)}")
    a = _abar(abar, x0)
    return a.sqrt() * eps - (1 - a).sqrt() * x0


def implied_weight(kind: str, log_snr: torch.Tensor) -> torch.Tensor:
    """The weight w(λ) that an unweighted MSE on ``kind`` puts on the ε-error, at log-SNR λ = log(ᾱ/(1 - ᾱ)).

    Each prediction is affine in ε̂ (:func:`from_eps`), so ‖pred - target‖² = w(λ) ‖ε̂ - ε‖² with
    w = 1 (ε), e^{-λ} (x_0: 1/SNR), 1 + e^{-λ} (v: 1/ᾱ) and 1 + e^{λ} (score: 1/(1 - ᾱ))
    (Salimans & Ho 2022, §4; Kingma et al. 2021).
    """
    kind = check_choice(kind, "kind", PREDICTION_KINDS)
    check_tensor(log_snr, "log_snr", floating=True)
    lam = log_snr
    if kind == "eps":
        return torch.ones_like(lam)
    if kind == "x0":
        return torch.exp(-lam)
    if kind == "v":
        return 1 + torch.exp(-lam)
    return 1 + torch.exp(lam)


# -- Langevin dynamics ----------------------------------------------------------------------------------


def langevin_step(
    x: torch.Tensor, score: torch.Tensor, step_size: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One step of unadjusted Langevin dynamics, x + δ ∇log p(x) + √(2δ) z, z ~ N(0, I) (Roberts & Tweedie
    1996; used with learned scores by Song & Ermon 2019). As δ → 0 and the steps → ∞, x is distributed as p.

    Args:
        x: the current points ``(B, ...)``; score: ∇log p at ``x``, the same shape.
        step_size: δ > 0. generator: draws z.
    """
    check_tensor(x, "x", floating=True)
    check_tensor(score, "score", floating=True)
    if score.shape != x.shape:
        raise ValueError(f"score must have the shape of x {tuple(x.shape)}, got {tuple(score.shape)}")
    delta = check_float(step_size, "step_size", minimum=0.0, strict_min=True)
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return x + delta * score + math.sqrt(2 * delta) * z


def langevin_sample(
    score_fn: ScoreFn,
    x: torch.Tensor,
    step_size: float,
    num_steps: int,
    generator: torch.Generator | None = None,
    return_trajectory: bool = False,
) -> torch.Tensor:
    """Run :func:`langevin_step` ``num_steps`` times from ``x`` with ``score_fn(x) = ∇log p(x)``.

    Returns the final points, or with ``return_trajectory`` a ``(num_steps + 1, B, ...)`` tensor of every state.
    """
    if not callable(score_fn):
        raise TypeError(f"score_fn must be callable as score_fn(x), got {type(score_fn).__name__}")
    check_tensor(x, "x", floating=True)
    num_steps = check_int(num_steps, "num_steps", minimum=0)
    check_bool(return_trajectory, "return_trajectory")
    states = [x]
    for _ in range(num_steps):
        x = langevin_step(x, score_fn(x), step_size, generator)
        if return_trajectory:
            states.append(x)
    return torch.stack(states) if return_trajectory else x


# -- the reverse SDE and its probability-flow ODE (variance preserving) ---------------------------------


def _integrated_beta(abar_t: object, abar_s: object, x: torch.Tensor) -> torch.Tensor:
    a_t, a_s = _abar(abar_t, x, "abar_t"), _abar(abar_s, x, "abar_s")
    if (a_s < a_t).any():
        raise ValueError("abar_s must be >= abar_t: the reverse process moves towards the data (less noise)")
    return torch.log(a_s) - torch.log(a_t)


def reverse_sde_step(
    x: torch.Tensor,
    score: torch.Tensor,
    abar_t: float | torch.Tensor,
    abar_s: float | torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One Euler–Maruyama step of the reverse-time VP SDE from ᾱ_t to a less noisy ᾱ_s ≥ ᾱ_t.

    The forward VP SDE is dx = -½ β x dt + √β dW (Song et al. 2021, Eq. 11), with β dt = -d log ᾱ; its
    reverse (Anderson 1982; Song et al. 2021, Eq. 6) is dx = [-½ β x - β ∇log p_t(x)] dt + √β dW̄. Over the
    step, B = log ᾱ_s - log ᾱ_t, and Euler–Maruyama gives x + B (½ x + ∇log p_t(x)) + √B z.
    """
    check_tensor(x, "x", floating=True)
    check_tensor(score, "score", floating=True)
    if score.shape != x.shape:
        raise ValueError(f"score must have the shape of x {tuple(x.shape)}, got {tuple(score.shape)}")
    b = _integrated_beta(abar_t, abar_s, x)
    z = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return x + b * (0.5 * x + score) + b.sqrt() * z


def pf_ode_step(
    x: torch.Tensor, score: torch.Tensor, abar_t: float | torch.Tensor, abar_s: float | torch.Tensor
) -> torch.Tensor:
    """One Euler step of the VP probability-flow ODE dx = -½ β [x + ∇log p_t(x)] dt (Song et al. 2021, Eq. 13),
    from ᾱ_t to ᾱ_s ≥ ᾱ_t: x + B (½ x + ½ ∇log p_t(x)), B = log ᾱ_s - log ᾱ_t. Same marginals as the SDE,
    no noise: a deterministic map from noise to data."""
    check_tensor(x, "x", floating=True)
    check_tensor(score, "score", floating=True)
    if score.shape != x.shape:
        raise ValueError(f"score must have the shape of x {tuple(x.shape)}, got {tuple(score.shape)}")
    b = _integrated_beta(abar_t, abar_s, x)
    return x + 0.5 * b * (x + score)


# -- the same ODE in σ and y = x/√ᾱ: DDIM is Euler ------------------------------------------------------


def sigma_from_abar(abar: float | torch.Tensor) -> torch.Tensor:
    """σ = √((1 - ᾱ)/ᾱ), the noise-to-signal ratio e^{-λ/2} (Karras et al. 2022's σ of a VP model)."""
    a = _abar(abar, torch.zeros(()) if not isinstance(abar, torch.Tensor) else abar.float(), "abar")
    return ((1 - a) / a).sqrt()


def euler_sigma_step(
    x_t: torch.Tensor, eps: torch.Tensor, abar_t: float | torch.Tensor, abar_s: float | torch.Tensor
) -> torch.Tensor:
    """One Euler step of the probability-flow ODE written as dy/dσ = ε̂(√ᾱ y, σ), y = x/√ᾱ (Karras et al. 2022,
    Eq. 4 with s(t) = √ᾱ, σ(t) = √((1 - ᾱ)/ᾱ)); returned in x = √ᾱ_s y.

    y_s = y_t + (σ_s - σ_t) ε̂  ⇒  x_s = √ᾱ_s (x_t / √ᾱ_t + (σ_s - σ_t) ε̂), which is algebraically the DDIM
    η = 0 update √ᾱ_s x̂_0 + √(1 - ᾱ_s) ε̂ (Song et al. 2021, DDIM, Eq. 12-14). ``abar_s = 1`` (σ = 0) ends
    at the data.
    """
    check_tensor(x_t, "x_t", floating=True)
    check_tensor(eps, "eps", floating=True)
    if eps.shape != x_t.shape:
        raise ValueError(f"eps must have the shape of x_t {tuple(x_t.shape)}, got {tuple(eps.shape)}")
    a_t, a_s = _abar(abar_t, x_t, "abar_t"), _abar(abar_s, x_t, "abar_s")
    sig_t, sig_s = ((1 - a_t) / a_t).sqrt(), ((1 - a_s) / a_s).sqrt()
    return a_s.sqrt() * (x_t / a_t.sqrt() + (sig_s - sig_t) * eps)
