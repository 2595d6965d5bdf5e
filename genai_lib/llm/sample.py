"""Sampling text from a trained GPT: a function and a command line.

:func:`load_model` reads a directory written by ``python -m genai_lib.llm.train`` (the model and
its ``tokenizer.json``); :func:`complete` continues a prompt. As a command line::

    python -m genai_lib.llm.sample --ckpt DIR --prompt "ROMEO:" [--max-new-tokens 500
        --temperature 0.8 --top-k 40 --top-p 0.95 --seed 0 --device cpu --no-cache --truncate]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from genai_lib import get_device, seed_everything
from genai_lib.llm.model import GPT
from genai_lib.llm.tokenizers import BPETokenizer, CharTokenizer, load_tokenizer

__all__ = ["load_model", "complete", "main"]


def load_model(
    ckpt: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[GPT, CharTokenizer | BPETokenizer]:
    """Return ``(model, tokenizer)`` from a directory written by the training command line."""
    ckpt = Path(ckpt)
    if not (ckpt / "config.json").is_file():
        raise FileNotFoundError(f"ckpt={str(ckpt)!r} holds no checkpoint (config.json is missing)")
    if not (ckpt / "tokenizer.json").is_file():
        raise FileNotFoundError(f"ckpt={str(ckpt)!r} holds no tokenizer.json")
    model = GPT.load(ckpt, map_location=map_location)
    tokenizer = load_tokenizer(ckpt / "tokenizer.json")
    if tokenizer.vocab_size != model.config.vocab_size:
        raise ValueError(
            f"ckpt={str(ckpt)!r}: tokenizer has {tokenizer.vocab_size} ids, the model {model.config.vocab_size}"
        )
    return model.eval(), tokenizer


def complete(
    model: GPT,
    tokenizer: CharTokenizer | BPETokenizer,
    prompt: str,
    max_new_tokens: int = 200,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    *,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
    truncate: bool = False,
) -> str:
    """Return the text ``model`` writes after ``prompt`` (the continuation only).

    See :meth:`GPT.generate` for the decoding arguments. A prompt of more than ``block_size``
    tokens raises ValueError unless ``truncate``.
    """
    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"prompt must be a non-empty str (the model needs a first token), got {prompt!r}")
    ids = tokenizer.encode(prompt)
    if len(ids) > model.config.block_size and not truncate:
        raise ValueError(
            f"prompt is {len(ids)} tokens long, more than block_size={model.config.block_size}; "
            f"shorten it or pass truncate=True to keep its end"
        )
    idx = torch.tensor([ids], dtype=torch.long, device=model.lm_head.weight.device)
    out = model.generate(idx, max_new_tokens, temperature, top_k, top_p, use_cache, generator, truncate=truncate)
    return tokenizer.decode(out[0, len(ids) :].tolist())


def main(argv: Sequence[str] | None = None) -> list[str]:
    """Run the command line; print and return the samples. Bad arguments exit with status 2."""
    p = argparse.ArgumentParser(prog="python -m genai_lib.llm.sample", description="Sample text from a trained GPT.")
    p.add_argument("--ckpt", required=True, help="directory written by python -m genai_lib.llm.train")
    p.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    p.add_argument("--max-new-tokens", type=int, default=500)
    p.add_argument("--num-samples", type=int, default=1)
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--no-cache", action="store_true", help="recompute the whole context at every step")
    p.add_argument("--truncate", action="store_true", help="keep the end of a prompt longer than the context")
    args = p.parse_args(argv)
    if args.max_new_tokens < 0:
        p.error(f"--max-new-tokens must be >= 0, got {args.max_new_tokens}")
    if args.num_samples < 1:
        p.error(f"--num-samples must be >= 1, got {args.num_samples}")
    if not args.temperature >= 0:
        p.error(f"--temperature must be >= 0, got {args.temperature}")
    if args.top_k is not None and args.top_k < 1:
        p.error(f"--top-k must be >= 1, got {args.top_k}")
    if args.top_p is not None and not 0 < args.top_p <= 1:
        p.error(f"--top-p must be in (0, 1], got {args.top_p}")
    if not args.prompt:
        p.error("--prompt must not be empty")
    try:
        device = get_device(args.device)
    except (TypeError, ValueError) as err:
        p.error(f"--device: {err}")
    try:
        model, tokenizer = load_model(args.ckpt, map_location=device)
    except (FileNotFoundError, ValueError) as err:
        p.error(f"--ckpt: {err}")
    seed_everything(args.seed)
    generator = torch.Generator(device=device).manual_seed(args.seed)
    samples = []
    for _ in range(args.num_samples):
        start = time.perf_counter()
        try:
            text = complete(
                model,
                tokenizer,
                args.prompt,
                args.max_new_tokens,
                args.temperature,
                args.top_k,
                args.top_p,
                use_cache=not args.no_cache,
                generator=generator,
                truncate=args.truncate,
            )
        except ValueError as err:
            p.error(f"--prompt: {err}" if "prompt" in str(err) else str(err))
        seconds = time.perf_counter() - start
        samples.append(text)
        print(args.prompt + text)
        print(f"--- {args.max_new_tokens} tokens in {seconds:.2f} s", file=sys.stderr)
    return samples


if __name__ == "__main__":
    main(sys.argv[1:])
