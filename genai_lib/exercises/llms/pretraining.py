"""Checkers of Chapter 4, pre-training (book/llms/pretraining.md): perplexity, the loss of an untrained
model, tokens seen, the loss floor, the learning rate.

Each ``check_...`` prints ✔ or ✘ with a hint and returns ``True`` only for a right answer; its worked
answer follows it, printed on request by :func:`genai_lib.exercises.llms.solution`.
"""

from __future__ import annotations

import math
from typing import Any

from genai_lib.exercises._common import NEAR, ask, count_hint, matches, near, number, report
from genai_lib.exercises.llms._solutions import SOLUTIONS

__all__ = [
    "check_perplexity",
    "check_initial_loss",
    "check_tokens_seen",
    "check_loss_floor",
    "check_low_lr",
]


def check_perplexity(answer: Any, *, nats: float) -> bool:
    """Exercise: the perplexity ``exp(loss)`` of a model whose loss is ``nats`` per token."""
    value = number(answer)
    nats = number(nats, "nats")
    truth = math.exp(nats)
    if matches(value, truth):
        return report(True, f"e^{nats:g} = {truth:.3f}: as unsure as a fair choice among {truth:.1f} tokens.")
    if matches(value, 2**nats):
        return report(False, "that treats the loss as bits; this loss is in nats.")
    if matches(value, nats / math.log(2)):
        return report(False, "that is the loss in bits; perplexity is a number of equally likely choices.")
    if matches(value, 10**nats):
        return report(False, "the loss is in nats, natural logarithms: the base is e, not 10.")
    if near(value, truth):
        return report(False, NEAR)
    return report(
        False, f"{value:g} is not it: revisit how perplexity relates to the loss in nats, Eq. (eq-pre-units)."
    )


def check_initial_loss(answer: Any, *, vocab_size: int) -> bool:
    """Exercise: the loss of an untrained model that predicts uniformly over ``vocab_size`` tokens, ln V."""
    value = number(answer)
    truth = math.log(vocab_size)
    if matches(value, truth):
        return report(True, f"ln {vocab_size} = {truth:.3f} nats: every token gets probability 1/{vocab_size}.")
    if matches(value, math.log2(vocab_size)):
        return report(False, "that is the loss in bits; the loss here is in nats (natural log).")
    if matches(value, math.log(vocab_size + 256)):
        return report(False, "that counts 256 byte-fallback ids the question's tokenizer does not have.")
    if matches(value, 1 / vocab_size):
        return report(False, "that is the probability each token gets; the loss is the cross-entropy of it.")
    if near(value, truth):
        return report(False, NEAR)
    return report(
        False,
        f"{value:g} is not it: an untrained model gives every one of the V tokens the same "
        "probability; what is the cross-entropy of the right token then?",
    )


def check_tokens_seen(answer: Any, *, steps: int, batch_size: int, block_size: int) -> bool:
    """Exercise: how many next-token predictions training makes: steps × batch_size × block_size."""
    value = number(answer)
    truth = steps * batch_size * block_size
    if value == truth:
        return report(True, f"{truth:,} predictions: {steps:,} steps × {batch_size} windows × {block_size} positions.")
    if value == steps * batch_size * (block_size + 1):
        return report(
            False,
            f"a window holds {block_size + 1} characters but gives {block_size} predictions "
            "(the first character has no prediction of its own).",
        )
    if value in (steps * batch_size, steps * block_size, batch_size * block_size):
        return report(
            False,
            "every step trains on batch_size windows and every window on block_size positions: "
            "one of the three factors is missing.",
        )
    hint = count_hint(value, truth)
    if hint:
        return report(False, hint)
    return report(
        False,
        f"{value:,.0f} is not it: how many windows does one step read, how many predictions does "
        "each window give, and how many steps are there?",
    )


_LOSS_FLOOR = {
    "a": "the learning rate is finite, so the last steps always overshoot",
    "b": "an untrained model starts at ln V, and training can only remove a fixed share of that",
    "c": "the cross-entropy is the text's own entropy plus a KL divergence, and the entropy is above 0: the "
    "next character is genuinely uncertain",
    "d": "76 characters are too few outputs to express Shakespeare",
}


def check_loss_floor(answer: Any) -> bool:
    """Multiple choice: why can a language model's held-out loss not reach 0, however large the model?
    Answer with a letter, e.g. ``check_loss_floor("b")``."""
    return ask(
        answer,
        _LOSS_FLOOR,
        "c",
        "Eq. (eq-pre-kl): the loss is H(p_data) + KL(p_data ‖ p_θ). Training can only shrink the KL term; the "
        "entropy of the text itself — how unpredictable the next character is — remains.",
        {
            "a": "re-read Eq. (eq-pre-kl): even a model that reached its optimum exactly would keep one of "
            "the two terms.",
            "b": "ln V is where training starts, not a limit on where it ends: re-read Eq. (eq-pre-kl) for "
            "what bounds the loss from below.",
            "d": "a distribution over 76 outputs can put any probabilities on them: re-read Eq. (eq-pre-kl) "
            "for the term no model can remove.",
        },
    )


