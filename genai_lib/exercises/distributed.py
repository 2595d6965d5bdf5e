"""Checkers for the exercises of "Training on many devices" (book/llms/distributed.md).

Each ``check_...`` prints ✔ or ✘ with a hint and returns ``True`` only for a right answer; a wrong
answer gets a hint, never the expected value. ``solution(name)`` prints the answer and why:
``solution("check_ring_bytes")``. Numbers are accepted to 3 significant figures.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from genai_lib.exercises._common import NEAR, Solutions, ask, matches, near, number, report

__all__ = [
    "check_ring_bytes",
    "check_all_reduce",
    "check_four_micro_batches",
    "check_global_batch",
    "check_zero_memory",
    "zero_bytes_per_device",
    "solution",
]

_SOLUTIONS = Solutions("genai_lib.exercises.distributed")


def solution(name: str) -> None:
    """Print the answer of the exercise that checker ``name`` checks, with a short explanation.

    ``name`` is the checker's name, e.g. ``solution("check_ring_bytes")``; a wrong name raises a
    ValueError that lists the valid names.
    """
    _SOLUTIONS.show(name)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return value


# -- the ring all-reduce ---------------------------------------------------------------------------


def check_ring_bytes(answer: Any, *, n_ranks: int, n_bytes: float) -> bool:
    """Exercise: the bytes each of ``n_ranks`` ranks sends in a ring all-reduce of ``n_bytes``,
    Eq. (eq-dist-ring): ``2 (N - 1) / N · n_bytes`` (Patarasuk & Yuan 2009)."""
    value = number(answer)
    n = _positive_int(n_ranks, "n_ranks")
    size = number(n_bytes, "n_bytes")
    truth = 2 * (n - 1) / n * size
    if matches(value, truth):
        return report(True, "2(N - 1)/N · bytes: N - 1 chunks of 1/N in the reduce-scatter, as many in the all-gather.")
    if near(value, truth):
        return report(False, NEAR)
    if n > 1 and matches(value, (n - 1) / n * size):
        return report(False, "that is the reduce-scatter alone: after it each rank holds one summed chunk; the "
                      "all-gather must still deliver the other N - 1 summed chunks to it.")  # fmt: skip
    if n > 1 and matches(value, (n - 1) * size):
        return report(False, "that is sending the whole gradient to each of the other ranks (or N - 1 whole "
                      "gradients round a ring): the ring passes chunks of 1/N of it, one per step.")  # fmt: skip
    if n > 1 and matches(value, 2 * (n - 1) * size):
        return report(False, "each of the 2(N - 1) steps sends one chunk, 1/N of the bytes, not all of them.")
    if matches(value, 2 * size):
        return report(False, "that is the limit for many ranks; with N ranks the factor is 2(N - 1)/N, a little less.")
    if matches(value, truth / 4) or matches(value, truth * 4):
        return report(False, "count bytes, not values (float32: 4 bytes per value), and use n_bytes as given.")
    return report(False, "count the steps (reduce-scatter, then all-gather) and what one step sends: one chunk.")


def _reference_sum(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack([t.double() for t in tensors]).sum(0)


def check_all_reduce(answer: Callable[[list[torch.Tensor]], list[torch.Tensor]]) -> bool:
    """Exercise: ``answer(tensors)`` takes every rank's 1-D tensor and returns every rank's copy of their
    element-wise sum (an all-reduce, simulated in one process), for any number of ranks and length."""
    if not callable(answer):
        raise TypeError(f"answer must be a function of a list of tensors, got {type(answer).__name__}")
    gen = torch.Generator().manual_seed(0)
    for n, length in [(2, 8), (3, 9), (4, 10), (5, 3), (1, 4), (4, 1)]:
        tensors = [torch.randn(length, generator=gen, dtype=torch.float64) for _ in range(n)]
        copies = [t.clone() for t in tensors]
        try:
            out = answer(copies)
        except Exception as err:  # the reader's code: report, do not raise
            return report(False, f"with {n} ranks and {length} values your function raised {type(err).__name__}: {err}")
        if not isinstance(out, (list, tuple)) or len(out) != n:
            return report(False, f"with {n} ranks, return a list of {n} tensors, one per rank.")
        truth = _reference_sum(tensors)
        for r, t in enumerate(out):
            if not isinstance(t, torch.Tensor) or t.shape != truth.shape:
                return report(False, f"rank {r}'s result must be a tensor of the input's shape ({length},).")
            if torch.allclose(t.double(), truth / n, atol=1e-9) and n > 1:
                return report(False, "that is the mean; an all-reduce sums (DDP divides the sum by N itself).")
            if not torch.allclose(t.double(), truth, atol=1e-9):
                ok_ranks = sum(torch.allclose(o.double(), truth, atol=1e-9) for o in out if isinstance(o, torch.Tensor))
                return report(
                    False,
                    f"with {n} ranks and {length} values, rank {r}'s copy is not the sum ({ok_ranks} of {n} are): "
                    "check which chunk each rank sends at each step, and a length that N does not divide.",
                )
    return report(True, "every rank ends with the sum, for 1 to 5 ranks and lengths that do or do not divide.")


# -- runs of the command line ----------------------------------------------------------------------


def _run(directory: Any, name: str) -> tuple[dict, dict[str, torch.Tensor]]:
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"{name} must be the --out directory of a run, got {type(directory).__name__}")
    path = Path(directory)
    if not (path / "metrics.json").is_file() or not (path / "model.safetensors").is_file():
        raise ValueError(f"{name}={str(path)!r} holds no finished run (metrics.json and model.safetensors)")
    import safetensors.torch

    return json.loads((path / "metrics.json").read_text()), safetensors.torch.load_file(str(path / "model.safetensors"))


def check_four_micro_batches(run: Any, reference: Any) -> bool:
    """Exercise: ``run`` (a directory) is one process accumulating four micro-batches to the global batch of
    ``reference`` (the chapter's two-process run), and ends with its weights (to float rounding: the
    difference is under 10⁻³ of the weights' norm)."""
    mine, w_mine = _run(run, "run")
    ref, w_ref = _run(reference, "reference")
    if mine.get("world_size") != 1:
        return report(False, "launch it as one process (python -m genai_lib.llm.train, not torchrun).")
    if mine["train_config"]["grad_accum"] != 4:
        return report(False, "accumulate four micro-batches per step: --grad-accum 4.")
    if mine["global_batch"] != ref["global_batch"]:
        return report(False, "the global batch, batch size × processes × accumulation, must equal the reference's; "
                      "choose --batch-size accordingly.")  # fmt: skip
    for key in ("seed", "steps", "lr", "min_lr", "warmup_steps"):
        if mine["train_config"][key] != ref["train_config"][key]:
            return report(
                False, f"use the reference's --{key.replace('_', '-')}: only the split of the batch may change."
            )
    if mine["model_config"] != ref["model_config"]:
        return report(False, "train the same model (the reference's --n-layer, --n-head, --n-embd, --block-size).")
    # Relative to the weights' norm: float rounding differs with the order of the sums, and Adam turns the
    # rounding noise of gradients that are exactly zero in theory (the attention keys' bias) into small steps.
    mine_flat = torch.cat([w_mine[k].double().flatten() for k in sorted(w_ref)])
    ref_flat = torch.cat([w_ref[k].double().flatten() for k in sorted(w_ref)])
    rel = ((mine_flat - ref_flat).norm() / ref_flat.norm()).item()
    if rel > 1e-3:
        return report(
            False, f"the weights differ by {rel:.1%} of their norm: is the text file the same, and the device?"
        )
    return report(
        True,
        f"the same weights up to rounding ({rel:.0e} of their norm): 4 micro-batches of "
        f"{ref['global_batch'] // 4} windows take the steps of 2 processes with their shards.",
    )


_GLOBAL_BATCH = {
    "a": "the same updates, four times faster, with nothing else to change",
    "b": "each update averages over a global batch four times larger: fewer, less noisy updates, "
    "and the learning rate (and the number of steps) may need retuning",
    "c": "the four copies of the model drift apart, since each sees different data",
    "d": "each GPU needs a quarter of the memory for weights, gradients and optimiser state",
}


def check_global_batch(answer: Any) -> bool:
    """Exercise: four GPUs with the same --batch-size as one; what changes? (multiple choice)."""
    return ask(
        answer,
        _GLOBAL_BATCH,
        "b",
        "the global batch is batch size × 4: each step's gradient is an average over 4 times as many windows, "
        "Eq. (eq-dist-global). Per token seen, the steps are fewer; keep the global batch or retune the rate.",
        {
            "a": "one process with --batch-size 12 and four with --batch-size 12 draw different global batches: "
            "are their updates the same?",
            "c": "what does the all-reduce give every rank before the optimiser step?",
            "d": "data parallelism replicates the model: each rank holds all of it (see the memory section).",
        },
    )


# -- memory ------------------------------------------------------------------------------------------


def zero_bytes_per_device(params: float, n_ranks: int, stage: int) -> float:
    """Bytes of model state per device for mixed-precision Adam (Rajbhandari et al. 2020): 2 P for 16-bit
    weights, 2 P for 16-bit gradients, 12 P for the optimiser's float32 weights and two moments;
    ZeRO stage 1 shards the 12 P over the ranks, stage 2 also the gradients, stage 3 (FSDP) everything;
    stage 0 is plain data parallelism, Eq. (eq-dist-zero)."""
    p, n = number(params, "params"), _positive_int(n_ranks, "n_ranks")
    if stage not in (0, 1, 2, 3):
        raise ValueError(f"stage must be 0, 1, 2 or 3, got {stage!r}")
    return {0: 16 * p, 1: 4 * p + 12 * p / n, 2: 2 * p + 14 * p / n, 3: 16 * p / n}[stage]


def check_zero_memory(answer: Any, *, params: float, n_ranks: int, stage: int) -> bool:
    """Exercise: model-state gigabytes (10⁹ bytes) per device at ZeRO ``stage``, Eq. (eq-dist-zero)."""
    value = number(answer)
    truth = zero_bytes_per_device(params, n_ranks, stage) / 1e9
    if matches(value, truth):
        return report(True, f"ZeRO stage {stage} on {n_ranks} devices: what is sharded is divided by N.")
    if near(value, truth):
        return report(False, NEAR)
    for other in (0, 1, 2, 3):
        if other != stage and matches(value, zero_bytes_per_device(params, n_ranks, other) / 1e9):
            return report(False, f"that is stage {other}'s memory: which of weights, gradients and optimiser "
                          f"state does stage {stage} shard?")  # fmt: skip
    if matches(value, truth * 1e9) or matches(value, truth * 2**30 / 1e9) or matches(value, truth * 1e9 / 2**30):
        return report(False, "give gigabytes as 10⁹ bytes.")
    if matches(value, 4 * number(params) / 1e9) or matches(value, 2 * number(params) / 1e9):
        return report(False, "that is the weights alone; count the gradients and Adam's state as well (16 bytes "
                      "per parameter in all).")  # fmt: skip
    return report(False, "count 16 bytes per parameter (2 + 2 + 12), then divide what the stage shards by N.")


# -- solutions ----------------------------------------------------------------------------------------


@_SOLUTIONS.add("check_ring_bytes")
def _() -> tuple[str, str]:
    p = 124_439_808
    return (
        f"2 · 7/8 · 4 · {p:,} bytes = {2 * 7 / 8 * 4 * p / 1e6:,.0f} MB per rank for GPT-2 small on 8 ranks",
        "The ring splits the gradient into N chunks. In the reduce-scatter each rank sends one chunk per step for "
        "N - 1 steps, after which each holds one fully summed chunk; the all-gather passes the summed chunks on for "
        "N - 1 more steps. 2(N - 1) chunks of bytes/N each: 2(N - 1)/N · bytes, nearly independent of N.",
    )


@_SOLUTIONS.add("check_all_reduce")
def _() -> tuple[str, str]:
    return (
        "def all_reduce(tensors): return ring_all_reduce(tensors) (the page's function), or "
        "[torch.stack(tensors).sum(0) for _ in tensors]",
        "Any correct all-reduce gives every rank the element-wise sum. The page's ring version splits each tensor "
        "with torch.tensor_split (which allows lengths that N does not divide), runs N - 1 reduce-scatter steps and "
        "N - 1 all-gather steps, and concatenates the chunks again.",
    )


@_SOLUTIONS.add("check_four_micro_batches")
def _() -> tuple[str, str]:
    return (
        "python -m genai_lib.llm.train (the page's ARGS) --batch-size 3 --grad-accum 4 --out four, then "
        "check_four_micro_batches('four', TWO_DIR)",
        "The reference's global batch is 6 windows × 2 processes = 12; one process reaches it with 4 micro-batches "
        "of 3. It draws the same 12 windows from the same generator, sums the gradients of the 4 quarter-batch "
        "mean losses divided by 4 and steps once: the mean gradient of Eq. (eq-dist-mean), so the weights agree to "
        "float rounding.",
    )


@_SOLUTIONS.add("check_global_batch")
def _() -> tuple[str, str]:
    return (
        f"(b) {_GLOBAL_BATCH['b']}",
        "Data parallelism with a fixed per-device batch multiplies the global batch by the number of devices. The "
        "gradient noise falls, the number of updates per epoch falls, and the learning rate tuned for the smaller "
        "batch is no longer the best one (Goyal et al. 2017; McCandlish et al. 2018). To repeat a one-device run "
        "exactly, divide --batch-size by the number of devices, or use --grad-accum on one device.",
    )


@_SOLUTIONS.add("check_zero_memory")
def _() -> tuple[str, str]:
    p = 1_557_611_200
    return (
        f"stage 3, 8 devices, GPT-2 XL: 16 · {p:,} / 8 bytes = {16 * p / 8 / 1e9:.2f} GB",
        "Mixed-precision Adam keeps 16 bytes per parameter: 2 (16-bit weights) + 2 (16-bit gradients) + 12 "
        "(float32 weights, first and second moments). Stage 1 divides the 12 by N, stage 2 the 2 + 12, stage 3 "
        "all 16; activations and temporary buffers come on top.",
    )
