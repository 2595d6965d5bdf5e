"""Tests of preference optimisation (genai_lib.llm.preference): answer log-probabilities against a token-by-token
computation, the DPO loss against a direct computation from log-probabilities (values, gradient, limits), DPO's
optimum against the closed form π* ∝ π_ref exp(r/β), rule-labelled pairs, the KL estimate against an exact
enumeration, and the trainer."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from genai_lib.llm import GPT, GPTConfig
from genai_lib.llm import preference as pf


def tiny_gpt(vocab: int = 11, seed: int = 0, block: int = 16) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab, block_size=block, n_layer=2, n_head=2, n_embd=32)).eval()


def logps4(seed: int = 0, n: int = 12, scale: float = 4.0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(n, generator=gen, dtype=torch.float64) * scale - 20 for _ in range(4)]


# -- answer log-probabilities -------------------------------------------------------------------------


def test_answer_logps_is_the_sum_over_answer_tokens_of_next_token_log_probs():
    model = tiny_gpt()
    ids = torch.randint(11, (3, 9), generator=torch.Generator().manual_seed(1))
    got = pf.answer_logps(model, ids, prompt_len=4)
    with torch.no_grad():
        want = torch.zeros(3)
        for b in range(3):
            for t in range(4, 9):  # each answer token given everything before it, one forward per token
                logits, _ = model(ids[b : b + 1, :t])
                want[b] += torch.log_softmax(logits[0, -1], -1)[ids[b, t]]
    torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-5)


def test_answer_logps_ignores_the_prompt_tokens_probability():
    model = tiny_gpt()
    ids = torch.randint(11, (2, 8), generator=torch.Generator().manual_seed(2))
    full = pf.answer_logps(model, ids, prompt_len=1)
    part = pf.answer_logps(model, ids, prompt_len=5)
    assert (part > full).all()  # fewer (negative) terms


def test_answer_logps_validates():
    model = tiny_gpt()
    with pytest.raises(TypeError, match="ids"):
        pf.answer_logps(model, torch.zeros(2, 5), 2)
    with pytest.raises(ValueError, match="prompt_len"):
        pf.answer_logps(model, torch.zeros(2, 5, dtype=torch.long), 5)
    with pytest.raises(TypeError, match="model"):
        pf.answer_logps("gpt", torch.zeros(2, 5, dtype=torch.long), 2)


# -- the DPO loss ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.01, 0.1, 0.5, 3.0])
def test_dpo_loss_matches_a_direct_computation(beta):
    pw, pl, rw, rl = logps4()
    loss, r_w, r_l = pf.dpo_loss(pw, pl, rw, rl, beta)
    direct = []
    for k in range(len(pw)):
        z = beta * ((pw[k].item() - rw[k].item()) - (pl[k].item() - rl[k].item()))
        direct.append(-math.log(1.0 / (1.0 + math.exp(-z))))
    assert loss.item() == pytest.approx(sum(direct) / len(direct), rel=1e-12)
    torch.testing.assert_close(r_w, beta * (pw - rw))
    torch.testing.assert_close(r_l, beta * (pl - rl))
    assert not r_w.requires_grad


def test_dpo_loss_gradient_matches_the_formula_and_autograd():
    pw, pl, rw, rl = logps4(3)
    beta = 0.3
    pw.requires_grad_(True)
    pl.requires_grad_(True)
    loss, _, _ = pf.dpo_loss(pw, pl, rw, rl, beta)
    loss.backward()
    z = beta * ((pw - rw) - (pl - rl)).detach()
    weight = torch.sigmoid(-z)  # how wrongly the implicit reward orders the pair
    torch.testing.assert_close(pw.grad, -beta * weight / len(z))
    torch.testing.assert_close(pl.grad, beta * weight / len(z))
    assert torch.autograd.gradcheck(
        lambda a, b: pf.dpo_loss(a, b, rw, rl, beta)[0], (pw.detach().requires_grad_(), pl.detach().requires_grad_())
    )


def test_dpo_loss_limits():
    pw, pl, rw, rl = logps4(4)
    # the policy equal to the reference: every margin 0, loss log 2, whatever β
    for beta in (0.01, 1.0, 50.0):
        loss, r_w, r_l = pf.dpo_loss(rw.clone(), rl.clone(), rw, rl, beta)
        assert loss.item() == pytest.approx(math.log(2), abs=1e-12)
        assert (r_w == 0).all() and (r_l == 0).all()
    # β -> 0: loss -> log 2 - β·mean(Δ)/2 (first order)
    beta = 1e-6
    delta = (pw - rw) - (pl - rl)
    loss, _, _ = pf.dpo_loss(pw, pl, rw, rl, beta)
    assert loss.item() == pytest.approx(math.log(2) - beta * delta.mean().item() / 2, abs=1e-10)
    # pairs ordered right by a wide margin cost nothing; wrongly by a wide margin cost the margin, finitely
    big = torch.full((3,), 1e4, dtype=torch.float64)
    zero = torch.zeros(3, dtype=torch.float64)
    assert pf.dpo_loss(big, zero, zero, zero, 1.0)[0].item() == pytest.approx(0.0, abs=1e-12)
    assert pf.dpo_loss(zero, big, zero, zero, 1.0)[0].item() == pytest.approx(1e4)


def test_dpo_optimum_is_the_reference_reweighted_by_exp_reward_over_beta():
    """Minimising DPO's loss on Bradley–Terry preferences over every pair of answers recovers eq. (eq-pf-optimal)."""
    ref = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64)
    reward = torch.tensor([0.0, 1.0, -0.5, 2.0], dtype=torch.float64)
    beta = 0.7
    logits = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    pairs = list(itertools.permutations(range(4), 2))
    w_idx = torch.tensor([i for i, _ in pairs])
    l_idx = torch.tensor([j for _, j in pairs])
    p_pref = torch.sigmoid(reward[w_idx] - reward[l_idx])  # the probability that i is preferred to j
    opt = torch.optim.LBFGS([logits], lr=1.0, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        logp = torch.log_softmax(logits, 0)
        per_pair = []
        for k in range(len(pairs)):  # each ordered pair, weighted by how often it is observed that way round
            loss, _, _ = pf.dpo_loss(
                logp[w_idx[k : k + 1]],
                logp[l_idx[k : k + 1]],
                ref.log()[w_idx[k : k + 1]],
                ref.log()[l_idx[k : k + 1]],
                beta,
            )
            per_pair.append(p_pref[k] * loss)
        total = torch.stack(per_pair).sum()
        total.backward()
        return total

    opt.step(closure)
    optimum = ref * torch.exp(reward / beta)
    optimum = optimum / optimum.sum()
    torch.testing.assert_close(torch.softmax(logits.detach(), 0), optimum, rtol=1e-5, atol=1e-6)


def test_dpo_loss_validates():
    pw, pl, rw, rl = logps4()
    with pytest.raises(ValueError, match="beta"):
        pf.dpo_loss(pw, pl, rw, rl, 0.0)
    with pytest.raises(TypeError, match="beta"):
        pf.dpo_loss(pw, pl, rw, rl, "0.1")
    with pytest.raises(ValueError, match="ref_rejected_logps"):
        pf.dpo_loss(pw, pl, rw, rl[:-1], 0.1)
    with pytest.raises(TypeError, match="policy_rejected_logps"):
        pf.dpo_loss(pw, pl.long(), rw, rl, 0.1)
    with pytest.raises(ValueError, match="at least one"):
        pf.dpo_loss(*(torch.zeros(0) for _ in range(4)), 0.1)


def test_preference_accuracy_counts_ties_as_half():
    assert pf.preference_accuracy(torch.tensor([1.0, -1.0, 0.0, 2.0])) == pytest.approx(0.625)
    assert pf.preference_accuracy(torch.zeros(5)) == 0.5
    with pytest.raises(TypeError, match="margin"):
        pf.preference_accuracy(torch.zeros(0))


# -- the rule and the pairs ------------------------------------------------------------------------------


def test_lipogram_reward_counts_the_letter_in_either_case():
    assert pf.lipogram_reward("Eerie tree") == -5
    assert pf.lipogram_reward("A lipogram: no such symbol") == 0
    assert pf.lipogram_reward("banana", "a") == -3
    with pytest.raises(ValueError, match="letter"):
        pf.lipogram_reward("text", "ee")
    with pytest.raises(TypeError, match="text"):
        pf.lipogram_reward(3)


def test_make_pairs_labels_by_the_rule_and_drops_ties():
    model = tiny_gpt()
    prompts = torch.randint(11, (40, 5), generator=torch.Generator().manual_seed(0))
    rule = lambda ids: -ids.count(3)  # fewer 3s is better  # noqa: E731
    pairs = pf.make_pairs(model, prompts, rule, n_samples=4, answer_len=6, generator=torch.Generator().manual_seed(1))
    assert 0 < len(pairs) <= 40 and pairs.prompt_len == 5
    assert pairs.chosen.shape == pairs.rejected.shape == (len(pairs), 11)
    for k in range(len(pairs)):
        assert torch.equal(pairs.chosen[k, :5], pairs.rejected[k, :5])  # the same prompt
        assert rule(pairs.chosen[k, 5:].tolist()) == pairs.chosen_reward[k] > pairs.rejected_reward[k]
        assert rule(pairs.rejected[k, 5:].tolist()) == pairs.rejected_reward[k]
    again = pf.make_pairs(model, prompts, rule, n_samples=4, answer_len=6, generator=torch.Generator().manual_seed(1))
    assert torch.equal(again.chosen, pairs.chosen)
    same = pf.make_pairs(model, prompts, lambda ids: 0, n_samples=3, answer_len=6)
    assert len(same) == 0  # every answer ties
    sub = pairs.subset([0, 2])
    assert torch.equal(sub.rejected, pairs.rejected[[0, 2]]) and len(sub) == 2


def test_make_pairs_validates():
    model = tiny_gpt()
    prompts = torch.zeros(2, 5, dtype=torch.long)
    with pytest.raises(ValueError, match="n_samples"):
        pf.make_pairs(model, prompts, lambda ids: 0, n_samples=1)
    with pytest.raises(ValueError, match="block_size"):
        pf.make_pairs(model, prompts, lambda ids: 0, answer_len=20)
    with pytest.raises(TypeError, match="reward"):
        pf.make_pairs(model, prompts, 3)


# -- the KL to the reference ------------------------------------------------------------------------------


def test_sequence_kl_agrees_with_exact_enumeration():
    """Mean of the estimator over many samples vs Σ_y π(y)(log π(y) − log π_ref(y)) over every answer."""
    policy, reference = tiny_gpt(vocab=3, seed=1), tiny_gpt(vocab=3, seed=2)
    prompt = torch.tensor([[0, 1]])
    answers = torch.tensor(list(itertools.product(range(3), repeat=3)))  # all 27 answers of 3 tokens
    ids = torch.cat([prompt.expand(len(answers), -1), answers], 1)
    with torch.no_grad():
        lp, lq = pf.answer_logps(policy, ids, 2), pf.answer_logps(reference, ids, 2)
    assert lp.exp().sum().item() == pytest.approx(1.0, abs=1e-5)
    exact = (lp.exp() * (lp - lq)).sum().item()
    kl, seqs = pf.sequence_kl(policy, reference, prompt.expand(4000, -1), 3, generator=torch.Generator().manual_seed(0))
    assert seqs.shape == (4000, 5) and (kl >= 0).all()
    assert kl.mean().item() == pytest.approx(exact, rel=0.05)
    zero, _ = pf.sequence_kl(policy, policy, prompt.expand(8, -1), 3)
    torch.testing.assert_close(zero, torch.zeros(8), atol=1e-6, rtol=0)


# -- the trainer --------------------------------------------------------------------------------------------


def test_dpo_trainer_learns_the_preference_and_keeps_the_reference_frozen():
    model = tiny_gpt(seed=3)
    gen = torch.Generator().manual_seed(0)
    rule = lambda ids: -ids.count(3)  # noqa: E731
    train = pf.make_pairs(model, torch.randint(11, (120, 4), generator=gen), rule, answer_len=6, generator=gen)
    held = pf.make_pairs(model, torch.randint(11, (40, 4), generator=gen), rule, answer_len=6, generator=gen)
    config = pf.DPOConfig(steps=60, batch_size=16, beta=0.5, lr=3e-3, eval_every=20, seed=0)
    trainer = pf.DPOTrainer(model, train, held, config, reward=rule)
    ref_before = [p.clone() for p in trainer.reference.parameters()]
    history = trainer.fit(60, progress=False)
    assert len(history) == 60 and set(history.values) == {"loss", "margin", "accuracy"}
    assert trainer.evals.steps == [0, 20, 40, 60]
    ev = trainer.evals.values
    assert ev["accuracy"][0] == 0.5 and ev["margin"][0] == 0.0 and ev["kl"][0] == pytest.approx(0.0, abs=1e-6)
    assert ev["accuracy"][-1] > 0.75 and ev["margin"][-1] > 0 and ev["kl"][-1] > 0
    assert ev["reward"][-1] > ev["reward"][0]  # the policy's own samples obey the rule better
    assert all(torch.equal(a, b) for a, b in zip(ref_before, trainer.reference.parameters()))
    assert not any(p.requires_grad for p in trainer.reference.parameters())
    assert set(trainer.snapshots) == {0, 20, 40, 60}


def test_dpo_config_and_trainer_validate():
    with pytest.raises(ValueError, match="beta"):
        pf.DPOConfig(beta=-1.0)
    with pytest.raises(ValueError, match="eval_every"):
        pf.DPOConfig(eval_every=0)
    model = tiny_gpt()
    with pytest.raises(TypeError, match="train_pairs"):
        pf.DPOTrainer(model, [], [], pf.DPOConfig())
    with pytest.raises(TypeError, match="policy"):
        pf.DPOTrainer("gpt", [], [], pf.DPOConfig())