#: How much worse the width-32 scaling model ends after 150 steps with a ten times lower peak learning rate:
#: 4.38 vs 2.75, 4.31 vs 2.76, 4.35 vs 2.75 nats (seeds 0, 1, 2): a gap of 1.55-1.62, against this bound of 0.5.
_LOW_LR_GAP = 0.5


def check_low_lr(loss_low: Any, loss_default: Any) -> bool:
    """Change-and-run: the held-out loss of a width-32 GPT (4 layers, 4 heads) trained for 150 steps with a
    ten times lower peak learning rate (``loss_low``), next to the same model and seed with the recipe's rate
    (``loss_default``)."""
    low, default = number(loss_low, "loss_low"), number(loss_default, "loss_default")
    gap = low - default
    if gap < -0.05:
        return report(
            False,
            "the lower learning rate ended lower: are the two arguments the other way round "
            "(the run with lr=3e-4 first)?",
        )
    if abs(gap) <= 0.05:
        return report(
            False,
            "the two runs ended at the same loss: did the second one really train with "
            "llm.TrainConfig(steps=150, seed=SEED, lr=3e-4)?",
        )
    if gap >= _LOW_LR_GAP:
        return report(
            True,
            f"{gap:.2f} nats worse at the same number of steps: with a ten times smaller step "
            "the model has barely left its starting loss when the schedule ends. A learning rate "
            "is chosen for a budget of steps.",
        )
    return report(
        False,
        f"only {gap:.2f} nats worse: did both runs use the width-32 model, the same seed and "
        "150 steps, with lr=3e-4 (ten times below the recipe's 3e-3) for the first?",
    )


# -- the solutions, printed on request ------------------------------------------------------------


@SOLUTIONS.add("check_low_lr")
def _() -> tuple[str, str]:
    return (
        "def small_run(lr): genai_lib.seed_everything(SEED); m = llm.GPT(llm.GPTConfig(vocab_size=V, "
        "block_size=64, n_layer=4, n_head=4, n_embd=32)); llm.train_gpt(m, train_ids, llm.TrainConfig(steps=150, "
        "seed=SEED, lr=lr)); return llm.evaluate(m, val_ids, max_windows=500)\n"
        "ex.check_low_lr(small_run(3e-4), small_run(3e-3))",
        "With lr = 3e-4 the width-32 model ends at about 4.3-4.4 nats after 150 steps, against 2.75 with the "
        "recipe's 3e-3 (seeds 0, 1 and 2): 1.55-1.62 nats worse, barely below where it started. Ten times "
        "higher, 3e-2, is worse too (2.9-3.1 nats), and noisier: the curve spikes. The best rate depends on "
        "the model and the budget of steps, which is why it is tuned, and why the recipe warms up and decays.",
    )


@SOLUTIONS.add("check_perplexity")
def _() -> tuple[str, str]:
    return (
        f"e^1.5 ≈ {math.exp(1.5):.2f}",
        "Perplexity is e^loss for a loss in nats, Eq. (eq-pre-units): the model is as unsure as a fair choice "
        f"among about four and a half characters. In bits the loss is 1.5 / ln 2 ≈ {1.5 / math.log(2):.2f} bits "
        "per character.",
    )


@SOLUTIONS.add("check_initial_loss")
def _() -> tuple[str, str]:
    return (
        f"ln 76 ≈ {math.log(76):.2f} nats",
        "An untrained model predicts close to uniformly, probability 1/V for the right token, so its "
        f"cross-entropy is ln V. That is ln(332/76) ≈ {math.log(332 / 76):.2f} nats below this chapter's "
        "untrained model, whose 256 byte-fallback ids take probability mass; training quickly learns never to "
        "predict them.",
    )


@SOLUTIONS.add("check_tokens_seen")
def _() -> tuple[str, str]:
    return (
        "STEPS × 12 × 64 (1,152,000 at STEPS = 1500)",
        "Each step reads 12 windows and each window gives 64 predictions (a window of 65 characters has no "
        "prediction for its first). That is about 27 % of the 4.3 million training characters; at 50,000 steps "
        "the model would read the text about nine times and eventually overfit.",
    )


@SOLUTIONS.add("check_loss_floor")
def _() -> tuple[str, str]:
    return (
        f"(c) {_LOSS_FLOOR['c']}",
        "The cross-entropy of Eq. (eq-pre-nll) splits into the entropy of the text plus the KL divergence from "
        "the data to the model, Eq. (eq-pre-kl). The KL is ≥ 0 and training drives it down; the entropy is a "
        "property of the text — given the context, the next character is genuinely uncertain — and no model "
        "can go below it. A perfect model's loss is that entropy, not 0.",
    )
