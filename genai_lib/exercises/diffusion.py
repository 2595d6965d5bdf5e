"""Checkers for the exercises of Part II, diffusion models (``book/diffusion/``).

Steps follow the papers' convention in the questions (t = 1..T, with t = 0 the clean data); the
library, like diffusers, counts from 0, and the checkers say so when an answer is off by one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from genai_lib.diffusion import NoiseSchedule

__all__ = [
    "check_half_signal_step",
    "check_exploding_variance",
    "check_add_noise",
    "check_x0_from_eps",
    "check_loss_weight",
    "check_time_embedding",
    "check_first_step_amplification",
    "check_ancestral_step_beta",
    "check_ddim_sigma",
    "check_slerp",
    "check_guided_eps", "check_guidance_scale_convention", "check_batched_guidance", "check_tilted_mean",
]


def _report(ok: bool, message: str) -> bool:
    print(("✔ correct: " if ok else "✘ not yet: ") + message)
    return ok


def _number(answer: Any, name: str = "answer") -> float:
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(answer).__name__}")
    return float(answer)


def _alpha_bar(kind: str, num_steps: int = 1000) -> torch.Tensor:
    """ᾱ_0..ᾱ_T in the papers' indexing (ᾱ_0 = 1), float64."""
    schedule = NoiseSchedule(kind, num_steps)
    return torch.cat([torch.ones(1, dtype=torch.float64), schedule.alphas_cumprod.double()])


# -- chapter 1: the forward process ---------------------------------------------------------------

def check_half_signal_step(answer: Any, kind: str = "linear") -> bool:
    """The first step t (1..T) at which SNR(t) = ᾱ_t / (1 − ᾱ_t) drops below 1, for ``kind`` (T = 1000)."""
    value = _number(answer)
    abar = _alpha_bar(kind)
    truth = int(torch.nonzero(abar < 0.5)[0])
    if value == truth:
        return _report(True, f"t = {truth}: from here on the {kind} schedule's x_t holds more noise power than signal.")
    if value == truth - 1:
        return _report(False, f"off by one: {truth - 1} is the library's 0-based index; the paper's step is {truth}.")
    if 0 < value < 1:
        return _report(False, "that looks like a value of ᾱ_t; the question asks for the step t.")
    return _report(False, f"{value:g} is not it: find the first t with ᾱ_t < 1/2 (that is where ᾱ_t = 1 − ᾱ_t).")


def check_exploding_variance(answer: Any) -> bool:
    """Var(x_T) when x_t = x_{t-1} + √β_t ε (no shrinking), linear β, T = 1000, starting from variance 1."""
    value = _number(answer)
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    truth = float(1 + betas.sum())
    if math.isclose(value, truth, rel_tol=1e-3):
        return _report(True, f"1 + Σβ_t = {truth:.2f}: without the √(1 − β_t) factor the variance grows without bound.")
    if math.isclose(value, 1.0, rel_tol=1e-3):
        return _report(False, "1 is the variance *with* the √(1 − β_t) shrink; here nothing shrinks x_{t-1}.")
    if math.isclose(value, float(betas.sum()), rel_tol=1e-3):
        return _report(False, "that is the noise added; the data's own variance of 1 is still there.")
    if math.isclose(value, math.sqrt(truth), rel_tol=1e-3):
        return _report(False, "that is a standard deviation; the question asks for the variance.")
    return _report(False, f"{value:g} is not it: variances of independent terms add, Var(x_t) = Var(x_(t-1)) + β_t.")


def check_add_noise(fn: Callable[..., torch.Tensor], kind: str = "linear") -> bool:
    """``fn(x0, eps, t)`` with ``t`` a ``(B,)`` tensor of steps 1..T returns the batch of x_t (Eq. of q(x_t | x_0))."""
    if not callable(fn):
        raise TypeError(f"answer must be a function fn(x0, eps, t), got {type(fn).__name__}")
    gen = torch.Generator().manual_seed(7)
    x0 = torch.rand(6, 1, 8, 8, generator=gen) * 2 - 1
    eps = torch.randn(6, 1, 8, 8, generator=gen)
    t = torch.tensor([1, 10, 250, 500, 999, 1000])
    truth = NoiseSchedule(kind).add_noise(x0, eps, t - 1)
    try:
        out = fn(x0, eps, t)
    except Exception as err:  # the reader's code failing is an answer, not a bug
        return _report(False, f"calling fn(x0, eps, t) with x0 of shape (6, 1, 8, 8) and t of shape (6,) "
                              f"raised {type(err).__name__}: {err}. Reshape ᾱ_t to (B, 1, 1, 1) to broadcast.")
    if not isinstance(out, torch.Tensor) or out.shape != x0.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return _report(False, f"expected a tensor of shape {tuple(x0.shape)}, got {shape}: one x_t per sample.")
    if torch.allclose(out, truth, atol=1e-5):
        return _report(True, "each sample is noised to its own step, as training needs.")
    shifted = NoiseSchedule(kind).add_noise(x0, eps, (t - 2).clamp(min=0))
    if torch.allclose(out[1:], shifted[1:], atol=1e-5):
        return _report(False, "off by one: step t uses ᾱ_t = alphas_cumprod[t - 1] (the library counts from 0).")
    return _report(False, "the values differ from √ᾱ_t x_0 + √(1 − ᾱ_t) ε for at least one sample.")


