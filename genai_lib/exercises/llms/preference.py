"""Checkers of the preference-optimisation chapter (book/llms/preference.md): the DPO loss, the optimal policy of
the KL-regularised objective, what β does, and the KL bound of best-of-n.

Each ``check_...`` prints ✔ or ✘ with a hint and returns ``True`` only for a right answer; its worked
answer follows it, printed on request by :func:`genai_lib.exercises.llms.solution`.
"""

from __future__ import annotations

import math
from typing import Any

from genai_lib.exercises._common import ask, matches, number, report
from genai_lib.exercises.llms._solutions import SOLUTIONS

__all__ = ["check_dpo_loss", "check_optimal_policy", "check_beta_effect", "check_best_of_n_kl"]


def check_dpo_loss(loss_fn: Any) -> bool:
    """Exercise: ``loss_fn(pi_w, pi_l, ref_w, ref_l, beta)`` returns the mean DPO loss
    −log σ(β[(π_w − ref_w) − (π_l − ref_l)]) over pairs (Rafailov et al. 2023, eq. 7)."""
    import torch
    import torch.nn.functional as F

    if not callable(loss_fn):
        raise TypeError(
            f"loss_fn must be a function (pi_w, pi_l, ref_w, ref_l, beta) -> loss, got {type(loss_fn).__name__}"
        )
    gen = torch.Generator().manual_seed(0)
    pw, pl, rw, rl = (torch.randn(9, generator=gen) * 4 - 20 for _ in range(4))
    pl[0] = pl[0] + 400.0  # one pair ordered very wrongly: log(sigmoid) underflows there
    beta = 0.3
    z = beta * ((pw - rw) - (pl - rl))
    truth = -F.logsigmoid(z).mean()
    try:
        got = loss_fn(pw.clone(), pl.clone(), rw.clone(), rl.clone(), beta)
    except Exception as err:  # the reader's code: report, do not crash
        return report(False, f"loss_fn raised {type(err).__name__}: {err}")
    if not isinstance(got, torch.Tensor) or got.numel() != 1:
        return report(
            False, "loss_fn must return a one-number tensor (the mean over pairs), so that .backward() works."
        )
    got = got.detach().reshape(()).double()
    if torch.isclose(got, truth.double(), rtol=1e-5, atol=1e-5):
        return report(True, "the mean of −log σ of β times the difference of the two log-ratios.")
    if not torch.isfinite(got):
        return report(False, "a very negative margin gives inf: log(sigmoid(z)) underflows; use F.logsigmoid.")
    if torch.isclose(got, -F.logsigmoid(z / beta).mean().double(), rtol=1e-5):
        return report(False, "where does β enter? It multiplies the log-ratios inside the sigmoid.")
    if torch.isclose(got, F.logsigmoid(z).mean().double(), rtol=1e-5):
        return report(False, "the sign: the loss is minus the log-likelihood of the preferences.")
    if torch.isclose(got, -F.logsigmoid(-z).mean().double(), rtol=1e-5):
        return report(False, "chosen and rejected are swapped: the chosen answer's log-ratio comes first.")
    if torch.isclose(got, -F.logsigmoid(z).sum().double(), rtol=1e-5):
        return report(False, "that is the sum over pairs; the loss is the mean.")
    return report(False, "not it: form the two log-ratios π − ref, take β times their difference, then −log σ, mean.")


def check_optimal_policy(answer: Any, *, ref: Any, reward: Any, beta: float) -> bool:
    """Exercise: the probability the optimal policy π* ∝ π_ref exp(r/β) gives the *last* answer."""
    value = number(answer)
    try:
        p, r = [float(v) for v in ref], [float(v) for v in reward]
    except TypeError as err:
        raise TypeError("ref and reward must be sequences of numbers") from err
    if len(p) != len(r) or not p:
        raise ValueError("ref and reward must be non-empty and of the same length")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta <= 0:
        raise ValueError(f"beta must be a number > 0, got {beta!r}")
    w = [pi * math.exp(ri / beta) for pi, ri in zip(p, r)]
    truth = w[-1] / sum(w)
    if matches(value, truth):
        return report(True, "the reference reweighted by exp(r/β), then normalised.")
    if matches(value, p[-1]):
        return report(False, "that is the reference's probability: the optimum reweights it by exp(r/β).")
    wb = [pi * math.exp(ri * beta) for pi, ri in zip(p, r)]
    if matches(value, wb[-1] / sum(wb)):
        return report(False, "divide the reward by β, do not multiply.")
    if matches(value, w[-1]):
        return report(False, "that weight is not normalised: divide by Z, the sum of all the weights.")
    e = [math.exp(ri / beta) for ri in r]
    if matches(value, e[-1] / sum(e)):
        return report(False, "the reference's probabilities are missing: π* ∝ π_ref · exp(r/β).")
    return report(False, f"{value:g} is not it: weigh each answer by π_ref · exp(r/β) and normalise.")


