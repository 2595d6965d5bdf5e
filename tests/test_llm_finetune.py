"""Tests of the fine-tuning tools in genai_lib.llm.lora: LoRA against PEFT's reference implementation,
trainable token rows (adapt_token_rows), merging, and training only the adapters with the book's recipe."""

from __future__ import annotations

import copy

import pytest
import torch

from genai_lib.llm import GPT, GPTConfig, LoRALinear, apply_lora, lora_parameters, merge_lora
from genai_lib.llm.lora import TokenRows, adapt_token_rows


def tiny_gpt(seed: int = 0, vocab: int = 37) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab, block_size=16, n_layer=2, n_head=2, n_embd=16))


def test_lora_matches_peft_reference():
    """Our LoRA layer computes what Hugging Face PEFT's does, given the same A and B, and merges the same."""
    peft = pytest.importorskip("peft")
    model = tiny_gpt(seed=1).double()
    ours = apply_lora(copy.deepcopy(model), r=4, alpha=8)
    config = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["c_attn", "c_proj", "c_fc"])
    theirs = peft.inject_adapter_in_model(config, copy.deepcopy(model))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, m in ours.named_modules():
            if isinstance(m, LoRALinear):
                ref = theirs.get_submodule(name)
                assert torch.equal(ref.base_layer.weight, m.base.weight)
                m.lora_B.normal_(generator=gen)  # B = 0 at the start: make it non-zero to compare anything
                ref.lora_A["default"].weight.copy_(m.lora_A)
                ref.lora_B["default"].weight.copy_(m.lora_B)
                assert ref.scaling["default"] == m.scaling == 2.0
    idx = torch.randint(37, (3, 16), generator=gen)
    ours_logits, theirs_logits = ours(idx)[0], theirs(idx)[0]
    assert (ours_logits - model(idx)[0]).abs().max() > 1e-3
    torch.testing.assert_close(ours_logits, theirs_logits, rtol=0, atol=1e-10)
    for name, m in ours.named_modules():
        if isinstance(m, LoRALinear):
            ref = theirs.get_submodule(name)
            torch.testing.assert_close(m.delta_weight(), ref.get_delta_weight("default"), rtol=0, atol=1e-12)
    merge_lora(ours)
    torch.testing.assert_close(ours(idx)[0], theirs_logits, rtol=0, atol=1e-10)


def test_lora_parameter_count_is_r_times_din_plus_dout():
    model = tiny_gpt()
    apply_lora(model, r=3, alpha=6)
    d = 16
    per_block = 3 * ((d + 3 * d) + (d + d) + (d + 4 * d) + (4 * d + d))
    assert model.parameter_counts()["lora"] == 2 * per_block == sum(p.numel() for p in lora_parameters(model))


def test_token_rows_start_at_the_model_train_only_their_rows_and_merge_exactly():
    model = tiny_gpt(seed=2).double()
    idx = torch.randint(37, (2, 16))
    before, _ = model(idx)
    apply_lora(model, r=2, alpha=4)
    ids = [3, 7, 30]
    adapt_token_rows(model, ids)
    assert torch.equal(model(idx)[0], before)  # ΔE = 0: exactly the pre-trained model
    counts = model.parameter_counts()
    assert counts["trainable"] == counts["lora"] == 2 * 2 * (64 + 32 + 80 + 80) + len(ids) * 16
    params = list(lora_parameters(model))
    assert {id(p) for p in params} == {id(p) for p in model.parameters() if p.requires_grad}
    assert sum(isinstance(p, torch.nn.Parameter) and p.shape == (3, 16) for p in params) == 1  # shared: once
    table = model.transformer.wte.weight.detach().clone()
    opt = torch.optim.AdamW(params, lr=0.05, weight_decay=0.1)
    for _ in range(3):
        opt.zero_grad()
        model(idx, idx)[1].backward()
        opt.step()
    rows = next(m for m in model.modules() if isinstance(m, TokenRows))
    assert rows.lora_rows.abs().sum(1).gt(0).all()
    assert torch.equal(model.transformer.wte.weight, table)  # the frozen table itself never changes
    adapted, _ = model(idx)
    with pytest.raises(ValueError, match="merge"):
        model.save("/nonexistent/never-written")
    merge_lora(model)
    assert type(model.transformer.wte) is torch.nn.Embedding and type(model.lm_head) is torch.nn.Linear
    assert model.lm_head.weight is model.transformer.wte.weight  # still tied
    changed = (model.transformer.wte.weight - table).abs().sum(1) > 0
    assert changed.nonzero().flatten().tolist() == ids  # only the chosen rows moved
    assert (model(idx)[0] - adapted).abs().max().item() < 1e-10
    assert all(p.requires_grad for p in model.parameters())