# -- chapter 2: learning to denoise ---------------------------------------------------------------

def check_x0_from_eps(fn: Callable[..., torch.Tensor]) -> bool:
    """``fn(x_t, eps, abar)`` returns x̂_0 = (x_t − √(1 − ᾱ) ε̂) / √ᾱ (Ho et al. 2020, Eq. 15)."""
    if not callable(fn):
        raise TypeError(f"answer must be a function fn(x_t, eps, abar), got {type(fn).__name__}")
    gen = torch.Generator().manual_seed(11)
    x0 = torch.rand(5, 1, 8, 8, generator=gen) * 2 - 1
    eps = torch.randn(5, 1, 8, 8, generator=gen)
    ok = True
    for abar in (0.9, 0.3, 0.01):
        x_t = abar ** 0.5 * x0 + (1 - abar) ** 0.5 * eps
        try:
            out = fn(x_t, eps, abar)
        except Exception as err:  # the reader's code failing is an answer, not a bug
            return _report(False, f"fn(x_t, eps, abar={abar}) raised {type(err).__name__}: {err}")
        if not isinstance(out, torch.Tensor) or out.shape != x0.shape:
            return _report(False, f"expected a tensor of shape {tuple(x0.shape)}, like x_t.")
        ok = ok and torch.allclose(out, x0, atol=1e-4)
        if not ok:
            if torch.allclose(out, x_t - (1 - abar) ** 0.5 * eps, atol=1e-4):
                return _report(False, f"at ᾱ = {abar} you removed the noise but did not divide by √ᾱ.")
            return _report(False, f"at ᾱ = {abar} the result is not the x_0 that made x_t; "
                                  "invert x_t = √ᾱ x_0 + √(1 − ᾱ) ε for x_0.")
    return _report(True, "with the true noise, x̂_0 recovers x_0 exactly; with a predicted ε̂ it is the model's guess.")


def check_loss_weight(answer: Any) -> bool:
    """λ_1 / λ_500 for λ_t = β_t / (2 α_t (1 − ᾱ_t)), the linear schedule with T = 1000."""
    value = _number(answer)
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, 0)
    lam = betas / (2 * (1 - betas) * (1 - abar))
    truth = float(lam[0] / lam[499])
    if math.isclose(value, truth, rel_tol=1e-3):
        return _report(True, f"λ_1 / λ_500 = {truth:.1f}: the true bound weights the nearly clean steps most.")
    if math.isclose(value, 1 / truth, rel_tol=1e-3):
        return _report(False, "that is λ_500 / λ_1; the question asks how many times larger λ_1 is.")
    if math.isclose(value, float(lam[0] / lam[500]), rel_tol=1e-3):
        return _report(False, "off by one: λ_500 is index 499 when index 0 is t = 1.")
    return _report(False, f"{value:g} is not it: compute λ_t for all t with the cumulative product ᾱ_t, then divide.")


def check_time_embedding(fn: Callable[..., torch.Tensor]) -> bool:
    """``fn(t, dim)`` returns the sinusoidal embedding [sin(ω_i t), cos(ω_i t)], ω_i = 10000^(−i/h)."""
    from genai_lib.diffusion import sinusoidal_embedding

    if not callable(fn):
        raise TypeError(f"answer must be a function fn(t, dim), got {type(fn).__name__}")
    t = torch.tensor([0, 1, 2, 10, 500, 999])
    truth = sinusoidal_embedding(t, 64)
    try:
        out = fn(t, 64)
    except Exception as err:  # the reader's code failing is an answer, not a bug
        return _report(False, f"fn(t, 64) with t of shape (6,) raised {type(err).__name__}: {err}")
    if not isinstance(out, torch.Tensor) or out.shape != truth.shape:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return _report(False, f"expected shape {tuple(truth.shape)} (one row of 64 features per step), got {shape}")
    out = out.float()
    if torch.allclose(out, truth, atol=1e-4):
        return _report(True, "sines then cosines at geometrically spaced frequencies, as the library builds them.")
    if torch.allclose(out, truth.roll(32, dims=1), atol=1e-4):
        return _report(False, "the right features in the other order (cosines first). The network would not "
                              "mind — a linear layer follows — but the library puts the sines first.")
    return _report(False, "the values differ; check the frequencies ω_i = 10000^(−i/32) for i = 0..31.")