_BETA = {
    "a": "it makes DPO ignore the preference data",
    "b": "it weakens the pull towards the reference, so the policy may move further from it — more reward by the "
    "rule, more risk of answers that satisfy the rule and nothing else",
    "c": "it makes the DPO loss start below log 2",
    "d": "it only rescales the loss, so the trained policy is the same",
}


def check_beta_effect(answer: Any) -> bool:
    """Multiple choice: what does a smaller β do in DPO? Answer with a letter, e.g. ``check_beta_effect("d")``."""
    return ask(
        answer,
        _BETA,
        "b",
        "β weighs the KL to the reference in the objective; the optimum π_ref·exp(r/β) is sharper for small β.",
        {
            "a": "a small β makes the reward count for more next to the KL, not less.",
            "c": "at the start the policy is the reference: what is every margin then, whatever β is?",
            "d": "β sits inside the sigmoid: does it change which pairs still push the gradient?",
        },
    )


def check_best_of_n_kl(answer: Any, *, n: int) -> bool:
    """Exercise: the bound log n − (n − 1)/n on the KL of best-of-n from the reference, in nats."""
    value = number(answer)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    truth = math.log(n) - (n - 1) / n
    if matches(value, truth):
        return report(True, "log n − (n − 1)/n nats: it grows only like log n.")
    if matches(value, math.log(n)):
        return report(False, "log n is the looser bound; subtract (n − 1)/n.")
    if matches(value, math.log2(n) - (n - 1) / n):
        return report(False, "the book measures KL in nats: use the natural logarithm.")
    return report(False, f"{value:g} is not it: evaluate log n − (n − 1)/n with the natural logarithm.")


@SOLUTIONS.add("check_dpo_loss")
def _() -> tuple[str, str]:
    return (
        "-F.logsigmoid(beta * ((pi_w - ref_w) - (pi_l - ref_l))).mean()",
        "The implicit rewards are β times the log-ratios policy/reference; the loss is the negative log-likelihood "
        "of the preference under Bradley–Terry, −log σ(r_w − r_l), averaged over pairs. logsigmoid stays finite "
        "where log(sigmoid(z)) underflows.",
    )


@SOLUTIONS.add("check_optimal_policy")
def _() -> tuple[str, str]:
    return (
        "π_ref(y) exp(r(y)/β) / Σ_y' π_ref(y') exp(r(y')/β)",
        "Maximising E[r] − β KL(π ‖ π_ref) is minimising β KL(π ‖ π*) with π* ∝ π_ref exp(r/β); for ref "
        "(0.5, 0.3, 0.2), rewards (0, 1, 2) and β = 0.5 the last answer gets 0.2e⁴ / (0.5 + 0.3e² + 0.2e⁴) ≈ 0.801.",
    )


@SOLUTIONS.add("check_beta_effect")
def _() -> tuple[str, str]:
    return (
        f"(b) {_BETA['b']}",
        "β is the price of distance from the reference. A small β lets the policy drift to whatever the reward "
        "(or the preference labels) favour most, including answers the reward was never meant to favour.",
    )


@SOLUTIONS.add("check_best_of_n_kl")
def _() -> tuple[str, str]:
    return (
        "log n − (n − 1)/n",
        "Best-of-n's KL from the reference is at most log n − (n − 1)/n nats (Beirami et al. 2024); "
        "for n = 16, log 16 − 15/16 ≈ 1.835.",
    )
