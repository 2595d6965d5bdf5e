"""Preference optimisation: preference pairs labelled by a rule, and Direct Preference Optimisation (DPO).

RLHF (Christiano et al. 2017; Stiennon et al. 2020; Ouyang et al. 2022) fine-tunes a policy π_θ to
maximise a reward while staying close to a reference model π_ref (the SFT model)::

    max_θ  E_{x, y ~ π_θ}[ r(x, y) ] − β KL(π_θ(·|x) ‖ π_ref(·|x)).                    (1)

Its maximiser is ``π*(y|x) ∝ π_ref(y|x) exp(r(x, y) / β)``. Solving that for r and putting it into the
Bradley–Terry likelihood of a preference pair (chosen y_w, rejected y_l) gives DPO's loss
(Rafailov et al. 2023, eq. 7), a classification loss on log-probability ratios with no reward model
and no sampling during training::

    L_DPO(θ) = − E log σ( β [log π_θ(y_w|x)/π_ref(y_w|x) − log π_θ(y_l|x)/π_ref(y_l|x)] ).   (2)

``β log π_θ(y|x)/π_ref(y|x)`` is the **implicit reward** of an answer; its difference between the
chosen and the rejected answer is the **reward margin**, and the share of pairs with a positive
margin is the **preference accuracy**.

* :func:`answer_logps` — ``log π(y|x)`` of each answer, summed over the answer tokens only;
* :func:`dpo_loss` — eq. (2), with the implicit rewards;
* :func:`lipogram_reward` — the book's checkable rule (fewer of one letter is better);
* :func:`make_pairs` — sample answers from a model, label chosen/rejected by a rule;
* :func:`sequence_kl` — the KL of eq. (1) on the policy's own samples;
* :class:`DPOConfig`, :class:`DPOTrainer` — the loop, ``fit(steps)`` returning the history.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genai_lib._checks import check_float, check_int
from genai_lib.llm.model import GPT
from genai_lib.training import History, Trainer

__all__ = [
    "answer_logps",
    "dpo_loss",
    "preference_accuracy",
    "lipogram_reward",
    "PreferencePairs",
    "make_pairs",
    "sequence_kl",
    "DPOConfig",
    "DPOTrainer",
]


def _check_model(model: object, name: str) -> GPT:
    if not isinstance(model, GPT):
        raise TypeError(f"{name} must be a GPT, got {type(model).__name__}")
    return model


def answer_logps(model: GPT, ids: torch.Tensor, prompt_len: int) -> torch.Tensor:
    """``log π(y|x)`` of each row of ``ids`` = prompt x (``prompt_len`` tokens) followed by answer y: ``(B,)``.

    The sum of the log-probabilities of the answer tokens ``ids[:, prompt_len:]``, each given
    everything before it (the prompt's own tokens are not scored). Gradients flow when the model
    trains.
    """
    _check_model(model, "model")
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.long:
        raise TypeError("ids must be a (B, T) tensor of token ids (torch.long)")
    prompt_len = check_int(prompt_len, "prompt_len", minimum=1, maximum=ids.size(1) - 1)
    logits, _ = model(ids[:, :-1])
    logp = torch.log_softmax(logits[:, prompt_len - 1 :].float(), dim=-1)
    return logp.gather(-1, ids[:, prompt_len:, None]).squeeze(-1).sum(-1)


def dpo_loss(
    policy_chosen_logps: torch.Tensor,
    policy_rejected_logps: torch.Tensor,
    ref_chosen_logps: torch.Tensor,
    ref_rejected_logps: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DPO's loss, eq. (2) of the module docstring (Rafailov et al. 2023, eq. 7); return ``(loss, r_w, r_l)``.

    ``r_w = β (log π_θ(y_w|x) − log π_ref(y_w|x))`` and ``r_l`` likewise are the implicit rewards of
    the chosen and the rejected answers (detached, one per pair); the loss is the mean over pairs of
    ``−log σ(r_w − r_l)``, computed as ``softplus(−(r_w − r_l))`` for stability. At θ = ref every
    margin is 0 and the loss is log 2.

    Args:
        policy_chosen_logps, policy_rejected_logps: ``(B,)`` log π_θ of the chosen / rejected answers.
        ref_chosen_logps, ref_rejected_logps: ``(B,)`` the same under the frozen reference.
        beta: β > 0, the weight of the KL term in eq. (1).
    """
    tensors = {
        "policy_chosen_logps": policy_chosen_logps,
        "policy_rejected_logps": policy_rejected_logps,
        "ref_chosen_logps": ref_chosen_logps,
        "ref_rejected_logps": ref_rejected_logps,
    }
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor) or t.dim() != 1 or not t.is_floating_point():
            raise TypeError(f"{name} must be a 1-D float tensor of per-pair log-probabilities")
        if t.shape != policy_chosen_logps.shape:
            raise ValueError(f"{name} has shape {tuple(t.shape)}, expected {tuple(policy_chosen_logps.shape)}")
    if policy_chosen_logps.numel() == 0:
        raise ValueError("policy_chosen_logps must hold at least one pair")
    beta = check_float(beta, "beta", minimum=0.0, strict_min=True)
    chosen = beta * (policy_chosen_logps - ref_chosen_logps)
    rejected = beta * (policy_rejected_logps - ref_rejected_logps)
    loss = F.softplus(-(chosen - rejected)).mean()
    return loss, chosen.detach(), rejected.detach()