# -- chapter 3: sampling --------------------------------------------------------------------------

def check_first_step_amplification(answer: Any) -> bool:
    """√(1 − ᾱ_T) / √ᾱ_T: how much an error in ε̂ at the first step (t = T) is amplified in x̂_0 (cosine, T = 1000)."""
    value = _number(answer)
    abar = _alpha_bar("cosine")[-1]
    truth = float(((1 - abar) / abar).sqrt())
    if math.isclose(value, truth, rel_tol=1e-2):
        return _report(True, f"about {truth:,.0f}: an error of 0.001 in ε̂ moves x̂_0 by {0.001 * truth:.0f} — "
                             "far outside the data's [-1, 1], hence the clipping.")
    if math.isclose(value, 1 / truth, rel_tol=1e-2):
        return _report(False, "that is the inverse; x̂_0 divides by √ᾱ_T, which is tiny.")
    if math.isclose(value, truth ** 2, rel_tol=1e-2):
        return _report(False, "that is (1 − ᾱ_T)/ᾱ_T, a ratio of variances; take the square root for the amplitude.")
    return _report(False, f"{value:g} is not it: x̂_0 = (x_T − √(1 − ᾱ_T) ε̂)/√ᾱ_T, so an error e in ε̂ becomes "
                          "√(1 − ᾱ_T)/√ᾱ_T · e; use ᾱ_T of the cosine schedule (alphas_cumprod[-1]).")


def check_ancestral_step_beta(fn: Callable[..., torch.Tensor], kind: str = "cosine") -> bool:
    """``fn(eps, t, x_t, z)`` is one ancestral step with σ_t² = β_t (0-based ``t``, noise ``z`` given)."""
    if not callable(fn):
        raise TypeError(f"answer must be a function fn(eps, t, x_t, z), got {type(fn).__name__}")
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
        try:
            out = fn(eps, t, x_t, z)
        except Exception as err:  # the reader's code failing is an answer, not a bug
            return _report(False, f"fn(eps, {t}, x_t, z) raised {type(err).__name__}: {err}")
        if not isinstance(out, torch.Tensor) or out.shape != x_t.shape:
            return _report(False, f"expected a tensor shaped like x_t {tuple(x_t.shape)}")
        if not torch.allclose(out, truth, atol=1e-4):
            if t == 0 and torch.allclose(out, mean + beta.sqrt() * z, atol=1e-4):
                return _report(False, "the last step (t = 0 in the library, t = 1 in the paper) adds no noise.")
            var_tilde = (1 - schedule.alphas_cumprod_prev[t]) / (1 - abar) * beta
            if torch.allclose(out, mean + var_tilde.sqrt() * z, atol=1e-4):
                return _report(False, "that is σ_t² = β̃_t, the library's choice; the exercise asks for σ_t² = β_t.")
            return _report(False, f"at t = {t} the result differs from μ_θ + √β_t z with "
                                  "μ_θ = (x_t − β_t/√(1 − ᾱ_t) ε̂)/√α_t.")
    return _report(True, "μ_θ of Eq. (eq-samp-mu) plus √β_t z, and no noise at the last step.")


# -- chapter 4: DDIM ------------------------------------------------------------------------------