def test_token_rows_reach_the_output_layer():
    """With weight tying the adapted rows also change the logits of those tokens, not only the input."""
    model = tiny_gpt(seed=3)
    adapt_token_rows(model, [5])
    with torch.no_grad():
        model.transformer.wte.rows.lora_rows.normal_()  # not constant: LayerNorm output sums to ~0
    idx = torch.tensor([[1, 2, 4]])  # token 5 is not in the input
    logits, _ = model(idx)
    reference = tiny_gpt(seed=3)
    ref_logits, _ = reference(idx)
    assert torch.allclose(logits[..., :5], ref_logits[..., :5], atol=1e-6)
    assert not torch.allclose(logits[..., 5], ref_logits[..., 5], atol=1e-3)


def test_train_gpt_trains_only_adapters_and_rows():
    from genai_lib.llm import TrainConfig, train_gpt

    model = tiny_gpt(seed=4)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters()}
    apply_lora(model, r=2, alpha=4)
    adapt_token_rows(model, [1, 2])
    ids = torch.randint(37, (400,), generator=torch.Generator().manual_seed(0))
    train_gpt(model, ids, TrainConfig(steps=5, batch_size=4, warmup_steps=1, weight_decay=0.1), progress=False)
    merged = merge_lora(copy.deepcopy(model))
    for name, p in merged.named_parameters():
        moved = not torch.equal(p, frozen[name])
        if name == "transformer.wte.weight":
            rows_moved = (p - frozen[name]).abs().sum(1).gt(0).nonzero().flatten().tolist()
            assert rows_moved == [1, 2], rows_moved
        elif "c_attn.weight" in name or "c_proj.weight" in name or "c_fc.weight" in name:
            assert moved, name
        else:  # biases, LayerNorms, positions: frozen, untouched even by weight decay
            assert not moved, name


def test_lr_scale_multiplies_the_schedule_for_matching_parameters():
    from genai_lib.llm import TrainConfig, train_gpt
    from genai_lib.llm.train import make_optimizer

    model = tiny_gpt(seed=5)
    apply_lora(model, r=2, alpha=4)
    adapt_token_rows(model, [1, 2])
    config = TrainConfig(steps=3, batch_size=4, warmup_steps=1, lr=1e-2, min_lr=1e-3)
    groups = make_optimizer(model, config, {"lora_rows": 3.0}).param_groups
    scaled = [g for g in groups if g["lr_scale"] == 3.0]
    assert len(scaled) == 1 and [p.shape for p in scaled[0]["params"]] == [torch.Size([2, 16])]
    assert sum(len(g["params"]) for g in groups) == len(list(lora_parameters(model)))
    # No scale: every factor is 1 (here every trainable tensor is a matrix, so one group).
    assert [g["lr_scale"] for g in make_optimizer(model, config).param_groups] == [1.0]
    seen = []
    ids = torch.randint(37, (400,), generator=torch.Generator().manual_seed(0))

    def spy(step, scalars):
        seen.append(sorted(g["lr"] for g in opt_groups))

    import genai_lib.llm.train as train_module

    real = train_module.make_optimizer

    def keep(*args):
        opt = real(*args)
        opt_groups.extend(opt.param_groups)
        return opt

    opt_groups: list = []
    train_module.make_optimizer = keep
    try:
        result = train_gpt(model, ids, config, progress=False, callback=spy, lr_scale={"lora_rows": 3.0})
    finally:
        train_module.make_optimizer = real
    lrs = result.history.values["lr"]
    assert all(abs(small - lr) < 1e-12 and abs(big - 3 * lr) < 1e-12 for (small, big), lr in zip(seen, lrs))
    with pytest.raises(ValueError, match="lr_scale key 'nothing'"):
        make_optimizer(model, config, {"nothing": 2.0})
    with pytest.raises(ValueError, match="lr_scale"):
        make_optimizer(model, config, {"lora_rows": 0.0})
    with pytest.raises(TypeError, match="lr_scale must be a mapping"):
        make_optimizer(model, config, [("lora_rows", 2.0)])


