"""Checkers of Chapter 6, fine-tuning (book/llms/finetuning.md): LoRA's trainable numbers, its break-even
rank, merging, its initialisation.

Each ``check_...`` prints ✔ or ✘ with a hint and returns ``True`` only for a right answer; its worked
answer follows it, printed on request by :func:`genai_lib.exercises.llms.solution`.
"""

from __future__ import annotations

import math
from typing import Any

from genai_lib.exercises._common import ask, count_hint, matches, number, report
from genai_lib.exercises.llms._solutions import SOLUTIONS

__all__ = [
    "check_lora_parameters",
    "check_lora_break_even",
    "check_lora_merge",
    "check_lora_init",
    "check_zero_init",
]


def _lora_shapes(config: Any) -> list[tuple[int, int]]:
    """(d_in, d_out) of the four matrices LoRA adapts in each block of a GPT with ``config``."""
    d = config.n_embd
    return [(d, 3 * d), (d, d), (d, 4 * d), (4 * d, d)] * config.n_layer


def check_lora_parameters(answer: Any, *, r: int, config: Any) -> bool:
    """Exercise: the numbers LoRA trains at rank ``r`` on the 4 projections of every block, Σ r (d_in + d_out)."""
    value = number(answer)
    if not all(hasattr(config, k) for k in ("n_embd", "n_layer")):
        raise TypeError(f"config must be a GPTConfig (with n_embd and n_layer), got {type(config).__name__}")
    shapes = _lora_shapes(config)
    truth = sum(r * (a + b) for a, b in shapes)
    if value == truth:
        return report(True, f"{truth:,}: r (d_in + d_out) summed over {len(shapes)} matrices.")
    if value == sum(2 * r * config.n_embd for _ in shapes):
        return report(False, "2 r d holds for a square d × d matrix only; W_qkv and the MLP's matrices are not square.")
    if value == sum(a * b for a, b in shapes):
        return report(False, "that is the size of the matrices themselves (what full fine-tuning trains).")
    if value == truth // config.n_layer:
        return report(False, f"that is one block; the model has {config.n_layer}.")
    if value == sum(r * a for a, _ in shapes) or value == sum(r * b for _, b in shapes):
        return report(False, "that counts only one of the two adapter matrices; LoRA trains both A and B.")
    hint = count_hint(value, truth)
    if hint:
        return report(False, hint)
    return report(
        False,
        f"{value:,.0f} is not it: each adapted matrix adds A (r × d_in) and B (d_out × r); what "
        "are d_in and d_out of each of the four matrices in a block?",
    )


def check_lora_break_even(answer: Any, *, d_in: int, d_out: int) -> bool:
    """Exercise: the rank at which LoRA's r (d_in + d_out) equals the matrix's d_in d_out."""
    value = number(answer)
    truth = d_in * d_out / (d_in + d_out)
    if matches(value, truth) or (not truth.is_integer() and value == math.ceil(truth)):
        return report(True, f"r = d_in d_out / (d_in + d_out) = {truth:g}.")
    if value in (min(d_in, d_out), max(d_in, d_out), d_in / 2, d_out / 2):
        return report(
            False,
            f"{value:g} would be right for a square matrix (r = d / 2) or is one side of the "
            "matrix; this one is not square: compare what LoRA trains with what the matrix holds.",
        )
    return report(False, f"{value:g} is not it: solve r (d_in + d_out) = d_in d_out for r.")


