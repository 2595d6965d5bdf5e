"""Checkers for the exercises of Part I, generative adversarial networks.

Chapter 1, the adversarial game: :func:`check_optimal_discriminator`, :func:`check_equilibrium_value`,
:func:`check_gradient_ratio`, :func:`check_disjoint_value`, :func:`check_half_verdict`,
:func:`check_coin_flip`. Chapter 2, mode collapse:
:func:`check_perfect_hq_share`, :func:`check_wasserstein_distance`, :func:`check_r1_penalty`,
:func:`check_fastest_gamma`. Chapter 3, convolutional GANs: :func:`check_tconv_side`,
:func:`check_ema_share`, :func:`check_midpoint_norm`, :func:`check_downsample`.

Each ``check_...`` prints ✔ or ✘ with a hint and returns ``True`` only for a right answer; a wrong
answer gets a hint, never the expected value. ``solution(name)`` prints the answer and why, where
``name`` is the checker's name: ``solution("check_gradient_ratio")``. Numbers are accepted to 3
significant figures (shares also as percentages).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from genai_lib.exercises._common import NEAR, Solutions, ask, choice, matches, near, number, report, share

__all__ = [
    "check_fair_measure",
    "check_hq_share_alone",
    "check_optimal_discriminator",
    "check_equilibrium_value",
    "check_gradient_ratio",
    "check_disjoint_value",
    "check_half_verdict",
    "check_coin_flip",
    "check_perfect_hq_share",
    "check_r1_penalty",
    "check_fastest_gamma",
    "check_dirac_runs",
    "check_wasserstein_distance",
    "check_lerp_midpoints",
    "check_tconv_side",
    "check_ema_share",
    "check_midpoint_norm",
    "check_downsample",
    "solution",
]

_SOLUTIONS = Solutions("genai_lib.exercises.gans")


def solution(name: str) -> None:
    """Print the answer of the exercise that checker ``name`` checks, with a short explanation.

    ``name`` is the checker's name, e.g. ``solution("check_gradient_ratio")``; a wrong name raises a
    ValueError that lists the valid names.
    """
    _SOLUTIONS.show(name)


def _dstar(x: float, mu_g: float) -> tuple[float, float, float]:
    p_data = math.exp(-0.5 * x**2)
    p_g = math.exp(-0.5 * (x - mu_g) ** 2)  # the common factor 1/√(2π) cancels in the ratio
    return p_data / (p_data + p_g), p_data, p_g


# -- chapter 1: the adversarial game ------------------------------------------------------------


def check_optimal_discriminator(answer: Any, x: float = 0.0, mu_g: float = 2.0) -> bool:
    """Exercise 1.1: ``D*(x)`` for ``p_data = N(0, 1)`` and ``p_g = N(mu_g, 1)``, at ``x`` (default 0)."""
    value = number(answer)
    x, mu_g = number(x, "x"), number(mu_g, "mu_g")
    truth, p_data, p_g = _dstar(x, mu_g)
    if matches(value, truth):
        return report(True, f"D*({x:g}) = {truth:.4f}: the discriminator is {100 * truth:.0f}% sure x = {x:g} is real.")
    if matches(value, 1 - truth):
        return report(
            False,
            "that is the probability of *fake*; D* is the probability that x is real, with p_data on top of the ratio.",
        )
    if matches(value, 0.5):
        return report(False, "D* = 1/2 only where the two densities are equal; at this x they are not.")
    if matches(value, p_data / math.sqrt(2 * math.pi)) or matches(value, p_g / math.sqrt(2 * math.pi)):
        return report(False, "that is a density value; D* compares the two densities at x, by Eq. (eq-gan-dstar).")
    if near(value, truth):
        return report(False, NEAR)
    return report(
        False,
        f"{value:.4g} is not D*({x:g}). Evaluate both Gaussian densities at x and put them "
        "into Eq. (eq-gan-dstar); the factors 1/√(2π) cancel.",
    )


def check_equilibrium_value(answer: Any) -> bool:
    """Exercise 1.2: the value ``V(D*, G)`` of the game when ``p_g = p_data`` (it is ``-log 4``)."""
    value = number(answer)
    truth = -math.log(4.0)
    if matches(value, truth):
        return report(True, f"V = 2 log(1/2) = −log 4 ≈ {truth:.4f}: the generator cannot push it lower.")
    if matches(value, -math.log(2.0)):
        return report(False, "that is one of the two expectations in V; V is their sum.")
    if matches(value, math.log(4.0)):
        return report(False, "check the sign: the log of a probability below 1 is negative.")
    if matches(value, 0.0, abs_tol=1e-6):
        return report(
            False, "V = 0 is what a perfect discriminator scores (D = 1 on data, 0 on fakes), not the equilibrium."
        )
    if matches(value, -2 * math.log10(2.0)) or matches(value, -2.0):
        return report(False, "the book's logarithms are natural logs (ln), not log10 or log2.")
    if near(value, truth):
        return report(False, NEAR)
    return report(
        False,
        f"{value:.4g} is not it. What is D* when the two densities are equal everywhere? "
        "Put that into both terms of V.",
    )


def check_gradient_ratio(answer: Any, d_fake: float = 0.01) -> bool:
    """Exercise 1.3: how many times larger the non-saturating gradient (in the logit) is than the
    minimax one, for a fake the discriminator scores ``D(G(z)) = d_fake``: ``(1 - d) / d``."""
    value = number(answer)
    d_fake = number(d_fake, "d_fake")
    if not 0 < d_fake < 1:
        raise ValueError(f"d_fake must be a probability strictly between 0 and 1, got {d_fake}")
    truth = (1 - d_fake) / d_fake
    if matches(value, truth):
        return report(True, f"(1 − D)/D = {truth:.4g}: the non-saturating loss pushes {truth:.0f}× harder here.")
    if matches(value, 1 / truth):
        return report(
            False,
            "that is the minimax gradient divided by the non-saturating one; the question asks the other way round.",
        )
    if matches(value, 1 / d_fake):
        return report(
            False,
            "that is the size of the non-saturating gradient alone (taken in D); the question "
            "asks how many times larger it is than the minimax one: divide by that.",
        )
    if near(value, truth):
        return report(False, NEAR)
    return report(
        False,
        f"{value:.4g} is not it. Write D = σ(l), differentiate each generator loss with respect "
        "to the logit l (σ'(l) = D(1 − D)), and divide.",
    )


def check_disjoint_value(answer: Any) -> bool:
    """Exercise 1.4: ``V(D*, G)`` when ``p_g`` and ``p_data`` have disjoint supports (it is 0)."""
    value = number(answer)
    if matches(value, 0.0, abs_tol=1e-3):
        return report(
            True,
            "V = −log 4 + 2 log 2 = 0, whatever the distance between the supports: "
            "the JSD is stuck at log 2 and gives the generator no direction.",
        )
    if matches(value, math.log(2.0)):
        return report(
            False,
            "that is the Jensen–Shannon divergence; the question asks for V(D*, G). "
            "Revisit how the two are related, Eq. (eq-gan-jsd).",
        )
    if matches(value, -math.log(4.0)):
        return report(False, "that is the value at equilibrium, when the supports coincide.")
    if matches(value, 2 * math.log(2.0)):
        return report(False, "that is 2 JSD alone; V(D*, G) also has a constant term, Eq. (eq-gan-jsd).")
    return report(
        False,
        f"{value:.4g} is not it. With disjoint supports, what is D* on the data's support, and "
        "on the generator's? Put those into both terms of V.",
    )


_HALF_VERDICT = {
    "a": "the generator is perfect: p_g = p_data",
    "b": "only that p_g ≈ p_data where the generated samples fall; a mode the generator never visits is not "
    "tested, and D can still say 'real' there",
    "c": "the generator's gradients have vanished, so training has stalled",
    "d": "the discriminator is broken: a working one keeps separating real from fake",
}


def check_half_verdict(answer: Any) -> bool:
    """Multiple choice: after training, the discriminator's mean verdict on the generator's samples is about ½.
    What follows?

    (a) the generator is perfect; (b) only that p_g ≈ p_data where the samples fall; (c) the generator's
    gradients have vanished; (d) the discriminator is broken. Answer with a letter, e.g. ``check_half_verdict("a")``.
    """
    letter = choice(answer, _HALF_VERDICT)
    if letter == "b":
        return report(
            True,
            "D*(x) = ½ says p_data(x) = p_g(x) at that x only. A collapsed generator earns ½ on "
            "the modes it kept while the discriminator says 'real' at the modes it abandoned: "
            "count the modes, do not trust the verdict.",
        )
    hints = {
        "a": "D* = ½ at a point says the two densities agree *at that point* (Eq. (eq-gan-dstar)): re-read what "
        "the discriminator says at the abandoned modes of the collapsed run.",
        "c": "re-read Eq. (eq-gan-ns): what is the non-saturating gradient in the logit when D(G(z)) = ½?",
        "d": "re-read the end of 'The game, in one dimension': what does the *best possible* discriminator say "
        "where the two densities are equal?",
    }
    return report(False, hints[letter])


#: The largest |D(x) − ½| for |x| < 2 that passes: the chapter's 500-step discriminator trained on two N(0, 1)
#: batches strays 0.002-0.024 from ½ there (seeds 0, 1, 2), a third of this bound at most.
_COIN_FLIP_TOL = 0.08


def check_coin_flip(learned: Any, xs: Any) -> bool:
    """Change-and-run: the chapter's 1-D discriminator retrained with the generator *on* the data (fakes from
    N(0, 1) too); ``learned`` is its probability that x is real on the grid ``xs``. Measures how far it strays
    from ½ where the data are (``|x| < 2``)."""
    for name, value in (("learned", learned), ("xs", xs)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    learned = learned.detach().double().reshape(-1).cpu()
    xs = xs.detach().double().reshape(-1).cpu()
    if len(learned) != len(xs):
        raise ValueError(f"learned must hold one value per point of xs ({len(xs)}), got {len(learned)}")
    bulk = xs.abs() < 2
    if int(bulk.sum()) < 20:
        raise ValueError("xs must cover −2 ≤ x ≤ 2 with at least 20 points (the chapter's xs does)")
    if float(learned.min()) < 0 or float(learned.max()) > 1:
        return report(False, "these are not probabilities: the network returns logits; apply torch.sigmoid.")
    p_data = torch.exp(-0.5 * xs[bulk] ** 2)
    d_star_2 = p_data / (p_data + torch.exp(-0.5 * (xs[bulk] - 2) ** 2))
    if float((learned[bulk] - d_star_2).abs().max()) < 0.1:
        return report(
            False,
            "that is the discriminator against the generator at μ = 2, the chapter's: draw the "
            "fakes from N(0, 1) as well (no + 2.0) and train again.",
        )
    gap = float((learned[bulk] - 0.5).abs().max())
    if gap <= _COIN_FLIP_TOL:
        return report(
            True,
            f"for |x| < 2 its verdict stays within {gap:.3f} of ½: with p_g = p_data the best "
            "it can do is a coin flip, D* = ½ everywhere, and training finds it.",
        )
    return report(
        False,
        f"its verdict strays up to {gap:.2f} from ½ where the data are: did both batches come "
        "from N(0, 1), fresh at every step, for the chapter's 500 steps?",
    )


# -- chapter 2: mode collapse -------------------------------------------------------------------


def check_perfect_hq_share(answer: Any, threshold: float = 3.0) -> bool:
    """Exercise 2.1: the high-quality share of a perfect 2-D generator: ``P(‖ε‖ ≤ 3σ) = 1 - exp(-9/2)``.
    Accepted as a fraction or a percentage."""
    value = share(number(answer))
    truth = 1 - math.exp(-(threshold**2) / 2)
    if matches(value, truth):
        return report(True, f"1 − e^(−9/2) = {truth:.4f}: even the data itself scores {100 * truth:.1f} %, not 100 %.")
    if matches(value, math.erf(threshold / math.sqrt(2))):
        return report(False, "that is the one-dimensional 3σ rule; in 2-D, ‖ε‖²/σ² is χ² with 2 degrees of freedom.")
    if matches(value, 1.0):
        return report(False, "Gaussian samples have unbounded tails; some fall outside 3σ.")
    if matches(value, math.erf(threshold / math.sqrt(2)) ** 2):
        return report(
            False,
            "that is the probability of the *square* |ε_x|, |ε_y| ≤ 3σ; the criterion is the distance ‖ε‖, a disc.",
        )
    if matches(value, math.exp(-(threshold**2) / 2)):
        return report(False, "that is the share *outside* 3σ; the question asks for the share within.")
    if near(value, truth):
        return report(False, NEAR)
    return report(
        False,
        f"{value:.4g} is not it. In 2-D, ‖ε‖²/σ² follows a χ² distribution with 2 degrees of "
        "freedom, Eq. (eq-collapse-hq): evaluate its distribution function at (3σ/σ)².",
    )


def check_r1_penalty(fn: Callable[..., torch.Tensor]) -> bool:
    """Exercise 2.3: ``fn(discriminator, real, gamma)`` must return R1's ``γ/2 E_x ‖∇_x l(x)‖²``
    (Mescheder et al. 2018, eq. 9), differentiable in the discriminator's parameters."""
    if not callable(fn):
        raise TypeError(f"fn must be a function fn(discriminator, real, gamma), got {type(fn).__name__}")
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
        return report(False, f"your function raised {type(err).__name__}: {err}")
    if not isinstance(got, torch.Tensor) or got.numel() != 1:
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        return report(False, f"return a 0-dim tensor (the mean over the batch), got {shape}")
    got = got.reshape(())
    x = real.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(disc(x).sum(), x)
    sq = g.pow(2).sum(dim=1)
    if torch.allclose(got, truth, rtol=1e-4, atol=1e-8):
        if not got.requires_grad:
            return report(
                False,
                "right value, but the discriminator cannot be trained on it: the gradient "
                "∇_x l must itself stay differentiable (see create_graph in torch.autograd.grad).",
            )
        weights = [p for p in disc.parameters() if p.ndim == 2]  # (the last bias cannot change ∇_x l)
        grads = torch.autograd.grad(got, weights, allow_unused=True)
        if any(g is None for g in grads):
            return report(False, "right value, but not every weight matrix of D receives a gradient.")
        return report(True, f"γ/2 E ‖∇l‖² = {truth.item():.4g} on the test batch, with gradients for D.")
    got = got.detach()
    if torch.allclose(got, sq.mean(), rtol=1e-4):
        return report(False, "that is E ‖∇l‖² without the weight: R1 multiplies it by γ/2.")
    if torch.allclose(got, gamma * sq.mean(), rtol=1e-4):
        return report(False, "the factor is γ/2, not γ.")
    if torch.allclose(got, 0.5 * gamma * g.norm(dim=1).mean(), rtol=1e-4):
        return report(False, "square the gradient norm: R1 penalises ‖∇l‖², not ‖∇l‖.")
    if torch.allclose(got, 0.5 * gamma * (sq.sqrt() - 1).pow(2).mean(), rtol=1e-4) or torch.allclose(
        got, (sq.sqrt() - 1).pow(2).mean(), rtol=1e-4
    ):
        return report(False, "that is WGAN-GP's (‖∇f‖ − 1)²; R1 pushes the gradient towards 0 on real data.")
    if torch.allclose(got, 0.5 * gamma * sq.sum(), rtol=1e-4):
        return report(False, "take the mean over the batch, not the sum.")
    return report(
        False,
        "the value on the test batch is not γ/2 times the batch mean of ‖∇_x l(x)‖², with l the "
        "discriminator's raw output on the real batch. Check the gradient is taken with "
        "respect to the input x, per sample, and then squared and averaged.",
    )


