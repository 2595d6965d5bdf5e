"""Instruction tuning: a rule-checked instruction data set, supervised fine-tuning with the loss on
the answers only, and an exact-match evaluation of instruction following.

Supervised fine-tuning (SFT) is the first stage of InstructGPT (Ouyang et al. 2022) and the whole of
FLAN (Wei et al. 2022): train a pre-trained model on (instruction, answer) pairs laid out by a chat
template (:mod:`genai_lib.llm.chat`), with the cross-entropy summed over the **answer tokens only**,

    L(θ) = − Σ_t m_t log p_θ(x_{t+1} | x_{≤t}) / Σ_t m_t,      m_t = 1 iff x_{t+1} is in the answer,

so the model learns to answer, not to write instructions.

The data here are made from Shakespeare's text by rules, so every answer can be checked by a rule:
:data:`TASKS` maps a task name to the instruction's prefix and the function that computes the
answer from a fragment of a line (``"Uppercase: "`` → the fragment in capitals, ...).
:func:`make_instructions` draws fragments from a text deterministically (same text, seed and
count → same list), :func:`sft_batch` pads examples into inputs, targets and the answer mask,
:func:`sft_loss` is the loss above, :func:`train_sft` the training loop (``SFTConfig``), and
:func:`answer` / :func:`evaluate_instructions` decode greedily and score exact matches.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genai_lib._checks import check_bool, check_int
from genai_lib.llm.chat import ChatTokenizer, answer_mask
from genai_lib.llm.model import GPT

__all__ = [
    "TASKS",
    "Example",
    "make_instructions",
    "sft_batch",
    "sft_loss",
    "SFTConfig",
    "train_sft",
    "answer",
    "evaluate_instructions",
]


def _upper(words: list[str]) -> str:
    return " ".join(words).upper()


#: task name -> (instruction prefix, rule computing the answer from the fragment's words).
TASKS: dict[str, tuple[str, Callable[[list[str]], str]]] = {
    "repeat": ("Repeat: ", lambda w: " ".join(w)),
    "uppercase": ("Uppercase: ", _upper),
    "first word": ("First word: ", lambda w: w[0]),
    "last word": ("Last word: ", lambda w: w[-1]),
    "reverse": ("Reverse the words: ", lambda w: " ".join(reversed(w))),
}


@dataclass(frozen=True)
class Example:
    """One instruction with its rule-computed answer."""

    task: str
    instruction: str
    answer: str


_WORD = re.compile(r"[a-z]+")


def _fragments(text: str, min_words: int, max_words: int, max_chars: int) -> list[list[str]]:
    """Every run of ``min_words..max_words`` lower-case words within one line, at most ``max_chars`` long."""
    out = []
    for line in text.split("\n"):
        words = _WORD.findall(line.lower())
        for n in range(min_words, max_words + 1):
            for s in range(0, len(words) - n + 1, n):
                frag = words[s : s + n]
                if len(" ".join(frag)) <= max_chars:
                    out.append(frag)
    return out


def make_instructions(
    text: str,
    n: int,
    seed: int = 0,
    tasks: Sequence[str] | None = None,
    min_words: int = 2,
    max_words: int = 4,
    max_chars: int = 20,
) -> list[Example]:
    """Draw ``n`` examples, tasks in turn, each on a random fragment of a line of ``text``.

    Deterministic: the same arguments give the same list on every machine (Python's own
    ``random.Random(seed)``, no global state). A fragment is ``min_words..max_words`` consecutive words
    of one line, lower-cased and stripped of punctuation, at most ``max_chars`` characters.

    Args:
        text: the source text (the book uses the training and the held-out part of Shakespeare).
        n: the number of examples (>= 1).
        seed: the seed of the draw.
        tasks: names from :data:`TASKS` (default all), used in turn.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    n = check_int(n, "n", minimum=1)
    seed = check_int(seed, "seed")
    tasks = list(TASKS) if tasks is None else list(tasks)
    if not tasks or any(t not in TASKS for t in tasks):
        raise ValueError(f"tasks must be a non-empty list of names from {list(TASKS)}, got {tasks}")
    min_words = check_int(min_words, "min_words", minimum=1)
    max_words = check_int(max_words, "max_words", minimum=min_words)
    max_chars = check_int(max_chars, "max_chars", minimum=1)
    frags = _fragments(text, min_words, max_words, max_chars)
    if not frags:
        raise ValueError("text holds no line with enough lower-case words to make a fragment")
    rng = random.Random(seed)
    out = []
    for k in range(n):
        task = tasks[k % len(tasks)]
        prefix, rule = TASKS[task]
        words = frags[rng.randrange(len(frags))]
        out.append(Example(task, prefix + " ".join(words), rule(words)))
    return out