def check_lora_merge(merge: Any) -> bool:
    """Exercise: ``merge(layer)`` returns the merged weight ``W₀ + (α / r) B A`` of a ``LoRALinear``."""
    import torch

    from genai_lib.llm.lora import LoRALinear

    if not callable(merge):
        raise TypeError(f"merge must be a function of one LoRALinear, got {type(merge).__name__}")
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():  # a fixed test layer, without touching the reader's RNG
        torch.manual_seed(0)
        base = torch.nn.Linear(6, 10)
        layer = LoRALinear(base, r=3, alpha=12.0)
    with torch.no_grad():
        layer.lora_B.copy_(torch.randn(10, 3, generator=gen))
        truth = base.weight + layer.scaling * layer.lora_B @ layer.lora_A
        try:
            got = merge(layer)
        except Exception as err:  # the reader's code: report, do not crash
            return report(False, f"merge(layer) raised {type(err).__name__}: {err}")
    if not isinstance(got, torch.Tensor):
        return report(False, f"merge(layer) must return a tensor, got {type(got).__name__}")
    if tuple(got.shape) != tuple(truth.shape):
        return report(
            False,
            f"the merged weight has the base weight's shape {tuple(truth.shape)}, got "
            f"{tuple(got.shape)}: B (d_out × r) goes on the left of A (r × d_in).",
        )
    got = got.detach()
    if torch.allclose(got, truth, atol=1e-5):
        x = torch.randn(4, 6, generator=gen)
        with torch.no_grad():
            same = torch.allclose(x @ got.T + base.bias, layer(x), atol=1e-5)
        return report(
            same,
            "W₀ + (α/r) B A: the merged layer computes what the adapted one does."
            if same
            else "the weight is right but does not reproduce the layer; report this as a bug.",
        )
    with torch.no_grad():
        if torch.allclose(got, base.weight + layer.lora_B @ layer.lora_A, atol=1e-5):
            return report(False, "the scale α / r (layer.scaling) is missing.")
        if torch.allclose(got, layer.scaling * layer.lora_B @ layer.lora_A, atol=1e-5):
            return report(False, "that is only the update; the merged layer still needs the frozen weight.")
        if torch.allclose(got, base.weight, atol=1e-5):
            return report(False, "that is the frozen weight alone; the adapters' update is missing.")
        if torch.allclose(got, base.weight + layer.lora_B @ layer.lora_A / layer.scaling, atol=1e-5):
            return report(False, "the scale divides where it should multiply.")
    return report(
        False,
        "that is not the weight the adapted layer computes with: write its output "
        "W₀x + (α/r)·B(Ax) as one matrix times x.",
    )


_LORA_INIT = {
    "a": "so that step 0 is exactly the pre-trained model, while the gradient of B is not zero",
    "b": "so that the adapters stay zero and the model cannot forget",
    "c": "it does not matter: A = 0 and B = 0 would train just as well",
    "d": "to halve the number of trainable numbers",
}


def check_lora_init(answer: Any) -> bool:
    """Multiple choice: LoRA starts with B = 0 and a random A. Why?
    Answer with a letter, e.g. ``check_lora_init("b")``."""
    return ask(
        answer,
        _LORA_INIT,
        "a",
        "BA = 0 leaves W_0 untouched at step 0, and by Eq. (eq-ft-grads) the gradient of B is proportional to Ax, "
        "which is not zero: learning starts at once.",
        {
            "b": "re-read Eq. (eq-ft-grads): with A ≠ 0, is the gradient of B zero after the first batch?",
            "c": "re-read Eq. (eq-ft-grads) with A = 0 and B = 0: which gradient is left to move either?",
            "d": "B = 0 is a starting value, not a removal: re-read Eq. (eq-ft-count).",
        },
    )