def check_wasserstein_distance(answer: Any, theta: float = 3.0) -> bool:
    """Exercise 2.2: ``W1(δ_0, δ_θ)`` between two point masses at ``0`` and ``θ`` (it is ``|θ|``)."""
    value = number(answer)
    theta = number(theta, "theta")
    truth = abs(theta)
    if matches(value, truth):
        return report(
            True, f"W1 = |θ| = {truth:g}: it shrinks as the masses approach, unlike the JSD (log 2 until they meet)."
        )
    if matches(value, math.log(2.0)):
        return report(False, "that is the Jensen–Shannon divergence of the two point masses; W1 is a transport cost.")
    if truth != 1 and matches(value, truth**2):
        return report(False, "that is a squared distance (W2²); W1 pays the distance itself for each unit of mass.")
    if truth != 0 and matches(value, -truth):
        return report(False, "a transport cost is never negative.")
    return report(
        False,
        f"{value:.4g} is not it: all the mass has to move from one point to the other; "
        "what does that cost, by Eq. (eq-collapse-w1)?",
    )


def check_fastest_gamma(answer: Any) -> bool:
    """Exercise 2.4: the R1 weight γ that makes the linearised Dirac GAN converge fastest.

    The Jacobian at the equilibrium is ``[[0, 1/2], [-1/2, -γ]]`` with eigenvalues
    ``(-γ ± sqrt(γ² - 1)) / 2``; the slowest decay rate ``-max Re λ`` is largest, 1/2, at ``γ = 1``.
    """
    value = number(answer)
    if matches(value, 1.0):
        return report(True, "γ = 1: a double eigenvalue −1/2 (critical damping); smaller γ circles, larger γ crawls.")
    if value <= 0:
        return report(False, "with γ ≤ 0 the eigenvalues have real part ≥ 0: the game circles or diverges.")
    if value > 1:
        slow = (-value + math.sqrt(value**2 - 1)) / 2
        return report(
            False,
            f"at γ = {value:g} the eigenvalues are real and the slower one is ≈ {slow:.3f}: closer "
            "to 0 than it need be, so convergence is slower. Try smaller.",
        )
    return report(
        False,
        f"at γ = {value:g} the eigenvalues are complex with real part −γ/2 = {-value / 2:.3f}; "
        "the decay gets faster as γ grows — up to a point. Where do the eigenvalues become real?",
    )