def preference_accuracy(margin: torch.Tensor) -> float:
    """The share of pairs whose reward margin r_w − r_l is positive, a tie counting one half (chance is 0.5)."""
    if not isinstance(margin, torch.Tensor) or margin.numel() == 0:
        raise TypeError("margin must be a non-empty tensor of reward margins")
    return ((margin > 0).float().mean() + 0.5 * (margin == 0).float().mean()).item()


def lipogram_reward(text: str, letter: str = "e") -> int:
    """The book's rule: minus the number of times ``letter`` occurs in ``text`` (either case).

    A lipogram is writing that avoids a letter; the fewer times ``e`` occurs in an answer, the higher
    its reward, and anyone can check the label of a pair by counting.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not isinstance(letter, str) or len(letter) != 1:
        raise ValueError(f"letter must be a single character, got {letter!r}")
    return -text.lower().count(letter.lower())


@dataclass
class PreferencePairs:
    """Preference pairs with prompts of one length and answers of one length.

    ``chosen`` and ``rejected`` are ``(N, P + A)`` token ids (the prompt, then the answer);
    ``chosen_reward`` and ``rejected_reward`` ``(N,)`` the rule's rewards (chosen > rejected).
    """

    chosen: torch.Tensor
    rejected: torch.Tensor
    prompt_len: int
    chosen_reward: torch.Tensor
    rejected_reward: torch.Tensor

    def __len__(self) -> int:
        return self.chosen.size(0)

    def subset(self, rows: torch.Tensor | Sequence[int]) -> PreferencePairs:
        """The pairs at ``rows``."""
        rows = torch.as_tensor(rows, dtype=torch.long)
        return PreferencePairs(
            self.chosen[rows],
            self.rejected[rows],
            self.prompt_len,
            self.chosen_reward[rows],
            self.rejected_reward[rows],
        )


@torch.no_grad()
def make_pairs(
    model: GPT,
    prompts: torch.Tensor,
    reward: Callable[[list[int]], float],
    *,
    n_samples: int = 4,
    answer_len: int = 16,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> PreferencePairs:
    """Sample ``n_samples`` answers per prompt from ``model``; the best and worst by ``reward`` make a pair.

    ``reward(answer_ids)`` scores one answer (a list of token ids; decode it to apply a rule on
    text). Prompts whose answers all score the same give no pair and are dropped, so there are at
    most ``len(prompts)`` pairs. Among equal scores the first sample is taken.

    Args:
        model: the model to sample from (the reference of DPO).
        prompts: ``(N, P)`` token ids, one prompt per row.
        reward: the rule.
        n_samples: answers drawn per prompt (>= 2).
        answer_len: tokens per answer.
        temperature: the sampling temperature (> 0).
        generator: for repeatable samples (on the model's device).
    """
    _check_model(model, "model")
    if not isinstance(prompts, torch.Tensor) or prompts.dim() != 2 or prompts.dtype != torch.long:
        raise TypeError("prompts must be a (N, P) tensor of token ids (torch.long)")
    if not callable(reward):
        raise TypeError("reward must be a function of an answer's token ids")
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    answer_len = check_int(answer_len, "answer_len", minimum=1)
    temperature = check_float(temperature, "temperature", minimum=0.0, strict_min=True)
    n, p = prompts.shape
    if p + answer_len > model.config.block_size + 1:
        raise ValueError(f"prompt ({p}) + answer_len ({answer_len}) exceeds block_size + 1")
    device = model.lm_head.weight.device
    seqs = model.generate(
        prompts.to(device).repeat_interleave(n_samples, 0), answer_len, temperature=temperature, generator=generator
    ).cpu()
    scores = torch.tensor([float(reward(row[p:].tolist())) for row in seqs]).view(n, n_samples)
    best, worst = scores.argmax(1), scores.argmin(1)
    keep = scores.max(1).values > scores.min(1).values
    seqs = seqs.view(n, n_samples, -1)
    rows = torch.arange(n)
    return PreferencePairs(
        seqs[rows, best][keep],
        seqs[rows, worst][keep],
        p,
        scores[rows, best][keep],
        scores[rows, worst][keep],
    )


@torch.no_grad()
def sequence_kl(
    policy: GPT,
    reference: GPT,
    prompts: torch.Tensor,
    answer_len: int,
    *,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``KL(π_θ(·|x) ‖ π_ref(·|x))`` over answers of ``answer_len`` tokens, one estimate per prompt.

    One answer y ~ π_θ is sampled per prompt; along it the exact per-token KL of the next-token
    distributions is summed, ``Σ_t KL(π_θ(·|x, y_<t) ‖ π_ref(·|x, y_<t))`` — an unbiased estimate of
    the sequence KL (the chain rule of KL) with less noise than ``log π_θ(y|x) − log π_ref(y|x)``.
    Returns ``(kl, samples)``: ``(N,)`` nats and the ``(N, P + answer_len)`` sampled sequences.
    """
    _check_model(policy, "policy")
    _check_model(reference, "reference")
    if not isinstance(prompts, torch.Tensor) or prompts.dim() != 2 or prompts.dtype != torch.long:
        raise TypeError("prompts must be a (N, P) tensor of token ids (torch.long)")
    answer_len = check_int(answer_len, "answer_len", minimum=1)
    was_training = policy.training
    policy.eval()
    p = prompts.size(1)
    device = policy.lm_head.weight.device
    seqs = policy.generate(prompts.to(device), answer_len, temperature=1.0, generator=generator)
    logp = torch.log_softmax(policy(seqs[:, :-1])[0][:, p - 1 :].float(), -1)
    logq = torch.log_softmax(reference(seqs[:, :-1])[0][:, p - 1 :].float(), -1)
    kl = (logp.exp() * (logp - logq)).sum(-1).sum(-1)
    policy.train(was_training)
    return kl.cpu(), seqs.cpu()


@dataclass
class DPOConfig:
    """Settings of :class:`DPOTrainer`: AdamW at a constant rate after a linear warm-up, gradient clipping."""

    steps: int = 200
    batch_size: int = 16  # pairs per update
    beta: float = 0.1
    lr: float = 3e-4
    warmup_steps: int = 10
    grad_clip: float = 1.0
    eval_every: int = 25
    seed: int = 0

    def __post_init__(self) -> None:
        check_int(self.steps, "steps", minimum=1)
        check_int(self.batch_size, "batch_size", minimum=1)
        check_int(self.warmup_steps, "warmup_steps", minimum=0)
        check_int(self.eval_every, "eval_every", minimum=1)
        check_int(self.seed, "seed", minimum=0)
        check_float(self.beta, "beta", minimum=0.0, strict_min=True)
        check_float(self.lr, "lr", minimum=0.0, strict_min=True)
        check_float(self.grad_clip, "grad_clip", minimum=0.0)


class DPOTrainer(Trainer):
    """DPO (Rafailov et al. 2023) of ``policy`` against a frozen copy of itself, on fixed preference pairs.

    The reference's log-probabilities of every pair are computed once at construction (the
    reference never changes). Each update draws ``batch_size`` training pairs with :attr:`rng` and
    takes an AdamW step on :func:`dpo_loss`. :attr:`history` records per update the batch's
    ``loss``, ``margin`` (mean r_w − r_l) and ``accuracy`` (share of r_w > r_l). Every
    ``eval_every`` updates, and before the first, :attr:`evals` records on the held-out pairs
    ``margin``, ``accuracy``, ``chosen_logratio`` and ``rejected_logratio`` (mean log π_θ/π_ref),
    and on ``eval_prompts`` the policy's ``kl`` to the reference (:func:`sequence_kl`) and its
    samples' mean ``reward`` under ``reward`` (when given). ``snapshots[step]`` keeps the held-out
    log-ratios (chosen, rejected) at each evaluation, for explorers.

    Args:
        policy: the model to train, in place (the reference is a frozen deep copy made here).
        train_pairs, held_out: :class:`PreferencePairs` with the same prompt length.
        config: a :class:`DPOConfig`.
        eval_prompts: ``(N, P)`` prompts for the KL estimate (default: the held-out prompts).
        reward: the rule on an answer's token ids, to score the policy's own samples.
    """

    desc = "DPO"

    def __init__(
        self,
        policy: GPT,
        train_pairs: PreferencePairs,
        held_out: PreferencePairs,
        config: DPOConfig | None = None,
        *,
        eval_prompts: torch.Tensor | None = None,
        reward: Callable[[list[int]], float] | None = None,
    ) -> None:
        self.model = _check_model(policy, "policy")
        config = DPOConfig() if config is None else config
        if not isinstance(config, DPOConfig):
            raise TypeError(f"config must be a DPOConfig, got {type(config).__name__}")
        for name, pairs in (("train_pairs", train_pairs), ("held_out", held_out)):
            if not isinstance(pairs, PreferencePairs) or len(pairs) == 0:
                raise TypeError(f"{name} must be a non-empty PreferencePairs (see make_pairs)")
        if held_out.prompt_len != train_pairs.prompt_len:
            raise ValueError("held_out must have the training pairs' prompt_len")
        self.config, self.train_pairs, self.held_out, self.reward = config, train_pairs, held_out, reward
        self.device = policy.lm_head.weight.device
        self.reference = copy.deepcopy(policy).eval().requires_grad_(False)
        self.ref_train = self._logps(self.reference, train_pairs)
        self.ref_held = self._logps(self.reference, held_out)
        p = held_out.prompt_len
        self.eval_prompts = held_out.chosen[:, :p] if eval_prompts is None else eval_prompts
        self.answer_len = held_out.chosen.size(1) - p
        self.params = [q for q in policy.parameters() if q.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=config.lr, weight_decay=0.0)
        self.evals = History()
        self.snapshots: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.samples: dict[int, torch.Tensor] = {}
        super().__init__(seed=config.seed)

    def _logps(self, model: GPT, pairs: PreferencePairs) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            return tuple(
                answer_logps(model, ids.to(self.device), pairs.prompt_len).cpu()
                for ids in (pairs.chosen, pairs.rejected)
            )

    def modules(self) -> dict[str, torch.nn.Module | torch.optim.Optimizer]:
        return {"policy": self.model, "optimizer": self.optimizer}

    def train_step(self, step: int) -> dict[str, float]:
        """One AdamW step on :func:`dpo_loss` over ``batch_size`` random training pairs."""
        c = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = c.lr * min(1.0, (step + 1) / max(1, c.warmup_steps))
        rows = torch.randint(len(self.train_pairs), (c.batch_size,), generator=self.rng)
        pairs = self.train_pairs.subset(rows)
        both = torch.cat([pairs.chosen, pairs.rejected]).to(self.device)  # one forward for both answers
        logps = answer_logps(self.model, both, pairs.prompt_len)
        loss, r_w, r_l = dpo_loss(
            logps[: len(rows)],
            logps[len(rows) :],
            self.ref_train[0][rows].to(self.device),
            self.ref_train[1][rows].to(self.device),
            c.beta,
        )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if c.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, c.grad_clip)
        self.optimizer.step()
        margin = r_w - r_l
        return {"loss": loss.item(), "margin": margin.mean().item(), "accuracy": preference_accuracy(margin)}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """The held-out metrics described in the class docstring, at the current step (also recorded)."""
        was_training = self.model.training
        self.model.eval()
        chosen, rejected = self._logps(self.model, self.held_out)
        lr_w, lr_l = chosen - self.ref_held[0], rejected - self.ref_held[1]
        margin = self.config.beta * (lr_w - lr_l)
        gen = torch.Generator(device=self.device).manual_seed(self.config.seed + 1)
        kl, seqs = sequence_kl(self.model, self.reference, self.eval_prompts, self.answer_len, generator=gen)
        scalars = {
            "margin": margin.mean().item(),
            "accuracy": preference_accuracy(margin),
            "chosen_logratio": lr_w.mean().item(),
            "rejected_logratio": lr_l.mean().item(),
            "kl": kl.mean().item(),
        }
        if self.reward is not None:
            p = self.eval_prompts.size(1)
            scalars["reward"] = sum(float(self.reward(r[p:].tolist())) for r in seqs) / len(seqs)
        self.evals.append(self.step, scalars)
        self.snapshots[self.step] = (lr_w, lr_l)
        self.samples[self.step] = seqs
        self.model.train(was_training)
        return scalars

    def on_fit_start(self, steps: int) -> None:
        if self.step not in self.snapshots:
            self.evaluate()
        self.model.train()

    def on_step_end(self, step: int, scalars: dict[str, float]) -> None:
        if self.step % self.config.eval_every == 0:
            self.evaluate()
