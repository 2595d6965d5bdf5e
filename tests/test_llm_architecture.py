"""The architecture lab's pieces: positions (sinusoidal, RoPE), RMSNorm, SwiGLU, grouped-query
attention, the LSTM baseline and the power-law fit, and that the default GPT is unchanged."""

from __future__ import annotations

import math

import pytest
import torch

from genai_lib import llm
from genai_lib.llm.norms import RMSNorm, make_norm
from genai_lib.llm.positions import apply_rope, rope_angles, rotate_half, sinusoidal_positions
from genai_lib.llm.rnn import LSTMConfig, LSTMLanguageModel, train_lstm
from genai_lib.llm.scaling import fit_power_law, non_embedding_params, training_flops
from genai_lib.llm.swiglu import SwiGLU, swiglu_hidden


def _gpt(**kw) -> llm.GPT:
    torch.manual_seed(0)
    return llm.GPT(llm.GPTConfig(vocab_size=40, block_size=16, n_layer=2, n_head=4, n_embd=32, **kw)).eval()


# -- positions ---------------------------------------------------------------------------------


def test_sinusoidal_matches_the_formula():
    pe = sinusoidal_positions(10, 8, offset=3)
    for p in range(10):
        for i in range(4):
            w = (p + 3) / 10000 ** (2 * i / 8)
            assert pe[p, 2 * i].item() == pytest.approx(math.sin(w), abs=1e-5)
            assert pe[p, 2 * i + 1].item() == pytest.approx(math.cos(w), abs=1e-5)
    with pytest.raises(ValueError, match="dim"):
        sinusoidal_positions(4, 7)


