"""Checkers for the exercises of Part II, diffusion models (``book/diffusion/``).

Steps follow the papers' convention in the questions (t = 1..T, with t = 0 the clean data); the
library, like diffusers, counts from 0, and the checkers say so when an answer is off by one.

Each ``check_...`` prints ✔ or ✘ with a hint and returns ``True`` only for a right answer; a wrong
answer gets a hint, never the expected value. ``solution(name)`` prints the answer and why, where
``name`` is the checker's name: ``solution("check_half_signal_step")``. Numbers are accepted to 3
significant figures; steps and counts must be exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from genai_lib.diffusion import NoiseSchedule
from genai_lib.exercises._common import NEAR, Solutions, ask, choice, matches, near, number, report, share

__all__ = [
    "check_half_signal_step",
    "check_exploding_variance",
    "check_add_noise",
    "check_cosine_advantage",
    "check_leftover_class",
    "check_x0_from_eps",
    "check_predict_noise",
    "check_x0_choice",
    "check_loss_weight",
    "check_time_embedding",
    "check_first_step_amplification",
    "check_ancestral_step_beta",
    "check_variance_gap",
    "check_few_step_particles",
    "check_ddim_sigma",
    "check_slerp",
    "check_implicit_meaning",
    "check_network_calls",
    "check_guided_eps",
    "check_guidance_trade",
    "check_null_label",
    "check_guidance_scale_convention",
    "check_batched_guidance",
    "check_tilted_mean",
    "solution",
]

_SOLUTIONS = Solutions("genai_lib.exercises.diffusion")


def solution(name: str) -> None:
    """Print the answer of the exercise that checker ``name`` checks, with a short explanation.

    ``name`` is the checker's name, e.g. ``solution("check_half_signal_step")``; a wrong name raises a
    ValueError that lists the valid names.
    """
    _SOLUTIONS.show(name)


def _alpha_bar(kind: str, num_steps: int = 1000) -> torch.Tensor:
    """ᾱ_0..ᾱ_T in the papers' indexing (ᾱ_0 = 1), float64."""
    schedule = NoiseSchedule(kind, num_steps)
    return torch.cat([torch.ones(1, dtype=torch.float64), schedule.alphas_cumprod.double()])


def _linear_betas() -> torch.Tensor:
    return torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)


def _half_signal_step(kind: str) -> int:
    return int(torch.nonzero(_alpha_bar(kind) < 0.5)[0])


def _loss_weights() -> torch.Tensor:
    betas = _linear_betas()
    abar = torch.cumprod(1 - betas, 0)
    return betas / (2 * (1 - betas) * (1 - abar))


def _amplification() -> float:
    abar = _alpha_bar("cosine")[-1]
    return float(((1 - abar) / abar).sqrt())


def _tilted_mean(w: float) -> float:
    xs = torch.linspace(-12.0, 14.0, 52001, dtype=torch.float64)
    density = torch.exp(-0.5 * (xs - 1) ** 2) * torch.sigmoid(2 * xs) ** w
    return float((xs * density).sum() / density.sum())


def _call(fn: Callable[..., Any], args: tuple, shown: str) -> tuple[bool, Any]:
    """Run the reader's function; on an exception, report it (a wrong answer, not a bug)."""
    try:
        return True, fn(*args)
    except Exception as err:  # the reader's code failing is an answer, not a bug
        return False, report(False, f"{shown} raised {type(err).__name__}: {err}")


# -- chapter 1: the forward process ---------------------------------------------------------------


def check_half_signal_step(answer: Any, kind: str = "linear") -> bool:
    """The first step t (1..T) at which SNR(t) = ᾱ_t / (1 − ᾱ_t) drops below 1, for ``kind`` (T = 1000)."""
    value = number(answer)
    abar = _alpha_bar(kind)
    truth = _half_signal_step(kind)
    if value == truth:
        return report(True, f"t = {truth}: from here on the {kind} schedule's x_t holds more noise power than signal.")
    if value == truth - 1:
        return report(
            False,
            "off by one: that is the last step with SNR ≥ 1, or the library's 0-based index; "
            "the question asks for the paper's first step t with SNR(t) < 1.",
        )
    if value == truth + 1:
        return report(False, "off by one: the step before yours already has SNR < 1.")
    if 0 < value < 1:
        return report(False, "that looks like a value of ᾱ_t; the question asks for the step t.")
    if value != int(value) or not 1 <= value <= len(abar) - 1:
        return report(False, f"{value:g} is not a step: steps are whole numbers 1..{len(abar) - 1}.")
    side = "still has SNR ≥ 1" if abar[int(value)] >= 0.5 else "is not the *first* step with SNR < 1"
    return report(False, f"{value:g} {side}: find the first t with ᾱ_t < 1/2 (that is where ᾱ_t = 1 − ᾱ_t).")


def check_exploding_variance(answer: Any) -> bool:
    """Var(x_T) when x_t = x_{t-1} + √β_t ε (no shrinking), linear β, T = 1000, starting from variance 1."""
    value = number(answer)
    betas = _linear_betas()
    truth = float(1 + betas.sum())
    if matches(value, truth):
        return report(True, f"1 + Σβ_t = {truth:.2f}: without the √(1 − β_t) factor the variance grows without bound.")
    if matches(value, 1.0):
        return report(False, "1 is the variance *with* the √(1 − β_t) shrink; here nothing shrinks x_{t-1}.")
    if matches(value, float(betas.sum())):
        return report(False, "that is the noise added; the data's own variance of 1 is still there.")
    if matches(value, math.sqrt(truth)):
        return report(False, "that is a standard deviation; the question asks for the variance.")
    if matches(value, 1 + float(betas.sqrt().sum())) or matches(value, float(betas.sqrt().sum())):
        return report(
            False, "you added the standard deviations √β_t; for independent terms it is the variances that add."
        )
    if near(value, truth):
        return report(False, NEAR)
    return report(
        False, f"{value:g} is not it: variances of independent terms add. What does each step add to Var(x_(t-1))?"
    )


def check_add_noise(fn: Callable[..., torch.Tensor], kind: str = "linear") -> bool:
    """``fn(x0, eps, t)`` with ``t`` a ``(B,)`` tensor of steps 1..T returns the batch of x_t (Eq. of q(x_t | x_0))."""
    if not callable(fn):
        raise TypeError(f"fn must be a function fn(x0, eps, t), got {type(fn).__name__}")
    gen = torch.Generator().manual_seed(7)
    x0 = torch.rand(6, 1, 8, 8, generator=gen) * 2 - 1
    eps = torch.randn(6, 1, 8, 8, generator=gen)
    t = torch.tensor([1, 10, 250, 500, 999, 1000])
    schedule = NoiseSchedule(kind)
    truth = schedule.add_noise(x0, eps, t - 1)
    ran, out = _call(fn, (x0, eps, t), "calling fn(x0, eps, t) with x0 of shape (6, 1, 8, 8) and t of shape (6,)")
    if not ran:
        return out
    if not isinstance(out, torch.Tensor) or out.shape != x0.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return report(
            False,
            f"expected a tensor of shape {tuple(x0.shape)}, got {shape}: one x_t per sample. "
            "Reshape ᾱ_t to (B, 1, 1, 1) so that it broadcasts over each sample's pixels.",
        )
    if torch.allclose(out, truth, atol=1e-5):
        return report(True, "each sample is noised to its own step, as training needs.")
    shifted = schedule.add_noise(x0, eps, (t - 2).clamp(min=0))
    if torch.allclose(out[1:], shifted[1:], atol=1e-5):
        return report(False, "off by one: step t uses ᾱ_t = alphas_cumprod[t - 1] (the library counts from 0).")
    abar = schedule.alphas_cumprod[t - 1].reshape(-1, 1, 1, 1)
    if torch.allclose(out, abar * x0 + (1 - abar) * eps, atol=1e-5):
        return report(
            False,
            "the coefficients are ᾱ_t and 1 − ᾱ_t themselves; they scale variances, so the "
            "amplitudes need their square roots.",
        )
    return report(
        False,
        "the values differ from q(x_t | x_0) of the chapter for at least one sample: check which "
        "ᾱ each sample uses, and that the image and the noise get their own coefficients.",
    )


