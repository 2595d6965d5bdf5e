"""Checkers for the exercises of Part I, generative adversarial networks.

Chapter 1, the adversarial game: :func:`check_optimal_discriminator`, :func:`check_equilibrium_value`,
:func:`check_gradient_ratio`, :func:`check_disjoint_value`. Chapter 2, mode collapse:
:func:`check_perfect_hq_share`, :func:`check_wasserstein_distance`, :func:`check_r1_penalty`,
:func:`check_fastest_gamma`. Chapter 3, convolutional GANs: :func:`check_tconv_side`,
:func:`check_ema_share`, :func:`check_midpoint_norm`, :func:`check_downsample`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

__all__ = [
    "check_optimal_discriminator",
    "check_equilibrium_value",
    "check_gradient_ratio",
    "check_disjoint_value",
    "check_perfect_hq_share",
    "check_r1_penalty",
    "check_fastest_gamma",
    "check_wasserstein_distance",
    "check_tconv_side", "check_ema_share", "check_midpoint_norm", "check_downsample",
]


def _report(ok: bool, message: str) -> bool:
    print(("✔ correct: " if ok else "✘ not yet: ") + message)
    return ok


def _number(answer: Any) -> float:
    """Accept a Python number or a one-element tensor; anything else is the wrong kind of answer."""
    if isinstance(answer, torch.Tensor):
        if answer.numel() != 1:
            raise TypeError(f"answer must be a single number, got a tensor of shape {tuple(answer.shape)}")
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise TypeError(f"answer must be a number, got {type(answer).__name__}")
    return float(answer)


def _close(a: float, b: float, rel: float = 2e-3, abs_tol: float = 1e-6) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_tol)


# -- chapter 1: the adversarial game ------------------------------------------------------------

def check_optimal_discriminator(answer: Any, x: float = 0.0, mu_g: float = 2.0) -> bool:
    """Exercise 1.1: ``D*(x)`` for ``p_data = N(0, 1)`` and ``p_g = N(mu_g, 1)``, at ``x`` (default 0)."""
    answer = _number(answer)
    p_data = math.exp(-0.5 * x**2)
    p_g = math.exp(-0.5 * (x - mu_g) ** 2)  # the common factor 1/√(2π) cancels in the ratio
    truth = p_data / (p_data + p_g)
    if _close(answer, truth):
        return _report(True, f"D*({x:g}) = {truth:.4f}: the discriminator is {100 * truth:.0f}% sure x = {x:g} is real.")
    if _close(answer, 1 - truth):
        return _report(False, "that is p_g / (p_data + p_g), the probability of *fake*; D* puts p_data on top.")
    if _close(answer, 0.5):
        return _report(False, "D* = 1/2 only where the two densities are equal; here p_data(x) > p_g(x).")
    if _close(answer, p_data / math.sqrt(2 * math.pi)) or _close(answer, p_g / math.sqrt(2 * math.pi)):
        return _report(False, "that is a density; D* is the ratio p_data / (p_data + p_g).")
    return _report(False, f"{answer:.4g} is not D*({x:g}). Evaluate both Gaussian densities at x and form the ratio.")


def check_equilibrium_value(answer: Any) -> bool:
    """Exercise 1.2: the value ``V(D*, G)`` of the game when ``p_g = p_data`` (it is ``-log 4``)."""
    answer = _number(answer)
    truth = -math.log(4.0)
    if _close(answer, truth):
        return _report(True, f"V = 2 log(1/2) = −log 4 ≈ {truth:.4f}: the generator cannot push it lower.")
    if _close(answer, -math.log(2.0)):
        return _report(False, "−log 2 is one of the two expectations; V is their sum.")
    if _close(answer, math.log(4.0)):
        return _report(False, "check the sign: log D* = log(1/2) is negative.")
    if _close(answer, 0.0):
        return _report(False, "V = 0 is what a perfect discriminator scores (D = 1 on data, 0 on fakes), not the equilibrium.")
    return _report(False, f"{answer:.4g} is not it. At p_g = p_data, D* = 1/2 everywhere; put that into V.")


def check_gradient_ratio(answer: Any, d_fake: float = 0.01) -> bool:
    """Exercise 1.3: how many times larger the non-saturating gradient (in the logit) is than the
    minimax one, for a fake the discriminator scores ``D(G(z)) = d_fake``: ``(1 - d) / d``."""
    answer = _number(answer)
    truth = (1 - d_fake) / d_fake
    if _close(answer, truth):
        return _report(True, f"(1 − D)/D = {truth:.4g}: the non-saturating loss pushes {truth:.0f}× harder here.")
    if _close(answer, 1 / truth):
        return _report(False, "that is the minimax gradient divided by the non-saturating one; invert it.")
    if _close(answer, 1 / d_fake):
        return _report(False, "1/D is the non-saturating gradient alone (taken in D); divide it by the "
                              "minimax one, 1/(1 − D).")
    return _report(False, f"{answer:.4g} is not it. ∂/∂l of −log σ(l) is −(1 − D); of log(1 − σ(l)) it is −D.")


def check_disjoint_value(answer: Any) -> bool:
    """Exercise 1.4: ``V(D*, G)`` when ``p_g`` and ``p_data`` have disjoint supports (it is 0)."""
    answer = _number(answer)
    if _close(answer, 0.0, abs_tol=1e-4):
        return _report(True, "V = −log 4 + 2 log 2 = 0, whatever the distance between the supports: "
                             "the JSD is stuck at log 2 and gives the generator no direction.")
    if _close(answer, math.log(2.0)):
        return _report(False, "log 2 is the Jensen–Shannon divergence; V(D*, G) = −log 4 + 2 JSD.")
    if _close(answer, -math.log(4.0)):
        return _report(False, "−log 4 is the value at equilibrium, when the supports coincide.")
    return _report(False, f"{answer:.4g} is not it. With disjoint supports D* is 1 on the data and 0 on the fakes.")


# -- chapter 2: mode collapse -------------------------------------------------------------------

def check_perfect_hq_share(answer: Any, threshold: float = 3.0) -> bool:
    """Exercise 2.1: the high-quality share of a perfect 2-D generator: ``P(‖ε‖ ≤ 3σ) = 1 - exp(-9/2)``."""
    answer = _number(answer)
    truth = 1 - math.exp(-threshold**2 / 2)
    if answer > 1.5:  # a percentage
        answer /= 100
    if _close(answer, truth, rel=1e-3):
        return _report(True, f"1 − e^(−9/2) = {truth:.4f}: even the data itself scores {100 * truth:.1f} %, not 100 %.")
    if _close(answer, math.erf(threshold / math.sqrt(2)), rel=1e-3):
        return _report(False, "99.73 % is the one-dimensional 3σ rule; in 2-D, ‖ε‖²/σ² is χ² with 2 degrees of freedom.")
    if _close(answer, 1.0):
        return _report(False, "Gaussian samples have unbounded tails; some fall outside 3σ.")
    return _report(False, f"{answer:.4g} is not it. P(‖ε‖ ≤ r) for a 2-D standard Gaussian is 1 − exp(−r²/2).")


def check_r1_penalty(fn: Callable[..., torch.Tensor]) -> bool:
    """Exercise 2.3: ``fn(discriminator, real, gamma)`` must return R1's ``γ/2 E_x ‖∇_x l(x)‖²``
    (Mescheder et al. 2018, eq. 9), differentiable in the discriminator's parameters."""
    if not callable(fn):
        raise TypeError(f"answer must be a function fn(discriminator, real, gamma), got {type(fn).__name__}")
    from genai_lib.gan import MLPDiscriminator, gradient_penalty  # the reference, imported only when checking

    with torch.random.fork_rng():  # a fixed test discriminator, without touching the reader's RNG
        torch.manual_seed(0)
        disc = MLPDiscriminator(hidden=32, depth=2)
    real = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    gamma = 0.7
    truth = 0.5 * gamma * gradient_penalty(disc, real, target=0.0)
    try:
        got = fn(disc, real.clone(), gamma)
    except Exception as err:  # the reader's code: report, do not raise
        return _report(False, f"your function raised {type(err).__name__}: {err}")
    if not isinstance(got, torch.Tensor) or got.numel() != 1:
        return _report(False, f"return a 0-dim tensor (the mean over the batch), got {got!r:.60}")
    got = got.reshape(())
    x = real.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(disc(x).sum(), x)
    sq = g.pow(2).sum(dim=1)
    if torch.allclose(got, truth, rtol=1e-4, atol=1e-8):
        if not got.requires_grad:
            return _report(False, "right value, but the discriminator cannot be trained on it: "
                                  "use torch.autograd.grad(..., create_graph=True).")
        weights = [p for p in disc.parameters() if p.ndim == 2]  # (the last bias cannot change ∇_x l)
        grads = torch.autograd.grad(got, weights, allow_unused=True)
        if any(g is None for g in grads):
            return _report(False, "right value, but not every weight matrix of D receives a gradient.")
        return _report(True, f"γ/2 E ‖∇l‖² = {truth.item():.4g} on the test batch, with gradients for D.")
    if torch.allclose(got, sq.mean(), rtol=1e-4):
        return _report(False, "that is E ‖∇l‖²; R1 weighs it by γ/2.")
    if torch.allclose(got, 0.5 * gamma * g.norm(dim=1).mean(), rtol=1e-4):
        return _report(False, "square the gradient norm: R1 penalises ‖∇l‖², not ‖∇l‖.")
    if torch.allclose(got, 0.5 * gamma * (sq.sqrt() - 1).pow(2).mean(), rtol=1e-4):
        return _report(False, "that is WGAN-GP's (‖∇f‖ − 1)²; R1 pushes the gradient towards 0 on real data.")
    if torch.allclose(got, 0.5 * gamma * sq.sum(), rtol=1e-4):
        return _report(False, "take the mean over the batch, not the sum.")
    return _report(False, f"got {got.item():.4g}, expected {truth.item():.4g} on the test batch.")