def check_ddim_sigma(fn: Callable[..., Any]) -> bool:
    """``fn(abar_t, abar_s, eta)`` returns σ_t(η) = η √((1 − ᾱ_s)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_s) (Song et al. 2021, Eq. 16)."""
    if not callable(fn):
        raise TypeError(f"answer must be a function fn(abar_t, abar_s, eta), got {type(fn).__name__}")
    for abar_t, abar_s, eta in ((0.1, 0.3, 1.0), (0.5, 0.9, 0.5), (0.01, 0.02, 0.0), (0.9, 0.999, 2.0)):
        truth = eta * math.sqrt((1 - abar_s) / (1 - abar_t)) * math.sqrt(1 - abar_t / abar_s)
        try:
            out = float(fn(torch.tensor(abar_t), torch.tensor(abar_s), eta))
        except Exception as err:  # the reader's code failing is an answer, not a bug
            return _report(False, f"fn({abar_t}, {abar_s}, {eta}) raised {type(err).__name__}: {err}")
        if not math.isclose(out, truth, rel_tol=1e-4, abs_tol=1e-7):
            if math.isclose(out, truth ** 2, rel_tol=1e-4, abs_tol=1e-7) and eta != 0:
                return _report(False, "that is σ_t²; return the standard deviation σ_t.")
            return _report(False, f"for ᾱ_t={abar_t}, ᾱ_s={abar_s}, η={eta} expected {truth:.5f}, got {out:.5f}.")
    return _report(True, "η = 0 gives σ = 0 (deterministic DDIM); η = 1 gives the posterior's √β̃ of the jump t → s.")


def check_slerp(fn: Callable[..., torch.Tensor]) -> bool:
    """``fn(z0, z1, alpha)`` returns the spherical interpolation of two noise tensors (Shoemake 1985)."""
    if not callable(fn):
        raise TypeError(f"answer must be a function fn(z0, z1, alpha), got {type(fn).__name__}")
    gen = torch.Generator().manual_seed(17)
    z0, z1 = torch.randn(2, 1, 8, 8, generator=gen)
    theta = torch.arccos((z0 * z1).sum() / (z0.norm() * z1.norm()))
    for alpha in (0.0, 0.3, 0.5, 1.0):
        truth = (torch.sin((1 - alpha) * theta) * z0 + torch.sin(alpha * theta) * z1) / torch.sin(theta)
        try:
            out = fn(z0, z1, alpha)
        except Exception as err:  # the reader's code failing is an answer, not a bug
            return _report(False, f"fn(z0, z1, {alpha}) raised {type(err).__name__}: {err}")
        if not isinstance(out, torch.Tensor) or out.shape != z0.shape:
            return _report(False, f"expected a tensor shaped like z0 {tuple(z0.shape)}")
        if not torch.allclose(out, truth, atol=1e-4):
            lerp = (1 - alpha) * z0 + alpha * z1
            if torch.allclose(out, lerp, atol=1e-4):
                return _report(False, "that is the straight line (lerp): half-way its norm shrinks by about √2, "
                                      "so the middle is not a typical noise sample.")
            return _report(False, f"at alpha = {alpha} the result differs from "
                                  "(sin((1−α)θ) z0 + sin(αθ) z1) / sin θ, with θ the angle between z0 and z1.")
    return _report(True, "the path keeps the norm of a typical Gaussian sample all the way.")


# -- chapter 5: guidance --------------------------------------------------------------------------

def check_guided_eps(fn: Callable[..., torch.Tensor]) -> bool:
    """``fn(eps_cond, eps_null, w)`` returns ε̃ = (1 + w) ε_c − w ε_∅ (Ho & Salimans 2022, Eq. 6)."""
    if not callable(fn):
        raise TypeError(f"answer must be a function fn(eps_cond, eps_null, w), got {type(fn).__name__}")
    gen = torch.Generator().manual_seed(23)
    eps_cond, eps_null = torch.randn(2, 4, 1, 8, 8, generator=gen)
    for w in (0.0, 0.5, 2.0, 7.0):
        truth = (1 + w) * eps_cond - w * eps_null
        try:
            out = fn(eps_cond.clone(), eps_null.clone(), w)
        except Exception as err:  # the reader's code failing is an answer, not a bug
            return _report(False, f"fn(eps_cond, eps_null, {w}) raised {type(err).__name__}: {err}")
        if not isinstance(out, torch.Tensor) or out.shape != eps_cond.shape:
            return _report(False, f"expected a tensor shaped like eps_cond {tuple(eps_cond.shape)}")
        if not torch.allclose(out, truth, atol=1e-5):
            if w > 0 and torch.allclose(out, w * eps_cond - (w - 1) * eps_null, atol=1e-5):
                return _report(False, "that is diffusers' convention with s = w; this chapter's w multiplies "
                                      "the difference on top of the conditional prediction: (1 + w) ε_c − w ε_∅.")
            if w > 0 and torch.allclose(out, (1 + w) * eps_null - w * eps_cond, atol=1e-5):
                return _report(False, "the roles are swapped: extrapolate away from the null prediction, "
                                      "towards the conditional one.")
            return _report(False, f"at w = {w} the result differs from (1 + w) ε_c − w ε_∅.")
    return _report(True, "w = 0 is the conditional model; larger w moves further along ε_c − ε_∅.")


