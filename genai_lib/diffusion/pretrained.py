"""The book's trained denoisers: three small checkpoints shipped inside the package.

The DDPM chapter trains a digit denoiser and a 2-D denoiser on the page. The chapters after it
(sampling, DDIM, guidance) study what can be done *with* a trained denoiser; retraining one on each
page would spend most of a page's two-minute CPU budget on the same minute of training. They load
these instead, each made by the recipe below and nothing else:

``"digits8"``
    :class:`~genai_lib.diffusion.MLPDenoiser` (512 wide, 2 residual blocks) on the 997 training digits
    of :func:`genai_lib.data.load_digits` (``split="train"``: the 800 held-out digits judge the model),
    8×8 in [-1, 1]: the cosine schedule with T = 1000, AdamW
    at 2·10⁻³ with a batch of 256, 100 warm-up updates then cosine decay to 0, an EMA of the weights
    (decay 0.999 with warm-up), :data:`RECIPES` ``["digits8"]["steps"]`` updates. The shipped weights
    are the EMA's, the ones to sample from.
``"digits8-cond"``
    the same, told the digit's class (``n_classes=10``), with label dropout 0.1 for
    classifier-free guidance (Ho & Salimans 2022).
``"grid25"``
    :class:`~genai_lib.diffusion.MLPDenoiser` (128 wide, 2 blocks) on 20,000 points of
    ``data.toy2d("grid25")`` divided by :data:`GRID25_SCALE`: AdamW (fused) with a one-cycle learning rate
    (peak 3·10⁻³), batches of 512 points. Multiply its samples by :data:`GRID25_SCALE`.

Regenerate them (each prints its final loss) with::

    python -m genai_lib.diffusion.pretrained                 # all three, into genai_lib/diffusion/weights/
    python -m genai_lib.diffusion.pretrained --name grid25   # one of them
    python -m genai_lib.diffusion.pretrained --out DIR       # anywhere else

The weights are stored in float16 and computed in float32: rounding them moved the digits FD of 800
samples from 7.99 to 7.98, far less than another seed moves it. Training is seeded (``seed=0``) and
single-threaded; on one machine it repeats bit for bit, on another CPU the last bits of its
arithmetic differ and so do the weights, a little.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import safetensors.torch
import torch
from torch import nn

from genai_lib._checks import check_int
from genai_lib.diffusion.denoisers import MLPDenoiser, MLPDenoiserConfig
from genai_lib.diffusion.losses import epsilon_loss
from genai_lib.diffusion.schedule import NoiseSchedule
from genai_lib.diffusion.train import BatchTrainer, DiffusionTrainer, TrainerConfig
from genai_lib.training import History, fit

__all__ = ["WEIGHTS_DIR", "RECIPES", "GRID25_SCALE", "train_recipe", "load_pretrained", "pretrained_info", "main"]

#: Where the shipped checkpoints live (inside the installed package).
WEIGHTS_DIR = Path(__file__).parent / "weights"
#: grid25's points are divided by this before training (so that they span about [-2, 2]²).
GRID25_SCALE = 2.0
#: The recipes of the shipped checkpoints: updates, batch size, peak learning rate, conditioning.
RECIPES: dict[str, dict[str, object]] = {
    "digits8": {
        "split": "train",
        "steps": 2000,
        "batch_size": 256,
        "lr": 2e-3,
        "warmup": 100,
        "n_classes": None,
        "label_dropout": 0.0,
        "hidden": 512,
        "depth": 2,
    },
    "digits8-cond": {
        "split": "train",
        "steps": 2000,
        "batch_size": 256,
        "lr": 2e-3,
        "warmup": 100,
        "n_classes": 10,
        "label_dropout": 0.1,
        "hidden": 512,
        "depth": 2,
    },
    "grid25": {
        "steps": 3000,
        "batch_size": 512,
        "lr": 3e-3,
        "fused_adamw": True,
        "pct_start": 0.05,
        "n_points": 20_000,
        "hidden": 128,
        "depth": 2,
    },
}


def _check_name(name: object) -> str:
    if name not in RECIPES:
        raise ValueError(f"name must be one of {tuple(RECIPES)}, got {name!r}")
    return name  # type: ignore[return-value]


def _cosine_with_warmup(steps: int, warmup: int) -> Callable[[int], float]:
    """Linear warm-up over ``warmup`` updates, then cosine decay to 0 at ``steps`` (the DDPM chapter's)."""
    return lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))