def _dirac_path(gamma: float, steps: int = 100, lr: float = 0.1) -> torch.Tensor:
    """The mode-collapse chapter's dirac_gan: alternating play on the Dirac GAN with R1 weight
    ``gamma``, from (1, 0)."""
    import torch.nn.functional as F

    theta, psi = torch.tensor(1.0, requires_grad=True), torch.tensor(0.0, requires_grad=True)
    path = [(1.0, 0.0)]
    for _ in range(steps):
        (grad,) = torch.autograd.grad(-F.softplus(psi * theta) - gamma / 2 * psi**2, psi)
        with torch.no_grad():
            psi += lr * grad
        (grad,) = torch.autograd.grad(F.softplus(-psi * theta), theta)
        with torch.no_grad():
            theta -= lr * grad
        path.append((theta.item(), psi.item()))
    return torch.tensor(path)


def check_dirac_runs(paths: Any) -> bool:
    """Change-and-run: ``{gamma: dirac_gan(gamma)}`` for a small (≤ 0.3), the fastest (1) and a large (≥ 3) R1
    weight. Measures each run's distance to the equilibrium after 100 steps; γ = 1 should be the closest."""
    if not isinstance(paths, dict) or not paths:
        raise TypeError(f"paths must be a dict {{gamma: dirac_gan(gamma)}}, got {type(paths).__name__}")
    dist = {}
    for gamma, path in paths.items():
        g = number(gamma, "each gamma")
        if not isinstance(path, torch.Tensor) or path.dim() != 2 or path.shape[1] != 2 or len(path) < 101:
            raise ValueError(f"paths[{g:g}] must be dirac_gan's path, a tensor of shape (N, 2) with N > 100")
        if not torch.allclose(path[:101].double(), _dirac_path(g).double(), atol=1e-4):
            return report(
                False,
                f"the path for γ = {g:g} is not what dirac_gan({g:g}) plays (from (1, 0), learning "
                "rate 0.1): pass each path under its own γ, unchanged.",
            )
        dist[g] = float(path[100].norm())
    small, large = [g for g in dist if g <= 0.3], [g for g in dist if g >= 3]
    if 1.0 not in dist or not small or not large:
        return report(False, "run three values at least: a small γ (0.3 or less), γ = 1, and a large one (3 or more).")
    shown = ", ".join(f"γ = {g:g}: {d:.3f}" for g, d in sorted(dist.items()))
    if all(dist[1.0] < dist[g] for g in small + large):
        return report(
            True,
            f"distance after 100 steps — {shown}. Too little damping and the players circle; too "
            "much and the discriminator's slope is pinned near 0, so the generator hardly moves: "
            "the fastest decay is in between, as the eigenvalues predict.",
        )
    return report(
        False,
        f"distance after 100 steps — {shown}: γ = 1 is not the closest here. Did every run use "
        "the chapter's dirac_gan with its default learning rate and start?",
    )


