"""Tests for the GPT chapter (book/llms/gpt.md): the parameter formula, the residual stream and the
logit lens, GPT-2-sized models on the meta device, and the chapter's exercise checkers."""

from __future__ import annotations

import pytest
import torch

from genai_lib import llm
from genai_lib.exercises import llms as ex
from genai_lib.llm import GPT, Block, GPTConfig

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def formula(c: GPTConfig) -> int:
    """Eq. (eq-gpt-params) of the chapter: V d + T d + L (12 d² + 13 d) + 2 d."""
    d = c.n_embd
    return c.vocab_size * d + c.block_size * d + c.n_layer * (12 * d * d + 13 * d) + 2 * d


def tiny(seed: int = 0, **kw) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{"vocab_size": 29, "block_size": 12, "n_layer": 3, "n_head": 2, "n_embd": 16, **kw})).eval()


@pytest.mark.parametrize(
    "kw",
    [
        dict(vocab_size=332, block_size=64, n_layer=4, n_head=4, n_embd=128),
        dict(vocab_size=7, block_size=3, n_layer=1, n_head=1, n_embd=8),
        dict(vocab_size=101, block_size=32, n_layer=5, n_head=4, n_embd=48),
    ],
)
def test_parameter_formula_equals_the_count(kw):
    model = GPT(GPTConfig(**kw))
    counts = model.parameter_counts()
    d, L = kw["n_embd"], kw["n_layer"]
    assert counts["total"] == formula(model.config) == sum(p.numel() for p in model.parameters())
    assert counts["attention"] == L * (4 * d * d + 4 * d) and counts["mlp"] == L * (8 * d * d + 5 * d)
    assert counts["layer_norm"] == (2 * L + 1) * 2 * d
    assert counts["token_embedding"] == kw["vocab_size"] * d  # tied: the output layer adds nothing


def test_gpt2_small_counted_on_the_meta_device_without_memory():
    config = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)
    with torch.device("meta"):
        model = GPT(config)
    assert model.lm_head.weight.is_meta
    assert model.num_params() == formula(config) == 124_439_808


def test_residual_stream_and_logit_lens():
    model = tiny()
    idx = torch.randint(29, (2, 12), generator=torch.Generator().manual_seed(1))
    stream = model.residual_stream(idx)
    assert stream.shape == (4, 2, 12, 16)
    t = model.transformer
    assert torch.allclose(stream[0], t.wte(idx) + t.wpe(torch.arange(12)))
    for layer, block in enumerate(t.h):
        assert torch.allclose(stream[layer + 1], block(stream[layer])[0], atol=1e-6)
    lens = model.logit_lens(idx)
    assert lens.shape == (4, 2, 12, 29)
    assert torch.allclose(lens[-1], model(idx)[0], atol=1e-5)  # the last read-out is the model's output
    assert torch.allclose(lens[0], model.lm_head(t.ln_f(stream[0])), atol=1e-6)


def test_the_stream_is_the_forward_pass_own():
    """residual_stream reads the stream out of the forward pass (GPT._hidden) rather than re-running the
    blocks: its last entry, through the final LayerNorm, is exactly what forward's output layer reads."""
    model = tiny()
    idx = torch.randint(29, (2, 12), generator=torch.Generator().manual_seed(2))
    stream = llm.residual_stream(model, idx)
    hidden, _ = model._hidden(idx)
    assert torch.equal(model.transformer.ln_f(stream[-1]), hidden)
    # the functions of genai_lib.llm.inspection are the model's methods
    assert torch.equal(model.residual_stream(idx), stream)
    assert torch.equal(model.logit_lens(idx), llm.logit_lens(model, idx))
    assert torch.equal(model.attention_maps(idx), llm.attention_maps(model, idx))


def test_residual_stream_keeps_training_mode_and_validates():
    model = tiny(dropout=0.5).train()
    idx = torch.randint(29, (1, 5))
    assert torch.equal(model.residual_stream(idx), model.residual_stream(idx))  # eval inside: no dropout
    assert model.training
    with pytest.raises(ValueError, match="block_size"):
        model.residual_stream(torch.zeros(1, 13, dtype=torch.long))
    with pytest.raises(ValueError, match="idx"):
        model.logit_lens(torch.full((1, 3), 29))
    with pytest.raises(TypeError, match="idx"):
        model.logit_lens(torch.zeros(3))


def test_without_positions_the_last_output_ignores_the_order_of_earlier_tokens():
    """The chapter's "dog bites man" claim, on a random one-block model: one causal attention layer
    sees the earlier tokens as a set. With more blocks order leaks in (a position's earlier outputs
    depend on how many tokens preceded them), which the chapter says as well."""
    model = tiny(n_layer=1)
    a = torch.tensor([[3, 5, 7, 11, 2]])
    b = torch.tensor([[7, 3, 11, 5, 2]])  # same tokens before the last one, other order

    def last(idx, positions):
        t = model.transformer
        x = t.wte(idx) + (t.wpe(torch.arange(idx.size(1))) if positions else 0)
        for block in t.h:
            x, _ = block(x)
        return x[0, -1]

    with torch.no_grad():
        assert (last(a, False) - last(b, False)).abs().max() < 1e-6  # measured: ~1e-9
        assert (last(a, True) - last(b, True)).abs().max() > 1e-4  # measured: ~4e-4 (small init weights)
        model = tiny(n_layer=3)
        assert (last(a, False) - last(b, False)).abs().max() > 1e-6