def train_recipe(
    name: str, *, seed: int = 0, steps: int | None = None, progress: bool = True, device: torch.device | str = "cpu"
) -> tuple[nn.Module, History]:
    """Train the denoiser ``name`` by its recipe; return the model to sample from (in eval mode) and its losses.

    For the digit denoisers the model is the EMA of the weights; for ``"grid25"`` the weights themselves.
    ``steps`` overrides the recipe's number of updates (the learning-rate schedule is stretched to it).
    """
    from genai_lib.data import toy2d  # the data package is only needed to train

    recipe = RECIPES[_check_name(name)]
    steps = check_int(recipe["steps"] if steps is None else steps, "steps", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    schedule = NoiseSchedule("cosine", 1000)
    torch.manual_seed(seed)  # the initial weights
    if name == "grid25":
        points = toy2d("grid25", recipe["n_points"], seed=seed) / GRID25_SCALE
        model = MLPDenoiser(data_shape=(2,), hidden=recipe["hidden"], depth=recipe["depth"]).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], fused=recipe["fused_adamw"])
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=recipe["lr"], total_steps=steps, pct_start=recipe["pct_start"]
        )
        gen = torch.Generator().manual_seed(seed)

        def step_fn(step: int) -> torch.Tensor:
            x0 = points[torch.randint(len(points), (recipe["batch_size"],), generator=gen)].to(device)
            loss = epsilon_loss(model, schedule, x0, generator=gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            return loss.detach()

        history = fit(step_fn, steps, progress=progress, desc=name)
        return model.eval(), history
    return fit_digit_recipe(
        recipe,
        MLPDenoiser,
        lambda model, data, labels, config: DiffusionTrainer(model, schedule, data, labels, config, device=device),
        steps=steps,
        seed=seed,
        progress=progress,
        name=name,
    )


def fit_digit_recipe(
    recipe: dict,
    model_class: Callable[..., nn.Module],
    make_trainer: Callable[..., BatchTrainer],
    *,
    steps: int,
    seed: int,
    progress: bool,
    name: str,
) -> tuple[nn.Module, History]:
    """A digit recipe's run, for any objective: the 8×8 digits of ``recipe["split"]``, a fresh
    ``model_class`` of the recipe's sizes (its weights from the global seed the caller set), the
    trainer ``make_trainer(model, data, labels, config)`` builds, and a linear warm-up then a cosine
    (:func:`_cosine_with_warmup`) over ``steps`` updates. Returns the EMA model (in eval mode) and
    the losses. The diffusion and flow-matching digit models train through this one function, so
    that "the same budget" means the same code.
    """
    from genai_lib.data import load_digits  # the data package is only needed to train

    images, labels = load_digits(8, split=recipe["split"])
    model = model_class(
        data_shape=(1, 8, 8), hidden=recipe["hidden"], depth=recipe["depth"], n_classes=recipe["n_classes"]
    )
    config = TrainerConfig(
        batch_size=recipe["batch_size"], lr=recipe["lr"], seed=seed, label_dropout=recipe["label_dropout"]
    )
    trainer = make_trainer(model, images, labels if recipe["n_classes"] else None, config)
    lr_schedule = torch.optim.lr_scheduler.LambdaLR(trainer.optimizer, _cosine_with_warmup(steps, recipe["warmup"]))
    trainer.fit(steps, callback=lambda step, scalars: lr_schedule.step(), progress=progress, desc=name)
    return trainer.ema_model.eval(), trainer.history


def _directory(name: str) -> Path:
    path = WEIGHTS_DIR / _check_name(name)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"the checkpoint {name!r} is missing from {path}; regenerate it with "
            f"`python -m genai_lib.diffusion.pretrained --name {name}`"
        )
    return path


def pretrained_info(name: str) -> dict:
    """The ``config.json`` of a shipped denoiser: recipe, model and schedule configs, final loss, machine."""
    return json.loads((_directory(name) / "config.json").read_text())


def load_pretrained(name: str, map_location: str | torch.device = "cpu") -> tuple[MLPDenoiser, NoiseSchedule]:
    """Return ``(model, schedule)`` of a shipped denoiser, the model in eval mode.

    Reads only files inside the package: no network. ``name`` is one of :data:`RECIPES`
    (``"digits8"``, ``"digits8-cond"``, ``"grid25"``).
    """
    path = _directory(name)
    info = pretrained_info(name)
    model = MLPDenoiser(MLPDenoiserConfig(**info["model"]))
    state = safetensors.torch.load_file(str(path / "model.safetensors"), device="cpu")
    # stored in float16, computed in float32
    model.load_state_dict({k: v.float() if v.dtype == torch.float16 else v for k, v in state.items()})
    return model.to(map_location).eval(), NoiseSchedule(**info["schedule"])


def _save(name: str, model: MLPDenoiser, history: History, out: Path) -> dict:
    losses = history.values["loss"]
    info = {
        "name": name,
        "recipe": RECIPES[name],
        "seed": 0,
        "model": asdict(model.config),
        "schedule": NoiseSchedule("cosine", 1000).to_dict(),
        "final_loss_mean_of_last_100": float(sum(losses[-100:]) / len(losses[-100:])),
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "command": f"python -m genai_lib.diffusion.pretrained --name {name}",
    }
    if name == "grid25":
        info["data_scale"] = GRID25_SCALE
    out.mkdir(parents=True, exist_ok=True)
    # Half precision halves the package (the book ships at most 10 MiB of weights); see the module's docstring.
    state = {
        k: (v.half() if v.is_floating_point() else v).detach().cpu().contiguous() for k, v in model.state_dict().items()
    }
    safetensors.torch.save_file(state, str(out / "model.safetensors"))
    (out / "config.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: Sequence[str] | None = None) -> dict[str, dict]:
    """Regenerate shipped denoisers; return their infos."""
    parser = argparse.ArgumentParser(
        prog="python -m genai_lib.diffusion.pretrained", description="Regenerate the book's trained denoisers."
    )
    parser.add_argument("--name", choices=tuple(RECIPES), action="append", help="which one (repeatable; default: all)")
    parser.add_argument("--out", default=str(WEIGHTS_DIR), help="parent directory of the checkpoints")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the recipes' numbers were measured single-threaded; also makes runs repeatable
    infos = {}
    for name in args.name or tuple(RECIPES):
        infos[name] = _save(name, *train_recipe(name), Path(args.out) / name)
        print(
            f"{name}: final loss {infos[name]['final_loss_mean_of_last_100']:.4f} after "
            f"{RECIPES[name]['steps']} updates"
        )
    return infos


if __name__ == "__main__":
    main(sys.argv[1:])