_HQ_SHARE_ALONE = {
    "a": "nearly every mode is covered: few samples are missing",
    "b": "nothing about coverage: a generator on a single mode can score as high; read it with the modes covered",
    "c": "the run is close to the 98.9 % ceiling, so it is close to a perfect generator",
    "d": "training worked: an untrained generator would score near 0 %",
}


def check_hq_share_alone(answer: Any) -> bool:
    """Multiple choice: a GAN run on grid25 has 97 % high-quality samples. What can you conclude?
    Answer with a letter, e.g. ``check_hq_share_alone("a")``."""
    return ask(
        answer,
        _HQ_SHARE_ALONE,
        "b",
        "the share counts samples near *some* centre, not which centres: a collapsed run keeps it high. "
        "Report it next to the modes covered (at least 20 of 2,500 samples within 3σ).",
        {
            "a": "the share asks whether each sample is near *a* centre, not whether every centre has "
            "samples: re-read 'What the numbers see, and what they miss'.",
            "c": "the ceiling of Eq. (eq-collapse-hq) is what a perfect generator scores, but not only it: "
            "re-read 'What the numbers see, and what they miss' — what does a one-mode generator score?",
            "d": "re-read 'What the numbers see, and what they miss': what share does the untrained "
            "generator, all samples on one mode, score?",
        },
    )