def test_rope_rotates_each_pair_by_its_angle():
    torch.manual_seed(0)
    d, T = 8, 5
    x = torch.randn(T, d)
    cos, sin = rope_angles(T, d, base=100.0)
    out = apply_rope(x, cos, sin)
    for p in range(T):
        for a in range(d // 2):
            t = p * 100.0 ** (-2 * a / d)
            xa, xb = x[p, a].item(), x[p, a + d // 2].item()
            assert out[p, a].item() == pytest.approx(xa * math.cos(t) - xb * math.sin(t), abs=1e-5)
            assert out[p, a + d // 2].item() == pytest.approx(xb * math.cos(t) + xa * math.sin(t), abs=1e-5)
    assert torch.allclose(out.norm(dim=-1), x.norm(dim=-1), atol=1e-5)  # a rotation keeps lengths
    assert torch.equal(rotate_half(rotate_half(x)), -x)


def test_rope_scores_depend_on_the_offset_only():
    torch.manual_seed(1)
    q, k = torch.randn(1, 16), torch.randn(1, 16)
    cos, sin = rope_angles(torch.arange(200), 16)

    def score(m, n):
        return (apply_rope(q, cos[m : m + 1], sin[m : m + 1]) @ apply_rope(k, cos[n : n + 1], sin[n : n + 1]).T).item()

    assert score(7, 3) == pytest.approx(score(104, 100), abs=1e-4)
    assert score(7, 3) != pytest.approx(score(8, 3), abs=1e-3)


def test_rope_matches_transformers_llama():
    pytest.importorskip("transformers")
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

    torch.manual_seed(0)
    B, H, T, d = 2, 3, 11, 16
    q, k = torch.randn(B, H, T, d), torch.randn(B, H, T, d)
    cfg = LlamaConfig(hidden_size=H * d, num_attention_heads=H, rope_theta=500.0, max_position_embeddings=64)
    pos = torch.arange(T).unsqueeze(0).expand(B, T)
    cos_ref, sin_ref = LlamaRotaryEmbedding(cfg)(q, pos)
    q_ref, k_ref = apply_rotary_pos_emb(q, k, cos_ref, sin_ref)
    cos, sin = rope_angles(T, d, base=500.0)
    assert torch.allclose(cos, cos_ref[0], atol=1e-5) and torch.allclose(sin, sin_ref[0], atol=1e-5)
    assert torch.allclose(apply_rope(q, cos, sin), q_ref, atol=1e-5)
    assert torch.allclose(apply_rope(k, cos, sin), k_ref, atol=1e-5)


def test_rope_validates():
    with pytest.raises(ValueError, match="head_dim"):
        rope_angles(4, 5)
    cos, sin = rope_angles(4, 8)
    with pytest.raises(ValueError, match="cos and sin"):
        apply_rope(torch.randn(5, 8), cos, sin)


# -- RMSNorm, SwiGLU ----------------------------------------------------------------------------


def test_rmsnorm_matches_torch():
    torch.manual_seed(0)
    ours, ref = RMSNorm(24, eps=1e-5), torch.nn.RMSNorm(24, eps=1e-5)
    with torch.no_grad():
        w = torch.randn(24)
        ours.weight.copy_(w)
        ref.weight.copy_(w)
    x = 3 * torch.randn(4, 7, 24) + 1
    assert torch.allclose(ours(x), ref(x), atol=1e-5)
    assert isinstance(make_norm("layernorm", 8), torch.nn.LayerNorm)
    with pytest.raises(ValueError, match="norm"):
        make_norm("batchnorm", 8)
    with pytest.raises(ValueError, match="dim"):
        ours(torch.randn(3, 5))


def test_swiglu_shape_and_parameter_count():
    for d in (48, 64, 96):
        mlp = llm.MLP(llm.GPTConfig(vocab_size=10, n_embd=d, n_head=4, bias=False))
        glu = SwiGLU(d, bias=False)
        assert swiglu_hidden(d) == round(8 * d / 3)
        n_mlp, n_glu = (sum(p.numel() for p in m.parameters()) for m in (mlp, glu))
        assert abs(n_glu - n_mlp) <= 3 * d  # within one hidden unit's worth of weights
    x = torch.randn(2, 5, 64)
    assert SwiGLU(64)(x).shape == x.shape
    assert swiglu_hidden(64, multiple_of=32) % 32 == 0
    a, b = _gpt().num_params(), _gpt(activation="swiglu").num_params()
    assert abs(a - b) / a < 0.01


# -- grouped-query attention ------------------------------------------------------------------


def test_gqa_with_all_heads_is_mha():
    torch.manual_seed(0)
    mha = llm.CausalSelfAttention(32, 4)
    gqa = llm.CausalSelfAttention(32, 4, n_kv_head=4)
    gqa.load_state_dict(mha.state_dict())
    x = torch.randn(2, 9, 32)
    assert torch.allclose(gqa(x)[0], mha(x)[0], atol=1e-6)


def test_gqa_equals_mha_with_shared_key_value_heads():
    """A GQA layer is the MHA layer whose key and value heads are copied within each group."""
    torch.manual_seed(0)
    n_embd, n_head, n_kv, hd = 32, 4, 2, 8
    gqa = llm.CausalSelfAttention(n_embd, n_head, n_kv_head=n_kv)
    mha = llm.CausalSelfAttention(n_embd, n_head)
    assert gqa.c_attn.out_features == n_embd + 2 * n_kv * hd
    W, b = gqa.c_attn.weight.data, gqa.c_attn.bias.data
    q_w, k_w, v_w = W.split([n_embd, n_kv * hd, n_kv * hd])
    q_b, k_b, v_b = b.split([n_embd, n_kv * hd, n_kv * hd])

    def expand(t):  # (n_kv*hd, ...) -> (n_head*hd, ...), head h reading group h // (n_head/n_kv)
        return (
            t.view(n_kv, hd, *t.shape[1:]).repeat_interleave(n_head // n_kv, dim=0).reshape(n_head * hd, *t.shape[1:])
        )

    with torch.no_grad():
        mha.c_attn.weight.copy_(torch.cat([q_w, expand(k_w), expand(v_w)]))
        mha.c_attn.bias.copy_(torch.cat([q_b, expand(k_b), expand(v_b)]))
        mha.c_proj.load_state_dict(gqa.c_proj.state_dict())
    x = torch.randn(2, 7, n_embd)
    assert torch.allclose(gqa(x)[0], mha(x)[0], atol=1e-5)
    assert torch.allclose(gqa(x, need_weights=True)[1], mha(x, need_weights=True)[1], atol=1e-5)
    with pytest.raises(ValueError, match="n_kv_head"):
        llm.CausalSelfAttention(32, 4, n_kv_head=3)
    with pytest.raises(ValueError, match="n_kv_head"):
        llm.GPTConfig(vocab_size=10, n_head=4, n_kv_head=3)


@pytest.mark.parametrize(
    "kw", [dict(n_kv_head=1), dict(n_kv_head=2, positions="rope"), dict(positions="sinusoidal", norm="rmsnorm")]
)
def test_cached_generation_matches_uncached(kw):
    m = _gpt(**kw)
    prompt = torch.randint(0, 40, (2, 5), generator=torch.Generator().manual_seed(0))
    a = m.generate(prompt, 30, temperature=0, use_cache=True)  # slides past block_size=16
    b = m.generate(prompt, 30, temperature=0, use_cache=False)
    assert torch.equal(a, b)


def test_gqa_cache_is_smaller_by_the_group_size():
    full, grouped = _gpt().new_cache(3), _gpt(n_kv_head=1).new_cache(3)
    assert full.nbytes == 4 * grouped.nbytes
    assert full.nbytes == 2 * 2 * 3 * 4 * 16 * 8 * 4  # K and V, layers, batch, heads, positions, head_dim, fp32


# -- the GPT's new options -----------------------------------------------------------------------


def test_fixed_positions_run_past_block_size_learned_do_not():
    idx = torch.randint(0, 40, (1, 40))
    for positions in ("sinusoidal", "rope"):
        m = _gpt(positions=positions)
        assert "wpe" not in dict(m.transformer.named_children())
        logits, _ = m(idx)
        assert logits.shape == (1, 40, 40)
        assert torch.allclose(m(idx[:, :16])[0], logits[:, :16], atol=1e-5)  # causal: the prefix is unchanged
    with pytest.raises(ValueError, match="block_size"):
        _gpt()(idx)


def test_defaults_are_unchanged_and_old_checkpoints_load(tmp_path):
    cfg = llm.GPTConfig(vocab_size=10)
    assert (cfg.positions, cfg.norm, cfg.n_kv_head, cfg.activation) == ("learned", "layernorm", None, "gelu")
    m = _gpt()
    assert sorted(k for k in m.state_dict() if "h.0." in k) == sorted(
        f"transformer.h.0.{n}"
        for n in (
            "ln_1.weight ln_1.bias attn.c_attn.weight attn.c_attn.bias attn.c_proj.weight attn.c_proj.bias "
            "ln_2.weight ln_2.bias mlp.c_fc.weight mlp.c_fc.bias mlp.c_proj.weight mlp.c_proj.bias"
        ).split()
    )
    for kw in ({}, dict(positions="rope", norm="rmsnorm", activation="swiglu", n_kv_head=2)):
        m = _gpt(**kw)
        m.save(tmp_path / str(len(kw)))
        back = llm.GPT.load(tmp_path / str(len(kw)))
        idx = torch.randint(0, 40, (1, 16))
        assert back.config == m.config and torch.equal(back(idx)[0], m(idx)[0])


def test_shipped_model_logits_are_unchanged():
    """The shipped checkpoint predates the new fields; it loads with their defaults and its logits
    equal a forward pass written out by hand with GPT-2's layer (learned positions, LayerNorm,
    tanh GELU, full multi-head attention)."""
    from genai_lib.llm.pretrained import load_pretrained

    model, _ = load_pretrained()
    model.eval()
    c = model.config
    assert (c.positions, c.norm, c.n_kv_head) == ("learned", "layernorm", None)
    idx = torch.randint(0, c.vocab_size, (1, 20), generator=torch.Generator().manual_seed(0))
    t = model.transformer
    x = t.wte(idx) + t.wpe(torch.arange(20))
    for b in t.h:
        h = b.ln_1(x)
        q, k, v = b.attn.c_attn(h).split(c.n_embd, dim=2)
        q, k, v = (z.view(1, 20, c.n_head, -1).transpose(1, 2) for z in (q, k, v))
        y, _ = llm.attention(q, k, v, causal=True)
        x = x + b.attn.c_proj(y.transpose(1, 2).reshape(1, 20, c.n_embd))
        x = x + b.mlp.c_proj(torch.nn.functional.gelu(b.mlp.c_fc(b.ln_2(x)), approximate="tanh"))
    ref = model.lm_head(t.ln_f(x))
    with torch.no_grad():
        assert torch.allclose(model(idx)[0], ref, atol=1e-4)


# -- the LSTM and the scaling fit -----------------------------------------------------------------


def test_lstm_trains_and_evaluates():
    torch.manual_seed(0)
    ids = torch.tensor([i % 7 for i in range(500)])
    m = LSTMLanguageModel(LSTMConfig(vocab_size=7, block_size=16, n_embd=32))
    before = llm.evaluate(m, ids, max_windows=10)
    hist, seconds = train_lstm(m, ids, llm.TrainConfig(steps=100, batch_size=8, warmup_steps=5, lr=1e-2))
    after = llm.evaluate(m, ids, max_windows=10)
    assert len(hist) == 100 and seconds > 0
    assert after < 0.5 * before  # a periodic sequence is easy to learn
    with pytest.raises(TypeError, match="config"):
        LSTMLanguageModel(llm.GPTConfig(vocab_size=7))


def test_power_law_fit_recovers_the_exponent():
    c = [1e6, 1e7, 1e8, 1e9]
    a, b = fit_power_law(c, [5.0 * x**-0.07 for x in c])
    assert a == pytest.approx(5.0, rel=1e-6) and b == pytest.approx(-0.07, abs=1e-9)
    with pytest.raises(ValueError, match="positive"):
        fit_power_law([1, 2], [0, 1])
    with pytest.raises(ValueError, match="length"):
        fit_power_law([1], [1])
    assert training_flops(10, 3) == 180.0
    m = _gpt()
    assert non_embedding_params(m) == m.num_params() - 40 * 32 - 16 * 32