def check_wasserstein_distance(answer: Any, theta: float = 3.0) -> bool:
    """Exercise 2.3: ``W1(δ_0, δ_θ)`` between two point masses at ``0`` and ``θ`` (it is ``|θ|``)."""
    answer = _number(answer)
    truth = abs(theta)
    if _close(answer, truth):
        return _report(True, f"W1 = |θ| = {truth:g}: it shrinks as the masses approach, unlike the JSD (log 2 until they meet).")
    if _close(answer, math.log(2.0)):
        return _report(False, "log 2 is the Jensen–Shannon divergence of the two point masses; W1 is a transport cost.")
    if _close(answer, truth**2):
        return _report(False, "that is the squared distance (W2²); W1 moves mass 1 by a distance |θ|.")
    return _report(False, f"{answer:.4g} is not it: move all the mass from 0 to θ; what does it cost?")


def check_fastest_gamma(answer: Any) -> bool:
    """Exercise 2.4: the R1 weight γ that makes the linearised Dirac GAN converge fastest.

    The Jacobian at the equilibrium is ``[[0, 1/2], [-1/2, -γ]]`` with eigenvalues
    ``(-γ ± sqrt(γ² - 1)) / 2``; the slowest decay rate ``-max Re λ`` is largest, 1/2, at ``γ = 1``.
    """
    answer = _number(answer)
    if _close(answer, 1.0, rel=1e-3):
        return _report(True, "γ = 1: a double eigenvalue −1/2 (critical damping); smaller γ circles, larger γ crawls.")
    if answer <= 0:
        return _report(False, "with γ ≤ 0 the eigenvalues have real part ≥ 0: the game circles or diverges.")
    if answer > 1:
        return _report(False, f"at γ = {answer:g} one eigenvalue is (−γ + √(γ² − 1))/2 ≈ "
                              f"{(-answer + math.sqrt(answer**2 - 1)) / 2:.3f}: closer to 0, so slower. Try smaller.")
    return _report(False, f"at γ = {answer:g} the eigenvalues are complex with real part −γ/2 = {-answer / 2:.3f}; "
                          "the decay gets faster as γ grows — up to a point.")


