"""The book's flow-matching digit model, shipped in the package, trained with the DDPM model's budget.

The flow-matching chapter compares flow matching with the DDPM chapter's digit denoiser
(:mod:`genai_lib.diffusion.pretrained`, ``"digits8"``) *at equal training budget*. Training either
takes longer than a page may spend, so the page loads both. ``"digits8-flow"`` is made by exactly
the recipe of ``"digits8"`` with the objective swapped:

* the same network (:class:`~genai_lib.diffusion.flow.VelocityMLP` is the
  :class:`~genai_lib.diffusion.MLPDenoiser`, 512 wide, 2 residual blocks, told a real time);
* the same data (the 997 training digits of :func:`genai_lib.data.load_digits`, 8×8 in [-1, 1]);
* the same optimiser and budget: AdamW at 2·10⁻³, batches of 256, 100 warm-up updates then cosine
  decay to 0, gradient clipping at 1, an EMA of the weights (0.999 with warm-up), 2,000 updates,
  seed 0 (initial weights from ``torch.manual_seed(0)``, batches from the trainer's generator);
* the loss: :func:`~genai_lib.diffusion.flow.flow_matching_loss` instead of the ε-prediction loss.

Regenerate it with::

    python -m genai_lib.diffusion.flow_pretrained                # into genai_lib/diffusion/weights/digits8-flow
    python -m genai_lib.diffusion.flow_pretrained --out DIR      # anywhere else

Computed in float32 and stored smaller than the DDPM models, because the book ships at most 10 MiB of
weights in all: each weight matrix in 8 bits (symmetric, one float16 scale per output row), every
other tensor in float16 (1.3 MB instead of 2.6). :func:`load_flow_pretrained` restores float32;
the rounding moves the digits FD far less than another sampling seed does (the chapter measures it).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import safetensors.torch
import torch

from genai_lib._checks import check_int
from genai_lib.diffusion.denoisers import MLPDenoiserConfig
from genai_lib.diffusion.flow import FlowTrainer, VelocityMLP
from genai_lib.diffusion.pretrained import RECIPES as DDPM_RECIPES
from genai_lib.diffusion.pretrained import WEIGHTS_DIR, fit_digit_recipe
from genai_lib.training import History

__all__ = [
    "FLOW_RECIPES",
    "train_flow_recipe",
    "load_flow_pretrained",
    "flow_pretrained_info",
    "quantise_state",
    "dequantise_state",
    "main",
]

#: The shipped flow models and the DDPM recipe each copies (objective aside).
FLOW_RECIPES: dict[str, dict[str, object]] = {"digits8-flow": {**DDPM_RECIPES["digits8"], "same_budget_as": "digits8"}}


#: Weight matrices with at least this many entries are stored in 8 bits.
QUANTISE_MIN_NUMEL = 1024


def quantise_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Store a state dict small: matrices as int8 with a float16 scale per row (``key.q``, ``key.scale``).

    Symmetric per-row quantisation: ``scale = max|row| / 127``, ``q = round(row / scale)``; every other
    floating tensor in float16, integer tensors unchanged.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        value = value.detach().cpu()
        if value.is_floating_point() and value.dim() == 2 and value.numel() >= QUANTISE_MIN_NUMEL:
            scale = (value.abs().amax(dim=1, keepdim=True) / 127).clamp_min(1e-12).half()
            out[key + ".q"] = torch.round(value / scale.float()).clamp(-127, 127).to(torch.int8).contiguous()
            out[key + ".scale"] = scale.contiguous()
        else:
            out[key] = (value.half() if value.is_floating_point() else value).contiguous()
    return out


def dequantise_state(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Undo :func:`quantise_state`: float32 tensors under the original keys."""
    out: dict[str, torch.Tensor] = {}
    for key, value in stored.items():
        if key.endswith(".scale"):
            continue
        if key.endswith(".q"):
            base = key[: -len(".q")]
            out[base] = value.float() * stored[base + ".scale"].float()
        else:
            out[key] = value.float() if value.is_floating_point() else value
    return out