def test_adapt_token_rows_bad_arguments():
    model = tiny_gpt()
    with pytest.raises(ValueError, match="embedding"):
        adapt_token_rows(model, [1], embedding="transformer.nothing")
    with pytest.raises(ValueError, match="ids"):
        adapt_token_rows(model, [])
    with pytest.raises(ValueError, match="ids"):
        adapt_token_rows(model, [37])
    with pytest.raises(ValueError, match="ids"):
        adapt_token_rows(model, [2, 2])
    with pytest.raises(ValueError, match="ids"):
        adapt_token_rows(model, [[1, 2]])
    with pytest.raises(ValueError, match="head"):
        adapt_token_rows(model, [1], head="transformer.h.0.mlp.c_fc")
    with pytest.raises(TypeError, match="model"):
        adapt_token_rows("not a model", [1])
    untied = tiny_gpt()
    untied.lm_head.weight = torch.nn.Parameter(untied.lm_head.weight.detach().clone())
    with pytest.raises(ValueError, match="tying"):
        adapt_token_rows(untied, [1])
    adapt_token_rows(untied, [1], head=None)  # the input side only


def test_lora_dropout_only_in_training():
    torch.manual_seed(0)
    layer = LoRALinear(torch.nn.Linear(8, 8), r=2, alpha=4, dropout=0.5)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(64, 8)
    layer.eval()
    expected = layer.base(x) + x @ layer.delta_weight().T
    torch.testing.assert_close(layer(x), expected)
    layer.train()
    assert not torch.allclose(layer(x), expected)
    assert isinstance(LoRALinear(torch.nn.Linear(8, 8), dropout=0.0).dropout, torch.nn.Identity)


def test_finetuning_exercise_checkers():
    from genai_lib.exercises import llms as ex

    config = GPTConfig(vocab_size=332)
    assert ex.check_lora_parameters(65_536, r=8, config=config)
    assert not ex.check_lora_parameters(2 * 8 * 128 * 16, r=8, config=config)  # 2rd: only for square matrices
    assert not ex.check_lora_parameters(65_536 // 4, r=8, config=config)  # one block
    with pytest.raises(TypeError, match="config"):
        ex.check_lora_parameters(1, r=8, config=None)
    assert ex.check_lora_break_even(96, d_in=128, d_out=384)
    assert ex.check_lora_break_even(103, d_in=128, d_out=512)  # 102.4: the first whole rank counts too
    assert not ex.check_lora_break_even(64, d_in=128, d_out=384)
    assert ex.check_lora_merge(lambda layer: layer.base.weight + layer.scaling * layer.lora_B @ layer.lora_A)
    assert not ex.check_lora_merge(lambda layer: layer.scaling * layer.lora_B @ layer.lora_A)
    assert not ex.check_lora_merge(lambda layer: layer.base.weight)
    assert not ex.check_lora_merge(lambda layer: "nothing")
    with pytest.raises(TypeError, match="merge"):
        ex.check_lora_merge(3)
