"""Data parallelism on PyTorch's own engine: ``torchrun`` and DistributedDataParallel.

Every process (a *rank*) holds a full copy of the model and computes the gradient of the loss on its
own shard of each global batch; DistributedDataParallel (DDP) then averages the gradients over the
ranks with an all-reduce — gloo on CPUs, NCCL on CUDA GPUs — overlapping it with the backward pass.
Because the gradient of a mean is the mean of the gradients, N ranks on equal shards take the same
step as one process that sees the whole global batch, or one that accumulates it in N micro-batches
(``grad_accum``): ``tests/test_distributed.py`` trains both ways and compares the weights.

* :func:`setup` joins the process group that ``torchrun`` describes in the environment (``RANK``,
  ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``); without it, the run is a single
  process and nothing is initialised;
* :func:`shard` takes this rank's rows of a global batch; :func:`wrap` wraps a model in DDP (or not,
  for one process); :func:`train_step` does one update with gradient accumulation, skipping DDP's
  all-reduce for every micro-batch but the last (``no_sync``); :func:`mean_over_ranks` averages a
  logged number and :func:`gather_over_ranks` collects every rank's list of them; :func:`teardown`
  leaves the group.

Launch: ``torchrun --standalone --nproc_per_node=2 your_script.py``, or the book's GPT training
command: ``torchrun --standalone --nproc_per_node=2 -m genai_lib.llm.train --text FILE --steps N``
(:class:`genai_lib.llm.train.GPTTrainer` takes a :class:`Ranks`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from genai_lib._checks import check_float, check_int

__all__ = ["Ranks", "setup", "teardown", "shard", "wrap", "train_step", "mean_over_ranks", "gather_over_ranks"]


@dataclass(frozen=True)
class Ranks:
    """Where this process stands: its ``rank`` of ``world_size``, and the device it computes on."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs, evaluates and writes checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str) -> int | None:
    text = os.environ.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {text!r}") from None


def setup(device: str | torch.device | None = None) -> Ranks:
    """Join the process group ``torchrun`` set up, or describe a single process.

    The backend is NCCL when this rank computes on CUDA, gloo otherwise. On CUDA each rank takes
    the GPU of its ``LOCAL_RANK``.

    Args:
        device: ``"cpu"`` or ``"cuda"`` (default: CUDA when available, else the CPU).

    Returns:
        The :class:`Ranks` of this process.

    Raises:
        ValueError: if torchrun's variables are malformed, or ``device`` is not cpu or cuda.
    """
    world = _env_int("WORLD_SIZE") or 1
    rank = _env_int("RANK") or 0
    local = _env_int("LOCAL_RANK") or 0
    if not 0 <= rank < world:
        raise ValueError(f"RANK must be in [0, WORLD_SIZE={world}), got {rank}")
    kind = torch.device(device).type if device is not None else ("cuda" if torch.cuda.is_available() else "cpu")
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    here = torch.device("cuda", local) if kind == "cuda" else torch.device("cpu")
    if kind == "cuda":
        torch.cuda.set_device(here)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if kind == "cuda" else "gloo", rank=rank, world_size=world)
    return Ranks(rank=rank, world_size=world, local_rank=local, device=here)


def teardown() -> None:
    """Leave the process group (if this process joined one)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(batch: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """This rank's contiguous share of a global batch (rows ``rank * B/N`` to ``(rank + 1) * B/N``).

    Raises:
        ValueError: if the batch's rows do not divide evenly among the ranks (unequal shards would
            weight some examples more than others in the averaged gradient).
    """
    rows = batch.shape[0]
    if rows % ranks.world_size:
        raise ValueError(f"batch has {rows} rows, which {ranks.world_size} ranks cannot share equally")
    size = rows // ranks.world_size
    return batch[ranks.rank * size : (ranks.rank + 1) * size]


def wrap(model: torch.nn.Module, ranks: Ranks) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when there are several ranks; the model itself otherwise."""
    if not ranks.distributed:
        return model
    ids = [ranks.device.index] if ranks.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: tuple[torch.Tensor, ...],
    loss_fn: Callable[..., torch.Tensor],
    grad_accum: int = 1,
    *,
    grad_clip: float = 0.0,
) -> float:
    """One update from this rank's ``batch``, accumulated over ``grad_accum`` equal micro-batches.

    Each micro-batch's loss is divided by ``grad_accum`` before ``backward``, so the summed gradient
    is that of the mean loss over the whole batch. Under DDP the gradients are all-reduced once,
    after the last micro-batch.

    Args:
        model: the (possibly DDP-wrapped) model; ``loss_fn(model, *micro_batch)`` returns a scalar.
        optimizer: steps once, after the last micro-batch.
        batch: tensors whose first dimension is split into ``grad_accum`` micro-batches.
        loss_fn: the loss of a micro-batch, a mean over its rows.
        grad_accum: micro-batches per step, >= 1, dividing the batch's rows.
        grad_clip: when > 0, clip the global norm of the summed (and, under DDP, all-reduced)
            gradient to this before the step, so every rank clips the same gradient.

    Returns:
        This rank's mean loss over its batch.
    """
    grad_accum = check_int(grad_accum, "grad_accum", minimum=1)
    grad_clip = check_float(grad_clip, "grad_clip", minimum=0.0)
    rows = batch[0].shape[0]
    if rows % grad_accum or any(t.shape[0] != rows for t in batch):
        raise ValueError(
            f"every tensor of batch needs the same number of rows, divisible by grad_accum={grad_accum}; "
            f"got {[t.shape[0] for t in batch]}"
        )
    size = rows // grad_accum
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for k in range(grad_accum):
        micro = tuple(t[k * size : (k + 1) * size] for t in batch)
        last = k == grad_accum - 1
        sync = contextlib.nullcontext() if last or not isinstance(model, DistributedDataParallel) else model.no_sync()
        with sync:
            loss = loss_fn(model, *micro) / grad_accum
            loss.backward()
        total += float(loss.detach())
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], grad_clip)
    optimizer.step()
    return total


def mean_over_ranks(value: float, ranks: Ranks) -> float:
    """The mean of ``value`` over all ranks (e.g. a loss to log on rank 0); ``value`` for one process."""
    if not ranks.distributed:
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=ranks.device)
    dist.all_reduce(t)
    return float(t.item()) / ranks.world_size


def gather_over_ranks(values: Sequence[float], ranks: Ranks) -> list[list[float]]:
    """Every rank's ``values`` (the same length on each), as ``[rank 0's, rank 1's, ...]``.

    A collective: every rank must call it. One process gets ``[list(values)]``.
    """
    if not ranks.distributed:
        return [[float(v) for v in values]]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=ranks.device)
    parts = [torch.empty_like(t) for _ in range(ranks.world_size)]
    dist.all_gather(parts, t)
    return [p.tolist() for p in parts]