def sft_batch(
    examples: Sequence[Example], tokenizer: ChatTokenizer, block_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lay ``examples`` out by the chat template; return inputs, targets and the answer mask, each ``(B, T)``.

    ``T`` is the longest example's length minus one (an example must fit in ``block_size + 1``
    tokens). Shorter sequences are padded after ``<|end|>`` with ``<|end|>`` tokens whose targets
    are -1. The mask is :func:`~genai_lib.llm.chat.answer_mask` of each example: True where the
    target is an answer token or the ``<|end|>`` that closes it, False on the instruction and padding.
    """
    if not isinstance(tokenizer, ChatTokenizer):
        raise TypeError(f"tokenizer must be a ChatTokenizer, got {type(tokenizer).__name__}")
    block_size = check_int(block_size, "block_size", minimum=2)
    if not examples:
        raise ValueError("examples must not be empty")
    if not all(isinstance(ex, Example) for ex in examples):
        raise TypeError("examples must hold Example objects (see make_instructions)")
    seqs = [tokenizer.encode_chat(ex.instruction, ex.answer) for ex in examples]
    for b, ids in enumerate(seqs):
        if len(ids) > block_size + 1:
            raise ValueError(f"examples[{b}] is {len(ids)} tokens long; at most block_size + 1 = {block_size + 1} fit")
    width = max(len(ids) for ids in seqs) - 1  # no wider than the longest example: padding costs compute
    x = torch.full((len(examples), width), tokenizer.end_id, dtype=torch.long)
    y = torch.full((len(examples), width), -1, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.bool)
    for b, ids in enumerate(seqs):
        t = torch.tensor(ids)
        x[b, : len(ids) - 1] = t[:-1]
        y[b, : len(ids) - 1] = t[1:]
        mask[b, : len(ids) - 1] = answer_mask(ids, tokenizer)
    return x, y, mask


def sft_loss(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The mean cross-entropy over the answer tokens (``mask`` True), eq. (1) of the module docstring.

    With ``mask=None`` it is the mean over every target that is not -1: the loss *without* the
    answer mask, instruction tokens included.
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3:
        raise ValueError("logits must be a (B, T, vocab) tensor")
    if not isinstance(y, torch.Tensor) or y.shape != logits.shape[:2]:
        raise ValueError(f"y must be a tensor of shape {tuple(logits.shape[:2])}")
    per_token = F.cross_entropy(logits.transpose(1, 2), y.clamp(min=0), reduction="none")
    keep = y >= 0
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.shape != y.shape or mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor of shape {tuple(y.shape)}")
        keep = keep & mask
    if not keep.any():
        raise ValueError("no target is kept: every target is padding (or outside the mask)")
    return per_token[keep].mean()


@dataclass
class SFTConfig:
    """Settings of :func:`train_sft` (AdamW, linear warm-up, then a constant rate; gradient clipping)."""

    steps: int = 400
    batch_size: int = 16
    lr: float = 3e-3
    warmup_steps: int = 20
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    mask_prompt: bool = True  # train on the answers only (False: on every token of the example)
    seed: int = 0

    def __post_init__(self) -> None:
        check_int(self.steps, "steps", minimum=0)
        check_int(self.batch_size, "batch_size", minimum=1)
        check_int(self.warmup_steps, "warmup_steps", minimum=0)
        check_int(self.seed, "seed")
        check_bool(self.mask_prompt, "mask_prompt")
        for name in ("lr", "weight_decay", "grad_clip"):
            if isinstance(getattr(self, name), bool) or not isinstance(getattr(self, name), (int, float)):
                raise TypeError(f"{name} must be a number")
            if getattr(self, name) < 0 or (name == "lr" and self.lr == 0):
                raise ValueError(f"{name} must be {'> 0' if name == 'lr' else '>= 0'}, got {getattr(self, name)}")


def train_sft(
    model: GPT,
    tokenizer: ChatTokenizer,
    examples: Sequence[Example],
    config: SFTConfig | None = None,
    callback: Callable[[int, GPT], None] | None = None,
    progress: bool = False,
) -> dict[str, list[float]]:
    """Supervised fine-tuning of ``model`` (in place) on ``examples``; return the history.

    Each step draws ``batch_size`` examples (with replacement, from ``config.seed``) and minimises
    :func:`sft_loss` — over the answers with ``mask_prompt``, over every token without. Both losses
    are computed from the same logits at every step, so the history holds ``"answer_loss"`` and
    ``"all_loss"`` whichever is trained. ``callback(step, model)`` runs before step 0 and after
    every step (``step`` counts the steps done), in eval mode, for snapshots.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a GPT, got {type(model).__name__}")
    if model.config.vocab_size < tokenizer.vocab_size:
        raise ValueError(
            f"model has {model.config.vocab_size} token rows, the tokenizer {tokenizer.vocab_size}; "
            "add the special tokens' rows first (llm.chat.add_token_rows)"
        )
    config = SFTConfig() if config is None else config
    if not isinstance(config, SFTConfig):
        raise TypeError(f"config must be an SFTConfig, got {type(config).__name__}")
    if not examples:
        raise ValueError("examples must not be empty")
    device = model.lm_head.weight.device
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(config.seed)
    history: dict[str, list[float]] = {"answer_loss": [], "all_loss": []}

    def snapshot(step: int) -> None:
        if callback is not None:
            model.eval()
            callback(step, model)

    snapshot(0)
    steps = range(config.steps)
    if progress:
        from genai_lib.training import progress_bar  # redraws at most once a second; off with GENAI_PROGRESS=0

        steps = progress_bar(steps, desc="SFT" + ("" if config.mask_prompt else " (no mask)"))
    for step in steps:
        model.train()
        lr = config.lr * min(1.0, (step + 1) / max(1, config.warmup_steps))
        for group in opt.param_groups:
            group["lr"] = lr
        pick = torch.randint(len(examples), (config.batch_size,), generator=gen).tolist()
        x, y, mask = (t.to(device) for t in sft_batch([examples[i] for i in pick], tokenizer, model.config.block_size))
        logits, _ = model(x)
        answer_loss = sft_loss(logits, y, mask)
        all_loss = sft_loss(logits, y)
        loss = answer_loss if config.mask_prompt else all_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        opt.step()
        history["answer_loss"].append(answer_loss.item())
        history["all_loss"].append(all_loss.item())
        if progress:
            steps.set_postfix(loss=f"{loss.item():.3f}", refresh=False)  # a redraw per step would flood IOPub
        snapshot(step + 1)
    model.eval()
    return history