# -- chapter 3: convolutional GANs on digits ------------------------------------------------------


def check_tconv_side(answer: Any, side: int = 8, kernel: int = 4, stride: int = 2, padding: int = 1) -> bool:
    """Exercise 3.1: the output side ``(i - 1) s - 2p + k`` of a transposed convolution (16 for the defaults)."""
    value = number(answer)
    truth = (side - 1) * stride - 2 * padding + kernel
    if value == truth:
        return report(True, f"({side} − 1)·{stride} − 2·{padding} + {kernel} = {truth}: the side doubles.")
    if value == (side + 2 * padding - kernel) // stride + 1:
        return report(False, "that is the forward convolution's output side; the transposed one runs it backwards.")
    if value == (side - 1) * stride + kernel:
        return report(False, "the padding is removed from both sides of the output: account for 2p.")
    if value == (side - 1) * stride - padding + kernel:
        return report(False, "the padding p is removed from *both* sides of the output.")
    return report(
        False,
        f"{value:g} is not it: put o = {side}, s = {stride}, p = {padding}, k = {kernel} into Eq. (eq-dcgan-tconv).",
    )


def check_ema_share(answer: Any, beta: float = 0.99, last: int = 100) -> bool:
    """Exercise 3.2: the weight ``1 - β^n`` that an EMA puts on its last ``n`` updates (≈ 0.634).
    Accepted as a fraction or a percentage."""
    value = share(number(answer))
    truth = 1 - beta**last
    if matches(value, truth):
        return report(True, f"1 − {beta:g}^{last} = {truth:.3f}: about two thirds, not all of it.")
    if matches(value, beta**last):
        return report(False, f"that is the weight left on everything *before* the last {last} steps.")
    if matches(value, 1.0):
        return report(False, "the exponential window has no hard edge: older steps keep a geometric tail.")
    if near(value, truth):
        return report(False, NEAR)
    return report(
        False,
        f"{value:.4g} is not it: add up the weights of Eq. (eq-dcgan-ema-sum) over the last "
        f"{last} steps (a geometric series).",
    )


def check_midpoint_norm(answer: Any) -> bool:
    """Exercise 3.3: ``‖(z_a + z_b)/2‖ / ‖z_a‖`` for independent high-dimensional Gaussians (→ 1/√2)."""
    value = number(answer)
    truth = 1 / math.sqrt(2)
    if matches(value, truth, rel=5e-3):
        return report(True, "1/√2 ≈ 0.707: linear midpoints sit well inside the sphere the generator was trained on.")
    if matches(value, 0.5):
        return report(False, "0.5 is the ratio of the *squared* norms; the question asks for the norms.")
    if matches(value, 1.0):
        return report(False, "that would hold for slerp; the average of two independent vectors is shorter.")
    if matches(value, math.sqrt(2)):
        return report(False, "that is the ratio the other way round, or the sum without the 1/2.")
    return report(False, f"{value:.4g} is not it: compute E‖(z_a + z_b)/2‖² and compare it with E‖z_a‖² = d.")


