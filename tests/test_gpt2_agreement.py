"""GPT.from_gpt2 reproduces a `transformers` GPT-2: same weights in, same logits out (offline).

`transformers` is a test-only dependency; without it this module is skipped. The GPT-2 here is
built from a GPT2Config with random weights, so nothing is downloaded.
"""

from __future__ import annotations

import pytest
import torch

from genai_lib.llm import GPT

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def hf_gpt2():
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=101, n_positions=32, n_embd=48, n_layer=3, n_head=4, bos_token_id=None, eos_token_id=None
    )
    model = transformers.GPT2LMHeadModel(config).eval()
    # A fresh GPT-2 has small weights, zero biases and LayerNorms at (1, 0), so its logits are
    # nearly flat. Randomise everything at a larger scale so that a weight loaded into the wrong
    # place (or not transposed) shows in the logits, and the logits span several units.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p) if p.dim() == 2 else 0.2 * torch.randn_like(p))
    return model


def test_from_gpt2_reproduces_the_logits(hf_gpt2):
    ours = GPT.from_gpt2(hf_gpt2).eval()
    assert ours.config.n_layer == 3 and ours.config.block_size == 32 and ours.config.vocab_size == 101
    assert ours.num_params() == sum(p.numel() for p in hf_gpt2.parameters())
    idx = torch.randint(101, (3, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        theirs = hf_gpt2(idx).logits
    mine, _ = ours(idx)
    err = (mine - theirs).abs().max().item()
    print(f"max |logit difference| = {err:.2e} (logits' scale {theirs.abs().max().item():.2f})")
    assert err < 1e-4
    # the explicit attention path (used for the explorer's maps) agrees as well
    with torch.no_grad():
        hidden, _ = ours._hidden(idx, need_weights=True)
    assert (ours.lm_head(hidden) - theirs).abs().max().item() < 1e-4


def test_from_gpt2_takes_either_gelu(hf_gpt2):
    """GPT-2's tanh GELU maps to activation="gelu_tanh"; a GPT-2 built with the exact GELU also loads."""
    assert GPT.from_gpt2(hf_gpt2).config.activation == "gelu_tanh"
    config = transformers.GPT2Config(**{**hf_gpt2.config.to_dict(), "activation_function": "gelu"})
    exact = transformers.GPT2LMHeadModel(config).eval()
    exact.load_state_dict(hf_gpt2.state_dict())
    ours = GPT.from_gpt2(exact).eval()
    assert ours.config.activation == "gelu"
    idx = torch.randint(101, (2, 32), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert (ours(idx)[0] - exact(idx).logits).abs().max().item() < 1e-4
        # ... and the two curves give measurably different logits, so the mapping matters.
        assert (ours(idx)[0] - hf_gpt2(idx).logits).abs().max().item() > 1e-4


def test_from_gpt2_greedy_generation_matches(hf_gpt2):
    ours = GPT.from_gpt2(hf_gpt2).eval()
    prompt = torch.tensor([[5, 17, 42]])
    mine = ours.generate(prompt, 12, temperature=0.0)
    theirs = hf_gpt2.generate(
        prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=12, do_sample=False, pad_token_id=0
    )
    assert torch.equal(mine, theirs)


def test_from_gpt2_refuses_what_it_cannot_reproduce():
    config = transformers.GPT2Config(
        vocab_size=20,
        n_positions=8,
        n_embd=16,
        n_layer=1,
        n_head=2,
        activation_function="relu",
        bos_token_id=None,
        eos_token_id=None,
    )
    with pytest.raises(ValueError, match="activation_function"):
        GPT.from_gpt2(transformers.GPT2LMHeadModel(config))
    with pytest.raises(TypeError, match="model_or_name"):
        GPT.from_gpt2(torch.nn.Linear(2, 2))