# -- chapter 3: convolutional GANs on digits ------------------------------------------------------

def check_tconv_side(answer: Any, side: int = 8, kernel: int = 4, stride: int = 2, padding: int = 1) -> bool:
    """Exercise 3.1: the output side ``(i - 1) s - 2p + k`` of a transposed convolution (16 for the defaults)."""
    answer = _number(answer)
    truth = (side - 1) * stride - 2 * padding + kernel
    if _close(answer, truth):
        return _report(True, f"({side} − 1)·{stride} − 2·{padding} + {kernel} = {truth}: the side doubles.")
    if _close(answer, (side + 2 * padding - kernel) // stride + 1):
        return _report(False, "that is the forward convolution's output side; the transposed one runs it backwards.")
    if _close(answer, (side - 1) * stride + kernel):
        return _report(False, "the padding is removed from both sides of the output: subtract 2p.")
    return _report(False, f"{answer:g} is not it: use i = (o − 1)·s − 2p + k with o = {side}.")


def check_ema_share(answer: Any, beta: float = 0.99, last: int = 100) -> bool:
    """Exercise 3.2: the weight ``1 - β^n`` that an EMA puts on its last ``n`` updates (≈ 0.634)."""
    answer = _number(answer)
    truth = 1 - beta**last
    if answer > 1.5:  # a percentage
        answer /= 100
    if _close(answer, truth, rel=2e-3):
        return _report(True, f"1 − {beta:g}^{last} = {truth:.3f}: about two thirds, not all of it.")
    if _close(answer, beta**last, rel=2e-3):
        return _report(False, f"{beta:g}^{last} is the weight left on everything *before* the last {last} steps.")
    if _close(answer, 1.0):
        return _report(False, "the exponential window has no hard edge: older steps keep a geometric tail.")
    return _report(False, f"{answer:.4g} is not it: sum (1 − β) β^j over j = 0 … {last - 1}.")


def check_midpoint_norm(answer: Any) -> bool:
    """Exercise 3.3: ``‖(z_a + z_b)/2‖ / ‖z_a‖`` for independent high-dimensional Gaussians (→ 1/√2)."""
    answer = _number(answer)
    truth = 1 / math.sqrt(2)
    if _close(answer, truth, rel=5e-3):
        return _report(True, "1/√2 ≈ 0.707: linear midpoints sit well inside the sphere the generator was trained on.")
    if _close(answer, 0.5):
        return _report(False, "0.5 is the ratio of the squared norms, d/2 against d; take the square root.")
    if _close(answer, 1.0):
        return _report(False, "that would hold for slerp; the average of two independent vectors is shorter.")
    return _report(False, f"{answer:.4g} is not it: compute E‖(z_a + z_b)/2‖² and compare with E‖z_a‖² = d.")


def check_downsample(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """Exercise 3.4: ``fn(x16)`` must return the least-squares 8×8 images ``U⁺ y`` of 16×16 images ``y``,
    where ``U`` is bilinear 2× upsampling (``align_corners=False``), the map of ``load_digits(16)``."""
    if not callable(fn):
        raise TypeError(f"answer must be a function downsample(x16), got {type(fn).__name__}")
    import torch.nn.functional as F  # the reference, built only when checking

    basis = torch.eye(64, dtype=torch.float64).reshape(64, 1, 8, 8)
    U = F.interpolate(basis, size=(16, 16), mode="bilinear", align_corners=False).reshape(64, 256).T
    gen = torch.Generator().manual_seed(0)
    x8 = torch.rand(6, 1, 8, 8, generator=gen, dtype=torch.float64) * 2 - 1
    upsampled = (x8.reshape(6, 64) @ U.T).reshape(6, 1, 16, 16)
    other = torch.rand(6, 1, 16, 16, generator=gen, dtype=torch.float64) * 2 - 1     # not upsampled digits
    truth = torch.linalg.lstsq(U, other.reshape(6, 256).T).solution.T.reshape(6, 1, 8, 8)
    try:
        got_up, got_other = fn(upsampled.float()), fn(other.float())
    except Exception as err:  # the reader's code: report, do not raise
        return _report(False, f"your function raised {type(err).__name__}: {err}")
    for got in (got_up, got_other):
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != (6, 1, 8, 8):
            return _report(False, f"return a tensor of shape (N, 1, 8, 8), got {getattr(got, 'shape', type(got))}")
    if not torch.allclose(got_up.double(), x8, atol=1e-4):
        if torch.allclose(got_up.double(), F.avg_pool2d(upsampled, 2), atol=1e-4):
            return _report(False, "2×2 averaging is not the inverse of bilinear upsampling: it blurs the digit again.")
        return _report(False, "an upsampled 8×8 image must come back exactly; solve the least-squares problem U x = y.")
    if not torch.allclose(got_other.double(), truth, atol=1e-4):
        return _report(False, "exact on upsampled images, but not the least-squares solution on others.")
    return _report(True, "U⁺y: exact on upsampled digits and the closest 8×8 explanation of any other image.")