def _check_name(name: object) -> str:
    if name not in FLOW_RECIPES:
        raise ValueError(f"name must be one of {tuple(FLOW_RECIPES)}, got {name!r}")
    return name  # type: ignore[return-value]


def train_flow_recipe(
    name: str = "digits8-flow",
    *,
    seed: int = 0,
    steps: int | None = None,
    progress: bool = True,
    device: torch.device | str = "cpu",
) -> tuple[VelocityMLP, History]:
    """Train the flow model ``name`` by its recipe; return the EMA model (in eval mode) and the losses.

    The steps mirror :func:`genai_lib.diffusion.pretrained.train_recipe` for ``"digits8"`` line for
    line (both run :func:`~genai_lib.diffusion.pretrained.fit_digit_recipe`), with
    :class:`~genai_lib.diffusion.flow.FlowTrainer` in place of the DDPM trainer.
    """
    recipe = FLOW_RECIPES[_check_name(name)]
    steps = check_int(recipe["steps"] if steps is None else steps, "steps", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    torch.manual_seed(seed)  # the initial weights
    return fit_digit_recipe(
        recipe,
        VelocityMLP,
        lambda model, data, labels, config: FlowTrainer(model, data, labels, config, device=device),
        steps=steps,
        seed=seed,
        progress=progress,
        name=name,
    )


def _directory(name: str) -> Path:
    path = WEIGHTS_DIR / _check_name(name)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"the checkpoint {name!r} is missing from {path}; regenerate it with "
            f"`python -m genai_lib.diffusion.flow_pretrained --name {name}`"
        )
    return path


def flow_pretrained_info(name: str = "digits8-flow") -> dict:
    """The ``config.json`` of a shipped flow model: recipe, model config, final loss, machine, command."""
    return json.loads((_directory(name) / "config.json").read_text())


def load_flow_pretrained(name: str = "digits8-flow", map_location: str | torch.device = "cpu") -> VelocityMLP:
    """Return the shipped velocity field ``name`` in eval mode (reads only files inside the package)."""
    path = _directory(name)
    model = VelocityMLP(MLPDenoiserConfig(**flow_pretrained_info(name)["model"]))
    model.load_state_dict(dequantise_state(safetensors.torch.load_file(str(path / "model.safetensors"), device="cpu")))
    return model.to(map_location).eval()


def _save(name: str, model: VelocityMLP, history: History, out: Path, seed: int) -> dict:
    losses = history.values["loss"]
    info = {
        "name": name,
        "objective": "flow_matching",
        "recipe": FLOW_RECIPES[name],
        "seed": seed,
        "model": asdict(model.config),
        "time": "t in [0, 1], 0 = noise, 1 = data; the network embeds 1000 t",
        "storage": "weight matrices int8 with a float16 scale per row, other tensors float16",
        "final_loss_mean_of_last_100": float(sum(losses[-100:]) / len(losses[-100:])),
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "command": f"python -m genai_lib.diffusion.flow_pretrained --name {name}" + (f" --seed {seed}" if seed else ""),
    }
    out.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(quantise_state(model.state_dict()), str(out / "model.safetensors"))
    (out / "config.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: Sequence[str] | None = None) -> dict[str, dict]:
    """Regenerate the shipped flow models; return their infos."""
    parser = argparse.ArgumentParser(
        prog="python -m genai_lib.diffusion.flow_pretrained", description="Regenerate the book's flow-matching model."
    )
    parser.add_argument("--name", choices=tuple(FLOW_RECIPES), action="append", help="which one (default: all)")
    parser.add_argument("--out", default=str(WEIGHTS_DIR), help="parent directory of the checkpoints")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and batches (shipped: 0)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as the DDPM recipes: single-threaded, repeatable
    infos = {}
    for name in args.name or tuple(FLOW_RECIPES):
        infos[name] = _save(name, *train_flow_recipe(name, seed=args.seed), Path(args.out) / name, args.seed)
        print(
            f"{name}: final loss {infos[name]['final_loss_mean_of_last_100']:.4f} "
            f"after {FLOW_RECIPES[name]['steps']} updates"
        )
    return infos


if __name__ == "__main__":
    main(sys.argv[1:])