def check_guidance_scale_convention(answer: Any) -> bool:
    """The ``w`` of ε̃ = (1 + w) ε_c − w ε_∅ that equals diffusers' ``guidance_scale`` s = 7.5."""
    value = _number(answer)
    if math.isclose(value, 6.5, abs_tol=1e-6):
        return _report(True, "s = 1 + w, so s = 7.5 is w = 6.5 (and s = 1 is no guidance at all).")
    if math.isclose(value, 7.5, abs_tol=1e-6):
        return _report(False, "expand ε_∅ + s (ε_c − ε_∅) and compare the coefficient of ε_c with 1 + w.")
    if math.isclose(value, 8.5, abs_tol=1e-6):
        return _report(False, "the coefficient of ε_c is s in diffusers and 1 + w here: solve 1 + w = s.")
    return _report(False, "expand ε_∅ + s (ε_c − ε_∅) = s ε_c − (s − 1) ε_∅ and match it with (1 + w) ε_c − w ε_∅.")


class _CountingDenoiser(torch.nn.Module):
    """A small fixed class-conditional denoiser that counts its calls (for :func:`check_batched_guidance`)."""

    def __init__(self) -> None:
        super().__init__()
        from genai_lib.diffusion import MLPDenoiser

        torch_state = torch.random.get_rng_state()
        try:
            torch.manual_seed(5)
            self.net = MLPDenoiser(data_shape=(1, 8, 8), hidden=32, depth=1, num_classes=10)
            torch.nn.init.normal_(self.net.out.weight, std=0.2)  # not zero, so that every input matters
        finally:
            torch.random.set_rng_state(torch_state)
        self.calls = 0

    @property
    def null_class(self) -> int:
        return self.net.null_class

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        self.calls += 1
        return self.net(x, t, cond)


def check_batched_guidance(fn: Callable[..., torch.Tensor]) -> bool:
    """``fn(model, x_t, t, cond, w)`` returns the guided ε̃ of :func:`genai_lib.diffusion.guided_eps` with one model call."""
    if not callable(fn):
        raise TypeError(f"answer must be a function fn(model, x_t, t, cond, w), got {type(fn).__name__}")
    from genai_lib.diffusion import guided_eps

    model = _CountingDenoiser().eval()
    gen = torch.Generator().manual_seed(29)
    x_t = torch.randn(6, 1, 8, 8, generator=gen)
    t = torch.tensor([999, 800, 500, 200, 50, 0])
    cond = torch.tensor([0, 3, 7, 9, 1, 3])
    for w in (0.0, 1.5, 4.0):
        with torch.no_grad():
            truth = guided_eps(model, x_t, t, cond, w)
            model.calls = 0
            try:
                out = fn(model, x_t.clone(), t.clone(), cond.clone(), w)
            except Exception as err:  # the reader's code failing is an answer, not a bug
                return _report(False, f"fn(model, x_t, t, cond, {w}) raised {type(err).__name__}: {err}")
        if not isinstance(out, torch.Tensor) or out.shape != x_t.shape:
            return _report(False, f"expected a tensor shaped like x_t {tuple(x_t.shape)}")
        if not torch.allclose(out, truth, atol=1e-5):
            return _report(False, f"at w = {w} the result differs from diffusion.guided_eps: are the halves in the "
                                  "right order (labels first, null label second)?")
        if model.calls != 1:
            return _report(False, f"the model was called {model.calls} times; stack the batch with itself and call it once.")
    return _report(True, "one call on 2B samples: the same numbers, one larger batch.")


def check_tilted_mean(answer: Any, w: float = 4.0) -> bool:
    """The mean of N(x; 1, 1) σ(2x)^w, normalised: the guided class 1 of the two-Gaussian toy (±1, unit variance)."""
    value = _number(answer)
    w = _number(w, "w")
    xs = torch.linspace(-12.0, 14.0, 52001, dtype=torch.float64)
    density = torch.exp(-0.5 * (xs - 1) ** 2) * torch.sigmoid(2 * xs) ** w
    truth = float((xs * density).sum() / density.sum())
    if math.isclose(value, truth, abs_tol=2e-3):
        return _report(True, f"{truth:.3f}: guidance pushes class 1 away from class 0 (the unguided mean is 1).")
    if math.isclose(value, 1.0, abs_tol=2e-3):
        return _report(False, "1 is the mean without guidance; multiply the density by σ(2x)^w before normalising.")
    return _report(False, f"expected about {truth:.3f} for w = {w:g}; normalise N(x; 1, 1) σ(2x)^w on a wide, fine grid.")