def check_downsample(fn: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """Exercise 3.4: ``fn(x16)`` must return the least-squares 8×8 images ``U⁺ y`` of 16×16 images ``y``,
    where ``U`` is bilinear 2× upsampling (``align_corners=False``), the map of ``load_digits(16)``."""
    if not callable(fn):
        raise TypeError(f"fn must be a function downsample(x16), got {type(fn).__name__}")
    import torch.nn.functional as F  # the reference, built only when checking

    U = _upsampling_matrix()
    gen = torch.Generator().manual_seed(0)
    x8 = torch.rand(6, 1, 8, 8, generator=gen, dtype=torch.float64) * 2 - 1
    upsampled = (x8.reshape(6, 64) @ U.T).reshape(6, 1, 16, 16)
    other = torch.rand(6, 1, 16, 16, generator=gen, dtype=torch.float64) * 2 - 1  # not upsampled digits
    truth = torch.linalg.lstsq(U, other.reshape(6, 256).T).solution.T.reshape(6, 1, 8, 8)
    try:
        got_up, got_other = fn(upsampled.float()), fn(other.float())
    except Exception as err:  # the reader's code: report, do not raise
        return report(False, f"your function raised {type(err).__name__}: {err}")
    for got in (got_up, got_other):
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != (6, 1, 8, 8):
            return report(False, f"return a tensor of shape (N, 1, 8, 8), got {getattr(got, 'shape', type(got))}")
    if not torch.allclose(got_up.detach().double(), x8, atol=1e-4):
        if torch.allclose(got_up.detach().double(), F.avg_pool2d(upsampled, 2), atol=1e-4):
            return report(False, "2×2 averaging is not the inverse of bilinear upsampling: it blurs the digit again.")
        if torch.allclose(got_up.detach().double(), upsampled[..., ::2, ::2], atol=1e-4):
            return report(False, "keeping every second pixel is not the inverse of bilinear upsampling either.")
        return report(
            False,
            "an upsampled 8×8 image must come back exactly; solve the least-squares problem "
            "U x = y of Eq. (eq-dcgan-pinv).",
        )
    if not torch.allclose(got_other.detach().double(), truth, atol=1e-4):
        return report(False, "exact on upsampled images, but not the least-squares solution on others.")
    return report(True, "U⁺y: exact on upsampled digits and the closest 8×8 explanation of any other image.")


def _upsampling_matrix() -> torch.Tensor:
    """The (256, 64) matrix of bilinear 2× upsampling of 8×8 images (align_corners=False), float64."""
    import torch.nn.functional as F

    basis = torch.eye(64, dtype=torch.float64).reshape(64, 1, 8, 8)
    return F.interpolate(basis, size=(16, 16), mode="bilinear", align_corners=False).reshape(64, 256).T


_FAIR_MEASURE = {
    "a": "the 16 × 16 digits really are worse than the Gaussian's smudges",
    "b": "the Fréchet distance is meaningless for digits and should be dropped",
    "c": "the reading to 8 × 8 was wrong: averaging 2 × 2 blocks does not undo the upsampling that made the "
    "16 × 16 digits, so even real digits reached the judge looking unlike its digits",
    "d": "the judge's classifier is too weak for 16 × 16 images and needs more layers",
}


def check_fair_measure(answer: Any) -> bool:
    """Multiple choice: real 16 × 16 digits, block-averaged to 8 × 8, scored a worse digits FD than a Gaussian
    fit. Why? Answer with a letter, e.g. ``check_fair_measure("a")``."""
    return ask(
        answer,
        _FAIR_MEASURE,
        "c",
        "the judge reads 8 × 8 digits; block averaging is not the inverse of the upsampling, and the "
        "least-squares reading of Eq. (eq-dcgan-pinv) puts real digits back on the floor. Check the "
        "pipeline with real data before trusting a score.",
        {
            "a": "real digits are the floor by construction: re-read 'Measuring digits, fairly' — what "
            "happened to them *before* the judge saw them?",
            "b": "the FD of real 8 × 8 digits is the floor the page measures against: re-read what the "
            "least-squares reading of Eq. (eq-dcgan-pinv) does to the real 16 × 16 digits' score.",
            "d": "the judge never sees 16 × 16 images: re-read how they are brought to 8 × 8 in "
            "'Measuring digits, fairly'.",
        },
    )


#: The smallest ratio of the digits FDs of linear to spherical midpoints that passes. Measured with the chapter's
#: averaged generator, 400 pairs of its fixed latents: 36.4 / 21.3 (seed 0), 41.7 / 20.8 (seed 1), 42.8 / 21.0
#: (seed 2): ratios 1.7-2.0.
_LERP_RATIO = 1.3


def check_lerp_midpoints(lerp: Any, slerp: Any) -> bool:
    """Change-and-run: the chapter's generator decodes the linear midpoints (z_a + z_b)/2 (``lerp``) and the
    spherical ones (``slerp``) of the same latent pairs, 16 × 16 images each. Measures the digits FD of both,
    read to 8 × 8 as the chapter does, and checks that the linear midpoints are clearly worse."""
    from genai_lib.metrics.digits import digits_fd, to_8x8

    for name, x in (("lerp", lerp), ("slerp", slerp)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of generated images, got {type(x).__name__}")
        if x.dim() != 4 or tuple(x.shape[1:]) not in ((1, 16, 16), (1, 8, 8)):
            raise ValueError(f"{name} must have shape (N, 1, 16, 16), the generator's output, got {tuple(x.shape)}")
    if lerp.shape[-1] == 8 or slerp.shape[-1] == 8:
        return report(
            False,
            "pass the generator's 16 × 16 images as they are; the checker reads them to 8 × 8 "
            "itself, with the chapter's to_8x8.",
        )
    if len(lerp) < 200 or len(slerp) < 200:
        return report(
            False, "use at least 200 pairs (400 is better): with fewer, the Fréchet distances are too noisy to compare."
        )
    fd_lerp, fd_slerp = digits_fd(to_8x8(lerp)), digits_fd(to_8x8(slerp))
    measured = f"digits FD {fd_lerp:.1f} for the linear midpoints, {fd_slerp:.1f} for the spherical ones"
    if fd_slerp > _LERP_RATIO * fd_lerp:
        return report(
            False,
            f"{measured}: the spherical ones came out worse — are the two arguments the other "
            "way round (linear midpoints first)?",
        )
    if fd_lerp < _LERP_RATIO * fd_slerp:
        return report(
            False,
            f"{measured}: about equally good. Did the first batch come from (za + zb) / 2 and the "
            "second from slerp(za, zb, 0.5), with za and zb *different* latent vectors?",
        )
    return report(
        True,
        f"{measured}. The linear midpoints have about 1/√2 of a latent vector's typical norm, "
        "inputs the generator never saw in training; the spherical ones keep the norm.",
    )


# -- the solutions, printed on request ------------------------------------------------------------


@_SOLUTIONS.add("check_optimal_discriminator")
def _() -> tuple[str, str]:
    truth = _dstar(0.0, 2.0)[0]
    return (
        f"D*(0) = 1 / (1 + e^(−2)) ≈ {truth:.3f}",
        "By Eq. (eq-gan-dstar), D*(x) = p_data(x) / (p_data(x) + p_g(x)). The factors 1/√(2π) cancel, so "
        "D*(0) = e^0 / (e^0 + e^(−2)). In code: (p_data / (p_data + normal_pdf(xs, 2.0)))[torch.argmin(xs.abs())].",
    )


@_SOLUTIONS.add("check_equilibrium_value")
def _() -> tuple[str, str]:
    return (
        f"V = −log 4 ≈ {-math.log(4):.3f}",
        "At p_g = p_data, D* = 1/2 everywhere, so V = log(1/2) + log(1/2) = −log 4. By Eq. (eq-gan-jsd), "
        "V(D*, G) = −log 4 + 2 JSD ≥ −log 4 because the JSD is never negative, with equality only when "
        "p_g = p_data: no generator can do better.",
    )


@_SOLUTIONS.add("check_gradient_ratio")
def _() -> tuple[str, str]:
    return (
        "(1 − D)/D = 0.99/0.01 = 99",
        "With D = σ(l), ∂/∂l of the non-saturating loss −log σ(l) is −(1 − D), and ∂/∂l of the minimax loss "
        "log(1 − σ(l)) is −D. Their ratio is (1 − D)/D: when the discriminator rejects a fake confidently, the "
        "non-saturating loss still pushes hard while the minimax gradient vanishes.",
    )


@_SOLUTIONS.add("check_disjoint_value")
def _() -> tuple[str, str]:
    return (
        "V(D*, G) = 0",
        "D* = 1 on the data's support and 0 on the generator's, so both terms of V are log 1 = 0; by "
        "Eq. (eq-gan-jsd) the JSD is log 2. It stays so however close the supports come: the value gives the "
        "generator no direction until the distributions overlap, one motivation for the Wasserstein distance.",
    )


@_SOLUTIONS.add("check_half_verdict")
def _() -> tuple[str, str]:
    return (
        f"(b) {_HALF_VERDICT['b']}",
        "By Eq. (eq-gan-dstar), D*(x) = ½ exactly where p_data(x) = p_g(x). Measured on the generator's "
        "samples, a verdict near ½ says the two densities agree where the samples are, and nothing about "
        "where they are not: a collapsed run earns it on the modes it kept while its abandoned modes stay "
        "'real' to the discriminator. The non-saturating gradient at D = ½ is −½ in the logit, far from zero, "
        "and a discriminator at ½ is doing the best any discriminator can there.",
    )


@_SOLUTIONS.add("check_coin_flip")
def _() -> tuple[str, str]:
    return (
        "the chapter's 1-D training cell with fake = torch.randn(256, 1, generator=rng_1d) (no + 2.0); "
        "ex.check_coin_flip(learned, xs)",
        "With the generator on the data, the two batches come from the same distribution, and the best "
        "discriminator, Eq. (eq-gan-dstar), is ½ everywhere. The trained network finds it: for |x| < 2 its "
        "verdict stayed within 0.002-0.024 of ½ for seeds 0, 1 and 2. Far outside the data it is free to "
        "extrapolate, since no sample ever tells it anything there.",
    )


@_SOLUTIONS.add("check_dirac_runs")
def _() -> tuple[str, str]:
    d = {g: float(_dirac_path(g)[100].norm()) for g in (0.1, 1.0, 10.0)}
    return (
        "ex.check_dirac_runs({g: dirac_gan(g) for g in (0.1, 1.0, 10.0)})",
        f"After 100 steps the distances to the equilibrium are about {d[0.1]:.2f} (γ = 0.1), {d[1.0]:.2f} (γ = 1) "
        f"and {d[10.0]:.2f} (γ = 10); the game is deterministic, so every reader measures the same. A small γ "
        "barely damps the circling; a large one pins the discriminator's slope ψ near 0, which leaves the "
        "generator almost no gradient, so it creeps. The discrete steps shift the best γ a little below the "
        "linearised optimum (γ = 0.8 is closer still at 100 steps), but γ = 1 beats both extremes by far.",
    )


@_SOLUTIONS.add("check_hq_share_alone")
def _() -> tuple[str, str]:
    return (
        f"(b) {_HQ_SHARE_ALONE['b']}",
        "A sample is high quality when it lies within 3σ of *any* centre. A generator that puts every sample "
        "on one mode scores near the 98.9 % ceiling — the chapter's untrained generator does — while covering "
        "1 of 25 modes. The share says how sharp the samples are; the modes covered say how many of the data's "
        "modes they reach. Neither is meaningful alone.",
    )


@_SOLUTIONS.add("check_perfect_hq_share")
def _() -> tuple[str, str]:
    return (
        f"1 − e^(−9/2) ≈ {1 - math.exp(-4.5):.4f} (98.9 %)",
        "In two dimensions ‖ε‖²/σ² is χ² with 2 degrees of freedom, whose tail beyond r² is e^(−r²/2); at "
        "r = 3 the share inside is 1 − e^(−9/2). The one-dimensional 99.7 % rule does not apply in 2-D.",
    )


@_SOLUTIONS.add("check_wasserstein_distance")
def _() -> tuple[str, str]:
    return (
        "W1 = |θ| = 3",
        "There is only one coupling: all the mass moves from 3 to 0, at cost 3. The critic f(x) = −x is "
        "1-Lipschitz and attains it; its gradient −1 pushes the generator towards 0 at unit speed however far "
        "it is, unlike the JSD, which stays at log 2.",
    )


@_SOLUTIONS.add("check_r1_penalty")
def _() -> tuple[str, str]:
    return (
        "def r1_penalty(discriminator, real, gamma):\n"
        "    x = real.detach().requires_grad_(True)\n"
        "    (grad,) = torch.autograd.grad(discriminator(x).sum(), x, create_graph=True)\n"
        "    return gamma / 2 * grad.pow(2).sum(dim=1).mean()",
        "Summing the outputs gives each sample's gradient with respect to its own input in one call; "
        "create_graph=True keeps that gradient differentiable so the discriminator can be trained on the "
        "penalty. The squared norm needs no square root, which is not differentiable at a zero gradient.",
    )


@_SOLUTIONS.add("check_fastest_gamma")
def _() -> tuple[str, str]:
    return (
        "γ = 1",
        "The eigenvalues are (−γ ± √(γ² − 1))/2. For γ < 1 they are complex with real part −γ/2, faster as γ "
        "grows; for γ > 1 they are real and the slower one, (−γ + √(γ² − 1))/2, approaches 0 as γ grows. The "
        "optimum is the double eigenvalue −1/2 at γ = 1: critical damping, as for a spring.",
    )


@_SOLUTIONS.add("check_fair_measure")
def _() -> tuple[str, str]:
    return (
        f"(c) {_FAIR_MEASURE['c']}",
        "The 16 × 16 digits are bilinear upsamplings of 8 × 8 digits; averaging 2 × 2 blocks blurs them "
        "into images no 8 × 8 digit looks like, and the judge scores that. The least-squares inverse of "
        "the upsampling, Eq. (eq-dcgan-pinv), recovers the 8 × 8 digits exactly and the floor with them. "
        "A score means something only beside its floor and a baseline measured through the same pipeline.",
    )


@_SOLUTIONS.add("check_lerp_midpoints")
def _() -> tuple[str, str]:
    return (
        "za, zb = dcgan.fixed_z[:400], dcgan.fixed_z[400:]; with torch.no_grad(): "
        "lerp = G_avg((za + zb) / 2).cpu(); sl = G_avg(slerp(za, zb, torch.tensor(0.5))).cpu(); "
        "ex.check_lerp_midpoints(lerp, sl)",
        "The linear midpoints' digits FD was about twice the spherical ones' (36-43 against about 21 over "
        "seeds 0, 1 and 2, with the page's 1,000 steps), while the spherical midpoints scored close to the "
        "generator's ordinary samples (18-20.5). A latent vector has ‖z‖² ≈ d, and the midpoint of two "
        "independent ones has ≈ d/2: the generator never saw inputs that short, and decodes them into "
        "fainter, less digit-like images. Slerp keeps the norm, so its midpoints are ordinary inputs.",
    )


@_SOLUTIONS.add("check_tconv_side")
def _() -> tuple[str, str]:
    return (
        "(8 − 1)·2 − 2·1 + 4 = 16",
        "By Eq. (eq-dcgan-tconv) the output side is (i − 1)s − 2p + k. With s = 3, p = 0, (i − 1)·3 + k = 3i "
        "needs k = 3: the kernels tile the output without overlapping. In code: "
        "nn.ConvTranspose2d(1, 1, 4, 2, 1)(torch.zeros(1, 1, 8, 8)).shape.",
    )


@_SOLUTIONS.add("check_ema_share")
def _() -> tuple[str, str]:
    return (
        f"1 − 0.99^100 ≈ {1 - 0.99**100:.3f}",
        "The weights (1 − β)β^j of the last n steps form a geometric series summing to 1 − β^n. Half the weight "
        "lies on the last ln 2 / (−ln 0.99) ≈ 69 steps; 'averages the last 1/(1 − β) steps' is only a rule of "
        "thumb for this exponential window.",
    )


@_SOLUTIONS.add("check_midpoint_norm")
def _() -> tuple[str, str]:
    return (
        "1/√2 ≈ 0.707",
        "E‖(z_a + z_b)/2‖² = (d + d)/4 = d/2 while E‖z_a‖² = d, and both norms concentrate for large d, so the "
        "ratio tends to 1/√2. The generator never saw latent vectors that short, which is why slerp is "
        "preferred for interpolation.",
    )


@_SOLUTIONS.add("check_downsample")
def _() -> tuple[str, str]:
    return (
        "def downsample(x16):\n"
        "    basis = torch.eye(64).reshape(64, 1, 8, 8)\n"
        "    U = F.interpolate(basis, size=(16, 16), mode='bilinear', align_corners=False).reshape(64, 256).T\n"
        "    y = x16.reshape(len(x16), 256).T\n"
        "    return torch.linalg.lstsq(U, y).solution.T.reshape(-1, 1, 8, 8)",
        "Upsampling is linear, so it is a matrix U whose columns are the upsampled basis images; "
        "torch.linalg.lstsq solves min ‖U x − y‖ for every image at once, without forming U⁺. Averaging 2×2 "
        "blocks does not undo bilinear upsampling.",
    )
