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
* :func:`average_gradients` is the all-reduce without DDP: :func:`train_step` given ``ranks`` and an
  unwrapped model averages the summed gradients itself, once per update, before clipping. The
  image trainers (:class:`genai_lib.training.Trainer`'s :meth:`~genai_lib.training.Trainer.update`)
  take that path: a GAN's discriminator is called on real and generated batches and differentiated
  twice for R1, and it is frozen while the generator steps, patterns DDP's per-parameter hooks do
  not follow; the arithmetic (the mean of the ranks' gradients) is the same.
* :func:`from_env` is what a command calls: torchrun's ranks when it launched the process, else one
  process on the requested device; :func:`single` describes one process.

Launch: ``torchrun --standalone --nproc_per_node=2 your_script.py``, or the book's GPT training
command: ``torchrun --standalone --nproc_per_node=2 -m genai_lib.llm.train --text FILE --steps N``
(:class:`genai_lib.llm.train.GPTTrainer` takes a :class:`Ranks`); the image trainers' commands,
``-m genai_lib.gan.train`` and ``-m genai_lib.diffusion.train``, launch the same way.
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

__all__ = [
    "Ranks",
    "setup",
    "single",
    "from_env",
    "teardown",
    "shard",
    "wrap",
    "train_step",
    "average_gradients",
    "mean_over_ranks",
    "gather_over_ranks",
]


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


def single(device: str | torch.device = "cpu") -> Ranks:
    """The :class:`Ranks` of one process computing on ``device`` (no process group)."""
    return Ranks(rank=0, world_size=1, local_rank=0, device=torch.device(device))


def from_env(device: str | None = None) -> Ranks:
    """This process's place for a command: torchrun's ranks (joining the group, see :func:`setup`)
    when ``WORLD_SIZE`` > 1, else one process on ``device`` (default: the best available, as
    :func:`genai_lib.get_device` chooses)."""
    if (os.environ.get("WORLD_SIZE") or "1") != "1":
        return setup(device)
    from genai_lib import get_device  # a late import: genai_lib's package imports this module's users

    return single(get_device(device))


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
    ranks: Ranks | None = None,
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
        ranks: with several ranks and a model *not* wrapped in DDP, the summed gradients of the
            optimizer's parameters are averaged over the ranks (:func:`average_gradients`) after
            the last micro-batch, before clipping; ignored for a DDP model, which averages itself.

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
    if ranks is not None and ranks.distributed and not isinstance(model, DistributedDataParallel):
        average_gradients([p for g in optimizer.param_groups for p in g["params"]], ranks)
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], grad_clip)
    optimizer.step()
    return total


def average_gradients(params: Sequence[torch.nn.Parameter], ranks: Ranks) -> None:
    """Replace every parameter's gradient by its mean over the ranks (one all-reduce in all).

    What DDP does during the backward pass, done once afterwards: the gradients are flattened
    into one buffer, summed over the ranks and divided by their number. A parameter without a
    gradient counts as a zero gradient and gets one if another rank has one. A collective: every
    rank must call it, with the same parameters in the same order. Nothing happens on one process.
    """
    if not ranks.distributed:
        return
    params = [p for p in params if p.requires_grad]
    if not params:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= ranks.world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


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