def check_zero_init(losses_zero: Any, losses_standard: Any) -> bool:
    """Change-and-run: the losses of two trainings of the chapter's LoRA layer on the same task, one with A and B
    both zero at the start (``losses_zero``), one with LoRA's init, random A and B = 0 (``losses_standard``)."""
    series = {}
    for name, losses in (("losses_zero", losses_zero), ("losses_standard", losses_standard)):
        if isinstance(losses, (str, bytes)) or not hasattr(losses, "__len__"):
            raise TypeError(f"{name} must be a list of the training losses, got {type(losses).__name__}")
        series[name] = [number(v, name) for v in losses]
        if len(series[name]) < 20:
            raise ValueError(f"{name} must hold at least 20 losses (train for 100 steps), got {len(series[name])}")
    zero, standard = series["losses_zero"], series["losses_standard"]
    zero_moved = max(zero) - min(zero) > 1e-6 * abs(zero[0])
    standard_fell = standard[-1] < 0.95 * standard[0]
    if zero_moved and not standard_fell and standard[-1] >= standard[0] * 0.999:
        return report(
            False,
            "the run that learned is the first argument: are they the other way round (zero initialisation first)?",
        )
    if zero_moved:
        return report(
            False,
            "the zero-initialised layer learned: were A *and* B zero before the first step? "
            "B is zero already; set A to zero too (torch.no_grad(), layer.A.zero_()).",
        )
    if not standard_fell:
        return report(
            False,
            "the standard layer barely learned either: does its optimiser get layer.A and "
            "layer.B, and did it train for 100 steps?",
        )
    return report(
        True,
        f"with A = B = 0 the loss never moved ({zero[0]:.4f} at every step); with a random A it "
        f"fell by {100 * (1 - standard[-1] / standard[0]):.0f} %. Each gradient is proportional to "
        "the other matrix, Eq. (eq-ft-grads): both zero is a saddle no optimiser leaves.",
    )


# -- the solutions, printed on request ------------------------------------------------------------


@SOLUTIONS.add("check_zero_init")
def _() -> tuple[str, str]:
    return (
        "train two copies of the page's LoRA layer 100 steps with Adam (lr 1e-2) to imitate another matrix "
        "(e.g. block 2's c_fc), one after torch.no_grad(): layer.A.zero_(); pass both loss lists",
        "With A = B = 0 every gradient of Eq. (eq-ft-grads) is a product with the other, zero, matrix: the "
        "loss stays exactly where it started at every step, for every seed. With LoRA's random A the gradient "
        "of B is not zero, B moves on the first step and A on the second; in the exercise's task the loss "
        "fell by 16-17 % in 100 steps for seeds 0, 1 and 2.",
    )


@SOLUTIONS.add("check_lora_init")
def _() -> tuple[str, str]:
    return (
        f"(a) {_LORA_INIT['a']}",
        "With B = 0 the product BA is zero, so the fine-tuned model starts exactly at the pre-trained one. The "
        "gradient of the loss with respect to B is proportional to Ax (Eq. (eq-ft-grads)), so a random A lets B "
        "move from the first step; with both at zero each gradient would be proportional to the other, zero, "
        "matrix and nothing would ever train. Both matrices are trained: r(d_in + d_out) numbers per matrix.",
    )


@SOLUTIONS.add("check_lora_parameters")
def _() -> tuple[str, str]:
    return (
        "8 · (512 + 256 + 640 + 640) per block × 4 blocks = 65,536",
        "By Eq. (eq-ft-count) each adapted matrix trains r (d_in + d_out) numbers: W_qkv 128 → 384, W_O 128 → 128, "
        "the MLP's 128 → 512 and 512 → 128. That is 7.8 % of the 844 thousand parameters, over a 5 % budget; "
        "rank 4 halves it.",
    )


@SOLUTIONS.add("check_lora_break_even")
def _() -> tuple[str, str]:
    return (
        "r = 128 · 384 / (128 + 384) = 96",
        "Solve r (d_in + d_out) = d_in d_out. A larger rank trains more numbers than the matrix has and still "
        "cannot express more than a full ΔW (whose rank is at most 128): LoRA only pays when r is small.",
    )


@SOLUTIONS.add("check_lora_merge")
def _() -> tuple[str, str]:
    return (
        "def merge(layer):\n    return layer.base.weight + layer.scaling * layer.lora_B @ layer.lora_A",
        "The adapted layer computes W₀x + (α/r) B(Ax) = (W₀ + (α/r) B A) x. B goes on the left because it maps "
        "the r-dimensional code back to d_out.",
    )