_COSINE_ADVANTAGE = {
    "a": "it adds less noise in total, so x_T keeps more of the digit",
    "b": "it destroys information more evenly over the steps, so fewer steps see samples from which "
    "nothing can be recovered",
    "c": "its β_t are larger at every step, so it reaches pure noise sooner",
    "d": "its x_t is not Gaussian given x_0, which suits images better",
}


def check_cosine_advantage(answer: Any) -> bool:
    """Multiple choice: what makes the cosine schedule better than the linear one?

    (a) less noise in total; (b) it destroys information more evenly over the steps; (c) larger β_t at
    every step; (d) a non-Gaussian q(x_t | x_0). Answer with a letter, e.g. ``check_cosine_advantage("a")``.
    """
    letter = choice(answer, _COSINE_ADVANTAGE)
    if letter == "b":
        return report(
            True,
            "both schedules end at (almost) pure noise; the cosine one gets there evenly, so the "
            "best possible guess of the class stays informative far longer and few steps are spent "
            "on samples that carry nothing.",
        )
    hints = {
        "a": "both schedules end with x_T ≈ N(0, I), as the explorer shows at t = T: re-read the section "
        "on how much of the digit survives, and compare the curves *between* t = 0 and T.",
        "c": "re-read the 'Two schedules' section: at t = T/2, which schedule has added more noise, the linear "
        "or the cosine one?",
        "d": "both schedules use the same closed form q(x_t | x_0), Eq. (eq-forward-closed); re-read what a "
        "schedule changes in it.",
    }
    return report(False, hints[letter])


def _gentle_alpha_bar(beta_end: float = 0.005, num_steps: int = 1000) -> torch.Tensor:
    betas = torch.linspace(1e-4, beta_end, num_steps, dtype=torch.float64)
    return torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - betas, 0)])


#: Accuracies the chapter's Bayes classifier reaches at t = T with β_T = 0.005 (0.270-0.284 for seeds 0, 1, 2
#: on 797 held-out digits, standard error ≈ 0.016); the range leaves about four standard errors each side.
_LEFTOVER_RANGE = (0.20, 0.36)


def check_leftover_class(accuracy: Any, alpha_bar: Any) -> bool:
    """Change-and-run: the best possible accuracy of the chapter's Bayes classifier on digits noised to t = T
    with a *gentler* linear schedule (β from 1e-4 to 0.005), measured by the reader, with the ᾱ_0..ᾱ_T used."""
    if not isinstance(alpha_bar, torch.Tensor):
        raise TypeError(f"alpha_bar must be a torch.Tensor of ᾱ_0..ᾱ_T, got {type(alpha_bar).__name__}")
    if alpha_bar.dim() != 1 or len(alpha_bar) != 1001:
        raise ValueError(f"alpha_bar must hold ᾱ_0..ᾱ_T, 1001 values, got shape {tuple(alpha_bar.shape)}")
    value = share(number(accuracy, "accuracy"))
    gentle = _gentle_alpha_bar()
    abar = alpha_bar.detach().double().cpu()
    if float(abar[-1]) < 1e-3:
        return report(
            False,
            "this alpha_bar ends at almost 0, like the chapter's two schedules: build the gentle "
            "one from torch.linspace(1e-4, 0.005, NUM_STEPS).",
        )
    if not torch.allclose(abar, gentle, rtol=1e-3, atol=1e-6):
        return report(
            False,
            "this alpha_bar is not the gentle linear schedule: β runs from 1e-4 to 0.005 over "
            "NUM_STEPS steps, and ᾱ_0 = 1 comes first.",
        )
    low, high = _LEFTOVER_RANGE
    if low <= value <= high:
        return report(
            True,
            f"{100 * value:.0f} % at t = T, far above the 10 % of chance: the gentle schedule "
            "leaves √ᾱ_T ≈ 0.08 of the digit in x_T, enough to guess its class. A sampler that "
            "starts from pure N(0, I) noise starts from the wrong distribution.",
        )
    if value > 0.9:
        return report(False, "that is the accuracy on (nearly) clean digits: evaluate at t = NUM_STEPS.")
    if value < 0.15:
        return report(
            False,
            "that is about chance, what the chapter's schedules leave at t = T: did the "
            "classifier get the gentle alpha_bar, and t = NUM_STEPS?",
        )
    return report(
        False,
        f"{100 * value:.0f} % is not what best_class_accuracy(NUM_STEPS, gentle) measures on "
        "the chapter's held-out digits: pass the step and the gentle alpha_bar, and the share "
        "of right guesses it returns.",
    )


# -- chapter 2: learning to denoise ---------------------------------------------------------------


def check_x0_from_eps(fn: Callable[..., torch.Tensor]) -> bool:
    """``fn(x_t, eps, abar)`` returns x̂_0 = (x_t − √(1 − ᾱ) ε̂) / √ᾱ (Ho et al. 2020, Eq. 15)."""
    if not callable(fn):
        raise TypeError(f"fn must be a function fn(x_t, eps, abar), got {type(fn).__name__}")
    gen = torch.Generator().manual_seed(11)
    x0 = torch.rand(5, 1, 8, 8, generator=gen) * 2 - 1
    eps = torch.randn(5, 1, 8, 8, generator=gen)
    for abar in (0.9, 0.3, 0.01):
        x_t = abar**0.5 * x0 + (1 - abar) ** 0.5 * eps
        ran, out = _call(fn, (x_t, eps, abar), f"fn(x_t, eps, abar={abar})")
        if not ran:
            return out
        if not isinstance(out, torch.Tensor) or out.shape != x0.shape:
            return report(False, f"expected a tensor of shape {tuple(x0.shape)}, like x_t.")
        if torch.allclose(out, x0, atol=1e-4):
            continue
        if torch.allclose(out, x_t - (1 - abar) ** 0.5 * eps, atol=1e-4):
            return report(False, f"at ᾱ = {abar} you removed the noise but did not undo the image's scaling.")
        if torch.allclose(out, (x_t - (1 - abar) * eps) / abar**0.5, atol=1e-4) or torch.allclose(
            out, (x_t - (1 - abar) ** 0.5 * eps) / abar, atol=1e-4
        ):
            return report(False, f"at ᾱ = {abar} a coefficient is ᾱ or 1 − ᾱ where it should be its square root.")
        return report(
            False, f"at ᾱ = {abar} the result is not the x_0 that made x_t; invert x_t = √ᾱ x_0 + √(1 − ᾱ) ε for x_0."
        )
    return report(True, "with the true noise, x̂_0 recovers x_0 exactly; with a predicted ε̂ it is the model's guess.")


def check_loss_weight(answer: Any) -> bool:
    """λ_1 / λ_500 for λ_t = β_t / (2 α_t (1 − ᾱ_t)), the linear schedule with T = 1000."""
    value = number(answer)
    lam = _loss_weights()
    truth = float(lam[0] / lam[499])
    if matches(value, truth):
        return report(True, f"λ_1 / λ_500 = {truth:.1f}: the true bound weights the nearly clean steps most.")
    if matches(value, 1 / truth):
        return report(False, "that is λ_500 / λ_1; the question asks how many times larger λ_1 is.")
    if matches(value, float(lam[0] / lam[500])):
        return report(False, "off by one: λ_500 is index 499 when index 0 is t = 1.")
    if near(value, truth):
        return report(False, NEAR)
    return report(
        False,
        f"{value:g} is not it: compute λ_t for all t, with α_t = 1 − β_t and the cumulative "
        "product ᾱ_t, then divide the first by the 500th.",
    )


