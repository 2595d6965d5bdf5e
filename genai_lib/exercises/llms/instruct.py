"""Checkers of Chapter 7, instruction tuning (book/llms/instruction-tuning.md): the number of trained targets,
the masked loss, why markers are special tokens, and the logit a mean-initialised token starts with.

Each ``check_...`` prints ✔ or ✘ with a hint and returns ``True`` only for a right answer; its worked
answer follows it, printed on request by :func:`genai_lib.exercises.llms.solution`.
"""

from __future__ import annotations

from typing import Any

from genai_lib.exercises._common import ask, matches, number, report
from genai_lib.exercises.llms._solutions import SOLUTIONS

__all__ = ["check_answer_targets", "check_sft_loss", "check_special_tokens", "check_mean_init_logit"]


def check_answer_targets(answer: Any, *, instruction: str, reply: str) -> bool:
    """Exercise: how many targets of ``<|user|> instruction <|assistant|> reply <|end|>`` (character
    tokens) the answer mask keeps, out of how many targets the sequence has."""
    value = number(answer)
    if not isinstance(instruction, str) or not isinstance(reply, str):
        raise TypeError("instruction and reply must be str")
    truth = len(reply) + 1
    total = len(instruction) + len(reply) + 3 - 1
    if value == truth:
        return report(True, f"{truth}: the reply's characters and the <|end|> that closes it.")
    if value == len(reply):
        return report(False, "the model must also learn to stop: which token closes the answer?")
    if value == len(reply) + 2:
        return report(False, "<|assistant|> is part of the prompt the model is given, not something it must write.")
    if value in (total, total + 1):
        return report(False, "that counts every target; the mask keeps only what comes after <|assistant|>.")
    return report(False, f"{value:g} is not it: list the targets ids[1:] and mark those after <|assistant|>.")


def check_sft_loss(loss_fn: Any) -> bool:
    """Exercise: ``loss_fn(logits, y, mask)`` returns the mean cross-entropy over the targets where ``mask``
    is True (``y`` is -1 on padding)."""
    import torch
    import torch.nn.functional as F

    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a function (logits, y, mask) -> loss, got {type(loss_fn).__name__}")
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 7, 11, generator=gen) * 2
    y = torch.randint(11, (3, 7), generator=gen)
    y[0, 5:] = -1
    y[2, 6:] = -1
    mask = torch.zeros(3, 7, dtype=torch.bool)
    mask[0, 2:5], mask[1, 4:], mask[2, 3:6] = True, True, True
    per = F.cross_entropy(logits.transpose(1, 2), y.clamp(min=0), reduction="none")
    truth = per[mask].mean()
    try:
        got = loss_fn(logits.clone(), y.clone(), mask.clone())
    except Exception as err:  # the reader's code: report, do not crash
        return report(False, f"loss_fn raised {type(err).__name__}: {err}")
    if not isinstance(got, torch.Tensor) or got.numel() != 1:
        return report(False, "loss_fn must return a one-number tensor (the mean loss), so that .backward() works.")
    got = got.detach().reshape(())
    if torch.allclose(got, truth, atol=1e-5):
        return report(True, "the mean of -log p(target) over the answer positions only.")
    if torch.allclose(got, per[y >= 0].mean(), atol=1e-5):
        return report(False, "that is the loss over every real target: where does the mask enter?")
    if torch.allclose(got, per[mask].sum(), atol=1e-4):
        return report(False, "that is the sum; the loss is the mean over the kept targets.")
    if torch.allclose(got, (per * mask).mean(), atol=1e-5):
        return report(False, "the mean divides by every position, masked ones included: divide by the mask's count.")
    return report(
        False, "that is not it: take -log softmax(logits) at the target, keep the masked-in positions, average."
    )


_SPECIAL = {
    "a": "so that text a user types can never produce the markers, and the model cannot confuse them with words",
    "b": "because special tokens make the sequence shorter, which is their main purpose",
    "c": "because the base model already knows what they mean",
    "d": "because the loss is not computed on special tokens",
}


def check_special_tokens(answer: Any) -> bool:
    """Multiple choice: why mark the turns with special tokens rather than with text such as ``"Assistant:"``?
    Answer with a letter, e.g. ``check_special_tokens("b")``."""
    return ask(
        answer,
        _SPECIAL,
        "a",
        "encode() never returns a special id, so no text — a user's included — can open or close a turn; "
        "and a marker that is not text is never confused with the same letters inside an answer.",
        {
            "b": "one token or seven changes the length a little; what can a user do with a marker that is text?",
            "c": "the special rows are new: what did the base model learn about an id it never saw?",
            "d": "look at the answer mask: is <|end|> trained or not?",
        },
    )


def check_mean_init_logit(answer: Any, *, logits: Any) -> bool:
    """Exercise: the logit a new token initialised at the mean of the old rows gets, given the old tokens' ``logits``
    at one position (weight tying: logit = row · h)."""
    value = number(answer)
    try:
        values = [float(v) for v in logits]
    except TypeError as err:
        raise TypeError("logits must be a sequence of numbers") from err
    if not values:
        raise ValueError("logits must not be empty")
    truth = sum(values) / len(values)
    if matches(value, truth):
        return report(True, "the mean of the old logits: (mean of rows) · h = mean of (row · h).")
    if matches(value, max(values)) or matches(value, min(values)):
        return report(False, "a mean row is not the largest or smallest one: the dot product is linear in the row.")
    if matches(value, 0.0):
        return report(False, "the new row is not zero: it is the mean of the old rows; use linearity.")
    return report(False, f"{value:g} is not it: the logit is the row · h, and the row is an average of rows.")


@SOLUTIONS.add("check_answer_targets")
def _() -> tuple[str, str]:
    return (
        "len(reply) + 1",
        "The model reads ids[:-1] and predicts ids[1:]. The mask keeps the targets after <|assistant|>: each "
        "character of the reply and the closing <|end|>, which teaches the model to stop. The instruction, "
        "<|user|> and <|assistant|> are given, not trained.",
    )


@SOLUTIONS.add("check_sft_loss")
def _() -> tuple[str, str]:
    return (
        "F.cross_entropy(logits.transpose(1, 2), y.clamp(min=0), reduction='none')[mask].mean()",
        "Cross-entropy per position (the clamp only makes the padding's -1 a valid index; padding is never in "
        "the mask), then the mean over the positions the mask keeps — dividing by their number, not by B T.",
    )


@SOLUTIONS.add("check_special_tokens")
def _() -> tuple[str, str]:
    return (
        f"(a) {_SPECIAL['a']}",
        "The chat tokenizer's encode() is the base tokenizer's, which never returns a special id: a user who types "
        "'<|end|>' gets seven ordinary characters. Markers written as text ('Assistant:') could be typed by anyone "
        "to fake a turn, and can occur inside an answer. Their rows are new (the base model knows nothing of "
        "them), and <|end|> is trained — it is how the model learns to stop.",
    )


@SOLUTIONS.add("check_mean_init_logit")
def _() -> tuple[str, str]:
    return (
        "the mean of the given logits",
        "With weight tying the logit of token j is e_j · h. A new row e = (1/V) Σ_j e_j gives e · h = (1/V) Σ_j "
        "e_j · h, the mean of the old logits: the new token starts neither dominant nor impossible.",
    )