def test_check_gpt_parameters():
    kw = dict(vocab_size=50257, block_size=1024, n_layer=24, n_embd=1024)
    assert ex.check_gpt_parameters(354_823_168, **kw)
    assert not ex.check_gpt_parameters(354_823_168 + 50257 * 1024, **kw)  # untied
    assert not ex.check_gpt_parameters(354_823_168 - 2048, **kw)
    assert not ex.check_gpt_parameters(1, **kw)
    with pytest.raises(TypeError, match="answer"):
        ex.check_gpt_parameters("many", **kw)


def test_check_untied_extra():
    assert ex.check_untied_extra(332 * 128, vocab_size=332, n_embd=128)
    assert not ex.check_untied_extra(332 * 128 + 332, vocab_size=332, n_embd=128)
    assert not ex.check_untied_extra(2 * 332 * 128, vocab_size=332, n_embd=128)


def test_check_block_forward(capsys):
    def pre_ln(b, x):
        x = x + b.attn(b.ln_1(x))[0]
        return x + b.mlp(b.ln_2(x))

    def post_ln(b, x):
        x = b.ln_1(x + b.attn(x)[0])
        return b.ln_2(x + b.mlp(x))

    def no_residual(b, x):
        x = x + b.attn(b.ln_1(x))[0]
        return b.mlp(b.ln_2(x))

    def library(b, x):
        return b(x)[0]

    def broken(b, x):
        raise RuntimeError("oops")

    assert ex.check_block_forward(pre_ln) and ex.check_block_forward(library)
    assert not ex.check_block_forward(post_ln)
    assert "post-LN" in capsys.readouterr().out
    assert not ex.check_block_forward(no_residual)
    assert "added" in capsys.readouterr().out
    assert not ex.check_block_forward(broken) and not ex.check_block_forward(lambda b, x: b(x))
    with pytest.raises(TypeError, match="answer"):
        ex.check_block_forward(42)
    assert isinstance(Block, type)


def test_check_swap_positions_agrees_with_a_model_without_positions():
    model = tiny(n_layer=1)
    torch.manual_seed(3)
    idx = torch.randint(29, (1, 6))
    t = model.transformer

    def outputs(i):
        x = t.wte(i)
        for block in t.h:
            x, _ = block(x)
        return x[0]

    for swap in [(0, 1), (2, 4), (1, 5)]:
        swapped = idx.clone()
        swapped[0, [swap[0], swap[1]]] = idx[0, [swap[1], swap[0]]]
        if idx[0, swap[0]] == idx[0, swap[1]]:
            continue
        with torch.no_grad():
            changed = {p for p in range(6) if not torch.allclose(outputs(idx)[p], outputs(swapped)[p], atol=1e-5)}
        assert ex.check_swap_positions(changed, swap=swap, length=6), (swap, changed)
    assert not ex.check_swap_positions({0}, swap=(0, 1), length=6)
    assert not ex.check_swap_positions({2, 4}, swap=(2, 4), length=6)
    with pytest.raises(ValueError, match="swap"):
        ex.check_swap_positions({0}, swap=(0, 9), length=6)
    with pytest.raises(TypeError, match="answer"):
        ex.check_swap_positions(3, swap=(0, 1), length=6)


def test_activation_picks_the_mlp_curve_and_is_checked():
    x = torch.linspace(-4, 4, 101)
    for activation, approximate in (("gelu", "none"), ("gelu_tanh", "tanh")):
        mlp = GPT(GPTConfig(vocab_size=5, n_layer=1, n_head=1, n_embd=8, activation=activation)).transformer.h[0].mlp
        assert torch.equal(mlp.gelu(x), torch.nn.functional.gelu(x, approximate=approximate))
    assert GPTConfig(vocab_size=5).activation == "gelu"
    # The two curves differ, but by less than 1e-3 (what the docstring promises).
    gap = (torch.nn.functional.gelu(x) - torch.nn.functional.gelu(x, approximate="tanh")).abs().max()
    assert 0 < gap < 1e-3
    with pytest.raises(ValueError, match="activation"):
        GPTConfig(vocab_size=5, activation="relu")


def test_checkpoints_without_an_activation_load_with_the_tanh_gelu(tmp_path):
    import json

    model = GPT(GPTConfig(vocab_size=7, block_size=8, n_layer=1, n_head=2, n_embd=8, activation="gelu_tanh"))
    model.save(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["config"]["activation"] == "gelu_tanh"
    del saved["config"]["activation"]  # a checkpoint written before the field existed
    (tmp_path / "config.json").write_text(json.dumps(saved))
    loaded = GPT.load(tmp_path)
    assert loaded.config.activation == "gelu_tanh"
    ids = torch.randint(0, 7, (2, 8))
    assert torch.equal(loaded(ids)[0], model(ids)[0])
    # The shipped checkpoint states its curve.
    from genai_lib.llm.pretrained import load_pretrained

    assert load_pretrained()[0].config.activation == "gelu_tanh"