def check_time_embedding(fn: Callable[..., torch.Tensor]) -> bool:
    """``fn(t, dim)`` returns the sinusoidal embedding [sin(ω_i t), cos(ω_i t)], ω_i = 10000^(−i/h)."""
    from genai_lib.diffusion import sinusoidal_embedding

    if not callable(fn):
        raise TypeError(f"fn must be a function fn(t, dim), got {type(fn).__name__}")
    t = torch.tensor([0, 1, 2, 10, 500, 999])
    truth = sinusoidal_embedding(t, 64)
    ran, out = _call(fn, (t, 64), "fn(t, 64) with t of shape (6,)")
    if not ran:
        return out
    if not isinstance(out, torch.Tensor) or out.shape != truth.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return report(False, f"expected shape {tuple(truth.shape)} (one row of 64 features per step), got {shape}")
    out = out.float()
    if torch.allclose(out, truth, atol=1e-4):
        return report(True, "sines then cosines at geometrically spaced frequencies, as the library builds them.")
    if torch.allclose(out, truth.roll(32, dims=1), atol=1e-4):
        return report(
            False,
            "the right features in the other order (cosines first). The network would not "
            "mind — a linear layer follows — but the library puts the sines first.",
        )
    return report(
        False,
        "the values differ; check the frequencies of Eq. (eq-ddpm-time): geometrically spaced "
        "from 1 down towards 1/10000, one per pair of features.",
    )


_PREDICT_NOISE = {
    "a": "predicting ε and predicting x_0 are the same prediction, Eq. (eq-ddpm-x0); the choice only sets how "
    "the steps are weighted in the loss",
    "b": "the noise is Gaussian, so the network only has to output its mean, 0",
    "c": "predicting ε gives the exact likelihood, while predicting x_0 only gives a bound",
    "d": "the sampler never needs an estimate of x_0, only of the noise",
}


def check_predict_noise(answer: Any) -> bool:
    """Multiple choice: why may the DDPM network predict the noise ε rather than the clean x_0?
    Answer with a letter, e.g. ``check_predict_noise("a")``."""
    return ask(
        answer,
        _PREDICT_NOISE,
        "a",
        "x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε links them: from x_t and ε̂ follows x̂_0, Eq. (eq-ddpm-x0), and back. "
        "L_simple's ε-target weights the steps one way, an x_0-target another.",
        {
            "b": "the target is the *particular* ε that made this x_t, not its distribution: re-read "
            "Eq. (eq-ddpm-simple) — could a network that outputs 0 reach a low loss?",
            "c": "both targets come from the same variational bound, Eq. (eq-ddpm-bound): re-read what "
            "turning it into Eq. (eq-ddpm-weighted) and dropping the weights changes.",
            "d": "re-read Eq. (eq-ddpm-x0): what can be computed from x_t and ε̂ at every step, and what "
            "does the reverse step's mean combine?",
        },
    )


#: Shares of the trained toy denoiser's x̂_0 within 3σ of a grid25 centre, for the chapter's 600 noisy points:
#: 0.012-0.018 at library step 900 and 0.978-0.993 at step 30 (seeds 0, 1, 2). The bounds leave wide margins.
_EARLY_MAX, _LATE_MIN = 0.15, 0.8