@torch.no_grad()
def answer(model: GPT, tokenizer: ChatTokenizer, instructions: Sequence[str], max_new_tokens: int = 24) -> list[str]:
    """Greedy answers of ``model`` to ``instructions``: the text it writes after ``<|assistant|>``, to ``<|end|>``.

    Instructions of the same length are decoded together in one batch.
    """
    if not isinstance(tokenizer, ChatTokenizer):
        raise TypeError(f"tokenizer must be a ChatTokenizer, got {type(tokenizer).__name__}")
    if isinstance(instructions, str):
        raise TypeError("instructions must be a sequence of str, not one str")
    max_new_tokens = check_int(max_new_tokens, "max_new_tokens", minimum=1)
    device = model.lm_head.weight.device
    prompts = [tokenizer.prompt_ids(s) for s in instructions]
    groups: dict[int, list[int]] = {}
    for k, p in enumerate(prompts):
        groups.setdefault(len(p), []).append(k)
    out = [""] * len(prompts)
    for length, members in groups.items():
        new = min(max_new_tokens, model.config.block_size - length)
        if new < 1:
            raise ValueError(
                f"an instruction of {length} tokens leaves no room in block_size={model.config.block_size}"
            )
        idx = torch.tensor([prompts[k] for k in members], device=device)
        gen = model.generate(idx, new, temperature=0.0)[:, length:].cpu()
        for k, row in zip(members, gen):
            out[k] = tokenizer.answer_text(row)
    return out


def evaluate_instructions(
    model: GPT, tokenizer: ChatTokenizer, examples: Sequence[Example], max_new_tokens: int = 24
) -> dict[str, float]:
    """Exact-match accuracy of greedy answers: ``{"all": ..., task: ...}`` (fractions in [0, 1])."""
    if not examples:
        raise ValueError("examples must not be empty")
    got = answer(model, tokenizer, [ex.instruction for ex in examples], max_new_tokens)
    right: dict[str, list[bool]] = {}
    for ex, g in zip(examples, got):
        right.setdefault(ex.task, []).append(g == ex.answer)
    scores = {t: sum(v) / len(v) for t, v in right.items()}
    scores["all"] = sum(g == ex.answer for ex, g in zip(examples, got)) / len(examples)
    return scores