def check_x0_choice(x0_early: Any, x0_late: Any) -> bool:
    """Change-and-run: the trained toy denoiser's beliefs x̂_0 for the chapter's noisy grid25 points at a large
    step (library t = 900, ``x0_early``) and a small one (t = 30, ``x0_late``), in data units, shape (N, 2).
    Measures the share of each within 3σ of a cluster centre."""
    from genai_lib import data, metrics

    for name, pts in (("x0_early", x0_early), ("x0_late", x0_late)):
        if not isinstance(pts, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape (N, 2), got {type(pts).__name__}")
        if pts.dim() != 2 or pts.shape[1] != 2:
            raise ValueError(f"{name} must have shape (N, 2), one x̂_0 per noisy point, got {tuple(pts.shape)}")
    if len(x0_early) < 100 or len(x0_late) < 100:
        return report(
            False,
            "use at least 100 points (the chapter's 600 is better): with fewer, the shares are too noisy to compare.",
        )
    centres, std = data.mode_centres("grid25"), data.mode_std("grid25")
    if float(torch.cat([x0_early, x0_late]).detach().abs().quantile(0.99)) < 0.75 * float(centres.abs().max()):
        return report(
            False,
            "the beliefs lie on a grid half the data's size: the model works on grid25 "
            "divided by SCALE; multiply x̂_0 by SCALE to get data units.",
        )
    share = {
        name: metrics.mode_metrics(pts.detach().cpu().float(), centres, std, min_count=1).high_quality_share
        for name, pts in (("early", x0_early), ("late", x0_late))
    }
    measured = (
        f"within 3σ of a centre: {100 * share['early']:.0f} % of the beliefs at t = 900, "
        f"{100 * share['late']:.0f} % at t = 30"
    )
    if share["early"] > _LATE_MIN and share["late"] < _EARLY_MAX:
        return report(False, f"{measured}: are the two arguments the other way round (the large step first)?")
    if share["late"] < _LATE_MIN:
        return report(
            False,
            f"{measured}: the late beliefs miss the clusters. Were they computed at step 30, with "
            "schedule.predict_x0(x_t, eps_hat, 30) and the model's own ε̂ for that step?",
        )
    if share["early"] > _EARLY_MAX:
        return report(
            False,
            f"{measured}: the early beliefs already sit on clusters. Were they computed from "
            "points noised to step 900, with the step 900 passed to the model?",
        )
    return report(
        True,
        f"{measured}. With that much noise the best guess is a blend of many clusters, a point "
        "between them; near the end each noisy point has one cluster it can have come from.",
    )


# -- chapter 3: sampling --------------------------------------------------------------------------


def check_first_step_amplification(answer: Any) -> bool:
    """√(1 − ᾱ_T) / √ᾱ_T: how much an error in ε̂ at the first step (t = T) is amplified in x̂_0 (cosine, T = 1000)."""
    value = number(answer)
    truth = _amplification()
    if matches(value, truth, rel=1e-2):
        return report(
            True,
            f"about {truth:,.0f}: an error of 0.001 in ε̂ moves x̂_0 by {0.001 * truth:.0f} — "
            "far outside the data's [-1, 1], hence the clipping.",
        )
    if matches(value, 1 / truth, rel=1e-2):
        return report(False, "that is the inverse; x̂_0 *divides* by √ᾱ_T, which is tiny.")
    if matches(value, truth**2, rel=1e-2):
        return report(False, "that is a ratio of variances; take the square root for the amplitude.")
    linear = _alpha_bar("linear")[-1]
    if matches(value, float(((1 - linear) / linear).sqrt()), rel=1e-2):
        return report(False, "that is the linear schedule's factor; the question is about the cosine schedule.")
    if near(value, truth):
        return report(False, NEAR)
    return report(
        False,
        f"{value:g} is not it: write x̂_0 in terms of ε̂ (Eq. (eq-samp-mu-x0)'s belief), see what "
        "multiplies an error e in ε̂, and evaluate it with the cosine schedule's ᾱ_T "
        "(alphas_cumprod[-1]).",
    )


def check_ancestral_step_beta(fn: Callable[..., torch.Tensor], kind: str = "cosine") -> bool:
    """``fn(eps, t, x_t, z)`` is one ancestral step with σ_t² = β_t (0-based ``t``, noise ``z`` given)."""
    if not callable(fn):
        raise TypeError(f"fn must be a function fn(eps, t, x_t, z), got {type(fn).__name__}")
    schedule = NoiseSchedule(kind)
    gen = torch.Generator().manual_seed(13)
    for t in (900, 500, 10, 0):
        x_t = torch.randn(4, 1, 8, 8, generator=gen)
        eps = torch.randn(4, 1, 8, 8, generator=gen)
        z = torch.randn(4, 1, 8, 8, generator=gen)
        abar = schedule.alphas_cumprod[t]
        alpha, beta = schedule.alphas[t], schedule.betas[t]
        mean = (x_t - beta / (1 - abar).sqrt() * eps) / alpha.sqrt()
        truth = mean + (beta.sqrt() * z if t > 0 else 0)
        ran, out = _call(fn, (eps, t, x_t, z), f"fn(eps, {t}, x_t, z)")
        if not ran:
            return out
        if not isinstance(out, torch.Tensor) or out.shape != x_t.shape:
            return report(False, f"expected a tensor shaped like x_t {tuple(x_t.shape)}")
        if torch.allclose(out, truth, atol=1e-4):
            continue
        rest = out - mean
        scale = (rest * z).sum() / (z * z).sum()
        if t == 0 and torch.allclose(rest, scale * z, atol=1e-4):
            return report(False, "the last step (t = 0 in the library, t = 1 in the paper) adds no noise.")
        var_tilde = (1 - schedule.alphas_cumprod_prev[t]) / (1 - abar) * beta
        if t > 0 and torch.allclose(out, mean + var_tilde.sqrt() * z, atol=1e-4):
            return report(False, "that is σ_t² = β̃_t, the library's choice; the exercise asks for σ_t² = β_t.")
        if t > 0 and torch.allclose(out, mean + beta * z, atol=1e-4):
            return report(False, "the noise is scaled by the variance β_t; it needs the standard deviation.")
        if t > 0 and torch.allclose(rest, scale * z, atol=1e-4):
            return report(False, f"at t = {t} the mean μ_θ is right but the noise scale is not σ_t = √β_t.")
        return report(
            False,
            f"at t = {t} the mean is not μ_θ of Eq. (eq-samp-mu): check the coefficient of ε̂ "
            "and the division by √α_t (α_t, not ᾱ_t).",
        )
    return report(True, "μ_θ of Eq. (eq-samp-mu) plus √β_t z, and no noise at the last step.")


_VARIANCE_GAP = {
    "a": "the first steps, t near T, where x_t is almost pure noise",
    "b": "the last steps, t near 1, where x_t is almost clean",
    "c": "equally at every step: β̃_t is β_t times a constant",
    "d": "nowhere: β̃_t = β_t at every step",
}


def check_variance_gap(answer: Any) -> bool:
    """Multiple choice: where do the two variance choices σ_t² = β_t and σ_t² = β̃_t differ most?

    (a) the first steps, t near T; (b) the last steps, t near 1; (c) equally at every step;
    (d) nowhere. Answer with a letter, e.g. ``check_variance_gap("a")``.
    """
    letter = choice(answer, _VARIANCE_GAP)
    if letter == "b":
        return report(
            True,
            "β̃_t/β_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) is ≈ 1 at large t and far below 1 at small t "
            "(β̃_1 = 0): the choices differ in the last steps, where little noise is added anyway.",
        )
    hints = {
        "a": "at large t both ᾱ_{t−1} and ᾱ_t are close to 0: what is (1 − ᾱ_{t−1})/(1 − ᾱ_t) there?",
        "c": "the ratio β̃_t/β_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) depends on t: evaluate it near t = T and near t = 1.",
        "d": "β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t) differs from β_t unless the factor is 1; what is it at t = 1?",
    }
    return report(False, hints[letter])


def check_few_step_particles(many_steps: Any, few_steps: Any) -> bool:
    """Change-and-run: grid25 particles from 1000 ancestral steps (``many_steps``) and from 10 (``few_steps``),
    in data units, shape (N, 2) each. Measures the share within 3σ of a centre of each run and checks that
    the few-step run is clearly worse, as it is for every seed (≈ 0.55 against ≈ 0.96 for 400 particles)."""
    from genai_lib import data, metrics

    for name, pts in (("many_steps", many_steps), ("few_steps", few_steps)):
        if not isinstance(pts, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape (N, 2), got {type(pts).__name__}")
        if pts.dim() != 2 or pts.shape[1] != 2:
            raise ValueError(f"{name} must have shape (N, 2) — the final particles — got {tuple(pts.shape)}")
    if len(many_steps) < 100 or len(few_steps) < 100:
        return report(
            False,
            "use at least 100 particles per run (the chapter's 400 is better): with fewer the "
            "shares are too noisy to compare.",
        )
    centres, std = data.mode_centres("grid25"), data.mode_std("grid25")
    scale = float(centres.abs().max())
    for name, pts in (("many_steps", many_steps), ("few_steps", few_steps)):
        if float(pts.detach().abs().quantile(0.99)) < 0.75 * scale:
            return report(
                False,
                f"{name} lies within ±{0.75 * scale:g}: the model works on grid25 divided by "
                "SCALE; multiply its samples by SCALE to get data units.",
            )
    shares = {
        name: metrics.mode_metrics(pts.detach().cpu().float(), centres, std, min_count=5).high_quality_share
        for name, pts in (("many_steps", many_steps), ("few_steps", few_steps))
    }
    many, few = shares["many_steps"], shares["few_steps"]
    measured = f"within 3σ of a centre: {100 * many:.0f} % with many steps, {100 * few:.0f} % with few"
    if many < 0.8:
        return report(
            False,
            f"{measured}. The first argument should be the 1000-step particles "
            "(the chapter's paths[-1]); these are not that good.",
        )
    if few > many - 0.15:
        return report(
            False,
            f"{measured}: the few-step run is about as good. Did it really take 10 ancestral steps "
            "(diffusion.DDIMSampler(schedule, 10, eta=1.0))?",
        )
    return report(
        True,
        f"{measured}. Each of the 10 steps jumps 100 steps of noise at once, from a belief formed "
        "on a very noisy x_t: the particles still reach the clusters, but many end outside "
        "their tight 3σ discs.",
    )


# -- chapter 4: DDIM ------------------------------------------------------------------------------


def _ddim_sigma(abar_t: float, abar_s: float, eta: float) -> float:
    return eta * math.sqrt((1 - abar_s) / (1 - abar_t)) * math.sqrt(1 - abar_t / abar_s)


def check_ddim_sigma(fn: Callable[..., Any]) -> bool:
    """``fn(abar_t, abar_s, eta)`` returns σ_t(η) = η √((1 − ᾱ_s)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_s).

    (Song et al. 2021, Eq. 16.)
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function fn(abar_t, abar_s, eta), got {type(fn).__name__}")
    for abar_t, abar_s, eta in ((0.1, 0.3, 1.0), (0.5, 0.9, 0.5), (0.01, 0.02, 0.0), (0.9, 0.999, 2.0)):
        truth = _ddim_sigma(abar_t, abar_s, eta)
        ran, out = _call(fn, (torch.tensor(abar_t), torch.tensor(abar_s), eta), f"fn({abar_t}, {abar_s}, {eta})")
        if not ran:
            return out
        try:
            out = float(out)
        except (TypeError, ValueError, RuntimeError):
            return report(
                False,
                f"fn({abar_t}, {abar_s}, {eta}) must return one number (a float or a 0-d tensor), "
                f"got {type(out).__name__}",
            )
        if math.isclose(out, truth, rel_tol=1e-4, abs_tol=1e-7):
            continue
        if eta != 0 and math.isclose(out, truth**2, rel_tol=1e-4, abs_tol=1e-7):
            return report(False, "that is σ_t²; return the standard deviation σ_t.")
        if eta == 0:
            return report(False, "with η = 0 the step must be deterministic: σ must be 0.")
        if math.isclose(out, truth / eta, rel_tol=1e-4):
            return report(False, f"at η = {eta} the result does not scale with η: σ_t(η) is proportional to η.")
        if math.isclose(
            out, eta * math.sqrt((1 - abar_t) / (1 - abar_s)) * math.sqrt(1 - abar_t / abar_s), rel_tol=1e-4
        ):
            return report(False, "ᾱ_t and ᾱ_s are swapped somewhere: s is the *earlier*, less noisy step (ᾱ_s > ᾱ_t).")
        return report(
            False,
            f"for ᾱ_t = {abar_t}, ᾱ_s = {abar_s}, η = {eta} the result differs from "
            "Eq. (eq-ddim-sigma): check each of its two square-root factors.",
        )
    return report(True, "η = 0 gives σ = 0 (deterministic DDIM); η = 1 gives the posterior's √β̃ of the jump t → s.")


def check_slerp(fn: Callable[..., torch.Tensor]) -> bool:
    """``fn(z0, z1, alpha)`` returns the spherical interpolation of two noise tensors (Shoemake 1985)."""
    if not callable(fn):
        raise TypeError(f"fn must be a function fn(z0, z1, alpha), got {type(fn).__name__}")
    gen = torch.Generator().manual_seed(17)
    z0, z1 = torch.randn(2, 1, 8, 8, generator=gen)
    theta = torch.arccos((z0 * z1).sum() / (z0.norm() * z1.norm()))
    for alpha in (0.3, 0.5, 0.0, 1.0):
        truth = (torch.sin((1 - alpha) * theta) * z0 + torch.sin(alpha * theta) * z1) / torch.sin(theta)
        ran, out = _call(fn, (z0, z1, alpha), f"fn(z0, z1, {alpha})")
        if not ran:
            return out
        if not isinstance(out, torch.Tensor) or out.shape != z0.shape:
            return report(False, f"expected a tensor shaped like z0 {tuple(z0.shape)}")
        if torch.allclose(out, truth, atol=1e-4):
            continue
        if torch.allclose(out, (1 - alpha) * z0 + alpha * z1, atol=1e-4):
            return report(
                False,
                "that is the straight line (lerp): half-way its norm shrinks by about √2, "
                "so the middle is not a typical noise sample.",
            )
        if torch.allclose(
            out, (torch.sin(alpha * theta) * z0 + torch.sin((1 - alpha) * theta) * z1) / torch.sin(theta), atol=1e-4
        ):
            return report(False, "the weights are swapped: at alpha = 0 the path must start at z0.")
        angle = torch.arccos((z0 * z1).sum() / (z0.norm() * z1.norm())) * 180 / math.pi
        return report(
            False,
            f"at alpha = {alpha} the result differs from Eq. (eq-ddim-slerp). Check θ: it is the "
            f"angle between the two whole tensors (here {angle:.1f}°), from their flattened dot "
            "product and norms.",
        )
    return report(True, "the path keeps the norm of a typical Gaussian sample all the way.")


_IMPLICIT = {
    "a": "DDIM never forms the belief x̂_0; it works on x_t only",
    "b": "with σ = 0 the sampler is a deterministic map from x_T to x_0: a generative model defined by a map, "
    "without a density of its own, as GANs are",
    "c": "DDIM is trained with a different, implicit loss",
    "d": "its forward process q(x_t | x_{t−1}) is Markovian",
}


def check_implicit_meaning(answer: Any) -> bool:
    """Multiple choice: what does "implicit" in denoising diffusion *implicit* models name?

    (a) DDIM never forms x̂_0; (b) with σ = 0 the sampler is a deterministic map x_T → x_0, an implicit
    probabilistic model; (c) a different, implicit training loss; (d) a Markovian forward process.
    Answer with a letter, e.g. ``check_implicit_meaning("a")``.
    """
    letter = choice(answer, _IMPLICIT)
    if letter == "b":
        return report(
            True,
            "an implicit model is given by a sampling procedure, not a density: DDIM with σ = 0 "
            "maps x_T to x_0 deterministically, like a GAN's generator. What is *non-Markovian* is "
            "the forward process q_σ(x_t | x_{t−1}, x_0) it is derived from.",
        )
    hints = {
        "a": "look at the DDIM step, Eq. (eq-ddim-step): which quantity does it predict first?",
        "c": "DDIM reuses a network trained with the DDPM objective, unchanged: the difference is in sampling.",
        "d": "the DDIM forward process is the one that is *not* Markovian: q_σ(x_t | x_{t−1}, x_0) depends on x_0. "
        "What kind of generative model is a deterministic map from noise to data?",
    }
    return report(False, hints[letter])


def check_network_calls(calls: Any, *, steps: int = 50, guided: bool = False) -> bool:
    """Change-and-run: the number of network calls one DDIM run makes with ``steps`` steps, measured by the reader
    (e.g. with a forward hook on the model), with or without classifier-free guidance."""
    value = number(calls, "calls")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not isinstance(guided, bool):
        raise TypeError(f"guided must be a bool, got {type(guided).__name__}")
    per_step = 2 if guided else 1
    truth = per_step * steps
    if value == truth:
        how = "two (conditional and null) per step" if guided else "one per step"
        return report(
            True,
            f"{truth} calls, {how}. Compare 1000 / {steps} with the speed-up you measure: the "
            "network is most, not all, of a step's cost.",
        )
    if value == 1000 or value == 1000 * per_step:
        return report(
            False,
            "that is the count of the 1000-step ancestral sampler: did the run use the DDIM "
            "sampler with the changed number of steps?",
        )
    if guided and value == steps:
        return report(
            False,
            "with guidance (guidance_scale > 0 and labels) each step calls the network more than "
            "once: count again with guidance on.",
        )
    if not guided and value == 2 * steps:
        return report(
            False,
            "without guidance each step calls the network fewer times than that: was guidance on, "
            "or did the counter count twice?",
        )
    if value in (truth + 1, truth - 1, truth + per_step, truth - per_step):
        return report(
            False, "off by one step: reset the counter right before the run, and count each call of the model once."
        )
    return report(
        False,
        f"{value:g} calls is not what one run makes: count every call of the model (a forward hook "
        "that appends to a list adds 1 per call), start from an empty count, run the sampler once, "
        "and read the count.",
    )


# -- chapter 5: guidance --------------------------------------------------------------------------


def check_guided_eps(fn: Callable[..., torch.Tensor]) -> bool:
    """``fn(eps_cond, eps_null, w)`` returns ε̃ = (1 + w) ε_c − w ε_∅ (Ho & Salimans 2022, Eq. 6)."""
    if not callable(fn):
        raise TypeError(f"fn must be a function fn(eps_cond, eps_null, w), got {type(fn).__name__}")
    gen = torch.Generator().manual_seed(23)
    eps_cond, eps_null = torch.randn(2, 4, 1, 8, 8, generator=gen)
    # w > 0 first: at w = 0 the common mistakes coincide, and only there could they not be told apart.
    for w in (2.0, 0.5, 7.0, 0.0):
        truth = (1 + w) * eps_cond - w * eps_null
        ran, out = _call(fn, (eps_cond.clone(), eps_null.clone(), w), f"fn(eps_cond, eps_null, {w})")
        if not ran:
            return out
        if not isinstance(out, torch.Tensor) or out.shape != eps_cond.shape:
            return report(False, f"expected a tensor shaped like eps_cond {tuple(eps_cond.shape)}")
        if torch.allclose(out, truth, atol=1e-5):
            continue
        if w > 0 and torch.allclose(out, w * eps_cond - (w - 1) * eps_null, atol=1e-5):
            return report(
                False,
                "that is diffusers' convention with s = w; this chapter's w weighs the difference "
                "ε_c − ε_∅ on top of the conditional prediction, Eq. (eq-cfg).",
            )
        if w > 0 and torch.allclose(out, (1 + w) * eps_null - w * eps_cond, atol=1e-5):
            return report(
                False, "the roles are swapped: extrapolate away from the null prediction, towards the conditional one."
            )
        if w > 0 and torch.allclose(out, (1 - w) * eps_cond + w * eps_null, atol=1e-5):
            return report(False, "that interpolates towards the null prediction; guidance moves *away* from it.")
        return report(False, f"at w = {w} the result differs from Eq. (eq-cfg).")
    return report(True, "w = 0 is the conditional model; larger w moves further along ε_c − ε_∅.")


def check_guidance_scale_convention(answer: Any) -> bool:
    """The ``w`` of ε̃ = (1 + w) ε_c − w ε_∅ that equals diffusers' ``guidance_scale`` s = 7.5."""
    value = number(answer)
    if matches(value, 6.5, abs_tol=1e-6):
        return report(True, "s = 1 + w, so s = 7.5 is w = 6.5 (and s = 1 is no guidance at all).")
    if matches(value, 7.5, abs_tol=1e-6):
        return report(
            False,
            "the two conventions do not use the same number: expand ε_∅ + s (ε_c − ε_∅) and "
            "compare its coefficient of ε_c with Eq. (eq-cfg)'s.",
        )
    if matches(value, 8.5, abs_tol=1e-6):
        return report(False, "right idea, wrong direction: which convention's coefficient of ε_c is the larger number?")
    return report(False, "expand ε_∅ + s (ε_c − ε_∅) and match the coefficients of ε_c and ε_∅ with Eq. (eq-cfg).")


class _CountingDenoiser(torch.nn.Module):
    """A small fixed class-conditional denoiser that counts its calls (for :func:`check_batched_guidance`)."""

    def __init__(self) -> None:
        super().__init__()
        from genai_lib.diffusion import MLPDenoiser

        with torch.random.fork_rng():  # a fixed test model, without touching the reader's RNG
            torch.manual_seed(5)
            self.net = MLPDenoiser(data_shape=(1, 8, 8), hidden=32, depth=1, n_classes=10)
            torch.nn.init.normal_(self.net.out.weight, std=0.2)  # not zero, so that every input matters
        self.calls = 0

    @property
    def null_label(self) -> int:
        return self.net.null_label

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        self.calls += 1
        return self.net(x, t, labels)


def check_batched_guidance(fn: Callable[..., torch.Tensor]) -> bool:
    """``fn(model, x_t, t, labels, w)`` returns the guided ε̃ of :func:`genai_lib.diffusion.guided_eps`,
    with one model call."""
    if not callable(fn):
        raise TypeError(f"fn must be a function fn(model, x_t, t, labels, w), got {type(fn).__name__}")
    from genai_lib.diffusion import guided_eps

    model = _CountingDenoiser().eval()
    gen = torch.Generator().manual_seed(29)
    x_t = torch.randn(6, 1, 8, 8, generator=gen)
    t = torch.tensor([999, 800, 500, 200, 50, 0])
    labels = torch.tensor([0, 3, 7, 9, 1, 3])
    for w in (1.5, 4.0, 0.0):
        with torch.no_grad():
            truth = guided_eps(model, x_t, t, labels, w)
            model.calls = 0
            ran, out = _call(fn, (model, x_t.clone(), t.clone(), labels.clone(), w), f"fn(model, x_t, t, labels, {w})")
            if not ran:
                return out
            calls = model.calls
            swapped = (1 + w) * model(x_t, t) - w * model(x_t, t, labels)
        if not isinstance(out, torch.Tensor) or out.shape != x_t.shape:
            return report(
                False,
                f"expected a tensor shaped like x_t {tuple(x_t.shape)}: split the model's output "
                "of the doubled batch back into its two halves.",
            )
        if not torch.allclose(out, truth, atol=1e-5):
            if w > 0 and torch.allclose(out, swapped, atol=1e-5):
                return report(
                    False,
                    "the halves are in the wrong order: the labels go in the first half and the "
                    "null label in the second, and the output splits the same way.",
                )
            return report(
                False,
                f"at w = {w} the result differs from diffusion.guided_eps: check that the batch, "
                "the steps and the labels are all doubled, with model.null_label in the second half.",
            )
        if calls != 1:
            return report(False, f"the model was called {calls} times; stack the batch with itself and call it once.")
    return report(True, "one call on 2B samples: the same numbers, one larger batch.")


def check_tilted_mean(answer: Any, w: float = 4.0) -> bool:
    """The mean of N(x; 1, 1) σ(2x)^w, normalised: the guided class 1 of the two-Gaussian toy (±1, unit variance)."""
    value = number(answer)
    w = number(w, "w")
    if w < 0:
        raise ValueError(f"w must be ≥ 0, got {w:g}")
    truth = _tilted_mean(w)
    if matches(value, truth, abs_tol=2e-3):
        return report(True, f"{truth:.3f}: guidance pushes class 1 away from class 0 (the unguided mean is 1).")
    if w > 0 and matches(value, 1.0, abs_tol=2e-3):
        return report(False, "1 is the mean without guidance; multiply the density by σ(2x)^w before normalising.")
    if w > 0 and matches(value, _tilted_mean(1.0), abs_tol=2e-3):
        return report(False, "that is the mean at w = 1: raise σ(2x) to the power w.")
    if near(value, truth):
        return report(False, NEAR + " A coarse or narrow grid also costs digits: use a fine grid over a wide range.")
    return report(
        False,
        f"{value:.4g} is not it for w = {w:g}: normalise N(x; 1, 1) σ(2x)^w on a wide, fine grid "
        "(its sum), then take the weighted mean of x.",
    )


_GUIDANCE_TRADE = {
    "a": "the samples get better on every measure: sharper, more accurate and just as varied",
    "b": "the samples show the requested digit more reliably, but each class's variety shrinks",
    "c": "nothing changes: label dropout trained a single network, so the two predictions are the same",
    "d": "the samples follow p(x | c) more and more exactly",
}


def check_guidance_trade(answer: Any) -> bool:
    """Multiple choice: what does raising the guidance scale w from 0 to 4 do to the digits?
    Answer with a letter, e.g. ``check_guidance_trade("a")``."""
    return ask(
        answer,
        _GUIDANCE_TRADE,
        "b",
        "guided sampling follows p(x | c) p(c | x)^w, Eq. (eq-cfg-tilt): it favours the samples a classifier "
        "finds most typical of c. Accuracy on the requested digit rises, recall — the variety reached — "
        "falls.",
        {
            "a": "re-read 'Measuring the trade': which of the measured numbers falls as w grows?",
            "c": "one network, but two inputs: re-read 'One network, two denoisers' — does ε(x, c) equal ε(x, ∅)?",
            "d": "re-read Eq. (eq-cfg-tilt): which density do the guided scores belong to when w > 0?",
        },
    )


#: Shares of the ten digits that the null label's samples must stay within. The shipped conditional model, 400
#: DDIM samples with the null label: every digit between 6.2 % and 16.8 % (seeds 0, 1, 2), against 96-98 % of a
#: single digit when a label is given.
_NULL_SHARES = (0.03, 0.30)


def check_null_label(samples: Any) -> bool:
    """Change-and-run: digits the chapter's conditional model draws when it is *given* the null label ∅ as the
    condition (w = 0). Measures which digits the reference classifier sees: the null label should give the
    unconditional model, all ten digits in roughly even shares."""
    from genai_lib import metrics

    if not isinstance(samples, torch.Tensor):
        raise TypeError(f"samples must be a torch.Tensor of digits, got {type(samples).__name__}")
    if len(samples) < 200:
        return report(False, "use at least 200 samples: with fewer, the shares of ten digits are too noisy.")
    shares = metrics.class_histogram(samples).double() / len(samples)
    low, high = _NULL_SHARES
    if float(shares.max()) > 0.5:
        return report(
            False,
            "most samples are one digit: that is what a digit's label asks for. Pass the null "
            "label, torch.full((N,), model.null_label), as labels.",
        )
    if float(shares.min()) >= low and float(shares.max()) <= high:
        return report(
            True,
            f"every digit appears ({100 * float(shares.min()):.0f}-{100 * float(shares.max()):.0f} % "
            "each): trained with label dropout, the network given ∅ is the unconditional model, "
            "the ε(x, ∅) that guidance extrapolates away from.",
        )
    return report(
        False,
        "some digits are missing or much rarer than others: were the samples drawn with the "
        "null label for every sample, at w = 0, with the chapter's sampler?",
    )


# -- the solutions, printed on request ------------------------------------------------------------


@_SOLUTIONS.add("check_half_signal_step")
def _() -> tuple[str, str]:
    return (
        f"t = {_half_signal_step('linear')} for the linear schedule ({_half_signal_step('cosine')} for the cosine "
        "one): int(torch.nonzero(alpha_bars['linear'] < 0.5)[0])",
        "SNR(t) = ᾱ_t / (1 − ᾱ_t) < 1 exactly when ᾱ_t < 1/2, so the answer is the first index of ᾱ (whose index "
        "is the paper's t) below one half. The cosine schedule reaches it almost exactly half-way, since "
        "f(t)/f(0) = 1/2 near t = T/2, shifted slightly by the offset s; the linear one much earlier.",
    )


@_SOLUTIONS.add("check_exploding_variance")
def _() -> tuple[str, str]:
    return (
        f"Var(x_T) = 1 + Σ β_t = {1 + float(_linear_betas().sum()):.2f}",
        "Variances of independent terms add, so Var(x_t) = Var(x_{t−1}) + β_t and Var(x_T) = 1 + Σ_t β_t = "
        "1 + 1000 · (10⁻⁴ + 0.02)/2. The end point depends on the data's scale and on T, and is not the fixed "
        "N(0, I) sampling starts from; variance-exploding score models start from a wide Gaussian instead.",
    )


@_SOLUTIONS.add("check_add_noise")
def _() -> tuple[str, str]:
    return (
        "def add_noise(x0, eps, t):\n"
        "    ab = alpha_bars['linear'][t].reshape(-1, *([1] * (x0.dim() - 1)))\n"
        "    return ab.sqrt() * x0 + (1 - ab).sqrt() * eps",
        "Index ᾱ with the whole tensor of steps (alpha_bars holds ᾱ_0..ᾱ_T, so index t is the paper's step), "
        "then reshape it to (B, 1, 1, 1) so that it broadcasts over each sample's pixels. The library's "
        "NoiseSchedule.add_noise does the same with 0-based steps.",
    )


@_SOLUTIONS.add("check_cosine_advantage")
def _() -> tuple[str, str]:
    return (
        f"(b) {_COSINE_ADVANTAGE['b']}",
        "Both schedules use the same closed form and both end at x_T ≈ N(0, I). They differ in *when* the "
        "information goes: with the linear schedule the best possible guess of a digit's class is at chance "
        "from t ≈ 750 on, so the last quarter of the steps works on samples that carry nothing; the cosine "
        "schedule keeps the class recoverable until the last steps, so every step carries a share of the work.",
    )


@_SOLUTIONS.add("check_leftover_class")
def _() -> tuple[str, str]:
    return (
        "gentle = torch.cat([torch.ones(1), torch.cumprod(1 - torch.linspace(1e-4, 0.005, NUM_STEPS), dim=0)]); "
        "ex.check_leftover_class(best_class_accuracy(NUM_STEPS, gentle), gentle)",
        "About 27-28 % of the noised digits keep a recoverable class at t = T (measured for seeds 0, 1 and 2), "
        "against the 10 % of chance for the chapter's schedules. Σβ_t is a quarter as large, so ᾱ_T ≈ 0.006 "
        "and x_T still holds √ᾱ_T ≈ 0.08 of the digit: it is not the N(0, I) a sampler starts from. A "
        "schedule must end in noise that no longer depends on the data.",
    )


@_SOLUTIONS.add("check_x0_from_eps")
def _() -> tuple[str, str]:
    return (
        "def predict_x0(x_t, eps, abar):\n    return (x_t - (1 - abar) ** 0.5 * eps) / abar ** 0.5",
        "Solve x_t = √ᾱ x_0 + √(1 − ᾱ) ε for x_0. With the true noise it recovers x_0 exactly; with the network's "
        "ε̂ it is the model's current guess of the clean sample. NoiseSchedule.predict_x0(x_t, eps, t) looks ᾱ "
        "up from t.",
    )


@_SOLUTIONS.add("check_predict_noise")
def _() -> tuple[str, str]:
    return (
        f"(a) {_PREDICT_NOISE['a']}",
        "Given x_t, the noise and the clean sample determine each other: x̂_0 = (x_t − √(1 − ᾱ_t) ε̂)/√ᾱ_t. A "
        "network that predicts one predicts the other. Both losses come from the same bound; they differ in "
        "how much each step's error counts, and Ho et al. found the unweighted ε-loss L_simple to give the "
        "best samples. The target is the particular ε in x_t, so outputting its mean, 0, does not help.",
    )


@_SOLUTIONS.add("check_x0_choice")
def _() -> tuple[str, str]:
    return (
        "def beliefs(t): x_t = schedule.add_noise(toy[:600], noise_pts, t); "
        "return schedule.predict_x0(x_t, toy_model(x_t, torch.full((600,), t)), t).detach() * SCALE; "
        "ex.check_x0_choice(beliefs(900), beliefs(30))",
        "At library step 900 only 1-2 % of the beliefs x̂_0 lie within 3σ of a cluster centre; at step 30, "
        "98-99 % (seeds 0, 1 and 2). The network's ε̂ estimates the average noise over every clean point that "
        "could have produced x_t, so x̂_0 is the posterior mean of x_0: when x_t could have come from many "
        "clusters it is a point between them, and only once the noise is small enough to single out one "
        "cluster does it land on that cluster.",
    )


@_SOLUTIONS.add("check_loss_weight")
def _() -> tuple[str, str]:
    lam = _loss_weights()
    return (
        f"λ_1 / λ_500 ≈ {float(lam[0] / lam[499]):.1f}: "
        "betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64); abar = torch.cumprod(1 - betas, 0); "
        "lam = betas / (2 * (1 - betas) * (1 - abar)); (lam[0] / lam[499]).item()",
        "At t = 1, 1 − ᾱ_1 = β_1, so λ_1 = 1/(2α_1) ≈ 0.5; in the middle of the chain λ_t is about ninety times "
        "smaller. The true bound concentrates on the nearly noise-free steps; L_simple gives every step the "
        "same weight, which moves effort towards the noisier steps.",
    )


@_SOLUTIONS.add("check_time_embedding")
def _() -> tuple[str, str]:
    return (
        "the checker says the order is swapped (cosines first) and returns False",
        "The checker compares with the library's order, sines first. The network would not care: the embedding "
        "goes straight into a linear layer, and permuting its inputs only permutes the columns of that layer's "
        "weight matrix, which training finds just as well.",
    )


@_SOLUTIONS.add("check_first_step_amplification")
def _() -> tuple[str, str]:
    return (
        f"√(1 − ᾱ_T)/√ᾱ_T ≈ {_amplification():,.0f}: abar_T = schedule.alphas_cumprod[-1]; "
        "((1 - abar_T) / abar_T).sqrt().item()",
        "x̂_0 = (x_T − √(1 − ᾱ_T) ε̂)/√ᾱ_T, so an error e in ε̂ becomes √(1 − ᾱ_T)/√ᾱ_T · e in x̂_0. The cosine "
        "schedule's capped β_T leaves ᾱ_T ≈ 2.4·10⁻⁹; the linear schedule's ᾱ_T ≈ 4·10⁻⁵ gives a factor of "
        "about 160 instead: large, but survivable.",
    )


@_SOLUTIONS.add("check_ancestral_step_beta")
def _() -> tuple[str, str]:
    return (
        "def step_beta(eps, t, x_t, z):\n"
        "    abar, beta = schedule.alphas_cumprod[t], schedule.betas[t]\n"
        "    mean = (x_t - beta / (1 - abar).sqrt() * eps) / (1 - beta).sqrt()\n"
        "    return mean + beta.sqrt() * z if t > 0 else mean",
        "The mean μ_θ is the same for both variance choices; only the noise scale changes. β̃_t/β_t = "
        "(1 − ᾱ_{t−1})/(1 − ᾱ_t) is close to 1 at large t and far below 1 only at small t (β̃_1 = 0), so the "
        "two samplers differ in the last few steps, where the noise is tiny either way, and the samples look "
        "alike, as Ho et al. report.",
    )


@_SOLUTIONS.add("check_variance_gap")
def _() -> tuple[str, str]:
    return (
        f"(b) {_VARIANCE_GAP['b']}",
        "β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t). At large t both ᾱ are close to 0 and the factor is ≈ 1, so the two "
        "choices agree where the noise is large. At small t the factor falls far below 1 (β̃_1 = 0): they "
        "differ in the last steps, where little noise is added either way.",
    )


@_SOLUTIONS.add("check_few_step_particles")
def _() -> tuple[str, str]:
    return (
        "few = diffusion.DDIMSampler(schedule, 10, eta=1.0).sample(toy_model, (400, 2), "
        "generator=torch.Generator().manual_seed(SEED)) * SCALE; ex.check_few_step_particles(paths[-1], few)",
        "With 10 ancestral steps about half the particles end within 3σ of a centre, against nearly all with "
        "1000, for every seed. Each step jumps 100 steps of noise at once and moves towards a belief formed from "
        "a very noisy x_t, and the step's own noise σ_t z is large: the particles still reach every cluster, "
        "but many land outside its tight 3σ disc (σ = 0.05 on a grid of spacing 2).",
    )


@_SOLUTIONS.add("check_ddim_sigma")
def _() -> tuple[str, str]:
    return (
        "def sigma(abar_t, abar_s, eta):\n"
        "    return eta * ((1 - abar_s) / (1 - abar_t) * (1 - abar_t / abar_s)) ** 0.5",
        "This is Eq. (eq-ddim-sigma). With s = t − 1, 1 − ᾱ_t/ᾱ_{t−1} = 1 − α_t = β_t, so at η = 1 "
        "σ_t² = (1 − ᾱ_{t−1})/(1 − ᾱ_t) β_t = β̃_t, the DDPM posterior variance; η = 0 makes the step "
        "deterministic.",
    )


@_SOLUTIONS.add("check_slerp")
def _() -> tuple[str, str]:
    return (
        "def my_slerp(z0, z1, alpha):\n"
        "    theta = torch.arccos((z0 * z1).sum() / (z0.norm() * z1.norm()))\n"
        "    return (torch.sin((1 - alpha) * theta) * z0 + torch.sin(alpha * theta) * z1) / torch.sin(theta)",
        "Slerp moves along the great circle between the two tensors, so for nearly orthogonal high-dimensional "
        "noise it keeps the typical norm. Straight-line midpoints have about 1/√2 of it (≈ 5.7 instead of 8 for "
        "64 pixels): the network never saw x_T that short, and their decodes come out faint or blurred.",
    )


@_SOLUTIONS.add("check_implicit_meaning")
def _() -> tuple[str, str]:
    return (
        f"(b) {_IMPLICIT['b']}",
        "Song et al. call DDIM an implicit probabilistic model: with σ = 0 the sample is a deterministic function "
        "of x_T, a model given by how it generates rather than by a density, like a GAN's generator. The "
        "network is the DDPM one, unchanged; what is non-Markovian is the forward process q_σ(x_t | x_{t−1}, x_0) "
        "from which the sampler is derived.",
    )


@_SOLUTIONS.add("check_network_calls")
def _() -> tuple[str, str]:
    return (
        "50 calls without guidance, 100 with it: calls = []; "
        "handle = model.register_forward_hook(lambda m, i, o: calls.append(1)); "
        "diffusion.DDIMSampler(schedule, 50).sample(model, (16, 1, 8, 8)); handle.remove(); len(calls)",
        "DDIM calls the network once per step; classifier-free guidance needs a conditional and a null prediction, "
        "two calls per step (one call on a doubled batch in practice). The measured speed-up over 1000 ancestral "
        "steps is not exactly 1000/50 = 20 because each step also does arithmetic outside the network, the first "
        "call carries set-up costs, and timings on a shared machine vary.",
    )


@_SOLUTIONS.add("check_guided_eps")
def _() -> tuple[str, str]:
    return (
        "def cfg(eps_cond, eps_null, w):\n    return (1 + w) * eps_cond - w * eps_null",
        "Eq. (eq-cfg): start from the conditional prediction and move w times further along ε_c − ε_∅, away from "
        "the unconditional one. w = 0 is the conditional model; larger w extrapolates further.",
    )


@_SOLUTIONS.add("check_guidance_scale_convention")
def _() -> tuple[str, str]:
    return (
        "w = 6.5",
        "ε_∅ + s(ε_c − ε_∅) = s ε_c − (s − 1) ε_∅, which is Eq. (eq-cfg) with 1 + w = s. diffusers' s = 1 means no "
        "guidance, this chapter's w = 0.",
    )


@_SOLUTIONS.add("check_batched_guidance")
def _() -> tuple[str, str]:
    return (
        "def one_call_guided_eps(model, x_t, t, labels, w):\n"
        "    null = torch.full_like(labels, model.null_label)\n"
        "    eps = model(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([labels, null]))\n"
        "    eps_cond, eps_null = eps.chunk(2)\n"
        "    return (1 + w) * eps_cond - w * eps_null",
        "One call on 2B samples does the same arithmetic as two calls on B, but a GPU runs it as one larger, "
        "better-filled kernel launch, and the Python overhead is paid once.",
    )


@_SOLUTIONS.add("check_guidance_trade")
def _() -> tuple[str, str]:
    return (
        f"(b) {_GUIDANCE_TRADE['b']}",
        "The guided prediction is the score of p(x | c) p(c | x)^w, Eq. (eq-cfg-tilt), not of p(x | c): it "
        "tilts each class towards the samples a classifier is surest about. The chapter measures it: the "
        "accuracy on the requested digit reaches practically 100 % from w = 0.5, while recall falls and the "
        "Fréchet distances grow beyond w = 1. w = 0 is the plain conditional model.",
    )


@_SOLUTIONS.add("check_null_label")
def _() -> tuple[str, str]:
    return (
        "null = draw(torch.full((400,), model.null_label), 0.0, SEED); ex.check_null_label(null)",
        "Given the null label, the shipped model draws all ten digits, each 6-17 % of 400 samples for seeds 0, "
        "1 and 2, where a digit's label gives 96-98 % of that digit. Label dropout trained the same network "
        "to predict the noise without the label, so ε(x, ∅) is an unconditional model of all the digits; "
        "classifier-free guidance needs exactly that prediction to move away from.",
    )


@_SOLUTIONS.add("check_tilted_mean")
def _() -> tuple[str, str]:
    return (
        f"about {_tilted_mean(4.0):.3f} at w = 4: xs = torch.linspace(-10, 12, 20001); "
        "density = torch.exp(-0.5 * (xs - 1) ** 2) * torch.sigmoid(2 * xs) ** 4; "
        "((xs * density).sum() / density.sum()).item()",
        "σ(2x)^w = e^(−w ln(1 + e^(−2x))) for every w. For x ≫ 0, ln(1 + e^(−2x)) ≈ e^(−2x) → 0: the right side "
        "is left almost untouched. For x ≪ 0, ln(1 + e^(−2x)) ≈ −2x, so the factor is e^(2wx), a cut-off that "
        "grows with w: the guided density is pushed away from the other class, not towards 'more' of its own.",
    )
